//! `flock(2)` on the database file (the engine's lock, the scheme bbolt uses): shared for readers,
//! exclusive for a writer, polled every 50 ms until a timeout. Used by the commands that read
//! or patch raw pages, so that they never see a half-written commit and never patch a file a
//! writer has open. The lock is released when the file is closed.

use std::fs::File;
use std::io;
use std::time::Duration;

/// Which lock to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    /// `LOCK_SH`: readers (inspection).
    Shared,
    /// `LOCK_EX`: a writer (in-place surgery).
    Exclusive,
}

/// Takes the lock, waiting at most `timeout` (`None`: forever). `Ok(false)` on timeout.
pub fn lock(file: &File, mode: LockMode, timeout: Option<Duration>) -> io::Result<bool> {
    rivet_engine::io::lock::lock(file, mode == LockMode::Exclusive, timeout)
}
