//! Rivet's typed object store: `#[derive(Record)]` types over the `rivet-engine` page engine.
//!
//! Not built yet (tracked in the typed-store issue). Today this crate only re-exports the
//! engine so that applications can depend on `rivet` from the start.

pub use rivet_engine as engine;
