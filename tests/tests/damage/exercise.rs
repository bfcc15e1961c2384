//! Everything a damaged file is put through (open, check, dump, stats, backup, compaction, small
//! write transactions, reopen), and what came of it ([`Outcome`]). Any `Err` is fine; a panic,
//! a hang, a looping cursor or writes that break a file passing `check()` are not.

use std::path::Path;

use rivet_engine::format::meta::fnv1a64;
use rivet_engine::{Error, DB};
use rivet_tests::Rng;

use crate::helpers::{ro, rw};
use crate::raw::hexs;

/// What one damaged copy did.
#[derive(Debug, Default, Clone)]
pub(crate) struct Outcome {
    pub(crate) open_failed: bool,
    pub(crate) check_problems: bool,
    pub(crate) check_err: bool,
    pub(crate) dump_err: bool,
    pub(crate) write_ok: bool,
    /// Wrong behaviour, reported as failures: a write transaction's cursor returning more items
    /// than the read transaction's did (it loops; bounded so that it does not hang the test),
    /// or writes that turn a file passing `check()` into one that fails it.
    pub(crate) wrong: Vec<String>,
}

/// Items of a bucket, read in order until the first error; `None` if an error came first.
fn count_items(b: &rivet_engine::Bucket<'_>, limit: usize) -> Option<usize> {
    let mut n = 0;
    for item in b.iter().take(limit) {
        item.ok()?;
        n += 1;
    }
    Some(n)
}

/// Opens, checks, dumps, takes stats, backs up, compacts, writes and reopens `path`; any `Err`
/// is fine.
pub(crate) fn exercise(path: &Path) -> Outcome {
    const UNKNOWN: usize = 1_000_000;
    let mut o = Outcome::default();
    // Top-level bucket names, and item counts where a read transaction could walk everything.
    let mut root_count = None;
    let mut buckets: Vec<(Vec<u8>, Option<usize>)> = Vec::new();
    match DB::open(path, ro()) {
        Err(_) => o.open_failed = true,
        Ok(db) => {
            if let Ok(tx) = db.begin(false) {
                match tx.check() {
                    Ok(p) => o.check_problems = !p.is_empty(),
                    Err(_) => o.check_err = true,
                }
                o.dump_err = rivet_engine::dump::dump_json(&tx).is_err();
                let _ = tx.root().stats();
                let _ = db.stats();
                let _ = tx.write_to(&mut std::io::sink());
                root_count = count_items(&tx.root(), UNKNOWN);
                let names: Vec<Vec<u8>> = tx
                    .root()
                    .iter()
                    .take(UNKNOWN)
                    .map_while(|r| r.ok())
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| k.to_vec())
                    .collect();
                for n in names {
                    if let Ok(b) = tx.bucket(&n) {
                        // Point lookups and seeks through the search path.
                        for k in [&b"\x00"[..], b"a", b"\xff\xff", b"\x00\x00\x00\x00\x00\x00\x01\x00"] {
                            let _ = b.get(k);
                        }
                        let _ = b.cursor().last();
                        let _ = b.range(&b"\x00\x00\x00\x00\x00\x00\x80"[..]..).take(3).count();
                        let _ = b.stats();
                        buckets.push((n, count_items(&b, UNKNOWN)));
                    }
                }
            }
        }
    }
    // Compaction reads everything through the API and writes a new file (without fsync: the
    // time limit must not depend on the disk).
    let compacted = path.with_extension("compacted");
    if let (Ok(src), Ok(dst)) = (DB::open(path, ro()), DB::open(&compacted, rw())) {
        let _ = rivet_engine::compact(&src, &dst, 1 << 20);
    }
    let _ = std::fs::remove_file(&compacted);
    let clean = !o.open_failed && !o.check_problems && !o.check_err && !o.dump_err;
    o.write_ok = write_probe(path, root_count, &buckets, &mut o.wrong);
    if o.write_ok {
        if let Ok(db) = DB::open(path, ro()) {
            if let Ok(tx) = db.begin(false) {
                let after = tx.check();
                let _ = rivet_engine::dump::dump_json(&tx);
                match after {
                    Ok(p) if clean && !p.is_empty() => {
                        o.wrong.push(format!("BROKE: the file passed check, after writes it fails: {p:?}"))
                    }
                    Err(e) if clean => o.wrong.push(format!("BROKE: the file passed check, after writes: {e}")),
                    _ => {}
                }
            }
        }
    }
    o
}

/// Small write transactions on a damaged file: iterates the root and up to four buckets (no
/// further than the read transaction got, plus one), rewrites and deletes a key in each, and
/// creates a bucket; then a second transaction puts and deletes a few dozen keys per bucket
/// (splits, merges, page reuse). Returns whether the first one committed; iterations that
/// return more items than the read transaction saw are recorded in `wrong`.
fn write_probe(
    path: &Path,
    root_count: Option<usize>,
    buckets: &[(Vec<u8>, Option<usize>)],
    wrong: &mut Vec<String>,
) -> bool {
    const UNKNOWN: usize = 1_000_000;
    let Ok(db) = DB::open(path, rw()) else { return false };
    let first = db.update(|tx| {
        if let (Some(rc), Some(n)) = (root_count, count_items(&tx.root(), root_count.unwrap_or(UNKNOWN) + 1)) {
            if n > rc {
                wrong.push(format!("LOOP: write tx: root bucket iteration gave more than {rc} items (read tx: {rc})"));
            }
        }
        for (name, count) in buckets.iter().take(4) {
            let mut b = tx.bucket_mut(name)?;
            let limit = count.unwrap_or(UNKNOWN) + 1;
            if let (Some(c), Some(n)) = (count, count_items(&b.as_bucket(), limit)) {
                if n > *c {
                    wrong.push(format!(
                        "LOOP: write tx: bucket {} iteration gave more than {c} items (read tx: {c})",
                        hexs(name)
                    ));
                }
            }
            let first = b.as_bucket().iter().next().transpose()?.map(|(k, _)| k.to_vec());
            if let Some(k) = first {
                let mut k2 = k.clone();
                k2.push(0);
                b.put(&k2, b"damage-probe")?;
                match b.delete(&k) {
                    Ok(()) | Err(Error::IncompatibleValue { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        tx.create_bucket_if_not_exists(b"damage-probe")?.put(b"k", b"v")
    });
    if first.is_err() {
        return false;
    }
    let mut rng = Rng::new(fnv1a64(path.as_os_str().as_encoded_bytes()));
    let _ = db.update(|tx| {
        for (name, count) in buckets.iter().take(4) {
            let mut b = tx.bucket_mut(name)?;
            for _ in 0..40 {
                let (k, v) = (rng.bytes_between(1, 12), rng.bytes_between(0, 300));
                match b.put(&k, &v) {
                    Ok(()) | Err(Error::IncompatibleValue { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let limit = count.unwrap_or(UNKNOWN) + 41;
            let keys: Vec<Vec<u8>> = b
                .as_bucket()
                .iter()
                .take(limit)
                .map_while(|r| r.ok())
                .filter(|(_, v)| v.is_some())
                .take(60)
                .map(|(k, _)| k.to_vec())
                .collect();
            for k in keys.iter().step_by(2) {
                b.delete(k)?;
            }
        }
        Ok::<_, Error>(())
    });
    true
}
