//! The argument grammar: every command, its options, and the options shared by all of them.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::format::{Format, ParseFormat};

/// Inspect, check, dump, compact, repair and benchmark Rivet and Go bbolt database files.
#[derive(Debug, Parser)]
#[command(name = "rivet", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: Global,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// How long to wait for the file lock when another process holds it (e.g. `5`, `500ms`,
    /// `2m`; `0` waits forever, as bbolt's Timeout of 0).
    #[arg(long, global = true, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Never show progress bars (they are only shown when stderr is a terminal anyway).
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
}

impl Global {
    /// The lock timeout as the engine takes it (`None` waits forever).
    pub fn lock_timeout(&self) -> Option<Duration> {
        if self.timeout.is_zero() {
            None
        } else {
            Some(self.timeout)
        }
    }
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Page size, file size, high-water mark, txid, freelist and both meta pages.
    Info(InfoArgs),
    /// Page and key statistics of the whole database, or summed over the top-level buckets
    /// whose names start with PREFIX (bbolt's `stats`).
    Stats(StatsArgs),
    /// List the top-level buckets (or the whole bucket tree with --recursive).
    Buckets(BucketsArgs),
    /// List the keys of a bucket (give the path of a nested bucket as several names).
    Keys(KeysArgs),
    /// Print the value stored under KEY in a bucket: `rivet get FILE BUCKET... KEY`.
    Get(GetArgs),
    /// The page table: every page below the high-water mark, its type, items, overflow and
    /// owning bucket.
    Pages(PagesArgs),
    /// Draw an SVG map of the file's pages, coloured by owner, with the figures beside it.
    ///
    /// One cell per page in file order (one per run of pages above --max-cells): each
    /// top-level bucket its own colour (dark: branch, medium: leaf, light: overflow), the root
    /// bucket, metas, freelist, free (pending pages included: the file stores them together),
    /// leaked and damaged pages.
    Map(MapArgs),
    /// Decode pages: header, meta fields, freelist ids, or branch/leaf elements.
    Page(PageArgs),
    /// Print the key and value of one element of a branch or leaf page.
    PageItem(PageItemArgs),
    /// Run the consistency check; print every problem found and exit 1 if there is any.
    Check(CheckArgs),
    /// Print the whole database (with --json: the canonical dump that Go's bbolt-tool prints).
    Dump(DumpArgs),
    /// Print the records of a typed store (`rivet` crate) without the program's Rust types,
    /// decoded with the layouts its catalog records.
    #[command(long_about = RECORDS_LONG_ABOUT)]
    Records(RecordsArgs),
    /// Rewrite a database into a new, compact file.
    Compact(CompactArgs),
    /// Repairs after a crash or damage; each writes to a copy unless --in-place is given.
    #[command(subcommand)]
    Surgery(SurgeryCommand),
    /// bbolt's benchmark: write COUNT keys, then read them back, and print the rates.
    Bench(BenchArgs),
}

/// `info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The database file.
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The database file.
    pub file: PathBuf,
    /// Only the top-level buckets whose names start with this prefix.
    pub prefix: Option<String>,
    /// Also print the statistics of each top-level bucket.
    #[arg(long)]
    pub per_bucket: bool,
    /// How PREFIX is written.
    #[arg(long, value_enum, default_value_t = ParseFormat::Text)]
    pub parse_format: ParseFormat,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `buckets`.
#[derive(Debug, Args)]
pub struct BucketsArgs {
    /// The database file.
    pub file: PathBuf,
    /// Also list nested buckets, indented under their parents.
    #[arg(long, short = 'r')]
    pub recursive: bool,
    /// How bucket names are printed.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
}

/// `keys`.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The database file.
    pub file: PathBuf,
    /// The bucket, as a path of names from the top level.
    #[arg(required = true, num_args = 1..)]
    pub bucket: Vec<String>,
    /// How keys are printed.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// How the bucket names are written.
    #[arg(long, value_enum, default_value_t = ParseFormat::Text)]
    pub parse_format: ParseFormat,
}

/// `get`.
#[derive(Debug, Args)]
pub struct GetArgs {
    /// The database file.
    pub file: PathBuf,
    /// The bucket, as a path of names from the top level.
    #[arg(required = true, num_args = 1..)]
    pub bucket: Vec<String>,
    /// The key.
    pub key: String,
    /// How the value is printed (`bytes`: raw, without a newline).
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// How bucket names and the key are written (`hex` for binary keys).
    #[arg(long, value_enum, default_value_t = ParseFormat::Text)]
    pub parse_format: ParseFormat,
}

/// `pages`.
#[derive(Debug, Args)]
pub struct PagesArgs {
    /// The database file.
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// The database file.
    pub file: PathBuf,
    /// Where to write the map (default: standard output).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Write an HTML page holding the map, with details of every cell on hover.
    #[arg(long)]
    pub html: bool,
    /// At most this many cells: larger files are drawn with a run of pages per cell.
    #[arg(long, value_name = "N", default_value_t = 16384)]
    pub max_cells: u64,
}

/// `page`.
#[derive(Debug, Args)]
pub struct PageArgs {
    /// The database file.
    pub file: PathBuf,
    /// Page ids.
    #[arg(required = true, num_args = 1..)]
    pub ids: Vec<u64>,
    /// How keys and values are printed.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// Also print a hex dump of the page bytes (with overflow pages).
    #[arg(long)]
    pub hexdump: bool,
    /// Print keys and values in full instead of shortening long ones.
    #[arg(long)]
    pub full: bool,
}

/// `page-item`.
#[derive(Debug, Args)]
pub struct PageItemArgs {
    /// The database file.
    pub file: PathBuf,
    /// The page id.
    pub page: u64,
    /// The element index (0-based).
    pub item: usize,
    /// Print only the key.
    #[arg(long, conflicts_with = "value_only")]
    pub key_only: bool,
    /// Print only the value.
    #[arg(long)]
    pub value_only: bool,
    /// How the key and value are printed.
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
}

/// `check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The database file.
    pub file: PathBuf,
    /// Check only the tree below this page (a branch or leaf), as bbolt's `check --from-page`.
    #[arg(long, value_name = "PGID")]
    pub from_page: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The database file.
    pub file: PathBuf,
    /// Print the canonical JSON dump (byte for byte what Go's `bbolt-tool dump` prints).
    #[arg(long)]
    pub json: bool,
    /// How keys and values are printed (without --json).
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
}

/// The long help of `records`.
const RECORDS_LONG_ABOUT: &str = "\
Print the records of a typed store (the `rivet` crate) without the program's Rust types.

Every record bucket named in the store's catalog (the `__rivet_catalog` bucket) is listed, or
only those whose record type or bucket is named TYPE. Each value is decoded with the layout its
envelope names, as the catalog records it; index buckets (`index:<name>`) are skipped.

Text output, one line per record:
  BUCKET KEY (TYPE vVERSION, layout N): {\"field\":value,...}
  BUCKET KEY (TYPE vVERSION, layout N): hex 0a0b... (why it could not be decoded)
KEY is JSON: a number or string for a one-field key, an object by field name for a composite
key, or {\"hex\":\"...\"} when the key's encoding cannot be read without its type.

With --json, one JSON object per line (NDJSON):
  {\"type\":\"User\",\"bucket\":\"users\",\"key\":1,\"version\":1,\"layout\":1,\"value\":{...}}
and, for a record that could not be decoded, \"hex\" and \"note\" in place of \"value\"
(\"layout\" is null for format 1 buckets, which record no layout).

A value is printed as hex, with a note saying why, when it cannot be decoded: a format 1
bucket (written before layouts were recorded), a codec other than postcard, a field of a type
that does not derive `rivet::Layout` (opaque), or damaged bytes. The listing goes on.

Exit status: 0 every record was decoded; 1 some record could not be decoded (their number is
printed on stderr at the end), or the file has no catalog (no typed records); 2 the command
could not be carried out (unknown TYPE, unreadable file, damaged catalog entry for TYPE).";

/// `records`.
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// The database file.
    pub file: PathBuf,
    /// Only this record type (the type's name, e.g. `User`, or its bucket's name, e.g. `users`).
    #[arg(value_name = "TYPE")]
    pub record_type: Option<String>,
    /// Print one JSON object per record, one per line (NDJSON).
    #[arg(long)]
    pub json: bool,
}

/// `compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// The database to compact (opened read-only).
    pub src: PathBuf,
    /// The new file (must not exist).
    #[arg(short = 'o', long = "output", value_name = "DST")]
    pub dst: PathBuf,
    /// Commit every N bytes of keys and values (0: one transaction).
    #[arg(long, value_name = "N", default_value_t = 65536)]
    pub tx_max_size: u64,
}

/// `surgery`.
#[derive(Debug, Subcommand)]
pub enum SurgeryCommand {
    /// Replace the newest meta page with the other one: roll back the last transaction.
    RevertMetaPage(SurgeryTarget),
    /// Freelist repairs.
    #[command(subcommand)]
    Freelist(FreelistCommand),
}

/// `surgery freelist`.
#[derive(Debug, Subcommand)]
pub enum FreelistCommand {
    /// Drop the stored freelist, walk the tree to find the free pages, and commit a new one.
    Rebuild(SurgeryTarget),
    /// Mark the active meta as having no stored freelist (the next read-write open rebuilds it).
    Abandon(SurgeryTarget),
}

/// The file a repair works on, and where the result goes.
#[derive(Debug, Args)]
pub struct SurgeryTarget {
    /// The database file.
    pub file: PathBuf,
    /// Where to write the repaired copy (default: FILE.repaired; never overwritten).
    #[arg(short = 'o', long = "output", value_name = "DST", conflicts_with = "in_place")]
    pub output: Option<PathBuf>,
    /// Modify FILE itself (takes the exclusive lock).
    #[arg(long)]
    pub in_place: bool,
}

/// How `bench` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WriteMode {
    /// Sequential keys.
    Seq,
    /// Keys in random order.
    Rnd,
    /// Sequential keys, one nested bucket per batch.
    SeqNest,
    /// Random keys, one nested bucket per batch.
    RndNest,
}

/// How `bench` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReadMode {
    /// A cursor over every key in order.
    Seq,
    /// A `get` of every key in random order.
    Rnd,
}

/// `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How keys are written.
    #[arg(long, value_enum, default_value_t = WriteMode::Seq)]
    pub write_mode: WriteMode,
    /// How keys are read back.
    #[arg(long, value_enum, default_value_t = ReadMode::Seq)]
    pub read_mode: ReadMode,
    /// Number of keys.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Keys per write transaction (0: all in one).
    #[arg(long, default_value_t = 0)]
    pub batch_size: u64,
    /// Key size in bytes.
    #[arg(long, default_value_t = 8)]
    pub key_size: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 32)]
    pub value_size: usize,
    /// Split threshold of the buckets written (0.1..=1.0).
    #[arg(long, default_value_t = rivet_engine::DEFAULT_FILL_PERCENT)]
    pub fill_percent: f64,
    /// Skip fdatasync at commit (trades durability away, as bbolt's -no-sync).
    #[arg(long)]
    pub no_sync: bool,
    /// Page size of the benchmark database (default: the OS page size).
    #[arg(long)]
    pub page_size: Option<u32>,
    /// Keep reading for at least this long (bbolt reads for 1s; 0: one pass).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub read_time: Duration,
    /// The benchmark database (default: a new file in the temporary directory).
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// Keep the benchmark database afterwards.
    #[arg(long)]
    pub work: bool,
    /// Seed of the random orders.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Parses `5`, `5s`, `500ms`, `2m`, `1.5s` into a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| format!("{s:?} is not a duration (try 5s, 500ms, 2m)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{s:?} is not a duration (try 5s, 500ms, 2m)"));
    }
    Duration::try_from_secs_f64(v * scale).map_err(|e| format!("{s:?}: {e}"))
}
