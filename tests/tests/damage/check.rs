//! Hand-damaged pages (wrong page types, keys out of order, bad references, ids and positions,
//! freelist damage) are found by `check()` or refused with `Error::Corrupted`, and nothing
//! panics or hangs.

use std::path::Path;

use rivet_engine::{Error, DB};
use rivet_tests::scratch;

use crate::exercise::exercise;
use crate::helpers::{assert_problem, damaged, dump, ro, rw, within};
use crate::raw::{active_meta, branch_elems, freelist_ids, header, leaf_elems, put16, put32, put64, walk_tree, LEAF};

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

const HAND_FIXTURES: &[&str] = &["freelist.db", "seq_15k.db"];

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
            let p2 = p.clone();
            let r = within(30, &what, move || DB::open(&p2, rw()).map(|_| ()));
            if set == 0 {
                // Ids outside 2..hwm name no page of the database; Go neither checks nor
                // rejects them, so a writer ignores them (never hands them out).
                assert!(r.is_ok(), "{what}: rw open gave {r:?}");
            } else {
                // A count running past the page cannot be read at all: refuse, don't guess.
                assert!(matches!(r, Err(Error::Corrupted { .. })), "{what}: rw open gave {r:?}");
            }
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
