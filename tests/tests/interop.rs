//! Acceptance 2 and 3: files the engine writes pass Go bbolt's check and dump identically in Go;
//! files Go modifies read back as Go says.
//!
//! These need the Go interop tool (`interop/install.sh` builds `target/interop/bbolt-tool`;
//! `.ci/run` runs it). Locally they are ignored unless asked for: `cargo test -p rivet-tests
//! --test interop -- --ignored`.

use rivet_engine::{Options, DB};
use rivet_tests::*;

const NEEDS_GO: &str =
    "needs Go bbolt-tool (.ci/run installs it): cargo test -p rivet-tests --test interop -- --ignored";

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn fixtures_after_random_writes_pass_go_check_and_dump_alike() {
    let _ = NEEDS_GO;
    let base = seed(0x5eed);
    let dir = scratch();
    for (i, f) in fixtures().iter().enumerate() {
        let path = copy_fixture(f, dir.path());
        let before = rust_dump(&path);
        {
            let db = DB::open(&path, Options::default()).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            random_mix(&db, base + i as u64, 6, 40);
            let problems = db.begin(false).unwrap().check().unwrap();
            assert!(problems.is_empty(), "{}: engine check: {problems:?}", f.display());
        }
        assert_go_check(&path);
        assert_ne!(rust_dump(&path), before, "{}: the mix changed nothing", f.display());
        assert_eq!(go_dump(&path), rust_dump(&path), "{}: Go and Rust dumps differ", f.display());
    }
}

/// Builds a database exercising the structures Go must accept: 100k+ keys in one bucket,
/// buckets nested 5 deep (paged and inline), values larger than a page and one of 1 MiB, then
/// heavy deletes so that the freelist grows large.
fn build_big(path: &std::path::Path, opts: Options, seed: u64) {
    let db = DB::open(path, opts).unwrap();
    let mut rng = Rng::new(seed);
    // 120k random keys in one transaction (exercises splitting while loading).
    db.update(|tx| {
        let mut b = tx.create_bucket(b"bulk")?;
        for i in 0..120_000u64 {
            let mut k = rng.bytes(8);
            k.extend_from_slice(&i.to_be_bytes());
            b.put(&k, &i.to_le_bytes())?;
        }
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap();
    // Five levels of nesting, with keys before and after each child bucket's name.
    db.update(|tx| {
        let mut a = tx.create_bucket(b"n1")?;
        a.put(b"a", b"first")?;
        a.put(b"z", b"last")?;
        let mut b = a.create_bucket(b"n2")?;
        for i in 0..300u32 {
            b.put(format!("k{i:05}").as_bytes(), &[7u8; 40])?;
        }
        let mut c = b.create_bucket(b"n3")?;
        c.set_sequence(u64::MAX)?;
        let mut d = c.create_bucket(b"n4")?;
        d.next_sequence()?;
        let mut e = d.create_bucket(b"n5")?;
        e.put(b"deep", b"value")?;
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap();
    // Large values: over a page, several pages, and 1 MiB.
    db.update(|tx| {
        let mut b = tx.create_bucket(b"large")?;
        for (i, len) in [5_000usize, 17_000, 70_000, 1 << 20].iter().enumerate() {
            b.put(&[i as u8 + 1], &rng.bytes(*len))?;
        }
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap();
    // Heavy deletes in several transactions.
    for round in 0..3u64 {
        db.update(|tx| {
            let mut b = tx.bucket_mut(b"bulk")?;
            let keys: Vec<Vec<u8>> = b
                .as_bucket()
                .iter()
                .filter_map(|r| r.ok())
                .enumerate()
                .filter(|(i, _)| !(*i as u64 + round).is_multiple_of(3))
                .map(|(_, (k, _))| k.to_vec())
                .take(30_000)
                .collect();
            for k in keys {
                b.delete(&k)?;
            }
            Ok::<_, rivet_engine::Error>(())
        })
        .unwrap();
    }
    db.update(|tx| tx.bucket_mut(b"large")?.delete(&[4])).unwrap();
    let problems = db.begin(false).unwrap().check().unwrap();
    assert!(problems.is_empty(), "engine check: {problems:?}");
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn engine_written_databases_pass_go_check_and_dump_alike() {
    let dir = scratch();
    let cases = [
        ("p4k.db", Options::default().page_size(4096)),
        ("p16k.db", Options::default().page_size(16384)),
        ("nofl.db", Options::default().page_size(4096).no_freelist_sync(true)),
    ];
    for (name, opts) in cases {
        let path = dir.path().join(name);
        build_big(&path, opts, seed(42));
        assert_go_check(&path);
        assert_eq!(go_dump(&path), rust_dump(&path), "{name}: Go and Rust dumps differ");
    }
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn go_mutates_what_the_engine_wrote_and_the_engine_reads_it_back() {
    let dir = scratch();
    for (i, nofl) in [false, true].into_iter().enumerate() {
        let path = dir.path().join(format!("trip{i}.db"));
        {
            let db = DB::open(&path, Options::default().no_freelist_sync(nofl)).unwrap();
            random_mix(&db, seed(7) + i as u64, 8, 60);
        }
        let before = rust_dump(&path);
        let flag = if nofl { vec!["-no-freelist-sync"] } else { vec![] };
        let p = path.to_str().unwrap();
        let mut args = vec!["mutate"];
        args.extend(flag);
        args.extend([p, "99", "400"]);
        let (ok, out) = run_tool(&args);
        assert!(ok, "Go mutate failed: {out}");
        let after_go = go_dump(&path);
        assert_ne!(after_go, before, "mutate changed nothing");
        assert_eq!(rust_dump(&path), after_go, "engine reads Go's changes differently");
        // And the engine can keep writing on the file Go modified.
        {
            let db = DB::open(&path, Options::default().no_freelist_sync(nofl)).unwrap();
            random_mix(&db, 1000 + i as u64, 4, 40);
            assert!(db.begin(false).unwrap().check().unwrap().is_empty());
        }
        assert_go_check(&path);
        assert_eq!(go_dump(&path), rust_dump(&path));
    }
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn a_freelist_of_65535_ids_or_more_uses_the_count_overflow_form() {
    let dir = scratch();
    let path = dir.path().join("huge_freelist.db");
    {
        let db = DB::open(&path, Options::default().page_size(1024)).unwrap();
        db.update(|tx| {
            let mut b = tx.create_bucket(b"big")?;
            for i in 0..150_000u32 {
                b.put(&i.to_be_bytes(), &[3u8; 400])?;
            }
            tx.create_bucket(b"keep")?.put(b"k", b"v")?;
            Ok::<_, rivet_engine::Error>(())
        })
        .unwrap();
        db.update(|tx| tx.delete_bucket(b"big")).unwrap();
        let meta = db.info().meta;
        let tx = db.begin(false).unwrap();
        let fl = tx.meta().freelist;
        assert_eq!(fl, meta.freelist);
    }
    let (ok, info) = run_tool(&["info", path.to_str().unwrap()]);
    assert!(ok, "{info}");
    assert!(info.contains("\"freelist_count_overflow_form\": true"), "{info}");
    assert_go_check(&path);
    assert_eq!(go_dump(&path), rust_dump(&path));
    // And the engine reads its own overflow-form freelist back.
    let db = DB::open(&path, Options::default()).unwrap();
    db.update(|tx| tx.bucket_mut(b"keep")?.put(b"k2", b"v2")).unwrap();
    assert!(db.begin(false).unwrap().check().unwrap().is_empty());
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn a_hot_backup_taken_during_writes_passes_go_check() {
    let dir = scratch();
    let (snapshot, path, size) = backup_during_writes(dir.path());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size);
    assert_go_check(&path);
    assert_eq!(go_dump(&path), snapshot);
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn compacting_the_freelist_fixture_gives_a_smaller_file_go_accepts() {
    let dir = scratch();
    let src = fixtures_dir().join("freelist.db");
    let dst = dir.path().join("compact.db");
    let (before, after) = rivet_engine::compact_file(&src, &dst, 16 * 1024).unwrap();
    assert!(after < before, "{after} >= {before}");
    assert_go_check(&dst);
    assert_eq!(go_dump(&dst), go_dump(&src));
}

/// Issue 16: a journaled workload (with checkpoints of its own) leaves, after a clean close, a
/// file Go checks clean and dumps as Rust does; after a simulated crash (the files copied while
/// the handle is open), the database file alone is what Go sees: a valid file at the last
/// checkpoint, which Rivet then completes from the journal.
#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn journaled_files_pass_go_check_after_a_close_and_after_a_crash() {
    let dir = scratch();
    let path = dir.path().join("journal.db");
    let opts = Options::default().page_size(4096).journal(true).journal_max_bytes(1 << 20);
    let db = DB::open(&path, opts.clone()).expect("open");
    build_into(&db, seed(7));
    db.checkpoint().expect("checkpoint");
    build_into(&db, seed(8));
    // A crash now: the file as it is, and its journal.
    let crashed = dir.path().join("crashed.db");
    std::fs::copy(&path, &crashed).expect("copy");
    let mut j = path.as_os_str().to_owned();
    j.push("-journal");
    let mut cj = crashed.as_os_str().to_owned();
    cj.push("-journal");
    std::fs::copy(&j, &cj).expect("copy the journal");
    let want = rust_dump_db(&db);
    db.close().expect("close");
    assert_go_check(&path);
    assert_eq!(go_dump(&path), rust_dump(&path), "after a close: Go and Rust dumps differ");
    assert_eq!(rust_dump(&path), want);
    // Go opens the crashed file at its last checkpoint (it never reads the journal).
    assert_go_check(&crashed);
    let reopened = DB::open(&crashed, opts).expect("reopen the crashed copy");
    assert!(reopened.recovery().expect("a journal").replayed > 0);
    assert_eq!(rust_dump_db(&reopened), want, "the journal completes the crashed file");
    reopened.close().expect("close");
    assert_go_check(&crashed);
    assert_eq!(go_dump(&crashed), want);
}

/// Random writes into `db` (buckets, nested buckets, puts, deletes) in several commits.
fn build_into(db: &DB, seed: u64) {
    let mut rng = Rng::new(seed);
    for _ in 0..20 {
        db.update(|tx| {
            let mut b = tx.create_bucket_if_not_exists(format!("b{}", rng.below(4)).as_bytes())?;
            let mut n = b.create_bucket_if_not_exists(b"nested")?;
            for _ in 0..50 {
                let k = rng.below(500).to_be_bytes();
                if rng.below(4) == 0 {
                    n.delete(&k)?;
                } else {
                    n.put(&k, &vec![rng.below(256) as u8; rng.below(600) as usize])?;
                }
            }
            Ok::<_, rivet_engine::Error>(())
        })
        .expect("update");
    }
}

/// The canonical dump of an open database.
fn rust_dump_db(db: &DB) -> String {
    db.view(rivet_engine::dump::dump_json).expect("dump")
}
