//! Raw file access, independent of the engine's own page code: little-endian byte helpers
//! (format doc section 1), meta pages (section 4) and page parsing (sections 3, 5, 6, 7, 8).

use rivet_engine::format::meta::fnv1a64;

// ---------------------------------------------------------------------------------------------
// Byte helpers (little-endian, format doc section 1).

pub(crate) fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}
pub(crate) fn get32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
pub(crate) fn get64(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
pub(crate) fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) const MAGIC: u32 = 0xED0C_DAED;
pub(crate) const BRANCH: u16 = 0x01;
pub(crate) const LEAF: u16 = 0x02;
pub(crate) const FREELIST: u16 = 0x10;
pub(crate) const NO_FREELIST: u64 = u64::MAX;

// Meta field offsets within a meta page (format doc section 4).
pub(crate) const M_VERSION: usize = 20;
pub(crate) const M_PAGE_SIZE: usize = 24;
pub(crate) const M_ROOT: usize = 32;
pub(crate) const M_FREELIST: usize = 48;
pub(crate) const M_HWM: usize = 56;
pub(crate) const M_TXID: usize = 64;
pub(crate) const M_CHECKSUM: usize = 72;

/// A meta page as parsed from raw bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawMeta {
    pub(crate) page: u64,
    pub(crate) root: u64,
    pub(crate) freelist: u64,
    pub(crate) hwm: u64,
    pub(crate) txid: u64,
    pub(crate) valid: bool,
}

/// The page size stored in meta 0 (call before damaging meta 0).
pub(crate) fn page_size_of(img: &[u8]) -> usize {
    get32(img, M_PAGE_SIZE) as usize
}

pub(crate) fn raw_meta(img: &[u8], page: u64, ps: usize) -> RawMeta {
    let o = page as usize * ps;
    let cks = get64(img, o + M_CHECKSUM);
    let valid = get32(img, o + 16) == MAGIC
        && get32(img, o + M_VERSION) == 2
        && (cks == 0 || cks == fnv1a64(&img[o + 16..o + 72]));
    RawMeta {
        page,
        root: get64(img, o + M_ROOT),
        freelist: get64(img, o + M_FREELIST),
        hwm: get64(img, o + M_HWM),
        txid: get64(img, o + M_TXID),
        valid,
    }
}

/// The meta a reader must use: the valid one with the highest txid.
pub(crate) fn active_meta(img: &[u8], ps: usize) -> RawMeta {
    let a = raw_meta(img, 0, ps);
    let b = raw_meta(img, 1, ps);
    match (a.valid, b.valid) {
        (true, true) => {
            if b.txid > a.txid {
                b
            } else {
                a
            }
        }
        (true, false) => a,
        (false, true) => b,
        (false, false) => panic!("test image has no valid meta"),
    }
}

/// Recomputes the checksum of meta page `page` (FNV-1a 64 of page bytes 16..72, at 72..80).
pub(crate) fn fix_checksum(img: &mut [u8], page: u64, ps: usize) {
    let o = page as usize * ps;
    let c = fnv1a64(&img[o + 16..o + 72]);
    put64(img, o + M_CHECKSUM, c);
}

// ---------------------------------------------------------------------------------------------
// Raw page parsing (format doc sections 3, 5, 6, 7, 8).

#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub(crate) id: u64,
    pub(crate) flags: u16,
    pub(crate) count: u16,
    pub(crate) overflow: u32,
}

pub(crate) fn header(img: &[u8], ps: usize, id: u64) -> Header {
    let o = id as usize * ps;
    Header { id: get64(img, o), flags: get16(img, o + 8), count: get16(img, o + 10), overflow: get32(img, o + 12) }
}

/// A branch element: absolute offset of its element header, and its child.
#[derive(Debug, Clone)]
pub(crate) struct BranchElem {
    pub(crate) off: usize,
    pub(crate) pgid: u64,
}

/// A leaf element: its flags, the absolute offset of its key, and the key's length.
#[derive(Debug, Clone)]
pub(crate) struct LeafElem {
    pub(crate) flags: u32,
    pub(crate) key_off: usize,
    pub(crate) ksize: usize,
}

pub(crate) fn branch_elems(img: &[u8], ps: usize, id: u64) -> Vec<BranchElem> {
    let h = header(img, ps, id);
    (0..h.count as usize)
        .map(|i| {
            let off = id as usize * ps + 16 + 16 * i;
            BranchElem { off, pgid: get64(img, off + 8) }
        })
        .collect()
}

fn leaf_elems_at(img: &[u8], page_off: usize, count: usize) -> Vec<LeafElem> {
    (0..count)
        .map(|i| {
            let off = page_off + 16 + 16 * i;
            LeafElem {
                flags: get32(img, off),
                key_off: off + get32(img, off + 4) as usize,
                ksize: get32(img, off + 8) as usize,
            }
        })
        .collect()
}

pub(crate) fn leaf_elems(img: &[u8], ps: usize, id: u64) -> Vec<LeafElem> {
    let h = header(img, ps, id);
    leaf_elems_at(img, id as usize * ps, h.count as usize)
}

/// The pages of every paged bucket reachable from the active meta (an undamaged image).
#[derive(Debug, Default)]
pub(crate) struct Tree {
    /// Branch pages, with their level below their bucket's root (0 = root).
    pub(crate) branches: Vec<(u64, usize)>,
    /// Leaf pages, with the root page of the bucket they belong to.
    pub(crate) leaves: Vec<(u64, u64)>,
    /// Every page a tree node occupies (overflow pages included).
    pub(crate) used: Vec<u64>,
}

pub(crate) fn walk_tree(img: &[u8], ps: usize) -> Tree {
    fn walk(img: &[u8], ps: usize, id: u64, bucket: u64, level: usize, t: &mut Tree) {
        let h = header(img, ps, id);
        assert_eq!(h.id, id, "test image: page {id} has header id {}", h.id);
        t.used.extend(id..=id + u64::from(h.overflow));
        if h.flags & BRANCH != 0 {
            t.branches.push((id, level));
            for e in branch_elems(img, ps, id) {
                walk(img, ps, e.pgid, bucket, level + 1, t);
            }
        } else {
            assert!(h.flags & LEAF != 0, "test image: page {id} flags {:#x}", h.flags);
            t.leaves.push((id, bucket));
            for e in leaf_elems(img, ps, id) {
                if e.flags & 1 != 0 {
                    let child = get64(img, e.key_off + e.ksize);
                    if child != 0 {
                        walk(img, ps, child, child, 0, t);
                    }
                }
            }
        }
    }
    let m = active_meta(img, ps);
    let mut t = Tree::default();
    walk(img, ps, m.root, m.root, 0, &mut t);
    t
}

/// The active freelist's ids (normal form only) and the offset of the first id.
pub(crate) fn freelist_ids(img: &[u8], ps: usize) -> (u64, usize, Vec<u64>) {
    let m = active_meta(img, ps);
    assert_ne!(m.freelist, NO_FREELIST, "test image has no stored freelist");
    let h = header(img, ps, m.freelist);
    assert_eq!(h.flags, FREELIST);
    assert_ne!(h.count, 0xFFFF, "test helper reads the normal form only");
    let start = m.freelist as usize * ps + 16;
    let ids = (0..h.count as usize).map(|i| get64(img, start + 8 * i)).collect();
    (m.freelist, start, ids)
}
