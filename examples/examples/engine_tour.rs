//! A tour of the engine (`rivet-engine`, the raw key/value layer under the typed store) on a
//! real database file: create it, write in transactions, nest buckets, read back with cursors
//! and ranges, roll back, reopen, and check it.
//!
//! `cargo run --release -p rivet-examples --example engine_tour [-- PATH]` (default:
//! `engine_tour.db` in the system temp directory; the file is recreated on each run).

use std::path::PathBuf;

use rivet_engine::{Error, Options, DB};

fn main() -> Result<(), Error> {
    let path =
        std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("engine_tour.db"));
    let _ = std::fs::remove_file(&path);

    let db = DB::open(&path, Options::default())?;
    println!("created {} (page size {} bytes)", path.display(), db.info().page_size);

    // One durable write transaction: a bucket with a few keys and a nested bucket.
    db.update(|tx| {
        let mut fruits = tx.create_bucket(b"fruits")?;
        for (k, v) in [("apple", "red"), ("banana", "yellow"), ("cherry", "dark red"), ("kiwi", "green")] {
            fruits.put(k.as_bytes(), v.as_bytes())?;
        }
        let mut orders = fruits.create_bucket(b"orders")?;
        for _ in 0..3 {
            let id = orders.next_sequence()?;
            orders.put(&id.to_be_bytes(), format!("order #{id}").as_bytes())?;
        }
        Ok::<_, Error>(())
    })?;
    println!("committed: 4 fruits and a nested bucket with 3 orders (ids from next_sequence)");

    // A bulk load in one transaction.
    db.update(|tx| {
        let mut nums = tx.create_bucket(b"numbers")?;
        for i in 0u32..50_000 {
            nums.put(&i.to_be_bytes(), &(i * i).to_le_bytes())?;
        }
        Ok::<_, Error>(())
    })?;
    println!("committed: 50,000 keys in bucket 'numbers'");

    // A transaction that fails is rolled back: nothing of it is stored.
    let failed: Result<(), Error> = db.update(|tx| {
        tx.bucket_mut(b"fruits")?.put(b"durian", b"smelly")?;
        Err(Error::KeyRequired)
    });
    println!("a failing transaction returned {:?}; its write was rolled back", failed.err());

    // Read back: zero-copy slices that live as long as the read transaction.
    db.view(|tx| {
        let fruits = tx.bucket(b"fruits")?;
        println!("fruits (forward):");
        for item in fruits.iter() {
            match item? {
                (k, Some(v)) => println!("  {} = {}", String::from_utf8_lossy(k), String::from_utf8_lossy(v)),
                (k, None) => println!("  {} = <bucket>", String::from_utf8_lossy(k)),
            }
        }
        let back: Vec<String> = fruits
            .range(&b"b"[..]..&b"l"[..])
            .rev()
            .map(|r| r.map(|(k, _)| String::from_utf8_lossy(k).into_owned()))
            .collect::<Result<_, _>>()?;
        println!("fruits in b..l, backwards: {back:?}");
        println!("durian present? {}", fruits.get(b"durian")?.is_some());
        let orders = fruits.bucket(b"orders")?;
        println!("orders: {} items, sequence {}", orders.iter().count(), orders.sequence());
        let mut c = tx.bucket(b"numbers")?.cursor();
        if let Some((k, v)) = c.seek(&40_000u32.to_be_bytes())? {
            let v = v.unwrap_or_default();
            println!("seek(40000) -> key {:?}, value {:?}", k, v);
        }
        Ok::<_, Error>(())
    })?;

    // Reopen: everything committed is still there, and the file is consistent.
    let txid = db.info().meta.txid;
    db.close()?;
    let db = DB::open(&path, Options::default())?;
    let problems = db.begin(false)?.check()?;
    println!(
        "reopened at txid {} (was {txid}); {} bytes on disk; consistency check: {}",
        db.info().meta.txid,
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        if problems.is_empty() {
            "OK".to_string()
        } else {
            problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        }
    );
    Ok(())
}
