//! The two value codecs side by side: the encoded size of a typical record, and the speed of
//! encoding and decoding it, as a ratio bincode/postcard measured within one run (so the
//! machine's speed cancels out; its noise does not: run it twice before trusting a figure).
//!
//! The record: a `u64` id, a 20-character name, ten `u32` values. Sizes are printed for three
//! spreads of numbers, because the two formats write integers differently (postcard: LEB128,
//! 7 bits a byte; bincode: one byte below 251, else a marker byte and the fixed-width value).
//! Speed: N records (default 1,000,000) encoded into a reused buffer, decoded as their type,
//! and decoded by their shape (how the store reads a value of an older layout); each figure is
//! the median of five rounds, the codecs alternating within a round.
//!
//! `cargo run --release -p rivet-examples --features bincode --example codecs [-- N]`

use std::hint::black_box;
use std::time::{Duration, Instant};

use rivet::{Bincode, Codec, Layout, Postcard, Shape};
use serde::{Deserialize, Serialize};

/// The record measured.
#[derive(Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Reading {
    id: u64,
    name: String,
    values: Vec<u32>,
}

/// Record `i` with numbers scaled by `spread` (small: under 128; medium: to 1,000,000; large:
/// the whole range).
fn reading(i: u64, spread: Spread) -> Reading {
    let name = format!("sensor-{:013}", i % 10_000_000_000_000);
    // A cheap, fixed pseudo-random sequence (splitmix64), so every run measures the same data.
    let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let (id, values) = match spread {
        Spread::Small => (i % 128, (0..10).map(|_| (next() % 128) as u32).collect()),
        Spread::Medium => (1_000_000 + i, (0..10).map(|_| (next() % 1_000_000) as u32).collect()),
        Spread::Large => (next(), (0..10).map(|_| next() as u32).collect()),
    };
    Reading { id, name, values }
}

#[derive(Debug, Clone, Copy)]
enum Spread {
    Small,
    Medium,
    Large,
}

/// Average encoded size of `records` under codec `C`.
fn mean_size<C: Codec>(records: &[Reading]) -> f64 {
    let total: usize = records.iter().map(|r| C::encode(r).map(|b| b.len()).unwrap_or(0)).sum();
    total as f64 / records.len() as f64
}

/// The times of one round under codec `C`: encode, decode, decode by shape.
fn round<C: Codec>(records: &[Reading], shape: &Shape) -> Result<[Duration; 3], String> {
    let mut buf = Vec::new();
    let t = Instant::now();
    for r in records {
        C::encode_into(r, &mut buf)?;
        black_box(&buf);
    }
    let encode = t.elapsed();
    let encoded = records.iter().map(|r| C::encode(r)).collect::<Result<Vec<_>, _>>()?;
    let t = Instant::now();
    for (bytes, r) in encoded.iter().zip(records) {
        let back: Reading = C::decode(bytes)?;
        if back.id != r.id {
            return Err(format!("record {} decoded as {}", r.id, back.id));
        }
        black_box(back);
    }
    let decode = t.elapsed();
    let t = Instant::now();
    for bytes in &encoded {
        black_box(C::decode_shape(bytes, shape)?);
    }
    Ok([encode, decode, t.elapsed()])
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() -> Result<(), String> {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);

    println!("encoded size of a Reading {{ id: u64, name: 20 chars, values: 10 x u32 }}, mean of 10,000:");
    println!("{:<40} {:>9} {:>9}", "numbers", "postcard", "bincode");
    for (spread, what) in [
        (Spread::Small, "small (id and values < 128)"),
        (Spread::Medium, "medium (id ~1e6, values < 1e6)"),
        (Spread::Large, "large (random u64 id, random u32s)"),
    ] {
        let records: Vec<Reading> = (0..10_000).map(|i| reading(i, spread)).collect();
        println!("{what:<40} {:>8.1}B {:>8.1}B", mean_size::<Postcard>(&records), mean_size::<Bincode>(&records));
    }

    let records: Vec<Reading> = (0..n).map(|i| reading(i, Spread::Medium)).collect();
    let shape = Reading::shape();
    let mut times: [[Vec<Duration>; 3]; 2] = Default::default();
    for _ in 0..5 {
        for (c, t) in [round::<Postcard>(&records, &shape)?, round::<Bincode>(&records, &shape)?].iter().enumerate() {
            for (phase, d) in t.iter().enumerate() {
                times[c][phase].push(*d);
            }
        }
    }
    println!("\n{n} records (medium numbers), median of 5 rounds:");
    println!("{:<22} {:>10} {:>10} {:>16}", "phase", "postcard", "bincode", "bincode/postcard");
    let [p, b] = times.map(|phases| phases.map(median));
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
    for (i, phase) in ["encode", "decode", "decode by shape"].iter().enumerate() {
        let ratio = b[i].as_secs_f64() / p[i].as_secs_f64();
        println!("{phase:<22} {:>10} {:>10} {ratio:>15.2}x", ms(p[i]), ms(b[i]));
    }
    let (pt, bt) = (p[0] + p[1], b[0] + b[1]);
    println!("{:<22} {:>10} {:>10} {:>15.2}x", "encode + decode", ms(pt), ms(bt), bt.as_secs_f64() / pt.as_secs_f64());
    Ok(())
}
