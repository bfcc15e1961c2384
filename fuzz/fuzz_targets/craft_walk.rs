//! Files assembled from arbitrary page shapes with the crafted-file builder
//! (`rivet_tests::craft`): leaves, branches, inline and paged buckets pointing anywhere,
//! overlapping elements, raw pages, freelists, both metas with valid checksums. Unlike random
//! bytes (`open_walk`), nearly every input opens, so the engine's tree code is what gets
//! exercised. Open (read-only and read-write), check, read every bucket, dump, stats and a
//! write transaction must each return Ok or an error, never panic or hang; a file the check
//! finds nothing wrong with must also read and dump.
//!
//! Bounded on purpose: at most 48 pages, and inputs whose pages can be reached along more than
//! 4096 paths (shared pages and cycles that multiply, issue 18's exponential class, which the
//! `crafted` harness covers) are skipped, so that the run looks for something new.
#![no_main]

use std::collections::HashMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rivet_engine::{Bucket, Error, Options, DB};
use rivet_tests::craft::node::{self, RawElem};
use rivet_tests::craft::{Craft, Elem, Freelist};

#[derive(Debug, Arbitrary)]
struct Spec {
    page_size: u8,
    pages: Vec<Shape>,
    root: Ref,
    root_sequence: u64,
    freelist: Free,
    extra_hwm: u8,
    txid: u16,
}

/// A page reference: one of the input's pages, or any id.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Ref {
    Page(u8),
    Raw(u16),
}

#[derive(Debug, Arbitrary)]
enum Shape {
    Leaf(Vec<Item>),
    Branch(Vec<(Key, Ref)>),
    /// A leaf whose `n` values all run to the end of one shared region.
    Overlap {
        n: u8,
        region: u16,
    },
    /// Any bytes after a header with these flags and count.
    Raw {
        flags: u16,
        count: u16,
        bytes: Vec<u8>,
    },
}

#[derive(Debug, Arbitrary)]
enum Item {
    Kv(Key, Val),
    Bucket(Key, Ref, u64),
    Inline(Key, u64, Vec<Inner>),
}

#[derive(Debug, Arbitrary)]
enum Inner {
    Kv(Key, Val),
    Bucket(Key, Ref),
}

#[derive(Debug, Arbitrary)]
struct Key(Vec<u8>);

#[derive(Debug, Arbitrary)]
enum Val {
    Bytes(Vec<u8>),
    Fill(u16, u8),
}

#[derive(Debug, Arbitrary)]
enum Free {
    Auto,
    Ids(Vec<u16>),
    Absent,
    WrongHeader(u16),
}

const MAX_PAGES: usize = 48;
const MAX_PATHS: u64 = 4096;

impl Key {
    fn bytes(&self) -> Vec<u8> {
        self.0.iter().take(16).copied().collect()
    }
}

impl Val {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Val::Bytes(b) => b.clone(),
            Val::Fill(n, b) => vec![*b; usize::from(*n) % 9000],
        }
    }
}

/// Resolves references to page ids (`ids[i]` is input page `i`'s id).
struct Ids(Vec<u64>);

impl Ids {
    fn of(&self, r: Ref) -> u64 {
        match r {
            Ref::Page(i) if !self.0.is_empty() => self.0[usize::from(i) % self.0.len()],
            Ref::Page(_) => 0,
            Ref::Raw(id) => u64::from(id),
        }
    }
}

fn node(shape: &Shape, ids: &Ids, refs: &mut Vec<u64>) -> Vec<u8> {
    let mut r = |x: Ref| {
        let id = ids.of(x);
        refs.push(id);
        id
    };
    match shape {
        Shape::Leaf(items) => {
            let elems: Vec<Elem> = items
                .iter()
                .take(64)
                .map(|it| match it {
                    Item::Kv(k, v) => Elem::kv(k.bytes(), v.bytes()),
                    Item::Bucket(k, root, seq) => Elem::bucket(k.bytes(), r(*root), *seq),
                    Item::Inline(k, seq, inner) => {
                        let inner: Vec<Elem> = inner
                            .iter()
                            .take(16)
                            .map(|i| match i {
                                Inner::Kv(k, v) => Elem::kv(k.bytes(), v.bytes()),
                                Inner::Bucket(k, root) => Elem::bucket(k.bytes(), r(*root), 0),
                            })
                            .collect();
                        Elem::inline(k.bytes(), *seq, &inner)
                    }
                })
                .collect();
            node::leaf(&elems)
        }
        Shape::Branch(children) => {
            let c: Vec<(Vec<u8>, u64)> = children.iter().take(64).map(|(k, c)| (k.bytes(), r(*c))).collect();
            node::branch(&c)
        }
        Shape::Overlap { n, region } => {
            let (n, region) = (usize::from(*n % 64), usize::from(*region % 4096));
            let start = 16 + 16 * n;
            let end = start + 2 * n + region;
            let elems: Vec<RawElem> = (0..n)
                .map(|i| RawElem {
                    flags: 0,
                    pos: (start + 2 * i - 16 - 16 * i) as u32,
                    ksize: 2,
                    vsize: (end - start - 2 * i - 2) as u32,
                })
                .collect();
            let mut data: Vec<u8> = (0..n as u16).flat_map(u16::to_be_bytes).collect();
            data.resize(data.len() + region, 0x5a);
            node::raw_leaf(&elems, &data)
        }
        Shape::Raw { flags, count, bytes } => {
            let mut b = node::page_header(0, *flags, *count, 0).to_vec();
            b.extend(bytes.iter().take(8192));
            b
        }
    }
}

/// Walks from the root along every reference, counting the paths (up to 70 deep); `None` past
/// `MAX_PATHS`.
fn paths(root: u64, edges: &HashMap<u64, Vec<u64>>) -> Option<u64> {
    fn count(id: u64, depth: usize, edges: &HashMap<u64, Vec<u64>>, memo: &mut HashMap<(u64, usize), u64>) -> u64 {
        if depth > 70 {
            return 1;
        }
        if let Some(&n) = memo.get(&(id, depth)) {
            return n;
        }
        let mut n = 1u64;
        for &c in edges.get(&id).map(Vec::as_slice).unwrap_or(&[]) {
            n = n.saturating_add(count(c, depth + 1, edges, memo)).min(MAX_PATHS + 1);
        }
        memo.insert((id, depth), n);
        n
    }
    let n = count(root, 0, edges, &mut HashMap::new());
    (n <= MAX_PATHS).then_some(n)
}

/// Builds the file; `None` if it is outside the bounds.
fn build(spec: &Spec) -> Option<Vec<u8>> {
    let ps = [256usize, 512, 1024, 4096][usize::from(spec.page_size % 4)];
    let shapes = &spec.pages[..spec.pages.len().min(MAX_PAGES)];
    // Spans do not depend on the ids inside: lay out once with placeholders to place the pages.
    let probe = Ids(vec![0; shapes.len()]);
    let mut ids = Vec::new();
    let mut next = 2u64;
    for s in shapes {
        ids.push(next);
        next += node(s, &probe, &mut Vec::new()).len().div_ceil(ps).max(1) as u64;
    }
    let ids = Ids(ids);
    let mut c = Craft::new(ps);
    let mut edges: HashMap<u64, Vec<u64>> = HashMap::new();
    for (i, s) in shapes.iter().enumerate() {
        let mut refs = Vec::new();
        let n = node(s, &ids, &mut refs);
        c.put(ids.0[i], n);
        edges.insert(ids.0[i], refs);
    }
    let root = ids.of(spec.root);
    paths(root, &edges)?;
    c.root(root).root_sequence(spec.root_sequence).txid(u64::from(spec.txid) + 1);
    match &spec.freelist {
        Free::Auto => {}
        Free::Ids(v) => {
            c.freelist(Freelist::Ids(v.iter().take(600).map(|&i| u64::from(i)).collect()));
        }
        Free::Absent => {
            c.freelist(Freelist::Absent);
        }
        Free::WrongHeader(h) => {
            c.freelist_header_id(u64::from(*h));
        }
    }
    if spec.extra_hwm > 0 {
        let extra = u64::from(spec.extra_hwm);
        // Past the pages (and the freelist page placed after them), or cutting into them.
        c.hwm(if extra > 128 { next.saturating_sub(extra - 128) } else { next + 1 + extra });
    }
    Some(c.finish().to_vec())
}

fn path() -> std::path::PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    dir.join(format!("rivet-fuzz-craft-{}.db", std::process::id()))
}

/// Reads a bucket and its sub-buckets (at most 70 deep, 100,000 items in all).
fn read(b: Bucket<'_>, depth: usize, budget: &mut usize) -> Result<(), Error> {
    if depth > 70 {
        return Ok(());
    }
    for item in b.iter() {
        let (k, v) = item?;
        if *budget == 0 {
            return Ok(());
        }
        *budget -= 1;
        if v.is_none() {
            read(b.bucket(k)?, depth + 1, budget)?;
        } else {
            let _ = b.get(k)?;
        }
    }
    Ok(())
}

fuzz_target!(|spec: Spec| {
    let Some(bytes) = build(&spec) else { return };
    let p = path();
    if std::fs::write(&p, &bytes).is_err() {
        return;
    }
    for ro in [true, false] {
        let Ok(db) = DB::open(&p, Options::default().read_only(ro).no_sync(true)) else { continue };
        if let Ok(tx) = db.begin(false) {
            let clean = tx.check().is_ok_and(|p| p.is_empty());
            let dumped = rivet_engine::dump::dump_json(&tx);
            let walked = read(tx.root(), 0, &mut 100_000);
            let _ = tx.root().stats();
            if clean && ro {
                assert!(dumped.is_ok(), "the check found nothing, but the dump failed: {dumped:?}");
                assert!(walked.is_ok(), "the check found nothing, but reading failed: {walked:?}");
            }
        }
        if !ro {
            let _ = db.update(|tx| {
                let names: Vec<Vec<u8>> =
                    tx.root().iter().take(8).filter_map(|r| r.ok()).map(|(k, _)| k.to_vec()).collect();
                if let Some(n) = names.first() {
                    tx.delete_bucket(n)?;
                }
                for n in names.iter().skip(1).take(3) {
                    if let Ok(mut b) = tx.bucket_mut(n) {
                        b.put(b"\x01", &[1u8; 300])?;
                    }
                }
                tx.create_bucket_if_not_exists(b"fuzz")?.put(b"k", &[7u8; 100])
            });
            if let Ok(tx) = db.begin(false) {
                let _ = tx.check();
                let _ = rivet_engine::dump::dump_json(&tx);
            }
        }
    }
    let _ = std::fs::remove_file(&p);
});
