//! `rivet records FILE [TYPE] [--json]`: the records of a typed store (the `rivet` crate),
//! printed without the program's Rust types.
//!
//! The store keeps a catalog (`__rivet_catalog`, see `rivet::catalog`): one text entry per
//! record bucket naming the record type, its codec, its key fields and every value layout its
//! values may have. Each stored value starts with its layout's number (the envelope); the
//! store's [`rivet::stored::StoredType`] decodes it by the shape `struct TYPE {fields of that
//! layout}`, and it is printed as JSON. Nested buckets of a record bucket (`index:<name>`) hold
//! indexes and are skipped.
//!
//! A value that cannot be decoded is printed as the hex of the stored bytes (envelope
//! included) with a note saying why: a format 1 bucket (no layout recorded), a codec of the
//! program's own (postcard and bincode are read), a field whose type does not derive
//! `rivet::Layout` (opaque), or damaged bytes. The listing goes on; at the end the command fails with exit status 1 and the number
//! of such records.
//!
//! Keys are decoded by the kinds the catalog's `key` line lists (`id: u64 (auto)`,
//! `user: u64, at: i64`) with the store's own [`rivet::Key`] decoders
//! ([`rivet::key_kind::KeyFields`]); a key kind the store does not define (a user's own `Key`
//! impl) prints as `{"hex": ...}`.

use std::io::Write;
use std::process::ExitCode;

use rivet::catalog::{split_envelope, Entry, CATALOG_BUCKET};
use rivet::stored::{StoredType, StoredValue, Undecodable};
use rivet::value::Value;
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
    /// The type as its entry describes it, or why the entry does not parse.
    stored: Result<StoredType, String>,
}

impl RecordType {
    fn new(bucket: Vec<u8>, entry: Result<Entry, String>) -> Self {
        let stored = entry.map(|e| StoredType::new(bucket.clone(), e));
        RecordType { bucket, stored }
    }

    fn type_name(&self) -> Option<&str> {
        self.stored.as_ref().ok().map(|t| t.entry.type_name.as_str())
    }

    /// Whether TYPE names this record type or its bucket.
    fn matches(&self, name: &str) -> bool {
        self.bucket == name.as_bytes() || self.type_name() == Some(name)
    }

    /// The key as a value to print: decoded by its kinds (a composite key as its fields by
    /// name, in order), else `{"hex": ...}`.
    fn key_value(&self, k: &[u8]) -> Value {
        self.stored
            .as_ref()
            .ok()
            .and_then(|t| t.key_value(k))
            .unwrap_or_else(|| Value::Struct(vec![("hex".into(), Value::String(hex(k)))]))
    }

    /// Decodes a stored value.
    fn decode(&self, v: &[u8]) -> Decoded {
        let t = match &self.stored {
            Ok(t) => t,
            Err(why) => {
                return Decoded::Hex {
                    version: None,
                    layout: None,
                    note: format!("the catalog entry does not parse: {why}"),
                }
            }
        };
        match t.decode(v) {
            Ok(StoredValue { layout, version, value }) => Decoded::Value { version, layout, value },
            Err(why) => {
                let layout = match &why {
                    Undecodable::NoLayout(id) => Some(*id),
                    _ => split_envelope(v).ok().map(|(id, _)| id).filter(|_| t.entry.format >= 2),
                };
                let version = match &why {
                    Undecodable::Format1 => Some(t.entry.version),
                    _ => layout.and_then(|id| t.layout(id)).map(|l| l.version),
                };
                Decoded::Hex { version, layout, note: why.to_string() }
            }
        }
    }
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
        if let Some(bad) = types.iter().find_map(|t| t.stored.as_ref().err().map(|e| (t, e))) {
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
    use rivet::Key;

    #[test]
    fn keys_decode_with_the_store_encoding() {
        let mut b = Vec::new();
        (-5i64).encode_key(&mut b);
        "a\0b".to_string().encode_key(&mut b);
        Some(7u8).encode_key(&mut b);
        None::<u8>.encode_key(&mut b);
        let entry = Entry::parse(
            b"format = 1\ntype = T\nversion = 1\ncodec = postcard\nkey = a: i64, b: string, c: option<u8>, d: option<u8>\n",
        )
        .unwrap();
        let t = RecordType::new(b"x".to_vec(), Ok(entry));
        let json = |v: Value| serde_json::to_string(&v).unwrap();
        assert_eq!(json(t.key_value(&b)), r#"{"a":-5,"b":"a\u0000b","c":7,"d":null}"#);
        assert_eq!(json(t.key_value(&b[..3])), format!(r#"{{"hex":"{}"}}"#, hex(&b[..3])));
    }
}
