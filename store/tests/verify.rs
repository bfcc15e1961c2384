//! Index audits: `ReadTx::verify` (with the program's types) and `rivet::stored::audit_stored`
//! (with the catalog alone) find the same damage, done here through the raw engine.

use rivet::catalog::{Entry, CATALOG_BUCKET};
use rivet::key::encode;
use rivet::stored::{audit_stored, StoredType, Unverified};
use rivet::{Problem, Record, Store, Stray};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "people")]
struct Person {
    #[key]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    city: String,
    #[index]
    nick: Option<String>,
    #[index]
    place: (String, u32),
}

fn person(id: u64, email: &str, city: &str, nick: Option<&str>) -> Person {
    Person { id, email: email.into(), city: city.into(), nick: nick.map(Into::into), place: (city.into(), 7) }
}

fn store_with_people() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("v.db")).unwrap();
    store
        .write(|tx| {
            tx.insert(&mut person(1, "ada@x", "London", Some("ada")))?;
            tx.insert(&mut person(2, "bob@x", "Paris", None))?;
            tx.insert(&mut person(3, "cy@x", "London", Some("cy")))?;
            Ok(())
        })
        .unwrap();
    (dir, store)
}

fn index_bucket(name: &str) -> Vec<u8> {
    Person::schema().indexes.iter().find(|i| i.name == name).unwrap().bucket.clone()
}

/// What both audits say of the store.
fn audits(store: &Store) -> (Vec<Problem>, Vec<Problem>, Vec<Unverified>) {
    let typed = store.read(|tx| tx.verify::<Person>()).unwrap();
    let tx = store.engine().begin(false).unwrap();
    let entry = Entry::parse(tx.bucket(CATALOG_BUCKET).unwrap().get(b"people").unwrap().unwrap()).unwrap();
    let stored = audit_stored(&tx, &StoredType::new(b"people".to_vec(), entry)).unwrap();
    (typed, stored.problems, stored.unverified)
}

/// Applies `damage` to the `people` bucket through the engine.
fn damage(store: &Store, damage: impl FnOnce(&mut rivet::engine::BucketMut<'_>) -> rivet::engine::Result<()>) {
    store.engine().update(|tx| damage(&mut tx.bucket_mut(b"people")?)).unwrap();
}

#[test]
fn a_sound_store_has_no_problems_and_everything_is_verified() {
    let (_d, store) = store_with_people();
    let (typed, stored, unverified) = audits(&store);
    assert_eq!(typed, vec![]);
    assert_eq!(stored, vec![]);
    assert_eq!(unverified, vec![]);
}

#[test]
fn a_deleted_unique_entry_is_missing_for_both() {
    let (_d, store) = store_with_people();
    let email = index_bucket("email");
    damage(&store, |b| b.bucket_mut(&email)?.delete(&encode(&"bob@x".to_string())));
    let (typed, stored, _) = audits(&store);
    let want = vec![Problem::MissingEntry { index: "email".into(), record: "2".into(), value: "\"bob@x\"".into() }];
    assert_eq!(typed, want);
    assert_eq!(stored, want);
}

#[test]
fn a_deleted_record_leaves_stray_entries_in_every_index() {
    let (_d, store) = store_with_people();
    damage(&store, |b| b.delete(&encode(&3u64)));
    let (typed, stored, _) = audits(&store);
    for problems in [&typed, &stored] {
        // The counter still counts the record.
        assert!(problems.contains(&Problem::Count { stored: 3, records: 2 }), "{problems:?}");
        let mut strays: Vec<&str> = problems
            .iter()
            .filter(|p| !matches!(p, Problem::Count { .. }))
            .map(|p| match p {
                Problem::StrayEntry { index, stray: Stray::NoRecord, .. } => index.as_str(),
                other => panic!("unexpected {other}"),
            })
            .collect();
        strays.sort();
        assert_eq!(strays, ["city", "email", "nick", "place"], "{problems:?}");
    }
    assert_eq!(typed, stored);
}

#[test]
fn an_entry_with_a_wrong_value_and_a_stray_sparse_entry_are_named() {
    let (_d, store) = store_with_people();
    let city = index_bucket("city");
    let nick = index_bucket("nick");
    damage(&store, |b| {
        let mut c = b.bucket_mut(&city)?;
        // Bob's entry moves from Paris to Rome.
        let mut old = encode(&"Paris".to_string());
        old.extend_from_slice(&encode(&2u64));
        c.delete(&old)?;
        let mut new = encode(&"Rome".to_string());
        new.extend_from_slice(&encode(&2u64));
        c.put(&new, b"")?;
        // Bob has no nick, yet an entry names him.
        let mut n = encode(&"bobby".to_string());
        n.extend_from_slice(&encode(&2u64));
        b.bucket_mut(&nick)?.put(&n, b"")
    });
    let (typed, stored, _) = audits(&store);
    assert_eq!(typed, stored);
    assert!(typed.contains(&Problem::MissingEntry {
        index: "city".into(),
        record: "2".into(),
        value: "\"Paris\"".into()
    }));
    assert!(typed.contains(&Problem::StrayEntry {
        index: "city".into(),
        entry: "\"Rome\"".into(),
        stray: Stray::OtherValue { record: "2".into(), holds: "\"Paris\"".into() },
    }));
    assert!(typed.contains(&Problem::StrayEntry {
        index: "nick".into(),
        entry: "\"bobby\"".into(),
        stray: Stray::NotIndexed { record: "2".into() },
    }));
    assert_eq!(typed.len(), 3, "{typed:?}");
}

#[test]
fn two_records_sharing_a_unique_value_are_named_with_the_value() {
    let (_d, store) = store_with_people();
    // Rewrite record 3's stored value so that its email is Ada's, behind the store's back.
    let same_as_ada = {
        let tx = store.engine().begin(false).unwrap();
        let ada = tx.bucket(b"people").unwrap().get(&encode(&1u64)).unwrap().unwrap().to_vec();
        ada
    };
    // Record 1's value under key 3: emails, cities and nicks collide with Ada's.
    damage(&store, |b| b.put(&encode(&3u64), &same_as_ada));
    let (typed, stored, _) = audits(&store);
    assert_eq!(typed, stored);
    assert!(
        typed.contains(&Problem::SharedValue {
            index: "email".into(),
            value: "\"ada@x\"".into(),
            first: "1".into(),
            second: "3".into()
        }),
        "{typed:?}"
    );
    // Record 3's old entries are stray, its new non-unique entries missing.
    assert!(typed.iter().any(|p| matches!(p, Problem::StrayEntry { index, stray: Stray::OtherValue { .. }, .. }
        if index == "email")));
    assert!(typed.iter().any(|p| matches!(p, Problem::MissingEntry { index, .. } if index == "nick")));
}

#[test]
fn entries_holding_values_nested_buckets_and_a_lost_index_bucket_are_reported() {
    let (_d, store) = store_with_people();
    let (city, place) = (index_bucket("city"), index_bucket("place"));
    damage(&store, |b| {
        {
            let mut c = b.bucket_mut(&city)?;
            let mut k = encode(&"London".to_string());
            k.extend_from_slice(&encode(&1u64));
            c.put(&k, b"junk")?;
            c.create_bucket(b"zzz")?;
        }
        b.delete_bucket(&place)
    });
    let (typed, stored, _) = audits(&store);
    assert_eq!(typed, stored);
    assert!(typed.iter().any(|p| matches!(p, Problem::EntryValue { index, .. } if index == "city")), "{typed:?}");
    assert!(typed.iter().any(|p| matches!(p, Problem::NestedBucket { index, .. } if index == "city")));
    assert!(typed.iter().any(|p| matches!(p, Problem::IndexBucket { index, .. } if index == "place")));
}

#[test]
fn a_value_that_does_not_decode_is_a_problem_by_layout_and_an_error_by_type() {
    let (_d, store) = store_with_people();
    // Layout 1's envelope, then bytes that are not a Person.
    damage(&store, |b| b.put(&encode(&2u64), &[1, 0xff, 0xff]));
    assert!(matches!(store.read(|tx| tx.verify::<Person>()), Err(rivet::Error::Decode { .. })));
    let tx = store.engine().begin(false).unwrap();
    let entry = Entry::parse(tx.bucket(CATALOG_BUCKET).unwrap().get(b"people").unwrap().unwrap()).unwrap();
    let audit = audit_stored(&tx, &StoredType::new(b"people".to_vec(), entry)).unwrap();
    assert!(
        audit.problems.iter().any(|p| matches!(p, Problem::BadRecord { key, .. } if key == "2")),
        "{:?}",
        audit.problems
    );
    // Bob's entries can no longer be explained: they are counted, not judged.
    assert!(
        audit.unverified.iter().any(|u| matches!(u, Unverified::Records { count: 1, .. })),
        "{:?}",
        audit.unverified
    );
}

mod older {
    use super::*;

    /// Version 1 of a type whose version 2 adds an indexed field.
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "people", version = 1)]
    pub struct Person {
        #[key]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        #[index]
        pub city: String,
        #[index]
        pub nick: Option<String>,
        #[index]
        pub place: (String, u32),
    }
}

mod newer {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "people", version = 2, from = older::Person)]
    pub struct Person {
        #[key]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        #[index]
        pub city: String,
        #[index]
        pub country: String,
    }

    impl From<older::Person> for Person {
        fn from(p: older::Person) -> Self {
            Person { id: p.id, email: p.email, city: p.city.clone(), country: format!("{}-land", p.city) }
        }
    }
}

#[test]
fn records_of_an_older_version_are_counted_not_judged_by_layout() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("old.db")).unwrap();
    store
        .write(|tx| {
            for (id, email) in [(1u64, "a@x"), (2, "b@x")] {
                let mut p = older::Person {
                    id,
                    email: email.into(),
                    city: "Oslo".into(),
                    nick: None,
                    place: ("Oslo".into(), 1),
                };
                tx.insert(&mut p)?;
            }
            Ok(())
        })
        .unwrap();
    // The new version's first write builds its indexes; one record is written at version 2.
    store
        .write(|tx| {
            tx.insert(&mut newer::Person { id: 3, email: "c@x".into(), city: "Rome".into(), country: "Italy".into() })
                .map(drop)
        })
        .unwrap();
    assert_eq!(store.read(|tx| tx.verify::<newer::Person>()).unwrap(), vec![]);
    let tx = store.engine().begin(false).unwrap();
    let entry = Entry::parse(tx.bucket(CATALOG_BUCKET).unwrap().get(b"people").unwrap().unwrap()).unwrap();
    let audit = audit_stored(&tx, &StoredType::new(b"people".to_vec(), entry)).unwrap();
    assert_eq!(audit.problems, vec![]);
    // The two version 1 records' values in every index come from the program's `From`.
    let mut counted: Vec<(String, u64)> = audit
        .unverified
        .iter()
        .map(|u| match u {
            Unverified::Records { index, count } => (index.clone(), *count),
            other => panic!("unexpected {other}"),
        })
        .collect();
    counted.sort();
    assert_eq!(counted, [("city".to_string(), 2), ("country".to_string(), 2), ("email".to_string(), 2)]);
}
