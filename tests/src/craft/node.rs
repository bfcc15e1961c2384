//! Byte encoders for the structures of docs/format.md, written from the document and not from
//! the engine's own code: page headers (section 3), metas with their FNV-1a checksum (section
//! 4), branch and leaf nodes (sections 5 and 6), bucket headers and inline page images (section
//! 7), and freelist pages (section 8). Everything is little-endian and unaligned.
//!
//! Encoders here lay out exactly what they are given: they do not sort keys, check sizes or
//! refuse anything, so that damaged structures are as easy to write as sound ones.

/// Page flag of a branch node.
pub const BRANCH: u16 = 0x01;
/// Page flag of a leaf node (also the page image of an inline bucket).
pub const LEAF: u16 = 0x02;
/// Page flag of the two meta pages.
pub const META: u16 = 0x04;
/// Page flag of the freelist page.
pub const FREELIST: u16 = 0x10;
/// Leaf element flag: the value is a bucket header.
pub const BUCKET_ELEM: u32 = 0x01;
/// The meta's magic number.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The format version.
pub const VERSION: u32 = 2;
/// The meta's `freelist` field when no freelist is stored.
pub const NO_FREELIST: u64 = u64::MAX;
/// Size of a page header, and of one branch or leaf element header.
pub const HEADER: usize = 16;

pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// FNV-1a, 64 bits (the meta checksum).
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A 16-byte page header: id, flags, count, overflow.
pub fn page_header(id: u64, flags: u16, count: u16, overflow: u32) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    put64(&mut h, 0, id);
    put16(&mut h, 8, flags);
    put16(&mut h, 10, count);
    put32(&mut h, 12, overflow);
    h
}

/// One leaf element: flags (0 or [`BUCKET_ELEM`]), key and value bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elem {
    /// 0 for plain data, [`BUCKET_ELEM`] for a bucket header.
    pub flags: u32,
    /// The key.
    pub key: Vec<u8>,
    /// The value (for a bucket: its header, and for an inline bucket its page image).
    pub value: Vec<u8>,
}

impl Elem {
    /// A plain key/value pair.
    pub fn kv(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Elem {
        Elem { flags: 0, key: key.as_ref().to_vec(), value: value.as_ref().to_vec() }
    }

    /// A paged bucket: its tree's root page and its sequence.
    pub fn bucket(key: impl AsRef<[u8]>, root: u64, sequence: u64) -> Elem {
        Elem { flags: BUCKET_ELEM, key: key.as_ref().to_vec(), value: bucket_header(root, sequence).to_vec() }
    }

    /// An inline bucket holding `elems` (laid out in the order given).
    pub fn inline(key: impl AsRef<[u8]>, sequence: u64, elems: &[Elem]) -> Elem {
        let mut value = bucket_header(0, sequence).to_vec();
        value.extend(leaf(elems));
        Elem { flags: BUCKET_ELEM, key: key.as_ref().to_vec(), value }
    }

    /// Whether the value is a bucket header.
    pub fn is_bucket(&self) -> bool {
        self.flags & BUCKET_ELEM != 0
    }
}

/// A bucket header: root page (0: inline) and sequence.
pub fn bucket_header(root: u64, sequence: u64) -> [u8; 16] {
    let mut h = [0u8; 16];
    put64(&mut h, 0, root);
    put64(&mut h, 8, sequence);
    h
}

/// A leaf node (header id 0, overflow 0: [`crate::craft::Craft::put`] sets both): the element
/// headers, then each key followed by its value, in the order given.
pub fn leaf(elems: &[Elem]) -> Vec<u8> {
    let mut b = page_header(0, LEAF, elems.len() as u16, 0).to_vec();
    let data_start = HEADER + HEADER * elems.len();
    let mut data = Vec::new();
    for (i, e) in elems.iter().enumerate() {
        let here = HEADER + HEADER * i;
        let mut eh = [0u8; HEADER];
        put32(&mut eh, 0, e.flags);
        put32(&mut eh, 4, (data_start + data.len() - here) as u32);
        put32(&mut eh, 8, e.key.len() as u32);
        put32(&mut eh, 12, e.value.len() as u32);
        b.extend_from_slice(&eh);
        data.extend_from_slice(&e.key);
        data.extend_from_slice(&e.value);
    }
    b.extend(data);
    b
}

/// A branch node (header id 0, overflow 0): `(key, child page)` element headers, then the keys.
pub fn branch(children: &[(Vec<u8>, u64)]) -> Vec<u8> {
    let mut b = page_header(0, BRANCH, children.len() as u16, 0).to_vec();
    let data_start = HEADER + HEADER * children.len();
    let mut data = Vec::new();
    for (i, (key, child)) in children.iter().enumerate() {
        let here = HEADER + HEADER * i;
        let mut eh = [0u8; HEADER];
        put32(&mut eh, 0, (data_start + data.len() - here) as u32);
        put32(&mut eh, 4, key.len() as u32);
        put64(&mut eh, 8, *child);
        b.extend_from_slice(&eh);
        data.extend_from_slice(key);
    }
    b.extend(data);
    b
}

/// A leaf element header given field by field: flags, pos (from this header to the key), ksize,
/// vsize.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawElem {
    /// Element flags.
    pub flags: u32,
    /// Distance from the start of this element header to its key.
    pub pos: u32,
    /// Key length.
    pub ksize: u32,
    /// Value length (the value follows the key).
    pub vsize: u32,
}

/// A leaf whose element headers are given verbatim, followed by `data` (which the headers'
/// `pos` fields are expected to point into): for overlapping or out-of-span elements.
pub fn raw_leaf(elems: &[RawElem], data: &[u8]) -> Vec<u8> {
    let mut b = page_header(0, LEAF, elems.len() as u16, 0).to_vec();
    for e in elems {
        let mut eh = [0u8; HEADER];
        put32(&mut eh, 0, e.flags);
        put32(&mut eh, 4, e.pos);
        put32(&mut eh, 8, e.ksize);
        put32(&mut eh, 12, e.vsize);
        b.extend_from_slice(&eh);
    }
    b.extend_from_slice(data);
    b
}

/// A freelist page listing `ids` as given (short form below 0xFFFF ids, else the long form
/// with the count after the header); header id 0 and overflow 0 until placed.
pub fn freelist(ids: &[u64]) -> Vec<u8> {
    let long = ids.len() >= 0xFFFF;
    let count = if long { 0xFFFF } else { ids.len() as u16 };
    let mut b = page_header(0, FREELIST, count, 0).to_vec();
    if long {
        b.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    }
    for id in ids {
        b.extend_from_slice(&id.to_le_bytes());
    }
    b
}

/// The fields of a meta page (section 4), in their on-disk order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaFields {
    /// [`MAGIC`].
    pub magic: u32,
    /// [`VERSION`].
    pub version: u32,
    /// The page size.
    pub page_size: u32,
    /// Unused, 0.
    pub flags: u32,
    /// Root page of the root bucket.
    pub root: u64,
    /// The root bucket's sequence.
    pub root_sequence: u64,
    /// Freelist page, or [`NO_FREELIST`].
    pub freelist: u64,
    /// High-water mark: pages in use.
    pub hwm: u64,
    /// The transaction that wrote this meta.
    pub txid: u64,
}

impl MetaFields {
    /// The 56 checksummed bytes.
    pub fn bytes(&self) -> [u8; 56] {
        let mut b = [0u8; 56];
        put32(&mut b, 0, self.magic);
        put32(&mut b, 4, self.version);
        put32(&mut b, 8, self.page_size);
        put32(&mut b, 12, self.flags);
        put64(&mut b, 16, self.root);
        put64(&mut b, 24, self.root_sequence);
        put64(&mut b, 32, self.freelist);
        put64(&mut b, 40, self.hwm);
        put64(&mut b, 48, self.txid);
        b
    }

    /// The whole meta page `id` (0 or 1) of `page_size` bytes, with a valid checksum.
    pub fn page(&self, id: u64, page_size: usize) -> Vec<u8> {
        let mut p = vec![0u8; page_size.max(80)];
        p[..HEADER].copy_from_slice(&page_header(id, META, 0, 0));
        let fields = self.bytes();
        p[16..72].copy_from_slice(&fields);
        put64(&mut p, 72, fnv1a64(&fields));
        p.truncate(page_size);
        p
    }
}
