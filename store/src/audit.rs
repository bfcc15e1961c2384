//! Index audits: do a record type's index buckets hold exactly the entries its records call
//! for? One walk serves both [`crate::ReadTx::verify`] (records decoded as the program's type)
//! and `rivet check` (records decoded by the catalog's layouts, see [`crate::stored`]).
//!
//! The audit streams and keeps nothing per record, so it runs in bounded memory on any number
//! of records:
//!
//! 1. For every record and every index, compute the entry the record calls for and look it up
//!    (a unique index maps the value to the record's key; a non-unique one holds the value
//!    followed by the record's key, with an empty value). Entries found are counted.
//! 2. Count each index bucket's entries. If the count equals the entries found in step 1, the
//!    bucket holds exactly the expected entries (the expected entries are distinct: key
//!    encodings are prefix-free). Only otherwise, or if some records could not be indexed here,
//!    walk the bucket again and explain each entry that no record calls for.
//!
//! What the audit finds is a list of [`Problem`]s, each a variant to match on.

use std::fmt;

use std::marker::PhantomData;
use std::ops::Range;

use crate::backend::Tree;

use crate::error::{hex, Result};
use crate::key_kind::KeyFields;
use crate::record::Record;
use crate::txn::ReadTx;

/// One inconsistency between a record type's records and its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A record's key is not a valid key of the type.
    BadRecordKey {
        /// The key, as hex.
        key: String,
    },
    /// A record's value does not decode by its layout (reported by `rivet check`; a typed
    /// [`crate::ReadTx::verify`] returns [`crate::Error::Decode`] instead).
    BadRecord {
        /// The record's key.
        key: String,
        /// What the codec said.
        cause: String,
    },
    /// An index's bucket is missing, or is not a bucket.
    IndexBucket {
        /// The index's name.
        index: String,
        /// What the engine said.
        cause: String,
    },
    /// A record lacks its entry in an index.
    MissingEntry {
        /// The index's name.
        index: String,
        /// The record's key.
        record: String,
        /// The record's index value.
        value: String,
    },
    /// Two records hold one value of a unique index.
    SharedValue {
        /// The index's name.
        index: String,
        /// The value.
        value: String,
        /// The record the index entry names.
        first: String,
        /// The other record holding the value.
        second: String,
    },
    /// A unique index's entry for a value names a record that does not hold it, while another
    /// record does.
    WrongRecord {
        /// The index's name.
        index: String,
        /// The value.
        value: String,
        /// The record the entry names.
        names: String,
        /// The record holding the value.
        holder: String,
    },
    /// An index entry no record calls for.
    StrayEntry {
        /// The index's name.
        index: String,
        /// The entry's value (decoded when the index's kinds are known, else hex).
        entry: String,
        /// What is wrong with it.
        stray: Stray,
    },
    /// An index bucket holds a nested bucket.
    NestedBucket {
        /// The index's name.
        index: String,
        /// The nested bucket's name, as hex.
        key: String,
    },
    /// The record counter (`__rivet_counts`) disagrees with the records.
    Count {
        /// What the counter says.
        stored: u64,
        /// How many records the bucket holds.
        records: u64,
    },
    /// An entry of a non-unique index holds a value (they hold none).
    EntryValue {
        /// The index's name.
        index: String,
        /// The entry's key, as hex.
        entry: String,
    },
}

/// Why an index entry is one no record calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stray {
    /// It names no existing record (or cannot be split into a value and a record key).
    NoRecord,
    /// It names this record, which holds another value.
    OtherValue {
        /// The record's key.
        record: String,
        /// The value the record holds.
        holds: String,
    },
    /// It names this record, which is not in the index (a sparse index's `None`).
    NotIndexed {
        /// The record's key.
        record: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::BadRecordKey { key } => write!(f, "record key {key} is not a valid key"),
            Problem::BadRecord { key, cause } => write!(f, "record {key} does not decode: {cause}"),
            Problem::IndexBucket { index, cause } => write!(f, "index `{index}`: its bucket: {cause}"),
            Problem::MissingEntry { index, record, value } => {
                write!(f, "index `{index}`: the entry of record {record} (value {value}) is missing")
            }
            Problem::SharedValue { index, value, first, second } => {
                write!(f, "unique index `{index}`: records {first} and {second} share the value {value}")
            }
            Problem::WrongRecord { index, value, names, holder } => {
                write!(f, "index `{index}`: entry {value} names {names}, the record holding that value is {holder}")
            }
            Problem::StrayEntry { index, entry, stray } => match stray {
                Stray::NoRecord => write!(f, "index `{index}`: entry {entry} matches no record"),
                Stray::OtherValue { record, holds } => {
                    write!(f, "index `{index}`: entry {entry} names record {record}, which holds {holds}")
                }
                Stray::NotIndexed { record } => {
                    write!(f, "index `{index}`: entry {entry} names record {record}, which is not in the index")
                }
            },
            Problem::Count { stored, records } => {
                write!(f, "the record counter says {stored}, the bucket holds {records} records")
            }
            Problem::NestedBucket { index, key } => write!(f, "index `{index}`: unexpected nested bucket {key}"),
            Problem::EntryValue { index, entry } => {
                write!(f, "index `{index}`: entry {entry} holds a value (entries of a non-unique index hold none)")
            }
        }
    }
}

/// Whether a record is in an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Indexed {
    /// Its entry's index value was appended.
    In,
    /// It is not in the index (a sparse index's `None`).
    Out,
    /// It cannot be told here (the audit of stored layouts, for a record whose index value
    /// only the program can compute).
    Unknown,
}

/// How an audit reads records and computes their index values.
pub(crate) trait Indexer {
    /// A record read.
    type Rec;
    /// Reads the record `key` → `value`, or pushes why it cannot be and returns `None`.
    ///
    /// # Errors
    /// What stops the audit (the typed audit's decode errors).
    fn read(&mut self, key: &[u8], value: &[u8], problems: &mut Vec<Problem>) -> Result<Option<Self::Rec>>;
    /// Appends the values `rec` has in index number `index` to `out` and pushes where each is
    /// to `spans`: distinct, in byte order (several for a multi-valued index). `In` with none
    /// pushed counts as `Out`.
    fn index_values(
        &mut self,
        rec: &Self::Rec,
        index: usize,
        out: &mut Vec<u8>,
        spans: &mut Vec<Range<usize>>,
    ) -> Indexed;
    /// A record key for messages.
    fn describe_key(&self, key: &[u8]) -> String;
}

/// The audit of [`ReadTx::verify`]: records decoded as `T` (upgraded if older), index values
/// computed by `T`.
pub(crate) struct Typed<'t, 'db, T> {
    tx: &'t ReadTx<'db>,
    _t: PhantomData<fn() -> T>,
}

impl<T: Record> Indexer for Typed<'_, '_, T> {
    type Rec = T;

    fn read(&mut self, key: &[u8], value: &[u8], problems: &mut Vec<Problem>) -> Result<Option<T>> {
        if crate::key::decode::<T::Key>(key).is_err() {
            problems.push(Problem::BadRecordKey { key: hex(key) });
        }
        self.tx.decode(key, value).map(Some)
    }

    fn index_values(&mut self, rec: &T, index: usize, out: &mut Vec<u8>, spans: &mut Vec<Range<usize>>) -> Indexed {
        spans.extend(crate::record::index_entries(rec, index, out));
        if spans.is_empty() {
            Indexed::Out
        } else {
            Indexed::In
        }
    }

    fn describe_key(&self, key: &[u8]) -> String {
        crate::txn::describe_key::<T::Key>(key)
    }
}

impl<'t, 'db, T> Typed<'t, 'db, T> {
    pub(crate) fn new(tx: &'t ReadTx<'db>) -> Self {
        Typed { tx, _t: PhantomData }
    }
}

/// One index to audit.
#[derive(Debug)]
pub(crate) struct AuditIndex {
    /// Its number for [`Indexer::index_values`].
    pub position: usize,
    /// Its name.
    pub name: String,
    /// Its nested bucket in the record bucket.
    pub bucket: Vec<u8>,
    /// Whether values are unique.
    pub unique: bool,
    /// Its fields' kinds, when all are known (to split and describe entries).
    pub fields: Option<KeyFields>,
}

impl AuditIndex {
    fn describe(&self, value: &[u8]) -> String {
        match &self.fields {
            Some(f) => f.describe(value),
            None => hex(value),
        }
    }
}

/// Audits the indexes of the records in `records`; returns how many records it read and, per
/// index, how many of them could not be indexed here, and pushes the problems found.
///
/// # Errors
/// Engine errors; what the indexer's `read` returns.
pub(crate) fn audit<I: Indexer>(
    records: &Tree<'_>,
    indexes: &[AuditIndex],
    indexer: &mut I,
    problems: &mut Vec<Problem>,
) -> Result<(u64, Vec<u64>)> {
    let buckets: Vec<Option<Tree<'_>>> = indexes
        .iter()
        .map(|idx| match records.child(&idx.bucket) {
            Ok(Some(b)) => Some(b),
            Ok(None) => {
                problems.push(Problem::IndexBucket { index: idx.name.clone(), cause: "bucket not found".into() });
                None
            }
            Err(e) => {
                problems.push(Problem::IndexBucket { index: idx.name.clone(), cause: e.to_string() });
                None
            }
        })
        .collect();
    let mut found = vec![0u64; indexes.len()];
    let mut unknown = vec![0u64; indexes.len()];
    let (mut entry, mut values, mut spans) = (Vec::new(), Vec::new(), Vec::new());
    let mut read = 0u64;
    // Step 1: every record's entries.
    for item in records.iter() {
        let (k, v) = item?;
        read += 1;
        let Some(rec) = indexer.read(k, v, problems)? else {
            unknown.iter_mut().for_each(|u| *u += 1);
            continue;
        };
        for (i, (idx, bucket)) in indexes.iter().zip(&buckets).enumerate() {
            let Some(bucket) = bucket else { continue };
            values.clear();
            spans.clear();
            match indexer.index_values(&rec, idx.position, &mut values, &mut spans) {
                Indexed::Out => continue,
                Indexed::Unknown => {
                    unknown[i] += 1;
                    continue;
                }
                Indexed::In => {}
            }
            for span in &spans {
                entry.clear();
                entry.extend_from_slice(&values[span.clone()]);
                if idx.unique {
                    match bucket.get(&entry)? {
                        Some(named) if named == k => found[i] += 1,
                        Some(named) => {
                            let value = idx.describe(&entry);
                            let (names, holder) = (indexer.describe_key(named), indexer.describe_key(k));
                            if holds(records, indexer, idx.position, named, &entry)? {
                                problems.push(Problem::SharedValue {
                                    index: idx.name.clone(),
                                    value,
                                    first: names,
                                    second: holder,
                                });
                            } else {
                                problems.push(Problem::WrongRecord { index: idx.name.clone(), value, names, holder });
                            }
                        }
                        None => problems.push(Problem::MissingEntry {
                            index: idx.name.clone(),
                            record: indexer.describe_key(k),
                            value: idx.describe(&entry),
                        }),
                    }
                } else {
                    let value_len = entry.len();
                    entry.extend_from_slice(k);
                    match bucket.get(&entry)? {
                        Some(held) => {
                            found[i] += 1;
                            if !held.is_empty() {
                                problems.push(Problem::EntryValue { index: idx.name.clone(), entry: hex(&entry) });
                            }
                        }
                        None => problems.push(Problem::MissingEntry {
                            index: idx.name.clone(),
                            record: indexer.describe_key(k),
                            value: idx.describe(&entry[..value_len]),
                        }),
                    }
                }
            }
        }
    }
    // Step 2: entries no record called for.
    for (i, (idx, bucket)) in indexes.iter().zip(&buckets).enumerate() {
        let Some(bucket) = bucket else { continue };
        let mut count = 0u64;
        for item in bucket.iter() {
            item?;
            count += 1;
        }
        // Nested buckets in an index are damage too (only raw engine writes make them).
        let nested = bucket.children()?;
        problems.extend(nested.iter().map(|k| Problem::NestedBucket { index: idx.name.clone(), key: hex(k) }));
        if count != found[i] || unknown[i] > 0 {
            explain(records, bucket, idx, indexer, problems)?;
        }
    }
    Ok((read, unknown))
}

/// Whether record `key` (if it exists and reads) has index value `value` in index `i`.
fn holds<I: Indexer>(records: &Tree<'_>, indexer: &mut I, i: usize, key: &[u8], value: &[u8]) -> Result<bool> {
    let Some(v) = records.get(key)? else { return Ok(false) };
    // Problems of the record itself were reported when step 1 read it.
    let mut ignored = Vec::new();
    let Some(rec) = indexer.read(key, v, &mut ignored)? else { return Ok(false) };
    let (mut out, mut spans) = (Vec::new(), Vec::new());
    Ok(indexer.index_values(&rec, i, &mut out, &mut spans) == Indexed::In
        && spans.iter().any(|r| out.get(r.clone()) == Some(value)))
}

/// Walks index `i`'s bucket and reports every entry that no record calls for.
fn explain<I: Indexer>(
    records: &Tree<'_>,
    bucket: &Tree<'_>,
    idx: &AuditIndex,
    indexer: &mut I,
    problems: &mut Vec<Problem>,
) -> Result<()> {
    let mut ignored = Vec::new();
    let (mut computed, mut cspans) = (Vec::new(), Vec::new());
    for item in bucket.iter() {
        let (k, v) = item?;
        // The entry's value part and the record it names.
        let (value, record) = if idx.unique {
            (k, Some(v))
        } else {
            match split_entry(records, idx, k)? {
                Some(at) => (&k[..at], Some(&k[at..])),
                None => (k, None),
            }
        };
        let stray = |stray| Problem::StrayEntry { index: idx.name.clone(), entry: idx.describe(value), stray };
        let Some(record) = record else {
            problems.push(stray(Stray::NoRecord));
            continue;
        };
        let Some(stored) = records.get(record)? else {
            problems.push(stray(Stray::NoRecord));
            continue;
        };
        ignored.clear();
        let Some(rec) = indexer.read(record, stored, &mut ignored)? else { continue };
        computed.clear();
        cspans.clear();
        match indexer.index_values(&rec, idx.position, &mut computed, &mut cspans) {
            Indexed::Unknown => {}
            Indexed::In if cspans.iter().any(|r| computed.get(r.clone()) == Some(value)) => {}
            Indexed::In if !cspans.is_empty() => {
                let held: Vec<String> = cspans.iter().map(|r| idx.describe(&computed[r.clone()])).collect();
                let holds = if held.len() == 1 { held.concat() } else { format!("[{}]", held.join(", ")) };
                problems.push(stray(Stray::OtherValue { record: indexer.describe_key(record), holds }));
            }
            Indexed::In | Indexed::Out => {
                problems.push(stray(Stray::NotIndexed { record: indexer.describe_key(record) }))
            }
        }
    }
    Ok(())
}

/// Where a non-unique entry's record key starts: after the value, when the index's kinds are
/// known; else the first split whose tail is an existing record's key.
fn split_entry(records: &Tree<'_>, idx: &AuditIndex, entry: &[u8]) -> Result<Option<usize>> {
    if let Some(fields) = &idx.fields {
        return Ok(fields.prefix_len(entry).filter(|&at| at < entry.len()));
    }
    for at in 1..entry.len() {
        if records.get(&entry[at..])?.is_some() {
            return Ok(Some(at));
        }
    }
    Ok(None)
}
