//! Damage: files hurt after they were written (torn or flipped meta pages, truncation, foreign
//! files, hand-broken pages, random byte damage). The engine must fall back to the previous
//! commit when only the newest meta is bad, refuse unusable files with a clear error, report
//! structural damage through `check()` or `Error::Corrupted`, and never panic or hang.
//!
//! Files are damaged here by parsing the bytes directly (format doc sections 2-8), independent
//! of the engine's own page code. Fixtures are read-only: every test works on copies in a
//! scratch directory.
//!
//! The suite is split by subject:
//!
//! - [`meta`]: a damaged newest meta (fallback to the previous commit), both metas damaged, and
//!   metas with a valid checksum but absurd or random fields;
//! - [`invalid`]: truncated files and files that are not (usable) bbolt databases;
//! - [`check`]: hand-damaged pages found by `check()` or refused with `Error::Corrupted`;
//! - [`random`]: random damage in data pages never panics or hangs;
//! - [`regressions`]: minimal reproductions of engine bugs found by the other tests;
//!
//! with shared helpers in [`raw`] (parsing and patching the bytes), [`helpers`] (opening, dumping,
//! checking, time limits) and [`exercise`] (everything a damaged file is put through).

mod check;
mod exercise;
mod helpers;
mod invalid;
mod meta;
mod random;
mod raw;
mod regressions;
