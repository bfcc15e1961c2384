//! Meta damage: a damaged newest meta (the database opens at the previous transaction), both
//! metas damaged, and metas with a valid checksum but absurd or random fields.

use std::path::{Path, PathBuf};

use rivet_engine::{Error, DB};
use rivet_tests::{bbolt_tool, copy_fixture, go_dump, scratch, Rng};

use crate::exercise::exercise;
use crate::helpers::{assert_open_fails, dump, fixture, read_fixture, ro, rw, within, write};
use crate::raw::{
    active_meta, fix_checksum, get64, page_size_of, put32, put64, raw_meta, M_CHECKSUM, M_FREELIST, M_HWM, M_PAGE_SIZE,
    M_ROOT, M_TXID, M_VERSION,
};

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

    // seq_15k: 10 transactions of 1,500 sequential keys (value = 7 * key, u32 BE); txid 11 is
    // in page 1, so the fallback (txid 10) holds exactly the first 13,500 keys.
    let mut expected = String::from(r#"{"sequence":0,"entries":[{"key":"736571","bucket":{"sequence":0,"entries":["#);
    for i in 0..13_500u64 {
        if i > 0 {
            expected.push(',');
        }
        expected.push_str(&format!(r#"{{"key":"{i:016x}","value":"{:08x}"}}"#, 7 * i));
    }
    expected.push_str("]}}]}\n");
    let img = img_of("seq_15k.db");
    assert_eq!(active_meta(&img, 4096).txid, 11);
    assert_falls_back(dir.path(), &img, "seq_15k", Some(&expected), offsets, true);

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

#[test]
fn both_metas_damaged_is_a_checksum_error() {
    let dir = scratch();
    let (path, _) = build_history(dir.path(), 4096, 3);
    let mut images = vec![("scratch".to_string(), std::fs::read(&path).unwrap())];
    for f in ["empty.db", "seq_15k.db", "page_16k.db", "torn_meta.db", "backup_copy.db"] {
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
