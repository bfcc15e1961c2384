//! Crafted database files: a structural builder for files laid out page by page.
//!
//! Where the damage suite (`tests/tests/damage/`) hurts files that the engine or Go wrote, this
//! module writes files from nothing, so that any structure the format can express is a few
//! lines: pages shared between trees, buckets whose root is their own parent page, trees 65
//! levels deep, files whose high-water mark is 2^26 pages with four kilobytes on disk. The
//! metas are always valid (both, with FNV-1a checksums), so the engine has to take the pages
//! at their word.
//!
//! - [`node`]: byte encoders for page headers, nodes, bucket headers, inline images, freelist
//!   and meta pages (docs/format.md sections 3-8), independent of the engine's code;
//! - [`Craft`]: places nodes at page ids, builds ordinary trees ([`Craft::tree`]) and
//!   deliberately deep ones ([`Craft::chain`]), and writes both metas and the freelist;
//! - [`Image`]: the result, sparse (only written pages are stored), written to a file with
//!   `set_len` for the rest;
//! - [`corpus`]: the crafted cases the `crafted` harness and the fuzz target start from.
//!
//! ```
//! use rivet_tests::craft::{Craft, Elem};
//! let mut c = Craft::new(4096);
//! let data = c.tree(&[Elem::kv("k", "v")], 16);
//! c.root_leaf(&[Elem::bucket("b", data, 0)]);
//! let image = c.finish();
//! assert_eq!(image.len(), 5 * 4096); // two metas, the data leaf, the root leaf, the freelist
//! ```

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub mod corpus;
pub mod node;
#[cfg(test)]
mod tests;

use node::{put32, put64, MAGIC, NO_FREELIST, VERSION};
pub use node::{Elem, MetaFields, RawElem};

/// What the file says about free pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freelist {
    /// A freelist page listing every page in `2..hwm` that no placed page covers (the normal
    /// case: nothing, when the pages are contiguous).
    Auto,
    /// A freelist page listing exactly these ids.
    Ids(Vec<u64>),
    /// No stored freelist: the meta's `freelist` is `0xFFFF_FFFF_FFFF_FFFF`.
    Absent,
}

/// A database file being laid out. Pages are placed by id ([`Craft::put`]) or at the next
/// unused id ([`Craft::add`]); [`Craft::finish`] adds the freelist and both metas.
#[derive(Debug, Clone)]
pub struct Craft {
    page_size: usize,
    /// Placed spans: first page id -> bytes (a whole number of pages).
    pages: BTreeMap<u64, Vec<u8>>,
    next: u64,
    root: Option<u64>,
    root_sequence: u64,
    freelist: Freelist,
    freelist_header_id: Option<u64>,
    hwm: Option<u64>,
    txid: u64,
}

impl Craft {
    /// An empty layout with pages of `page_size` bytes (a power of two, 256..=65536, for a file
    /// the engine opens). Page ids from 2 up are free to place.
    pub fn new(page_size: usize) -> Craft {
        Craft {
            page_size,
            pages: BTreeMap::new(),
            next: 2,
            root: None,
            root_sequence: 0,
            freelist: Freelist::Auto,
            freelist_header_id: None,
            hwm: None,
            txid: 2,
        }
    }

    /// The page size.
    pub fn page_size(&self) -> usize {
        self.page_size
    }

    /// Pages a node of `len` bytes spans.
    pub fn span_of(&self, len: usize) -> u64 {
        len.div_ceil(self.page_size).max(1) as u64
    }

    /// Reserves `n` pages at the next unused id and returns the first.
    pub fn alloc(&mut self, n: u64) -> u64 {
        let id = self.next;
        self.next += n;
        id
    }

    /// Places `node` (from [`node`]) at page `id`: writes `id` into its header and the overflow
    /// its length needs, and pads it to whole pages.
    pub fn put(&mut self, id: u64, mut node: Vec<u8>) {
        let span = self.span_of(node.len());
        if node.len() >= 16 {
            put64(&mut node, 0, id);
            put32(&mut node, 12, (span - 1) as u32);
        }
        self.put_raw(id, node);
    }

    /// Places bytes at page `id` exactly as given (padded to whole pages): for headers that lie.
    pub fn put_raw(&mut self, id: u64, mut bytes: Vec<u8>) {
        let span = self.span_of(bytes.len());
        bytes.resize(span as usize * self.page_size, 0);
        self.next = self.next.max(id + span);
        self.pages.insert(id, bytes);
    }

    /// Places `node` at the next unused id; returns the id.
    pub fn add(&mut self, node: Vec<u8>) -> u64 {
        let id = self.alloc(self.span_of(node.len()));
        self.put(id, node);
        id
    }

    /// Sets the root bucket's root page.
    pub fn root(&mut self, id: u64) -> &mut Self {
        self.root = Some(id);
        self
    }

    /// Places a leaf holding `elems` (top-level buckets) and makes it the root bucket's root.
    pub fn root_leaf(&mut self, elems: &[Elem]) -> u64 {
        let id = self.add(node::leaf(elems));
        self.root(id);
        id
    }

    /// Sets the root bucket's sequence.
    pub fn root_sequence(&mut self, s: u64) -> &mut Self {
        self.root_sequence = s;
        self
    }

    /// Sets what the file stores about free pages.
    pub fn freelist(&mut self, f: Freelist) -> &mut Self {
        self.freelist = f;
        self
    }

    /// Makes the freelist page's header claim to be page `id` (a single-field defect).
    pub fn freelist_header_id(&mut self, id: u64) -> &mut Self {
        self.freelist_header_id = Some(id);
        self
    }

    /// Sets the high-water mark (default: the end of the last placed page). Above the placed
    /// pages the file is sparse: [`Image::write`] extends it with `set_len`.
    pub fn hwm(&mut self, hwm: u64) -> &mut Self {
        self.hwm = Some(hwm);
        self
    }

    /// Sets the current meta's txid (default 2); the other meta gets `txid - 1`.
    pub fn txid(&mut self, txid: u64) -> &mut Self {
        self.txid = txid.max(1);
        self
    }

    /// Builds an ordinary B+tree over `elems` (sorted by the caller): leaves of at most
    /// `per_leaf` elements, branches of at most `per_leaf` children, each branch key the first
    /// key of its child. Returns the root page; an empty `elems` gives one empty leaf.
    pub fn tree(&mut self, elems: &[Elem], per_leaf: usize) -> u64 {
        let per = per_leaf.max(2);
        let mut level: Vec<(Vec<u8>, u64)> = if elems.is_empty() {
            vec![(Vec::new(), self.add(node::leaf(&[])))]
        } else {
            elems.chunks(per).map(|c| (c[0].key.clone(), self.add(node::leaf(c)))).collect()
        };
        while level.len() > 1 {
            level = level.chunks(per).map(|c| (c[0].0.clone(), self.add(node::branch(c)))).collect();
        }
        level[0].1
    }

    /// A tree `levels` nodes deep (at least 1): one leaf holding `elems`, under a chain of
    /// single-child branches keyed by the leaf's first key. Returns the top page.
    pub fn chain(&mut self, levels: usize, elems: &[Elem]) -> u64 {
        let first = elems.first().map(|e| e.key.clone()).unwrap_or_default();
        let mut top = self.add(node::leaf(elems));
        for _ in 1..levels {
            top = self.add(node::branch(&[(first.clone(), top)]));
        }
        top
    }

    /// Adds the freelist page (unless [`Freelist::Absent`]) and both metas, and returns the
    /// file. The current meta (txid `t`) goes to page `t % 2`, the other holds `t - 1`.
    pub fn finish(mut self) -> Image {
        let ps = self.page_size;
        let root = self.root.unwrap_or_else(|| self.root_leaf(&[]));
        let fl_id = match &self.freelist {
            Freelist::Absent => NO_FREELIST,
            Freelist::Auto => {
                let id = self.next;
                let hwm = self.hwm.unwrap_or(id + 1).max(id + 1);
                assert!(hwm - 2 < 1 << 22, "Freelist::Auto on a huge file: list the ids with Freelist::Ids");
                let placed: Vec<(u64, u64)> = self.pages.iter().map(|(&id, b)| (id, (b.len() / ps) as u64)).collect();
                let covered = |p: u64| p == id || placed.iter().any(|&(s, n)| p >= s && p < s + n);
                let ids: Vec<u64> = (2..hwm).filter(|&p| !covered(p)).collect();
                let page = node::freelist(&ids);
                self.put(id, page);
                id
            }
            Freelist::Ids(ids) => {
                let page = node::freelist(ids);
                self.add(page)
            }
        };
        if let (Some(h), true) = (self.freelist_header_id, fl_id != NO_FREELIST) {
            if let Some(p) = self.pages.get_mut(&fl_id) {
                put64(p, 0, h);
            }
        }
        let hwm = self.hwm.unwrap_or(self.next);
        let fields = |txid| MetaFields {
            magic: MAGIC,
            version: VERSION,
            page_size: ps as u32,
            flags: 0,
            root,
            root_sequence: self.root_sequence,
            freelist: fl_id,
            hwm,
            txid,
        };
        let t = self.txid;
        self.pages.insert(t % 2, fields(t).page(t % 2, ps));
        self.pages.insert(1 - t % 2, fields(t - 1).page(1 - t % 2, ps));
        let len = (hwm.max(self.next) * ps as u64).max(4096);
        let mut chunks: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut end = u64::MAX;
        for (id, bytes) in self.pages {
            let at = id * ps as u64;
            match chunks.last_entry() {
                Some(mut last) if end == at => last.get_mut().extend(bytes),
                _ => {
                    chunks.insert(at, bytes);
                }
            }
            end = chunks.last_key_value().map(|(k, v)| k + v.len() as u64).unwrap_or(0);
        }
        Image { page_size: ps, len, chunks }
    }
}

/// A crafted file: its length and the byte runs actually written (zeros elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The page size it was laid out with.
    pub page_size: usize,
    len: u64,
    chunks: BTreeMap<u64, Vec<u8>>,
}

impl Image {
    /// Apparent length of the file (at least 4096 bytes, the format's minimum).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty (never: a crafted file has its metas).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes actually written: what the file holds, whatever its apparent length.
    pub fn stored(&self) -> u64 {
        self.chunks.values().map(|c| c.len() as u64).sum::<u64>().min(self.len)
    }

    /// Writes the file at `path` (replacing it): the written runs, then `set_len`, so the rest
    /// is a hole.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let f = std::fs::File::create(path)?;
        for (&at, bytes) in &self.chunks {
            f.write_all_at(bytes, at)?;
        }
        f.set_len(self.len)
    }

    /// The whole file in memory (for small images).
    pub fn to_vec(&self) -> Vec<u8> {
        assert!(self.len <= 1 << 28, "image of {} bytes is too large to hold in memory", self.len);
        let mut v = vec![0u8; self.len as usize];
        for (&at, bytes) in &self.chunks {
            let at = at as usize;
            let end = (at + bytes.len()).min(v.len());
            v[at..end].copy_from_slice(&bytes[..end - at]);
        }
        v
    }

    /// The first `n` bytes of the file.
    pub fn head(&self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        for (&at, bytes) in self.chunks.range(..n as u64) {
            let at = at as usize;
            let k = bytes.len().min(n - at);
            v[at..at + k].copy_from_slice(&bytes[..k]);
        }
        v
    }

    /// Changes the bytes at file offset `at` (a defect after the fact). The range must lie
    /// within written bytes.
    pub fn patch(&mut self, at: u64, bytes: &[u8]) {
        let (&start, chunk) = self.chunks.range_mut(..=at).next_back().expect("patch inside a written run");
        let off = (at - start) as usize;
        chunk[off..off + bytes.len()].copy_from_slice(bytes);
    }
}
