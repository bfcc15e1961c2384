//! Transactions: a consistent snapshot to read, and for the single writer, the commit protocol.
//!
//! A read transaction pins one meta and the map generation that holds it; everything it
//! returns borrows from it. A write transaction records changes in memory and, at commit,
//! (1) rebuilds every touched tree copy-on-write, (2) places the new pages and the freelist's in
//! the file (free runs first, then above the high-water mark), (3) grows the file if needed,
//! (4) writes all pages and fdatasyncs, (5) writes the meta page `txid % 2` and fdatasyncs
//! again. A crash before (5) completes leaves the previous meta in charge, whose pages
//! were never overwritten. Dropping a transaction without committing rolls it back.

use crate::commit::spill::Spill;
use crate::commit::view::{BucketId, Src, View};
use crate::commit::write::{page_span, WriteTx};
use crate::db::bucket::{Bucket, BucketMut};
use crate::db::cursor::Cursor;
use crate::db::handle::DB;
use crate::error::{Error, PageId, Result, TxId};
use crate::format::meta::{Meta, NO_FREELIST};
use crate::tree::snapshot::Snapshot;

/// A read or write transaction. Ends with [`Tx::commit`], [`Tx::rollback`], or drop (rollback).
pub struct Tx<'db> {
    db: &'db DB,
    snap: Snapshot,
    /// Whether this transaction is still registered as a reader.
    reading: bool,
    write: Option<Box<WriteTx>>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx").field("id", &self.id()).field("writable", &self.writable()).finish()
    }
}

impl<'db> Tx<'db> {
    pub(crate) fn new_read(db: &'db DB, snap: Snapshot) -> Self {
        Tx { db, snap, reading: true, write: None }
    }
    pub(crate) fn new_write(db: &'db DB, w: WriteTx) -> Self {
        Tx { db, snap: w.snap.clone(), reading: false, write: Some(Box::new(w)) }
    }

    pub(crate) fn db(&self) -> &'db DB {
        self.db
    }

    /// The working state of a write transaction (for tests).
    #[cfg(test)]
    pub(crate) fn write_state(&self) -> Option<&WriteTx> {
        self.write.as_deref()
    }

    fn snap(&self) -> &Snapshot {
        &self.snap
    }

    pub(crate) fn view(&self) -> View<'_> {
        match &self.write {
            Some(w) => w.view(),
            None => View { snap: self.snap(), arena: &[] },
        }
    }

    fn root_src(&self) -> Src<'_> {
        match &self.write {
            Some(w) => Src::Write(&w.arena[0]),
            None => Src::Disk(self.snap().root_bucket()),
        }
    }

    fn w(&mut self) -> Result<&mut WriteTx> {
        self.write.as_deref_mut().ok_or(Error::TxNotWritable)
    }

    /// The transaction id: the snapshot's for a read, the one it will commit as for a write.
    pub fn id(&self) -> TxId {
        match &self.write {
            Some(w) => w.txid,
            None => self.snap().meta.txid,
        }
    }

    /// Size in bytes of the database as this transaction sees it (high-water mark x page size).
    pub fn size(&self) -> u64 {
        let s = self.snap();
        s.meta.pgid * s.page_size()
    }

    /// Whether this is a write transaction.
    pub fn writable(&self) -> bool {
        self.write.is_some()
    }

    /// The meta page this transaction started from.
    pub fn meta(&self) -> Meta {
        self.snap().meta
    }

    /// The root bucket, whose items are the top-level buckets.
    pub fn root(&self) -> Bucket<'_> {
        Bucket { view: self.view(), src: self.root_src() }
    }

    /// The top-level bucket `name`.
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], or [`Error::IncompatibleValue`] for a plain key.
    pub fn bucket(&self, name: &[u8]) -> Result<Bucket<'_>> {
        self.root().bucket(name)
    }

    /// Walks a path of nested buckets from the root.
    ///
    /// # Errors
    /// [`Error::BucketNameRequired`] for an empty path (the root bucket holds only buckets;
    /// use [`Tx::root`] to read it), [`Error::BucketNotFound`], [`Error::IncompatibleValue`].
    pub fn bucket_path(&self, path: &[&[u8]]) -> Result<Bucket<'_>> {
        if path.is_empty() {
            return Err(Error::BucketNameRequired);
        }
        let mut b = self.root();
        for name in path {
            b = b.bucket(name)?;
        }
        Ok(b)
    }

    /// A cursor over the top-level buckets.
    pub fn cursor(&self) -> Cursor<'_> {
        self.root().cursor()
    }

    /// Calls `f` with each top-level bucket's name and view.
    pub fn for_each_bucket<F>(&self, mut f: F) -> Result<()>
    where
        F: FnMut(&[u8], Bucket<'_>) -> Result<()>,
    {
        let root = self.root();
        for item in root.iter() {
            let (k, v) = item?;
            if v.is_none() {
                f(k, root.listed_bucket(k)?)?;
            }
        }
        Ok(())
    }

    fn root_mut(&mut self) -> Result<BucketMut<'_>> {
        Ok(BucketMut { w: self.w()?, id: 0 })
    }

    /// The top-level bucket `name`, for writing.
    ///
    /// # Errors
    /// [`Error::TxNotWritable`], [`Error::BucketNotFound`], [`Error::IncompatibleValue`].
    pub fn bucket_mut(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let w = self.w()?;
        let id = w.child(0, name)?;
        Ok(BucketMut { w, id })
    }

    /// Walks a path of nested buckets from the root, for writing.
    ///
    /// # Errors
    /// [`Error::BucketNameRequired`] for an empty path: the root bucket holds only buckets, so
    /// it is never handed out for writing.
    pub fn bucket_path_mut(&mut self, path: &[&[u8]]) -> Result<BucketMut<'_>> {
        if path.is_empty() {
            return Err(Error::BucketNameRequired);
        }
        let w = self.w()?;
        let id = resolve(w, path)?;
        Ok(BucketMut { w, id })
    }

    /// Creates the top-level bucket `name`.
    ///
    /// # Errors
    /// [`Error::TxNotWritable`], [`Error::BucketExists`], [`Error::BucketNameRequired`], ...
    pub fn create_bucket(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let w = self.w()?;
        let id = w.create_child(0, name, false)?;
        Ok(BucketMut { w, id })
    }

    /// Creates the top-level bucket `name` unless it exists, and returns it.
    pub fn create_bucket_if_not_exists(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let w = self.w()?;
        let id = w.create_child(0, name, true)?;
        Ok(BucketMut { w, id })
    }

    /// Deletes the top-level bucket `name` with everything in it.
    pub fn delete_bucket(&mut self, name: &[u8]) -> Result<()> {
        self.root_mut()?.delete_bucket(name)
    }

    /// Moves the bucket `name` from the bucket at path `src` to the bucket at path `dst`
    /// (an empty path is the root), keeping its content and sequence (bbolt 1.4 `MoveBucket`).
    ///
    /// # Errors
    /// [`Error::BucketNotFound`], [`Error::BucketExists`] at the destination,
    /// [`Error::InvalidMove`] for a move into itself.
    pub fn move_bucket(&mut self, name: &[u8], src: &[&[u8]], dst: &[&[u8]]) -> Result<()> {
        let w = self.w()?;
        let s = resolve(w, src)?;
        let d = resolve(w, dst)?;
        w.move_child(s, name, d)
    }

    /// Registers `f` to run after a successful commit.
    pub fn on_commit<F: FnOnce() + Send + 'static>(&mut self, f: F) {
        if let Some(w) = self.write.as_deref_mut() {
            w.on_commit.push(Box::new(f));
        }
    }

    /// Runs the consistency check on this transaction's snapshot (committed state only) and
    /// returns every problem found (empty: consistent).
    pub fn check(&self) -> Result<Vec<String>> {
        crate::tree::check::check(self.snap())
    }

    /// Ends a read transaction, or discards a write transaction's changes.
    pub fn rollback(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if std::mem::take(&mut self.reading) {
            self.db.end_read(self.snap.meta.txid);
        }
        if let Some(mut w) = self.write.take() {
            w.writer.freelist.rollback_pending(w.txid);
            self.db.end_write(w.writer);
        }
    }

    /// Commits a write transaction durably: when this returns `Ok`, the changes are on disk.
    ///
    /// # Errors
    /// [`Error::TxNotWritable`] for a read transaction (as bbolt; it is ended all the same);
    /// [`Error::MaxSizeReached`] (nothing written); [`Error::Io`] (the handle is then poisoned:
    /// reopen the database); [`Error::CheckFailed`] in strict mode (the commit is durable).
    pub fn commit(mut self) -> Result<()> {
        let Some(mut w) = self.write.take() else {
            self.finish();
            return Err(Error::TxNotWritable);
        };
        let result = commit(self.db, &mut w);
        match result {
            Ok((snap, on_commit)) => {
                // Check while still the writer: no later commit can reuse a page of `snap` yet.
                let problems =
                    if self.db.options().strict_mode { crate::tree::check::check(&snap) } else { Ok(Vec::new()) };
                drop(snap);
                let writer = w.writer;
                self.db.end_write(writer);
                for f in on_commit {
                    f();
                }
                let problems = problems?;
                if !problems.is_empty() {
                    return Err(Error::CheckFailed(problems));
                }
                Ok(())
            }
            Err(e) => {
                let writer = w.writer;
                self.db.end_write(writer);
                Err(e)
            }
        }
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Resolves a bucket path to an arena index, materialising each level.
fn resolve(w: &mut WriteTx, path: &[&[u8]]) -> Result<BucketId> {
    let mut id = 0;
    for name in path {
        id = w.child(id, name)?;
    }
    Ok(id)
}

type OnCommit = Vec<Box<dyn FnOnce() + Send>>;

/// The commit protocol. On error before any byte is written, the freelist is restored; on an
/// I/O error after, the database is poisoned.
fn commit(db: &DB, w: &mut WriteTx) -> Result<(Snapshot, OnCommit)> {
    let opts = db.options();
    let page_size = w.snap.page_size();
    let WriteTx { snap, arena, writer, txid, relocated, on_commit, .. } = w;
    let txid = *txid;
    let view = View { snap, arena };
    let mut sp = Spill::new(snap, &mut writer.freelist, txid);
    let spill_started = std::time::Instant::now();

    let prepared = (|| -> Result<(Meta, DirtyPages)> {
        let root = match sp.commit_bucket(&view, relocated, 0)? {
            Some(v) => match crate::format::bucket::decode_bucket(&v, 0)?.root {
                crate::format::bucket::DiskRoot::Paged(root) => root,
                crate::format::bucket::DiskRoot::Inline(_) => {
                    return Err(Error::corrupted(0, "the root bucket cannot be inline"))
                }
            },
            None => snap.meta.root,
        };
        if snap.meta.freelist != NO_FREELIST {
            let n = page_span(snap, snap.meta.freelist)?;
            sp.free(snap.meta.freelist, n)?;
        }
        // The freelist's pages go last, in the same placement as the nodes. Placement only
        // takes ids out of the list, so its size now bounds the size it will be written at.
        let freelist_pages =
            if opts.no_freelist_sync { 0 } else { (sp.freelist.encoded_size() as u64 / page_size) + 1 };
        let mut placed = sp.place(freelist_pages)?;
        let root = placed.real(root)?;
        let freelist = match placed.extra_at {
            Some(id) => {
                let mut buf = vec![0u8; (freelist_pages * page_size) as usize];
                sp.freelist.encode(&mut buf, id, (freelist_pages - 1) as u32)?;
                placed.pages.insert(id, buf);
                sp.stats.page_count += freelist_pages;
                sp.stats.page_alloc += freelist_pages * page_size;
                id
            }
            None => NO_FREELIST,
        };
        let needed = sp.hwm.saturating_mul(page_size);
        // Only growth is refused: a commit that frees space must stay possible above the limit.
        if opts.max_size > 0 && needed > opts.max_size && sp.hwm > snap.meta.pgid {
            return Err(Error::MaxSizeReached { needed, max: opts.max_size });
        }
        Ok((Meta { root, freelist, pgid: sp.hwm, txid, checksum: 0, ..snap.meta }, placed.pages))
    })();
    let (meta, dirty) = match prepared {
        Ok(m) => m,
        Err(e) => {
            sp.undo();
            return Err(e);
        }
    };
    let mut stats = sp.stats;
    stats.spill_time = spill_started.elapsed();
    stats.commits = 1;
    drop(sp);
    let new_map = db.write_commit(writer, &dirty, &meta, &mut stats)?;
    db.add_tx_stats(&stats);
    let new_snap = Snapshot { meta, map: new_map, counters: db.counters() };
    Ok((new_snap, std::mem::take(on_commit)))
}

/// Page ids and buffers to write, by first page.
pub(crate) type DirtyPages = std::collections::BTreeMap<PageId, Vec<u8>>;
