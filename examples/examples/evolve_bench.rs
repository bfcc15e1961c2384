//! The two speed targets of schema evolution, each measured as a ratio within one run (so the
//! machine's speed cancels out; its noise does not: run it twice before trusting a figure).
//!
//! (a) **Upgraded reads**: 200,000 rows read by key in a random order (fixed seed) when they
//!     were written by version 1 and are read through a one-step upgrade (`version = 2,
//!     from = V1`, a `From` that adds a field), against the same rows written by version 2
//!     itself. Target: the upgraded read takes at most 1.5x the current read's time.
//! (b) **Index build**: the first write transaction of a type that adds `#[index]` to one
//!     field of 200,000 stored records (`tx.migrate::<T>()`, which builds the index and
//!     commits), against the engine's bulk-load rate measured here: the same number of puts,
//!     of keys and values shaped like the index's entries, into a raw engine bucket of a fresh
//!     file in one transaction. Target: index entries per second at least 0.5x the bulk-load
//!     rate.
//!
//! Each figure is the median of several runs. Nothing is asserted about time; the example
//! prints the figures, the ratios and whether each target is met.
//!
//! `cargo run --release -p rivet-examples --example evolve_bench [-- N]`
//!
//! The files go in a fresh directory under the system temp directory, removed at the end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rivet::{Record, Store};
use serde::{Deserialize, Serialize};

/// Rows written by the first release.
mod v1 {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "bench_users")]
    pub struct User {
        #[key]
        pub id: u64,
        pub email: String,
        pub name: String,
        pub score: u32,
    }
}

/// The current release: one step up from `v1`, with a field its `From` computes.
mod v2 {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "bench_users", version = 2, from = v1::User)]
    pub struct User {
        #[key]
        pub id: u64,
        pub email: String,
        pub name: String,
        pub score: u32,
        pub domain: String,
    }

    impl From<v1::User> for User {
        fn from(u: v1::User) -> Self {
            let domain = u.email.split_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
            User { id: u.id, email: u.email, name: u.name, score: u.score, domain }
        }
    }
}

/// Records without an index on `email`...
mod plain {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "bench_people")]
    pub struct Person {
        #[key]
        pub id: u64,
        pub email: String,
        pub name: String,
        pub score: u32,
    }
}

/// ...and the same type, same version, with the index added.
mod indexed {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "bench_people")]
    pub struct Person {
        #[key]
        pub id: u64,
        #[index]
        pub email: String,
        pub name: String,
        pub score: u32,
    }
}

/// How many times each measurement is taken (the median is reported).
const RUNS: usize = 5;
/// Index builds and bulk loads each need a fresh file, so fewer runs.
const BUILD_RUNS: usize = 3;

/// A small LCG (Knuth's MMIX constants): a fixed, reproducible sequence.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// The keys `1..=n` in a random order (Fisher-Yates with the LCG).
fn shuffled(n: u64, seed: u64) -> Vec<u64> {
    let mut keys: Vec<u64> = (1..=n).collect();
    let mut rng = Lcg(seed);
    for i in (1..keys.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        keys.swap(i, j);
    }
    keys
}

fn email(i: u64) -> String {
    let domain = ["example.com", "mail.example.org", "example.co.uk", "example.fr"][(i % 4) as usize];
    format!("user{:07}@{domain}", (i * 7919) % 10_000_000)
}

fn name(i: u64) -> String {
    format!("User Number {i}")
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Reads every key of `keys` as `v2::User` in one read transaction; returns the time and a
/// checksum (so the reads cannot be optimized away, and both files can be compared).
fn read_all(store: &Store, keys: &[u64]) -> Result<(Duration, u64), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let sum = store.read(|tx| {
        let mut sum = 0u64;
        for &k in keys {
            let u = tx
                .get::<v2::User>(k)?
                .ok_or_else(|| rivet::Error::NotFound { bucket: "bench_users".into(), key: k.to_string() })?;
            sum = sum.wrapping_add(u.score as u64 + u.domain.len() as u64);
        }
        Ok(sum)
    })?;
    Ok((start.elapsed(), sum))
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u64 = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 200_000,
    };
    let dir = std::env::temp_dir().join(format!("rivet-evolve-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!("N = {n}, files in {}", dir.display());

    // ------------------------------------------------------------ (a) upgraded reads
    println!("\n(a) reading {n} rows by key, random order (seed 42), through a one-step upgrade");
    let old = Store::open(fresh(&dir, "written_by_v1.db"))?;
    old.write(|tx| {
        for i in 1..=n {
            tx.upsert(&v1::User { id: i, email: email(i), name: name(i), score: (i % 1000) as u32 })?;
        }
        Ok(())
    })?;
    let current = Store::open(fresh(&dir, "written_by_v2.db"))?;
    current.write(|tx| {
        for i in 1..=n {
            let u = v2::User { id: i, email: email(i), name: name(i), score: (i % 1000) as u32, domain: String::new() };
            let domain = u.email.split_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
            tx.upsert(&v2::User { domain, ..u })?;
        }
        Ok(())
    })?;
    let keys = shuffled(n, 42);
    // Warm both files (page cache, resolution cache), and check they read the same.
    let (_, sum_old) = read_all(&old, &keys)?;
    let (_, sum_current) = read_all(&current, &keys)?;
    assert_eq!(sum_old, sum_current, "the upgraded rows read as the current ones");
    let (mut t_old, mut t_current) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        t_old.push(read_all(&old, &keys)?.0);
        t_current.push(read_all(&current, &keys)?.0);
    }
    let (t_old, t_current) = (median(t_old), median(t_current));
    let ratio_a = t_old.as_secs_f64() / t_current.as_secs_f64();
    println!("    written by v2, read as v2 (direct):   {} (median of {RUNS})", ms(t_current));
    println!("    written by v1, read as v2 (upgraded): {} (median of {RUNS})", ms(t_old));
    println!(
        "    ratio upgraded/current = {ratio_a:.2} (target <= 1.5): {}",
        if ratio_a <= 1.5 { "met" } else { "NOT met" }
    );
    old.close()?;
    current.close()?;

    // ------------------------------------------------------------ (b) index build
    println!("\n(b) building a new index on {n} records vs. the engine's bulk load");
    let mut builds = Vec::new();
    let mut scans = Vec::new();
    let mut commits = Vec::new();
    let mut entries: Vec<Vec<u8>> = Vec::new();
    for run in 0..BUILD_RUNS {
        let store = Store::open(fresh(&dir, "index_build.db"))?;
        store.write(|tx| {
            for i in 1..=n {
                tx.upsert(&plain::Person { id: i, email: email(i), name: name(i), score: (i % 1000) as u32 })?;
            }
            Ok(())
        })?;
        // For the breakdown: a full scan decoding every record (what the build reads).
        let start = Instant::now();
        let scanned =
            store.read(|tx| tx.scan::<plain::Person>().try_fold(0u64, |n, r| r.map(|p| n + p.score as u64)))?;
        scans.push(start.elapsed());
        assert!(scanned > 0);
        // What `store.write(|tx| tx.migrate::<indexed::Person>())` does, timed in two parts.
        let start = Instant::now();
        let mut tx = store.begin_write()?;
        let rewritten = tx.migrate::<indexed::Person>()?;
        let in_tx = start.elapsed();
        tx.commit()?;
        builds.push(start.elapsed());
        commits.push(start.elapsed() - in_tx);
        assert_eq!(rewritten, 0, "only the index changed: no value is rewritten");
        let built = store.read(|tx| tx.index(indexed::Person::email).equal(email(7)).count())?;
        assert_eq!(built, 1);
        if run == 0 {
            // The raw index entries, to bulk-load the same bytes below.
            entries = store.engine().view(|tx| {
                let users = tx.bucket(b"bench_people")?;
                let name = rivet::index_bucket_name::<u64>("email");
                let index = users.bucket(&name)?;
                let mut out = Vec::new();
                for item in index.iter() {
                    let (k, _) = item?;
                    out.push(k.to_vec());
                }
                Ok::<_, rivet::engine::Error>(out)
            })?;
            assert_eq!(entries.len() as u64, n);
        }
        store.close()?;
    }
    let t_build = median(builds);
    let build_rate = n as f64 / t_build.as_secs_f64();

    // The engine's bulk load: the index's own keys (empty values, as a non-unique index
    // stores them), in key order, one transaction, committed; and, for context, the same keys
    // in a random order.
    let bulk_load = |keys: &[Vec<u8>]| -> Result<Duration, Box<dyn std::error::Error>> {
        let mut times = Vec::new();
        for _ in 0..BUILD_RUNS {
            let db = rivet::engine::DB::open(fresh(&dir, "bulk.db"), rivet::Options::default())?;
            let start = Instant::now();
            db.update(|tx| {
                let mut b = tx.create_bucket(b"bulk")?;
                for k in keys {
                    b.put(k, b"")?;
                }
                Ok::<_, rivet::engine::Error>(())
            })?;
            times.push(start.elapsed());
            db.close()?;
        }
        Ok(median(times))
    };
    let t_bulk = bulk_load(&entries)?;
    let bulk_rate = n as f64 / t_bulk.as_secs_f64();
    let mut random_order = entries.clone();
    let order = shuffled(n, 7);
    for (slot, &i) in order.iter().enumerate() {
        random_order[slot] = entries[(i - 1) as usize].clone();
    }
    let t_bulk_random = bulk_load(&random_order)?;
    let ratio_b = build_rate / bulk_rate;
    let avg_key = entries.iter().map(Vec::len).sum::<usize>() as f64 / entries.len() as f64;
    println!(
        "    index build (first write tx of the indexed type, commit included): {} = {:.0} entries/s (median of {BUILD_RUNS})",
        ms(t_build),
        build_rate
    );
    println!(
        "      of which reading and decoding the {n} records takes about {} (a full scan, measured apart)",
        ms(median(scans))
    );
    println!("      and the commit about {}", ms(median(commits)));
    println!(
        "    engine bulk load, {n} puts of the same keys (avg {avg_key:.1} bytes, empty values), sorted: {} = {:.0} keys/s",
        ms(t_bulk),
        bulk_rate
    );
    println!(
        "    (for context, the same puts in random order: {} = {:.0} keys/s)",
        ms(t_bulk_random),
        n as f64 / t_bulk_random.as_secs_f64()
    );
    println!(
        "    ratio build rate/bulk-load rate = {ratio_b:.2} (target >= 0.5): {}",
        if ratio_b >= 0.5 { "met" } else { "NOT met" }
    );

    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
