//! Sortable keys: a byte encoding whose plain byte order (what bbolt sorts by) is the order of
//! the values.
//!
//! Invariants every [`Key`] encoding owns (and the property tests in `store/tests/keys.rs`
//! check):
//! 1. **Order.** For any `a` and `b` of one type, `encode(a).cmp(&encode(b)) == a.cmp(&b)`
//!    (for floats: [`f64::total_cmp`]).
//! 2. **Round trip.** `decode(encode(a)) == a`, consuming exactly the bytes written.
//! 3. **Prefix-free.** No valid encoding is a proper prefix of another valid encoding of the
//!    same type. This is what lets tuples concatenate their parts unambiguously, what makes a
//!    byte prefix of a composite key the same thing as a prefix of its leading fields, and what
//!    keeps index entries (`index key ++ primary key`) splittable.
//!
//! | type | encoding |
//! |---|---|
//! | `u8`..`u128` | big-endian, fixed width |
//! | `i8`..`i128` | big-endian with the sign bit flipped (so negatives sort first) |
//! | `f32`, `f64` | IEEE bits; positive: sign bit set; negative: all bits flipped. Sorts as `total_cmp`: `-NaN < -inf < .. < -0.0 < +0.0 < .. < +inf < +NaN`; every NaN payload is its own key |
//! | `bool` | `0x00` / `0x01` |
//! | `char` | its scalar value as a big-endian `u32` |
//! | `String`, `Vec<u8>` | bytes with `0x00` escaped as `0x00 0xFF`, then the terminator `0x00 0x00` |
//! | `[u8; N]` | the `N` bytes as they are (fixed width) |
//! | `Option<T>` | `None`: `0x00`; `Some(x)`: `0x01` then `x` (so `None` sorts first) |
//! | tuples (1 to 8 fields) | the fields' encodings one after the other |
//!
//! Why escaping: a terminator alone (`"a" ++ 0x00`) would make `("a\0b", ..)` ambiguous, and
//! plain concatenation would make `("ab", "c")` and `("a", "bc")` the same key; both bugs exist
//! in other typed layers.

use std::fmt::Debug;
use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

/// A key part could not be decoded (the bytes are not an encoding of the expected type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(pub String);

impl KeyError {
    fn truncated(what: &str) -> Self {
        KeyError(format!("truncated {what}"))
    }
}

/// A type usable as a primary key, an index key, or a part of either: its byte encoding sorts
/// exactly as its values do.
///
/// Implement it for your own types by delegating to a supported type (for example a newtype
/// around `u64`), keeping the three invariants of the module docs: order, round trip and
/// prefix-freedom.
///
/// ```
/// use rivet::Key;
/// let mut a = Vec::new();
/// let mut b = Vec::new();
/// (-5i32).encode_key(&mut a);
/// 3i32.encode_key(&mut b);
/// assert!(a < b); // negative numbers sort first
/// assert_eq!(i32::decode_key(&mut a.as_slice()), Ok(-5));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a rivet key or index field",
    label = "this type has no `rivet::Key` implementation",
    note = "keys are integers, f32/f64, bool, char, String, Vec<u8>, [u8; N], Option<T> and tuples of these; implement `rivet::Key` for your own types"
)]
pub trait Key: Sized + Clone + Debug {
    /// Appends the encoding of `self` to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);

    /// Decodes one value from the front of `input` and advances `input` past it.
    ///
    /// # Errors
    /// [`KeyError`] if the bytes are not a valid encoding.
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError>;

    /// A short name of the encoding, recorded in the catalog (`u64`, `string`, `(u64, i64)`).
    fn kind() -> String;
}

/// Encodes a key into a fresh buffer.
pub fn encode<K: Key>(key: &K) -> Vec<u8> {
    let mut out = Vec::new();
    key.encode_key(&mut out);
    out
}

/// Decodes a complete key: the bytes must hold exactly one encoding of `K`.
///
/// # Errors
/// [`KeyError`] if the bytes are not a valid encoding or have bytes left over.
pub fn decode<K: Key>(mut bytes: &[u8]) -> Result<K, KeyError> {
    let k = K::decode_key(&mut bytes)?;
    if bytes.is_empty() {
        Ok(k)
    } else {
        Err(KeyError(format!("{} bytes left over after the key", bytes.len())))
    }
}

fn take<'a>(input: &mut &'a [u8], n: usize, what: &str) -> Result<&'a [u8], KeyError> {
    if input.len() < n {
        return Err(KeyError::truncated(what));
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

fn take_array<const N: usize>(input: &mut &[u8], what: &str) -> Result<[u8; N], KeyError> {
    let bytes = take(input, N, what)?;
    let mut a = [0u8; N];
    a.copy_from_slice(bytes);
    Ok(a)
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                Ok(<$t>::from_be_bytes(take_array(input, stringify!($t))?))
            }
            fn kind() -> String {
                stringify!($t).to_string()
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, u128);

macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl Key for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                // Flipping the sign bit maps MIN..=MAX onto 0..=UMAX in order.
                let flipped = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                let u = <$u>::from_be_bytes(take_array(input, stringify!($t))?);
                Ok((u ^ (1 << (<$u>::BITS - 1))) as $t)
            }
            fn kind() -> String {
                stringify!($t).to_string()
            }
        }
    )*};
}
signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

macro_rules! float {
    ($($t:ty => $u:ty),*) => {$(
        /// Sorts as `total_cmp`: negative NaNs first, then `-inf`, negatives, `-0.0`, `+0.0`,
        /// positives, `+inf`, positive NaNs last. Every bit pattern (NaN payloads included) is
        /// its own key and decodes back bit for bit.
        impl Key for $t {
            fn encode_key(&self, out: &mut Vec<u8>) {
                let bits = self.to_bits();
                let sign = 1 << (<$u>::BITS - 1);
                // Positive: set the sign bit so they sort after all negatives. Negative: flip
                // every bit so that larger magnitudes sort first.
                let enc = if bits & sign != 0 { !bits } else { bits | sign };
                out.extend_from_slice(&enc.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                let enc = <$u>::from_be_bytes(take_array(input, stringify!($t))?);
                let sign = 1 << (<$u>::BITS - 1);
                let bits = if enc & sign != 0 { enc ^ sign } else { !enc };
                Ok(<$t>::from_bits(bits))
            }
            fn kind() -> String {
                stringify!($t).to_string()
            }
        }
    )*};
}
float!(f32 => u32, f64 => u64);

impl Key for bool {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        match take(input, 1, "bool")? {
            [0] => Ok(false),
            [1] => Ok(true),
            other => Err(KeyError(format!("invalid bool byte {other:02x?}"))),
        }
    }
    fn kind() -> String {
        "bool".into()
    }
}

impl Key for char {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u32::from(*self).to_be_bytes());
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        let v = u32::from_be_bytes(take_array(input, "char")?);
        char::from_u32(v).ok_or_else(|| KeyError(format!("invalid char {v:#x}")))
    }
    fn kind() -> String {
        "char".into()
    }
}

/// Appends `bytes` escaped (`0x00` -> `0x00 0xFF`) and terminated (`0x00 0x00`).
pub(crate) fn encode_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

fn decode_escaped(input: &mut &[u8], what: &str) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let Some(&b) = input.get(i) else {
            return Err(KeyError(format!("{what} without its terminator")));
        };
        if b != 0 {
            out.push(b);
            i += 1;
            continue;
        }
        match input.get(i + 1) {
            Some(0x00) => {
                *input = input.get(i + 2..).unwrap_or_default();
                return Ok(out);
            }
            Some(0xFF) => {
                out.push(0);
                i += 2;
            }
            Some(other) => return Err(KeyError(format!("invalid escape 0x00 {other:#04x} in {what}"))),
            None => return Err(KeyError(format!("{what} without its terminator"))),
        }
    }
}

impl Key for String {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_escaped(self.as_bytes(), out);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        String::from_utf8(decode_escaped(input, "string")?).map_err(|e| KeyError(format!("string is not UTF-8: {e}")))
    }
    fn kind() -> String {
        "string".into()
    }
}

impl Key for Vec<u8> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        decode_escaped(input, "byte string")
    }
    fn kind() -> String {
        "bytes".into()
    }
}

impl<const N: usize> Key for [u8; N] {
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        take_array(input, "byte array")
    }
    fn kind() -> String {
        format!("[u8; {N}]")
    }
}

impl<T: Key> Key for Option<T> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode_key(out);
            }
        }
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
        match take(input, 1, "option tag")? {
            [0] => Ok(None),
            [1] => Ok(Some(T::decode_key(input)?)),
            other => Err(KeyError(format!("invalid option tag {other:02x?}"))),
        }
    }
    fn kind() -> String {
        format!("option<{}>", T::kind())
    }
}

macro_rules! tuple {
    ($($name:ident)+) => {
        impl<$($name: Key),+> Key for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode_key(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode_key(out);)+
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, KeyError> {
                Ok(($($name::decode_key(input)?,)+))
            }
            fn kind() -> String {
                let parts: Vec<String> = vec![$($name::kind()),+];
                format!("({})", parts.join(", "))
            }
        }
    };
}
tuple!(A);
tuple!(A B);
tuple!(A B C);
tuple!(A B C D);
tuple!(A B C D E);
tuple!(A B C D E F);
tuple!(A B C D E F G);
tuple!(A B C D E F G H);

// ------------------------------------------------------------------------------------------
// Arguments: what a query accepts in place of a key, a prefix of one, or a range of them
// ------------------------------------------------------------------------------------------

/// A value that encodes exactly as a `K` would: `K` itself, `&K`, and borrowed forms (`&str`
/// for `String`, `&[u8]` and byte arrays for `Vec<u8>`). Query methods take `impl KeyLike<K>`
/// so that `get::<User>(7)` and `index(User::email).get("ada@example.com")` both work.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a key of type `{K}`",
    note = "pass a `{K}` (or a reference to one); for composite keys pass a tuple of the exact field types"
)]
pub trait KeyLike<K: Key> {
    /// Appends the encoding `K` would have.
    fn encode_like(&self, out: &mut Vec<u8>);
}

impl<K: Key> KeyLike<K> for K {
    fn encode_like(&self, out: &mut Vec<u8>) {
        self.encode_key(out);
    }
}
impl<K: Key> KeyLike<K> for &K {
    fn encode_like(&self, out: &mut Vec<u8>) {
        (*self).encode_key(out);
    }
}
impl KeyLike<String> for str {
    fn encode_like(&self, out: &mut Vec<u8>) {
        encode_escaped(self.as_bytes(), out);
    }
}
impl KeyLike<String> for &str {
    fn encode_like(&self, out: &mut Vec<u8>) {
        encode_escaped(self.as_bytes(), out);
    }
}
impl KeyLike<Vec<u8>> for [u8] {
    fn encode_like(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
}
impl KeyLike<Vec<u8>> for &[u8] {
    fn encode_like(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
}
impl<const N: usize> KeyLike<Vec<u8>> for [u8; N] {
    fn encode_like(&self, out: &mut Vec<u8>) {
        encode_escaped(self, out);
    }
}
impl<const N: usize> KeyLike<Vec<u8>> for &[u8; N] {
    fn encode_like(&self, out: &mut Vec<u8>) {
        encode_escaped(*self, out);
    }
}

/// A prefix of a key: a whole key ([`KeyLike`]), or the leading fields of a composite key as a
/// shorter tuple (`(user,)` for a key `(u64, i64)`). Because every key encoding is prefix-free,
/// the keys that start with these fields are exactly the keys whose encodings start with the
/// prefix's encoding, which sit next to each other in the bucket.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a key or a key prefix of `{K}`",
    note = "a prefix of a composite key is a tuple of its leading fields with their exact types, such as `(user_id,)`"
)]
pub trait KeyPrefix<K: Key> {
    /// Appends the encoding of the prefix.
    fn encode_prefix(&self, out: &mut Vec<u8>);
}

impl<K: Key, T: KeyLike<K> + ?Sized> KeyPrefix<K> for T {
    fn encode_prefix(&self, out: &mut Vec<u8>) {
        self.encode_like(out);
    }
}

/// `prefix!((A PA) (B PB); C D)`: a tuple of (`PA`, `PB`), each a [`KeyLike`] of `A` and `B`
/// (the key types themselves, or borrowed forms such as `&str` for `String`), is a prefix of
/// the key (A, B, C, D); so is a reference to one.
macro_rules! prefix {
    ($(($p:ident $q:ident))+; $($rest:ident)+) => {
        impl<$($p: Key, $q: KeyLike<$p>,)+ $($rest: Key),+> KeyPrefix<($($p,)+ $($rest,)+)> for ($($q,)+) {
            #[allow(non_snake_case)]
            fn encode_prefix(&self, out: &mut Vec<u8>) {
                let ($($q,)+) = self;
                $($q.encode_like(out);)+
            }
        }
        impl<$($p: Key, $q: KeyLike<$p>,)+ $($rest: Key),+> KeyPrefix<($($p,)+ $($rest,)+)> for &($($q,)+) {
            fn encode_prefix(&self, out: &mut Vec<u8>) {
                KeyPrefix::<($($p,)+ $($rest,)+)>::encode_prefix(*self, out);
            }
        }
    };
}
prefix!((A PA); B);
prefix!((A PA); B C);
prefix!((A PA) (B PB); C);
prefix!((A PA); B C D);
prefix!((A PA) (B PB); C D);
prefix!((A PA) (B PB) (C PC); D);
prefix!((A PA); B C D E);
prefix!((A PA) (B PB); C D E);
prefix!((A PA) (B PB) (C PC); D E);
prefix!((A PA) (B PB) (C PC) (D PD); E);
prefix!((A PA); B C D E F);
prefix!((A PA) (B PB); C D E F);
prefix!((A PA) (B PB) (C PC); D E F);
prefix!((A PA) (B PB) (C PC) (D PD); E F);
prefix!((A PA) (B PB) (C PC) (D PD) (E PE); F);
prefix!((A PA); B C D E F G);
prefix!((A PA) (B PB); C D E F G);
prefix!((A PA) (B PB) (C PC); D E F G);
prefix!((A PA) (B PB) (C PC) (D PD); E F G);
prefix!((A PA) (B PB) (C PC) (D PD) (E PE); F G);
prefix!((A PA) (B PB) (C PC) (D PD) (E PE) (F PF); G);
prefix!((A PA); B C D E F G H);
prefix!((A PA) (B PB); C D E F G H);
prefix!((A PA) (B PB) (C PC); D E F G H);
prefix!((A PA) (B PB) (C PC) (D PD); E F G H);
prefix!((A PA) (B PB) (C PC) (D PD) (E PE); F G H);
prefix!((A PA) (B PB) (C PC) (D PD) (E PE) (F PF); G H);
prefix!((A PA) (B PB) (C PC) (D PD) (E PE) (F PF) (G PG); H);

/// The smallest byte string greater than every string that starts with `prefix`, or `None` if
/// there is none (the prefix is empty or all `0xFF`).
pub(crate) fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xFF {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// Encoded bounds of a key range, ready for the engine: `(lower, upper)`.
pub type EncodedBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// Bounds that select nothing.
pub(crate) fn empty_bounds() -> EncodedBounds {
    (Bound::Excluded(Vec::new()), Bound::Excluded(Vec::new()))
}

fn lower<K: Key, P: KeyPrefix<K> + ?Sized>(b: Bound<&P>) -> Option<Bound<Vec<u8>>> {
    Some(match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Included(p) => Bound::Included(prefix_bytes(p)),
        // Past every key that starts with the prefix; with no successor nothing is past it.
        Bound::Excluded(p) => Bound::Included(successor(&prefix_bytes(p))?),
    })
}

fn upper<K: Key, P: KeyPrefix<K> + ?Sized>(b: Bound<&P>) -> Bound<Vec<u8>> {
    match b {
        Bound::Unbounded => Bound::Unbounded,
        Bound::Excluded(p) => Bound::Excluded(prefix_bytes(p)),
        // Up to and including every key that starts with the prefix.
        Bound::Included(p) => match successor(&prefix_bytes(p)) {
            Some(s) => Bound::Excluded(s),
            None => Bound::Unbounded,
        },
    }
}

fn prefix_bytes<K: Key, P: KeyPrefix<K> + ?Sized>(p: &P) -> Vec<u8> {
    let mut out = Vec::new();
    p.encode_prefix(&mut out);
    out
}

/// The bounds selecting every key that starts with `prefix`.
pub fn prefix_bounds<K: Key, P: KeyPrefix<K> + ?Sized>(prefix: &P) -> EncodedBounds {
    raw_prefix_bounds(prefix_bytes(prefix))
}

/// The bounds selecting every byte string that starts with `p`.
pub(crate) fn raw_prefix_bounds(p: Vec<u8>) -> EncodedBounds {
    let hi = match successor(&p) {
        Some(s) => Bound::Excluded(s),
        None => Bound::Unbounded,
    };
    (Bound::Included(p), hi)
}

/// A range of keys of type `K`: any standard range (`a..b`, `a..=b`, `a..`, `..b`, `..=b`,
/// `..`, or a pair of [`Bound`]s) whose endpoints are keys or key prefixes.
///
/// An endpoint that is a prefix stands for the whole block of keys that start with it:
/// `(1,)..(3,)` over keys `(u64, i64)` selects every key whose first field is 1 or 2, and
/// `(1,)..=(3,)` also every key whose first field is 3.
pub trait KeyRange<K: Key> {
    /// The encoded bounds.
    fn encode_bounds(&self) -> EncodedBounds;
}

fn bounds<K: Key, P: KeyPrefix<K> + ?Sized>(lo: Bound<&P>, hi: Bound<&P>) -> EncodedBounds {
    match lower(lo) {
        Some(lo) => (lo, upper(hi)),
        None => empty_bounds(),
    }
}

impl<K: Key> KeyRange<K> for RangeFull {
    fn encode_bounds(&self) -> EncodedBounds {
        (Bound::Unbounded, Bound::Unbounded)
    }
}
impl<K: Key, P: KeyPrefix<K>> KeyRange<K> for Range<P> {
    fn encode_bounds(&self) -> EncodedBounds {
        bounds::<K, P>(Bound::Included(&self.start), Bound::Excluded(&self.end))
    }
}
impl<K: Key, P: KeyPrefix<K>> KeyRange<K> for RangeInclusive<P> {
    fn encode_bounds(&self) -> EncodedBounds {
        bounds::<K, P>(Bound::Included(self.start()), Bound::Included(self.end()))
    }
}
impl<K: Key, P: KeyPrefix<K>> KeyRange<K> for RangeFrom<P> {
    fn encode_bounds(&self) -> EncodedBounds {
        bounds::<K, P>(Bound::Included(&self.start), Bound::Unbounded)
    }
}
impl<K: Key, P: KeyPrefix<K>> KeyRange<K> for RangeTo<P> {
    fn encode_bounds(&self) -> EncodedBounds {
        bounds::<K, P>(Bound::Unbounded, Bound::Excluded(&self.end))
    }
}
impl<K: Key, P: KeyPrefix<K>> KeyRange<K> for RangeToInclusive<P> {
    fn encode_bounds(&self) -> EncodedBounds {
        bounds::<K, P>(Bound::Unbounded, Bound::Included(&self.end))
    }
}
impl<K: Key, P: KeyPrefix<K>> KeyRange<K> for (Bound<P>, Bound<P>) {
    fn encode_bounds(&self) -> EncodedBounds {
        bounds::<K, P>(self.0.as_ref(), self.1.as_ref())
    }
}

/// Integer types usable as `#[key(auto)]` fields: values come from the bucket's sequence
/// (bbolt's `NextSequence`), which starts at 1.
#[diagnostic::on_unimplemented(
    message = "`#[key(auto)]` needs an integer key field, and `{Self}` is not one",
    label = "autoincrement keys are assigned from the bucket's u64 sequence",
    note = "use u64 (or another integer type) for the auto key field, or drop `auto` and assign keys yourself"
)]
pub trait AutoKey: Key {
    /// The key for sequence number `n`, or `None` if `n` does not fit the type.
    fn from_sequence(n: u64) -> Option<Self>;
    /// The sequence number this key stands for, or `None` if it is not one (negative).
    fn to_sequence(&self) -> Option<u64>;
}

macro_rules! auto_key {
    ($($t:ty),*) => {$(
        impl AutoKey for $t {
            fn from_sequence(n: u64) -> Option<Self> {
                <$t>::try_from(n).ok()
            }
            fn to_sequence(&self) -> Option<u64> {
                u64::try_from(*self).ok()
            }
        }
    )*};
}
auto_key!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_skips_trailing_ff() {
        assert_eq!(successor(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(successor(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(successor(&[0xFF, 0xFF]), None);
        assert_eq!(successor(&[]), None);
    }

    #[test]
    fn strings_escape_zero_bytes() {
        assert_eq!(encode(&"a\0b".to_string()), vec![b'a', 0, 0xFF, b'b', 0, 0]);
        assert!(decode::<String>(&[b'a', 0, 1]).is_err());
        assert!(decode::<String>(b"a").is_err());
    }

    #[test]
    fn prefix_ranges_cover_whole_blocks() {
        let (lo, hi) = KeyRange::<(u64, i64)>::encode_bounds(&((1u64,)..=(1u64,)));
        assert_eq!(lo, Bound::Included(encode(&1u64)));
        assert_eq!(hi, Bound::Excluded(encode(&2u64)));
        let (lo, _) = KeyRange::<u8>::encode_bounds(&(Bound::Excluded(255u8), Bound::Unbounded));
        assert_eq!(lo, Bound::Excluded(Vec::new()));
    }
}
