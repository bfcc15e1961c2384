//! The [`Bincode`] codec (cargo feature `bincode`): [bincode 2](https://docs.rs/bincode/2.0.1)
//! through its serde support, in its standard configuration (little endian, variable-length
//! integers, no size limit: a value is one stored record, bounded by the engine's value size).
//!
//! bincode 2.0.1 is pinned exactly: the releases after it are a deliberate compile error,
//! published when the project stopped being maintained. The format of 2.0.1 is what this codec
//! writes and reads, so a file written with it stays readable as long as this version builds.

use ::bincode::config::{self, Configuration};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Codec, CodecError};
use crate::layout::Shape;
use crate::value::{ShapeSeed, Value};

/// bincode's standard configuration: little endian, varint integers, no limit.
const CONFIG: Configuration = config::standard();

/// A codec for [bincode 2](https://docs.rs/bincode/2.0.1) (cargo feature `bincode`):
/// non self-describing like [`Postcard`](crate::Postcard), fields in declaration order,
/// varint integers (zigzag for signed ones, as postcard), `u8`/`i8` and `bool` one byte each,
/// length-prefixed strings and sequences, enum variants as a varint index. Schema evolution
/// works as with postcard: the store reads values of an older layout by field name through
/// [`Codec::decode_shape`].
///
/// Choose it per record type with `#[rivet(codec = rivet::Bincode)]`. The catalog records the
/// codec's name (`bincode`), so a bucket written with one codec is never read with the other
/// ([`Mismatch::Codec`](crate::Mismatch::Codec)).
///
/// ```
/// use rivet::{Bincode, Codec};
/// let bytes = Bincode::encode(&(7u64, "seven"))?;
/// assert_eq!(Bincode::decode::<(u64, String)>(&bytes)?, (7, "seven".to_string()));
/// assert!(Bincode::decode::<u8>(&[1, 2]).is_err()); // a byte left over
/// # Ok::<(), rivet::codec::CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Bincode;

/// The error of a value that decoded from fewer bytes than it was given.
fn left_over(read: usize, len: usize) -> CodecError {
    format!("{} bytes left over after the value", len - read)
}

impl Codec for Bincode {
    const NAME: &'static str = "bincode";

    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
        ::bincode::serde::encode_to_vec(value, CONFIG).map_err(|e| e.to_string())
    }

    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        ::bincode::serde::encode_into_std_write(value, out, CONFIG).map(drop).map_err(|e| e.to_string())
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
        let (value, read) = ::bincode::serde::decode_from_slice(bytes, CONFIG).map_err(|e| e.to_string())?;
        if read == bytes.len() {
            Ok(value)
        } else {
            Err(left_over(read, bytes.len()))
        }
    }

    fn decode_shape(bytes: &[u8], shape: &Shape) -> Result<Value, CodecError> {
        let (value, read) =
            ::bincode::serde::seed_decode_from_slice(ShapeSeed(shape), bytes, CONFIG).map_err(|e| e.to_string())?;
        if read == bytes.len() {
            Ok(value)
        } else {
            Err(left_over(read, bytes.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::fmt::Debug;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::codec::Postcard;
    use crate::layout::{FieldShape, Layout};
    use crate::value::VariantValue;

    #[derive(crate::Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Inner {
        a: u16,
        b: Option<String>,
    }

    #[derive(crate::Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
    enum Kind {
        Nothing,
        One(i32),
        Pair(u8, char),
        Named { x: f64, inner: Inner },
    }

    /// One field of every shape kind.
    #[derive(crate::Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
    struct Every {
        unit: (),
        flag: bool,
        small: u8,
        short: u16,
        word: u32,
        long: u64,
        huge: u128,
        tiny: i8,
        signed_short: i16,
        signed_word: i32,
        signed_long: i64,
        signed_huge: i128,
        single: f32,
        double: f64,
        letter: char,
        text: String,
        bytes: Vec<u8>,
        none: Option<u32>,
        some: Option<Inner>,
        list: Vec<Kind>,
        array: [u16; 3],
        tuple: (i8, String, bool),
        map: BTreeMap<String, Vec<i64>>,
        inner: Inner,
    }

    fn every() -> Every {
        Every {
            unit: (),
            flag: true,
            small: 255,
            short: 65_000,
            word: 250,
            long: u64::MAX,
            huge: u128::MAX,
            tiny: -128,
            signed_short: -300,
            signed_word: i32::MIN,
            signed_long: -1,
            signed_huge: i128::MIN,
            single: -1.5,
            double: f64::INFINITY,
            letter: 'ß',
            text: "héllo, wörld".into(),
            bytes: vec![0, 1, 250, 251, 255],
            none: None,
            some: Some(Inner { a: 9, b: Some(String::new()) }),
            list: vec![
                Kind::Nothing,
                Kind::One(-70_000),
                Kind::Pair(3, '\u{10FFFF}'),
                Kind::Named { x: -0.0, inner: Inner { a: 0, b: None } },
            ],
            array: [1, 252, 65_535],
            tuple: (-1, "t".into(), false),
            map: BTreeMap::from([("a".into(), vec![i64::MIN, 0, i64::MAX]), ("b".into(), vec![])]),
            inner: Inner { a: 1000, b: Some("in".into()) },
        }
    }

    /// `value` round-trips as its type and by its shape, and refuses a byte more.
    fn check<T: Layout + Serialize + DeserializeOwned + PartialEq + Debug>(value: T) {
        let bytes = Bincode::encode(&value).unwrap();
        assert_eq!(Bincode::decode::<T>(&bytes).unwrap(), value);
        let shape = T::shape();
        let by_shape = Bincode::decode_shape(&bytes, &shape).unwrap();
        assert_eq!(by_shape.clone().into_type::<T>().unwrap(), value, "{shape}");
        // Postcard reads its own bytes of the value into the same `Value`.
        let postcard = Postcard::decode_shape(&Postcard::encode(&value).unwrap(), &shape).unwrap();
        assert_eq!(by_shape, postcard, "{shape}");

        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Bincode::decode::<T>(&longer).unwrap_err().contains("1 bytes left over"), "{shape}");
        assert!(Bincode::decode_shape(&longer, &shape).unwrap_err().contains("1 bytes left over"), "{shape}");
    }

    #[test]
    fn every_shape_kind_round_trips_by_type_and_by_shape() {
        check(());
        check(false);
        check(true);
        for n in [0u8, 1, 250, 251, 255] {
            check(n);
            check(n as i8);
        }
        for n in [0u16, 250, 251, 256, u16::MAX] {
            check(n);
            check(n as i16);
        }
        for n in [0u32, 251, 65_536, u32::MAX] {
            check(n);
            check(n as i32);
        }
        for n in [0u64, 1 << 32, u64::MAX] {
            check(n);
            check(n as i64);
        }
        for n in [0u128, 1 << 64, u128::MAX] {
            check(n);
            check(n as i128);
        }
        for x in [0.0f32, -0.0, 1.5, f32::MIN, f32::INFINITY] {
            check(x);
            check(f64::from(x));
        }
        for c in ['a', 'é', '€', '\u{10FFFF}'] {
            check(c);
        }
        check(String::new());
        check("x".repeat(300));
        check(Vec::<u8>::new());
        check(vec![7u8; 300]);
        check(None::<u64>);
        check(Some(Some(5u64)));
        check(vec![vec![1u32], vec![], vec![2, 3]]);
        check([0u8; 0]);
        check([1i64, -2, 3]);
        check((1u8,));
        check((1u8, -2i16, "three".to_string(), Some('4')));
        check(BTreeMap::from([(1u32, "one".to_string()), (2, "two".into())]));
        check(BTreeMap::<String, u8>::new());
        check(Inner { a: 5, b: None });
        check(Kind::Nothing);
        check(Kind::One(i32::MAX));
        check(Kind::Pair(0, 'z'));
        check(Kind::Named { x: 2.25, inner: Inner { a: 1, b: Some("b".into()) } });
        check(every());
    }

    #[test]
    fn values_by_shape_are_what_was_stored() {
        let bytes = Bincode::encode(&every()).unwrap();
        let Value::Struct(fields) = Bincode::decode_shape(&bytes, &Every::shape()).unwrap() else {
            panic!("a struct decodes as a struct");
        };
        let field = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(field("unit"), Value::Unit);
        assert_eq!(field("huge"), Value::U(u128::MAX));
        assert_eq!(field("signed_huge"), Value::I(i128::MIN));
        assert_eq!(field("letter"), Value::Char('ß'));
        assert_eq!(field("bytes"), Value::Seq([0u8, 1, 250, 251, 255].map(|b| Value::U(b.into())).to_vec()));
        assert_eq!(field("none"), Value::None);
        assert_eq!(field("array"), Value::Seq(vec![Value::U(1), Value::U(252), Value::U(65_535)]));
        let Value::Seq(kinds) = field("list") else { panic!("a vec decodes as a sequence") };
        assert_eq!(kinds[0], Value::Variant("Nothing".into(), Box::new(VariantValue::Unit)));
        assert_eq!(kinds[1], Value::Variant("One".into(), Box::new(VariantValue::Newtype(Value::I(-70_000)))));
        assert_eq!(
            kinds[2],
            Value::Variant("Pair".into(), Box::new(VariantValue::Tuple(vec![Value::U(3), Value::Char('\u{10FFFF}')])))
        );
        assert!(matches!(&kinds[3], Value::Variant(name, content)
            if name == "Named" && matches!(&**content, VariantValue::Struct(f) if f.len() == 2)));
    }

    #[test]
    fn an_old_layout_reads_into_a_new_type_by_name() {
        #[derive(crate::Layout, Serialize, Deserialize)]
        struct V1 {
            id: u64,
            gone: Vec<String>,
            name: String,
            kind: Kind,
        }
        #[derive(Deserialize, Debug, PartialEq)]
        struct V2 {
            kind: Kind,
            #[serde(default)]
            added: Option<u8>,
            name: String,
            id: u64,
        }
        let old = V1 { id: 300, gone: vec!["x".into()], name: "Ada".into(), kind: Kind::One(2) };
        let value = Bincode::decode_shape(&Bincode::encode(&old).unwrap(), &V1::shape()).unwrap();
        let new: V2 = value.into_type().unwrap();
        assert_eq!(new, V2 { kind: Kind::One(2), added: None, name: "Ada".into(), id: 300 });
    }

    #[test]
    fn skipped_fields_are_not_on_the_wire() {
        // bincode's serde notes warn about `skip`; the store allows it (its layouts leave such
        // fields out), and it is consistent here: neither side counts a skipped field.
        #[derive(crate::Layout, Serialize, Deserialize, Debug, PartialEq)]
        struct S {
            a: u8,
            #[serde(skip)]
            cache: Vec<u64>,
            b: String,
        }
        let bytes = Bincode::encode(&S { a: 1, cache: vec![9], b: "x".into() }).unwrap();
        assert_eq!(bytes, [1, 1, b'x']);
        assert_eq!(Bincode::decode::<S>(&bytes).unwrap(), S { a: 1, cache: vec![], b: "x".into() });
        let by_shape = Bincode::decode_shape(&bytes, &S::shape()).unwrap();
        assert_eq!(by_shape.into_type::<S>().unwrap(), S { a: 1, cache: vec![], b: "x".into() });
    }

    #[test]
    fn short_or_malformed_bytes_are_errors() {
        let bytes = Bincode::encode(&every()).unwrap();
        let shape = Every::shape();
        for cut in 0..bytes.len() {
            assert!(Bincode::decode::<Every>(&bytes[..cut]).is_err(), "cut at {cut}");
            assert!(Bincode::decode_shape(&bytes[..cut], &shape).is_err(), "cut at {cut}");
        }
        // An option's tag other than 0 or 1, a bool other than 0 or 1, a variant not listed.
        assert!(Bincode::decode_shape(&[2], &<Option<u8>>::shape()).is_err());
        assert!(Bincode::decode::<bool>(&[2]).is_err());
        assert!(Bincode::decode_shape(&[2], &Shape::Bool).is_err());
        assert!(Bincode::decode_shape(&[9], &Kind::shape()).unwrap_err().contains("variant 9"));
        // A string that is not UTF-8.
        assert!(Bincode::decode_shape(&[1, 0xFF], &Shape::String).is_err());
        // A type the store cannot describe.
        assert!(Bincode::decode_shape(&[1], &Shape::Opaque("x::Y".into())).is_err());
        // A struct of fewer fields than stored leaves bytes over.
        let fewer = Shape::Struct { name: "S".into(), fields: vec![FieldShape { name: "a".into(), shape: Shape::U8 }] };
        assert!(Bincode::decode_shape(&Bincode::encode(&(1u8, 2u8)).unwrap(), &fewer).is_err());
    }

    #[test]
    fn encode_into_replaces_the_buffer_with_the_encoding() {
        let mut out = vec![9u8; 40];
        Bincode::encode_into(&every(), &mut out).unwrap();
        assert_eq!(out, Bincode::encode(&every()).unwrap());
        Bincode::encode_into(&5u8, &mut out).unwrap();
        assert_eq!(out, [5]);
    }

    #[test]
    fn varints_are_bincodes_own() {
        // One byte below 251, else a marker byte and the little-endian value (not LEB128).
        assert_eq!(Bincode::encode(&250u64).unwrap(), [250]);
        assert_eq!(Bincode::encode(&251u64).unwrap(), [251, 251, 0]);
        assert_eq!(Bincode::encode(&-1i32).unwrap(), [1]);
        assert_eq!(Bincode::encode(&"ab").unwrap(), [2, b'a', b'b']);
        assert_eq!(Postcard::encode(&251u64).unwrap(), [0xFB, 0x01]);
    }
}
