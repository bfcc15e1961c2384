//! The catalog: a top-level bucket `__rivet_catalog` mapping each record bucket's name to a
//! short text describing the record type that owns it, and every value layout its rows may
//! have.
//!
//! The entry is plain text so that `rivet dump` or bbolt itself shows it readably:
//!
//! ```text
//! format = 2
//! type = User
//! version = 2
//! codec = postcard
//! key = id: u64 (auto)
//! index email = unique (email: string)
//! index country = (country: string)
//! layout 1 = version 1 {id: u64, email: string, name: string}
//! layout 2 = version 2 {id: u64, email: string, name: string, country: string}
//! ```
//!
//! - `version` is the newest type version that wrote to the bucket. A program whose type is
//!   older is refused before it reads or writes anything (a file from the future).
//! - Each `layout N` is one serialized form of the value, in the order they first appeared.
//!   Every stored value starts with its layout number (a varint, the *envelope*), so the store
//!   knows which layout to read it with. The indexes listed are built and match the records
//!   as the type of `version` computes them.
//! - A `building NAME = next KEY DEFINITION` line is an index that [`crate::Store::migrate`]
//!   is building in bounded transactions: its bucket holds the entries of every record whose
//!   key is below `KEY` (hex; `-` before the first batch). It is not queryable; the next write
//!   transaction that uses the type finishes it.
//! - `format = 1` entries (written before layouts were recorded) have no `layout` lines and
//!   their values have no envelope; the first write transaction that uses the type converts
//!   them (see `WriteTx::migrate` and the design document).
//!
//! Invariant: a record bucket exists if and only if its catalog entry does; every index listed
//! has its bucket and its entries; every value's envelope names a listed layout.

use crate::layout::{fields_text, parse_fields, FieldShape};

/// The name of the catalog bucket.
pub const CATALOG_BUCKET: &[u8] = b"__rivet_catalog";

/// The catalog format written by this version.
pub const FORMAT: u32 = 2;

/// One value layout recorded in the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLayout {
    /// Its number (the envelope of the values written with it), from 1.
    pub id: u32,
    /// The type version that wrote it.
    pub version: u32,
    /// The serialized fields, in order.
    pub fields: Vec<FieldShape>,
}

/// One index recorded in the catalog: its name and definition
/// (`unique (email: string)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIndex {
    /// The index's name.
    pub name: String,
    /// Its definition, as text.
    pub definition: String,
}

/// An index being built in bounded transactions: its definition and where the build goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBuild {
    /// The index's name.
    pub name: String,
    /// Its definition, as text.
    pub definition: String,
    /// The first record key (encoded) whose entries are not written yet; empty before the
    /// first batch.
    pub next: Vec<u8>,
}

/// A parsed catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1 (no layouts, values without envelope) or 2.
    pub format: u32,
    /// The name of the Rust type that last registered the bucket.
    pub type_name: String,
    /// The newest type version that wrote to the bucket.
    pub version: u32,
    /// The codec's name.
    pub codec: String,
    /// The key fields (`id: u64 (auto)`).
    pub key: String,
    /// The built indexes.
    pub indexes: Vec<StoredIndex>,
    /// The indexes being built.
    pub building: Vec<StoredBuild>,
    /// The value layouts (empty in format 1).
    pub layouts: Vec<StoredLayout>,
}

/// Why an entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryError(pub String);

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Entry {
    /// Parses an entry's bytes.
    ///
    /// # Errors
    /// [`EntryError`] naming the line that does not parse (the entry was not written by this
    /// store, or was damaged).
    pub fn parse(bytes: &[u8]) -> Result<Entry, EntryError> {
        let text = std::str::from_utf8(bytes).map_err(|_| EntryError("the entry is not text".into()))?;
        let mut e = Entry {
            format: 0,
            type_name: String::new(),
            version: 0,
            codec: String::new(),
            key: String::new(),
            indexes: Vec::new(),
            building: Vec::new(),
            layouts: Vec::new(),
        };
        let number = |label: &str, v: &str| -> Result<u32, EntryError> {
            v.parse().map_err(|_| EntryError(format!("`{label}` is not a number: `{v}`")))
        };
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Some((label, value)) = line.split_once(" = ") else {
                return Err(EntryError(format!("line `{line}` is not `label = value`")));
            };
            match label {
                "format" => e.format = number(label, value)?,
                "type" => e.type_name = value.to_string(),
                "version" => e.version = number(label, value)?,
                "codec" => e.codec = value.to_string(),
                "key" => e.key = value.to_string(),
                _ => {
                    if let Some(name) = label.strip_prefix("index ") {
                        e.indexes.push(StoredIndex { name: name.to_string(), definition: value.to_string() });
                    } else if let Some(name) = label.strip_prefix("building ") {
                        let bad = || EntryError(format!("index build `{name}` is not `next KEY DEFINITION`"));
                        let (next, definition) =
                            value.strip_prefix("next ").and_then(|r| r.split_once(' ')).ok_or_else(bad)?;
                        let next = if next == "-" { Vec::new() } else { unhex(next).ok_or_else(bad)? };
                        e.building.push(StoredBuild { name: name.into(), definition: definition.into(), next });
                    } else if let Some(id) = label.strip_prefix("layout ") {
                        let id = number(label, id)?;
                        let Some(rest) = value.strip_prefix("version ") else {
                            return Err(EntryError(format!("layout {id} does not start with `version`")));
                        };
                        let (version, fields) = rest.split_once(' ').unwrap_or((rest, ""));
                        let version = number(label, version)?;
                        let fields = parse_fields(fields)
                            .map_err(|err| EntryError(format!("layout {id}: {err}: `{fields}`")))?;
                        e.layouts.push(StoredLayout { id, version, fields });
                    } else {
                        return Err(EntryError(format!("unknown line `{line}`")));
                    }
                }
            }
        }
        if e.format == 0 || e.type_name.is_empty() || e.codec.is_empty() || e.key.is_empty() {
            return Err(EntryError("the entry lacks its format, type, codec or key".into()));
        }
        if e.format > FORMAT {
            return Err(EntryError(format!(
                "catalog format {} is newer than this program reads ({FORMAT}): the file was written by a newer Rivet",
                e.format
            )));
        }
        if e.format >= 2 && e.layouts.is_empty() {
            return Err(EntryError("a format 2 entry lists no layout".into()));
        }
        Ok(e)
    }

    /// The entry as text (what [`Entry::parse`] reads back).
    pub fn render(&self) -> String {
        let mut out = format!(
            "format = {}\ntype = {}\nversion = {}\ncodec = {}\nkey = {}\n",
            self.format, self.type_name, self.version, self.codec, self.key
        );
        for i in &self.indexes {
            out.push_str(&format!("index {} = {}\n", i.name, i.definition));
        }
        for b in &self.building {
            let next = if b.next.is_empty() {
                "-".to_string()
            } else {
                b.next.iter().map(|x| format!("{x:02x}")).collect::<String>()
            };
            out.push_str(&format!("building {} = next {next} {}\n", b.name, b.definition));
        }
        for l in &self.layouts {
            out.push_str(&format!("layout {} = version {} {}\n", l.id, l.version, fields_text(&l.fields)));
        }
        out
    }

    /// The entry `schema` leaves when it registers over `layouts`: its name, version, key,
    /// codec and indexes, and its own layout appended unless `layouts` has it already
    /// (`own`: its number there).
    pub(crate) fn registered(schema: &crate::record::Schema, layouts: &[StoredLayout], own: Option<u32>) -> Entry {
        let mut layouts = layouts.to_vec();
        if own.is_none() {
            let id = layouts.iter().map(|l| l.id).max().unwrap_or(0) + 1;
            layouts.push(StoredLayout {
                id,
                version: schema.version,
                fields: schema.fields.iter().map(|f| f.shape.clone()).collect(),
            });
        }
        Entry {
            format: FORMAT,
            type_name: schema.type_name.into(),
            version: schema.version,
            codec: schema.codec.into(),
            key: schema.key_text.clone(),
            indexes: schema
                .indexes
                .iter()
                .map(|i| StoredIndex { name: i.name.into(), definition: i.definition.clone() })
                .collect(),
            building: Vec::new(),
            layouts,
        }
    }

    /// The layout numbered `id`.
    pub fn layout(&self, id: u32) -> Option<&StoredLayout> {
        self.layouts.iter().find(|l| l.id == id)
    }

    /// Where the build of index `name` with `definition` goes on, if it is being built.
    pub fn building(&self, name: &str, definition: &str) -> Option<&[u8]> {
        self.building.iter().find(|b| b.name == name && b.definition == definition).map(|b| b.next.as_slice())
    }

    /// The definition of index `name`, if built.
    pub fn index(&self, name: &str) -> Option<&str> {
        self.indexes.iter().find(|i| i.name == name).map(|i| i.definition.as_str())
    }
}

/// Bytes from hex (`hex`'s output), if it is that.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// Reads a value's envelope: its layout number and the bytes after it.
///
/// # Errors
/// A message if the envelope is malformed (empty value, an overlong or unterminated varint).
pub fn split_envelope(value: &[u8]) -> Result<(u32, &[u8]), String> {
    let mut id: u32 = 0;
    for (i, b) in value.iter().enumerate().take(5) {
        id |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((id, &value[i + 1..]));
        }
    }
    Err(format!("the value's layout number is malformed ({} bytes)", value.len()))
}

/// The envelope of layout `id`: its bytes (the first `len` of the array) and `len`.
pub fn envelope(id: u32) -> ([u8; 5], usize) {
    let mut out = [0u8; 5];
    let mut id = id;
    let mut len = 0;
    while id >= 0x80 {
        out[len] = (id as u8 & 0x7F) | 0x80;
        id >>= 7;
        len += 1;
    }
    out[len] = id as u8;
    (out, len + 1)
}

/// Appends the envelope of layout `id`.
pub fn push_envelope(id: u32, out: &mut Vec<u8>) {
    let (bytes, len) = envelope(id);
    out.extend_from_slice(&bytes[..len]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Shape;

    #[test]
    fn entries_round_trip() {
        let e = Entry {
            format: 2,
            type_name: "User".into(),
            version: 2,
            codec: "postcard".into(),
            key: "id: u64 (auto)".into(),
            indexes: vec![StoredIndex { name: "email".into(), definition: "unique (email: string)".into() }],
            building: vec![
                StoredBuild { name: "country".into(), definition: "(country: string)".into(), next: vec![] },
                StoredBuild { name: "age".into(), definition: "(age: u8)".into(), next: vec![0, 0xab, 7] },
            ],
            layouts: vec![
                StoredLayout { id: 1, version: 1, fields: vec![FieldShape { name: "id".into(), shape: Shape::U64 }] },
                StoredLayout { id: 2, version: 2, fields: vec![] },
            ],
        };
        assert!(e.render().contains("building age = next 00ab07 (age: u8)\n"), "{}", e.render());
        assert_eq!(e.building("country", "(country: string)"), Some(&[][..]));
        assert_eq!(e.building("country", "unique (country: string)"), None);
        assert_eq!(Entry::parse(e.render().as_bytes()), Ok(e));
    }

    #[test]
    fn format_1_entries_parse() {
        let text = "format = 1\ntype = User\nversion = 1\ncodec = postcard\nkey = id: u64 (auto)\nindex born = sparse (born: i32)\n";
        let e = Entry::parse(text.as_bytes()).unwrap();
        assert_eq!((e.format, e.version, e.layouts.len()), (1, 1, 0));
        assert_eq!(e.index("born"), Some("sparse (born: i32)"));
        assert_eq!(e.render(), text);
    }

    #[test]
    fn damaged_entries_are_errors() {
        for bad in [
            &b"\xff\xfe"[..],
            b"format = x",
            b"format = 9\ntype = A\nversion = 1\ncodec = c\nkey = k",
            b"hello",
            b"format = 2\ntype = A\nversion = 1\ncodec = c\nkey = k",
            b"format = 2\ntype = A\nversion = 1\ncodec = c\nkey = k\nlayout 1 = version 1 {a: ???}",
            b"format = 2\ntype = A\nversion = 1\ncodec = c\nkey = k\nlayout 1 = version 1 {}\nbuilding i = (i: u8)",
            b"format = 2\ntype = A\nversion = 1\ncodec = c\nkey = k\nlayout 1 = version 1 {}\nbuilding i = next 0g (i: u8)",
            b"format = 2\ntype = A\nversion = 1\ncodec = c\nkey = k\nlayout 1 = version 1 {}\nbuilding i = next 012 (i: u8)",
        ] {
            assert!(Entry::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn envelopes_round_trip() {
        for id in [0, 1, 127, 128, 300, u32::MAX] {
            let mut v = Vec::new();
            push_envelope(id, &mut v);
            v.extend_from_slice(b"rest");
            assert_eq!(split_envelope(&v), Ok((id, &b"rest"[..])));
        }
        assert!(split_envelope(&[]).is_err());
        assert!(split_envelope(&[0x80; 6]).is_err());
    }
}
