//! Pages: bbolt's on-disk unit, and bounds-checked views of their elements.
//!
//! Layout (format doc, sections 3, 5, 6; the structs are in [`crate::format::layout`]): a 16-byte
//! header (`id` u64, `flags` u16, `count` u16, `overflow` u32), then `count` 16-byte element
//! headers, then keys and values. Integers are little-endian. Nothing read from a page is
//! trusted: a [`NodeView`] checks once that the header and the whole element-header array fit
//! in the page (zerocopy's `ref_from_prefix_with_elems`) and then indexes that array; every key
//! and value span is checked against the page's bytes; a violation is [`Error::Corrupted`]
//! naming the page.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::FromBytes;

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result};
use crate::format::layout;

/// Size of the page header.
pub const PAGE_HEADER_SIZE: usize = size_of::<layout::PageHeader>();
/// Size of a branch or leaf element header.
pub const ELEMENT_SIZE: usize = size_of::<layout::LeafElement>();
const _: () = assert!(size_of::<layout::BranchElement>() == ELEMENT_SIZE);
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
    /// Reads the header at the start of `b`, which holds page `page`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `page` if `b` is shorter than a header.
    #[inline]
    pub fn read(b: &[u8], page: PageId) -> Result<PageHeader> {
        let (h, _) = layout::read::<layout::PageHeader>(b, page, "page header")?;
        Ok(PageHeader::from_disk(h))
    }
    /// Writes the header at the start of `b`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming the header's page if `b` is shorter than a header.
    pub fn write(&self, b: &mut [u8]) -> Result<()> {
        let (h, _) = layout::write::<layout::PageHeader>(b, self.id, "page header")?;
        *h = self.to_disk();
        Ok(())
    }
    /// The header as stored.
    #[inline]
    pub(crate) fn from_disk(h: &layout::PageHeader) -> PageHeader {
        PageHeader { id: h.id.get(), flags: h.flags.get(), count: h.count.get(), overflow: h.overflow.get() }
    }
    /// The header to store.
    pub(crate) fn to_disk(self) -> layout::PageHeader {
        layout::PageHeader {
            id: U64::new(self.id),
            flags: U16::new(self.flags),
            count: U16::new(self.count),
            overflow: U32::new(self.overflow),
        }
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

/// Where an element header says its key lies: its `pos` (from the element header's start) and
/// `ksize`, for the binary search over either kind of node.
trait KeySpan {
    fn key_span(&self) -> (u32, u32);
}

impl KeySpan for layout::LeafElement {
    #[inline(always)]
    fn key_span(&self) -> (u32, u32) {
        (self.pos.get(), self.ksize.get())
    }
}

impl KeySpan for layout::BranchElement {
    #[inline(always)]
    fn key_span(&self) -> (u32, u32) {
        (self.pos.get(), self.ksize.get())
    }
}

/// Offset of element header `i` from the start of its page.
#[inline(always)]
fn elem_offset(i: usize) -> usize {
    PAGE_HEADER_SIZE + i * ELEMENT_SIZE
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
    /// The element headers of a leaf (empty for a branch), checked to lie in `bytes`.
    leaves: &'a [layout::LeafElement],
    /// The element headers of a branch (empty for a leaf), checked to lie in `bytes`.
    branches: &'a [layout::BranchElement],
}

impl<'a> NodeView<'a> {
    /// Checks the header of `bytes` and that its element headers fit, and wraps it. Keys and
    /// values are checked on access.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `pgid` if `bytes` is shorter than a page header, is neither
    /// a branch nor a leaf, or is too short for the element headers its count promises.
    pub fn new(bytes: &'a [u8], pgid: PageId) -> Result<Self> {
        Self::with_header(bytes, pgid, PageHeader::read(bytes, pgid)?)
    }

    /// As [`NodeView::new`], with the page's header already read from `bytes`.
    #[inline]
    pub(crate) fn with_header(bytes: &'a [u8], pgid: PageId, h: PageHeader) -> Result<Self> {
        let count = usize::from(h.count);
        let too_many = || Error::corrupted(pgid, Corruption::TooManyElements { count });
        if h.flags & LEAF_FLAG != 0 {
            let (node, _) = layout::LeafNode::ref_from_prefix_with_elems(bytes, count).map_err(|_| too_many())?;
            Ok(NodeView { bytes, pgid, leaf: true, leaves: &node.elems, branches: &[] })
        } else if h.flags & BRANCH_FLAG != 0 {
            let (node, _) = layout::BranchNode::ref_from_prefix_with_elems(bytes, count).map_err(|_| too_many())?;
            Ok(NodeView { bytes, pgid, leaf: false, leaves: &[], branches: &node.elems })
        } else {
            Err(Error::corrupted(pgid, Corruption::InvalidType { flags: h.flags }))
        }
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.leaves.len() + self.branches.len()
    }
    /// Whether the node has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the keys (and in a leaf, the values) that the element headers announce: the
    /// node's data when its elements are sound (for statistics; spans are not checked here).
    pub fn data_len(&self) -> u64 {
        let leaves = self.leaves.iter().map(|e| u64::from(e.ksize.get()) + u64::from(e.vsize.get()));
        leaves.chain(self.branches.iter().map(|e| u64::from(e.ksize.get()))).sum()
    }

    /// Checks that the keys and values the element headers announce add up to no more than
    /// the node's bytes: elements whose data overlap could otherwise make a page of a few
    /// kilobytes yield gigabytes to a reader that copies or prints them all. O(elements), no
    /// data read: readers that take every element of a node (cursors, the writer loading a
    /// node, the check) call it; point lookups, which take one, do not need to.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming the page: the first element whose data lies outside the
    /// node, if one does ([`Corruption::ElementOutOfSpan`], as reading it would say), else
    /// [`Corruption::DataOverlap`].
    pub fn check_data(&self) -> Result<()> {
        let total = self.data_len();
        if total > self.bytes.len() as u64 {
            return Err(self.data_error(total));
        }
        Ok(())
    }

    #[cold]
    fn data_error(&self, total: u64) -> Error {
        for i in 0..self.len() {
            let e = if self.leaf { self.leaf_elem(i).err() } else { self.branch_elem(i).err() };
            if let Some(e) = e {
                return e;
            }
        }
        Error::corrupted(self.pgid, Corruption::DataOverlap { total, span: self.bytes.len() })
    }

    /// The bytes `pos .. pos + len` counted from the start of element header `i`.
    #[inline]
    fn span(&self, i: usize, pos: u32, len: usize) -> Result<&'a [u8]> {
        let start = elem_offset(i).saturating_add(pos as usize);
        let end = start.saturating_add(len);
        match self.bytes.get(start..end) {
            Some(s) => Ok(s),
            None => Err(self.out_of_span(start, end)),
        }
    }

    #[cold]
    fn out_of_span(&self, start: usize, end: usize) -> Error {
        Error::corrupted(self.pgid, Corruption::ElementOutOfSpan { start, end, span: self.bytes.len() })
    }

    /// The leaf element `i`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming the page if this is a branch, if there is no element `i`, or
    /// if the element's key and value do not lie within the node's bytes.
    #[inline]
    pub fn leaf_elem(&self, i: usize) -> Result<LeafElem<'a>> {
        let Some(e) = self.leaves.get(i) else {
            return Err(self.no_elem("leaf", i));
        };
        let (ksize, vsize) = (e.ksize.get() as usize, e.vsize.get() as usize);
        let kv = self.span(i, e.pos.get(), ksize.saturating_add(vsize))?;
        let (key, value) = kv.split_at(ksize);
        Ok(LeafElem { flags: e.flags.get(), key, value })
    }

    /// The branch element `i`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming the page if this is a leaf, if there is no element `i`, or
    /// if the element's key does not lie within the node's bytes.
    #[inline]
    pub fn branch_elem(&self, i: usize) -> Result<BranchElem<'a>> {
        let Some(e) = self.branches.get(i) else {
            return Err(self.no_elem("branch", i));
        };
        let key = self.span(i, e.pos.get(), e.ksize.get() as usize)?;
        Ok(BranchElem { key, pgid: e.pgid.get() })
    }

    /// The child page of branch element `i` (its key is not read).
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming the page if this is a leaf or there is no element `i`.
    #[inline]
    pub fn child(&self, i: usize) -> Result<PageId> {
        match self.branches.get(i) {
            Some(e) => Ok(e.pgid.get()),
            None => Err(self.no_elem("branch", i)),
        }
    }

    #[cold]
    fn no_elem(&self, kind: &'static str, index: usize) -> Error {
        Error::corrupted(self.pgid, Corruption::NoElement { kind, index })
    }

    /// The key of element `i`, for either node type.
    ///
    /// # Errors
    /// As [`NodeView::leaf_elem`] or [`NodeView::branch_elem`].
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
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming the page if a key the search compares lies outside the
    /// node's bytes.
    #[inline]
    pub fn search(&self, key: &[u8]) -> Result<(usize, bool)> {
        if self.leaf {
            self.search_in(self.leaves, key)
        } else {
            self.search_in(self.branches, key)
        }
    }

    /// [`NodeView::search`] over this node's element headers (checked to fit by `new`).
    #[inline]
    fn search_in<E: KeySpan>(&self, elems: &[E], key: &[u8]) -> Result<(usize, bool)> {
        // Most steps are decided by the first eight bytes, compared as one integer.
        let want = key_prefix(key);
        let (mut lo, mut hi) = (0usize, elems.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let Some(e) = elems.get(mid) else { break };
            let (pos, ksize) = e.key_span();
            let start = elem_offset(mid).saturating_add(pos as usize);
            let end = start.saturating_add(ksize as usize);
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
    ///
    /// # Errors
    /// As [`NodeView::search`].
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
    elem_offset(elems) + data
}

/// The error for a node buffer too short for what is written into it.
#[cold]
fn no_room(id: PageId, len: usize, needed: usize) -> Error {
    Error::corrupted(id, format!("a node of {needed} bytes does not fit its buffer of {len} bytes"))
}

/// A position or length for an element header (a node past 4 GiB cannot be stored).
fn field(id: PageId, n: usize) -> Result<U32> {
    u32::try_from(n).map(U32::new).map_err(|_| Error::corrupted(id, format!("{n} does not fit an element field")))
}

/// The element count for a node's header (a node holds fewer than 65536 elements).
fn count_field(id: PageId, count: usize) -> Result<u16> {
    u16::try_from(count).map_err(|_| Error::corrupted(id, format!("{count} elements do not fit a page header")))
}

/// Writes a leaf node into `buf` (already zeroed, at least [`node_size`] bytes), Go's element
/// order: element headers first, then each key followed by its value.
///
/// # Errors
/// [`Error::Corrupted`] naming `id` if `buf` is too short for the elements, if there are more
/// than 65535 of them, or if a position or size does not fit the 32-bit fields of an element
/// header.
pub fn write_leaf<'e, I>(buf: &mut [u8], id: PageId, overflow: u32, elems: I) -> Result<()>
where
    I: ExactSizeIterator<Item = LeafElem<'e>>,
{
    let (count, len) = (elems.len(), buf.len());
    let (node, data) =
        layout::LeafNode::mut_from_prefix_with_elems(buf, count).map_err(|_| no_room(id, len, node_size(count, 0)))?;
    node.header = PageHeader { id, flags: LEAF_FLAG, count: count_field(id, count)?, overflow }.to_disk();
    let mut at = 0;
    for (i, (slot, e)) in node.elems.iter_mut().zip(elems).enumerate() {
        let end = at + e.key.len() + e.value.len();
        let Some(kv) = data.get_mut(at..end) else { return Err(no_room(id, len, node_size(count, end))) };
        *slot = layout::LeafElement {
            flags: U32::new(e.flags),
            pos: field(id, node_size(count, at) - elem_offset(i))?,
            ksize: field(id, e.key.len())?,
            vsize: field(id, e.value.len())?,
        };
        let (k, v) = kv.split_at_mut(e.key.len());
        k.copy_from_slice(e.key);
        v.copy_from_slice(e.value);
        at = end;
    }
    Ok(())
}

/// Writes a branch node into `buf` (already zeroed, at least [`node_size`] bytes).
///
/// # Errors
/// As [`write_leaf`].
pub fn write_branch<'e, I>(buf: &mut [u8], id: PageId, overflow: u32, elems: I) -> Result<()>
where
    I: ExactSizeIterator<Item = BranchElem<'e>>,
{
    let (count, len) = (elems.len(), buf.len());
    let (node, data) = layout::BranchNode::mut_from_prefix_with_elems(buf, count)
        .map_err(|_| no_room(id, len, node_size(count, 0)))?;
    node.header = PageHeader { id, flags: BRANCH_FLAG, count: count_field(id, count)?, overflow }.to_disk();
    let mut at = 0;
    for (i, (slot, e)) in node.elems.iter_mut().zip(elems).enumerate() {
        let end = at + e.key.len();
        let Some(k) = data.get_mut(at..end) else { return Err(no_room(id, len, node_size(count, end))) };
        *slot = layout::BranchElement {
            pos: field(id, node_size(count, at) - elem_offset(i))?,
            ksize: field(id, e.key.len())?,
            pgid: U64::new(e.pgid),
        };
        k.copy_from_slice(e.key);
        at = end;
    }
    Ok(())
}

/// Gives a node written by [`write_leaf`] or [`write_branch`] its page id `to`, and passes the
/// page ids stored in the elements listed in `elems` through `real`: the children of a branch,
/// the roots in the bucket headers of a leaf (a commit builds nodes under provisional ids and
/// rewrites them once every node has its page).
pub(crate) fn relink(
    buf: &mut [u8],
    to: PageId,
    elems: &[usize],
    real: impl Fn(PageId) -> Result<PageId>,
) -> Result<()> {
    let (h, _) = layout::write::<layout::PageHeader>(buf, to, "page header")?;
    h.id.set(to);
    if elems.is_empty() {
        return Ok(());
    }
    let h = PageHeader::from_disk(h);
    let count = usize::from(h.count);
    let missing = |i: usize| Error::corrupted(to, format!("no element {i} to relink"));
    if h.flags & BRANCH_FLAG != 0 {
        let len = buf.len();
        let (node, _) = layout::BranchNode::mut_from_prefix_with_elems(buf, count)
            .map_err(|_| no_room(to, len, node_size(count, 0)))?;
        for &i in elems {
            let e = node.elems.get_mut(i).ok_or_else(|| missing(i))?;
            e.pgid.set(real(e.pgid.get())?);
        }
        return Ok(());
    }
    // A leaf: each listed element's value is a bucket header, right after its key.
    let view = NodeView::new(buf, to)?;
    let headers = elems.iter().map(|&i| {
        let e = view.leaves.get(i).ok_or_else(|| missing(i))?;
        Ok(elem_offset(i).saturating_add(e.pos.get() as usize).saturating_add(e.ksize.get() as usize))
    });
    for at in headers.collect::<Result<Vec<usize>>>()? {
        let (b, _) = layout::write::<layout::BucketHeader>(buf.get_mut(at..).unwrap_or_default(), to, "bucket header")?;
        b.root.set(real(b.root.get())?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf<'a>(key: &'a [u8], value: &'a [u8], flags: u32) -> LeafElem<'a> {
        LeafElem { flags, key, value }
    }

    #[test]
    fn written_nodes_read_back() {
        let elems = [leaf(b"a", b"1", 0), leaf(b"bb", b"", 0), leaf(b"ccc", b"333", 0)];
        let mut buf = vec![0u8; node_size(3, 10)];
        write_leaf(&mut buf, 7, 0, elems.iter().copied()).unwrap();
        let v = NodeView::new(&buf, 7).unwrap();
        assert!(v.leaf && v.len() == 3);
        assert_eq!((0..3).map(|i| v.leaf_elem(i).unwrap()).collect::<Vec<_>>(), elems);
        assert_eq!(v.search(b"bb").unwrap(), (1, true));
        assert_eq!(v.search(b"b").unwrap(), (1, false));
        assert!(v.branch_elem(0).is_err() && v.child(0).is_err() && v.leaf_elem(3).is_err());

        let kids = [BranchElem { key: b"a", pgid: 10 }, BranchElem { key: b"m", pgid: 11 }];
        let mut buf = vec![0u8; node_size(2, 2)];
        write_branch(&mut buf, 8, 0, kids.iter().copied()).unwrap();
        let v = NodeView::new(&buf, 8).unwrap();
        assert_eq!((0..2).map(|i| v.branch_elem(i).unwrap()).collect::<Vec<_>>(), kids);
        assert_eq!((v.child(1).unwrap(), v.child_index(b"z").unwrap()), (11, 1));
        assert!(v.leaf_elem(0).is_err());
    }

    #[test]
    fn short_buffers_and_pages_are_errors() {
        let elems = [leaf(b"key", b"value", 0)];
        let mut buf = vec![0u8; node_size(1, 8) - 1];
        assert!(write_leaf(&mut buf, 7, 0, elems.iter().copied()).is_err());
        let mut buf = vec![0u8; node_size(1, 8)];
        write_leaf(&mut buf, 7, 0, elems.iter().copied()).unwrap();
        // The element array must fit: a page cut inside it is refused when viewed.
        assert!(matches!(NodeView::new(&buf[..31], 7), Err(Error::Corrupted { page: 7, .. })));
        assert!(matches!(NodeView::new(&buf[..15], 7), Err(Error::Corrupted { page: 7, .. })));
        // A page cut after the array but inside the data: the view is made, the element is not.
        let v = NodeView::new(&buf[..33], 7).unwrap();
        assert!(v.leaf_elem(0).is_err() && v.search(b"key").is_err());
        assert!(PageHeader::read(&buf[..15], 7).is_err());
    }

    #[test]
    fn relink_rewrites_children_and_bucket_roots() {
        let kids = [BranchElem { key: b"a", pgid: 1 << 62 }, BranchElem { key: b"b", pgid: 5 }];
        let mut buf = vec![0u8; 4096];
        write_branch(&mut buf, 1 << 62, 0, kids.iter().copied()).unwrap();
        relink(&mut buf, 9, &[0], |p| Ok(p - (1 << 62) + 100)).unwrap();
        let v = NodeView::new(&buf, 9).unwrap();
        assert_eq!((PageHeader::read(&buf, 9).unwrap().id, v.child(0).unwrap(), v.child(1).unwrap()), (9, 100, 5));

        let header = layout::BucketHeader { root: U64::new(1 << 62), sequence: U64::new(4) };
        let value = zerocopy::IntoBytes::as_bytes(&header);
        let elems = [leaf(b"plain", b"x", 0), leaf(b"sub", value, BUCKET_LEAF_FLAG)];
        let mut buf = vec![0u8; 4096];
        write_leaf(&mut buf, 3, 0, elems.iter().copied()).unwrap();
        relink(&mut buf, 12, &[1], |p| Ok(p - (1 << 62) + 200)).unwrap();
        let e = NodeView::new(&buf, 12).unwrap().leaf_elem(1).unwrap();
        let b = crate::format::bucket::decode_bucket(e.value, 12).unwrap();
        assert!(matches!(b.root, crate::format::bucket::DiskRoot::Paged(200)) && b.sequence == 4);
        assert!(relink(&mut buf, 12, &[2], Ok).is_err());
    }

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
