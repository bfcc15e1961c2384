//! Many readers and one writer across threads and processes: snapshot isolation under load,
//! growth that never waits for readers, group commit, and file locking.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rivet_engine::{Error, Options, DB};
use rivet_tests::{scratch, seed, Rng};

const ACCOUNTS: u32 = 200;
const START: u64 = 1_000;

fn balances(tx: &rivet_engine::Tx<'_>) -> Vec<u64> {
    tx.bucket(b"accounts")
        .unwrap()
        .iter()
        .map(|r| u64::from_le_bytes(r.unwrap().1.unwrap().try_into().unwrap()))
        .collect()
}

#[test]
fn readers_never_see_a_broken_invariant_while_a_writer_moves_money() {
    bank(Options::default().no_sync(true));
}

/// The same with the journal: versions in memory, shared syncs, and checkpoints (at the
/// smallest limit) while the readers read.
#[test]
fn readers_never_see_a_broken_invariant_in_journal_mode() {
    bank(Options::default().journal(true).journal_max_bytes(1 << 20));
}

fn bank(opts: Options) {
    let dir = scratch();
    let db = Arc::new(DB::open(dir.path().join("bank.db"), opts).unwrap());
    db.update(|tx| {
        let mut b = tx.create_bucket(b"accounts")?;
        for i in 0..ACCOUNTS {
            b.put(&i.to_be_bytes(), &START.to_le_bytes())?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (db, stop, reads) = (db.clone(), stop.clone(), reads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let tx = db.begin(false).unwrap();
                    let b = balances(&tx);
                    assert_eq!(b.len() as u32, ACCOUNTS);
                    assert_eq!(b.iter().sum::<u64>(), START * u64::from(ACCOUNTS), "a reader saw a half-done transfer");
                    // The snapshot does not move while the transaction is open.
                    assert_eq!(balances(&tx), b);
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let mut model = vec![START; ACCOUNTS as usize];
    let mut rng = Rng::new(seed(11));
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut commits = 0;
    while Instant::now() < deadline {
        let moves: Vec<(usize, usize, u64)> = (0..1 + rng.below(20))
            .map(|_| (rng.below(ACCOUNTS as u64) as usize, rng.below(ACCOUNTS as u64) as usize, rng.below(50)))
            .collect();
        db.update(|tx| {
            let mut b = tx.bucket_mut(b"accounts")?;
            for &(from, to, amount) in &moves {
                let get = |b: &rivet_engine::BucketMut<'_>, i: usize| -> Result<u64, Error> {
                    Ok(u64::from_le_bytes(
                        b.get(&(i as u32).to_be_bytes())?.unwrap_or_default().try_into().unwrap_or_default(),
                    ))
                };
                let f = get(&b, from)?;
                if f < amount {
                    continue;
                }
                b.put(&(from as u32).to_be_bytes(), &(f - amount).to_le_bytes())?;
                let t = get(&b, to)?;
                b.put(&(to as u32).to_be_bytes(), &(t + amount).to_le_bytes())?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        for (from, to, amount) in moves {
            if model[from] >= amount {
                model[from] -= amount;
                model[to] += amount;
            }
        }
        commits += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().expect("a reader thread failed");
    }
    assert!(commits > 10 && reads.load(Ordering::Relaxed) > 10, "the test did too little to mean anything");
    let tx = db.begin(false).unwrap();
    assert_eq!(balances(&tx), model, "final state differs from the model");
    assert!(tx.check().unwrap().is_empty());
}

/// How many mappings of `path` this process holds (Linux `/proc/self/maps`).
fn mappings_of(path: &std::path::Path) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let name = path.to_string_lossy();
    maps.lines().filter(|l| l.ends_with(name.as_ref())).count()
}

fn grow(db: &DB, mib: usize) -> Duration {
    let t = Instant::now();
    let value = vec![0x5au8; 4000];
    for round in 0..mib / 4 {
        db.update(|tx| {
            let mut b = tx.create_bucket_if_not_exists(b"grow")?;
            for i in 0..1000u32 {
                b.put(&((round as u32) << 16 | i).to_be_bytes(), &value)?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    t.elapsed()
}

#[test]
fn a_long_reader_neither_blocks_growth_nor_loses_its_snapshot() {
    let dir = scratch();
    // Baseline: the same writes with no reader.
    let base_path = dir.path().join("base.db");
    let base = DB::open(&base_path, Options::default().no_sync(true)).unwrap();
    let no_reader = grow(&base, 100);
    drop(base);

    let path = dir.path().join("grow.db");
    let db = DB::open(&path, Options::default().no_sync(true)).unwrap();
    db.update(|tx| {
        let mut b = tx.create_bucket(b"start")?;
        for i in 0..200u32 {
            b.put(&i.to_be_bytes(), &[1u8; 4000])?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let size_before = std::fs::metadata(&path).unwrap().len();
    assert!(size_before <= 2 << 20, "starts around 1 MiB, got {size_before}");
    let reader = db.begin(false).unwrap();
    let snapshot = rivet_engine::dump::dump_json(&reader).unwrap();
    let with_reader = grow(&db, 100);
    assert!(std::fs::metadata(&path).unwrap().len() >= 100 << 20, "the file grew to 100+ MiB");
    assert!(db.stats().maps >= 2, "the reader keeps its old map alive");
    // The reader still sees exactly its snapshot, through its old mapping.
    assert_eq!(rivet_engine::dump::dump_json(&reader).unwrap(), snapshot);
    assert!(reader.bucket(b"grow").is_err());
    drop(reader);
    assert_eq!(db.stats().maps, 1, "old maps are released when their last reader ends");
    assert_eq!(mappings_of(&path), 1, "exactly one mapping of the file remains");
    // The writer did not wait for the reader (generous bound for noisy machines).
    assert!(
        with_reader < no_reader * 4 + Duration::from_secs(2),
        "writes took {with_reader:?} with a reader open vs {no_reader:?} without"
    );
}

#[test]
fn batch_combines_calls_and_isolates_a_failing_one() {
    let dir = scratch();
    let db = Arc::new(DB::open(dir.path().join("batch.db"), Options::default()).unwrap());
    db.update(|tx| tx.create_bucket(b"b").map(|_| ())).unwrap();
    let before = db.stats();
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..500u32 {
                    db.batch(move |tx| tx.bucket_mut(b"b")?.put(&(t << 16 | i).to_be_bytes(), b"x")).unwrap();
                }
            })
        })
        .collect();
    // Meanwhile, a call that fails gets its own error; the rest still commit.
    let failing = {
        let db = db.clone();
        std::thread::spawn(move || {
            db.batch(|tx| {
                tx.bucket_mut(b"b")?.put(b"never", b"stored")?;
                Err(Error::KeyRequired)
            })
        })
    };
    for t in threads {
        t.join().unwrap();
    }
    assert!(matches!(failing.join().unwrap(), Err(Error::KeyRequired)));
    let used = db.stats().sub(&before).tx_stats.commits;
    assert!(used < 4000 / 2, "4000 batch calls took {used} commits");
    db.view(|tx| {
        let b = tx.bucket(b"b")?;
        assert_eq!(b.iter().count(), 4000, "a batched write was lost");
        assert!(b.get(b"never")?.is_none());
        Ok::<_, Error>(())
    })
    .unwrap();
}

/// Entry point of the child process used by the locking test (see below).
#[test]
#[ignore = "child process of other_processes_respect_the_file_lock"]
fn lock_child() {
    let Ok(path) = std::env::var("RIVET_LOCK_CHILD_PATH") else { return };
    let ro = std::env::var("RIVET_LOCK_CHILD_RO").is_ok();
    let r = DB::open(&path, Options::default().read_only(ro).with_timeout(Duration::from_millis(100)));
    match r {
        Ok(_) => println!("CHILD:OPENED"),
        Err(Error::Timeout) => println!("CHILD:TIMEOUT"),
        Err(e) => println!("CHILD:ERROR {e}"),
    }
}

fn child_open(path: &std::path::Path, read_only: bool) -> String {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "lock_child", "--ignored", "--nocapture", "--test-threads=1"]);
    cmd.env("RIVET_LOCK_CHILD_PATH", path);
    if read_only {
        cmd.env("RIVET_LOCK_CHILD_RO", "1");
    }
    let out = cmd.output().unwrap();
    let s = String::from_utf8_lossy(&out.stdout);
    match s.find("CHILD:") {
        Some(i) => s[i..].lines().next().unwrap_or_default().to_string(),
        None => format!("CHILD:NOTHING ({})", String::from_utf8_lossy(&out.stderr)),
    }
}

#[test]
fn other_processes_respect_the_file_lock() {
    let dir = scratch();
    let path = dir.path().join("locked.db");
    let db = DB::open(&path, Options::default()).unwrap();
    assert_eq!(child_open(&path, false), "CHILD:TIMEOUT");
    assert_eq!(child_open(&path, true), "CHILD:TIMEOUT", "a reader waits for the writer's exclusive lock");
    drop(db);
    let ro = DB::open(&path, Options::default().read_only(true)).unwrap();
    assert_eq!(child_open(&path, true), "CHILD:OPENED", "two read-only processes share the lock");
    assert_eq!(child_open(&path, false), "CHILD:TIMEOUT");
    drop(ro);
    assert_eq!(child_open(&path, false), "CHILD:OPENED");
}
