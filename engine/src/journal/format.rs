//! The journal file, byte for byte (format doc, section 19): a 64-byte header naming the meta
//! the journal follows, then records, each a 24-byte record header and its payload.
//!
//! ```text
//! header (64 bytes, at offset 0)
//!   0  magic          8 bytes  "RIVETJNL"
//!   8  version        u32      1
//!  12  page_size      u32      the database's page size
//!  16  base_txid      u64      txid of the meta this journal follows (the base)
//!  24  base_checksum  u64      that meta's checksum (its FNV-1a 64, format doc section 4)
//!  32  reserved       28 bytes zeros
//!  60  crc            u32      CRC-32 (IEEE) of bytes 0..60
//! record (at offset 64, then right after the previous one)
//!   0  len            u32      payload bytes
//!   4  kind           u32      1 commit, 2 checkpoint
//!   8  txid           u64
//!  16  crc            u32      CRC-32 (IEEE) of bytes 0..16 of this record header, then the payload
//!  20  reserved       4 bytes  zeros
//!  24  payload        len bytes
//! ```
//!
//! All integers are little-endian. The record's CRC does not cover its reserved bytes, so a
//! reader checks that they are zero: every byte of a record is checked by one or the other.
//! The structs here are zerocopy layouts (alignment 1, no padding), as in
//! [`crate::format::layout`]; [`JournalDamage`] names what a reader can find wrong.

use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// The first 8 bytes of every journal.
pub(crate) const MAGIC: [u8; 8] = *b"RIVETJNL";
/// The journal format this engine writes and reads.
pub(crate) const VERSION: u32 = 1;
/// Bytes of the journal header; the first record starts here.
pub(crate) const HEADER_SIZE: u64 = size_of::<RawHeader>() as u64;
/// Bytes of a record header; the payload follows it.
pub(crate) const RECORD_HEADER_SIZE: u64 = size_of::<RawRecordHeader>() as u64;

/// The header fields its CRC covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct HeaderFields {
    /// [`MAGIC`].
    pub(crate) magic: [u8; 8],
    /// [`VERSION`].
    pub(crate) version: U32,
    /// The database's page size.
    pub(crate) page_size: U32,
    /// The txid of the base meta.
    pub(crate) base_txid: U64,
    /// The checksum of the base meta.
    pub(crate) base_checksum: U64,
    /// Zeros.
    pub(crate) reserved: [u8; 28],
}

/// The 64-byte journal header as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawHeader {
    /// The checked fields.
    pub(crate) fields: HeaderFields,
    /// CRC-32 of `fields`' bytes.
    pub(crate) crc: U32,
}

/// The record header fields its CRC covers (with the payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RecordFields {
    /// Payload bytes.
    pub(crate) len: U32,
    /// [`RecordKind`] as a number.
    pub(crate) kind: U32,
    /// The record's transaction id.
    pub(crate) txid: U64,
}

/// The 24-byte record header as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub(crate) struct RawRecordHeader {
    /// The checked fields.
    pub(crate) fields: RecordFields,
    /// CRC-32 of `fields`' bytes and then the payload.
    pub(crate) crc: U32,
    /// Zeros.
    pub(crate) reserved: [u8; 4],
}

const _: () = {
    assert!(size_of::<HeaderFields>() == 60);
    assert!(size_of::<RawHeader>() == 64);
    assert!(size_of::<RecordFields>() == 16);
    assert!(size_of::<RawRecordHeader>() == 24);
};

/// A journal header, decoded: which database state the journal's records follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The database's page size.
    pub(crate) page_size: u32,
    /// The txid of the meta this journal follows; its first commit record is `base_txid + 1`.
    pub(crate) base_txid: u64,
    /// The checksum of that meta (the meta's own FNV-1a 64 checksum field).
    pub(crate) base_checksum: u64,
}

impl Header {
    /// The header as stored, with its CRC.
    pub(crate) fn encode(&self) -> RawHeader {
        let fields = HeaderFields {
            magic: MAGIC,
            version: U32::new(VERSION),
            page_size: U32::new(self.page_size),
            base_txid: U64::new(self.base_txid),
            base_checksum: U64::new(self.base_checksum),
            reserved: [0; 28],
        };
        RawHeader { fields, crc: U32::new(crc32fast::hash(fields.as_bytes())) }
    }

    /// The header a stored one holds, or what is wrong with it. The magic is checked first, then
    /// the CRC, then the version and the reserved bytes.
    pub(crate) fn decode(raw: &RawHeader) -> Result<Header, JournalDamage> {
        let f = &raw.fields;
        if f.magic != MAGIC {
            return Err(JournalDamage::HeaderMagic);
        }
        let (stored, computed) = (raw.crc.get(), crc32fast::hash(f.as_bytes()));
        if stored != computed {
            return Err(JournalDamage::HeaderChecksum { stored, computed });
        }
        if f.version.get() != VERSION {
            return Err(JournalDamage::HeaderVersion { found: f.version.get() });
        }
        if f.reserved != [0; 28] {
            return Err(JournalDamage::HeaderReserved);
        }
        Ok(Header { page_size: f.page_size.get(), base_txid: f.base_txid.get(), base_checksum: f.base_checksum.get() })
    }
}

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    /// A committed transaction; the payload is its operation log ([`super::op`]).
    Commit,
    /// A checkpoint about to write its meta; the payload is that meta's 64 bytes.
    Checkpoint,
}

impl RecordKind {
    /// The number stored in the record header.
    pub(crate) fn code(self) -> u32 {
        match self {
            RecordKind::Commit => 1,
            RecordKind::Checkpoint => 2,
        }
    }

    /// The kind a stored number names, if any.
    pub(crate) fn from_code(code: u32) -> Option<RecordKind> {
        match code {
            1 => Some(RecordKind::Commit),
            2 => Some(RecordKind::Checkpoint),
            _ => None,
        }
    }
}

/// The record header for `payload`, with its CRC. `payload` must be shorter than 4 GiB
/// (the writer checks).
pub(crate) fn record_header(kind: RecordKind, txid: u64, payload: &[u8]) -> RawRecordHeader {
    let fields =
        RecordFields { len: U32::new(payload.len() as u32), kind: U32::new(kind.code()), txid: U64::new(txid) };
    RawRecordHeader { fields, crc: U32::new(record_crc(&fields, payload)), reserved: [0; 4] }
}

/// The CRC a record with these fields and this payload must carry.
pub(crate) fn record_crc(fields: &RecordFields, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(fields.as_bytes());
    h.update(payload);
    h.finalize()
}

/// What is wrong with a journal's header or with one of its records. The scan that finds it
/// stops there: the record and everything after it are dropped, never applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JournalDamage {
    /// The journal file is empty: nothing to replay (not damage; a journal created but not yet
    /// written, or truncated by a crash during its creation).
    #[error("the journal is empty")]
    Empty,
    /// The file is shorter than the 64-byte header.
    #[error("the journal is {len} bytes, too short for its 64-byte header")]
    HeaderShort {
        /// The file's length.
        len: u64,
    },
    /// The header does not start with `RIVETJNL`.
    #[error("not a Rivet journal (bad magic)")]
    HeaderMagic,
    /// The header's CRC does not match its bytes.
    #[error("journal header checksum {stored:#010x} does not match its bytes ({computed:#010x})")]
    HeaderChecksum {
        /// The CRC stored.
        stored: u32,
        /// The CRC of the bytes.
        computed: u32,
    },
    /// A journal of another format version.
    #[error("journal format version {found}, this engine reads version 1")]
    HeaderVersion {
        /// The version stored.
        found: u32,
    },
    /// The header's reserved bytes are not zero.
    #[error("journal header has non-zero reserved bytes")]
    HeaderReserved,
    /// Fewer bytes remain than a record header needs: a torn append.
    #[error("torn record header: {remaining} bytes where 24 are needed")]
    TornHeader {
        /// Bytes left in the file.
        remaining: u64,
    },
    /// The record's payload runs past the end of the file: a torn append, or a damaged length.
    #[error("torn record: {len} payload bytes announced, {remaining} in the file")]
    TornPayload {
        /// The length in the record header.
        len: u32,
        /// Payload bytes left in the file.
        remaining: u64,
    },
    /// The record's CRC does not match its header and payload.
    #[error("record checksum {stored:#010x} does not match its bytes ({computed:#010x})")]
    Checksum {
        /// The CRC stored.
        stored: u32,
        /// The CRC of the bytes.
        computed: u32,
    },
    /// The record's reserved bytes are not zero.
    #[error("record has non-zero reserved bytes")]
    Reserved,
    /// The record's kind is neither commit (1) nor checkpoint (2).
    #[error("unknown record kind {kind}")]
    Kind {
        /// The kind stored.
        kind: u32,
    },
    /// The record's txid does not follow the previous record's (or the base's): a record of
    /// another journal or of an earlier life of this one.
    #[error("record txid {found}, expected {expected}")]
    TxidGap {
        /// The txid stored.
        found: u64,
        /// The (lowest) txid allowed there.
        expected: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header { page_size: 4096, base_txid: 41, base_checksum: 0x0123_4567_89ab_cdef }
    }

    #[test]
    fn the_header_round_trips_and_lies_where_documented() {
        let raw = header().encode();
        let b = raw.as_bytes();
        assert_eq!(&b[..8], b"RIVETJNL");
        assert_eq!(b[8..12], 1u32.to_le_bytes());
        assert_eq!(b[12..16], 4096u32.to_le_bytes());
        assert_eq!(b[16..24], 41u64.to_le_bytes());
        assert_eq!(b[24..32], 0x0123_4567_89ab_cdefu64.to_le_bytes());
        assert_eq!(b[32..60], [0; 28]);
        assert_eq!(b[60..64], crc32fast::hash(&b[..60]).to_le_bytes());
        assert_eq!(Header::decode(&raw), Ok(header()));
    }

    #[test]
    fn a_damaged_header_is_named() {
        let decode = |f: &dyn Fn(&mut [u8])| {
            let mut raw = header().encode();
            f(raw.as_mut_bytes());
            Header::decode(&raw)
        };
        let recrc = |b: &mut [u8]| {
            let crc = crc32fast::hash(&b[..60]);
            b[60..].copy_from_slice(&crc.to_le_bytes());
        };
        assert_eq!(decode(&|b| b[0] = b'X'), Err(JournalDamage::HeaderMagic));
        assert!(matches!(decode(&|b| b[20] ^= 1), Err(JournalDamage::HeaderChecksum { .. })));
        assert!(matches!(decode(&|b| b[62] ^= 1), Err(JournalDamage::HeaderChecksum { .. })));
        let v2 = |b: &mut [u8]| {
            b[8] = 2;
            recrc(b);
        };
        assert_eq!(decode(&v2), Err(JournalDamage::HeaderVersion { found: 2 }));
        let reserved = |b: &mut [u8]| {
            b[40] = 1;
            recrc(b);
        };
        assert_eq!(decode(&reserved), Err(JournalDamage::HeaderReserved));
    }

    #[test]
    fn a_record_header_lies_where_documented() {
        let raw = record_header(RecordKind::Checkpoint, 7, b"abc");
        let b = raw.as_bytes();
        assert_eq!(b[..4], 3u32.to_le_bytes());
        assert_eq!(b[4..8], 2u32.to_le_bytes());
        assert_eq!(b[8..16], 7u64.to_le_bytes());
        let mut covered = b[..16].to_vec();
        covered.extend_from_slice(b"abc");
        assert_eq!(b[16..20], crc32fast::hash(&covered).to_le_bytes());
        assert_eq!(b[20..], [0; 4]);
        for k in [RecordKind::Commit, RecordKind::Checkpoint] {
            assert_eq!(RecordKind::from_code(k.code()), Some(k));
        }
        assert_eq!(RecordKind::from_code(0), None);
        assert_eq!(RecordKind::from_code(3), None);
    }
}
