//! Hot backup and compaction.
//!
//! A backup is taken from a read transaction while writers go on: the two meta pages are
//! generated from the transaction's meta (txid `t` in page 0, `t - 1` in page 1, as bbolt's
//! `WriteTo` does) and every other page below the high-water mark is copied with `pread` (not
//! through the map, so pages the writer reuses meanwhile are plain bytes, never a live slice).
//! Pages reachable from the snapshot cannot change while the transaction is open, so the copy
//! is a consistent database of exactly `tx.size()` bytes. The writer is never blocked.
//!
//! Compaction copies every bucket, nested bucket, sequence and key into a fresh database,
//! committing every `tx_max_size` bytes, with buckets filled to 100 % (the pages of a fresh
//! copy are never split again by later appends of the copy itself).

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::db::bucket::Bucket;
use crate::db::handle::DB;
use crate::db::tx::Tx;
use crate::error::{Error, Result};
use crate::options::Options;

impl Tx<'_> {
    /// Writes a consistent copy of this transaction's snapshot to `w` and returns the number of
    /// bytes written: [`Tx::size`], padded with zeros to 4096 bytes for tiny page sizes (Go
    /// refuses shorter files).
    ///
    /// # Errors
    /// [`Error::Io`] if reading the database or writing to `w` fails.
    pub fn write_to<W: Write>(&self, w: &mut W) -> Result<u64> {
        let meta = self.meta();
        let ps = u64::from(meta.page_size);
        let io = |op: &'static str| {
            let path = self.db().path().to_path_buf();
            move |source| Error::Io { op, path, source }
        };
        let mut m0 = meta;
        m0.checksum = 0;
        w.write_all(&m0.encode_page(0, ps as usize)).map_err(io("backup write"))?;
        let mut m1 = m0;
        m1.txid = meta.txid.saturating_sub(1);
        w.write_all(&m1.encode_page(1, ps as usize)).map_err(io("backup write"))?;
        let end = self.size();
        let file = self.db().file();
        // Go refuses files under 4096 bytes (tiny page sizes): pad such a copy with zeros.
        let padded = end.max(4096);
        let mut buf = vec![0u8; (1 << 20).max(ps as usize)];
        let mut off = 2 * ps;
        while off < end {
            let n = (end - off).min(buf.len() as u64) as usize;
            file.read_exact_at(&mut buf[..n], off).map_err(io("backup read"))?;
            w.write_all(&buf[..n]).map_err(io("backup write"))?;
            off += n as u64;
        }
        if padded > end {
            w.write_all(&vec![0u8; (padded - end) as usize]).map_err(io("backup write"))?;
        }
        Ok(padded)
    }

    /// Writes a consistent copy of this snapshot to a new file at `path` and syncs it.
    ///
    /// # Errors
    /// [`Error::Io`], including when `path` already exists.
    pub fn copy_file(&self, path: impl AsRef<Path>) -> Result<u64> {
        let path = path.as_ref();
        let io = |op: &'static str| move |source| Error::Io { op, path: path.to_path_buf(), source };
        let mut f = File::options().write(true).create_new(true).open(path).map_err(io("create backup"))?;
        let n = {
            let mut bw = std::io::BufWriter::with_capacity(1 << 20, &mut f);
            let n = self.write_to(&mut bw)?;
            bw.flush().map_err(io("write backup"))?;
            n
        };
        f.sync_all().map_err(io("sync backup"))?;
        // Make the new directory entry durable too.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir).and_then(|d| d.sync_all()).map_err(io("sync backup directory"))?;
        }
        Ok(n)
    }
}

/// Copies everything in `src` into `dst` (which should be empty), committing whenever about
/// `tx_max_size` bytes of keys and values were written (0: one transaction). Returns the number
/// of keys copied.
///
/// # Errors
/// Any read or write error; `dst` then holds a prefix of the copy.
pub fn compact(src: &DB, dst: &DB, tx_max_size: u64) -> Result<u64> {
    let rtx = src.begin(false)?;
    let mut c = Compactor { dst, wtx: Some(dst.begin(true)?), pending: 0, max: tx_max_size, keys: 0 };
    let mut path: Vec<Vec<u8>> = Vec::new();
    c.bucket(&rtx.root(), &mut path)?;
    if let Some(tx) = c.wtx.take() {
        tx.commit()?;
    }
    Ok(c.keys)
}

/// Opens `src_path` read-only, creates `dst_path` with the same page size, and compacts into
/// it. Returns `(source size, destination size)` in bytes.
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
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    Ok((size(src_path.as_ref()), size(dst_path.as_ref())))
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

    fn bucket(&mut self, src: &Bucket<'_>, path: &mut Vec<Vec<u8>>) -> Result<()> {
        for item in src.iter() {
            let (k, v) = item?;
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
                    let child = src.listed_bucket(k)?;
                    {
                        let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
                        let tx = self.tx()?;
                        let mut nb = if refs.is_empty() {
                            tx.create_bucket(k)?
                        } else {
                            let mut parent = tx.bucket_path_mut(&refs)?;
                            parent.set_fill_percent(1.0);
                            let id = parent.create_bucket(k)?.id;
                            crate::db::bucket::BucketMut { w: parent.w, id }
                        };
                        nb.set_sequence(child.sequence())?;
                    }
                    self.account(k.len() as u64)?;
                    path.push(k.to_vec());
                    self.bucket(&child, path)?;
                    path.pop();
                }
            }
        }
        Ok(())
    }
}
