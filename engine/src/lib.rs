//! # rivet-engine
//!
//! An embedded, single-file, ACID key/value store whose files are byte-compatible with Go
//! bbolt's format version 2: a file bbolt wrote opens here, and a file written here passes
//! bbolt's own check.
//!
//! What it promises:
//! - **Atomic and durable commits.** [`DB::update`] returns `Ok` only after the data pages and
//!   then the meta page are on disk (fdatasync each). A crash at any point leaves the previous
//!   commit or the new one, never a mix. Options that trade durability away say so.
//! - **One writer, many readers, snapshot isolation.** A read transaction sees the last commit
//!   before it began, for its whole life; the writer never overwrites a page a reader can see.
//! - **Zero-copy reads that cannot dangle.** Keys and values are slices of the memory map whose
//!   lifetime is tied to the transaction; using one after the transaction ends does not compile.
//! - **No panics on bad files.** Damage found while reading is [`Error::Corrupted`] naming the page.
//!
//! ```
//! # fn main() -> Result<(), rivet_engine::Error> {
//! # let dir = std::env::temp_dir().join(format!("rivet-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! use rivet_engine::{DB, Options};
//! let db = DB::open(dir.join("doc.db"), Options::default())?;
//! db.update(|tx| {
//!     let mut b = tx.create_bucket_if_not_exists(b"fruits")?;
//!     b.put(b"apple", b"red")
//! })?;
//! let colour = db.view(|tx| Ok::<_, rivet_engine::Error>(tx.bucket(b"fruits")?.get(b"apple")?.map(<[u8]>::to_vec)))?;
//! assert_eq!(colour.as_deref(), Some(&b"red"[..]));
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]
#![warn(missing_docs)]

pub mod backup;
mod batch;
mod bucket;
pub mod check;
mod cursor;
mod cursor_disk;
mod cursor_mut;
#[allow(unsafe_code)]
mod db;
pub mod dump;
mod error;
pub mod freelist;
pub mod layout;
#[allow(unsafe_code)]
pub mod lock;
mod merge;
pub mod meta;
#[allow(unsafe_code)]
mod mmap;
mod options;
pub mod page;
mod place;
mod spill;
mod split;
mod stats;
#[allow(unsafe_code)]
mod storage;
mod tree;
mod tx;
mod view;
mod write;

pub use backup::{compact, compact_file};
pub use batch::BatchFn;
pub use bucket::{Bucket, BucketMut};
pub use cursor::{Cursor, KeyValue, Range};
pub use cursor_mut::CursorMut;
pub use db::{Info, DB};
pub use error::{Error, PageId, Result, TxId};
pub use options::{Options, DEFAULT_ALLOC_SIZE};
pub use stats::{BucketStats, Stats, TxStats};
pub use storage::{FileStorage, Storage};
pub use tree::Snapshot;
pub use tx::Tx;

/// Longest key accepted by `put` (bbolt's `MaxKeySize`).
pub const MAX_KEY_SIZE: usize = 32768;
/// Longest value accepted by `put` (bbolt's `MaxValueSize`, 2^31 - 2).
pub const MAX_VALUE_SIZE: usize = (1 << 31) - 2;
/// Deepest nesting of buckets (a top-level bucket is at level 1). Go has no limit, but every
/// walk of a deeper file would be unbounded recursion; reads refuse trees nested past
/// `tree::MAX_DEPTH` (64) as damaged, so writes stop well before that.
pub const MAX_NESTING: usize = 48;
/// Default fill target of a split: how full the commit packs the pages it splits a node into
/// (the last two parts are balanced, so a page overflowing by one element still becomes two
/// half pages). bbolt's `DefaultFillPercent` is 0.5, which leaves every page of a bulk load
/// half empty; packing to 100 % makes the next random insert into each page split it again.
/// At 0.9 a bulk load is 1.8x denser than bbolt's (a smaller file, fewer pages per lookup) and
/// a page still takes a few inserts before it splits. Files are the same format either way.
pub const DEFAULT_FILL_PERCENT: f64 = 0.9;

/// Values read in a transaction cannot outlive it:
///
/// ```compile_fail
/// use rivet_engine::{DB, Options};
/// let db = DB::open("never-created.db", Options::default()).unwrap();
/// let value = {
///     let tx = db.begin(false).unwrap();
///     tx.bucket(b"b").unwrap().get(b"k").unwrap() // borrows `tx`
/// }; // `tx` ends here, so `value` would dangle: this does not compile
/// println!("{value:?}");
/// ```
///
/// and a write cannot happen while a value read from the same bucket is still in use:
///
/// ```compile_fail
/// use rivet_engine::{DB, Options};
/// let db = DB::open("never-created.db", Options::default()).unwrap();
/// let mut tx = db.begin(true).unwrap();
/// let mut b = tx.bucket_mut(b"b").unwrap();
/// let v = b.get(b"k").unwrap();
/// b.put(b"k", b"new").unwrap(); // `v` still borrows `b`: this does not compile
/// println!("{v:?}");
/// ```
#[doc(hidden)]
pub mod lifetimes_are_checked {}
