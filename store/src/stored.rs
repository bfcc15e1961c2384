//! Record types as the file describes them: a record bucket read through its catalog entry
//! alone, without the program's Rust types. This is how `rivet records` prints records and
//! `rivet check` verifies every type's indexes, on any file the store wrote.
//!
//! A value is decoded by the layout its envelope names ([`crate::Codec::decode_shape`]); keys
//! and index entries by the kinds the entry lists ([`KeyFields`]). What cannot be read that way
//! is said, never guessed: a format 1 entry (no layouts recorded), a codec this build does not
//! have, a field whose type does not derive [`crate::Layout`], a user's own key kind.
//!
//! An index value is computed here only for a record stored at the entry's current version
//! whose layout has every field of the index: an older record's index value is what the
//! program's upgrade makes of it (a default, a `From`), which only the program knows. Such
//! records are counted, not judged; `ReadTx::verify` in the program checks them all.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use rivet_engine::Tx;

use crate::backend::{Tree, TxnRef};

use crate::audit::{self, AuditIndex, Indexed, Indexer, Problem};
use crate::catalog::{split_envelope, Entry, StoredLayout};
use crate::codec::{Codec, Postcard};
use crate::error::{hex, Result};
use crate::key_kind::KeyFields;
use crate::layout::{FieldShape, Shape};
use crate::value::Value;

/// Why a stored value cannot be decoded without the program.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Undecodable {
    /// The entry is format 1: layouts were not recorded.
    Format1,
    /// The value's envelope is malformed.
    Envelope(String),
    /// The envelope names a layout the entry does not list.
    NoLayout(u32),
    /// The entry's codec is not one this build can decode by shape.
    Codec(String),
    /// A field's type does not derive `rivet::Layout`.
    Opaque {
        /// Its path (`address.geo`).
        field: String,
        /// Its Rust type.
        type_name: String,
    },
    /// The bytes do not decode by their layout: damage.
    Damaged {
        /// The layout.
        layout: u32,
        /// What the codec said.
        cause: String,
    },
}

impl fmt::Display for Undecodable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undecodable::Format1 => f.write_str("format 1: layout not recorded"),
            Undecodable::Envelope(why) => f.write_str(why),
            Undecodable::NoLayout(id) => write!(f, "layout {id} is not in the catalog entry"),
            Undecodable::Codec(c) => write!(f, "codec `{c}` cannot be read without its Rust type"),
            Undecodable::Opaque { field, type_name } => write!(
                f,
                "field `{field}` has type `{type_name}`, which does not derive rivet::Layout: \
                 it cannot be read without its Rust type"
            ),
            Undecodable::Damaged { layout, cause } => {
                write!(f, "the value does not decode by layout {layout}: {cause}")
            }
        }
    }
}

/// A value decoded by its layout.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredValue {
    /// The layout number (the envelope).
    pub layout: u32,
    /// The type version that wrote the layout.
    pub version: u32,
    /// The value: a struct of the layout's fields.
    pub value: Value,
}

/// A record type as its catalog entry describes it.
#[derive(Debug, Clone)]
pub struct StoredType {
    /// The record bucket's name.
    pub bucket: Vec<u8>,
    /// The entry.
    pub entry: Entry,
    /// The key fields, if every kind is one this crate defines.
    pub key: Option<KeyFields>,
    shapes: HashMap<u32, Shape>,
}

impl StoredType {
    /// The type of `bucket` as `entry` describes it.
    pub fn new(bucket: Vec<u8>, entry: Entry) -> StoredType {
        let key_text = entry.key.trim();
        let key = KeyFields::parse(key_text.strip_suffix("(auto)").unwrap_or(key_text));
        let shapes = entry
            .layouts
            .iter()
            .map(|l| (l.id, Shape::Struct { name: entry.type_name.clone(), fields: l.fields.clone() }))
            .collect();
        StoredType { bucket, entry, key, shapes }
    }

    /// A record key as a value: decoded by the key's kinds (a composite key as a struct of its
    /// fields), or `None` if the kinds are unknown or the bytes are not such a key.
    pub fn key_value(&self, key: &[u8]) -> Option<Value> {
        self.key.as_ref()?.decode(key).ok()
    }

    /// Decodes a stored value by the layout its envelope names.
    ///
    /// # Errors
    /// [`Undecodable`] says why it cannot be.
    pub fn decode(&self, value: &[u8]) -> std::result::Result<StoredValue, Undecodable> {
        let e = &self.entry;
        if e.format < 2 {
            return Err(Undecodable::Format1);
        }
        let (id, body) = split_envelope(value).map_err(Undecodable::Envelope)?;
        let (Some(layout), Some(shape)) = (e.layout(id), self.shapes.get(&id)) else {
            return Err(Undecodable::NoLayout(id));
        };
        let decoded = match e.codec.as_str() {
            Postcard::NAME => Postcard::decode_shape(body, shape),
            #[cfg(feature = "bincode")]
            crate::Bincode::NAME => crate::Bincode::decode_shape(body, shape),
            other => return Err(Undecodable::Codec(other.into())),
        };
        match decoded {
            Ok(value) => Ok(StoredValue { layout: id, version: layout.version, value }),
            Err(cause) => Err(match first_opaque(&layout.fields) {
                Some((field, type_name)) => Undecodable::Opaque { field, type_name },
                None => Undecodable::Damaged { layout: id, cause },
            }),
        }
    }

    /// The layout numbered `id`.
    pub fn layout(&self, id: u32) -> Option<&StoredLayout> {
        self.entry.layout(id)
    }
}

/// Whether this build can decode values of codec `name` by shape (postcard; bincode with the
/// `bincode` feature).
pub fn decodes_by_shape(name: &str) -> bool {
    name == Postcard::NAME || (cfg!(feature = "bincode") && name == "bincode")
}

/// What an audit of stored records could not judge.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unverified {
    /// No value could be decoded by shape (a format 1 entry, another codec): no index was
    /// verified.
    Values(Undecodable),
    /// An index's definition names kinds this crate does not define: it was not verified.
    IndexKinds {
        /// The index.
        index: String,
        /// Its definition.
        definition: String,
    },
    /// An index being built in bounded transactions ([`crate::Store::migrate`]): its entries
    /// are not all written yet, so it was not verified.
    Building {
        /// The index.
        index: String,
    },
    /// Records whose value in an index only the program can compute (stored at an older
    /// version, or by a layout without one of the index's fields, or not decodable by shape).
    Records {
        /// The index.
        index: String,
        /// How many records.
        count: u64,
    },
}

impl fmt::Display for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unverified::Values(why) => write!(f, "indexes not verified: {why}"),
            Unverified::IndexKinds { index, definition } => {
                write!(f, "index `{index}` ({definition}) not verified: its kinds are not the store's own")
            }
            Unverified::Building { index } => {
                write!(f, "index `{index}` is being built (rivet::Store::migrate): not verified")
            }
            Unverified::Records { index, count } => write!(
                f,
                "index `{index}`: {count} record(s) not verified here (their index values come from the program: \
                 an older version or layout; ReadTx::verify checks them)"
            ),
        }
    }
}

/// The result of [`audit_stored`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredAudit {
    /// The inconsistencies found.
    pub problems: Vec<Problem>,
    /// What could not be judged without the program.
    pub unverified: Vec<Unverified>,
}

/// A parsed index definition (`unique sparse (email: string)`).
struct Definition {
    unique: bool,
    sparse: bool,
    /// One entry per element of a collection field.
    each: bool,
    fields: Option<KeyFields>,
}

fn parse_definition(text: &str) -> Option<Definition> {
    let mut t = text.trim();
    let (mut unique, mut sparse, mut each) = (false, false, false);
    loop {
        if let Some(r) = t.strip_prefix("unique ") {
            unique = true;
            t = r.trim_start();
        } else if let Some(r) = t.strip_prefix("sparse ") {
            sparse = true;
            t = r.trim_start();
        } else if let Some(r) = t.strip_prefix("each ") {
            each = true;
            t = r.trim_start();
        } else {
            break;
        }
    }
    let inner = t.strip_prefix('(')?.strip_suffix(')')?;
    Some(Definition { unique, sparse, each, fields: KeyFields::parse(inner) })
}

/// The name of an index's bucket: `index:NAME`, or `index:NAME~` when `index:NAME` is a valid
/// key (see `rivet::index_bucket_name`); with unknown key kinds, whichever exists.
fn index_bucket(ty: &StoredType, records: &Tree<'_>, name: &str) -> Result<Vec<u8>> {
    let plain = format!("index:{name}").into_bytes();
    let mut longer = plain.clone();
    longer.push(b'~');
    Ok(match &ty.key {
        Some(k) if k.decode(&plain).is_ok() => longer,
        Some(_) => plain,
        None if records.has_child(&plain)? => plain,
        None if records.has_child(&longer)? => longer,
        None => plain,
    })
}

/// Audits the indexes of the record type `ty` in `tx` by its catalog entry alone (see the
/// module docs for what can be judged this way).
///
/// # Errors
/// [`Error::Engine`](crate::Error::Engine) for a damaged file. What the audit finds wrong is not
/// an error but a [`Problem`] in the result; a missing record bucket, too, is a
/// `Problem::IndexBucket` for each index the entry lists.
///
/// Engine-only: it takes an engine transaction (`rivet check` reads files through the engine).
pub fn audit_stored(tx: &Tx<'_>, ty: &StoredType) -> Result<StoredAudit> {
    let tx = TxnRef::from_engine(tx);
    let mut out = StoredAudit::default();
    let Some(records) = tx.tree(&ty.bucket)? else {
        return Ok(out);
    };
    if ty.entry.format < 2 {
        out.unverified.push(Unverified::Values(Undecodable::Format1));
        return Ok(out);
    }
    if !decodes_by_shape(&ty.entry.codec) {
        out.unverified.push(Unverified::Values(Undecodable::Codec(ty.entry.codec.clone())));
        return Ok(out);
    }
    let mut indexes = Vec::new();
    let mut definitions = Vec::new();
    for stored in &ty.entry.indexes {
        match parse_definition(&stored.definition).filter(|d| d.fields.is_some()) {
            Some(d) => {
                indexes.push(AuditIndex {
                    position: definitions.len(),
                    name: stored.name.clone(),
                    bucket: index_bucket(ty, &records, &stored.name)?,
                    unique: d.unique,
                    fields: d.fields.clone(),
                });
                definitions.push(d);
            }
            None => out
                .unverified
                .push(Unverified::IndexKinds { index: stored.name.clone(), definition: stored.definition.clone() }),
        }
    }
    out.unverified.extend(ty.entry.building.iter().map(|b| Unverified::Building { index: b.name.clone() }));
    let mut indexer = ByLayout { ty, definitions: &definitions };
    let (read, unknown) = audit::audit(&records, &indexes, &mut indexer, &mut out.problems)?;
    if let Some(stored) = crate::count::stored(tx, &String::from_utf8_lossy(&ty.bucket))? {
        if stored != read {
            out.problems.push(Problem::Count { stored, records: read });
        }
    }
    for (idx, count) in indexes.iter().zip(unknown) {
        if count > 0 {
            out.unverified.push(Unverified::Records { index: idx.name.clone(), count });
        }
    }
    Ok(out)
}

/// The audit of stored records: values decoded by layout, index values computed from their
/// fields by the definitions' kinds.
struct ByLayout<'a> {
    ty: &'a StoredType,
    definitions: &'a [Definition],
}

/// A record read by layout: its fields, if it is at the entry's version.
struct ByLayoutRec {
    fields: Option<Vec<(String, Value)>>,
}

impl Indexer for ByLayout<'_> {
    type Rec = ByLayoutRec;

    fn read(&mut self, key: &[u8], value: &[u8], problems: &mut Vec<Problem>) -> Result<Option<ByLayoutRec>> {
        if self.ty.key.as_ref().is_some_and(|k| k.decode(key).is_err()) {
            problems.push(Problem::BadRecordKey { key: hex(key) });
        }
        match self.ty.decode(value) {
            Ok(v) if v.version == self.ty.entry.version => match v.value {
                Value::Struct(fields) => Ok(Some(ByLayoutRec { fields: Some(fields) })),
                _ => Ok(Some(ByLayoutRec { fields: None })),
            },
            Ok(_) | Err(Undecodable::Opaque { .. }) => Ok(Some(ByLayoutRec { fields: None })),
            Err(why) => {
                problems.push(Problem::BadRecord { key: self.describe_key(key), cause: why.to_string() });
                Ok(None)
            }
        }
    }

    fn index_values(
        &mut self,
        rec: &ByLayoutRec,
        index: usize,
        out: &mut Vec<u8>,
        spans: &mut Vec<Range<usize>>,
    ) -> Indexed {
        let (Some(fields), Some(def)) = (&rec.fields, self.definitions.get(index)) else {
            return Indexed::Unknown;
        };
        let Some(kinds) = &def.fields else { return Indexed::Unknown };
        let start = out.len();
        if def.each {
            // One field, a collection: one entry per distinct element.
            let [(name, kind)] = kinds.fields.as_slice() else { return Indexed::Unknown };
            let Some((_, Value::Seq(items))) = fields.iter().find(|(n, _)| n == name) else {
                return Indexed::Unknown;
            };
            for item in items {
                let from = out.len();
                if kind.encode(item, out).is_err() {
                    return Indexed::Unknown;
                }
                spans.push(from..out.len());
            }
            spans.sort_by(|a, b| out[a.clone()].cmp(&out[b.clone()]));
            spans.dedup_by(|a, b| out[a.clone()] == out[b.clone()]);
            return if spans.is_empty() { Indexed::Out } else { Indexed::In };
        }
        for (name, kind) in &kinds.fields {
            let Some((_, value)) = fields.iter().find(|(n, _)| n == name) else {
                return Indexed::Unknown;
            };
            let encoded = if def.sparse {
                match value {
                    Value::None => return Indexed::Out,
                    Value::Some(v) => kind.encode(v, out),
                    _ => return Indexed::Unknown,
                }
            } else {
                kind.encode(value, out)
            };
            if encoded.is_err() {
                return Indexed::Unknown;
            }
        }
        spans.push(start..out.len());
        Indexed::In
    }

    fn describe_key(&self, key: &[u8]) -> String {
        match &self.ty.key {
            Some(k) => k.describe(key),
            None => hex(key),
        }
    }
}

/// The first opaque part of `fields`: its path (`address.geo`) and Rust type name.
pub fn first_opaque(fields: &[FieldShape]) -> Option<(String, String)> {
    fields.iter().find_map(|f| f.shape.first_opaque(&f.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_fields_are_found_with_their_path() {
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
        assert_eq!(first_opaque(&fields[..1]), None);
    }

    #[test]
    fn index_definitions_parse() {
        let d = parse_definition("unique sparse (nick: string)").unwrap();
        assert!(d.unique && d.sparse);
        assert_eq!(d.fields.unwrap().fields[0].0, "nick");
        let d = parse_definition("(user: u64, at: i64)").unwrap();
        assert!(!d.unique && !d.sparse);
        let names: Vec<String> = d.fields.unwrap().fields.into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["user", "at"]);
        assert!(parse_definition("(p: Custom)").unwrap().fields.is_none());
        assert!(parse_definition("unique email").is_none());
    }
}
