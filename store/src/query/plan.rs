//! Planning: turning a [`Condition`](super::Condition) tree into a tree of primary-key-ordered
//! streams, with residual checks where a condition cannot be streamed in key order.
//!
//! Results come in primary-key order, and the cheap way to combine index conditions in that
//! order is to merge streams that are already in it. So the planner asks of each condition:
//! can it yield its primary keys in key order without reading much first?
//!
//! - **Equality on a non-unique index**: yes, for free. Its entries are `value ++ key`, so the
//!   entries of one value sort by primary key: a [`Walk`] over them is a stream.
//! - **Equality on a unique index**: a probe, one point lookup, at most one key ([`Sorted`]).
//! - **Primary-key range or prefix**: under an AND it becomes bounds on every other stream of
//!   that AND (each seeks to the range's start and stops at its end); elsewhere it is a walk of
//!   the record keys in the range.
//! - **Range or prefix of an index**: its entries are in index order, not key order. The
//!   planner reads at most `sort_budget` of them (default [`SORT_BUDGET`]): if the range ends
//!   within that, its keys are sorted and it is a stream like the others (and a cheap
//!   membership check). A larger range is not read at all beyond that: it becomes a *check*
//!   on each candidate, which decodes the candidate and compares its index key. The budget
//!   bounds the memory a query takes and the reading it does before its first result.
//! - **AND**: the primary-key conditions become bounds; the children that are streams are
//!   intersected by leapfrog ([`Intersect`]), and the children that are checks run on each key
//!   the streams agree on. An AND with no stream of its own is a check.
//! - **OR**: if every child is a stream, a k-way merge ([`Union`]); otherwise the whole OR is a
//!   check (every child evaluated per candidate, cheapest first).
//!
//! If the whole condition is a check, the driver is a walk of the record keys (within the
//! primary-key bounds and `after`) with the check on each: a full scan, which is what the
//! query asks for when nothing narrows it.

use std::cmp::Ordering;
use std::ops::Bound;

use crate::backend::Tree;

use crate::error::{hex, Error, Mismatch, Result};
use crate::evolve::Resolved;
use crate::key::EncodedBounds;
use crate::record::{IndexSchema, Schema};
use crate::scan::{before_end, tighter};

use super::check::{bound_ref, in_bounds, unbounded, Check};
use super::cond::{IndexLeaf, Node, Op};
use super::merge::{Intersect, Sorted, Stream, Union};
use super::walk::Walk;

/// The default of [`crate::Find::sort_budget`]: how many entries of an index range the planner
/// reads to sort them by primary key.
pub const SORT_BUDGET: usize = 16_384;

/// A planned condition: a primary-key-ordered stream, or a check on candidates.
enum Planned<'a> {
    Stream(Stream<'a>),
    Check(Check<'a>),
}

/// The intersection of two bounds.
fn intersect(a: &EncodedBounds, b: &EncodedBounds) -> EncodedBounds {
    let lo = tighter(bound_ref(&a.0), bound_ref(&b.0), Ordering::Greater).map(<[u8]>::to_vec);
    let hi = tighter(bound_ref(&a.1), bound_ref(&b.1), Ordering::Less).map(<[u8]>::to_vec);
    (lo, hi)
}

/// Plans the streams of one query.
pub(crate) struct Planner<'a> {
    pub records: Tree<'a>,
    pub schema: &'static Schema,
    pub resolved: &'static Resolved,
    pub reverse: bool,
    pub sort_budget: usize,
}

impl<'a> Planner<'a> {
    /// The stream that drives the query: the plan of `root` within `bounds`, or, if `root` is
    /// only a check, a walk of the record keys with the check on each.
    pub(crate) fn driver(&self, root: &Node, bounds: EncodedBounds) -> Result<Stream<'a>> {
        Ok(match self.plan(root, &bounds)? {
            Planned::Stream(s) => s,
            Planned::Check(c) => {
                let walk = self.key_walk(bounds, "walk every record in key order".into());
                Stream::Intersect(Intersect::new(vec![walk], Some(c), Vec::new(), self.reverse))
            }
        })
    }

    fn plan(&self, node: &Node, bounds: &EncodedBounds) -> Result<Planned<'a>> {
        match node {
            Node::Index(leaf) => self.index(leaf, bounds),
            Node::Key { bounds: kb, text } => {
                Ok(Planned::Stream(self.key_walk(intersect(bounds, kb), format!("walk the records with {text}"))))
            }
            Node::And(children) => self.and(children, bounds),
            Node::Or(children) => self.or(children, bounds),
        }
    }

    fn key_walk(&self, bounds: EncodedBounds, text: String) -> Stream<'a> {
        Stream::Walk(Box::new(Walk::new(self.records, Vec::new(), bounds, None, text, self.reverse)))
    }

    fn and(&self, children: &[Node], bounds: &EncodedBounds) -> Result<Planned<'a>> {
        let mut b = bounds.clone();
        let mut keys = Vec::new();
        for c in children {
            if let Node::Key { bounds: kb, text } = c {
                b = intersect(&b, kb);
                keys.push(text.clone());
            }
        }
        let mut streams = Vec::new();
        let mut checks = Vec::new();
        for c in children.iter().filter(|c| !matches!(c, Node::Key { .. })) {
            match self.plan(c, &b)? {
                Planned::Stream(s) => streams.push(s),
                Planned::Check(c) => checks.push(c),
            }
        }
        if streams.is_empty() {
            if keys.is_empty() {
                if checks.is_empty() {
                    return Ok(Planned::Stream(self.key_walk(b, "walk every record in key order".into())));
                }
                return Ok(Planned::Check(Check::join(checks, true)));
            }
            streams.push(self.key_walk(b, format!("walk the records with {}", keys.join(" and "))));
            keys.clear();
        }
        streams.sort_by_key(rank);
        let residual = (!checks.is_empty()).then(|| Check::join(checks, true));
        if streams.len() == 1 && residual.is_none() && keys.is_empty() {
            if let Some(s) = streams.pop() {
                return Ok(Planned::Stream(s));
            }
        }
        Ok(Planned::Stream(Stream::Intersect(Intersect::new(streams, residual, keys, self.reverse))))
    }

    fn or(&self, children: &[Node], bounds: &EncodedBounds) -> Result<Planned<'a>> {
        let planned = children.iter().map(|c| self.plan(c, bounds)).collect::<Result<Vec<_>>>()?;
        if planned.iter().all(|p| matches!(p, Planned::Stream(_))) {
            let mut streams: Vec<Stream<'a>> = planned
                .into_iter()
                .filter_map(|p| match p {
                    Planned::Stream(s) => Some(s),
                    Planned::Check(_) => None,
                })
                .collect();
            return Ok(Planned::Stream(match streams.len() {
                0 => Stream::Sorted(Sorted::new(Vec::new(), "", "no record (an empty OR)".into(), self.reverse)),
                1 => match streams.pop() {
                    Some(s) => s,
                    None => return Err(internal("a one-stream OR lost its stream")),
                },
                _ => Stream::Union(Union::new(streams, self.reverse)),
            }));
        }
        let checks = planned
            .into_iter()
            .map(|p| match p {
                Planned::Stream(s) => into_check(s, bounds),
                Planned::Check(c) => c,
            })
            .collect();
        Ok(Planned::Check(Check::join(checks, false)))
    }

    /// The bucket and schema of the index a leaf names, checked as [`crate::ReadTx::index`]
    /// checks them.
    fn open(&self, leaf: &IndexLeaf) -> Result<(Tree<'a>, &'static IndexSchema)> {
        let schema = self.schema;
        let Some(is) = schema.indexes.get(leaf.position).filter(|i| i.name == leaf.name) else {
            return Err(Error::SchemaMismatch {
                bucket: schema.bucket.into(),
                reason: Mismatch::NoIndex { type_name: schema.type_name.into(), index: leaf.name.into() },
            });
        };
        if !self.resolved.is_built(leaf.position) {
            return Err(Error::IndexNotBuilt { bucket: schema.bucket.into(), index: is.name.into() });
        }
        match self.records.child(&is.bucket)? {
            Some(b) => Ok((b, is)),
            None => Err(self.inconsistent(is.name, "the index bucket is missing".into())),
        }
    }

    fn inconsistent(&self, index: &str, reason: String) -> Error {
        Error::Inconsistent { bucket: self.schema.bucket.into(), index: index.into(), reason }
    }

    fn index(&self, leaf: &IndexLeaf, bounds: &EncodedBounds) -> Result<Planned<'a>> {
        let (ib, is) = self.open(leaf)?;
        let text = &leaf.text;
        match &leaf.op {
            Op::Eq(v) if is.unique => {
                let keys: Vec<&'a [u8]> = ib.get(v)?.filter(|pk| in_bounds(pk, bounds)).into_iter().collect();
                let text = format!("probe unique index {text}: one lookup, {} key", keys.len());
                Ok(Planned::Stream(Stream::Sorted(Sorted::new(keys, leaf.name, text, self.reverse))))
            }
            Op::Eq(v) => {
                let walk = Walk::new(ib, v.clone(), bounds.clone(), Some(leaf.name), text.clone(), self.reverse);
                Ok(Planned::Stream(Stream::Walk(Box::new(walk))))
            }
            Op::Range(rb) => self.range(leaf, ib, is.unique, rb, bounds),
        }
    }

    /// A range or prefix of an index: its keys sorted, if it has at most `sort_budget`
    /// entries; else a check that decodes each candidate.
    fn range(
        &self,
        leaf: &IndexLeaf,
        ib: Tree<'a>,
        unique: bool,
        rb: &EncodedBounds,
        bounds: &EncodedBounds,
    ) -> Result<Planned<'a>> {
        let mut c = ib.scan();
        let mut item = match bound_ref(&rb.0) {
            Bound::Unbounded => c.first(),
            Bound::Included(l) | Bound::Excluded(l) => c.seek(l),
        };
        let mut keys = Vec::new();
        let mut read = 0usize;
        while let Some((k, v)) = item? {
            if !before_end(k, bound_ref(&rb.1), false) {
                break;
            }
            if before_end(k, bound_ref(&rb.0), true) {
                read += 1;
                if read > self.sort_budget {
                    let text = format!("index {} (more than {} entries to sort)", leaf.text, self.sort_budget);
                    return Ok(Planned::Check(Check::Decoded { position: leaf.position, bounds: rb.clone(), text }));
                }
                let pk = if unique {
                    v
                } else {
                    let n = (leaf.split)(k)
                        .ok_or_else(|| self.inconsistent(leaf.name, format!("entry {} is malformed", hex(k))))?;
                    k.get(n..).unwrap_or_default()
                };
                if in_bounds(pk, bounds) {
                    keys.push(pk);
                }
            }
            item = c.next();
        }
        keys.sort_unstable();
        let text = format!("index {}: {read} entries read, {} keys sorted", leaf.text, keys.len());
        Ok(Planned::Stream(Stream::Sorted(Sorted::new(keys, leaf.name, text, self.reverse))))
    }
}

/// Which stream of an intersection leads: the fewest known keys first, then index entries,
/// merges, and a walk of the records last.
fn rank(s: &Stream<'_>) -> (u8, usize) {
    match s {
        Stream::Sorted(s) => (0, s.keys.len()),
        Stream::Walk(w) if w.index.is_some() => (1, 0),
        Stream::Intersect(_) => (2, 0),
        Stream::Union(_) => (3, 0),
        Stream::Walk(_) => (4, 0),
    }
}

/// The same condition as a check on one candidate (for an OR that cannot be merged). The
/// check only ever sees candidates within `outer` (the bounds `s` was planned in), so bounds
/// equal to those need no comparison.
fn into_check<'a>(s: Stream<'a>, outer: &EncodedBounds) -> Check<'a> {
    match s {
        Stream::Walk(w) => {
            let mut parts = Vec::new();
            if !unbounded(&w.bounds) && w.bounds != *outer {
                parts.push(Check::Bounds { bounds: w.bounds, text: "primary key within its bounds".into() });
            }
            if w.index.is_some() {
                let text = format!("index {}", w.text);
                parts.push(Check::Entry { index: w.bucket, value: w.prefix, text });
            }
            match parts.len() {
                1 => parts.pop().unwrap_or(Check::And(Vec::new())),
                _ => Check::join(parts, true),
            }
        }
        Stream::Sorted(s) => Check::Member { keys: s.keys, text: s.text },
        Stream::Union(u) => Check::join(u.streams.into_iter().map(|s| into_check(s, outer)).collect(), false),
        Stream::Intersect(i) => {
            let mut parts: Vec<Check<'a>> = i.streams.into_iter().map(|s| into_check(s, outer)).collect();
            parts.extend(i.residual);
            Check::join(parts, true)
        }
    }
}

fn internal(what: &str) -> Error {
    Error::Inconsistent { bucket: String::new(), index: String::new(), reason: format!("internal: {what}") }
}

/// The names of the indexes whose entries feed `s` (for [`Error::Inconsistent`]).
pub(crate) fn sources(s: &Stream<'_>, out: &mut Vec<&'static str>) {
    let mut add = |name: &'static str| {
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    };
    match s {
        Stream::Walk(w) => {
            if let Some(name) = w.index {
                add(name);
            }
        }
        Stream::Sorted(s) => add(s.index),
        Stream::Union(u) => u.streams.iter().for_each(|s| sources(s, out)),
        Stream::Intersect(i) => i.streams.iter().for_each(|s| sources(s, out)),
    }
}

/// Whether running `s` may decode records (a check on an index range).
pub(crate) fn decodes(s: &Stream<'_>) -> bool {
    match s {
        Stream::Walk(_) | Stream::Sorted(_) => false,
        Stream::Union(u) => u.streams.iter().any(decodes),
        Stream::Intersect(i) => i.residual.as_ref().is_some_and(Check::decodes) || i.streams.iter().any(decodes),
    }
}

/// Writes the plan as indented lines (for `explain`).
pub(crate) fn describe(s: &Stream<'_>, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    match s {
        Stream::Walk(w) if w.index.is_some() => {
            out.push_str(&format!("{pad}entries of index {}, in key order\n", w.text))
        }
        Stream::Walk(w) => out.push_str(&format!("{pad}{}\n", w.text)),
        Stream::Sorted(s) => out.push_str(&format!("{pad}{}\n", s.text)),
        Stream::Union(u) => {
            out.push_str(&format!(
                "{pad}union: k-way merge of {} key-ordered streams, each key once\n",
                u.streams.len()
            ));
            u.streams.iter().for_each(|s| describe(s, depth + 1, out));
        }
        Stream::Intersect(i) => {
            if i.streams.len() > 1 {
                out.push_str(&format!(
                    "{pad}intersection: leapfrog over {} key-ordered streams (the lagging one seeks to the leader's key)\n",
                    i.streams.len()
                ));
            } else {
                out.push_str(&format!("{pad}candidates in key order:\n"));
            }
            if !i.keys.is_empty() {
                out.push_str(&format!(
                    "{pad}  bounded by {}: each stream seeks to its start and stops at its end\n",
                    i.keys.join(" and ")
                ));
            }
            i.streams.iter().for_each(|s| describe(s, depth + 1, out));
            if let Some(c) = &i.residual {
                out.push_str(&format!("{pad}  then check each candidate:\n"));
                c.describe(depth + 2, out);
            }
        }
    }
}
