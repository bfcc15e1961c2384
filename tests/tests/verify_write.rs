//! A handle refuses to write to a file whose committed trees share pages (issue 18): the walk
//! before its first write ([`Options::verify_before_write`]), and, with the walk off, the
//! visited set of `delete_bucket`'s page collection.

use rivet_engine::{Corruption, Error, Options, DB};
use rivet_tests::craft::corpus;
use rivet_tests::scratch;

fn crafted(name: &str, dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join(format!("{name}.db"));
    corpus::case(name).expect("case").image.write(&path).expect("write case");
    path
}

fn reached_twice(e: &Error) -> bool {
    matches!(e, Error::Corrupted { reason: Corruption::ReachedTwice { .. }, .. })
}

#[test]
fn every_write_of_the_handle_fails_naming_the_shared_page_and_nothing_is_written() {
    let dir = scratch();
    let path = crafted("shared_roots", dir.path());
    let before = std::fs::read(&path).unwrap();
    let db = DB::open(&path, Options::default()).unwrap();
    for _ in 0..2 {
        let e = db.update(|tx| tx.delete_bucket(b"x")).unwrap_err();
        assert!(reached_twice(&e), "{e}");
        assert!(e.to_string().contains("page"), "{e}");
    }
    // Reads go on.
    db.view(|tx| tx.bucket(b"own")?.get(b"key00001").map(|v| assert!(v.is_some()))).unwrap();
    db.close().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing written");
}

#[test]
fn without_the_walk_delete_bucket_still_frees_no_page_twice() {
    let dir = scratch();
    let path = crafted("shared_subbuckets", dir.path());
    let db = DB::open(&path, Options::default().verify_before_write(false)).unwrap();
    let e = db.update(|tx| tx.delete_bucket(b"t")).unwrap_err();
    assert!(reached_twice(&e), "{e}");
}

#[test]
fn a_sound_file_is_walked_once_and_written() {
    let dir = scratch();
    let path = crafted("ordinary", dir.path());
    let db = DB::open(&path, Options::default()).unwrap();
    for i in 0..3u8 {
        db.update(|tx| tx.create_bucket_if_not_exists(b"new")?.put(&[i], b"v")).unwrap();
    }
    assert!(db.view(|tx| tx.check()).unwrap().is_empty());
}
