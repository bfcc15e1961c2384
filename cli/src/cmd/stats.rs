//! `rivet stats FILE [PREFIX] [--per-bucket] [--json]`: page and key statistics as bbolt's
//! `stats` prints them, from the engine's `Bucket::stats`.
//!
//! Without PREFIX the figures cover the whole database, the root bucket's own pages included
//! (and the root bucket counted as a bucket), which is what the interop tool's census counts.
//! With PREFIX they are summed over the top-level buckets whose names start with it, as bbolt
//! does. `keys` is bbolt's `KeyN` (every leaf element, nested bucket entries included);
//! `values` counts plain key/value pairs only.

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::BucketStats;
use serde::Serialize;

use crate::cli::{Global, StatsArgs};
use crate::error::CliError;
use crate::format::{hex, parse_arg, show, Format};
use crate::progress::Progress;
use crate::w;

/// Statistics of one scope, for JSON.
#[derive(Debug, Serialize)]
struct Fields {
    branch_pages: u64,
    branch_overflow_pages: u64,
    leaf_pages: u64,
    leaf_overflow_pages: u64,
    keys: u64,
    values: u64,
    depth: u64,
    branch_alloc: u64,
    branch_inuse: u64,
    leaf_alloc: u64,
    leaf_inuse: u64,
    buckets: u64,
    inline_buckets: u64,
    inline_bucket_inuse: u64,
}

impl Fields {
    /// `roots` is the number of buckets whose statistics were summed (their own entries live
    /// in a parent outside the scope, so they are not among the keys).
    fn new(s: &BucketStats, roots: u64) -> Self {
        Fields {
            branch_pages: s.branch_page_n,
            branch_overflow_pages: s.branch_overflow_n,
            leaf_pages: s.leaf_page_n,
            leaf_overflow_pages: s.leaf_overflow_n,
            keys: s.key_n,
            values: s.key_n.saturating_sub(s.bucket_n.saturating_sub(roots)),
            depth: s.depth,
            branch_alloc: s.branch_alloc,
            branch_inuse: s.branch_inuse,
            leaf_alloc: s.leaf_alloc,
            leaf_inuse: s.leaf_inuse,
            buckets: s.bucket_n,
            inline_buckets: s.inline_bucket_n,
            inline_bucket_inuse: s.inline_bucket_inuse,
        }
    }
}

/// One top-level bucket, for JSON.
#[derive(Debug, Serialize)]
struct PerBucket {
    name: serde_json::Value,
    name_hex: String,
    stats: Fields,
}

/// The whole answer, for JSON.
#[derive(Debug, Serialize)]
struct StatsJson {
    file: String,
    /// `null` for the whole database.
    prefix_hex: Option<String>,
    /// Top-level buckets summed (`null` for the whole database).
    buckets_matched: Option<u64>,
    totals: Fields,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    per_bucket: Vec<PerBucket>,
}

fn pct(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        0
    } else {
        ((part as f64) * 100.0 / (whole as f64)) as u64
    }
}

fn print(out: &mut dyn Write, f: &Fields, indent: &str) -> Result<(), CliError> {
    w!(out, "{indent}Page count statistics")?;
    w!(out, "{indent}\tNumber of logical branch pages: {}", f.branch_pages)?;
    w!(out, "{indent}\tNumber of physical branch overflow pages: {}", f.branch_overflow_pages)?;
    w!(out, "{indent}\tNumber of logical leaf pages: {}", f.leaf_pages)?;
    w!(out, "{indent}\tNumber of physical leaf overflow pages: {}", f.leaf_overflow_pages)?;
    w!(out, "{indent}Tree statistics")?;
    w!(out, "{indent}\tNumber of keys/value pairs: {}", f.values)?;
    w!(out, "{indent}\tNumber of nested bucket entries: {}", f.keys - f.values)?;
    w!(out, "{indent}\tNumber of levels in B+tree: {}", f.depth)?;
    w!(out, "{indent}Page size utilization")?;
    w!(out, "{indent}\tBytes allocated for physical branch pages: {}", f.branch_alloc)?;
    w!(
        out,
        "{indent}\tBytes actually used for branch data: {} ({}%)",
        f.branch_inuse,
        pct(f.branch_inuse, f.branch_alloc)
    )?;
    w!(out, "{indent}\tBytes allocated for physical leaf pages: {}", f.leaf_alloc)?;
    w!(out, "{indent}\tBytes actually used for leaf data: {} ({}%)", f.leaf_inuse, pct(f.leaf_inuse, f.leaf_alloc))?;
    w!(out, "{indent}Bucket statistics")?;
    w!(out, "{indent}\tTotal number of buckets: {}", f.buckets)?;
    w!(out, "{indent}\tTotal number on inlined buckets: {} ({}%)", f.inline_buckets, pct(f.inline_buckets, f.buckets))?;
    w!(
        out,
        "{indent}\tBytes used for inlined buckets: {} ({}%)",
        f.inline_bucket_inuse,
        pct(f.inline_bucket_inuse, f.leaf_inuse)
    )
}

/// Runs `stats`.
pub fn run(g: &Global, a: StatsArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let prefix = a.prefix.as_deref().map(|p| parse_arg(p, a.parse_format, &a.file)).transpose()?;
    let (_raw, db) = crate::open::both(&a.file, g)?;
    let file = a.file.as_path();
    let err = |e| CliError::engine(file, e, g.lock_timeout());
    let progress = Progress::spinner(g.quiet, "collecting statistics");
    let tx = db.begin(false).map_err(err)?;
    let mut per = Vec::new();
    let mut sum = BucketStats::default();
    let mut matched = 0u64;
    if prefix.is_some() || a.per_bucket {
        tx.for_each_bucket(|name, b| {
            if prefix.as_deref().is_none_or(|p| name.starts_with(p)) {
                let s = b.stats()?;
                sum.add(&s);
                matched += 1;
                if a.per_bucket {
                    per.push((name.to_vec(), s));
                }
            }
            Ok(())
        })
        .map_err(err)?;
    }
    let totals = match &prefix {
        Some(_) => Fields::new(&sum, matched),
        None => Fields::new(&tx.root().stats().map_err(err)?, 1),
    };
    progress.finish();
    if a.json {
        let j = StatsJson {
            file: a.file.display().to_string(),
            prefix_hex: prefix.as_deref().map(hex),
            buckets_matched: prefix.is_some().then_some(matched),
            totals,
            per_bucket: per
                .iter()
                .map(|(n, s)| PerBucket { name: crate::format::json(n), name_hex: hex(n), stats: Fields::new(s, 1) })
                .collect(),
        };
        let s = serde_json::to_string_pretty(&j).map_err(|e| CliError::usage(e.to_string()))?;
        w!(out, "{s}")?;
        return Ok(ExitCode::SUCCESS);
    }
    match &prefix {
        Some(_) => w!(out, "Aggregate statistics for {matched} buckets\n")?,
        None => w!(out, "Statistics of the whole database ({} buckets, the root bucket included)\n", totals.buckets)?,
    }
    print(out, &totals, "")?;
    for (name, s) in &per {
        w!(out, "\nBucket {}", show(name, Format::Auto))?;
        print(out, &Fields::new(s, 1), "  ")?;
    }
    Ok(ExitCode::SUCCESS)
}
