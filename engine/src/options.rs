//! Open options, with bbolt's names and defaults.

use std::time::Duration;

/// How to open a database. `Options::default()` is durable and read-write.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for the file lock; `None` waits forever (bbolt's `Timeout` of 0).
    pub timeout: Option<Duration>,
    /// Open with a shared lock; every write transaction fails with `DatabaseReadOnly`.
    pub read_only: bool,
    /// Page size of a *new* file (existing files keep theirs). Default: the OS page size.
    pub page_size: Option<u32>,
    /// **Trades durability away**: skip fdatasync at commit. A crash can lose or damage recent
    /// commits. For bulk loads that can be redone.
    pub no_sync: bool,
    /// **Trades durability away**: skip the fsync after growing the file.
    pub no_grow_sync: bool,
    /// Do not store the freelist; it is rebuilt by a full tree walk at every open. Faster
    /// commits, slower opens.
    pub no_freelist_sync: bool,
    /// Initial size of the memory map in bytes (rounded as bbolt rounds it).
    pub initial_mmap_size: u64,
    /// Ask the kernel to pre-fault the map (`MAP_POPULATE`).
    pub mmap_populate: bool,
    /// How much the file grows at a time once it is past this size (bbolt's `AllocSize`,
    /// 16 MiB by default).
    pub alloc_size: u64,
    /// Refuse commits that would make the file larger than this many bytes (0: no limit).
    pub max_size: u64,
    /// Run the consistency check after every commit and report problems as an error.
    pub strict_mode: bool,
    /// Most calls [`crate::DB::batch`] puts into one transaction (default 1000).
    pub max_batch_size: usize,
    /// Longest a batch waits for more calls before it commits (default 10 ms).
    pub max_batch_delay: Duration,
}

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
            max_batch_size: 1000,
            max_batch_delay: Duration::from_millis(10),
        }
    }
}

impl Options {
    /// Default options with a lock timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
    /// Default options, read-only.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }
    /// Sets the page size for a new file.
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = Some(page_size);
        self
    }
    /// Sets `no_freelist_sync`.
    pub fn no_freelist_sync(mut self, on: bool) -> Self {
        self.no_freelist_sync = on;
        self
    }
    /// Sets `no_sync` (trades durability away).
    pub fn no_sync(mut self, on: bool) -> Self {
        self.no_sync = on;
        self
    }
    /// Sets `strict_mode`.
    pub fn strict_mode(mut self, on: bool) -> Self {
        self.strict_mode = on;
        self
    }
    /// Sets `max_size`.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }
}
