//! The worker side: one contender, one run, in its own process and directory.
//!
//! The driver starts `rivet-bench --worker NAME --dir DIR --n N`; the worker prints one line
//! per event on stdout, which the driver reads (and times out on):
//!
//! ```text
//! dataset <fnv-1a of all keys and values, hex>
//! begin <phase>
//! phase <phase> <nanoseconds> <operations> [<per-thread nanoseconds>...]
//! size <after_writes|final> <apparent bytes> <allocated bytes>
//! ```
//!
//! Go bbolt's worker (`bench/go/main.go`) prints the same lines, for every phase but
//! `concurrent_writes` (4 threads committing single inserts at once, Rust contenders only).

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::data::{Workload, BATCHES, BATCH_SIZE, INDIVIDUAL_WRITES, LOOKUPS, SCANS};
use crate::kv::{self, fail, Result};

/// Threads of the `concurrent_writes` phase.
const WRITER_THREADS: usize = 4;

/// Prints one protocol line (stdout is line-buffered, so the driver sees it at once).
pub fn emit(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the driver is gone: nothing useful is left to do.
    if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
        std::process::exit(3);
    }
}

/// Runs `f` as phase `name` of `ops` operations: announces it, times it, reports it.
pub fn phase(name: &str, ops: usize, f: impl FnOnce() -> Result<()>) -> Result<()> {
    emit(&format!("begin {name}"));
    let t = Instant::now();
    f().map_err(|e| format!("{name}: {e}"))?;
    let ns = t.elapsed().as_nanos();
    emit(&format!("phase {name} {ns} {ops}"));
    Ok(())
}

/// Apparent and allocated bytes of everything under `path`.
pub fn dir_size(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_dir() {
        return Ok((meta.len(), meta.blocks() * 512));
    }
    let (mut apparent, mut allocated) = (0, 0);
    for entry in std::fs::read_dir(path)? {
        let (a, b) = dir_size(&entry?.path())?;
        apparent += a;
        allocated += b;
    }
    Ok((apparent, allocated))
}

/// Reports the size of `dir` under `label`.
pub fn size(label: &str, dir: &Path) -> Result<()> {
    let (a, b) = dir_size(dir).map_err(|e| format!("measuring {}: {e}", dir.display()))?;
    emit(&format!("size {label} {a} {b}"));
    Ok(())
}

/// Generates the workload and reports its checksum.
pub fn workload(n: usize) -> Result<Workload> {
    let w = Workload::new(n);
    if !w.keys_distinct() {
        return fail("the generator produced a duplicate key");
    }
    emit(&format!("dataset {:016x}", w.checksum()));
    Ok(w)
}

/// Runs the key/value workload against contender `name` in `dir`.
///
/// # Errors
/// The contender's errors and failed answer checks.
pub fn run_kv(name: &str, dir: &Path, n: usize) -> Result<()> {
    let w = workload(n)?;
    let lookups = w.lookups();
    let starts = w.scan_starts();
    let opened = kv::open(name, dir)?;
    let db = opened.as_ref();

    phase("bulk_load", n, || db.write(&w, w.bulk()))?;
    phase("individual_writes", INDIVIDUAL_WRITES, || {
        for i in w.individual() {
            db.write(&w, i..i + 1)?;
        }
        Ok(())
    })?;
    phase("batch_writes", BATCHES * BATCH_SIZE, || {
        for b in 0..BATCHES {
            db.write(&w, w.batch(b))?;
        }
        Ok(())
    })?;
    size("after_writes", dir)?;
    let count = db.count()?;
    if count != w.total() {
        return fail(format!("after the writes: {count} entries instead of {}", w.total()));
    }

    phase("random_reads", LOOKUPS, || db.reads(&w, &lookups))?;

    emit("begin random_reads_2t");
    let (a, b) = lookups.split_at(lookups.len() / 2);
    let times: Vec<Result<Duration>> = std::thread::scope(|s| {
        let hs: Vec<_> = [a, b]
            .into_iter()
            .map(|part| {
                let w = &w;
                s.spawn(move || {
                    let t = Instant::now();
                    db.reads(w, part)?;
                    Ok(t.elapsed())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| fail("a reader thread panicked"))).collect()
    });
    let mut ns = Vec::new();
    for t in times {
        ns.push(t.map_err(|e| format!("random_reads_2t: {e}"))?.as_nanos());
    }
    let max = ns.iter().copied().max().unwrap_or(0);
    emit(&format!(
        "phase random_reads_2t {max} {LOOKUPS} {}",
        ns.iter().map(u128::to_string).collect::<Vec<_>>().join(" ")
    ));

    phase("range_scans", SCANS, || db.scans(&w, &starts))?;
    phase("removals", w.removals().len(), || db.remove(&w, w.removals()))?;

    let count = db.count()?;
    let want = w.total() - w.removals().len();
    if count != want {
        return fail(format!("after the removals: {count} entries instead of {want}"));
    }

    // Threads each committing single inserts at once (the last removed keys come back).
    let back = w.removals().end.saturating_sub(INDIVIDUAL_WRITES)..w.removals().end;
    emit("begin concurrent_writes");
    let per = back.len().div_ceil(WRITER_THREADS).max(1);
    let times: Vec<Result<Duration>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..WRITER_THREADS)
            .map(|t| {
                let (w, mine) = (&w, back.start + t * per..(back.start + (t + 1) * per).min(back.end));
                s.spawn(move || {
                    let started = Instant::now();
                    for i in mine {
                        db.write(w, i..i + 1)?;
                    }
                    Ok(started.elapsed())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| fail("a writer thread panicked"))).collect()
    });
    let mut ns = Vec::new();
    for t in times {
        ns.push(t.map_err(|e| format!("concurrent_writes: {e}"))?.as_nanos());
    }
    let max = ns.iter().copied().max().unwrap_or(0);
    emit(&format!(
        "phase concurrent_writes {max} {} {}",
        back.len(),
        ns.iter().map(u128::to_string).collect::<Vec<_>>().join(" ")
    ));
    let count = db.count()?;
    if count != want + back.len() {
        return fail(format!("after the concurrent writes: {count} entries instead of {}", want + back.len()));
    }
    for i in back.clone().step_by(97) {
        if db.get(&w.keys[i])?.as_deref() != Some(&w.values[i][..]) {
            return fail(format!("key #{i} written concurrently is missing"));
        }
    }
    for i in (0..back.start).step_by(997) {
        if db.get(&w.keys[i])?.is_some() {
            return fail(format!("removed key #{i} is still there"));
        }
    }
    for i in (w.removals().end..w.total()).step_by(997) {
        if db.get(&w.keys[i])?.as_deref() != Some(&w.values[i][..]) {
            return fail(format!("key #{i} was lost by the removals"));
        }
    }
    opened.close()?;
    size("final", dir)?;
    Ok(())
}

/// The reference for durable commits: 1,000 times, write a 4 KiB page and fdatasync, then
/// write a 4 KiB "meta" page and fdatasync (what a two-sync commit format must do at least).
///
/// # Errors
/// I/O errors.
pub fn run_sync2(dir: &Path) -> Result<()> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fdatasync.dat");
    let f = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(&path)?;
    let page = [0xA5u8; 4096];
    for i in 0..64u64 {
        f.write_all_at(&page, i * 4096)?;
    }
    f.sync_all()?;
    phase("individual_writes", INDIVIDUAL_WRITES, || {
        for i in 0..INDIVIDUAL_WRITES as u64 {
            f.write_all_at(&page, (2 + i % 62) * 4096)?;
            f.sync_data()?;
            f.write_all_at(&page, (i % 2) * 4096)?;
            f.sync_data()?;
        }
        Ok(())
    })
}
