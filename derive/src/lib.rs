//! `#[derive(Record)]` for the rivet typed store.
//!
//! Not built yet (tracked in the typed-store issue): this crate has no macros today.
