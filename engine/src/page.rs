//! Pages: bbolt's on-disk unit, and bounds-checked views of their elements.
//!
//! Layout (format doc, sections 3, 5, 6): a 16-byte header (`id` u64, `flags` u16, `count` u16,
//! `overflow` u32), then `count` 16-byte element headers, then keys and values. Integers are
//! little-endian. Nothing read from a page is trusted: every offset is checked against the
//! page's span and a violation is a [`Error::Corrupted`] naming the page.

use crate::error::{Error, PageId, Result};

/// Size of the page header.
pub const PAGE_HEADER_SIZE: usize = 16;
/// Size of a branch or leaf element header.
pub const ELEMENT_SIZE: usize = 16;
/// Page flag: interior B+tree node.
pub const BRANCH_FLAG: u16 = 0x01;
/// Page flag: B+tree leaf (also the fake page of an inline bucket).
pub const LEAF_FLAG: u16 = 0x02;
/// Page flag: meta page.
pub const META_FLAG: u16 = 0x04;
/// Page flag: freelist page.
pub const FREELIST_FLAG: u16 = 0x10;
/// Leaf element flag: the value is a bucket header.
pub const BUCKET_LEAF_FLAG: u32 = 0x01;

pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}
pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}
pub(crate) fn put_u16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put_u64(b: &mut [u8], off: usize, v: u64) {
    b[off..off + 8].copy_from_slice(&v.to_le_bytes());
}

/// The decoded 16-byte page header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageHeader {
    /// The page id stored in the page (must equal its position).
    pub id: PageId,
    /// One of the `*_FLAG` values.
    pub flags: u16,
    /// Number of elements (or freelist ids, see the freelist module).
    pub count: u16,
    /// Number of additional contiguous pages this page spans.
    pub overflow: u32,
}

impl PageHeader {
    /// Reads the header at the start of `b` (which must hold at least 16 bytes).
    pub fn read(b: &[u8]) -> PageHeader {
        let mut h = [0u8; PAGE_HEADER_SIZE];
        match b.get(..PAGE_HEADER_SIZE) {
            Some(s) => h.copy_from_slice(s),
            None => {
                let n = b.len().min(PAGE_HEADER_SIZE);
                h[..n].copy_from_slice(&b[..n]);
            }
        }
        PageHeader {
            id: u64::from_le_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]),
            flags: u16::from_le_bytes([h[8], h[9]]),
            count: u16::from_le_bytes([h[10], h[11]]),
            overflow: u32::from_le_bytes([h[12], h[13], h[14], h[15]]),
        }
    }
    /// Writes the header at the start of `b`.
    pub fn write(&self, b: &mut [u8]) {
        put_u64(b, 0, self.id);
        put_u16(b, 8, self.flags);
        put_u16(b, 10, self.count);
        put_u32(b, 12, self.overflow);
    }
    /// A short name of the page type, as bbolt's tools print it.
    pub fn type_name(&self) -> &'static str {
        if self.flags & BRANCH_FLAG != 0 {
            "branch"
        } else if self.flags & LEAF_FLAG != 0 {
            "leaf"
        } else if self.flags & META_FLAG != 0 {
            "meta"
        } else if self.flags & FREELIST_FLAG != 0 {
            "freelist"
        } else {
            "unknown"
        }
    }
}

/// One leaf element: a key and either a value or a bucket header (`flags & BUCKET_LEAF_FLAG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafElem<'a> {
    /// Element flags; [`BUCKET_LEAF_FLAG`] marks a sub-bucket.
    pub flags: u32,
    /// The key.
    pub key: &'a [u8],
    /// The value (for a bucket: its header, and for an inline bucket its page image too).
    pub value: &'a [u8],
}

impl LeafElem<'_> {
    /// Whether the value is a sub-bucket.
    pub fn is_bucket(&self) -> bool {
        self.flags & BUCKET_LEAF_FLAG != 0
    }
}

/// One branch element: the first key of a child subtree and the child's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchElem<'a> {
    /// The first key stored in the child's subtree.
    pub key: &'a [u8],
    /// The child page.
    pub pgid: PageId,
}

/// A validated view of a branch or leaf node stored in `bytes` (a page and its overflow, or the
/// page image of an inline bucket).
#[derive(Debug, Clone, Copy)]
pub struct NodeView<'a> {
    bytes: &'a [u8],
    /// The page this node was read from (0 for an inline bucket), used in error messages.
    pub pgid: PageId,
    /// Whether this is a leaf (otherwise a branch).
    pub leaf: bool,
    count: usize,
}

impl<'a> NodeView<'a> {
    /// Checks the header of `bytes` and wraps it. Element bounds are checked on access.
    pub fn new(bytes: &'a [u8], pgid: PageId) -> Result<Self> {
        if bytes.len() < PAGE_HEADER_SIZE {
            return Err(Error::corrupted(pgid, "node shorter than a page header"));
        }
        Self::with_header(bytes, pgid, PageHeader::read(bytes))
    }

    /// As [`NodeView::new`], with the page's header already read from `bytes`.
    pub(crate) fn with_header(bytes: &'a [u8], pgid: PageId, h: PageHeader) -> Result<Self> {
        let leaf = if h.flags & LEAF_FLAG != 0 {
            true
        } else if h.flags & BRANCH_FLAG != 0 {
            false
        } else {
            return Err(Error::corrupted(pgid, format!("expected a branch or leaf page, found flags {:#x}", h.flags)));
        };
        let count = h.count as usize;
        if PAGE_HEADER_SIZE + count * ELEMENT_SIZE > bytes.len() {
            return Err(Error::corrupted(pgid, format!("{count} elements do not fit in the page")));
        }
        Ok(NodeView { bytes, pgid, leaf, count })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count
    }
    /// Whether the node has no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn span(&self, elem_off: usize, pos: u32, len: usize) -> Result<&'a [u8]> {
        let start = elem_off.saturating_add(pos as usize);
        let end = start.saturating_add(len);
        match self.bytes.get(start..end) {
            Some(s) => Ok(s),
            None => Err(self.out_of_span(start, end)),
        }
    }

    #[cold]
    fn out_of_span(&self, start: usize, end: usize) -> Error {
        Error::corrupted(
            self.pgid,
            format!("element data {start}..{end} lies outside the page span of {} bytes", self.bytes.len()),
        )
    }

    /// The 16-byte header of element `i` (callers check `i < count`, which `new` checked fits).
    fn elem_header(&self, i: usize) -> [u8; ELEMENT_SIZE] {
        let off = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        let mut h = [0u8; ELEMENT_SIZE];
        if let Some(s) = self.bytes.get(off..off + ELEMENT_SIZE) {
            h.copy_from_slice(s);
        }
        h
    }

    /// The leaf element `i`. Errors if this is a branch or the element is out of bounds.
    pub fn leaf_elem(&self, i: usize) -> Result<LeafElem<'a>> {
        if !self.leaf || i >= self.count {
            return Err(self.no_elem("leaf", i));
        }
        let h = self.elem_header(i);
        let word = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let (flags, pos, ksize, vsize) = (word(0), word(4), word(8) as usize, word(12) as usize);
        let kv = self.span(PAGE_HEADER_SIZE + i * ELEMENT_SIZE, pos, ksize.saturating_add(vsize))?;
        let (key, value) = kv.split_at(ksize);
        Ok(LeafElem { flags, key, value })
    }

    /// The branch element `i`. Errors if this is a leaf or the element is out of bounds.
    pub fn branch_elem(&self, i: usize) -> Result<BranchElem<'a>> {
        if self.leaf || i >= self.count {
            return Err(self.no_elem("branch", i));
        }
        let h = self.elem_header(i);
        let pos = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let ksize = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let pgid = u64::from_le_bytes([h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]]);
        let key = self.span(PAGE_HEADER_SIZE + i * ELEMENT_SIZE, pos, ksize)?;
        Ok(BranchElem { key, pgid })
    }

    /// The child page of branch element `i` (its key is not read).
    #[inline]
    pub fn child(&self, i: usize) -> Result<PageId> {
        if self.leaf || i >= self.count {
            return Err(self.no_elem("branch", i));
        }
        let off = PAGE_HEADER_SIZE + i * ELEMENT_SIZE + 8;
        Ok(u64_at(self.bytes, off))
    }

    #[cold]
    fn no_elem(&self, kind: &str, i: usize) -> Error {
        Error::corrupted(self.pgid, format!("no {kind} element {i}"))
    }

    /// The key of element `i`, for either node type.
    pub fn key(&self, i: usize) -> Result<&'a [u8]> {
        if self.leaf {
            Ok(self.leaf_elem(i)?.key)
        } else {
            Ok(self.branch_elem(i)?.key)
        }
    }

    /// Binary search: the index of the first element whose key is >= `key` (may be `len()`),
    /// and whether that element's key equals `key`. Only the keys' own spans are checked here
    /// (a value's span is checked when its element is read).
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool)> {
        // The element headers (their span was checked by `new`), and where in a header the
        // key's position and size are.
        let heads = self.bytes.get(PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + self.count * ELEMENT_SIZE).unwrap_or(&[]);
        let at = if self.leaf { 4 } else { 0 };
        // Most steps are decided by the first eight bytes, compared as one integer.
        let want = key_prefix(key);
        let (mut lo, mut hi) = (0usize, heads.len() / ELEMENT_SIZE);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let off = mid * ELEMENT_SIZE;
            let h: [u8; 8] = heads[off + at..off + at + 8].try_into().unwrap_or([0; 8]);
            let pos = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
            let ksize = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
            let start = (PAGE_HEADER_SIZE + off).saturating_add(pos);
            let end = start.saturating_add(ksize);
            let Some(k) = self.bytes.get(start..end) else {
                return Err(self.out_of_span(start, end));
            };
            let p = key_prefix(k);
            let ord = if p != want { p.cmp(&want) } else { compare_keys(k, key) };
            match ord {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Equal => return Ok((mid, true)),
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok((lo, false))
    }

    /// For a branch: the index of the child to descend into for `key` (the last element whose
    /// key is <= `key`, or 0).
    pub fn child_index(&self, key: &[u8]) -> Result<usize> {
        let (i, exact) = self.search(key)?;
        Ok(if exact { i } else { i.saturating_sub(1) })
    }
}

/// The first eight bytes of `k` as a big-endian integer, zero-padded. Two keys whose prefixes
/// differ are ordered as their prefixes (a padding zero only meets a real byte where the
/// shorter key ended, and a key that ends first sorts first); equal prefixes decide nothing.
#[inline]
fn key_prefix(k: &[u8]) -> u64 {
    match k.get(..8) {
        Some(p) => u64::from_be_bytes(p.try_into().unwrap_or([0; 8])),
        None => {
            let mut b = [0u8; 8];
            b[..k.len()].copy_from_slice(k);
            u64::from_be_bytes(b)
        }
    }
}

/// Byte-wise key order (the same as `<[u8]>::cmp`), eight bytes at a time: keys are short, and
/// a call into `memcmp` per step of a binary search cost more than the comparison itself.
#[inline]
pub fn compare_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let (la, lb) = (a.len(), b.len());
    let n = la.min(lb);
    let (a, b) = (&a[..n], &b[..n]);
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(a[i..i + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_be_bytes(b[i..i + 8].try_into().unwrap_or([0; 8]));
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    la.cmp(&lb)
}

/// Serialised size of a node with these elements: header + element headers + keys + values.
pub fn node_size(elems: usize, data: usize) -> usize {
    PAGE_HEADER_SIZE + elems * ELEMENT_SIZE + data
}

/// Writes a leaf node into `buf` (already zeroed and large enough), Go's element order: element
/// headers first, then each key followed by its value.
pub fn write_leaf<'e, I>(buf: &mut [u8], id: PageId, overflow: u32, elems: I)
where
    I: ExactSizeIterator<Item = LeafElem<'e>>,
{
    let count = elems.len();
    PageHeader { id, flags: LEAF_FLAG, count: count as u16, overflow }.write(buf);
    let mut data = PAGE_HEADER_SIZE + count * ELEMENT_SIZE;
    for (i, e) in elems.enumerate() {
        let off = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        put_u32(buf, off, e.flags);
        put_u32(buf, off + 4, (data - off) as u32);
        put_u32(buf, off + 8, e.key.len() as u32);
        put_u32(buf, off + 12, e.value.len() as u32);
        buf[data..data + e.key.len()].copy_from_slice(e.key);
        data += e.key.len();
        buf[data..data + e.value.len()].copy_from_slice(e.value);
        data += e.value.len();
    }
}

/// Writes a branch node into `buf` (already zeroed and large enough).
pub fn write_branch<'e, I>(buf: &mut [u8], id: PageId, overflow: u32, elems: I)
where
    I: ExactSizeIterator<Item = BranchElem<'e>>,
{
    let count = elems.len();
    PageHeader { id, flags: BRANCH_FLAG, count: count as u16, overflow }.write(buf);
    let mut data = PAGE_HEADER_SIZE + count * ELEMENT_SIZE;
    for (i, e) in elems.enumerate() {
        let off = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
        put_u32(buf, off, (data - off) as u32);
        put_u32(buf, off + 4, e.key.len() as u32);
        put_u64(buf, off + 8, e.pgid);
        buf[data..data + e.key.len()].copy_from_slice(e.key);
        data += e.key.len();
    }
}

#[cfg(test)]
mod tests {
    use super::compare_keys;

    #[test]
    fn differing_prefixes_order_as_their_keys() {
        let keys: Vec<Vec<u8>> =
            vec![vec![], vec![0], vec![0, 0], vec![1], vec![1, 0], vec![1, 0, 5], vec![1; 9], vec![1; 8], vec![2, 255]];
        for a in &keys {
            for b in &keys {
                let (pa, pb) = (super::key_prefix(a), super::key_prefix(b));
                if pa != pb {
                    assert_eq!(pa.cmp(&pb), a.cmp(b), "{a:?} vs {b:?}");
                }
            }
        }
    }

    #[test]
    fn compare_keys_is_slice_order() {
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            vec![1],
            vec![255],
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            vec![1, 2, 3, 4, 5, 6, 7, 9],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 0],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18],
            vec![2, 0, 0, 0, 0, 0, 0, 0, 0],
            vec![128; 24],
            vec![128; 25],
        ];
        for a in &keys {
            for b in &keys {
                assert_eq!(compare_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }
}
