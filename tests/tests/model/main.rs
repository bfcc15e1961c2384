//! Model-based property test: random sequences of transactions are applied both to the engine
//! and to an in-memory model (a tree of `BTreeMap`s), and everything the engine returns (values,
//! errors, cursor walks, seeks, ranges, sequences) must match the model.
//!
//! - Write transactions mix puts (keys from a tiny alphabet, so overwrites and collisions with
//!   bucket names are frequent; values up to several KB so nodes overflow pages), deletes, bulk
//!   puts and range deletes (so trees get several levels on 1 KiB pages), bucket creation and
//!   deletion at nested paths, `move_bucket`, sequences, deletes through `CursorMut`, and reads of
//!   every kind over the *uncommitted* state (the engine merges pending changes with the tree).
//! - Transactions end in `commit`, `DB::update`, `rollback`, drop, or an `update` whose closure
//!   fails. Only committed ones reach the committed model.
//! - After every transaction a fresh read transaction runs `check()` (no problems allowed),
//!   compares the whole tree with the model, and compares the canonical JSON dump.
//! - A reader held across a write transaction must still see the old state, consistently.
//! - Between transactions the database is sometimes closed and reopened (sometimes also opened
//!   read-only in between, sometimes switching `no_freelist_sync`).
//!
//! `RIVET_MODEL_CASES=N` raises the number of generated cases (default: see `cases()`);
//! `RIVET_SEED=S` replays the run that printed `seed = S`.
//!
//! The suite is split by subject: [`model`] (the in-memory model), [`ops`] (operations, plans and
//! their proptest strategies), [`compare`] (comparing the engine with the model), [`apply`]
//! (applying operations to both), [`run`] (running a whole plan) and [`stats`] (coverage
//! counters). This file holds the test entry points.

mod apply;
mod compare;
mod model;
mod ops;
mod run;
mod stats;

use proptest::test_runner::{Config, RngSeed, TestRunner};
use rivet_engine::{Options, DB};
use rivet_tests::scratch;

use crate::ops::plan;
use crate::run::run;

fn cases() -> u32 {
    std::env::var("RIVET_MODEL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(400)
}

#[test]
fn engine_matches_the_model() {
    // A fresh seed each run (more ground covered over time), printed so that a failure can be
    // replayed exactly with RIVET_SEED.
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let seed = rivet_tests::seed(clock);
    let config = Config {
        cases: cases(),
        rng_seed: RngSeed::Fixed(seed),
        // No proptest regression files are written next to this test.
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&plan(), |p| run(&p)) {
        panic!("{e}\n(replay with RIVET_SEED={seed})");
    }
    stats::report();
}

// ------------------------------------------------------------------------------------------
// Engine bugs found by the model test, reduced to deterministic repros
// ------------------------------------------------------------------------------------------

/// `Tx::bucket_path_mut(&[])` hands out the *root* bucket for writing, and `put` on it stores a
/// plain value at the top level, which bbolt's API can never do. The commit succeeds and
/// `Tx::check` reports nothing, but `bbolt-tool check` rejects the file ("logical: root bucket
/// holds a non-bucket key 6b"), and Go's `tx.ForEach` would hand its callback a nil bucket.
/// Fixed: the empty path is refused (`BucketNameRequired`), `put` on the root is refused, and
/// `Tx::check` reports plain keys in the root bucket.
#[test]
fn root_bucket_refuses_plain_values() {
    let dir = scratch();
    let db = DB::open(dir.path().join("root.db"), Options::default()).expect("open");
    let mut tx = db.begin(true).expect("begin");
    let put = tx.bucket_path_mut(&[]).and_then(|mut root| root.put(b"k", b"v"));
    if put.is_ok() {
        tx.commit().expect("commit");
        let tx = db.begin(false).expect("begin read");
        let problems = tx.check().expect("check");
        let dump = rivet_engine::dump::dump_json(&tx).expect("dump");
        panic!(
            "a plain value was committed into the root bucket; Tx::check found {problems:?}; dump: {}",
            dump.trim_end()
        );
    }
}
