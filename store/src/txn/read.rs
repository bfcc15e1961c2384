//! [`ReadTx`]: queries over a consistent snapshot, and the per-transaction resolution of record
//! types against the catalog.

use std::any::TypeId;
use std::cell::RefCell;

use rivet_engine::Tx;

use crate::backend::{Tree, Txn};

use crate::audit::{self, AuditIndex, Typed};
use crate::catalog::CATALOG_BUCKET;
use crate::count::{self, Counts};
use crate::error::{hex, Error, Mismatch, Result};
use crate::evolve::{self, Resolved};
use crate::key::{self, Key, KeyLike, KeyPrefix, KeyRange};
use crate::key_kind::{KeyFields, KeyKind};
use crate::query::{Condition, Find};
use crate::record::{Index, Record};
use crate::scan::{IndexView, Query, Source};

/// A key for messages: its `Debug` form, or hex if it does not decode.
pub(crate) fn describe_key<K: Key>(bytes: &[u8]) -> String {
    match key::decode::<K>(bytes) {
        Ok(k) => format!("{k:?}"),
        Err(_) => hex(bytes),
    }
}

/// A read transaction of the typed store: a consistent snapshot to query. Every query method is
/// also available on [`WriteTx`](crate::WriteTx), where it sees the transaction's own writes.
///
/// Queries return lazy iterators that borrow the transaction; nothing read can outlive it.
#[derive(Debug)]
pub struct ReadTx<'db> {
    pub(super) tx: Txn<'db>,
    /// Record types already checked against the catalog in this transaction, with how to
    /// read their values.
    /// (When a type registers, the entries of other types of its bucket are dropped: the
    /// catalog entry they were resolved against changed.)
    verified: RefCell<Vec<(TypeId, &'static str, &'static Resolved)>>,
    /// A reusable buffer for encoding the key of a lookup.
    scratch: RefCell<Vec<u8>>,
    /// Record count changes of this (write) transaction, stored when it commits.
    pub(super) counts: Counts,
}

impl<'db> ReadTx<'db> {
    pub(crate) fn new(tx: Txn<'db>) -> Self {
        ReadTx { tx, verified: RefCell::new(Vec::new()), scratch: RefCell::new(Vec::new()), counts: Counts::default() }
    }

    /// Runs `f` on the encoding of `key`, made in the transaction's reusable buffer (borrowed
    /// only while encoding and while putting it back, so `f` may itself look keys up).
    pub(super) fn with_key<K: Key, R>(&self, key: impl KeyLike<K>, f: impl FnOnce(&[u8]) -> R) -> R {
        let mut k = std::mem::take(&mut *self.scratch.borrow_mut());
        k.clear();
        key.encode_like(&mut k);
        let r = f(&k);
        *self.scratch.borrow_mut() = k;
        r
    }

    /// The engine transaction underneath, for raw work (buckets, cursors, `check`).
    /// Engine-only: a transaction of another backend has none.
    pub fn engine(&self) -> &Tx<'db> {
        self.tx.engine()
    }

    pub(super) fn verified<T: Record>(&self) -> Option<&'static Resolved> {
        self.verified.borrow().iter().find(|(t, _, _)| *t == TypeId::of::<T>()).map(|(_, _, r)| *r)
    }

    /// Records how `T` reads in this transaction, forgetting what was known of every type of
    /// its bucket (after a registration, they must be resolved again).
    pub(super) fn set_verified<T: Record>(&self, r: &'static Resolved) {
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
        let entry = match self.tx.tree(CATALOG_BUCKET)? {
            Some(c) => c.get(name)?,
            None => None,
        };
        if entry.is_none() && self.tx.has_top_level(name)? {
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
    #[inline]
    pub(crate) fn records<T: Record>(&self) -> Result<Option<Tree<'_>>> {
        self.resolved::<T>()?;
        Ok(self.tx.tree(T::schema().bucket.as_bytes())?)
    }

    /// Whether `T` is registered in the file exactly as it is (nothing for a write to do
    /// first: no conversion, no index to build or drop).
    pub(crate) fn registered<T: Record>(&self) -> Result<bool> {
        Ok(!self.resolved::<T>()?.needs_register)
    }

    /// Whether `T` is registered as it is and every value is in its own layout (the entry lists
    /// no other): nothing for `Store::migrate` to do.
    pub(crate) fn settled<T: Record>(&self) -> Result<bool> {
        let r = self.resolved::<T>()?;
        Ok(!r.needs_register && (r.entry.is_none() || r.all_current()))
    }

    /// The records of `T` as a query source, with how to read them.
    pub(super) fn source<T: Record>(&self) -> (Source<'_>, Option<&'static Resolved>) {
        match self.records::<T>() {
            Ok(b) => (Source::from_result(Ok(b)), self.verified::<T>()),
            Err(e) => (Source::Failed(Some(e)), None),
        }
    }

    /// Decodes a stored value of `T` (the type must have been resolved in this transaction).
    pub(crate) fn decode<T: Record>(&self, key: &[u8], value: &[u8]) -> Result<T> {
        self.resolved::<T>()?.decode(key, value)
    }

    /// The record of type `T` with primary key `key`, or `None` if there is none. `key` is the
    /// key's type or a reference to it, or a borrowed form ([`KeyLike`]: `&str` for a `String`
    /// key, a byte slice for a `Vec<u8>` key).
    ///
    /// # Errors
    /// - [`Error::SchemaMismatch`] if the file cannot be read as `T`;
    /// - [`Error::Decode`] if the stored value does not decode as `T`, [`Error::Upgrade`] if it
    ///   is of an older version whose upgrade refuses it;
    /// - [`Error::Engine`] for a damaged file.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug, PartialEq)]
    /// struct Seat { #[key] flight: String, #[key] row: u16, #[key] letter: char, passenger: String }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("seats.db"))?;
    /// store.write(|tx| {
    ///     tx.insert(&mut Seat { flight: "SK4035".into(), row: 12, letter: 'C', passenger: "Ada".into() }).map(drop)
    /// })?;
    /// store.read(|tx| {
    ///     // A composite key: a tuple of its fields.
    ///     let seat = tx.get::<Seat>(("SK4035".to_string(), 12, 'C'))?;
    ///     assert_eq!(seat.map(|s| s.passenger).as_deref(), Some("Ada"));
    ///     assert_eq!(tx.get::<Seat>(("SK4035".to_string(), 12, 'D'))?, None);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), rivet::Error>(())
    /// ```
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
    /// [`Error::SchemaMismatch`] if the file cannot be read as `T`; [`Error::Engine`] for a
    /// damaged file.
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
    ///
    /// The [`Query`] is lazy: it reads as it is iterated, and yields its errors as items (the
    /// first one ends it): [`Error::SchemaMismatch`] if the file cannot be read as `T`,
    /// [`Error::Decode`] or [`Error::Upgrade`] for a value that cannot be read as `T`,
    /// [`Error::Engine`] for a damaged file.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct Reading { #[key] sensor: u32, #[key] at: i64, celsius: f32 }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("readings.db"))?;
    /// store.write(|tx| {
    ///     for (sensor, at, celsius) in [(1, 10, 4.5), (1, 20, 5.0), (1, 30, 5.5), (2, 10, 21.0)] {
    ///         tx.insert(&mut Reading { sensor, at, celsius })?;
    ///     }
    ///     Ok(())
    /// })?;
    /// store.read(|tx| {
    ///     // Sensor 1 from time 15 on: whole keys as endpoints.
    ///     let late: Vec<i64> = tx.range::<Reading>((1, 15)..(2, 0)).map(|r| r.map(|r| r.at)).collect::<Result<_, _>>()?;
    ///     assert_eq!(late, [20, 30]);
    ///     // Every reading of sensors 1 and 2: leading fields as endpoints, newest first.
    ///     let all = tx.range::<Reading>((1,)..=(2,)).rev().to_vec()?;
    ///     assert_eq!(all.iter().map(|r| (r.sensor, r.at)).collect::<Vec<_>>(), [(2, 10), (1, 30), (1, 20), (1, 10)]);
    ///     // Counting decodes nothing.
    ///     assert_eq!(tx.range::<Reading>((1, 0)..(1, 25)).count()?, 2);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), rivet::Error>(())
    /// ```
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

    /// How many records of type `T` there are, in constant time: the store keeps a counter
    /// per type, changed in the same transaction as the records (a transaction's own writes
    /// are counted). A file written before counters were kept is counted by walking the keys
    /// until its first write stores one. Counts of ranges and index queries
    /// ([`Query::count`], [`crate::IndexQuery::count`]) walk keys without decoding values.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] if the file cannot be read as `T`; [`Error::Engine`] for a
    /// damaged file.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize)]
    /// struct Job { #[key(auto)] id: u64, done: bool }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("jobs.db"))?;
    /// assert_eq!(store.read(|tx| tx.count::<Job>())?, 0); // no records yet: no error
    /// store.write(|tx| {
    ///     for _ in 0..3 {
    ///         tx.insert(&mut Job { id: 0, done: false })?;
    ///     }
    ///     tx.remove::<Job>(2)?;
    ///     assert_eq!(tx.count::<Job>()?, 2); // the transaction's own writes count
    ///     Ok(())
    /// })?;
    /// assert_eq!(store.read(|tx| tx.count::<Job>())?, 2);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn count<T: Record>(&self) -> Result<usize> {
        let Some(records) = self.records::<T>()? else {
            return Ok(0);
        };
        let bucket = T::schema().bucket;
        let n = match count::stored(self.tx.reader(), bucket)? {
            Some(n) => n.saturating_add_signed(self.counts.pending(bucket)),
            None => count::walk(&records)?,
        };
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// The current autoincrement sequence of `T` (the last key `insert` assigned, or the
    /// largest auto key written explicitly); 0 before any.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] if the file cannot be read as `T`; [`Error::Engine`] for a
    /// damaged file.
    pub fn sequence<T: Record>(&self) -> Result<u64> {
        Ok(self.records::<T>()?.map_or(Ok(0), |b| b.sequence())?)
    }

    /// Queries through an index: `tx.index(User::email).get("ada@example.com")`,
    /// `tx.index(User::country).range("A".."M")`, ... (see [`IndexView`]).
    ///
    /// The view and its queries report their errors when used (by `get`, `count`, `to_vec`, or
    /// as the first item): [`Error::SchemaMismatch`] if the file cannot be read as `T` (or the
    /// handle is not one of `T`'s indexes), [`Error::IndexNotBuilt`] if the file does not have
    /// the index built yet, [`Error::Inconsistent`] if the index and the records disagree,
    /// [`Error::Decode`] or [`Error::Upgrade`] for a record that cannot be read as `T`,
    /// [`Error::Engine`] for a damaged file.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// #[rivet(index(name = "by_team_score", fields(team, score)))]
    /// struct Player { #[key] name: String, #[index] team: String, score: u32 }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("players.db"))?;
    /// store.write(|tx| {
    ///     for (name, team, score) in [("ada", "red", 30), ("bo", "blue", 10), ("cy", "red", 20), ("di", "red", 40)] {
    ///         tx.insert(&mut Player { name: name.into(), team: team.into(), score })?;
    ///     }
    ///     Ok(())
    /// })?;
    /// store.read(|tx| {
    ///     // Equality on a single-field index: in primary-key order.
    ///     let red: Vec<String> = tx.index(Player::team).equal("red").map(|p| p.map(|p| p.name)).collect::<Result<_, _>>()?;
    ///     assert_eq!(red, ["ada", "cy", "di"]);
    ///     // A composite index: a prefix (the team), then a range within it, best first.
    ///     let best = tx.index(Player::by_team_score).prefix(("red".to_string(),)).rev().limit(2).to_vec()?;
    ///     assert_eq!(best.iter().map(|p| p.score).collect::<Vec<_>>(), [40, 30]);
    ///     let mid = tx.index(Player::by_team_score).range(("red".to_string(), 15)..("red".to_string(), 35)).count()?;
    ///     assert_eq!(mid, 2);
    ///     // The primary keys alone, nothing decoded.
    ///     let keys: Vec<String> = tx.index(Player::team).equal("blue").keys().collect::<Result<_, _>>()?;
    ///     assert_eq!(keys, ["bo"]);
    ///     Ok(())
    /// })?;
    /// # Ok::<(), rivet::Error>(())
    /// ```
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
            Ok(Some(b)) => match b.child(&ischema.bucket) {
                Ok(Some(ib)) => (Some(b), Source::Bucket(ib)),
                Ok(None) => (
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
    /// The [`Find`] is lazy and reports its errors when used (by `count`, `to_vec`, `explain`,
    /// or as the first item): [`Error::SchemaMismatch`] if the file cannot be read as `T`,
    /// [`Error::IndexNotBuilt`] for a condition on an index the file does not have built yet,
    /// [`Error::Inconsistent`] if an index and the records disagree, [`Error::Decode`] or
    /// [`Error::Upgrade`] for a record that cannot be read as `T`, [`Error::Engine`] for a
    /// damaged file.
    ///
    /// ```
    /// # use rivet::{Record, Store}; use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct User { #[key] id: u64, #[index] city: String, #[index] age: u32 }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("doc.db"))?;
    /// # store.write(|tx| [(1, "Oslo", 30), (2, "Oslo", 41), (3, "Rome", 30), (4, "Oslo", 30)]
    /// #     .into_iter().try_for_each(|(id, city, age)| tx.upsert(&User { id, city: city.into(), age }).map(drop)))?;
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
    /// - [`Error::SchemaMismatch`] if the file cannot be read as `T`;
    /// - [`Error::Decode`] or [`Error::Upgrade`] for a record that cannot be read as `T` (its
    ///   index values are unknown, so the audit cannot go on);
    /// - [`Error::Engine`] for a damaged file.
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
        let (read, _) = audit::audit(&records, &indexes, &mut Typed::<T>::new(self), &mut problems)?;
        let bucket = T::schema().bucket;
        if let Some(stored) = count::stored(self.tx.reader(), bucket)? {
            let stored = stored.saturating_add_signed(self.counts.pending(bucket));
            if stored != read {
                problems.push(crate::Problem::Count { stored, records: read });
            }
        }
        Ok(problems)
    }

    /// Ends the read transaction (dropping it does the same).
    pub fn close(self) {
        self.finish().rollback();
    }

    pub(super) fn finish(self) -> Txn<'db> {
        self.tx
    }
}
