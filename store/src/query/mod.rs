//! Combined queries: conditions on several indexes and on the primary key, joined by AND and
//! OR, answered in primary-key order by merging index streams instead of scanning records.
//!
//! ```
//! use rivet::query::{and, or};
//! use rivet::{Condition, Record, Store};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Record, Serialize, Deserialize, Debug)]
//! struct User {
//!     #[key] id: u64,
//!     #[index] city: String,
//!     #[index] age: u32,
//!     #[index(unique)] email: String,
//!     name: String,
//! }
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("users.db"))?;
//! store.write(|tx| {
//!     for (id, city, age, name) in [(1, "Oslo", 30, "Ada"), (2, "Bergen", 30, "Bo"), (3, "Oslo", 41, "Cy"), (4, "Oslo", 30, "Di")] {
//!         let email = format!("{}@example.com", name.to_lowercase());
//!         tx.upsert(&User { id, city: city.into(), age, email, name: name.into() })?;
//!     }
//!     Ok(())
//! })?;
//! store.read(|tx| {
//!     // AND of two equalities: a leapfrog merge of two index streams, no record decoded
//!     // outside the result.
//!     let ids: Vec<u64> = tx.find(and([User::city.eq("Oslo"), User::age.eq(30)])).keys().collect::<Result<_, _>>()?;
//!     assert_eq!(ids, [1, 4]);
//!
//!     // Nesting, a predicate on the decoded records, newest first, one page.
//!     let q = User::city.eq("Oslo").and(or([User::age.eq(41), User::email.eq("ada@example.com")]));
//!     let page = tx.find(q).filter(|u| u.name != "Zed").rev().limit(10).to_vec()?;
//!     assert_eq!(page.iter().map(|u| u.id).collect::<Vec<_>>(), [3, 1]);
//!
//!     // Counting decodes nothing; the primary-key range bounds the index walks.
//!     assert_eq!(tx.find(User::age.eq(30) & Condition::key_range(2..)).count()?, 2);
//!     println!("{}", tx.find(and([User::city.eq("Oslo"), User::age.eq(30)])).explain()?);
//!     Ok(())
//! })?;
//! # Ok::<(), rivet::Error>(())
//! ```
//!
//! ## How a query runs
//!
//! Each condition is planned as a *stream* of primary keys in key order, or as a *check* on
//! one candidate key; the plan is a tree of streams merged without materialising them:
//!
//! | condition | plan |
//! |---|---|
//! | `index.eq(v)`, non-unique index | walk of the entries `v ++ key`: they sort by primary key |
//! | `index.eq(v)`, unique index | probe: one point lookup, at most one key |
//! | `index.range(..)`, `.prefix(..)`, `.starts_with(..)` | entries read (up to [`Find::sort_budget`]) and their keys sorted; a larger range is a check that decodes each candidate |
//! | `Condition::key_range`, `key_prefix` | under an AND, bounds on every stream (seek to the start, stop at the end); else a walk of the record keys |
//! | AND | leapfrog intersection of the streams; checks run on each key they agree on |
//! | OR | k-way merge of the streams, each key once; an OR with a check among its children is a check |
//!
//! A query whose whole condition is a check walks the record keys (a scan). [`Find::explain`]
//! prints the plan. Records are decoded only for the results, for the predicates of
//! [`Find::filter`], and for range checks; [`Find::count`] and [`Find::keys`] decode nothing
//! unless a filter or a range check needs the record.

mod check;
mod cond;
mod merge;
mod plan;
mod walk;

use std::fmt;
use std::ops::Bound;

use crate::error::{Error, Result};
use crate::key::{self, EncodedBounds, KeyLike};
use crate::record::Record;
use crate::txn::{describe_key, ReadTx};

use self::check::Ctx;
use self::merge::Stream;
use self::plan::Planner;

pub use self::cond::{and, or, Condition};
pub use self::plan::SORT_BUDGET;

/// A predicate of [`Find::filter`].
type Predicate<'a, T> = Box<dyn FnMut(&T) -> bool + 'a>;

/// The records of type `T` matching a [`Condition`], in primary-key order: from
/// [`crate::ReadTx::find`].
///
/// Configure it with [`Find::filter`], [`Find::rev`], [`Find::limit`], [`Find::after`] and
/// [`Find::sort_budget`] (in any order, before the first step); then iterate it (an `Iterator`
/// of `Result<T>`, lazy: each step reads only what it needs), or use [`Find::to_vec`],
/// [`Find::count`] or [`Find::keys`]. An error (an engine error, a record that does not decode,
/// an index entry naming a missing record, [`Error::IndexNotBuilt`]) is yielded once and ends
/// the iteration.
///
/// See [the module docs](crate::query) for the plans.
pub struct Find<'a, T> {
    tx: &'a ReadTx<'a>,
    condition: Condition<T>,
    reverse: bool,
    limit: Option<usize>,
    after: Option<Vec<u8>>,
    sort_budget: usize,
    filters: Vec<Predicate<'a, T>>,
    state: State<'a, T>,
    yielded: usize,
}

enum State<'a, T> {
    Fresh,
    Running(Box<Run<'a, T>>),
    Done,
}

struct Run<'a, T> {
    driver: Stream<'a>,
    cx: Ctx<'a, T>,
}

impl<'a, T: Record> Find<'a, T> {
    pub(crate) fn new(tx: &'a ReadTx<'a>, condition: Condition<T>) -> Self {
        Find {
            tx,
            condition,
            reverse: false,
            limit: None,
            after: None,
            sort_budget: SORT_BUDGET,
            filters: Vec::new(),
            state: State::Fresh,
            yielded: 0,
        }
    }

    fn restart(mut self) -> Self {
        self.state = State::Fresh;
        self.yielded = 0;
        self
    }

    /// Keeps only the records for which `predicate` returns `true` (several filters: all of
    /// them). The predicate sees each candidate the index conditions select, decoded; with a
    /// filter, [`Find::count`] and [`Find::keys`] decode the candidates too.
    pub fn filter(mut self, predicate: impl FnMut(&T) -> bool + 'a) -> Self {
        self.filters.push(Box::new(predicate));
        self.restart()
    }

    /// Walks from the last primary key to the first (every stream walks backwards).
    pub fn rev(mut self) -> Self {
        self.reverse = !self.reverse;
        self.restart()
    }

    /// Yields at most `n` records.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self.restart()
    }

    /// Starts strictly after primary key `key` in the walking direction (keyset pagination:
    /// pass the key of the last record of the previous page). It bounds every stream, like a
    /// primary-key range. Combine it with [`Find::rev`] in either order.
    pub fn after(mut self, key: impl KeyLike<T::Key>) -> Self {
        let mut k = Vec::new();
        key.encode_like(&mut k);
        self.after = Some(k);
        self.restart()
    }

    /// How many entries of an index range or prefix the planner may read to sort them by
    /// primary key (default [`SORT_BUDGET`]). A range with more entries is checked on each
    /// candidate instead, which decodes the candidate; with no other condition to drive the
    /// query, that is a scan of the records. The budget bounds the memory and the reading
    /// done before the first result.
    pub fn sort_budget(mut self, entries: usize) -> Self {
        self.sort_budget = entries;
        self.restart()
    }

    /// Counts the records the query selects, without decoding them unless a filter or an
    /// index-range check needs them. Index entries are trusted as [`crate::IndexQuery::count`]
    /// trusts them ([`crate::ReadTx::verify`] checks them).
    ///
    /// # Errors
    /// The first error the walk meets:
    /// - [`Error::SchemaMismatch`] if the file cannot be read as `T`, or a condition names an
    ///   index `T` does not have;
    /// - [`Error::IndexNotBuilt`] for a condition on an index the file does not have built yet;
    /// - [`Error::Inconsistent`] if an index bucket is missing, or for an index entry that is
    ///   malformed or (when a record is read) names a record that does not exist;
    /// - [`Error::Decode`] or [`Error::Upgrade`] for a record that cannot be read as `T`, when
    ///   a filter or a range check reads it;
    /// - [`Error::Engine`] for a damaged file.
    pub fn count(mut self) -> Result<usize> {
        let mut n = 0;
        while let Some(item) = self.step(false) {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// Collects the records.
    ///
    /// # Errors
    /// The first error the iteration meets: those of [`Find::count`], and [`Error::Decode`] or
    /// [`Error::Upgrade`] for any result that cannot be read as `T`.
    pub fn to_vec(self) -> Result<Vec<T>> {
        self.collect()
    }

    /// The primary keys of the records selected, without decoding the records (unless a filter
    /// or an index-range check needs them).
    pub fn keys(self) -> FindKeys<'a, T> {
        FindKeys { find: self }
    }

    /// The plan the query would run, as text: which streams drive it and how they merge,
    /// which conditions are checked per candidate, where the filters apply, and what is
    /// decoded. Planning reads the index ranges it would sort (up to the sort budget).
    ///
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Record, Serialize, Deserialize, Debug)]
    /// # struct User { #[key] id: u64, #[index] city: String, #[index] age: u32 }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("doc.db"))?;
    /// # store.write(|tx| tx.upsert(&User { id: 1, city: "Oslo".into(), age: 30 }))?;
    /// let plan = store.read(|tx| tx.find(User::city.eq("Oslo").and(User::age.eq(30))).limit(5).explain())?;
    /// assert!(plan.contains("leapfrog over 2 key-ordered streams"));
    /// assert!(plan.contains(r#"entries of index city = "Oslo", in key order"#));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    ///
    /// # Errors
    /// What planning meets: [`Error::SchemaMismatch`] if the file cannot be read as `T`, or a
    /// condition names an index `T` does not have; [`Error::IndexNotBuilt`] for a condition on
    /// an index the file does not have built yet; [`Error::Inconsistent`] if an index bucket
    /// is missing, or for a malformed entry of an index range it sorts; [`Error::Engine`] for
    /// a damaged file.
    pub fn explain(&self) -> Result<String> {
        let mut out = format!("find {} where {}\n", T::schema().type_name, self.condition);
        out.push_str(&format!("order: primary key {}", if self.reverse { "descending" } else { "ascending" }));
        if let Some(a) = &self.after {
            out.push_str(&format!(", after key {}", describe_key::<T::Key>(a)));
        }
        if let Some(n) = self.limit {
            out.push_str(&format!(", at most {n}"));
        }
        out.push('\n');
        let Some((driver, _)) = self.prepare()? else {
            out.push_str("plan: nothing to read (the type has no records yet)\n");
            return Ok(out);
        };
        out.push_str("plan:\n");
        plan::describe(&driver, 1, &mut out);
        if !self.filters.is_empty() {
            out.push_str(&format!("filter: {} predicate(s) on each candidate, decoded\n", self.filters.len()));
        }
        let checks = plan::decodes(&driver);
        out.push_str(match (self.filters.is_empty(), checks) {
            (true, false) => "decodes: the results only (count() and keys() decode nothing)\n",
            (true, true) => "decodes: the candidates a range check reaches, and the results\n",
            (false, _) => "decodes: every candidate (the filter reads it)\n",
        });
        Ok(out)
    }

    /// The walk's primary-key bounds (`after`).
    fn bounds(&self) -> EncodedBounds {
        match (&self.after, self.reverse) {
            (None, _) => (Bound::Unbounded, Bound::Unbounded),
            (Some(a), false) => (Bound::Excluded(a.clone()), Bound::Unbounded),
            (Some(a), true) => (Bound::Unbounded, Bound::Excluded(a.clone())),
        }
    }

    /// Plans the query: its driving stream and what it reads records through; `None` if the
    /// type has no records yet.
    fn prepare(&self) -> Result<Option<(Stream<'a>, Ctx<'a, T>)>> {
        let tx: &'a ReadTx<'a> = self.tx;
        let Some(records) = tx.records::<T>()? else { return Ok(None) };
        let resolved = tx.resolved::<T>()?;
        let planner =
            Planner { records, schema: T::schema(), resolved, reverse: self.reverse, sort_budget: self.sort_budget };
        let driver = planner.driver(&self.condition.node, self.bounds())?;
        let mut names = Vec::new();
        plan::sources(&driver, &mut names);
        Ok(Some((driver, Ctx::new(records, resolved, names.join(", ")))))
    }

    /// The next result: its primary key, and the record if `want_record`.
    fn step(&mut self, want_record: bool) -> Option<Result<(&'a [u8], Option<T>)>> {
        if let State::Fresh = self.state {
            match self.prepare() {
                Ok(Some((driver, cx))) => self.state = State::Running(Box::new(Run { driver, cx })),
                Ok(None) => self.state = State::Done,
                Err(e) => {
                    self.state = State::Done;
                    return Some(Err(e));
                }
            }
        }
        if self.limit.is_some_and(|n| self.yielded >= n) {
            self.state = State::Done;
        }
        let State::Running(run) = &mut self.state else { return None };
        match Self::advance(run, &mut self.filters, want_record) {
            Ok(Some(item)) => {
                self.yielded += 1;
                Some(Ok(item))
            }
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }

    fn advance(
        run: &mut Run<'a, T>,
        filters: &mut [Predicate<'a, T>],
        want_record: bool,
    ) -> Result<Option<(&'a [u8], Option<T>)>> {
        loop {
            let Some(pk) = run.driver.next(&mut run.cx)? else { return Ok(None) };
            if !filters.is_empty() {
                let record = run.cx.record(pk)?;
                if !filters.iter_mut().all(|f| f(record)) {
                    continue;
                }
            }
            let record = if want_record { Some(run.cx.take(pk)?) } else { None };
            return Ok(Some((pk, record)));
        }
    }
}

impl<T: Record> Iterator for Find<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        match self.step(true)? {
            Ok((_, Some(record))) => Some(Ok(record)),
            Ok((pk, None)) => {
                self.state = State::Done;
                Some(Err(Error::Decode {
                    bucket: T::schema().bucket.into(),
                    key: describe_key::<T::Key>(pk),
                    cause: "internal: the query did not decode its result".into(),
                }))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

impl<T: Record> fmt::Debug for Find<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Find")
            .field("type", &T::schema().type_name)
            .field("condition", &self.condition)
            .field("reverse", &self.reverse)
            .field("limit", &self.limit)
            .field("after", &self.after.as_deref().map(describe_key::<T::Key>))
            .field("filters", &self.filters.len())
            .field("sort_budget", &self.sort_budget)
            .finish()
    }
}

/// The primary keys a [`Find`] selects (see [`Find::keys`]): an `Iterator` of
/// `Result<T::Key>`.
pub struct FindKeys<'a, T> {
    find: Find<'a, T>,
}

impl<T: Record> fmt::Debug for FindKeys<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FindKeys").field("find", &self.find).finish()
    }
}

impl<T: Record> Iterator for FindKeys<'_, T> {
    type Item = Result<T::Key>;

    fn next(&mut self) -> Option<Result<T::Key>> {
        let (pk, _) = match self.find.step(false)? {
            Ok(item) => item,
            Err(e) => return Some(Err(e)),
        };
        match key::decode::<T::Key>(pk) {
            Ok(k) => Some(Ok(k)),
            Err(cause) => {
                self.find.state = State::Done;
                Some(Err(Error::Decode {
                    bucket: T::schema().bucket.into(),
                    key: crate::error::hex(pk),
                    cause: cause.to_string(),
                }))
            }
        }
    }
}
