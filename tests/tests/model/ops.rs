//! Operations and plans (what a generated case does: read and write operations, how a write
//! transaction ends, the steps of a plan), and the proptest strategies that generate them.

use std::fmt::{self, Debug};
use std::ops::Bound;

use proptest::prelude::*;
use proptest::sample::Index;

use crate::compare::show;
use crate::model::{BPath, MBucket};

/// A key or bucket name in an operation (a newtype only to print readably).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct K(pub(crate) Vec<u8>);

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
pub(crate) struct Val {
    pub(crate) len: usize,
    pub(crate) seed: u8,
}

impl Val {
    pub(crate) fn bytes(self) -> Vec<u8> {
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
pub(crate) enum Sel {
    /// One of the buckets that exist in the model at that moment.
    Pick(Index),
    /// A literal path, which may well not exist.
    Lit(Vec<K>),
}

#[derive(Clone, Debug)]
pub(crate) struct At {
    pub(crate) sel: Sel,
    /// Walk the path one `bucket_mut`/`bucket` call at a time rather than with `bucket_path`.
    pub(crate) chained: bool,
}

impl At {
    /// The path this selector means in the current model state. With `allow_root`, the root
    /// (empty path) is one of the candidates.
    pub(crate) fn resolve(&self, m: &MBucket, allow_root: bool) -> BPath {
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
pub(crate) enum Dir {
    Fwd,
    Rev,
    /// `true`: `next`, `false`: `next_back`; then the rest forwards.
    Mixed(Vec<bool>),
}

#[derive(Clone, Debug)]
pub(crate) enum ROp {
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
pub(crate) enum WOp {
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
pub(crate) enum End {
    Commit,
    UpdateOk,
    Rollback,
    Drop,
    UpdateErr,
}

#[derive(Clone, Debug)]
pub(crate) struct WritePlan {
    pub(crate) ops: Vec<WOp>,
    pub(crate) end: End,
    /// Hold a read transaction open across this write transaction.
    pub(crate) reader: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Step {
    Write(WritePlan),
    Read(Vec<ROp>),
    /// Begin a read transaction and keep it open over the following steps.
    HoldReader,
    /// Check and end one of the held read transactions.
    ReleaseReader(Index),
    /// `DB::checkpoint` (a no-op without the journal).
    Checkpoint,
    Reopen {
        no_freelist_sync: bool,
        peek_read_only: bool,
        /// Whether the next round runs in journal mode.
        journal: bool,
        /// Whether this round ends in a simulated crash: the files are copied while the handle
        /// is open, and the next round opens the copy (what a power cut would leave, since
        /// every commit synced). Without the journal, the file alone.
        crash: bool,
    },
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) page_size: Option<u32>,
    pub(crate) no_freelist_sync: bool,
    /// Whether the first round runs in journal mode.
    pub(crate) journal: bool,
    pub(crate) steps: Vec<Step>,
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
        1 => Just(Step::Checkpoint),
        2 => (prop::bool::weighted(0.3), prop::bool::weighted(0.3), prop::bool::weighted(0.4), prop::bool::weighted(0.4))
            .prop_map(|(no_freelist_sync, peek_read_only, journal, crash)| Step::Reopen {
                no_freelist_sync,
                peek_read_only,
                journal,
                crash,
            }),
    ]
    .boxed()
}

pub(crate) fn plan() -> BoxedStrategy<Plan> {
    (
        prop_oneof![6 => Just(Some(1024u32)), 2 => Just(None), 1 => Just(Some(4096)), 1 => Just(Some(512))],
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.4),
        prop::collection::vec(step(), 1..24),
    )
        .prop_map(|(page_size, no_freelist_sync, journal, steps)| Plan { page_size, no_freelist_sync, journal, steps })
        .boxed()
}
