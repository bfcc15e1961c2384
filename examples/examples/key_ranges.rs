//! Sortable keys: primary-key ranges over negative numbers, floats, strings and composite keys,
//! prefix scans, reversed walks and pagination.
//!
//! `cargo run -p rivet-examples --example key_ranges [-- PATH]` (default: a file in the
//! system temp directory, recreated on each run).

use std::path::PathBuf;

use rivet::{Error, Record, Store};
use serde::{Deserialize, Serialize};

/// A temperature reading, keyed by (station, time): a station's readings sit together in time
/// order, so "station X between t1 and t2" is one range read.
#[derive(Record, Serialize, Deserialize, Debug)]
struct Reading {
    #[key]
    station: String,
    /// Minutes relative to midnight; negative for the evening before.
    #[key]
    minute: i32,
    celsius: f64,
}

/// Keyed by a float: sorts in numeric order, negatives (and -0.0) first.
#[derive(Record, Serialize, Deserialize, Debug)]
struct Threshold {
    #[key]
    celsius: f64,
    label: String,
}

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("key_ranges.db"));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path)?;

    store.write(|tx| {
        for (station, minute, celsius) in [
            ("oslo", -120, -8.5),
            ("oslo", -30, -9.0),
            ("oslo", 0, -9.25),
            ("oslo", 90, -10.0),
            ("oslo", 600, -2.5),
            ("lisbon", -60, 14.0),
            ("lisbon", 300, 12.5),
            ("osaka", 30, 18.0),
        ] {
            tx.upsert(&Reading { station: station.into(), minute, celsius })?;
        }
        for (celsius, label) in
            [(-40.0, "extreme cold"), (-0.0, "freezing"), (25.0, "warm"), (-10.5, "cold"), (40.0, "hot")]
        {
            tx.upsert(&Threshold { celsius, label: label.into() })?;
        }
        Ok(())
    })?;

    store.read(|tx| {
        println!("all readings, in key order (station, then minute; negative minutes first):");
        for r in tx.scan::<Reading>() {
            let r = r?;
            println!("  {:<7} {:>5} {:>6.2}", r.station, r.minute, r.celsius);
        }

        println!("oslo only, by prefix (\"oslo\" is not confused with \"osaka\"):");
        for r in tx.prefix::<Reading>(("oslo",)) {
            let r = r?;
            println!("  {} {}", r.minute, r.celsius);
        }

        println!("oslo from 1 hour before midnight to 2 hours after, newest first:");
        let window = ("oslo".to_string(), -60)..=("oslo".to_string(), 120);
        for r in tx.range::<Reading>(window).rev() {
            let r = r?;
            println!("  {} {}", r.minute, r.celsius);
        }

        println!("thresholds at or below zero (floats sort numerically):");
        for t in tx.range::<Threshold>(..=0.0) {
            let t = t?;
            println!("  {:>6} {}", t.celsius, t.label);
        }

        println!("readings two at a time:");
        let mut after = None;
        loop {
            let q = tx.scan::<Reading>().limit(2);
            let keys: Vec<(String, i32)> = match after.take() {
                Some(k) => q.after(k).keys().collect::<Result<_, _>>()?,
                None => q.keys().collect::<Result<_, _>>()?,
            };
            let Some(last) = keys.last().cloned() else { break };
            println!("  {keys:?}");
            after = Some(last);
        }
        Ok(())
    })
}
