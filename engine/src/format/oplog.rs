//! The operation log: what a journaled write transaction did, in order, as the bytes of its
//! journal record.
//!
//! A journaled commit does not write pages; it appends the transaction's mutations to the
//! journal, and recovery replays them through the same write-transaction methods on the same
//! base state (design, "The journal"). So the log records each successful mutation with the
//! arena ids (`BucketId`, a `usize`) it used and got, and replay checks that it gets the same
//! ids back. [`OpLog`] encodes straight into one `Vec<u8>`, which is the record's payload: no
//! list of operations is kept beside it.
//!
//! Encoding (format doc, section 19): per operation one opcode byte, then its fields in order;
//! ids, lengths and u64 values are unsigned LEB128 ([`crate::format::leb128`]), a name, key or value is
//! its length and then its raw bytes, a flag is one byte 0 or 1.
//!
//! | opcode | operation | fields |
//! |---|---|---|
//! | 1 | `Child` | parent, name, id |
//! | 2 | `CreateChild` | parent, name, if_missing, id |
//! | 3 | `Put` | bucket, key, value |
//! | 4 | `Delete` | bucket, key |
//! | 5 | `SetSequence` | bucket, value |
//! | 6 | `DeleteChild` | parent, name |
//! | 7 | `MoveChild` | src, name, dst |
//!
//! Opcode 0 is never used, so zeros never decode as an operation. [`decode`] reads a payload
//! back without copying (an [`Op`] borrows its names, keys and values) and never panics: any
//! byte string either decodes or ends in [`Error::Corrupted`] with
//! [`Corruption::JournalOp`], and nothing after the first error. A log cut at an operation
//! boundary is a shorter valid log; the record's length and checksum are what rule that out.

use crate::corruption::Corruption;
use crate::error::{Error, Result};

use crate::format::leb128::{self, LebError};

const CHILD: u8 = 1;
const CREATE_CHILD: u8 = 2;
const PUT: u8 = 3;
const DELETE: u8 = 4;
const SET_SEQUENCE: u8 = 5;
const DELETE_CHILD: u8 = 6;
const MOVE_CHILD: u8 = 7;

/// The mutations of one write transaction, encoded as they happen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OpLog {
    buf: Vec<u8>,
    count: u64,
}

impl OpLog {
    /// An empty log.
    pub(crate) fn new() -> Self {
        OpLog::default()
    }

    /// Bucket `name` of `parent` was opened for writing as arena id `id`.
    pub(crate) fn child(&mut self, parent: usize, name: &[u8], id: usize) {
        self.op(CHILD);
        self.id(parent);
        self.bytes(name);
        self.id(id);
    }

    /// Bucket `name` was created in `parent` (or, with `if_missing`, opened if it existed) as
    /// arena id `id`.
    pub(crate) fn create_child(&mut self, parent: usize, name: &[u8], if_missing: bool, id: usize) {
        self.op(CREATE_CHILD);
        self.id(parent);
        self.bytes(name);
        self.buf.push(u8::from(if_missing));
        self.id(id);
    }

    /// `key` was set to `value` in `bucket`.
    pub(crate) fn put(&mut self, bucket: usize, key: &[u8], value: &[u8]) {
        self.op(PUT);
        self.id(bucket);
        self.bytes(key);
        self.bytes(value);
    }

    /// `key` was deleted from `bucket`.
    pub(crate) fn delete(&mut self, bucket: usize, key: &[u8]) {
        self.op(DELETE);
        self.id(bucket);
        self.bytes(key);
    }

    /// The sequence of `bucket` was set to `value`.
    pub(crate) fn set_sequence(&mut self, bucket: usize, value: u64) {
        self.op(SET_SEQUENCE);
        self.id(bucket);
        leb128::put(&mut self.buf, value);
    }

    /// Bucket `name` of `parent` was deleted.
    pub(crate) fn delete_child(&mut self, parent: usize, name: &[u8]) {
        self.op(DELETE_CHILD);
        self.id(parent);
        self.bytes(name);
    }

    /// Bucket `name` of `src` was moved into `dst`.
    pub(crate) fn move_child(&mut self, src: usize, name: &[u8], dst: usize) {
        self.op(MOVE_CHILD);
        self.id(src);
        self.bytes(name);
        self.id(dst);
    }

    /// The encoded log: the payload of the commit record.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Bytes of the encoded log.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    #[cfg(test)]
    /// Operations in the log.
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    #[cfg(test)]
    /// Whether nothing was logged.
    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    #[cfg(test)]
    /// Forgets every operation, keeping the buffer's capacity for the next transaction.
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.count = 0;
    }

    fn op(&mut self, code: u8) {
        self.count += 1;
        self.buf.push(code);
    }

    fn id(&mut self, id: usize) {
        leb128::put(&mut self.buf, id as u64);
    }

    fn bytes(&mut self, b: &[u8]) {
        leb128::put(&mut self.buf, b.len() as u64);
        self.buf.extend_from_slice(b);
    }
}

/// One decoded operation, borrowing its bytes from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op<'a> {
    /// See [`OpLog::child`].
    Child {
        /// The parent bucket.
        parent: usize,
        /// The bucket's name.
        name: &'a [u8],
        /// The arena id it got.
        id: usize,
    },
    /// See [`OpLog::create_child`].
    CreateChild {
        /// The parent bucket.
        parent: usize,
        /// The bucket's name.
        name: &'a [u8],
        /// Whether an existing bucket was accepted.
        if_missing: bool,
        /// The arena id it got.
        id: usize,
    },
    /// See [`OpLog::put`].
    Put {
        /// The bucket.
        bucket: usize,
        /// The key.
        key: &'a [u8],
        /// The value.
        value: &'a [u8],
    },
    /// See [`OpLog::delete`].
    Delete {
        /// The bucket.
        bucket: usize,
        /// The key.
        key: &'a [u8],
    },
    /// See [`OpLog::set_sequence`].
    SetSequence {
        /// The bucket.
        bucket: usize,
        /// The new sequence.
        value: u64,
    },
    /// See [`OpLog::delete_child`].
    DeleteChild {
        /// The parent bucket.
        parent: usize,
        /// The deleted bucket's name.
        name: &'a [u8],
    },
    /// See [`OpLog::move_child`].
    MoveChild {
        /// The bucket it was in.
        src: usize,
        /// Its name.
        name: &'a [u8],
        /// The bucket it went to.
        dst: usize,
    },
}

/// The operations of an encoded log, in order; see the module docs.
pub(crate) fn decode(payload: &[u8]) -> Ops<'_> {
    Ops { buf: payload, pos: 0, done: false }
}

/// The iterator [`decode`] returns.
#[derive(Debug, Clone)]
pub(crate) struct Ops<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Ops<'a> {
    type Item = Result<Op<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let op = self.op();
        if op.is_err() {
            self.done = true;
        }
        Some(op)
    }
}

impl<'a> Ops<'a> {
    fn op(&mut self) -> Result<Op<'a>> {
        let at = self.pos;
        let code = self.buf[at];
        self.pos += 1;
        Ok(match code {
            CHILD => Op::Child { parent: self.id()?, name: self.bytes()?, id: self.id()? },
            CREATE_CHILD => {
                Op::CreateChild { parent: self.id()?, name: self.bytes()?, if_missing: self.flag()?, id: self.id()? }
            }
            PUT => Op::Put { bucket: self.id()?, key: self.bytes()?, value: self.bytes()? },
            DELETE => Op::Delete { bucket: self.id()?, key: self.bytes()? },
            SET_SEQUENCE => Op::SetSequence { bucket: self.id()?, value: self.number()? },
            DELETE_CHILD => Op::DeleteChild { parent: self.id()?, name: self.bytes()? },
            MOVE_CHILD => Op::MoveChild { src: self.id()?, name: self.bytes()?, dst: self.id()? },
            _ => return Err(fault(at, "unknown opcode")),
        })
    }

    fn number(&mut self) -> Result<u64> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let (v, n) = leb128::get(rest).map_err(|e: LebError| fault(self.pos, e.what()))?;
        self.pos += n;
        Ok(v)
    }

    fn id(&mut self) -> Result<usize> {
        let at = self.pos;
        usize::try_from(self.number()?).map_err(|_| fault(at, "bucket id does not fit in usize"))
    }

    fn flag(&mut self) -> Result<bool> {
        match self.buf.get(self.pos) {
            Some(&b @ (0 | 1)) => {
                self.pos += 1;
                Ok(b == 1)
            }
            Some(_) => Err(fault(self.pos, "flag byte neither 0 nor 1")),
            None => Err(fault(self.pos, "the log ends inside an operation")),
        }
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let at = self.pos;
        let len = self.number()?;
        let rest = self.buf.len() - self.pos;
        if len > rest as u64 {
            return Err(fault(at, "length runs past the end of the log"));
        }
        let b = &self.buf[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(b)
    }
}

fn fault(offset: usize, what: &'static str) -> Error {
    Error::corrupted(0, Corruption::JournalOp { offset: offset as u64, what })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// An operation with owned bytes, to generate and compare against.
    #[derive(Debug, Clone)]
    enum T {
        Child(usize, Vec<u8>, usize),
        CreateChild(usize, Vec<u8>, bool, usize),
        Put(usize, Vec<u8>, Vec<u8>),
        Delete(usize, Vec<u8>),
        SetSequence(usize, u64),
        DeleteChild(usize, Vec<u8>),
        MoveChild(usize, Vec<u8>, usize),
    }

    impl T {
        fn record(&self, log: &mut OpLog) {
            match self {
                T::Child(p, n, id) => log.child(*p, n, *id),
                T::CreateChild(p, n, m, id) => log.create_child(*p, n, *m, *id),
                T::Put(b, k, v) => log.put(*b, k, v),
                T::Delete(b, k) => log.delete(*b, k),
                T::SetSequence(b, v) => log.set_sequence(*b, *v),
                T::DeleteChild(p, n) => log.delete_child(*p, n),
                T::MoveChild(s, n, d) => log.move_child(*s, n, *d),
            }
        }

        fn op(&self) -> Op<'_> {
            match self {
                T::Child(p, n, id) => Op::Child { parent: *p, name: n, id: *id },
                T::CreateChild(p, n, m, id) => Op::CreateChild { parent: *p, name: n, if_missing: *m, id: *id },
                T::Put(b, k, v) => Op::Put { bucket: *b, key: k, value: v },
                T::Delete(b, k) => Op::Delete { bucket: *b, key: k },
                T::SetSequence(b, v) => Op::SetSequence { bucket: *b, value: *v },
                T::DeleteChild(p, n) => Op::DeleteChild { parent: *p, name: n },
                T::MoveChild(s, n, d) => Op::MoveChild { src: *s, name: n, dst: *d },
            }
        }
    }

    fn id() -> impl Strategy<Value = usize> {
        prop_oneof![0usize..200, any::<usize>()]
    }

    fn bytes() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![proptest::collection::vec(any::<u8>(), 0..8), proptest::collection::vec(any::<u8>(), 100..300)]
    }

    fn op() -> impl Strategy<Value = T> {
        prop_oneof![
            (id(), bytes(), id()).prop_map(|(p, n, i)| T::Child(p, n, i)),
            (id(), bytes(), any::<bool>(), id()).prop_map(|(p, n, m, i)| T::CreateChild(p, n, m, i)),
            (id(), bytes(), bytes()).prop_map(|(b, k, v)| T::Put(b, k, v)),
            (id(), bytes()).prop_map(|(b, k)| T::Delete(b, k)),
            (id(), any::<u64>()).prop_map(|(b, v)| T::SetSequence(b, v)),
            (id(), bytes()).prop_map(|(p, n)| T::DeleteChild(p, n)),
            (id(), bytes(), id()).prop_map(|(s, n, d)| T::MoveChild(s, n, d)),
        ]
    }

    fn log_of(ops: &[T]) -> OpLog {
        let mut log = OpLog::new();
        ops.iter().for_each(|o| o.record(&mut log));
        log
    }

    /// The byte offsets where each operation of `ops` ends in its log.
    fn boundaries(ops: &[T]) -> Vec<usize> {
        (1..=ops.len()).map(|n| log_of(&ops[..n]).len()).collect()
    }

    fn is_journal_op(e: &Error) -> bool {
        matches!(e, Error::Corrupted { page: 0, reason: Corruption::JournalOp { .. } })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn logs_decode_to_the_operations_recorded(ops in proptest::collection::vec(op(), 0..24)) {
            let log = log_of(&ops);
            prop_assert_eq!(log.count(), ops.len() as u64);
            prop_assert_eq!(log.is_empty(), ops.is_empty());
            let decoded: Vec<Op<'_>> = decode(log.as_bytes()).collect::<Result<_>>().unwrap();
            let want: Vec<Op<'_>> = ops.iter().map(T::op).collect();
            prop_assert_eq!(decoded, want);
        }

        #[test]
        fn a_cut_log_gives_a_prefix_and_then_an_error(ops in proptest::collection::vec(op(), 1..8)) {
            let log = log_of(&ops);
            let ends = boundaries(&ops);
            for cut in 0..=log.len() {
                let got: Vec<Result<Op<'_>>> = decode(&log.as_bytes()[..cut]).collect();
                let whole = ends.iter().filter(|&&e| e <= cut).count();
                for (g, t) in got.iter().zip(&ops).take(whole) {
                    prop_assert_eq!(g.as_ref().unwrap(), &t.op());
                }
                if cut == 0 || ends.contains(&cut) {
                    prop_assert_eq!(got.len(), whole, "a cut at an operation boundary is a shorter log");
                } else {
                    prop_assert_eq!(got.len(), whole + 1, "cut at {}", cut);
                    prop_assert!(is_journal_op(got[whole].as_ref().unwrap_err()));
                }
            }
        }

        #[test]
        fn flipped_bytes_never_panic(ops in proptest::collection::vec(op(), 1..8), at in any::<usize>(), x in 1u8..) {
            let mut bytes = log_of(&ops).as_bytes().to_vec();
            let at = at % bytes.len();
            bytes[at] ^= x;
            let got: Vec<Result<Op<'_>>> = decode(&bytes).collect();
            for (i, r) in got.iter().enumerate() {
                if let Err(e) = r {
                    prop_assert!(is_journal_op(e));
                    prop_assert_eq!(i, got.len() - 1, "nothing follows an error");
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let n = decode(&bytes).count();
            prop_assert!(n <= bytes.len());
        }
    }

    fn first_error(bytes: &[u8]) -> (u64, &'static str) {
        match decode(bytes).find_map(Result::err) {
            Some(Error::Corrupted { reason: Corruption::JournalOp { offset, what }, .. }) => (offset, what),
            other => panic!("expected a journal op error, got {other:?}"),
        }
    }

    #[test]
    fn the_new_corruption_keeps_the_error_small() {
        assert!(size_of::<Error>() <= 48, "Error is {} bytes", size_of::<Error>());
    }

    #[test]
    fn the_encoding_is_the_documented_one() {
        let mut log = OpLog::new();
        log.create_child(0, b"b", true, 1);
        log.put(1, b"k", b"vv");
        log.set_sequence(1, 300);
        assert_eq!(log.as_bytes(), [2, 0, 1, b'b', 1, 1, 3, 1, 1, b'k', 2, b'v', b'v', 5, 1, 0xac, 0x02]);
        assert_eq!((log.len(), log.count()), (17, 3));
        log.clear();
        assert!(log.is_empty() && log.as_bytes().is_empty());
    }

    #[test]
    fn each_damage_is_named_with_its_offset() {
        assert_eq!(first_error(&[0]), (0, "unknown opcode"));
        assert_eq!(first_error(&[4, 0, 0, 8]), (3, "unknown opcode"));
        assert_eq!(first_error(&[3]), (1, "the log ends inside a number"));
        assert_eq!(first_error(&[4, 0, 5, b'a']), (2, "length runs past the end of the log"));
        assert_eq!(first_error(&[4, 0, 0x80, 0x00]), (2, "LEB128 number with a redundant zero byte"));
        let mut over = vec![4, 0];
        over.extend([0xff; 9]);
        over.push(0x02);
        assert_eq!(first_error(&over), (2, "LEB128 number overflows 64 bits"));
        over[11] = 0x01; // u64::MAX: a valid number, but no such length fits
        assert_eq!(first_error(&over), (2, "length runs past the end of the log"));
        assert_eq!(first_error(&[2, 0, 1, b'b', 2, 1]), (4, "flag byte neither 0 nor 1"));
        assert_eq!(first_error(&[2, 0, 1, b'b']), (4, "the log ends inside an operation"));
        let mut long = vec![5, 0];
        long.extend([0x80; 10]);
        assert_eq!(first_error(&long), (2, "LEB128 number longer than 10 bytes"));
        // After the first error the iterator ends, even if good operations follow.
        let mut bad = vec![9];
        bad.extend(log_of(&[T::Delete(0, b"k".to_vec())]).as_bytes());
        assert_eq!(decode(&bad).count(), 1);
    }
}
