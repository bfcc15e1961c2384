//! Transactions: a consistent snapshot to read, and for the single writer, changes to commit.
//!
//! A read transaction pins one meta and the map generation that holds it; everything it
//! returns borrows from it. A write transaction records changes in memory; [`Tx::commit`] runs
//! the commit protocol ([`crate::commit::protocol`]), publishes the new snapshot, and only then
//! lets the next writer in. Dropping a transaction without committing rolls it back.

use std::io::Write;
use std::path::Path;

use crate::commit::protocol::{self, Failure};
use crate::commit::view::{BucketId, Src, View};
use crate::commit::write::WriteTx;
use crate::corruption::Problem;
use crate::db::backup;
use crate::db::bucket::{Bucket, BucketMut};
use crate::db::core::Core;
use crate::db::cursor::Cursor;
use crate::error::{Error, Result, TxId};
use crate::format::meta::Meta;
use crate::tree::snapshot::Snapshot;
use crate::tree::walk::Scope;

/// A read or write transaction. Ends with [`Tx::commit`], [`Tx::rollback`], or drop (rollback).
pub struct Tx<'db> {
    core: &'db Core,
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
    pub(crate) fn new_read(core: &'db Core, snap: Snapshot) -> Self {
        Tx { core, snap, reading: true, write: None }
    }
    pub(crate) fn new_write(core: &'db Core, w: WriteTx) -> Self {
        Tx { core, snap: w.snap.clone(), reading: false, write: Some(Box::new(w)) }
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
    /// [`Error::BucketNotFound`]; [`Error::IncompatibleValue`] for a plain key (only a damaged
    /// or foreign file has one at the top level); [`Error::Corrupted`] if a page on the way, or
    /// the bucket's header or root page, is damaged.
    pub fn bucket(&self, name: &[u8]) -> Result<Bucket<'_>> {
        self.root().bucket(name)
    }

    /// Walks a path of nested buckets from the root: `tx.bucket_path(&[b"a", b"b"])` is
    /// `tx.bucket(b"a")?.bucket(b"b")`. An example is at [`Bucket::bucket`].
    ///
    /// # Errors
    /// [`Error::BucketNameRequired`] for an empty path (the root bucket holds only buckets;
    /// use [`Tx::root`] to read it); [`Error::BucketNotFound`] if a bucket of the path is
    /// missing; [`Error::IncompatibleValue`] if a name of the path holds a value;
    /// [`Error::Corrupted`] if a page on the way is damaged.
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

    /// A cursor over the top-level buckets (their values are all `None`); see
    /// [`Bucket::cursor`].
    pub fn cursor(&self) -> Cursor<'_> {
        self.root().cursor()
    }

    /// Calls `f` with each top-level bucket's name and view, in name order; stops at the first
    /// error, which it returns.
    ///
    /// # Errors
    /// The first error `f` returns; [`Error::Corrupted`] if a page of the root bucket or a
    /// bucket's header is damaged.
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
    /// [`Error::TxNotWritable`] in a read transaction; [`Error::BucketNotFound`];
    /// [`Error::IncompatibleValue`] for a plain key; [`Error::Corrupted`] if a page on the way,
    /// or the bucket's header, is damaged.
    pub fn bucket_mut(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let w = self.w()?;
        let id = w.child(0, name)?;
        Ok(BucketMut { w, id })
    }

    /// Walks a path of nested buckets from the root, for writing (see [`Tx::bucket_path`]).
    ///
    /// # Errors
    /// [`Error::BucketNameRequired`] for an empty path: the root bucket holds only buckets, so
    /// it is never handed out for writing; [`Error::TxNotWritable`] in a read transaction;
    /// [`Error::BucketNotFound`], [`Error::IncompatibleValue`] and [`Error::Corrupted`] as
    /// [`Tx::bucket_path`].
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
    /// [`Error::TxNotWritable`] in a read transaction; [`Error::BucketExists`];
    /// [`Error::BucketNameRequired`] for an empty name; [`Error::KeyTooLarge`] for a name longer
    /// than [`MAX_KEY_SIZE`](crate::MAX_KEY_SIZE); [`Error::IncompatibleValue`] if `name` holds
    /// a plain value (only in a damaged or foreign file); [`Error::Corrupted`] if a page of the
    /// root bucket is damaged.
    pub fn create_bucket(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let w = self.w()?;
        let id = w.create_child(0, name, false)?;
        Ok(BucketMut { w, id })
    }

    /// Creates the top-level bucket `name` unless it exists, and returns it.
    ///
    /// # Errors
    /// As [`Tx::create_bucket`], except that an existing bucket is not an error.
    pub fn create_bucket_if_not_exists(&mut self, name: &[u8]) -> Result<BucketMut<'_>> {
        let w = self.w()?;
        let id = w.create_child(0, name, true)?;
        Ok(BucketMut { w, id })
    }

    /// Deletes the top-level bucket `name` with everything in it; its pages are freed at commit.
    ///
    /// # Errors
    /// [`Error::TxNotWritable`] in a read transaction; [`Error::BucketNotFound`];
    /// [`Error::BucketNameRequired`] for an empty name; [`Error::IncompatibleValue`] for a
    /// plain key; [`Error::Corrupted`] if a page of the bucket is damaged.
    pub fn delete_bucket(&mut self, name: &[u8]) -> Result<()> {
        self.root_mut()?.delete_bucket(name)
    }

    /// Moves the bucket `name` from the bucket at path `src` to the bucket at path `dst`
    /// (an empty path is the root), keeping its content and sequence (bbolt 1.4 `MoveBucket`).
    /// Nothing is copied: the bucket's pages stay where they are.
    ///
    /// # Errors
    /// [`Error::TxNotWritable`] in a read transaction; [`Error::BucketNotFound`] if `name` or a
    /// bucket of either path is missing; [`Error::IncompatibleValue`] if one of them holds a
    /// value; [`Error::BucketExists`] if the destination already has a bucket `name` (and
    /// [`Error::IncompatibleValue`] if it has a value there); [`Error::InvalidMove`] for a move
    /// within the same bucket or into the moved bucket itself or one of its descendants;
    /// [`Error::NestingTooDeep`] past [`MAX_NESTING`](crate::MAX_NESTING) levels;
    /// [`Error::Corrupted`] if a page on the way is damaged. Nothing is moved when it fails.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-move-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("move.db"), Options::default())?;
    /// db.update(|tx| {
    ///     tx.create_bucket(b"inbox")?.create_bucket(b"msg-7")?.put(b"subject", b"hello")?;
    ///     tx.create_bucket(b"archive")?;
    ///     // inbox/msg-7 becomes archive/msg-7, content and all.
    ///     tx.move_bucket(b"msg-7", &[b"inbox"], &[b"archive"])?;
    ///     // And archive itself goes under a new top-level bucket: 2024/archive.
    ///     tx.create_bucket(b"2024")?;
    ///     tx.move_bucket(b"archive", &[], &[b"2024"])?;
    ///     // A bucket cannot go into itself.
    ///     assert!(matches!(tx.move_bucket(b"2024", &[], &[b"2024", b"archive"]), Err(Error::InvalidMove(_))));
    ///     Ok::<_, Error>(())
    /// })?;
    /// db.view(|tx| {
    ///     let msg = tx.bucket_path(&[b"2024", b"archive", b"msg-7"])?;
    ///     assert_eq!(msg.get(b"subject")?, Some(&b"hello"[..]));
    ///     assert!(!tx.bucket(b"inbox")?.has_bucket(b"msg-7")?);
    ///     assert!(matches!(tx.bucket(b"archive"), Err(Error::BucketNotFound)));
    ///     Ok::<_, Error>(())
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn move_bucket(&mut self, name: &[u8], src: &[&[u8]], dst: &[&[u8]]) -> Result<()> {
        let w = self.w()?;
        let s = resolve(w, src)?;
        let d = resolve(w, dst)?;
        w.move_child(s, name, d)
    }

    /// Registers `f` to run after a successful commit, in the committing thread, once the
    /// commit is durable and the next writer can start. Nothing runs if the transaction is
    /// rolled back or [`Tx::commit`] fails with anything but [`Error::CheckFailed`]; in a read
    /// transaction `f` is dropped unrun.
    ///
    /// With the journal ([`crate::Options::journal`]), commits of several threads share one
    /// sync, and their callbacks run in commit order on whichever of those threads runs them:
    /// perhaps not the committing thread, and perhaps after its [`Tx::commit`] returned.
    pub fn on_commit<F: FnOnce() + Send + 'static>(&mut self, f: F) {
        if let Some(w) = self.write.as_deref_mut() {
            w.on_commit.push(Box::new(f));
        }
    }

    /// Runs the consistency check on this transaction's snapshot (committed state only) and
    /// returns every problem found (empty: consistent), each a page and a [`crate::Corruption`]
    /// kind whose `Display` is the check's line (`page 7: multiple references`). As bbolt's
    /// `tx.Check` does, and more:
    /// each page below the high-water mark is used once (by a tree, the freelist or a meta) or
    /// listed free, never both, and none is listed free twice; each tree page is a branch or
    /// leaf that carries its own id; keys ascend strictly within and across the pages of a
    /// bucket, and each branch key is the first key below it. It reads every page of the
    /// database. `rivet check` runs it from the command line.
    ///
    /// # Errors
    /// None in this version: damage, including damage that stops a part of the walk, is
    /// reported as entries of the list. (The `Result` leaves room for a check that cannot go
    /// on at all.)
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-check-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("check.db"), Options::default())?;
    /// db.update(|tx| {
    ///     let mut b = tx.create_bucket(b"b")?;
    ///     for i in 0..1000u32 {
    ///         b.put(&i.to_be_bytes(), b"some value")?;
    ///     }
    ///     Ok::<_, Error>(())
    /// })?;
    /// let problems = db.view(|tx| tx.check())?;
    /// assert!(problems.is_empty(), "{problems:?}");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn check(&self) -> Result<Vec<Problem>> {
        let snap = self.snap();
        Ok(crate::tree::check::check(snap, &snap.meta, Scope::File)?.problems)
    }

    /// Ends a read transaction, or discards a write transaction's changes.
    pub fn rollback(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if std::mem::take(&mut self.reading) {
            self.core.end_read(self.snap.meta.txid);
        }
        if let Some(mut w) = self.write.take() {
            w.writer.freelist.rollback_pending(w.txid);
            self.core.end_write(w.writer);
        }
    }

    /// Commits a write transaction durably: when this returns `Ok`, the changes are on disk.
    ///
    /// # Errors
    /// [`Error::TxNotWritable`] for a read transaction (as bbolt; it is ended all the same);
    /// [`Error::MaxSizeReached`] past [`Options::max_size`](crate::Options::max_size) (nothing
    /// written); [`Error::Corrupted`] if a committed page the commit must rewrite is damaged
    /// (nothing written); [`Error::Io`] if growing, writing, syncing or mapping the file fails
    /// (the handle is then poisoned: reopen the database, which opens at the last commit that
    /// reached the disk); [`Error::CheckFailed`] in [strict mode](crate::Options::strict_mode)
    /// (the commit is durable).
    pub fn commit(mut self) -> Result<()> {
        let Some(w) = self.write.take() else {
            self.finish();
            return Err(Error::TxNotWritable);
        };
        let mut w = match crate::db::journaled::commit_grouped(self.core, w) {
            Ok(done) => return done,
            Err(w) => w,
        };
        let outcome = crate::db::journaled::commit(self.core, &mut w)
            .unwrap_or_else(|| protocol::commit(&mut w, &self.core.target()));
        let committed = match outcome {
            Ok(c) => {
                if self.core.journal_mode() {
                    // Synced past every commit still waiting for a shared sync: they go first.
                    crate::db::journaled::flush_waiting(self.core);
                }
                c
            }
            Err(failure) => {
                let e = match failure {
                    Failure::Refused(e) => e,
                    Failure::Io(e) => {
                        self.core.poison();
                        e
                    }
                };
                self.core.end_write(w.writer);
                return Err(e);
            }
        };
        let snap = match self.core.publish(&committed) {
            Ok(snap) => snap,
            Err(e) => {
                self.core.end_write(w.writer);
                return Err(e);
            }
        };
        // Check while still the writer: no later commit can reuse a page of `snap` yet.
        let problems = if self.core.opts.strict_mode {
            crate::tree::check::check(&snap, &snap.meta, Scope::File).map(|r| r.problems)
        } else {
            Ok(Vec::new())
        };
        drop(snap);
        let on_commit = std::mem::take(&mut w.on_commit);
        self.core.end_write(w.writer);
        for f in on_commit {
            f();
        }
        let problems = problems?;
        if !problems.is_empty() {
            return Err(Error::CheckFailed(problems));
        }
        Ok(())
    }

    /// Refuses a backup of a snapshot whose newest pages are only in memory (journal mode,
    /// before a checkpoint): a backup copies the file's pages.
    fn in_file(&self) -> Result<()> {
        if self.snap().gen.is_some() {
            return Err(Error::NotCheckpointed { txid: self.meta().txid });
        }
        Ok(())
    }

    /// Writes a consistent copy of this transaction's snapshot to `w` and returns the number of
    /// bytes written: [`Tx::size`], padded with zeros to 4096 bytes for tiny page sizes (Go
    /// refuses shorter files). Writers go on meanwhile: the pages are read from the file, not
    /// the map, and the pages of this snapshot cannot change while the transaction is open.
    ///
    /// # Errors
    /// [`Error::Io`] if reading the database or writing to `w` fails;
    /// [`Error::NotCheckpointed`] in journal mode before a checkpoint.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-write-to-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Options, DB};
    /// let db = DB::open(dir.join("live.db"), Options::default())?;
    /// db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))?;
    /// let mut copy = Vec::new();
    /// let n = db.view(|tx| tx.write_to(&mut copy))?;
    /// assert_eq!(n as usize, copy.len());
    /// # Ok::<(), rivet_engine::Error>(())
    /// ```
    pub fn write_to<W: Write + ?Sized>(&self, w: &mut W) -> Result<u64> {
        self.in_file()?;
        backup::write_snapshot(&self.core.file, self.core.path(), self.meta(), &mut backup::Plain(w))
    }

    /// Writes a consistent copy of this snapshot to a new file at `path` and syncs it (and its
    /// directory entry). Returns the bytes written, as [`Tx::write_to`].
    ///
    /// # Errors
    /// [`Error::Io`], including when `path` already exists.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-copy-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let _ = std::fs::remove_file(dir.join("copy.db"));
    /// use rivet_engine::{Options, DB};
    /// let db = DB::open(dir.join("live.db"), Options::default())?;
    /// db.update(|tx| tx.create_bucket_if_not_exists(b"b")?.put(b"k", b"v"))?;
    /// db.view(|tx| tx.copy_file(dir.join("copy.db")))?;
    /// let copy = DB::open(dir.join("copy.db"), Options::default().read_only(true))?;
    /// assert_eq!(copy.view(|tx| tx.bucket(b"b")?.get(b"k").map(|v| v.is_some()))?, true);
    /// # Ok::<(), rivet_engine::Error>(())
    /// ```
    pub fn copy_file(&self, path: impl AsRef<Path>) -> Result<u64> {
        self.in_file()?;
        backup::to_new_file(path.as_ref(), |s| {
            backup::write_snapshot(&self.core.file, self.core.path(), self.meta(), s)
        })
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
