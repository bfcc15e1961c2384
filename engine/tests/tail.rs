//! A free run at the end of the file leaves the file: a commit lowers the high-water mark over
//! it instead of listing it in the freelist, and closing the handle never cuts the file below
//! what the older meta needs, so an open that falls back to it still finds every page.

use rivet_engine::{Error, Options, DB};

fn dir() -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("rivet-tail-{}", std::process::id()));
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn a_free_tail_leaves_the_file_and_the_older_meta_stays_usable() {
    let d = dir();
    let path = d.join("tail.db");
    let db = DB::open(&path, Options::default().page_size(4096)).unwrap();
    db.update(|tx| {
        tx.create_bucket(b"keep")?.put(b"k", b"v")?;
        let mut big = tx.create_bucket(b"big")?;
        for i in 0u32..2000 {
            big.put(&i.to_be_bytes(), &[7u8; 1000])?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    let high = db.info().meta.pgid;
    assert!(high > 500, "hwm {high}");
    // Deleting the bucket frees its pages (pending until this commit is the oldest any reader
    // sees); the next commit can reuse them, and the run at the end leaves the file.
    db.update(|tx| tx.delete_bucket(b"big")).unwrap();
    assert!(db.info().meta.pgid >= high, "pending pages stay in the file");
    let high = db.info().meta.pgid;
    // The next commit frees the delete's own pages (its root and freelist, placed at the end);
    // the one after that finds one free run up to the mark.
    db.update(|tx| tx.bucket_mut(b"keep")?.put(b"k2", b"v2")).unwrap();
    assert_eq!(db.info().meta.pgid, high);
    db.update(|tx| tx.bucket_mut(b"keep")?.put(b"k3", b"v3")).unwrap();
    let low = db.info().meta.pgid;
    assert!(low < 20, "the free tail left the file: hwm {high} -> {low}");
    let stats = db.stats();
    assert!(stats.free_page_n + stats.pending_page_n < 20, "{stats:?}");
    db.view(|tx| {
        assert_eq!(tx.check()?, Vec::new());
        Ok::<_, Error>(())
    })
    .unwrap();
    let newest = db.info().meta.txid % 2;
    drop(db);

    // The older meta (the put of k2) still names pages up to `high`: the file keeps them.
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(len, high * 4096, "trimmed to the older meta's mark, not to {low}");

    // Damage the newest meta: the open falls back to the older one, which reads cleanly.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(newest * 4096 + 16) as usize] ^= 0xFF;
    std::fs::write(&path, &bytes).unwrap();
    let db = DB::open(&path, Options::default().read_only(true)).unwrap();
    assert_eq!(db.info().meta.pgid, high);
    db.view(|tx| {
        assert_eq!(tx.check()?, Vec::new());
        assert_eq!(tx.bucket(b"keep")?.get(b"k")?, Some(&b"v"[..]));
        assert_eq!(tx.bucket(b"keep")?.get(b"k2")?, Some(&b"v2"[..]));
        assert_eq!(tx.bucket(b"keep")?.get(b"k3")?, None);
        assert!(!tx.root().has_bucket(b"big")?);
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(db);
    std::fs::remove_dir_all(&d).unwrap();
}
