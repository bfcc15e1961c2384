//! Model-based property test of the typed store: random transactions of inserts, upserts,
//! updates and removes on two record types are applied both to the store and to an in-memory
//! model (`BTreeMap`s). Transactions commit, roll back, fail in their closure, or meet unique
//! violations, which write nothing and leave the transaction usable: swallowed, the
//! transaction commits its other writes; returned, it rolls back.
//!
//! Every operation's outcome (`Ok`, `DuplicateKey`, `NotFound`, `UniqueViolation`) must be the
//! one the model predicts. After each transaction a read transaction compares every query with
//! the model: primary-key scans, ranges, reversed and paginated walks, composite-key prefixes,
//! each index by equality, range and prefix, counts and the sequence; and the raw index
//! buckets, read through the engine, must hold exactly the entries the model's records imply
//! (every entry matches a record and vice versa). Between transactions the store is sometimes
//! reopened.
//!
//! `RIVET_STORE_CASES=N` sets the number of cases (default 200); `RIVET_SEED=S` replays the run
//! that printed `seed = S`.
//!
//! The test runs once per value codec: [`rivet::Postcard`], and `rivet::Bincode` with
//! `--features bincode`; and once more on `Store::memory()`. Its body (`model/body.rs`) is included in one module per codec, which
//! names the codec the record types use (`RecordCodec`).

mod with_postcard {
    type RecordCodec = rivet::Postcard;
    const IN_MEMORY: bool = false;
    include!("model/body.rs");
}

#[cfg(feature = "bincode")]
mod with_bincode {
    type RecordCodec = rivet::Bincode;
    const IN_MEMORY: bool = false;
    include!("model/body.rs");
}

/// The same test on `Store::memory()` (never reopened: nothing survives it).
mod in_memory {
    type RecordCodec = rivet::Postcard;
    const IN_MEMORY: bool = true;
    include!("model/body.rs");
}
