//! Compaction: copies every bucket, nested bucket, sequence and key into a fresh database,
//! committing every `tx_max_size` bytes, with buckets filled to 100 % (the pages of a fresh
//! copy are never split again by later appends of the copy itself).

use std::path::Path;

use crate::commit::view::Src;
use crate::corruption::Corruption;
use crate::db::bucket::{Bucket, BucketMut};
use crate::db::cursor::Range;
use crate::db::handle::DB;
use crate::db::tx::Tx;
use crate::error::{Error, PageId, Result};
use crate::format::bucket::{DiskBucket, DiskRoot};
use crate::options::Options;

/// Copies everything in `src` into `dst` (which should be empty), committing whenever about
/// `tx_max_size` bytes of keys and values were written (0: one transaction). Returns the number
/// of values copied (the keys that name nested buckets are not counted).
///
/// The copy holds the same buckets, nested buckets, sequences, keys and values, in pages packed
/// full and laid out afresh, without the free pages `src` has collected: usually a smaller file.
/// `src` is read in one read transaction, so writers of `src` can go on meanwhile (the copy is
/// of the moment `compact` began). [`compact_file`] does the same from path to path.
///
/// # Errors
/// Any error of reading `src` ([`Error::Corrupted`] for a damaged page, and for a bucket whose
/// keys do not ascend strictly: a copy would drop or reorder them) or of writing to `dst`
/// ([`Error::DatabaseReadOnly`], [`Error::BucketExists`] if `dst` already has one of the
/// buckets, [`Error::MaxSizeReached`], [`Error::Io`], ...). What was committed before the error
/// stays in `dst`: a prefix of the copy.
///
/// # Example
/// ```
/// # let dir = std::env::temp_dir().join(format!("rivet-doc-compact-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # std::fs::create_dir_all(&dir).unwrap();
/// use rivet_engine::{compact, Error, Options, DB};
/// let src = DB::open(dir.join("src.db"), Options::default())?;
/// src.update(|tx| {
///     let mut b = tx.create_bucket(b"log")?;
///     for i in 0..5000u32 {
///         b.put(&i.to_be_bytes(), &[7; 200])?;
///     }
///     b.create_bucket(b"meta")?.set_sequence(42)
/// })?;
/// src.update(|tx| {
///     let mut b = tx.bucket_mut(b"log")?;
///     for i in 100..5000u32 {
///         b.delete(&i.to_be_bytes())?; // the file keeps its size; the pages become free
///     }
///     Ok::<_, Error>(())
/// })?;
/// let dst = DB::open(dir.join("dst.db"), Options::default())?;
/// let copied = compact(&src, &dst, 64 * 1024)?; // commit every 64 KiB of data
/// assert_eq!(copied, 100);
/// dst.view(|tx| {
///     let log = tx.bucket(b"log")?;
///     assert_eq!(log.get(&7u32.to_be_bytes())?, Some(&[7; 200][..]));
///     assert_eq!(log.bucket(b"meta")?.sequence(), 42);
///     Ok::<_, Error>(())
/// })?;
/// assert!(dst.info().meta.pgid < src.info().meta.pgid); // fewer pages in use
/// # Ok::<(), Error>(())
/// ```
pub fn compact(src: &DB, dst: &DB, tx_max_size: u64) -> Result<u64> {
    let rtx = src.begin(false)?;
    let mut c = Compactor { dst, wtx: Some(dst.begin(true)?), pending: 0, max: tx_max_size, keys: 0 };
    c.copy_all(rtx.root())?;
    if let Some(tx) = c.wtx.take() {
        tx.commit()?;
    }
    Ok(c.keys)
}

/// Opens `src_path` read-only, creates `dst_path` with the same page size, and compacts into
/// it (see [`compact`]). Returns `(source size, destination size)` in bytes: the sizes of the
/// two files on disk once done, the destination trimmed to its data when it is closed.
///
/// `src_path` is opened with a shared lock, so others can go on reading it but none can write it
/// meanwhile, and opening it waits as long as a writer has it open: close a read-write handle
/// of it in this process first (or use [`compact`] with that handle).
///
/// # Errors
/// [`Error::Io`] with the kind [`AlreadyExists`](std::io::ErrorKind::AlreadyExists) if
/// `dst_path` exists (it is never overwritten); any error of [`DB::open`] for either file (the
/// source must be an existing database); any error of [`compact`], after which `dst_path`
/// holds a prefix of the copy.
///
/// # Example
/// ```
/// # let dir = std::env::temp_dir().join(format!("rivet-doc-compact-file-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// # std::fs::create_dir_all(&dir).unwrap();
/// use rivet_engine::{compact_file, Error, Options, DB};
/// let db = DB::open(dir.join("big.db"), Options::default())?;
/// db.update(|tx| {
///     let mut b = tx.create_bucket(b"b")?;
///     for i in 0..20_000u32 {
///         b.put(&i.to_be_bytes(), &[1; 100])?;
///     }
///     Ok::<_, Error>(())
/// })?;
/// db.update(|tx| tx.delete_bucket(b"b"))?;
/// db.update(|tx| tx.create_bucket(b"small")?.put(b"k", b"v"))?;
/// db.close()?;
/// let (before, after) = compact_file(dir.join("big.db"), dir.join("small.db"), 0)?;
/// assert!(after < before, "{after} < {before}");
/// assert_eq!(after, std::fs::metadata(dir.join("small.db")).unwrap().len());
/// let small = DB::open(dir.join("small.db"), Options::default().read_only(true))?;
/// assert_eq!(small.view(|tx| tx.bucket(b"small")?.get(b"k").map(|v| v.is_some()))?, true);
/// // The destination must not exist.
/// assert!(compact_file(dir.join("big.db"), dir.join("small.db"), 0).is_err());
/// # Ok::<(), Error>(())
/// ```
pub fn compact_file(src_path: impl AsRef<Path>, dst_path: impl AsRef<Path>, tx_max_size: u64) -> Result<(u64, u64)> {
    let src = DB::open(src_path.as_ref(), Options::default().read_only(true))?;
    if dst_path.as_ref().exists() {
        return Err(Error::Io {
            op: "create",
            path: dst_path.as_ref().to_path_buf(),
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        });
    }
    let dst = DB::open(dst_path.as_ref(), Options::default().page_size(src.info().page_size))?;
    compact(&src, &dst, tx_max_size)?;
    // Closing cuts the copy back to its data: the size reported is the size it keeps.
    dst.close()?;
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Ok((size(src_path.as_ref()), size(dst_path.as_ref())))
}

/// The page to name for damage found in `b`'s tree: its root page (0 for an inline bucket or
/// one this transaction wrote).
fn root_page(b: &Bucket<'_>) -> PageId {
    match b.src {
        Src::Disk(DiskBucket { root: DiskRoot::Paged(id), .. }) => id,
        _ => 0,
    }
}

struct Compactor<'d> {
    dst: &'d DB,
    wtx: Option<Tx<'d>>,
    pending: u64,
    max: u64,
    keys: u64,
}

impl<'d> Compactor<'d> {
    fn tx(&mut self) -> Result<&mut Tx<'d>> {
        if self.wtx.is_none() {
            self.wtx = Some(self.dst.begin(true)?);
        }
        self.wtx.as_mut().ok_or(Error::TxClosed)
    }

    fn account(&mut self, bytes: u64) -> Result<()> {
        self.pending += bytes;
        if self.max > 0 && self.pending >= self.max {
            if let Some(tx) = self.wtx.take() {
                tx.commit()?;
            }
            self.pending = 0;
        }
        Ok(())
    }

    /// Copies `root` and every bucket below it. The descent keeps its own stack, one
    /// [`Level`] per nesting level, instead of recursing: 48 nested buckets need a few hundred
    /// bytes of heap each, not a native frame each (too much for a 256 KiB thread in a debug
    /// build).
    fn copy_all<'a>(&mut self, root: Bucket<'a>) -> Result<()> {
        let mut path: Vec<Vec<u8>> = Vec::new();
        let mut stack = vec![Level::new(root)];
        while let Some(level) = stack.last_mut() {
            let Some(item) = level.items.next() else {
                stack.pop();
                path.pop();
                continue;
            };
            let (k, v) = item?;
            level.ascending(k)?;
            match v {
                Some(v) => {
                    let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                    let mut b = self.tx()?.bucket_path_mut(&refs)?;
                    b.set_fill_percent(1.0);
                    b.put(k, v)?;
                    self.keys += 1;
                    self.account((k.len() + v.len()) as u64)?;
                }
                None => {
                    let child = level.bucket.listed_bucket(k)?;
                    {
                        let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                        let tx = self.tx()?;
                        let mut nb = if refs.is_empty() {
                            tx.create_bucket(k)?
                        } else {
                            let mut parent = tx.bucket_path_mut(&refs)?;
                            parent.set_fill_percent(1.0);
                            let id = parent.create_bucket(k)?.id;
                            BucketMut { w: parent.w, id }
                        };
                        nb.set_sequence(child.sequence())?;
                    }
                    self.account(k.len() as u64)?;
                    path.push(k.to_vec());
                    stack.push(Level::new(child));
                }
            }
        }
        Ok(())
    }
}

/// One bucket being copied: the bucket, its items still to copy, and the last key copied.
struct Level<'a> {
    bucket: Bucket<'a>,
    items: Range<'a>,
    last: Option<Vec<u8>>,
}

impl<'a> Level<'a> {
    fn new(bucket: Bucket<'a>) -> Self {
        let items = bucket.iter();
        Level { bucket, items, last: None }
    }

    /// Keys must ascend strictly: a leaf holding a key twice, or keys out of order, would
    /// otherwise come out of the copy deduplicated or sorted, silently changing the content.
    /// (Iteration checks the order only where it crosses pages.)
    fn ascending(&mut self, k: &[u8]) -> Result<()> {
        match &mut self.last {
            Some(last) if k <= last.as_slice() => {
                Err(Error::corrupted(root_page(&self.bucket), Corruption::KeysNotAscending { across_pages: false }))
            }
            Some(last) => {
                last.clear();
                last.extend_from_slice(k);
                Ok(())
            }
            None => {
                self.last = Some(k.to_vec());
                Ok(())
            }
        }
    }
}
