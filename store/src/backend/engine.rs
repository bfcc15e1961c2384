//! The embedded engine behind the seam: trees are bbolt buckets (top-level and nested), the
//! sequence is the bucket's own, a scan is an engine cursor that passes over nested buckets,
//! and a transaction is an engine transaction (one writer at a time, lock-free readers on a
//! snapshot).
//!
//! This is the only file of the store that names the engine's transaction, bucket and cursor
//! types. Each wrapper is a thin newtype whose methods are small enough to inline: the seam
//! adds no work on the embedded path.

use std::path::Path;

use rivet_engine as eng;

use super::{Error, Result};

/// The engine's own error.
pub(crate) type EngineError = eng::Error;

impl From<eng::Error> for Error {
    #[inline]
    fn from(e: eng::Error) -> Self {
        Error::Engine(e)
    }
}

/// The engine's open options.
pub(crate) type Options = eng::Options;
/// The engine's database handle.
pub(crate) type DbHandle = eng::DB;
/// The engine's transaction.
pub(crate) type TxHandle<'db> = eng::Tx<'db>;

/// See [`super::MAX_KEY_SIZE`].
pub(crate) const MAX_KEY_SIZE: usize = eng::MAX_KEY_SIZE;
/// See [`super::MAX_VALUE_SIZE`].
pub(crate) const MAX_VALUE_SIZE: usize = eng::MAX_VALUE_SIZE;

pub(crate) fn key_required() -> crate::Error {
    eng::Error::KeyRequired.into()
}

pub(crate) fn key_too_large(size: usize) -> crate::Error {
    eng::Error::KeyTooLarge { size }.into()
}

pub(crate) fn value_too_large(size: usize) -> crate::Error {
    eng::Error::ValueTooLarge { size }.into()
}

pub(crate) fn missing_tree() -> crate::Error {
    eng::Error::BucketNotFound.into()
}

pub(crate) fn is_wrong_kind(e: &Error) -> bool {
    matches!(e, Error::Engine(eng::Error::IncompatibleValue { .. }))
}

/// `BucketNotFound` as `None`.
#[inline(always)]
fn found<T>(r: eng::Result<T>) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(eng::Error::BucketNotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `Ok` if the bucket was deleted, `false` if there was none.
fn deleted(r: eng::Result<()>) -> Result<bool> {
    Ok(found(r)?.is_some())
}

/// An open database file.
#[derive(Debug)]
pub(crate) struct Db(eng::DB);

impl Db {
    pub(crate) fn open(path: &Path, options: Options) -> crate::Result<Db> {
        Ok(Db(eng::DB::open(path, options)?))
    }

    pub(crate) fn from_handle(db: eng::DB) -> Db {
        Db(db)
    }

    pub(crate) fn handle(&self) -> &eng::DB {
        &self.0
    }

    pub(crate) fn into_handle(self) -> eng::DB {
        self.0
    }

    #[inline]
    pub(crate) fn begin(&self, writable: bool) -> Result<Txn<'_>> {
        Ok(Txn(self.0.begin(writable)?))
    }

    pub(crate) fn close(self) -> crate::Result<()> {
        Ok(self.0.close()?)
    }
}

/// The top-level bucket `name` of `tx`, or `None`.
#[inline(always)]
pub(crate) fn tree_of<'t>(tx: &'t eng::Tx<'_>, name: &[u8]) -> Result<Option<Tree<'t>>> {
    Ok(found(tx.bucket(name))?.map(Tree))
}

/// An engine transaction.
#[derive(Debug)]
pub(crate) struct Txn<'db>(eng::Tx<'db>);

impl<'db> Txn<'db> {
    #[inline(always)]
    pub(crate) fn tree(&self, name: &[u8]) -> Result<Option<Tree<'_>>> {
        tree_of(&self.0, name)
    }

    pub(crate) fn has_top_level(&self, name: &[u8]) -> Result<bool> {
        let root = self.0.root();
        Ok(root.get(name)?.is_some() || root.has_bucket(name)?)
    }

    #[inline]
    pub(crate) fn tree_mut(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        Ok(TreeMut(self.0.bucket_mut(name)?))
    }

    pub(crate) fn ensure_tree(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        Ok(TreeMut(self.0.create_bucket_if_not_exists(name)?))
    }

    pub(crate) fn create_tree(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        Ok(TreeMut(self.0.create_bucket(name)?))
    }

    pub(crate) fn delete_tree(&mut self, name: &[u8]) -> Result<bool> {
        deleted(self.0.delete_bucket(name))
    }

    pub(crate) fn commit(self) -> Result<()> {
        Ok(self.0.commit()?)
    }

    pub(crate) fn rollback(self) {
        self.0.rollback();
    }

    pub(crate) fn handle(&self) -> &eng::Tx<'db> {
        &self.0
    }

    pub(crate) fn handle_mut(&mut self) -> &mut eng::Tx<'db> {
        &mut self.0
    }
}

/// A bucket, to read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tree<'a>(eng::Bucket<'a>);

impl<'a> Tree<'a> {
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        Ok(self.0.get(key)?)
    }

    #[inline(always)]
    pub(crate) fn child(&self, name: &[u8]) -> Result<Option<Tree<'a>>> {
        Ok(found(self.0.bucket(name))?.map(Tree))
    }

    pub(crate) fn has_child(&self, name: &[u8]) -> Result<bool> {
        Ok(self.0.has_bucket(name)?)
    }

    pub(crate) fn children(&self) -> Result<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        for item in self.0.iter() {
            if let (k, None) = item? {
                out.push(k.to_vec());
            }
        }
        Ok(out)
    }

    #[inline]
    pub(crate) fn sequence(&self) -> u64 {
        self.0.sequence()
    }

    #[inline]
    pub(crate) fn scan(&self) -> Scan<'a> {
        Scan(self.0.cursor())
    }
}

type Raw<'a> = eng::Result<Option<eng::KeyValue<'a>>>;

/// A cursor over a bucket's values: nested buckets are passed over.
#[derive(Debug)]
pub(crate) struct Scan<'a>(eng::Cursor<'a>);

impl<'a> Scan<'a> {
    /// From the cursor's item, the first value in the direction of travel.
    #[inline(always)]
    fn settle(&mut self, item: Raw<'a>, forward: bool) -> super::Item<'a> {
        match item {
            Ok(Some((k, Some(v)))) => Ok(Some((k, v))),
            Ok(None) => Ok(None),
            Ok(Some((_, None))) => self.pass_buckets(forward),
            Err(e) => Err(e.into()),
        }
    }

    /// Moves past nested buckets (rare: only a record bucket has them, its indexes).
    #[cold]
    #[inline(never)]
    fn pass_buckets(&mut self, forward: bool) -> super::Item<'a> {
        loop {
            let item = if forward { self.0.next() } else { self.0.prev() };
            match item? {
                None => return Ok(None),
                Some((k, Some(v))) => return Ok(Some((k, v))),
                Some((_, None)) => {}
            }
        }
    }

    #[inline(always)]
    pub(crate) fn first(&mut self) -> super::Item<'a> {
        let item = self.0.first();
        self.settle(item, true)
    }

    #[inline(always)]
    pub(crate) fn last(&mut self) -> super::Item<'a> {
        let item = self.0.last();
        self.settle(item, false)
    }

    #[inline(always)]
    pub(crate) fn seek(&mut self, key: &[u8]) -> super::Item<'a> {
        let item = self.0.seek(key);
        self.settle(item, true)
    }

    #[inline(always)]
    pub(crate) fn next(&mut self) -> super::Item<'a> {
        let item = self.0.next();
        self.settle(item, true)
    }

    #[inline(always)]
    pub(crate) fn prev(&mut self) -> super::Item<'a> {
        let item = self.0.prev();
        self.settle(item, false)
    }
}

/// A bucket, to write.
#[derive(Debug)]
pub(crate) struct TreeMut<'t>(eng::BucketMut<'t>);

impl TreeMut<'_> {
    #[inline]
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        Ok(self.0.get(key)?)
    }

    #[inline]
    pub(crate) fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        Ok(self.0.put(key, value)?)
    }

    #[inline]
    pub(crate) fn delete(&mut self, key: &[u8]) -> Result<()> {
        Ok(self.0.delete(key)?)
    }

    #[inline]
    pub(crate) fn child_mut(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        Ok(TreeMut(self.0.bucket_mut(name)?))
    }

    pub(crate) fn ensure_child(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        Ok(TreeMut(self.0.create_bucket_if_not_exists(name)?))
    }

    pub(crate) fn create_child(&mut self, name: &[u8]) -> Result<TreeMut<'_>> {
        Ok(TreeMut(self.0.create_bucket(name)?))
    }

    pub(crate) fn delete_child(&mut self, name: &[u8]) -> Result<bool> {
        deleted(self.0.delete_bucket(name))
    }

    pub(crate) fn sequence(&self) -> u64 {
        self.0.sequence()
    }

    #[inline]
    pub(crate) fn set_sequence(&mut self, value: u64) -> Result<()> {
        Ok(self.0.set_sequence(value)?)
    }
}
