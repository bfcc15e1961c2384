//! Range, prefix and index iterators: lazy, in key order or reversed, with `limit` and `after`
//! for pagination.
//!
//! Each yields `Result`s. A failure (an engine error, a value or key that does not decode, an
//! index entry naming a missing record) is yielded once and ends the iteration: nothing is ever
//! skipped silently. The index trees inside a record tree are not records: the backend's scans
//! pass over them.

use std::cmp::Ordering;
use std::marker::PhantomData;
use std::ops::Bound;

use crate::backend::{self, Scan, Tree};

use crate::error::{hex, Error, Result};
use crate::evolve::Resolved;
use crate::key::{self, EncodedBounds, Key, KeyLike, KeyPrefix, KeyRange};
use crate::record::{IndexSchema, Marker, Record, Unique};
use crate::txn::describe_key;

/// Where a query reads from: a tree, nothing (the type has no records yet), or an error to
/// report on the first step.
#[derive(Debug)]
pub(crate) enum Source<'a> {
    Bucket(Tree<'a>),
    Empty,
    Failed(Option<Error>),
}

impl<'a> Source<'a> {
    pub(crate) fn from_result(r: Result<Option<Tree<'a>>>) -> Self {
        match r {
            Ok(Some(b)) => Source::Bucket(b),
            Ok(None) => Source::Empty,
            Err(e) => Source::Failed(Some(e)),
        }
    }
}

/// The tighter of two bounds on the same side: the one whose key compares as `wins` against
/// the other's, or the exclusive one on equal keys.
pub(crate) fn tighter<'k>(a: Bound<&'k [u8]>, b: Bound<&'k [u8]>, wins: Ordering) -> Bound<&'k [u8]> {
    match (a, b) {
        (Bound::Unbounded, x) | (x, Bound::Unbounded) => x,
        (a, b) => {
            let ord = bound_key(a).cmp(bound_key(b));
            if ord == wins || (ord == Ordering::Equal && matches!(a, Bound::Excluded(_))) {
                a
            } else {
                b
            }
        }
    }
}

fn bound_key(b: Bound<&[u8]>) -> &[u8] {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => k,
        Bound::Unbounded => &[],
    }
}

/// Whether `k` is still inside `end`, the bound the walk moves towards (upper when walking
/// forwards, lower when walking backwards).
pub(crate) fn before_end(k: &[u8], end: Bound<&[u8]>, reverse: bool) -> bool {
    match (end, reverse) {
        (Bound::Unbounded, _) => true,
        (Bound::Included(e), false) => k <= e,
        (Bound::Excluded(e), false) => k < e,
        (Bound::Included(e), true) => k >= e,
        (Bound::Excluded(e), true) => k > e,
    }
}

/// The raw walk shared by every query: items of one bucket within bounds, forwards or
/// backwards, after a position, at most `limit` of them.
///
/// It drives a backend [`Scan`] directly: one seek to the starting bound, then one step per
/// item, checking only the bound it walks towards (the seek already honours the other). The
/// bounds stay as they were given, so [`Walk::restart`] can start over in either direction.
#[derive(Debug)]
struct Walk<'a> {
    source: Source<'a>,
    bounds: EncodedBounds,
    reverse: bool,
    limit: Option<usize>,
    after: Option<Vec<u8>>,
    cursor: Option<Scan<'a>>,
    yielded: usize,
    done: bool,
}

type Step<'a> = backend::Item<'a>;

impl<'a> Walk<'a> {
    fn new(source: Source<'a>, bounds: EncodedBounds) -> Self {
        Walk { source, bounds, reverse: false, limit: None, after: None, cursor: None, yielded: 0, done: false }
    }

    fn restart(&mut self) {
        self.cursor = None;
        self.yielded = 0;
        self.done = false;
    }

    /// The bound the walk starts from (`after` included).
    fn start(&self) -> Bound<&[u8]> {
        let (start, wins) =
            if self.reverse { (&self.bounds.1, Ordering::Less) } else { (&self.bounds.0, Ordering::Greater) };
        let start = start.as_ref().map(Vec::as_slice);
        match &self.after {
            Some(after) => tighter(start, Bound::Excluded(after), wins),
            None => start,
        }
    }

    /// The bound the walk moves towards.
    fn end(&self) -> Bound<&[u8]> {
        if self.reverse { &self.bounds.0 } else { &self.bounds.1 }.as_ref().map(Vec::as_slice)
    }

    /// Positions a new cursor on the first item at or past `start` in the walking direction.
    fn first_step(c: &mut Scan<'a>, start: Bound<&[u8]>, reverse: bool) -> Step<'a> {
        match (start, reverse) {
            (Bound::Unbounded, false) => c.first(),
            (Bound::Included(l), false) => c.seek(l),
            (Bound::Excluded(l), false) => match c.seek(l)? {
                Some((k, _)) if k == l => c.next(),
                other => Ok(other),
            },
            (Bound::Unbounded, true) => c.last(),
            (Bound::Included(h), true) => c.seek_back(h, true),
            (Bound::Excluded(h), true) => c.seek_back(h, false),
        }
    }

    fn next_raw(&mut self) -> Option<Result<(&'a [u8], &'a [u8])>> {
        if self.done || self.limit.is_some_and(|n| self.yielded >= n) {
            return None;
        }
        let item = match &mut self.cursor {
            Some(c) => {
                if self.reverse {
                    c.prev()
                } else {
                    c.next()
                }
            }
            None => {
                let bucket = match &mut self.source {
                    Source::Bucket(b) => *b,
                    Source::Empty => {
                        self.done = true;
                        return None;
                    }
                    Source::Failed(e) => {
                        self.done = true;
                        return e.take().map(Err);
                    }
                };
                let mut c = bucket.scan();
                let item = Self::first_step(&mut c, self.start(), self.reverse);
                self.cursor = Some(c);
                item
            }
        };
        match item {
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e.into()))
            }
            Ok(Some((k, v))) => {
                if !before_end(k, self.end(), self.reverse) {
                    self.done = true;
                    return None;
                }
                self.yielded += 1;
                Some(Ok((k, v)))
            }
        }
    }

    fn count(mut self) -> Result<usize> {
        let mut n = 0;
        while let Some(item) = self.next_raw() {
            item?;
            n += 1;
        }
        Ok(n)
    }
}

/// Records of type `T` in primary-key order: from [`crate::ReadTx::scan`],
/// [`crate::ReadTx::range`] and [`crate::ReadTx::prefix`].
///
/// Configure it with [`Query::rev`], [`Query::limit`] and [`Query::after`] before the first
/// step; then iterate it (it is an `Iterator` of `Result<T>`), or use [`Query::to_vec`],
/// [`Query::count`] or [`Query::keys`].
///
/// ```
/// # use rivet::{Record, Store};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Record, Serialize, Deserialize, Debug)]
/// # struct Event { #[key] at: i64, what: String }
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("doc.db")).unwrap();
/// store.write(|tx| {
///     for at in [-5, 0, 5, 10, 15] {
///         tx.upsert(&Event { at, what: format!("event {at}") })?;
///     }
///     Ok(())
/// })?;
/// store.read(|tx| {
///     let page: Vec<Event> = tx.range::<Event>(0..).limit(2).to_vec()?;
///     assert_eq!(page.iter().map(|e| e.at).collect::<Vec<_>>(), [0, 5]);
///     let next: Vec<Event> = tx.range::<Event>(0..).after(5).limit(2).to_vec()?;
///     assert_eq!(next.iter().map(|e| e.at).collect::<Vec<_>>(), [10, 15]);
///     let latest = tx.scan::<Event>().rev().next().transpose()?;
///     assert_eq!(latest.map(|e| e.at), Some(15));
///     Ok(())
/// })?;
/// # Ok::<(), rivet::Error>(())
/// ```
#[derive(Debug)]
pub struct Query<'a, T> {
    walk: Walk<'a>,
    /// How to read the values (`None` only when the source is empty or failed).
    resolved: Option<&'static Resolved>,
    _record: PhantomData<fn() -> T>,
}

impl<'a, T: Record> Query<'a, T> {
    pub(crate) fn new(source: Source<'a>, bounds: EncodedBounds, resolved: Option<&'static Resolved>) -> Self {
        Query { walk: Walk::new(source, bounds), resolved, _record: PhantomData }
    }

    /// Walks from the last key to the first.
    pub fn rev(mut self) -> Self {
        self.walk.reverse = !self.walk.reverse;
        self.walk.restart();
        self
    }

    /// Yields at most `n` records.
    pub fn limit(mut self, n: usize) -> Self {
        self.walk.limit = Some(n);
        self.walk.restart();
        self
    }

    /// Starts strictly after `key` in the walking direction (for pagination: pass the key of
    /// the last record of the previous page). Combine it with [`Query::rev`] in either order.
    pub fn after(mut self, key: impl KeyLike<T::Key>) -> Self {
        let mut k = Vec::new();
        key.encode_like(&mut k);
        self.walk.after = Some(k);
        self.walk.restart();
        self
    }

    /// Counts the records the query selects, without decoding them.
    ///
    /// # Errors
    /// [`Error::SchemaMismatch`] if the file cannot be read as `T`; [`Error::Engine`] for a
    /// damaged file.
    pub fn count(self) -> Result<usize> {
        self.walk.count()
    }

    /// Collects the records.
    ///
    /// # Errors
    /// The first error the iteration meets: [`Error::SchemaMismatch`] if the file cannot be
    /// read as `T`; [`Error::Decode`] or [`Error::Upgrade`] for a value that cannot be read as
    /// `T`; [`Error::Engine`] for a damaged file.
    pub fn to_vec(self) -> Result<Vec<T>> {
        self.collect()
    }

    /// The primary keys instead of the records (values are not decoded).
    pub fn keys(self) -> Keys<'a, T> {
        Keys { walk: self.walk, _record: PhantomData }
    }
}

impl<T: Record> Iterator for Query<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let (k, v) = match self.walk.next_raw()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e)),
        };
        match decode::<T>(self.resolved, k, v) {
            Ok(r) => Some(Ok(r)),
            Err(e) => {
                self.walk.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The primary keys a [`Query`] selects (see [`Query::keys`]).
#[derive(Debug)]
pub struct Keys<'a, T> {
    walk: Walk<'a>,
    _record: PhantomData<fn() -> T>,
}

impl<T: Record> Iterator for Keys<'_, T> {
    type Item = Result<T::Key>;

    fn next(&mut self) -> Option<Result<T::Key>> {
        let (k, _) = match self.walk.next_raw()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e)),
        };
        match key::decode::<T::Key>(k) {
            Ok(key) => Some(Ok(key)),
            Err(cause) => {
                self.walk.done = true;
                Some(Err(Error::Decode { bucket: T::schema().bucket.into(), key: hex(k), cause: cause.to_string() }))
            }
        }
    }
}

/// One index of record type `T` (keys of type `K`), from [`crate::ReadTx::index`]: look records
/// up by index value, by range of values, or by prefix of a composite index key.
///
/// ```
/// # use rivet::{Record, Store};
/// # use serde::{Deserialize, Serialize};
/// #[derive(Record, Serialize, Deserialize, Debug)]
/// struct User {
///     #[key(auto)]
///     id: u64,
///     #[index(unique)]
///     email: String,
///     #[index]
///     country: String,
/// }
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = Store::open(dir.path().join("doc.db")).unwrap();
/// store.write(|tx| {
///     for (email, country) in [("ada@example.com", "GB"), ("grace@example.com", "US"), ("alan@example.com", "GB")] {
///         tx.insert(&mut User { id: 0, email: email.into(), country: country.into() })?;
///     }
///     Ok(())
/// })?;
/// store.read(|tx| {
///     let grace = tx.index(User::email).get("grace@example.com")?;
///     assert_eq!(grace.map(|u| u.id), Some(2));
///     let british: Vec<u64> = tx.index(User::country).equal("GB").map(|u| u.map(|u| u.id)).collect::<Result<_, _>>()?;
///     assert_eq!(british, [1, 3]);
///     assert_eq!(tx.index(User::country).range("A".."H").count()?, 2);
///     Ok(())
/// })?;
/// # Ok::<(), rivet::Error>(())
/// ```
#[derive(Debug)]
pub struct IndexView<'a, T, K, U> {
    records: Option<Tree<'a>>,
    resolved: Option<&'static Resolved>,
    index: Source<'a>,
    /// The index's position and schema (`None` when the handle does not match the type; the
    /// source then holds the error).
    schema: Option<(usize, &'static IndexSchema)>,
    _marker: Marker<T, K, U>,
}

impl<'a, T: Record, K: Key, U> IndexView<'a, T, K, U> {
    pub(crate) fn new(
        records: Option<Tree<'a>>,
        index: Source<'a>,
        schema: Option<(usize, &'static IndexSchema)>,
        resolved: Option<&'static Resolved>,
    ) -> Self {
        IndexView { records, resolved, index, schema, _marker: PhantomData }
    }

    fn query(self, bounds: EncodedBounds) -> IndexQuery<'a, T, K> {
        IndexQuery {
            walk: Walk::new(self.index, bounds),
            records: self.records,
            resolved: self.resolved,
            schema: self.schema,
            pending_after: None,
            _marker: PhantomData,
        }
    }

    /// Every record whose index value equals `value`, in primary-key order.
    pub fn equal(self, value: impl KeyLike<K>) -> IndexQuery<'a, T, K> {
        let mut k = Vec::new();
        value.encode_like(&mut k);
        self.query(key::raw_prefix_bounds(k))
    }

    /// Every record whose index value falls in `range` (whose endpoints may be prefixes of a
    /// composite index key), in index order.
    pub fn range(self, range: impl KeyRange<K>) -> IndexQuery<'a, T, K> {
        let bounds = range.encode_bounds();
        self.query(bounds)
    }

    /// Every record whose (composite) index value starts with `prefix`, in index order.
    pub fn prefix(self, prefix: impl KeyPrefix<K>) -> IndexQuery<'a, T, K> {
        let mut p = Vec::new();
        prefix.encode_prefix(&mut p);
        self.query(key::raw_prefix_bounds(p))
    }

    /// Every record in the index, in index order.
    pub fn scan(self) -> IndexQuery<'a, T, K> {
        self.query((Bound::Unbounded, Bound::Unbounded))
    }
}

impl<T: Record, K: Key> IndexView<'_, T, K, Unique> {
    /// The record whose unique index value is `value`.
    ///
    /// # Errors
    /// - [`Error::SchemaMismatch`] if the file cannot be read as `T`, or the handle is not one
    ///   of `T`'s indexes;
    /// - [`Error::IndexNotBuilt`] if the file does not have the index built yet;
    /// - [`Error::Inconsistent`] if the index bucket is missing or the entry names a record
    ///   that does not exist;
    /// - [`Error::Decode`] or [`Error::Upgrade`] if the record cannot be read as `T`;
    /// - [`Error::Engine`] for a damaged file.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct Host { #[key(auto)] id: u64, #[index(unique)] name: String, #[index(unique)] ip: [u8; 4] }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("hosts.db"))?;
    /// store.write(|tx| tx.insert(&mut Host { id: 0, name: "db1".into(), ip: [10, 0, 0, 7] }).map(drop))?;
    /// store.read(|tx| {
    ///     assert_eq!(tx.index(Host::ip).get([10, 0, 0, 7])?.map(|h| h.name).as_deref(), Some("db1"));
    ///     assert!(tx.index(Host::name).get("db2")?.is_none());
    ///     Ok(())
    /// })?;
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn get(self, value: impl KeyLike<K>) -> Result<Option<T>> {
        // A unique entry's key is exactly the encoded value (prefix-free, so no other entry
        // can start with it): one point lookup finds it, no range walk needed.
        let index = match self.index {
            Source::Bucket(b) => b,
            Source::Empty => return Ok(None),
            Source::Failed(e) => return e.map_or(Ok(None), Err),
        };
        let mut k = Vec::new();
        value.encode_like(&mut k);
        match index.get(&k)? {
            Some(pk) => fetch::<T>(self.records, self.resolved, pk, self.schema).map(Some),
            None => Ok(None),
        }
    }
}

/// Records found through an index, in index order (ties in primary-key order). Like
/// [`Query`]: `rev`, `limit`, `after`, `count`, `to_vec`, `keys`; an `Iterator` of `Result<T>`.
#[derive(Debug)]
pub struct IndexQuery<'a, T, K> {
    walk: Walk<'a>,
    records: Option<Tree<'a>>,
    resolved: Option<&'static Resolved>,
    schema: Option<(usize, &'static IndexSchema)>,
    pending_after: Option<Error>,
    _marker: PhantomData<fn() -> (T, K)>,
}

impl<'a, T: Record, K: Key> IndexQuery<'a, T, K> {
    /// Walks from the last index value to the first.
    pub fn rev(mut self) -> Self {
        self.walk.reverse = !self.walk.reverse;
        self.walk.restart();
        self
    }

    /// Yields at most `n` records.
    pub fn limit(mut self, n: usize) -> Self {
        self.walk.limit = Some(n);
        self.walk.restart();
        self
    }

    /// Starts strictly after `record` (the last record of the previous page) in the walking
    /// direction. The first step fails with [`Error::NotFound`] if `record` is not in this
    /// index (a sparse index and a `None` value).
    pub fn after(mut self, record: &T) -> Self {
        self.walk.restart();
        let Some((position, schema)) = self.schema else {
            return self;
        };
        let mut k = Vec::new();
        if !record.encode_index(position, &mut k) {
            self.pending_after = Some(Error::NotFound {
                bucket: format!("{}/{}", T::schema().bucket, schema.name),
                key: format!("{:?}", record.key()),
            });
            return self;
        }
        if !schema.unique {
            record.encode_key(&mut k);
        }
        self.walk.after = Some(k);
        self
    }

    /// Counts the records selected, without loading them (the index entries are trusted:
    /// [`crate::ReadTx::verify`] checks them).
    ///
    /// # Errors
    /// - [`Error::SchemaMismatch`] if the file cannot be read as `T`, or the handle is not one
    ///   of `T`'s indexes;
    /// - [`Error::IndexNotBuilt`] if the file does not have the index built yet;
    /// - [`Error::Inconsistent`] if the index bucket is missing;
    /// - [`Error::NotFound`] if [`IndexQuery::after`] was given a record that is not in the
    ///   index;
    /// - [`Error::Engine`] for a damaged file.
    pub fn count(self) -> Result<usize> {
        if let Some(e) = self.pending_after {
            return Err(e);
        }
        self.walk.count()
    }

    /// Collects the records.
    ///
    /// # Errors
    /// The first error the iteration meets: those of [`IndexQuery::count`];
    /// [`Error::Inconsistent`] for an entry that is malformed or names a record that does not
    /// exist; [`Error::Decode`] or [`Error::Upgrade`] for a record that cannot be read as `T`.
    pub fn to_vec(self) -> Result<Vec<T>> {
        self.collect()
    }

    /// The primary keys of the records selected, without loading the records.
    pub fn keys(self) -> IndexKeys<'a, T, K> {
        IndexKeys { query: self }
    }

    /// The next entry's primary key (encoded).
    fn next_primary(&mut self) -> Option<Result<&'a [u8]>> {
        if let Some(e) = self.pending_after.take() {
            self.walk.done = true;
            return Some(Err(e));
        }
        let (k, v) = match self.walk.next_raw()? {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e)),
        };
        let (_, schema) = self.schema?;
        if schema.unique {
            return Some(Ok(v));
        }
        // Non-unique entries are `index key ++ primary key`: the index key is prefix-free, so
        // decoding it finds where the primary key starts.
        let mut rest = k;
        match K::decode_key(&mut rest) {
            Ok(_) => Some(Ok(rest)),
            Err(cause) => {
                self.walk.done = true;
                Some(Err(self.inconsistent(format!("entry {} is malformed: {cause}", hex(k)))))
            }
        }
    }

    fn inconsistent(&self, reason: String) -> Error {
        inconsistent::<T>(self.schema, reason)
    }
}

/// An index of `T` disagrees with its records.
fn inconsistent<T: Record>(schema: Option<(usize, &'static IndexSchema)>, reason: String) -> Error {
    Error::Inconsistent {
        bucket: T::schema().bucket.into(),
        index: schema.map(|(_, s)| s.name).unwrap_or_default().into(),
        reason,
    }
}

/// Decodes a value read by a query.
fn decode<T: Record>(resolved: Option<&'static Resolved>, key: &[u8], value: &[u8]) -> Result<T> {
    match resolved {
        Some(r) => r.decode(key, value),
        None => Err(Error::Decode {
            bucket: T::schema().bucket.into(),
            key: describe_key::<T::Key>(key),
            cause: "the type was not checked against the catalog".into(),
        }),
    }
}

/// The record an index entry names by its primary key `pk`.
fn fetch<T: Record>(
    records: Option<Tree<'_>>,
    resolved: Option<&'static Resolved>,
    pk: &[u8],
    schema: Option<(usize, &'static IndexSchema)>,
) -> Result<T> {
    match records.map(|b| b.get(pk)).transpose()?.flatten() {
        Some(v) => decode::<T>(resolved, pk, v),
        None => Err(inconsistent::<T>(
            schema,
            format!("an entry names the record with key {}, which does not exist", describe_key::<T::Key>(pk)),
        )),
    }
}

impl<T: Record, K: Key> Iterator for IndexQuery<'_, T, K> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        let pk = match self.next_primary()? {
            Ok(pk) => pk,
            Err(e) => return Some(Err(e)),
        };
        let r = fetch::<T>(self.records, self.resolved, pk, self.schema);
        if r.is_err() {
            self.walk.done = true;
        }
        Some(r)
    }
}

/// The primary keys an [`IndexQuery`] selects (see [`IndexQuery::keys`]).
#[derive(Debug)]
pub struct IndexKeys<'a, T, K> {
    query: IndexQuery<'a, T, K>,
}

impl<T: Record, K: Key> Iterator for IndexKeys<'_, T, K> {
    type Item = Result<T::Key>;

    fn next(&mut self) -> Option<Result<T::Key>> {
        let pk = match self.query.next_primary()? {
            Ok(pk) => pk,
            Err(e) => return Some(Err(e)),
        };
        match key::decode::<T::Key>(pk) {
            Ok(k) => Some(Ok(k)),
            Err(cause) => {
                self.query.walk.done = true;
                Some(Err(self.query.inconsistent(format!("primary key {} does not decode: {cause}", hex(pk)))))
            }
        }
    }
}
