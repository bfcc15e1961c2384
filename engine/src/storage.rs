//! The write seam: every mutation of the database file goes through [`Storage`].
//!
//! Reads come from the memory map; writes, syncs and length changes come here. Keeping the seam
//! this small lets tests substitute an implementation that injects I/O faults or records the
//! writes since the last sync to build crash images.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

/// The operations that change the file.
#[allow(clippy::len_without_is_empty)]
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// Writes all of `buf` at byte offset `offset`.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes every earlier write durable (fdatasync on Linux).
    fn sync(&self) -> io::Result<()>;
    /// Sets the file length (grows with zeros or truncates).
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The current file length.
    fn len(&self) -> io::Result<u64>;
}

/// The production storage: the database file itself.
#[derive(Debug)]
pub struct FileStorage {
    file: File,
}

impl FileStorage {
    /// Wraps an open file.
    pub fn new(file: File) -> Self {
        FileStorage { file }
    }
}

impl Storage for FileStorage {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn sync(&self) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: fdatasync only reads the descriptor number, which `self.file` keeps open
            // for the duration of the call.
            let rc = unsafe { libc::fdatasync(self.file.as_raw_fd()) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = self.file.as_raw_fd();
            self.file.sync_all()
        }
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}
