//! Acceptance 2 and 3: files the engine writes pass Go bbolt's check and dump identically in Go;
//! files Go modifies read back as Go says.
//!
//! These need the Go interop tool (`../shared/interop/install.sh target/interop`, which
//! `.ci/run` runs). Locally they are ignored unless asked for: `cargo test -p rivet-tests
//! --test interop -- --ignored`.

use rivet_engine::{Options, DB};
use rivet_tests::*;

const NEEDS_GO: &str = "needs Go bbolt-tool (.ci/run installs it): cargo test -p rivet-tests --test interop -- --ignored";

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn fixtures_after_random_writes_pass_go_check_and_dump_alike() {
    let _ = NEEDS_GO;
    let base = seed(0x5eed);
    let dir = scratch();
    for (i, f) in fixtures().iter().enumerate() {
        let path = copy_fixture(f, dir.path());
        let before = rust_dump(&path);
        {
            let db = DB::open(&path, Options::default())
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            random_mix(&db, base + i as u64, 6, 40);
            let problems = db.begin(false).unwrap().check().unwrap();
            assert!(
                problems.is_empty(),
                "{}: engine check: {problems:?}",
                f.display()
            );
        }
        assert_go_check(&path);
        assert_ne!(
            rust_dump(&path),
            before,
            "{}: the mix changed nothing",
            f.display()
        );
        assert_eq!(
            go_dump(&path),
            rust_dump(&path),
            "{}: Go and Rust dumps differ",
            f.display()
        );
    }
}
