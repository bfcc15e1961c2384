//! Error variants that need a particular setup: batch failures and panics, strict mode,
//! committing a read transaction.

use std::sync::Arc;
use std::time::Duration;

use rivet_engine::{Corruption, Error, Options, DB};

fn dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let p =
        std::env::temp_dir().join(format!("rivet-errors-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn committing_a_read_transaction_is_tx_not_writable() {
    let d = dir();
    let db = DB::open(d.join("r.db"), Options::default()).unwrap();
    assert!(matches!(db.begin(false).unwrap().commit(), Err(Error::TxNotWritable)));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_failed_batch_commit_gives_every_caller_an_error() {
    let d = dir();
    let opts = Options::default().max_size(128 * 1024).max_batch_size(2).max_batch_delay(Duration::from_secs(5));
    let db = Arc::new(DB::open(d.join("b.db"), opts).unwrap());
    let calls: Vec<_> = (0..2u8)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                db.batch(move |tx| {
                    let mut b = tx.create_bucket_if_not_exists(&[t])?;
                    for i in 0..300u32 {
                        b.put(&i.to_be_bytes(), &[t; 500])?;
                    }
                    Ok(())
                })
            })
        })
        .collect();
    let results: Vec<_> = calls.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(results.iter().any(|r| matches!(r, Err(Error::MaxSizeReached { .. }))), "{results:?}");
    assert!(results.iter().any(|r| matches!(r, Err(Error::BatchFailed(_)))), "{results:?}");
    db.view(|tx| {
        assert!(tx.root().iter().next().is_none(), "nothing of the failed batch was stored");
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(db);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_panicking_batch_function_panics_in_its_own_caller_and_the_rest_commit() {
    let d = dir();
    let opts = Options::default().max_batch_size(2).max_batch_delay(Duration::from_secs(5));
    let db = Arc::new(DB::open(d.join("p.db"), opts).unwrap());
    let good = {
        let db = db.clone();
        std::thread::spawn(move || db.batch(|tx| tx.create_bucket_if_not_exists(b"good")?.put(b"k", b"v")))
    };
    std::thread::sleep(Duration::from_millis(100));
    let bad = {
        let db = db.clone();
        std::thread::spawn(move || db.batch(|_| panic!("boom")))
    };
    assert!(good.join().unwrap().is_ok(), "the other call commits");
    let panicked = bad.join();
    assert!(panicked.is_err(), "the panic surfaces in the thread whose function panicked");
    db.view(|tx| {
        assert_eq!(tx.bucket(b"good")?.get(b"k")?, Some(&b"v"[..]));
        Ok::<_, Error>(())
    })
    .unwrap();
    drop(db);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn strict_mode_reports_problems_after_a_durable_commit() {
    let d = dir();
    let path = d.join("s.db");
    {
        let db = DB::open(&path, Options::default()).unwrap();
        db.update(|tx| {
            let mut b = tx.create_bucket(b"b")?;
            for i in 0..500u32 {
                b.put(&i.to_be_bytes(), &[1u8; 100])?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        db.update(|tx| tx.delete_bucket(b"b")).unwrap();
    }
    // Leak one free page: drop the last id of the freelist page.
    let (fl, ps) = {
        let db = DB::open(&path, Options::default().read_only(true)).unwrap();
        (db.info().meta.freelist, u64::from(db.info().page_size))
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let off = (fl * ps) as usize;
    let count = u16::from_le_bytes([bytes[off + 10], bytes[off + 11]]);
    assert!(count > 1 && count < 0xFFFF);
    bytes[off + 10..off + 12].copy_from_slice(&(count - 1).to_le_bytes());
    std::fs::write(&path, bytes).unwrap();

    let db = DB::open(&path, Options::default().strict_mode(true)).unwrap();
    let r = db.update(|tx| tx.create_bucket(b"after").map(|_| ()));
    match r {
        Err(Error::CheckFailed(problems)) => {
            assert!(problems.iter().any(|p| p.kind == Corruption::UnreachableUnfreed), "{problems:?}")
        }
        other => panic!("expected CheckFailed, got {other:?}"),
    }
    // The commit itself is durable.
    assert!(db.begin(false).unwrap().bucket(b"after").is_ok());
    drop(db);
    std::fs::remove_dir_all(d).unwrap();
}
