//! Damage: files hurt after they were written (torn or flipped meta pages, truncation, foreign
//! files, hand-broken pages, random byte damage). The engine must fall back to the previous
//! commit when only the newest meta is bad, refuse unusable files with a clear error, report
//! structural damage through `check()` or `Error::Corrupted`, and never panic or hang.
//!
//! Files are damaged here by parsing the bytes directly (format doc sections 2-8), independent
//! of the engine's own page code. Fixtures are read-only: every test works on copies in a
//! scratch directory.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rivet_engine::meta::fnv1a64;
use rivet_engine::{Error, Options, DB};
use rivet_tests::{bbolt_tool, copy_fixture, fixtures, fixtures_dir, go_dump, scratch, Rng};

// ---------------------------------------------------------------------------------------------
// Byte helpers (little-endian, format doc section 1).

fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn get64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

const MAGIC: u32 = 0xED0C_DAED;
const BRANCH: u16 = 0x01;
const LEAF: u16 = 0x02;
const FREELIST: u16 = 0x10;
const NO_FREELIST: u64 = u64::MAX;

// Meta field offsets within a meta page (format doc section 4).
const M_VERSION: usize = 20;
const M_PAGE_SIZE: usize = 24;
const M_ROOT: usize = 32;
const M_FREELIST: usize = 48;
const M_HWM: usize = 56;
const M_TXID: usize = 64;
const M_CHECKSUM: usize = 72;

/// A meta page as parsed from raw bytes.
#[derive(Debug, Clone, Copy)]
struct RawMeta {
    page: u64,
    root: u64,
    freelist: u64,
    hwm: u64,
    txid: u64,
    valid: bool,
}

/// The page size stored in meta 0 (call before damaging meta 0).
fn page_size_of(img: &[u8]) -> usize {
    get32(img, M_PAGE_SIZE) as usize
}

fn raw_meta(img: &[u8], page: u64, ps: usize) -> RawMeta {
    let o = page as usize * ps;
    let cks = get64(img, o + M_CHECKSUM);
    let valid = get32(img, o + 16) == MAGIC
        && get32(img, o + M_VERSION) == 2
        && (cks == 0 || cks == fnv1a64(&img[o + 16..o + 72]));
    RawMeta {
        page,
        root: get64(img, o + M_ROOT),
        freelist: get64(img, o + M_FREELIST),
        hwm: get64(img, o + M_HWM),
        txid: get64(img, o + M_TXID),
        valid,
    }
}

/// The meta a reader must use: the valid one with the highest txid.
fn active_meta(img: &[u8], ps: usize) -> RawMeta {
    let a = raw_meta(img, 0, ps);
    let b = raw_meta(img, 1, ps);
    match (a.valid, b.valid) {
        (true, true) => {
            if b.txid > a.txid {
                b
            } else {
                a
            }
        }
        (true, false) => a,
        (false, true) => b,
        (false, false) => panic!("test image has no valid meta"),
    }
}

/// Recomputes the checksum of meta page `page` (FNV-1a 64 of page bytes 16..72, at 72..80).
fn fix_checksum(img: &mut [u8], page: u64, ps: usize) {
    let o = page as usize * ps;
    let c = fnv1a64(&img[o + 16..o + 72]);
    put64(img, o + M_CHECKSUM, c);
}

// ---------------------------------------------------------------------------------------------
// Raw page parsing (format doc sections 3, 5, 6, 7, 8).

#[derive(Debug, Clone, Copy)]
struct Header {
    id: u64,
    flags: u16,
    count: u16,
    overflow: u32,
}

fn header(img: &[u8], ps: usize, id: u64) -> Header {
    let o = id as usize * ps;
    Header { id: get64(img, o), flags: get16(img, o + 8), count: get16(img, o + 10), overflow: get32(img, o + 12) }
}

/// A branch element: absolute offset of its element header, and its child.
#[derive(Debug, Clone)]
struct BranchElem {
    off: usize,
    pgid: u64,
}

/// A leaf element: its flags, the absolute offset of its key, and the key's length.
#[derive(Debug, Clone)]
struct LeafElem {
    flags: u32,
    key_off: usize,
    ksize: usize,
}

fn branch_elems(img: &[u8], ps: usize, id: u64) -> Vec<BranchElem> {
    let h = header(img, ps, id);
    (0..h.count as usize)
        .map(|i| {
            let off = id as usize * ps + 16 + 16 * i;
            BranchElem { off, pgid: get64(img, off + 8) }
        })
        .collect()
}

fn leaf_elems_at(img: &[u8], page_off: usize, count: usize) -> Vec<LeafElem> {
    (0..count)
        .map(|i| {
            let off = page_off + 16 + 16 * i;
            LeafElem {
                flags: get32(img, off),
                key_off: off + get32(img, off + 4) as usize,
                ksize: get32(img, off + 8) as usize,
            }
        })
        .collect()
}

fn leaf_elems(img: &[u8], ps: usize, id: u64) -> Vec<LeafElem> {
    let h = header(img, ps, id);
    leaf_elems_at(img, id as usize * ps, h.count as usize)
}

/// The pages of every paged bucket reachable from the active meta (an undamaged image).
#[derive(Debug, Default)]
struct Tree {
    /// Branch pages, with their level below their bucket's root (0 = root).
    branches: Vec<(u64, usize)>,
    /// Leaf pages, with the root page of the bucket they belong to.
    leaves: Vec<(u64, u64)>,
    /// Every page a tree node occupies (overflow pages included).
    used: Vec<u64>,
}

fn walk_tree(img: &[u8], ps: usize) -> Tree {
    fn walk(img: &[u8], ps: usize, id: u64, bucket: u64, level: usize, t: &mut Tree) {
        let h = header(img, ps, id);
        assert_eq!(h.id, id, "test image: page {id} has header id {}", h.id);
        t.used.extend(id..=id + u64::from(h.overflow));
        if h.flags & BRANCH != 0 {
            t.branches.push((id, level));
            for e in branch_elems(img, ps, id) {
                walk(img, ps, e.pgid, bucket, level + 1, t);
            }
        } else {
            assert!(h.flags & LEAF != 0, "test image: page {id} flags {:#x}", h.flags);
            t.leaves.push((id, bucket));
            for e in leaf_elems(img, ps, id) {
                if e.flags & 1 != 0 {
                    let child = get64(img, e.key_off + e.ksize);
                    if child != 0 {
                        walk(img, ps, child, child, 0, t);
                    }
                }
            }
        }
    }
    let m = active_meta(img, ps);
    let mut t = Tree::default();
    walk(img, ps, m.root, m.root, 0, &mut t);
    t
}

/// The active freelist's ids (normal form only) and the offset of the first id.
fn freelist_ids(img: &[u8], ps: usize) -> (u64, usize, Vec<u64>) {
    let m = active_meta(img, ps);
    assert_ne!(m.freelist, NO_FREELIST, "test image has no stored freelist");
    let h = header(img, ps, m.freelist);
    assert_eq!(h.flags, FREELIST);
    assert_ne!(h.count, 0xFFFF, "test helper reads the normal form only");
    let start = m.freelist as usize * ps + 16;
    let ids = (0..h.count as usize).map(|i| get64(img, start + 8 * i)).collect();
    (m.freelist, start, ids)
}

// ---------------------------------------------------------------------------------------------
// Engine helpers.

fn ro() -> Options {
    Options::default().read_only(true).with_timeout(Duration::from_secs(10))
}
fn rw() -> Options {
    Options::default().no_sync(true).with_timeout(Duration::from_secs(10))
}

/// The canonical dump through an open handle (rust_dump would need a second lock).
fn dump(db: &DB) -> Result<String, Error> {
    let tx = db.begin(false)?;
    rivet_engine::dump::dump_json(&tx)
}

/// The problems `check()` reports for a file, or the error that prevented checking it
/// (prefixed `error:`).
fn problems(path: &Path) -> Vec<String> {
    let db = match DB::open(path, ro()) {
        Ok(db) => db,
        Err(e) => return vec![format!("error: open: {e}")],
    };
    let tx = match db.begin(false) {
        Ok(tx) => tx,
        Err(e) => return vec![format!("error: begin: {e}")],
    };
    match tx.check() {
        Ok(p) => p,
        Err(e) => vec![format!("error: check: {e}")],
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write test file");
    p
}

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("read fixture")
}

/// Runs `f` on another thread and fails if it takes longer than `secs` (a hang), returning its
/// result (a panic inside `f` fails the caller, with `what` and the panic message).
fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what}: panicked: {msg}")
        }
        Err(_) => panic!("{what}: no answer within {secs} s (hang?)"),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. A damaged newest meta: the database opens at the previous transaction.

/// Offsets inside a meta page to flip: every field of the checksummed bytes 16..72, and the
/// stored checksum itself.
const META_FLIP_OFFSETS: &[usize] = &[16, 19, 20, 24, 26, 28, 32, 39, 40, 48, 56, 60, 64, 71, 72, 79];

/// Flips one byte of meta page `page` and checks the precondition that the meta became invalid.
fn flip_meta_byte(img: &mut [u8], page: u64, ps: usize, off: usize) {
    img[page as usize * ps + off] ^= 0xA5;
    assert_ne!(get64(img, page as usize * ps + M_CHECKSUM), 0, "flip made the checksum 0");
    assert!(!raw_meta(img, page, ps).valid, "flip at {off} left meta {page} valid");
}

/// Builds a database in `dir` with `txs` write transactions of distinguishable content and
/// returns its path and the dump after each commit, by txid.
fn build_history(dir: &Path, page_size: u32, txs: u64) -> (PathBuf, Vec<(u64, String)>) {
    let path = dir.join(format!("history-{page_size}-{txs}.db"));
    let db = DB::open(&path, rw().page_size(page_size)).expect("create");
    let mut history = vec![(db.info().meta.txid, dump(&db).expect("dump"))];
    for i in 0..txs {
        db.update(|tx| {
            let mut b = tx.create_bucket_if_not_exists(b"history")?;
            b.put(b"version", format!("v{i}").as_bytes())?;
            b.put(format!("key-{i:03}").as_bytes(), &vec![i as u8; 100 + 37 * i as usize])?;
            if i > 0 && i % 3 == 0 {
                b.delete(format!("key-{:03}", i - 2).as_bytes())?;
            }
            if i % 2 == 1 {
                let mut n = tx.create_bucket_if_not_exists(format!("odd-{i}").as_bytes())?;
                for k in 0..(50 * i) {
                    n.put(format!("{k:05}").as_bytes(), &[7; 40])?;
                }
            }
            Ok::<_, Error>(())
        })
        .expect("commit");
        history.push((db.info().meta.txid, dump(&db).expect("dump")));
    }
    for w in history.windows(2) {
        assert_eq!(w[1].0, w[0].0 + 1, "txids advance by one");
        assert_ne!(w[1].1, w[0].1, "every transaction changes the content");
    }
    (path, history)
}

/// Damages the newest meta of `img` at each offset and checks that both read-only and
/// read-write opens land on `prev_txid` with `prev_content` (when given), that the fallback
/// state is consistent, and that the next commit repairs the damaged meta page.
fn assert_falls_back(
    dir: &Path,
    img: &[u8],
    label: &str,
    prev_content: Option<&str>,
    offsets: &[usize],
    go_oracle: bool,
) {
    let ps = page_size_of(img);
    let newest = active_meta(img, ps);
    let other = raw_meta(img, 1 - newest.page, ps);
    assert!(other.valid && other.txid < newest.txid, "{label}: need a valid older meta");
    assert_eq!(newest.page, newest.txid % 2, "{label}: newest meta sits in page txid % 2");
    for (n, &off) in offsets.iter().enumerate() {
        let mut bad = img.to_vec();
        flip_meta_byte(&mut bad, newest.page, ps, off);
        let path = write(dir, &format!("fallback-{label}-{off}.db"), &bad);
        let what = format!("{label}, meta page {} byte {off} flipped", newest.page);

        // Read-only.
        let db = DB::open(&path, ro()).unwrap_or_else(|e| panic!("{what}: open ro: {e}"));
        assert_eq!(db.info().meta.txid, other.txid, "{what}: ro txid");
        assert_eq!(db.info().page_size as usize, ps, "{what}: page size");
        let got = dump(&db).unwrap_or_else(|e| panic!("{what}: dump: {e}"));
        if let Some(prev) = prev_content {
            assert!(got == prev, "{what}: ro content is not the previous transaction's");
        }
        let p = db.begin(false).unwrap().check().unwrap();
        assert!(p.is_empty(), "{what}: fallback state fails check: {p:?}");
        drop(db);
        // Go as an independent oracle (it finds meta 1 only with the default page size).
        if n == 0 && go_oracle && bbolt_tool().is_some() {
            assert!(go_dump(&path) == got, "{what}: Go reads other content than Rivet");
        }
        assert_eq!(std::fs::read(&path).unwrap(), bad, "{what}: read-only open wrote");

        // Read-write: same state; the next commit (txid other+1 = newest.txid) rewrites the
        // damaged page and the file is whole again.
        let db = DB::open(&path, rw()).unwrap_or_else(|e| panic!("{what}: open rw: {e}"));
        assert_eq!(db.info().meta.txid, other.txid, "{what}: rw txid");
        assert!(dump(&db).unwrap() == got, "{what}: rw content differs from ro");
        db.update(|tx| tx.create_bucket_if_not_exists(b"after-fallback")?.put(b"k", b"v"))
            .unwrap_or_else(|e| panic!("{what}: write after fallback: {e}"));
        let after = dump(&db).unwrap();
        drop(db);
        let fixed = std::fs::read(&path).unwrap();
        let m = raw_meta(&fixed, newest.page, ps);
        assert!(m.valid && m.txid == other.txid + 1, "{what}: commit did not rewrite meta {}", newest.page);
        let db = DB::open(&path, ro()).unwrap();
        assert_eq!(db.info().meta.txid, other.txid + 1, "{what}: txid after repair");
        assert!(dump(&db).unwrap() == after, "{what}: content after repair");
        let p = db.begin(false).unwrap().check().unwrap();
        assert!(p.is_empty(), "{what}: check after repair: {p:?}");
        drop(db);
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn flipped_newest_meta_opens_previous_transaction() {
    let dir = scratch();
    // Both parities of the newest txid, and page sizes that need probing when meta 0 is bad.
    for (ps, txs) in [(4096, 4), (4096, 5), (1024, 3), (16384, 3)] {
        let (path, history) = build_history(dir.path(), ps, txs);
        let img = std::fs::read(&path).unwrap();
        let n = history.len();
        let (newest, _) = &history[n - 1];
        let (prev_txid, prev) = &history[n - 2];
        assert_eq!(active_meta(&img, ps as usize).txid, *newest);
        assert_eq!(raw_meta(&img, 1 - newest % 2, ps as usize).txid, *prev_txid);
        let label = format!("scratch-ps{ps}-tx{txs}");
        let go = ps == 4096 || newest % 2 == 1;
        assert_falls_back(dir.path(), &img, &label, Some(prev), META_FLIP_OFFSETS, go);
    }
}

#[test]
fn flipped_newest_meta_of_go_fixtures_opens_previous_transaction() {
    let dir = scratch();
    let offsets = &[16, 24, 40, 64, 72];
    let img_of = |name: &str| std::fs::read(copy_fixture(&fixture(name), dir.path())).unwrap();

    // backup_copy: both metas describe the same state (txid 4 and 3), so the fallback shows
    // exactly the fixture's dump.
    let json = std::fs::read_to_string(fixture("backup_copy.json")).unwrap();
    let img = img_of("backup_copy.db");
    assert_falls_back(dir.path(), &img, "backup_copy", Some(&json), META_FLIP_OFFSETS, true);

    // seq_100k: 10 transactions of 10,000 sequential keys (value = 7 * key, u32 BE); txid 11 is
    // in page 1, so the fallback (txid 10) holds exactly the first 90,000 keys.
    let mut expected = String::from(r#"{"sequence":0,"entries":[{"key":"736571","bucket":{"sequence":0,"entries":["#);
    for i in 0..90_000u64 {
        if i > 0 {
            expected.push(',');
        }
        expected.push_str(&format!(r#"{{"key":"{i:016x}","value":"{:08x}"}}"#, 7 * i));
    }
    expected.push_str("]}}]}\n");
    let img = img_of("seq_100k.db");
    assert_eq!(active_meta(&img, 4096).txid, 11);
    assert_falls_back(dir.path(), &img, "seq_100k", Some(&expected), offsets, true);

    // freelist: newest txid 6 in page 0; Go's own reading of the damaged copy is the oracle.
    let img = img_of("freelist.db");
    assert_falls_back(dir.path(), &img, "freelist", None, offsets, true);

    // page_16k: txid 2 in page 0 (which holds the page size), txid 1 in page 1 is the empty
    // database; damaging page 0 forces probing for meta 1 at 16 KiB (Go cannot do this).
    let img = img_of("page_16k.db");
    assert_eq!(active_meta(&img, 16384).page, 0);
    let empty = std::fs::read_to_string(fixture("empty.json")).unwrap();
    assert_falls_back(dir.path(), &img, "page_16k", Some(&empty), offsets, false);
}

// ---------------------------------------------------------------------------------------------
// 2. Both metas damaged.

/// Opens `path` read-only and read-write; both must fail with an error `ok` accepts, and a
/// failed open must leave the file unchanged.
fn assert_open_fails(path: &Path, what: &str, ok: impl Fn(&Error) -> bool) {
    assert_unusable(path, what, ok, false);
}

/// Like [`assert_open_fails`], but when `may_recreate` the read-write open may instead treat the
/// file as an interrupted creation (engine commit b021a08: a short file holding nothing but a
/// prefix of a fresh database's image, or zeros, and no valid meta) and create a new, empty,
/// consistent database in it.
fn assert_unusable(path: &Path, what: &str, ok: impl Fn(&Error) -> bool, may_recreate: bool) {
    let before = std::fs::read(path).unwrap();
    for (mode, opts) in [("ro", ro()), ("rw", rw())] {
        let p = path.to_path_buf();
        let r = within(30, what, move || {
            DB::open(&p, opts).map(|db| {
                let txid = db.info().meta.txid;
                let content = dump(&db);
                let problems = db.begin(false).and_then(|tx| tx.check());
                (txid, content, problems)
            })
        });
        match r {
            Ok((txid, content, problems)) => {
                assert!(may_recreate && mode == "rw", "{what}: {mode} open succeeded (txid {txid}, {content:?})");
                assert_eq!(txid, 1, "{what}: recreated database");
                let empty = std::fs::read_to_string(fixture("empty.json")).unwrap();
                assert!(content.as_deref().ok() == Some(empty.as_str()), "{what}: recreated content {content:?}");
                assert!(problems.as_ref().is_ok_and(|p| p.is_empty()), "{what}: recreated check {problems:?}");
            }
            Err(e) => {
                assert!(ok(&e), "{what}: {mode} open: unexpected error {e:?}");
                assert!(std::fs::read(path).unwrap() == before, "{what}: failed {mode} open changed the file");
            }
        }
    }
}

#[test]
fn both_metas_damaged_is_a_checksum_error() {
    let dir = scratch();
    let (path, _) = build_history(dir.path(), 4096, 3);
    let mut images = vec![("scratch".to_string(), std::fs::read(&path).unwrap())];
    for f in ["empty.db", "seq_100k.db", "page_16k.db", "torn_meta.db", "backup_copy.db"] {
        images.push((f.to_string(), read_fixture(f)));
    }
    for (name, img) in images {
        let ps = page_size_of(&img);
        for (off0, off1) in [(72, 72), (64, 40), (32, 79), (24, 24), (56, 16 + 12)] {
            let mut bad = img.clone();
            // torn_meta's meta 1 is invalid already: leave it as it is.
            for (page, off) in [(0, off0), (1, off1)] {
                if raw_meta(&bad, page, ps).valid {
                    flip_meta_byte(&mut bad, page, ps, off);
                }
            }
            let what = format!("{name}: meta 0 byte {off0}, meta 1 byte {off1} flipped");
            let p = write(dir.path(), &format!("both-{name}-{off0}-{off1}.db"), &bad);
            assert_open_fails(&p, &what, |e| matches!(e, Error::Checksum));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Truncated files.

#[test]
fn files_shorter_than_4096_bytes_are_invalid() {
    let dir = scratch();
    for f in ["empty.db", "one_bucket.db", "seq_100k.db"] {
        let img = read_fixture(f);
        for len in [1usize, 15, 16, 40, 79, 80, 100, 1024, 2048, 4095] {
            let p = write(dir.path(), &format!("short-{f}-{len}"), &img[..len]);
            let what = format!("{f} truncated to {len} bytes");
            // Below 80 bytes meta 0 is incomplete: a writer may take the file for an interrupted
            // creation (its bytes are those of a fresh database's first page) and start over. With
            // a complete, valid meta 0 it must refuse.
            assert_unusable(&p, &what, |e| matches!(e, Error::Invalid(_)), len < 80);
        }
    }
    // An empty file is a new database for a writer, but not something a reader can open.
    let p = write(dir.path(), "zero-length.db", b"");
    match DB::open(&p, ro()) {
        Err(Error::Invalid(_)) => {}
        other => panic!("empty file opened read-only: {other:?}"),
    }
}

#[test]
fn files_truncated_below_the_high_water_mark_fail_to_open() {
    let dir = scratch();
    for f in ["seq_100k.db", "freelist.db", "page_16k.db", "random_values.db", "no_freelist_sync.db", "empty_tx.db"] {
        let img = read_fixture(f);
        let ps = page_size_of(&img);
        let m = active_meta(&img, ps);
        let end = m.hwm as usize * ps;
        assert!(end <= img.len());
        let mut lens = vec![4096, 4097, 2 * ps, 2 * ps + 1, end / 2, end - ps, end - 1];
        lens.retain(|&l| l >= 4096 && l < end);
        lens.sort_unstable();
        lens.dedup();
        for len in lens {
            let p = write(dir.path(), &format!("trunc-{f}-{len}"), &img[..len]);
            let what = format!("{f} truncated to {len} bytes (hwm needs {end})");
            assert_open_fails(&p, &what, |e| matches!(e, Error::Invalid(_)));
        }
        // Exactly hwm pages is enough (Go's CopyFile writes such files).
        let p = write(dir.path(), &format!("exact-{f}"), &img[..end]);
        let db = DB::open(&p, ro()).unwrap_or_else(|e| panic!("{f} cut at hwm: {e}"));
        let json = std::fs::read_to_string(fixture(f).with_extension("json")).unwrap();
        assert!(dump(&db).unwrap() == json, "{f} cut at hwm: content changed");
        assert!(db.begin(false).unwrap().check().unwrap().is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Files that are not (usable) bbolt databases.

#[test]
fn zeros_garbage_and_text_are_invalid() {
    let dir = scratch();
    let mut rng = Rng::new(rivet_tests::seed(0xDA_4A9E));
    let text: Vec<u8> = "This is not a database, just some text.\n".bytes().cycle().take(10_000).collect();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("zeros-16k".into(), vec![0; 16 * 1024]),
        ("zeros-4096".into(), vec![0; 4096]),
        ("ones-64k".into(), vec![0xFF; 64 * 1024]),
        ("text".into(), text),
    ];
    for n in [4096, 5000, 65536] {
        cases.push((format!("random-{n}"), rng.bytes(n)));
    }
    for (name, bytes) in cases {
        let p = write(dir.path(), &name, &bytes);
        // Zeros no longer than a fresh database (4 pages of 4096) may be taken by a writer for
        // an interrupted creation and initialised (engine commit b021a08); a reader refuses.
        let may_recreate = bytes.len() <= 16384 && bytes.iter().all(|&b| b == 0);
        assert_unusable(&p, &name, |e| matches!(e, Error::Invalid(_)), may_recreate);
    }
    // The magic right but nothing else (zeros around it, checksum 0): version 0, as Go says, or
    // (engine commit b021a08) an interrupted creation, since the magic is part of a fresh image:
    // Invalid for a reader, a new database for a writer.
    let mut magic_only = vec![0u8; 16 * 1024];
    put32(&mut magic_only, 16, MAGIC);
    let p = write(dir.path(), "magic-only", &magic_only);
    assert_unusable(&p, "magic only", |e| matches!(e, Error::VersionMismatch { found: 0 } | Error::Invalid(_)), true);
}

#[test]
fn version_3_metas_are_a_version_mismatch() {
    let dir = scratch();
    for f in ["empty.db", "seq_100k.db", "page_16k.db", "one_bucket.db"] {
        let img = read_fixture(f);
        let ps = page_size_of(&img);
        let mut v3 = img.clone();
        for page in 0..2u64 {
            put32(&mut v3, page as usize * ps + M_VERSION, 3);
            fix_checksum(&mut v3, page, ps);
        }
        let p = write(dir.path(), &format!("v3-{f}"), &v3);
        assert_open_fails(&p, &format!("{f} with version 3"), |e| matches!(e, Error::VersionMismatch { found: 3 }));

        // Only the newest meta says version 3: like Go, use the other one.
        let newest = active_meta(&img, ps);
        let older = raw_meta(&img, 1 - newest.page, ps);
        let mut half = img.clone();
        put32(&mut half, newest.page as usize * ps + M_VERSION, 3);
        fix_checksum(&mut half, newest.page, ps);
        let p = write(dir.path(), &format!("v3-newest-{f}"), &half);
        for opts in [ro(), rw()] {
            let db = DB::open(&p, opts).unwrap_or_else(|e| panic!("{f}, newest meta v3: {e}"));
            assert_eq!(db.info().meta.txid, older.txid, "{f}, newest meta v3");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Hand-damaged pages are found by check() or refused with Error::Corrupted.

/// A damaged copy of a fixture: writes it and returns the path.
fn damaged(dir: &Path, name: &str, label: &str, f: impl FnOnce(&mut [u8], usize)) -> PathBuf {
    let mut img = read_fixture(name);
    let ps = page_size_of(&img);
    f(&mut img, ps);
    write(dir, &format!("{label}-{name}"), &img)
}

fn assert_problem(path: &Path, what: &str, needle: &str) -> Vec<String> {
    let p = path.to_path_buf();
    let found = within(30, what, move || problems(&p));
    assert!(
        found.iter().any(|m| m.contains(needle)),
        "{what}: expected a problem containing {needle:?}, got {found:?}"
    );
    found
}

/// Reading everything fails with `Corrupted` naming `page`, and nothing panics or hangs,
/// including a write transaction.
fn assert_read_fails(path: &Path, what: &str, page: u64) {
    let p = path.to_path_buf();
    let r = within(30, what, move || {
        let db = DB::open(&p, ro())?;
        dump(&db).map(|_| ())
    });
    match r {
        Err(Error::Corrupted { page: got, .. }) => assert_eq!(got, page, "{what}: page in the error"),
        other => panic!("{what}: dump gave {other:?}, expected Corrupted on page {page}"),
    }
    assert_survives(path, what);
}

/// Opening, `check()`, a full dump and small write transactions (see [`exercise`]) return `Ok`
/// or `Err` without panicking or hanging.
fn assert_survives(path: &Path, what: &str) {
    let p = path.to_path_buf();
    within(30, what, move || exercise(&p));
}

/// A data leaf that is not its bucket's root (so it sits under a branch).
fn data_leaf(img: &[u8], ps: usize) -> u64 {
    let t = walk_tree(img, ps);
    t.leaves
        .iter()
        .find(|(id, bucket)| id != bucket && header(img, ps, *id).count >= 2)
        .expect("a leaf under a branch")
        .0
}

const HAND_FIXTURES: &[&str] = &["freelist.db", "seq_100k.db"];

#[test]
fn check_finds_bad_page_types() {
    let dir = scratch();
    for &f in HAND_FIXTURES {
        for flags in [0x10u16, 0x04, 0x00, 0x40, 0x8000] {
            let mut leaf = 0;
            let p = damaged(dir.path(), f, &format!("flags{flags:x}"), |img, ps| {
                leaf = data_leaf(img, ps);
                put16(img, leaf as usize * ps + 8, flags);
            });
            let what = format!("{f}: leaf page {leaf} flags set to {flags:#x}");
            assert_problem(&p, &what, &format!("page {leaf}"));
            assert_problem(&p, &what, "invalid type");
            assert_read_fails(&p, &what, leaf);
        }
    }
}

#[test]
fn check_finds_keys_out_of_order() {
    let dir = scratch();
    for &f in HAND_FIXTURES {
        let mut leaf = 0;
        let p = damaged(dir.path(), f, "swap", |img, ps| {
            leaf = data_leaf(img, ps);
            let e = leaf_elems(img, ps, leaf);
            let i = (0..e.len() - 1)
                .find(|&i| e[i].flags == 0 && e[i + 1].flags == 0 && e[i].ksize == e[i + 1].ksize)
                .expect("two adjacent keys of equal length");
            let (a, b, n) = (e[i].key_off, e[i + 1].key_off, e[i].ksize);
            let ka = img[a..a + n].to_vec();
            let kb = img[b..b + n].to_vec();
            assert!(ka < kb);
            img[a..a + n].copy_from_slice(&kb);
            img[b..b + n].copy_from_slice(&ka);
        });
        let what = format!("{f}: two keys of leaf {leaf} swapped");
        assert_problem(&p, &what, &format!("page {leaf}: keys out of order"));
        assert_survives(&p, &what);

        // The last key of a leaf made larger than the next leaf's first key: order across pages.
        let mut leaf = 0;
        let p = damaged(dir.path(), f, "cross", |img, ps| {
            leaf = data_leaf(img, ps);
            let e = leaf_elems(img, ps, leaf);
            let last = e.last().unwrap();
            for b in &mut img[last.key_off..last.key_off + last.ksize] {
                *b = 0xFF;
            }
        });
        let what = format!("{f}: last key of leaf {leaf} set to ff..ff");
        assert_problem(&p, &what, "keys out of order");
        assert_survives(&p, &what);
    }
}

#[test]
fn check_finds_bad_references_ids_and_positions() {
    let dir = scratch();
    for &f in HAND_FIXTURES {
        // A branch element pointing at its sibling's page.
        let (mut target, mut lost) = (0, 0);
        let p = damaged(dir.path(), f, "dup-child", |img, ps| {
            let t = walk_tree(img, ps);
            let (br, _) = *t.branches.iter().find(|(id, _)| header(img, ps, *id).count >= 3).unwrap();
            let e = branch_elems(img, ps, br);
            target = e[0].pgid;
            lost = e[2].pgid;
            put64(img, e[2].off + 8, target);
        });
        let what = format!("{f}: branch child {lost} replaced by sibling {target}");
        assert_problem(&p, &what, &format!("page {target}: multiple references"));
        assert_problem(&p, &what, &format!("page {lost}: unreachable unfreed"));
        assert_survives(&p, &what);

        // A branch element pointing at a leaf of another bucket (or another branch's subtree).
        let mut target = 0;
        let p = damaged(dir.path(), f, "foreign-child", |img, ps| {
            let t = walk_tree(img, ps);
            let (br, _) = *t.branches.iter().find(|(id, _)| header(img, ps, *id).count >= 2).unwrap();
            let e = branch_elems(img, ps, br);
            let under: Vec<u64> = e.iter().map(|x| x.pgid).collect();
            target = t.leaves.iter().map(|l| l.0).find(|l| !under.contains(l) && *l != e[1].pgid).unwrap();
            put64(img, e[1].off + 8, target);
        });
        let what = format!("{f}: branch child pointed at page {target}");
        assert_problem(&p, &what, &format!("page {target}: multiple references"));
        assert_survives(&p, &what);

        // A cycle: a branch element pointing at the branch itself (or its root). Must not hang.
        let mut br = 0;
        let p = damaged(dir.path(), f, "cycle", |img, ps| {
            let t = walk_tree(img, ps);
            br = t.branches[0].0;
            let e = branch_elems(img, ps, br);
            put64(img, e[0].off + 8, br);
        });
        let what = format!("{f}: branch {br} points at itself");
        assert_problem(&p, &what, &format!("page {br}: multiple references"));
        let p2 = p.clone();
        let r = within(30, &what, move || {
            let db = DB::open(&p2, ro())?;
            dump(&db).map(|_| ())
        });
        assert!(matches!(r, Err(Error::Corrupted { .. })), "{what}: dump gave {r:?}");
        assert_survives(&p, &what);

        // A node whose header id is not its position.
        let mut leaf = 0;
        let p = damaged(dir.path(), f, "wrong-id", |img, ps| {
            leaf = data_leaf(img, ps);
            put64(img, leaf as usize * ps, leaf + 1);
        });
        let what = format!("{f}: leaf {leaf} header says page {}", leaf + 1);
        assert_problem(&p, &what, &format!("page {leaf}"));
        assert_read_fails(&p, &what, leaf);

        // An element whose key lies outside the page.
        let mut leaf = 0;
        let p = damaged(dir.path(), f, "pos-out", |img, ps| {
            leaf = data_leaf(img, ps);
            put32(img, leaf as usize * ps + 16 + 4, ps as u32 * 3);
        });
        let what = format!("{f}: leaf {leaf} element 0 pos past the page");
        assert_problem(&p, &what, &format!("page {leaf}"));
        assert_read_fails(&p, &what, leaf);
    }
}

#[test]
fn check_finds_freelist_damage() {
    let dir = scratch();
    for &f in HAND_FIXTURES {
        // (d) An id removed from the freelist: that page is neither used nor free.
        let mut removed = 0;
        let p = damaged(dir.path(), f, "fl-remove", |img, ps| {
            let (fl, start, ids) = freelist_ids(img, ps);
            removed = ids[0];
            for (i, id) in ids[1..].iter().enumerate() {
                put64(img, start + 8 * i, *id);
            }
            put64(img, start + 8 * (ids.len() - 1), 0);
            put16(img, fl as usize * ps + 10, (ids.len() - 1) as u16);
        });
        let what = format!("{f}: page {removed} removed from the freelist");
        let found = assert_problem(&p, &what, &format!("page {removed}: unreachable unfreed"));
        assert_eq!(found.len(), 1, "{what}: {found:?}");
        assert_survives(&p, &what);

        // A used leaf listed as free.
        let (mut leaf, mut dropped) = (0, 0);
        let p = damaged(dir.path(), f, "fl-used", |img, ps| {
            let (_, start, ids) = freelist_ids(img, ps);
            leaf = data_leaf(img, ps);
            dropped = ids[ids.len() - 1];
            put64(img, start + 8 * (ids.len() - 1), leaf);
        });
        let what = format!("{f}: used leaf {leaf} listed as free instead of {dropped}");
        assert_problem(&p, &what, &format!("page {leaf}: reachable freed"));
        assert_problem(&p, &what, &format!("page {dropped}: unreachable unfreed"));
        assert_survives(&p, &what);

        // The same id twice.
        let mut twice = 0;
        let p = damaged(dir.path(), f, "fl-twice", |img, ps| {
            let (_, start, ids) = freelist_ids(img, ps);
            assert!(ids.len() >= 2);
            twice = ids[0];
            put64(img, start + 8, twice);
        });
        let what = format!("{f}: page {twice} listed twice");
        assert_problem(&p, &what, &format!("page {twice}: already freed"));
        assert_survives(&p, &what);

        // An id past the high-water mark, and a count running past the page.
        for (label, set) in [("fl-past-hwm", 0u8), ("fl-count", 1u8)] {
            let p = damaged(dir.path(), f, label, |img, ps| {
                let (fl, start, _) = freelist_ids(img, ps);
                if set == 0 {
                    let hwm = active_meta(img, ps).hwm;
                    put64(img, start, hwm + 10);
                } else {
                    put16(img, fl as usize * ps + 10, 0xFFFE);
                }
            });
            let what = format!("{f}: {label}");
            assert_problem(&p, &what, "freelist");
            // A writer cannot trust such a list: open read-write must refuse, not guess.
            let p2 = p.clone();
            let r = within(30, &what, move || DB::open(&p2, rw()).map(|_| ()));
            assert!(matches!(r, Err(Error::Corrupted { .. })), "{what}: rw open gave {r:?}");
        }

        // The freelist page's flags wrong (Go panics here).
        let mut fl = 0;
        let p = damaged(dir.path(), f, "fl-flags", |img, ps| {
            fl = active_meta(img, ps).freelist;
            put16(img, fl as usize * ps + 8, LEAF);
        });
        let what = format!("{f}: freelist page {fl} flagged as a leaf");
        assert_problem(&p, &what, "freelist");
        let p2 = p.clone();
        let r = within(30, &what, move || DB::open(&p2, rw()).map(|_| ()));
        assert!(matches!(r, Err(Error::Corrupted { page, .. }) if page == fl), "{what}: rw open gave {r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Random damage in data pages never panics or hangs.

/// What one damaged copy did.
#[derive(Debug, Default, Clone)]
struct Outcome {
    open_failed: bool,
    check_problems: bool,
    check_err: bool,
    dump_err: bool,
    write_ok: bool,
    /// Wrong behaviour, reported as failures: a write transaction's cursor returning more items
    /// than the read transaction's did (it loops; bounded so that it does not hang the test),
    /// or writes that turn a file passing `check()` into one that fails it.
    wrong: Vec<String>,
}

/// Items of a bucket, read in order until the first error; `None` if an error came first.
fn count_items(b: &rivet_engine::Bucket<'_>, limit: usize) -> Option<usize> {
    let mut n = 0;
    for item in b.iter().take(limit) {
        item.ok()?;
        n += 1;
    }
    Some(n)
}

/// Opens, checks, dumps, takes stats, backs up, compacts, writes and reopens `path`; any `Err`
/// is fine.
fn exercise(path: &Path) -> Outcome {
    const UNKNOWN: usize = 1_000_000;
    let mut o = Outcome::default();
    // Top-level bucket names, and item counts where a read transaction could walk everything.
    let mut root_count = None;
    let mut buckets: Vec<(Vec<u8>, Option<usize>)> = Vec::new();
    match DB::open(path, ro()) {
        Err(_) => o.open_failed = true,
        Ok(db) => {
            if let Ok(tx) = db.begin(false) {
                match tx.check() {
                    Ok(p) => o.check_problems = !p.is_empty(),
                    Err(_) => o.check_err = true,
                }
                o.dump_err = rivet_engine::dump::dump_json(&tx).is_err();
                let _ = tx.root().stats();
                let _ = db.stats();
                let _ = tx.write_to(&mut std::io::sink());
                root_count = count_items(&tx.root(), UNKNOWN);
                let names: Vec<Vec<u8>> = tx
                    .root()
                    .iter()
                    .take(UNKNOWN)
                    .map_while(|r| r.ok())
                    .filter(|(_, v)| v.is_none())
                    .map(|(k, _)| k.to_vec())
                    .collect();
                for n in names {
                    if let Ok(b) = tx.bucket(&n) {
                        // Point lookups and seeks through the search path.
                        for k in [&b"\x00"[..], b"a", b"\xff\xff", b"\x00\x00\x00\x00\x00\x00\x01\x00"] {
                            let _ = b.get(k);
                        }
                        let _ = b.cursor().last();
                        let _ = b.range(&b"\x00\x00\x00\x00\x00\x00\x80"[..]..).take(3).count();
                        let _ = b.stats();
                        buckets.push((n, count_items(&b, UNKNOWN)));
                    }
                }
            }
        }
    }
    // Compaction reads everything through the API and writes a new file (without fsync: the
    // time limit must not depend on the disk).
    let compacted = path.with_extension("compacted");
    if let (Ok(src), Ok(dst)) = (DB::open(path, ro()), DB::open(&compacted, rw())) {
        let _ = rivet_engine::compact(&src, &dst, 1 << 20);
    }
    let _ = std::fs::remove_file(&compacted);
    let clean = !o.open_failed && !o.check_problems && !o.check_err && !o.dump_err;
    o.write_ok = write_probe(path, root_count, &buckets, &mut o.wrong);
    if o.write_ok {
        if let Ok(db) = DB::open(path, ro()) {
            if let Ok(tx) = db.begin(false) {
                let after = tx.check();
                let _ = rivet_engine::dump::dump_json(&tx);
                match after {
                    Ok(p) if clean && !p.is_empty() => {
                        o.wrong.push(format!("BROKE: the file passed check, after writes it fails: {p:?}"))
                    }
                    Err(e) if clean => o.wrong.push(format!("BROKE: the file passed check, after writes: {e}")),
                    _ => {}
                }
            }
        }
    }
    o
}

/// Small write transactions on a damaged file: iterates the root and up to four buckets (no
/// further than the read transaction got, plus one), rewrites and deletes a key in each, and
/// creates a bucket; then a second transaction puts and deletes a few dozen keys per bucket
/// (splits, merges, page reuse). Returns whether the first one committed; iterations that
/// return more items than the read transaction saw are recorded in `wrong`.
fn write_probe(
    path: &Path,
    root_count: Option<usize>,
    buckets: &[(Vec<u8>, Option<usize>)],
    wrong: &mut Vec<String>,
) -> bool {
    const UNKNOWN: usize = 1_000_000;
    let Ok(db) = DB::open(path, rw()) else { return false };
    let first = db.update(|tx| {
        if let (Some(rc), Some(n)) = (root_count, count_items(&tx.root(), root_count.unwrap_or(UNKNOWN) + 1)) {
            if n > rc {
                wrong.push(format!("LOOP: write tx: root bucket iteration gave more than {rc} items (read tx: {rc})"));
            }
        }
        for (name, count) in buckets.iter().take(4) {
            let mut b = tx.bucket_mut(name)?;
            let limit = count.unwrap_or(UNKNOWN) + 1;
            if let (Some(c), Some(n)) = (count, count_items(&b.as_bucket(), limit)) {
                if n > *c {
                    wrong.push(format!(
                        "LOOP: write tx: bucket {} iteration gave more than {c} items (read tx: {c})",
                        hexs(name)
                    ));
                }
            }
            let first = b.as_bucket().iter().next().transpose()?.map(|(k, _)| k.to_vec());
            if let Some(k) = first {
                let mut k2 = k.clone();
                k2.push(0);
                b.put(&k2, b"damage-probe")?;
                match b.delete(&k) {
                    Ok(()) | Err(Error::IncompatibleValue { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        tx.create_bucket_if_not_exists(b"damage-probe")?.put(b"k", b"v")
    });
    if first.is_err() {
        return false;
    }
    let mut rng = Rng::new(fnv1a64(path.as_os_str().as_encoded_bytes()));
    let _ = db.update(|tx| {
        for (name, count) in buckets.iter().take(4) {
            let mut b = tx.bucket_mut(name)?;
            for _ in 0..40 {
                let (k, v) = (rng.bytes_between(1, 12), rng.bytes_between(0, 300));
                match b.put(&k, &v) {
                    Ok(()) | Err(Error::IncompatibleValue { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            let limit = count.unwrap_or(UNKNOWN) + 41;
            let keys: Vec<Vec<u8>> = b
                .as_bucket()
                .iter()
                .take(limit)
                .map_while(|r| r.ok())
                .filter(|(_, v)| v.is_some())
                .take(60)
                .map(|(k, _)| k.to_vec())
                .collect();
            for k in keys.iter().step_by(2) {
                b.delete(k)?;
            }
        }
        Ok::<_, Error>(())
    });
    true
}

/// Applies 1-3 random mutations to pages 2..hwm (mostly pages in use) and describes them.
fn mutate(img: &mut [u8], ps: usize, hwm: u64, used: &[u64], rng: &mut Rng) -> Vec<String> {
    let mut log = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let page = if !used.is_empty() && rng.below(5) != 0 {
            used[rng.below(used.len() as u64) as usize]
        } else {
            2 + rng.below(hwm - 2)
        };
        let base = page as usize * ps;
        let count = get16(img, base + 10) as usize;
        let elems = (16 + 16 * count).min(ps);
        let kind = rng.below(8);
        let (off, len) = match kind {
            0 => (rng.below(16) as usize, 1),                                 // header byte
            1 => (16 + rng.below((elems - 16).max(1) as u64) as usize, 1),    // element header byte
            2 => (rng.below(ps as u64) as usize, 1),                          // any byte
            3 => (4 * rng.below(((elems / 4) as u64).max(1)) as usize, 4),    // u32 in headers
            4 => (8 * rng.below(((elems / 8) as u64).max(1)) as usize, 8),    // u64 in headers
            5 => (16 * rng.below(((elems / 16) as u64).max(1)) as usize, 16), // copy an element
            6 => (rng.below(ps as u64) as usize, 0),                          // bit flip
            _ => (0, ps),                                                     // whole page from another
        };
        let off = off.min(ps - len.max(1));
        let old: Vec<u8> = img[base + off..base + off + len.max(1)].to_vec();
        match kind {
            0..=2 => img[base + off] = rng.next_u64() as u8,
            3 => {
                let v = [0u32, 1, 2, 0xFFFF, 0xFFFF_FFFF, 0x8000_0000, ps as u32, ps as u32 - 1, rng.below(64) as u32];
                put32(img, base + off, v[rng.below(v.len() as u64) as usize]);
            }
            4 => {
                let other = used.get(rng.below(used.len().max(1) as u64) as usize).copied().unwrap_or(3);
                let v = [0u64, 1, 2, hwm - 1, hwm, hwm + 1, u64::MAX, other, page, rng.next_u64()];
                put64(img, base + off, v[rng.below(v.len() as u64) as usize]);
            }
            5 => {
                let from = 16 * rng.below(((elems / 16) as u64).max(1)) as usize;
                let src: Vec<u8> = img[base + from..base + from + 16].to_vec();
                img[base + off..base + off + 16].copy_from_slice(&src);
            }
            6 => img[base + off] ^= 1 << rng.below(8),
            _ => {
                let src_page = 2 + rng.below(hwm - 2) as usize;
                let src = img[src_page * ps..src_page * ps + ps].to_vec();
                img[base..base + ps].copy_from_slice(&src);
                log.push(format!("page {page}: whole page replaced by a copy of page {src_page}"));
                continue;
            }
        }
        let new = &img[base + off..base + off + len.max(1)];
        log.push(format!("page {page} offset {off} (file offset {}): {} -> {}", base + off, hexs(&old), hexs(new)));
    }
    log
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Copies per fixture, by size: about 600 in total, a few seconds. `RIVET_DAMAGE_SCALE=N`
/// multiplies the count for longer hunts; `RIVET_DAMAGE_CASE=NAME.db:CASE` replays one case.
fn copies_for(len: usize) -> usize {
    let scale = std::env::var("RIVET_DAMAGE_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    scale
        * match len {
            0..=300_000 => 50,
            300_001..=2_500_000 => 25,
            _ => 10,
        }
}

/// Stop after this many panics or hangs (a hung thread keeps spinning until the process ends;
/// bounded loops do not count).
const MAX_FAILURES: usize = 3;

#[test]
fn random_page_damage_never_panics() {
    let seed = rivet_tests::seed(0x0BAD_F00D);
    let dir = scratch();
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut stuck = 0; // panics and hangs (a hung thread keeps spinning until the process ends)
    let mut totals = [0usize; 6];
    let mut disagreements = Vec::new();
    // Replay one case: RIVET_DAMAGE_CASE=NAME.db:CASE (with the same RIVET_SEED).
    let only = std::env::var("RIVET_DAMAGE_CASE").ok();
    'fixtures: for f in fixtures() {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let base = std::fs::read(&f).unwrap();
        let ps = page_size_of(&base);
        let hwm = active_meta(&base, ps).hwm;
        let mut used = walk_tree(&base, ps).used;
        let fl = active_meta(&base, ps).freelist;
        if fl != NO_FREELIST {
            used.push(fl);
        }
        for case in 0..copies_for(base.len()) {
            if only.as_ref().is_some_and(|o| *o != format!("{name}:{case}")) {
                continue;
            }
            let case_seed = seed ^ (fnv1a64(name.as_bytes()).rotate_left(17)) ^ (case as u64).wrapping_mul(0x9E37_79B9);
            let mut rng = Rng::new(case_seed);
            let mut img = base.clone();
            let log = mutate(&mut img, ps, hwm, &used, &mut rng);
            let path = write(dir.path(), &format!("rand-{case}-{name}"), &img);
            let (tx, rx) = mpsc::channel();
            let p = path.clone();
            std::thread::spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| exercise(&p)));
                let _ = tx.send(r);
            });
            let what = format!("fixture {name}, case {case}, case seed {case_seed:#x} (RIVET_SEED={seed}): {log:?}");
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(Ok(o)) if !o.wrong.is_empty() => failures.push(format!("{:?}: {what}", o.wrong)),
                Ok(Ok(o)) => {
                    totals[0] += 1;
                    totals[1] += o.open_failed as usize;
                    totals[2] += o.check_problems as usize;
                    totals[3] += (o.dump_err || o.check_err) as usize;
                    totals[4] += o.write_ok as usize;
                    if o.dump_err && !o.check_problems && !o.check_err {
                        disagreements.push(what.clone());
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Ok(Err(_)) => {
                    stuck += 1;
                    failures.push(format!("PANIC: {what}"))
                }
                Err(_) => {
                    stuck += 1;
                    failures.push(format!("HANG (30 s): {what}"))
                }
            }
            if stuck >= MAX_FAILURES {
                break 'fixtures;
            }
        }
    }
    eprintln!(
        "random damage: {} copies in {:.1?}: open failed {}, check found problems {}, dump/check errors {}, writes committed {}",
        totals[0] + failures.len(),
        started.elapsed(),
        totals[1],
        totals[2],
        totals[3],
        totals[4]
    );
    for d in &disagreements {
        eprintln!("note: dump failed but check() found nothing: {d}");
    }
    failures.sort_by_key(|f| f.contains("LOOP")); // panics, hangs and broken files first
    let shown: Vec<&str> = failures.iter().take(20).map(String::as_str).collect();
    assert!(
        failures.is_empty(),
        "{} damaged copies panicked, hung or misbehaved (first {} shown):\n{}",
        failures.len(),
        shown.len(),
        shown.join("\n")
    );
    assert!(totals[2] + totals[3] > totals[0] / 4, "the damage was rarely detected: {totals:?}");
}

// ---------------------------------------------------------------------------------------------
// 7. Metas with a valid checksum but absurd fields.

#[test]
fn absurd_meta_fields_with_valid_checksums_are_errors() {
    let dir = scratch();
    for f in ["freelist.db", "empty.db", "no_freelist_sync.db"] {
        let img = read_fixture(f);
        let ps = page_size_of(&img);
        let m = active_meta(&img, ps);
        let other = 1 - m.page;
        let cases: Vec<(&str, usize, u64)> = vec![
            ("root 0", M_ROOT, 0),
            ("root 1 (a meta page)", M_ROOT, 1),
            ("root = hwm", M_ROOT, m.hwm),
            ("root huge", M_ROOT, u64::MAX / 2),
            ("root = freelist page", M_ROOT, m.freelist),
            ("freelist 0", M_FREELIST, 0),
            ("freelist = root", M_FREELIST, m.root),
            ("freelist = hwm", M_FREELIST, m.hwm),
            ("hwm 0", M_HWM, 0),
            ("hwm 2", M_HWM, 2),
            ("hwm huge", M_HWM, u64::MAX),
            ("hwm past the file", M_HWM, (img.len() / ps) as u64 + 1),
            ("page size 1000", M_PAGE_SIZE, 1000),
            ("page size 0", M_PAGE_SIZE, 0),
            ("page size 2^31", M_PAGE_SIZE, 1 << 31),
            ("page size 256", M_PAGE_SIZE, 256),
            ("page size 8192", M_PAGE_SIZE, 8192),
        ];
        for (label, off, v) in cases {
            let mut bad = img.clone();
            // Damage both metas the same way so that the engine cannot fall back.
            for page in [m.page, other] {
                let po = page as usize * ps;
                if off == M_PAGE_SIZE {
                    put32(&mut bad, po + off, v as u32);
                } else {
                    put64(&mut bad, po + off, v);
                }
                fix_checksum(&mut bad, page, ps);
            }
            let what = format!("{f}: both metas with {label} (checksums fixed)");
            let path = write(dir.path(), &format!("absurd-{label}-{f}"), &bad);
            let p = path.clone();
            let o = within(30, &what, move || exercise(&p));
            assert!(
                o.open_failed || o.check_problems || o.check_err || o.dump_err,
                "{what}: accepted silently ({o:?})"
            );
        }
    }
}

#[test]
fn random_meta_fields_with_valid_checksums_never_panic() {
    let seed = rivet_tests::seed(0x3E7A);
    let mut rng = Rng::new(seed);
    let dir = scratch();
    let fields: [(usize, u32); 8] = [
        (M_PAGE_SIZE, 4),
        (M_PAGE_SIZE + 4, 4), // flags
        (M_ROOT, 8),
        (M_ROOT + 8, 8), // root sequence
        (M_FREELIST, 8),
        (M_HWM, 8),
        (M_TXID, 8),
        (M_VERSION, 4),
    ];
    for f in ["freelist.db", "empty_tx.db", "no_freelist_sync.db", "nested3.db", "page_16k.db", "backup_copy.db"] {
        let img = read_fixture(f);
        let ps = page_size_of(&img);
        let m = active_meta(&img, ps);
        for case in 0..12 {
            let mut bad = img.clone();
            let pages: &[u64] = if rng.below(2) == 0 { &[0, 1] } else { std::slice::from_ref(&m.page) };
            let (off, size) = fields[rng.below(fields.len() as u64) as usize];
            let v = [0, 1, 2, 3, m.root, m.freelist, m.hwm - 1, m.hwm, m.hwm + 1, m.txid + 1, u64::MAX, rng.next_u64()]
                [rng.below(12) as usize];
            let mut log = Vec::new();
            for &page in pages {
                let po = page as usize * ps;
                if size == 4 {
                    put32(&mut bad, po + off, v as u32);
                } else {
                    put64(&mut bad, po + off, v);
                }
                fix_checksum(&mut bad, page, ps);
                log.push(format!("meta {page} byte {off} := {v:#x}"));
            }
            let what = format!("{f}, case {case} (RIVET_SEED={seed}): {log:?}");
            let p = write(dir.path(), &format!("meta-{case}-{f}"), &bad);
            let o = within(30, &what, move || exercise(&p));
            assert!(o.wrong.iter().all(|w| !w.starts_with("BROKE")), "{what}: {:?}", o.wrong);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 8. Minimal reproductions of engine bugs found by the tests above.

/// inline_buckets.db with the names of buckets 1 and 2 of a root-bucket leaf swapped (in the
/// fixture as generated: page 7, `small10` at file offset 29041 and `small11` at 29134, 7 bytes
/// each). Returns the path and the leaf's page id.
fn swapped_bucket_names(dir: &Path, label: &str) -> (PathBuf, u64) {
    let mut leaf = 0;
    let p = damaged(dir, "inline_buckets.db", label, |img, ps| {
        let root = active_meta(img, ps).root;
        assert_eq!(header(img, ps, root).flags, BRANCH, "root bucket of inline_buckets.db");
        let fits = |e: &[LeafElem]| e.len() > 2 && e[1].flags == 1 && e[2].flags == 1 && e[1].ksize == e[2].ksize;
        leaf = branch_elems(img, ps, root)
            .iter()
            .map(|b| b.pgid)
            .find(|&l| fits(&leaf_elems(img, ps, l)))
            .expect("a leaf whose elements 1 and 2 are buckets with names of equal length");
        let e = leaf_elems(img, ps, leaf);
        let (a, b, n) = (e[1].key_off, e[2].key_off, e[1].ksize);
        let ka = img[a..a + n].to_vec();
        let kb = img[b..b + n].to_vec();
        assert!(ka < kb);
        img[a..a + n].copy_from_slice(&kb);
        img[b..b + n].copy_from_slice(&ka);
    });
    (p, leaf)
}

/// BUG (hang; found at b9e39b3, fixed by the cursor changes in the working tree at e51547a):
/// iterating a bucket inside a *write* transaction never ends when two keys of a
/// leaf are out of order. The write-side cursor (`Cursor::next` -> `View::step` ->
/// `View::disk_step` -> `DiskCursor::seek_dir(Some(last), exclusive)`) steps by re-seeking
/// "strictly after the last key" with a binary search; on unsorted keys the search can land on
/// the element holding the larger key again, and `seek_dir` returns it without checking that
/// it is greater than the last key, so the iteration alternates between the two swapped keys
/// forever. Read transactions (which walk the leaf sequentially) terminate. Whether a given
/// swap loops depends on the binary search path, so this tries every adjacent pair of bucket
/// names in the root bucket's leaves (in the fixture as generated, swapping elements 1 and 2
/// of page 8, `small28`/`small29`, loops). Found by `random_page_damage_never_panics`
/// (inline_buckets.db, damaged element headers of page 8).
#[test]
fn engine_bug_write_tx_iteration_over_unordered_keys_terminates() {
    let dir = scratch();

    // Smallest case, one byte: empty.db's root leaf (page 3, all zeros after its header) given
    // count 3 (file offset 3 * 4096 + 10 = 12298: 0x00 -> 0x03) holds three elements with empty
    // keys. A read transaction lists them (3 items); a write transaction's iteration returns the
    // third one again and again ("strictly after the empty key" lands on element 1 by binary
    // search, steps to element 2, whose key is again the empty key).
    let mut img = read_fixture("empty.db");
    assert_eq!(active_meta(&img, 4096).root, 3);
    img[3 * 4096 + 10] = 3;
    let p = write(dir.path(), "bug-hang-empty.db", &img);
    let what = "empty.db with root leaf count 3 (byte 12298: 00 -> 03); a write tx iterates the root bucket";
    let (read, written) = within(10, what, move || {
        let read = {
            let db = DB::open(&p, ro()).unwrap();
            let tx = db.begin(false).unwrap();
            let n = tx.root().iter().take(10_000).take_while(|r| r.is_ok()).count();
            n
        };
        let db = DB::open(&p, rw()).unwrap();
        let tx = db.begin(true).unwrap();
        let n = tx.root().iter().take(10_000).take_while(|r| r.is_ok()).count();
        (read, n)
    });
    assert!(read <= 3, "{what}: read tx iteration returned {read} items");
    assert!(written <= 3, "{what}: write tx iteration returned {written} items (read tx: {read}): it loops");

    // Swapped (not duplicated) keys: bucket names in inline_buckets.db's root leaves.
    let base = read_fixture("inline_buckets.db");
    let ps = page_size_of(&base);
    let root = active_meta(&base, ps).root;
    assert_eq!(header(&base, ps, root).flags, BRANCH, "root bucket of inline_buckets.db");
    for leaf in branch_elems(&base, ps, root).iter().map(|b| b.pgid) {
        let e = leaf_elems(&base, ps, leaf);
        for i in 0..e.len() - 1 {
            if e[i].ksize != e[i + 1].ksize {
                continue;
            }
            let mut img = base.clone();
            let (a, b, n) = (e[i].key_off, e[i + 1].key_off, e[i].ksize);
            img.copy_within(b..b + n, a);
            img[b..b + n].copy_from_slice(&base[a..a + n]);
            let p = write(dir.path(), &format!("bug-hang-{leaf}-{i}.db"), &img);
            let what = format!(
                "inline_buckets.db: bucket names {i} and {} of leaf {leaf} swapped (file offsets {a} and {b}, \
                 {n} bytes); a write tx iterates the root bucket",
                i + 1
            );
            let n = within(10, &what, move || {
                let db = DB::open(&p, rw()).unwrap();
                let tx = db.begin(true).unwrap();
                // The root bucket holds 64 buckets: more items than that means the cursor loops.
                let n = tx.root().iter().take(10_000).take_while(|r| r.is_ok()).count();
                n
            });
            assert!(n <= 64, "{what}: iteration returned {n} items, the root bucket holds 64");
        }
    }
}

/// BUG (wrong error; found at e51547a): a read-only dump of a file with two bucket names swapped
/// (`swapped_bucket_names`) fails with `BucketNotFound` (the name
/// that iteration just returned is not found again by the binary search in `Bucket::bucket`),
/// instead of `Error::Corrupted` naming the page, which the crate documentation promises for
/// damage found while reading. (`check()` does report "keys out of order".)
#[test]
fn engine_bug_unordered_bucket_names_are_corrupted_not_bucket_not_found() {
    let dir = scratch();
    let (p, leaf) = swapped_bucket_names(dir.path(), "bug-names");
    let what = format!("inline_buckets.db: names of elements 1 and 2 of leaf {leaf} swapped");
    assert_problem(&p, &what, &format!("page {leaf}: keys out of order"));
    let r = within(10, &what, move || {
        let db = DB::open(&p, ro())?;
        dump(&db).map(|_| ())
    });
    assert!(matches!(r, Err(Error::Corrupted { .. })), "{what}: dump gave {r:?}, expected Corrupted");
}

/// BUG (panic; silent data loss in release builds; found at e51547a): a meta whose txid is
/// `u64::MAX` (valid
/// checksum) opens read-write, and the next write transaction computes `txid + 1` unchecked:
/// `WriteTx::new` (engine/src/write.rs:53, `let txid = snap.meta.txid + 1;`, reached from
/// `DB::begin` -> `DB::update`) panics with "attempt to add with overflow" under overflow
/// checks. Without them (release) the txid wraps to 0, the commit writes meta page 0 -- the page
/// holding the current meta -- and reports Ok; on reopen meta 1 (txid 1) wins, so the commit is
/// lost and the file no longer opens (its freelist page 2 was reused: "expected a freelist page,
/// found flags 0x2"). Expected: an error (the txid space is exhausted / the meta is corrupted)
/// before anything is written. Found by `random_meta_fields_with_valid_checksums_never_panic`.
#[test]
fn engine_bug_txid_u64_max_write_does_not_panic_or_lose_the_commit() {
    let dir = scratch();
    // empty_tx.db: meta 0 has txid 2 (active), meta 1 txid 1. Meta 0's txid := u64::MAX (file
    // offset 64..72 = ff x 8) and its checksum (72..80) fixed.
    let mut img = read_fixture("empty_tx.db");
    put64(&mut img, M_TXID, u64::MAX);
    fix_checksum(&mut img, 0, 4096);
    let p = write(dir.path(), "bug-txid-max.db", &img);
    let what = "empty_tx.db with meta 0 txid = u64::MAX (checksum fixed); one write transaction";
    let p2 = p.clone();
    let committed = within(10, what, move || {
        let db = DB::open(&p2, rw()).expect("open rw");
        assert_eq!(db.info().meta.txid, u64::MAX);
        db.update(|tx| tx.create_bucket_if_not_exists(b"new")?.put(b"k", b"v")).is_ok()
    });
    if committed {
        // Then the commit must be there after a reopen.
        let db = DB::open(&p, ro()).unwrap_or_else(|e| panic!("{what}: reopen after the commit: {e}"));
        let found = db.view(|tx| Ok::<_, Error>(tx.bucket(b"new")?.get(b"k")?.map(<[u8]>::to_vec)));
        assert!(matches!(&found, Ok(Some(v)) if v.as_slice() == b"v"), "{what}: committed data lost: {found:?}");
    }
}

/// A bucket whose tree is a chain of `k` branch pages, each with two elements pointing at the
/// next one, over a single leaf holding one key `a` (built on empty.db; page 3, the root
/// bucket's leaf, holds bucket `b`; `check()` must report "multiple references").
fn shared_subtree_chain(k: u64) -> Vec<u8> {
    let ps = 4096usize;
    let base = read_fixture("empty.db");
    let hwm = 5 + k;
    let mut img = vec![0u8; hwm as usize * ps];
    img[..4 * ps].copy_from_slice(&base[..4 * ps]);
    // Root bucket leaf (page 3): element {flags 1, pos 16, ksize 1, vsize 16}, key "b", header.
    let o = 3 * ps;
    put16(&mut img, o + 10, 1);
    put32(&mut img, o + 16, 1);
    put32(&mut img, o + 20, 16);
    put32(&mut img, o + 24, 1);
    put32(&mut img, o + 28, 16);
    img[o + 32] = b'b';
    put64(&mut img, o + 33, 4);
    // Branch pages 4 .. 4+k: two elements (keys "a", "b") both pointing at the next page.
    for i in 0..k {
        let id = 4 + i;
        let o = id as usize * ps;
        put64(&mut img, o, id);
        put16(&mut img, o + 8, BRANCH);
        put16(&mut img, o + 10, 2);
        for (j, key) in [b'a', b'b'].into_iter().enumerate() {
            let e = o + 16 + 16 * j;
            put32(&mut img, e, (32 - 16 * j + j) as u32); // keys right after the two elements
            put32(&mut img, e + 4, 1);
            put64(&mut img, e + 8, id + 1);
            img[o + 48 + j] = key;
        }
    }
    // The leaf (page 4+k): one element, key "a", value "v".
    let id = 4 + k;
    let o = id as usize * ps;
    put64(&mut img, o, id);
    put16(&mut img, o + 8, LEAF);
    put16(&mut img, o + 10, 1);
    put32(&mut img, o + 20, 16);
    put32(&mut img, o + 24, 1);
    put32(&mut img, o + 28, 1);
    img[o + 32] = b'a';
    img[o + 33] = b'v';
    // Both metas: new hwm, meta 0 with the higher txid.
    for page in 0..2u64 {
        let mo = page as usize * ps;
        put64(&mut img, mo + M_HWM, hwm);
        put64(&mut img, mo + M_TXID, if page == 0 { 3 } else { 2 });
        fix_checksum(&mut img, page, ps);
    }
    img
}

/// BUG (hang, exponential work; found at e51547a, fixed by the cursor changes in its working
/// tree): reads do not notice a page referenced twice. A bucket whose
/// branch pages form a DAG -- here a chain of 40 branch pages, each with both elements pointing
/// at the next (page 4 -> 5 -> ... -> 43 -> leaf 44 with the single key `a`) -- is walked as a
/// tree of 2^40 leaves: iteration returns `a` again and again without an error, and a dump
/// (`dump_json`) would run for days while its output grows without bound. Only the depth is
/// limited (64), which stops cycles but not sharing. `check()` reports the damage at once
/// ("multiple references"). The same sharing with a single branch (brief item 5c) makes
/// iteration return a leaf's keys twice. Expected: `Error::Corrupted` (e.g. keys not strictly
/// ascending across leaves, or a page visited twice), not repeated keys.
#[test]
fn engine_bug_shared_subtrees_make_reads_repeat_keys_exponentially() {
    let dir = scratch();
    // The construction is sound: without branch pages it is a clean file holding b/a = v.
    let p = write(dir.path(), "dag-0.db", &shared_subtree_chain(0));
    assert_eq!(problems(&p), Vec::<String>::new(), "chain of 0 branch pages");
    let db = DB::open(&p, ro()).unwrap();
    assert_eq!(dump(&db).unwrap(), "{\"sequence\":0,\"entries\":[{\"key\":\"62\",\"bucket\":{\"sequence\":0,\"entries\":[{\"key\":\"61\",\"value\":\"76\"}]}}]}\n");
    drop(db);

    let p = write(dir.path(), "bug-dag.db", &shared_subtree_chain(40));
    let what = "chain of 40 branch pages (4..=43), both elements of each pointing at the next, over leaf 44";
    assert_problem(&p, what, "multiple references");
    let n = within(10, what, move || {
        let db = DB::open(&p, ro()).unwrap();
        let tx = db.begin(false).unwrap();
        let b = tx.bucket(b"b").unwrap();
        let n = b.iter().take(1000).take_while(|r| r.is_ok()).count();
        n
    });
    assert!(n <= 1, "{what}: iterating bucket `b` (one distinct key) returned {n} items without an error");
}
