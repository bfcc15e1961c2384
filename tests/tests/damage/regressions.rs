//! Minimal reproductions of engine bugs found by the other damage tests (hangs on unordered
//! keys, wrong errors, txid overflow, shared subtrees).

use std::path::{Path, PathBuf};

use rivet_engine::{Error, DB};
use rivet_tests::scratch;

use crate::helpers::{assert_problem, damaged, dump, problems, read_fixture, ro, rw, within, write};
use crate::raw::{
    active_meta, branch_elems, fix_checksum, header, leaf_elems, page_size_of, put16, put32, put64, LeafElem, BRANCH,
    LEAF, M_HWM, M_TXID,
};

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
