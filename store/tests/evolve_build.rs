//! Bounded index builds: `Store::migrate` fills new indexes a batch of records per durable
//! transaction, resumes after an interruption, and never lets a query read a half-built index.

use std::panic::{catch_unwind, AssertUnwindSafe};

use rivet::catalog::{Entry, CATALOG_BUCKET};
use rivet::stored::{audit_stored, StoredType, Unverified};
use rivet::{Error, Migrated, Record, Store};
use serde::{Deserialize, Serialize};

const ROWS: u64 = 1_000;

mod before {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key]
        pub id: u64,
        pub email: String,
        pub city: String,
    }
}

mod after {
    use super::*;

    /// The same layout, two new indexes.
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        #[index]
        pub city: String,
    }
}

fn city(i: u64) -> String {
    ["Oslo", "Rome", "Lima"][(i % 3) as usize].to_string()
}

/// A store with `ROWS` users written before the indexes existed; `email_of` names each email.
fn store_with_users(email_of: impl Fn(u64) -> String) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("b.db")).unwrap();
    store
        .write(|tx| {
            for i in 1..=ROWS {
                tx.insert(&mut before::User { id: i, email: email_of(i), city: city(i) })?;
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

fn entry_text(store: &Store) -> String {
    let tx = store.engine().begin(false).unwrap();
    let e = tx.bucket(CATALOG_BUCKET).unwrap().get(b"users").unwrap().unwrap().to_vec();
    String::from_utf8(e).unwrap()
}

/// Runs `store.migrate` until the progress callback has been called `stop_after` times, then
/// interrupts it (as a crash between two transactions would).
fn interrupted_migrate(store: &Store, batch: usize, stop_after: usize) -> Vec<Migrated> {
    let mut seen = Vec::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        store.migrate::<after::User>(batch, |m| {
            seen.push(*m);
            if seen.len() == stop_after {
                panic!("interrupted");
            }
        })
    }));
    assert!(r.is_err(), "the migration should have been interrupted");
    seen
}

#[test]
fn indexes_are_filled_a_batch_per_transaction() {
    let (_d, store) = store_with_users(|i| format!("u{i}@x"));
    let txid = store.engine().begin(false).unwrap().id();
    let mut seen = Vec::new();
    let done = store.migrate::<after::User>(300, |m| seen.push(*m)).unwrap();
    assert_eq!(done, Migrated { indexed: 2 * ROWS as usize, rewritten: 0 });
    // One index at a time, 300 records a transaction: 4 batches each; no value to rewrite.
    let indexed: Vec<usize> = seen.iter().map(|m| m.indexed).collect();
    assert_eq!(indexed, [300, 600, 900, 1000, 1300, 1600, 1900, 2000]);
    // 8 batches (the first also registers the type), each its own durable transaction.
    assert_eq!(store.engine().begin(false).unwrap().id(), txid + 8);
    assert!(!entry_text(&store).contains("building"), "{}", entry_text(&store));
    assert_eq!(store.read(|tx| tx.verify::<after::User>()).unwrap(), vec![]);
    store
        .read(|tx| {
            // Users 1, 4, ..., 1000.
            assert_eq!(tx.index(after::User::city).equal("Rome").count()?, 334);
            assert_eq!(tx.index(after::User::email).get("u77@x")?.map(|u| u.id), Some(77));
            Ok(())
        })
        .unwrap();
    // Nothing left: a second call does nothing and writes nothing.
    let txid = store.engine().begin(false).unwrap().id();
    assert_eq!(store.migrate::<after::User>(300, |_| {}).unwrap(), Migrated::default());
    assert_eq!(store.engine().begin(false).unwrap().id(), txid, "no write transaction at all");
}

#[test]
fn an_interrupted_build_resumes_where_it_stopped_and_is_never_queried_half_built() {
    let (_d, store) = store_with_users(|i| format!("u{i}@x"));
    let seen = interrupted_migrate(&store, 250, 2);
    assert_eq!(seen.last().unwrap().indexed, 500);
    let text = entry_text(&store);
    // The first index (email) is half built, the second waits its turn.
    assert!(text.contains("building email = next "), "{text}");
    assert!(text.contains("building city = next - (city: string)"), "{text}");
    store
        .read(|tx| {
            let e = tx.index(after::User::email).get("u1@x").unwrap_err();
            assert!(matches!(e, Error::IndexNotBuilt { ref index, .. } if index == "email"), "{e}");
            // Only built indexes are verified.
            assert_eq!(tx.verify::<after::User>()?, vec![]);
            Ok(())
        })
        .unwrap();
    // `rivet check`'s audit says the build is under way instead of reporting missing entries.
    {
        let tx = store.engine().begin(false).unwrap();
        let entry = Entry::parse(text.as_bytes()).unwrap();
        let audit = audit_stored(&tx, &StoredType::new(b"users".to_vec(), entry)).unwrap();
        assert_eq!(audit.problems, vec![]);
        assert!(audit.unverified.contains(&Unverified::Building { index: "email".into() }), "{audit:?}");
    }
    // Resumed: the 500 records already indexed are not read again for that index.
    let done = store.migrate::<after::User>(250, |_| {}).unwrap();
    assert_eq!(done.indexed, 500 + ROWS as usize);
    assert!(!entry_text(&store).contains("building"));
    assert_eq!(store.read(|tx| tx.verify::<after::User>()).unwrap(), vec![]);
    assert_eq!(store.read(|tx| tx.index(after::User::email).get("u999@x")).unwrap().map(|u| u.id), Some(999));
}

#[test]
fn a_write_during_a_bounded_build_finishes_it_first() {
    let (_d, store) = store_with_users(|i| format!("u{i}@x"));
    interrupted_migrate(&store, 100, 3);
    // An ordinary write of the type: the build is finished in its transaction, then the write
    // maintains the complete indexes.
    store
        .write(|tx| {
            tx.remove::<after::User>(2u64)?;
            tx.insert(&mut after::User { id: 5_000, email: "new@x".into(), city: "Oslo".into() })?;
            tx.update(&after::User { id: 900, email: "moved@x".into(), city: "Lima".into() })
        })
        .unwrap();
    assert!(!entry_text(&store).contains("building"), "{}", entry_text(&store));
    assert_eq!(store.read(|tx| tx.verify::<after::User>()).unwrap(), vec![]);
    store
        .read(|tx| {
            assert_eq!(tx.index(after::User::email).get("moved@x")?.map(|u| u.id), Some(900));
            assert_eq!(tx.index(after::User::email).get("u900@x")?, None);
            assert_eq!(tx.index(after::User::email).get("u2@x")?, None);
            // Oslo: 333, less user 900 (moved to Lima), plus user 5000; Lima: 333, less user 2
            // (removed), plus user 900.
            assert_eq!(tx.index(after::User::city).equal("Oslo").count()?, 333);
            assert_eq!(tx.index(after::User::city).equal("Lima").count()?, 333);
            Ok(())
        })
        .unwrap();
    // Nothing left for migrate.
    assert_eq!(store.migrate::<after::User>(100, |_| {}).unwrap(), Migrated::default());
}

#[test]
fn a_collision_met_by_a_later_batch_names_both_keys_and_writes_nothing() {
    // Users 3 and 950 share an email: they fall in different batches of 100.
    let (_d, store) = store_with_users(|i| if i == 950 { "u3@x".into() } else { format!("u{i}@x") });
    let before = entry_text(&store);
    let e = store.migrate::<after::User>(100, |_| {}).unwrap_err();
    match &e {
        Error::UniqueCollision { index, value, first, second, .. } => {
            assert_eq!((index.as_str(), value.as_str()), ("email", "\"u3@x\""));
            assert_eq!((first.as_str(), second.as_str()), ("3", "950"));
        }
        other => panic!("unexpected {other}"),
    }
    // The batches before the collision stay committed; the one that met it wrote nothing.
    let text = entry_text(&store);
    assert_ne!(text, before);
    let next_line = text.lines().find(|l| l.starts_with("building email = next ")).unwrap();
    let expected_next: String = rivet::key::encode(&901u64).iter().map(|b| format!("{b:02x}")).collect();
    assert!(next_line.contains(&expected_next), "{next_line}");
    // The previous release (no indexes) still reads and writes the bucket, dropping the build.
    store.write(|tx| tx.update(&before::User { id: 950, email: "u950@x".into(), city: city(950) })).unwrap();
    assert!(!entry_text(&store).contains("building"));
    // Now the build succeeds.
    assert_eq!(store.migrate::<after::User>(100, |_| {}).unwrap().indexed, 2 * ROWS as usize);
    assert_eq!(store.read(|tx| tx.verify::<after::User>()).unwrap(), vec![]);
}

mod v2 {
    use super::*;

    /// Version 2 of `before::User`: the city becomes a list.
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users", version = 2, from = before::User)]
    pub struct User {
        #[key]
        pub id: u64,
        pub email: String,
        pub cities: Vec<String>,
    }

    impl From<before::User> for User {
        fn from(u: before::User) -> Self {
            User { id: u.id, email: u.email, cities: vec![u.city] }
        }
    }
}

mod v2_alone {
    use super::*;

    /// Version 2 as a later program declares it, without its chain.
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users", version = 2)]
    pub struct User {
        #[key]
        pub id: u64,
        pub email: String,
        pub cities: Vec<String>,
    }
}

#[test]
fn layouts_no_value_has_are_dropped_after_a_whole_pass() {
    let (_d, store) = store_with_users(|i| format!("u{i}@x"));
    // Without the chain, version 2 cannot read version 1's rows: refused, nothing written.
    let e = store.read(|tx| tx.get::<v2_alone::User>(1u64)).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
    // An interrupted rewrite leaves both layouts listed: some values still have the old one.
    let mut calls = 0;
    let r = catch_unwind(AssertUnwindSafe(|| {
        store.migrate::<v2::User>(400, |_| {
            calls += 1;
            if calls == 1 {
                panic!("interrupted");
            }
        })
    }));
    assert!(r.is_err());
    let text = entry_text(&store);
    assert!(text.contains("layout 1 = ") && text.contains("layout 2 = "), "{text}");
    // The whole pass: every value is in layout 2, so layout 1 goes.
    let done = store.migrate::<v2::User>(400, |_| {}).unwrap();
    assert_eq!(done.rewritten, ROWS as usize - 400);
    let text = entry_text(&store);
    assert!(!text.contains("layout 1 = ") && text.contains("layout 2 = version 2 "), "{text}");
    // Now the chain is no longer needed.
    let u = store.read(|tx| tx.get::<v2_alone::User>(7u64)).unwrap();
    assert_eq!(u, Some(v2_alone::User { id: 7, email: "u7@x".into(), cities: vec![city(7)] }));
    store
        .write(|tx| tx.insert(&mut v2_alone::User { id: 5_000, email: "n@x".into(), cities: vec![] }).map(drop))
        .unwrap();
    assert_eq!(store.read(|tx| tx.verify::<v2_alone::User>()).unwrap(), vec![]);
}
