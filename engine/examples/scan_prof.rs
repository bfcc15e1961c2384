//! A fixed workload for instruction-count profiling of the read paths (cursor steps and point
//! lookups): `valgrind --tool=callgrind target/release/examples/scan_prof [get]`.

use rivet_engine::{Error, Options, DB};
fn main() -> Result<(), Error> {
    let path = std::env::temp_dir().join("scan-prof.db");
    let _ = std::fs::remove_file(&path);
    let db = DB::open(&path, Options::default().no_sync(true))?;
    db.update(|tx| {
        let mut b = tx.create_bucket(b"b")?;
        for i in 0..100_000u64 {
            b.put(&i.to_be_bytes(), &[1u8; 8])?;
        }
        Ok::<_, Error>(())
    })?;
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut total = 0u64;
    for _ in 0..10 {
        db.view(|tx| {
            let b = tx.bucket(b"b")?;
            if mode == "get" {
                for i in 0..100_000u64 {
                    total += b.get(&i.to_be_bytes())?.map_or(0, |v| v.len() as u64);
                }
            } else {
                let mut c = b.cursor();
                let mut it = c.first()?;
                while let Some((_, v)) = it {
                    total += v.map_or(0, |v| v.len() as u64);
                    it = c.next()?;
                }
            }
            Ok::<_, Error>(())
        })?;
    }
    println!("{total}");
    Ok(())
}
