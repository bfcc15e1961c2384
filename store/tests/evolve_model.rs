//! A model test of schema evolution: two releases of one record type, the second with a
//! field added (with a default) and indexed, write to one file in random order; after every
//! transaction each release reads exactly what a model says, the indexes of the release that
//! wrote last are verified, and a final versioned release reads everything through its `From`.
//!
//! The test runs once per value codec: [`rivet::Postcard`], and `rivet::Bincode` with
//! `--features bincode`. Its body (`evolve_model/body.rs`) is included in one module per codec,
//! which names the codec the record types use (`RecordCodec`).

mod with_postcard {
    type RecordCodec = rivet::Postcard;
    include!("evolve_model/body.rs");
}

#[cfg(feature = "bincode")]
mod with_bincode {
    type RecordCodec = rivet::Bincode;
    include!("evolve_model/body.rs");
}
