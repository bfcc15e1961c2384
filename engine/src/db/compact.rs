//! Compaction: copies every bucket, nested bucket, sequence and key into a fresh database,
//! committing every `tx_max_size` bytes, with buckets filled to 100 % (the pages of a fresh
//! copy are never split again by later appends of the copy itself).

use std::path::Path;

use crate::db::bucket::{Bucket, BucketMut};
use crate::db::handle::DB;
use crate::db::tx::Tx;
use crate::error::{Error, Result};
use crate::options::Options;

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
    // Closing cuts the copy back to its data: the size reported is the size it keeps.
    dst.close()?;
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
                            BucketMut { w: parent.w, id }
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
