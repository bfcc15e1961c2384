//! A journal file in memory that can fail on demand, for the unit tests of the writer and the
//! scan.

use std::io;
use std::path::Path;
use std::sync::Mutex;

use super::file::JournalIo;

/// The faults to inject; each applies to every later call until cleared.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Faults {
    /// `write_at` fails with EIO after writing this many bytes of its buffer (0: none).
    pub(crate) write_after: Option<usize>,
    /// `sync` fails with EIO.
    pub(crate) sync: bool,
    /// `set_len` fails with ENOSPC.
    pub(crate) set_len: bool,
    /// `read_at` fails with EIO.
    pub(crate) read: bool,
}

/// The file's bytes, the faults, and how many syncs succeeded.
#[derive(Debug, Default)]
pub(crate) struct MemJournal {
    pub(crate) data: Mutex<Vec<u8>>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) syncs: Mutex<u64>,
}

impl MemJournal {
    /// A journal file holding `bytes`.
    pub(crate) fn with(bytes: Vec<u8>) -> MemJournal {
        MemJournal { data: Mutex::new(bytes), ..MemJournal::default() }
    }

    /// A copy of the file's bytes.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.data.lock().unwrap().clone()
    }

    /// Sets the faults.
    pub(crate) fn fail(&self, f: Faults) {
        *self.faults.lock().unwrap() = f;
    }

    fn faults(&self) -> Faults {
        *self.faults.lock().unwrap()
    }
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(libc::EIO)
}

impl JournalIo for MemJournal {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        if self.faults().read {
            return Err(eio());
        }
        let data = self.data.lock().unwrap();
        let src = usize::try_from(off).ok().and_then(|o| data.get(o..)?.get(..buf.len()));
        buf.copy_from_slice(src.ok_or(io::ErrorKind::UnexpectedEof)?);
        Ok(())
    }

    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        let written = match self.faults().write_after {
            Some(n) => &buf[..n.min(buf.len())],
            None => buf,
        };
        let mut data = self.data.lock().unwrap();
        let off = off as usize;
        if data.len() < off + written.len() {
            data.resize(off + written.len(), 0);
        }
        data[off..off + written.len()].copy_from_slice(written);
        if self.faults().write_after.is_some() {
            return Err(eio());
        }
        Ok(())
    }

    fn sync(&self) -> io::Result<()> {
        if self.faults().sync {
            return Err(eio());
        }
        *self.syncs.lock().unwrap() += 1;
        Ok(())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        if self.faults().set_len {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        self.data.lock().unwrap().resize(len as usize, 0);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.data.lock().unwrap().len() as u64)
    }

    fn path(&self) -> &Path {
        Path::new("mem-journal")
    }
}
