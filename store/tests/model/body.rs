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

// ------------------------------------------------------------------------------------------
// Comparing the store with the model
// ------------------------------------------------------------------------------------------

fn check<T: PartialEq + std::fmt::Debug>(what: &str, got: T, want: T) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: store {got:?}, model {want:?}"))
    }
}

fn ids<'a>(people: impl IntoIterator<Item = &'a Person>) -> Vec<u64> {
    people.into_iter().map(|p| p.id).collect()
}

fn all<T, I: Iterator<Item = Result<T, Error>>>(it: I) -> Result<Vec<T>, String> {
    it.collect::<Result<Vec<T>, Error>>().map_err(|e| e.to_string())
}

fn compare(tx: &ReadTx<'_>, m: &Model) -> Result<(), String> {
    let e = |e: Error| e.to_string();
    let people: Vec<&Person> = m.people.values().collect();

    // Primary key: scan, count, get, ranges, reverse, pagination, sequence.
    check("scan", all(tx.scan::<Person>())?, people.iter().map(|p| (*p).clone()).collect())?;
    check("count", tx.count::<Person>().map_err(e)?, m.people.len())?;
    check("sequence", tx.sequence::<Person>().map_err(e)?, m.seq)?;
    for id in 0..15u64 {
        check(&format!("get {id}"), tx.get::<Person>(id).map_err(e)?, m.people.get(&id).cloned())?;
    }
    for (lo, hi) in [(0u64, 5u64), (3, 9), (7, 20), (5, 5)] {
        let want: Vec<u64> = m.people.range(lo..hi).map(|(k, _)| *k).collect();
        check(&format!("range {lo}..{hi}"), all(tx.range::<Person>(lo..hi).keys())?, want.clone())?;
        let rev: Vec<u64> = want.iter().rev().copied().collect();
        check(&format!("range {lo}..{hi} rev"), all(tx.range::<Person>(lo..hi).rev().keys())?, rev)?;
        let incl: Vec<u64> = m.people.range(lo..=hi).map(|(k, _)| *k).collect();
        let incl_rev: Vec<u64> = incl.iter().rev().copied().collect();
        check(&format!("range {lo}..={hi}"), all(tx.range::<Person>(lo..=hi).keys())?, incl)?;
        check(&format!("range {lo}..={hi} rev"), all(tx.range::<Person>(lo..=hi).rev().keys())?, incl_rev)?;
        let tail: Vec<u64> = m.people.range(lo..hi).map(|(k, _)| *k).filter(|k| *k > lo + 1).collect();
        check(
            &format!("range {lo}..{hi} after {}", lo + 1),
            all(tx.range::<Person>(lo..hi).after(lo + 1).keys())?,
            tail,
        )?;
    }
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let q = tx.scan::<Person>().rev().limit(3);
        let page = all(match after {
            Some(k) => q.after(k).keys(),
            None => q.keys(),
        })?;
        if page.is_empty() {
            break;
        }
        after = page.last().copied();
        paged.extend(page);
    }
    check("pages (reversed)", paged, m.people.keys().rev().copied().collect())?;

    // Unique index `email`.
    for i in 0..EMAILS {
        let email = format!("e{i}");
        let want = m.people.values().find(|p| p.email == email).map(|p| p.id);
        check(&format!("email {email}"), tx.index(Person::email).get(&email).map_err(e)?.map(|p| p.id), want)?;
    }
    let mut by_email = people.clone();
    by_email.sort_by(|a, b| a.email.cmp(&b.email));
    check("email scan", all(tx.index(Person::email).scan().keys())?, ids(by_email.iter().copied()))?;
    let want: Vec<u64> = ids(by_email.iter().copied().filter(|p| p.email.as_str() >= "e13" && p.email.as_str() < "e7"));
    check("email range", all(tx.index(Person::email).range("e13".."e7").keys())?, want)?;

    // Index `team`: equality, range, reversed, paginated.
    for t in 0..3u8 {
        let want = ids(people.iter().copied().filter(|p| p.team == t));
        check(&format!("team {t}"), all(tx.index(Person::team).equal(t).keys())?, want.clone())?;
        check(&format!("team {t} count"), tx.index(Person::team).equal(t).count().map_err(e)?, want.len())?;
    }
    let mut by_team = people.clone();
    by_team.sort_by_key(|p| (p.team, p.id));
    let want = ids(by_team.iter().copied().filter(|p| p.team >= 1));
    check("team 1..", all(tx.index(Person::team).range(1..).keys())?, want)?;
    check("team rev", all(tx.index(Person::team).scan().rev().keys())?, ids(by_team.iter().rev().copied()))?;
    let mut paged = Vec::new();
    let mut last: Option<Person> = None;
    loop {
        let q = tx.index(Person::team).scan().limit(2);
        let page = all(match &last {
            Some(p) => q.after(p),
            None => q,
        })?;
        if page.is_empty() {
            break;
        }
        last = page.last().cloned();
        paged.extend(page.iter().map(|p| p.id));
    }
    check("team pages", paged, ids(by_team.iter().copied()))?;

    // Sparse unique index `handle`.
    let mut by_handle: Vec<&Person> = people.iter().copied().filter(|p| p.handle.is_some()).collect();
    by_handle.sort_by(|a, b| a.handle.cmp(&b.handle));
    check("handle scan", all(tx.index(Person::handle).scan().keys())?, ids(by_handle.iter().copied()))?;
    for h in 0..HANDLES {
        let handle = format!("h{h}");
        let want = m.people.values().find(|p| p.handle.as_deref() == Some(handle.as_str())).map(|p| p.id);
        check(&format!("handle {handle}"), tx.index(Person::handle).get(&handle).map_err(e)?.map(|p| p.id), want)?;
    }

    // Composite index (team, score): order, and prefix by team.
    let mut by_ts = people.clone();
    by_ts.sort_by_key(|p| (p.team, p.score, p.id));
    check("team/score scan", all(tx.index(Person::by_team_score).scan().keys())?, ids(by_ts.iter().copied()))?;
    for t in 0..3u8 {
        let want = ids(by_ts.iter().copied().filter(|p| p.team == t));
        check(&format!("team/score prefix {t}"), all(tx.index(Person::by_team_score).prefix((t,)).keys())?, want)?;
        let want = ids(by_ts.iter().copied().filter(|p| p.team == t && p.score >= 0));
        let got = all(tx.index(Person::by_team_score).range((t, 0)..=(t, i32::MAX)).keys())?;
        check(&format!("team/score {t} non-negative"), got, want)?;
    }

    // Events: composite primary key, prefixes, and an index.
    let events: Vec<Event> = m.events.values().cloned().collect();
    check("events", all(tx.scan::<Event>())?, events.clone())?;
    for u in 0..4u32 {
        let want: Vec<Event> = events.iter().filter(|ev| ev.user == u).cloned().collect();
        check(&format!("events of {u}"), all(tx.prefix::<Event>((u,)))?, want.clone())?;
        let rev: Vec<Event> = want.iter().rev().cloned().collect();
        check(&format!("events of {u} rev"), all(tx.prefix::<Event>((u,)).rev())?, rev)?;
        let want: Vec<(u32, i16)> =
            events.iter().filter(|ev| ev.user == u && ev.at >= 0).map(|ev| (ev.user, ev.at)).collect();
        check(&format!("events of {u} at >= 0"), all(tx.range::<Event>((u, 0)..=(u, i16::MAX)).keys())?, want)?;
    }
    check(
        "events 1..3",
        tx.range::<Event>((1,)..(3,)).count().map_err(e)?,
        events.iter().filter(|ev| (1..3).contains(&ev.user)).count(),
    )?;
    for k in 0..3u8 {
        let kind = format!("k{k}");
        let want: Vec<(u32, i16)> = events.iter().filter(|ev| ev.kind == kind).map(|ev| (ev.user, ev.at)).collect();
        check(&format!("events kind {kind}"), all(tx.index(Event::kind).equal(&kind).keys())?, want)?;
    }

    // The raw index buckets hold exactly the entries the model's records imply.
    raw_indexes(tx, m)?;
    check("verify people", tx.verify::<Person>().map_err(e)?, Vec::new())?;
    check("verify events", tx.verify::<Event>().map_err(e)?, Vec::new())?;
    Ok(())
}

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

fn entries(b: Bucket<'_>) -> Result<Entries, String> {
    let mut out = BTreeMap::new();
    for item in b.iter() {
        let (k, v) = item.map_err(|e| e.to_string())?;
        let v = v.ok_or_else(|| format!("nested bucket {k:02x?} inside an index"))?;
        out.insert(k.to_vec(), v.to_vec());
    }
    Ok(out)
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn raw_indexes(tx: &ReadTx<'_>, m: &Model) -> Result<(), String> {
    let engine = tx.engine();
    let Ok(people) = engine.bucket(b"people") else {
        return check("people bucket present", false, !(m.people.is_empty() && m.seq == 0));
    };
    // The catalog names the codec the values are in.
    let catalog = engine.bucket(CATALOG_BUCKET).map_err(|e| format!("catalog: {e}"))?;
    let entry = catalog.get(b"people").map_err(|e| e.to_string())?.ok_or("no catalog entry for people")?;
    let codec = Entry::parse(entry).map_err(|e| e.to_string())?.codec;
    check("catalog codec", codec.as_str(), <RecordCodec as rivet::Codec>::NAME)?;
    let idx = |name: &str| -> Result<Entries, String> {
        let b = people.bucket(format!("index:{name}").as_bytes()).map_err(|e| format!("index {name}: {e}"))?;
        entries(b)
    };
    let mut email = Entries::new();
    let mut team = Entries::new();
    let mut handle = Entries::new();
    let mut ts = Entries::new();
    let mut records = Entries::new();
    for p in m.people.values() {
        let pk = encode(&p.id);
        // The layout's number (1: the type never changed), then the value in the type's codec.
        let mut value = vec![1u8];
        value.extend(<RecordCodec as rivet::Codec>::encode(p)?);
        records.insert(pk.clone(), value);
        email.insert(encode(&p.email), pk.clone());
        team.insert(cat(&[encode(&p.team), pk.clone()]), Vec::new());
        if let Some(h) = &p.handle {
            handle.insert(encode(h), pk.clone());
        }
        ts.insert(cat(&[encode(&(p.team, p.score)), pk.clone()]), Vec::new());
    }
    check("raw index:email", idx("email")?, email)?;
    check("raw index:team", idx("team")?, team)?;
    check("raw index:handle", idx("handle")?, handle)?;
    check("raw index:by_team_score", idx("by_team_score")?, ts)?;
    let mut stored = Entries::new();
    for item in people.iter() {
        let (k, v) = item.map_err(|e| e.to_string())?;
        if let Some(v) = v {
            stored.insert(k.to_vec(), v.to_vec());
        }
    }
    check("raw records", stored, records)?;
    check("raw sequence", people.sequence(), m.seq)?;
    Ok(())
}

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
