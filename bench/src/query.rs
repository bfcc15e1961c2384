//! The combined-query workload (Rivet only): an AND of two index equalities answered by the
//! typed store's leapfrog merge (`ReadTx::find`), against the same question answered by
//! scanning every record with a filter, in the same run.
//!
//! A record is `{ id: u64 (autoincrement key), a: u32 (index, 100 values), b: u32 (index, 50
//! values), payload: 150 bytes }`, with `a` and `b` drawn independently from the record's id
//! (`mix`), so an AND of `a = x` and `b = y` selects about N / 5,000 records (40 of 200,000)
//! while each equality alone selects N / 100 and N / 50. Phases:
//!
//! - `typed_query_load`: N records, 1,000 per durable transaction;
//! - `typed_and_query`: 1,000 queries `and([a.eq(x), b.eq(y)])`, each collected with `to_vec`;
//! - `typed_filter_scan`: 10 of the same questions, each a `scan` of every record with a filter.
//!
//! Both query phases read in one read transaction and check every answer: the ids ascending,
//! every record matching, the count equal to what the generator says, the payloads intact. The
//! report prints the ratio of their rates (queries per second).

use std::path::Path;

use rivet::query::and;
use rivet::{Record, Store};
use serde::{Deserialize, Serialize};

use crate::data::{mix, SplitMix64, Workload, SEED};
use crate::kv::{fail, Result};
use crate::worker::{phase, workload};

/// Distinct values of index `a`.
pub const A_VALUES: u64 = 100;
/// Distinct values of index `b`.
pub const B_VALUES: u64 = 50;
/// Queries of `typed_and_query`.
pub const AND_QUERIES: usize = 1_000;
/// Queries of `typed_filter_scan`.
pub const SCAN_QUERIES: usize = 10;
/// Records per load transaction.
const LOAD_BATCH: u64 = 1_000;

/// The record of the combined-query workload.
#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "bench_query")]
pub struct QueryRecord {
    /// Autoincrement primary key.
    #[key(auto)]
    pub id: u64,
    /// One of [`A_VALUES`].
    #[index]
    pub a: u32,
    /// One of [`B_VALUES`].
    #[index]
    pub b: u32,
    /// 150 bytes.
    pub payload: Vec<u8>,
}

/// The values of `a` and `b` of record `id`.
pub fn fields_of(id: u64) -> (u32, u32) {
    ((mix(id ^ SEED ^ 0xA) % A_VALUES) as u32, (mix(id ^ SEED ^ 0xB) % B_VALUES) as u32)
}

/// Checks one answer: ascending ids, every record matching `(x, y)` with its payload, and as
/// many as the generator made.
fn check(w: &Workload, x: u32, y: u32, found: &[QueryRecord], want: usize) -> Result<()> {
    if found.len() != want {
        return fail(format!("a = {x} and b = {y}: {} records instead of {want}", found.len()));
    }
    let mut last = 0;
    for r in found {
        let ok = r.id > last && fields_of(r.id) == (x, y) && (r.a, r.b) == (x, y);
        if !ok || r.payload != w.values[(r.id - 1) as usize] {
            return fail(format!("a = {x} and b = {y}: record {} is out of order or wrong", r.id));
        }
        last = r.id;
    }
    Ok(())
}

/// Runs the combined-query workload in `dir`.
///
/// # Errors
/// Store errors and failed answer checks.
pub fn run_query(dir: &Path, n: usize) -> Result<()> {
    let w = workload(n)?;
    let n64 = n as u64;
    let mut counts = vec![0usize; (A_VALUES * B_VALUES) as usize];
    for id in 1..=n64 {
        let (a, b) = fields_of(id);
        counts[(a as u64 * B_VALUES + b as u64) as usize] += 1;
    }
    let mut rng = SplitMix64::new(SEED ^ 7);
    let questions: Vec<(u32, u32)> =
        (0..AND_QUERIES).map(|_| ((rng.next() % A_VALUES) as u32, (rng.next() % B_VALUES) as u32)).collect();
    let want = |x: u32, y: u32| counts[(x as u64 * B_VALUES + y as u64) as usize];

    let store = Store::open(dir.join("rivet-query.db"))?;
    phase("typed_query_load", n, || {
        let mut start = 1;
        while start <= n64 {
            let end = (start + LOAD_BATCH).min(n64 + 1);
            let mut tx = store.begin_write()?;
            for id in start..end {
                let (a, b) = fields_of(id);
                let mut r = QueryRecord { id: 0, a, b, payload: w.values[(id - 1) as usize].to_vec() };
                if tx.insert(&mut r)? != id {
                    return fail(format!("insert of record {id} assigned another id"));
                }
            }
            tx.commit()?;
            start = end;
        }
        Ok(())
    })?;
    phase("typed_and_query", questions.len(), || {
        let tx = store.begin_read()?;
        for &(x, y) in &questions {
            let found = tx.find(and([QueryRecord::a.eq(x), QueryRecord::b.eq(y)])).to_vec()?;
            check(&w, x, y, &found, want(x, y))?;
        }
        Ok(())
    })?;
    let scans = &questions[..SCAN_QUERIES.min(questions.len())];
    phase("typed_filter_scan", scans.len(), || {
        let tx = store.begin_read()?;
        for &(x, y) in scans {
            let mut found = Vec::new();
            for r in tx.scan::<QueryRecord>() {
                let r = r?;
                if r.a == x && r.b == y {
                    found.push(r);
                }
            }
            check(&w, x, y, &found, want(x, y))?;
        }
        Ok(())
    })?;
    Ok(())
}
