//! `rivet map FILE [-o OUT] [--html]`: a picture of the file, one cell per page (or per run of
//! pages for large files) in file order, coloured by what owns the page: each top-level bucket
//! its own colour (darker for branch pages, lighter for overflow pages), the root bucket's own
//! pages, the metas, the freelist, free pages, leaked pages, and damaged pages in red; with the
//! figures beside it (pages per owner, free runs, leaf fill per bucket, what `compact` would
//! save).
//!
//! Built on the engine's page walker (a [`Visitor`]) over the file read page by page, under the
//! shared lock, as `pages` is: it draws damaged files too. The drawing is in `map_draw`.
//!
//! Pending pages (freed by a transaction that readers may still see) are stored in the freelist
//! together with the free ones, in Rivet and in bbolt alike: the file alone cannot tell them
//! apart, so they are drawn as free (the legend says so).

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::format::page::{ELEMENT_SIZE, PAGE_HEADER_SIZE};
use rivet_engine::tree::walk::{walk, BucketRoot, BucketStart, NodeInfo, Role, Scope, Visitor};
use rivet_engine::{PageId, Problem};

use crate::cli::{Global, MapArgs};
use crate::error::CliError;
use crate::progress::Progress;
use crate::raw::RawFile;
use crate::w;

/// What one page is, as the walk reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kind {
    /// Nothing reported it (not walked).
    #[default]
    Unknown,
    /// Meta page 0 or 1.
    Meta,
    /// The freelist page or one of its overflow pages.
    Freelist,
    /// The first page of a branch node.
    Branch,
    /// The first page of a leaf node.
    Leaf,
    /// An overflow page of a branch or leaf.
    Overflow,
    /// Claimed as a tree node but never decoded (unreadable).
    Unread,
    /// Not reached, free.
    Free,
    /// Not reached and not free: leaked.
    Leaked,
}

/// One page: its kind, the owner (0: the root bucket, `n`: the `n`th top-level bucket met),
/// and whether a problem names it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    /// What it is.
    pub kind: Kind,
    /// Its owner (an index into [`Census::owners`]) when it is a tree page.
    pub owner: u32,
    /// A problem names it.
    pub problem: bool,
}

impl Page {
    /// Whether it is drawn as damaged.
    pub fn damaged(&self) -> bool {
        self.kind == Kind::Unread || (self.problem && self.kind != Kind::Leaked)
    }
}

/// Figures of one owner of tree pages (the root bucket or a top-level bucket with everything
/// nested in it).
#[derive(Debug, Clone, Default)]
pub struct Owner {
    /// The name (empty for the root bucket).
    pub name: Vec<u8>,
    /// Branch pages (first pages of branch nodes).
    pub branch: u64,
    /// Leaf pages (first pages of leaf nodes).
    pub leaf: u64,
    /// Overflow pages of its branch and leaf nodes.
    pub overflow: u64,
    /// Bytes allocated to its leaves (with their overflow pages).
    pub leaf_alloc: u64,
    /// Bytes its leaves use.
    pub leaf_inuse: u64,
    /// Bytes its branch nodes use.
    pub branch_inuse: u64,
    /// An inline bucket (no pages of its own: it lives in its parent's leaf).
    pub inline: bool,
}

impl Owner {
    /// Its pages.
    pub fn pages(&self) -> u64 {
        self.branch + self.leaf + self.overflow
    }
}

/// Everything the walk said, page by page.
pub struct Census<'p> {
    /// One entry per page below the high-water mark that is in the file.
    pub pages: Vec<Page>,
    /// Owners: 0 is the root bucket, then the top-level buckets in the order met.
    pub owners: Vec<Owner>,
    /// The owner of each bucket of the walk, by its number.
    bucket_owner: Vec<u32>,
    /// Problems found (warnings apart): a damaged file may have millions, the map needs only
    /// their number and the first.
    pub problems: u64,
    /// The first problem, as a line.
    pub first_problem: Option<String>,
    progress: &'p Progress,
}

impl Census<'_> {
    fn at(&mut self, id: PageId) -> Option<&mut Page> {
        usize::try_from(id).ok().and_then(|i| self.pages.get_mut(i))
    }

    fn owner_of(&self, bucket: u32) -> u32 {
        self.bucket_owner.get(bucket as usize).copied().unwrap_or(0)
    }
}

impl Visitor for Census<'_> {
    fn page(&mut self, id: PageId, role: Role) {
        self.progress.inc(1);
        let (kind, owner) = match role {
            Role::Meta => (Kind::Meta, 0),
            Role::Freelist { .. } | Role::Overflow { bucket: None, .. } => (Kind::Freelist, 0),
            Role::Node { bucket } => (Kind::Unread, self.owner_of(bucket)),
            Role::Overflow { bucket: Some(b), .. } => (Kind::Overflow, self.owner_of(b)),
        };
        if kind == Kind::Overflow {
            if let Some(o) = self.owners.get_mut(owner as usize) {
                o.overflow += 1;
            }
        }
        if let Some(p) = self.at(id) {
            p.kind = kind;
            p.owner = owner;
        }
    }

    fn bucket(&mut self, b: &BucketStart<'_>) {
        let owner = match b.parent {
            None => 0,
            Some(0) => {
                let inline = matches!(b.root, BucketRoot::Inline { .. });
                self.owners.push(Owner { name: b.name.to_vec(), inline, ..Owner::default() });
                (self.owners.len() - 1) as u32
            }
            Some(parent) => self.owner_of(parent),
        };
        let i = b.index as usize;
        if self.bucket_owner.len() <= i {
            self.bucket_owner.resize(i + 1, 0);
        }
        self.bucket_owner[i] = owner;
    }

    fn node(&mut self, n: &NodeInfo<'_>) {
        if n.inline {
            return;
        }
        let owner = self.owner_of(n.bucket);
        let v = &n.view;
        let used = (PAGE_HEADER_SIZE + ELEMENT_SIZE * v.len()) as u64 + v.data_len();
        if let Some(o) = self.owners.get_mut(owner as usize) {
            if v.leaf {
                o.leaf += 1;
                o.leaf_alloc += n.bytes as u64;
                o.leaf_inuse += used;
            } else {
                o.branch += 1;
                o.branch_inuse += used;
            }
        }
        if let Some(p) = self.at(n.page) {
            p.kind = if v.leaf { Kind::Leaf } else { Kind::Branch };
        }
    }

    fn unreached(&mut self, id: PageId, free: bool) {
        if let Some(p) = self.at(id) {
            p.kind = if free { Kind::Free } else { Kind::Leaked };
        }
    }

    fn problem(&mut self, p: Problem) -> rivet_engine::Result<()> {
        if p.is_warning() {
            return Ok(());
        }
        if let Some(page) = self.at(p.page) {
            page.problem = true;
        }
        self.problems += 1;
        if self.first_problem.is_none() {
            self.first_problem = Some(p.to_string());
        }
        Ok(())
    }
}

/// A run of free pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Run {
    /// Its first page.
    pub first: PageId,
    /// Its pages.
    pub len: u64,
}

/// Free runs: how many, and the longest (the first of the longest).
pub fn free_runs(pages: &[Page]) -> (u64, Run) {
    let (mut runs, mut longest, mut cur) = (0u64, Run::default(), Run::default());
    for (i, p) in pages.iter().enumerate() {
        if p.kind == Kind::Free {
            if cur.len == 0 {
                cur = Run { first: i as PageId, len: 0 };
                runs += 1;
            }
            cur.len += 1;
            if cur.len > longest.len {
                longest = cur;
            }
        } else {
            cur.len = 0;
        }
    }
    (runs, longest)
}

/// What the file holds, for the drawing.
pub struct Walked<'p> {
    /// What the walk said.
    pub census: Census<'p>,
    /// The page size.
    pub page_size: u32,
    /// The high-water mark.
    pub hwm: PageId,
    /// Where the file's pages end, when it is shorter than the high-water mark needs.
    pub truncated: Option<String>,
}

/// Walks the file `raw` and returns what the walk said of each page.
pub fn census<'p>(raw: &RawFile, g: &Global, progress: &'p Progress) -> Result<Walked<'p>, CliError> {
    let file = raw.path.as_path();
    let n = raw.hwm().min(raw.file_pages()) as usize;
    let mut census = Census {
        pages: vec![Page::default(); n],
        owners: vec![Owner::default()],
        bucket_owner: Vec::new(),
        problems: 0,
        first_problem: None,
        progress,
    };
    let r = walk(&raw.pages, raw.meta(), Scope::File, &mut census);
    r.map_err(|e| CliError::engine(file, e, g.lock_timeout()))?;
    Ok(Walked { census, page_size: raw.page_size, hwm: raw.hwm(), truncated: crate::open::truncation(raw) })
}

/// Runs `map`.
pub fn run(g: &Global, a: MapArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    if let Some(o) = &a.output {
        let same = match (std::fs::canonicalize(o), std::fs::canonicalize(&a.file)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        };
        if same {
            return Err(CliError::file(o, "is the database itself; give another output file"));
        }
    }
    let raw = crate::open::inspect(&a.file, g)?;
    let progress = Progress::bar(g.quiet, raw.hwm(), "walking", "pages");
    let walked = census(&raw, g, &progress)?;
    progress.finish();
    let opts = crate::cmd::map_draw::Options { html: a.html, max_cells: a.max_cells.max(1) };
    let text = crate::cmd::map_draw::draw(&a.file.display().to_string(), &walked, &opts);
    match &a.output {
        Some(o) => {
            std::fs::write(o, text.as_bytes()).map_err(|e| CliError::io(o, "write", &e))?;
            let pages = walked.census.pages.len();
            w!(out, "{}: map of {pages} pages written to {} ({} bytes)", a.file.display(), o.display(), text.len())?;
        }
        None => out.write_all(text.as_bytes()).map_err(CliError::output)?,
    }
    Ok(ExitCode::SUCCESS)
}
