//! Model test of combined queries: random records (up to 300, with indexed fields of small
//! domains, a unique index and a composite one) and random query trees (AND / OR nested up to
//! three levels, over equalities, ranges, prefixes, text prefixes and primary-key ranges), with
//! random `rev`, `limit`, `after`, filters and sort budgets (so that index ranges are sometimes
//! sorted and sometimes checked per candidate). Every query must return exactly what a brute
//! force filter of the model returns, in order; `keys` and `count` must agree with it.
//!
//! Half the cases query inside the write transaction that inserted the records (the engine's
//! merged cursors over uncommitted changes), half in a read transaction after the commit.
//!
//! `RIVET_QUERY_CASES=N` sets the number of cases (default 256).

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rivet::query::{and, or};
use rivet::{Condition, Options, ReadTx, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "items", index(name = "by_a_b", fields(a, b)))]
struct Item {
    #[key]
    id: u16,
    #[index]
    a: u8,
    #[index]
    b: i8,
    #[index]
    tag: String,
    #[index(unique)]
    code: u32,
}

const TAGS: [&str; 7] = ["", "a", "ab", "abc", "b", "ba", "a\0"];
const IDS: u16 = 600;

/// The unique code of record `id` (injective on `0..IDS`: 4201 is a prime above it).
fn code_of(id: u16) -> u32 {
    u32::from(id) * 37 % 4201
}

fn item(id: u16, (a, b, tag): (u8, i8, usize)) -> Item {
    Item { id, a, b, tag: TAGS[tag].into(), code: code_of(id) }
}

type Range<T> = (Bound<T>, Bound<T>);

#[derive(Debug, Clone)]
enum Leaf {
    AEq(u8),
    ARange(Range<u8>),
    BEq(i8),
    BRange(Range<i8>),
    TagEq(usize),
    TagStarts(&'static str),
    /// The code of record `id` (which may not exist).
    CodeEq(u16),
    CodeRange(Range<u32>),
    AbEq(u8, i8),
    AbPrefix(u8),
    Key(Range<u16>),
}

#[derive(Debug, Clone)]
enum Q {
    Leaf(Leaf),
    And(Vec<Q>),
    Or(Vec<Q>),
}

impl Leaf {
    fn condition(&self) -> Condition<Item> {
        match self.clone() {
            Leaf::AEq(v) => Item::a.eq(v),
            Leaf::ARange(r) => Item::a.range(r),
            Leaf::BEq(v) => Item::b.eq(v),
            Leaf::BRange(r) => Item::b.range(r),
            Leaf::TagEq(t) => Item::tag.eq(TAGS[t]),
            Leaf::TagStarts(p) => Item::tag.starts_with(p),
            Leaf::CodeEq(id) => Item::code.eq(code_of(id)),
            Leaf::CodeRange(r) => Item::code.range(r),
            Leaf::AbEq(a, b) => Item::by_a_b.eq((a, b)),
            Leaf::AbPrefix(a) => Item::by_a_b.prefix((a,)),
            Leaf::Key(r) => Condition::key_range(r),
        }
    }

    fn holds(&self, it: &Item) -> bool {
        match self {
            Leaf::AEq(v) => it.a == *v,
            Leaf::ARange(r) => r.contains(&it.a),
            Leaf::BEq(v) => it.b == *v,
            Leaf::BRange(r) => r.contains(&it.b),
            Leaf::TagEq(t) => it.tag == TAGS[*t],
            Leaf::TagStarts(p) => it.tag.starts_with(p),
            Leaf::CodeEq(id) => it.code == code_of(*id),
            Leaf::CodeRange(r) => r.contains(&it.code),
            Leaf::AbEq(a, b) => it.a == *a && it.b == *b,
            Leaf::AbPrefix(a) => it.a == *a,
            Leaf::Key(r) => r.contains(&it.id),
        }
    }
}

impl Q {
    fn condition(&self) -> Condition<Item> {
        match self {
            Q::Leaf(l) => l.condition(),
            Q::And(c) => and(c.iter().map(Q::condition)),
            Q::Or(c) => or(c.iter().map(Q::condition)),
        }
    }

    fn holds(&self, it: &Item) -> bool {
        match self {
            Q::Leaf(l) => l.holds(it),
            Q::And(c) => c.iter().all(|q| q.holds(it)),
            Q::Or(c) => c.iter().any(|q| q.holds(it)),
        }
    }
}

#[derive(Debug, Clone)]
struct Query {
    q: Q,
    rev: bool,
    limit: Option<usize>,
    after: Option<u16>,
    /// Keep records whose `id % m == r`.
    filter: Option<(u16, u16)>,
    budget: usize,
}

fn bounds<T: std::fmt::Debug + Clone + 'static>(
    x: impl Strategy<Value = T> + Clone,
) -> impl Strategy<Value = Range<T>> {
    let one = move || {
        prop_oneof![Just(Bound::Unbounded), x.clone().prop_map(Bound::Included), x.clone().prop_map(Bound::Excluded)]
    };
    (one(), one())
}

fn leaf() -> impl Strategy<Value = Leaf> {
    prop_oneof![
        3 => (0u8..6).prop_map(Leaf::AEq),
        2 => bounds(0u8..6).prop_map(Leaf::ARange),
        3 => (-3i8..=3).prop_map(Leaf::BEq),
        2 => bounds(-3i8..=3).prop_map(Leaf::BRange),
        2 => (0..TAGS.len()).prop_map(Leaf::TagEq),
        2 => prop::sample::select(vec!["", "a", "ab", "b", "c", "a\0"]).prop_map(Leaf::TagStarts),
        2 => (0..IDS).prop_map(Leaf::CodeEq),
        1 => bounds(0u32..4300).prop_map(Leaf::CodeRange),
        1 => ((0u8..6), (-3i8..=3)).prop_map(|(a, b)| Leaf::AbEq(a, b)),
        1 => (0u8..6).prop_map(Leaf::AbPrefix),
        2 => bounds(0..IDS).prop_map(Leaf::Key),
    ]
}

fn tree() -> impl Strategy<Value = Q> {
    leaf().prop_map(Q::Leaf).prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Q::And),
            prop::collection::vec(inner, 0..4).prop_map(Q::Or),
        ]
    })
}

fn query() -> impl Strategy<Value = Query> {
    (
        tree(),
        any::<bool>(),
        prop::option::weighted(0.3, 0usize..15),
        prop::option::weighted(0.3, 0..IDS),
        prop::option::weighted(0.3, (2u16..5).prop_flat_map(|m| (Just(m), 0..m))),
        prop::sample::select(vec![0usize, 2, 10, rivet::query::SORT_BUDGET]),
    )
        .prop_map(|(q, rev, limit, after, filter, budget)| Query { q, rev, limit, after, filter, budget })
}

/// What the model says `query` returns.
fn expected(model: &BTreeMap<u16, Item>, query: &Query) -> Vec<u16> {
    let mut ids: Vec<u16> = model
        .values()
        .filter(|it| query.q.holds(it))
        .filter(|it| query.filter.is_none_or(|(m, r)| it.id % m == r))
        .map(|it| it.id)
        .collect();
    if query.rev {
        ids.reverse();
    }
    if let Some(a) = query.after {
        ids.retain(|id| if query.rev { *id < a } else { *id > a });
    }
    if let Some(n) = query.limit {
        ids.truncate(n);
    }
    ids
}

fn check(tx: &ReadTx<'_>, model: &BTreeMap<u16, Item>, query: &Query) -> Result<(), TestCaseError> {
    let want = expected(model, query);
    let build = || {
        let mut f = tx.find(query.q.condition()).sort_budget(query.budget);
        if query.rev {
            f = f.rev();
        }
        if let Some(n) = query.limit {
            f = f.limit(n);
        }
        if let Some(a) = query.after {
            f = f.after(a);
        }
        if let Some((m, r)) = query.filter {
            f = f.filter(move |it: &Item| it.id % m == r);
        }
        f
    };
    let plan = build().explain().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let records = build().to_vec().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let got: Vec<u16> = records.iter().map(|it| it.id).collect();
    prop_assert_eq!(&got, &want, "records; condition {}; plan:\n{}", query.q.condition(), plan);
    for it in &records {
        prop_assert_eq!(Some(it), model.get(&it.id));
    }
    let keys = build().keys().collect::<Result<Vec<u16>, _>>().map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&keys, &want, "keys; plan:\n{}", plan);
    let count = build().count().map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(count, want.len(), "count; plan:\n{}", plan);
    Ok(())
}

#[test]
fn queries_match_a_brute_force_filter_of_the_model() {
    let cases = std::env::var("RIVET_QUERY_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let records = prop::collection::btree_map(0..IDS, (0u8..6, -3i8..=3, 0..TAGS.len()), 0..300);
    let strategy = (records, prop::collection::vec(query(), 1..12), any::<bool>());
    runner
        .run(&strategy, |(fields, queries, in_write)| {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let store = Store::open_with(dir.path().join("model.db"), Options::default().no_sync(true))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let model: BTreeMap<u16, Item> = fields.into_iter().map(|(id, f)| (id, item(id, f))).collect();
            let mut outcome = Ok(());
            store
                .write(|tx| {
                    for it in model.values() {
                        tx.insert(&mut it.clone())?;
                    }
                    if in_write {
                        outcome = queries.iter().try_for_each(|q| check(tx, &model, q));
                    }
                    Ok(())
                })
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            outcome?;
            if !in_write {
                let tx = store.begin_read().map_err(|e| TestCaseError::fail(e.to_string()))?;
                for q in &queries {
                    check(&tx, &model, q)?;
                }
            }
            Ok(())
        })
        .unwrap();
}
