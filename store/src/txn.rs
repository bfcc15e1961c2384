//! Typed transactions: [`ReadTx`] for queries, [`WriteTx`] (which derefs to `ReadTx`) for
//! writes that keep every index in step with the records.
//!
//! Invariants a write transaction keeps:
//! - **Indexes match records.** For every record and every index it belongs to there is exactly
//!   one index entry (`index key ++ primary key -> empty`, or for a unique index
//!   `index key -> primary key`), and no entry names anything else. Each write reads what it
//!   needs and checks every constraint first, then changes the index entries and the record.
//! - **A failed write writes nothing.** Duplicate keys, missing records, encode and decode
//!   failures and size limits are found before the first change. A unique violation (or an
//!   engine failure in the middle of a write, which cannot be undone piecemeal) also *aborts*
//!   the transaction: it cannot commit, even if the error is caught, so the whole transaction
//!   writes nothing.
//! - **Types are checked before use.** The first use of a record type in a transaction compares
//!   it with its catalog entry (and registers it on the first write), before anything is written.

use std::any::TypeId;
use std::cell::RefCell;
use std::ops::Deref;

use rivet_engine::{Bucket, Tx};

use crate::abort::Abort;
use crate::audit::{self, AuditIndex, Typed};
use crate::catalog::{envelope, CATALOG_BUCKET};
use crate::codec::Codec;
use crate::error::{hex, Error, Mismatch, Result};
use crate::evolve::{self, Builds, Resolved};
use crate::key::{self, Key, KeyLike, KeyPrefix, KeyRange};
use crate::key_kind::{KeyFields, KeyKind};
use crate::query::{Condition, Find};
use crate::record::{Index, Record};
use crate::scan::{IndexView, Query, Source};
use crate::scratch::{check_key, IndexChange, Scratch};

/// A key for messages: its `Debug` form, or hex if it does not decode.
pub(crate) fn describe_key<K: Key>(bytes: &[u8]) -> String {
    match key::decode::<K>(bytes) {
        Ok(k) => format!("{k:?}"),
        Err(_) => hex(bytes),
    }
}

fn not_found_is_none<T>(r: rivet_engine::Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(rivet_engine::Error::BucketNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A read transaction of the typed store: a consistent snapshot to query. Every query method is
/// also available on [`WriteTx`], where it sees the transaction's own writes.
///
/// Queries return lazy iterators that borrow the transaction; nothing read can outlive it.
#[derive(Debug)]
pub struct ReadTx<'db> {
    tx: Tx<'db>,
    /// Record types already checked against the catalog in this transaction, with how to
    /// read their values.
    /// (When a type registers, the entries of other types of its bucket are dropped: the
    /// catalog entry they were resolved against changed.)
    verified: RefCell<Vec<(TypeId, &'static str, &'static Resolved)>>,
    /// A reusable buffer for encoding the key of a lookup.
    scratch: RefCell<Vec<u8>>,
}

impl<'db> ReadTx<'db> {
    pub(crate) fn new(tx: Tx<'db>) -> Self {
        ReadTx { tx, verified: RefCell::new(Vec::new()), scratch: RefCell::new(Vec::new()) }
    }

    /// Runs `f` on the encoding of `key`, made in the transaction's reusable buffer (borrowed
    /// only while encoding and while putting it back, so `f` may itself look keys up).
    fn with_key<K: Key, R>(&self, key: impl KeyLike<K>, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut k = std::mem::take(&mut *self.scratch.borrow_mut());
        k.clear();
        key.encode_like(&mut k);
        let r = f(&k);
        *self.scratch.borrow_mut() = k;
        r
    }

    /// The engine transaction underneath, for raw work (buckets, cursors, `check`).
    pub fn engine(&self) -> &Tx<'db> {
        &self.tx
    }

    fn verified<T: Record>(&self) -> Option<&'static Resolved> {
        self.verified.borrow().iter().find(|(t, _, _)| *t == TypeId::of::<T>()).map(|(_, _, r)| *r)
    }

    /// Records how `T` reads in this transaction, forgetting what was known of every type of
    /// its bucket (after a registration, they must be resolved again).
    fn set_verified<T: Record>(&self, r: &'static Resolved) {
        let bucket = T::schema().bucket;
        let mut v = self.verified.borrow_mut();
        v.retain(|(_, b, _)| *b != bucket);
        v.push((TypeId::of::<T>(), bucket, r));
    }

    /// Checks `T` against the catalog (once per transaction) and says how to read its values.
    pub(crate) fn resolved<T: Record>(&self) -> Result<&'static Resolved> {
        if let Some(r) = self.verified::<T>() {
            return Ok(r);
        }
        let schema = T::schema();
        let name = schema.bucket.as_bytes();
        let catalog = not_found_is_none(self.tx.bucket(CATALOG_BUCKET))?;
        let entry = match catalog {
            Some(c) => c.get(name)?,
            None => None,
        };
        if entry.is_none() && (self.tx.root().get(name)?.is_some() || self.tx.root().has_bucket(name)?) {
            return Err(Error::SchemaMismatch {
                bucket: schema.bucket.into(),
                reason: Mismatch::Unmanaged { type_name: schema.type_name.into() },
            });
        }
        let r = evolve::resolved::<T>(entry)?;
        self.set_verified::<T>(r);
        Ok(r)
    }

    /// Checks `T` against the catalog (once per transaction) and returns its record bucket, or
    /// `None` if the type has no records yet.
    pub(crate) fn records<T: Record>(&self) -> Result<Option<Bucket<'_>>> {
        self.resolved::<T>()?;
        not_found_is_none(self.tx.bucket(T::schema().bucket.as_bytes()))
    }

    /// Whether `T` is registered in the file exactly as it is (nothing for a write to do
    /// first: no conversion, no index to build or drop).
    pub(crate) fn registered<T: Record>(&self) -> Result<bool> {
        Ok(!self.resolved::<T>()?.needs_register)
    }

    /// The records of `T` as a query source, with how to read them.
    fn source<T: Record>(&self) -> (Source<'_>, Option<&'static Resolved>) {
        match self.records::<T>() {
            Ok(b) => (Source::from_result(Ok(b)), self.verified::<T>()),
            Err(e) => (Source::Failed(Some(e)), None),
        }
    }

    /// Decodes a stored value of `T` (the type must have been resolved in this transaction).
    pub(crate) fn decode<T: Record>(&self, key: &[u8], value: &[u8]) -> Result<T> {
        self.resolved::<T>()?.decode(key, value)
    }

    /// The record of type `T` with primary key `key`.
    ///
    /// # Errors
    /// [`Error::Decode`] if the stored value does not decode; [`Error::SchemaMismatch`];
    /// engine errors.
    pub fn get<T: Record>(&self, key: impl KeyLike<T::Key>) -> Result<Option<T>> {
        let Some(b) = self.records::<T>()? else {
            return Ok(None);
        };
        self.with_key(key, |k| match b.get(k)? {
            Some(v) => self.decode::<T>(k, v).map(Some),
            None => Ok(None),
        })
    }

    /// Whether a record of type `T` has primary key `key` (the value is not decoded).
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`]; engine errors.
    pub fn contains<T: Record>(&self, key: impl KeyLike<T::Key>) -> Result<bool> {
        let Some(b) = self.records::<T>()? else {
            return Ok(false);
        };
        self.with_key(key, |k| Ok(b.get(k)?.is_some()))
    }

    /// Every record of type `T`, in primary-key order.
    pub fn scan<T: Record>(&self) -> Query<'_, T> {
        self.range::<T>(..)
    }

    /// The records of type `T` whose primary keys fall in `range`: `a..b`, `a..=b`, `a..`,
    /// `..b`, `..`, or a pair of `Bound`s. Endpoints may be prefixes of a composite key:
    /// `(user,)..(user + 1,)`.
    pub fn range<T: Record>(&self, range: impl KeyRange<T::Key>) -> Query<'_, T> {
        let (source, resolved) = self.source::<T>();
        Query::new(source, range.encode_bounds(), resolved)
    }

    /// The records of type `T` whose composite key starts with `prefix` (a tuple of leading key
    /// fields, such as `(user_id,)`), in key order.
    pub fn prefix<T: Record>(&self, prefix: impl KeyPrefix<T::Key>) -> Query<'_, T> {
        let (source, resolved) = self.source::<T>();
        Query::new(source, key::prefix_bounds(&prefix), resolved)
    }

    /// How many records of type `T` there are (walks the keys; values are not decoded).
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`]; engine errors.
    pub fn count<T: Record>(&self) -> Result<usize> {
        self.scan::<T>().count()
    }

    /// The current autoincrement sequence of `T` (the last key `insert` assigned, or the
    /// largest auto key written explicitly); 0 before any.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`]; engine errors.
    pub fn sequence<T: Record>(&self) -> Result<u64> {
        Ok(self.records::<T>()?.map(|b| b.sequence()).unwrap_or(0))
    }

    /// Queries through an index: `tx.index(User::email).get("ada@example.com")`,
    /// `tx.index(User::country).range("A".."M")`, ... (see [`IndexView`]).
    pub fn index<T: Record, K: Key, U>(&self, index: Index<T, K, U>) -> IndexView<'_, T, K, U> {
        let schema = T::schema();
        let Some(ischema) = schema.indexes.get(index.position()).filter(|i| i.name == index.name()) else {
            let e = Error::SchemaMismatch {
                bucket: schema.bucket.into(),
                reason: Mismatch::NoIndex { type_name: schema.type_name.into(), index: index.name().into() },
            };
            return IndexView::new(None, Source::Failed(Some(e)), None, None);
        };
        let (records, source) = match self.records::<T>() {
            Err(e) => (None, Source::Failed(Some(e))),
            Ok(None) => (None, Source::Empty),
            Ok(Some(_)) if !self.verified::<T>().is_some_and(|r| r.is_built(index.position())) => (
                None,
                Source::Failed(Some(Error::IndexNotBuilt { bucket: schema.bucket.into(), index: ischema.name.into() })),
            ),
            Ok(Some(b)) => match b.bucket(&ischema.bucket) {
                Ok(ib) => (Some(b), Source::Bucket(ib)),
                Err(rivet_engine::Error::BucketNotFound) => (
                    Some(b),
                    Source::Failed(Some(Error::Inconsistent {
                        bucket: schema.bucket.into(),
                        index: ischema.name.into(),
                        reason: "the index bucket is missing".into(),
                    })),
                ),
                Err(e) => (Some(b), Source::Failed(Some(e.into()))),
            },
        };
        IndexView::new(records, source, Some((index.position(), ischema)), self.verified::<T>())
    }

    /// The records of type `T` matching `condition` (conditions on indexes and the primary key,
    /// joined by AND and OR), in primary-key order: see [`crate::query`] and [`Find`].
    ///
    /// ```
    /// # use rivet::{Record, Store}; use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct User { #[key] id: u64, #[index] city: String, #[index] age: u32 }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("doc.db"))?;
    /// # store.write(|tx| [(1, "Oslo", 30), (2, "Oslo", 41), (3, "Rome", 30), (4, "Oslo", 30)]
    /// #     .into_iter().try_for_each(|(id, city, age)| tx.upsert(&User { id, city: city.into(), age })))?;
    /// let found = store.read(|tx| tx.find(User::city.eq("Oslo").and(User::age.eq(30))).to_vec())?;
    /// assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [1, 4]);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn find<T: Record>(&self, condition: Condition<T>) -> Find<'_, T> {
        Find::new(self, condition)
    }

    /// Checks that the indexes of `T` match its records exactly: every record has its entries,
    /// and every index entry names an existing record holding that value. Returns the problems
    /// found (empty: consistent). It reads every record and entry, in memory bounded
    /// regardless of their number (see [`crate::Problem`] for what it reports).
    ///
    /// # Errors
    /// [`Error::Decode`] for a record that does not decode; [`Error::SchemaMismatch`]; engine
    /// errors.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct User {
    ///     #[key]
    ///     id: u64,
    ///     #[index(unique)]
    ///     email: String,
    /// }
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("app.db"))?;
    /// store.write(|tx| tx.insert(&mut User { id: 1, email: "ada@example.com".into() }).map(drop))?;
    /// assert!(store.read(|tx| tx.verify::<User>())?.is_empty());
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn verify<T: Record>(&self) -> Result<Vec<crate::Problem>> {
        let Some(records) = self.records::<T>()? else {
            return Ok(Vec::new());
        };
        // An index not built yet (being built, or waiting for the first write) has nothing to
        // check.
        let resolved = self.resolved::<T>()?;
        let indexes: Vec<AuditIndex> = T::schema()
            .indexes
            .iter()
            .enumerate()
            .filter(|(position, _)| resolved.is_built(*position))
            .map(|(position, i)| AuditIndex {
                position,
                name: i.name.into(),
                bucket: i.bucket.clone(),
                unique: i.unique,
                fields: i
                    .fields
                    .iter()
                    .map(|f| KeyKind::parse(&f.kind).map(|k| (f.name.to_string(), k)))
                    .collect::<Option<Vec<_>>>()
                    .map(|fields| KeyFields { fields }),
            })
            .collect();
        let mut problems = Vec::new();
        audit::audit(&records, &indexes, &mut Typed::<T>::new(self), &mut problems)?;
        Ok(problems)
    }

    fn finish(self) -> Tx<'db> {
        self.tx
    }
}

/// How a write treats an existing record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The key must be new.
    Insert,
    /// Either.
    Upsert,
    /// The key must exist.
    Update,
}

/// A write transaction of the typed store. Every query of [`ReadTx`] is available on it (it
/// derefs to one) and sees the writes made so far.
///
/// Ends with [`WriteTx::commit`] or [`WriteTx::rollback`] (dropping it rolls back);
/// [`crate::Store::write`] does this for you.
#[derive(Debug)]
pub struct WriteTx<'db> {
    read: ReadTx<'db>,
    aborted: Option<Abort>,
    /// Buffers every write reuses.
    scratch: Scratch,
}

impl<'db> Deref for WriteTx<'db> {
    type Target = ReadTx<'db>;
    fn deref(&self) -> &ReadTx<'db> {
        &self.read
    }
}

impl<'db> WriteTx<'db> {
    pub(crate) fn new(tx: Tx<'db>) -> Self {
        WriteTx { read: ReadTx::new(tx), aborted: None, scratch: Scratch::default() }
    }

    /// The engine transaction underneath, for raw writes. Changing a record bucket or an index
    /// bucket directly can break the store's invariants; [`ReadTx::verify`] finds out.
    pub fn engine_mut(&mut self) -> &mut Tx<'db> {
        &mut self.read.tx
    }

    /// Whether the transaction was aborted (by a unique violation) and can only roll back.
    pub fn is_aborted(&self) -> bool {
        self.aborted.is_some()
    }

    fn check_open(&self) -> Result<()> {
        match &self.aborted {
            Some(a) => Err(a.error()),
            None => Ok(()),
        }
    }

    /// Checks `T` against the catalog and, on first use, registers it: the catalog entry, the
    /// record bucket and one nested bucket per index, or, for a type that changed, what
    /// [`crate::evolve`] describes (new layout, index builds). A failed registration aborts
    /// the transaction.
    fn register<T: Record>(&mut self) -> Result<&'static Resolved> {
        let r = self.read.resolved::<T>()?;
        if !r.needs_register {
            return Ok(r);
        }
        self.register_with::<T>(r, Builds::Whole)
    }

    /// Registers `T` (resolved as `r`) with `builds`; on error the transaction is aborted.
    fn register_with<T: Record>(&mut self, r: &'static Resolved, builds: Builds) -> Result<&'static Resolved> {
        match evolve::register::<T>(&mut self.read.tx, r, builds) {
            Ok(entry) => {
                let now = evolve::resolved::<T>(Some(&entry))?;
                self.read.set_verified::<T>(now);
                Ok(now)
            }
            Err(e) => {
                self.aborted = Some(Abort::after::<T>(&e));
                Err(e)
            }
        }
    }

    /// Brings type `T` up to date in the file: registers it (converting an old bucket,
    /// building new indexes, dropping removed ones) and rewrites every value written by an
    /// older layout in the type's own. Returns how many values were rewritten. For a large
    /// bucket, [`crate::Store::migrate`] does the same in bounded transactions.
    ///
    /// # Errors
    /// [`Error::UniqueCollision`] (the transaction is aborted), decode and upgrade errors,
    /// [`Error::SchemaMismatch`], engine errors.
    pub fn migrate<T: Record>(&mut self) -> Result<usize> {
        let (n, _) = self.migrate_some::<T>(None, usize::MAX)?;
        Ok(n)
    }

    /// One batch of [`crate::Store::migrate`]'s index builds: registers `T` with bounded
    /// builds (if it is not), then adds the entries of at most `limit` records to the first
    /// index being built. Returns how many records were read and whether any index is still
    /// being built.
    pub(crate) fn build_some<T: Record>(&mut self, limit: usize) -> Result<(usize, bool)> {
        self.check_open()?;
        let schema = T::schema();
        let mut r = self.read.resolved::<T>()?;
        if !evolve::bounded_ready(schema, r) {
            r = self.register_with::<T>(r, Builds::Bounded)?;
        }
        let out = crate::build::next_batch::<T>(&mut self.read.tx, r, limit).and_then(|done| match done {
            None => Ok((0, false)),
            Some((read, entry)) => {
                let now = evolve::resolved::<T>(Some(&entry))?;
                self.read.set_verified::<T>(now);
                Ok((read, now.building.iter().any(Option::is_some)))
            }
        });
        if let Err(e) = &out {
            self.aborted = Some(Abort::after::<T>(e));
        }
        out
    }

    /// [`WriteTx::migrate`] of at most `limit` values from key `from`; returns the count and
    /// where to go on.
    pub(crate) fn migrate_some<T: Record>(
        &mut self,
        from: Option<&[u8]>,
        limit: usize,
    ) -> Result<(usize, Option<Vec<u8>>)> {
        self.check_open()?;
        let r = self.register::<T>()?;
        let out = crate::rewrite::rewrite::<T>(&mut self.read.tx, r, from, limit).and_then(|(n, next)| {
            // At the end of a pass, drop the layouts no value has any more.
            if next.is_none() {
                if let Some(entry) = crate::rewrite::prune_layouts::<T>(&mut self.read.tx, r)? {
                    self.read.set_verified::<T>(evolve::resolved::<T>(Some(&entry))?);
                }
            }
            Ok((n, next))
        });
        if let Err(e) = &out {
            self.aborted = Some(Abort::Failed { bucket: T::schema().bucket.into(), cause: e.to_string() });
        }
        out
    }

    /// Inserts a new record. With an autoincrement key (`#[key(auto)]`), the key field is set
    /// to the bucket's next sequence number first (whatever it held); the assigned key is
    /// returned either way.
    ///
    /// # Errors
    /// [`Error::DuplicateKey`] if a record has the key; [`Error::UniqueViolation`] (aborts the
    /// transaction); [`Error::SequenceOverflow`]; [`Error::Encode`]; [`Error::SchemaMismatch`];
    /// engine errors. Nothing is written on error (the auto key field may have been set).
    pub fn insert<T: Record>(&mut self, record: &mut T) -> Result<T::Key> {
        self.check_open()?;
        self.register::<T>()?;
        let schema = T::schema();
        if schema.auto_key {
            let current = self.read.records::<T>()?.map(|b| b.sequence()).unwrap_or(0);
            let overflow = || Error::SequenceOverflow { bucket: schema.bucket.into(), sequence: current };
            let next = current.checked_add(1).ok_or_else(overflow)?;
            if !record.assign_auto_key(next) {
                return Err(Error::SequenceOverflow { bucket: schema.bucket.into(), sequence: next });
            }
        }
        self.write::<T>(record, Mode::Insert)?;
        Ok(record.key())
    }

    /// Inserts the record, or replaces the one with the same key.
    ///
    /// # Errors
    /// [`Error::UniqueViolation`] (aborts the transaction); [`Error::Encode`];
    /// [`Error::Decode`] if the record it replaces does not decode (its index entries would be
    /// unknown); [`Error::SchemaMismatch`]; engine errors. Nothing is written on error.
    pub fn upsert<T: Record>(&mut self, record: &T) -> Result<()> {
        self.check_open()?;
        self.register::<T>()?;
        self.write::<T>(record, Mode::Upsert)
    }

    /// Replaces the record with the same key.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is none; otherwise as [`WriteTx::upsert`].
    pub fn update<T: Record>(&mut self, record: &T) -> Result<()> {
        self.check_open()?;
        self.register::<T>()?;
        self.write::<T>(record, Mode::Update)
    }

    /// Removes the record of type `T` with key `key` and its index entries; returns whether
    /// there was one.
    ///
    /// # Errors
    /// [`Error::Decode`] if the record has indexes and does not decode; [`Error::SchemaMismatch`];
    /// engine errors. Nothing is written on error.
    pub fn remove<T: Record>(&mut self, key: impl KeyLike<T::Key>) -> Result<bool> {
        self.check_open()?;
        self.register::<T>()?;
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        key.encode_like(&mut s.key);
        let r = self.remove_with::<T>(&mut s);
        self.scratch = s;
        r
    }

    /// [`WriteTx::remove`] of the key in `s.key`.
    fn remove_with<T: Record>(&mut self, s: &mut Scratch) -> Result<bool> {
        let schema = T::schema();
        let Some(records) = self.read.records::<T>()? else {
            return Ok(false);
        };
        let Some(old) = records.get(&s.key)? else {
            return Ok(false);
        };
        if !schema.indexes.is_empty() {
            let old: T = self.read.decode(&s.key, old)?;
            for (i, idx) in schema.indexes.iter().enumerate() {
                if let Some(entry) = s.entry(&old, i, idx) {
                    s.changes.push(IndexChange { position: i, remove: Some(entry), add: None });
                }
            }
        }
        self.apply::<T>(s, false, None)?;
        Ok(true)
    }

    /// The shared write path: read and check everything, then change indexes and the record.
    fn write<T: Record>(&mut self, record: &T, mode: Mode) -> Result<()> {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        let r = self.write_with(record, mode, &mut s);
        self.scratch = s;
        r
    }

    fn write_with<T: Record>(&mut self, record: &T, mode: Mode, s: &mut Scratch) -> Result<()> {
        let schema = T::schema();
        record.encode_key(&mut s.key);
        check_key(&s.key)?;
        <T::Codec as Codec>::encode_into(record, &mut s.value)
            .map_err(|cause| Error::Encode { bucket: schema.bucket.into(), cause })?;
        let Some(layout) = self.read.resolved::<T>()?.write_layout else {
            return Err(Error::Inconsistent {
                bucket: schema.bucket.into(),
                index: String::new(),
                reason: "the type was not registered before a write".into(),
            });
        };
        let (envelope, len) = envelope(layout);
        s.value.splice(0..0, envelope[..len].iter().copied());
        if s.value.len() > rivet_engine::MAX_VALUE_SIZE {
            return Err(rivet_engine::Error::ValueTooLarge { size: s.value.len() }.into());
        }
        let Some(records) = self.read.records::<T>()? else {
            return Err(Error::Inconsistent {
                bucket: schema.bucket.into(),
                index: String::new(),
                reason: "the record bucket vanished during the transaction".into(),
            });
        };
        let old = records.get(&s.key)?;
        match (mode, old.is_some()) {
            (Mode::Insert, true) => {
                return Err(Error::DuplicateKey { bucket: schema.bucket.into(), key: format!("{:?}", record.key()) })
            }
            (Mode::Update, false) => {
                return Err(Error::NotFound { bucket: schema.bucket.into(), key: format!("{:?}", record.key()) })
            }
            _ => {}
        }
        let old: Option<T> = match old {
            Some(v) if !schema.indexes.is_empty() => Some(self.read.decode(&s.key, v)?),
            _ => None,
        };
        for (i, idx) in schema.indexes.iter().enumerate() {
            let mark = s.entries.len();
            let add = s.entry(record, i, idx);
            let remove = old.as_ref().and_then(|o| s.entry(o, i, idx));
            // Both entries end with the same primary key (or neither does): equal entries are
            // equal index keys, and nothing changes.
            if s.bytes(&add) == s.bytes(&remove) {
                s.entries.truncate(mark);
                continue;
            }
            if let Some(entry) = s.bytes(&add) {
                check_key(entry)?;
                if idx.unique {
                    let ib = records.bucket(&idx.bucket)?;
                    if let Some(owner) = ib.get(entry)? {
                        if owner != s.key.as_slice() {
                            let abort = Abort::Unique {
                                bucket: schema.bucket.into(),
                                index: idx.name.into(),
                                value: record.index_value(i),
                            };
                            let e = abort.error();
                            self.aborted = Some(abort);
                            return Err(e);
                        }
                    }
                }
            }
            s.changes.push(IndexChange { position: i, remove, add });
        }
        let sequence =
            if schema.auto_key { record.auto_key_sequence().filter(|q| *q > records.sequence()) } else { None };
        self.apply::<T>(s, true, sequence)
    }

    /// Applies checked changes: `s`'s index changes, then the record (`put` it, or delete it).
    /// Any failure here leaves a half-done write, so it aborts the transaction.
    fn apply<T: Record>(&mut self, s: &Scratch, put: bool, sequence: Option<u64>) -> Result<()> {
        let schema = T::schema();
        let k = s.key.as_slice();
        let r = (|| -> rivet_engine::Result<()> {
            let mut b = self.read.tx.bucket_mut(schema.bucket.as_bytes())?;
            for c in &s.changes {
                let Some(idx) = schema.indexes.get(c.position) else { continue };
                let mut ib = b.bucket_mut(&idx.bucket)?;
                if let Some(old) = s.bytes(&c.remove) {
                    // A unique entry is removed only while it still names this record.
                    if !idx.unique || ib.get(old)? == Some(k) {
                        ib.delete(old)?;
                    }
                }
                if let Some(new) = s.bytes(&c.add) {
                    ib.put(new, if idx.unique { k } else { &[] })?;
                }
            }
            if put {
                b.put(k, &s.value)?;
            } else {
                b.delete(k)?;
            }
            if let Some(q) = sequence {
                b.set_sequence(q)?;
            }
            Ok(())
        })();
        r.map_err(|e| {
            self.aborted = Some(Abort::Failed { bucket: schema.bucket.into(), cause: e.to_string() });
            Error::Engine(e)
        })
    }

    /// Commits: when this returns `Ok`, the transaction is durable.
    ///
    /// # Errors
    /// The unique violation that aborted the transaction (it is rolled back instead); engine
    /// errors from the commit.
    pub fn commit(self) -> Result<()> {
        if let Some(a) = &self.aborted {
            let e = a.error();
            self.read.finish().rollback();
            return Err(e);
        }
        Ok(self.read.finish().commit()?)
    }

    /// Discards every change of the transaction.
    pub fn rollback(self) {
        self.read.finish().rollback();
    }
}

impl<'db> ReadTx<'db> {
    /// Ends the read transaction (dropping it does the same).
    pub fn close(self) {
        self.finish().rollback();
    }
}
