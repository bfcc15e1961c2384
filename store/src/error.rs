//! The store's error type: one matchable enum for everything a typed operation can meet.
//!
//! Values are described, never dropped: a decode failure names the bucket and the key, a unique
//! violation names the index and the value, a schema mismatch says what changed. Engine errors
//! pass through unchanged in [`Error::Engine`].

/// Everything that can go wrong in the typed store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `update` found no record with the key (or another operation needed one).
    #[error("not found: no record with key {key} in bucket `{bucket}`")]
    NotFound {
        /// The record type's bucket.
        bucket: String,
        /// The key, as `Debug` prints it.
        key: String,
    },
    /// `insert` found a record with the key already.
    #[error("duplicate key: bucket `{bucket}` already holds a record with key {key}")]
    DuplicateKey {
        /// The record type's bucket.
        bucket: String,
        /// The key, as `Debug` prints it.
        key: String,
    },
    /// A write would give a unique index two records with one value. The transaction is
    /// aborted: it commits nothing, even if the error is caught and the closure returns `Ok`.
    #[error("unique violation: index `{index}` of `{bucket}` already has a record with value {value}")]
    UniqueViolation {
        /// The record type's bucket.
        bucket: String,
        /// The index's name.
        index: String,
        /// The value, as `Debug` prints it.
        value: String,
    },
    /// A stored value (or key) could not be decoded as the record type. Scans yield this error
    /// and stop; they never skip a record.
    #[error("cannot decode the record with key {key} in bucket `{bucket}`: {cause}")]
    Decode {
        /// The bucket (or `bucket/index` for an index entry).
        bucket: String,
        /// The key (`Debug` form, or hex when the key itself does not decode).
        key: String,
        /// What the codec or key decoder said.
        cause: String,
    },
    /// A record could not be encoded by its codec.
    #[error("cannot encode a record for bucket `{bucket}`: {cause}")]
    Encode {
        /// The record type's bucket.
        bucket: String,
        /// What the codec said.
        cause: String,
    },
    /// The catalog in the file disagrees with the record type (or another type claims its
    /// bucket); the message says what changed.
    #[error("schema mismatch for bucket `{bucket}`: {message}")]
    SchemaMismatch {
        /// The record type's bucket.
        bucket: String,
        /// What differs, in words.
        message: String,
    },
    /// An index and the records disagree (an index entry names a missing record, or an entry
    /// is malformed): the file was changed outside the store.
    #[error("inconsistent index `{index}` of `{bucket}`: {reason}")]
    Inconsistent {
        /// The record type's bucket.
        bucket: String,
        /// The index's name.
        index: String,
        /// What is wrong.
        reason: String,
    },
    /// The bucket's sequence went past what the auto key's type can hold.
    #[error("the sequence of bucket `{bucket}` reached {sequence}, which the auto key type cannot hold")]
    SequenceOverflow {
        /// The record type's bucket.
        bucket: String,
        /// The sequence value that did not fit.
        sequence: u64,
    },
    /// An error from the engine underneath (I/O, locking, limits, damage).
    #[error(transparent)]
    Engine(#[from] rivet_engine::Error),
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Lowercase hex of a byte string, for keys that cannot be shown otherwise.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(2 + bytes.len() * 2);
    s.push_str("0x");
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
