//! `rivet bench [...]`: bbolt's benchmark. Writes `--count` keys of `--key-size` bytes with
//! zeroed values of `--value-size` bytes in transactions of `--batch-size` keys, in sequential
//! or random order, into one bucket (`seq`, `rnd`) or into one nested bucket per transaction
//! (`seq-nest`, `rnd-nest`); then reads every key back, with a cursor in key order (`seq`) or
//! with a `get` per key in random order (`rnd`), repeating for at least `--read-time` (bbolt
//! reads for one second). Prints each phase as bbolt does:
//! `# Write<TAB>68.4ms<TAB>(68.4µs/op)<TAB>(14619 op/sec)`.
//!
//! Keys are the operation index in big-endian in the first `min(key-size, 8)` bytes (the low
//! bytes when shorter), so they are unique and sequential keys sort in write order; random
//! orders are a seeded shuffle, so every run with the same `--seed` writes the same file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rivet_engine::{Options, DB};

use crate::cli::{BenchArgs, Global, ReadMode, WriteMode};
use crate::error::CliError;
use crate::progress::Progress;
use crate::w;

/// Name of the benchmark's top-level bucket.
const BUCKET: &[u8] = b"bench";

/// SplitMix64: a small seeded generator for the random orders.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// The key for operation `i`.
fn key(i: u64, size: usize) -> Vec<u8> {
    let mut k = vec![0u8; size];
    let be = i.to_be_bytes();
    if size >= 8 {
        k[..8].copy_from_slice(&be);
    } else {
        k.copy_from_slice(&be[8 - size..]);
    }
    k
}

/// A duration as Go prints one (`68.4ms`, `1.000063s`, `17ns`).
fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        format!("{}µs", trim(ns as f64 / 1e3))
    } else if ns < 1_000_000_000 {
        format!("{}ms", trim(ns as f64 / 1e6))
    } else {
        format!("{}s", trim(ns as f64 / 1e9))
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.6}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn line(out: &mut dyn Write, phase: &str, elapsed: Duration, ops: u64) -> Result<(), CliError> {
    let per = if ops == 0 { Duration::ZERO } else { Duration::from_secs_f64(elapsed.as_secs_f64() / ops as f64) };
    let rate = if elapsed.is_zero() { 0 } else { (ops as f64 / elapsed.as_secs_f64()) as u64 };
    w!(out, "# {phase}\t{}\t({}/op)\t({rate} op/sec)", go_duration(elapsed), go_duration(per))
}

/// The command-line spelling of a mode (`seq-nest`).
fn mode_name<T: clap::ValueEnum>(v: T) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}

/// Checks the arguments that clap cannot.
fn validate(a: &BenchArgs) -> Result<(), CliError> {
    if a.count > u64::from(u32::MAX) {
        return Err(CliError::usage("--count must be at most 4294967295"));
    }
    if a.key_size == 0 || a.key_size > rivet_engine::MAX_KEY_SIZE {
        return Err(CliError::usage(format!("--key-size must be 1..={}", rivet_engine::MAX_KEY_SIZE)));
    }
    if a.key_size < 8 && a.count > 1u64 << (8 * a.key_size) {
        return Err(CliError::usage(format!("--key-size {} cannot hold {} distinct keys", a.key_size, a.count)));
    }
    if a.value_size > rivet_engine::MAX_VALUE_SIZE {
        return Err(CliError::usage("--value-size is larger than the engine's maximum"));
    }
    if !(0.1..=1.0).contains(&a.fill_percent) {
        return Err(CliError::usage("--fill-percent must be within 0.1..=1.0"));
    }
    Ok(())
}

/// Runs `bench`.
pub fn run(g: &Global, a: BenchArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    validate(&a)?;
    let path = a.path.clone().unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        std::env::temp_dir().join(format!("rivet-bench-{}-{nanos}.db", std::process::id()))
    });
    if path.exists() {
        return Err(CliError::file(&path, "already exists (bench writes a new file)"));
    }
    let result = bench(g, &a, &path, out);
    if !a.work {
        let _ = std::fs::remove_file(&path);
    }
    result
}

fn bench(g: &Global, a: &BenchArgs, path: &PathBuf, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let err = |e| CliError::engine(path, e, None);
    let mut opts = Options::default().no_sync(a.no_sync);
    opts.page_size = a.page_size;
    let db = DB::open(path, opts).map_err(err)?;
    let batch = if a.batch_size == 0 { a.count.max(1) } else { a.batch_size };
    let nested = matches!(a.write_mode, WriteMode::SeqNest | WriteMode::RndNest);
    let mut rng = Rng(a.seed);
    let mut order: Vec<u64> = (0..a.count).collect();
    if matches!(a.write_mode, WriteMode::Rnd | WriteMode::RndNest) {
        rng.shuffle(&mut order);
    }
    let batches = order.len().div_ceil(batch as usize);
    let mut names: Vec<u64> = (0..batches as u64).collect();
    if a.write_mode == WriteMode::RndNest {
        rng.shuffle(&mut names);
    }
    w!(
        out,
        "# rivet bench: write-mode {}, read-mode {}, count {}, batch-size {batch}, key-size {}, value-size {}, \
         fill-percent {}, {}, page size {}",
        mode_name(a.write_mode),
        mode_name(a.read_mode),
        a.count,
        a.key_size,
        a.value_size,
        a.fill_percent,
        if a.no_sync { "no-sync" } else { "sync" },
        db.info().page_size
    )?;
    out.flush().map_err(CliError::output)?;

    // Write phase.
    let value = vec![0u8; a.value_size];
    let progress = Progress::bar(g.quiet, a.count, "writing", "keys");
    let started = Instant::now();
    for (n, chunk) in order.chunks(batch as usize).enumerate() {
        db.update(|tx| {
            let mut top = tx.create_bucket_if_not_exists(BUCKET)?;
            top.set_fill_percent(a.fill_percent);
            let mut b = if nested {
                let mut b = top.create_bucket_if_not_exists(&key(names[n], a.key_size))?;
                b.set_fill_percent(a.fill_percent);
                b
            } else {
                top
            };
            for &i in chunk {
                b.put(&key(i, a.key_size), &value)?;
            }
            Ok::<_, rivet_engine::Error>(())
        })
        .map_err(err)?;
        progress.inc(chunk.len() as u64);
    }
    let write_time = started.elapsed();
    progress.finish();
    line(out, "Write", write_time, a.count)?;
    out.flush().map_err(CliError::output)?;

    // Read phase: (bucket name, key) pairs in the order the read mode wants.
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    if a.read_mode == ReadMode::Rnd {
        for (n, chunk) in order.chunks(batch as usize).enumerate() {
            pairs.extend(chunk.iter().map(|&i| (names[n], i)));
        }
        rng.shuffle(&mut pairs);
    }
    let progress = Progress::spinner(g.quiet, "reading");
    let started = Instant::now();
    let mut ops = 0u64;
    loop {
        let tx = db.begin(false).map_err(err)?;
        let top = tx.bucket(BUCKET).map_err(err)?;
        let found = match a.read_mode {
            ReadMode::Seq => {
                let mut n = 0u64;
                for item in top.iter() {
                    let (k, v) = item.map_err(err)?;
                    if v.is_none() && nested {
                        for inner in top.bucket(k).map_err(err)?.iter() {
                            inner.map_err(err)?;
                            n += 1;
                        }
                    } else {
                        n += 1;
                    }
                }
                n
            }
            ReadMode::Rnd => {
                let mut n = 0u64;
                for &(name, i) in &pairs {
                    let b = if nested { top.bucket(&key(name, a.key_size)).map_err(err)? } else { top };
                    if b.get(&key(i, a.key_size)).map_err(err)?.is_some() {
                        n += 1;
                    }
                }
                n
            }
        };
        if found != a.count {
            return Err(CliError::file(path, format!("read back {found} keys, but {} were written", a.count)));
        }
        ops += found;
        if started.elapsed() >= a.read_time || a.count == 0 {
            break;
        }
    }
    let read_time = started.elapsed();
    progress.finish();
    line(out, "Read", read_time, ops)?;
    if a.work {
        w!(out, "# kept {}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
