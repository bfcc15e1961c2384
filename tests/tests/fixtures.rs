//! Acceptance 1: every Go-written fixture opens, and a full walk equals its JSON dump.

use rivet_tests::{fixtures, rust_dump};

#[test]
fn every_fixture_dumps_exactly_as_go() {
    for f in fixtures() {
        let expected = std::fs::read_to_string(f.with_extension("json")).expect("fixture json");
        let got = rust_dump(&f);
        assert!(got == expected, "dump of {} differs from Go's", f.display());
    }
}

#[test]
fn every_fixture_passes_the_engine_check() {
    for f in fixtures() {
        let db = rivet_engine::DB::open(&f, rivet_engine::Options::default().read_only(true)).unwrap();
        let problems = db.begin(false).unwrap().check().unwrap();
        assert!(problems.is_empty(), "{}: {problems:?}", f.display());
    }
}

#[test]
fn torn_meta_falls_back_to_the_previous_transaction() {
    let f = rivet_tests::fixtures_dir().join("torn_meta.db");
    let db = rivet_engine::DB::open(&f, rivet_engine::Options::default().read_only(true)).unwrap();
    assert_eq!(db.info().meta.txid, 2);
}
