//! Values read without their Rust type: a stored record decoded by the [`Shape`] the catalog
//! remembers, then handed to a type of today by field *name*, or printed.
//!
//! This is what makes added, removed, reordered and renamed fields safe with a positional
//! codec: [`ShapeSeed`] drives any serde deserializer (postcard's, bincode's) by the old
//! layout, and a [`Value`] is itself a serde deserializer that shows structs as maps keyed by
//! field name, so a type's derived `Deserialize` fills its fields by name, takes
//! `#[serde(default)]` for fields the old layout lacks, and drops fields it no longer has.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserializer, Serialize, Serializer};

use crate::layout::{FieldShape, Shape, VariantData};

/// A value decoded by its shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Nothing (`()`).
    Unit,
    /// A bool.
    Bool(bool),
    /// Any unsigned integer.
    U(u128),
    /// Any signed integer.
    I(i128),
    /// `f32`.
    F32(f32),
    /// `f64`.
    F64(f64),
    /// A char.
    Char(char),
    /// A string.
    String(String),
    /// `None`.
    None,
    /// `Some`.
    Some(Box<Value>),
    /// A sequence, array or tuple.
    Seq(Vec<Value>),
    /// A map, in stored order.
    Map(Vec<(Value, Value)>),
    /// A struct's fields by name, in order.
    Struct(Vec<(String, Value)>),
    /// An enum variant: its name and content.
    Variant(String, Box<VariantValue>),
}

/// The content of an enum variant.
#[derive(Debug, Clone, PartialEq)]
pub enum VariantValue {
    /// Nothing.
    Unit,
    /// One value.
    Newtype(Value),
    /// Positional values.
    Tuple(Vec<Value>),
    /// Named fields.
    Struct(Vec<(String, Value)>),
}

/// Decodes one value of a known [`Shape`] from any serde deserializer.
#[derive(Debug, Clone, Copy)]
pub struct ShapeSeed<'s>(pub &'s Shape);

/// The visitor behind [`ShapeSeed`].
struct ShapeVisitor<'s>(&'s Shape);

/// The fields of a struct, as a sequence of values (positional codecs give structs as tuples).
struct FieldsSeed<'s>(&'s [FieldShape]);

/// An enum variant's content, by its data kind.
struct VariantSeed<'s>(&'s crate::layout::Variant);

fn leak_names(fields: &[FieldShape]) -> &'static [&'static str] {
    // serde wants `&'static [&'static str]` for struct field names; positional codecs ignore
    // them, so these are empty placeholders of the right length.
    const NONE: [&str; 64] = [""; 64];
    &NONE[..fields.len().min(64)]
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        let v = ShapeVisitor(self.0);
        match self.0 {
            Shape::Unit => d.deserialize_unit(v),
            Shape::Bool => d.deserialize_bool(v),
            Shape::U8 => d.deserialize_u8(v),
            Shape::U16 => d.deserialize_u16(v),
            Shape::U32 => d.deserialize_u32(v),
            Shape::U64 => d.deserialize_u64(v),
            Shape::U128 => d.deserialize_u128(v),
            Shape::I8 => d.deserialize_i8(v),
            Shape::I16 => d.deserialize_i16(v),
            Shape::I32 => d.deserialize_i32(v),
            Shape::I64 => d.deserialize_i64(v),
            Shape::I128 => d.deserialize_i128(v),
            Shape::F32 => d.deserialize_f32(v),
            Shape::F64 => d.deserialize_f64(v),
            Shape::Char => d.deserialize_char(v),
            Shape::String => d.deserialize_string(v),
            Shape::Option(_) => d.deserialize_option(v),
            Shape::Seq(_) => d.deserialize_seq(v),
            Shape::Array(_, n) => d.deserialize_tuple(*n, v),
            Shape::Tuple(items) => d.deserialize_tuple(items.len(), v),
            Shape::Map(..) => d.deserialize_map(v),
            Shape::Struct { fields, .. } => d.deserialize_tuple(fields.len(), v),
            Shape::Enum { .. } => d.deserialize_enum("", &[], v),
            Shape::Opaque(name) => {
                Err(de::Error::custom(format_args!("a value of type `{name}` cannot be read without its Rust type")))
            }
        }
    }
}

impl<'de> Visitor<'de> for ShapeVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value of shape {}", self.0)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Unit)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::U(v.into()))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(Value::U(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::I(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(Value::I(v))
    }
    fn visit_f32<E>(self, v: f32) -> Result<Value, E> {
        Ok(Value::F32(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::F64(v))
    }
    fn visit_char<E>(self, v: char) -> Result<Value, E> {
        Ok(Value::Char(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.0 {
            Shape::Option(inner) => Ok(Value::Some(Box::new(ShapeSeed(inner).deserialize(d)?))),
            _ => Err(de::Error::custom("an option where the shape has none")),
        }
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        match self.0 {
            Shape::Seq(inner) => {
                while let Some(v) = seq.next_element_seed(ShapeSeed(inner))? {
                    out.push(v);
                }
            }
            Shape::Array(inner, n) => {
                for _ in 0..*n {
                    out.push(next(&mut seq, inner)?);
                }
            }
            Shape::Tuple(items) => {
                for s in items {
                    out.push(next(&mut seq, s)?);
                }
            }
            Shape::Struct { fields, .. } => return FieldsSeed(fields).visit(seq).map(Value::Struct),
            _ => return Err(de::Error::custom("a sequence where the shape has none")),
        }
        Ok(Value::Seq(out))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Shape::Map(k, v) = self.0 else {
            return Err(de::Error::custom("a map where the shape has none"));
        };
        let mut out = Vec::new();
        while let Some(key) = map.next_key_seed(ShapeSeed(k))? {
            out.push((key, map.next_value_seed(ShapeSeed(v))?));
        }
        Ok(Value::Map(out))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let Shape::Enum { variants, .. } = self.0 else {
            return Err(de::Error::custom("an enum where the shape has none"));
        };
        let (index, access) = data.variant::<u32>()?;
        let Some(variant) = variants.get(index as usize) else {
            return Err(de::Error::custom(format_args!("variant {index} is not in the stored layout")));
        };
        let content = VariantSeed(variant).read(access)?;
        Ok(Value::Variant(variant.name.clone(), Box::new(content)))
    }
}

fn next<'de, A: de::SeqAccess<'de>>(seq: &mut A, shape: &Shape) -> Result<Value, A::Error> {
    seq.next_element_seed(ShapeSeed(shape))?.ok_or_else(|| de::Error::custom("the value ends early"))
}

impl FieldsSeed<'_> {
    fn visit<'de, A: de::SeqAccess<'de>>(&self, mut seq: A) -> Result<Vec<(String, Value)>, A::Error> {
        let mut out = Vec::with_capacity(self.0.len());
        for f in self.0 {
            out.push((f.name.clone(), next(&mut seq, &f.shape)?));
        }
        Ok(out)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = Vec<(String, Value)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct fields")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.visit(seq)
    }
}

/// Positional values of a tuple variant.
struct TupleVisitor<'s>(&'s [Shape]);

impl<'de> Visitor<'de> for TupleVisitor<'_> {
    type Value = Vec<Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tuple variant values")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        self.0.iter().map(|s| next(&mut seq, s)).collect()
    }
}

impl VariantSeed<'_> {
    fn read<'de, A: de::VariantAccess<'de>>(&self, access: A) -> Result<VariantValue, A::Error> {
        Ok(match &self.0.data {
            VariantData::Unit => {
                access.unit_variant()?;
                VariantValue::Unit
            }
            VariantData::Newtype(s) => VariantValue::Newtype(access.newtype_variant_seed(ShapeSeed(s))?),
            VariantData::Tuple(items) => VariantValue::Tuple(access.tuple_variant(items.len(), TupleVisitor(items))?),
            VariantData::Struct(fields) => {
                VariantValue::Struct(access.struct_variant(leak_names(fields), FieldsSeed(fields))?)
            }
        })
    }
}

// ---- A Value as a deserializer: structs by field name ----

/// The error of reading a [`Value`] into a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ValueError {}
impl de::Error for ValueError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl<'de> IntoDeserializer<'de, ValueError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

fn int_err<T>(what: &str) -> Result<T, ValueError> {
    Err(ValueError(format!("{what} does not fit the field's integer type")))
}

impl<'de> Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Unit => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(b),
            Value::U(n) => match u64::try_from(n) {
                Ok(n) => v.visit_u64(n),
                Err(_) => v.visit_u128(n),
            },
            Value::I(n) => match i64::try_from(n) {
                Ok(n) => v.visit_i64(n),
                Err(_) => v.visit_i128(n),
            },
            Value::F32(x) => v.visit_f32(x),
            Value::F64(x) => v.visit_f64(x),
            Value::Char(c) => v.visit_char(c),
            Value::String(s) => v.visit_string(s),
            Value::None => v.visit_none(),
            Value::Some(inner) => v.visit_some(*inner),
            Value::Seq(items) => v.visit_seq(de::value::SeqDeserializer::new(items.into_iter())),
            Value::Map(pairs) => v.visit_map(de::value::MapDeserializer::new(pairs.into_iter())),
            Value::Struct(fields) => {
                v.visit_map(de::value::MapDeserializer::new(fields.into_iter().map(|(k, x)| (Value::String(k), x))))
            }
            Value::Variant(name, content) => v.visit_enum(EnumValue(name, *content)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            Value::None => v.visit_none(),
            Value::Some(inner) => v.visit_some(*inner),
            other => v.visit_some(other),
        }
    }

    fn deserialize_i128<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            Value::I(n) => v.visit_i128(n),
            Value::U(n) => i128::try_from(n).map_or_else(|_| int_err("an unsigned value"), |n| v.visit_i128(n)),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_u128<V: Visitor<'de>>(self, v: V) -> Result<V::Value, ValueError> {
        match self {
            Value::U(n) => v.visit_u128(n),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, ValueError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Variant(name, content) => v.visit_enum(EnumValue(name, *content)),
            Value::String(name) => v.visit_enum(EnumValue(name, VariantValue::Unit)),
            other => other.deserialize_any(v),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 char str string bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// An enum variant as serde's `EnumAccess`.
struct EnumValue(String, VariantValue);

impl<'de> de::EnumAccess<'de> for EnumValue {
    type Error = ValueError;
    type Variant = VariantValue;
    fn variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, VariantValue), ValueError> {
        let name: de::value::StringDeserializer<ValueError> = self.0.into_deserializer();
        Ok((seed.deserialize(name)?, self.1))
    }
}

impl<'de> de::VariantAccess<'de> for VariantValue {
    type Error = ValueError;
    fn unit_variant(self) -> Result<(), ValueError> {
        match self {
            VariantValue::Unit => Ok(()),
            _ => Err(ValueError("the stored variant holds data; the type's variant holds none".into())),
        }
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, ValueError> {
        match self {
            VariantValue::Newtype(v) => seed.deserialize(v),
            _ => Err(ValueError("the stored variant is not a newtype variant".into())),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, ValueError> {
        match self {
            VariantValue::Tuple(items) => v.visit_seq(de::value::SeqDeserializer::new(items.into_iter())),
            _ => Err(ValueError("the stored variant is not a tuple variant".into())),
        }
    }
    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], v: V) -> Result<V::Value, ValueError> {
        match self {
            VariantValue::Struct(fields) => {
                v.visit_map(de::value::MapDeserializer::new(fields.into_iter().map(|(k, x)| (Value::String(k), x))))
            }
            _ => Err(ValueError("the stored variant is not a struct variant".into())),
        }
    }
}

// ---- A Value as data to print (JSON and the like) ----

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Unit | Value::None => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::U(n) => match u64::try_from(*n) {
                Ok(n) => s.serialize_u64(n),
                Err(_) => s.serialize_str(&n.to_string()),
            },
            Value::I(n) => match i64::try_from(*n) {
                Ok(n) => s.serialize_i64(n),
                Err(_) => s.serialize_str(&n.to_string()),
            },
            Value::F32(x) => s.serialize_f32(*x),
            Value::F64(x) => s.serialize_f64(*x),
            Value::Char(c) => s.serialize_char(*c),
            Value::String(x) => s.serialize_str(x),
            Value::Some(v) => v.serialize(s),
            Value::Seq(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Value::Map(pairs) => {
                // Keys print as text, so that any key type makes a JSON object.
                let mut map = s.serialize_map(Some(pairs.len()))?;
                for (k, v) in pairs {
                    map.serialize_entry(&k.to_text(), v)?;
                }
                map.end()
            }
            Value::Struct(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Value::Variant(name, content) => match &**content {
                VariantValue::Unit => s.serialize_str(name),
                VariantValue::Newtype(v) => {
                    let mut map = s.serialize_map(Some(1))?;
                    map.serialize_entry(name, v)?;
                    map.end()
                }
                VariantValue::Tuple(items) => {
                    let mut map = s.serialize_map(Some(1))?;
                    map.serialize_entry(name, items)?;
                    map.end()
                }
                VariantValue::Struct(fields) => {
                    let mut map = s.serialize_map(Some(1))?;
                    map.serialize_entry(name, &Value::Struct(fields.clone()))?;
                    map.end()
                }
            },
        }
    }
}

/// A Rust-like form for messages: `"ada"`, `42`, `Some(3)`, `[1, 2]`, `{id: 1, name: "x"}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T>(
            f: &mut fmt::Formatter<'_>,
            open: &str,
            items: &[T],
            close: &str,
            mut each: impl FnMut(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
        ) -> fmt::Result {
            f.write_str(open)?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                each(f, item)?;
            }
            f.write_str(close)
        }
        match self {
            Value::Unit => f.write_str("()"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::U(n) => write!(f, "{n}"),
            Value::I(n) => write!(f, "{n}"),
            Value::F32(x) => write!(f, "{x:?}"),
            Value::F64(x) => write!(f, "{x:?}"),
            Value::Char(c) => write!(f, "{c:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::None => f.write_str("None"),
            Value::Some(v) => write!(f, "Some({v})"),
            Value::Seq(items) => list(f, "[", items, "]", |f, v| write!(f, "{v}")),
            Value::Map(items) => list(f, "{", items, "}", |f, (k, v)| write!(f, "{k}: {v}")),
            Value::Struct(fields) => list(f, "{", fields, "}", |f, (k, v)| write!(f, "{k}: {v}")),
            Value::Variant(name, content) => match &**content {
                VariantValue::Unit => f.write_str(name),
                VariantValue::Newtype(v) => write!(f, "{name}({v})"),
                VariantValue::Tuple(items) => {
                    f.write_str(name)?;
                    list(f, "(", items, ")", |f, v| write!(f, "{v}"))
                }
                VariantValue::Struct(fields) => {
                    write!(f, "{name} ")?;
                    list(f, "{", fields, "}", |f, (k, v)| write!(f, "{k}: {v}"))
                }
            },
        }
    }
}

impl Value {
    /// A short text form (map keys in printed output).
    pub fn to_text(&self) -> String {
        match self {
            Value::String(s) => s.clone(),
            Value::U(n) => n.to_string(),
            Value::I(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        }
    }

    /// Reads this value into `T` by field name (see the module docs).
    ///
    /// # Errors
    /// What `T`'s `Deserialize` refuses: a missing field without a default, a value of
    /// another kind.
    pub fn into_type<T: de::DeserializeOwned>(self) -> Result<T, ValueError> {
        T::deserialize(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Layout;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V1 {
        id: u64,
        name: String,
        tags: Vec<String>,
        score: Option<i32>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct V2 {
        score: Option<i32>,
        id: u64,
        #[serde(default)]
        country: String,
        name: String,
    }

    fn v1_shape() -> Shape {
        Shape::Struct {
            name: "V1".into(),
            fields: vec![
                FieldShape { name: "id".into(), shape: u64::shape() },
                FieldShape { name: "name".into(), shape: String::shape() },
                FieldShape { name: "tags".into(), shape: <Vec<String>>::shape() },
                FieldShape { name: "score".into(), shape: <Option<i32>>::shape() },
            ],
        }
    }

    #[test]
    fn an_old_layout_reads_into_a_new_type_by_name() {
        let old = V1 { id: 7, name: "Ada".into(), tags: vec!["x".into()], score: Some(-3) };
        let bytes = postcard::to_allocvec(&old).unwrap();
        let shape = v1_shape();
        let mut de = postcard::Deserializer::from_bytes(&bytes);
        let value = ShapeSeed(&shape).deserialize(&mut de).unwrap();
        assert!(de.finalize().unwrap().is_empty());
        let new: V2 = value.into_type().unwrap();
        assert_eq!(new, V2 { score: Some(-3), id: 7, country: String::new(), name: "Ada".into() });
    }

    #[test]
    fn a_missing_field_without_default_is_an_error() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct Strict {
            id: u64,
            country: String,
        }
        let value = Value::Struct(vec![("id".into(), Value::U(1))]);
        assert!(value.into_type::<Strict>().unwrap_err().0.contains("country"));
    }

    #[test]
    fn enums_and_maps_read_and_print() {
        #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
        enum E {
            A,
            B(u8),
            C { x: String },
        }
        let shape = Shape::Seq(Box::new(Shape::Enum {
            name: "E".into(),
            variants: vec![
                crate::layout::Variant { name: "A".into(), data: VariantData::Unit },
                crate::layout::Variant { name: "B".into(), data: VariantData::Newtype(Shape::U8) },
                crate::layout::Variant {
                    name: "C".into(),
                    data: VariantData::Struct(vec![FieldShape { name: "x".into(), shape: Shape::String }]),
                },
            ],
        }));
        let data = vec![E::A, E::B(4), E::C { x: "q".into() }];
        let bytes = postcard::to_allocvec(&data).unwrap();
        let mut de = postcard::Deserializer::from_bytes(&bytes);
        let value = ShapeSeed(&shape).deserialize(&mut de).unwrap();
        let back: Vec<E> = value.clone().into_type().unwrap();
        assert_eq!(back, data);
        assert_eq!(serde_json::to_string(&value).unwrap(), r#"["A",{"B":4},{"C":{"x":"q"}}]"#);
    }

    #[test]
    fn an_opaque_shape_is_an_error() {
        let shape = Shape::Opaque("x::Y".into());
        let mut de = postcard::Deserializer::from_bytes(&[1, 2, 3]);
        assert!(ShapeSeed(&shape).deserialize(&mut de).is_err());
    }
}
