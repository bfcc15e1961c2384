//! Value layouts: what a record's serialized value looks like, field by field, so that the
//! catalog can remember it and the store can tell a changed type from an unchanged one before
//! it reads a byte.
//!
//! A [`Shape`] describes one serde value the way a non-self-describing codec (postcard, bincode)
//! lays it out: integers of a given width, strings, options, sequences, fixed arrays, tuples,
//! maps, structs with named fields, enums with named variants. A type that does not describe
//! itself (it neither is a known standard type nor derives [`Layout`]) is
//! [`Shape::Opaque`]: the store still stores it, but cannot read its bytes without the type, so
//! a change around it needs an explicit version.
//!
//! The text form ([`Shape`]'s `Display`, parsed back by [`parse_shape`]) is what the catalog
//! stores, for example `struct Address {street: string, zip: u32}` or
//! `option<vec<u8>>`.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::marker::PhantomData;

/// The serialized form of a value (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// `()` or a unit struct: nothing on the wire.
    Unit,
    /// `bool`.
    Bool,
    /// `u8`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64` (and `usize`).
    U64,
    /// `u128`.
    U128,
    /// `i8`.
    I8,
    /// `i16`.
    I16,
    /// `i32`.
    I32,
    /// `i64` (and `isize`).
    I64,
    /// `i128`.
    I128,
    /// `f32`.
    F32,
    /// `f64`.
    F64,
    /// `char`.
    Char,
    /// `String`, `str`.
    String,
    /// `Option<T>`.
    Option(Box<Shape>),
    /// A sequence with its length: `Vec<T>`, `VecDeque<T>`, sets.
    Seq(Box<Shape>),
    /// A fixed-size array `[T; N]` (no length on the wire).
    Array(Box<Shape>, usize),
    /// A tuple (no length on the wire).
    Tuple(Vec<Shape>),
    /// A map with its length: `BTreeMap<K, V>`, `HashMap<K, V>`.
    Map(Box<Shape>, Box<Shape>),
    /// A struct with named fields, in serialization order.
    Struct {
        /// The type's name.
        name: String,
        /// The serialized fields.
        fields: Vec<FieldShape>,
    },
    /// An enum, its variants in declaration order.
    Enum {
        /// The type's name.
        name: String,
        /// The variants.
        variants: Vec<Variant>,
    },
    /// A type the store cannot describe (its Rust type name).
    Opaque(String),
}

/// One serialized field of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldShape {
    /// The serialized name (after `#[serde(rename)]`).
    pub name: String,
    /// Its shape.
    pub shape: Shape,
}

/// One enum variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// The serialized name.
    pub name: String,
    /// What the variant holds.
    pub data: VariantData,
}

/// What an enum variant holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariantData {
    /// Nothing.
    Unit,
    /// One value.
    Newtype(Shape),
    /// Several positional values.
    Tuple(Vec<Shape>),
    /// Named fields.
    Struct(Vec<FieldShape>),
}

impl Shape {
    /// Whether every part of the shape is described (no [`Shape::Opaque`] anywhere), so that
    /// bytes of this shape can be read without the Rust type.
    pub fn is_described(&self) -> bool {
        self.first_opaque("").is_none()
    }

    /// The first opaque part of the shape: its path below `path` (`address.geo`, `tags.0`)
    /// and its Rust type name.
    pub fn first_opaque(&self, path: &str) -> Option<(String, String)> {
        let join = |part: &str| if path.is_empty() { part.to_string() } else { format!("{path}.{part}") };
        let in_fields = |fields: &[FieldShape], at: &dyn Fn(&str) -> String| {
            fields.iter().find_map(|f| f.shape.first_opaque(&at(&f.name)))
        };
        let in_items = |items: &[Shape], at: &dyn Fn(&str) -> String| {
            items.iter().enumerate().find_map(|(i, s)| s.first_opaque(&at(&i.to_string())))
        };
        match self {
            Shape::Opaque(ty) => Some((path.to_string(), ty.clone())),
            Shape::Option(s) | Shape::Seq(s) | Shape::Array(s, _) => s.first_opaque(path),
            Shape::Tuple(items) => in_items(items, &join),
            Shape::Map(k, v) => k.first_opaque(path).or_else(|| v.first_opaque(path)),
            Shape::Struct { fields, .. } => in_fields(fields, &join),
            Shape::Enum { variants, .. } => variants.iter().find_map(|v| {
                let p = join(&v.name);
                let below = |part: &str| format!("{p}.{part}");
                match &v.data {
                    VariantData::Unit => None,
                    VariantData::Newtype(s) => s.first_opaque(&p),
                    VariantData::Tuple(items) => in_items(items, &below),
                    VariantData::Struct(fields) => in_fields(fields, &below),
                }
            }),
            _ => None,
        }
    }
}

/// A type that can describe its serialized [`Shape`]. Implemented for the standard types
/// records use; derive it (`#[derive(rivet::Layout)]`) on your own structs and enums that
/// records contain, so that the catalog describes them and their fields can evolve.
///
/// ```
/// use rivet::{Layout, Shape};
/// #[derive(Layout, serde::Serialize, serde::Deserialize)]
/// struct Address { street: String, zip: u32 }
/// assert_eq!(Address::shape().to_string(), "struct Address {street: string, zip: u32}");
/// assert_eq!(<Option<Vec<u8>>>::shape().to_string(), "option<vec<u8>>");
/// ```
pub trait Layout {
    /// The shape of this type's serialized form.
    fn shape() -> Shape;
}

macro_rules! simple {
    ($($t:ty => $s:ident),* $(,)?) => {
        $(impl Layout for $t {
            fn shape() -> Shape {
                Shape::$s
            }
        })*
    };
}
simple!(
    () => Unit, bool => Bool, u8 => U8, u16 => U16, u32 => U32, u64 => U64, usize => U64, u128 => U128,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64, isize => I64, i128 => I128, f32 => F32, f64 => F64,
    char => Char, String => String, str => String,
);

impl<T: Layout + ?Sized> Layout for &T {
    fn shape() -> Shape {
        T::shape()
    }
}
impl<T: Layout + ?Sized> Layout for Box<T> {
    fn shape() -> Shape {
        T::shape()
    }
}
impl<T: Layout> Layout for Option<T> {
    fn shape() -> Shape {
        Shape::Option(Box::new(T::shape()))
    }
}
impl<T: Layout, const N: usize> Layout for [T; N] {
    fn shape() -> Shape {
        Shape::Array(Box::new(T::shape()), N)
    }
}
macro_rules! seq {
    ($($t:ident),*) => {
        $(impl<T: Layout, S> Layout for $t<T, S> {
            fn shape() -> Shape {
                Shape::Seq(Box::new(T::shape()))
            }
        })*
    };
}
impl<T: Layout> Layout for Vec<T> {
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
}
impl<T: Layout> Layout for [T] {
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
}
impl<T: Layout> Layout for VecDeque<T> {
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
}
impl<T: Layout> Layout for BTreeSet<T> {
    fn shape() -> Shape {
        Shape::Seq(Box::new(T::shape()))
    }
}
seq!(HashSet);
impl<K: Layout, V: Layout> Layout for BTreeMap<K, V> {
    fn shape() -> Shape {
        Shape::Map(Box::new(K::shape()), Box::new(V::shape()))
    }
}
impl<K: Layout, V: Layout, S> Layout for HashMap<K, V, S> {
    fn shape() -> Shape {
        Shape::Map(Box::new(K::shape()), Box::new(V::shape()))
    }
}
macro_rules! tuple {
    ($($t:ident)+) => {
        impl<$($t: Layout),+> Layout for ($($t,)+) {
            fn shape() -> Shape {
                Shape::Tuple(vec![$($t::shape()),+])
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

/// The shape of any type: its [`Layout`] where it has one, else [`Shape::Opaque`]. Used by
/// the derive through method resolution (`(&&Probe::<T>::new()).rivet_shape()` picks the
/// `Layout` impl when `T` has one); not part of the public API.
#[doc(hidden)]
pub struct Probe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> Probe<T> {
    #[doc(hidden)]
    pub const fn new() -> Self {
        Probe(PhantomData)
    }
}

impl<T: ?Sized> Default for Probe<T> {
    fn default() -> Self {
        Probe::new()
    }
}

#[doc(hidden)]
pub trait ViaLayout {
    fn rivet_shape(&self) -> Shape;
}
impl<T: Layout + ?Sized> ViaLayout for &Probe<T> {
    fn rivet_shape(&self) -> Shape {
        T::shape()
    }
}

#[doc(hidden)]
pub trait ViaOpaque {
    fn rivet_shape(&self) -> Shape;
}
impl<T: ?Sized> ViaOpaque for Probe<T> {
    fn rivet_shape(&self) -> Shape {
        Shape::Opaque(std::any::type_name::<T>().to_string())
    }
}

fn list<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    each: impl Fn(&mut fmt::Formatter<'_>, &T) -> fmt::Result,
) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        each(f, item)?;
    }
    Ok(())
}

/// Writes `{a: u32, b: string}`.
pub(crate) fn write_fields(f: &mut fmt::Formatter<'_>, fields: &[FieldShape]) -> fmt::Result {
    f.write_str("{")?;
    list(f, fields, |f, x| write!(f, "{}: {}", x.name, x.shape))?;
    f.write_str("}")
}

/// `{a: u32, b: string}` as a string.
pub fn fields_text(fields: &[FieldShape]) -> String {
    struct Fields<'a>(&'a [FieldShape]);
    impl fmt::Display for Fields<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_fields(f, self.0)
        }
    }
    Fields(fields).to_string()
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Shape::Unit => "unit",
            Shape::Bool => "bool",
            Shape::U8 => "u8",
            Shape::U16 => "u16",
            Shape::U32 => "u32",
            Shape::U64 => "u64",
            Shape::U128 => "u128",
            Shape::I8 => "i8",
            Shape::I16 => "i16",
            Shape::I32 => "i32",
            Shape::I64 => "i64",
            Shape::I128 => "i128",
            Shape::F32 => "f32",
            Shape::F64 => "f64",
            Shape::Char => "char",
            Shape::String => "string",
            Shape::Option(s) => return write!(f, "option<{s}>"),
            Shape::Seq(s) => return write!(f, "vec<{s}>"),
            Shape::Array(s, n) => return write!(f, "[{s}; {n}]"),
            Shape::Tuple(v) => {
                f.write_str("(")?;
                list(f, v, |f, s| write!(f, "{s}"))?;
                return f.write_str(")");
            }
            Shape::Map(k, v) => return write!(f, "map<{k}, {v}>"),
            Shape::Struct { name, fields } => {
                write!(f, "struct {name} ")?;
                return write_fields(f, fields);
            }
            Shape::Enum { name, variants } => {
                write!(f, "enum {name} {{")?;
                list(f, variants, |f, v| {
                    f.write_str(&v.name)?;
                    match &v.data {
                        VariantData::Unit => Ok(()),
                        VariantData::Newtype(s) => write!(f, "({s})"),
                        VariantData::Tuple(v) => {
                            // A one-element tuple variant is written `V((a))` to keep it apart
                            // from a newtype variant `V(a)`.
                            f.write_str("((")?;
                            list(f, v, |f, s| write!(f, "{s}"))?;
                            f.write_str("))")
                        }
                        VariantData::Struct(fields) => {
                            f.write_str(" ")?;
                            write_fields(f, fields)
                        }
                    }
                })?;
                return f.write_str("}");
            }
            Shape::Opaque(name) => return write!(f, "opaque({name:?})"),
        };
        f.write_str(word)
    }
}

/// Why a shape's text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Where in the text (a byte offset).
    pub at: usize,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected {} at byte {}", self.expected, self.at)
    }
}

/// A small recursive-descent reader of the text form.
struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

/// Shapes nest at most this deep in a catalog (a damaged entry cannot exhaust the stack).
const MAX_DEPTH: usize = 64;

impl<'a> Reader<'a> {
    fn err<T>(&self, expected: &'static str) -> Result<T, ParseError> {
        Err(ParseError { at: self.at, expected })
    }
    fn skip_space(&mut self) {
        while self.text[self.at..].starts_with(' ') {
            self.at += 1;
        }
    }
    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.text[self.at..].starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, token: &'static str) -> Result<(), ParseError> {
        if self.eat(token) {
            Ok(())
        } else {
            self.err(token)
        }
    }
    fn ident(&mut self) -> Result<&'a str, ParseError> {
        self.skip_space();
        let rest = &self.text[self.at..];
        let len = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
        if len == 0 {
            return self.err("a name");
        }
        self.at += len;
        Ok(&rest[..len])
    }
    fn number(&mut self) -> Result<usize, ParseError> {
        let word = self.ident()?;
        word.parse().or_else(|_| self.err("a number"))
    }
    fn quoted(&mut self) -> Result<String, ParseError> {
        self.expect("\"")?;
        let mut out = String::new();
        let mut chars = self.text[self.at..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, c)) => out.push(c),
                    None => break,
                },
                c => out.push(c),
            }
        }
        self.err("a closing quote")
    }
    fn fields(&mut self) -> Result<Vec<FieldShape>, ParseError> {
        self.expect("{")?;
        let mut fields = Vec::new();
        if self.eat("}") {
            return Ok(fields);
        }
        loop {
            let name = self.ident()?.to_string();
            self.expect(":")?;
            fields.push(FieldShape { name, shape: self.shape()? });
            if self.eat("}") {
                return Ok(fields);
            }
            self.expect(",")?;
        }
    }
    fn shapes_until(&mut self, close: &'static str) -> Result<Vec<Shape>, ParseError> {
        let mut v = Vec::new();
        if self.eat(close) {
            return Ok(v);
        }
        loop {
            v.push(self.shape()?);
            if self.eat(close) {
                return Ok(v);
            }
            self.expect(",")?;
        }
    }
    fn shape(&mut self) -> Result<Shape, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("a shape nested less deeply");
        }
        let s = self.shape_inner();
        self.depth -= 1;
        s
    }
    fn shape_inner(&mut self) -> Result<Shape, ParseError> {
        if self.eat("(") {
            return Ok(Shape::Tuple(self.shapes_until(")")?));
        }
        if self.eat("[") {
            let inner = self.shape()?;
            self.expect(";")?;
            let n = self.number()?;
            self.expect("]")?;
            return Ok(Shape::Array(Box::new(inner), n));
        }
        let word = self.ident()?;
        Ok(match word {
            "unit" => Shape::Unit,
            "bool" => Shape::Bool,
            "u8" => Shape::U8,
            "u16" => Shape::U16,
            "u32" => Shape::U32,
            "u64" => Shape::U64,
            "u128" => Shape::U128,
            "i8" => Shape::I8,
            "i16" => Shape::I16,
            "i32" => Shape::I32,
            "i64" => Shape::I64,
            "i128" => Shape::I128,
            "f32" => Shape::F32,
            "f64" => Shape::F64,
            "char" => Shape::Char,
            "string" => Shape::String,
            "option" | "vec" => {
                self.expect("<")?;
                let inner = Box::new(self.shape()?);
                self.expect(">")?;
                if word == "option" {
                    Shape::Option(inner)
                } else {
                    Shape::Seq(inner)
                }
            }
            "map" => {
                self.expect("<")?;
                let k = self.shape()?;
                self.expect(",")?;
                let v = self.shape()?;
                self.expect(">")?;
                Shape::Map(Box::new(k), Box::new(v))
            }
            "struct" => {
                let name = self.ident()?.to_string();
                Shape::Struct { name, fields: self.fields()? }
            }
            "enum" => {
                let name = self.ident()?.to_string();
                self.expect("{")?;
                let mut variants = Vec::new();
                if !self.eat("}") {
                    loop {
                        let vname = self.ident()?.to_string();
                        let data = if self.eat("((") {
                            let v = self.shapes_until(")")?;
                            self.expect(")")?;
                            VariantData::Tuple(v)
                        } else if self.eat("(") {
                            let s = self.shape()?;
                            self.expect(")")?;
                            VariantData::Newtype(s)
                        } else if self.text[self.at..].trim_start().starts_with('{') {
                            VariantData::Struct(self.fields()?)
                        } else {
                            VariantData::Unit
                        };
                        variants.push(Variant { name: vname, data });
                        if self.eat("}") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Shape::Enum { name, variants }
            }
            "opaque" => {
                self.expect("(")?;
                let name = self.quoted()?;
                self.expect(")")?;
                Shape::Opaque(name)
            }
            _ => return self.err("a shape"),
        })
    }
    fn end(&mut self) -> Result<(), ParseError> {
        self.skip_space();
        if self.at == self.text.len() {
            Ok(())
        } else {
            self.err("the end of the shape")
        }
    }
}

/// Parses the text form of a shape (what `Display` writes).
///
/// # Errors
/// [`ParseError`] saying where the text stops making sense.
pub fn parse_shape(text: &str) -> Result<Shape, ParseError> {
    let mut r = Reader { text, at: 0, depth: 0 };
    let s = r.shape()?;
    r.end()?;
    Ok(s)
}

/// Parses `{a: u32, b: string}` (a record's field list, as the catalog stores it).
///
/// # Errors
/// [`ParseError`].
pub fn parse_fields(text: &str) -> Result<Vec<FieldShape>, ParseError> {
    let mut r = Reader { text, at: 0, depth: 0 };
    let f = r.fields()?;
    r.end()?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(s: Shape) {
        let text = s.to_string();
        assert_eq!(parse_shape(&text), Ok(s), "{text}");
    }

    #[test]
    fn standard_types_describe_themselves() {
        assert_eq!(<Vec<u8>>::shape().to_string(), "vec<u8>");
        assert_eq!(<Option<String>>::shape().to_string(), "option<string>");
        assert_eq!(<[u16; 4]>::shape().to_string(), "[u16; 4]");
        assert_eq!(<(u8, i64)>::shape().to_string(), "(u8, i64)");
        assert_eq!(<BTreeMap<String, Vec<f64>>>::shape().to_string(), "map<string, vec<f64>>");
    }

    #[test]
    fn text_round_trips() {
        round_trip(<BTreeMap<String, Option<[u8; 3]>>>::shape());
        round_trip(Shape::Tuple(vec![]));
        round_trip(Shape::Opaque("my::Type<\"x\">".into()));
        round_trip(Shape::Struct {
            name: "A".into(),
            fields: vec![
                FieldShape { name: "x".into(), shape: Shape::U32 },
                FieldShape { name: "y".into(), shape: Shape::Struct { name: "B".into(), fields: vec![] } },
            ],
        });
        round_trip(Shape::Enum {
            name: "E".into(),
            variants: vec![
                Variant { name: "A".into(), data: VariantData::Unit },
                Variant { name: "B".into(), data: VariantData::Newtype(Shape::String) },
                Variant { name: "C".into(), data: VariantData::Tuple(vec![Shape::U8]) },
                Variant {
                    name: "D".into(),
                    data: VariantData::Struct(vec![FieldShape { name: "q".into(), shape: Shape::Bool }]),
                },
            ],
        });
    }

    #[test]
    fn bad_text_is_an_error_not_a_panic() {
        for bad in ["", "vec<", "map<u8>", "[u8; x]", "struct {", "opaque(\"x", "nope", "u8 u8", "enum E {A(", "((((("]
        {
            assert!(parse_shape(bad).is_err(), "{bad}");
        }
        let deep = "option<".repeat(100) + "u8" + &">".repeat(100);
        assert!(parse_shape(&deep).is_err());
    }

    #[test]
    #[allow(clippy::needless_borrow)] // the borrows are the point: they pick the impl
    fn probe_picks_layout_or_opaque() {
        struct NoLayout;
        assert_eq!((&&Probe::<u32>::new()).rivet_shape(), Shape::U32);
        assert!(matches!((&&Probe::<NoLayout>::new()).rivet_shape(), Shape::Opaque(n) if n.ends_with("NoLayout")));
    }
}
