//! Model-based property test: random sequences of transactions are applied both to the engine
//! and to an in-memory model (a tree of `BTreeMap`s), and everything the engine returns (values,
//! errors, cursor walks, seeks, ranges, sequences) must match the model.
//!
//! - Write transactions mix puts (keys from a tiny alphabet, so overwrites and collisions with
//!   bucket names are frequent; values up to several KB so nodes overflow pages), deletes, bulk
//!   puts and range deletes (so trees get several levels on 1 KiB pages), bucket creation and
//!   deletion at nested paths, `move_bucket`, sequences, deletes through `CursorMut`, and reads of
//!   every kind over the *uncommitted* state (the engine merges pending changes with the tree).
//! - Transactions end in `commit`, `DB::update`, `rollback`, drop, or an `update` whose closure
//!   fails. Only committed ones reach the committed model.
//! - After every transaction a fresh read transaction runs `check()` (no problems allowed),
//!   compares the whole tree with the model, and compares the canonical JSON dump.
//! - A reader held across a write transaction must still see the old state, consistently.
//! - Between transactions the database is sometimes closed and reopened (sometimes also opened
//!   read-only in between, sometimes switching `no_freelist_sync`).
//!
//! `RIVET_MODEL_CASES=N` raises the number of generated cases (default: see `cases()`);
//! `RIVET_SEED=S` replays the run that printed `seed = S`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::{self, Debug};
use std::ops::Bound;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use rivet_engine::{Bucket, BucketMut, Error, Options, Tx, DB};
use rivet_tests::{rust_dump, scratch, Rng};

// ------------------------------------------------------------------------------------------
// The model
// ------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Value(Vec<u8>),
    Bucket(MBucket),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct MBucket {
    seq: u64,
    items: BTreeMap<Vec<u8>, Node>,
}

/// A path of bucket names from the root (empty: the root bucket itself).
type BPath = Vec<Vec<u8>>;

/// An owned cursor item: key and value (`None`: a nested bucket).
type Item = (Vec<u8>, Option<Vec<u8>>);

/// The engine errors the model predicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum E {
    NotFound,
    Exists,
    NameRequired,
    KeyRequired,
    KeyTooLarge(usize),
    InvalidMove,
    Incompatible { found: &'static str, wanted: &'static str },
}

const VALUE_NOT_BUCKET: E = E::Incompatible { found: "value", wanted: "bucket" };
const BUCKET_NOT_VALUE: E = E::Incompatible { found: "bucket", wanted: "value" };

fn kind(e: &Error) -> Option<E> {
    Some(match e {
        Error::BucketNotFound => E::NotFound,
        Error::BucketExists => E::Exists,
        Error::BucketNameRequired => E::NameRequired,
        Error::KeyRequired => E::KeyRequired,
        Error::KeyTooLarge { size } => E::KeyTooLarge(*size),
        Error::InvalidMove(_) => E::InvalidMove,
        Error::IncompatibleValue { found, wanted } => E::Incompatible { found, wanted },
        _ => return None,
    })
}

impl MBucket {
    fn at(&self, path: &[Vec<u8>]) -> Result<&MBucket, E> {
        let mut b = self;
        for name in path {
            b = match b.items.get(name) {
                Some(Node::Bucket(c)) => c,
                Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
                None => return Err(E::NotFound),
            };
        }
        Ok(b)
    }

    fn at_mut(&mut self, path: &[Vec<u8>]) -> Result<&mut MBucket, E> {
        let mut b = self;
        for name in path {
            b = match b.items.get_mut(name) {
                Some(Node::Bucket(c)) => c,
                Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
                None => return Err(E::NotFound),
            };
        }
        Ok(b)
    }

    fn entries(&self) -> Vec<Item> {
        self.items
            .iter()
            .map(|(k, n)| {
                let v = match n {
                    Node::Value(v) => Some(v.clone()),
                    Node::Bucket(_) => None,
                };
                (k.clone(), v)
            })
            .collect()
    }

    /// Every nested bucket path (root excluded), depth first in key order.
    fn paths(&self) -> Vec<BPath> {
        fn walk(b: &MBucket, path: &mut BPath, out: &mut Vec<BPath>) {
            for (k, n) in &b.items {
                if let Node::Bucket(c) = n {
                    path.push(k.clone());
                    out.push(path.clone());
                    walk(c, path, out);
                    path.pop();
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut Vec::new(), &mut out);
        out
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), E> {
        if key.is_empty() {
            return Err(E::KeyRequired);
        }
        if key.len() > rivet_engine::MAX_KEY_SIZE {
            return Err(E::KeyTooLarge(key.len()));
        }
        if let Some(Node::Bucket(_)) = self.items.get(key) {
            return Err(BUCKET_NOT_VALUE);
        }
        self.items.insert(key.to_vec(), Node::Value(value.to_vec()));
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<(), E> {
        match self.items.get(key) {
            Some(Node::Bucket(_)) => Err(BUCKET_NOT_VALUE),
            Some(Node::Value(_)) => {
                self.items.remove(key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Creates (or with `if_missing`, finds) the bucket `name`; returns its sequence.
    fn create(&mut self, name: &[u8], if_missing: bool) -> Result<u64, E> {
        if name.is_empty() {
            return Err(E::NameRequired);
        }
        if name.len() > rivet_engine::MAX_KEY_SIZE {
            return Err(E::KeyTooLarge(name.len()));
        }
        match self.items.get(name) {
            Some(Node::Bucket(b)) if if_missing => Ok(b.seq),
            Some(Node::Bucket(_)) => Err(E::Exists),
            Some(Node::Value(_)) => Err(VALUE_NOT_BUCKET),
            None => {
                self.items.insert(name.to_vec(), Node::Bucket(MBucket::default()));
                Ok(0)
            }
        }
    }

    fn child_mut(&mut self, name: &[u8]) -> &mut MBucket {
        match self.items.get_mut(name) {
            Some(Node::Bucket(b)) => b,
            _ => panic!("model: no bucket {:?}", show(name)),
        }
    }

    fn delete_bucket(&mut self, name: &[u8]) -> Result<(), E> {
        if name.is_empty() {
            return Err(E::NameRequired);
        }
        match self.items.get(name) {
            Some(Node::Bucket(_)) => {
                self.items.remove(name);
                Ok(())
            }
            Some(Node::Value(_)) => Err(VALUE_NOT_BUCKET),
            None => Err(E::NotFound),
        }
    }

    /// `Tx::move_bucket`, with the engine's order of checks.
    fn move_bucket(&mut self, name: &[u8], src: &[Vec<u8>], dst: &[Vec<u8>]) -> Result<(), E> {
        let s = self.at(src)?;
        let d = self.at(dst)?;
        match s.items.get(name) {
            Some(Node::Bucket(_)) => {}
            Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
            None => return Err(E::NotFound),
        }
        if src == dst {
            return Err(E::InvalidMove);
        }
        let mut moved = src.to_vec();
        moved.push(name.to_vec());
        if dst.starts_with(&moved) {
            return Err(E::InvalidMove);
        }
        match d.items.get(name) {
            Some(Node::Bucket(_)) => return Err(E::Exists),
            Some(Node::Value(_)) => return Err(VALUE_NOT_BUCKET),
            None => {}
        }
        let node = self.at_mut(src).expect("checked").items.remove(name).expect("checked");
        self.at_mut(dst).expect("checked").items.insert(name.to_vec(), node);
        Ok(())
    }

    /// The canonical JSON dump (the format of `rivet_engine::dump`), for the root bucket.
    fn json(&self) -> String {
        fn hex(out: &mut String, b: &[u8]) {
            for x in b {
                out.push_str(&format!("{x:02x}"));
            }
        }
        fn bucket(b: &MBucket, out: &mut String) {
            out.push_str(&format!("{{\"sequence\":{},\"entries\":[", b.seq));
            for (i, (k, n)) in b.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"key\":\"");
                hex(out, k);
                match n {
                    Node::Value(v) => {
                        out.push_str("\",\"value\":\"");
                        hex(out, v);
                        out.push_str("\"}");
                    }
                    Node::Bucket(c) => {
                        out.push_str("\",\"bucket\":");
                        bucket(c, out);
                        out.push('}');
                    }
                }
            }
            out.push_str("]}");
        }
        let mut out = String::new();
        bucket(self, &mut out);
        out.push('\n');
        out
    }
}

// ------------------------------------------------------------------------------------------
// Coverage counters (printed at the end, to see that the generated cases do reach things)
// ------------------------------------------------------------------------------------------

mod stats {
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static OPS: AtomicU64 = AtomicU64::new(0);
    pub static OPS_ON_BUCKET: AtomicU64 = AtomicU64::new(0);
    pub static EXPECTED_ERRORS: AtomicU64 = AtomicU64::new(0);
    pub static COMMITS: AtomicU64 = AtomicU64::new(0);
    pub static ROLLBACKS: AtomicU64 = AtomicU64::new(0);
    pub static REOPENS: AtomicU64 = AtomicU64::new(0);
    pub static MAX_PAGES: AtomicU64 = AtomicU64::new(0);
    pub static MAX_KEYS: AtomicU64 = AtomicU64::new(0);
    pub static MAX_DEPTH: AtomicU64 = AtomicU64::new(0);

    pub fn add(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
    pub fn max(c: &AtomicU64, v: u64) {
        c.fetch_max(v, Ordering::Relaxed);
    }
    pub fn report() {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        eprintln!(
            "model coverage: {} ops ({} reached their bucket, {} expected errors), {} commits, \
             {} rollbacks, {} reopens; largest file {} pages, largest bucket {} keys, deepest \
             bucket {} levels",
            g(&OPS),
            g(&OPS_ON_BUCKET),
            g(&EXPECTED_ERRORS),
            g(&COMMITS),
            g(&ROLLBACKS),
            g(&REOPENS),
            g(&MAX_PAGES),
            g(&MAX_KEYS),
            g(&MAX_DEPTH)
        );
    }
}

// ------------------------------------------------------------------------------------------
// Operations and plans
// ------------------------------------------------------------------------------------------

/// A key or bucket name in an operation (a newtype only to print readably).
#[derive(Clone, PartialEq, Eq)]
struct K(Vec<u8>);

impl std::ops::Deref for K {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl AsRef<[u8]> for K {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Debug for K {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", show(&self.0))
    }
}

/// A value, generated compactly and expanded on use.
#[derive(Clone, Copy)]
struct Val {
    len: usize,
    seed: u8,
}

impl Val {
    fn bytes(self) -> Vec<u8> {
        (0..self.len).map(|i| self.seed.wrapping_add((i as u8).wrapping_mul(37)) ^ (i >> 8) as u8).collect()
    }
}

impl Debug for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Val({}, {})", self.len, self.seed)
    }
}

/// How an operation picks its bucket.
#[derive(Clone, Debug)]
enum Sel {
    /// One of the buckets that exist in the model at that moment.
    Pick(Index),
    /// A literal path, which may well not exist.
    Lit(Vec<K>),
}

#[derive(Clone, Debug)]
struct At {
    sel: Sel,
    /// Walk the path one `bucket_mut`/`bucket` call at a time rather than with `bucket_path`.
    chained: bool,
}

impl At {
    /// The path this selector means in the current model state. With `allow_root`, the root
    /// (empty path) is one of the candidates.
    fn resolve(&self, m: &MBucket, allow_root: bool) -> BPath {
        match &self.sel {
            Sel::Lit(p) => p.iter().map(|k| k.0.clone()).collect(),
            Sel::Pick(i) => {
                let mut list = m.paths();
                if allow_root {
                    list.insert(0, Vec::new());
                }
                if list.is_empty() {
                    vec![b"a".to_vec()]
                } else {
                    list.swap_remove(i.index(list.len()))
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Dir {
    Fwd,
    Rev,
    /// `true`: `next`, `false`: `next_back`; then the rest forwards.
    Mixed(Vec<bool>),
}

#[derive(Clone, Debug)]
enum ROp {
    Get {
        at: At,
        key: K,
    },
    Walk {
        at: At,
        forward: bool,
    },
    /// `Cursor::seek`, then `next` (`true`) / `prev` (`false`) steps.
    Seek {
        at: At,
        key: K,
        steps: Vec<bool>,
    },
    Range {
        at: At,
        lo: Bound<K>,
        hi: Bound<K>,
        dir: Dir,
    },
    /// Compare the whole tree.
    Everything,
}

#[derive(Clone, Debug)]
enum WOp {
    Put {
        at: At,
        key: K,
        val: Val,
    },
    /// Put on a key that exists (a value, or a bucket: then an error).
    Overwrite {
        at: At,
        pick: Index,
        val: Val,
    },
    Delete {
        at: At,
        key: K,
    },
    /// Delete a key that exists (a value, or a bucket: then an error).
    DeleteExisting {
        at: At,
        pick: Index,
    },
    /// `count` puts of keys and values drawn from a seeded generator.
    PutMany {
        at: At,
        seed: u64,
        count: usize,
        vmax: usize,
    },
    /// Delete up to `count` values from `from` on.
    DeleteRange {
        at: At,
        from: K,
        count: usize,
    },
    CreateBucket {
        parent: At,
        name: K,
        if_missing: bool,
        /// A put through the handle `create_bucket` returned.
        then_put: Option<(K, Val)>,
    },
    DeleteBucket {
        parent: At,
        name: K,
    },
    /// Delete one of the buckets that exist.
    DeleteSomeBucket {
        pick: Index,
    },
    NextSequence {
        at: At,
    },
    SetSequence {
        at: At,
        value: u64,
    },
    /// A put (or `create_bucket`) with a key of `MAX_KEY_SIZE + over` bytes.
    MaxKey {
        at: At,
        over: i8,
        bucket: bool,
    },
    /// Move one of the buckets that exist.
    MoveSomeBucket {
        pick: Index,
        dst: At,
    },
    /// `BucketMut::set_fill_percent` (changes how the commit splits nodes).
    FillPercent {
        at: At,
        fill: f64,
    },
    MoveBucket {
        src: At,
        name: K,
        dst: At,
    },
    /// Walk a `CursorMut` from `start` (first/last if `None`), deleting every `every`-th item.
    CursorDelete {
        at: At,
        start: Option<K>,
        forward: bool,
        every: usize,
    },
    Read(ROp),
}

#[derive(Clone, Copy, Debug)]
enum End {
    Commit,
    UpdateOk,
    Rollback,
    Drop,
    UpdateErr,
}

#[derive(Clone, Debug)]
struct WritePlan {
    ops: Vec<WOp>,
    end: End,
    /// Hold a read transaction open across this write transaction.
    reader: bool,
}

#[derive(Clone, Debug)]
enum Step {
    Write(WritePlan),
    Read(Vec<ROp>),
    /// Begin a read transaction and keep it open over the following steps.
    HoldReader,
    /// Check and end one of the held read transactions.
    ReleaseReader(Index),
    Reopen {
        no_freelist_sync: bool,
        peek_read_only: bool,
    },
}

#[derive(Clone, Debug)]
struct Plan {
    page_size: Option<u32>,
    no_freelist_sync: bool,
    steps: Vec<Step>,
}

// ------------------------------------------------------------------------------------------
// Strategies
// ------------------------------------------------------------------------------------------

fn letters(alpha: &'static [u8], len: std::ops::RangeInclusive<usize>) -> BoxedStrategy<K> {
    prop::collection::vec(prop::sample::select(alpha), len).prop_map(K).boxed()
}

/// Keys: mostly 1..=3 letters of "abc" (84 possibilities: collisions are frequent).
fn key() -> BoxedStrategy<K> {
    prop_oneof![
        1 => Just(K(Vec::new())),
        60 => letters(b"abc", 1..=3),
        25 => letters(b"abcd", 4..=12),
        10 => letters(b"ab", 13..=40),
        // Keys larger than a page: overflow leaves, and overflow branches once they are
        // separators.
        1 => (500usize..2500, prop::sample::select(&b"abc"[..])).prop_map(|(n, c)| {
            let mut k = vec![b'b'; n];
            k.push(c);
            K(k)
        }),
    ]
    .boxed()
}

/// Bucket names: the same alphabet as keys, so a name often is a key and vice versa.
fn name() -> BoxedStrategy<K> {
    prop_oneof![
        1 => Just(K(Vec::new())),
        30 => letters(b"abc", 1..=2),
        5 => key(),
    ]
    .boxed()
}

fn val() -> BoxedStrategy<Val> {
    prop_oneof![
        4 => Just(0usize),
        88 => 1usize..300,
        8 => 1000usize..9000,
    ]
    .prop_flat_map(|len| any::<u8>().prop_map(move |seed| Val { len, seed }))
    .boxed()
}

fn at() -> BoxedStrategy<At> {
    (
        prop_oneof![
            85 => any::<Index>().prop_map(Sel::Pick),
            15 => prop::collection::vec(name(), 1..=3).prop_map(Sel::Lit),
        ],
        any::<bool>(),
    )
        .prop_map(|(sel, chained)| At { sel, chained })
        .boxed()
}

fn bound() -> BoxedStrategy<Bound<K>> {
    prop_oneof![Just(Bound::Unbounded), key().prop_map(Bound::Included), key().prop_map(Bound::Excluded),].boxed()
}

fn arb_read_op() -> BoxedStrategy<ROp> {
    prop_oneof![
        4 => (at(), key()).prop_map(|(at, key)| ROp::Get { at, key }),
        3 => (at(), any::<bool>()).prop_map(|(at, forward)| ROp::Walk { at, forward }),
        4 => (at(), key(), prop::collection::vec(any::<bool>(), 0..8))
            .prop_map(|(at, key, steps)| ROp::Seek { at, key, steps }),
        4 => (
            at(),
            bound(),
            bound(),
            prop_oneof![
                Just(Dir::Fwd),
                Just(Dir::Rev),
                prop::collection::vec(any::<bool>(), 0..12).prop_map(Dir::Mixed),
            ]
        )
            .prop_map(|(at, lo, hi, dir)| ROp::Range { at, lo, hi, dir }),
        1 => Just(ROp::Everything),
    ]
    .boxed()
}

fn arb_write_op() -> BoxedStrategy<WOp> {
    prop_oneof![
        20 => (at(), key(), val()).prop_map(|(at, key, val)| WOp::Put { at, key, val }),
        7 => (at(), any::<Index>(), val()).prop_map(|(at, pick, val)| WOp::Overwrite { at, pick, val }),
        6 => (at(), key()).prop_map(|(at, key)| WOp::Delete { at, key }),
        7 => (at(), any::<Index>()).prop_map(|(at, pick)| WOp::DeleteExisting { at, pick }),
        3 => (at(), any::<u64>(), prop_oneof![9 => 1usize..200, 1 => 200usize..800], prop_oneof![Just(16usize), Just(300), Just(3000)])
            .prop_map(|(at, seed, count, vmax)| WOp::PutMany { at, seed, count, vmax }),
        2 => (at(), key(), prop_oneof![9 => 1usize..120, 1 => 120usize..600])
            .prop_map(|(at, from, count)| WOp::DeleteRange { at, from, count }),
        9 => (at(), name(), any::<bool>(), prop::option::of((key(), val())))
            .prop_map(|(parent, name, if_missing, then_put)| WOp::CreateBucket {
                parent,
                name,
                if_missing,
                then_put,
            }),
        3 => (at(), name()).prop_map(|(parent, name)| WOp::DeleteBucket { parent, name }),
        2 => any::<Index>().prop_map(|pick| WOp::DeleteSomeBucket { pick }),
        3 => at().prop_map(|at| WOp::NextSequence { at }),
        2 => (at(), prop_oneof![0u64..10, Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()])
            .prop_map(|(at, value)| WOp::SetSequence { at, value }),
        3 => (at(), name(), at()).prop_map(|(src, name, dst)| WOp::MoveBucket { src, name, dst }),
        2 => (any::<Index>(), at()).prop_map(|(pick, dst)| WOp::MoveSomeBucket { pick, dst }),
        1 => (at(), -1i8..=1, any::<bool>()).prop_map(|(at, over, bucket)| WOp::MaxKey { at, over, bucket }),
        1 => (at(), prop_oneof![0.0f64..1.2, Just(1.0)]).prop_map(|(at, fill)| WOp::FillPercent { at, fill }),
        3 => (at(), prop::option::of(key()), any::<bool>(), 1usize..4)
            .prop_map(|(at, start, forward, every)| WOp::CursorDelete { at, start, forward, every }),
        16 => arb_read_op().prop_map(WOp::Read),
    ]
    .boxed()
}

fn step() -> BoxedStrategy<Step> {
    let end = prop_oneof![
        10 => Just(End::Commit),
        4 => Just(End::UpdateOk),
        2 => Just(End::Rollback),
        2 => Just(End::Drop),
        2 => Just(End::UpdateErr),
    ];
    prop_oneof![
        14 => (prop::collection::vec(arb_write_op(), 0..40), end, prop::bool::weighted(0.2))
            .prop_map(|(ops, end, reader)| Step::Write(WritePlan { ops, end, reader })),
        2 => prop::collection::vec(arb_read_op(), 1..10).prop_map(Step::Read),
        1 => Just(Step::HoldReader),
        1 => any::<Index>().prop_map(Step::ReleaseReader),
        2 => (prop::bool::weighted(0.3), prop::bool::weighted(0.3)).prop_map(
            |(no_freelist_sync, peek_read_only)| Step::Reopen {
                no_freelist_sync,
                peek_read_only,
            }
        ),
    ]
    .boxed()
}

fn plan() -> BoxedStrategy<Plan> {
    (
        prop_oneof![6 => Just(Some(1024u32)), 2 => Just(None), 1 => Just(Some(4096)), 1 => Just(Some(512))],
        prop::bool::weighted(0.3),
        prop::collection::vec(step(), 1..24),
    )
        .prop_map(|(page_size, no_freelist_sync, steps)| Plan { page_size, no_freelist_sync, steps })
        .boxed()
}

// ------------------------------------------------------------------------------------------
// Comparison helpers
// ------------------------------------------------------------------------------------------

fn fail(msg: impl Into<String>) -> TestCaseError {
    TestCaseError::fail(msg.into())
}

/// A short printable form of a key.
fn show(k: &[u8]) -> String {
    if k.len() <= 48 {
        String::from_utf8_lossy(k).into_owned()
    } else {
        format!("{}..({} bytes)", String::from_utf8_lossy(&k[..40]), k.len())
    }
}

/// A short printable form of a value (values can be several KB).
fn show_val(v: &[u8]) -> String {
    let h = v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("<{} bytes #{:04x}>", v.len(), h & 0xffff)
}

fn show_item(i: &Option<Item>) -> String {
    match i {
        None => "None".into(),
        Some((k, None)) => format!("({:?}, bucket)", show(k)),
        Some((k, Some(v))) => format!("({:?}, {})", show(k), show_val(v)),
    }
}

fn own(kv: Option<(&[u8], Option<&[u8]>)>) -> Option<Item> {
    kv.map(|(k, v)| (k.to_vec(), v.map(<[u8]>::to_vec)))
}

/// Compares one cursor/iterator result with the model's.
fn same_item(
    got: rivet_engine::Result<Option<rivet_engine::KeyValue<'_>>>,
    want: Option<&Item>,
    ctx: &dyn Fn() -> String,
) -> Result<Option<Item>, TestCaseError> {
    let got = got.map_err(|e| fail(format!("{}: unexpected engine error {e:?}", ctx())))?;
    let got = own(got);
    let want = want.cloned();
    if got != want {
        return Err(fail(format!("{}: engine gives {}, model expects {}", ctx(), show_item(&got), show_item(&want))));
    }
    Ok(got)
}

fn same_items(got: &[Item], want: &[Item], ctx: &dyn Fn() -> String) -> Result<(), TestCaseError> {
    for i in 0..got.len().max(want.len()) {
        let g = got.get(i).cloned();
        let w = want.get(i).cloned();
        if g != w {
            return Err(fail(format!(
                "{}: item {i} of {} (model has {}): engine gives {}, model expects {}",
                ctx(),
                got.len(),
                want.len(),
                show_item(&g),
                show_item(&w)
            )));
        }
    }
    Ok(())
}

/// Compares an engine result with the model's expected result.
fn same<T: PartialEq + Debug>(
    got: Result<T, Error>,
    want: Result<T, E>,
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    match (got, want) {
        (Ok(g), Ok(w)) if g == w => Ok(()),
        (Err(e), Err(w)) if kind(&e) == Some(w) => {
            stats::add(&stats::EXPECTED_ERRORS);
            Ok(())
        }
        (g, w) => Err(fail(format!("{}: engine returned {g:?}, model expects {w:?}", ctx()))),
    }
}

/// Reads a whole bucket (recursively) from the engine, asserting strict key order on the way.
fn read_all(b: Bucket<'_>, path: &mut BPath) -> Result<MBucket, TestCaseError> {
    let mut out = MBucket { seq: b.sequence(), items: BTreeMap::new() };
    let mut last: Option<Vec<u8>> = None;
    for item in b.iter() {
        let (k, v) = item.map_err(|e| fail(format!("iterating {path:?}: {e:?}")))?;
        if let Some(l) = &last {
            if k <= l.as_slice() {
                return Err(fail(format!("bucket {path:?}: key {:?} follows {:?}", show(k), show(l))));
            }
        }
        last = Some(k.to_vec());
        let node = match v {
            Some(v) => {
                let g = b.get(k).map_err(|e| fail(format!("get: {e:?}")))?;
                if g != Some(v) {
                    return Err(fail(format!(
                        "bucket {path:?}: get({:?}) gives {:?}, iteration gave {}",
                        show(k),
                        g.map(show_val),
                        show_val(v)
                    )));
                }
                Node::Value(v.to_vec())
            }
            None => {
                let c = b.bucket(k).map_err(|e| fail(format!("bucket {path:?}/{:?}: {e:?}", show(k))))?;
                if b.get(k).ok() != Some(None) {
                    return Err(fail(format!("bucket {path:?}: get({:?}) of a nested bucket is not None", show(k))));
                }
                path.push(k.to_vec());
                let n = read_all(c, path)?;
                path.pop();
                Node::Bucket(n)
            }
        };
        out.items.insert(k.to_vec(), node);
    }
    Ok(out)
}

/// The first difference between the engine's tree and the model's, if any.
fn diff(got: &MBucket, want: &MBucket, path: &mut BPath) -> Option<String> {
    if got.seq != want.seq {
        return Some(format!("bucket {path:?}: sequence {} but the model has {}", got.seq, want.seq));
    }
    let g: Vec<&Vec<u8>> = got.items.keys().collect();
    let w: Vec<&Vec<u8>> = want.items.keys().collect();
    if g != w {
        let extra: Vec<String> = got.items.keys().filter(|k| !want.items.contains_key(*k)).map(|k| show(k)).collect();
        let missing: Vec<String> = want.items.keys().filter(|k| !got.items.contains_key(*k)).map(|k| show(k)).collect();
        return Some(format!("bucket {path:?}: keys differ: engine has extra {extra:?}, lacks {missing:?}"));
    }
    for (k, gn) in &got.items {
        let wn = &want.items[k];
        match (gn, wn) {
            (Node::Value(a), Node::Value(b)) if a == b => {}
            (Node::Bucket(a), Node::Bucket(b)) => {
                path.push(k.clone());
                let d = diff(a, b, path);
                path.pop();
                if d.is_some() {
                    return d;
                }
            }
            (a, b) => {
                let s = |n: &Node| match n {
                    Node::Value(v) => show_val(v),
                    Node::Bucket(_) => "a bucket".into(),
                };
                return Some(format!("bucket {path:?}: key {:?} holds {} but the model has {}", show(k), s(a), s(b)));
            }
        }
    }
    None
}

/// Compares everything `tx` sees with the model.
fn everything(tx: &Tx<'_>, m: &MBucket, ctx: &str) -> Result<(), TestCaseError> {
    let got = read_all(tx.root(), &mut Vec::new()).map_err(|e| fail(format!("{ctx}: {e}")))?;
    if let Some(d) = diff(&got, m, &mut Vec::new()) {
        return Err(fail(format!("{ctx}: {d}")));
    }
    let mut names = Vec::new();
    tx.for_each_bucket(|k, _| {
        names.push(k.to_vec());
        Ok(())
    })
    .map_err(|e| fail(format!("{ctx}: for_each_bucket: {e:?}")))?;
    let want: Vec<Vec<u8>> = m.items.keys().cloned().collect();
    prop_assert_eq!(names, want, "{}: for_each_bucket", ctx);
    Ok(())
}

/// A fresh read transaction: `check()` finds nothing, and the content equals the model.
fn verify(db: &DB, m: &MBucket, ctx: &str) -> Result<(), TestCaseError> {
    let tx = db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?;
    let problems = tx.check().map_err(|e| fail(format!("{ctx}: check: {e:?}")))?;
    prop_assert!(problems.is_empty(), "{}: check found {:?}", ctx, problems);
    everything(&tx, m, ctx)?;
    let json = rivet_engine::dump::dump_json(&tx).map_err(|e| fail(format!("{ctx}: dump: {e:?}")))?;
    prop_assert!(json == m.json(), "{}: JSON dump differs from the model's", ctx);
    stats::max(&stats::MAX_PAGES, tx.meta().pgid);
    fn sizes(b: &MBucket, depth: u64) {
        stats::max(&stats::MAX_KEYS, b.items.len() as u64);
        stats::max(&stats::MAX_DEPTH, depth);
        for n in b.items.values() {
            if let Node::Bucket(c) = n {
                sizes(c, depth + 1);
            }
        }
    }
    sizes(m, 0);
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Applying operations
// ------------------------------------------------------------------------------------------

/// The read view of the bucket at `path` (the root for an empty path).
fn bucket_at<'t>(tx: &'t Tx<'_>, path: &[Vec<u8>], chained: bool) -> Result<Bucket<'t>, Error> {
    if path.is_empty() {
        return Ok(tx.root());
    }
    if chained {
        let mut b = tx.bucket(&path[0])?;
        for n in &path[1..] {
            b = b.bucket(n)?;
        }
        Ok(b)
    } else {
        let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        tx.bucket_path(&refs)
    }
}

fn descend<R>(b: &mut BucketMut<'_>, rest: &[Vec<u8>], f: impl FnOnce(&mut BucketMut<'_>) -> R) -> Result<R, Error> {
    match rest.split_first() {
        None => Ok(f(b)),
        Some((n, rest)) => {
            let mut c = b.bucket_mut(n)?;
            descend(&mut c, rest, f)
        }
    }
}

/// Runs `f` on the write handle of the (non-root) bucket at `path`.
fn with_mut<R>(
    tx: &mut Tx<'_>,
    path: &[Vec<u8>],
    chained: bool,
    f: impl FnOnce(&mut BucketMut<'_>) -> R,
) -> Result<R, Error> {
    if chained && !path.is_empty() {
        let mut b = tx.bucket_mut(&path[0])?;
        descend(&mut b, &path[1..], f)
    } else {
        let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        let mut b = tx.bucket_path_mut(&refs)?;
        Ok(f(&mut b))
    }
}

/// Resolves `path` in both the engine and the model (they must agree, errors included), then
/// runs `f` on both buckets.
fn on_bucket(
    tx: &mut Tx<'_>,
    m: &mut MBucket,
    path: &[Vec<u8>],
    chained: bool,
    ctx: &dyn Fn() -> String,
    f: impl FnOnce(&mut BucketMut<'_>, &mut MBucket) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let want = m.at(path).map(|_| ());
    let got = with_mut(tx, path, chained, |b| match m.at_mut(path) {
        Ok(mb) => f(b, mb),
        Err(e) => Err(fail(format!("{}: engine found bucket {path:?}, model says {e:?}", ctx()))),
    });
    match (got, want) {
        (Ok(r), Ok(())) => {
            stats::add(&stats::OPS_ON_BUCKET);
            r
        }
        (Err(e), Err(w)) if kind(&e) == Some(w) => {
            stats::add(&stats::EXPECTED_ERRORS);
            Ok(())
        }
        (Ok(_), Err(w)) => Err(fail(format!("{}: engine found bucket {path:?}, model expects {w:?}", ctx()))),
        (Err(e), w) => Err(fail(format!("{}: resolving {path:?}: engine returned {e:?}, model expects {w:?}", ctx()))),
    }
}

/// The read counterpart of [`on_bucket`].
fn on_bucket_ref(
    tx: &Tx<'_>,
    m: &MBucket,
    path: &[Vec<u8>],
    chained: bool,
    ctx: &dyn Fn() -> String,
    f: impl FnOnce(Bucket<'_>, &MBucket) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    match (bucket_at(tx, path, chained), m.at(path)) {
        (Ok(b), Ok(mb)) => {
            stats::add(&stats::OPS_ON_BUCKET);
            f(b, mb)
        }
        (Err(e), Err(w)) if kind(&e) == Some(w) => {
            stats::add(&stats::EXPECTED_ERRORS);
            Ok(())
        }
        (Ok(_), Err(w)) => Err(fail(format!("{}: engine found bucket {path:?}, model expects {w:?}", ctx()))),
        (Err(e), w) => Err(fail(format!(
            "{}: resolving {path:?}: engine returned {e:?}, model expects {:?}",
            ctx(),
            w.map(|_| ())
        ))),
    }
}

fn in_bounds(k: &[u8], lo: &Bound<K>, hi: &Bound<K>) -> bool {
    let lo_ok = match lo {
        Bound::Unbounded => true,
        Bound::Included(l) => k >= l.as_slice(),
        Bound::Excluded(l) => k > l.as_slice(),
    };
    let hi_ok = match hi {
        Bound::Unbounded => true,
        Bound::Included(h) => k <= h.as_slice(),
        Bound::Excluded(h) => k < h.as_slice(),
    };
    lo_ok && hi_ok
}

fn read_op(tx: &Tx<'_>, m: &MBucket, op: &ROp) -> Result<(), TestCaseError> {
    let ctx = || format!("{op:?}");
    let ctx = &ctx as &dyn Fn() -> String;
    match op {
        ROp::Everything => everything(tx, m, &ctx()),
        ROp::Get { at, key } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let want = match mb.items.get(key.as_slice()) {
                    Some(Node::Value(v)) => Some(v.as_slice()),
                    _ => None,
                };
                let got = b.get(key).map_err(|e| fail(format!("{}: {e:?}", ctx())))?;
                prop_assert!(
                    got == want,
                    "{}: get gives {:?}, model expects {:?}",
                    ctx(),
                    got.map(show_val),
                    want.map(show_val)
                );
                let has = b.has_bucket(key).map_err(|e| fail(format!("{}: {e:?}", ctx())))?;
                let want_has = matches!(mb.items.get(key.as_slice()), Some(Node::Bucket(_)));
                prop_assert_eq!(has, want_has, "{}: has_bucket", ctx());
                Ok(())
            })
        }
        ROp::Walk { at, forward } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let mut want = mb.entries();
                if !forward {
                    want.reverse();
                }
                let mut c = b.cursor();
                let mut got = Vec::new();
                let mut r = if *forward { c.first() } else { c.last() };
                loop {
                    match r {
                        Err(e) => return Err(fail(format!("{}: {e:?}", ctx()))),
                        Ok(None) => break,
                        Ok(Some(kv)) => got.extend(own(Some(kv))),
                    }
                    if got.len() > want.len() + 2 {
                        break;
                    }
                    r = if *forward { c.next() } else { c.prev() };
                }
                same_items(&got, &want, &|| format!("{} walk", ctx()))?;
                // At either end, one more step finds nothing.
                let all = mb.entries();
                let ctx2 = || format!("{}: last then next", ctx());
                same_item(c.last(), all.last(), &ctx2)?;
                same_item(c.next(), None, &ctx2)?;
                let ctx2 = || format!("{}: first then prev", ctx());
                same_item(c.first(), all.first(), &ctx2)?;
                same_item(c.prev(), None, &ctx2)?;
                // The iterator agrees too.
                let it: Result<Vec<_>, _> = if *forward {
                    b.iter().map(|r| r.map(|kv| own(Some(kv)).unwrap())).collect()
                } else {
                    b.iter().rev().map(|r| r.map(|kv| own(Some(kv)).unwrap())).collect()
                };
                let it = it.map_err(|e| fail(format!("{}: iter: {e:?}", ctx())))?;
                same_items(&it, &want, &|| format!("{} iter", ctx()))
            })
        }
        ROp::Seek { at, key, steps } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let items = mb.entries();
                let mut idx = items.partition_point(|(k, _)| k.as_slice() < key.as_slice());
                let mut c = b.cursor();
                let ctx0 = || format!("{}: seek", ctx());
                if same_item(c.seek(key), items.get(idx), &ctx0)?.is_none() {
                    return Ok(());
                }
                for (i, &fwd) in steps.iter().enumerate() {
                    let ctx1 = || format!("{}: step {i} ({})", ctx(), if fwd { "next" } else { "prev" });
                    let want = if fwd {
                        idx += 1;
                        items.get(idx)
                    } else if idx == 0 {
                        None
                    } else {
                        idx -= 1;
                        items.get(idx)
                    };
                    let got = if fwd { c.next() } else { c.prev() };
                    if same_item(got, want, &ctx1)?.is_none() {
                        break;
                    }
                }
                Ok(())
            })
        }
        ROp::Range { at, lo, hi, dir } => {
            let path = at.resolve(m, true);
            on_bucket_ref(tx, m, &path, at.chained, ctx, |b, mb| {
                let want: Vec<Item> = mb.entries().into_iter().filter(|(k, _)| in_bounds(k, lo, hi)).collect();
                let mut it = b.range((lo.clone(), hi.clone()));
                let collect = |it: &mut dyn Iterator<Item = rivet_engine::Result<rivet_engine::KeyValue<'_>>>,
                               limit: usize|
                 -> Result<Vec<Item>, TestCaseError> {
                    let mut out = Vec::new();
                    for r in it {
                        let kv = r.map_err(|e| fail(format!("{}: {e:?}", ctx())))?;
                        out.extend(own(Some(kv)));
                        if out.len() > limit {
                            break;
                        }
                    }
                    Ok(out)
                };
                match dir {
                    Dir::Fwd => {
                        let got = collect(&mut it, want.len() + 2)?;
                        same_items(&got, &want, ctx)
                    }
                    Dir::Rev => {
                        let got = collect(&mut it.rev(), want.len() + 2)?;
                        let mut want = want;
                        want.reverse();
                        same_items(&got, &want, ctx)
                    }
                    Dir::Mixed(steps) => {
                        let mut q: VecDeque<Item> = want.into_iter().collect();
                        for (i, &front) in steps.iter().enumerate() {
                            let ctx1 = || format!("{}: step {i} ({})", ctx(), if front { "next" } else { "next_back" });
                            let (got, w) =
                                if front { (it.next(), q.pop_front()) } else { (it.next_back(), q.pop_back()) };
                            let got = got.transpose();
                            let ended = w.is_none();
                            same_item(got, w.as_ref(), &ctx1)?;
                            if ended {
                                // Both ends are exhausted.
                                let other = if front { it.next_back() } else { it.next() };
                                same_item(other.transpose(), None, &|| format!("{}: other end", ctx1()))?;
                                return Ok(());
                            }
                        }
                        let got = collect(&mut it, q.len() + 2)?;
                        let rest: Vec<Item> = q.into_iter().collect();
                        same_items(&got, &rest, &|| format!("{}: rest", ctx()))
                    }
                }
            })
        }
    }
}

/// Keys and values for `PutMany`: short keys over "abcd", so they interleave with other keys.
fn many(seed: u64, count: usize, vmax: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|_| {
            let klen = 2 + rng.below(7) as usize;
            let k: Vec<u8> = (0..klen).map(|_| b"abcd"[rng.below(4) as usize]).collect();
            let v = Val { len: rng.below(vmax as u64 + 1) as usize, seed: rng.next_u64() as u8 };
            (k, v.bytes())
        })
        .collect()
}

fn write_op(tx: &mut Tx<'_>, m: &mut MBucket, op: &WOp) -> Result<(), TestCaseError> {
    let ctx = || format!("{op:?}");
    let ctx = &ctx as &dyn Fn() -> String;
    match op {
        WOp::Read(r) => read_op(tx, m, r),
        WOp::Put { at, key, val } => {
            let path = at.resolve(m, false);
            let v = val.bytes();
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                same(b.put(key, &v), mb.put(key, &v), ctx)?;
                let got = b.get(key).map_err(|e| fail(format!("{}: get: {e:?}", ctx())))?;
                let want = match mb.items.get(key.as_slice()) {
                    Some(Node::Value(v)) => Some(v.as_slice()),
                    _ => None,
                };
                prop_assert!(got == want, "{}: get after put", ctx());
                Ok(())
            })
        }
        WOp::Overwrite { at, pick, val } => {
            let path = at.resolve(m, false);
            let key = match m.at(&path) {
                Ok(mb) if !mb.items.is_empty() => mb.items.keys().nth(pick.index(mb.items.len())).cloned().unwrap(),
                _ => b"a".to_vec(),
            };
            let v = val.bytes();
            on_bucket(tx, m, &path, at.chained, &|| format!("{} key {:?}", ctx(), show(&key)), |b, mb| {
                same(b.put(&key, &v), mb.put(&key, &v), ctx)
            })
        }
        WOp::Delete { at, key } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                same(b.delete(key), mb.delete(key), ctx)?;
                let got = b.get(key).map_err(|e| fail(format!("{}: get: {e:?}", ctx())))?;
                if !mb.items.contains_key(key.as_slice()) {
                    prop_assert!(got.is_none(), "{}: get after delete", ctx());
                }
                Ok(())
            })
        }
        WOp::DeleteExisting { at, pick } => {
            let path = at.resolve(m, false);
            let key = match m.at(&path) {
                Ok(mb) if !mb.items.is_empty() => mb.items.keys().nth(pick.index(mb.items.len())).cloned().unwrap(),
                _ => b"a".to_vec(),
            };
            on_bucket(tx, m, &path, at.chained, &|| format!("{} key {:?}", ctx(), show(&key)), |b, mb| {
                same(b.delete(&key), mb.delete(&key), ctx)
            })
        }
        WOp::PutMany { at, seed, count, vmax } => {
            let path = at.resolve(m, false);
            let kvs = many(*seed, *count, *vmax);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                for (i, (k, v)) in kvs.iter().enumerate() {
                    same(b.put(k, v), mb.put(k, v), &|| format!("{} put #{i} {:?}", ctx(), show(k)))?;
                }
                Ok(())
            })
        }
        WOp::DeleteRange { at, from, count } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                let keys: Vec<Vec<u8>> = mb
                    .items
                    .range(from.0.clone()..)
                    .filter(|(_, n)| matches!(n, Node::Value(_)))
                    .take(*count)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    same(b.delete(&k), mb.delete(&k), &|| format!("{} delete {:?}", ctx(), show(&k)))?;
                }
                Ok(())
            })
        }
        WOp::CreateBucket { parent, name, if_missing, then_put } => {
            let path = parent.resolve(m, true);
            let create = |b: Result<BucketMut<'_>, Error>, mb: &mut MBucket| {
                let want = mb.create(name, *if_missing);
                match (b, want) {
                    (Ok(mut c), Ok(seq)) => {
                        prop_assert_eq!(c.sequence(), seq, "{}: sequence of the bucket", ctx());
                        if let Some((k, v)) = then_put {
                            let v = v.bytes();
                            let child = mb.child_mut(name);
                            same(c.put(k, &v), child.put(k, &v), &|| format!("{} then put", ctx()))?;
                        }
                        Ok(())
                    }
                    (got, want) => same(got.map(|_| ()), want.map(|_| ()), ctx),
                }
            };
            if path.is_empty() {
                let b = if *if_missing { tx.create_bucket_if_not_exists(name) } else { tx.create_bucket(name) };
                create(b, m)
            } else {
                on_bucket(tx, m, &path, parent.chained, ctx, |b, mb| {
                    let c = if *if_missing { b.create_bucket_if_not_exists(name) } else { b.create_bucket(name) };
                    create(c, mb)
                })
            }
        }
        WOp::DeleteBucket { parent, name } => {
            let path = parent.resolve(m, true);
            delete_bucket(tx, m, &path, name, parent.chained, ctx)
        }
        WOp::DeleteSomeBucket { pick } => {
            let mut paths = m.paths();
            let (path, name) = if paths.is_empty() {
                (Vec::new(), b"a".to_vec())
            } else {
                let mut p = paths.swap_remove(pick.index(paths.len()));
                let name = p.pop().unwrap();
                (p, name)
            };
            let ctx2 = || format!("{} = delete {:?} in {:?}", ctx(), show(&name), path);
            delete_bucket(tx, m, &path, &name, false, &ctx2)
        }
        WOp::NextSequence { at } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                mb.seq = mb.seq.wrapping_add(1);
                same(b.next_sequence(), Ok(mb.seq), ctx)?;
                prop_assert_eq!(b.sequence(), mb.seq, "{}", ctx());
                prop_assert_eq!(b.as_bucket().sequence(), mb.seq, "{}", ctx());
                Ok(())
            })
        }
        WOp::SetSequence { at, value } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                mb.seq = *value;
                same(b.set_sequence(*value), Ok(()), ctx)?;
                prop_assert_eq!(b.sequence(), mb.seq, "{}", ctx());
                Ok(())
            })
        }
        WOp::FillPercent { at, fill } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, _| {
                b.set_fill_percent(*fill);
                Ok(())
            })
        }
        WOp::MaxKey { at, over, bucket } => {
            let path = at.resolve(m, false);
            let len = (rivet_engine::MAX_KEY_SIZE as isize + isize::from(*over)) as usize;
            let mut key = vec![b'c'; len];
            key[0] = b'b';
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                if *bucket {
                    same(b.create_bucket(&key).map(|c| c.sequence()), mb.create(&key, false), ctx)
                } else {
                    same(b.put(&key, b"max"), mb.put(&key, b"max"), ctx)
                }
            })
        }
        WOp::MoveSomeBucket { pick, dst } => {
            let mut paths = m.paths();
            let (s, name) = if paths.is_empty() {
                (Vec::new(), b"a".to_vec())
            } else {
                let mut p = paths.swap_remove(pick.index(paths.len()));
                let name = p.pop().unwrap();
                (p, name)
            };
            let d = dst.resolve(m, true);
            move_bucket(tx, m, &s, &name, &d, ctx)
        }
        WOp::MoveBucket { src, name, dst } => {
            let s = src.resolve(m, true);
            let d = dst.resolve(m, true);
            move_bucket(tx, m, &s, name, &d, ctx)
        }
        WOp::CursorDelete { at, start, forward, every } => {
            let path = at.resolve(m, false);
            on_bucket(tx, m, &path, at.chained, ctx, |b, mb| {
                let items = mb.entries();
                let mut c = b.cursor_mut();
                same(c.delete(), Err(E::KeyRequired), &|| format!("{}: delete before moving", ctx()))?;
                let mut idx: Option<usize> = match start {
                    None if *forward => (!items.is_empty()).then_some(0),
                    None => items.len().checked_sub(1),
                    Some(k) => {
                        let i = items.partition_point(|(ik, _)| ik.as_slice() < k.as_slice());
                        (i < items.len()).then_some(i)
                    }
                };
                let first = match start {
                    None if *forward => c.first(),
                    None => c.last(),
                    Some(k) => c.seek(k),
                };
                let mut got = same_item(first, idx.map(|i| &items[i]), &|| format!("{}: start", ctx()))?;
                let mut n = 0usize;
                while let (Some(i), Some((k, v))) = (idx, got) {
                    if n.checked_rem(*every) == Some(0) {
                        let want = if v.is_none() { Err(BUCKET_NOT_VALUE) } else { mb.delete(&k) };
                        same(c.delete(), want, &|| format!("{}: delete {:?}", ctx(), show(&k)))?;
                    }
                    n += 1;
                    idx = if *forward { (i + 1 < items.len()).then_some(i + 1) } else { i.checked_sub(1) };
                    let r = if *forward { c.next() } else { c.prev() };
                    got = same_item(r, idx.map(|i| &items[i]), &|| format!("{}: step {n}", ctx()))?;
                }
                Ok(())
            })
        }
    }
}

fn move_bucket(
    tx: &mut Tx<'_>,
    m: &mut MBucket,
    s: &[Vec<u8>],
    name: &[u8],
    d: &[Vec<u8>],
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    let sr: Vec<&[u8]> = s.iter().map(Vec::as_slice).collect();
    let dr: Vec<&[u8]> = d.iter().map(Vec::as_slice).collect();
    let want = m.move_bucket(name, s, d);
    let got = tx.move_bucket(name, &sr, &dr);
    same(got, want, &|| format!("{} = move {:?} from {s:?} to {d:?}", ctx(), show(name)))
}

fn delete_bucket(
    tx: &mut Tx<'_>,
    m: &mut MBucket,
    path: &[Vec<u8>],
    name: &[u8],
    chained: bool,
    ctx: &dyn Fn() -> String,
) -> Result<(), TestCaseError> {
    if path.is_empty() {
        let want = m.delete_bucket(name);
        same(tx.delete_bucket(name), want, ctx)
    } else {
        on_bucket(tx, m, path, chained, ctx, |b, mb| same(b.delete_bucket(name), mb.delete_bucket(name), ctx))
    }
}

// ------------------------------------------------------------------------------------------
// Running a plan
// ------------------------------------------------------------------------------------------

fn open(path: &Path, opts: Options, ctx: &str) -> Result<DB, TestCaseError> {
    DB::open(path, opts.with_timeout(Duration::from_secs(10))).map_err(|e| fail(format!("{ctx}: open: {e:?}")))
}

enum Upd {
    Engine(Error),
    Test(TestCaseError),
    Abort,
}

impl From<Error> for Upd {
    fn from(e: Error) -> Self {
        Upd::Engine(e)
    }
}

fn run_write(db: &DB, committed: &mut MBucket, w: &WritePlan, ctx: &str) -> Result<(), TestCaseError> {
    let before = db.info().meta.txid;
    let old = w.reader.then(|| committed.clone());
    let reader = match w.reader {
        true => Some(db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?),
        false => None,
    };
    let mut work = committed.clone();
    let apply = |tx: &mut Tx<'_>, work: &mut MBucket| -> Result<(), TestCaseError> {
        prop_assert_eq!(tx.id(), before + 1, "{}: id of the write transaction", ctx);
        for (i, op) in w.ops.iter().enumerate() {
            stats::add(&stats::OPS);
            write_op(tx, work, op).map_err(|e| fail(format!("{ctx} op {i}: {e}")))?;
        }
        everything(tx, work, &format!("{ctx}: before {:?}", w.end))
    };
    let done = match w.end {
        End::Commit | End::Rollback | End::Drop => {
            let mut tx = db.begin(true).map_err(|e| fail(format!("{ctx}: begin write: {e:?}")))?;
            apply(&mut tx, &mut work)?;
            match w.end {
                End::Commit => {
                    tx.commit().map_err(|e| fail(format!("{ctx}: commit: {e:?}")))?;
                    true
                }
                End::Rollback => {
                    tx.rollback();
                    false
                }
                _ => {
                    drop(tx);
                    false
                }
            }
        }
        End::UpdateOk | End::UpdateErr => {
            let r = db.update(|tx| {
                apply(tx, &mut work).map_err(Upd::Test)?;
                match w.end {
                    End::UpdateOk => Ok(()),
                    _ => Err(Upd::Abort),
                }
            });
            match r {
                Ok(()) => true,
                Err(Upd::Abort) => false,
                Err(Upd::Test(e)) => return Err(e),
                Err(Upd::Engine(e)) => return Err(fail(format!("{ctx}: update: {e:?}"))),
            }
        }
    };
    stats::add(if done { &stats::COMMITS } else { &stats::ROLLBACKS });
    if done {
        *committed = work;
    }
    let after = db.info().meta.txid;
    prop_assert_eq!(after, before + u64::from(done), "{}: txid after {:?}", ctx, w.end);
    if let (Some(r), Some(old)) = (reader, old) {
        check_reader(&r, &old, &format!("{ctx}: reader held across the write"))?;
    }
    verify(db, committed, &format!("{ctx}: after {:?}", w.end))
}

fn run(plan: &Plan) -> Result<(), TestCaseError> {
    let dir = scratch();
    let path = dir.path().join("model.db");
    let mut opts = Options::default().no_freelist_sync(plan.no_freelist_sync);
    if let Some(ps) = plan.page_size {
        opts = opts.page_size(ps);
    }
    let mut committed = MBucket::default();
    let mut steps = plan.steps.iter().enumerate().peekable();
    // One round per open of the database; a `Reopen` step ends the round.
    while steps.peek().is_some() {
        let db = open(&path, opts.clone(), "open")?;
        // Read transactions held across steps, with the state they must keep seeing.
        let mut readers: Vec<(Tx<'_>, MBucket, String)> = Vec::new();
        let mut reopen = None;
        for (i, step) in steps.by_ref() {
            let ctx = format!("step {i}");
            match step {
                Step::Write(w) => run_write(&db, &mut committed, w, &ctx)?,
                Step::Read(ops) => {
                    let tx = db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?;
                    for (j, op) in ops.iter().enumerate() {
                        stats::add(&stats::OPS);
                        read_op(&tx, &committed, op).map_err(|e| fail(format!("{ctx} read {j}: {e}")))?;
                    }
                }
                Step::HoldReader => {
                    let tx = db.begin(false).map_err(|e| fail(format!("{ctx}: begin read: {e:?}")))?;
                    readers.push((tx, committed.clone(), ctx));
                }
                Step::ReleaseReader(pick) => {
                    if !readers.is_empty() {
                        let (tx, old, from) = readers.remove(pick.index(readers.len()));
                        check_reader(&tx, &old, &format!("{ctx}: reader held since {from}"))?;
                    }
                }
                Step::Reopen { no_freelist_sync, peek_read_only } => {
                    reopen = Some((i, *no_freelist_sync, *peek_read_only));
                    break;
                }
            }
        }
        for (tx, old, from) in readers {
            check_reader(&tx, &old, &format!("end of round: reader held since {from}"))?;
        }
        drop(db);
        if let Some((i, no_freelist_sync, peek_read_only)) = reopen {
            let ctx = format!("step {i}");
            stats::add(&stats::REOPENS);
            if peek_read_only {
                let ro = open(&path, Options::default().read_only(true), &ctx)?;
                verify(&ro, &committed, &format!("{ctx}: read-only"))?;
                prop_assert!(rust_dump(&path) == committed.json(), "{}: rust_dump differs from the model's", ctx);
                let w = ro.begin(true).map(|_| ());
                if !matches!(w, Err(Error::DatabaseReadOnly)) {
                    return Err(fail(format!("{ctx}: write tx on a read-only DB: {w:?}")));
                }
            }
            opts = Options::default().no_freelist_sync(no_freelist_sync);
            let d = open(&path, opts.clone(), &ctx)?;
            verify(&d, &committed, &format!("{ctx}: reopened"))?;
        }
    }
    Ok(())
}

/// A read transaction held while others committed still sees its snapshot, consistently.
fn check_reader(tx: &Tx<'_>, old: &MBucket, ctx: &str) -> Result<(), TestCaseError> {
    let problems = tx.check().map_err(|e| fail(format!("{ctx}: check: {e:?}")))?;
    prop_assert!(problems.is_empty(), "{}: check found {:?}", ctx, problems);
    everything(tx, old, ctx)
}

fn cases() -> u32 {
    std::env::var("RIVET_MODEL_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(400)
}

#[test]
fn engine_matches_the_model() {
    // A fresh seed each run (more ground covered over time), printed so that a failure can be
    // replayed exactly with RIVET_SEED.
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let seed = rivet_tests::seed(clock);
    let config = Config {
        cases: cases(),
        rng_seed: RngSeed::Fixed(seed),
        // One file only: no regression files are written next to this test.
        failure_persistence: None,
        max_shrink_iters: 2048,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&plan(), |p| run(&p)) {
        panic!("{e}\n(replay with RIVET_SEED={seed})");
    }
    stats::report();
}

// ------------------------------------------------------------------------------------------
// Engine bugs found by the model test, reduced to deterministic repros
// ------------------------------------------------------------------------------------------

/// `Tx::bucket_path_mut(&[])` hands out the *root* bucket for writing, and `put` on it stores a
/// plain value at the top level, which bbolt's API can never do. The commit succeeds and
/// `Tx::check` reports nothing, but `bbolt-tool check` rejects the file ("logical: root bucket
/// holds a non-bucket key 6b"), and Go's `tx.ForEach` would hand its callback a nil bucket.
/// Fixed: the empty path is refused (`BucketNameRequired`), `put` on the root is refused, and
/// `Tx::check` reports plain keys in the root bucket.
#[test]
fn root_bucket_refuses_plain_values() {
    let dir = scratch();
    let db = DB::open(dir.path().join("root.db"), Options::default()).expect("open");
    let mut tx = db.begin(true).expect("begin");
    let put = tx.bucket_path_mut(&[]).and_then(|mut root| root.put(b"k", b"v"));
    if put.is_ok() {
        tx.commit().expect("commit");
        let tx = db.begin(false).expect("begin read");
        let problems = tx.check().expect("check");
        let dump = rivet_engine::dump::dump_json(&tx).expect("dump");
        panic!(
            "a plain value was committed into the root bucket; Tx::check found {problems:?}; dump: {}",
            dump.trim_end()
        );
    }
}
