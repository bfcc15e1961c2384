//! [`WriteTx`]: writes that keep every index and the record counts in step with the records,
//! registration of changed types, migrations and the commit.

use std::ops::Deref;

use rivet_engine::Tx;

use crate::backend::{self, Txn};

use crate::abort::Abort;
use crate::catalog::envelope;
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::evolve::{self, Builds, Resolved};
use crate::key::KeyLike;
use crate::record::Record;
use crate::scratch::{check_key, IndexChange, Scratch};

use super::read::{describe_key, ReadTx};
use crate::watch::Ticket;

mod migrate;
mod remove;

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
    /// The transaction's place in the delivery order of changes to subscribers, and the
    /// changes it noted (see [`crate::watch`]).
    ticket: Option<Ticket>,
}

impl<'db> Deref for WriteTx<'db> {
    type Target = ReadTx<'db>;
    fn deref(&self) -> &ReadTx<'db> {
        &self.read
    }
}

impl<'db> WriteTx<'db> {
    pub(crate) fn new(tx: Txn<'db>, ticket: Option<Ticket>) -> Self {
        WriteTx { read: ReadTx::new(tx), aborted: None, scratch: Scratch::default(), ticket }
    }

    /// Whether changes of `T` are watched in this transaction.
    fn watched<T: Record>(&self) -> bool {
        self.ticket.as_ref().is_some_and(Ticket::watches::<T>)
    }

    /// Checks, before a write of a watched type `T` is applied, that its stored values decode
    /// (so a subscriber never meets one that does not): an error here leaves the transaction
    /// usable and nothing written.
    fn check_change<T: Record>(&self, key: &[u8], old: Option<&[u8]>, new: Option<&[u8]>) -> Result<()> {
        if let Some(v) = old {
            self.read.decode::<T>(key, v)?;
        }
        if let Some(v) = new {
            self.read.decode::<T>(key, v)?;
        }
        Ok(())
    }

    /// Counts a change of `T` for the subscribers and, if `T` is watched, notes it (the key
    /// and the stored values before and after), to be delivered after the commit.
    fn note<T: Record>(&mut self, key: &[u8], old: Option<&[u8]>, new: Option<&[u8]>) -> Result<()> {
        let resolved = self.read.resolved::<T>()?;
        if let Some(t) = self.ticket.as_mut() {
            t.wrote::<T>(1);
            if t.watches::<T>() {
                t.note::<T>(key, old, new, resolved, crate::watch::decode_change::<T>);
            }
        }
        Ok(())
    }

    /// The engine transaction underneath, for raw writes. Changing a record bucket or an index
    /// bucket directly can break the store's invariants; [`ReadTx::verify`] finds out.
    /// Engine-only: a transaction of another backend has none.
    pub fn engine_mut(&mut self) -> &mut Tx<'db> {
        self.read.tx.engine_mut()
    }

    /// Whether the transaction was aborted (by a write that failed halfway, or a failed
    /// registration or index build) and can only roll back.
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

    /// Inserts a new record. With an autoincrement key (`#[key(auto)]`), the key field is set
    /// to the bucket's next sequence number first (whatever it held); the assigned key is
    /// returned either way.
    ///
    /// It takes `&mut` for every type, so that one call reads the same whether or not the type
    /// has an auto key (a temporary works: `tx.insert(&mut User { .. })`); only an auto key is
    /// ever written into the record.
    ///
    /// # Errors
    /// The errors before the last bullet are found before anything is written: the insert
    /// does nothing (the auto key field may have been set) and the transaction goes on.
    /// - [`Error::DuplicateKey`] if a record of `T` has the key already;
    /// - [`Error::UniqueViolation`] if a unique index of `T` holds one of the record's values
    ///   already;
    /// - [`Error::SequenceOverflow`] if the next autoincrement value does not fit the key's
    ///   type;
    /// - [`Error::Encode`] if the codec refuses the record; [`Error::Engine`] with
    ///   [`KeyTooLarge`](rivet_engine::Error::KeyTooLarge) or
    ///   [`ValueTooLarge`](rivet_engine::Error::ValueTooLarge) for a key, an index entry or a
    ///   value over the engine's limits;
    /// - as every write: [`Error::Aborted`] if an earlier error aborted the transaction;
    ///   [`Error::SchemaMismatch`] if the file cannot be read as `T`, and the errors of
    ///   registering `T` on its first write in the transaction ([`Error::UniqueCollision`],
    ///   [`Error::Decode`], [`Error::Upgrade`]: see [the crate docs](crate#errors)), which abort
    ///   the transaction; [`Error::Engine`] for an engine failure while writing (which aborts
    ///   it too).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Error, Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct Ticket { #[key(auto)] id: u64, title: String }
    ///
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct Tag { #[key] name: String, color: String }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("tickets.db"))?;
    /// store.write(|tx| {
    ///     let mut t = Ticket { id: 0, title: "crash on open".into() };
    ///     assert_eq!(tx.insert(&mut t)?, 1); // assigned from the sequence...
    ///     assert_eq!(t.id, 1); // ...and written into the record
    ///     assert_eq!(tx.insert(&mut Ticket { id: 0, title: "slow scan".into() })?, 2);
    ///
    ///     // A key of its own: inserting it twice is refused, and the transaction goes on.
    ///     tx.insert(&mut Tag { name: "bug".into(), color: "red".into() })?;
    ///     let again = tx.insert(&mut Tag { name: "bug".into(), color: "blue".into() });
    ///     assert!(matches!(again, Err(Error::DuplicateKey { .. })));
    ///     Ok(())
    /// })?;
    /// let color = store.read(|tx| tx.get::<Tag>("bug"))?.map(|t| t.color);
    /// assert_eq!(color.as_deref(), Some("red"));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn insert<T: Record>(&mut self, record: &mut T) -> Result<T::Key> {
        self.check_open()?;
        self.register::<T>()?;
        let schema = T::schema();
        if schema.auto_key {
            let current = self.read.records::<T>()?.map_or(Ok(0), |b| b.sequence())?;
            let overflow = || Error::SequenceOverflow { bucket: schema.bucket.into(), sequence: current };
            let next = current.checked_add(1).ok_or_else(overflow)?;
            if !record.assign_auto_key(next) {
                return Err(Error::SequenceOverflow { bucket: schema.bucket.into(), sequence: next });
            }
        }
        self.write::<T>(record, Mode::Insert, false)?;
        Ok(record.key())
    }

    /// Inserts the record, or replaces the one with the same key. The key is the record's own:
    /// an auto key of 0 is unassigned (keys start at 1), so `upsert` refuses it; use
    /// [`WriteTx::insert`] to have one assigned.
    ///
    /// Returns the record it replaced, if any.
    ///
    /// # Errors
    /// The errors before the last bullet are found before anything is written: the upsert
    /// does nothing and the transaction goes on.
    /// - [`Error::Unassigned`] if the record's auto key is 0;
    /// - [`Error::UniqueViolation`] if a unique index of `T` holds one of the record's values
    ///   for another record;
    /// - [`Error::Decode`] or [`Error::Upgrade`] if the record it replaces cannot be read (its
    ///   index entries, and the record to return, would be unknown);
    /// - [`Error::Encode`] if the codec refuses the record; [`Error::Engine`] with
    ///   [`KeyTooLarge`](rivet_engine::Error::KeyTooLarge) or
    ///   [`ValueTooLarge`](rivet_engine::Error::ValueTooLarge) for a key, an index entry or a
    ///   value over the engine's limits;
    /// - as every write: [`Error::Aborted`] if an earlier error aborted the transaction;
    ///   [`Error::SchemaMismatch`] if the file cannot be read as `T`, and the errors of
    ///   registering `T` on its first write in the transaction ([`Error::UniqueCollision`],
    ///   [`Error::Decode`], [`Error::Upgrade`]: see [the crate docs](crate#errors)), which abort
    ///   the transaction; [`Error::Engine`] for an engine failure while writing (which aborts
    ///   it too).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct Setting { #[key] name: String, value: String }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("settings.db"))?;
    /// store.write(|tx| {
    ///     let first = tx.upsert(&Setting { name: "theme".into(), value: "light".into() })?;
    ///     assert!(first.is_none()); // nothing replaced
    ///     let old = tx.upsert(&Setting { name: "theme".into(), value: "dark".into() })?;
    ///     assert_eq!(old.map(|s| s.value).as_deref(), Some("light"));
    ///     Ok(())
    /// })?;
    /// let now = store.read(|tx| tx.get::<Setting>("theme"))?;
    /// assert_eq!(now.map(|s| s.value).as_deref(), Some("dark"));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn upsert<T: Record>(&mut self, record: &T) -> Result<Option<T>> {
        self.check_open()?;
        let schema = T::schema();
        if schema.auto_key && record.auto_key_sequence() == Some(0) {
            return Err(Error::Unassigned { bucket: schema.bucket.into() });
        }
        self.register::<T>()?;
        self.write::<T>(record, Mode::Upsert, true)
    }

    /// Replaces the record with the same key.
    ///
    /// # Errors
    /// [`Error::NotFound`] if there is no record with the key (found before anything is
    /// written; no record has an auto key of 0); otherwise as [`WriteTx::upsert`].
    pub fn update<T: Record>(&mut self, record: &T) -> Result<()> {
        self.check_open()?;
        self.register::<T>()?;
        self.write::<T>(record, Mode::Update, false).map(drop)
    }

    /// Changes the record of `T` with key `key` in place: reads it, calls `f` on it and writes
    /// it back (indexes follow); returns what `f` returned, or `None` if there is no such
    /// record. `f` must not change the key fields: that is [`Error::KeyChanged`] and nothing
    /// is written (remove the record and insert it under its new key instead).
    ///
    /// # Errors
    /// The errors before the last bullet are found before anything is written: `modify` does
    /// nothing and the transaction goes on.
    /// - [`Error::Decode`] or [`Error::Upgrade`] if the record cannot be read as `T` (`f` is
    ///   not called);
    /// - [`Error::KeyChanged`] if `f` changed the record's key fields;
    /// - [`Error::UniqueViolation`] if a unique index of `T` holds one of the changed values
    ///   for another record;
    /// - [`Error::Encode`] if the codec refuses the record; [`Error::Engine`] with
    ///   [`KeyTooLarge`](rivet_engine::Error::KeyTooLarge) or
    ///   [`ValueTooLarge`](rivet_engine::Error::ValueTooLarge) for a key, an index entry or a
    ///   value over the engine's limits;
    /// - as every write: [`Error::Aborted`] if an earlier error aborted the transaction;
    ///   [`Error::SchemaMismatch`] if the file cannot be read as `T`, and the errors of
    ///   registering `T` on its first write in the transaction ([`Error::UniqueCollision`],
    ///   [`Error::Decode`], [`Error::Upgrade`]: see [the crate docs](crate#errors)), which abort
    ///   the transaction; [`Error::Engine`] for an engine failure while writing (which aborts
    ///   it too).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize)]
    /// struct Counter { #[key] name: String, hits: u64 }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("c.db"))?;
    /// let hits = store.write(|tx| {
    ///     tx.insert(&mut Counter { name: "home".into(), hits: 0 })?;
    ///     tx.modify::<Counter, _>("home", |c| {
    ///         c.hits += 1;
    ///         c.hits
    ///     })
    /// })?;
    /// assert_eq!(hits, Some(1));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn modify<T: Record, R>(
        &mut self,
        key: impl KeyLike<T::Key>,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<Option<R>> {
        self.check_open()?;
        self.register::<T>()?;
        let mut k = Vec::new();
        key.encode_like(&mut k);
        let Some(records) = self.read.records::<T>()? else {
            return Ok(None);
        };
        let Some(v) = records.get(&k)? else {
            return Ok(None);
        };
        let mut record: T = self.read.decode(&k, v)?;
        let out = f(&mut record);
        let mut now = Vec::new();
        record.encode_key(&mut now);
        if now != k {
            return Err(Error::KeyChanged {
                bucket: T::schema().bucket.into(),
                from: describe_key::<T::Key>(&k),
                to: describe_key::<T::Key>(&now),
            });
        }
        self.write::<T>(&record, Mode::Update, false)?;
        Ok(Some(out))
    }

    /// The shared write path: read and check everything, then change indexes and the record.
    /// Returns the record replaced, if `old` asks for it.
    fn write<T: Record>(&mut self, record: &T, mode: Mode, old: bool) -> Result<Option<T>> {
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        let r = self.write_with(record, mode, old, &mut s);
        self.scratch = s;
        r
    }

    fn write_with<T: Record>(&mut self, record: &T, mode: Mode, want_old: bool, s: &mut Scratch) -> Result<Option<T>> {
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
        if s.value.len() > backend::MAX_VALUE_SIZE {
            return Err(backend::value_too_large(s.value.len()));
        }
        let Some(records) = self.read.records::<T>()? else {
            return Err(Error::Inconsistent {
                bucket: schema.bucket.into(),
                index: String::new(),
                reason: "the record bucket vanished during the transaction".into(),
            });
        };
        let old = records.get(&s.key)?;
        let new = old.is_none();
        let watched = self.watched::<T>();
        let old_raw: Option<Vec<u8>> = if watched { old.map(<[u8]>::to_vec) } else { None };
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
            Some(v) if want_old || !schema.indexes.is_empty() => Some(self.read.decode(&s.key, v)?),
            _ => None,
        };
        for (i, idx) in schema.indexes.iter().enumerate() {
            let mark = s.changes.len();
            if idx.each {
                s.each_changes(record, old.as_ref(), i, idx);
            } else {
                let entries_mark = s.entries.len();
                let add = s.entry(record, i, idx);
                let remove = old.as_ref().and_then(|o| s.entry(o, i, idx));
                // Both entries end with the same primary key (or neither does): equal entries
                // are equal index keys, and nothing changes.
                if s.bytes(&add) == s.bytes(&remove) {
                    s.entries.truncate(entries_mark);
                    continue;
                }
                s.changes.push(IndexChange { position: i, remove, add });
            }
            for c in &s.changes[mark..] {
                let Some(entry) = s.bytes(&c.add) else { continue };
                check_key(entry)?;
                if idx.unique {
                    let ib = records.child(&idx.bucket)?.ok_or_else(backend::missing_tree)?;
                    if let Some(owner) = ib.get(entry)? {
                        if owner != s.key.as_slice() {
                            return Err(Error::UniqueViolation {
                                bucket: schema.bucket.into(),
                                index: idx.name.into(),
                                value: idx.value_text(entry).unwrap_or_else(|| record.index_value(i)),
                            });
                        }
                    }
                }
            }
        }
        let sequence = match record.auto_key_sequence() {
            Some(q) if schema.auto_key && q > records.sequence()? => Some(q),
            _ => None,
        };
        if watched {
            self.check_change::<T>(&s.key, old_raw.as_deref(), Some(&s.value))?;
        }
        self.apply::<T>(s, true, sequence)?;
        if new {
            self.read.counts.add(schema.bucket, 1);
        }
        let key = std::mem::take(&mut s.key);
        let noted = self.note::<T>(&key, old_raw.as_deref(), Some(&s.value));
        s.key = key;
        noted?;
        Ok(if want_old { old } else { None })
    }

    /// Applies checked changes: `s`'s index changes, then the record (`put` it, or delete it).
    /// Any failure here leaves a half-done write, so it aborts the transaction.
    fn apply<T: Record>(&mut self, s: &Scratch, put: bool, sequence: Option<u64>) -> Result<()> {
        let schema = T::schema();
        let k = s.key.as_slice();
        let r = (|| -> Result<()> {
            let mut b = self.read.tx.tree_mut(schema.bucket.as_bytes())?;
            for c in &s.changes {
                let Some(idx) = schema.indexes.get(c.position) else { continue };
                let mut ib = b.child_mut(&idx.bucket)?;
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
        r.inspect_err(|e| {
            self.aborted = Some(Abort::Failed { bucket: schema.bucket.into(), cause: e.to_string() });
        })
    }

    /// Commits: when this returns `Ok`, the transaction is durable.
    ///
    /// # Errors
    /// - [`Error::Aborted`] if an earlier error aborted the transaction: it is rolled back
    ///   instead, and the error names the cause;
    /// - [`Error::Engine`] from the engine's commit:
    ///   [`MaxSizeReached`](rivet_engine::Error::MaxSizeReached) if the file would grow past
    ///   [`Options::max_size`](crate::Options::max_size) (nothing is written),
    ///   [`Io`](rivet_engine::Error::Io) if writing or syncing fails (the store is then
    ///   poisoned: every later write transaction is refused until it is reopened),
    ///   [`CheckFailed`](rivet_engine::Error::CheckFailed) in the engine's strict mode (the
    ///   commit is durable; the problems are listed).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize)]
    /// struct Entry { #[key(auto)] id: u64, text: String }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("log.db"))?;
    /// let mut tx = store.begin_write()?;
    /// tx.insert(&mut Entry { id: 0, text: "kept".into() })?;
    /// tx.commit()?;
    ///
    /// let mut tx = store.begin_write()?;
    /// tx.insert(&mut Entry { id: 0, text: "dropped".into() })?;
    /// tx.rollback(); // or drop it
    /// assert_eq!(store.read(|tx| tx.count::<Entry>())?, 1);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn commit(mut self) -> Result<()> {
        if let Some(a) = &self.aborted {
            let e = a.error();
            self.read.finish().rollback();
            return Err(e);
        }
        if let Err(e) = self.read.counts.flush(&mut self.read.tx) {
            self.read.finish().rollback();
            return Err(e);
        }
        let ticket = self.ticket.take();
        self.read.finish().commit()?;
        // Durable: the subscribers may learn of it (a failed commit drops the ticket, which
        // delivers nothing).
        if let Some(t) = ticket {
            t.deliver();
        }
        Ok(())
    }

    /// Discards every change of the transaction.
    pub fn rollback(self) {
        self.read.finish().rollback();
    }
}
