//! Index builds: a new (or changed) index filled from the records already stored, in the
//! transaction that registers the type.
//!
//! The records are read once, in key order; each index's entries are gathered in one buffer
//! (no allocation per entry), sorted, checked for unique collisions and written in key order,
//! which is the engine's fastest way in (appends to the rightmost leaf). Sorting compares a
//! 16-byte prefix held beside each entry first, so most comparisons touch no key bytes.

use std::cmp::Ordering;

use crate::backend::{self, Txn};

use crate::catalog::CATALOG_BUCKET;
use crate::error::{Error, Result};
use crate::evolve::Resolved;
use crate::record::Record;

/// One entry in an [`Entries`] buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// The key's first 16 bytes, big-endian, zero-padded (orders like the key, ties aside).
    prefix: u128,
    /// Where the key starts in the buffer; its value follows it.
    start: usize,
    key_len: u32,
    value_len: u32,
}

/// The entries of one index, gathered before they are written.
#[derive(Debug, Default)]
struct Entries {
    data: Vec<u8>,
    spans: Vec<Span>,
}

impl Entries {
    /// Adds the entry whose key is `data[start..]` (already appended) and whose value is `value`.
    fn finish(&mut self, start: usize, value: &[u8]) -> Result<()> {
        let key_len = self.data.len() - start;
        if key_len == 0 || key_len > backend::MAX_KEY_SIZE {
            return Err(backend::key_too_large(key_len));
        }
        let mut head = [0u8; 16];
        let n = key_len.min(16);
        head[..n].copy_from_slice(&self.data[start..start + n]);
        self.data.extend_from_slice(value);
        // Both fit: a key is at most MAX_KEY_SIZE, a value at most a record key.
        self.spans.push(Span {
            prefix: u128::from_be_bytes(head),
            start,
            key_len: key_len as u32,
            value_len: value.len() as u32,
        });
        Ok(())
    }

    fn key(&self, s: &Span) -> &[u8] {
        &self.data[s.start..s.start + s.key_len as usize]
    }

    fn value(&self, s: &Span) -> &[u8] {
        let from = s.start + s.key_len as usize;
        &self.data[from..from + s.value_len as usize]
    }

    fn sort(&mut self) {
        let Entries { data, spans } = self;
        let key = |s: &Span| &data[s.start..s.start + s.key_len as usize];
        spans.sort_unstable_by(|a, b| match a.prefix.cmp(&b.prefix) {
            Ordering::Equal => key(a).cmp(key(b)),
            other => other,
        });
    }
}

/// Builds indexes `positions` of `T` from the records read through `resolved`: from key
/// `from` (encoded; empty: the first) for at most `limit` records. `fresh`: the indexes' buckets
/// are replaced by new ones; else the entries are added to the buckets as they are (a bounded
/// build going on), and a unique index's values are checked against the entries already there.
/// Returns how many records were read and the key of the first one left (`None`: the end was
/// reached).
///
/// # Errors
/// [`Error::UniqueCollision`] if a unique index would hold a value twice; a key over the
/// engine's limit; decode and upgrade errors of the records read; engine errors. The caller
/// aborts the transaction on error: some entries may have been written.
pub(crate) fn build_indexes<T: Record>(
    tx: &mut Txn<'_>,
    resolved: &Resolved,
    positions: &[usize],
    from: &[u8],
    limit: usize,
    fresh: bool,
) -> Result<(usize, Option<Vec<u8>>)> {
    let schema = T::schema();
    let name = schema.bucket.as_bytes();
    // Collected first: the record bucket is read while the index buckets are written.
    let mut all: Vec<Entries> = positions.iter().map(|_| Entries::default()).collect();
    let mut read = 0usize;
    let mut next = None;
    let mut values = Vec::new();
    {
        let b = tx.tree(name)?.ok_or_else(backend::missing_tree)?;
        for item in b.iter_from(Some(from).filter(|f| !f.is_empty())) {
            let (k, v) = item?;
            if read == limit {
                next = Some(k.to_vec());
                break;
            }
            read += 1;
            let record: T = resolved.decode(k, v)?;
            for (entries, &i) in all.iter_mut().zip(positions) {
                let unique = schema.indexes[i].unique;
                if !schema.indexes[i].each {
                    let start = entries.data.len();
                    if !record.encode_index(i, &mut entries.data) {
                        continue;
                    }
                    if unique {
                        entries.finish(start, k)?;
                    } else {
                        entries.data.extend_from_slice(k);
                        entries.finish(start, &[])?;
                    }
                    continue;
                }
                // A multi-valued index: one entry per distinct element.
                values.clear();
                for r in crate::record::index_entries(&record, i, &mut values) {
                    let start = entries.data.len();
                    entries.data.extend_from_slice(&values[r]);
                    if unique {
                        entries.finish(start, k)?;
                    } else {
                        entries.data.extend_from_slice(k);
                        entries.finish(start, &[])?;
                    }
                }
            }
        }
    }
    for (entries, &i) in all.iter_mut().zip(positions) {
        let idx = &schema.indexes[i];
        entries.sort();
        if idx.unique {
            let twice = entries.spans.windows(2).find(|w| entries.key(&w[0]) == entries.key(&w[1]));
            if let Some(w) = twice {
                let (first, second) = (entries.value(&w[0]).to_vec(), entries.value(&w[1]).to_vec());
                return Err(collision::<T>(tx, resolved, i, entries.key(&w[0]), &first, &second));
            }
        }
        let mut b = tx.tree_mut(name)?;
        if fresh {
            b.delete_child(&idx.bucket)?;
        }
        let mut ib = b.ensure_child(&idx.bucket)?;
        for s in &entries.spans {
            let (key, value) = (entries.key(s), entries.value(s));
            if idx.unique && !fresh {
                if let Some(held) = ib.get(key)?.filter(|held| *held != value) {
                    let held = held.to_vec();
                    let key = key.to_vec();
                    return Err(collision::<T>(tx, resolved, i, &key, &held, value));
                }
            }
            ib.put(key, value)?;
        }
        // Free the buffer before the next index's turn.
        *entries = Entries::default();
    }
    Ok((read, next))
}

/// One batch of a bounded build: adds the entries of at most `limit` records to the first index
/// of `T` under way (`resolved` must be registered with [`crate::evolve::Builds::Bounded`])
/// and writes the catalog entry with the build moved on. Returns how many records were read and
/// the new entry's bytes, or `None` if no index is under way.
///
/// # Errors
/// As [`build_indexes`].
pub(crate) fn next_batch<T: Record>(
    tx: &mut Txn<'_>,
    resolved: &Resolved,
    limit: usize,
) -> Result<Option<(usize, Vec<u8>)>> {
    let schema = T::schema();
    let mut building = crate::evolve::building_from::<T>(tx, resolved)?;
    let (Some(old), Some((i, from))) =
        (&resolved.entry, building.iter().enumerate().find_map(|(i, b)| b.clone().map(|b| (i, b))))
    else {
        return Ok(None);
    };
    let (read, next) = build_indexes::<T>(tx, resolved, &[i], &from, limit, false)?;
    building[i] = next;
    let entry = crate::evolve::entry_building(schema, old, resolved.write_layout, &building).render().into_bytes();
    tx.ensure_tree(CATALOG_BUCKET)?.put(schema.bucket.as_bytes(), &entry)?;
    Ok(Some((read, entry)))
}

/// The error for records `first` and `second` holding one value (`entry`) of unique index `i`.
fn collision<T: Record>(
    tx: &Txn<'_>,
    resolved: &Resolved,
    i: usize,
    entry: &[u8],
    first: &[u8],
    second: &[u8],
) -> Error {
    let schema = T::schema();
    let value = tx
        .tree(schema.bucket.as_bytes())
        .ok()
        .flatten()
        .and_then(|b| b.get(first).ok().flatten())
        .and_then(|v| resolved.decode::<T>(first, v).ok())
        .map(|r| r.index_value(i))
        .unwrap_or_else(|| crate::error::hex(entry));
    Error::UniqueCollision {
        bucket: schema.bucket.into(),
        index: schema.indexes[i].name.into(),
        value,
        first: crate::txn::describe_key::<T::Key>(first),
        second: crate::txn::describe_key::<T::Key>(second),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_sort_like_their_keys_whatever_their_prefixes() {
        let keys: Vec<Vec<u8>> = vec![
            b"user0000017@example.com".to_vec(),
            b"user0000017@example.co".to_vec(),
            b"ab".to_vec(),
            b"ab\0".to_vec(),
            b"a".to_vec(),
            vec![0xff; 40],
            b"user0000017@example.com\0".to_vec(),
            b"user0000016@zzz".to_vec(),
        ];
        let mut e = Entries::default();
        for (n, k) in keys.iter().enumerate() {
            let start = e.data.len();
            e.data.extend_from_slice(k);
            e.finish(start, &[n as u8]).unwrap();
        }
        e.sort();
        let got: Vec<(Vec<u8>, Vec<u8>)> = e.spans.iter().map(|s| (e.key(s).to_vec(), e.value(s).to_vec())).collect();
        let mut want: Vec<(Vec<u8>, Vec<u8>)> =
            keys.iter().enumerate().map(|(n, k)| (k.clone(), vec![n as u8])).collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn empty_and_oversized_keys_are_refused() {
        let mut e = Entries::default();
        assert!(e.finish(0, b"v").is_err());
        e.data.extend(std::iter::repeat_n(1u8, backend::MAX_KEY_SIZE + 1));
        assert!(e.finish(0, b"v").is_err());
    }
}
