//! One module per command. Each has a `run(global, args, out)` that writes its normal output
//! to `out` and returns the exit status, or a [`crate::error::CliError`].

pub mod bench;
pub mod buckets;
pub mod check;
pub mod compact;
pub mod dump;
pub mod get;
pub mod info;
pub mod keys;
pub mod map;
pub mod map_draw;
pub mod page;
pub mod page_item;
pub mod pages;
pub mod records;
pub mod stats;
pub mod surgery;
