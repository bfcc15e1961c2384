//! Runnable examples live in `examples/examples/`; run one with
//! `cargo run -p rivet-examples --example NAME`:
//!
//! - `tour`: the typed store end to end (the README's first command);
//! - `key_ranges`, `indexes`, `autoincrement`: one feature each;
//! - `evolve`: three releases of a record type against one file (schema evolution);
//!   `evolve_bench`: the speed of upgraded reads and of index builds, as ratios;
//! - `codecs` (needs `--features bincode`): the encoded size and speed of the two value
//!   codecs, postcard and bincode;
//! - `engine_tour`: the raw engine underneath (buckets, cursors, transactions).
