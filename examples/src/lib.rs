//! Runnable examples live in `examples/examples/`; run one with
//! `cargo run -p rivet-examples --example NAME`.
