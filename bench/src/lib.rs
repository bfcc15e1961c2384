//! # rivet-bench
//!
//! Rivet side by side with its peers: redb, LMDB (through heed), Go bbolt, jammdb, sled and
//! fjall on a key/value workload, and Rivet's typed store against native_db (and against the
//! raw engine writing the same bytes) on a typed one. See issue 6 and the README's
//! "Performance" section.
//!
//! ```text
//! cargo run --release -p rivet-bench -- [--n N] [--runs R] [--only a,b] [--json FILE] [--cap SECS]
//! cargo run --release -p rivet-bench -- --chart FILE.json   # redraws the charts of stored results
//! bench/run.sh [same arguments]      # installs Go and Debian's bbolt first if they are missing
//! cargo bench -p rivet-bench         # the criterion micro-benchmarks (benches/micro.rs)
//! ```
//!
//! How a run is organised:
//! - [`data`]: 24-byte random keys and 150-byte random values from a fixed seed, the same
//!   bytes for every contender (Go included; the driver compares checksums);
//! - [`driver`]: re-executes this binary once per contender and run (`--worker NAME`), each in a
//!   fresh directory, interleaving contenders; caps every phase; prints the markdown table
//!   (median of the runs and the spread), the sizes, Rivet against the best peer, and the
//!   issue's targets as met or missed; writes JSON with `--json`;
//! - [`chart`]: with `--json`, an SVG bar chart per workload beside the JSON (each phase, each
//!   contender, relative to the phase's fastest; a log axis when the bars spread over 10×);
//! - [`worker`] and [`kv`]: the key/value phases (bulk load, individual and batch writes,
//!   random reads on 1 and 2 threads, range scans, removals, file sizes), every answer checked;
//! - [`typed`]: the typed phases (insert with an autoincrement key and a unique index, get,
//!   range, index lookup, remove, count).
//! - [`query`]: combined queries (Rivet alone): an AND of two index equalities merged by
//!   leapfrog, against scanning every record with a filter, in the same run.
//!
//! This crate is a workspace member but not a default member, so `cargo test` at the root
//! does not build its heavy dependencies.

pub mod chart;
pub mod data;
pub mod driver;
pub mod kv;
pub mod query;
pub mod report;
pub mod typed;
pub mod worker;
