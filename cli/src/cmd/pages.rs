//! `rivet pages FILE [--json]`: the page table, as bbolt's `pages` prints it, with the bucket
//! that owns each tree page. Overflow pages are folded into the page they continue; pages not
//! reached from any tree are `free` (listed on the freelist, or implicit without one) or
//! `unreachable` (leaked); a run of such pages is one row (`100-4194303  free ... (4194204
//! pages)`), so the table is proportional to what the file holds, not to its high-water mark.
//! Built by the engine's page walker over the file read page by page, so it also works on
//! damaged files.

use std::collections::BTreeMap;

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::tree::walk::{walk, BucketRoot, BucketStart, NodeInfo, Role, Scope, Visitor};
use rivet_engine::{PageId, Problem};
use serde::Serialize;

use crate::cli::{Global, PagesArgs};
use crate::error::CliError;
use crate::format::{hex, path};
use crate::progress::Progress;
use crate::w;

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
    /// For a run of free or unreachable pages: its last page (the row stands for `id..=last`).
    #[serde(skip_serializing_if = "Option::is_none")]
    last: Option<PageId>,
}

/// Totals of the trees walked, as bbolt-tool's census counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
struct Census {
    /// Buckets, the root bucket included.
    buckets: u64,
    /// Inline buckets.
    inline_buckets: u64,
    /// Plain key/value pairs (bucket entries not counted).
    keys: u64,
    /// Branch pages (first pages).
    branch_pages: u64,
    /// Leaf pages (first pages).
    leaf_pages: u64,
    /// Overflow pages of branch and leaf nodes.
    overflow_pages: u64,
    /// Levels of the deepest tree.
    max_tree_depth: u64,
}

/// The whole answer, for JSON.
#[derive(Debug, Serialize)]
struct PagesJson {
    file: String,
    page_size: u32,
    high_water_mark: u64,
    pages: Vec<Row>,
    /// Totals of the walk (buckets with the root, plain keys, pages, depth).
    census: Census,
    problems: Vec<String>,
}

/// What a page is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Use {
    /// Not reached (free, leaked, or not walked).
    #[default]
    None,
    Meta,
    Freelist,
    Branch,
    Leaf,
    /// A continuation page of the node or freelist starting at `PageInfo::extra`.
    Overflow,
    /// Reached, but unreadable or of an invalid type.
    Bad,
}

/// What the walk said about one page.
#[derive(Debug, Clone, Copy, Default)]
struct PageInfo {
    used: Use,
    /// The bucket (index into [`Table::buckets`]) whose tree holds it.
    bucket: u32,
    /// Elements (branch/leaf) or ids (freelist).
    items: u32,
    /// Overflow pages of a node's first page; for an overflow page, the node's first page.
    extra: u64,
    /// Listed on the stored freelist (or, without one, not reachable).
    free: bool,
}

/// The page table, built from what the engine's walk reports.
struct Table<'p> {
    /// Pages below the file's end (`limit`) that the walk reached, by id.
    pages: BTreeMap<PageId, PageInfo>,
    /// Pages not reached, as runs: first page, pages, free.
    runs: Vec<(PageId, u64, bool)>,
    /// Pages at or past this id (missing from a truncated file) get no entry.
    limit: PageId,
    /// Bucket paths by the walk's bucket number; 0 is the root bucket.
    buckets: Vec<Vec<Vec<u8>>>,
    census: Census,
    problems: Vec<String>,
    progress: &'p Progress,
}

impl Visitor for Table<'_> {
    fn page(&mut self, id: PageId, role: Role) {
        self.progress.inc(1);
        if id >= self.limit {
            return;
        }
        let p = self.pages.entry(id).or_default();
        *p = match role {
            Role::Meta => PageInfo { used: Use::Meta, ..*p },
            Role::Freelist { ids, overflow } => {
                PageInfo { used: Use::Freelist, items: ids as u32, extra: u64::from(overflow), ..*p }
            }
            Role::Node { bucket } => PageInfo { used: Use::Bad, bucket, ..*p },
            Role::Overflow { of, bucket } => {
                PageInfo { used: Use::Overflow, extra: of, bucket: bucket.unwrap_or(0), ..*p }
            }
        };
    }

    fn bucket(&mut self, b: &BucketStart<'_>) {
        let mut path = b.parent.and_then(|i| self.buckets.get(i as usize).cloned()).unwrap_or_default();
        if b.parent.is_some() {
            path.push(b.name.to_vec());
        }
        let i = b.index as usize;
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, Vec::new());
        }
        self.buckets[i] = path;
        self.census.buckets += 1;
        if matches!(b.root, BucketRoot::Inline { .. }) {
            self.census.inline_buckets += 1;
        }
    }

    fn node(&mut self, n: &NodeInfo<'_>) {
        let v = &n.view;
        if v.leaf {
            let values = (0..v.len()).map_while(|i| v.leaf_elem(i).ok()).filter(|e| !e.is_bucket()).count();
            self.census.keys += values as u64;
        }
        if n.inline {
            return;
        }
        if let Some(p) = self.pages.get_mut(&n.page) {
            p.used = if v.leaf { Use::Leaf } else { Use::Branch };
            p.items = v.len() as u32;
            p.extra = u64::from(n.overflow);
        }
        if v.leaf {
            self.census.leaf_pages += 1;
        } else {
            self.census.branch_pages += 1;
        }
        self.census.overflow_pages += u64::from(n.overflow);
        self.census.max_tree_depth = self.census.max_tree_depth.max(n.level as u64);
    }

    fn unreached(&mut self, id: PageId, free: bool) {
        self.progress.inc(1);
        if id >= self.limit {
            return;
        }
        match self.runs.last_mut() {
            Some((first, n, f)) if *f == free && *first + *n == id => *n += 1,
            _ => self.runs.push((id, 1, free)),
        }
    }

    fn problem(&mut self, p: Problem) -> rivet_engine::Result<()> {
        if !p.is_warning() {
            self.problems.push(p.to_string());
        }
        Ok(())
    }
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

/// The rows: every page id below the file's end, overflow pages folded in, runs of pages not
/// reached as one row each.
fn rows(t: &Table<'_>) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut runs = t.runs.iter().peekable();
    // The next id not folded into a row already.
    let mut next: PageId = 0;
    let run_row = |&(first, n, free): &(PageId, u64, bool)| Row {
        id: first,
        kind: if free { "free" } else { "unreachable" },
        items: None,
        overflow: 0,
        bucket: None,
        last: (n > 1).then(|| first + n - 1),
    };
    for (&id, p) in &t.pages {
        while let Some(r) = runs.next_if(|r| r.0 < id) {
            rows.push(run_row(r));
        }
        if id < next {
            continue;
        }
        let (items, overflow, bucket) = match p.used {
            Use::Meta => (Some(0), 0, None),
            Use::Freelist => (Some(p.items), p.extra, None),
            Use::Branch | Use::Leaf => {
                (Some(p.items), p.extra, Some(t.buckets[p.bucket as usize].iter().map(|n| hex(n)).collect()))
            }
            _ => (None, 0, None),
        };
        rows.push(Row { id, kind: kind(p), items, overflow, bucket, last: None });
        next = id + 1 + overflow;
    }
    rows.extend(runs.map(run_row));
    rows
}

/// Runs `pages`.
pub fn run(g: &Global, a: PagesArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let raw = crate::open::inspect(&a.file, g)?;
    let progress = Progress::bar(g.quiet, raw.hwm(), "walking", "pages");
    // Pages missing from a truncated file get no entry; they are reported when reached.
    let limit = raw.hwm().min(raw.file_pages());
    let mut table = Table {
        pages: BTreeMap::new(),
        runs: Vec::new(),
        limit,
        buckets: Vec::new(),
        census: Census::default(),
        problems: Vec::new(),
        progress: &progress,
    };
    let r = walk(&raw.pages, raw.meta(), Scope::File, &mut table);
    progress.finish();
    r.map_err(|e| CliError::engine(&a.file, e, g.lock_timeout()))?;
    let mut problems = std::mem::take(&mut table.problems);
    if let Some(t) = crate::open::truncation(&raw) {
        problems.insert(0, t);
    }
    let rows = rows(&table);
    if a.json {
        let j = PagesJson {
            file: a.file.display().to_string(),
            page_size: raw.page_size,
            high_water_mark: raw.hwm(),
            pages: rows,
            census: table.census,
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
        let (id, bucket) = match (r.last, table.pages.get(&r.id)) {
            (Some(last), _) => (format!("{}-{last}", r.id), format!("({} pages)", last - r.id + 1)),
            (None, Some(p)) if matches!(p.used, Use::Branch | Use::Leaf) => {
                (r.id.to_string(), path(&table.buckets[p.bucket as usize]))
            }
            _ => (r.id.to_string(), String::new()),
        };
        let row = format!("{:<8} {:<10} {:>6} {:>6}  {}", id, r.kind, items, overflow, bucket);
        w!(out, "{}", row.trim_end())?;
    }
    if raw.hwm() > limit {
        w!(
            out,
            "{:<8} {:<10}  (pages {}..{} are missing: the file is truncated)",
            limit,
            "missing",
            limit,
            raw.hwm() - 1
        )?;
    }
    if !problems.is_empty() {
        let n = crate::format::count(problems.len(), "problem");
        w!(out, "\n{n} found (the first: {}); run `rivet check`", problems[0])?;
    }
    Ok(ExitCode::SUCCESS)
}
