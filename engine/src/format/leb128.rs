//! Unsigned LEB128, the variable-length integers of the journal's operation log.
//!
//! Seven bits per byte, least significant group first, the high bit set on every byte but the
//! last. A u64 takes 1 to 10 bytes. Small numbers (bucket ids, key lengths) are the common case,
//! so most take one byte. The encoding is part of the journal format, so it is written out here
//! rather than borrowed: twenty lines, and every way a damaged number can fail is named.
//!
//! Decoding is strict, so that every number has exactly one encoding: more than 10 bytes, bits
//! beyond 64, and a redundant final zero byte (`0x80 0x00` for 0) are all refused.

/// Why a number could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LebError {
    /// The bytes end before the number does.
    Truncated,
    /// The tenth byte still has its continuation bit set.
    TooLong,
    /// The number has bits beyond the 64th.
    Overflow,
    /// The last byte is a redundant zero (a non-canonical encoding).
    Overlong,
}

impl LebError {
    /// The wording of the error, for [`crate::Corruption::JournalOp`].
    pub(crate) fn what(self) -> &'static str {
        match self {
            LebError::Truncated => "the log ends inside a number",
            LebError::TooLong => "LEB128 number longer than 10 bytes",
            LebError::Overflow => "LEB128 number overflows 64 bits",
            LebError::Overlong => "LEB128 number with a redundant zero byte",
        }
    }
}

/// Appends `v` to `out`.
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes the number at the start of `bytes`: its value and the bytes it took.
pub(crate) fn get(bytes: &[u8]) -> Result<(u64, usize), LebError> {
    let mut v = 0u64;
    for i in 0..10 {
        let Some(&b) = bytes.get(i) else { return Err(LebError::Truncated) };
        let group = u64::from(b & 0x7f);
        if i == 9 && group > 1 {
            return Err(LebError::Overflow);
        }
        v |= group << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(LebError::Overlong);
            }
            return Ok((v, i + 1));
        }
    }
    Err(LebError::TooLong)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put(&mut out, v);
        out
    }

    #[test]
    fn numbers_round_trip_in_the_fewest_bytes() {
        for (v, n) in [(0, 1), (1, 1), (127, 1), (128, 2), (16383, 2), (16384, 3), (u64::MAX >> 1, 9), (u64::MAX, 10)] {
            let e = enc(v);
            assert_eq!(e.len(), n, "{v}");
            assert_eq!(get(&e), Ok((v, n)));
        }
        assert_eq!(enc(300), [0xac, 0x02]);
        assert_eq!(get(&[0xac, 0x02, 0xff]), Ok((300, 2)), "trailing bytes are not the number's");
    }

    #[test]
    fn damaged_numbers_are_refused() {
        assert_eq!(get(&[]), Err(LebError::Truncated));
        assert_eq!(get(&[0x80, 0x80]), Err(LebError::Truncated));
        assert_eq!(get(&[0x80, 0x00]), Err(LebError::Overlong));
        let mut max = enc(u64::MAX);
        max[9] = 0x02;
        assert_eq!(get(&max), Err(LebError::Overflow));
        assert_eq!(get(&[0xff; 11]), Err(LebError::Overflow));
        let mut long = vec![0x80; 9];
        long.push(0x81);
        assert_eq!(get(&long), Err(LebError::TooLong));
    }
}
