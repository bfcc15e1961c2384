//! Conditions: what a combined query selects, as a tree of index and primary-key conditions
//! joined by AND and OR.
//!
//! A [`Condition`] is built from the typed index handles (`User::city.eq("Oslo")`) and from
//! [`Condition::key_range`] / [`Condition::key_prefix`], then combined with [`and`], [`or`],
//! [`Condition::and`], [`Condition::or`] or the `&` and `|` operators. It holds the values
//! already encoded in the store's key encoding, so planning and checking compare bytes and never
//! need the value types again; each leaf keeps the text it was written as, for
//! [`crate::Find::explain`] and error messages. Nothing is read until the query runs.

use std::fmt::{self, Debug};
use std::marker::PhantomData;
use std::ops::{BitAnd, BitOr};

use crate::key::{self, EncodedBounds, Key, KeyLike, KeyPrefix, KeyRange};
use crate::record::Record;

/// A condition on records of type `T`, for [`crate::ReadTx::find`].
///
/// Leaves come from the typed index handles the derive generates — [`crate::Index::eq`],
/// [`crate::Index::range`], [`crate::Index::prefix`] and, on `String` indexes,
/// [`crate::Index::starts_with`] — and from the primary key ([`Condition::key_range`],
/// [`Condition::key_prefix`]). Combine them with [`and`] / [`or`] (any number, nested at will),
/// [`Condition::and`] / [`Condition::or`], or `&` / `|`.
///
/// ```
/// # use rivet::{Condition, Record};
/// # use serde::{Deserialize, Serialize};
/// use rivet::query::{and, or};
///
/// #[derive(Record, Serialize, Deserialize, Debug)]
/// struct User {
///     #[key] id: u64,
///     #[index] city: String,
///     #[index] age: u32,
///     #[index] name: String,
/// }
///
/// let adults_in_oslo = and([User::city.eq("Oslo"), User::age.range(18..)]);
/// let ad_or_young = or([User::name.starts_with("Ad"), User::age.range(..18)]);
/// let both = adults_in_oslo.and(ad_or_young) & Condition::key_range(1..1000);
/// assert_eq!(
///     both.to_string(),
///     r#"city = "Oslo" and age in 18.. and (name starts with "Ad" or age in ..18) and key in 1..1000"#
/// );
/// ```
pub struct Condition<T> {
    pub(crate) node: Node,
    _record: PhantomData<fn() -> T>,
}

/// A node of a condition tree (the record type is erased: the bytes are already encoded).
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Index(IndexLeaf),
    /// The primary key is within these bounds.
    Key {
        bounds: EncodedBounds,
        text: String,
    },
    /// Every child holds (no child: every record).
    And(Vec<Node>),
    /// Some child holds (no child: no record).
    Or(Vec<Node>),
}

/// A condition on one index.
#[derive(Debug, Clone)]
pub(crate) struct IndexLeaf {
    /// The index's position in the schema and its name (checked against the schema when the
    /// query runs, as [`crate::ReadTx::index`] does).
    pub position: usize,
    pub name: &'static str,
    pub op: Op,
    /// The condition as written (`city = "Oslo"`).
    pub text: String,
    /// The length of the index key at the front of a non-unique entry (`index key ++ primary
    /// key`), or `None` if the entry is malformed.
    pub split: fn(&[u8]) -> Option<usize>,
}

/// What an index condition asks of the index key.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Equal to this encoded index key.
    Eq(Vec<u8>),
    /// Within these bounds (a range, a prefix of a composite key, a text prefix).
    Range(EncodedBounds),
}

/// How long the encoded `K` at the front of `entry` is.
fn split_key<K: Key>(entry: &[u8]) -> Option<usize> {
    let mut rest = entry;
    K::decode_key(&mut rest).ok()?;
    Some(entry.len() - rest.len())
}

impl<T> Condition<T> {
    fn from_node(node: Node) -> Self {
        Condition { node, _record: PhantomData }
    }

    fn index<K: Key>(position: usize, name: &'static str, op: Op, text: String) -> Self {
        Condition::from_node(Node::Index(IndexLeaf { position, name, op, text, split: split_key::<K> }))
    }

    /// `index = value` (the body of [`crate::Index::eq`]).
    pub(crate) fn index_eq<K: Key>(position: usize, name: &'static str, value: impl KeyLike<K> + Debug) -> Self {
        let mut v = Vec::new();
        value.encode_like(&mut v);
        Condition::index::<K>(position, name, Op::Eq(v), format!("{name} = {value:?}"))
    }

    /// `index in range` (the body of [`crate::Index::range`]).
    pub(crate) fn index_range<K: Key>(position: usize, name: &'static str, range: impl KeyRange<K> + Debug) -> Self {
        Condition::index::<K>(position, name, Op::Range(range.encode_bounds()), format!("{name} in {range:?}"))
    }

    /// `index has prefix p` (the body of [`crate::Index::prefix`]).
    pub(crate) fn index_prefix<K: Key>(position: usize, name: &'static str, prefix: impl KeyPrefix<K> + Debug) -> Self {
        let bounds = key::prefix_bounds(&prefix);
        Condition::index::<K>(position, name, Op::Range(bounds), format!("{name} has prefix {prefix:?}"))
    }

    /// `index starts with text`, on a `String` index (the body of
    /// [`crate::Index::starts_with`]). A string's encoding is its bytes with `0x00` escaped, then
    /// a terminator; the escaped bytes of `text` without the terminator are a prefix of the
    /// encoding of exactly the strings that start with `text` (escapes are whole tokens).
    pub(crate) fn index_starts_with(position: usize, name: &'static str, text: &str) -> Self {
        let mut p = Vec::new();
        key::encode_escaped(text.as_bytes(), &mut p);
        p.truncate(p.len().saturating_sub(2));
        let bounds = key::raw_prefix_bounds(p);
        Condition::index::<String>(position, name, Op::Range(bounds), format!("{name} starts with {text:?}"))
    }

    /// Records matching both conditions.
    pub fn and(self, other: Condition<T>) -> Condition<T> {
        and([self, other])
    }

    /// Records matching either condition (or both).
    pub fn or(self, other: Condition<T>) -> Condition<T> {
        or([self, other])
    }
}

impl<T: Record> Condition<T> {
    /// Records whose primary key is in `range` (`a..b`, `a..=b`, `a..`, `..b`, `..`, a pair of
    /// `Bound`s; endpoints may be prefixes of a composite key, as in [`crate::ReadTx::range`]).
    /// Under an AND it bounds every other condition's walk: each seeks to the range's start
    /// and stops at its end. `Condition::key_range(..)` selects every record.
    pub fn key_range(range: impl KeyRange<T::Key> + Debug) -> Condition<T> {
        Condition::from_node(Node::Key { bounds: range.encode_bounds(), text: format!("key in {range:?}") })
    }

    /// Records whose composite primary key starts with `prefix` (a tuple of leading key fields,
    /// as in [`crate::ReadTx::prefix`]).
    pub fn key_prefix(prefix: impl KeyPrefix<T::Key> + Debug) -> Condition<T> {
        let bounds = key::prefix_bounds(&prefix);
        Condition::from_node(Node::Key { bounds, text: format!("key has prefix {prefix:?}") })
    }
}

/// Records matching every condition (an empty list matches every record). Nested ANDs are
/// flattened.
///
/// ```
/// # use rivet::Record;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Record, Serialize, Deserialize, Debug)]
/// # struct User { #[key] id: u64, #[index] city: String, #[index] age: u32 }
/// let c = rivet::query::and([User::city.eq("Oslo"), User::age.eq(30)]);
/// assert_eq!(c.to_string(), r#"city = "Oslo" and age = 30"#);
/// ```
pub fn and<T>(conditions: impl IntoIterator<Item = Condition<T>>) -> Condition<T> {
    join(conditions, true)
}

/// Records matching at least one condition (an empty list matches none). Nested ORs are
/// flattened.
///
/// ```
/// # use rivet::Record;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Record, Serialize, Deserialize, Debug)]
/// # struct User { #[key] id: u64, #[index] city: String }
/// let cities = ["Oslo", "Bergen", "Tromsø"];
/// let c = rivet::query::or(cities.iter().map(|c| User::city.eq(*c)));
/// assert_eq!(c.to_string(), r#"city = "Oslo" or city = "Bergen" or city = "Tromsø""#);
/// ```
pub fn or<T>(conditions: impl IntoIterator<Item = Condition<T>>) -> Condition<T> {
    join(conditions, false)
}

fn join<T>(conditions: impl IntoIterator<Item = Condition<T>>, all: bool) -> Condition<T> {
    let mut parts = Vec::new();
    for c in conditions {
        match c.node {
            Node::And(children) if all => parts.extend(children),
            Node::Or(children) if !all => parts.extend(children),
            other => parts.push(other),
        }
    }
    if parts.len() == 1 {
        if let Some(only) = parts.pop() {
            return Condition::from_node(only);
        }
    }
    Condition::from_node(if all { Node::And(parts) } else { Node::Or(parts) })
}

impl<T> BitAnd for Condition<T> {
    type Output = Condition<T>;
    /// `a & b` is `a.and(b)`.
    fn bitand(self, other: Condition<T>) -> Condition<T> {
        self.and(other)
    }
}

impl<T> BitOr for Condition<T> {
    type Output = Condition<T>;
    /// `a | b` is `a.or(b)`.
    fn bitor(self, other: Condition<T>) -> Condition<T> {
        self.or(other)
    }
}

impl<T> Clone for Condition<T> {
    fn clone(&self) -> Self {
        Condition::from_node(self.node.clone())
    }
}

impl Node {
    /// Writes the condition as text; `nested` puts parentheses around a combination.
    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>, nested: bool) -> fmt::Result {
        let (children, word, empty) = match self {
            Node::Index(leaf) => return f.write_str(&leaf.text),
            Node::Key { text, .. } => return f.write_str(text),
            Node::And(c) => (c, " and ", "every record"),
            Node::Or(c) => (c, " or ", "no record"),
        };
        if children.is_empty() {
            return f.write_str(empty);
        }
        if nested {
            f.write_str("(")?;
        }
        for (i, c) in children.iter().enumerate() {
            if i > 0 {
                f.write_str(word)?;
            }
            c.write(f, true)?;
        }
        if nested {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// The condition as it was written: `city = "Oslo" and (age in 18..30 or name starts with "Ad")`.
impl<T> fmt::Display for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.node.write(f, false)
    }
}

impl<T> fmt::Debug for Condition<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Condition(")?;
        self.node.write(f, false)?;
        f.write_str(")")
    }
}
