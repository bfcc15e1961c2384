//! Runnable examples live in `examples/examples/`; run one with
//! `cargo run -p rivet-examples --example NAME`:
//!
//! - `tour`: the typed store end to end (the README's first command);
//! - `key_ranges`, `indexes`, `autoincrement`: one feature each;
//! - `engine_tour`: the raw engine underneath (buckets, cursors, transactions).
