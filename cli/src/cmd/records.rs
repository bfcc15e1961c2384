//! `rivet records FILE [TYPE] [--json]`: the records of a typed store (the `rivet` crate),
//! printed without the program's Rust types.
//!
//! The store keeps a catalog (`__rivet_catalog`, see `rivet::catalog`): one text entry per
//! record bucket naming the record type, its codec, its key fields and every value layout its
//! values may have. Each stored value starts with its layout's number (the envelope), so a
//! value is decoded here with [`rivet::Codec::decode_shape`] by the shape
//! `struct TYPE {fields of that layout}`, and printed as JSON. Nested buckets of a record
//! bucket (`index:<name>`) hold indexes and are skipped.
//!
//! A value that cannot be decoded is printed as the hex of the stored bytes (envelope
//! included) with a note saying why: a format 1 bucket (no layout recorded), a codec other
//! than postcard, a field whose type does not derive `rivet::Layout` (opaque), or damaged
//! bytes. The listing goes on; at the end the command fails with exit status 1 and the number
//! of such records.
//!
//! Keys are decoded by the kinds the catalog's `key` line lists (`id: u64 (auto)`,
//! `user: u64, at: i64`) with the store's own [`rivet::Key`] decoders; a key kind this tool does
//! not know (a user's own `Key` impl) prints as `{"hex": ...}`.

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;

use rivet::catalog::{split_envelope, Entry, CATALOG_BUCKET};
use rivet::layout::{FieldShape, VariantData};
use rivet::value::Value;
use rivet::{Codec, Key, Postcard, Shape};
use rivet_engine::Bucket;
use serde::Serialize;

use crate::cli::{Global, RecordsArgs};
use crate::error::CliError;
use crate::format::{count, hex, show, Format};
use crate::w;

/// One line of `--json` output.
#[derive(Debug, Serialize)]
struct RecordJson<'a> {
    #[serde(rename = "type")]
    type_name: Option<&'a str>,
    bucket: String,
    key: Value,
    version: Option<u32>,
    layout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// What became of one stored value.
enum Decoded {
    /// Decoded by its layout.
    Value { version: u32, layout: u32, value: Value },
    /// Printed as hex, for `note`.
    Hex { version: Option<u32>, layout: Option<u32>, note: String },
}

/// A record bucket listed in the catalog, ready to decode its values.
struct RecordType {
    /// The bucket's name.
    bucket: Vec<u8>,
    /// The parsed entry, or why it does not parse.
    entry: Result<Entry, String>,
    /// The key fields (name and kind), if every kind is one this tool can decode.
    key: Option<Vec<(String, KeyKind)>>,
    /// The value shape of each layout, by layout number.
    shapes: HashMap<u32, Shape>,
}

impl RecordType {
    fn new(bucket: Vec<u8>, entry: Result<Entry, String>) -> Self {
        let (key, shapes) = match &entry {
            Ok(e) => (
                key_fields(&e.key),
                e.layouts
                    .iter()
                    .map(|l| (l.id, Shape::Struct { name: e.type_name.clone(), fields: l.fields.clone() }))
                    .collect(),
            ),
            Err(_) => (None, HashMap::new()),
        };
        RecordType { bucket, entry, key, shapes }
    }

    fn type_name(&self) -> Option<&str> {
        self.entry.as_ref().ok().map(|e| e.type_name.as_str())
    }

    /// Whether TYPE names this record type or its bucket.
    fn matches(&self, name: &str) -> bool {
        self.bucket == name.as_bytes() || self.type_name() == Some(name)
    }

    /// The key as a value to print: decoded by its kinds (a composite key as its fields by
    /// name, in order), else `{"hex": ...}`.
    fn key_value(&self, k: &[u8]) -> Value {
        let hex_key = || Value::Struct(vec![("hex".into(), Value::String(hex(k)))]);
        let Some(fields) = &self.key else { return hex_key() };
        let mut input = k;
        let mut parts = Vec::with_capacity(fields.len());
        for (name, kind) in fields {
            match kind.decode(&mut input) {
                Ok(v) => parts.push((name.clone(), v)),
                Err(_) => return hex_key(),
            }
        }
        if !input.is_empty() {
            return hex_key();
        }
        // `key_fields` never gives an empty list.
        if parts.len() == 1 {
            parts.remove(0).1
        } else {
            Value::Struct(parts)
        }
    }

    /// Decodes a stored value.
    fn decode(&self, v: &[u8]) -> Decoded {
        let e = match &self.entry {
            Ok(e) => e,
            Err(why) => {
                return Decoded::Hex {
                    version: None,
                    layout: None,
                    note: format!("the catalog entry does not parse: {why}"),
                }
            }
        };
        if e.format < 2 {
            return Decoded::Hex {
                version: Some(e.version),
                layout: None,
                note: "format 1: layout not recorded".into(),
            };
        }
        let (id, body) = match split_envelope(v) {
            Ok(x) => x,
            Err(why) => return Decoded::Hex { version: None, layout: None, note: why },
        };
        let (Some(layout), Some(shape)) = (e.layout(id), self.shapes.get(&id)) else {
            return Decoded::Hex {
                version: None,
                layout: Some(id),
                note: format!("layout {id} is not in the catalog entry"),
            };
        };
        let version = Some(layout.version);
        if e.codec != Postcard::NAME {
            return Decoded::Hex {
                version,
                layout: Some(id),
                note: format!("codec `{}` cannot be read without its Rust type", e.codec),
            };
        }
        match Postcard::decode_shape(body, shape) {
            Ok(value) => Decoded::Value { version: layout.version, layout: id, value },
            Err(why) => {
                let note = match first_opaque(&layout.fields) {
                    Some((field, ty)) => format!(
                        "field `{field}` has type `{ty}`, which does not derive rivet::Layout: \
                         it cannot be read without its Rust type"
                    ),
                    None => format!("the value does not decode by layout {id}: {why}"),
                };
                Decoded::Hex { version, layout: Some(id), note }
            }
        }
    }
}

/// The first opaque part of `fields`: its path (`address.geo`) and Rust type name.
fn first_opaque(fields: &[FieldShape]) -> Option<(String, String)> {
    fn walk(shape: &Shape, path: &str) -> Option<(String, String)> {
        let join = |part: &str| if path.is_empty() { part.to_string() } else { format!("{path}.{part}") };
        match shape {
            Shape::Opaque(ty) => Some((path.to_string(), ty.clone())),
            Shape::Option(s) | Shape::Seq(s) | Shape::Array(s, _) => walk(s, path),
            Shape::Tuple(items) => items.iter().enumerate().find_map(|(i, s)| walk(s, &join(&i.to_string()))),
            Shape::Map(k, v) => walk(k, path).or_else(|| walk(v, path)),
            Shape::Struct { fields, .. } => fields.iter().find_map(|f| walk(&f.shape, &join(&f.name))),
            Shape::Enum { variants, .. } => variants.iter().find_map(|v| {
                let p = join(&v.name);
                match &v.data {
                    VariantData::Unit => None,
                    VariantData::Newtype(s) => walk(s, &p),
                    VariantData::Tuple(items) => {
                        items.iter().enumerate().find_map(|(i, s)| walk(s, &format!("{p}.{i}")))
                    }
                    VariantData::Struct(fields) => {
                        fields.iter().find_map(|f| walk(&f.shape, &format!("{p}.{}", f.name)))
                    }
                }
            }),
            _ => None,
        }
    }
    fields.iter().find_map(|f| walk(&f.shape, &f.name))
}

// ---- Keys ----

/// A key encoding the catalog names (`rivet::Key::kind`).
#[derive(Debug, Clone, PartialEq)]
enum KeyKind {
    U8,
    U16,
    U32,
    U64,
    U128,
    I8,
    I16,
    I32,
    I64,
    I128,
    F32,
    F64,
    Bool,
    Char,
    Str,
    Bytes,
    ByteArray(usize),
    Option(Box<KeyKind>),
    Tuple(Vec<KeyKind>),
}

impl KeyKind {
    /// Parses a kind (`u64`, `option<string>`, `(u64, i64)`, `[u8; 16]`); `None` for a kind
    /// this tool does not know.
    fn parse(text: &str) -> Option<KeyKind> {
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
                    KeyKind::Option(Box::new(KeyKind::parse(inner)?))
                } else if let Some(n) = t.strip_prefix("[u8;").and_then(|r| r.strip_suffix(']')) {
                    KeyKind::ByteArray(n.trim().parse().ok()?)
                } else if let Some(inner) = t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                    KeyKind::Tuple(split_top(inner).into_iter().map(KeyKind::parse).collect::<Option<_>>()?)
                } else {
                    return None;
                }
            }
        })
    }

    /// Decodes one value of this kind from the front of `input` with the store's decoders.
    fn decode(&self, input: &mut &[u8]) -> Result<Value, rivet::key::KeyError> {
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
                    return Err(rivet::key::KeyError(format!("truncated [u8; {n}]")));
                }
                let (head, tail) = input.split_at(*n);
                *input = tail;
                bytes_value(head)
            }
            // The tag as `rivet::key` writes it: 0 `None`, 1 then the value `Some`.
            KeyKind::Option(inner) => match input.split_first() {
                Some((0, rest)) => {
                    *input = rest;
                    Value::None
                }
                Some((1, rest)) => {
                    *input = rest;
                    Value::Some(Box::new(inner.decode(input)?))
                }
                _ => return Err(rivet::key::KeyError("invalid or missing option tag".into())),
            },
            KeyKind::Tuple(items) => Value::Seq(items.iter().map(|k| k.decode(input)).collect::<Result<_, _>>()?),
        })
    }
}

/// Bytes as a value: a sequence of numbers, as a `Vec<u8>` field prints.
fn bytes_value(b: &[u8]) -> Value {
    Value::Seq(b.iter().map(|&x| Value::U(x.into())).collect())
}

/// Splits `text` at the commas that are not inside `()`, `<>` or `[]`.
fn split_top(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' | '>' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(text[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() || !parts.is_empty() {
        parts.push(last);
    }
    parts
}

/// The key fields of a catalog `key` line (`id: u64 (auto)`, `user: u64, at: i64`), or `None`
/// if a kind is not one this tool decodes.
fn key_fields(text: &str) -> Option<Vec<(String, KeyKind)>> {
    let t = text.trim();
    let t = t.strip_suffix("(auto)").unwrap_or(t);
    let fields = split_top(t)
        .into_iter()
        .map(|f| {
            let (name, kind) = f.split_once(':')?;
            Some((name.trim().to_string(), KeyKind::parse(kind)?))
        })
        .collect::<Option<Vec<_>>>()?;
    (!fields.is_empty()).then_some(fields)
}

// ---- The command ----

/// Runs `records`.
pub fn run(g: &Global, a: RecordsArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let file = a.file.as_path();
    let (_raw, db) = crate::open::both(file, g)?;
    let err = |e| CliError::engine(file, e, None);
    let tx = db.begin(false).map_err(err)?;
    let root = tx.root();
    let catalog = match root.bucket(CATALOG_BUCKET) {
        Ok(b) => b,
        Err(rivet_engine::Error::BucketNotFound) => {
            return Err(CliError::file(file, "no typed records: the file has no __rivet_catalog bucket").with_code(1))
        }
        Err(rivet_engine::Error::IncompatibleValue { .. }) => {
            return Err(CliError::file(file, "__rivet_catalog is a key holding a value, not a bucket"))
        }
        Err(e) => return Err(err(e)),
    };

    let mut types = Vec::new();
    for item in catalog.iter() {
        let (k, v) = item.map_err(err)?;
        // The catalog holds only entries; anything nested is not one.
        let Some(v) = v else { continue };
        types.push(RecordType::new(k.to_vec(), Entry::parse(v).map_err(|e| e.to_string())));
    }
    if let Some(name) = &a.record_type {
        types.retain(|t| t.matches(name));
        if types.is_empty() {
            let mut known: Vec<String> = Vec::new();
            for item in catalog.iter() {
                let (k, v) = item.map_err(err)?;
                let bucket = show(k, Format::Auto);
                known.push(match v.and_then(|v| Entry::parse(v).ok()) {
                    Some(e) if e.type_name.as_bytes() != k => format!("{} (bucket {bucket})", e.type_name),
                    _ => bucket,
                });
            }
            let listed =
                if known.is_empty() { "it lists none".to_string() } else { format!("it lists {}", known.join(", ")) };
            return Err(CliError::file(
                file,
                format!("no record type or bucket named `{name}` in the catalog ({listed})"),
            ));
        }
        if let Some(bad) = types.iter().find_map(|t| t.entry.as_ref().err().map(|e| (t, e))) {
            let bucket = show(&bad.0.bucket, Format::Auto);
            return Err(CliError::file(
                file,
                format!("the catalog entry of bucket {bucket} does not parse: {}", bad.1),
            ));
        }
    }

    let mut total = 0usize;
    let mut undecoded = 0usize;
    let mut problems: Vec<String> = Vec::new();
    for t in &types {
        let bucket_name = show(&t.bucket, Format::Auto);
        let b: Bucket<'_> = match root.bucket(&t.bucket) {
            Ok(b) => b,
            Err(rivet_engine::Error::BucketNotFound) => {
                problems.push(format!("the catalog lists bucket {bucket_name}, which the file does not have"));
                continue;
            }
            Err(rivet_engine::Error::IncompatibleValue { .. }) => {
                problems.push(format!("the catalog lists bucket {bucket_name}, which is a key holding a value"));
                continue;
            }
            Err(e) => return Err(err(e)),
        };
        for item in b.iter() {
            let (k, v) = item.map_err(err)?;
            // Nested buckets are the type's indexes (`index:<name>`), not records.
            let Some(v) = v else { continue };
            total += 1;
            let key = t.key_value(k);
            let decoded = t.decode(v);
            if matches!(decoded, Decoded::Hex { .. }) {
                undecoded += 1;
            }
            if a.json {
                let rec = match &decoded {
                    Decoded::Value { version, layout, value } => RecordJson {
                        type_name: t.type_name(),
                        bucket: bucket_name.clone(),
                        key,
                        version: Some(*version),
                        layout: Some(*layout),
                        value: Some(value),
                        hex: None,
                        note: None,
                    },
                    Decoded::Hex { version, layout, note } => RecordJson {
                        type_name: t.type_name(),
                        bucket: bucket_name.clone(),
                        key,
                        version: *version,
                        layout: *layout,
                        value: None,
                        hex: Some(hex(v)),
                        note: Some(note),
                    },
                };
                let line = serde_json::to_string(&rec).map_err(|e| CliError::file(file, e.to_string()))?;
                w!(out, "{line}")?;
            } else {
                let key = serde_json::to_string(&key).map_err(|e| CliError::file(file, e.to_string()))?;
                let type_name = t.type_name().unwrap_or("unknown type");
                let (version, layout) = match &decoded {
                    Decoded::Value { version, layout, .. } => (Some(*version), Some(*layout)),
                    Decoded::Hex { version, layout, .. } => (*version, *layout),
                };
                let mut about = type_name.to_string();
                if let Some(v) = version {
                    about.push_str(&format!(" v{v}"));
                }
                if let Some(l) = layout {
                    about.push_str(&format!(", layout {l}"));
                }
                match &decoded {
                    Decoded::Value { value, .. } => {
                        let json = serde_json::to_string(value).map_err(|e| CliError::file(file, e.to_string()))?;
                        w!(out, "{bucket_name} {key} ({about}): {json}")?;
                    }
                    Decoded::Hex { note, .. } => w!(out, "{bucket_name} {key} ({about}): hex {} ({note})", hex(v))?,
                }
            }
        }
    }

    if undecoded > 0 {
        problems.insert(0, format!("{undecoded} of {} could not be decoded (printed as hex)", count(total, "record")));
    }
    if problems.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::file(file, problems.join("; ")).with_code(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_lines_parse() {
        assert_eq!(key_fields("id: u64 (auto)"), Some(vec![("id".into(), KeyKind::U64)]));
        assert_eq!(
            key_fields("user: u64, at: i64"),
            Some(vec![("user".into(), KeyKind::U64), ("at".into(), KeyKind::I64)])
        );
        assert_eq!(
            key_fields("p: (string, option<[u8; 4]>)"),
            Some(vec![(
                "p".into(),
                KeyKind::Tuple(vec![KeyKind::Str, KeyKind::Option(Box::new(KeyKind::ByteArray(4)))])
            )])
        );
        assert_eq!(key_fields("id: my_kind"), None);
    }

    #[test]
    fn keys_decode_with_the_store_encoding() {
        let mut b = Vec::new();
        (-5i64).encode_key(&mut b);
        "a\0b".to_string().encode_key(&mut b);
        Some(7u8).encode_key(&mut b);
        None::<u8>.encode_key(&mut b);
        let t = RecordType {
            bucket: b"x".to_vec(),
            entry: Err(String::new()),
            key: key_fields("a: i64, b: string, c: option<u8>, d: option<u8>"),
            shapes: HashMap::new(),
        };
        let json = |v: Value| serde_json::to_string(&v).unwrap();
        assert_eq!(json(t.key_value(&b)), r#"{"a":-5,"b":"a\u0000b","c":7,"d":null}"#);
        assert_eq!(json(t.key_value(&b[..3])), format!(r#"{{"hex":"{}"}}"#, hex(&b[..3])));
    }

    #[test]
    fn opaque_fields_are_found() {
        let fields = vec![
            FieldShape { name: "id".into(), shape: Shape::U64 },
            FieldShape {
                name: "inner".into(),
                shape: Shape::Option(Box::new(Shape::Struct {
                    name: "I".into(),
                    fields: vec![FieldShape { name: "blob".into(), shape: Shape::Opaque("x::Blob".into()) }],
                })),
            },
        ];
        assert_eq!(first_opaque(&fields), Some(("inner.blob".into(), "x::Blob".into())));
    }
}
