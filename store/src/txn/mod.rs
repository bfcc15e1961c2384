//! Typed transactions: [`ReadTx`] for queries, [`WriteTx`] (which derefs to `ReadTx`) for
//! writes that keep every index in step with the records.
//!
//! Invariants a write transaction keeps:
//! - **Indexes match records.** For every record and every index it belongs to there is exactly
//!   one index entry (`index key ++ primary key -> empty`, or for a unique index
//!   `index key -> primary key`), and no entry names anything else. Each write reads what it
//!   needs and checks every constraint first, then changes the index entries and the record.
//! - **A failed write writes nothing.** Duplicate keys, missing records, unique violations,
//!   encode and decode failures and size limits are found before the first change; the
//!   transaction stays usable. An engine failure in the middle of a write (which cannot be
//!   undone piecemeal), or a failed registration or index build, *aborts* the transaction: it
//!   cannot commit, even if the error is caught, and every later call says so
//!   ([`Error::Aborted`]), so the whole transaction writes nothing. Bulk removals
//!   (`remove_range`, `remove_prefix`, `retain`) are one write per record: an error part way
//!   leaves the records before it removed; return the error to roll back.
//! - **Types are checked before use.** The first use of a record type in a transaction compares
//!   it with its catalog entry (and registers it on the first write), before anything is written.

mod read;
mod write;

pub(crate) use read::describe_key;
pub use read::ReadTx;
pub use write::WriteTx;
