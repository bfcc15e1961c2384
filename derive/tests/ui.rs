//! Compile tests of `#[derive(Record)]` (trybuild): the `pass_*` cases must build and run, the
//! `fail_*` cases must fail with the messages in their `.stderr` files.
//!
//! After changing a message, regenerate with `TRYBUILD=overwrite cargo test -p rivet-derive
//! --test ui` and read the new `.stderr` files before committing them.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass_*.rs");
    t.compile_fail("tests/ui/fail_*.rs");
}
