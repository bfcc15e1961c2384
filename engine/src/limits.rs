//! Limits of the engine: sizes bbolt enforces, and the depths past which a walk calls a file
//! damaged instead of following it.

/// Longest key accepted by `put` (bbolt's `MaxKeySize`).
pub const MAX_KEY_SIZE: usize = 32768;
/// Longest value accepted by `put` (bbolt's `MaxValueSize`, 2^31 - 2).
pub const MAX_VALUE_SIZE: usize = (1 << 31) - 2;
/// Deepest nesting of buckets (a top-level bucket is at level 1). Go has no limit, but every
/// walk of a deeper file would be unbounded recursion; reads refuse trees nested past
/// `MAX_DEPTH` (64) as damaged, so writes stop well before that.
pub const MAX_NESTING: usize = 48;
/// Default fill target of a split: how full the commit packs the pages it splits a node into
/// (the last two parts are balanced, so a page overflowing by one element still becomes two
/// half pages). bbolt's `DefaultFillPercent` is 0.5, which leaves every page of a bulk load
/// half empty; packing to 100 % makes the next random insert into each page split it again.
/// At 0.9 a bulk load is 1.8x denser than bbolt's (a smaller file, fewer pages per lookup) and
/// a page still takes a few inserts before it splits. Files are the same format either way.
pub const DEFAULT_FILL_PERCENT: f64 = 0.9;

/// Provisional page ids start here: a commit builds its nodes under ids from `PROVISIONAL` up
/// and gives them real pages only when all are built (`commit::spill::Spill::place`), or, with
/// the journal, at the next checkpoint (the nodes wait in a `tree::generation::Generation`).
/// No real page id comes near it (a file would need 2^62 pages), and a page on disk that
/// names one is damage, so a provisional id is never mistaken for a committed one.
pub const PROVISIONAL: u64 = 1 << 62;

/// Deepest tree the engine will descend; deeper means a cycle or garbage.
pub const MAX_DEPTH: usize = 64;
/// Shortest database file: Go refuses files shorter than this, whatever their page size.
pub const MIN_FILE_SIZE: u64 = 4096;
