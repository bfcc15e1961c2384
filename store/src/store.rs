//! The store handle: a backend (today the embedded engine, a [`rivet_engine::DB`]) plus typed
//! transactions. How a store is opened is the only place the backend shows; everything else
//! goes through [`crate::backend`].

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use rivet_engine::{Options, DB};

use crate::backend::Backend;

use crate::error::{Error, Result};
use crate::key::KeyRange;
use crate::record::Record;
use crate::txn::{ReadTx, WriteTx};
use crate::watch::{Hub, Watch};

/// What [`Store::migrate`] did (so far, when given to its progress callback).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Migrated {
    /// Records read to build indexes (each once per index built).
    pub indexed: usize,
    /// Values rewritten from an older layout.
    pub rewritten: usize,
}

/// An open typed store: one database file. `Send + Sync`; share it by reference or `Arc`.
///
/// How a store is opened picks what it runs on: [`Store::open`], [`Store::open_with`],
/// [`Store::memory`] and [`Store::from_engine`] run it on the embedded engine. Everything else
/// (transactions, queries, subscriptions) is the same whatever it runs on; only the accessors
/// marked engine-only ([`Store::engine`], [`ReadTx::engine`], [`WriteTx::engine_mut`]) reach
/// underneath.
///
/// ```
/// use rivet::{Record, Store};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Record, Serialize, Deserialize, Debug, PartialEq)]
/// struct Note {
///     #[key(auto)]
///     id: u64,
///     text: String,
/// }
///
/// # let dir = tempfile::tempdir().unwrap();
/// let store = Store::open(dir.path().join("notes.db"))?;
/// let id = store.write(|tx| tx.insert(&mut Note { id: 0, text: "hello".into() }))?;
/// let note = store.read(|tx| tx.get::<Note>(id))?;
/// assert_eq!(note, Some(Note { id: 1, text: "hello".into() }));
/// # Ok::<(), rivet::Error>(())
/// ```
#[derive(Debug)]
pub struct Store {
    backend: Backend,
    /// Change subscriptions ([`Store::watch`]).
    hub: Arc<Hub>,
}

impl Store {
    /// Opens (or creates) the database file at `path` with the engine's default options
    /// (durable commits; waiting as long as it takes for another process's lock on the file).
    /// Nothing is checked against record types here: each type meets the catalog when a
    /// transaction first uses it.
    ///
    /// # Errors
    /// [`Error::Engine`] with:
    /// - [`Invalid`](rivet_engine::Error::Invalid) if the file is not a bbolt/Rivet database,
    ///   [`VersionMismatch`](rivet_engine::Error::VersionMismatch) if it is one of another
    ///   format version, [`Checksum`](rivet_engine::Error::Checksum) if both of its meta pages
    ///   are damaged;
    /// - [`Io`](rivet_engine::Error::Io) if the file cannot be created, opened, locked or
    ///   mapped (a missing directory, no permission).
    ///
    /// # Example
    /// ```
    /// use rivet::{Record, Store};
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Record, Serialize, Deserialize)]
    /// struct Note { #[key(auto)] id: u64, text: String }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("notes.db");
    /// let store = Store::open(&path)?;
    /// store.write(|tx| tx.insert(&mut Note { id: 0, text: "kept".into() }).map(drop))?;
    /// store.close()?;
    ///
    /// let store = Store::open(&path)?; // the same file, reopened
    /// assert_eq!(store.read(|tx| tx.count::<Note>())?, 1);
    ///
    /// // A file that is not a database is refused.
    /// std::fs::write(dir.path().join("text.db"), vec![b'x'; 8192]).unwrap();
    /// let refused = Store::open(dir.path().join("text.db"));
    /// assert!(matches!(refused, Err(rivet::Error::Engine(rivet::engine::Error::Invalid(_)))));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        Store::open_with(path, Options::default())
    }

    /// Opens (or creates) the database file at `path` with engine options: a lock timeout, a
    /// read-only open, `no_sync`, a maximum size, ... (see [`Options`]).
    ///
    /// # Errors
    /// As [`Store::open`], and [`Error::Engine`] with
    /// [`Timeout`](rivet_engine::Error::Timeout) if another process holds the file's lock
    /// longer than [`Options::timeout`].
    ///
    /// # Example
    /// ```
    /// use rivet::{Options, Store};
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("app.db");
    /// # Store::open(&path)?.close()?;
    /// let store = Store::open_with(&path, Options::default().read_only(true))?;
    /// let refused = store.write(|_| Ok(()));
    /// assert!(matches!(refused, Err(rivet::Error::Engine(rivet::engine::Error::DatabaseReadOnly))));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn open_with(path: impl AsRef<Path>, options: Options) -> Result<Store> {
        Ok(Store { backend: Backend::open_file(path.as_ref(), options)?, hub: Arc::default() })
    }

    /// A store in memory, for tests and caches: the same store (types, indexes, transactions,
    /// isolation) with **no durability**. It lives in a file in the temporary directory
    /// (`std::env::temp_dir`, `TMPDIR`) that is deleted as soon as it is open, and commits
    /// never sync, so nothing is left behind and nothing survives the store: dropping it frees
    /// everything. (Point `TMPDIR` at a memory file system such as `/dev/shm` to keep its pages
    /// off the disk.)
    ///
    /// # Errors
    /// [`Error::Engine`] with [`Io`](rivet_engine::Error::Io) if the file cannot be created in
    /// the temporary directory (it does not exist, or is not writable).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize)]
    /// struct Hit { #[key(auto)] id: u64, path: String }
    ///
    /// let cache = Store::memory()?;
    /// cache.write(|tx| tx.insert(&mut Hit { id: 0, path: "/".into() }).map(drop))?;
    /// assert_eq!(cache.read(|tx| tx.count::<Hit>())?, 1);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn memory() -> Result<Store> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let dir = std::env::temp_dir();
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("rivet-memory-{}-{n}-{nanos}.db", std::process::id()));
        let backend = Backend::open_file(&path, Options::default().no_sync(true));
        // Unlinked at once: the open file and its map keep the data while the store lives.
        let _ = std::fs::remove_file(&path);
        Ok(Store { backend: backend?, hub: Arc::default() })
    }

    /// A store on the in-memory map backend (tests only: it shows the store runs on any
    /// backend of the seam).
    #[cfg(test)]
    pub(crate) fn in_map() -> Store {
        Store { backend: Backend::Mem(Default::default()), hub: Arc::default() }
    }

    /// A store over an engine handle that is already open. Engine-only.
    pub fn from_engine(db: DB) -> Store {
        Store { backend: Backend::from_engine(db), hub: Arc::default() }
    }

    /// The engine underneath, for raw work (other buckets, stats, backup, check). Engine-only:
    /// a store on another backend has no engine handle.
    pub fn engine(&self) -> &DB {
        self.backend.engine()
    }

    /// Gives the engine handle back. Engine-only, as [`Store::engine`].
    pub fn into_engine(self) -> DB {
        self.backend.into_engine()
    }

    /// Runs `f` in a write transaction and commits if it returns `Ok` (durably, when this
    /// returns `Ok`); rolls back if it returns `Err`, or if an error aborted the transaction
    /// (a write that failed halfway, even one `f` caught). To fail with the program's own error,
    /// return [`crate::Error::user`], or use [`Store::try_write`].
    ///
    /// # Errors
    /// - `f`'s error, as it returned it (the transaction is rolled back);
    /// - [`Error::Aborted`] if `f` returned `Ok` although an error aborted the transaction
    ///   (it is rolled back; the cause is inside);
    /// - [`Error::Engine`] if the transaction cannot begin:
    ///   [`DatabaseReadOnly`](rivet_engine::Error::DatabaseReadOnly) on a store opened
    ///   read-only, [`Poisoned`](rivet_engine::Error::Poisoned) after a commit failed to reach
    ///   the disk;
    /// - the commit's errors (see [`WriteTx::commit`]).
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct Stock { #[key] sku: String, units: u32 }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("stock.db"))?;
    /// store.write(|tx| {
    ///     tx.insert(&mut Stock { sku: "loom".into(), units: 3 })?;
    ///     tx.insert(&mut Stock { sku: "gear".into(), units: 40 })?;
    ///     Ok(())
    /// })?;
    ///
    /// // An error returned from the closure rolls everything back: "bolt" is not written.
    /// let failed = store.write(|tx| {
    ///     tx.insert(&mut Stock { sku: "bolt".into(), units: 1 })?;
    ///     tx.insert(&mut Stock { sku: "loom".into(), units: 9 })?; // a duplicate key
    ///     Ok(())
    /// });
    /// assert!(matches!(failed, Err(rivet::Error::DuplicateKey { .. })));
    /// assert_eq!(store.read(|tx| tx.count::<Stock>())?, 2);
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn write<R>(&self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<R>) -> Result<R> {
        self.try_write(f)
    }

    /// [`Store::write`] for a closure that returns the program's own error type `E` (any type
    /// a [`crate::Error`] converts into, so `?` works on the store's calls inside): rolls back
    /// on `Err` and returns it as it is.
    ///
    /// The closure's error type must be known: from the function the result is returned from,
    /// or written out (`Ok::<_, AppError>(..)`).
    ///
    /// # Errors
    /// `f`'s error, as it returned it (the transaction is rolled back); the errors of
    /// [`Store::write`] other than `f`'s ([`Error::Aborted`], [`Error::Engine`] beginning or
    /// committing), converted into `E`.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Record, Serialize, Deserialize)]
    /// # struct Note { #[key(auto)] id: u64, text: String }
    /// #[derive(Debug)]
    /// enum AppError {
    ///     Empty,
    ///     Store(rivet::Error),
    /// }
    /// impl From<rivet::Error> for AppError {
    ///     fn from(e: rivet::Error) -> Self {
    ///         AppError::Store(e)
    ///     }
    /// }
    ///
    /// fn add(store: &Store, text: &str) -> Result<u64, AppError> {
    ///     store.try_write(|tx| {
    ///         if text.is_empty() {
    ///             return Err(AppError::Empty); // rolls back
    ///         }
    ///         Ok(tx.insert(&mut Note { id: 0, text: text.into() })?)
    ///     })
    /// }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("notes.db")).unwrap();
    /// assert!(matches!(add(&store, ""), Err(AppError::Empty)));
    /// assert_eq!(add(&store, "hello").unwrap(), 1);
    /// ```
    pub fn try_write<R, E: From<Error>>(&self, f: impl FnOnce(&mut WriteTx<'_>) -> Result<R, E>) -> Result<R, E> {
        let mut tx = self.begin_write()?;
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

    /// Runs `f` in a read transaction: a consistent snapshot of the last commit, which
    /// writers committing meanwhile do not change and never wait for.
    ///
    /// # Errors
    /// `f`'s error, as it returned it. (Beginning a read transaction does not fail.)
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct City { #[key] name: String, people: u64 }
    ///
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("cities.db"))?;
    /// store.write(|tx| {
    ///     tx.insert(&mut City { name: "Oslo".into(), people: 709_000 })?;
    ///     tx.insert(&mut City { name: "Bergen".into(), people: 291_000 })?;
    ///     Ok(())
    /// })?;
    /// let (count, total) = store.read(|tx| {
    ///     let mut total = 0;
    ///     for city in tx.scan::<City>() {
    ///         total += city?.people;
    ///     }
    ///     Ok((tx.count::<City>()?, total))
    /// })?;
    /// assert_eq!((count, total), (2, 1_000_000));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn read<R>(&self, f: impl FnOnce(&ReadTx<'_>) -> Result<R>) -> Result<R> {
        self.try_read(f)
    }

    /// [`Store::read`] for a closure that returns the program's own error type (see
    /// [`Store::try_write`]).
    ///
    /// # Errors
    /// `f`'s error, as it returned it. (Beginning a read transaction does not fail.)
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// #[derive(Record, Serialize, Deserialize, Debug)]
    /// struct User { #[key] name: String, admin: bool }
    ///
    /// #[derive(Debug)]
    /// enum AppError {
    ///     NoSuchUser(String),
    ///     Store(rivet::Error),
    /// }
    /// impl From<rivet::Error> for AppError {
    ///     fn from(e: rivet::Error) -> Self {
    ///         AppError::Store(e)
    ///     }
    /// }
    ///
    /// fn is_admin(store: &Store, name: &str) -> Result<bool, AppError> {
    ///     store.try_read(|tx| match tx.get::<User>(name)? {
    ///         Some(u) => Ok(u.admin),
    ///         None => Err(AppError::NoSuchUser(name.into())),
    ///     })
    /// }
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let store = Store::open(dir.path().join("users.db")).unwrap();
    /// store.write(|tx| tx.insert(&mut User { name: "ada".into(), admin: true }).map(drop)).unwrap();
    /// assert!(is_admin(&store, "ada").unwrap());
    /// assert!(matches!(is_admin(&store, "eve"), Err(AppError::NoSuchUser(_))));
    /// ```
    pub fn try_read<R, E: From<Error>>(&self, f: impl FnOnce(&ReadTx<'_>) -> Result<R, E>) -> Result<R, E> {
        let tx = self.begin_read()?;
        let r = f(&tx);
        tx.close();
        r
    }

    /// Begins a write transaction (waiting for the previous writer); end it with
    /// [`WriteTx::commit`] or [`WriteTx::rollback`].
    ///
    /// # Errors
    /// [`Error::Engine`] with [`DatabaseReadOnly`](rivet_engine::Error::DatabaseReadOnly) on a
    /// store opened read-only, or [`Poisoned`](rivet_engine::Error::Poisoned) after a commit
    /// failed to reach the disk (reopen the store).
    pub fn begin_write(&self) -> Result<WriteTx<'_>> {
        let tx = self.backend.begin_write()?;
        // Taken after the engine's writer lock: tickets follow the commit order.
        Ok(WriteTx::new(tx, Some(self.hub.ticket())))
    }

    /// Begins a read transaction (a consistent snapshot of the last commit); end it with
    /// [`ReadTx::close`] or by dropping it.
    ///
    /// # Errors
    /// None today: beginning a read transaction does not fail. The `Result` leaves room for
    /// [`Error::Engine`].
    pub fn begin_read(&self) -> Result<ReadTx<'_>> {
        Ok(ReadTx::new(self.backend.begin_read()?))
    }

    /// Brings record type `T` up to date in the file in bounded transactions (each durable),
    /// so that no transaction's size or memory grows with the number of records (one
    /// exception: a bucket written before layouts were recorded, catalog format 1, is converted
    /// in the first transaction, every value at once):
    ///
    /// 1. registers the type, dropping the indexes it no longer has and starting a build of
    ///    each index it has that is not built (an empty bucket, listed in the catalog as being
    ///    built), then fills them `batch` records per transaction;
    /// 2. rewrites every value written by an older layout in the type's own, `batch` values per
    ///    transaction, so that reads no longer upgrade on the fly.
    ///
    /// Interrupted (a crash, an error), it resumes where it stopped when called again. Until an
    /// index is built, read-only queries of it are [`crate::Error::IndexNotBuilt`]; a write
    /// transaction that uses the type in the meantime finishes the build in one go (as
    /// [`WriteTx::migrate`] does), so call this before the program's other writes.
    ///
    /// `progress` is called after each transaction with the counts so far.
    ///
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Record, Serialize, Deserialize)]
    /// # struct Note { #[key(auto)] id: u64, text: String }
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("notes.db"))?;
    /// let done = store.migrate::<Note>(10_000, |m| eprintln!("{} indexed, {} rewritten", m.indexed, m.rewritten))?;
    /// assert_eq!(done.rewritten, 0); // nothing to do: no values yet
    /// # Ok::<(), rivet::Error>(())
    /// ```
    ///
    /// # Errors
    /// Transactions committed before an error stay committed (call again to resume); the
    /// failing one writes nothing.
    /// - [`Error::SchemaMismatch`] if the file cannot be read as `T`;
    /// - [`Error::UniqueCollision`] if two records share a value of a new unique index;
    /// - [`Error::Decode`] or [`Error::Upgrade`] for a record that cannot be read as `T`;
    /// - [`Error::Engine`]: as [`Store::write`] beginning and committing (a store opened
    ///   read-only only fails if there is something to write), and engine failures while
    ///   reading or writing.
    pub fn migrate<T: Record>(&self, batch: usize, mut progress: impl FnMut(&Migrated)) -> Result<Migrated> {
        let batch = batch.max(1);
        let mut done = Migrated::default();
        // A type already registered as it is has nothing to build: no write transaction then.
        let mut more = !self.read(|tx| tx.registered::<T>())?;
        while more {
            let (n, left) = self.write(|tx| tx.build_some::<T>(batch))?;
            more = left;
            done.indexed += n;
            if n > 0 {
                progress(&done);
            }
        }
        // Every value in the type's own layout (one layout listed): nothing to rewrite, and no
        // write transaction (so this works on a read-only store too).
        if self.read(|tx| tx.settled::<T>())? {
            return Ok(done);
        }
        let mut from: Option<Vec<u8>> = None;
        loop {
            let (n, next) = self.write(|tx| tx.migrate_some::<T>(from.as_deref(), batch))?;
            done.rewritten += n;
            progress(&done);
            match next {
                Some(k) => from = Some(k),
                None => return Ok(done),
            }
        }
    }

    /// Subscribes to the changes of records of type `T`: every change a transaction commits
    /// (inserted, updated with the old and the new record, removed) is delivered in commit
    /// order once the commit is durable, to be read from the returned [`Watch`] (an iterator
    /// that waits, or `try_recv`/`recv_timeout`). Rolled-back and failed transactions deliver
    /// nothing. Transactions that begin after this call are watched.
    ///
    /// A subscriber that reads slowly never holds commits up: it has a queue of `capacity`
    /// changes, and one that falls behind further gets [`crate::watch::Change::Lost`] with the number of
    /// changes it missed, where they were missed, so it can read the records again. Dropping
    /// the `Watch` ends it.
    ///
    /// # Example
    /// ```
    /// # use rivet::{Record, Store};
    /// # use serde::{Deserialize, Serialize};
    /// use rivet::watch::Change;
    /// #[derive(Record, Serialize, Deserialize, Clone, Debug, PartialEq)]
    /// struct Note { #[key(auto)] id: u64, text: String }
    /// # let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("notes.db"))?;
    /// let notes = store.watch::<Note>(1_000);
    /// store.write(|tx| tx.insert(&mut Note { id: 0, text: "hi".into() }).map(drop))?;
    /// assert_eq!(notes.try_recv(), Some(Change::Inserted(Note { id: 1, text: "hi".into() })));
    /// # Ok::<(), rivet::Error>(())
    /// ```
    pub fn watch<T: Record + Clone + Send>(&self, capacity: usize) -> Watch<T> {
        self.hub.subscribe((Bound::Unbounded, Bound::Unbounded), capacity)
    }

    /// [`Store::watch`] of the records whose key is in `range` (a range of whole keys, or of
    /// leading fields of a composite key).
    pub fn watch_range<T: Record + Clone + Send>(&self, range: impl KeyRange<T::Key>, capacity: usize) -> Watch<T> {
        self.hub.subscribe(range.encode_bounds(), capacity)
    }

    /// Closes the store, releasing the file lock (dropping it does the same, ignoring
    /// errors). Subscriptions ([`Store::watch`]) end once their queued changes are read.
    ///
    /// # Errors
    /// [`Error::Engine`] with [`Io`](rivet_engine::Error::Io) if giving back the file's unused
    /// tail fails.
    pub fn close(self) -> Result<()> {
        self.backend.close()
    }
}
