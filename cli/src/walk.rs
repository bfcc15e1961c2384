//! A walk over the trees of a file from raw pages: who uses each page, a census, and every
//! structural problem met on the way.
//!
//! The engine checks snapshots it has opened; this walk works where the engine cannot: on a
//! truncated file, from an arbitrary page (`check --from-page`), and to label every page of the
//! page table with its owner. It checks what the engine's `check` and bbolt's `tx.Check` check,
//! with the same messages where they have one (`page N: multiple references`, `reachable
//! freed`, `unreachable unfreed`, `already freed`, `out of bounds`, `invalid type`), plus
//! element bounds, key order, the branch-key rule and inline-bucket sanity. Every message
//! starts with `page N:` when a page is to blame.

use rivet_engine::format::meta::NO_FREELIST;
use rivet_engine::format::page::{NodeView, PageHeader, BUCKET_LEAF_FLAG};
use rivet_engine::{Error, PageId};

use crate::format::hex;
use crate::progress::Progress;
use crate::raw::RawFile;

/// Deepest tree or bucket nesting followed; deeper means a cycle or garbage.
const MAX_DEPTH: usize = 64;
/// Size of a bucket header in a leaf value.
const BUCKET_HEADER: usize = 16;

/// What a page is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Use {
    /// Not reached (free, leaked, or not walked).
    #[default]
    None,
    /// Page 0 or 1.
    Meta,
    /// The first page of the freelist.
    Freelist,
    /// The first page of a branch node.
    Branch,
    /// The first page of a leaf node.
    Leaf,
    /// A continuation page of the node or freelist starting at `PageInfo::start`.
    Overflow,
    /// Reached, but unreadable or of an invalid type.
    Bad,
}

/// What the walk learned about one page.
#[derive(Debug, Clone, Copy, Default)]
pub struct PageInfo {
    /// Its use.
    pub used: Use,
    /// The bucket (index into [`Walk::buckets`]) whose tree holds it.
    pub bucket: u32,
    /// Elements (branch/leaf) or ids (freelist).
    pub items: u32,
    /// Overflow pages of a node's first page; for an overflow page, the node's first page.
    pub extra: u64,
    /// Listed on the stored freelist (or, without one, not reachable).
    pub free: bool,
}

/// Totals of the trees walked, as bbolt-tool's census counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Census {
    /// Buckets, the root bucket included.
    pub buckets: u64,
    /// Inline buckets.
    pub inline_buckets: u64,
    /// Plain key/value pairs (bucket entries not counted).
    pub keys: u64,
    /// Branch pages (first pages).
    pub branch_pages: u64,
    /// Leaf pages (first pages).
    pub leaf_pages: u64,
    /// Overflow pages of branch and leaf nodes.
    pub overflow_pages: u64,
    /// Levels of the deepest tree.
    pub max_tree_depth: u64,
}

/// The walk's state and results.
#[derive(Debug)]
pub struct Walk<'r> {
    raw: &'r RawFile,
    hwm: PageId,
    /// One entry per page below the high-water mark that exists in the file.
    pub pages: Vec<PageInfo>,
    /// Bucket paths; index 0 is the root bucket (or the subtree a partial walk started from).
    pub buckets: Vec<Vec<Vec<u8>>>,
    /// Problems found (each one line, `page N: ...` when a page is to blame).
    pub problems: Vec<String>,
    /// Oddities that do not make the file wrong.
    pub warnings: Vec<String>,
    /// Totals.
    pub census: Census,
    /// Whether the freelist was read (so that unlisted unreached pages are leaks).
    freelist_ok: bool,
    progress: &'r Progress,
}

fn reason(e: Error) -> String {
    match e {
        Error::Corrupted { page, reason } => format!("page {page}: {reason}"),
        other => other.to_string(),
    }
}

impl<'r> Walk<'r> {
    /// A walk of `raw`'s active meta; `progress` is advanced by pages reached.
    pub fn new(raw: &'r RawFile, progress: &'r Progress) -> Self {
        let hwm = raw.hwm();
        // Pages missing from a truncated file get no entry; they are reported when reached.
        let n = hwm.min(raw.file_pages()) as usize;
        let mut pages = vec![PageInfo::default(); n];
        for p in pages.iter_mut().take(2) {
            p.used = Use::Meta;
        }
        Walk {
            raw,
            hwm,
            pages,
            buckets: vec![Vec::new()],
            problems: Vec::new(),
            warnings: Vec::new(),
            census: Census::default(),
            freelist_ok: false,
            progress,
        }
    }

    /// The whole file: freelist, every bucket tree from the root, then unreached pages.
    pub fn run(&mut self) {
        self.load_freelist();
        let root = self.raw.meta().root;
        self.bucket(root, 0, 0);
        let stored = self.raw.meta().freelist != NO_FREELIST;
        for id in 2..self.pages.len() {
            let p = &mut self.pages[id];
            if p.used != Use::None {
                continue;
            }
            if !stored {
                p.free = true;
            } else if !p.free && self.freelist_ok {
                self.problems.push(format!("page {id}: unreachable unfreed"));
            }
        }
    }

    /// Only the bucket trees from the root, ignoring the freelist (to decide whether a freelist
    /// can be rebuilt from them).
    pub fn run_trees(&mut self) {
        let root = self.raw.meta().root;
        self.bucket(root, 0, 0);
    }

    /// Only the tree below page `id` (bbolt's `check --from-page`); nothing is reported as
    /// unreachable.
    pub fn run_from(&mut self, id: PageId) {
        self.load_freelist();
        self.buckets[0] = Vec::new();
        let mut last = None;
        self.census.buckets = 1;
        self.page(id, 0, 0, 0, &mut last);
    }

    fn load_freelist(&mut self) {
        if self.raw.meta().freelist == NO_FREELIST {
            self.freelist_ok = true;
            return;
        }
        let fl = match self.raw.freelist() {
            Ok(fl) => fl,
            Err(e) => {
                self.problems.push(format!("freelist: {e}"));
                return;
            }
        };
        self.freelist_ok = true;
        for &id in &fl.ids {
            match self.pages.get_mut(id as usize) {
                Some(p) if p.free => self.problems.push(format!("page {id}: already freed")),
                Some(p) => p.free = true,
                None => {}
            }
        }
        if let Some(start) = fl.page {
            for p in start..start + fl.span {
                if let Some(info) = self.pages.get_mut(p as usize) {
                    if info.free {
                        self.problems.push(format!("page {p}: the freelist lists its own page"));
                    }
                    if p == start {
                        info.used = Use::Freelist;
                        info.items = fl.ids.len() as u32;
                        info.extra = fl.span - 1;
                    } else {
                        info.used = Use::Overflow;
                        info.extra = start;
                    }
                }
            }
            self.progress.inc(fl.span);
        }
    }

    /// Walks the paged bucket rooted at `root` (bucket index `b`).
    fn bucket(&mut self, root: PageId, b: u32, nesting: usize) {
        if nesting > MAX_DEPTH {
            self.problems.push(format!("page {root}: buckets nested deeper than {MAX_DEPTH} levels"));
            return;
        }
        self.census.buckets += 1;
        let mut last = None;
        self.page(root, b, 0, nesting, &mut last);
    }

    /// Checks page `id` and its subtree; returns the subtree's first key.
    fn page(
        &mut self,
        id: PageId,
        b: u32,
        level: usize,
        nesting: usize,
        last: &mut Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        if level > MAX_DEPTH {
            self.problems.push(format!("page {id}: tree deeper than {MAX_DEPTH} levels (a cycle?)"));
            return None;
        }
        if id < 2 || id >= self.hwm {
            self.problems.push(format!("page {id}: out of bounds: {}", self.hwm));
            return None;
        }
        if id as usize >= self.pages.len() {
            self.problems.push(format!(
                "page {id}: missing: beyond the end of the truncated file ({} pages)",
                self.raw.file_pages()
            ));
            return None;
        }
        if self.pages[id as usize].used != Use::None {
            self.problems.push(format!("page {id}: multiple references"));
            return None;
        }
        self.pages[id as usize].used = Use::Bad;
        self.pages[id as usize].bucket = b;
        let bytes = match self.raw.page(id) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.problems.push(e);
                return None;
            }
        };
        let h = match PageHeader::read(&bytes, id) {
            Ok(h) => h,
            Err(e) => {
                self.problems.push(e.to_string());
                return None;
            }
        };
        if h.id != id {
            self.problems.push(format!("page {id}: the page header says it is page {}", h.id));
        }
        if self.pages[id as usize].free {
            self.problems.push(format!("page {id}: reachable freed"));
        }
        let span = 1 + u64::from(h.overflow);
        if id + span > self.hwm {
            self.problems
                .push(format!("page {id}: {} overflow pages run past the high-water mark {}", h.overflow, self.hwm));
        }
        for p in id + 1..(id + span).min(self.pages.len() as u64) {
            let info = &mut self.pages[p as usize];
            if info.used != Use::None {
                self.problems.push(format!("page {p}: multiple references (overflow page of page {id})"));
                continue;
            }
            if info.free {
                self.problems.push(format!("page {p}: reachable freed (overflow page of page {id})"));
            }
            *info = PageInfo { used: Use::Overflow, bucket: b, items: 0, extra: id, free: info.free };
        }
        self.progress.inc(span);
        let node = match NodeView::new(&bytes, id) {
            Ok(n) => n,
            Err(e) => {
                if h.flags & 0x03 == 0 {
                    self.problems.push(format!("page {id}: invalid type: {} (flags {:#04x})", h.type_name(), h.flags));
                } else {
                    self.problems.push(reason(e));
                }
                return None;
            }
        };
        let info = &mut self.pages[id as usize];
        info.used = if node.leaf { Use::Leaf } else { Use::Branch };
        info.items = node.len() as u32;
        info.extra = u64::from(h.overflow);
        self.census.overflow_pages += u64::from(h.overflow);
        self.census.max_tree_depth = self.census.max_tree_depth.max(level as u64 + 1);
        if node.leaf {
            self.census.leaf_pages += 1;
            self.leaf(&node, id, b, nesting, last)
        } else {
            self.census.branch_pages += 1;
            self.branch(&node, id, b, level, nesting, last)
        }
    }

    fn branch(
        &mut self,
        node: &NodeView<'_>,
        id: PageId,
        b: u32,
        level: usize,
        nesting: usize,
        last: &mut Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        if node.is_empty() {
            self.problems.push(format!("page {id}: empty branch page"));
            return None;
        }
        let mut first = None;
        let mut prev: Option<Vec<u8>> = None;
        for i in 0..node.len() {
            let e = match node.branch_elem(i) {
                Ok(e) => e,
                Err(e) => {
                    self.problems.push(reason(e));
                    return first;
                }
            };
            if prev.as_deref().is_some_and(|p| p >= e.key) {
                self.problems.push(format!("page {id}: branch keys out of order at element {i}"));
            }
            prev = Some(e.key.to_vec());
            if first.is_none() {
                first = Some(e.key.to_vec());
            }
            let child_first = self.page(e.pgid, b, level + 1, nesting, last);
            if let Some(cf) = child_first {
                if cf != e.key {
                    self.problems.push(format!(
                        "page {id}: branch key {} differs from the first key {} of child page {}",
                        short_hex(e.key),
                        short_hex(&cf),
                        e.pgid
                    ));
                }
            }
        }
        first
    }

    fn leaf(
        &mut self,
        node: &NodeView<'_>,
        id: PageId,
        b: u32,
        nesting: usize,
        last: &mut Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        let mut first = None;
        for i in 0..node.len() {
            let e = match node.leaf_elem(i) {
                Ok(e) => e,
                Err(e) => {
                    self.problems.push(reason(e));
                    return first;
                }
            };
            if first.is_none() {
                first = Some(e.key.to_vec());
            }
            if e.key.is_empty() {
                self.problems.push(format!("page {id}: element {i} has an empty key"));
            }
            if last.as_deref().is_some_and(|l| l >= e.key) {
                self.problems.push(format!("page {id}: keys out of order at element {i}"));
            }
            *last = Some(e.key.to_vec());
            if e.flags & !BUCKET_LEAF_FLAG != 0 {
                self.warnings.push(format!("page {id}: element {i} has unknown flag bits {:#x}", e.flags));
            }
            if !e.is_bucket() {
                self.census.keys += 1;
                continue;
            }
            if e.value.len() < BUCKET_HEADER {
                self.problems.push(format!("page {id}: element {i}: bucket header of {} bytes", e.value.len()));
                continue;
            }
            let mut r = [0u8; 8];
            r.copy_from_slice(&e.value[..8]);
            let root = u64::from_le_bytes(r);
            let mut path = self.buckets[b as usize].clone();
            path.push(e.key.to_vec());
            if root != 0 {
                self.buckets.push(path);
                let child = (self.buckets.len() - 1) as u32;
                self.bucket(root, child, nesting + 1);
            } else {
                self.inline(&e.value[BUCKET_HEADER..], id, i);
            }
        }
        first
    }

    /// Checks an inline bucket's page image, found in element `i` of page `id`.
    fn inline(&mut self, bytes: &[u8], id: PageId, i: usize) {
        self.census.buckets += 1;
        self.census.inline_buckets += 1;
        let node = match NodeView::new(bytes, id) {
            Ok(n) if n.leaf => n,
            Ok(_) => {
                self.problems.push(format!("page {id}: element {i}: inline bucket page is not a leaf"));
                return;
            }
            Err(e) => {
                self.problems.push(format!("page {id}: element {i}: inline bucket: {}", reason(e)));
                return;
            }
        };
        let mut last: Option<&[u8]> = None;
        for j in 0..node.len() {
            match node.leaf_elem(j) {
                Ok(e) => {
                    if e.is_bucket() {
                        self.problems.push(format!("page {id}: element {i}: inline bucket holds a sub-bucket"));
                    } else {
                        self.census.keys += 1;
                    }
                    if e.key.is_empty() || last.is_some_and(|l| l >= e.key) {
                        self.problems.push(format!("page {id}: element {i}: inline bucket keys out of order"));
                    }
                    last = Some(e.key);
                }
                Err(e) => {
                    self.problems.push(format!("page {id}: element {i}: inline bucket: {}", reason(e)));
                    return;
                }
            }
        }
    }
}

/// Up to 16 bytes of `b` in hex, `...` if longer.
fn short_hex(b: &[u8]) -> String {
    let n = b.len().min(16);
    let mut s = hex(&b[..n]);
    if b.len() > n {
        s.push_str("...");
    }
    s
}
