//! A storage that records every mutation of the file and can inject I/O faults, for crash
//! simulation and error-path tests.
//!
//! The log is enough to rebuild the file as it would be after a power loss at any point: the
//! writes and resizes before the last completed sync are durable; each later one may or may not
//! have reached the disk, and a write may be torn at 512-byte sector boundaries. In journal
//! mode the journal's file goes through [`FaultJournal`] into the same log (each operation
//! tagged with its file), so one cut of the log is a moment for both files.

use std::io;
use std::sync::{Arc, Mutex};

use rivet_engine::{FileStorage, JournalIo, Storage};

use crate::Rng;

/// One mutation of the file.
#[derive(Debug, Clone)]
pub enum Op {
    /// `pwrite(data, offset)`.
    Write(u64, Vec<u8>),
    /// `fdatasync`.
    Sync,
    /// `ftruncate(len)`.
    SetLen(u64),
}

/// Which error to inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The operation fails with EIO.
    Eio,
    /// A write or resize fails with ENOSPC.
    NoSpace,
    /// A write stores only its first half and then fails.
    ShortWrite,
    /// A sync fails (the writes may or may not be on disk).
    SyncFails,
}

/// When to inject it.
#[derive(Debug, Clone, Copy)]
pub struct FaultPlan {
    /// Index (0-based, counting every write, sync and resize) of the first failing operation.
    pub at: usize,
    /// Fail only that operation (`true`) or every operation from it on.
    pub once: bool,
    /// The error.
    pub fault: Fault,
}

/// Which file an operation changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// The database file (through [`FaultStorage`]).
    Db,
    /// The journal, `PATH-journal` (through [`FaultJournal`]).
    Journal,
}

/// Shared state: the log and the plan.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Every mutation of either file, in order (failed ones excluded, partial short writes
    /// included).
    pub log: Vec<(Which, Op)>,
    /// Operations attempted so far.
    pub attempts: usize,
    /// The fault to inject, if any.
    pub plan: Option<FaultPlan>,
    /// Faults injected so far.
    pub injected: usize,
}

/// The recording, fault-injecting storage.
#[derive(Debug)]
pub struct FaultStorage {
    inner: FileStorage,
    rec: Arc<Mutex<Recorder>>,
}

impl FaultStorage {
    /// Wraps the engine's file storage; `rec` receives the log.
    pub fn new(file: std::fs::File, rec: Arc<Mutex<Recorder>>) -> Self {
        FaultStorage { inner: FileStorage::new(file), rec }
    }

    fn fault_now(&self, is_sync: bool) -> Option<Fault> {
        self.rec.lock().unwrap_or_else(|e| e.into_inner()).fault_now(is_sync)
    }

    fn log(&self, op: Op) {
        self.rec.lock().unwrap_or_else(|e| e.into_inner()).log.push((Which::Db, op));
    }
}

impl Recorder {
    /// The operations of one file, in order.
    pub fn ops_of(log: &[(Which, Op)], which: Which) -> Vec<Op> {
        log.iter().filter(|(w, _)| *w == which).map(|(_, op)| op.clone()).collect()
    }

    /// Counts an attempted operation and says whether the plan fails it, and how.
    fn fault_now(&mut self, is_sync: bool) -> Option<Fault> {
        let r = self;
        let k = r.attempts;
        r.attempts += 1;
        let plan = r.plan?;
        let hit = if plan.once { k == plan.at } else { k >= plan.at };
        let applies = match plan.fault {
            Fault::SyncFails => is_sync,
            Fault::Eio => true,
            Fault::NoSpace | Fault::ShortWrite => !is_sync,
        };
        if hit && applies {
            r.injected += 1;
            Some(plan.fault)
        } else {
            None
        }
    }
}

fn err(f: Fault) -> io::Error {
    match f {
        Fault::NoSpace => io::Error::from_raw_os_error(28),
        _ => io::Error::from_raw_os_error(5),
    }
}

/// A write through the fault plan: the fault due now (a short write writes and logs half of
/// `buf`, then fails), or the write done and logged.
fn faulted_write(
    fault: Option<Fault>,
    buf: &[u8],
    off: u64,
    write: impl Fn(&[u8], u64) -> io::Result<()>,
    log: impl Fn(Op),
) -> io::Result<()> {
    let (part, result) = match fault {
        None => (buf, Ok(())),
        Some(Fault::ShortWrite) => (&buf[..buf.len() / 2], Err(err(Fault::Eio))),
        Some(f) => return Err(err(f)),
    };
    write(part, off)?;
    log(Op::Write(off, part.to_vec()));
    result
}

/// A sync or resize through the fault plan: the fault due now, or `run` done and `op` logged.
fn faulted(fault: Option<Fault>, run: impl FnOnce() -> io::Result<()>, op: Op, log: impl FnOnce(Op)) -> io::Result<()> {
    match fault {
        None => {
            run()?;
            log(op);
            Ok(())
        }
        Some(f) => Err(err(f)),
    }
}

// SAFETY: every call forwards exactly what it is asked to the file storage it wraps (or fails
// without touching the file); nothing else writes to the file.
#[allow(unsafe_code)]
unsafe impl Storage for FaultStorage {
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        faulted_write(self.fault_now(false), buf, offset, |b, o| self.inner.write_at(b, o), |op| self.log(op))
    }

    fn sync(&self) -> io::Result<()> {
        faulted(self.fault_now(true), || self.inner.sync(), Op::Sync, |op| self.log(op))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        faulted(self.fault_now(false), || self.inner.set_len(len), Op::SetLen(len), |op| self.log(op))
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
}

/// The recording, fault-injecting journal file: wraps the engine's own (given to
/// [`rivet_engine::DB::open_with_io`]'s `wrap_journal`) and shares a [`Recorder`] with the
/// database's [`FaultStorage`], so that both files' operations are counted and logged in one
/// order. Reads and lengths pass through untouched and uncounted.
pub struct FaultJournal {
    inner: std::sync::Arc<dyn JournalIo>,
    rec: Arc<Mutex<Recorder>>,
}

impl FaultJournal {
    /// Wraps `inner`; `rec` receives the log.
    pub fn new(inner: std::sync::Arc<dyn JournalIo>, rec: Arc<Mutex<Recorder>>) -> Self {
        FaultJournal { inner, rec }
    }

    fn fault_now(&self, is_sync: bool) -> Option<Fault> {
        self.rec.lock().unwrap_or_else(|e| e.into_inner()).fault_now(is_sync)
    }

    fn log(&self, op: Op) {
        self.rec.lock().unwrap_or_else(|e| e.into_inner()).log.push((Which::Journal, op));
    }
}

impl JournalIo for FaultJournal {
    fn read_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.inner.read_at(buf, off)
    }

    fn write_at(&self, buf: &[u8], off: u64) -> io::Result<()> {
        faulted_write(self.fault_now(false), buf, off, |b, o| self.inner.write_at(b, o), |op| self.log(op))
    }

    fn sync(&self) -> io::Result<()> {
        faulted(self.fault_now(true), || self.inner.sync(), Op::Sync, |op| self.log(op))
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        faulted(self.fault_now(false), || self.inner.set_len(len), Op::SetLen(len), |op| self.log(op))
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn path(&self) -> &std::path::Path {
        self.inner.path()
    }
}

/// Both files after a power loss following the first `k` operations of a two-file `log`:
/// each file is [`crash_image`] of its own operations among those `k` (a sync of one file
/// makes nothing of the other durable). The journal is `None` if it had not been created yet
/// (no operation of it among the `k`).
pub fn crash_images(log: &[(Which, Op)], k: usize, rng: &mut Rng) -> (Vec<u8>, Option<Vec<u8>>) {
    let cut = &log[..k.min(log.len())];
    let db = Recorder::ops_of(cut, Which::Db);
    let journal = Recorder::ops_of(cut, Which::Journal);
    let db_image = crash_image(&db, db.len(), rng);
    let journal_image = (!journal.is_empty()).then(|| crash_image(&journal, journal.len(), rng));
    (db_image, journal_image)
}

fn apply(file: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write(off, data) => {
            let end = *off as usize + data.len();
            if file.len() < end {
                file.resize(end, 0);
            }
            file[*off as usize..end].copy_from_slice(data);
        }
        Op::SetLen(len) => file.resize(*len as usize, 0),
        Op::Sync => {}
    }
}

/// The file after a power loss following the first `k` operations of `log`: everything before
/// the last sync among them, plus a random subset of the later writes and resizes, each write
/// possibly torn at 512-byte sectors.
pub fn crash_image(log: &[Op], k: usize, rng: &mut Rng) -> Vec<u8> {
    let k = k.min(log.len());
    let last_sync = log[..k].iter().rposition(|o| matches!(o, Op::Sync));
    let durable_end = last_sync.map_or(0, |s| s + 1);
    let mut file = Vec::new();
    for op in &log[..durable_end] {
        apply(&mut file, op);
    }
    for op in &log[durable_end..k] {
        match op {
            Op::Write(off, data) => match rng.below(4) {
                0 => {}
                1 => {
                    // Torn: a random subset of its sectors.
                    for (i, chunk) in data.chunks(512).enumerate() {
                        if rng.below(2) == 0 {
                            apply(&mut file, &Op::Write(off + 512 * i as u64, chunk.to_vec()));
                        }
                    }
                }
                _ => apply(&mut file, op),
            },
            Op::SetLen(_) if rng.below(2) == 0 => apply(&mut file, op),
            _ => {}
        }
    }
    file
}
