//! Hot backup: a consistent copy of one snapshot, taken while writers go on.
//!
//! The two meta pages are generated from the snapshot's meta (txid `t` in page 0, `t - 1` in
//! page 1, as bbolt's `WriteTo` does) and every other page below the high-water mark is copied
//! with `pread` (not through the map, so pages the writer reuses meanwhile are plain bytes,
//! never a live slice). Pages reachable from the snapshot cannot change while its transaction
//! is open, so the copy is a consistent database of exactly the snapshot's size. The writer is
//! never blocked. [`crate::Tx::write_to`] and [`crate::Tx::copy_file`] are the entry points.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::format::meta::Meta;
use crate::io::holes::next_data;
use crate::limits::MIN_FILE_SIZE;

/// Where a copy goes: bytes, and runs of zeros, which a sink may skip over.
pub(crate) trait Sink {
    /// Appends `buf`.
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()>;
    /// Appends `n` zero bytes.
    fn zeros(&mut self, n: u64) -> std::io::Result<()>;
}

/// A sink that writes everything, zeros included, to a [`Write`].
pub(crate) struct Plain<'w, W: Write + ?Sized>(pub &'w mut W);

impl<W: Write + ?Sized> Sink for Plain<'_, W> {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.0.write_all(buf)
    }

    fn zeros(&mut self, mut n: u64) -> std::io::Result<()> {
        let zeros = [0u8; 64 * 1024];
        while n > 0 {
            let k = n.min(zeros.len() as u64) as usize;
            self.0.write_all(&zeros[..k])?;
            n -= k as u64;
        }
        Ok(())
    }
}

/// Writes a copy of the snapshot of `meta`, read from the database `file` (at `db_path`, for
/// errors), to `w`. Holes of a sparse database file are not read: they go to the sink as runs
/// of zeros. Returns the bytes written: the snapshot's size, padded with zeros to
/// [`MIN_FILE_SIZE`] for tiny page sizes (Go refuses shorter files).
///
/// # Errors
/// [`Error::Io`] if reading the database or writing to `w` fails.
pub(crate) fn write_snapshot(file: &File, db_path: &Path, meta: Meta, w: &mut dyn Sink) -> Result<u64> {
    let ps = u64::from(meta.page_size);
    let io = |op: &'static str| move |source| Error::Io { op, path: db_path.to_path_buf(), source };
    let mut m0 = meta;
    m0.checksum = 0;
    w.data(&m0.encode_page(0, ps as usize)).map_err(io("backup write"))?;
    let mut m1 = m0;
    m1.txid = meta.txid.saturating_sub(1);
    w.data(&m1.encode_page(1, ps as usize)).map_err(io("backup write"))?;
    let end = meta.pgid * ps;
    let padded = end.max(MIN_FILE_SIZE);
    let mut buf = vec![0u8; (1 << 20).max(ps as usize)];
    let mut off = 2 * ps;
    while off < end {
        let data = next_data(file, off).map_err(io("backup read"))?.unwrap_or(end).min(end);
        if data > off {
            w.zeros(data - off).map_err(io("backup write"))?;
            off = data;
            continue;
        }
        let n = (end - off).min(buf.len() as u64) as usize;
        file.read_exact_at(&mut buf[..n], off).map_err(io("backup read"))?;
        w.data(&buf[..n]).map_err(io("backup write"))?;
        off += n as u64;
    }
    if padded > end {
        w.zeros(padded - end).map_err(io("backup write"))?;
    }
    Ok(padded)
}

/// Creates the file `path` (it must not exist), fills it with `write`, and syncs it and its
/// directory entry. Returns what `write` returned.
///
/// The file is written sparse: blocks of [`SPARSE_BLOCK`] bytes that are all zeros (pages never
/// written in the source, typically, or whole free regions of a file that was grown and never
/// filled) are skipped over instead of written, and the file's length is set at the end. The
/// copy reads back byte for byte the same; it only takes less room on disk.
///
/// # Errors
/// [`Error::Io`], including when `path` already exists; `write`'s error.
pub(crate) fn to_new_file(path: &Path, write: impl FnOnce(&mut dyn Sink) -> Result<u64>) -> Result<u64> {
    let io = |op: &'static str| move |source| Error::Io { op, path: path.to_path_buf(), source };
    let f = File::options().write(true).create_new(true).open(path).map_err(io("create backup"))?;
    let n = {
        let mut sparse = Sparse { file: &f, pos: 0 };
        let n = write(&mut sparse)?;
        f.set_len(sparse.pos).map_err(io("write backup"))?;
        n
    };
    f.sync_all().map_err(io("sync backup"))?;
    // Make the new directory entry durable too.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync backup directory"))?;
    }
    Ok(n)
}

/// The unit a sparse copy skips when it is all zeros.
const SPARSE_BLOCK: usize = 4096;

/// A writer to a file that seeks over all-zero blocks instead of writing them (the caller sets
/// the file's length to `pos` at the end). Blocks are counted from the start of each write; the
/// backup writes whole pages, so they fall on page boundaries.
struct Sparse<'f> {
    file: &'f File,
    pos: u64,
}

impl Write for Sparse<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // Runs of blocks with data are written with one call each.
        let mut run: Option<usize> = None;
        let mut at = 0;
        while at < buf.len() {
            let end = (at + SPARSE_BLOCK).min(buf.len());
            let zero = buf[at..end].iter().all(|&b| b == 0);
            match (zero, run) {
                (false, None) => run = Some(at),
                (true, Some(from)) => {
                    self.file.write_all_at(&buf[from..at], self.pos + from as u64)?;
                    run = None;
                }
                _ => {}
            }
            at = end;
        }
        if let Some(from) = run {
            self.file.write_all_at(&buf[from..], self.pos + from as u64)?;
        }
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Sink for Sparse<'_> {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.write_all(buf)
    }

    fn zeros(&mut self, n: u64) -> std::io::Result<()> {
        self.pos += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparse_copy_reads_back_the_same_and_skips_zero_blocks() {
        let dir = std::env::temp_dir().join(format!("rivet-sparse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("copy");
        let mut data = vec![0u8; 64 * 1024 * 1024];
        data[5] = 1;
        data[3 * SPARSE_BLOCK + 7] = 2;
        data[4 * SPARSE_BLOCK] = 3;
        let len = data.len() as u64;
        let n = to_new_file(&path, |w| {
            w.data(&data[..100]).unwrap();
            w.data(&data[100..]).unwrap();
            Ok(len)
        })
        .unwrap();
        assert_eq!(n, len);
        assert_eq!(std::fs::read(&path).unwrap(), data);
        use std::os::unix::fs::MetadataExt;
        assert!(std::fs::metadata(&path).unwrap().blocks() * 512 < 1024 * 1024);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
