//! Edge cases found in review: cursors off the ends, waking every waiting writer after a failed
//! commit, the nesting limit, max_size and shrinking, stats during a write, tiny-page backups,
//! an overflow page listed as free, and cursors walking a write transaction's merged view.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rivet_engine::{Corruption, Error, FileStorage, Options, Storage, DB};

fn dir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let p =
        std::env::temp_dir().join(format!("rivet-edges-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn abc(db: &DB) {
    db.update(|tx| {
        let mut b = tx.create_bucket(b"b")?;
        for k in [b"a", b"b", b"c"] {
            b.put(k, k)?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn cursors_step_back_from_past_the_end_and_forward_from_before_the_start() {
    let d = dir();
    let db = DB::open(d.join("c.db"), Options::default()).unwrap();
    abc(&db);
    let key = |r: Result<Option<rivet_engine::KeyValue<'_>>, Error>| r.unwrap().map(|(k, _)| k.to_vec());
    // Read transaction (pages).
    let tx = db.begin(false).unwrap();
    let mut c = tx.bucket(b"b").unwrap().cursor();
    assert_eq!(key(c.seek(b"z")), None);
    assert_eq!(key(c.prev()), Some(b"c".to_vec()), "as bbolt: Prev after a Seek past the end is the last key");
    assert_eq!(key(c.first()), Some(b"a".to_vec()));
    assert_eq!(key(c.prev()), None);
    assert_eq!(key(c.next()), Some(b"a".to_vec()));
    assert_eq!(key(c.last()), Some(b"c".to_vec()));
    assert_eq!(key(c.next()), None);
    assert_eq!(key(c.next()), None);
    assert_eq!(key(c.prev()), Some(b"c".to_vec()));
    drop(tx);
    // Write transaction (merged view), read cursor and CursorMut.
    let mut tx = db.begin(true).unwrap();
    tx.bucket_mut(b"b").unwrap().put(b"bb", b"new").unwrap();
    {
        let b = tx.bucket(b"b").unwrap();
        let mut c = b.cursor();
        assert_eq!(key(c.first()), Some(b"a".to_vec()));
        assert_eq!(key(c.seek(b"z")), None);
        assert_eq!(key(c.next()), None, "after a seek past the end, next stays at the end");
        assert_eq!(key(c.prev()), Some(b"c".to_vec()));
        assert_eq!(key(c.prev()), Some(b"bb".to_vec()));
    }
    let mut b = tx.bucket_mut(b"b").unwrap();
    let mut c = b.cursor_mut();
    assert_eq!(c.seek(b"z").unwrap().map(|(k, _)| k.to_vec()), None);
    assert_eq!(c.prev().unwrap().map(|(k, _)| k.to_vec()), Some(b"c".to_vec()));
    assert_eq!(c.first().unwrap().map(|(k, _)| k.to_vec()), Some(b"a".to_vec()));
    assert_eq!(c.prev().unwrap().map(|(k, _)| k.to_vec()), None);
    assert!(matches!(c.delete(), Err(Error::KeyRequired)), "no item under a cursor off the start");
    assert_eq!(c.next().unwrap().map(|(k, _)| k.to_vec()), Some(b"a".to_vec()));
}

/// A storage whose writes stall, then fail, while its switch is on: the commit that hits it
/// poisons the handle.
#[derive(Debug)]
struct SlowFailing(FileStorage, Arc<std::sync::atomic::AtomicBool>);

// SAFETY: every call forwards exactly what it is asked to the file storage it wraps (or fails
// without touching the file); nothing else writes to the file.
#[allow(unsafe_code)]
unsafe impl Storage for SlowFailing {
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if self.1.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
            return Err(std::io::Error::from_raw_os_error(5));
        }
        self.0.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        self.0.sync()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
}

#[test]
fn a_failed_commit_wakes_every_waiting_writer() {
    let d = dir();
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let switch = fail.clone();
    let db = Arc::new(
        DB::open_with_storage(d.join("p.db"), Options::default(), move |f| {
            Box::new(SlowFailing(FileStorage::new(f), switch))
        })
        .unwrap(),
    );
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut tx = db.begin(true).unwrap();
    tx.create_bucket(b"x").unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                let r = db.begin(true).map(|_| ());
                (r, t.elapsed())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    assert!(matches!(tx.commit(), Err(Error::Io { .. })));
    for w in waiters {
        let (r, took) = w.join().unwrap();
        assert!(matches!(r, Err(Error::Poisoned)), "{r:?}");
        assert!(took < Duration::from_secs(5));
    }
}

/// A storage whose syncs fail while its switch is on.
#[derive(Debug)]
struct FailingSync(FileStorage, Arc<std::sync::atomic::AtomicBool>);

// SAFETY: every call forwards exactly what it is asked to the file storage it wraps (or fails
// without touching the file); nothing else writes to the file.
#[allow(unsafe_code)]
unsafe impl Storage for FailingSync {
    fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.0.write_at(buf, offset)
    }
    fn sync(&self) -> std::io::Result<()> {
        if self.1.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(std::io::Error::from_raw_os_error(5));
        }
        self.0.sync()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.0.set_len(len)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.0.len()
    }
}

#[test]
fn a_failed_explicit_sync_poisons_the_handle() {
    let d = dir();
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let switch = fail.clone();
    let db = DB::open_with_storage(d.join("s.db"), Options::default().no_sync(true), move |f| {
        Box::new(FailingSync(FileStorage::new(f), switch))
    })
    .unwrap();
    db.update(|tx| tx.create_bucket(b"b").map(|_| ())).unwrap();
    db.sync().unwrap();
    fail.store(true, std::sync::atomic::Ordering::SeqCst);
    db.update(|tx| tx.bucket_mut(b"b")?.put(b"k", b"v")).unwrap(); // no_sync: no sync asked
    assert!(matches!(db.sync(), Err(Error::Io { op: "sync", .. })));
    fail.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(db.begin(true).map(|_| ()), Err(Error::Poisoned)), "a write after a failed sync");
    assert!(db.begin(false).is_ok(), "reads go on");
}

#[test]
fn nesting_is_limited_on_write() {
    let d = dir();
    let db = DB::open(d.join("n.db"), Options::default()).unwrap();
    let r = db.update(|tx| {
        let mut path: Vec<Vec<u8>> = vec![b"l1".to_vec()];
        tx.create_bucket(b"l1")?;
        for level in 2..=rivet_engine::MAX_NESTING {
            let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
            let name = format!("l{level}").into_bytes();
            tx.bucket_path_mut(&refs)?.create_bucket(&name)?;
            path.push(name);
        }
        let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        let too_deep = tx.bucket_path_mut(&refs)?.create_bucket(b"deeper").map(|_| ());
        assert!(matches!(too_deep, Err(Error::NestingTooDeep { .. })), "{too_deep:?}");
        Ok::<_, Error>(())
    });
    r.unwrap();
    let tx = db.begin(false).unwrap();
    assert!(tx.check().unwrap().is_empty());
    assert!(rivet_engine::dump::dump_json(&tx).is_ok());
}

#[test]
fn over_max_size_a_commit_that_frees_space_still_succeeds() {
    let d = dir();
    let p = d.join("m.db");
    {
        let db = DB::open(&p, Options::default()).unwrap();
        db.update(|tx| {
            let mut b = tx.create_bucket(b"b")?;
            for i in 0..3000u32 {
                b.put(&i.to_be_bytes(), &[0u8; 200])?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    let db = DB::open(&p, Options::default().max_size(64 * 1024)).unwrap();
    db.update(|tx| tx.delete_bucket(b"b")).unwrap();
    assert!(db.begin(false).unwrap().check().unwrap().is_empty());
}

#[test]
fn stats_keep_their_figures_while_a_write_transaction_is_open() {
    let d = dir();
    let db = DB::open(d.join("s.db"), Options::default()).unwrap();
    abc(&db);
    db.update(|tx| tx.delete_bucket(b"b")).unwrap();
    let idle = db.stats();
    assert!(idle.free_page_n + idle.pending_page_n > 0);
    let _tx = db.begin(true).unwrap();
    let busy = db.stats();
    assert_eq!((busy.free_page_n, busy.pending_page_n), (idle.free_page_n, idle.pending_page_n));
}

#[test]
fn backups_of_tiny_page_files_are_padded_to_4096_bytes() {
    let d = dir();
    let db = DB::open(d.join("t.db"), Options::default().page_size(256)).unwrap();
    abc(&db);
    let tx = db.begin(false).unwrap();
    let n = tx.copy_file(d.join("copy.db")).unwrap();
    assert!(n >= 4096);
    assert_eq!(std::fs::metadata(d.join("copy.db")).unwrap().len(), n);
    let copy = DB::open(d.join("copy.db"), Options::default().read_only(true)).unwrap();
    assert_eq!(copy.begin(false).unwrap().bucket(b"b").unwrap().get(b"b").unwrap(), Some(&b"b"[..]));
}

#[test]
fn check_reports_an_overflow_page_that_is_also_free() {
    let d = dir();
    let p = d.join("o.db");
    {
        let db = DB::open(&p, Options::default()).unwrap();
        db.update(|tx| {
            let mut b = tx.create_bucket(b"b")?;
            b.put(b"big", &[9u8; 10_000])?; // a leaf of three pages
            for i in 0..200u32 {
                b.put(&i.to_be_bytes(), &[1u8; 40])?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
        db.update(|tx| tx.create_bucket(b"c").map(|_| ())).unwrap();
    }
    let db = DB::open(&p, Options::default().read_only(true)).unwrap();
    let (fl, ps, hwm) = (db.info().meta.freelist, u64::from(db.info().page_size), db.info().meta.pgid);
    drop(db);
    let mut bytes = std::fs::read(&p).unwrap();
    // Find a leaf with overflow pages.
    let (leaf, _) = (2..hwm)
        .map(|id| {
            let off = (id * ps) as usize;
            (
                id,
                (
                    u16::from_le_bytes([bytes[off + 8], bytes[off + 9]]),
                    u32::from_le_bytes(bytes[off + 12..off + 16].try_into().unwrap()),
                ),
            )
        })
        .find(|(id, (flags, overflow))| *flags == 0x02 && *overflow > 0 && *id != fl)
        .expect("an overflowing leaf");
    let second = leaf + 1;
    let off = (fl * ps) as usize;
    let count = u16::from_le_bytes([bytes[off + 10], bytes[off + 11]]) as usize;
    let mut ids: Vec<u64> =
        (0..count).map(|i| u64::from_le_bytes(bytes[off + 16 + 8 * i..off + 24 + 8 * i].try_into().unwrap())).collect();
    ids.push(second);
    ids.sort_unstable();
    bytes[off + 10..off + 12].copy_from_slice(&(ids.len() as u16).to_le_bytes());
    for (i, id) in ids.iter().enumerate() {
        bytes[off + 16 + 8 * i..off + 24 + 8 * i].copy_from_slice(&id.to_le_bytes());
    }
    std::fs::write(&p, bytes).unwrap();
    let db = DB::open(&p, Options::default().read_only(true)).unwrap();
    let problems = db.begin(false).unwrap().check().unwrap();
    let freed = Corruption::ReachableFreed { overflow_of: Some(leaf) };
    assert!(problems.iter().any(|p| p.page == second && p.kind == freed), "{problems:?}");
    let line = format!("page {second}: reachable freed (overflow page of page {leaf})");
    assert!(problems.iter().any(|p| p.to_string() == line), "{problems:?}");
}

#[test]
fn write_tx_cursors_walk_the_merged_view_in_both_directions() {
    use std::collections::BTreeMap;
    let d = dir();
    let db = DB::open(d.join("w.db"), Options::default()).unwrap();
    let key = |i: u32| (i * 3).to_be_bytes().to_vec();
    let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    db.update(|tx| {
        let mut b = tx.create_bucket(b"b")?;
        for i in 0..5000 {
            b.put(&key(i), b"old")?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    for i in 0..5000 {
        model.insert(key(i), Some(b"old".to_vec()));
    }
    let mut tx = db.begin(true).unwrap();
    {
        let mut b = tx.bucket_mut(b"b").unwrap();
        for i in 0..5000u32 {
            match i % 7 {
                0 => {
                    b.delete(&key(i)).unwrap();
                    model.remove(&key(i));
                }
                1 => {
                    b.put(&key(i), b"new").unwrap();
                    model.insert(key(i), Some(b"new".to_vec()));
                }
                2 => {
                    let k = (i * 3 + 1).to_be_bytes().to_vec();
                    b.put(&k, b"added").unwrap();
                    model.insert(k, Some(b"added".to_vec()));
                }
                _ => {}
            }
        }
        b.create_bucket(&key(4)).unwrap_err(); // a value is there
        b.delete(&key(5)).unwrap();
        model.remove(&key(5));
        b.create_bucket(&key(5)).unwrap();
        model.insert(key(5), None);
    }
    let b = tx.bucket(b"b").unwrap();
    let want: Vec<(Vec<u8>, Option<Vec<u8>>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let own = |r: Option<(&[u8], Option<&[u8]>)>| r.map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)));

    // Forward and backward, whole.
    let mut c = b.cursor();
    let mut got = Vec::new();
    let mut item = c.first().unwrap();
    while let Some(kv) = own(item) {
        got.push(kv);
        item = c.next().unwrap();
    }
    assert_eq!(got, want);
    let mut back = Vec::new();
    let mut item = c.last().unwrap();
    while let Some(kv) = own(item) {
        back.push(kv);
        item = c.prev().unwrap();
    }
    back.reverse();
    assert_eq!(back, want);

    // Seeks, then steps that change direction every few items.
    let mut x: u64 = 7;
    for _ in 0..200 {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let start = ((x >> 33) % 15_010) as u32;
        let mut pos = want.partition_point(|(k, _)| k.as_slice() < &start.to_be_bytes()[..]);
        let mut c = b.cursor();
        assert_eq!(own(c.seek(&start.to_be_bytes()).unwrap()), want.get(pos).cloned());
        if pos == want.len() {
            continue;
        }
        for step in 0..12 {
            let forward = (step / 3) % 2 == 0;
            let got = own(if forward { c.next() } else { c.prev() }.unwrap());
            if forward {
                pos += 1;
            } else if pos == 0 {
                assert_eq!(got, None);
                break;
            } else {
                pos -= 1;
            }
            assert_eq!(got, want.get(pos).cloned(), "start {start}, step {step}");
            if got.is_none() {
                break;
            }
        }
    }
    // Ranges over the merged view, both ends.
    let lo = 3000u32.to_be_bytes();
    let hi = 9000u32.to_be_bytes();
    let in_range: Vec<_> =
        want.iter().filter(|(k, _)| k.as_slice() >= &lo[..] && k.as_slice() < &hi[..]).cloned().collect();
    let fwd: Vec<_> = b.range(&lo[..]..&hi[..]).map(|r| own(Some(r.unwrap())).unwrap()).collect();
    assert_eq!(fwd, in_range);
    let mut rev: Vec<_> = b.range(&lo[..]..&hi[..]).rev().map(|r| own(Some(r.unwrap())).unwrap()).collect();
    rev.reverse();
    assert_eq!(rev, in_range);
}
