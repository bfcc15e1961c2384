//! The journal's I/O seam: every read, write, sync and length change of the journal file goes
//! through [`JournalIo`], so that tests (and the torture suite) can fail, tear or record any of
//! them.
//!
//! Unlike the database file's `Storage`, the trait is safe to implement: the journal is never
//! memory-mapped, so no reader holds slices of it, and a misbehaving implementation can lose
//! or damage records (which the scan's checks catch) but cannot cause undefined behaviour.
//! [`FileJournal`] is the real file: positioned reads and writes (`pread`/`pwrite`) and
//! `fdatasync`.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The operations the journal needs from its file.
#[allow(clippy::len_without_is_empty)]
pub trait JournalIo: Send + Sync {
    /// Fills all of `buf` from byte offset `off` (an error, `UnexpectedEof` included, if it
    /// cannot).
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
    /// Writes all of `buf` at byte offset `off` (it may write part of it and then fail).
    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()>;
    /// Makes every earlier write and length change durable (fdatasync).
    fn sync(&self) -> io::Result<()>;
    /// Sets the file's length (truncates, or grows with zeros).
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// The file's current length.
    fn len(&self) -> io::Result<u64>;
    /// The file's path, for error messages.
    fn path(&self) -> &Path;
}

/// The journal of the database at `db`: the same path with `-journal` appended
/// (`data.db` -> `data.db-journal`).
pub(crate) fn journal_path(db: &Path) -> PathBuf {
    let mut s = OsString::from(db.as_os_str());
    s.push("-journal");
    PathBuf::from(s)
}

/// The error for a failed operation `op` ("read", "write", "sync", "truncate", "stat") on the
/// journal `io`.
pub(crate) fn io_error<'a>(io: &'a dyn JournalIo, op: &'static str) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Io { op, path: io.path().to_path_buf(), source }
}

/// The journal as a real file.
#[derive(Debug)]
pub(crate) struct FileJournal {
    file: File,
    path: PathBuf,
}

impl FileJournal {
    /// Opens the journal at `path` for reading and writing; `None` if there is none.
    pub(crate) fn open(path: &Path) -> Result<Option<FileJournal>> {
        Self::open_as(path, true)
    }

    /// Opens the journal at `path` for reading only (a read-only handle replays it in memory);
    /// `None` if there is none.
    pub(crate) fn open_read_only(path: &Path) -> Result<Option<FileJournal>> {
        Self::open_as(path, false)
    }

    fn open_as(path: &Path, write: bool) -> Result<Option<FileJournal>> {
        match OpenOptions::new().read(true).write(write).open(path) {
            Ok(file) => Ok(Some(FileJournal { file, path: path.to_path_buf() })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { op: "open", path: path.to_path_buf(), source }),
        }
    }

    /// Opens the journal at `path`, creating it (empty) if there is none, and makes its
    /// directory entry durable (fsync of the parent directory), so that a journal whose
    /// records were synced cannot vanish in a crash. An existing journal's content is kept:
    /// [`super::writer::Journal::create`] truncates it.
    pub(crate) fn create(path: &Path) -> Result<FileJournal> {
        let io = |op| move |source| Error::Io { op, path: path.to_path_buf(), source };
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io("create"))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync directory of"))?;
        Ok(FileJournal { file, path: path.to_path_buf() })
    }
}

impl JournalIo for FileJournal {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, off)
    }

    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        self.file.write_all_at(buf, off)
    }

    fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_journal_lies_beside_the_database() {
        assert_eq!(journal_path(Path::new("/d/data.db")), Path::new("/d/data.db-journal"));
        assert_eq!(journal_path(Path::new("x")), Path::new("x-journal"));
    }

    #[test]
    fn a_file_journal_reads_what_it_wrote() {
        let dir = std::env::temp_dir().join(format!("rivet-journal-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = journal_path(&dir.join("t.db"));
        let _ = std::fs::remove_file(&path);
        assert!(FileJournal::open(&path).unwrap().is_none());
        let j = FileJournal::create(&path).unwrap();
        j.write_at(b"hello", 3).unwrap();
        j.sync().unwrap();
        assert_eq!(j.len().unwrap(), 8);
        let mut buf = [0u8; 8];
        j.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"\0\0\0hello");
        assert_eq!(j.read_at(&mut buf, 1).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        j.set_len(2).unwrap();
        drop(j);
        let again = FileJournal::open(&path).unwrap().unwrap();
        assert_eq!((again.len().unwrap(), again.path()), (2, path.as_path()));
        let e = io_error(&again, "sync")(io::Error::other("boom"));
        assert!(matches!(&e, Error::Io { op: "sync", path: p, .. } if p == &path), "{e:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
