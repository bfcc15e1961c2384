//! Meta pages: the root of every snapshot, written last at commit (format doc, section 4).
//!
//! Pages 0 and 1 each hold a meta; transaction `t` writes page `t % 2`, so the other page always
//! describes the previous commit. A meta is valid when its magic and version match and its
//! FNV-1a checksum is 0 (unchecked, as Go accepts) or correct. Open uses the valid meta with the
//! highest txid and falls back to the other one.
//!
//! The bytes are [`crate::format::layout::MetaPage`]: the checksum covers the meta's fields
//! ([`crate::format::layout::MetaFields`], the first 56 bytes of the meta) exactly as stored.

use zerocopy::little_endian::{U32, U64};
use zerocopy::IntoBytes;

use crate::error::{Error, PageId, Result, TxId};
use crate::format::layout;
use crate::format::page::{PageHeader, META_FLAG};

/// bbolt's magic number.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The file format version this engine reads and writes.
pub const VERSION: u32 = 2;
/// The freelist field value meaning "no freelist stored" (`NoFreelistSync`).
pub const NO_FREELIST: PageId = u64::MAX;
/// Size of the meta struct (up to and including the checksum).
pub const META_SIZE: usize = size_of::<layout::Meta>();

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A decoded meta page (all zeros by default: a meta that fails validation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Meta {
    /// Magic number (must be [`MAGIC`]).
    pub magic: u32,
    /// Format version (must be [`VERSION`]).
    pub version: u32,
    /// Page size of the file.
    pub page_size: u32,
    /// Unused flags (always 0).
    pub flags: u32,
    /// Root page of the root bucket.
    pub root: PageId,
    /// Sequence of the root bucket (never changed by bbolt; kept as stored).
    pub root_sequence: u64,
    /// Freelist page, or [`NO_FREELIST`].
    pub freelist: PageId,
    /// High-water mark: the number of pages in use.
    pub pgid: PageId,
    /// The transaction that wrote this meta.
    pub txid: TxId,
    /// Stored checksum.
    pub checksum: u64,
}

impl Meta {
    /// Decodes the meta in page `id` (`page` starts at the page header). Nothing is validated:
    /// see [`Meta::validate`].
    ///
    /// # Errors
    /// [`Error::Corrupted`] naming `id` if `page` is too short to hold a meta.
    pub fn decode(page: &[u8], id: PageId) -> Result<Meta> {
        let (p, _) = layout::read::<layout::MetaPage>(page, id, "meta page")?;
        let f = &p.meta.fields;
        Ok(Meta {
            magic: f.magic.get(),
            version: f.version.get(),
            page_size: f.page_size.get(),
            flags: f.flags.get(),
            root: f.root.get(),
            root_sequence: f.root_sequence.get(),
            freelist: f.freelist.get(),
            pgid: f.pgid.get(),
            txid: f.txid.get(),
            checksum: p.meta.checksum.get(),
        })
    }

    /// The fields as stored (what the checksum covers).
    fn fields(&self) -> layout::MetaFields {
        layout::MetaFields {
            magic: U32::new(self.magic),
            version: U32::new(self.version),
            page_size: U32::new(self.page_size),
            flags: U32::new(self.flags),
            root: U64::new(self.root),
            root_sequence: U64::new(self.root_sequence),
            freelist: U64::new(self.freelist),
            pgid: U64::new(self.pgid),
            txid: U64::new(self.txid),
        }
    }

    /// A meta of a new, empty database (bbolt's layout: freelist at page 2, root leaf at page 3,
    /// four pages in use), for transaction `txid` (0 or 1).
    pub fn initial(page_size: u32, txid: TxId) -> Meta {
        Meta {
            magic: MAGIC,
            version: VERSION,
            page_size,
            flags: 0,
            root: 3,
            root_sequence: 0,
            freelist: 2,
            pgid: 4,
            txid,
            checksum: 0,
        }
    }

    /// The checksum these fields should carry.
    pub fn compute_checksum(&self) -> u64 {
        fnv1a64(self.fields().as_bytes())
    }

    /// Checks magic, version and checksum, as Go's `meta.validate` does.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a wrong magic number (saying so when it is bbolt's magic written
    /// on a big-endian host); [`Error::VersionMismatch`] for another format version;
    /// [`Error::Checksum`] if a non-zero stored checksum differs from the computed one (a zero
    /// checksum is accepted, as Go accepts it).
    pub fn validate(&self) -> Result<()> {
        if self.magic != MAGIC {
            if self.magic == MAGIC.swap_bytes() {
                return Err(Error::Invalid("big-endian bbolt file (written on a big-endian host)".into()));
            }
            return Err(Error::Invalid(format!("bad magic {:#010x}", self.magic)));
        }
        if self.version != VERSION {
            return Err(Error::VersionMismatch { found: self.version });
        }
        if self.checksum != 0 && self.checksum != self.compute_checksum() {
            return Err(Error::Checksum);
        }
        Ok(())
    }

    /// Encodes this meta as a whole page of `page_size` bytes (at least the meta's own 80) for
    /// page `page_id` (`txid % 2`), with a fresh checksum.
    pub fn encode_page(&self, page_id: PageId, page_size: usize) -> Vec<u8> {
        let fields = self.fields();
        let page = layout::MetaPage {
            header: PageHeader { id: page_id, flags: META_FLAG, count: 0, overflow: 0 }.to_disk(),
            meta: layout::Meta { fields, checksum: U64::new(fnv1a64(fields.as_bytes())) },
        };
        let mut buf = Vec::with_capacity(page_size);
        buf.extend_from_slice(page.as_bytes());
        buf.resize(page_size.max(buf.len()), 0);
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_checksum() {
        let m = Meta::initial(4096, 1);
        let page = m.encode_page(1, 4096);
        let d = Meta::decode(&page, 1).unwrap();
        assert_eq!(d, Meta { checksum: m.compute_checksum(), ..m });
        assert_eq!(d.checksum, m.compute_checksum());
        assert!(d.validate().is_ok());
        let mut bad = page.clone();
        bad[40] ^= 1;
        assert!(matches!(Meta::decode(&bad, 1).unwrap().validate(), Err(Error::Checksum)));
    }

    #[test]
    fn a_short_page_is_an_error_not_a_zero_meta() {
        let page = Meta::initial(4096, 1).encode_page(1, 4096);
        assert!(matches!(Meta::decode(&page[..79], 1), Err(Error::Corrupted { page: 1, .. })));
        assert!(Meta::decode(&page[..80], 1).is_ok());
    }

    #[test]
    fn zero_checksum_is_accepted_like_go() {
        let m = Meta::initial(4096, 1);
        assert!(m.validate().is_ok());
        let v3 = Meta { version: 3, ..m };
        assert!(matches!(v3.validate(), Err(Error::VersionMismatch { found: 3 })));
    }
}
