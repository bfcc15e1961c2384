//! `rivet pages FILE [--json]`: the page table, as bbolt's `pages` prints it, with the bucket
//! that owns each tree page. Overflow pages are folded into the page they continue; pages not
//! reached from any tree are `free` (listed on the freelist, or implicit without one) or
//! `unreachable` (leaked). Built by a raw walk, so it also works on damaged files.

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::PageId;
use serde::Serialize;

use crate::cli::{Global, PagesArgs};
use crate::error::CliError;
use crate::format::{hex, path};
use crate::progress::Progress;
use crate::w;
use crate::walk::{PageInfo, Use, Walk};

/// One row, for JSON.
#[derive(Debug, Serialize)]
struct Row {
    id: PageId,
    #[serde(rename = "type")]
    kind: &'static str,
    items: Option<u32>,
    overflow: u64,
    /// Bucket path (names in hex) of a branch or leaf page.
    bucket: Option<Vec<String>>,
}

/// The whole answer, for JSON.
#[derive(Debug, Serialize)]
struct PagesJson {
    file: String,
    page_size: u32,
    high_water_mark: u64,
    pages: Vec<Row>,
    /// Totals of the walk (buckets with the root, plain keys, pages, depth).
    census: crate::walk::Census,
    problems: Vec<String>,
}

fn kind(p: &PageInfo) -> &'static str {
    match p.used {
        Use::Meta => "meta",
        Use::Freelist => "freelist",
        Use::Branch => "branch",
        Use::Leaf => "leaf",
        Use::Overflow => "overflow",
        Use::Bad => "invalid",
        Use::None if p.free => "free",
        Use::None => "unreachable",
    }
}

/// The rows: every page id below the file's end, overflow pages folded in.
fn rows(walk: &Walk<'_>) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut id = 0usize;
    while id < walk.pages.len() {
        let p = &walk.pages[id];
        let (items, overflow, bucket) = match p.used {
            Use::Meta => (Some(0), 0, None),
            Use::Freelist => (Some(p.items), p.extra, None),
            Use::Branch | Use::Leaf => {
                (Some(p.items), p.extra, Some(walk.buckets[p.bucket as usize].iter().map(|n| hex(n)).collect()))
            }
            _ => (None, 0, None),
        };
        rows.push(Row { id: id as PageId, kind: kind(p), items, overflow, bucket });
        id += 1 + overflow as usize;
    }
    rows
}

/// Runs `pages`.
pub fn run(g: &Global, a: PagesArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let raw = crate::open::inspect(&a.file, g)?;
    let progress = Progress::bar(g.quiet, raw.hwm(), "walking", "pages");
    let mut walk = Walk::new(&raw, &progress);
    walk.run();
    progress.finish();
    let mut problems = std::mem::take(&mut walk.problems);
    if let Some(t) = crate::open::truncation(&raw) {
        problems.insert(0, t);
    }
    let rows = rows(&walk);
    if a.json {
        let j = PagesJson {
            file: a.file.display().to_string(),
            page_size: raw.page_size,
            high_water_mark: raw.hwm(),
            pages: rows,
            census: walk.census,
            problems,
        };
        let s = serde_json::to_string_pretty(&j).map_err(|e| CliError::usage(e.to_string()))?;
        w!(out, "{s}")?;
        return Ok(ExitCode::SUCCESS);
    }
    w!(out, "{:<8} {:<10} {:>6} {:>6}  BUCKET", "ID", "TYPE", "ITEMS", "OVRFLW")?;
    w!(out, "{} {} {} {}  {}", "=".repeat(8), "=".repeat(10), "=".repeat(6), "=".repeat(6), "=".repeat(6))?;
    for r in &rows {
        let items = r.items.map(|n| n.to_string()).unwrap_or_default();
        let overflow = if r.overflow > 0 { r.overflow.to_string() } else { String::new() };
        let p = &walk.pages[r.id as usize];
        let bucket = match p.used {
            Use::Branch | Use::Leaf => path(&walk.buckets[p.bucket as usize]),
            _ => String::new(),
        };
        let row = format!("{:<8} {:<10} {:>6} {:>6}  {}", r.id, r.kind, items, overflow, bucket);
        w!(out, "{}", row.trim_end())?;
    }
    if raw.hwm() > walk.pages.len() as u64 {
        w!(
            out,
            "{:<8} {:<10}  (pages {}..{} are missing: the file is truncated)",
            walk.pages.len(),
            "missing",
            walk.pages.len(),
            raw.hwm() - 1
        )?;
    }
    if !problems.is_empty() {
        let n = crate::format::count(problems.len(), "problem");
        w!(out, "\n{n} found (the first: {}); run `rivet check`", problems[0])?;
    }
    Ok(ExitCode::SUCCESS)
}
