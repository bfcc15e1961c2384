//! Truncated files, and files that are not (usable) bbolt databases: zeros, garbage, text,
//! a lone magic number, version 3 metas.

use rivet_engine::{Error, DB};
use rivet_tests::{scratch, Rng};

use crate::helpers::{assert_open_fails, assert_unusable, dump, fixture, read_fixture, ro, rw, write};
use crate::raw::{active_meta, fix_checksum, page_size_of, put32, raw_meta, MAGIC, M_VERSION};

// ---------------------------------------------------------------------------------------------
// 3. Truncated files.

#[test]
fn files_shorter_than_4096_bytes_are_invalid() {
    let dir = scratch();
    for f in ["empty.db", "one_bucket.db", "seq_15k.db"] {
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
    for f in ["seq_15k.db", "freelist.db", "page_16k.db", "random_values.db", "no_freelist_sync.db", "empty_tx.db"] {
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
    for f in ["empty.db", "seq_15k.db", "page_16k.db", "one_bucket.db"] {
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
