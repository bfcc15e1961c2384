//! Reliability scenarios shared by the bounded tests (`tests/tests/crash.rs`) and the
//! `torture` binary that runs them for a time budget: simulated power loss at every I/O
//! boundary, injected I/O errors, and exhaustive meta damage.

use std::sync::{Arc, Mutex};

use rivet_engine::{Error, Options, DB};

use crate::faults::{crash_image, Fault, FaultPlan, FaultStorage, Op, Recorder, Which};
use crate::{random_mix, Rng};

/// The dump of a database with no buckets.
pub const EMPTY_DUMP: &str = "{\"sequence\":0,\"entries\":[]}\n";

/// One run of a workload through a recording storage.
#[derive(Debug, Clone)]
pub struct Recording {
    /// Every mutation of the file, in order.
    pub log: Vec<Op>,
    /// For each commit: log length before and after it, and the dump after it.
    pub commits: Vec<(usize, usize, String)>,
    /// Log length once the database file was created.
    pub created: usize,
}

impl Recording {
    /// The dumps a database may show after a crash following the first `k` operations: the
    /// last acknowledged commit, or the commit in flight, fully applied.
    pub fn acceptable(&self, k: usize) -> Vec<&str> {
        let mut ok = vec![EMPTY_DUMP];
        for (start, end, dump) in &self.commits {
            if *end <= k {
                ok = vec![dump.as_str()];
            } else if *start < k {
                ok.push(dump.as_str());
            }
        }
        ok
    }
}

/// Options used by the scenarios (small pages so trees get deep quickly).
pub fn scenario_options(seed: u64) -> Options {
    Options::default().page_size(if seed.is_multiple_of(2) { 1024 } else { 4096 }).no_freelist_sync(seed % 5 == 4)
}

/// Runs `txs` random transactions on a new database at `path`, recording every mutation.
pub fn record(path: &std::path::Path, seed: u64, txs: usize) -> Recording {
    let rec = Arc::new(Mutex::new(Recorder::default()));
    let r2 = rec.clone();
    let opts = scenario_options(seed);
    let db = DB::open_with_storage(path, opts, move |f| Box::new(FaultStorage::new(f, r2))).expect("open recording db");
    let created = rec.lock().map(|r| r.log.len()).unwrap_or(0);
    let mut commits = Vec::new();
    for t in 0..txs {
        let start = rec.lock().map(|r| r.log.len()).unwrap_or(0);
        random_mix(&db, seed.wrapping_mul(1000) + t as u64, 1, 12);
        let end = rec.lock().map(|r| r.log.len()).unwrap_or(0);
        let dump = rivet_engine::dump::dump_json(&db.begin(false).expect("begin")).expect("dump");
        commits.push((start, end, dump));
    }
    drop(db);
    // Without journal mode every operation is the database file's, so the indices above hold.
    let log = rec.lock().map(|r| Recorder::ops_of(&r.log, Which::Db)).unwrap_or_default();
    Recording { log, commits, created }
}

/// Opens a crash image and checks it; `Err` describes what is wrong.
pub fn verify_image(path: &std::path::Path, image: &[u8], acceptable: &[&str]) -> Result<(), String> {
    std::fs::write(path, image).map_err(|e| e.to_string())?;
    let db = DB::open(path, Options::default()).map_err(|e| format!("open failed: {e}"))?;
    let tx = db.begin(false).map_err(|e| e.to_string())?;
    let problems = tx.check().map_err(|e| e.to_string())?;
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(format!("check: {lines:?}"));
    }
    let dump = rivet_engine::dump::dump_json(&tx).map_err(|e| e.to_string())?;
    if !acceptable.contains(&dump.as_str()) {
        return Err(format!(
            "content is neither the last acknowledged commit nor the one in flight ({} options)",
            acceptable.len()
        ));
    }
    Ok(())
}

/// Simulated power loss: for every operation boundary of a recorded workload, `per_boundary`
/// random crash images. Returns the number of images verified; panics with the seed on the
/// first failure.
pub fn power_loss(dir: &std::path::Path, seed: u64, txs: usize, per_boundary: usize) -> usize {
    let rec = record(&dir.join(format!("rec-{seed}.db")), seed, txs);
    let img = dir.join(format!("img-{seed}.db"));
    let mut rng = Rng::new(seed ^ 0xC0FFEE);
    let mut n = 0;
    for k in 0..=rec.log.len() {
        let ok = rec.acceptable(k);
        for _ in 0..per_boundary {
            let image = crash_image(&rec.log, k, &mut rng);
            if let Err(e) = verify_image(&img, &image, &ok) {
                panic!("power loss after operation {k} of {} (seed {seed}): {e}", rec.log.len());
            }
            n += 1;
        }
    }
    n
}

/// Every fault at every operation of a workload: the failing call returns an error, nothing
/// panics, a failed sync poisons the handle, and after reopening the state is the last
/// acknowledged commit or the one in flight. Returns the number of runs.
pub fn io_errors(dir: &std::path::Path, seed: u64, txs: usize) -> usize {
    let reference = record(&dir.join(format!("ref-{seed}.db")), seed, txs);
    let total = reference.log.len();
    let mut runs = 0;
    for fault in [Fault::Eio, Fault::NoSpace, Fault::ShortWrite, Fault::SyncFails] {
        for once in [true, false] {
            for at in reference.created..total {
                let path = dir.join(format!("fault-{seed}.db"));
                let _ = std::fs::remove_file(&path);
                let rec = Arc::new(Mutex::new(Recorder::default()));
                let r2 = rec.clone();
                let db =
                    DB::open_with_storage(&path, scenario_options(seed), move |f| Box::new(FaultStorage::new(f, r2)))
                        .expect("open");
                rec.lock().expect("lock").plan = Some(FaultPlan { at, once, fault });
                let mut acked = EMPTY_DUMP.to_string();
                let mut in_flight = None;
                for t in 0..txs {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        try_mix(&db, seed.wrapping_mul(1000) + t as u64)
                    }));
                    match r {
                        Err(_) => panic!("panic under fault {fault:?} at {at} once={once} (seed {seed})"),
                        Ok(Ok(())) => {
                            acked = rivet_engine::dump::dump_json(&db.begin(false).expect("begin")).expect("dump");
                        }
                        Ok(Err(e)) => {
                            in_flight = Some(reference.commits[t].2.clone());
                            assert!(matches!(e, Error::Io { .. }), "fault {fault:?} gave {e} (seed {seed})");
                            assert!(
                                matches!(db.begin(true), Err(Error::Poisoned)),
                                "a failed commit must poison the handle (seed {seed})"
                            );
                            break;
                        }
                    }
                }
                drop(db);
                let mut ok = vec![acked.as_str()];
                if let Some(f) = &in_flight {
                    ok.push(f.as_str());
                }
                let image = std::fs::read(&path).expect("read");
                if let Err(e) = verify_image(&dir.join(format!("fault-img-{seed}.db")), &image, &ok) {
                    panic!("after fault {fault:?} at op {at} (once={once}, seed {seed}): {e}");
                }
                runs += 1;
            }
        }
    }
    runs
}

/// One random transaction, returning the commit's error.
fn try_mix(db: &DB, seed: u64) -> Result<(), Error> {
    crate::try_random_mix(db, seed, 1, 12)
}

/// Changes every byte of the first `span` bytes of both meta pages to every other value and
/// opens the file each time: a change to checksummed bytes must never be trusted; the database
/// opens at the other meta (or the same one, for bytes outside the checksum) or fails cleanly.
/// Returns the number of opens.
pub fn meta_damage(dir: &std::path::Path, span: usize) -> usize {
    let path = dir.join("meta.db");
    let _ = std::fs::remove_file(&path);
    {
        let db = DB::open(&path, Options::default().page_size(4096)).expect("open");
        for i in 0..3u8 {
            db.update(|tx| tx.create_bucket_if_not_exists(b"b")?.put(&[i], &[i])).expect("commit");
        }
    }
    let original = std::fs::read(&path).expect("read");
    let newest = DB::open(&path, Options::default().read_only(true)).expect("open").info().meta.txid;
    let older = newest - 1;
    let mut opens = 0;
    let f = std::fs::OpenOptions::new().write(true).open(&path).expect("open rw");
    use std::os::unix::fs::FileExt;
    for page in 0..2u64 {
        for off in 0..span as u64 {
            let at = page * 4096 + off;
            let orig = original[at as usize];
            for v in 0..=255u8 {
                if v == orig {
                    continue;
                }
                f.write_all_at(&[v], at).expect("write");
                let r = std::panic::catch_unwind(|| {
                    DB::open(&path, Options::default().read_only(true)).map(|d| d.info().meta.txid)
                });
                // The newest meta (page newest % 2) loses trust when its checksummed bytes
                // change; then the older one must be used. Other bytes change nothing.
                let expected = if page == newest % 2 && (16..80).contains(&off) { older } else { newest };
                match r {
                    Err(_) => panic!("panic opening with byte {at} = {v:#04x}"),
                    Ok(Ok(txid)) => assert_eq!(txid, expected, "byte {at} = {v:#04x}"),
                    Ok(Err(e)) => panic!("byte {at} = {v:#04x}: open failed although a valid meta remains: {e}"),
                }
                opens += 1;
            }
            f.write_all_at(&[orig], at).expect("restore");
        }
    }
    opens
}

/// Opens, checks, dumps and writes to a damaged file; every step must return (Ok or a clean
/// error) without panicking. Returns `Err` with a description on a panic.
pub fn survive(path: &std::path::Path) -> Result<(), String> {
    let r = std::panic::catch_unwind(|| {
        for ro in [true, false] {
            let Ok(db) = DB::open(path, Options::default().read_only(ro)) else { continue };
            if let Ok(tx) = db.begin(false) {
                let _ = tx.check();
                let _ = rivet_engine::dump::dump_json(&tx);
                let _ = tx.root().iter().count();
            }
            if !ro {
                let _ = db.update(|tx| {
                    let mut b = tx.create_bucket_if_not_exists(b"torture")?;
                    b.put(b"k", &[1u8; 300])?;
                    let names: Vec<Vec<u8>> =
                        tx.root().iter().filter_map(|r| r.ok()).map(|(k, _)| k.to_vec()).collect();
                    for n in names.iter().take(3) {
                        if let Ok(mut b) = tx.bucket_mut(n) {
                            let _ = b.put(b"\x00new", b"v");
                            let _ = b.delete(b"\x00new");
                        }
                    }
                    Ok::<_, Error>(())
                });
            }
        }
    });
    r.map_err(|p| {
        p.downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Random damage to data pages (and, sometimes, to meta fields with the checksum recomputed so
/// the damage is trusted). Returns the number of damaged files survived; panics on a failure.
pub fn mutations(dir: &std::path::Path, source: &[u8], seed: u64, count: usize) -> usize {
    let mut rng = Rng::new(seed);
    let path = dir.join(format!("mut-{seed}.db"));
    let ps = {
        match rivet_engine::format::meta::Meta::decode(source, 0) {
            Ok(m) if m.validate().is_ok() => m.page_size as usize,
            _ => 4096,
        }
    };
    for i in 0..count {
        let mut bytes = source.to_vec();
        let n = 1 + rng.below(8) as usize;
        for _ in 0..n {
            if bytes.len() <= 2 * ps {
                break;
            }
            let at = 2 * ps + rng.below((bytes.len() - 2 * ps) as u64) as usize;
            bytes[at] = match rng.below(3) {
                0 => 0,
                1 => 0xFF,
                _ => rng.next_u64() as u8,
            };
        }
        if rng.below(5) == 0 {
            // Damage a meta field of both metas, then make the checksums agree.
            for page in 0..2 {
                let base = page * ps;
                let field = 16 + 8 + 8 * rng.below(6) as usize; // page_size .. txid region
                if base + field + 8 <= bytes.len() {
                    bytes[base + field + rng.below(8) as usize] = rng.next_u64() as u8;
                    let sum = rivet_engine::format::meta::fnv1a64(&bytes[base + 16..base + 72]);
                    bytes[base + 72..base + 80].copy_from_slice(&sum.to_le_bytes());
                }
            }
        }
        std::fs::write(&path, &bytes).expect("write mutated file");
        let started = std::time::Instant::now();
        if let Err(e) = survive(&path) {
            panic!("panic on mutated file #{i} (seed {seed}): {e}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "mutated file #{i} (seed {seed}) took too long"
        );
    }
    count
}

/// Every truncation length of `source` (step `step`): open, check, dump and write survive.
pub fn truncations(dir: &std::path::Path, source: &[u8], step: usize) -> usize {
    let path = dir.join("trunc.db");
    let mut n = 0;
    for len in (0..source.len()).step_by(step.max(1)) {
        std::fs::write(&path, &source[..len]).expect("write truncated file");
        if let Err(e) = survive(&path) {
            panic!("panic on a file truncated to {len} bytes: {e}");
        }
        n += 1;
    }
    n
}
