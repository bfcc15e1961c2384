//! The on-disk structures, byte for byte: `#[repr(C)]` structs of unaligned little-endian
//! integers that zerocopy lays over a page's bytes (format doc, sections 1, 3 to 8).
//!
//! Every struct here has alignment 1 and no padding, so any byte slice of the right length is
//! a valid one, wherever it starts: a bucket header stored as a leaf value may begin at any byte.
//! Reads go through zerocopy's checked conversions (`ref_from_prefix`, `read_from_prefix`,
//! `ref_from_prefix_with_elems`), so a slice too short for the structure is an error, never a
//! structure padded with zeros; `read` turns that error into [`Error::Corrupted`] naming the
//! page. Writes go through the same structs (`mut_from_prefix`, or a value turned into bytes
//! with `as_bytes`). zerocopy's derives prove the layouts sound: no `unsafe` here.
//!
//! The decoded forms the rest of the engine passes around ([`crate::format::page::PageHeader`],
//! [`crate::format::meta::Meta`], [`crate::format::page::LeafElem`], ...) are built from these.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::error::{Error, PageId, Result};

/// The 16-byte header at the start of every node, freelist and meta page (section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct PageHeader {
    /// The page's own id.
    pub id: U64,
    /// The page type (`*_FLAG` in [`crate::format::page`]).
    pub flags: U16,
    /// Elements of a node; ids of a freelist (0xFFFF: the long form).
    pub count: U16,
    /// Further pages the page continues into.
    pub overflow: U32,
}

/// A branch element header (section 5). The key lies `pos` bytes after the start of this
/// header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BranchElement {
    /// Offset of the key from the start of this element header.
    pub pos: U32,
    /// Length of the key.
    pub ksize: U32,
    /// The child page.
    pub pgid: U64,
}

/// A leaf element header (section 6). The key lies `pos` bytes after the start of this
/// header, and the value right after the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct LeafElement {
    /// Element flags (`BUCKET_LEAF_FLAG`).
    pub flags: U32,
    /// Offset of the key from the start of this element header.
    pub pos: U32,
    /// Length of the key.
    pub ksize: U32,
    /// Length of the value.
    pub vsize: U32,
}

/// A branch page: its header and its element headers (keys follow, reached by `pos`).
#[derive(Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BranchNode {
    /// The page header.
    pub header: PageHeader,
    /// `header.count` element headers.
    pub elems: [BranchElement],
}

/// A leaf page (or the page image of an inline bucket): its header and its element headers.
#[derive(Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct LeafNode {
    /// The page header.
    pub header: PageHeader,
    /// `header.count` element headers.
    pub elems: [LeafElement],
}

/// The meta fields the checksum covers (section 4): the first 56 bytes of the meta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MetaFields {
    /// bbolt's magic number.
    pub magic: U32,
    /// Format version.
    pub version: U32,
    /// The file's page size.
    pub page_size: U32,
    /// Unused flags.
    pub flags: U32,
    /// Root page of the root bucket.
    pub root: U64,
    /// Sequence of the root bucket.
    pub root_sequence: U64,
    /// Freelist page (or `NO_FREELIST`).
    pub freelist: U64,
    /// High-water mark.
    pub pgid: U64,
    /// The transaction that wrote the meta.
    pub txid: U64,
}

/// A meta: its fields and their FNV-1a 64 checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct Meta {
    /// The checksummed fields.
    pub fields: MetaFields,
    /// FNV-1a 64 of `fields`' bytes (0: not checked).
    pub checksum: U64,
}

/// A meta page: the page header, then the meta (zeros follow to the end of the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MetaPage {
    /// The page header.
    pub header: PageHeader,
    /// The meta.
    pub meta: Meta,
}

/// A bucket header, stored as the value of a bucket's leaf element (section 7); the page
/// image of an inline bucket (`root` 0) follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct BucketHeader {
    /// The root page, or 0 for an inline bucket.
    pub root: U64,
    /// The bucket's sequence.
    pub sequence: U64,
}

/// The count that precedes the ids of a freelist holding 0xFFFF ids or more (section 8).
pub type FreelistCount = U64;
/// One page id of a freelist page.
pub type FreelistId = U64;

const _: () = {
    assert!(size_of::<PageHeader>() == 16);
    assert!(size_of::<BranchElement>() == 16);
    assert!(size_of::<LeafElement>() == 16);
    assert!(size_of::<MetaFields>() == 56);
    assert!(size_of::<Meta>() == 64);
    assert!(size_of::<MetaPage>() == 80);
    assert!(size_of::<BucketHeader>() == 16);
};

/// The structure `T` at the start of `bytes` (read in place), or [`Error::Corrupted`] naming
/// `page` when `bytes` is too short to hold it.
#[inline]
pub(crate) fn read<'a, T>(bytes: &'a [u8], page: PageId, what: &'static str) -> Result<(&'a T, &'a [u8])>
where
    T: FromBytes + KnownLayout + Immutable + Unaligned,
{
    T::ref_from_prefix(bytes).map_err(|_| too_short(page, what, size_of::<T>(), bytes.len()))
}

/// The structure `T` at the start of `bytes`, to write in place, or [`Error::Corrupted`] naming
/// `page` when `bytes` is too short to hold it.
#[inline]
pub(crate) fn write<'a, T>(bytes: &'a mut [u8], page: PageId, what: &'static str) -> Result<(&'a mut T, &'a mut [u8])>
where
    T: FromBytes + IntoBytes + KnownLayout + Unaligned,
{
    let len = bytes.len();
    T::mut_from_prefix(bytes).map_err(|_| too_short(page, what, size_of::<T>(), len))
}

/// The error for a structure that does not fit in the bytes it should lie in.
#[cold]
pub(crate) fn too_short(page: PageId, what: &'static str, needed: usize, len: usize) -> Error {
    let (needed, len) = (u32::try_from(needed).unwrap_or(u32::MAX), u32::try_from(len).unwrap_or(u32::MAX));
    Error::corrupted(page, crate::corruption::Corruption::TooShort { what, needed, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_little_endian_at_their_offsets() {
        let h = PageHeader { id: U64::new(0x0102), flags: U16::new(0x10), count: U16::new(3), overflow: U32::new(7) };
        assert_eq!(h.as_bytes(), &[2, 1, 0, 0, 0, 0, 0, 0, 0x10, 0, 3, 0, 7, 0, 0, 0]);
        let e = BranchElement { pos: U32::new(16), ksize: U32::new(2), pgid: U64::new(9) };
        assert_eq!(e.as_bytes(), &[16, 0, 0, 0, 2, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn short_slices_are_errors_not_zeros() {
        let bytes = [0u8; 15];
        assert!(matches!(read::<PageHeader>(&bytes, 4, "page header"), Err(Error::Corrupted { page: 4, .. })));
        assert!(read::<PageHeader>(&[0u8; 16], 4, "page header").is_ok());
        assert!(LeafNode::ref_from_prefix_with_elems(&[0u8; 47], 2).is_err());
        let (node, rest) = LeafNode::ref_from_prefix_with_elems(&[0u8; 50], 2).expect("fits");
        assert_eq!((node.elems.len(), rest.len()), (2, 2));
        let mut buf = [0u8; 8];
        assert!(write::<BucketHeader>(&mut buf, 0, "bucket header").is_err());
    }

    #[test]
    fn structures_read_at_any_byte() {
        let mut bytes = [0u8; 1 + 16];
        bytes[1..].copy_from_slice(BucketHeader { root: U64::new(5), sequence: U64::new(6) }.as_bytes());
        let (h, rest) = read::<BucketHeader>(&bytes[1..], 0, "bucket header").expect("fits");
        assert_eq!((h.root.get(), h.sequence.get(), rest.len()), (5, 6, 0));
    }
}
