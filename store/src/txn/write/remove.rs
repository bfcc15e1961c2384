//! Removals of a write transaction: one record (`remove`), a key range or prefix
//! (`remove_range`, `remove_prefix`), by predicate (`retain`), or every record (`clear`), each
//! with the record's index entries, its count and its change for the subscribers.

use crate::abort::Abort;
use crate::error::Result;
use crate::key::{KeyLike, KeyPrefix, KeyRange};
use crate::record::Record;
use crate::scratch::{IndexChange, Scratch};

use super::WriteTx;

impl WriteTx<'_> {
    /// Removes the record of type `T` with key `key` and its index entries; returns it, or
    /// `None` if there was none.
    ///
    /// # Errors
    /// - [`Error::Decode`](crate::Error::Decode) or [`Error::Upgrade`](crate::Error::Upgrade) if the record cannot be read as `T` (found
    ///   before anything is written: the removal does nothing and the transaction goes on);
    /// - as every write: [`Error::Aborted`](crate::Error::Aborted) if an earlier error aborted the transaction;
    ///   [`Error::SchemaMismatch`](crate::Error::SchemaMismatch) if the file cannot be read as `T`, and the errors of
    ///   registering `T` on its first write in the transaction ([`Error::UniqueCollision`](crate::Error::UniqueCollision),
    ///   [`Error::Decode`](crate::Error::Decode), [`Error::Upgrade`](crate::Error::Upgrade): see [the crate docs](crate#errors)), which abort
    ///   the transaction; [`Error::Engine`](crate::Error::Engine) for an engine failure while writing (which aborts
    ///   it too).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct Session { #[key] token: String, #[index] user: u64 }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("sessions.db"))?;
    /// store.write(|tx| tx.insert(&mut Session { token: "t1".into(), user: 7 }).map(drop))?;
    /// store.write(|tx| {
    ///     let gone = tx.remove::<Session>("t1")?;
    ///     assert_eq!(gone.map(|s| s.user), Some(7));
    ///     assert!(tx.remove::<Session>("t1")?.is_none()); // nothing left to remove
    ///     Ok(())
    /// })?;
    /// // Its index entry went with it.
    /// assert_eq!(store.read(|tx| tx.index(Session::user).equal(7).count())?, 0);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn remove<T: Record>(&mut self, key: impl KeyLike<T::Key>) -> Result<Option<T>> {
        self.check_open()?;
        self.register::<T>()?;
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        key.encode_like(&mut s.key);
        let r = self.remove_with::<T>(&mut s, true);
        self.scratch = s;
        r.map(Option::flatten)
    }

    /// Removes every record of `T` whose key is in `range` (a range of whole keys, or of
    /// leading fields of a composite key), with their index entries; returns how many.
    ///
    /// # Errors
    /// Records are removed one at a time: after an error the transaction may have removed
    /// some of them; return the error to roll back.
    /// - [`Error::Decode`](crate::Error::Decode) or [`Error::Upgrade`](crate::Error::Upgrade) if a record cannot be read as `T` while its
    ///   index entries (or, for a watched type, the change to deliver) depend on it;
    /// - as every write: [`Error::Aborted`](crate::Error::Aborted) if an earlier error aborted the transaction;
    ///   [`Error::SchemaMismatch`](crate::Error::SchemaMismatch) if the file cannot be read as `T`, and the errors of
    ///   registering `T` on its first write in the transaction ([`Error::UniqueCollision`](crate::Error::UniqueCollision),
    ///   [`Error::Decode`](crate::Error::Decode), [`Error::Upgrade`](crate::Error::Upgrade): see [the crate docs](crate#errors)), which abort
    ///   the transaction; [`Error::Engine`](crate::Error::Engine) for an engine failure while writing (which aborts
    ///   it too).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize)]
    /// struct Visit { #[key] user: u64, #[key] at: i64, page: String }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("v.db"))?;
    /// store.write(|tx| {
    ///     for at in 0..10 {
    ///         tx.insert(&mut Visit { user: at as u64 % 2, at, page: "/".into() })?;
    ///     }
    ///     assert_eq!(tx.remove_range::<Visit>((1,)..=(1,))?, 5); // user 1's visits
    ///     assert_eq!(tx.remove_range::<Visit>((0, 4)..)?, 3); // user 0's from time 4 on
    ///     Ok(())
    /// })?;
    /// assert_eq!(store.read(|tx| tx.count::<Visit>())?, 2);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn remove_range<T: Record>(&mut self, range: impl KeyRange<T::Key>) -> Result<usize> {
        self.check_open()?;
        self.register::<T>()?;
        let keys = self.keys_in::<T>(range.encode_bounds())?;
        self.remove_keys::<T>(keys)
    }

    /// Removes every record of `T` whose key starts with `prefix` (leading fields of a
    /// composite key: "this user's visits"), with their index entries; returns how many.
    ///
    /// # Errors
    /// As [`WriteTx::remove_range`].
    pub fn remove_prefix<T: Record>(&mut self, prefix: impl KeyPrefix<T::Key>) -> Result<usize> {
        self.check_open()?;
        self.register::<T>()?;
        let keys = self.keys_in::<T>(crate::key::prefix_bounds(&prefix))?;
        self.remove_keys::<T>(keys)
    }

    /// Removes every record of `T` for which `keep` returns `false`, with their index entries;
    /// returns how many. Every record is decoded once.
    ///
    /// # Errors
    /// - [`Error::Decode`](crate::Error::Decode) or [`Error::Upgrade`](crate::Error::Upgrade) if a record cannot be read as `T` (found while
    ///   reading, before anything is removed);
    /// - as every write: [`Error::Aborted`](crate::Error::Aborted) if an earlier error aborted the transaction;
    ///   [`Error::SchemaMismatch`](crate::Error::SchemaMismatch) if the file cannot be read as `T`, and the errors of
    ///   registering `T` on its first write in the transaction ([`Error::UniqueCollision`](crate::Error::UniqueCollision),
    ///   [`Error::Decode`](crate::Error::Decode), [`Error::Upgrade`](crate::Error::Upgrade): see [the crate docs](crate#errors)), which abort
    ///   the transaction; [`Error::Engine`](crate::Error::Engine) for an engine failure while writing (which aborts
    ///   it too).
    ///
    /// After an error while removing, the transaction may have removed some of the records:
    /// return the error to roll back.
    pub fn retain<T: Record>(&mut self, mut keep: impl FnMut(&T) -> bool) -> Result<usize> {
        self.check_open()?;
        self.register::<T>()?;
        let mut gone = Vec::new();
        if let Some(records) = self.read.records::<T>()? {
            for item in records.iter() {
                let (k, v) = item?;
                if !keep(&self.read.decode::<T>(k, v)?) {
                    gone.push(k.to_vec());
                }
            }
        }
        self.remove_keys::<T>(gone)
    }

    /// Removes every record of `T` and every index entry, keeping the type registered and its
    /// autoincrement sequence (keys are never handed out twice); returns how many records
    /// there were. Nothing is decoded (unless the type is watched: subscribers learn of every
    /// record removed).
    ///
    /// # Errors
    /// - [`Error::Decode`](crate::Error::Decode) or [`Error::Upgrade`](crate::Error::Upgrade) if `T` is watched and a record cannot be read
    ///   as `T` (checked before anything is removed);
    /// - as every write: [`Error::Aborted`](crate::Error::Aborted) if an earlier error aborted the transaction;
    ///   [`Error::SchemaMismatch`](crate::Error::SchemaMismatch) if the file cannot be read as `T`, and the errors of
    ///   registering `T` on its first write in the transaction ([`Error::UniqueCollision`](crate::Error::UniqueCollision),
    ///   [`Error::Decode`](crate::Error::Decode), [`Error::Upgrade`](crate::Error::Upgrade): see [the crate docs](crate#errors)), which abort
    ///   the transaction; [`Error::Engine`](crate::Error::Engine) for an engine failure while writing (which aborts
    ///   it too).
    pub fn clear<T: Record>(&mut self) -> Result<usize> {
        self.check_open()?;
        self.register::<T>()?;
        let schema = T::schema();
        let n = self.read.count::<T>()?;
        // The subscribers learn of each record removed (checked before anything is removed).
        let mut gone = Vec::new();
        if self.watched::<T>() {
            if let Some(records) = self.read.records::<T>()? {
                for item in records.iter() {
                    let (k, v) = item?;
                    self.check_change::<T>(k, Some(v), None)?;
                    gone.push((k.to_vec(), v.to_vec()));
                }
            }
        }
        let name = schema.bucket.as_bytes();
        let tx = &mut self.read.tx;
        let r = (|| -> Result<()> {
            let sequence = tx.tree_mut(name)?.sequence()?;
            tx.delete_tree(name)?;
            let mut b = tx.create_tree(name)?;
            for idx in &schema.indexes {
                b.create_child(&idx.bucket)?;
            }
            Ok(b.set_sequence(sequence)?)
        })();
        if let Err(e) = r {
            self.aborted = Some(Abort::Failed { bucket: schema.bucket.into(), cause: e.to_string() });
            return Err(e);
        }
        self.read.counts.add(schema.bucket, -i64::try_from(n).unwrap_or(i64::MAX));
        if gone.is_empty() {
            // Unwatched: counted for subscriptions that begin meanwhile.
            if let Some(t) = self.ticket.as_mut() {
                t.wrote::<T>(n as u64);
            }
        }
        for (k, v) in gone {
            self.note::<T>(&k, Some(&v), None)?;
        }
        Ok(n)
    }

    /// The keys of the records of `T` within `bounds`.
    fn keys_in<T: Record>(&self, bounds: crate::key::EncodedBounds) -> Result<Vec<Vec<u8>>> {
        let mut keys = Vec::new();
        if let Some(records) = self.read.records::<T>()? {
            for item in records.range(bounds.0.as_ref().map(Vec::as_slice), bounds.1.as_ref().map(Vec::as_slice)) {
                keys.push(item?.0.to_vec());
            }
        }
        Ok(keys)
    }

    /// Removes the records of `T` with `keys` (those that exist); returns how many.
    fn remove_keys<T: Record>(&mut self, keys: Vec<Vec<u8>>) -> Result<usize> {
        let mut s = std::mem::take(&mut self.scratch);
        let mut n = 0;
        let mut r = Ok(());
        for k in keys {
            s.clear();
            s.key = k;
            match self.remove_with::<T>(&mut s, false) {
                Ok(Some(_)) => n += 1,
                Ok(None) => {}
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
        }
        self.scratch = s;
        r.map(|()| n)
    }

    /// [`WriteTx::remove`] of the key in `s.key`: `None` if there was no record, else the
    /// record if it was decoded (`decode`, or the type has indexes, whose entries need it).
    fn remove_with<T: Record>(&mut self, s: &mut Scratch, decode: bool) -> Result<Option<Option<T>>> {
        let schema = T::schema();
        let Some(records) = self.read.records::<T>()? else {
            return Ok(None);
        };
        let Some(old) = records.get(&s.key)? else {
            return Ok(None);
        };
        let old_raw: Option<Vec<u8>> = if self.watched::<T>() { Some(old.to_vec()) } else { None };
        let old: Option<T> =
            if decode || !schema.indexes.is_empty() { Some(self.read.decode(&s.key, old)?) } else { None };
        if let Some(old) = &old {
            for (i, idx) in schema.indexes.iter().enumerate() {
                if idx.each {
                    for entry in s.entries_of(old, i, idx) {
                        s.changes.push(IndexChange { position: i, remove: Some(entry), add: None });
                    }
                } else if let Some(entry) = s.entry(old, i, idx) {
                    s.changes.push(IndexChange { position: i, remove: Some(entry), add: None });
                }
            }
        }
        if let Some(raw) = &old_raw {
            self.check_change::<T>(&s.key, Some(raw), None)?;
        }
        self.apply::<T>(s, false, None)?;
        self.read.counts.add(schema.bucket, -1);
        let key = std::mem::take(&mut s.key);
        let noted = self.note::<T>(&key, old_raw.as_deref(), None);
        s.key = key;
        noted?;
        Ok(Some(old))
    }
}
