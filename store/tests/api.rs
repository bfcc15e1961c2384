//! The typed store's API, one behaviour per test: writes and their errors, aborting on unique
//! violations, catalog checks, decode failures, scans and pagination, index queries, and the
//! storage layout as documented in `store/src/lib.rs`.

use rivet::engine::Error as EngineError;
use rivet::key::encode;
use rivet::{Codec, Error, Mismatch, Options, Problem, Record, Store, Stray};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "users")]
struct User {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    country: String,
    #[index]
    born: Option<i32>,
    name: String,
}

fn user(email: &str, country: &str, born: Option<i32>) -> User {
    User {
        id: 0,
        email: email.into(),
        country: country.into(),
        born,
        name: email.split('@').next().unwrap_or("").into(),
    }
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(index(name = "by_sku_time", fields(sku, at)))]
struct Order {
    #[key]
    user: u64,
    #[key]
    at: i64,
    sku: String,
    cents: i64,
}

fn order(user: u64, at: i64, sku: &str) -> Order {
    Order { user, at, sku: sku.into(), cents: at * 10 }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path().join("api.db"), Options::default().no_sync(true)).unwrap();
    (dir, store)
}

fn seed_users(store: &Store) {
    store
        .write(|tx| {
            for u in [
                user("ada@example.com", "GB", Some(1815)),
                user("grace@example.com", "US", Some(1906)),
                user("alan@example.com", "GB", Some(1912)),
                user("anon@example.com", "NO", None),
            ] {
                tx.insert(&mut { u })?;
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn insert_assigns_autoincrement_ids() {
    let (_d, store) = store();
    let ids = store
        .write(|tx| {
            let a = tx.insert(&mut user("a@x", "GB", None))?;
            let mut b = user("b@x", "GB", None);
            b.id = 777; // ignored: insert assigns the next sequence number
            let b = tx.insert(&mut b)?;
            Ok((a, b))
        })
        .unwrap();
    assert_eq!(ids, (1, 2));
    let (got, seq) = store.read(|tx| Ok((tx.get::<User>(2)?, tx.sequence::<User>()?))).unwrap();
    assert_eq!(got.map(|u| u.email), Some("b@x".to_string()));
    assert_eq!(seq, 2);
}

#[test]
fn explicit_auto_keys_move_the_sequence_up() {
    let (_d, store) = store();
    store
        .write(|tx| {
            let mut u = user("a@x", "GB", None);
            u.id = 10;
            tx.upsert(&u)?;
            let next = tx.insert(&mut user("b@x", "GB", None))?;
            assert_eq!(next, 11);
            Ok(())
        })
        .unwrap();
}

#[test]
fn sequence_rolls_back_with_the_transaction() {
    let (_d, store) = store();
    let r: Result<(), Error> = store.write(|tx| {
        tx.insert(&mut user("a@x", "GB", None))?;
        Err(Error::NotFound { bucket: "test".into(), key: "rollback".into() })
    });
    assert!(r.is_err());
    let id = store.write(|tx| tx.insert(&mut user("a@x", "GB", None))).unwrap();
    assert_eq!(id, 1);
}

#[test]
fn insert_refuses_an_existing_key_and_writes_nothing() {
    let (_d, store) = store();
    store.write(|tx| tx.insert(&mut order(1, 5, "a")).map(drop)).unwrap();
    let r = store.write(|tx| {
        let e = tx.insert(&mut order(1, 5, "other")).unwrap_err();
        assert!(matches!(&e, Error::DuplicateKey { bucket, key } if bucket == "order" && key == "(1, 5)"), "{e}");
        // A duplicate key does not abort the transaction: handle it and carry on.
        tx.insert(&mut order(1, 6, "b"))?;
        Ok(())
    });
    r.unwrap();
    let all = store.read(|tx| tx.scan::<Order>().to_vec()).unwrap();
    assert_eq!(all, vec![order(1, 5, "a"), order(1, 6, "b")]);
    let found = store.read(|tx| tx.index(Order::by_sku_time).prefix(("other",)).count()).unwrap();
    assert_eq!(found, 0);
}

#[test]
fn update_needs_an_existing_record() {
    let (_d, store) = store();
    let e = store.write(|tx| tx.update(&order(9, 9, "x"))).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
    assert_eq!(e.to_string(), "not found: no record with key (9, 9) in bucket `order`");
}

#[test]
fn upsert_and_update_move_index_entries() {
    let (_d, store) = store();
    seed_users(&store);
    store
        .write(|tx| {
            let mut ada = tx.get::<User>(1)?.unwrap();
            ada.email = "countess@example.com".into();
            ada.country = "IT".into();
            ada.born = None;
            tx.update(&ada)
        })
        .unwrap();
    store
        .read(|tx| {
            assert!(tx.index(User::email).get("ada@example.com")?.is_none());
            assert_eq!(tx.index(User::email).get("countess@example.com")?.map(|u| u.id), Some(1));
            assert_eq!(tx.index(User::country).equal("GB").keys().collect::<Result<Vec<_>, _>>()?, [3]);
            assert_eq!(tx.index(User::country).equal("IT").count()?, 1);
            assert_eq!(tx.index(User::born).scan().count()?, 2, "None values are not in a sparse index");
            assert!(tx.verify::<User>()?.is_empty());
            Ok(())
        })
        .unwrap();
}

#[test]
fn remove_deletes_the_record_and_its_entries() {
    let (_d, store) = store();
    seed_users(&store);
    let (removed, again) = store.write(|tx| Ok((tx.remove::<User>(2)?, tx.remove::<User>(2)?))).unwrap();
    assert_eq!(removed.map(|u| u.email), Some("grace@example.com".to_string()));
    assert!(again.is_none());
    store
        .read(|tx| {
            assert_eq!(tx.count::<User>()?, 3);
            assert!(tx.index(User::email).get("grace@example.com")?.is_none());
            assert_eq!(tx.index(User::country).equal("US").count()?, 0);
            assert!(tx.verify::<User>()?.is_empty());
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_unique_violation_writes_nothing_and_leaves_the_transaction_usable() {
    let (_d, store) = store();
    seed_users(&store);
    let r = store.write(|tx| {
        tx.insert(&mut user("new@example.com", "SE", None))?;
        let e = tx.insert(&mut user("ada@example.com", "SE", None)).unwrap_err();
        assert!(
            matches!(&e, Error::UniqueViolation { bucket, index, value }
                if bucket == "users" && index == "email" && value == "ada@example.com"),
            "{e:?}"
        );
        assert!(!tx.is_aborted());
        // The next write goes on: its own value is judged, not the earlier one.
        tx.insert(&mut user("x@example.com", "SE", None))?;
        Ok(())
    });
    r.unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.count::<User>()?, 6);
            assert!(tx.index(User::email).get("new@example.com")?.is_some());
            assert!(tx.index(User::email).get("x@example.com")?.is_some());
            Ok(())
        })
        .unwrap();
    // Returned from the closure, the violation rolls the transaction back.
    let e = store
        .write(|tx| {
            tx.insert(&mut user("y@example.com", "SE", None))?;
            tx.insert(&mut user("ada@example.com", "SE", None)).map(drop)
        })
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "unique violation: index `email` of `users` already has a record with value ada@example.com"
    );
    assert_eq!(store.read(|tx| tx.index(User::email).get("y@example.com")).unwrap(), None);
}

#[test]
fn upsert_refuses_an_unassigned_auto_key() {
    let (_d, store) = store();
    seed_users(&store);
    let e = store.write(|tx| tx.upsert(&user("zero@example.com", "SE", None))).unwrap_err();
    assert!(matches!(&e, Error::Unassigned { bucket } if bucket == "users"), "{e}");
    assert_eq!(store.read(|tx| tx.get::<User>(0u64)).unwrap(), None);
}

#[test]
fn a_record_may_keep_its_own_unique_value() {
    let (_d, store) = store();
    seed_users(&store);
    store
        .write(|tx| {
            let mut ada = tx.get::<User>(1)?.unwrap();
            ada.name = "Augusta".into();
            tx.upsert(&ada)?;
            // Swap two unique values through a free one.
            let mut grace = tx.get::<User>(2)?.unwrap();
            let mut alan = tx.get::<User>(3)?.unwrap();
            std::mem::swap(&mut grace.email, &mut alan.email);
            let keep = grace.email.clone();
            grace.email = "tmp@example.com".into();
            tx.update(&grace)?;
            tx.update(&alan)?;
            grace.email = keep;
            tx.update(&grace)
        })
        .unwrap();
    store
        .read(|tx| {
            assert_eq!(tx.index(User::email).get("grace@example.com")?.map(|u| u.id), Some(3));
            assert_eq!(tx.index(User::email).get("alan@example.com")?.map(|u| u.id), Some(2));
            assert!(tx.verify::<User>()?.is_empty());
            Ok(())
        })
        .unwrap();
}

mod other {
    use super::*;

    /// Another type that claims the `users` bucket.
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct Customer {
        #[key]
        pub code: String,
    }

    /// `User` as it might look after an edit: `country` is no longer indexed, `nick` is.
    #[derive(Record, Serialize, Deserialize, Debug)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub country: String,
        #[index]
        pub born: Option<i32>,
        #[index]
        pub nick: String,
    }

    pub mod v2 {
        use super::*;

        /// `User` with a new format version (and the same key and indexes).
        #[derive(Record, Serialize, Deserialize, Debug)]
        #[rivet(bucket = "users", version = 2)]
        pub struct User {
            #[key(auto)]
            pub id: u64,
            #[index(unique)]
            pub email: String,
            #[index]
            pub country: String,
            #[index]
            pub born: Option<i32>,
        }
    }
}

#[test]
fn a_second_type_cannot_claim_a_bucket() {
    let (_d, store) = store();
    // In one transaction: the second type fails on first use, before writing anything.
    let e = store
        .write(|tx| {
            tx.insert(&mut user("a@x", "GB", None))?;
            tx.upsert(&other::Customer { code: "c1".into() })
        })
        .unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch { bucket, reason: Mismatch::OtherType { owner, type_name } }
        if bucket == "users" && owner == "User" && type_name == "Customer"),
        "{e}"
    );
    // Across transactions, reads fail the same way.
    seed_users(&store);
    let e = store.read(|tx| tx.get::<other::Customer>("c1")).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
    let e = store.read(|tx| tx.scan::<other::Customer>().count()).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }), "{e}");
}

#[test]
fn a_changed_type_is_a_schema_mismatch_saying_what_changed() {
    let (_d, store) = store();
    seed_users(&store);
    // A new field without a default cannot be read from the old values.
    let e = store.read(|tx| tx.get::<other::User>(1)).unwrap_err();
    assert!(
        matches!(&e, Error::SchemaMismatch { reason: Mismatch::NewField { field, version: 1, .. }, .. } if field == "nick"),
        "{e}"
    );
    assert!(e.to_string().contains("#[serde(default)]"), "{e}");
    // A new version without `from` has no way to read version 1.
    let e = store
        .write(|tx| tx.upsert(&other::v2::User { id: 1, email: "a@x".into(), country: "GB".into(), born: None }))
        .unwrap_err();
    assert!(matches!(&e, Error::SchemaMismatch { reason: Mismatch::NoType { version: 1, .. }, .. }), "{e}");
    assert_eq!(store.read(|tx| tx.count::<User>()).unwrap(), 4, "nothing was written");
}

#[test]
fn a_bucket_not_written_by_the_store_is_refused() {
    let (_d, store) = store();
    store.engine().update(|tx| tx.create_bucket(b"order")?.put(b"k", b"v")).unwrap();
    let e = store.read(|tx| tx.count::<Order>()).unwrap_err();
    assert!(matches!(&e, Error::SchemaMismatch { reason: Mismatch::Unmanaged { .. }, .. }), "{e}");
    let e = store.write(|tx| tx.insert(&mut order(1, 1, "x"))).unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { .. }));
}

#[test]
fn undecodable_values_are_errors_never_skipped() {
    let (_d, store) = store();
    store
        .write(|tx| {
            for at in 1..=3 {
                tx.insert(&mut order(1, at, "a"))?;
            }
            Ok(())
        })
        .unwrap();
    // Damage the middle record's value behind the store's back.
    let key = encode(&(1u64, 2i64));
    store.engine().update(|tx| tx.bucket_mut(b"order")?.put(&key, &[0xFF; 3])).unwrap();
    store
        .read(|tx| {
            let e = tx.get::<Order>((1, 2)).unwrap_err();
            assert!(matches!(&e, Error::Decode { bucket, key, .. } if bucket == "order" && key == "(1, 2)"), "{e}");
            let items: Vec<Result<Order, Error>> = tx.scan::<Order>().collect();
            assert_eq!(items.len(), 2, "one record, then the error, then the end");
            assert!(items[0].is_ok());
            assert!(matches!(items[1], Err(Error::Decode { .. })));
            // Counting needs no decoding.
            assert_eq!(tx.count::<Order>()?, 3);
            Ok(())
        })
        .unwrap();
    // A write that must decode the old value (for its index entries) fails and writes nothing.
    let e = store.write(|tx| tx.upsert(&order(1, 2, "b"))).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
}

#[test]
fn primary_key_ranges_prefixes_and_pagination() {
    let (_d, store) = store();
    store
        .write(|tx| {
            for user in [1u64, 2, 3] {
                for at in [-20i64, -5, 0, 7, 30] {
                    tx.insert(&mut order(user, at, "sku"))?;
                }
            }
            Ok(())
        })
        .unwrap();
    let keys = |q: rivet::Query<'_, Order>| q.keys().collect::<Result<Vec<(u64, i64)>, Error>>();
    store
        .read(|tx| {
            assert_eq!(keys(tx.prefix::<Order>((2,)))?, [(2, -20), (2, -5), (2, 0), (2, 7), (2, 30)]);
            assert_eq!(keys(tx.range::<Order>((2, -5)..(2, 7)))?, [(2, -5), (2, 0)]);
            assert_eq!(keys(tx.range::<Order>((2, -5)..=(2, 7)))?, [(2, -5), (2, 0), (2, 7)]);
            assert_eq!(tx.range::<Order>((1,)..(3,)).count()?, 10, "a range of prefixes");
            assert_eq!(tx.range::<Order>((1,)..=(3,)).count()?, 15);
            assert_eq!(tx.range::<Order>((3, 0)..).count()?, 3);
            assert_eq!(tx.range::<Order>(..(1, 0)).count()?, 2);
            assert_eq!(keys(tx.prefix::<Order>((3,)).rev().limit(2))?, [(3, 30), (3, 7)]);
            // Pagination, forwards and backwards.
            let mut pages = Vec::new();
            let mut after: Option<(u64, i64)> = None;
            loop {
                let q = tx.prefix::<Order>((1,)).limit(2);
                let q = match after {
                    Some(k) => q.after(k),
                    None => q,
                };
                let page = keys(q)?;
                if page.is_empty() {
                    break;
                }
                after = page.last().copied();
                pages.push(page);
            }
            assert_eq!(pages, vec![vec![(1, -20), (1, -5)], vec![(1, 0), (1, 7)], vec![(1, 30)]]);
            assert_eq!(keys(tx.scan::<Order>().rev().after((2, -20)).limit(3))?, [(1, 30), (1, 7), (1, 0)]);
            assert!(tx.get::<Order>((2, 7))?.is_some());
            assert!(tx.contains::<Order>((2, 8)).map(|c| !c)?);
            Ok(())
        })
        .unwrap();
}

#[test]
fn index_queries_by_equality_range_and_prefix() {
    let (_d, store) = store();
    seed_users(&store);
    store
        .write(|tx| {
            tx.insert(&mut order(1, 100, "loom"))?;
            tx.insert(&mut order(2, 50, "gear"))?;
            tx.insert(&mut order(3, 75, "gear"))?;
            tx.insert(&mut order(1, 20, "gear"))?;
            Ok(())
        })
        .unwrap();
    store
        .read(|tx| {
            let ids = |q: rivet::IndexQuery<'_, User, String>| q.keys().collect::<Result<Vec<u64>, Error>>();
            assert_eq!(ids(tx.index(User::country).equal("GB"))?, [1, 3]);
            assert_eq!(ids(tx.index(User::country).range("GB".."US"))?, [1, 3, 4]);
            assert_eq!(ids(tx.index(User::country).scan().rev())?, [2, 4, 3, 1]);
            assert_eq!(ids(tx.index(User::email).range("al".."b"))?, [3, 4]);
            let born: Vec<u64> = tx.index(User::born).range(1900..).keys().collect::<Result<_, _>>()?;
            assert_eq!(born, [2, 3]);
            // Index pagination continues after the last record of the previous page.
            let first = tx.index(User::country).scan().limit(2).to_vec()?;
            let rest = tx.index(User::country).scan().after(&first[1]).keys().collect::<Result<Vec<_>, _>>()?;
            assert_eq!(rest, [4, 2]);
            // A composite index: by sku, then time.
            let gears: Vec<(u64, i64)> =
                tx.index(Order::by_sku_time).prefix(("gear",)).keys().collect::<Result<_, _>>()?;
            assert_eq!(gears, [(1, 20), (2, 50), (3, 75)]);
            let mid = tx.index(Order::by_sku_time).range(("gear".to_string(), 30)..("gear".to_string(), 80)).count()?;
            assert_eq!(mid, 2);
            Ok(())
        })
        .unwrap();
}

#[test]
fn an_unwritten_type_reads_as_empty() {
    let (_d, store) = store();
    store
        .read(|tx| {
            assert_eq!(tx.count::<User>()?, 0);
            assert!(tx.get::<User>(1)?.is_none());
            assert!(tx.index(User::email).get("x")?.is_none());
            assert_eq!(tx.scan::<Order>().count()?, 0);
            Ok(())
        })
        .unwrap();
}

#[test]
fn verify_and_queries_report_tampered_indexes() {
    let (_d, store) = store();
    seed_users(&store);
    let users = b"users".as_slice();
    let email_bucket = User::schema().indexes[0].bucket.clone();
    // Remove a record behind the store's back: its index entries now name nothing.
    store.engine().update(|tx| tx.bucket_mut(users)?.delete(&encode(&2u64))).unwrap();
    store
        .read(|tx| {
            let problems = tx.verify::<User>()?;
            assert!(
                problems.iter().any(|p| matches!(p,
                    Problem::StrayEntry { index, stray: Stray::NoRecord, .. } if index == "email")),
                "{problems:?}"
            );
            let e = tx.index(User::email).get("grace@example.com").unwrap_err();
            assert!(matches!(e, Error::Inconsistent { .. }), "{e}");
            Ok(())
        })
        .unwrap();
    // Remove an index entry: verify reports it missing.
    store
        .engine()
        .update(|tx| tx.bucket_path_mut(&[users, &email_bucket])?.delete(&encode(&"ada@example.com".to_string())))
        .unwrap();
    let problems = store.read(|tx| tx.verify::<User>()).unwrap();
    assert!(
        problems.iter().any(|p| matches!(p, Problem::MissingEntry { index, value, .. }
            if index == "email" && value == "\"ada@example.com\"")),
        "{problems:?}"
    );
}

#[test]
fn storage_layout_is_as_documented() {
    let (_d, store) = store();
    seed_users(&store);
    store.write(|tx| tx.insert(&mut order(1, 100, "loom")).map(drop)).unwrap();
    store
        .engine()
        .view(|tx| {
            let catalog = tx.bucket(b"__rivet_catalog")?;
            let entry = String::from_utf8(catalog.get(b"users")?.unwrap().to_vec()).unwrap();
            assert_eq!(
                entry,
                "format = 2\ntype = User\nversion = 1\ncodec = postcard\nkey = id: u64 (auto)\n\
                 index email = unique (email: string)\nindex country = (country: string)\n\
                 index born = sparse (born: i32)\n\
                 layout 1 = version 1 {id: u64, email: string, country: string, born: option<i32>, name: string}\n"
            );
            let entry = String::from_utf8(catalog.get(b"order")?.unwrap().to_vec()).unwrap();
            assert!(
                entry.contains("key = user: u64, at: i64\nindex by_sku_time = (sku: string, at: i64)\n"),
                "{entry}"
            );
            let users = tx.bucket(b"users")?;
            assert_eq!(users.sequence(), 4);
            // Records: encoded key -> the layout's number (a varint) ++ postcard value.
            let ada = users.get(&1u64.to_be_bytes())?.unwrap();
            assert_eq!(ada[0], 1, "layout 1");
            let decoded: User = postcard::from_bytes(&ada[1..]).unwrap();
            assert_eq!(decoded.email, "ada@example.com");
            // Unique index: index key -> primary key.
            let email = users.bucket(b"index:email")?;
            assert_eq!(email.get(&encode(&"ada@example.com".to_string()))?, Some(&1u64.to_be_bytes()[..]));
            // Non-unique index: index key ++ primary key -> empty.
            let country = users.bucket(b"index:country")?;
            let mut k = encode(&"GB".to_string());
            k.extend_from_slice(&3u64.to_be_bytes());
            assert_eq!(country.get(&k)?, Some(&[][..]));
            // Sparse index: the value inside the Option, and no entry for None.
            let born = users.bucket(b"index:born")?;
            assert_eq!(born.iter().count(), 3);
            let first = born.iter().next().unwrap()?.0.to_vec();
            assert_eq!(&first[..4], &encode(&1815i32)[..]);
            assert!(tx.check()?.is_empty());
            Ok::<_, EngineError>(())
        })
        .unwrap();
}

#[test]
fn index_bucket_names_never_collide_with_keys() {
    // "index:email" is 11 bytes: a valid [u8; 11] key, so the index bucket gets another name.
    assert_eq!(rivet::index_bucket_name::<[u8; 11]>("email"), b"index:email~".to_vec());
    assert_eq!(rivet::index_bucket_name::<u64>("email"), b"index:email".to_vec());

    #[derive(Record, Serialize, Deserialize, Debug, PartialEq)]
    struct Tag {
        #[key]
        raw: [u8; 11],
        #[index]
        email: String,
    }
    let (_d, store) = store();
    store
        .write(|tx| {
            tx.insert(&mut Tag { raw: *b"index:email", email: "e".into() })?;
            tx.insert(&mut Tag { raw: *b"aaaaaaaaaaa", email: "e".into() })?;
            Ok(())
        })
        .unwrap();
    let (all, by_email) =
        store.read(|tx| Ok((tx.scan::<Tag>().count()?, tx.index(Tag::email).equal("e").count()?))).unwrap();
    assert_eq!((all, by_email), (2, 2));
}

#[test]
fn read_only_store_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ro.db");
    {
        let store = Store::open(&path).unwrap();
        seed_users(&store);
    }
    let store = Store::open_with(&path, Options::default().read_only(true)).unwrap();
    assert_eq!(store.read(|tx| tx.count::<User>()).unwrap(), 4);
    let e = store.write(|tx| tx.insert(&mut user("x@x", "GB", None))).unwrap_err();
    assert!(matches!(e, Error::Engine(EngineError::DatabaseReadOnly)), "{e}");
}

/// A codec without its own `encode_into` (the store's write path uses the default).
struct Marked;

impl Codec for Marked {
    const NAME: &'static str = "marked-postcard";
    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
        let mut v = vec![0xAA];
        v.extend(rivet::Postcard::encode(value)?);
        Ok(v)
    }
    fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
        match bytes.split_first() {
            Some((0xAA, rest)) => rivet::Postcard::decode(rest),
            _ => Err("missing marker".into()),
        }
    }
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(codec = Marked)]
struct Note {
    #[key(auto)]
    id: u32,
    #[index(unique)]
    title: String,
}

#[test]
fn a_codec_of_ones_own_writes_its_own_bytes() {
    let (_d, store) = store();
    store
        .write(|tx| {
            for title in ["a", "b", "c"] {
                tx.insert(&mut Note { id: 0, title: title.into() })?;
            }
            tx.update(&Note { id: 2, title: "bee".into() })?;
            Ok(())
        })
        .unwrap();
    let raw =
        store.engine().view(|tx| Ok::<_, EngineError>(tx.bucket(b"note")?.get(&encode(&2u32))?.map(<[u8]>::to_vec)));
    let raw = raw.unwrap();
    assert_eq!(
        raw,
        Some([vec![1, 0xAA], rivet::Postcard::encode(&Note { id: 2, title: "bee".into() }).unwrap()].concat()),
        "the layout's number, then the codec's bytes"
    );
    store
        .read(|tx| {
            assert_eq!(tx.index(Note::title).get("bee")?, Some(Note { id: 2, title: "bee".into() }));
            assert_eq!(tx.index(Note::title).get("b")?, None);
            assert!(tx.verify::<Note>()?.is_empty());
            Ok(())
        })
        .unwrap();
}
