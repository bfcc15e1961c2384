//! The canonical dump: a whole database as compact JSON, byte for byte the format of the interop
//! tool's `dump` (format doc, section 18), so that Rust and Go views of a file can be diffed.
//!
//! `bucket = {"sequence":N,"entries":[entry,...]}`, `entry = {"key":HEX,"value":HEX}` or
//! `{"key":HEX,"bucket":bucket}`; entries in key order, lowercase hex; the top level is the
//! root bucket; one trailing newline.

use std::fmt::Write;

use crate::corruption::Corruption;
use crate::db::bucket::Bucket;
use crate::db::cursor::Range;
use crate::db::tx::Tx;
use crate::error::{Error, Result};

fn hex_into(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// The canonical JSON dump of everything `tx` sees, with the trailing newline.
///
/// The walk is iterative (one open iterator per nesting level, on the heap), so a file nested as
/// deep as reads allow cannot exhaust the stack.
///
/// # Errors
/// [`crate::Error::Corrupted`] where a page cannot be read, or buckets nest deeper than
/// `MAX_DEPTH` (64).
pub fn dump_json(tx: &Tx<'_>) -> Result<String> {
    let mut out = String::new();
    let root = tx.root();
    open_bucket(&root, &mut out);
    // The buckets being dumped, outermost first: each with its iterator and whether an entry
    // has been written yet.
    let mut stack: Vec<(Bucket<'_>, Range<'_>, bool)> = vec![(root, root.iter(), false)];
    while let Some((bucket, items, written)) = stack.last_mut() {
        let Some(item) = items.next() else {
            out.push_str("]}");
            stack.pop();
            if !stack.is_empty() {
                out.push('}');
            }
            continue;
        };
        let (k, v) = item?;
        if std::mem::replace(written, true) {
            out.push(',');
        }
        out.push_str("{\"key\":\"");
        hex_into(&mut out, k);
        match v {
            Some(v) => {
                out.push_str("\",\"value\":\"");
                hex_into(&mut out, v);
                out.push_str("\"}");
            }
            None => {
                out.push_str("\",\"bucket\":");
                let child = bucket.listed_bucket(k)?;
                if stack.len() > crate::limits::MAX_DEPTH {
                    return Err(Error::corrupted(0, Corruption::NestingTooDeep));
                }
                open_bucket(&child, &mut out);
                stack.push((child, child.iter(), false));
            }
        }
    }
    out.push('\n');
    Ok(out)
}

fn open_bucket(b: &Bucket<'_>, out: &mut String) {
    let _ = write!(out, "{{\"sequence\":{},\"entries\":[", b.sequence());
}
