//! Times a random bulk load in one transaction (the case where bbolt is quadratic), then random
//! reads. `cargo run --release -p rivet-engine --example bulk_load -- [N]` (default 200000).

use std::time::Instant;

use rivet_engine::{Error, Options, DB};

fn main() -> Result<(), Error> {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let path = std::env::temp_dir().join(format!("rivet-bulk-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let db = DB::open(&path, Options::default())?;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut keys = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let mut k = [0u8; 24];
        for c in k.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        keys.push(k);
    }
    let value = [7u8; 150];
    let t = Instant::now();
    db.update(|tx| {
        let mut b = tx.create_bucket(b"bulk")?;
        for k in &keys {
            b.put(k, &value)?;
        }
        Ok::<_, Error>(())
    })?;
    let load = t.elapsed();
    let st = db.stats().tx_stats;
    println!(
        "load: commit spill {:.1} ms, write {:.1} ms ({} writes)",
        st.spill_time.as_secs_f64() * 1e3,
        st.write_time.as_secs_f64() * 1e3,
        st.write
    );
    let t = Instant::now();
    let found = db.view(|tx| {
        let b = tx.bucket(b"bulk")?;
        let mut found = 0u64;
        for k in &keys {
            found += u64::from(b.get(k)?.is_some());
        }
        Ok::<_, Error>(found)
    })?;
    let read = t.elapsed();
    assert_eq!(found, n);
    let t = Instant::now();
    let scanned = db.view(|tx| {
        let b = tx.bucket(b"bulk")?;
        let mut scanned = 0u64;
        for k in &keys {
            let mut c = b.cursor();
            let mut item = c.seek(k)?;
            for _ in 0..10 {
                if item.is_none() {
                    break;
                }
                scanned += 1;
                item = c.next()?;
            }
        }
        Ok::<_, Error>(scanned)
    })?;
    let scans = t.elapsed();
    assert!(scanned >= n);
    for pass in ["cold", "warm"] {
        let t = Instant::now();
        let scanned = db.view(|tx| {
            let b = tx.bucket(b"bulk")?;
            let mut c = b.cursor();
            let mut n = 0u64;
            let mut item = c.first()?;
            while item.is_some() {
                n += 1;
                item = c.next()?;
            }
            Ok::<_, Error>(n)
        })?;
        let scan = t.elapsed();
        assert_eq!(scanned, n);
        println!("sequential cursor scan ({pass}): {:.1} ns/key", scan.as_nanos() as f64 / n as f64);
    }
    println!(
        "{n} random 24-byte keys, 150-byte values: load in one transaction {:.2?}, {n} random reads {:.2?} ({:.0} ns/read), {n} 10-entry scans {:.2?}; file {} bytes",
        load,
        read,
        read.as_nanos() as f64 / n as f64,
        scans,
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
    );
    drop(db);
    let _ = std::fs::remove_file(&path);
    Ok(())
}
