// The body of the evolution model test (see `tests/evolve_model.rs`), included once per
// codec in a module that defines `RecordCodec`, the codec of the record types below.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rivet::{Record, Store};
use serde::{Deserialize, Serialize};

mod a {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "people", codec = RecordCodec)]
    pub struct Person {
        #[key]
        pub id: u32,
        #[index(unique)]
        pub email: String,
        pub name: String,
    }
}

mod b {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "people", codec = RecordCodec)]
    pub struct Person {
        #[key]
        pub id: u32,
        #[serde(default)]
        #[index]
        pub score: u32,
        #[index(unique)]
        pub email: String,
        pub name: String,
    }
}

mod c {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "people", codec = RecordCodec, version = 2, from = b::Person)]
    pub struct Person {
        #[key]
        pub id: u32,
        #[index]
        pub label: String,
    }
    impl From<b::Person> for Person {
        fn from(p: b::Person) -> Self {
            Person { id: p.id, label: format!("{}:{}:{}", p.name, p.email, p.score) }
        }
    }
}

/// What a person is in the model: email, name, score.
type Model = BTreeMap<u32, (String, String, u32)>;

#[derive(Debug, Clone)]
enum Op {
    /// Release A upserts (the score is lost: A does not know it).
    PutA { id: u32, name: u8 },
    /// Release B upserts with a score.
    PutB { id: u32, name: u8, score: u32 },
    /// Either release removes.
    Remove { id: u32, by_b: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u32..24, any::<u8>()).prop_map(|(id, name)| Op::PutA { id, name }),
        (0u32..24, any::<u8>(), 0u32..5).prop_map(|(id, name, score)| Op::PutB { id, name, score }),
        (0u32..24, any::<bool>()).prop_map(|(id, by_b)| Op::Remove { id, by_b }),
    ]
}

/// A bounded migration between transactions ([`Store::migrate`] in batches of `batch`
/// records), to release B's type or A's. B's is interrupted after `stop_after` batches if given
/// (as a crash between two of its transactions would). A's rewrites every row in its own
/// layout, which has no score: the scores are lost, as with A's upserts.
#[derive(Debug, Clone)]
struct Migrate {
    by_b: bool,
    batch: usize,
    stop_after: Option<usize>,
}

fn migrate_step() -> impl Strategy<Value = Option<Migrate>> {
    prop::option::weighted(
        0.4,
        (any::<bool>(), 1usize..6, prop::option::of(1usize..4))
            .prop_map(|(by_b, batch, stop_after)| Migrate { by_b, batch, stop_after: stop_after.filter(|_| by_b) }),
    )
}

/// Runs `step`; returns whether it was interrupted.
fn run_migrate(store: &Store, step: &Migrate) -> Result<bool, TestCaseError> {
    let mut calls = 0;
    let mut progress = |_: &rivet::Migrated| {
        calls += 1;
        if Some(calls) == step.stop_after {
            std::panic::panic_any("interrupted");
        }
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if step.by_b {
            store.migrate::<b::Person>(step.batch, &mut progress)
        } else {
            store.migrate::<a::Person>(step.batch, &mut progress)
        }
    }));
    match r {
        Ok(done) => done.map(|_| false).map_err(|e| TestCaseError::fail(e.to_string())),
        Err(_) => Ok(true),
    }
}

fn email(id: u32) -> String {
    format!("p{id}@x")
}

/// Checks every query against the model. `partial`: a bounded build may be under way, so B's
/// new index may answer `IndexNotBuilt` (never a wrong count).
fn check(store: &Store, m: &Model, last_b: bool, partial: bool) -> Result<(), TestCaseError> {
    store
        .read(|tx| {
            let all_a = tx.scan::<a::Person>().to_vec()?;
            let all_b = tx.scan::<b::Person>().to_vec()?;
            let want_a: Vec<a::Person> =
                m.iter().map(|(id, (e, n, _))| a::Person { id: *id, email: e.clone(), name: n.clone() }).collect();
            let want_b: Vec<b::Person> = m
                .iter()
                .map(|(id, (e, n, s))| b::Person { id: *id, score: *s, email: e.clone(), name: n.clone() })
                .collect();
            assert_eq!(all_a, want_a);
            assert_eq!(all_b, want_b);
            if last_b {
                assert!(tx.verify::<b::Person>()?.is_empty());
                for s in 0..5u32 {
                    match tx.index(b::Person::score).equal(s).count() {
                        Ok(n) => assert_eq!(n, m.values().filter(|v| v.2 == s).count(), "score {s}"),
                        Err(rivet::Error::IndexNotBuilt { .. }) if partial => {}
                        Err(e) => return Err(e),
                    }
                }
            } else {
                assert!(tx.verify::<a::Person>()?.is_empty());
            }
            for id in m.keys() {
                assert_eq!(tx.index(a::Person::email).get(email(*id))?.map(|p| p.id), Some(*id));
            }
            Ok(())
        })
        .map_err(|e| TestCaseError::fail(e.to_string()))
}

fn run(txs: Vec<(Vec<Op>, Option<Migrate>)>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path().join("m.db"), rivet::Options::default().no_sync(true)).unwrap();
    let mut m = Model::new();
    let mut last_b = false;
    for (ops, migrate) in txs {
        let mut next = m.clone();
        store
            .write(|tx| {
                for op in &ops {
                    match *op {
                        Op::PutA { id, name } => {
                            tx.upsert(&a::Person { id, email: email(id), name: name.to_string() })?;
                            next.insert(id, (email(id), name.to_string(), 0));
                            last_b = false;
                        }
                        Op::PutB { id, name, score } => {
                            tx.upsert(&b::Person { id, score, email: email(id), name: name.to_string() })?;
                            next.insert(id, (email(id), name.to_string(), score));
                            last_b = true;
                        }
                        Op::Remove { id, by_b } => {
                            let had = if by_b {
                                tx.remove::<b::Person>(id)?.map(|p| (p.email, p.name))
                            } else {
                                tx.remove::<a::Person>(id)?.map(|p| (p.email, p.name))
                            };
                            // The record removed is the one the model held.
                            let want = next.remove(&id).map(|(e, n, _)| (e, n));
                            prop_assert_eq_ok(had == want, true)?;
                            last_b = by_b;
                        }
                    }
                }
                Ok(())
            })
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        m = next;
        if !ops.is_empty() {
            check(&store, &m, last_b, false)?;
        }
        if let Some(step) = migrate {
            let interrupted = run_migrate(&store, &step)?;
            if !step.by_b {
                m.values_mut().for_each(|v| v.2 = 0);
            }
            if !interrupted {
                last_b = step.by_b;
            }
            check(&store, &m, last_b, interrupted)?;
        }
    }
    // The versioned release reads every row through From, and builds its own index.
    store.write(|tx| tx.migrate::<c::Person>().map(drop)).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let all = store.read(|tx| tx.scan::<c::Person>().to_vec()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let want: Vec<c::Person> =
        m.iter().map(|(id, (e, n, s))| c::Person { id: *id, label: format!("{n}:{e}:{s}") }).collect();
    prop_assert_eq!(all, want);
    prop_assert!(store.read(|tx| tx.verify::<c::Person>()).unwrap().is_empty());
    Ok(())
}

/// An assertion inside the store's closure (which returns `rivet::Result`).
fn prop_assert_eq_ok(got: bool, want: bool) -> rivet::Result<()> {
    assert_eq!(got, want, "remove's answer");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn releases_interleave_on_one_file(
        txs in prop::collection::vec((prop::collection::vec(op(), 0..6), migrate_step()), 1..12)
    ) {
        run(txs)?;
    }
}
