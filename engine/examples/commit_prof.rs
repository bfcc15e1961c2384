//! Times durable commits after a random bulk load, with the page and write counts behind them:
//! 1,000 single-insert commits, then 100 commits of 1,000 random inserts (the benchmark's
//! individual and batch phases, on the engine alone, for profiling placement and splits), then
//! removes half of the loaded keys in one transaction (the removal phase).
//!
//! `cargo run --release -p rivet-engine --example commit_prof -- [N] [FILL] [BATCHES]` (defaults 200000,
//! the engine's default fill percent and 100). The file goes to the system temp directory.

use std::time::Instant;

use rivet_engine::{Error, Options, DB, DEFAULT_FILL_PERCENT};

fn main() -> Result<(), Error> {
    let n: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(200_000);
    let fill: f64 = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_FILL_PERCENT);
    let path = std::env::temp_dir().join(format!("rivet-commit-prof-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let db = DB::open(&path, Options::default())?;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut key = || {
        let mut k = [0u8; 24];
        for c in k.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        k
    };
    let keys: Vec<[u8; 24]> = (0..n).map(|_| key()).collect();
    let value = [7u8; 150];
    db.update(|tx| {
        let mut b = tx.create_bucket(b"bulk")?;
        b.set_fill_percent(fill);
        keys.iter().try_for_each(|k| b.put(k, &value))
    })?;

    let before = db.stats().tx_stats;
    let t = Instant::now();
    for _ in 0..1000 {
        let k = key();
        db.update(|tx| {
            let mut b = tx.bucket_mut(b"bulk")?;
            b.set_fill_percent(fill);
            b.put(&k, &value)
        })?;
    }
    let took = t.elapsed();
    let s = db.stats().tx_stats.sub(&before);
    println!(
        "1000 single-insert commits: {:.0} us each (spill {:.0} us, write {:.0} us); per commit {:.2} pages, {:.2} writes, {:.2} splits",
        took.as_micros() as f64 / 1e3,
        s.spill_time.as_micros() as f64 / 1e3,
        s.write_time.as_micros() as f64 / 1e3,
        s.page_count as f64 / 1e3,
        s.write as f64 / 1e3,
        s.split as f64 / 1e3
    );

    let before = db.stats().tx_stats;
    let t = Instant::now();
    let batches: usize = std::env::args().nth(3).and_then(|s| s.parse().ok()).unwrap_or(100);
    for _ in 0..batches {
        let batch: Vec<[u8; 24]> = (0..1000).map(|_| key()).collect();
        db.update(|tx| {
            let mut b = tx.bucket_mut(b"bulk")?;
            b.set_fill_percent(fill);
            batch.iter().try_for_each(|k| b.put(k, &value))
        })?;
    }
    let took = t.elapsed();
    let s = db.stats().tx_stats.sub(&before);
    let per = batches.max(1) as f64;
    println!(
        "{batches} commits of 1000 inserts: {:.2} ms each (spill {:.2} ms, write {:.2} ms); per commit {:.1} pages, {:.1} writes",
        took.as_secs_f64() * 1e3 / per,
        s.spill_time.as_secs_f64() * 1e3 / per,
        s.write_time.as_secs_f64() * 1e3 / per,
        s.page_count as f64 / per,
        s.write as f64 / per
    );
    let shape = db.view(|tx| tx.bucket(b"bulk")?.stats())?;
    let st = db.stats();
    println!(
        "  shape: {} leaves ({:.0}% used), {} branches, {} free pages, {} pending",
        shape.leaf_page_n,
        shape.leaf_inuse as f64 * 100.0 / shape.leaf_alloc.max(1) as f64,
        shape.branch_page_n,
        st.free_page_n,
        st.pending_page_n
    );
    let before = db.stats().tx_stats;
    let t = Instant::now();
    db.update(|tx| {
        let mut b = tx.bucket_mut(b"bulk")?;
        keys.iter().step_by(2).try_for_each(|k| b.delete(k))
    })?;
    let took = t.elapsed();
    let s = db.stats().tx_stats.sub(&before);
    println!(
        "removing {} keys in one commit: {:.1} ms (spill {:.1} ms, rebalance {:.1} ms, write {:.1} ms), {} pages",
        keys.len().div_ceil(2),
        took.as_secs_f64() * 1e3,
        s.spill_time.as_secs_f64() * 1e3,
        s.rebalance_time.as_secs_f64() * 1e3,
        s.write_time.as_secs_f64() * 1e3,
        s.page_count
    );
    println!("file {} bytes", std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0));
    drop(db);
    let _ = std::fs::remove_file(&path);
    Ok(())
}
