//! Open options, with bbolt's names and defaults.

use std::time::Duration;

/// How to open a database. `Options::default()` is durable and read-write.
///
/// Build it from the default with one method per option; each says what it gives up:
///
/// ```
/// use std::time::Duration;
/// use rivet_engine::Options;
/// let opts = Options::default()
///     .with_timeout(Duration::from_secs(1)) // fail instead of waiting forever for the lock
///     .max_batch_delay(Duration::from_millis(2));
/// assert_eq!(opts.timeout, Some(Duration::from_secs(1)));
/// ```
///
/// The fields stay public for reading (see [`crate::DB::options`]). The struct is
/// `#[non_exhaustive]` so that new options can be added: outside this crate, start from
/// [`Options::default`] and use the methods (a struct literal does not compile).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// How long to wait for the file lock; `None` waits forever (bbolt's `Timeout` of 0).
    /// See [`Options::timeout`].
    pub timeout: Option<Duration>,
    /// Open with a shared lock; every write transaction fails with `DatabaseReadOnly`.
    /// See [`Options::read_only`].
    pub read_only: bool,
    /// Page size of a *new* file (existing files keep theirs). Default: the OS page size.
    /// See [`Options::page_size`].
    pub page_size: Option<u32>,
    /// **Trades durability away**: skip fdatasync at commit. A crash can lose or damage recent
    /// commits. For bulk loads that can be redone. See [`Options::no_sync`].
    pub no_sync: bool,
    /// **Trades durability away**: skip the fsync after growing the file.
    /// See [`Options::no_grow_sync`].
    pub no_grow_sync: bool,
    /// Do not store the freelist; it is rebuilt by a full tree walk at every open. Faster
    /// commits, slower opens. See [`Options::no_freelist_sync`].
    pub no_freelist_sync: bool,
    /// Initial size of the memory map in bytes (rounded as bbolt rounds it).
    /// See [`Options::initial_mmap_size`].
    pub initial_mmap_size: u64,
    /// Ask the kernel to pre-fault the map (`MAP_POPULATE`). See [`Options::mmap_populate`].
    pub mmap_populate: bool,
    /// How much the file grows at a time once it is past this size (bbolt's `AllocSize`,
    /// 16 MiB by default). See [`Options::alloc_size`].
    pub alloc_size: u64,
    /// Refuse commits that would make the file larger than this many bytes (0: no limit).
    /// See [`Options::max_size`].
    pub max_size: u64,
    /// Run the consistency check after every commit and report problems as an error.
    /// See [`Options::strict_mode`].
    pub strict_mode: bool,
    /// Walk the committed trees once before a handle's first write, refusing to write to a
    /// file whose trees share pages (default: on). See [`Options::verify_before_write`].
    pub verify_before_write: bool,
    /// Most calls [`crate::DB::batch`] puts into one transaction (default 1000).
    /// See [`Options::max_batch_size`].
    pub max_batch_size: usize,
    /// Longest a batch waits for more calls before it commits (default 10 ms).
    /// See [`Options::max_batch_delay`].
    pub max_batch_delay: Duration,
    /// Commit through a journal beside the file (default: off). See [`Options::journal`].
    pub journal: bool,
    /// How much the journal and the nodes it keeps in memory may hold before a checkpoint
    /// (default 64 MiB). See [`Options::journal_max_bytes`].
    pub journal_max_bytes: u64,
}

/// The default of [`Options::journal_max_bytes`].
pub const DEFAULT_JOURNAL_MAX_BYTES: u64 = 64 << 20;

/// bbolt's default `AllocSize`.
pub const DEFAULT_ALLOC_SIZE: u64 = 16 * 1024 * 1024;

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: None,
            read_only: false,
            page_size: None,
            no_sync: false,
            no_grow_sync: false,
            no_freelist_sync: false,
            initial_mmap_size: 0,
            mmap_populate: false,
            alloc_size: DEFAULT_ALLOC_SIZE,
            max_size: 0,
            strict_mode: false,
            verify_before_write: true,
            max_batch_size: 1000,
            max_batch_delay: Duration::from_millis(10),
            journal: false,
            journal_max_bytes: DEFAULT_JOURNAL_MAX_BYTES,
        }
    }
}

impl Options {
    /// Sets how long [`crate::DB::open`] waits for the file lock held by another process
    /// (`None`, the default, or a zero duration: wait forever). The lock is polled every 50 ms,
    /// as bbolt polls it.
    ///
    /// With a timeout, opening gives up: it fails with [`crate::Error::Timeout`] when the other
    /// process keeps the file longer.
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets a lock timeout: the same as [`Options::timeout`] with `Some(timeout)`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Opens the file read-only (default: read-write). The file is locked shared instead of
    /// exclusively, so any number of read-only handles, in this process or others, can have it
    /// open at once, but no writer can.
    ///
    /// What it gives up: every write transaction fails with
    /// [`crate::Error::DatabaseReadOnly`], a missing or empty file is an error instead of being
    /// created, and closing does not trim the file.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Sets the page size of a *new* file (default: the operating system's page size, usually
    /// 4096). It must be a power of two from 256 to 65536 (creating a file with another size
    /// fails with [`crate::Error::Invalid`]); an existing file keeps the page size it was
    /// created with, whatever this says.
    ///
    /// The trade: a commit rewrites whole pages, so larger pages cost more bytes written per
    /// small change, while they make trees shallower (fewer pages per lookup). Pages smaller
    /// than the OS page size are mostly for tests.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }

    /// **Trades durability away.** With `on`, commits (and the creation of a new file) skip
    /// their fdatasync calls: a commit returns once its pages are handed to the kernel.
    ///
    /// A crash of the process alone loses nothing (the kernel still writes the pages out), but
    /// after an operating-system crash or a power loss the file can have lost any number of
    /// recent commits, or be damaged: the new meta can reach the disk before the pages it
    /// points to. Use it for loads that can be redone from scratch, and call
    /// [`crate::DB::sync`] to make everything written so far durable.
    pub fn no_sync(mut self, on: bool) -> Self {
        self.no_sync = on;
        self
    }

    /// **Trades durability away.** With `on`, a commit that grows the file does not sync the
    /// new length before writing into it (the commit's own data and meta syncs still run unless
    /// [`Options::no_sync`] is set too).
    ///
    /// On Linux, fdatasync also makes durable a file length that written data depends on, so
    /// little is lost there; where that does not hold, a crash can leave the file shorter than
    /// its newest meta says, which then fails to open ([`crate::Error::Invalid`], "truncated").
    /// Saves one sync per growing commit.
    pub fn no_grow_sync(mut self, on: bool) -> Self {
        self.no_grow_sync = on;
        self
    }

    /// With `on`, commits do not write the freelist (the list of reusable pages) to the file;
    /// the meta says so, and every open finds the free pages by walking every tree in the file
    /// instead.
    ///
    /// The trade: each commit writes one or more pages fewer (the freelist can span many pages
    /// in a file with much free space), and each read-write open costs a walk of the whole
    /// database. Go bbolt reads such files too. A file that has no stored freelist is given one
    /// again by the next read-write open without this option.
    pub fn no_freelist_sync(mut self, on: bool) -> Self {
        self.no_freelist_sync = on;
        self
    }

    /// With `on`, a commit appends its changes to a journal beside the file (`PATH-journal`)
    /// and syncs that, one sequential write, instead of writing every changed page in place;
    /// the changed pages stay in memory, where every transaction reads them, until a
    /// checkpoint writes them to the file as one ordinary commit (design doc, "The journal").
    ///
    /// The trade: commits are durable as before and much cheaper, especially small ones and
    /// random batches, but the memory the unwritten pages take and the journal's size grow up
    /// to [`Options::journal_max_bytes`] between checkpoints, an open after a crash replays the
    /// journal, and the file on disk is the last checkpoint (what Go bbolt sees if it opens
    /// the file while Rivet is not running; a clean close checkpoints and removes the
    /// journal). A journal that does not belong to the file (another program wrote the file
    /// since) is refused, and neither file is touched.
    pub fn journal(mut self, on: bool) -> Self {
        self.journal = on;
        self
    }

    /// Sets how many bytes the journal, and the pages it keeps in memory, may each hold
    /// before a checkpoint writes them to the file (default 64 MiB, at least 1 MiB).
    ///
    /// The trade: a larger limit means fewer checkpoints (each writes the pages changed since
    /// the last, once, however often they changed), more memory, and a longer replay after a
    /// crash.
    pub fn journal_max_bytes(mut self, bytes: u64) -> Self {
        self.journal_max_bytes = bytes.max(1 << 20);
        self
    }

    /// Sets the smallest size, in bytes, of the memory map made at open and after the file
    /// grows (default 0: just what the file needs, rounded up as bbolt rounds it).
    ///
    /// The trade: a larger map reserves more address space (not memory: pages are read in as
    /// they are touched) in return for fewer new maps while the file grows. Each new map is
    /// made by the committing writer; readers keep the map they started with until they end.
    pub fn initial_mmap_size(mut self, bytes: u64) -> Self {
        self.initial_mmap_size = bytes;
        self
    }

    /// With `on`, asks the kernel to read the whole map in when it is made (`MAP_POPULATE`).
    ///
    /// The trade: the first reads do not wait for the disk, but opening (and each new map
    /// after the file grows) reads the whole file in first; for a file much larger than memory
    /// that mostly slows opening down.
    pub fn mmap_populate(mut self, on: bool) -> Self {
        self.mmap_populate = on;
        self
    }

    /// Sets how many bytes the file grows by at a time once it is larger than this amount
    /// (default [`DEFAULT_ALLOC_SIZE`], 16 MiB, as bbolt; smaller files grow through bbolt's
    /// map sizes, doubling from 32 KiB).
    ///
    /// The trade: a larger step means fewer growing commits (each pays a length change and a
    /// sync) but more disk space allocated ahead of the data; closing a read-write handle gives
    /// the unused part back.
    pub fn alloc_size(mut self, bytes: u64) -> Self {
        self.alloc_size = bytes;
        self
    }

    /// Caps the file at `bytes` (default 0: no limit). A commit that would grow the file past
    /// the cap fails with [`crate::Error::MaxSizeReached`] and writes nothing; commits that
    /// need no more room (or free some) still succeed.
    ///
    /// What it gives up: writes, once the data outgrows the cap. Deleting data and committing
    /// makes room again inside the file, but the file itself does not shrink until compacted
    /// ([`crate::compact_file`]).
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }

    /// With `on` (the default), the first write transaction of a handle walks the committed
    /// trees once, each page at most once, and fails with [`crate::Error::Corrupted`] naming
    /// the page if a page is reached twice (two buckets sharing it, or a bucket nested in
    /// itself) or is reached while the freelist lists it. That write and every later one of
    /// the handle then fail so, writing nothing, until the file is reopened (repaired). A file
    /// stored without a freelist is walked at open anyway (to rebuild it), and is not walked
    /// again.
    ///
    /// The cost: one read of every tree page, once per read-write handle, at its first
    /// `begin(true)` (measured: about 40 ms for a 275 MB file of 2 million keys in the page cache, some 0.15 s per GB, against 9 ms for the first commit itself; more when the pages must come from disk). Later write transactions cost nothing extra.
    ///
    /// What turning it off risks: on such a file, a commit frees a page that another bucket
    /// still uses, or frees one page twice, and a later commit hands it out again and
    /// overwrites live data: silent loss, found only by a later check.
    pub fn verify_before_write(mut self, on: bool) -> Self {
        self.verify_before_write = on;
        self
    }

    /// With `on`, every commit runs the consistency check ([`crate::Tx::check`]) on the state
    /// it wrote, and reports problems as [`crate::Error::CheckFailed`] (the commit is durable
    /// all the same).
    ///
    /// The trade: each commit then reads every page of the database, so commits cost time in
    /// proportion to the whole file instead of to their changes. For tests and debugging.
    pub fn strict_mode(mut self, on: bool) -> Self {
        self.strict_mode = on;
        self
    }

    /// Sets the most calls [`crate::DB::batch`] puts into one transaction (default 1000; 0
    /// counts as 1). A batch commits as soon as it holds this many calls.
    ///
    /// The trade: larger batches spread one commit (and its syncs) over more calls, but each
    /// call may wait longer, and when one call fails the batch runs all the others again.
    pub fn max_batch_size(mut self, calls: usize) -> Self {
        self.max_batch_size = calls;
        self
    }

    /// Sets how long a [`crate::DB::batch`] waits for more calls before it commits what it has
    /// (default 10 ms).
    ///
    /// The trade: latency for throughput. Every batch call, even a lone one, can take this long
    /// before its commit starts; a longer wait gathers more calls into each commit.
    pub fn max_batch_delay(mut self, delay: Duration) -> Self {
        self.max_batch_delay = delay;
        self
    }
}
