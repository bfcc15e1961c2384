//! The typed workload: Rivet's typed store (`rivet`) against native_db, and against the raw
//! engine writing the very same bytes (`rivet-engine`).
//!
//! A record is `{ id: u64 (autoincrement key), code: u64 (unique secondary index), payload:
//! 150 bytes }`; record `id` carries the workload's value `id - 1` and `code = mix(id ^ SEED)`
//! (a bijection, so codes are unique). Phases:
//!
//! - `typed_insert`: N records, 1,000 per durable transaction (native_db has no autoincrement:
//!   the benchmark assigns its ids);
//! - `typed_get`: N lookups by primary key (random ids), one read transaction;
//! - `typed_range`: 100,000 scans of 10 records by primary key range `id..id + 10`;
//! - `typed_index_get`: N lookups through the unique index (random codes);
//! - `typed_count`: N record counts, each in its own read transaction (`ReadTx::count` reads a
//!   stored counter; native_db asks redb's table length, also stored; the raw engine reads the
//!   same counter the store keeps);
//! - `typed_remove`: half of the records (the even ids), one durable transaction.
//!
//! The raw-engine contender writes exactly what the store writes (the record bucket, the
//! nested `index:code` bucket, the record count in `__rivet_counts`, keys in the store's key
//! encoding, postcard values), with all bytes encoded before the clock starts: it is the floor
//! the typed layer is measured against. Every answer is checked: ids, codes and payloads of
//! records found, ten consecutive ids per scan, every count, every removal finding its record,
//! and the count afterwards (by walking the records, for the raw engine).

use std::path::Path;

use rivet::{Codec, Postcard, Record, Store};
use serde::{Deserialize, Serialize};

use crate::data::{mix, SplitMix64, Workload, SCANS, SCAN_LEN, SEED};
use crate::kv::{fail, Result};
use crate::worker::{phase, size, workload};

/// Records per insert transaction.
pub const TYPED_BATCH: usize = 1_000;

/// The typed store's record.
#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "bench_records")]
pub struct BenchRecord {
    /// Autoincrement primary key.
    #[key(auto)]
    pub id: u64,
    /// Unique secondary index.
    #[index(unique)]
    pub code: u64,
    /// 150 bytes.
    pub payload: Vec<u8>,
}

pub mod native {
    //! native_db's record (same fields as [`super::BenchRecord`]; native_db has no
    //! autoincrement). Its macros generate `NativeRecordKey`.
    #![allow(missing_docs)]
    use native_db::*;
    use native_model::{native_model, Model};
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[native_model(id = 1, version = 1)]
    #[native_db]
    pub struct NativeRecord {
        #[primary_key]
        pub id: u64,
        #[secondary_key(unique)]
        pub code: u64,
        pub payload: Vec<u8>,
    }
}
pub use native::NativeRecord;
use native::NativeRecordKey;

/// The unique index value of record `id`.
pub fn code_of(id: u64) -> u64 {
    mix(id ^ SEED)
}

/// The ids each read phase asks for.
struct Plan {
    gets: Vec<u64>,
    scans: Vec<u64>,
    index_gets: Vec<u64>,
    removals: Vec<u64>,
}

impl Plan {
    fn new(n: usize) -> Plan {
        let n64 = n as u64;
        let mut r = SplitMix64::new(SEED ^ 3);
        let gets = (0..n).map(|_| 1 + r.next() % n64).collect();
        let mut r = SplitMix64::new(SEED ^ 4);
        let span = n64 - (SCAN_LEN as u64 - 1);
        let scans = (0..SCANS.min(n)).map(|_| 1 + r.next() % span).collect();
        let mut r = SplitMix64::new(SEED ^ 5);
        let index_gets = (0..n).map(|_| 1 + r.next() % n64).collect();
        let removals = (1..=n64).filter(|id| id % 2 == 0).collect();
        Plan { gets, scans, index_gets, removals }
    }
}

fn check_record(w: &Workload, id: u64, got_id: u64, code: u64, payload: &[u8]) -> Result<()> {
    if got_id != id || code != code_of(id) || payload != &w.values[(id - 1) as usize][..] {
        return fail(format!("record {id}: got id {got_id}, a wrong code or a wrong payload"));
    }
    Ok(())
}

/// A typed contender.
trait Typed {
    /// Inserts records `ids` (1-based) in one durable transaction.
    fn insert(&self, w: &Workload, ids: std::ops::Range<u64>) -> Result<()>;
    fn gets(&self, w: &Workload, ids: &[u64]) -> Result<()>;
    fn ranges(&self, w: &Workload, starts: &[u64]) -> Result<()>;
    fn index_gets(&self, w: &Workload, ids: &[u64]) -> Result<()>;
    fn remove(&self, ids: &[u64], w: &Workload) -> Result<()>;
    /// Asks for the record count `times` times, each in its own read transaction, checking
    /// that every answer is `want`.
    fn counts(&self, times: usize, want: usize) -> Result<()>;
    fn count(&self) -> Result<usize>;
    /// Whether record `id` is there (found by primary key and by its code).
    fn exists(&self, id: u64) -> Result<(bool, bool)>;
}

/// Runs the typed workload for `kind` (`rivet`, `rivet-engine` or `native_db`) in `dir`.
///
/// # Errors
/// The contender's errors and failed answer checks.
pub fn run_typed(kind: &str, dir: &Path, n: usize) -> Result<()> {
    if n < SCAN_LEN {
        return fail(format!("the typed workload needs n >= {SCAN_LEN}"));
    }
    let w = workload(n)?;
    let plan = Plan::new(n);
    let db: Box<dyn Typed> = match kind {
        "rivet" => Box::new(RivetTyped { store: Store::open(dir.join("rivet-typed.db"))? }),
        "rivet-engine" => Box::new(RawTyped::open(dir, &w)?),
        "native_db" => Box::new(NativeTyped::open(dir)?),
        other => return fail(format!("unknown typed contender `{other}`")),
    };
    let n64 = n as u64;
    phase("typed_insert", n, || {
        let mut start = 1;
        while start <= n64 {
            let end = (start + TYPED_BATCH as u64).min(n64 + 1);
            db.insert(&w, start..end)?;
            start = end;
        }
        Ok(())
    })?;
    if db.count()? != n {
        return fail("after typed_insert: wrong record count");
    }
    phase("typed_get", plan.gets.len(), || db.gets(&w, &plan.gets))?;
    phase("typed_range", plan.scans.len(), || db.ranges(&w, &plan.scans))?;
    phase("typed_index_get", plan.index_gets.len(), || db.index_gets(&w, &plan.index_gets))?;
    phase("typed_count", n, || db.counts(n, n))?;
    phase("typed_remove", plan.removals.len(), || db.remove(&plan.removals, &w))?;
    let want = n - plan.removals.len();
    let count = db.count()?;
    if count != want {
        return fail(format!("after typed_remove: {count} records instead of {want}"));
    }
    for id in (1..=n64).step_by(499) {
        let there = id % 2 == 1;
        if db.exists(id)? != (there, there) {
            return fail(format!("record {id}: expected present={there} by key and by index"));
        }
    }
    drop(db);
    size("final", dir)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rivet's typed store

struct RivetTyped {
    store: Store,
}

impl Typed for RivetTyped {
    fn insert(&self, w: &Workload, ids: std::ops::Range<u64>) -> Result<()> {
        let mut tx = self.store.begin_write()?;
        for id in ids {
            let mut r = BenchRecord { id: 0, code: code_of(id), payload: w.values[(id - 1) as usize].to_vec() };
            let got = tx.insert(&mut r)?;
            if got != id {
                return fail(format!("insert assigned id {got} instead of {id}"));
            }
        }
        Ok(tx.commit()?)
    }
    fn gets(&self, w: &Workload, ids: &[u64]) -> Result<()> {
        let tx = self.store.begin_read()?;
        for &id in ids {
            let Some(r) = tx.get::<BenchRecord>(id)? else { return fail(format!("record {id} not found")) };
            check_record(w, id, r.id, r.code, &r.payload)?;
        }
        Ok(())
    }
    fn ranges(&self, w: &Workload, starts: &[u64]) -> Result<()> {
        let tx = self.store.begin_read()?;
        for &s in starts {
            let mut want = s;
            for r in tx.range::<BenchRecord>(s..s + SCAN_LEN as u64) {
                let r = r?;
                check_record(w, want, r.id, r.code, &r.payload)?;
                want += 1;
            }
            if want != s + SCAN_LEN as u64 {
                return fail(format!("range from {s}: {} records", want - s));
            }
        }
        Ok(())
    }
    fn index_gets(&self, w: &Workload, ids: &[u64]) -> Result<()> {
        let tx = self.store.begin_read()?;
        for &id in ids {
            let Some(r) = tx.index(BenchRecord::code).get(code_of(id))? else {
                return fail(format!("code of record {id} not found"));
            };
            check_record(w, id, r.id, r.code, &r.payload)?;
        }
        Ok(())
    }
    fn remove(&self, ids: &[u64], _w: &Workload) -> Result<()> {
        let mut tx = self.store.begin_write()?;
        for &id in ids {
            if tx.remove::<BenchRecord>(id)?.is_none() {
                return fail(format!("removal of record {id} found nothing"));
            }
        }
        Ok(tx.commit()?)
    }
    fn counts(&self, times: usize, want: usize) -> Result<()> {
        for _ in 0..times {
            let got = self.store.read(|tx| tx.count::<BenchRecord>())?;
            if got != want {
                return fail(format!("count: {got} instead of {want}"));
            }
        }
        Ok(())
    }
    fn count(&self) -> Result<usize> {
        Ok(self.store.read(|tx| tx.count::<BenchRecord>())?)
    }
    fn exists(&self, id: u64) -> Result<(bool, bool)> {
        Ok(self.store.read(|tx| {
            Ok((tx.get::<BenchRecord>(id)?.is_some(), tx.index(BenchRecord::code).get(code_of(id))?.is_some()))
        })?)
    }
}

// ---------------------------------------------------------------------------------------------
// The raw engine, same bytes

const REC_BUCKET: &[u8] = b"bench_records";
use rivet::count::COUNTS_BUCKET;

/// A counter as the store keeps it: 8 bytes, big-endian.
fn decode_count(v: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(v).ok().map(u64::from_be_bytes)
}

struct RawTyped {
    db: rivet_engine::DB,
    index_bucket: Vec<u8>,
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
    codes: Vec<Vec<u8>>,
}

impl RawTyped {
    fn open(dir: &Path, w: &Workload) -> Result<Self> {
        let db = rivet_engine::DB::open(dir.join("rivet-raw.db"), rivet_engine::Options::default())?;
        let index_bucket = rivet::index_bucket_name::<u64>("code");
        db.update(|tx| {
            tx.create_bucket(REC_BUCKET)?.create_bucket(&index_bucket)?;
            tx.create_bucket(COUNTS_BUCKET).map(drop)
        })?;
        let (mut keys, mut values, mut codes) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..w.n {
            let id = i as u64 + 1;
            let r = BenchRecord { id, code: code_of(id), payload: w.values[i].to_vec() };
            keys.push(rivet::key::encode(&id));
            values.push(Postcard::encode(&r)?);
            codes.push(rivet::key::encode(&r.code));
        }
        Ok(RawTyped { db, index_bucket, keys, values, codes })
    }
    fn at(&self, id: u64) -> usize {
        (id - 1) as usize
    }
}

impl Typed for RawTyped {
    fn insert(&self, _w: &Workload, ids: std::ops::Range<u64>) -> Result<()> {
        self.db.update(|tx| {
            let mut b = tx.bucket_mut(REC_BUCKET)?;
            for id in ids.clone() {
                b.put(&self.keys[self.at(id)], &self.values[self.at(id)])?;
            }
            b.set_sequence(ids.end - 1)?;
            let mut ib = b.bucket_mut(&self.index_bucket)?;
            for id in ids.clone() {
                ib.put(&self.codes[self.at(id)], &self.keys[self.at(id)])?;
            }
            // Ids are inserted in order from 1, so the last one is the count.
            tx.bucket_mut(COUNTS_BUCKET)?.put(REC_BUCKET, &(ids.end - 1).to_be_bytes())?;
            Ok(())
        })
    }
    fn gets(&self, _w: &Workload, ids: &[u64]) -> Result<()> {
        self.db.view(|tx| {
            let b = tx.bucket(REC_BUCKET)?;
            for &id in ids {
                if b.get(&self.keys[self.at(id)])? != Some(&self.values[self.at(id)][..]) {
                    return fail(format!("record {id} not found or wrong"));
                }
            }
            Ok(())
        })
    }
    fn ranges(&self, _w: &Workload, starts: &[u64]) -> Result<()> {
        self.db.view(|tx| {
            let b = tx.bucket(REC_BUCKET)?;
            for &s in starts {
                let mut c = b.cursor();
                let mut item = c.seek(&self.keys[self.at(s)])?;
                for id in s..s + SCAN_LEN as u64 {
                    match item {
                        Some((k, Some(v)))
                            if k == &self.keys[self.at(id)][..] && v == &self.values[self.at(id)][..] => {}
                        _ => return fail(format!("range from {s}: record {id} missing or wrong")),
                    }
                    item = c.next()?;
                }
            }
            Ok(())
        })
    }
    fn index_gets(&self, _w: &Workload, ids: &[u64]) -> Result<()> {
        self.db.view(|tx| {
            let b = tx.bucket(REC_BUCKET)?;
            let ib = b.bucket(&self.index_bucket)?;
            for &id in ids {
                let Some(pk) = ib.get(&self.codes[self.at(id)])? else {
                    return fail(format!("code of record {id} not found"));
                };
                if b.get(pk)? != Some(&self.values[self.at(id)][..]) {
                    return fail(format!("record {id} (through its code) not found or wrong"));
                }
            }
            Ok(())
        })
    }
    fn remove(&self, ids: &[u64], _w: &Workload) -> Result<()> {
        self.db.update(|tx| {
            let mut b = tx.bucket_mut(REC_BUCKET)?;
            for &id in ids {
                if b.get(&self.keys[self.at(id)])?.is_none() {
                    return fail(format!("removal of record {id} found nothing"));
                }
                b.delete(&self.keys[self.at(id)])?;
            }
            let mut ib = b.bucket_mut(&self.index_bucket)?;
            for &id in ids {
                ib.delete(&self.codes[self.at(id)])?;
            }
            let mut counts = tx.bucket_mut(COUNTS_BUCKET)?;
            let before = counts.get(REC_BUCKET)?.and_then(decode_count).unwrap_or(0);
            counts.put(REC_BUCKET, &before.saturating_sub(ids.len() as u64).to_be_bytes())?;
            Ok(())
        })
    }
    fn counts(&self, times: usize, want: usize) -> Result<()> {
        for _ in 0..times {
            let got: Option<u64> = self
                .db
                .view(|tx| -> Result<_> { Ok(tx.bucket(COUNTS_BUCKET)?.get(REC_BUCKET)?.and_then(decode_count)) })?;
            if got != Some(want as u64) {
                return fail(format!("count: {got:?} instead of {want}"));
            }
        }
        Ok(())
    }
    fn count(&self) -> Result<usize> {
        self.db.view(|tx| {
            let mut n = 0;
            for item in tx.bucket(REC_BUCKET)?.iter() {
                if item?.1.is_some() {
                    n += 1;
                }
            }
            Ok(n)
        })
    }
    fn exists(&self, id: u64) -> Result<(bool, bool)> {
        self.db.view(|tx| {
            let b = tx.bucket(REC_BUCKET)?;
            let by_key = b.get(&self.keys[self.at(id)])?.is_some();
            let by_code = b.bucket(&self.index_bucket)?.get(&self.codes[self.at(id)])?.is_some();
            Ok((by_key, by_code))
        })
    }
}

// ---------------------------------------------------------------------------------------------
// native_db

struct NativeTyped {
    db: native_db::Database<'static>,
}

impl NativeTyped {
    fn open(dir: &Path) -> Result<Self> {
        // native_db borrows its models for the database's life; this process ends with it.
        let models: &'static mut native_db::Models = Box::leak(Box::new(native_db::Models::new()));
        models.define::<NativeRecord>()?;
        let db = native_db::Builder::new().create(models, dir.join("native_db.db"))?;
        Ok(NativeTyped { db })
    }
}

impl Typed for NativeTyped {
    fn insert(&self, w: &Workload, ids: std::ops::Range<u64>) -> Result<()> {
        let tx = self.db.rw_transaction()?;
        for id in ids {
            tx.insert(NativeRecord { id, code: code_of(id), payload: w.values[(id - 1) as usize].to_vec() })?;
        }
        Ok(tx.commit()?)
    }
    fn gets(&self, w: &Workload, ids: &[u64]) -> Result<()> {
        let tx = self.db.r_transaction()?;
        for &id in ids {
            let Some(r): Option<NativeRecord> = tx.get().primary(id)? else {
                return fail(format!("record {id} not found"));
            };
            check_record(w, id, r.id, r.code, &r.payload)?;
        }
        Ok(())
    }
    fn ranges(&self, w: &Workload, starts: &[u64]) -> Result<()> {
        let tx = self.db.r_transaction()?;
        let scan = tx.scan().primary::<NativeRecord>()?;
        for &s in starts {
            let mut want = s;
            for r in scan.range(s..s + SCAN_LEN as u64)? {
                let r = r?;
                check_record(w, want, r.id, r.code, &r.payload)?;
                want += 1;
            }
            if want != s + SCAN_LEN as u64 {
                return fail(format!("range from {s}: {} records", want - s));
            }
        }
        Ok(())
    }
    fn index_gets(&self, w: &Workload, ids: &[u64]) -> Result<()> {
        let tx = self.db.r_transaction()?;
        for &id in ids {
            let Some(r): Option<NativeRecord> = tx.get().secondary(NativeRecordKey::code, code_of(id))? else {
                return fail(format!("code of record {id} not found"));
            };
            check_record(w, id, r.id, r.code, &r.payload)?;
        }
        Ok(())
    }
    fn remove(&self, ids: &[u64], w: &Workload) -> Result<()> {
        // native_db removes by value (it needs the record to find its index entries).
        let tx = self.db.rw_transaction()?;
        for &id in ids {
            let r = NativeRecord { id, code: code_of(id), payload: w.values[(id - 1) as usize].to_vec() };
            tx.remove(r)?;
        }
        Ok(tx.commit()?)
    }
    fn counts(&self, times: usize, want: usize) -> Result<()> {
        for _ in 0..times {
            let tx = self.db.r_transaction()?;
            let got = tx.len().primary::<NativeRecord>()?;
            if got != want as u64 {
                return fail(format!("count: {got} instead of {want}"));
            }
        }
        Ok(())
    }
    fn count(&self) -> Result<usize> {
        let tx = self.db.r_transaction()?;
        Ok(tx.len().primary::<NativeRecord>()? as usize)
    }
    fn exists(&self, id: u64) -> Result<(bool, bool)> {
        let tx = self.db.r_transaction()?;
        let by_key: Option<NativeRecord> = tx.get().primary(id)?;
        let by_code: Option<NativeRecord> = tx.get().secondary(NativeRecordKey::code, code_of(id))?;
        Ok((by_key.is_some(), by_code.is_some()))
    }
}
