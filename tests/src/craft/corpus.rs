//! The crafted corpus: one file per class of structure that a reader must handle in linear
//! time, bounded memory and bounded stack (issue 18), plus an ordinary file as the baseline.
//! Each case says whether it is sound (every operation must succeed and the check must find
//! nothing) and names a bucket and key for `rivet keys` and `rivet get`.

use super::node::{branch, leaf, raw_leaf, RawElem};
use super::{Craft, Elem, Freelist, Image};

/// One crafted file.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name (also the file name).
    pub name: &'static str,
    /// What the file is, in one line.
    pub what: &'static str,
    /// The file.
    pub image: Image,
    /// A sound file: the check finds nothing and every operation must succeed.
    pub sound: bool,
    /// A bucket path and a key in that bucket, for `keys` and `get`.
    pub probe: Option<(Vec<Vec<u8>>, Vec<u8>)>,
}

/// Every case, in a fixed order.
pub fn corpus() -> Vec<Case> {
    CASES.iter().map(|(_, make)| make()).collect()
}

/// The names of the cases, without building them.
pub fn names() -> Vec<&'static str> {
    CASES.iter().map(|(n, _)| *n).collect()
}

/// One case by name.
pub fn case(name: &str) -> Option<Case> {
    CASES.iter().find(|(n, _)| *n == name).map(|(_, make)| make())
}

type Make = fn() -> Case;

const CASES: &[(&str, Make)] = &[
    ("ordinary", ordinary),
    ("dag_tree", dag_tree),
    ("dag_buckets", dag_buckets),
    ("dag_inline", dag_inline),
    ("shared_roots", shared_roots),
    ("shared_subbuckets", shared_subbuckets),
    ("cycle_self", cycle_self),
    ("cycle_ancestor", cycle_ancestor),
    ("cycle_inline", cycle_inline),
    ("cycle_tree", cycle_tree),
    ("deep_max", || deep_max(false)),
    ("deep_max_nofl", || deep_max(true)),
    ("tree_65", tree_65),
    ("sparse_24", || sparse(24, false)),
    ("sparse_24_nofl", || sparse(24, true)),
    ("sparse_26", || sparse(26, false)),
    ("sparse_26_nofl", || sparse(26, true)),
    ("overlap_values", overlap_values),
    ("freelist_wrong_id", freelist_wrong_id),
    ("dup_keys", dup_keys),
    ("unsorted_keys", unsorted_keys),
];

fn probe(path: &[&str], key: &[u8]) -> Option<(Vec<Vec<u8>>, Vec<u8>)> {
    Some((path.iter().map(|n| n.as_bytes().to_vec()).collect(), key.to_vec()))
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// Levels of sharing in the DAG cases: 2^40 paths.
const DAG_LEVELS: usize = 40;

/// A sound file with every kind of structure: a three-level tree with an overflow value,
/// inline and paged nested buckets, sequences.
fn ordinary() -> Case {
    let mut c = Craft::new(4096);
    let mut alpha: Vec<Elem> = (0..2000).map(|i| Elem::kv(key(i), format!("value {i}"))).collect();
    alpha[7].value = vec![0xab; 10_000];
    let alpha_root = c.tree(&alpha, 12);
    let deep: Vec<Elem> = (0..300).map(|i| Elem::kv(key(i), [i as u8; 40])).collect();
    let deep_root = c.tree(&deep, 40);
    let inner = [Elem::kv("x", "1"), Elem::kv("y", "")];
    let gamma = c.tree(&[Elem::bucket("deep", deep_root, 9), Elem::inline("inner", 3, &inner), Elem::kv("z", "zz")], 8);
    let beta = [Elem::kv("a", "b"), Elem::kv("c", "d")];
    c.root_leaf(&[
        Elem::bucket("alpha", alpha_root, 42),
        Elem::inline("beta", 0, &beta),
        Elem::bucket("gamma", gamma, 1),
    ]);
    Case {
        name: "ordinary",
        what: "a sound file: paged, inline and nested buckets, a 3-level tree, an overflow value",
        image: c.finish(),
        sound: true,
        probe: probe(&["alpha"], b"key00007"),
    }
}

/// One bucket whose branch pages form a DAG: 40 branch pages, both elements of each pointing
/// at the next, over a leaf with one key.
fn dag_tree() -> Case {
    let mut c = Craft::new(4096);
    let mut next = c.add(leaf(&[Elem::kv("a", "v")]));
    for _ in 0..DAG_LEVELS {
        next = c.add(branch(&[(b"a".to_vec(), next), (b"b".to_vec(), next)]));
    }
    c.root_leaf(&[Elem::bucket("b", next, 0)]);
    Case {
        name: "dag_tree",
        what: "a bucket whose 40 branch levels both point at the next: 2^40 root-to-leaf paths",
        image: c.finish(),
        sound: false,
        probe: probe(&["b"], b"a"),
    }
}

/// 40 levels of buckets: each level's page holds sub-buckets `a` and `b`, both rooted at the
/// next level's page (the 184 KB file).
fn dag_buckets() -> Case {
    let mut c = Craft::new(4096);
    let mut next = c.add(leaf(&[Elem::kv("k", "v")]));
    for _ in 1..DAG_LEVELS {
        next = c.add(leaf(&[Elem::bucket("a", next, 0), Elem::bucket("b", next, 0)]));
    }
    c.root_leaf(&[Elem::bucket("a", next, 0), Elem::bucket("b", next, 0)]);
    Case {
        name: "dag_buckets",
        what: "40 levels of buckets, each level's two sub-buckets rooted at the same page",
        image: c.finish(),
        sound: false,
        probe: probe(&["a", "a", "a"], b"a"),
    }
}

/// The bucket DAG through inline buckets: each level's page holds inline buckets `a` and `b`
/// whose images each hold a sub-bucket `c` rooted at the next level's page (30 levels, 60
/// nesting levels, 2^30 paths).
fn dag_inline() -> Case {
    let mut c = Craft::new(4096);
    let mut next = c.add(leaf(&[Elem::kv("k", "v")]));
    for _ in 0..30 {
        let sub = [Elem::bucket("c", next, 0)];
        next = c.add(leaf(&[Elem::inline("a", 0, &sub), Elem::inline("b", 0, &sub)]));
    }
    c.root_leaf(&[Elem::bucket("top", next, 0)]);
    Case {
        name: "dag_inline",
        what: "30 levels of inline buckets a and b whose sub-bucket c is rooted at the same page",
        image: c.finish(),
        sound: false,
        probe: probe(&["top", "a", "c"], b"a"),
    }
}

/// Two top-level buckets rooted at the same two-level tree.
fn shared_roots() -> Case {
    let mut c = Craft::new(4096);
    let elems: Vec<Elem> = (0..200).map(|i| Elem::kv(key(i), [7u8; 30])).collect();
    let shared = c.tree(&elems, 50);
    let own = c.tree(&elems[..10], 50);
    c.root_leaf(&[Elem::bucket("own", own, 0), Elem::bucket("x", shared, 0), Elem::bucket("y", shared, 0)]);
    Case {
        name: "shared_roots",
        what: "top-level buckets x and y rooted at the same tree",
        image: c.finish(),
        sound: false,
        probe: probe(&["y"], b"key00003"),
    }
}

/// A bucket whose two sub-buckets share their tree: deleting it frees those pages twice.
fn shared_subbuckets() -> Case {
    let mut c = Craft::new(4096);
    let elems: Vec<Elem> = (0..200).map(|i| Elem::kv(key(i), [9u8; 30])).collect();
    let shared = c.tree(&elems, 50);
    let t = c.add(leaf(&[Elem::bucket("x", shared, 0), Elem::bucket("y", shared, 0)]));
    let other = c.tree(&elems[..20], 50);
    c.root_leaf(&[Elem::bucket("other", other, 0), Elem::bucket("t", t, 0)]);
    Case {
        name: "shared_subbuckets",
        what: "bucket t's sub-buckets x and y rooted at the same tree",
        image: c.finish(),
        sound: false,
        probe: probe(&["t", "x"], b"key00001"),
    }
}

/// The root bucket's root page holds a bucket rooted at that same page.
fn cycle_self() -> Case {
    let mut c = Craft::new(4096);
    let ok = c.tree(&[Elem::kv("k", "v")], 8);
    let root = c.alloc(1);
    c.put(root, leaf(&[Elem::bucket("ok", ok, 0), Elem::bucket("self", root, 0)]));
    c.root(root);
    Case {
        name: "cycle_self",
        what: "a bucket whose root is its own parent page (the root bucket's root)",
        image: c.finish(),
        sound: false,
        probe: probe(&["self", "self", "ok"], b"k"),
    }
}

/// A cycle through three buckets: root page -> a -> b -> c -> root page.
fn cycle_ancestor() -> Case {
    let mut c = Craft::new(4096);
    let root = c.alloc(1);
    let b = c.alloc(1);
    c.put(b, leaf(&[Elem::bucket("c", root, 0), Elem::kv("k", "v")]));
    let a = c.add(leaf(&[Elem::bucket("b", b, 0)]));
    c.put(root, leaf(&[Elem::bucket("a", a, 0)]));
    c.root(root);
    Case {
        name: "cycle_ancestor",
        what: "bucket a/b/c rooted at the root bucket's root page",
        image: c.finish(),
        sound: false,
        probe: probe(&["a", "b"], b"k"),
    }
}

/// An inline bucket holding a sub-bucket rooted at the page the inline bucket sits in.
fn cycle_inline() -> Case {
    let mut c = Craft::new(4096);
    let root = c.alloc(1);
    let page = c.alloc(1);
    c.put(page, leaf(&[Elem::inline("i", 0, &[Elem::bucket("c", page, 0), Elem::kv("k", "v")])]));
    c.put(root, leaf(&[Elem::bucket("p", page, 0)]));
    c.root(root);
    Case {
        name: "cycle_inline",
        what: "inline bucket p/i holding sub-bucket c rooted at p's page, which holds i",
        image: c.finish(),
        sound: false,
        probe: probe(&["p", "i"], b"k"),
    }
}

/// A branch page whose second child is itself.
fn cycle_tree() -> Case {
    let mut c = Craft::new(4096);
    let l = c.add(leaf(&[Elem::kv("a", "1"), Elem::kv("b", "2")]));
    let br = c.alloc(1);
    c.put(br, branch(&[(b"a".to_vec(), l), (b"m".to_vec(), br)]));
    c.root_leaf(&[Elem::bucket("t", br, 0)]);
    Case {
        name: "cycle_tree",
        what: "a branch page whose second child is itself",
        image: c.finish(),
        sound: false,
        probe: probe(&["t"], b"a"),
    }
}

/// The engine's limits at once: 48 nested buckets, each (and the root bucket) a tree 64 nodes
/// deep; with a stored freelist or none.
fn deep_max(no_freelist: bool) -> Case {
    let mut c = Craft::new(256);
    let mut below: Option<u64> = None;
    for _ in 0..48 {
        let mut elems = vec![Elem::kv("k", "v")];
        if let Some(b) = below {
            elems.push(Elem::bucket("n", b, 0));
        }
        below = Some(c.chain(64, &elems));
    }
    let top = c.chain(64, &[Elem::bucket("n", below.unwrap_or(0), 0)]);
    c.root(top);
    if no_freelist {
        c.freelist(Freelist::Absent);
    }
    let path = ["n"; 48];
    Case {
        name: if no_freelist { "deep_max_nofl" } else { "deep_max" },
        what: if no_freelist {
            "48 nested buckets, every tree 64 nodes deep, no stored freelist"
        } else {
            "48 nested buckets, every tree 64 nodes deep"
        },
        image: c.finish(),
        sound: true,
        probe: probe(&path, b"k"),
    }
}

/// A bucket whose tree is 65 nodes deep: one more than reads descend.
fn tree_65() -> Case {
    let mut c = Craft::new(256);
    let t = c.chain(65, &[Elem::kv("k", "v")]);
    c.root_leaf(&[Elem::bucket("t", t, 0)]);
    Case {
        name: "tree_65",
        what: "a bucket whose tree is 65 nodes deep (single-child branches)",
        image: c.finish(),
        sound: false,
        probe: probe(&["t"], b"k"),
    }
}

/// Page size 256 and a high-water mark of 2^`bits` pages, with a few kilobytes on disk. With a
/// stored (empty) freelist every page above the content is "unreachable unfreed"; without one
/// the file is sound and they are all free.
fn sparse(bits: u32, no_freelist: bool) -> Case {
    let mut c = Craft::new(256);
    c.root_leaf(&[Elem::inline("b", 0, &[Elem::kv("k", "v")])]);
    c.freelist(if no_freelist { Freelist::Absent } else { Freelist::Ids(Vec::new()) });
    c.hwm(1 << bits);
    let (name, what) = match (bits, no_freelist) {
        (24, false) => ("sparse_24", "page size 256, hwm 2^24 (4 GiB apparent), an empty stored freelist"),
        (24, true) => ("sparse_24_nofl", "page size 256, hwm 2^24 (4 GiB apparent), no stored freelist"),
        (_, false) => ("sparse_26", "page size 256, hwm 2^26 (16 GiB apparent), an empty stored freelist"),
        (_, true) => ("sparse_26_nofl", "page size 256, hwm 2^26 (16 GiB apparent), no stored freelist"),
    };
    Case { name, what, image: c.finish(), sound: no_freelist, probe: probe(&["b"], b"k") }
}

/// A leaf of 60,000 elements whose values all run from just after their key to the end of one
/// shared 1 MiB region.
fn overlap_values() -> Case {
    const N: usize = 60_000;
    const REGION: usize = 1 << 20;
    let mut c = Craft::new(4096);
    let data_start = 16 + 16 * N;
    let end = data_start + 4 * N + REGION;
    let elems: Vec<RawElem> = (0..N)
        .map(|i| {
            let key_at = data_start + 4 * i;
            RawElem { flags: 0, pos: (key_at - (16 + 16 * i)) as u32, ksize: 4, vsize: (end - key_at - 4) as u32 }
        })
        .collect();
    let mut data: Vec<u8> = (0..N as u32).flat_map(u32::to_be_bytes).collect();
    data.extend((0..REGION).map(|i| (i % 251) as u8));
    let o = c.add(raw_leaf(&elems, &data));
    c.root_leaf(&[Elem::bucket("o", o, 0)]);
    Case {
        name: "overlap_values",
        what: "a leaf of 60,000 elements whose values all overlap one 1 MiB region",
        image: c.finish(),
        sound: false,
        probe: probe(&["o"], b"\x00\x00\x00\x01"),
    }
}

/// A sound file with two free pages, except that the freelist page's header names the root
/// leaf's page id.
fn freelist_wrong_id() -> Case {
    let mut c = Craft::new(4096);
    let elems: Vec<Elem> = (0..100).map(|i| Elem::kv(key(i), [1u8; 20])).collect();
    let t = c.tree(&elems, 40);
    let free = c.alloc(2);
    let root = c.root_leaf(&[Elem::bucket("t", t, 0)]);
    c.freelist(Freelist::Ids(vec![free, free + 1]));
    c.freelist_header_id(root);
    Case {
        name: "freelist_wrong_id",
        what: "the freelist page's header id names the root leaf's page",
        image: c.finish(),
        sound: false,
        probe: probe(&["t"], b"key00001"),
    }
}

/// A leaf holding the same key twice, with different values.
fn dup_keys() -> Case {
    let mut c = Craft::new(4096);
    let d = c.add(leaf(&[Elem::kv("a", "1"), Elem::kv("b", "2"), Elem::kv("b", "3"), Elem::kv("c", "4")]));
    c.root_leaf(&[Elem::bucket("d", d, 0)]);
    Case {
        name: "dup_keys",
        what: "a leaf holding key b twice (values 2 and 3)",
        image: c.finish(),
        sound: false,
        probe: probe(&["d"], b"b"),
    }
}

/// A leaf whose keys are not in order.
fn unsorted_keys() -> Case {
    let mut c = Craft::new(4096);
    let u = c.add(leaf(&[Elem::kv("a", "1"), Elem::kv("c", "3"), Elem::kv("b", "2"), Elem::kv("d", "4")]));
    c.root_leaf(&[Elem::bucket("u", u, 0)]);
    Case {
        name: "unsorted_keys",
        what: "a leaf whose keys run a, c, b, d",
        image: c.finish(),
        sound: false,
        probe: probe(&["u"], b"b"),
    }
}
