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
#![deny(missing_docs)]

// The layers, lowest first. A module imports only from its own layer and the layers above it
// in this list (`tests::layers` checks it): the base (errors, limits, options), the on-disk
// format, file I/O, reading committed trees, building commits, and the handles users hold.
mod commit;
mod corruption;
mod db;
mod error;
pub mod format;
pub mod io;
mod journal;
mod limits;
mod options;
pub mod tree;

pub use corruption::{Corruption, KeyMismatch, Problem};
pub use db::batch::BatchFn;
pub use db::bucket::{Bucket, BucketMut};
pub use db::compact::{compact, compact_file};
pub use db::cursor::{Cursor, KeyValue, Range};
pub use db::cursor_mut::CursorMut;
pub use db::dump;
pub use db::handle::{Info, DB};
pub use db::tx::Tx;
pub use error::{Error, PageId, Result, TxId};
pub use io::storage::{FileStorage, Storage};
pub use journal::file::JournalIo;
pub use journal::state::Recovery;
pub use limits::{DEFAULT_FILL_PERCENT, MAX_DEPTH, MAX_KEY_SIZE, MAX_NESTING, MAX_VALUE_SIZE};
pub use options::{Options, DEFAULT_ALLOC_SIZE};
pub use tree::counters::{Stats, TxStats};
pub use tree::snapshot::Snapshot;
pub use tree::stats::BucketStats;

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
