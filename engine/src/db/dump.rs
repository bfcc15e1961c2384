//! The canonical dump: a whole database as compact JSON, byte for byte the format of the interop
//! tool's `dump` (format doc, section 18), so that Rust and Go views of a file can be diffed.
//!
//! `bucket = {"sequence":N,"entries":[entry,...]}`, `entry = {"key":HEX,"value":HEX}` or
//! `{"key":HEX,"bucket":bucket}`; entries in key order, lowercase hex; the top level is the
//! root bucket; one trailing newline.

use std::fmt::Write;

use crate::db::bucket::Bucket;
use crate::db::tx::Tx;
use crate::error::Result;

fn hex_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

fn bucket_json(b: &Bucket<'_>, out: &mut String, depth: usize) -> Result<()> {
    if depth > crate::limits::MAX_DEPTH {
        return Err(crate::error::Error::corrupted(0, "buckets nested deeper than 64 levels"));
    }
    let _ = write!(out, "{{\"sequence\":{},\"entries\":[", b.sequence());
    let mut first = true;
    for item in b.iter() {
        let (k, v) = item?;
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str("{\"key\":\"");
        hex_into(out, k);
        match v {
            Some(v) => {
                out.push_str("\",\"value\":\"");
                hex_into(out, v);
                out.push_str("\"}");
            }
            None => {
                out.push_str("\",\"bucket\":");
                bucket_json(&b.listed_bucket(k)?, out, depth + 1)?;
                out.push('}');
            }
        }
    }
    out.push_str("]}");
    Ok(())
}

/// The canonical JSON dump of everything `tx` sees, with the trailing newline.
pub fn dump_json(tx: &Tx<'_>) -> Result<String> {
    let mut out = String::new();
    bucket_json(&tx.root(), &mut out, 0)?;
    out.push('\n');
    Ok(out)
}
