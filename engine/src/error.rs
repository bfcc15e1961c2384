//! The engine's error type: every failure a caller can meet, as one matchable enum.
//!
//! The variants mirror bbolt's error set (`ErrInvalid`, `ErrVersionMismatch`, `ErrChecksum`,
//! `ErrTimeout`, `ErrTxNotWritable`, ...) so that users coming from Go find the same cases, plus
//! `Corrupted` for structural damage found while reading (bbolt panics there; we never do).

use std::path::PathBuf;

use crate::corruption::{Corruption, Problem};

/// A page number (bbolt's `pgid`).
pub type PageId = u64;
/// A transaction number (bbolt's `txid`).
pub type TxId = u64;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not a bbolt/Rivet database (bad magic, too short, or unreadable header).
    #[error("invalid database: {0}")]
    Invalid(String),
    /// The file is a bbolt file of another format version.
    #[error("version mismatch: file has format version {found}, this engine reads version 2")]
    VersionMismatch {
        /// The version stored in the file.
        found: u32,
    },
    /// Both meta pages fail their checksum.
    #[error("checksum error: both meta pages are damaged")]
    Checksum,
    /// The file lock could not be taken within `Options::timeout`.
    #[error("timeout: could not lock the database file within the configured timeout")]
    Timeout,
    /// A write was attempted in a read-only transaction.
    #[error("tx not writable")]
    TxNotWritable,
    /// The transaction was already committed or rolled back.
    #[error("tx closed")]
    TxClosed,
    /// A write transaction was requested on a database opened read-only.
    #[error("database is in read-only mode")]
    DatabaseReadOnly,
    /// The named bucket does not exist.
    #[error("bucket not found")]
    BucketNotFound,
    /// A bucket with that name already exists.
    #[error("bucket already exists")]
    BucketExists,
    /// An empty bucket name was given.
    #[error("bucket name required")]
    BucketNameRequired,
    /// An empty key was given.
    #[error("key required")]
    KeyRequired,
    /// The key is longer than [`crate::MAX_KEY_SIZE`].
    #[error("key too large: {size} bytes (max {max})", max = crate::limits::MAX_KEY_SIZE)]
    KeyTooLarge {
        /// The key's length.
        size: usize,
    },
    /// The value is longer than [`crate::MAX_VALUE_SIZE`].
    #[error("value too large: {size} bytes (max {max})", max = crate::limits::MAX_VALUE_SIZE)]
    ValueTooLarge {
        /// The value's length.
        size: usize,
    },
    /// The key names a bucket where a value was expected, or a value where a bucket was expected.
    #[error("incompatible value: the key holds a {found}, not a {wanted}")]
    IncompatibleValue {
        /// What the key holds ("bucket" or "value").
        found: &'static str,
        /// What the operation needed.
        wanted: &'static str,
    },
    /// The shared commit of a [`crate::DB::batch`] failed; every call in it gets this error (the
    /// first one gets the original error).
    #[error("the batch commit failed: {0}")]
    BatchFailed(String),
    /// Creating or moving the bucket would nest buckets deeper than [`crate::MAX_NESTING`].
    #[error("buckets may nest at most {max} levels deep")]
    NestingTooDeep {
        /// The limit.
        max: usize,
    },
    /// `move_bucket` was asked to do something impossible (same bucket, or into itself).
    #[error("invalid bucket move: {0}")]
    InvalidMove(String),
    /// The commit would grow the file past `Options::max_size`.
    #[error("database reached its maximum size: {needed} bytes needed, max_size is {max}")]
    MaxSizeReached {
        /// Bytes the file would need.
        needed: u64,
        /// The configured limit.
        max: u64,
    },
    /// A structural problem found in a page (bbolt would panic or misbehave).
    #[error("corrupted database: page {page}: {reason}")]
    Corrupted {
        /// The page where the damage was found.
        page: PageId,
        /// What is wrong with it.
        reason: Corruption,
    },
    /// `strict_mode` found problems after a commit; the commit is durable, the problems listed.
    #[error("consistency check failed after commit: {}", join(.0))]
    CheckFailed(Vec<Problem>),
    /// An operating-system I/O error, with the file and the operation that failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What the engine was doing ("open", "write", "sync", "mmap", "lock", ...).
        op: &'static str,
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A previous commit failed while writing or syncing; the handle refuses further writes
    /// because the state on disk is no longer known. Reopen the database.
    #[error("database handle is poisoned by an earlier failed commit; reopen it")]
    Poisoned,
    /// A backup of a transaction that sees journaled commits not yet in the file (see
    /// [`crate::Options::journal`]): a backup copies the file's pages. Call
    /// [`crate::DB::checkpoint`] first, then begin the transaction to back up.
    #[error(
        "transaction {txid} sees journaled commits not written to the file yet; checkpoint first (DB::checkpoint)"
    )]
    NotCheckpointed {
        /// The transaction's id.
        txid: TxId,
    },
    /// The journal beside the file (`PATH-journal`) does not follow the file's last
    /// checkpoint: another program (Go bbolt, or Rivet without the journal) wrote the file
    /// since, or the journal belongs to another file. Neither file was changed. Replaying it
    /// would lose that program's commits, ignoring it would lose the journal's: move the
    /// journal away to open the file as it is.
    #[error(
        "the journal follows transaction {journal_base}, but the file's last commit is {file}: another program wrote the file since (move the journal away to open the file as it is)"
    )]
    JournalMismatch {
        /// The txid of the meta the journal follows.
        journal_base: TxId,
        /// The txid of the file's meta.
        file: TxId,
    },
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn corrupted(page: PageId, reason: impl Into<Corruption>) -> Self {
        Error::Corrupted { page, reason: reason.into() }
    }
}

/// A problem as the error a read meeting it stops with: `Corrupted`, naming the same page.
impl From<Problem> for Error {
    fn from(p: Problem) -> Self {
        Error::Corrupted { page: p.page, reason: p.kind }
    }
}

fn join(problems: &[Problem]) -> String {
    problems.iter().map(Problem::to_string).collect::<Vec<_>>().join("; ")
}
