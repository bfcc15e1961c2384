//! The catalog: a top-level bucket `__rivet_catalog` mapping each record bucket's name to a
//! short text describing the record type that owns it.
//!
//! The entry is plain text so that `rivet dump` or bbolt itself shows it readably:
//!
//! ```text
//! format = 1
//! type = User
//! version = 1
//! codec = postcard
//! key = id: u64 (auto)
//! index email = unique (email: string)
//! index born = sparse (born: i32)
//! ```
//!
//! Invariant: a record bucket exists if and only if its catalog entry does, and the entry
//! equals the schema of the type using it. A type is checked against its entry the first time
//! a transaction uses it; any difference (another type, other key fields, other indexes,
//! another codec or version) is [`crate::Error::SchemaMismatch`] naming what changed, raised
//! before anything is written.

use crate::record::{Field, Schema};

/// The name of the catalog bucket.
pub const CATALOG_BUCKET: &[u8] = b"__rivet_catalog";

/// The catalog format written by this version.
const FORMAT: u32 = 1;

fn fields(fields: &[Field]) -> String {
    fields.iter().map(|f| format!("{}: {}", f.name, f.kind)).collect::<Vec<_>>().join(", ")
}

/// The catalog entry of a schema.
pub(crate) fn render(s: &Schema) -> String {
    let mut out = format!(
        "format = {FORMAT}\ntype = {}\nversion = {}\ncodec = {}\nkey = {}{}\n",
        s.type_name,
        s.version,
        s.codec,
        fields(&s.key),
        if s.auto_key { " (auto)" } else { "" }
    );
    for i in &s.indexes {
        let mut flags = String::new();
        if i.unique {
            flags.push_str("unique ");
        }
        if i.sparse {
            flags.push_str("sparse ");
        }
        out.push_str(&format!("index {} = {flags}({})\n", i.name, fields(&i.fields)));
    }
    out
}

/// `(label, value)` pairs of an entry, in order.
fn lines(entry: &str) -> Vec<(&str, &str)> {
    entry.lines().filter(|l| !l.trim().is_empty()).map(|l| l.split_once(" = ").unwrap_or((l, ""))).collect()
}

/// Says in words how the stored entry differs from the schema (`None`: they agree).
pub(crate) fn mismatch(stored: &[u8], schema: &Schema) -> Option<String> {
    let expected = schema.catalog_entry();
    if stored == expected.as_bytes() {
        return None;
    }
    let Ok(stored) = std::str::from_utf8(stored) else {
        return Some("the catalog entry is not text: the bucket was not written by this store".into());
    };
    let old = lines(stored);
    let new = lines(expected);
    let value = |v: &[(&str, &str)], label: &str| v.iter().find(|(l, _)| *l == label).map(|(_, v)| v.to_string());
    if let Some(owner) = value(&old, "type") {
        if owner != schema.type_name {
            return Some(format!(
                "the bucket belongs to record type `{owner}`, so `{}` cannot use it (give one of them another \
                 bucket with #[rivet(bucket = \"...\")])",
                schema.type_name
            ));
        }
    }
    let mut changes = Vec::new();
    for (label, was) in &old {
        match value(&new, label) {
            Some(now) if now != *was => changes.push(format!("{label}: the file has `{was}`, the type has `{now}`")),
            Some(_) => {}
            None => changes.push(format!("{label} (`{was}`) is in the file but not in the type")),
        }
    }
    for (label, now) in &new {
        if value(&old, label).is_none() {
            changes.push(format!("{label} (`{now}`) is in the type but not in the file"));
        }
    }
    if changes.is_empty() {
        changes.push("the catalog entry differs in form".into());
    }
    Some(format!(
        "record type `{}` differs from the catalog: {}. The store does not migrate data; keep the type as it was, \
         or move the data with a migration of your own",
        schema.type_name,
        changes.join("; ")
    ))
}
