//! Key-order properties: for every supported key type, the byte order of encodings equals the
//! order of the values, decoding gives the value back (consuming exactly its bytes), no
//! encoding is a proper prefix of another, and prefix ranges of composite keys select exactly
//! the keys whose leading fields match.
//!
//! Proptest prints the failing input; `PROPTEST_CASES=N` changes the number of cases.

use std::cmp::Ordering;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};

use proptest::prelude::*;
use rivet::key::{decode, encode};
use rivet::{Key, KeyPrefix, KeyRange};

fn config() -> ProptestConfig {
    ProptestConfig { cases: 512, ..ProptestConfig::default() }
}

/// Checks order, round trip and prefix-freedom for one pair.
fn check_pair<K: Key + PartialEq>(a: &K, b: &K, cmp: impl Fn(&K, &K) -> Ordering) -> Result<(), TestCaseError> {
    let (ea, eb) = (encode(a), encode(b));
    prop_assert_eq!(ea.cmp(&eb), cmp(a, b), "order differs for {:?} vs {:?}: {:02x?} vs {:02x?}", a, b, ea, eb);
    let (da, db) = (decode::<K>(&ea), decode::<K>(&eb));
    prop_assert_eq!(da.as_ref(), Ok(a));
    prop_assert_eq!(db.as_ref(), Ok(b));
    if ea != eb {
        prop_assert!(
            !eb.starts_with(&ea) && !ea.starts_with(&eb),
            "one encoding is a prefix of the other: {a:?} {b:?}"
        );
    }
    Ok(())
}

fn ord<K: Ord>(a: &K, b: &K) -> Ordering {
    a.cmp(b)
}

/// Characters that stress the escaping (NUL, 0x01) plus anything.
fn tricky_string() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof![Just('\0'), Just('\u{1}'), Just('a'), Just('ÿ'), any::<char>()], 0..6)
        .prop_map(|cs| cs.into_iter().collect())
}

/// Bytes that stress the escaping (0x00, 0xFF, 0x01).
fn tricky_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop_oneof![Just(0u8), Just(0xFF), Just(1), any::<u8>()], 0..6)
}

macro_rules! ord_props {
    ($($name:ident: $t:ty = $strategy:expr;)*) => {
        proptest! {
            #![proptest_config(config())]
            $(
                #[test]
                fn $name(a in $strategy, b in $strategy) {
                    check_pair::<$t>(&a, &b, ord)?;
                }
            )*
        }
    };
}

ord_props! {
    order_u8: u8 = any::<u8>();
    order_u16: u16 = any::<u16>();
    order_u32: u32 = any::<u32>();
    order_u64: u64 = any::<u64>();
    order_u128: u128 = any::<u128>();
    order_i8: i8 = any::<i8>();
    order_i16: i16 = any::<i16>();
    order_i32: i32 = any::<i32>();
    order_i64: i64 = any::<i64>();
    order_i128: i128 = any::<i128>();
    order_bool: bool = any::<bool>();
    order_char: char = any::<char>();
    order_string: String = tricky_string();
    order_bytes: Vec<u8> = tricky_bytes();
    order_array: [u8; 3] = any::<[u8; 3]>();
    order_option: Option<i32> = any::<Option<i32>>();
    order_option_string: Option<String> = prop::option::of(tricky_string());
    order_pair_strings: (String, String) = (tricky_string(), tricky_string());
    order_bytes_then_int: (Vec<u8>, u8) = (tricky_bytes(), any::<u8>());
    order_triple: (Option<String>, i64, bool) = (prop::option::of(tricky_string()), any::<i64>(), any::<bool>());
    order_six: (i8, String, Vec<u8>, char, Option<u16>, bool) =
        (any::<i8>(), tricky_string(), tricky_bytes(), any::<char>(), any::<Option<u16>>(), any::<bool>());
    order_eight: (u8, i8, String, u8, Vec<u8>, u8, Option<bool>, i16) = (
        0u8..3, -1i8..2, tricky_string(), 0u8..2, tricky_bytes(), 0u8..2, any::<Option<bool>>(), any::<i16>()
    );
}

/// Floats compared as `total_cmp`, with equality by bits (NaN payloads and -0.0 included).
#[derive(Debug, Clone, Copy)]
struct Bits<F>(F);

fn float64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![0.0, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN, f64::MIN_POSITIVE]),
    ]
}

fn float32() -> impl Strategy<Value = f32> {
    prop_oneof![any::<f32>(), any::<u32>().prop_map(f32::from_bits), Just(-0.0f32), Just(0.0f32)]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn order_f64(a in float64(), b in float64()) {
        let (ea, eb) = (encode(&a), encode(&b));
        prop_assert_eq!(ea.cmp(&eb), a.total_cmp(&b), "{:?} vs {:?}", Bits(a), Bits(b));
        prop_assert_eq!(decode::<f64>(&ea).map(f64::to_bits), Ok(a.to_bits()));
    }

    #[test]
    fn order_f32(a in float32(), b in float32()) {
        let (ea, eb) = (encode(&a), encode(&b));
        prop_assert_eq!(ea.cmp(&eb), a.total_cmp(&b));
        prop_assert_eq!(decode::<f32>(&ea).map(f32::to_bits), Ok(a.to_bits()));
    }

    #[test]
    fn order_float_in_tuple(a in (float64(), any::<i8>()), b in (float64(), any::<i8>())) {
        let want = a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        prop_assert_eq!(encode(&a).cmp(&encode(&b)), want);
    }

    /// A prefix `(p,)` of `(String, i64)` selects exactly the keys whose first field is `p`,
    /// both as a byte prefix and as a range `(p,)..=(p,)`; `(lo,)..(hi,)` selects `lo <= k.0 < hi`.
    #[test]
    fn prefix_of_composite_key(
        keys in prop::collection::vec((tricky_string(), any::<i64>()), 1..20),
        p in tricky_string(),
        lo in tricky_string(),
        hi in tricky_string(),
    ) {
        let pe = {
            let mut v = Vec::new();
            KeyPrefix::<(String, i64)>::encode_prefix(&(p.clone(),), &mut v);
            v
        };
        let block = KeyRange::<(String, i64)>::encode_bounds(&((p.clone(),)..=(p.clone(),)));
        let span = KeyRange::<(String, i64)>::encode_bounds(&((lo.clone(),)..(hi.clone(),)));
        let excl = KeyRange::<(String, i64)>::encode_bounds(&(Bound::Excluded((p.clone(),)), Bound::Unbounded));
        for k in &keys {
            let e = encode(k);
            prop_assert_eq!(e.starts_with(&pe), k.0 == p, "byte prefix vs field prefix for {:?}", k);
            prop_assert_eq!(block.contains(&e), k.0 == p);
            prop_assert_eq!(span.contains(&e), lo <= k.0 && k.0 < hi);
            prop_assert_eq!(excl.contains(&e), k.0 > p);
        }
    }

    /// Same for a two-field prefix of a three-field key, with bytes and options in it.
    #[test]
    fn two_field_prefix(
        keys in prop::collection::vec((tricky_bytes(), prop::option::of(0u8..3), any::<u16>()), 1..20),
        p in (tricky_bytes(), prop::option::of(0u8..3)),
    ) {
        let bounds = KeyRange::<(Vec<u8>, Option<u8>, u16)>::encode_bounds(&(p.clone()..=p.clone()));
        for k in &keys {
            prop_assert_eq!(bounds.contains(&encode(k)), (k.0.clone(), k.1) == p);
        }
    }

    /// Integer ranges over the encodings equal ranges over the values.
    #[test]
    fn integer_ranges(a in any::<i64>(), lo in any::<i64>(), hi in any::<i64>()) {
        let e = encode(&a);
        prop_assert_eq!(KeyRange::<i64>::encode_bounds(&(lo..hi)).contains(&e), (lo..hi).contains(&a));
        prop_assert_eq!(KeyRange::<i64>::encode_bounds(&(lo..=hi)).contains(&e), (lo..=hi).contains(&a));
        prop_assert_eq!(KeyRange::<i64>::encode_bounds(&(..hi)).contains(&e), a < hi);
        prop_assert_eq!(KeyRange::<i64>::encode_bounds(&(lo..)).contains(&e), a >= lo);
    }
}

#[test]
fn float_edges_sort_as_documented() {
    let ordered = [
        -f64::NAN,
        f64::NEG_INFINITY,
        -1e300,
        -1.0,
        -f64::MIN_POSITIVE,
        -0.0,
        0.0,
        f64::MIN_POSITIVE,
        1.0,
        f64::INFINITY,
        f64::NAN,
    ];
    let enc: Vec<Vec<u8>> = ordered.iter().map(encode).collect();
    for w in enc.windows(2) {
        assert!(w[0] < w[1], "{:02x?} !< {:02x?}", w[0], w[1]);
    }
}

#[test]
fn signed_integers_sort_negatives_first() {
    let vals = [i32::MIN, -1000, -1, 0, 1, 1000, i32::MAX];
    let enc: Vec<Vec<u8>> = vals.iter().map(encode).collect();
    assert!(enc.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn concatenated_strings_stay_apart() {
    // Without terminators ("ab","c") and ("a","bc") would be one key; with a bare 0x00
    // terminator ("a\0", ..) would collide with ("a", "\0.."): the escaping prevents both.
    let a = encode(&("ab".to_string(), "c".to_string()));
    let b = encode(&("a".to_string(), "bc".to_string()));
    assert_ne!(a, b);
    assert!(b < a);
    let c = encode(&("a\0".to_string(), String::new()));
    let d = encode(&("a".to_string(), "\0".to_string()));
    assert_ne!(c, d);
    assert!(d < c, "(\"a\", ..) sorts before (\"a\\0\", ..)");
}

#[test]
fn malformed_encodings_are_errors() {
    assert!(decode::<bool>(&[2]).is_err());
    assert!(decode::<char>(&0xD800u32.to_be_bytes()).is_err());
    assert!(decode::<u32>(&[1, 2, 3]).is_err());
    assert!(decode::<u8>(&[1, 2]).is_err(), "left-over bytes");
    assert!(decode::<Option<u8>>(&[7, 1]).is_err());
    assert!(decode::<String>(&[0xC3, 0, 0]).is_err(), "not UTF-8");
    assert!(decode::<Vec<u8>>(&[1, 0, 7]).is_err(), "bad escape");
}

#[test]
fn borrowed_arguments_encode_like_owned_keys() {
    use rivet::KeyLike;
    let mut a = Vec::new();
    KeyLike::<String>::encode_like("x\0y", &mut a);
    assert_eq!(a, encode(&"x\0y".to_string()));
    let mut b = Vec::new();
    KeyLike::<Vec<u8>>::encode_like(&[0u8, 1][..], &mut b);
    assert_eq!(b, encode(&vec![0u8, 1]));
    // Composite prefixes take borrowed parts too.
    use rivet::KeyPrefix;
    let mut c = Vec::new();
    KeyPrefix::<(String, Vec<u8>, i64)>::encode_prefix(&("gear", &b"\0z"[..]), &mut c);
    let mut owned = Vec::new();
    KeyPrefix::<(String, Vec<u8>, i64)>::encode_prefix(&("gear".to_string(), b"\0z".to_vec()), &mut owned);
    assert_eq!(c, owned);
    assert_eq!(c, [encode(&"gear".to_string()), encode(&b"\0z".to_vec())].concat());
}
