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
///
/// # Safety
///
/// Readers hold slices of a memory map of this same file, and the engine relies on the bytes
/// under a live slice never changing and never vanishing. An implementation must therefore
/// change the file only as asked, and only through these calls:
///
/// - `write_at` changes no byte outside `offset..offset + buf.len()` (it may write only part
///   of `buf`, as a failing disk does, and then return an error);
/// - `set_len` sets exactly the length asked for (the engine never asks for less than the
///   high-water mark of a live snapshot);
/// - nothing else changes the file while the database is open (no writes of its own, no
///   truncation, no replacing the file).
///
/// It may fail any call (return an error, which the engine treats as the I/O error it is),
/// delay it, record it or count it: that is what test storages do. A write that is lost or
/// torn on a crash is fine too; that is what the commit protocol is for. What it must never do
/// is change bytes the engine did not ask it to change, because a reader could be looking at
/// them: that would be undefined behaviour, which is why implementing this trait is `unsafe`.
#[allow(unsafe_code)] // the trait is unsafe to implement: its contract guards mapped bytes
#[allow(clippy::len_without_is_empty)]
pub unsafe trait Storage: Send + Sync + std::fmt::Debug {
    /// Writes all of `buf` at byte offset `offset`.
    ///
    /// # Errors
    /// Any I/O error, after writing any part of `buf` or none. During a commit the engine
    /// turns it into [`Error::Io`](crate::Error::Io) and poisons the handle; while creating a
    /// new file, opening fails.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Makes every earlier write durable (fdatasync on Linux).
    ///
    /// # Errors
    /// Any I/O error; the engine then no longer knows what is on disk. During a commit it
    /// turns the error into [`Error::Io`](crate::Error::Io) and poisons the handle; from
    /// [`DB::sync`](crate::DB::sync) it returns the error.
    #[allow(unsafe_code)] // one fdatasync(2) call
    fn sync(&self) -> io::Result<()>;
    /// Sets the file length (grows with zeros or truncates).
    ///
    /// # Errors
    /// Any I/O error. A commit that grows the file then fails with
    /// [`Error::Io`](crate::Error::Io) and poisons the handle; a failed trim at
    /// [`DB::close`](crate::DB::close) is returned and leaves a longer, valid file.
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The current file length.
    ///
    /// # Errors
    /// Any I/O error; opening the database then fails with [`Error::Io`](crate::Error::Io).
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

// SAFETY: each call does exactly what it is asked to the file it wraps, and nothing else
// touches that file.
#[allow(unsafe_code)]
unsafe impl Storage for FileStorage {
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
