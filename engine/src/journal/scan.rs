//! Reading a journal back for recovery: the header, then every intact record in order, up to
//! the first one that is not.
//!
//! A record is returned only if all of it checks out: it fits in the file, its CRC matches its
//! header and payload, its reserved bytes are zero, its kind is known, and its txid follows the
//! previous record's. Txids run on from the header's base txid: the first commit is
//! `base + 1`, each commit is one more than the record before it. A checkpoint record carries
//! the txid of the meta it writes, which is the newest commit's txid `K` or `K + 1` (a meta goes
//! to the slot the durable meta is not in, so its txid parity must differ; design, "The
//! journal"); with no commit since the base or since the previous checkpoint, only `K + 1`
//! (two metas never share a txid). The record after a checkpoint is one more than the
//! checkpoint.
//!
//! The first record that fails any check ends the scan: it and everything after it are
//! [`Dropped`], with the reason. Nothing is read by a length before that length is checked
//! against the bytes left in the file, and the file is read in chunks of at least 64 KiB, so
//! memory is the intact records plus one chunk, whatever the file holds.

use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::error::Result;

use super::file::{io_error, JournalIo};
use super::format::{
    record_crc, Header, JournalDamage, RawHeader, RawRecordHeader, RecordKind, HEADER_SIZE, RECORD_HEADER_SIZE,
};

/// One intact record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// Offset of its record header in the file.
    pub(crate) offset: u64,
    /// What it holds.
    pub(crate) kind: RecordKind,
    /// Its transaction id.
    pub(crate) txid: u64,
    /// Its payload: an operation log, or a checkpoint's meta.
    pub(crate) payload: Vec<u8>,
}

impl Record {
    /// The offset after the record.
    pub(crate) fn end(&self) -> u64 {
        self.offset + RECORD_HEADER_SIZE + self.payload.len() as u64
    }
}

/// The part of a journal a scan did not accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dropped {
    /// Where the first rejected byte is: the header (0) or the first bad record.
    pub(crate) at: u64,
    /// Bytes from there to the end of the file.
    pub(crate) bytes: u64,
    /// What is wrong there.
    pub(crate) reason: JournalDamage,
}

/// What a journal holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The header, or what is wrong with it ([`JournalDamage::Empty`] for an empty file: not
    /// damage, nothing to replay). With a bad header there are no records.
    pub(crate) header: Result<Header, JournalDamage>,
    /// The intact records, in order.
    pub(crate) records: Vec<Record>,
    /// The offset after the last intact record (the header's end without records; 0 without a
    /// valid header): where appending continues once the rest is cut off.
    pub(crate) valid_end: u64,
    /// What was rejected, if anything.
    pub(crate) dropped: Option<Dropped>,
}

/// Reads the journal in `io`; see the module docs. Errors are [`crate::Error::Io`] only:
/// damage is described in the [`Scan`].
pub(crate) fn scan(io: &dyn JournalIo) -> Result<Scan> {
    let len = io.len().map_err(io_error(io, "stat"))?;
    let mut out = Scan { header: Err(JournalDamage::Empty), records: Vec::new(), valid_end: 0, dropped: None };
    if len == 0 {
        return Ok(out);
    }
    let drop_all = |out: &mut Scan, reason: JournalDamage| {
        out.header = Err(reason.clone());
        out.dropped = Some(Dropped { at: 0, bytes: len, reason });
    };
    if len < HEADER_SIZE {
        drop_all(&mut out, JournalDamage::HeaderShort { len });
        return Ok(out);
    }
    let mut raw = RawHeader::new_zeroed();
    io.read_at(raw.as_mut_bytes(), 0).map_err(io_error(io, "read"))?;
    let header = match Header::decode(&raw) {
        Ok(h) => h,
        Err(reason) => {
            drop_all(&mut out, reason);
            return Ok(out);
        }
    };
    out.header = Ok(header);
    out.valid_end = HEADER_SIZE;
    let mut reader = Reader { io, len, buf: Vec::new(), start: 0 };
    let mut order = Order { next: header.base_txid.checked_add(1) };
    while out.valid_end < len {
        // The writer fills the space ahead of its records with zeros (`Journal::append`):
        // zeros to the end of the file are room, not damage.
        if reader.zeros_to_end(out.valid_end)? {
            break;
        }
        match reader.record(out.valid_end, &mut order)? {
            Ok(record) => {
                out.valid_end = record.end();
                out.records.push(record);
            }
            Err(reason) => {
                out.dropped = Some(Dropped { at: out.valid_end, bytes: len - out.valid_end, reason });
                break;
            }
        }
    }
    Ok(out)
}

/// The txid rule: what the next record may carry. A commit takes the next txid; a checkpoint
/// takes a fresh one too (readers of the newest journaled version must not share its txid,
/// or the pages it frees would be released under them), or the one after it when the next
/// txid's meta page is the durable meta's (design doc, "The journal").
struct Order {
    /// The next txid (`None` past `u64::MAX`).
    next: Option<u64>,
}

impl Order {
    /// Accepts `txid` for a record of `kind` and moves on, or says what was expected.
    fn take(&mut self, kind: RecordKind, txid: u64) -> Result<(), JournalDamage> {
        let ok = match kind {
            RecordKind::Commit => self.next == Some(txid),
            RecordKind::Checkpoint => self.next == Some(txid) || self.next.and_then(|n| n.checked_add(1)) == Some(txid),
        };
        if !ok {
            return Err(JournalDamage::TxidGap { found: txid, expected: self.next.unwrap_or(u64::MAX) });
        }
        self.next = txid.checked_add(1);
        Ok(())
    }
}

/// Reads the file through a window of at least `CHUNK` bytes.
struct Reader<'a> {
    io: &'a dyn JournalIo,
    len: u64,
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    start: u64,
}

const CHUNK: u64 = 1 << 16;

impl Reader<'_> {
    /// Bytes `off..off + n` of the file; the caller checked that they lie in it.
    fn bytes(&mut self, off: u64, n: u64) -> Result<&[u8]> {
        let held = off >= self.start && off + n <= self.start + self.buf.len() as u64;
        if !held {
            let want = n.max(CHUNK).min(self.len - off);
            self.buf.resize(want as usize, 0);
            self.start = off;
            self.io.read_at(&mut self.buf, off).map_err(io_error(self.io, "read"))?;
        }
        let i = (off - self.start) as usize;
        Ok(&self.buf[i..i + n as usize])
    }

    /// Whether every byte from `off` to the end of the file is zero.
    fn zeros_to_end(&mut self, off: u64) -> Result<bool> {
        let mut at = off;
        while at < self.len {
            let n = (self.len - at).min(CHUNK);
            if self.bytes(at, n)?.iter().any(|&b| b != 0) {
                return Ok(false);
            }
            at += n;
        }
        Ok(true)
    }

    /// The record at `off`, or what is wrong with it.
    fn record(&mut self, off: u64, order: &mut Order) -> Result<Result<Record, JournalDamage>> {
        let remaining = self.len - off;
        if remaining < RECORD_HEADER_SIZE {
            return Ok(Err(JournalDamage::TornHeader { remaining }));
        }
        let head = self.bytes(off, RECORD_HEADER_SIZE)?;
        let Ok(head) = RawRecordHeader::read_from_bytes(head) else {
            return Ok(Err(JournalDamage::TornHeader { remaining }));
        };
        let len = head.fields.len.get();
        let room = remaining - RECORD_HEADER_SIZE;
        if u64::from(len) > room {
            return Ok(Err(JournalDamage::TornPayload { len, remaining: room }));
        }
        let payload = &self.bytes(off + RECORD_HEADER_SIZE, u64::from(len))?;
        let (stored, computed) = (head.crc.get(), record_crc(&head.fields, payload));
        if stored != computed {
            return Ok(Err(JournalDamage::Checksum { stored, computed }));
        }
        if head.reserved != [0; 4] {
            return Ok(Err(JournalDamage::Reserved));
        }
        let code = head.fields.kind.get();
        let Some(kind) = RecordKind::from_code(code) else {
            return Ok(Err(JournalDamage::Kind { kind: code }));
        };
        let txid = head.fields.txid.get();
        if let Err(damage) = order.take(kind, txid) {
            return Ok(Err(damage));
        }
        Ok(Ok(Record { offset: off, kind, txid, payload: payload.to_vec() }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::format::record_header;
    use super::super::testio::{Faults, MemJournal};
    use super::super::writer::Journal;
    use super::*;
    use crate::error::Error;

    const BASE: u64 = 100;

    fn header() -> Header {
        Header { page_size: 4096, base_txid: BASE, base_checksum: 7 }
    }

    /// A journal with records of these kinds, txids and payloads, and the records' offsets.
    fn journal(records: &[(RecordKind, u64, &[u8])]) -> (Vec<u8>, Vec<u64>) {
        let mem = Arc::new(MemJournal::default());
        let mut j = Journal::create(mem.clone(), header()).unwrap();
        let mut offsets = Vec::new();
        for &(kind, txid, payload) in records {
            offsets.push(j.end());
            j.append(kind, txid, payload).unwrap();
        }
        // Without the zeros written ahead (a scan passes over them; the tests cut and damage
        // the records' own bytes).
        let mut bytes = mem.bytes();
        bytes.truncate(j.end() as usize);
        (bytes, offsets)
    }

    fn scan_of(bytes: Vec<u8>) -> Scan {
        scan(&MemJournal::with(bytes)).unwrap()
    }

    fn three() -> Vec<(RecordKind, u64, &'static [u8])> {
        vec![
            (RecordKind::Commit, BASE + 1, b"first"),
            (RecordKind::Commit, BASE + 2, b""),
            (RecordKind::Checkpoint, BASE + 3, b"meta"),
        ]
    }

    #[test]
    fn zeros_after_the_records_are_room_not_damage() {
        let (mut bytes, offsets) = journal(&three());
        let end = bytes.len() as u64;
        bytes.extend_from_slice(&[0; 100_000]);
        let s = scan_of(bytes.clone());
        assert_eq!((s.records.len(), s.valid_end, s.dropped), (3, end, None));
        // A non-zero byte in the room is damage again (a torn record whose header was lost).
        bytes[end as usize + 50_000] = 1;
        let s = scan_of(bytes);
        assert_eq!((s.records.len(), s.valid_end), (3, end));
        assert!(s.dropped.is_some());
        let _ = offsets;
    }

    #[test]
    fn what_was_appended_is_read_back() {
        let big = vec![0x5a; 200_000]; // larger than a read chunk
        let recs = [
            (RecordKind::Commit, BASE + 1, &b"a"[..]),
            (RecordKind::Commit, BASE + 2, &big),
            (RecordKind::Commit, BASE + 3, b"c"),
        ];
        let (bytes, offsets) = journal(&recs);
        let s = scan_of(bytes.clone());
        assert_eq!((s.header, s.valid_end, s.dropped), (Ok(header()), bytes.len() as u64, None));
        let got: Vec<_> = s.records.iter().map(|r| (r.offset, r.kind, r.txid, r.payload.as_slice())).collect();
        let want: Vec<_> = recs.iter().zip(&offsets).map(|(&(k, t, p), &o)| (o, k, t, p)).collect();
        assert_eq!(got, want);
        let only_header = scan_of(bytes[..64].to_vec());
        assert_eq!((only_header.header, only_header.records.len(), only_header.valid_end), (Ok(header()), 0, 64));
    }

    #[test]
    fn a_torn_tail_drops_exactly_the_torn_record() {
        let (bytes, offsets) = journal(&three());
        for cut in 64..bytes.len() {
            let s = scan_of(bytes[..cut].to_vec());
            let whole = offsets.iter().skip(1).chain([&(bytes.len() as u64)]).filter(|&&e| e <= cut as u64).count();
            assert_eq!(s.records.len(), whole, "cut at {cut}");
            assert_eq!(s.valid_end, offsets.get(whole).copied().unwrap_or(bytes.len() as u64), "cut at {cut}");
            if bytes[s.valid_end as usize..cut].iter().all(|&b| b == 0) {
                // Between records, or a torn piece of zeros only (room, as far as anyone can tell).
                assert!(s.dropped.is_none(), "a cut between records drops nothing");
            } else {
                let d = s.dropped.unwrap();
                assert_eq!((d.at, d.bytes), (s.valid_end, cut as u64 - s.valid_end));
                assert!(
                    matches!(d.reason, JournalDamage::TornHeader { .. } | JournalDamage::TornPayload { .. }),
                    "{d:?}"
                );
            }
        }
    }

    #[test]
    fn a_flipped_bit_anywhere_in_a_record_drops_it_and_the_rest() {
        let (bytes, offsets) = journal(&three());
        for at in 64..bytes.len() {
            let victim = offsets.iter().filter(|&&o| o <= at as u64).count() - 1;
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[at] ^= 1 << bit;
                let s = scan_of(b);
                assert_eq!(s.records.len(), victim, "byte {at} bit {bit}");
                let d = s.dropped.unwrap();
                assert_eq!((d.at, d.bytes), (offsets[victim], bytes.len() as u64 - offsets[victim]));
            }
        }
    }

    #[test]
    fn a_record_from_another_journal_is_a_gap() {
        let (mine, _) = journal(&three()[..1]);
        // The same kind of record, of a journal whose base was earlier.
        let mut other = journal(&[(RecordKind::Commit, BASE + 1, b"x"), (RecordKind::Commit, BASE + 2, b"y")]).0;
        let second = other.split_off(64 + 25);
        let mut spliced = mine.clone();
        spliced.extend_from_slice(&other[64..]);
        let s = scan_of(spliced);
        assert_eq!(s.records.len(), 1);
        assert_eq!(s.dropped.unwrap().reason, JournalDamage::TxidGap { found: BASE + 1, expected: BASE + 2 });
        let mut ok = mine;
        ok.extend_from_slice(&second);
        assert_eq!(scan_of(ok).records.len(), 2, "the record that does follow is accepted");
    }

    #[test]
    fn checkpoints_take_the_next_txid_or_one_more() {
        use RecordKind::{Checkpoint as P, Commit as C};
        let accepted = |recs: &[(RecordKind, u64)]| {
            let recs: Vec<(RecordKind, u64, &[u8])> = recs.iter().map(|&(k, t)| (k, t, &b""[..])).collect();
            scan_of(journal(&recs).0).records.len()
        };
        assert_eq!(accepted(&[(C, 101), (C, 102), (P, 103), (C, 104)]), 4);
        assert_eq!(accepted(&[(C, 101), (P, 103), (C, 104), (P, 105)]), 4);
        assert_eq!(accepted(&[(P, 101), (P, 102)]), 2);
        assert_eq!(accepted(&[(P, 100)]), 0, "the base's txid is taken");
        assert_eq!(accepted(&[(C, 101), (P, 101)]), 1, "so is the newest commit's");
        assert_eq!(accepted(&[(C, 101), (P, 104)]), 1);
        assert_eq!(accepted(&[(C, 101), (P, 102), (C, 102)]), 2);
        assert_eq!(accepted(&[(C, 102)]), 0);
        let s = scan_of(journal(&[(C, 101), (P, 104)].map(|(k, t)| (k, t, &b""[..]))).0);
        assert_eq!(s.dropped.unwrap().reason, JournalDamage::TxidGap { found: 104, expected: 102 });
    }

    #[test]
    fn unknown_kinds_and_reserved_bytes_are_refused() {
        let (mut bytes, _) = journal(&[]);
        let mut head = record_header(RecordKind::Commit, BASE + 1, b"p");
        head.fields.kind.set(3);
        head.crc.set(record_crc(&head.fields, b"p"));
        let mut bad_kind = bytes.clone();
        bad_kind.extend_from_slice(head.as_bytes());
        bad_kind.push(b'p');
        assert_eq!(scan_of(bad_kind).dropped.unwrap().reason, JournalDamage::Kind { kind: 3 });
        let mut head = record_header(RecordKind::Commit, BASE + 1, b"p");
        head.reserved[1] = 1;
        bytes.extend_from_slice(head.as_bytes());
        bytes.push(b'p');
        assert_eq!(scan_of(bytes).dropped.unwrap().reason, JournalDamage::Reserved);
    }

    #[test]
    fn a_bad_header_drops_the_whole_journal() {
        let (bytes, _) = journal(&three());
        let empty = scan_of(Vec::new());
        assert_eq!((empty.header, empty.valid_end, empty.dropped), (Err(JournalDamage::Empty), 0, None));
        let short = scan_of(bytes[..63].to_vec());
        assert_eq!(short.header, Err(JournalDamage::HeaderShort { len: 63 }));
        let damaged = |at: usize, x: u8| {
            let mut b = bytes.clone();
            b[at] ^= x;
            let s = scan_of(b);
            assert!(s.records.is_empty() && s.valid_end == 0);
            let d = s.dropped.unwrap();
            assert_eq!((d.at, d.bytes, Err(d.reason.clone())), (0, bytes.len() as u64, s.header.clone()));
            d.reason
        };
        assert_eq!(damaged(0, 1), JournalDamage::HeaderMagic);
        assert!(matches!(damaged(17, 4), JournalDamage::HeaderChecksum { .. }));
        assert!(matches!(damaged(61, 4), JournalDamage::HeaderChecksum { .. }));
        let mut v2 = header().encode();
        v2.fields.version.set(2);
        v2.crc.set(crc32fast::hash(v2.fields.as_bytes()));
        let mut b = v2.as_bytes().to_vec();
        b.extend_from_slice(&bytes[64..]);
        assert_eq!(scan_of(b).header, Err(JournalDamage::HeaderVersion { found: 2 }));
    }

    #[test]
    fn a_real_file_journal_reads_back_after_reopening() {
        use super::super::file::{journal_path, FileJournal};
        let dir = std::env::temp_dir().join(format!("rivet-journal-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = journal_path(&dir.join("t.db"));
        let mut j = Journal::create(Arc::new(FileJournal::create(&path).unwrap()), header()).unwrap();
        j.append(RecordKind::Commit, BASE + 1, b"one").unwrap();
        let end = j.append(RecordKind::Commit, BASE + 2, b"two").unwrap();
        j.sync().unwrap();
        drop(j);
        let s = scan(&FileJournal::open(&path).unwrap().unwrap()).unwrap();
        assert_eq!((s.header, s.records.len(), s.valid_end, s.dropped), (Ok(header()), 2, end, None));
        assert_eq!(s.records[1].payload, b"two");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 64, ..Default::default() })]

        #[test]
        fn garbage_never_panics_and_is_accounted_for(
            garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            after_header in proptest::prelude::any::<bool>(),
        ) {
            let mut bytes = if after_header { journal(&three()).0 } else { Vec::new() };
            bytes.extend_from_slice(&garbage);
            let len = bytes.len() as u64;
            let s = scan_of(bytes);
            let end = s.records.last().map_or(s.valid_end, Record::end);
            proptest::prop_assert_eq!(end, s.valid_end);
            match s.dropped {
                Some(d) => proptest::prop_assert_eq!((d.at, d.at + d.bytes), (s.valid_end, len)),
                None => proptest::prop_assert_eq!(s.valid_end, len),
            }
            if after_header {
                proptest::prop_assert!(s.records.len() >= 3, "the intact records stay");
            }
        }
    }

    #[test]
    fn a_failed_read_is_an_io_error() {
        let mem = MemJournal::with(journal(&three()).0);
        mem.fail(Faults { read: true, ..Faults::default() });
        assert!(matches!(scan(&mem), Err(Error::Io { op: "read", .. })));
    }
}
