//! Meta pages: the root of every snapshot, written last at commit (format doc, section 4).
//!
//! Pages 0 and 1 each hold a meta; transaction `t` writes page `t % 2`, so the other page always
//! describes the previous commit. A meta is valid when its magic and version match and its
//! FNV-1a checksum is 0 (unchecked, as Go accepts) or correct. Open uses the valid meta with the
//! highest txid and falls back to the other one.

use crate::error::{Error, PageId, Result, TxId};
use crate::page::{put_u32, put_u64, u32_at, u64_at, PageHeader, META_FLAG, PAGE_HEADER_SIZE};

/// bbolt's magic number.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The file format version this engine reads and writes.
pub const VERSION: u32 = 2;
/// The freelist field value meaning "no freelist stored" (`NoFreelistSync`).
pub const NO_FREELIST: PageId = u64::MAX;
/// Size of the meta struct (up to and including the checksum).
pub const META_SIZE: usize = 64;

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A decoded meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// Decodes the meta in a page (`page` starts at the page header).
    pub fn decode(page: &[u8]) -> Meta {
        let m = PAGE_HEADER_SIZE;
        Meta {
            magic: u32_at(page, m),
            version: u32_at(page, m + 4),
            page_size: u32_at(page, m + 8),
            flags: u32_at(page, m + 12),
            root: u64_at(page, m + 16),
            root_sequence: u64_at(page, m + 24),
            freelist: u64_at(page, m + 32),
            pgid: u64_at(page, m + 40),
            txid: u64_at(page, m + 48),
            checksum: u64_at(page, m + 56),
        }
    }

    fn fields(&self) -> [u8; 56] {
        let mut b = [0u8; 56];
        put_u32(&mut b, 0, self.magic);
        put_u32(&mut b, 4, self.version);
        put_u32(&mut b, 8, self.page_size);
        put_u32(&mut b, 12, self.flags);
        put_u64(&mut b, 16, self.root);
        put_u64(&mut b, 24, self.root_sequence);
        put_u64(&mut b, 32, self.freelist);
        put_u64(&mut b, 40, self.pgid);
        put_u64(&mut b, 48, self.txid);
        b
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
        fnv1a64(&self.fields())
    }

    /// Checks magic, version and checksum, as Go's `meta.validate` does.
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

    /// Encodes this meta as a whole page of `page_size` bytes for page `txid % 2`, with a fresh
    /// checksum.
    pub fn encode_page(&self, page_id: PageId, page_size: usize) -> Vec<u8> {
        let mut buf = vec![0u8; page_size];
        PageHeader { id: page_id, flags: META_FLAG, count: 0, overflow: 0 }.write(&mut buf);
        let fields = self.fields();
        buf[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + 56].copy_from_slice(&fields);
        put_u64(&mut buf, PAGE_HEADER_SIZE + 56, fnv1a64(&fields));
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
        let d = Meta::decode(&page);
        assert_eq!(d.checksum, m.compute_checksum());
        assert!(d.validate().is_ok());
        let mut bad = page.clone();
        bad[40] ^= 1;
        assert!(matches!(Meta::decode(&bad).validate(), Err(Error::Checksum)));
    }

    #[test]
    fn zero_checksum_is_accepted_like_go() {
        let m = Meta::initial(4096, 1);
        assert!(m.validate().is_ok());
        let v3 = Meta { version: 3, ..m };
        assert!(matches!(v3.validate(), Err(Error::VersionMismatch { found: 3 })));
    }
}
