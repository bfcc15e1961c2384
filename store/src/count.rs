//! Record counts in constant time: a top-level bucket `__rivet_counts` maps each record
//! bucket's name to how many records it holds (8 bytes, big-endian).
//!
//! A write transaction keeps what its writes changed per record bucket (`Counts`) and adds it
//! to the stored counter when it commits, so the counter is exact after every commit and a
//! transaction's own `count` sees its writes. A record bucket without a counter (written by an
//! older Rivet) is counted by walking its keys; the first commit that changes it stores the
//! counter. [`crate::ReadTx::verify`] and `rivet check` compare the counter with the records.

use std::cell::RefCell;

use crate::backend::{self, Tree, Txn, TxnRef};

use crate::error::Result;

/// The name of the counts bucket.
pub const COUNTS_BUCKET: &[u8] = b"__rivet_counts";

/// The counter of record bucket `bucket`, if it has a sound one. A counter that is not 8
/// bytes, or a `__rivet_counts` that is not a bucket, counts as none: `count` walks the keys
/// and the next commit that changes the bucket stores a fresh counter.
///
/// # Errors
/// Engine errors.
pub(crate) fn stored(tx: TxnRef<'_, '_>, bucket: &str) -> Result<Option<u64>> {
    let counts = match tx.tree(COUNTS_BUCKET) {
        Ok(Some(b)) => b,
        Ok(None) => return Ok(None),
        Err(e) if backend::is_wrong_kind(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(counts.get(bucket.as_bytes())?.and_then(|v| <[u8; 8]>::try_from(v).ok()).map(u64::from_be_bytes))
}

/// How many records `records` holds, walking its keys (the backend's scans pass over the
/// index trees inside it).
///
/// # Errors
/// Engine errors.
pub(crate) fn walk(records: &Tree<'_>) -> Result<u64> {
    let mut n = 0u64;
    for item in records.iter() {
        item?;
        n += 1;
    }
    Ok(n)
}

/// The changes a write transaction made to its record buckets' counts, not yet stored.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    changes: RefCell<Vec<(&'static str, i64)>>,
}

impl Counts {
    /// Records `delta` more records in `bucket`.
    pub(crate) fn add(&self, bucket: &'static str, delta: i64) {
        let mut c = self.changes.borrow_mut();
        match c.iter_mut().find(|(b, _)| *b == bucket) {
            Some((_, d)) => *d += delta,
            None => c.push((bucket, delta)),
        }
    }

    /// The change not yet stored for `bucket`.
    pub(crate) fn pending(&self, bucket: &str) -> i64 {
        self.changes.borrow().iter().find(|(b, _)| *b == bucket).map_or(0, |(_, d)| *d)
    }

    /// Stores every change: adds it to the bucket's counter, or, for a bucket without one,
    /// counts its records (this transaction's writes included) and stores that.
    ///
    /// # Errors
    /// Engine errors.
    pub(crate) fn flush(&self, tx: &mut Txn<'_>) -> Result<()> {
        let changes = std::mem::take(&mut *self.changes.borrow_mut());
        for (bucket, delta) in changes {
            if delta == 0 {
                continue;
            }
            let n = match stored(tx.reader(), bucket)? {
                Some(n) => n.saturating_add_signed(delta),
                None => match tx.tree(bucket.as_bytes())? {
                    Some(b) => walk(&b)?,
                    None => 0,
                },
            };
            match tx.ensure_tree(COUNTS_BUCKET) {
                Ok(mut b) => b.put(bucket.as_bytes(), &n.to_be_bytes())?,
                // Something else holds the name: no counters (counts walk), writes go on.
                Err(e) if backend::is_wrong_kind(&e) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}
