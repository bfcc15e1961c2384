//! Schema evolution, as a user meets it: one file, the program's types changing between
//! releases. Each release's type is declared in its own module with the same bucket.

use rivet::engine::Error as EngineError;
use rivet::{Error, Mismatch, Record, Store};
use serde::{Deserialize, Serialize};

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path().join("evolve.db")).unwrap()
}

/// The first release.
mod v1 {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
    }
}

/// The second release, same version: a field added with a default, and indexed.
mod added {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        #[serde(default)]
        #[index]
        pub country: String,
        pub name: String,
    }
}

/// The second release as a new version whose `From` computes the new field.
mod versioned {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users", version = 2, from = v1::User)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
        #[index]
        pub country: String,
    }

    impl From<v1::User> for User {
        fn from(u: v1::User) -> Self {
            let country = u.email.rsplit('.').next().unwrap_or("").to_uppercase();
            User { id: u.id, email: u.email, name: u.name, country }
        }
    }
}

/// A third version on top of `versioned`: the name split in two.
mod v3 {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users", version = 3, from = versioned::User)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub first: String,
        pub last: String,
        #[index]
        pub country: String,
    }

    impl TryFrom<versioned::User> for User {
        type Error = String;
        fn try_from(u: versioned::User) -> Result<Self, String> {
            if u.name == "refuse" {
                return Err(format!("user {} has no usable name", u.id));
            }
            let (first, last) = u.name.split_once(' ').unwrap_or((&u.name, ""));
            Ok(User { id: u.id, email: u.email, first: first.into(), last: last.into(), country: u.country })
        }
    }
}

fn email(i: u64) -> String {
    let tld = ["uk", "fr", "de"][(i % 3) as usize];
    format!("user{i}@example.{tld}")
}

fn seed_v1(store: &Store, n: u64) {
    store
        .write(|tx| {
            for i in 1..=n {
                tx.insert(&mut v1::User { id: 0, email: email(i), name: format!("Name {i}") })?;
            }
            Ok(())
        })
        .unwrap();
}

/// Everything the file holds, as the canonical dump.
fn content(store: &Store) -> String {
    store.engine().view(rivet::engine::dump::dump_json).unwrap()
}

fn go_check_if_available(path: &std::path::Path) {
    // The Go interop suite checks files with bbolt itself; here the engine's own check, which
    // is at least as strict (see docs/format.md, section 15).
    let db = rivet::engine::DB::open(path, rivet::Options::default().read_only(true)).unwrap();
    let problems = db.view(|tx| tx.check()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

#[test]
fn an_added_field_with_a_default_reads_old_rows_and_gets_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    seed_v1(&store, 10_000);
    // Before any write of the new type: rows read with the default, the new index is not built.
    store
        .read(|tx| {
            let u = tx.get::<added::User>(17u64)?.expect("row 17");
            assert_eq!((u.email.as_str(), u.country.as_str()), (email(17).as_str(), ""));
            assert_eq!(tx.scan::<added::User>().count()?, 10_000);
            assert_eq!(tx.scan::<added::User>().filter(|r| r.is_ok()).count(), 10_000, "scans never stop");
            let e = tx.index(added::User::country).equal("").count().unwrap_err();
            assert!(matches!(&e, Error::IndexNotBuilt { index, .. } if index == "country"), "{e}");
            // The unchanged unique index still answers.
            assert_eq!(tx.index(added::User::email).get(email(5))?.map(|u| u.id), Some(5));
            Ok(())
        })
        .unwrap();
    // The first write builds the index from the old rows; old rows update and remove.
    store
        .write(|tx| {
            tx.insert(&mut added::User {
                id: 0,
                email: "new@example.fr".into(),
                country: "FR".into(),
                name: "New".into(),
            })?;
            let mut u = tx.get::<added::User>(3u64)?.unwrap();
            u.country = "DE".into();
            tx.update(&u)?;
            assert!(tx.remove::<added::User>(4u64)?.is_some());
            Ok(())
        })
        .unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.count::<added::User>()?, 10_000);
            assert_eq!(tx.index(added::User::country).equal("").count()?, 9_998, "old rows, default value");
            let fr: Vec<u64> = tx.index(added::User::country).equal("FR").keys().collect::<Result<_, _>>()?;
            assert_eq!(fr, [10_001]);
            assert_eq!(tx.index(added::User::country).equal("DE").keys().collect::<Result<Vec<_>, _>>()?, [3]);
            assert!(tx.verify::<added::User>()?.is_empty());
            Ok(())
        })
        .unwrap();
    // The catalog describes both layouts.
    let entry = store
        .engine()
        .view(|tx| Ok::<_, EngineError>(tx.bucket(b"__rivet_catalog")?.get(b"users")?.map(<[u8]>::to_vec)))
        .unwrap()
        .unwrap();
    let entry = String::from_utf8(entry).unwrap();
    assert!(entry.contains("layout 1 = version 1 {id: u64, email: string, name: string}\n"), "{entry}");
    assert!(
        entry.contains("layout 2 = version 1 {id: u64, email: string, country: string, name: string}\n"),
        "{entry}"
    );
    assert!(entry.contains("index country = (country: string)\n"), "{entry}");
    // Eager migration rewrites the 9,998 untouched old rows, in bounded transactions.
    let mut calls = 0;
    assert_eq!(store.migrate::<added::User>(4_000, |_| calls += 1).unwrap().rewritten, 9_998);
    assert_eq!(calls, 3);
    assert_eq!(store.migrate::<added::User>(4_000, |_| {}).unwrap(), rivet::Migrated::default(), "nothing left");
    assert!(store.read(|tx| tx.verify::<added::User>()).unwrap().is_empty());
    let path = dir.path().join("evolve.db");
    drop(store);
    go_check_if_available(&path);
}

#[test]
fn a_new_version_upgrades_old_rows_through_from_and_indexes_computed_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    seed_v1(&store, 3_000);
    // Reads before the first write: rows come up through From; indexes wait for the write.
    store
        .read(|tx| {
            let u = tx.get::<versioned::User>(2u64)?.unwrap();
            assert_eq!(u.country, "DE");
            let e = tx.index(versioned::User::email).get(email(2)).unwrap_err();
            assert!(matches!(e, Error::IndexNotBuilt { .. }), "a From may change indexed values: {e}");
            Ok(())
        })
        .unwrap();
    store.write(|tx| tx.migrate::<versioned::User>().map(drop)).unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.index(versioned::User::country).equal("UK").count()?, 1_000);
            assert_eq!(tx.index(versioned::User::email).get(email(9))?.map(|u| u.country), Some("UK".into()));
            assert!(tx.verify::<versioned::User>()?.is_empty());
            Ok(())
        })
        .unwrap();
    // The older program is now refused: the file is from its future.
    let e = store.read(|tx| tx.count::<v1::User>()).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { reason: Mismatch::Newer { stored: 2, declared: 1 }, .. }), "{e}");
    let e = store.write(|tx| tx.insert(&mut v1::User { id: 0, email: "x".into(), name: "x".into() })).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { reason: Mismatch::Newer { .. }, .. }), "{e}");
}

#[test]
fn a_three_version_chain_reads_every_row_as_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    seed_v1(&store, 10);
    store
        .write(|tx| {
            tx.insert(&mut versioned::User {
                id: 0,
                email: "v2@x.nl".into(),
                name: "Ada Lovelace".into(),
                country: "NL".into(),
            })
            .map(drop)
        })
        .unwrap();
    store
        .write(|tx| {
            tx.insert(&mut v3::User {
                id: 0,
                email: "v3@x.se".into(),
                first: "Grace".into(),
                last: "Hopper".into(),
                country: "SE".into(),
            })
            .map(drop)
        })
        .unwrap();
    let all = store.read(|tx| tx.scan::<v3::User>().to_vec()).unwrap();
    assert_eq!(all.len(), 12);
    assert_eq!((all[0].first.as_str(), all[0].last.as_str(), all[0].country.as_str()), ("Name", "1", "FR"));
    assert_eq!((all[10].first.as_str(), all[10].last.as_str()), ("Ada", "Lovelace"));
    assert_eq!(all[11].first, "Grace");
    assert!(store.read(|tx| tx.verify::<v3::User>()).unwrap().is_empty());
    // A TryFrom that refuses is an error naming the record and the versions.
    let dir2 = tempfile::tempdir().unwrap();
    let store2 = open(&dir2);
    store2
        .write(|tx| {
            tx.insert(&mut versioned::User { id: 0, email: "r@x".into(), name: "refuse".into(), country: "".into() })
                .map(drop)
        })
        .unwrap();
    let e = store2.read(|tx| tx.get::<v3::User>(1u64)).unwrap_err();
    assert!(matches!(&e, Error::Upgrade { from: 2, to: 3, cause, .. } if cause.contains("no usable name")), "{e}");
}

mod changed_type {
    use super::*;
    /// `name` became a number without a new version.
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: u32,
    }
}

mod reordered {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct User {
        pub name: String,
        #[index(unique)]
        pub email: String,
        #[key(auto)]
        pub id: u64,
    }
}

mod renamed {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        #[rivet(renamed_from = "name")]
        pub full_name: String,
    }
}

mod renamed_silently {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub full_name: String,
    }
}

mod swapped {
    use super::*;
    /// Two string fields swapped: the old code would have read each as the other.
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        pub name: String,
        #[index(unique)]
        pub email: String,
    }
}

#[test]
fn changes_without_a_way_to_read_are_refused_and_others_read_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    seed_v1(&store, 5);
    let before = content(&store);
    // A changed field type: refused, naming the field and both shapes; nothing is written.
    let e = store.read(|tx| tx.get::<changed_type::User>(1u64)).unwrap_err();
    match &e {
        Error::SchemaMismatch { reason: Mismatch::Field { field, stored, declared, version }, .. } => {
            assert_eq!((field.as_str(), stored.as_str(), declared.as_str(), *version), ("name", "string", "u32", 1));
        }
        other => panic!("{other}"),
    }
    let e = store
        .write(|tx| tx.insert(&mut changed_type::User { id: 0, email: "z".into(), name: 1 }).map(drop))
        .unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { reason: Mismatch::Field { .. }, .. }), "{e}");
    // A rename without `renamed_from`: a new field without a default, refused.
    let e = store.read(|tx| tx.get::<renamed_silently::User>(1u64)).unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch { reason: Mismatch::NewField { field, .. }, .. } if field == "full_name"),
        "{e}"
    );
    assert!(content(&store) == before, "the file is unchanged");
    // Reordered and swapped fields read by name, never positionally.
    let u = store.read(|tx| tx.get::<reordered::User>(2u64)).unwrap().unwrap();
    assert_eq!((u.id, u.email.as_str(), u.name.as_str()), (2, email(2).as_str(), "Name 2"));
    let u = store.read(|tx| tx.get::<swapped::User>(3u64)).unwrap().unwrap();
    assert_eq!((u.email.as_str(), u.name.as_str()), (email(3).as_str(), "Name 3"));
    // A declared rename carries the value over.
    let u = store.read(|tx| tx.get::<renamed::User>(4u64)).unwrap().unwrap();
    assert_eq!(u.full_name, "Name 4");
}

mod unique_country {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users", version = 2, from = v1::User)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
        #[index(unique)]
        pub country: String,
    }
    impl From<v1::User> for User {
        fn from(u: v1::User) -> Self {
            let country = u.email.rsplit('.').next().unwrap_or("").to_uppercase();
            User { id: u.id, email: u.email, name: u.name, country }
        }
    }
}

#[test]
fn a_new_unique_index_over_colliding_rows_names_both_keys_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    seed_v1(&store, 6);
    let before = content(&store);
    let e = store.write(|tx| tx.migrate::<unique_country::User>().map(drop)).unwrap_err();
    match &e {
        Error::UniqueCollision { index, value, first, second, .. } => {
            assert_eq!(index, "country");
            assert_eq!(value, "\"DE\"");
            assert_eq!((first.as_str(), second.as_str()), ("2", "5"));
        }
        other => panic!("{other}"),
    }
    assert!(content(&store) == before, "the file is unchanged");
    // The old release still works on it.
    assert_eq!(store.read(|tx| tx.count::<v1::User>()).unwrap(), 6);
}

mod removed_index {
    use super::*;
    /// `email` is no longer indexed.
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        pub email: String,
        pub name: String,
    }
}

#[test]
fn a_removed_index_is_dropped_and_a_removed_field_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    seed_v1(&store, 20);
    store.write(|tx| tx.remove::<removed_index::User>(1u64).map(drop)).unwrap();
    let has_index = store.engine().view(|tx| tx.bucket(b"users")?.has_bucket(b"index:email")).unwrap();
    assert!(!has_index, "the index bucket is dropped");
    assert_eq!(store.read(|tx| tx.count::<removed_index::User>()).unwrap(), 19);
    // Back to a type with the index (and without `name`): it is built again.
    mod back {
        use super::*;
        #[derive(Record, Serialize, Deserialize, Debug)]
        #[rivet(bucket = "users")]
        pub struct User {
            #[key(auto)]
            pub id: u64,
            #[index(unique)]
            pub email: String,
        }
    }
    store.write(|tx| tx.migrate::<back::User>().map(drop)).unwrap();
    assert_eq!(store.read(|tx| tx.index(back::User::email).get(email(7))).unwrap().map(|u| u.id), Some(7));
    assert!(store.read(|tx| tx.verify::<back::User>()).unwrap().is_empty());
}

#[test]
fn a_file_written_before_layouts_were_recorded_is_read_and_converted() {
    // What the previous release wrote: a format 1 entry and values without an envelope.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evolve.db");
    {
        let db = rivet::engine::DB::open(&path, rivet::Options::default()).unwrap();
        db.update(|tx| {
            tx.create_bucket(b"__rivet_catalog")?.put(
                b"users",
                b"format = 1\ntype = User\nversion = 1\ncodec = postcard\nkey = id: u64 (auto)\n\
                  index email = unique (email: string)\n",
            )?;
            let mut users = tx.create_bucket(b"users")?;
            let mut index = Vec::new();
            for i in 1..=3u64 {
                let u = v1::User { id: i, email: email(i), name: format!("Name {i}") };
                users.put(&rivet::key::encode(&i), &postcard::to_allocvec(&u).unwrap())?;
                index.push((rivet::key::encode(&u.email), rivet::key::encode(&i)));
            }
            users.set_sequence(3)?;
            let mut ib = users.create_bucket(b"index:email")?;
            for (k, v) in index {
                ib.put(&k, &v)?;
            }
            Ok::<_, EngineError>(())
        })
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.read(|tx| tx.get::<v1::User>(2u64)).unwrap().unwrap().email, email(2));
    assert_eq!(store.read(|tx| tx.index(v1::User::email).get(email(3))).unwrap().map(|u| u.id), Some(3));
    // The first write converts the bucket; everything still reads.
    store
        .write(|tx| tx.insert(&mut v1::User { id: 0, email: "four@x".into(), name: "Four".into() }).map(drop))
        .unwrap();
    let all = store.read(|tx| tx.scan::<v1::User>().to_vec()).unwrap();
    assert_eq!(all.iter().map(|u| u.id).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert!(store.read(|tx| tx.verify::<v1::User>()).unwrap().is_empty());
    // And a later release that adds a field reads the converted rows.
    assert_eq!(store.read(|tx| tx.get::<added::User>(1u64)).unwrap().unwrap().name, "Name 1");
}
