//! The key/value contenders behind one small trait, each with durable commits.
//!
//! | contender | durability per commit |
//! |---|---|
//! | `rivet` | engine default: data pages, fdatasync, meta page, fdatasync |
//! | `rivet-journal` | `Options::journal`: the commit's record appended to the journal, fdatasync (pages at checkpoints) |
//! | `lmdb` (heed) | LMDB default (no `MDB_NOSYNC`): data, fdatasync, meta, fdatasync |
//! | `redb` | `Durability::Immediate` (redb's default) |
//! | `jammdb` | writes pages and meta, then one `fsync` (it has no ordering sync between them) |
//! | `sled` | no durable transactions: every commit is followed by `Db::flush()` (which fsyncs) |
//! | `fjall` | each commit is a `WriteBatch` with `PersistMode::SyncData` (journal fdatasync) |
//!
//! Every method checks its answers: a lookup must find the key and the exact value, a scan
//! must return 10 entries starting at the wanted key in ascending order, a removal must find
//! the key (where the API says whether it did). A failed check is an error, and the run fails.

use std::ops::{Bound, Range};
use std::path::Path;

use crate::data::{Workload, SCAN_LEN};

/// Any error, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Result with a boxed error.
pub type Result<T, E = BoxError> = std::result::Result<T, E>;

/// A failed answer check.
pub fn fail<T>(msg: impl Into<String>) -> Result<T> {
    Err(msg.into().into())
}

fn check_value(got: Option<&[u8]>, w: &Workload, i: usize) -> Result<()> {
    match got {
        Some(v) if v == &w.values[i][..] => Ok(()),
        Some(v) => fail(format!("lookup of key #{i} returned a wrong value ({} bytes)", v.len())),
        None => fail(format!("lookup of key #{i} found nothing")),
    }
}

/// Checks one scan: exactly `SCAN_LEN` keys, the first the start key, ascending.
struct ScanCheck<'a> {
    start: &'a [u8],
    prev: Vec<u8>,
    n: usize,
}

impl<'a> ScanCheck<'a> {
    fn new(start: &'a [u8]) -> Self {
        ScanCheck { start, prev: Vec::new(), n: 0 }
    }
    fn item(&mut self, k: &[u8], v: &[u8]) -> Result<()> {
        if self.n == 0 {
            if k != self.start {
                return fail("a scan did not start at its (existing) start key");
            }
        } else if k <= self.prev.as_slice() {
            return fail("a scan returned keys out of order");
        }
        if v.len() != crate::data::VALUE_LEN {
            return fail(format!("a scan returned a value of {} bytes", v.len()));
        }
        self.prev.clear();
        self.prev.extend_from_slice(k);
        self.n += 1;
        Ok(())
    }
    fn finish(self) -> Result<()> {
        if self.n == SCAN_LEN {
            Ok(())
        } else {
            fail(format!("a scan returned {} entries instead of {SCAN_LEN}", self.n))
        }
    }
}

/// What a contender must do. Every write method is one durable transaction.
pub trait Kv: Sync {
    /// Inserts keys `idx` (with their values) in one durable transaction.
    fn write(&self, w: &Workload, idx: Range<usize>) -> Result<()>;
    /// Removes keys `idx` in one durable transaction.
    fn remove(&self, w: &Workload, idx: Range<usize>) -> Result<()>;
    /// Looks up every key in `lookups` (indexes into `w.keys`) in one read transaction and
    /// checks the values.
    fn reads(&self, w: &Workload, lookups: &[u32]) -> Result<()>;
    /// For each start (an index into `w.keys`), reads 10 entries from that key on, in one read
    /// transaction, and checks them.
    fn scans(&self, w: &Workload, starts: &[u32]) -> Result<()>;
    /// The value of one key (for the untimed checks).
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// How many entries there are (walks them; untimed).
    fn count(&self) -> Result<usize>;
    /// Closes the database (flushing whatever the contender flushes at close).
    fn close(self: Box<Self>) -> Result<()>;
}

/// Opens contender `name` in the (empty) directory `dir`.
///
/// # Errors
/// An unknown name, or the contender's open error.
pub fn open(name: &str, dir: &Path) -> Result<Box<dyn Kv>> {
    Ok(match name {
        "rivet" => Box::new(RivetKv::open(dir, false)?),
        "rivet-journal" => Box::new(RivetKv::open(dir, true)?),
        "lmdb" => Box::new(LmdbKv::open(dir)?),
        "redb" => Box::new(RedbKv::open(dir)?),
        "jammdb" => Box::new(JammKv::open(dir)?),
        "sled" => Box::new(SledKv::open(dir)?),
        "fjall" => Box::new(FjallKv::open(dir)?),
        other => return fail(format!("unknown key/value contender `{other}`")),
    })
}

const BUCKET: &[u8] = b"bench";

// ---------------------------------------------------------------------------------------------
// Rivet

/// Rivet's engine with default (durable) options, with or without the journal.
pub struct RivetKv {
    db: rivet_engine::DB,
}

impl RivetKv {
    fn open(dir: &Path, journal: bool) -> Result<Self> {
        let opts = rivet_engine::Options::default().journal(journal);
        let db = rivet_engine::DB::open(dir.join("rivet.db"), opts)?;
        db.update(|tx| tx.create_bucket(BUCKET).map(drop))?;
        Ok(RivetKv { db })
    }
}

impl Kv for RivetKv {
    fn write(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        self.db.update(|tx| {
            let mut b = tx.bucket_mut(BUCKET)?;
            for i in idx {
                b.put(&w.keys[i], &w.values[i])?;
            }
            Ok(())
        })
    }
    fn remove(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        self.db.update(|tx| {
            let mut b = tx.bucket_mut(BUCKET)?;
            for i in idx {
                b.delete(&w.keys[i])?;
            }
            Ok(())
        })
    }
    fn reads(&self, w: &Workload, lookups: &[u32]) -> Result<()> {
        self.db.view(|tx| {
            let b = tx.bucket(BUCKET)?;
            for &i in lookups {
                check_value(b.get(&w.keys[i as usize])?, w, i as usize)?;
            }
            Ok(())
        })
    }
    fn scans(&self, w: &Workload, starts: &[u32]) -> Result<()> {
        self.db.view(|tx| {
            let b = tx.bucket(BUCKET)?;
            for &s in starts {
                let start = &w.keys[s as usize][..];
                let mut check = ScanCheck::new(start);
                let mut c = b.cursor();
                let mut item = c.seek(start)?;
                while let Some((k, v)) = item {
                    check.item(k, v.unwrap_or_default())?;
                    if check.n == SCAN_LEN {
                        break;
                    }
                    item = c.next()?;
                }
                check.finish()?;
            }
            Ok(())
        })
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db.view(|tx| Ok(tx.bucket(BUCKET)?.get(key)?.map(<[u8]>::to_vec)))
    }
    fn count(&self) -> Result<usize> {
        self.db.view(|tx| {
            let mut n = 0;
            for item in tx.bucket(BUCKET)?.iter() {
                item?;
                n += 1;
            }
            Ok(n)
        })
    }
    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }
}

// ---------------------------------------------------------------------------------------------
// LMDB through heed

/// LMDB (through heed) with default flags: every commit syncs.
pub struct LmdbKv {
    env: heed::Env,
    db: heed::Database<heed::types::Bytes, heed::types::Bytes>,
}

impl LmdbKv {
    fn open(dir: &Path) -> Result<Self> {
        // The map is address space only (the file grows as pages are written).
        // SAFETY: heed's open is unsafe because the same file must not be opened twice in one
        // process; each worker opens its own fresh directory exactly once.
        let env = unsafe { heed::EnvOpenOptions::new().map_size(64 << 30).max_dbs(1).max_readers(16).open(dir)? };
        let mut wtxn = env.write_txn()?;
        let db = env.create_database(&mut wtxn, Some("bench"))?;
        wtxn.commit()?;
        Ok(LmdbKv { env, db })
    }
}

impl Kv for LmdbKv {
    fn write(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let mut tx = self.env.write_txn()?;
        for i in idx {
            self.db.put(&mut tx, &w.keys[i], &w.values[i])?;
        }
        Ok(tx.commit()?)
    }
    fn remove(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let mut tx = self.env.write_txn()?;
        for i in idx {
            if !self.db.delete(&mut tx, &w.keys[i])? {
                return fail(format!("removal of key #{i} found nothing"));
            }
        }
        Ok(tx.commit()?)
    }
    fn reads(&self, w: &Workload, lookups: &[u32]) -> Result<()> {
        let tx = self.env.read_txn()?;
        for &i in lookups {
            check_value(self.db.get(&tx, &w.keys[i as usize])?, w, i as usize)?;
        }
        Ok(())
    }
    fn scans(&self, w: &Workload, starts: &[u32]) -> Result<()> {
        let tx = self.env.read_txn()?;
        for &s in starts {
            let start = &w.keys[s as usize][..];
            let mut check = ScanCheck::new(start);
            let range = (Bound::Included(start), Bound::Unbounded);
            for item in self.db.range(&tx, &range)?.take(SCAN_LEN) {
                let (k, v) = item?;
                check.item(k, v)?;
            }
            check.finish()?;
        }
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tx = self.env.read_txn()?;
        Ok(self.db.get(&tx, key)?.map(<[u8]>::to_vec))
    }
    fn count(&self) -> Result<usize> {
        let tx = self.env.read_txn()?;
        let mut n = 0;
        for item in self.db.iter(&tx)? {
            item?;
            n += 1;
        }
        Ok(n)
    }
    fn close(self: Box<Self>) -> Result<()> {
        let LmdbKv { env, .. } = *self;
        env.prepare_for_closing().wait();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// redb

const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("bench");

/// redb with its default (immediate) durability.
pub struct RedbKv {
    db: redb::Database,
}

impl RedbKv {
    fn open(dir: &Path) -> Result<Self> {
        let db = redb::Database::create(dir.join("redb.db"))?;
        let tx = db.begin_write()?;
        tx.open_table(REDB_TABLE)?;
        tx.commit()?;
        Ok(RedbKv { db })
    }
}

impl Kv for RedbKv {
    fn write(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(REDB_TABLE)?;
            for i in idx {
                t.insert(&w.keys[i][..], &w.values[i][..])?;
            }
        }
        Ok(tx.commit()?)
    }
    fn remove(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(REDB_TABLE)?;
            for i in idx {
                if t.remove(&w.keys[i][..])?.is_none() {
                    return fail(format!("removal of key #{i} found nothing"));
                }
            }
        }
        Ok(tx.commit()?)
    }
    fn reads(&self, w: &Workload, lookups: &[u32]) -> Result<()> {
        use redb::ReadableDatabase;
        let tx = self.db.begin_read()?;
        let t = tx.open_table(REDB_TABLE)?;
        for &i in lookups {
            let g = t.get(&w.keys[i as usize][..])?;
            check_value(g.as_ref().map(|g| g.value()), w, i as usize)?;
        }
        Ok(())
    }
    fn scans(&self, w: &Workload, starts: &[u32]) -> Result<()> {
        use redb::ReadableDatabase;
        let tx = self.db.begin_read()?;
        let t = tx.open_table(REDB_TABLE)?;
        for &s in starts {
            let start = &w.keys[s as usize][..];
            let mut check = ScanCheck::new(start);
            for item in t.range(start..)?.take(SCAN_LEN) {
                let (k, v) = item?;
                check.item(k.value(), v.value())?;
            }
            check.finish()?;
        }
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        use redb::ReadableDatabase;
        let tx = self.db.begin_read()?;
        let t = tx.open_table(REDB_TABLE)?;
        Ok(t.get(key)?.map(|g| g.value().to_vec()))
    }
    fn count(&self) -> Result<usize> {
        use redb::{ReadableDatabase, ReadableTable};
        let tx = self.db.begin_read()?;
        let t = tx.open_table(REDB_TABLE)?;
        let mut n = 0;
        for item in t.iter()? {
            item?;
            n += 1;
        }
        Ok(n)
    }
    fn close(self: Box<Self>) -> Result<()> {
        Ok(self.db.close()?)
    }
}

// ---------------------------------------------------------------------------------------------
// jammdb

/// jammdb with default options (one fsync per commit, after the meta page).
pub struct JammKv {
    db: jammdb::DB,
}

impl JammKv {
    fn open(dir: &Path) -> Result<Self> {
        let db = jammdb::DB::open(dir.join("jammdb.db"))?;
        let tx = db.tx(true)?;
        tx.create_bucket(BUCKET)?;
        tx.commit()?;
        Ok(JammKv { db })
    }
}

fn jamm_value<'a>(d: &'a jammdb::Data<'_, '_>) -> Option<&'a [u8]> {
    match d {
        jammdb::Data::KeyValue(kv) => Some(kv.value()),
        jammdb::Data::Bucket(_) => None,
    }
}

impl Kv for JammKv {
    fn write(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let tx = self.db.tx(true)?;
        {
            let b = tx.get_bucket(BUCKET)?;
            for i in idx {
                b.put(&w.keys[i][..], &w.values[i][..])?;
            }
        }
        Ok(tx.commit()?)
    }
    fn remove(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let tx = self.db.tx(true)?;
        {
            let b = tx.get_bucket(BUCKET)?;
            for i in idx {
                if b.delete(&w.keys[i][..]).is_err() {
                    return fail(format!("removal of key #{i} found nothing"));
                }
            }
        }
        Ok(tx.commit()?)
    }
    fn reads(&self, w: &Workload, lookups: &[u32]) -> Result<()> {
        let tx = self.db.tx(false)?;
        let b = tx.get_bucket(BUCKET)?;
        for &i in lookups {
            let d = b.get(&w.keys[i as usize][..]);
            check_value(d.as_ref().and_then(jamm_value), w, i as usize)?;
        }
        Ok(())
    }
    fn scans(&self, w: &Workload, starts: &[u32]) -> Result<()> {
        let tx = self.db.tx(false)?;
        let b = tx.get_bucket(BUCKET)?;
        for &s in starts {
            let start = &w.keys[s as usize][..];
            let mut check = ScanCheck::new(start);
            for d in b.range(start..).take(SCAN_LEN) {
                check.item(d.key(), jamm_value(&d).unwrap_or_default())?;
            }
            check.finish()?;
        }
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let tx = self.db.tx(false)?;
        let b = tx.get_bucket(BUCKET)?;
        let d = b.get(key);
        Ok(d.as_ref().and_then(jamm_value).map(<[u8]>::to_vec))
    }
    fn count(&self) -> Result<usize> {
        let tx = self.db.tx(false)?;
        let b = tx.get_bucket(BUCKET)?;
        Ok(b.cursor().count())
    }
    fn close(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// sled

/// sled 0.34: batches are atomic but not durable; each commit is followed by `flush()`.
pub struct SledKv {
    db: sled::Db,
}

impl SledKv {
    fn open(dir: &Path) -> Result<Self> {
        let db = sled::Config::new().path(dir.join("sled")).flush_every_ms(None).open()?;
        Ok(SledKv { db })
    }
}

impl Kv for SledKv {
    fn write(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let mut batch = sled::Batch::default();
        for i in idx {
            batch.insert(&w.keys[i][..], &w.values[i][..]);
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }
    fn remove(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        // A batch cannot say whether a key was there; the untimed count afterwards checks.
        let mut batch = sled::Batch::default();
        for i in idx {
            batch.remove(&w.keys[i][..]);
        }
        self.db.apply_batch(batch)?;
        self.db.flush()?;
        Ok(())
    }
    fn reads(&self, w: &Workload, lookups: &[u32]) -> Result<()> {
        for &i in lookups {
            let v = self.db.get(w.keys[i as usize])?;
            check_value(v.as_deref(), w, i as usize)?;
        }
        Ok(())
    }
    fn scans(&self, w: &Workload, starts: &[u32]) -> Result<()> {
        for &s in starts {
            let start = &w.keys[s as usize][..];
            let mut check = ScanCheck::new(start);
            for item in self.db.range(start..).take(SCAN_LEN) {
                let (k, v) = item?;
                check.item(&k, &v)?;
            }
            check.finish()?;
        }
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.db.get(key)?.map(|v| v.to_vec()))
    }
    fn count(&self) -> Result<usize> {
        let mut n = 0;
        for item in self.db.iter() {
            item?;
            n += 1;
        }
        Ok(n)
    }
    fn close(self: Box<Self>) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// fjall

/// fjall (an LSM tree): each commit is a write batch persisted with `SyncData`.
pub struct FjallKv {
    db: fjall::Database,
    ks: fjall::Keyspace,
}

impl FjallKv {
    fn open(dir: &Path) -> Result<Self> {
        let db = fjall::Database::builder(dir.join("fjall")).open()?;
        let ks = db.keyspace("bench", fjall::KeyspaceCreateOptions::default)?;
        Ok(FjallKv { db, ks })
    }
    fn batch(&self) -> fjall::OwnedWriteBatch {
        self.db.batch().durability(Some(fjall::PersistMode::SyncData))
    }
}

impl Kv for FjallKv {
    fn write(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        let mut b = self.batch();
        for i in idx {
            b.insert(&self.ks, &w.keys[i][..], &w.values[i][..]);
        }
        Ok(b.commit()?)
    }
    fn remove(&self, w: &Workload, idx: Range<usize>) -> Result<()> {
        // Tombstones do not say whether the key was there; the untimed count afterwards checks.
        let mut b = self.batch();
        for i in idx {
            b.remove(&self.ks, &w.keys[i][..]);
        }
        Ok(b.commit()?)
    }
    fn reads(&self, w: &Workload, lookups: &[u32]) -> Result<()> {
        for &i in lookups {
            let v = self.ks.get(w.keys[i as usize])?;
            check_value(v.as_deref(), w, i as usize)?;
        }
        Ok(())
    }
    fn scans(&self, w: &Workload, starts: &[u32]) -> Result<()> {
        for &s in starts {
            let start = &w.keys[s as usize][..];
            let mut check = ScanCheck::new(start);
            for g in self.ks.range(start..).take(SCAN_LEN) {
                let (k, v) = g.into_inner()?;
                check.item(&k, &v)?;
            }
            check.finish()?;
        }
        Ok(())
    }
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.ks.get(key)?.map(|v| v.to_vec()))
    }
    fn count(&self) -> Result<usize> {
        Ok(self.ks.len()?)
    }
    fn close(self: Box<Self>) -> Result<()> {
        self.db.persist(fjall::PersistMode::SyncAll)?;
        Ok(())
    }
}
