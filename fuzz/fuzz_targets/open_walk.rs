//! Arbitrary bytes as a database file: open (read-only and read-write), check, dump, iterate,
//! stats, and a small write transaction must each return Ok or an error, never panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rivet_engine::{Error, Options, DB};

fn path() -> std::path::PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    dir.join(format!("rivet-fuzz-open-{}.db", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let p = path();
    if std::fs::write(&p, data).is_err() {
        return;
    }
    for ro in [true, false] {
        let Ok(db) = DB::open(&p, Options::default().read_only(ro)) else { continue };
        if let Ok(tx) = db.begin(false) {
            let _ = tx.check();
            let _ = rivet_engine::dump::dump_json(&tx);
            let _ = tx.for_each_bucket(|_, b| {
                let _ = b.stats();
                let _ = b.iter().rev().take(100).count();
                Ok(())
            });
        }
        if !ro {
            let _ = db.update(|tx| {
                tx.create_bucket_if_not_exists(b"fuzz")?.put(b"k", &[7u8; 100])?;
                let names: Vec<Vec<u8>> = tx.root().iter().filter_map(|r| r.ok()).map(|(k, _)| k.to_vec()).collect();
                for n in names.iter().take(4) {
                    if let Ok(mut b) = tx.bucket_mut(n) {
                        let _ = b.put(b"\x01", b"v");
                        let _ = b.delete(b"\x01");
                    }
                }
                Ok::<_, Error>(())
            });
        }
    }
    let _ = std::fs::remove_file(&p);
});
