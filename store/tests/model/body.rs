// The body of the store's model test (see `tests/model.rs`), included once per codec (and once
// on an in-memory store) in a module that defines `RecordCodec`, the codec of the record types
// below, and `IN_MEMORY`, whether the store is `Store::memory()`.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestRunner};
use rivet::catalog::{Entry, CATALOG_BUCKET};
use rivet::engine::Bucket;
use rivet::key::encode;
use rivet::{Error, Options, ReadTx, Record, Store, WriteTx};
use serde::{Deserialize, Serialize};

// ------------------------------------------------------------------------------------------
// Record types under test
// ------------------------------------------------------------------------------------------

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "people", codec = RecordCodec, index(name = "by_team_score", fields(team, score)))]
struct Person {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    team: u8,
    /// A sparse unique index: `None` is not indexed, so any number of people may have none.
    #[index(unique)]
    handle: Option<String>,
    score: i32,
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(codec = RecordCodec)]
struct Event {
    #[key]
    user: u32,
    #[key]
    at: i16,
    #[index]
    kind: String,
}

// ------------------------------------------------------------------------------------------
// Operations and the model
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Fields {
    email: u8,
    team: u8,
    handle: Option<u8>,
    score: i32,
}

impl Fields {
    fn person(&self, id: u64) -> Person {
        Person {
            id,
            email: format!("e{}", self.email),
            team: self.team,
            handle: self.handle.map(|h| format!("h{h}")),
            score: self.score,
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Fields),
    Upsert(u64, Fields),
    Update(u64, Fields),
    Remove(u64),
    InsertEvent(u32, i16, u8),
    UpsertEvent(u32, i16, u8),
    UpdateEvent(u32, i16, u8),
    RemoveEvent(u32, i16),
    /// `remove_prefix`: a user's events.
    RemoveUserEvents(u32),
    /// `remove_range`: events from (user, at) on.
    RemoveEventsFrom(u32, i16),
    /// `retain`: people not in this team.
    RetainNotTeam(u8),
    /// `clear` of the events.
    ClearEvents,
    /// `modify`: a person's score.
    ModifyScore(u64, i32),
    /// `modify`: a person's email (a unique index).
    ModifyEmail(u64, u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Commit,
    Rollback,
    /// The closure returns an error.
    Fail,
}

#[derive(Debug, Clone)]
struct Txn {
    ops: Vec<Op>,
    fate: Fate,
    /// On a unique violation: propagate it with `?` (true) or swallow it and return `Ok` (false).
    propagate: bool,
    reopen_after: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Model {
    people: BTreeMap<u64, Person>,
    seq: u64,
    events: BTreeMap<(u32, i16), Event>,
}

/// What an operation must return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Duplicate,
    NotFound,
    Unique,
    /// A removal, and how many records it removed.
    Removed(usize),
}

fn outcome<T>(r: &Result<T, Error>) -> Result<Outcome, String> {
    match r {
        Ok(_) => Ok(Outcome::Ok),
        Err(Error::DuplicateKey { .. }) => Ok(Outcome::Duplicate),
        Err(Error::NotFound { .. }) => Ok(Outcome::NotFound),
        Err(Error::UniqueViolation { .. }) => Ok(Outcome::Unique),
        Err(e) => Err(format!("unexpected error: {e}")),
    }
}

/// The outcome of a removal: how many records it removed.
fn removed(r: Result<usize, Error>) -> Result<Outcome, String> {
    match r {
        Ok(n) => Ok(Outcome::Removed(n)),
        Err(e) => outcome(&Err::<(), _>(e)),
    }
}

/// The outcome of `modify`: `None` (no such record) is `NotFound`.
fn modified(r: Result<Option<()>, Error>) -> Result<Outcome, String> {
    match r {
        Ok(Some(())) => Ok(Outcome::Ok),
        Ok(None) => Ok(Outcome::NotFound),
        Err(e) => outcome(&Err::<(), _>(e)),
    }
}

fn event(user: u32, at: i16, kind: u8) -> Event {
    Event { user, at, kind: format!("k{kind}") }
}

impl Model {
    /// Whether `p` would break a unique index (ignoring the record with its own id).
    fn violates(&self, p: &Person) -> bool {
        self.people
            .values()
            .any(|o| o.id != p.id && (o.email == p.email || (p.handle.is_some() && o.handle == p.handle)))
    }

    /// Applies `op`; returns the predicted outcome (the model is unchanged unless `Ok`).
    fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Insert(f) => {
                let p = f.person(self.seq + 1);
                if self.violates(&p) {
                    return Outcome::Unique;
                }
                self.seq += 1;
                self.people.insert(p.id, p);
                Outcome::Ok
            }
            Op::Upsert(id, f) | Op::Update(id, f) => {
                if matches!(op, Op::Update(..)) && !self.people.contains_key(id) {
                    return Outcome::NotFound;
                }
                let p = f.person(*id);
                if self.violates(&p) {
                    return Outcome::Unique;
                }
                self.seq = self.seq.max(*id);
                self.people.insert(*id, p);
                Outcome::Ok
            }
            Op::Remove(id) => Outcome::Removed(usize::from(self.people.remove(id).is_some())),
            Op::InsertEvent(u, at, k) => {
                if self.events.contains_key(&(*u, *at)) {
                    return Outcome::Duplicate;
                }
                self.events.insert((*u, *at), event(*u, *at, *k));
                Outcome::Ok
            }
            Op::UpsertEvent(u, at, k) => {
                self.events.insert((*u, *at), event(*u, *at, *k));
                Outcome::Ok
            }
            Op::UpdateEvent(u, at, k) => {
                if !self.events.contains_key(&(*u, *at)) {
                    return Outcome::NotFound;
                }
                self.events.insert((*u, *at), event(*u, *at, *k));
                Outcome::Ok
            }
            Op::RemoveEvent(u, at) => Outcome::Removed(usize::from(self.events.remove(&(*u, *at)).is_some())),
            Op::RemoveUserEvents(u) => {
                let before = self.events.len();
                self.events.retain(|(user, _), _| user != u);
                Outcome::Removed(before - self.events.len())
            }
            Op::RemoveEventsFrom(u, at) => {
                let before = self.events.len();
                self.events.retain(|k, _| *k < (*u, *at));
                Outcome::Removed(before - self.events.len())
            }
            Op::RetainNotTeam(t) => {
                let before = self.people.len();
                self.people.retain(|_, p| p.team != *t);
                Outcome::Removed(before - self.people.len())
            }
            Op::ClearEvents => {
                let n = self.events.len();
                self.events.clear();
                Outcome::Removed(n)
            }
            Op::ModifyScore(id, score) => match self.people.get_mut(id) {
                Some(p) => {
                    p.score = *score;
                    Outcome::Ok
                }
                None => Outcome::NotFound,
            },
            Op::ModifyEmail(id, email) => {
                let Some(p) = self.people.get(id) else { return Outcome::NotFound };
                let changed = Person { email: format!("e{email}"), ..p.clone() };
                if self.violates(&changed) {
                    return Outcome::Unique;
                }
                self.people.insert(*id, changed);
                Outcome::Ok
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// Strategies
// ------------------------------------------------------------------------------------------

/// How many distinct emails and handles the generator uses (few, so that unique violations
/// are frequent).
const EMAILS: u8 = 16;
const HANDLES: u8 = 6;

fn fields() -> impl Strategy<Value = Fields> {
    // Few emails and handles, so that unique violations are frequent.
    (0u8..EMAILS, 0u8..3, prop::option::weighted(0.3, 0u8..HANDLES), -3i32..4)
        .prop_map(|(email, team, handle, score)| Fields { email, team, handle, score })
}

fn op() -> impl Strategy<Value = Op> {
    let id = 1u64..14;
    let (user, at, kind) = (0u32..4, -3i16..4, 0u8..3);
    prop_oneof![
        5 => fields().prop_map(Op::Insert),
        2 => (id.clone(), fields()).prop_map(|(i, f)| Op::Upsert(i, f)),
        2 => (id.clone(), fields()).prop_map(|(i, f)| Op::Update(i, f)),
        2 => id.prop_map(Op::Remove),
        2 => (user.clone(), at.clone(), kind.clone()).prop_map(|(u, a, k)| Op::InsertEvent(u, a, k)),
        1 => (user.clone(), at.clone(), kind.clone()).prop_map(|(u, a, k)| Op::UpsertEvent(u, a, k)),
        1 => (user.clone(), at.clone(), kind).prop_map(|(u, a, k)| Op::UpdateEvent(u, a, k)),
        1 => (user.clone(), at.clone()).prop_map(|(u, a)| Op::RemoveEvent(u, a)),
        1 => user.clone().prop_map(Op::RemoveUserEvents),
        1 => (user, at).prop_map(|(u, a)| Op::RemoveEventsFrom(u, a)),
        1 => (0u8..3).prop_map(Op::RetainNotTeam),
        1 => Just(Op::ClearEvents),
        1 => (1u64..14, -3i32..4).prop_map(|(i, v)| Op::ModifyScore(i, v)),
        1 => (1u64..14, 0u8..EMAILS).prop_map(|(i, e)| Op::ModifyEmail(i, e)),
    ]
}

fn txn() -> impl Strategy<Value = Txn> {
    (
        prop::collection::vec(op(), 1..10),
        prop_oneof![6 => Just(Fate::Commit), 1 => Just(Fate::Rollback), 1 => Just(Fate::Fail)],
        any::<bool>(),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(ops, fate, propagate, reopen_after)| Txn { ops, fate, propagate, reopen_after })
}

fn plan() -> impl Strategy<Value = Vec<Txn>> {
    prop::collection::vec(txn(), 1..10)
}

// ------------------------------------------------------------------------------------------
// Coverage counters (printed at the end, to see that the generated cases reach every path)
// ------------------------------------------------------------------------------------------

mod stats {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    pub static TXS: AtomicUsize = AtomicUsize::new(0);
    pub static COMMITTED: AtomicUsize = AtomicUsize::new(0);
    pub static VIOLATED: AtomicUsize = AtomicUsize::new(0);
    pub static OPS: AtomicUsize = AtomicUsize::new(0);
    pub static OPS_REFUSED: AtomicUsize = AtomicUsize::new(0);

    pub fn add(c: &AtomicUsize) {
        c.fetch_add(1, Relaxed);
    }

    pub fn report() {
        eprintln!(
            "transactions: {} ({} committed, {} rolled back by a returned unique violation); operations: {} ({} refused: \
             duplicate key, not found or unique violation)",
            TXS.load(Relaxed),
            COMMITTED.load(Relaxed),
            VIOLATED.load(Relaxed),
            OPS.load(Relaxed),
            OPS_REFUSED.load(Relaxed),
        );
    }
}

// ------------------------------------------------------------------------------------------
// Running a plan
// ------------------------------------------------------------------------------------------

fn open(path: &Path) -> Store {
    match Store::open_with(path, Options::default().no_sync(true)) {
        Ok(s) => s,
        Err(e) => panic!("open {}: {e}", path.display()),
    }
}

fn run_op(tx: &mut WriteTx<'_>, op: &Op) -> Result<Outcome, String> {
    match op {
        Op::Insert(f) => {
            let mut p = f.person(0);
            outcome(&tx.insert(&mut p))
        }
        Op::Upsert(id, f) => outcome(&tx.upsert(&f.person(*id))),
        Op::Update(id, f) => outcome(&tx.update(&f.person(*id))),
        Op::Remove(id) => removed(tx.remove::<Person>(*id).map(|p| usize::from(p.is_some()))),
        Op::InsertEvent(u, at, k) => outcome(&tx.insert(&mut event(*u, *at, *k))),
        Op::UpsertEvent(u, at, k) => outcome(&tx.upsert(&event(*u, *at, *k))),
        Op::UpdateEvent(u, at, k) => outcome(&tx.update(&event(*u, *at, *k))),
        Op::RemoveEvent(u, at) => removed(tx.remove::<Event>((*u, *at)).map(|e| usize::from(e.is_some()))),
        Op::RemoveUserEvents(u) => removed(tx.remove_prefix::<Event>((*u,))),
        Op::RemoveEventsFrom(u, at) => removed(tx.remove_range::<Event>((*u, *at)..)),
        Op::RetainNotTeam(t) => removed(tx.retain::<Person>(|p| p.team != *t)),
        Op::ClearEvents => removed(tx.clear::<Event>()),
        Op::ModifyScore(id, score) => modified(tx.modify::<Person, _>(*id, |p| p.score = *score)),
        Op::ModifyEmail(id, email) => modified(tx.modify::<Person, _>(*id, |p| p.email = format!("e{email}"))),
    }
}

/// Runs a transaction's operations, checking each outcome against `model` (which it updates).
/// Returns `Err` to end the transaction: a mismatch (recorded in `mismatch`) or a propagated
/// unique violation.
fn body(
    tx: &mut WriteTx<'_>,
    t: &Txn,
    n: usize,
    model: &mut Model,
    violated: &mut bool,
    mismatch: &mut Option<String>,
) -> Result<(), Error> {
    let stop = || Error::NotFound { bucket: "test".into(), key: "mismatch".into() };
    for (i, op) in t.ops.iter().enumerate() {
        let want = model.apply(op);
        let got = match run_op(tx, op) {
            Ok(o) => o,
            Err(e) => {
                *mismatch = Some(format!("tx {n} op {i} {op:?}: {e}"));
                return Err(stop());
            }
        };
        stats::add(&stats::OPS);
        if !matches!(got, Outcome::Ok | Outcome::Removed(_)) {
            stats::add(&stats::OPS_REFUSED);
        }
        if got != want {
            *mismatch = Some(format!("tx {n} op {i} {op:?}: store says {got:?}, model says {want:?}"));
            return Err(stop());
        }
        if got == Outcome::Unique {
            // Found before anything was written: the transaction goes on unless the error is
            // returned.
            if tx.is_aborted() {
                *mismatch = Some(format!("tx {n} op {i}: a unique violation aborted the transaction"));
                return Err(stop());
            }
            if t.propagate {
                *violated = true;
                return Err(Error::UniqueViolation { bucket: "p".into(), index: "i".into(), value: "v".into() });
            }
        }
    }
    // Reads inside the transaction see its own writes.
    if let Err(e) = compare(tx, model) {
        *mismatch = Some(format!("tx {n} (uncommitted view): {e}"));
        return Err(stop());
    }
    Ok(())
}

/// Applies the changes delivered so far to `mirror`, checking that each matches what the mirror
/// holds (an update's old record, a removed record).
fn replay(watch: &rivet::watch::Watch<Person>, mirror: &mut BTreeMap<u64, Person>) -> Result<(), String> {
    use rivet::watch::Change;
    while let Some(c) = watch.try_recv() {
        match c {
            Change::Inserted(p) => {
                if let Some(was) = mirror.insert(p.id, p) {
                    return Err(format!("inserted over {was:?}"));
                }
            }
            Change::Updated { old, new } => {
                if mirror.get(&old.id) != Some(&old) || old.id != new.id {
                    return Err(format!("updated {old:?} -> {new:?}, but the mirror had {:?}", mirror.get(&old.id)));
                }
                mirror.insert(new.id, new);
            }
            Change::Removed(p) => {
                if mirror.remove(&p.id).as_ref() != Some(&p) {
                    return Err(format!("removed {p:?}, which the mirror did not hold"));
                }
            }
            Change::Lost { changes } => return Err(format!("{changes} changes lost")),
        }
    }
    Ok(())
}

fn run(plan: &[Txn]) -> Result<(), TestCaseError> {
    let fail = |e: String| TestCaseError::fail(e);
    let dir = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let path = dir.path().join("model.db");
    let mut store = if IN_MEMORY { Store::memory().map_err(|e| fail(e.to_string()))? } else { open(&path) };
    let mut committed = Model::default();
    // Every committed change of a person, replayed onto a mirror, must rebuild the model.
    let mut watch = store.watch::<Person>(1_000_000);
    let mut mirror: BTreeMap<u64, Person> = BTreeMap::new();
    for (n, t) in plan.iter().enumerate() {
        let mut model = committed.clone();
        let mut violated = false;
        let mut mismatch: Option<String> = None;
        let committed_now = match t.fate {
            Fate::Commit => store.write(|tx| body(tx, t, n, &mut model, &mut violated, &mut mismatch)).is_ok(),
            Fate::Fail => store
                .write(|tx| {
                    body(tx, t, n, &mut model, &mut violated, &mut mismatch)?;
                    Err::<(), _>(Error::NotFound { bucket: "test".into(), key: "planned failure".into() })
                })
                .is_ok(),
            Fate::Rollback => {
                let mut tx = store.begin_write().map_err(|e| fail(e.to_string()))?;
                let _ = body(&mut tx, t, n, &mut model, &mut violated, &mut mismatch);
                tx.rollback();
                false
            }
        };
        if let Some(m) = mismatch {
            return Err(fail(m));
        }
        prop_assert_eq!(committed_now, !violated && t.fate == Fate::Commit, "tx {}: commit outcome", n);
        stats::add(&stats::TXS);
        if violated {
            stats::add(&stats::VIOLATED);
        }
        if committed_now {
            stats::add(&stats::COMMITTED);
            committed = model;
        }
        replay(&watch, &mut mirror).map_err(|e| fail(format!("tx {n}: {e}")))?;
        prop_assert_eq!(&mirror, &committed.people, "tx {}: the changes delivered do not rebuild the records", n);
        if t.reopen_after && !IN_MEMORY {
            drop(store);
            store = open(&path);
            watch = store.watch::<Person>(1_000_000);
        }
        store
            .read(|tx| Ok(compare(tx, &committed)))
            .map_err(|e| fail(format!("tx {n}: read failed: {e}")))?
            .map_err(|e| fail(format!("after tx {n} ({:?}, violated: {violated}): {e}", t.fate)))?;
    }
    let problems = store.engine().begin(false).map_err(|e| fail(e.to_string()))?.check();
    prop_assert!(problems.as_ref().is_ok_and(|p| p.is_empty()), "engine check: {:?}", problems);
    Ok(())
}

// The comparisons of the store with the model.
include!("compare.rs");

// ------------------------------------------------------------------------------------------
// The test
// ------------------------------------------------------------------------------------------

fn cases() -> u32 {
    std::env::var("RIVET_STORE_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(200)
}

fn seed() -> u64 {
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let s = std::env::var("RIVET_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(clock);
    eprintln!("seed = {s} (replay with RIVET_SEED={s})");
    s
}

#[test]
fn store_matches_the_model() {
    let seed = seed();
    let config = Config {
        cases: cases(),
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 1024,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&plan(), |p| run(&p)) {
        panic!("{e}\n(replay with RIVET_SEED={seed})");
    }
    stats::report();
}
