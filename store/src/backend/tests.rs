//! Tests of the seam itself, on the embedded engine and on the in-memory map (which lays keys
//! out as the etcd backend will): scans in both directions around child trees, bounds and
//! limits, child trees, sequences, and the isolation of a read transaction.

use std::ops::Bound;

use super::{engine, Backend, Tree};

/// Each backend, fresh (with the directory an engine file lives in).
fn backends() -> Vec<(Option<tempfile::TempDir>, Backend)> {
    let dir = tempfile::tempdir().unwrap();
    let b = Backend::open_file(&dir.path().join("seam.db"), engine::Options::default().no_sync(true)).unwrap();
    vec![(Some(dir), b), (None, Backend::Mem(Default::default()))]
}

/// A tree `t` holding `k1`, `k3`, `k5`, `k7` and a child tree `k4` between them.
fn filled(b: &Backend) {
    let mut tx = b.begin_write().unwrap();
    let mut t = tx.ensure_tree(b"t").unwrap();
    for k in [b"k1", b"k3", b"k5", b"k7"] {
        t.put(k, &[k[1]]).unwrap();
    }
    t.create_child(b"k4").unwrap().put(b"inner", b"x").unwrap();
    tx.commit().unwrap();
}

fn walk<'a>(t: &Tree<'a>, forward: bool) -> Vec<&'a [u8]> {
    let mut s = t.scan();
    let mut out = Vec::new();
    let mut item = if forward { s.first() } else { s.last() };
    while let Some((k, _)) = item.unwrap() {
        out.push(k);
        item = if forward { s.next() } else { s.prev() };
    }
    out
}

#[test]
fn scans_pass_over_child_trees_both_ways() {
    for (_d, b) in backends() {
        filled(&b);
        let tx = b.begin_read().unwrap();
        let t = tx.tree(b"t").unwrap().unwrap();
        let forward: Vec<&[u8]> = vec![b"k1", b"k3", b"k5", b"k7"];
        assert_eq!(walk(&t, true), forward);
        assert_eq!(walk(&t, false), forward.iter().rev().copied().collect::<Vec<_>>());
        // Seeks land on values only, and step on from there in either direction.
        let mut s = t.scan();
        assert_eq!(s.seek(b"k4").unwrap().map(|kv| kv.0), Some(&b"k5"[..]));
        assert_eq!(s.prev().unwrap().map(|kv| kv.0), Some(&b"k3"[..]));
        assert_eq!(s.seek(b"k8").unwrap(), None);
        assert_eq!(s.seek_back(b"k5", true).unwrap().map(|kv| kv.0), Some(&b"k5"[..]));
        assert_eq!(s.seek_back(b"k5", false).unwrap().map(|kv| kv.0), Some(&b"k3"[..]));
        assert_eq!(s.seek_back(b"k9", false).unwrap().map(|kv| kv.0), Some(&b"k7"[..]));
        assert_eq!(s.seek_back(b"k0", true).unwrap(), None);
        assert_eq!(t.get(b"k5").unwrap(), Some(&b"5"[..]));
        assert_eq!(t.get(b"k4").unwrap(), None, "a child tree is not a value");
        assert_eq!(t.children().unwrap(), vec![b"k4".to_vec()]);
        tx.rollback();
    }
}

#[test]
fn ranges_honour_their_bounds_and_limits() {
    for (_d, b) in backends() {
        filled(&b);
        let tx = b.begin_read().unwrap();
        let t = tx.tree(b"t").unwrap().unwrap();
        let got = |lo: Bound<&[u8]>, hi: Bound<&[u8]>, n: usize| -> Vec<String> {
            t.range(lo, hi).take(n).map(|i| String::from_utf8(i.unwrap().0.to_vec()).unwrap()).collect()
        };
        assert_eq!(got(Bound::Unbounded, Bound::Unbounded, 9), ["k1", "k3", "k5", "k7"]);
        assert_eq!(got(Bound::Excluded(b"k3"), Bound::Included(b"k7"), 9), ["k5", "k7"]);
        assert_eq!(got(Bound::Included(b"k3"), Bound::Excluded(b"k7"), 9), ["k3", "k5"]);
        assert_eq!(got(Bound::Included(b"k2"), Bound::Unbounded, 2), ["k3", "k5"]);
        assert_eq!(got(Bound::Excluded(b"k7"), Bound::Unbounded, 9), Vec::<String>::new());
        let from: Vec<String> =
            t.iter_from(Some(b"k4")).map(|i| String::from_utf8(i.unwrap().0.to_vec()).unwrap()).collect();
        assert_eq!(from, ["k5", "k7"]);
        tx.rollback();
    }
}

#[test]
fn child_trees_are_created_found_and_deleted() {
    for (_d, b) in backends() {
        let mut tx = b.begin_write().unwrap();
        assert!(tx.tree(b"t").unwrap().is_none());
        assert!(!tx.has_top_level(b"t").unwrap());
        let mut t = tx.ensure_tree(b"t").unwrap();
        t.ensure_child(b"c").unwrap().put(b"a", b"1").unwrap();
        assert!(t.create_child(b"c").is_err(), "it exists");
        t.put(b"v", b"2").unwrap();
        assert!(t.child_mut(b"v").is_err(), "a value is not a tree");
        assert!(tx.has_top_level(b"t").unwrap());
        let t = tx.tree(b"t").unwrap().unwrap();
        assert!(t.has_child(b"c").unwrap());
        assert!(t.child(b"missing").unwrap().is_none());
        assert_eq!(t.child(b"c").unwrap().unwrap().get(b"a").unwrap(), Some(&b"1"[..]));
        let mut t = tx.tree_mut(b"t").unwrap();
        assert!(t.delete_child(b"c").unwrap());
        assert!(!t.delete_child(b"c").unwrap());
        assert!(tx.delete_tree(b"t").unwrap());
        assert!(!tx.delete_tree(b"t").unwrap());
        assert!(tx.tree_mut(b"t").is_err());
        tx.commit().unwrap();
    }
}

#[test]
fn sequences_are_kept_by_commits_and_dropped_by_rollbacks() {
    for (_d, b) in backends() {
        let mut tx = b.begin_write().unwrap();
        let mut t = tx.ensure_tree(b"t").unwrap();
        assert_eq!(t.sequence().unwrap(), 0);
        t.set_sequence(41).unwrap();
        assert_eq!(t.sequence().unwrap(), 41);
        assert_eq!(tx.tree(b"t").unwrap().unwrap().sequence().unwrap(), 41, "the transaction sees its own");
        tx.commit().unwrap();

        let mut tx = b.begin_write().unwrap();
        tx.tree_mut(b"t").unwrap().set_sequence(99).unwrap();
        tx.rollback();
        let tx = b.begin_read().unwrap();
        assert_eq!(tx.tree(b"t").unwrap().unwrap().sequence().unwrap(), 41);
    }
}

#[test]
fn a_read_transaction_keeps_its_snapshot() {
    for (_d, b) in backends() {
        filled(&b);
        let before = b.begin_read().unwrap();
        let mut tx = b.begin_write().unwrap();
        let mut t = tx.tree_mut(b"t").unwrap();
        t.put(b"k2", b"2").unwrap();
        t.delete(b"k7").unwrap();
        // The writer sees its writes before the commit; the reader never does.
        let mine = keys_of(&tx.tree(b"t").unwrap().unwrap());
        assert_eq!(mine, ["k1", "k2", "k3", "k5"]);
        tx.commit().unwrap();
        assert_eq!(keys_of(&before.tree(b"t").unwrap().unwrap()), ["k1", "k3", "k5", "k7"]);
        let after = b.begin_read().unwrap();
        assert_eq!(keys_of(&after.tree(b"t").unwrap().unwrap()), ["k1", "k2", "k3", "k5"]);
        before.rollback();
        after.rollback();
    }

    fn keys_of(t: &Tree<'_>) -> Vec<String> {
        t.iter().map(|i| String::from_utf8(i.unwrap().0.to_vec()).unwrap()).collect()
    }
}

#[test]
fn errors_keep_the_engine_cause() {
    for (_d, b) in backends() {
        let mut tx = b.begin_write().unwrap();
        tx.ensure_tree(b"t").unwrap();
        let e = tx.tree_mut(b"nope").unwrap_err();
        assert!(matches!(crate::Error::from(e), crate::Error::Engine(rivet_engine::Error::BucketNotFound)));
        let e = tx.ensure_tree(b"t").unwrap().child_mut(b"nope").unwrap_err();
        assert!(!super::is_wrong_kind(&e));
        tx.rollback();
    }
}
