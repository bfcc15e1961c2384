//! Key kinds: the encodings the catalog names (`u64`, `option<string>`, `(u64, i64)`), as
//! values, so that keys and index entries can be read and computed without the program's Rust
//! types.
//!
//! Every [`Key`] implementation of this crate has a kind ([`Key::kind`]), and the catalog
//! records the kind of each key and index field. [`KeyKind`] parses those names back and
//! decodes and encodes keys of that kind with the same code as the typed store (it calls the
//! `Key` implementations), so `rivet records` prints keys and `rivet check` verifies indexes of
//! any file. A kind of a user's own `Key` implementation does not parse: such keys are shown
//! as hex and their indexes are not verified without the program.

use std::fmt;

use crate::key::{Key, KeyError};
use crate::value::Value;

/// The deepest nesting of `option<..>` and tuples a kind may have (a bound for crafted
/// catalogs; real kinds nest a few levels at most).
const MAX_DEPTH: usize = 16;

/// A key encoding named in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `u128`.
    U128,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64`.
    I64,
    /// `i128`.
    I128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `bool`.
    Bool,
    /// `char`.
    Char,
    /// `String` (`string`).
    Str,
    /// `Vec<u8>` (`bytes`).
    Bytes,
    /// `[u8; N]`.
    ByteArray(usize),
    /// `Option<T>` (`option<T>`).
    Option(Box<KeyKind>),
    /// A tuple (`(A, B)`).
    Tuple(Vec<KeyKind>),
}

/// Why a value cannot be encoded as a key of some kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindMismatch {
    /// The kind asked for.
    pub kind: String,
    /// The value, as [`Value`]'s `Debug` prints it.
    pub value: String,
}

impl fmt::Display for KindMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the value {} is not a key of kind `{}`", self.value, self.kind)
    }
}

impl std::error::Error for KindMismatch {}

impl KeyKind {
    /// Parses a kind as [`Key::kind`] writes it; `None` for a kind this crate does not define
    /// (a user's own `Key` implementation) or one nested deeper than any real key.
    ///
    /// # Example
    /// ```
    /// use rivet::key_kind::KeyKind;
    /// assert_eq!(KeyKind::parse("option<u64>"), Some(KeyKind::Option(Box::new(KeyKind::U64))));
    /// assert_eq!(KeyKind::parse("MyKey"), None);
    /// ```
    pub fn parse(text: &str) -> Option<KeyKind> {
        Self::parse_at(text, 0)
    }

    fn parse_at(text: &str, depth: usize) -> Option<KeyKind> {
        if depth > MAX_DEPTH {
            return None;
        }
        let t = text.trim();
        Some(match t {
            "u8" => KeyKind::U8,
            "u16" => KeyKind::U16,
            "u32" => KeyKind::U32,
            "u64" => KeyKind::U64,
            "u128" => KeyKind::U128,
            "i8" => KeyKind::I8,
            "i16" => KeyKind::I16,
            "i32" => KeyKind::I32,
            "i64" => KeyKind::I64,
            "i128" => KeyKind::I128,
            "f32" => KeyKind::F32,
            "f64" => KeyKind::F64,
            "bool" => KeyKind::Bool,
            "char" => KeyKind::Char,
            "string" => KeyKind::Str,
            "bytes" => KeyKind::Bytes,
            _ => {
                if let Some(inner) = t.strip_prefix("option<").and_then(|r| r.strip_suffix('>')) {
                    KeyKind::Option(Box::new(Self::parse_at(inner, depth + 1)?))
                } else if let Some(n) = t.strip_prefix("[u8;").and_then(|r| r.strip_suffix(']')) {
                    KeyKind::ByteArray(n.trim().parse().ok()?)
                } else if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                    let parts = split_top(inner)?;
                    if parts.is_empty() {
                        return None;
                    }
                    KeyKind::Tuple(parts.into_iter().map(|p| Self::parse_at(p, depth + 1)).collect::<Option<_>>()?)
                } else {
                    return None;
                }
            }
        })
    }

    /// Decodes one key of this kind from the front of `input` (advancing it) with the typed
    /// store's own decoders.
    ///
    /// # Errors
    /// [`KeyError`] for bytes that are not a key of this kind.
    pub fn decode(&self, input: &mut &[u8]) -> Result<Value, KeyError> {
        Ok(match self {
            KeyKind::U8 => Value::U(u8::decode_key(input)?.into()),
            KeyKind::U16 => Value::U(u16::decode_key(input)?.into()),
            KeyKind::U32 => Value::U(u32::decode_key(input)?.into()),
            KeyKind::U64 => Value::U(u64::decode_key(input)?.into()),
            KeyKind::U128 => Value::U(u128::decode_key(input)?),
            KeyKind::I8 => Value::I(i8::decode_key(input)?.into()),
            KeyKind::I16 => Value::I(i16::decode_key(input)?.into()),
            KeyKind::I32 => Value::I(i32::decode_key(input)?.into()),
            KeyKind::I64 => Value::I(i64::decode_key(input)?.into()),
            KeyKind::I128 => Value::I(i128::decode_key(input)?),
            KeyKind::F32 => Value::F32(f32::decode_key(input)?),
            KeyKind::F64 => Value::F64(f64::decode_key(input)?),
            KeyKind::Bool => Value::Bool(bool::decode_key(input)?),
            KeyKind::Char => Value::Char(char::decode_key(input)?),
            KeyKind::Str => Value::String(String::decode_key(input)?),
            KeyKind::Bytes => bytes_value(&Vec::<u8>::decode_key(input)?),
            KeyKind::ByteArray(n) => {
                if input.len() < *n {
                    return Err(KeyError(format!("truncated [u8; {n}]")));
                }
                let (head, tail) = input.split_at(*n);
                *input = tail;
                bytes_value(head)
            }
            KeyKind::Option(inner) => match input.split_first() {
                Some((0, rest)) => {
                    *input = rest;
                    Value::None
                }
                Some((1, rest)) => {
                    *input = rest;
                    Value::Some(Box::new(inner.decode(input)?))
                }
                _ => return Err(KeyError("invalid or missing option tag".into())),
            },
            KeyKind::Tuple(items) => Value::Seq(items.iter().map(|k| k.decode(input)).collect::<Result<_, _>>()?),
        })
    }

    /// Appends the key encoding of `value` as this kind: the bytes the typed store writes for
    /// a field of this kind holding that value (a value decoded by a record's layout).
    ///
    /// # Errors
    /// [`KindMismatch`] if `value` is not of this kind (or out of its range).
    pub fn encode(&self, value: &Value, out: &mut Vec<u8>) -> Result<(), KindMismatch> {
        let bad = || KindMismatch { kind: self.to_string(), value: format!("{value:?}") };
        macro_rules! int {
            ($t:ty) => {{
                let n: $t = match value {
                    Value::U(n) => (*n).try_into().map_err(|_| bad())?,
                    Value::I(n) => (*n).try_into().map_err(|_| bad())?,
                    _ => return Err(bad()),
                };
                n.encode_key(out)
            }};
        }
        match (self, value) {
            (KeyKind::U8, _) => int!(u8),
            (KeyKind::U16, _) => int!(u16),
            (KeyKind::U32, _) => int!(u32),
            (KeyKind::U64, _) => int!(u64),
            (KeyKind::U128, _) => int!(u128),
            (KeyKind::I8, _) => int!(i8),
            (KeyKind::I16, _) => int!(i16),
            (KeyKind::I32, _) => int!(i32),
            (KeyKind::I64, _) => int!(i64),
            (KeyKind::I128, _) => int!(i128),
            (KeyKind::F32, Value::F32(x)) => x.encode_key(out),
            (KeyKind::F64, Value::F64(x)) => x.encode_key(out),
            (KeyKind::Bool, Value::Bool(b)) => b.encode_key(out),
            (KeyKind::Char, Value::Char(c)) => c.encode_key(out),
            (KeyKind::Str, Value::String(s)) => s.encode_key(out),
            (KeyKind::Bytes, v) => as_bytes(v).ok_or_else(bad)?.encode_key(out),
            (KeyKind::ByteArray(n), v) => {
                let b = as_bytes(v).filter(|b| b.len() == *n).ok_or_else(bad)?;
                out.extend_from_slice(&b);
            }
            (KeyKind::Option(_), Value::None) => out.push(0),
            (KeyKind::Option(inner), Value::Some(v)) => {
                out.push(1);
                inner.encode(v, out)?;
            }
            (KeyKind::Tuple(kinds), Value::Seq(items)) if kinds.len() == items.len() => {
                for (k, v) in kinds.iter().zip(items) {
                    k.encode(v, out)?;
                }
            }
            _ => return Err(bad()),
        }
        Ok(())
    }
}

impl fmt::Display for KeyKind {
    /// The kind's name as [`Key::kind`] writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::U8 => f.write_str("u8"),
            KeyKind::U16 => f.write_str("u16"),
            KeyKind::U32 => f.write_str("u32"),
            KeyKind::U64 => f.write_str("u64"),
            KeyKind::U128 => f.write_str("u128"),
            KeyKind::I8 => f.write_str("i8"),
            KeyKind::I16 => f.write_str("i16"),
            KeyKind::I32 => f.write_str("i32"),
            KeyKind::I64 => f.write_str("i64"),
            KeyKind::I128 => f.write_str("i128"),
            KeyKind::F32 => f.write_str("f32"),
            KeyKind::F64 => f.write_str("f64"),
            KeyKind::Bool => f.write_str("bool"),
            KeyKind::Char => f.write_str("char"),
            KeyKind::Str => f.write_str("string"),
            KeyKind::Bytes => f.write_str("bytes"),
            KeyKind::ByteArray(n) => write!(f, "[u8; {n}]"),
            KeyKind::Option(inner) => write!(f, "option<{inner}>"),
            KeyKind::Tuple(items) => {
                f.write_str("(")?;
                for (i, k) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// Named fields of a key or index, as the catalog lists them (`user: u64, at: i64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFields {
    /// Each field's name and kind, in key order.
    pub fields: Vec<(String, KeyKind)>,
}

impl KeyFields {
    /// Parses `name: kind, ...`; `None` if a kind does not parse ([`KeyKind::parse`]) or the
    /// list is empty.
    ///
    /// # Example
    /// ```
    /// use rivet::key_kind::{KeyFields, KeyKind};
    /// let k = KeyFields::parse("user: u64, at: i64").unwrap();
    /// assert_eq!(k.fields[1], ("at".to_string(), KeyKind::I64));
    /// ```
    pub fn parse(text: &str) -> Option<KeyFields> {
        let fields = split_top(text)?
            .into_iter()
            .map(|f| {
                let (name, kind) = f.split_once(':')?;
                Some((name.trim().to_string(), KeyKind::parse(kind)?))
            })
            .collect::<Option<Vec<_>>>()?;
        (!fields.is_empty()).then_some(KeyFields { fields })
    }

    /// Decodes a whole key (every field, nothing left over): one field as its value, several
    /// as a struct of the fields by name.
    ///
    /// # Errors
    /// [`KeyError`] for bytes that are not such a key.
    pub fn decode(&self, mut bytes: &[u8]) -> Result<Value, KeyError> {
        let mut parts = Vec::with_capacity(self.fields.len());
        for (name, kind) in &self.fields {
            parts.push((name.clone(), kind.decode(&mut bytes)?));
        }
        if !bytes.is_empty() {
            return Err(KeyError(format!("{} bytes left over", bytes.len())));
        }
        Ok(if parts.len() == 1 { parts.remove(0).1 } else { Value::Struct(parts) })
    }

    /// How many bytes at the front of `bytes` one key of these fields takes, if they are one.
    pub fn prefix_len(&self, bytes: &[u8]) -> Option<usize> {
        let mut rest = bytes;
        for (_, kind) in &self.fields {
            kind.decode(&mut rest).ok()?;
        }
        Some(bytes.len() - rest.len())
    }

    /// A key for messages: its decoded value, or hex if it does not decode.
    pub fn describe(&self, bytes: &[u8]) -> String {
        match self.decode(bytes) {
            Ok(v) => v.to_string(),
            Err(_) => crate::error::hex(bytes),
        }
    }
}

/// A value as bytes: a sequence of numbers below 256 (how a `Vec<u8>` or `[u8; N]` field
/// decodes by its layout).
fn as_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Seq(items) => items
            .iter()
            .map(|x| match x {
                Value::U(n) => u8::try_from(*n).ok(),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// Bytes as a value: a sequence of numbers, as a `Vec<u8>` field decodes.
fn bytes_value(b: &[u8]) -> Value {
    Value::Seq(b.iter().map(|&x| Value::U(x.into())).collect())
}

/// Splits `text` at the commas outside `()`, `<>` and `[]`; `None` if the brackets do not
/// balance.
fn split_top(text: &str) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' | '>' | ']' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return None;
    }
    let last = text[start..].trim();
    if !last.is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::encode;

    fn roundtrip<K: Key + PartialEq>(k: K) {
        let kind = KeyKind::parse(&K::kind()).unwrap_or_else(|| panic!("kind {}", K::kind()));
        assert_eq!(kind.to_string(), K::kind());
        let bytes = encode(&k);
        let mut input = bytes.as_slice();
        let v = kind.decode(&mut input).unwrap();
        assert!(input.is_empty());
        let mut again = Vec::new();
        kind.encode(&v, &mut again).unwrap();
        assert_eq!(again, bytes, "{k:?}");
    }

    #[test]
    fn every_kind_decodes_and_encodes_as_the_typed_store() {
        roundtrip(7u8);
        roundtrip(700u16);
        roundtrip(70_000u32);
        roundtrip(u64::MAX);
        roundtrip(u128::MAX);
        roundtrip(-7i8);
        roundtrip(-700i16);
        roundtrip(i32::MIN);
        roundtrip(-1i64);
        roundtrip(i128::MIN);
        roundtrip(1.5f32);
        roundtrip(-2.25f64);
        roundtrip(true);
        roundtrip('é');
        roundtrip("a\0b".to_string());
        roundtrip(vec![0u8, 1, 255]);
        roundtrip([9u8; 4]);
        roundtrip(Some(3u64));
        roundtrip(None::<String>);
        roundtrip((1u64, -2i64, "x".to_string()));
        roundtrip((Some((1u8,)),));
    }

    #[test]
    fn mismatched_values_and_unknown_kinds_are_refused() {
        let mut out = Vec::new();
        assert!(KeyKind::U8.encode(&Value::U(256), &mut out).is_err());
        assert!(KeyKind::U64.encode(&Value::I(-1), &mut out).is_err());
        assert!(KeyKind::Str.encode(&Value::U(1), &mut out).is_err());
        assert!(KeyKind::ByteArray(2).encode(&Value::Seq(vec![Value::U(1)]), &mut out).is_err());
        assert!(KeyKind::Tuple(vec![KeyKind::U8]).encode(&Value::Seq(vec![]), &mut out).is_err());
        assert_eq!(KeyKind::parse("Custom"), None);
        assert_eq!(KeyKind::parse("(u8"), None);
        assert_eq!(KeyKind::parse("()"), None);
        let deep = format!("{}u8{}", "option<".repeat(100), ">".repeat(100));
        assert_eq!(KeyKind::parse(&deep), None);
    }

    #[test]
    fn key_fields_decode_whole_keys_and_measure_prefixes() {
        let k = KeyFields::parse("user: u64, at: i64").unwrap();
        let bytes = encode(&(5u64, -3i64));
        assert_eq!(
            k.decode(&bytes).unwrap(),
            Value::Struct(vec![("user".into(), Value::U(5)), ("at".into(), Value::I(-3))])
        );
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"rest");
        assert_eq!(k.prefix_len(&longer), Some(bytes.len()));
        assert!(k.decode(&longer).is_err());
        assert_eq!(KeyFields::parse(""), None);
        assert_eq!(KeyFields::parse("id: Custom"), None);
    }
}
