//! Hot backup while a writer works, and compaction.

use rivet_engine::{Error, Options, DB};
use rivet_tests::{backup_during_writes, copy_fixture, fixtures_dir, rust_dump, scratch};

#[test]
fn hot_backup_is_a_consistent_copy_of_its_snapshot() {
    let dir = scratch();
    let (snapshot, path, size) = backup_during_writes(dir.path());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), size, "the backup has exactly tx.size() bytes");
    assert_eq!(rust_dump(&path), snapshot);
    let db = DB::open(&path, Options::default()).unwrap();
    assert!(db.begin(false).unwrap().check().unwrap().is_empty());
}

#[test]
fn write_to_a_go_fixture_copy_matches_the_fixture() {
    let src = fixtures_dir().join("nested3.db");
    let db = DB::open(&src, Options::default().read_only(true)).unwrap();
    let tx = db.begin(false).unwrap();
    let mut out = Vec::new();
    assert_eq!(tx.write_to(&mut out).unwrap(), tx.size());
    let dir = scratch();
    let path = dir.path().join("copy.db");
    std::fs::write(&path, &out).unwrap();
    assert_eq!(rust_dump(&path), rust_dump(&src));
    // Meta 0 has the snapshot's txid and meta 1 the one before, as bbolt writes them.
    let copy = DB::open(&path, Options::default().read_only(true)).unwrap();
    assert_eq!(copy.info().meta.txid, tx.id());
}

#[test]
fn compact_shrinks_a_freelist_heavy_file_and_keeps_its_content() {
    let dir = scratch();
    let src = copy_fixture(&fixtures_dir().join("freelist.db"), dir.path());
    {
        // Make it heavier: delete most of what is left.
        let db = DB::open(&src, Options::default()).unwrap();
        db.update(|tx| {
            let names: Vec<Vec<u8>> = tx.root().iter().map(|r| r.unwrap().0.to_vec()).collect();
            for n in names {
                let mut b = tx.bucket_mut(&n)?;
                let keys: Vec<Vec<u8>> = b.as_bucket().iter().map(|r| r.unwrap().0.to_vec()).collect();
                for k in keys.iter().skip(5) {
                    if b.get(k)?.is_some() {
                        b.delete(k)?;
                    }
                }
            }
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    let dst = dir.path().join("compact.db");
    let (before, after) = rivet_engine::compact_file(&src, &dst, 64 * 1024).unwrap();
    assert!(after < before, "compacted {after} bytes is not smaller than {before}");
    assert_eq!(after, std::fs::metadata(&dst).unwrap().len(), "the size reported is the size the copy keeps");
    assert_eq!(rust_dump(&dst), rust_dump(&src));
    let db = DB::open(&dst, Options::default()).unwrap();
    assert!(db.begin(false).unwrap().check().unwrap().is_empty());
}

#[test]
fn stats_count_pages_keys_and_buckets() {
    let db = DB::open(fixtures_dir().join("seq_15k.db"), Options::default().read_only(true)).unwrap();
    let tx = db.begin(false).unwrap();
    let mut total = rivet_engine::BucketStats::default();
    tx.for_each_bucket(|_, b| {
        total.add(&b.stats()?);
        Ok(())
    })
    .unwrap();
    // From the fixture's census (seq_15k.info.json): 15,000 keys, 3 branch pages, depth 3.
    assert_eq!(total.key_n, 15_000);
    assert_eq!(total.branch_page_n, 3);
    assert_eq!(total.depth, 3);
    assert!(total.leaf_inuse <= total.leaf_alloc);
    let s = db.stats();
    assert_eq!(s.open_tx_n, 1);
    assert!(s.tx_n >= 1);
}
