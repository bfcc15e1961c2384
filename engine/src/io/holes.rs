//! Finding the data in a sparse file, so that a copy can skip its holes instead of reading
//! gigabytes of zeros (a file whose high-water mark lies far past what was ever written).

use std::fs::File;

/// The offset of the first byte at or after `from` that the file stores (data, not a hole):
/// `from` itself when the file system cannot tell, `None` when nothing at or past `from` is
/// stored.
///
/// # Errors
/// The operating system's error for anything but "no more data" and "not supported".
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // one lseek(2) call
pub(crate) fn next_data(file: &File, from: u64) -> std::io::Result<Option<u64>> {
    use std::os::unix::io::AsRawFd;
    let Ok(off) = libc::off_t::try_from(from) else { return Ok(Some(from)) };
    // SAFETY: lseek only reads the descriptor number, which `file` keeps open for the call. It
    // moves the descriptor's offset, which nothing uses: every read and write of the database
    // file is positional (pread, pwrite).
    let r = unsafe { libc::lseek(file.as_raw_fd(), off, libc::SEEK_DATA) };
    if let Ok(at) = u64::try_from(r) {
        return Ok(Some(at));
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENXIO) => Ok(None),
        Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => Ok(Some(from)),
        _ => Err(e),
    }
}

/// Without `SEEK_DATA`, every byte counts as data.
///
/// # Errors
/// None.
#[cfg(not(target_os = "linux"))]
pub(crate) fn next_data(_file: &File, from: u64) -> std::io::Result<Option<u64>> {
    Ok(Some(from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn data_after_a_hole_is_found() {
        let dir = std::env::temp_dir().join(format!("rivet-holes-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let f = File::options().read(true).write(true).create(true).truncate(true).open(dir.join("f")).unwrap();
        f.set_len(64 << 20).unwrap();
        f.write_all_at(b"x", 32 << 20).unwrap();
        let at = next_data(&f, 0).unwrap().unwrap();
        // A file system without holes says 0; one with them says where the block starts.
        assert!(at == 0 || (at <= 32 << 20 && at > 1 << 20), "{at}");
        assert!(matches!(next_data(&f, (32 << 20) + (1 << 20)).unwrap(), None | Some(_)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
