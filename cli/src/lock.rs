//! `flock(2)` on the database file, the scheme bbolt and the engine use: shared for readers,
//! exclusive for a writer, polled every 50 ms until a timeout. Used by the commands that read
//! or patch raw pages, so that they never see a half-written commit and never patch a file a
//! writer has open. The lock is released when the file is closed.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

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
    let op = match mode {
        LockMode::Shared => libc::LOCK_SH,
        LockMode::Exclusive => libc::LOCK_EX,
    } | libc::LOCK_NB;
    let start = Instant::now();
    loop {
        // SAFETY: flock only reads the descriptor number, which `file` keeps open for the call.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) && err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
        if let Some(t) = timeout {
            if start.elapsed() >= t {
                return Ok(false);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
