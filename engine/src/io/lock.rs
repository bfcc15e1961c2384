//! The inter-process file lock: `flock(2)` on the database file, as Go bbolt takes it, so that
//! Go and Rust processes exclude each other (an exclusive lock for read-write, a shared lock for
//! read-only). With a timeout the lock is polled every 50 ms, like bbolt.

use std::fs::File;
use std::io;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

/// Takes an exclusive or shared `flock` on `file`, polling every 50 ms, waiting at most
/// `timeout` (`None` or zero: wait forever). Returns `Ok(false)` if the timeout passed. The lock
/// lasts until [`unlock`] or until the file is closed.
///
/// `flock` locks belong to the open file, not the process: a second handle opened on the same
/// path in this process waits for the first like another process would.
///
/// # Errors
/// The operating system's error from `flock(2)` other than "would block" and "interrupted"
/// (for instance `ENOLCK`, or `EBADF`), returned at once.
#[allow(unsafe_code)] // one flock(2) call
pub fn lock(file: &File, exclusive: bool, timeout: Option<Duration>) -> io::Result<bool> {
    let op = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH } | libc::LOCK_NB;
    let start = Instant::now();
    loop {
        // SAFETY: flock only reads the descriptor number, which `file` keeps open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) && err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
        if let Some(t) = timeout.filter(|t| !t.is_zero()) {
            if start.elapsed() >= t {
                return Ok(false);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Releases the lock (closing the file releases it too).
#[allow(unsafe_code)] // one flock(2) call
pub fn unlock(file: &File) {
    // SAFETY: flock only reads the descriptor number, which `file` keeps open.
    unsafe {
        libc::flock(file.as_raw_fd(), libc::LOCK_UN);
    }
}
