//! Shared helpers for the cross-crate suites in `tests/tests/`: fixture paths, scratch
//! directories, a seeded random source, the engine's canonical dump, and the Go interop tool.

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod child;
pub mod craft;
pub mod faults;
pub mod journal_torture;
pub mod kill;
pub mod torture;

use rivet_engine::{Options, DB};

/// The directory of the Go-written fixtures: `tests/fixtures/bbolt` (made by
/// `interop/make-fixtures.sh`), or `RIVET_FIXTURES` if set.
pub fn fixtures_dir() -> PathBuf {
    if let Ok(d) = std::env::var("RIVET_FIXTURES") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/bbolt")
}

/// Every fixture database (`NAME.db`), sorted by name.
pub fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap_or_else(|e| panic!("fixtures directory {} is missing: {e}", fixtures_dir().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures found in {}", fixtures_dir().display());
    v
}

/// A fresh scratch directory, removed on drop.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rivet-test-").tempdir().expect("cannot create a temp dir")
}

/// A fresh scratch directory in memory (`/dev/shm`) when the machine has one, else as
/// [`scratch`]: for suites that write and check many files whose durability is not under test
/// (crash images), where the syncs of the checking opens would cost more than the checks.
pub fn scratch_in_memory() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::Builder::new().prefix("rivet-test-").tempdir_in(shm) {
            return d;
        }
    }
    scratch()
}

/// Copies a fixture into `dir` (writable) and returns the copy's path.
pub fn copy_fixture(fixture: &Path, dir: &Path) -> PathBuf {
    let to = dir.join(fixture.file_name().expect("fixture name"));
    std::fs::copy(fixture, &to).expect("copy fixture");
    let mut perm = std::fs::metadata(&to).expect("stat").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(&to, perm).expect("chmod");
    to
}

/// The engine's canonical dump of a file (opened read-only).
pub fn rust_dump(path: &Path) -> String {
    let db = DB::open(path, Options::default().read_only(true)).expect("open for dump");
    let tx = db.begin(false).expect("begin");
    rivet_engine::dump::dump_json(&tx).expect("dump")
}

/// The seed for a randomized test: `RIVET_SEED` if set, else `default`. Prints it.
pub fn seed(default: u64) -> u64 {
    let s = std::env::var("RIVET_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    eprintln!("seed = {s} (replay with RIVET_SEED={s})");
    s
}

/// A small deterministic random source (SplitMix64) for reproducible workloads.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// Between `min` and `min + extra - 1` random bytes.
    pub fn bytes_between(&mut self, min: usize, extra: u64) -> Vec<u8> {
        let len = min + self.below(extra.max(1)) as usize;
        self.bytes(len)
    }
    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// The Go interop tool, if available: `RIVET_BBOLT_TOOL`, else `target/interop/bbolt-tool`.
pub fn bbolt_tool() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("RIVET_BBOLT_TOOL") {
        return Some(PathBuf::from(p));
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop/bbolt-tool");
    p.exists().then_some(p)
}

/// The Go interop tool, or a panic that says how to get it.
pub fn require_bbolt_tool() -> PathBuf {
    bbolt_tool().expect(
        "Go bbolt-tool not found: run `interop/install.sh` (builds target/interop/bbolt-tool) or set RIVET_BBOLT_TOOL",
    )
}

/// Runs `bbolt-tool ARGS...` and returns (success, stdout + stderr).
pub fn run_tool(args: &[&str]) -> (bool, String) {
    let out = Command::new(require_bbolt_tool()).args(args).output().expect("run bbolt-tool");
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), s)
}

/// Asserts that Go's check accepts the file.
pub fn assert_go_check(path: &Path) {
    let (ok, out) = run_tool(&["check", path.to_str().expect("utf-8 path")]);
    assert!(ok, "Go bbolt check failed on {}:\n{}", path.display(), out);
}

/// Go's canonical dump of a file.
pub fn go_dump(path: &Path) -> String {
    let out = Command::new(require_bbolt_tool())
        .args(["dump", path.to_str().expect("utf-8 path")])
        .output()
        .expect("run bbolt-tool dump");
    assert!(out.status.success(), "Go dump failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 dump")
}

/// All bucket paths in a transaction's view (root excluded), depth first.
pub fn bucket_paths(tx: &rivet_engine::Tx<'_>) -> Vec<Vec<Vec<u8>>> {
    fn walk(b: rivet_engine::Bucket<'_>, path: &mut Vec<Vec<u8>>, out: &mut Vec<Vec<Vec<u8>>>) {
        for item in b.iter() {
            let (k, v) = item.expect("iterate");
            if v.is_none() {
                path.push(k.to_vec());
                out.push(path.clone());
                walk(b.bucket(k).expect("nested bucket"), path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    walk(tx.root(), &mut Vec::new(), &mut out);
    out
}

/// Applies a deterministic random mix of writes in `txs` transactions: puts (small, large and
/// overflow-sized values), overwrites, deletes, bucket creates and deletes at any depth, and
/// sequence changes.
pub fn random_mix(db: &DB, seed: u64, txs: usize, ops_per_tx: usize) {
    try_random_mix(db, seed, txs, ops_per_tx).expect("random mix transaction");
}

/// [`random_mix`], returning the first transaction's error instead of panicking.
pub fn try_random_mix(db: &DB, seed: u64, txs: usize, ops_per_tx: usize) -> Result<(), rivet_engine::Error> {
    let mut rng = Rng::new(seed);
    for _ in 0..txs {
        db.update(|tx| {
            let mut paths = bucket_paths(tx);
            for _ in 0..ops_per_tx {
                let op = rng.below(100);
                if paths.is_empty() || op < 6 {
                    let name = rng.bytes_between(1, 12);
                    if paths.is_empty() || rng.below(2) == 0 {
                        let _ = tx.create_bucket_if_not_exists(&name)?;
                    } else {
                        let p = &paths[rng.below(paths.len() as u64) as usize];
                        let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
                        let mut b = tx.bucket_path_mut(&refs)?;
                        match b.create_bucket(&name) {
                            Ok(_)
                            | Err(rivet_engine::Error::BucketExists)
                            | Err(rivet_engine::Error::IncompatibleValue { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    paths = bucket_paths(tx);
                    continue;
                }
                let p = paths[rng.below(paths.len() as u64) as usize].clone();
                let refs: Vec<&[u8]> = p.iter().map(Vec::as_slice).collect();
                if op < 8 && paths.len() > 1 {
                    // Delete a bucket (and all it holds).
                    let (last, parent) = refs.split_last().expect("non-empty path");
                    if parent.is_empty() {
                        tx.delete_bucket(last)?;
                    } else {
                        tx.bucket_path_mut(parent)?.delete_bucket(last)?;
                    }
                    paths = bucket_paths(tx);
                    continue;
                }
                let mut b = tx.bucket_path_mut(&refs)?;
                match op {
                    8..=11 => {
                        b.next_sequence()?;
                    }
                    12 => b.set_sequence(rng.next_u64())?,
                    13..=40 => {
                        // Delete an existing key, or a run of keys.
                        let n = if rng.below(4) == 0 { 1 + rng.below(50) as usize } else { 1 };
                        let from = rng.bytes_between(1, 3);
                        let keys: Vec<Vec<u8>> = b
                            .as_bucket()
                            .range(from.as_slice()..)
                            .filter_map(|r| r.ok())
                            .filter(|(_, v)| v.is_some())
                            .take(n)
                            .map(|(k, _)| k.to_vec())
                            .collect();
                        for k in &keys {
                            b.delete(k)?;
                        }
                    }
                    _ => {
                        let n = if rng.below(10) == 0 { 20 + rng.below(200) } else { 1 };
                        let prefix = rng.bytes_between(0, 4);
                        for _ in 0..n {
                            let mut key = prefix.clone();
                            key.extend(rng.bytes_between(1, 24));
                            let vlen = match rng.below(50) {
                                0 => 4096 + rng.below(20_000) as usize,
                                1..=3 => 500 + rng.below(1500) as usize,
                                _ => rng.below(64) as usize,
                            };
                            let value = rng.bytes(vlen);
                            match b.put(&key, &value) {
                                Ok(()) | Err(rivet_engine::Error::IncompatibleValue { .. }) => {}
                                Err(e) => return Err(e),
                            }
                        }
                    }
                }
            }
            Ok::<_, rivet_engine::Error>(())
        })?;
    }
    Ok(())
}

/// Takes a backup from a read transaction while another thread keeps writing (and growing the
/// file); returns (snapshot dump, backup path, tx size).
pub fn backup_during_writes(dir: &std::path::Path) -> (String, std::path::PathBuf, u64) {
    let db = std::sync::Arc::new(DB::open(dir.join("live.db"), Options::default().no_sync(true)).unwrap());
    db.update(|tx| {
        let mut b = tx.create_bucket(b"data")?;
        for i in 0..20_000u32 {
            b.put(&i.to_be_bytes(), &[7u8; 100])?;
        }
        b.create_bucket(b"nested")?.put(b"k", b"v")?;
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (db, stop) = (db.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut round = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.update(|tx| {
                    let mut b = tx.bucket_mut(b"data")?;
                    for i in 0..2000u32 {
                        b.put(&(i * 7 + round).to_be_bytes(), &[round as u8; 300])?;
                    }
                    for i in 0..500u32 {
                        b.delete(&(i * 13 + round).to_be_bytes())?;
                    }
                    Ok::<_, rivet_engine::Error>(())
                })
                .unwrap();
                round += 1;
            }
            round
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    let tx = db.begin(false).unwrap();
    let snapshot = rivet_engine::dump::dump_json(&tx).unwrap();
    let path = dir.join("backup.db");
    let written = tx.copy_file(&path).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let size = tx.size();
    assert_eq!(rivet_engine::dump::dump_json(&tx).unwrap(), snapshot);
    drop(tx);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds = writer.join().unwrap();
    assert!(rounds > 0, "the writer made no progress while the backup ran");
    assert_eq!(written, size);
    (snapshot, path, size)
}
