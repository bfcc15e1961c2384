//! Side-by-side benchmarks of Rivet against its peers. Not built yet (benchmarks issue); this
//! crate is outside the default workspace members so that `cargo test` stays fast.
