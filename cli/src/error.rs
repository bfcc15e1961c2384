//! The one error type of the command: a file (when there is one), a one-line problem, and the
//! exit status. Printed as `rivet: FILE: problem`.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Exit status for "could not do it".
pub const EXIT_ERROR: u8 = 2;

/// A failure to report to the user.
#[derive(Debug)]
pub struct CliError {
    file: Option<PathBuf>,
    msg: String,
    code: u8,
    /// Standard output was closed (e.g. `rivet dump | head`): stop without a message.
    quiet: bool,
}

impl CliError {
    /// A problem with `file`.
    pub fn file(file: &Path, msg: impl Into<String>) -> Self {
        CliError { file: Some(file.to_path_buf()), msg: msg.into(), code: EXIT_ERROR, quiet: false }
    }

    /// The same problem with another exit status (1: the command ran, but its result is
    /// incomplete, as `check` finding problems).
    pub fn with_code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    /// A problem not tied to a file (bad arguments).
    pub fn usage(msg: impl Into<String>) -> Self {
        CliError { file: None, msg: msg.into(), code: EXIT_ERROR, quiet: false }
    }

    /// An I/O error on `file` while doing `what`.
    pub fn io(file: &Path, what: &str, e: &io::Error) -> Self {
        let msg = match e.kind() {
            io::ErrorKind::NotFound => "no such file".to_string(),
            io::ErrorKind::PermissionDenied => format!("{what}: permission denied"),
            io::ErrorKind::AlreadyExists => "already exists (it is never overwritten)".to_string(),
            _ => format!("{what}: {e}"),
        };
        CliError::file(file, msg)
    }

    /// A failure to write the command's output. A closed pipe ends the command quietly.
    pub fn output(e: io::Error) -> Self {
        let quiet = e.kind() == io::ErrorKind::BrokenPipe;
        CliError { file: None, msg: format!("writing the output: {e}"), code: EXIT_ERROR, quiet }
    }

    /// An error of the engine, worded for a user of `file`.
    pub fn engine(file: &Path, e: rivet_engine::Error, timeout: Option<Duration>) -> Self {
        use rivet_engine::Error as E;
        let msg = match e {
            E::Timeout => locked_message(timeout),
            E::Invalid(s) => format!("not a usable bbolt database: {s}"),
            E::Checksum => "both meta pages are damaged (checksum mismatch)".to_string(),
            E::VersionMismatch { found } => {
                format!("unsupported format version {found} (this tool reads bbolt format version 2)")
            }
            E::Corrupted { page, reason } => format!("damaged page {page}: {reason} (run `rivet check`)"),
            E::Io { op, source, .. } => return CliError::io(file, op, &source),
            E::BucketNotFound => "bucket not found".to_string(),
            other => other.to_string(),
        };
        CliError::file(file, msg)
    }

    /// The problem alone, without the `rivet: FILE:` prefix.
    pub fn message(&self) -> &str {
        &self.msg
    }

    /// Whether this error should end the command silently.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// The exit status.
    pub fn code(&self) -> u8 {
        self.code
    }
}

/// What to say when the lock could not be taken within `timeout`.
pub fn locked_message(timeout: Option<Duration>) -> String {
    match timeout {
        Some(t) => format!(
            "the file is locked by a writer (another process has it open read-write); gave up after {:?} \
             (raise --timeout, 0 waits forever)",
            t
        ),
        None => "the file is locked by a writer".to_string(),
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(p) => write!(f, "rivet: {}: {}", p.display(), self.msg),
            None => write!(f, "rivet: {}", self.msg),
        }
    }
}

impl std::error::Error for CliError {}

/// Shorthand for output writes: `w!(out, ...)` is `write!` with the error mapped.
#[macro_export]
macro_rules! w {
    ($out:expr) => {
        writeln!($out).map_err($crate::error::CliError::output)
    };
    ($out:expr, $($arg:tt)*) => {
        writeln!($out, $($arg)*).map_err($crate::error::CliError::output)
    };
}
