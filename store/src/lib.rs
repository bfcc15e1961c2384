//! # rivet
//!
//! Rivet's typed object store: declare record types with `#[derive(Record)]`, then store,
//! look up and scan them by primary key or by secondary index, in ACID transactions over
//! [`rivet_engine`] (a bbolt-compatible single-file engine).
//!
//! ```
//! use rivet::{Record, Store};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Record, Serialize, Deserialize, Debug)]
//! #[rivet(bucket = "users")]                 // optional; default: the type name in snake_case
//! struct User {
//!     #[key(auto)] id: u64,                  // assigned from the bucket's sequence on insert
//!     #[index(unique)] email: String,
//!     #[index] country: String,
//!     #[index] born: Option<i32>,            // an Option field alone: indexed only when Some
//!     name: String,
//! }
//!
//! #[derive(Record, Serialize, Deserialize, Debug)]
//! #[rivet(index(name = "by_sku_time", fields(sku, at)))]   // a composite secondary index
//! struct Order { #[key] user: u64, #[key] at: i64, sku: String, cents: i64 }  // key (user, at)
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("shop.db"))?;
//! store.write(|tx| {
//!     let ada = User { id: 0, email: "ada@example.com".into(), country: "GB".into(), born: Some(1815), name: "Ada".into() };
//!     let id = tx.insert(&mut { ada })?;                       // id == 1
//!     tx.insert(&mut Order { user: id, at: 100, sku: "loom".into(), cents: 1200 })?;
//!     tx.insert(&mut Order { user: id, at: 200, sku: "gear".into(), cents: 300 })?;
//!     Ok(())
//! })?;
//! store.read(|tx| {
//!     let ada = tx.index(User::email).get("ada@example.com")?.expect("ada");
//!     let orders: Vec<Order> = tx.prefix::<Order>((ada.id,)).to_vec()?;   // her orders, by time
//!     assert_eq!(orders.len(), 2);
//!     let recent = tx.range::<Order>((ada.id, 150)..=(ada.id, i64::MAX)).count()?;
//!     assert_eq!(recent, 1);
//!     let gears = tx.index(Order::by_sku_time).prefix(("gear".to_string(),)).count()?;
//!     assert_eq!(gears, 1);
//!     Ok(())
//! })?;
//! # Ok::<(), rivet::Error>(())
//! ```
//!
//! ## What it promises
//! - **Keys sort as values.** Primary and index keys use the [`Key`] encoding, whose byte
//!   order is the values' order (negative numbers and floats included), so ranges and prefix
//!   scans are plain B+tree range reads. See [`key`].
//! - **Indexes never drift.** Every write updates the record and its index entries in the same
//!   transaction; a duplicate key or a unique violation is found before anything is written
//!   (the write does nothing and the transaction goes on; return the error to roll back).
//!   [`ReadTx::verify`] checks.
//! - **Nothing is skipped.** A value that fails to decode is an error from `get`; a scan yields
//!   the error and stops.
//! - **Types evolve, and are never misread.** The catalog describes every value layout the
//!   file holds, field by field, and every value says which layout wrote it. A changed type
//!   reads old values by field name (added fields with a default, removed, reordered and
//!   renamed fields) or through the `From` chain of its versions; anything else (a changed
//!   field type without a new version, a second type claiming the bucket, a file from a newer
//!   release) is [`Error::SchemaMismatch`] naming the field and both shapes, before anything
//!   is read or written. See [Changing your types](#changing-your-types).
//!
//! ## Errors
//!
//! Every call returns [`Error`], one enum to match on. What each call can return, and when, is
//! listed under its `# Errors`; these causes are shared by many calls:
//!
//! - **The type meets the catalog.** The first use of a record type in a transaction compares
//!   it with the file's catalog entry. A type the file cannot be read as is
//!   [`Error::SchemaMismatch`] (its [`Mismatch`] says what differs), before anything is read
//!   or written.
//! - **Reading a value.** A stored value that does not decode as the type is
//!   [`Error::Decode`]; a value of an older version that the type's `TryFrom` upgrade refuses
//!   is [`Error::Upgrade`].
//! - **The first write of a new or changed type** registers it: it writes the catalog entry,
//!   drops the indexes the type no longer has and builds the ones the file lacks, reading the
//!   records to do so (decode and upgrade errors; two records sharing the value of a new
//!   unique index are [`Error::UniqueCollision`]). A failed registration aborts the
//!   transaction.
//! - **An aborted transaction** (a failed registration or index build, or a write that failed
//!   halfway in the engine) answers every later write, and its commit, with [`Error::Aborted`]
//!   naming the first error; it can only roll back. Errors found before anything is written
//!   (a duplicate key, a unique violation, a record that does not encode, ...) leave the
//!   transaction usable.
//! - **The engine.** Its failures pass through as [`Error::Engine`], holding the engine's
//!   [`engine::Error`]: a key or value over the engine's limits
//!   ([`KeyTooLarge`](engine::Error::KeyTooLarge), [`ValueTooLarge`](engine::Error::ValueTooLarge),
//!   found before anything is written), a damaged page
//!   ([`Corrupted`](engine::Error::Corrupted)), an operating-system failure
//!   ([`Io`](engine::Error::Io)), a commit that would grow the file past
//!   [`Options::max_size`] ([`MaxSizeReached`](engine::Error::MaxSizeReached)), a write
//!   transaction on a store opened read-only
//!   ([`DatabaseReadOnly`](engine::Error::DatabaseReadOnly)), any write after a commit failed
//!   to reach the disk ([`Poisoned`](engine::Error::Poisoned): reopen the store).
//! - **Lazy queries** ([`Query`], [`IndexQuery`], [`Find`]) yield their errors as items: the
//!   first one ends the iteration. Nothing is skipped silently.
//!
//! ```
//! use rivet::{Error, Record, Store};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Record, Serialize, Deserialize, Debug)]
//! struct Account { #[key] name: String, #[index(unique)] email: String }
//!
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("accounts.db"))?;
//! store.write(|tx| {
//!     tx.insert(&mut Account { name: "ada".into(), email: "ada@example.com".into() })?;
//!     // Refused before anything is written; the transaction goes on.
//!     let again = tx.insert(&mut Account { name: "ada".into(), email: "other@example.com".into() });
//!     assert!(matches!(again, Err(Error::DuplicateKey { .. })));
//!     let taken = tx.insert(&mut Account { name: "bob".into(), email: "ada@example.com".into() });
//!     assert!(matches!(taken, Err(Error::UniqueViolation { ref index, .. }) if index == "email"));
//!     Ok(())
//! })?;
//! assert_eq!(store.read(|tx| tx.count::<Account>())?, 1);
//! # Ok::<(), rivet::Error>(())
//! ```
//!
//! ## Combined queries
//!
//! [`ReadTx::find`] takes a [`Condition`]: equalities, ranges and prefixes on indexes (built
//! from the typed handles: `User::country.eq("GB")`, `User::born.range(1800..1900)`,
//! `User::email.starts_with("ada")`) and ranges of the primary key, joined by AND and OR at any
//! depth ([`query::and`], [`query::or`], `&`, `|`). Results come in primary-key order, lazily,
//! with `filter`, `rev`, `limit`, `after` (keyset pagination), `count`, `keys` and `to_vec`.
//!
//! ```
//! # use rivet::{Condition, Record, Store};
//! # use serde::{Deserialize, Serialize};
//! use rivet::query::{and, or};
//! # #[derive(Record, Serialize, Deserialize, Debug)]
//! # struct User { #[key(auto)] id: u64, #[index(unique)] email: String, #[index] country: String, #[index] born: Option<i32>, name: String }
//! # let dir = tempfile::tempdir().unwrap();
//! # let store = Store::open(dir.path().join("users.db"))?;
//! store.write(|tx| {
//!     for (email, country, born) in [("ada@x", "GB", 1815), ("alan@x", "GB", 1912), ("grace@x", "US", 1906)] {
//!         tx.insert(&mut User { id: 0, email: email.into(), country: country.into(), born: Some(born), name: String::new() })?;
//!     }
//!     Ok(())
//! })?;
//! store.read(|tx| {
//!     let q = and([User::country.eq("GB"), or([User::born.range(1900..), User::email.starts_with("ada")])]);
//!     let ids: Vec<u64> = tx.find(q).rev().keys().collect::<Result<_, _>>()?;
//!     assert_eq!(ids, [2, 1]);
//!     assert_eq!(tx.find(User::country.eq("GB") & Condition::key_range(2..)).count()?, 1);
//!     Ok(())
//! })?;
//! # Ok::<(), rivet::Error>(())
//! ```
//!
//! An AND of equalities on non-unique indexes is a leapfrog intersection of their entries
//! (which sort by primary key): it reads the entries, seeking past gaps, and decodes only the
//! records it returns. An OR is a k-way merge of the same streams. A unique equality is one
//! lookup; a primary-key range bounds every stream. An index range is read and sorted by key
//! when it is small, else checked on each candidate. [`Find::explain`] prints the plan; the
//! [`query`] module says more.
//!
//! ## Storage layout
//!
//! Everything is ordinary bbolt buckets, readable with `rivet dump` or with bbolt itself.
//!
//! | bucket | key | value |
//! |---|---|---|
//! | `<bucket>` (top level, one per record type) | the encoded primary key | the layout's number (a varint), then the record encoded by its codec (postcard by default) |
//! | `<bucket>` / `index:<name>` (nested, one per index) | non-unique: encoded index key ++ encoded primary key | empty |
//! | | unique: encoded index key | encoded primary key |
//! | `__rivet_catalog` (top level) | the record bucket's name | the type's description, as text |
//!
//! - `<bucket>` is `#[rivet(bucket = "..")]`, or the type's name in snake_case
//!   (`OrderLine` -> `order_line`). Names starting with `__rivet` are reserved.
//! - The record bucket's sequence (bbolt's `NextSequence`) is the autoincrement counter: `insert`
//!   takes the next value; writing a larger auto key explicitly moves the sequence up to it.
//! - An index on a single `Option<T>` field is *sparse*: records whose value is `None` have no
//!   entry and the index key is the `T` inside. In a composite index, `Option` fields are
//!   encoded as `Option` (`None` first) and every record has an entry.
//! - Index buckets sit in the record bucket next to the records; the store passes over them
//!   when scanning. Their names can never be record keys: `index:<name>` is chosen, and if it
//!   happens to be a valid encoding of the key type, `index:<name>~` (key encodings are
//!   prefix-free, so that one cannot be).
//! - Catalog entry, for the `User` above:
//!
//!   ```text
//!   format = 2
//!   type = User
//!   version = 1
//!   codec = postcard
//!   key = id: u64 (auto)
//!   index email = unique (email: string)
//!   index country = (country: string)
//!   index born = sparse (born: i32)
//!   layout 1 = version 1 {id: u64, email: string, country: string, born: option<i32>, name: string}
//!   ```
//!
//! ## Attributes
//! - On the struct: `#[rivet(bucket = "name")]`, `#[rivet(version = N, from = Previous)]` (a
//!   new version of the type, upgraded from `Previous` by `From`/`TryFrom`),
//!   `#[rivet(renamed_from = "OldTypeName")]`, `#[rivet(codec = path::To::Codec)]` (the
//!   value codec: [`Postcard`] by default, or `rivet::Bincode` with the cargo feature
//!   `bincode`; see [`codec`]),
//!   `#[rivet(index(name = "n", fields(a, b), unique))]`.
//! - On fields: `#[key]` (several make a composite key, in declaration order), `#[key(auto)]`
//!   (a single integer key from the sequence), `#[index]`, `#[index(unique)]`,
//!   `#[index(name = "n")]`, `#[rivet(renamed_from = "old_name")]`. serde's `rename`,
//!   `rename_all`, `skip` and `default` are understood; `with` makes a field opaque to the
//!   catalog; `flatten` and `skip_serializing_if` are compile errors (positional codecs cannot
//!   read them back), and so are key or index fields whose serde form is not their value.
//! - `#[derive(Layout)]` on a struct or enum that records contain lets the catalog describe it
//!   field by field; without it such a field is *opaque* (stored fine, but a layout change
//!   around it needs an explicit version).
//!
//! ## Changing your types
//!
//! | change | what to write | what happens |
//! |---|---|---|
//! | add a field | `#[serde(default)]` on it | old values read with the default |
//! | remove a field, reorder fields | nothing | old values are read by field name |
//! | rename a field | `#[rivet(renamed_from = "old")]` | the old value carries over |
//! | add an index | `#[index]` | built from the records by the first write transaction that uses the type (queries before that: [`Error::IndexNotBuilt`]); a unique one over colliding records fails with both keys ([`Error::UniqueCollision`]) and writes nothing |
//! | remove an index | nothing | its bucket is dropped by the first write |
//! | anything else (a field's type, an opaque field, a computed value) | keep the old struct (`#[rivet(version = 1)]`, same bucket) and declare `#[rivet(version = 2, from = Old)]` with `impl From<Old> for New` (or `TryFrom`) | old values go up the chain one version at a time (v1 → v2 → v3); indexes are rebuilt from the upgraded records by the first write |
//!
//! Writes always use the type's own layout. [`WriteTx::migrate`] builds new indexes and
//! rewrites every older value in one transaction, [`Store::migrate`] in bounded, resumable ones
//! (an index under way answers [`Error::IndexNotBuilt`] until it is complete). A program whose type is
//! older than the file's catalog is refused before it reads or writes
//! ([`Mismatch::Newer`]). Files written before layouts were recorded (catalog format 1) are
//! read as the layout of the type at their version and converted by the first write.
//!
//! Each index gets a typed handle, an associated constant named after it (`User::email`,
//! `Order::by_sku_time`), so index queries are checked at compile time: a misspelt index does
//! not compile, the value type must match, and `get` exists only on unique indexes. (A method
//! or constant of the same name on the type would clash with the handle: rename the index with
//! `#[index(name = "..")]`.)
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// Lets the derive's `::rivet::...` paths resolve inside this crate's own tests and docs.
extern crate self as rivet;

mod abort;
mod audit;
mod backend;
mod build;
pub mod catalog;
pub mod codec;
pub mod count;
mod error;
mod evolve;
pub mod key;
pub mod key_kind;
pub mod layout;
pub mod query;
mod record;
mod rewrite;
mod scan;
mod scratch;
mod store;
pub mod stored;
mod txn;
pub mod value;
pub mod watch;

pub use audit::{Problem, Stray};
#[cfg(feature = "bincode")]
pub use codec::Bincode;
pub use codec::{Codec, Postcard};
pub use error::{Error, Mismatch, Result};
pub use evolve::Upgrade;
pub use key::{AutoKey, Key, KeyLike, KeyPrefix, KeyRange};
pub use layout::{Layout, Shape};
pub use query::{Condition, Find, FindKeys};
pub use record::{
    index_bucket_name, Field, FieldSpec, Index, IndexSchema, IndexSpec, Multi, Record, Schema, SchemaSpec, Unique,
    ValueField, ValueFieldSpec,
};
pub use rivet_derive::{Layout, Record};
pub use scan::{IndexKeys, IndexQuery, IndexView, Keys, Query};
pub use store::{Migrated, Store};
pub use txn::{ReadTx, WriteTx};

/// The engine crate, for raw work underneath the store (engine-only: see [`Store::engine`]).
pub use rivet_engine as engine;
/// Engine open options (see [`Store::open_with`]; engine-only).
pub use rivet_engine::Options;
/// The serde version records are encoded with (for `#[serde(crate = "rivet::serde")]` in a
/// crate that does not depend on serde itself).
pub use serde;

/// Re-exports for the derive's generated code; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::layout::{Probe, ViaLayout, ViaOpaque};
    pub use std::string::String;
    pub use std::sync::OnceLock;
    pub use std::vec::Vec;
}
