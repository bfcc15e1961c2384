//! The backend seam: the small ordered key/value store the typed store runs on.
//!
//! Everything above this module (records, indexes, counts, the catalog, queries, migrations)
//! speaks only these types; only this module and its implementations name a storage engine.
//! Today there is one implementation, the embedded engine ([`engine`]); the seam is shaped so
//! that an etcd cluster can be the second (see docs/design.md, "The backend seam"):
//!
//! - [`Backend`]: an open store, which begins transactions;
//! - [`Txn`]: a transaction, read or write, over one consistent snapshot (a write transaction
//!   reads its own writes); it opens top-level [`Tree`]s (read) and [`TreeMut`]s (write);
//! - [`Tree`]: a read view of one tree (a bucket in the engine, a key prefix in etcd): point
//!   reads, child trees by name, the sequence, and [`Scan`]s;
//! - [`Scan`]: a position in a tree's values that is always a key: first, last, seek to a key,
//!   next and previous. Child trees never show up in a scan (in the engine they are nested
//!   buckets between the values; in etcd they are other prefixes), so nothing the store reads
//!   ever depends on how trees nest;
//! - [`TreeMut`]: a write view: put, delete, child trees, the sequence.
//!
//! Dispatch is by enum, not by trait object or type parameter: [`crate::Store`] stays one type
//! whatever it runs on, and with a single variant every `match` below compiles away (the
//! embedded engine costs what it cost before the seam). Keys and values read are borrowed for
//! the transaction's lifetime (`'a`), which the engine gives for free (its pages are mapped);
//! another backend keeps what it fetched alive as long as the transaction.
//!
//! Every method returns the seam's own small [`Error`] (one variant per backend), which the
//! store turns into its [`crate::Error`] with `?`: a failure of the engine is
//! [`crate::Error::Engine`], as it always was. The seam's error is kept small on purpose:
//! scans return it in every step, and a large error type would make every step copy more.

use std::fmt;
use std::ops::Bound;
use std::path::Path;

/// A failure of the backend.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The embedded engine's.
    #[error(transparent)]
    Engine(engine::EngineError),
}

impl From<Error> for crate::Error {
    #[inline]
    fn from(e: Error) -> Self {
        match e {
            Error::Engine(e) => crate::Error::Engine(e),
        }
    }
}

/// The seam's result.
pub(crate) type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod differential;
#[cfg(test)]
mod differential_evolve;
pub(crate) mod engine;
#[cfg(test)]
pub(crate) mod mem;
#[cfg(test)]
mod tests;

/// The longest key the backend stores.
pub(crate) const MAX_KEY_SIZE: usize = engine::MAX_KEY_SIZE;
/// The longest value the backend stores.
pub(crate) const MAX_VALUE_SIZE: usize = engine::MAX_VALUE_SIZE;

/// The error for an empty key (the backend stores none).
pub(crate) fn key_required() -> crate::Error {
    engine::key_required()
}

/// The error for a key of `size` bytes, over [`MAX_KEY_SIZE`].
pub(crate) fn key_too_large(size: usize) -> crate::Error {
    engine::key_too_large(size)
}

/// The error for a value of `size` bytes, over [`MAX_VALUE_SIZE`].
pub(crate) fn value_too_large(size: usize) -> crate::Error {
    engine::value_too_large(size)
}

/// The error for a tree the store needs that is not there (a damaged file).
pub(crate) fn missing_tree() -> crate::Error {
    engine::missing_tree()
}

/// Whether `e` says a name holds something of the wrong kind: a value where a tree was asked
/// for, or a tree where a value was (a damaged or foreign file; the counters treat their tree
/// as absent then).
pub(crate) fn is_wrong_kind(e: &Error) -> bool {
    engine::is_wrong_kind(e)
}

/// An open backend.
// The engine's handle is large and the test map's small: boxing the engine's would cost an
// indirection on every call for nothing (the map only exists in tests).
#[cfg_attr(test, allow(clippy::large_enum_variant))]
pub(crate) enum Backend {
    /// The embedded engine: one database file.
    Engine(engine::Db),
    /// A map in memory (tests only).
    #[cfg(test)]
    Mem(mem::Db),
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Backend::Engine(db) => f.debug_tuple("Engine").field(db).finish(),
            #[cfg(test)]
            Backend::Mem(db) => f.debug_tuple("Mem").field(db).finish(),
        }
    }
}

impl Backend {
    /// Opens (or creates) the engine's database file at `path`.
    pub(crate) fn open_file(path: &Path, options: engine::Options) -> crate::Result<Backend> {
        Ok(Backend::Engine(engine::Db::open(path, options)?))
    }

    /// A backend over an engine handle already open.
    pub(crate) fn from_engine(db: engine::DbHandle) -> Backend {
        Backend::Engine(engine::Db::from_handle(db))
    }

    /// The engine handle (engine-only API of the store).
    pub(crate) fn engine(&self) -> &engine::DbHandle {
        match self {
            Backend::Engine(db) => db.handle(),
            #[cfg(test)]
            Backend::Mem(_) => unreachable!("the map in memory has no engine"),
        }
    }

    /// Gives the engine handle back (engine-only API of the store).
    pub(crate) fn into_engine(self) -> engine::DbHandle {
        match self {
            Backend::Engine(db) => db.into_handle(),
            #[cfg(test)]
            Backend::Mem(_) => unreachable!("the map in memory has no engine"),
        }
    }

    /// Begins a read transaction: a consistent snapshot of the last commit.
    #[inline]
    pub(crate) fn begin_read(&self) -> Result<Txn<'_>> {
        match self {
            Backend::Engine(db) => Ok(Txn::Engine(db.begin(false)?)),
            #[cfg(test)]
            Backend::Mem(db) => Ok(Txn::Mem(db.begin(false))),
        }
    }

    /// Begins a write transaction. The embedded engine returns holding its writer lock, so
    /// write transactions commit in the order they began (the change subscriptions count on
    /// it: see [`crate::watch`]).
    #[inline]
    pub(crate) fn begin_write(&self) -> Result<Txn<'_>> {
        match self {
            Backend::Engine(db) => Ok(Txn::Engine(db.begin(true)?)),
            #[cfg(test)]
            Backend::Mem(db) => Ok(Txn::Mem(db.begin(true))),
        }
    }

    /// Closes the backend.
    pub(crate) fn close(self) -> crate::Result<()> {
        match self {
            Backend::Engine(db) => Ok(db.close()?),
            #[cfg(test)]
            Backend::Mem(_) => Ok(()),
        }
    }
}

/// A transaction: a consistent snapshot to read; a write transaction also buffers writes,
/// which its own reads see, until [`Txn::commit`].
#[derive(Debug)]
pub(crate) enum Txn<'db> {
    /// An engine transaction.
    Engine(engine::Txn<'db>),
    /// A transaction of the map in memory (tests only).
    #[cfg(test)]
    Mem(mem::Txn<'db>),
}

impl<'db> Txn<'db> {
    /// The top-level tree `name`, or `None` if there is none.
    #[inline(always)]
    pub(crate) fn tree(&self, name: &[u8]) -> Result<Option<Tree<'_>>> {
        match self {
            Txn::Engine(t) => Ok(t.tree(name)?.map(Tree::Engine)),
            #[cfg(test)]
            Txn::Mem(t) => Ok(t.tree(name)?.map(Tree::Mem)),
        }
    }

    /// Whether anything (a tree or a stray value) is stored under the top-level name `name`.
    pub(crate) fn has_top_level(&self, name: &[u8]) -> Result<bool> {
        match self {
            Txn::Engine(t) => t.has_top_level(name),
            #[cfg(test)]
            Txn::Mem(t) => t.has_top_level(name),
        }
    }

    /// The top-level tree `name`, to write (an error if it does not exist).
    #[inline]
    pub(crate) fn tree_mut(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        match self {
            Txn::Engine(t) => Ok(TreeMut::Engine(t.tree_mut(name)?)),
            #[cfg(test)]
            Txn::Mem(t) => Ok(TreeMut::Mem(t.tree_mut(name)?)),
        }
    }

    /// The top-level tree `name`, to write, created empty if it does not exist.
    pub(crate) fn ensure_tree(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        match self {
            Txn::Engine(t) => Ok(TreeMut::Engine(t.ensure_tree(name)?)),
            #[cfg(test)]
            Txn::Mem(t) => Ok(TreeMut::Mem(t.ensure_tree(name)?)),
        }
    }

    /// Creates the top-level tree `name` (an error if it exists).
    pub(crate) fn create_tree(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        match self {
            Txn::Engine(t) => Ok(TreeMut::Engine(t.create_tree(name)?)),
            #[cfg(test)]
            Txn::Mem(t) => Ok(TreeMut::Mem(t.create_tree(name)?)),
        }
    }

    /// Deletes the top-level tree `name` with everything in it; `false` if there was none.
    pub(crate) fn delete_tree(&mut self, name: &[u8]) -> Result<bool> {
        match self {
            Txn::Engine(t) => t.delete_tree(name),
            #[cfg(test)]
            Txn::Mem(t) => t.delete_tree(name),
        }
    }

    /// Commits a write transaction: when this returns `Ok`, its writes are durable (for a
    /// backend opened to be durable) and later transactions see them.
    pub(crate) fn commit(self) -> Result<()> {
        match self {
            Txn::Engine(t) => t.commit(),
            #[cfg(test)]
            Txn::Mem(t) => t.commit(),
        }
    }

    /// Ends the transaction, discarding its writes.
    pub(crate) fn rollback(self) {
        match self {
            Txn::Engine(t) => t.rollback(),
            #[cfg(test)]
            Txn::Mem(t) => drop(t),
        }
    }

    /// The engine transaction (engine-only API of the store).
    pub(crate) fn engine(&self) -> &engine::TxHandle<'db> {
        match self {
            Txn::Engine(t) => t.handle(),
            #[cfg(test)]
            Txn::Mem(_) => unreachable!("the map in memory has no engine"),
        }
    }

    /// The engine transaction, to write (engine-only API of the store).
    pub(crate) fn engine_mut(&mut self) -> &mut engine::TxHandle<'db> {
        match self {
            Txn::Engine(t) => t.handle_mut(),
            #[cfg(test)]
            Txn::Mem(_) => unreachable!("the map in memory has no engine"),
        }
    }

    /// The transaction as a reader (what the read-only helpers take).
    #[inline]
    pub(crate) fn reader(&self) -> TxnRef<'_, 'db> {
        match self {
            Txn::Engine(t) => TxnRef::Engine(t.handle()),
            #[cfg(test)]
            Txn::Mem(t) => TxnRef::Mem(t),
        }
    }
}

/// A transaction borrowed from the caller (the engine-only entry points that take an engine
/// transaction): reads only.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TxnRef<'t, 'db> {
    /// An engine transaction.
    Engine(&'t engine::TxHandle<'db>),
    /// A transaction of the map in memory (tests only).
    #[cfg(test)]
    Mem(&'t mem::Txn<'db>),
}

impl<'t, 'db> TxnRef<'t, 'db> {
    /// Wraps an engine transaction (for the engine-only entry points, such as
    /// [`crate::stored::audit_stored`]).
    pub(crate) fn from_engine(tx: &'t engine::TxHandle<'db>) -> Self {
        TxnRef::Engine(tx)
    }

    /// The top-level tree `name`, or `None` (see [`Txn::tree`]).
    #[inline(always)]
    pub(crate) fn tree(self, name: &[u8]) -> Result<Option<Tree<'t>>> {
        match self {
            TxnRef::Engine(t) => Ok(engine::tree_of(t, name)?.map(Tree::Engine)),
            #[cfg(test)]
            TxnRef::Mem(t) => Ok(t.tree(name)?.map(Tree::Mem)),
        }
    }
}

/// A read view of one tree. Cheap to copy; everything read is borrowed for `'a`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Tree<'a> {
    /// An engine bucket.
    Engine(engine::Tree<'a>),
    /// A tree of the map in memory (tests only).
    #[cfg(test)]
    Mem(mem::Tree<'a>),
}

impl<'a> Tree<'a> {
    /// The value under `key`, or `None`.
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        match self {
            Tree::Engine(t) => t.get(key),
            #[cfg(test)]
            Tree::Mem(t) => t.get(key),
        }
    }

    /// The child tree `name`, or `None` if there is none.
    #[inline(always)]
    pub(crate) fn child(&self, name: &[u8]) -> Result<Option<Tree<'a>>> {
        match self {
            Tree::Engine(t) => Ok(t.child(name)?.map(Tree::Engine)),
            #[cfg(test)]
            Tree::Mem(t) => Ok(t.child(name)?.map(Tree::Mem)),
        }
    }

    /// Whether the child tree `name` exists.
    pub(crate) fn has_child(&self, name: &[u8]) -> Result<bool> {
        match self {
            Tree::Engine(t) => t.has_child(name),
            #[cfg(test)]
            Tree::Mem(t) => t.has_child(name),
        }
    }

    /// The names of the child trees, in key order.
    pub(crate) fn children(&self) -> Result<Vec<Vec<u8>>> {
        match self {
            Tree::Engine(t) => t.children(),
            #[cfg(test)]
            Tree::Mem(t) => t.children(),
        }
    }

    /// The tree's sequence (the autoincrement counter): 0 until set.
    #[inline]
    pub(crate) fn sequence(&self) -> Result<u64> {
        match self {
            Tree::Engine(t) => Ok(t.sequence()),
            #[cfg(test)]
            Tree::Mem(t) => Ok(t.sequence()),
        }
    }

    /// A scan of the tree's values, not positioned yet.
    #[inline]
    pub(crate) fn scan(&self) -> Scan<'a> {
        match self {
            Tree::Engine(t) => Scan::Engine(t.scan()),
            #[cfg(test)]
            Tree::Mem(t) => Scan::Mem(t.scan()),
        }
    }

    /// Every value whose key is within `lo` and `hi`, in key order.
    pub(crate) fn range(&self, lo: Bound<&[u8]>, hi: Bound<&[u8]>) -> Iter<'a> {
        Iter { scan: self.scan(), lo: lo.map(<[u8]>::to_vec), hi: hi.map(<[u8]>::to_vec), started: false, done: false }
    }

    /// Every value from `from` on (`None`: from the first), in key order.
    pub(crate) fn iter_from(&self, from: Option<&[u8]>) -> Iter<'a> {
        self.range(from.map_or(Bound::Unbounded, Bound::Included), Bound::Unbounded)
    }

    /// Every value, in key order.
    pub(crate) fn iter(&self) -> Iter<'a> {
        self.iter_from(None)
    }
}

/// One item of a scan: a key and its value, borrowed from the transaction.
pub(crate) type Item<'a> = Result<Option<(&'a [u8], &'a [u8])>>;

/// A position among one tree's values (child trees are passed over). Each move returns the
/// item it lands on, or `None` past either end. The position is always the key of the item
/// last returned, so a backend that reads in pages can re-establish it from the key.
#[derive(Debug)]
// An engine cursor is large (its path down the tree) and lives on the stack: boxing it would
// add an allocation to every scan; the small variant only exists in tests.
#[cfg_attr(test, allow(clippy::large_enum_variant))]
pub(crate) enum Scan<'a> {
    /// An engine cursor.
    Engine(engine::Scan<'a>),
    /// A scan of the map in memory (tests only).
    #[cfg(test)]
    Mem(mem::Scan<'a>),
}

impl<'a> Scan<'a> {
    /// The first value.
    #[inline(always)]
    pub(crate) fn first(&mut self) -> Item<'a> {
        match self {
            Scan::Engine(s) => s.first(),
            #[cfg(test)]
            Scan::Mem(s) => s.first(),
        }
    }

    /// The last value.
    #[inline(always)]
    pub(crate) fn last(&mut self) -> Item<'a> {
        match self {
            Scan::Engine(s) => s.last(),
            #[cfg(test)]
            Scan::Mem(s) => s.last(),
        }
    }

    /// The first value whose key is at or after `key`.
    #[inline(always)]
    pub(crate) fn seek(&mut self, key: &[u8]) -> Item<'a> {
        match self {
            Scan::Engine(s) => s.seek(key),
            #[cfg(test)]
            Scan::Mem(s) => s.seek(key),
        }
    }

    /// The value after the current one.
    #[inline(always)]
    pub(crate) fn next(&mut self) -> Item<'a> {
        match self {
            Scan::Engine(s) => s.next(),
            #[cfg(test)]
            Scan::Mem(s) => s.next(),
        }
    }

    /// The value before the current one.
    #[inline(always)]
    pub(crate) fn prev(&mut self) -> Item<'a> {
        match self {
            Scan::Engine(s) => s.prev(),
            #[cfg(test)]
            Scan::Mem(s) => s.prev(),
        }
    }

    /// The last value whose key is at or before `key` (`inclusive`), or strictly before it.
    #[inline(always)]
    pub(crate) fn seek_back(&mut self, key: &[u8], inclusive: bool) -> Item<'a> {
        match self.seek(key)? {
            None => self.last(),
            Some((k, v)) if inclusive && k == key => Ok(Some((k, v))),
            Some(_) => self.prev(),
        }
    }
}

/// The values of a tree in key order within bounds: [`Tree::range`].
#[derive(Debug)]
pub(crate) struct Iter<'a> {
    scan: Scan<'a>,
    lo: Bound<Vec<u8>>,
    hi: Bound<Vec<u8>>,
    started: bool,
    done: bool,
}

impl<'a> Iter<'a> {
    fn step(&mut self) -> Item<'a> {
        if self.started {
            return self.scan.next();
        }
        self.started = true;
        match &self.lo {
            Bound::Unbounded => self.scan.first(),
            Bound::Included(k) => self.scan.seek(k),
            Bound::Excluded(k) => match self.scan.seek(k)? {
                Some((found, _)) if found == k.as_slice() => self.scan.next(),
                other => Ok(other),
            },
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step();
        let within = |k: &[u8]| match &self.hi {
            Bound::Unbounded => true,
            Bound::Included(h) => k <= h.as_slice(),
            Bound::Excluded(h) => k < h.as_slice(),
        };
        match item {
            Ok(Some((k, v))) if within(k) => Some(Ok((k, v))),
            Ok(_) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A write view of one tree; reads see the transaction's writes.
#[derive(Debug)]
pub(crate) enum TreeMut<'t> {
    /// An engine bucket, to write.
    Engine(engine::TreeMut<'t>),
    /// A tree of the map in memory, to write (tests only).
    #[cfg(test)]
    Mem(mem::TreeMut<'t>),
}

impl TreeMut<'_> {
    /// The value under `key`, or `None`.
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        match self {
            TreeMut::Engine(t) => t.get(key),
            #[cfg(test)]
            TreeMut::Mem(t) => t.get(key),
        }
    }

    /// Stores `value` under `key`, replacing any value.
    #[inline]
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        match self {
            TreeMut::Engine(t) => t.put(key, value),
            #[cfg(test)]
            TreeMut::Mem(t) => t.put(key, value),
        }
    }

    /// Removes `key` (nothing happens if it is absent).
    #[inline]
    pub(crate) fn delete(&mut self, key: &[u8]) -> Result<()> {
        match self {
            TreeMut::Engine(t) => t.delete(key),
            #[cfg(test)]
            TreeMut::Mem(t) => t.delete(key),
        }
    }

    /// The child tree `name`, to write (an error if it does not exist).
    #[inline]
    pub(crate) fn child_mut(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        match self {
            TreeMut::Engine(t) => Ok(TreeMut::Engine(t.child_mut(name)?)),
            #[cfg(test)]
            TreeMut::Mem(t) => Ok(TreeMut::Mem(t.child_mut(name)?)),
        }
    }

    /// The child tree `name`, to write, created empty if it does not exist.
    pub(crate) fn ensure_child(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        match self {
            TreeMut::Engine(t) => Ok(TreeMut::Engine(t.ensure_child(name)?)),
            #[cfg(test)]
            TreeMut::Mem(t) => Ok(TreeMut::Mem(t.ensure_child(name)?)),
        }
    }

    /// Creates the child tree `name` (an error if it exists).
    pub(crate) fn create_child(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        match self {
            TreeMut::Engine(t) => Ok(TreeMut::Engine(t.create_child(name)?)),
            #[cfg(test)]
            TreeMut::Mem(t) => Ok(TreeMut::Mem(t.create_child(name)?)),
        }
    }

    /// Deletes the child tree `name` with everything in it; `false` if there was none.
    pub(crate) fn delete_child(&mut self, name: &[u8]) -> Result<bool> {
        match self {
            TreeMut::Engine(t) => t.delete_child(name),
            #[cfg(test)]
            TreeMut::Mem(t) => t.delete_child(name),
        }
    }

    /// The tree's sequence, as this transaction has set it.
    pub(crate) fn sequence(&self) -> Result<u64> {
        match self {
            TreeMut::Engine(t) => Ok(t.sequence()),
            #[cfg(test)]
            TreeMut::Mem(t) => Ok(t.sequence()),
        }
    }

    /// Sets the tree's sequence.
    #[inline]
    pub(crate) fn set_sequence(&mut self, value: u64) -> Result<()> {
        match self {
            TreeMut::Engine(t) => t.set_sequence(value),
            #[cfg(test)]
            TreeMut::Mem(t) => t.set_sequence(value),
        }
    }
}
