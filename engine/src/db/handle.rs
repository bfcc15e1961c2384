//! The database handle: open or create a file, hand out transactions, run closures in them,
//! share commits among concurrent callers, report figures.
//!
//! The state every transaction shares lives in [`crate::db::core::Core`]; the handle owns it
//! and the batch slot.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use crate::db::batch::Batcher;
use crate::db::core::Core;
use crate::db::open::{open, Opened};
use crate::db::tx::Tx;
use crate::error::{Error, Result};
use crate::format::meta::Meta;
use crate::io::storage::{FileStorage, Storage};
use crate::journal::file::JournalIo;
use crate::journal::state::Recovery;
use crate::options::Options;
use crate::tree::counters::Stats;

/// An open database file. `Send + Sync`: share it by reference or `Arc`.
pub struct DB {
    core: Core,
    batcher: Batcher,
}

impl std::fmt::Debug for DB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DB").field("path", &self.core.path).field("page_size", &self.core.page_size).finish()
    }
}

/// Facts about an open database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// The page size of the file.
    pub page_size: u32,
    /// The meta of the last commit.
    pub meta: Meta,
}

impl DB {
    /// Opens the database at `path`, creating it (four pages, as bbolt does) if it is missing
    /// or empty. The file is locked (`flock`, as Go bbolt locks it) until the handle is closed
    /// or dropped: exclusively for read-write, shared for [`Options::read_only`].
    ///
    /// # Errors
    /// [`Error::Timeout`] if another process holds the lock past [`Options::timeout`];
    /// [`Error::Invalid`], [`Error::VersionMismatch`] or [`Error::Checksum`] for a file that is
    /// not a usable database (and [`Error::Invalid`] for an empty file opened read-only, or a
    /// new file with an impossible [`Options::page_size`]); [`Error::Corrupted`] if its
    /// freelist is damaged (or, for a file without a stored freelist, a tree walked to rebuild
    /// it); [`Error::Io`] for operating-system errors, a missing file opened read-only
    /// included.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-open-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Options, DB};
    /// let db = DB::open(dir.join("open.db"), Options::default())?;
    /// assert_eq!(db.info().meta.txid, 1); // a new file: two metas, txids 0 and 1
    /// db.close()?;
    /// let again = DB::open(dir.join("open.db"), Options::default().read_only(true))?;
    /// assert!(again.is_read_only());
    /// # Ok::<(), rivet_engine::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>, opts: Options) -> Result<DB> {
        Self::open_with_storage(path, opts, |f| Box::new(FileStorage::new(f)))
    }

    /// Like [`DB::open`], with every write, sync and resize of the file going through the
    /// [`Storage`] that `make` builds around the opened file (used to inject I/O faults and to
    /// record writes for crash simulation). Reads still come from the memory map of the file.
    ///
    /// # Errors
    /// As [`DB::open`]; errors of the storage are [`Error::Io`].
    pub fn open_with_storage<F>(path: impl AsRef<Path>, opts: Options, make: F) -> Result<DB>
    where
        F: FnOnce(File) -> Box<dyn Storage>,
    {
        Self::open_with_io(path, opts, make, |io| io)
    }

    /// Like [`DB::open_with_storage`], with the journal's file (journal mode, see
    /// [`Options::journal`]) also going through what `wrap_journal` makes of the real one: to
    /// inject faults into, or record the writes of, the journal as well as the database.
    ///
    /// # Errors
    /// As [`DB::open`]; errors of either wrapper are [`Error::Io`].
    pub fn open_with_io<F, J>(path: impl AsRef<Path>, opts: Options, make: F, mut wrap_journal: J) -> Result<DB>
    where
        F: FnOnce(File) -> Box<dyn Storage>,
        J: FnMut(Arc<dyn JournalIo>) -> Arc<dyn JournalIo>,
    {
        let Opened { core, store_freelist } = open(path.as_ref(), opts, make, &mut wrap_journal)?;
        let db = DB { core, batcher: Batcher::default() };
        if store_freelist {
            // As Go does: store a real freelist at once, so that older readers can open the file.
            db.update(|_| Ok::<_, Error>(()))?;
        }
        Ok(db)
    }

    /// The options this database was opened with.
    pub fn options(&self) -> &Options {
        &self.core.opts
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        self.core.path()
    }

    /// Whether the database was opened read-only.
    pub fn is_read_only(&self) -> bool {
        self.core.opts.read_only
    }

    /// Page size and the last committed meta.
    pub fn info(&self) -> Info {
        Info { page_size: self.core.page_size, meta: self.core.meta() }
    }

    /// Begins a transaction. A read transaction sees the last commit for its whole life; a
    /// write transaction waits until the previous writer is done. End it with [`Tx::commit`],
    /// [`Tx::rollback`] or by dropping it (a rollback). [`DB::update`] and [`DB::view`] do this
    /// for a closure.
    ///
    /// # Errors
    /// [`Error::DatabaseReadOnly`] for a write on a read-only database; [`Error::Poisoned`]
    /// after a commit failed with an I/O error.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-begin-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Options, DB};
    /// let db = DB::open(dir.join("begin.db"), Options::default())?;
    /// let mut tx = db.begin(true)?;
    /// tx.create_bucket(b"b")?.put(b"k", b"v")?;
    /// tx.commit()?;
    /// let tx = db.begin(false)?;
    /// assert_eq!(tx.bucket(b"b")?.get(b"k")?, Some(&b"v"[..]));
    /// # Ok::<(), rivet_engine::Error>(())
    /// ```
    pub fn begin(&self, writable: bool) -> Result<Tx<'_>> {
        if writable {
            Ok(Tx::new_write(&self.core, crate::db::journaled::prepare(&self.core, self.core.begin_write()?)?))
        } else {
            Ok(Tx::new_read(&self.core, self.core.begin_read()))
        }
    }

    /// Runs `f` in a write transaction and commits it if `f` returns `Ok`; rolls back otherwise.
    /// When this returns `Ok`, the changes are durable.
    ///
    /// # Errors
    /// `f`'s error (after the rollback), or any error of [`DB::begin`] and [`Tx::commit`],
    /// converted into `E`.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-update-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("update.db"), Options::default())?;
    /// db.update(|tx| tx.create_bucket(b"users")?.put(b"ada", b"1815"))?;
    /// // An error rolls everything back.
    /// let r: Result<(), Error> = db.update(|tx| {
    ///     tx.bucket_mut(b"users")?.put(b"bob", b"1900")?;
    ///     Err(Error::TxClosed)
    /// });
    /// assert!(r.is_err());
    /// db.view(|tx| {
    ///     assert_eq!(tx.bucket(b"users")?.get(b"bob")?, None);
    ///     Ok::<_, Error>(())
    /// })?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn update<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Tx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let mut tx = self.begin(true)?;
        match f(&mut tx) {
            Ok(v) => {
                tx.commit()?;
                Ok(v)
            }
            Err(e) => {
                tx.rollback();
                Err(e)
            }
        }
    }

    /// Runs `f` in a read transaction. Nothing read can escape it (the borrow checker says so):
    /// copy out what you need.
    ///
    /// # Errors
    /// `f`'s error.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-view-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Error, Options, DB};
    /// let db = DB::open(dir.join("view.db"), Options::default())?;
    /// db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))?;
    /// let v = db.view(|tx| Ok::<_, Error>(tx.bucket(b"b")?.get(b"k")?.map(<[u8]>::to_vec)))?;
    /// assert_eq!(v, Some(b"v".to_vec()));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn view<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Tx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let tx = self.begin(false)?;
        let r = f(&tx);
        tx.rollback();
        r
    }

    /// Runs `f` in a write transaction shared with other concurrent `batch` calls, so that many
    /// small writes from many threads cost one commit ([`Options::max_batch_size`] calls,
    /// default 1000, or [`Options::max_batch_delay`], default 10 ms, whichever comes first).
    ///
    /// `f` may run more than once: if another call in the same batch fails, the batch is run
    /// again without it. Only the failing call gets its error.
    ///
    /// # Errors
    /// `f`'s own error (the others in the batch then commit without it). When the shared
    /// transaction cannot begin or commit, one call gets that error (any of [`DB::begin`]'s or
    /// [`Tx::commit`]'s: [`Error::DatabaseReadOnly`], [`Error::Poisoned`],
    /// [`Error::MaxSizeReached`], [`Error::Io`], ...) and every other call of the batch gets
    /// [`Error::BatchFailed`] with its message. If `f` panics, the panic is raised again in the
    /// thread that called `batch`.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-batch-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use std::sync::Arc;
    /// use rivet_engine::{Options, DB};
    /// let db = Arc::new(DB::open(dir.join("batch.db"), Options::default())?);
    /// db.update(|tx| tx.create_bucket(b"hits").map(|_| ()))?;
    /// let threads: Vec<_> = (0..4u8)
    ///     .map(|i| {
    ///         let db = db.clone();
    ///         std::thread::spawn(move || db.batch(move |tx| tx.bucket_mut(b"hits")?.put(&[i], b"1")))
    ///     })
    ///     .collect();
    /// for t in threads {
    ///     t.join().unwrap()?;
    /// }
    /// assert_eq!(db.view(|tx| tx.bucket(b"hits")?.stats())?.key_n, 4);
    /// # Ok::<(), rivet_engine::Error>(())
    /// ```
    pub fn batch<F>(&self, f: F) -> Result<()>
    where
        F: Fn(&mut Tx<'_>) -> Result<()> + Send + 'static,
    {
        self.batcher.run(&self.core, Box::new(f))
    }

    /// Database statistics: free and pending pages, reader counts, live maps, and the summed
    /// counters of committed transactions. Free-page figures are those of the last finished
    /// write transaction.
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-stats-{}", std::process::id()));
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Options, DB};
    /// let db = DB::open(dir.join("stats.db"), Options::default())?;
    /// let before = db.stats();
    /// db.update(|tx| tx.create_bucket(b"b").map(|_| ()))?;
    /// assert_eq!(db.stats().sub(&before).tx_stats.commits, 1);
    /// # Ok::<(), rivet_engine::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// Forces an fdatasync of the file (useful after commits made with
    /// [`Options::no_sync`]).
    ///
    /// A failed sync poisons the handle, as a failed commit does: the kernel may have dropped
    /// the pages it could not write, so no later sync could prove the earlier commits durable.
    /// Reopen the database to go on.
    ///
    /// # Errors
    /// [`Error::Io`].
    pub fn sync(&self) -> Result<()> {
        self.core.sync()
    }

    /// Closes the database, releasing the file lock. A read-write handle first cuts the file
    /// back to its high-water mark, giving back the room grown ahead of the data (bbolt grows
    /// the file in steps of up to `alloc_size` and never gives it back). Dropping the handle
    /// does the same, ignoring errors; `close` reports them.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be cut back (it is still a valid database).
    pub fn close(self) -> Result<()> {
        crate::db::journaled::shutdown(&self.core)?;
        self.core.trim()
    }

    /// Writes every journaled commit into the file now, as one ordinary commit, and empties
    /// the journal (see [`Options::journal`]); nothing to do without the journal or when
    /// nothing was committed since the last checkpoint. Checkpoints also happen by themselves
    /// when the journal reaches [`Options::journal_max_bytes`], and at [`DB::close`].
    ///
    /// # Errors
    /// As a commit: [`Error::Io`] (the handle is then poisoned, and reopening replays the
    /// journal), [`Error::Poisoned`], [`Error::DatabaseReadOnly`].
    ///
    /// # Example
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("rivet-doc-checkpoint-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// use rivet_engine::{Options, DB};
    /// let db = DB::open(dir.join("j.db"), Options::default().journal(true))?;
    /// db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v"))?; // one append to the journal
    /// db.checkpoint()?; // the file now holds it too
    /// assert_eq!(db.info().meta.txid, 4); // 2 the commit; 3 has the durable meta's page: 4
    /// db.close()?; // a last checkpoint (nothing left to write), and the journal is removed
    /// assert!(!dir.join("j.db-journal").exists());
    /// # Ok::<(), rivet_engine::Error>(())
    /// ```
    pub fn checkpoint(&self) -> Result<()> {
        crate::db::journaled::checkpoint(&self.core)
    }

    /// What this open found in the journal beside the file (see [`Options::journal`]): how
    /// many journaled commits it replayed, and what it dropped from a damaged or torn end.
    /// `None` when there was no journal and journal mode is off.
    pub fn recovery(&self) -> Option<Recovery> {
        crate::db::core::lock(&self.core.recovery).clone()
    }
}

impl Drop for DB {
    /// A last checkpoint in journal mode (as [`DB::close`], best effort: if it fails, the
    /// journal stays and the next open replays it); the file is then trimmed as it is closed.
    fn drop(&mut self) {
        let _ = crate::db::journaled::shutdown(&self.core);
    }
}
