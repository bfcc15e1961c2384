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
    /// A write would give a unique index two records with one value. It is found before
    /// anything is written: the write did nothing and the transaction goes on (as with
    /// [`Error::DuplicateKey`]); return the error from the closure to roll back.
    #[error("unique violation: index `{index}` of `{bucket}` already has a record with value {value}")]
    UniqueViolation {
        /// The record type's bucket.
        bucket: String,
        /// The index's name.
        index: String,
        /// The value: a string as it is, anything else as `Debug` prints it.
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
    /// `upsert` of a record whose auto key (`#[key(auto)]`) is 0, which no record can have:
    /// keys are assigned from 1. `insert` assigns one; `upsert` needs the record's key.
    #[error(
        "upsert into bucket `{bucket}`: the auto key is 0, which no record has (keys start at 1): insert assigns one"
    )]
    Unassigned {
        /// The record type's bucket.
        bucket: String,
    },
    /// `modify` changed the record's key fields (the key is where the record is stored: remove
    /// it and insert it under the new key instead). Nothing was written.
    #[error("modify in bucket `{bucket}` changed the record's key from {from} to {to}; nothing was written")]
    KeyChanged {
        /// The record type's bucket.
        bucket: String,
        /// The key before.
        from: String,
        /// The key `modify`'s closure left.
        to: String,
    },
    /// A record could not be encoded by its codec.
    #[error("cannot encode a record for bucket `{bucket}`: {cause}")]
    Encode {
        /// The record type's bucket.
        bucket: String,
        /// What the codec said.
        cause: String,
    },
    /// The catalog in the file disagrees with the record type (or its upgrade chain): the
    /// reason says what, and what to do. Raised when a transaction first uses the type, before
    /// anything is read or written.
    #[error("schema mismatch for bucket `{bucket}`: {reason}")]
    SchemaMismatch {
        /// The record type's bucket.
        bucket: String,
        /// What differs.
        reason: Mismatch,
    },
    /// A query used an index the file does not have built yet (it was added to the type, or
    /// the type's version went up). The first write transaction that uses the type builds it
    /// (or `Store::migrate`).
    #[error(
        "index `{index}` of `{bucket}` is not built yet: the first write transaction that uses the type builds it"
    )]
    IndexNotBuilt {
        /// The record type's bucket.
        bucket: String,
        /// The index's name.
        index: String,
    },
    /// Building a new unique index found two records with one value. The transaction is
    /// aborted: nothing is written.
    #[error("cannot build unique index `{index}` of `{bucket}`: records {first} and {second} share the value {value}")]
    UniqueCollision {
        /// The record type's bucket.
        bucket: String,
        /// The index's name.
        index: String,
        /// The shared value, as `Debug` prints it.
        value: String,
        /// One record's key.
        first: String,
        /// The other record's key.
        second: String,
    },
    /// A `TryFrom` of the upgrade chain refused a stored record.
    #[error("cannot upgrade the record with key {key} in bucket `{bucket}` from version {from} to {to}: {cause}")]
    Upgrade {
        /// The record type's bucket.
        bucket: String,
        /// The key, as `Debug` prints it.
        key: String,
        /// The version of the value being upgraded.
        from: u32,
        /// The version it was being upgraded to.
        to: u32,
        /// What the `TryFrom` said.
        cause: String,
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
    /// An operation of a write transaction that an earlier error left unable to commit (a
    /// write that failed halfway, a registration or index build that failed): it can only roll
    /// back, and every later call and the commit return this.
    #[error("the transaction was aborted by an earlier error and can only roll back: {cause}")]
    Aborted {
        /// The error that aborted it.
        cause: Box<Error>,
    },
    /// The program's own error, carried through a transaction closure (see [`Error::user`]);
    /// the transaction rolled back.
    #[error(transparent)]
    User(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// An error from the engine underneath (I/O, locking, limits, damage).
    #[error(transparent)]
    Engine(#[from] rivet_engine::Error),
}

impl Error {
    /// Wraps the program's own error, to return it from a transaction closure: the
    /// transaction rolls back, and the error comes out of [`crate::Store::write`] as
    /// [`Error::User`] (get it back with [`Error::downcast_user`]). For closures that return
    /// the program's error type directly, see [`crate::Store::try_write`].
    ///
    /// # Example
    /// ```
    /// #[derive(Debug)]
    /// struct TooLong;
    /// impl std::fmt::Display for TooLong {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str("too long") }
    /// }
    /// impl std::error::Error for TooLong {}
    ///
    /// let e = rivet::Error::user(TooLong);
    /// assert!(e.downcast_user::<TooLong>().is_some());
    /// assert_eq!(e.to_string(), "too long");
    /// ```
    pub fn user(e: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error::User(Box::new(e))
    }

    /// The program's own error of type `E`, if this is [`Error::User`] holding one.
    pub fn downcast_user<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            Error::User(e) => e.downcast_ref::<E>(),
            _ => None,
        }
    }
}

/// How a record type and the file's catalog disagree (see [`Error::SchemaMismatch`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mismatch {
    /// The bucket belongs to another record type.
    #[error(
        "the bucket belongs to record type `{owner}`, so `{type_name}` cannot use it (give one of them another \
         bucket with #[rivet(bucket = \"...\")], or name the old type with #[rivet(renamed_from = \"{owner}\")])"
    )]
    OtherType {
        /// The type named in the catalog.
        owner: String,
        /// The type that tried to use the bucket.
        type_name: String,
    },
    /// A bucket of that name exists but the store never wrote it.
    #[error("a bucket of that name exists but the store's catalog has no entry for it: it was not written by the typed store, so `{type_name}` will not use it")]
    Unmanaged {
        /// The type that tried to use the bucket.
        type_name: String,
    },
    /// The catalog entry does not parse.
    #[error("the catalog entry is damaged or was not written by this store: {reason}")]
    Damaged {
        /// What does not parse.
        reason: String,
    },
    /// The primary key changed (keys cannot evolve: move the data to a new bucket).
    #[error("the key is `{stored}` in the file and `{declared}` in the type; a key cannot change in place")]
    Key {
        /// The key in the catalog.
        stored: String,
        /// The key of the type.
        declared: String,
    },
    /// The codec changed.
    #[error("the values are encoded with codec `{stored}`, the type uses `{declared}`")]
    Codec {
        /// The codec in the catalog.
        stored: String,
        /// The codec of the type.
        declared: String,
    },
    /// A field has another shape than the file's values of that version.
    #[error(
        "field `{field}` is `{stored}` in the values of version {version} and `{declared}` in the type; a changed \
         field type needs a new version: #[rivet(version = N, from = OldType)] with a From impl"
    )]
    Field {
        /// The type version of the stored layout.
        version: u32,
        /// The field (a path into nested types: `address.zip`).
        field: String,
        /// Its shape in the file.
        stored: String,
        /// Its shape in the type.
        declared: String,
    },
    /// A field the stored values lack, and that has no default.
    #[error(
        "field `{field}` (`{declared}`) is not in the values of version {version} and has no default: mark it \
         #[serde(default)], name its old name with #[rivet(renamed_from = \"..\")], or declare a new version with from"
    )]
    NewField {
        /// The type version of the stored layout.
        version: u32,
        /// The field.
        field: String,
        /// Its shape in the type.
        declared: String,
    },
    /// A changed layout holds a field the store cannot read without its type.
    #[error(
        "the values of version {version} must be read by field name, but field `{field}` is `{shape}`, which the \
         store cannot read without its type (derive rivet::Layout on it, or declare a new version with from)"
    )]
    Opaque {
        /// The type version of the stored layout.
        version: u32,
        /// The field.
        field: String,
        /// Its shape.
        shape: String,
    },
    /// The file holds values of a version that no type of the chain has.
    #[error("the file holds values of version {version}, and no type in the upgrade chain of `{type_name}` has that version: keep that type and name it with from")]
    NoType {
        /// The stored version.
        version: u32,
        /// The newest type of the chain.
        type_name: String,
    },
    /// The file was written by a newer version of the type (a file from the future).
    #[error("the file was written by version {stored} of the type, newer than this program's version {declared}; refused before anything is written")]
    Newer {
        /// The version in the catalog.
        stored: u32,
        /// The version of the type.
        declared: u32,
    },
    /// An index handle that the type does not have.
    #[error("`{type_name}` has no index `{index}`")]
    NoIndex {
        /// The record type.
        type_name: String,
        /// The index named by the handle.
        index: String,
    },
    /// The upgrade chain itself is wrong.
    #[error("bad upgrade chain: {reason}")]
    Chain {
        /// What is wrong.
        reason: String,
    },
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
