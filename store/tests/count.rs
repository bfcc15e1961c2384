//! Record counts: a counter per type, kept in the same transaction as the records.

use rivet::count::COUNTS_BUCKET;
use rivet::key::encode;
use rivet::{Problem, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "items")]
struct Item {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    name: String,
}

fn item(name: &str) -> Item {
    Item { id: 0, name: name.into() }
}

fn item_with(id: u64, name: &str) -> Item {
    Item { id, name: name.into() }
}

fn stored_counter(store: &Store) -> Option<u64> {
    let tx = store.engine().begin(false).unwrap();
    let counts = tx.bucket(COUNTS_BUCKET).ok()?;
    let v = counts.get(b"items").unwrap()?;
    Some(u64::from_be_bytes(v.try_into().unwrap()))
}

#[test]
fn the_counter_follows_every_write_and_a_transactions_own_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("c.db")).unwrap();
    store
        .write(|tx| {
            assert_eq!(tx.count::<Item>()?, 0);
            for n in ["a", "b", "c"] {
                tx.insert(&mut item(n))?;
            }
            assert_eq!(tx.count::<Item>()?, 3);
            // Refused writes do not count; replacing does not add.
            assert!(tx.insert(&mut item("a")).is_err());
            tx.upsert(&Item { id: 2, name: "bb".into() })?;
            tx.upsert(&Item { id: 9, name: "new".into() })?;
            assert_eq!(tx.remove::<Item>(1u64)?, Some(item_with(1, "a")));
            assert_eq!(tx.remove::<Item>(1u64)?, None);
            assert_eq!(tx.count::<Item>()?, 3);
            Ok(())
        })
        .unwrap();
    assert_eq!(stored_counter(&store), Some(3));
    // A rolled-back transaction leaves the counter as it was.
    let _ = store.write(|tx| {
        tx.insert(&mut item("z"))?;
        Err::<(), _>(rivet::Error::NotFound { bucket: "items".into(), key: "(rollback)".into() })
    });
    assert_eq!(store.read(|tx| tx.count::<Item>()).unwrap(), 3);
    assert_eq!(store.read(|tx| tx.verify::<Item>()).unwrap(), vec![]);
}

#[test]
fn count_reads_the_counter_and_verify_compares_it_with_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("c.db")).unwrap();
    store.write(|tx| (0..10).try_for_each(|i| tx.insert(&mut item(&format!("i{i}"))).map(drop))).unwrap();
    // A record removed behind the store's back: the counter (what count answers, without
    // walking) still says 10, and verify says so.
    store.engine().update(|tx| tx.bucket_mut(b"items")?.delete(&encode(&4u64))).unwrap();
    assert_eq!(store.read(|tx| tx.count::<Item>()).unwrap(), 10);
    let problems = store.read(|tx| tx.verify::<Item>()).unwrap();
    assert!(problems.contains(&Problem::Count { stored: 10, records: 9 }), "{problems:?}");
}

#[test]
fn a_file_without_counters_is_counted_by_walking_until_its_first_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("c.db")).unwrap();
    store.write(|tx| (0..7).try_for_each(|i| tx.insert(&mut item(&format!("i{i}"))).map(drop))).unwrap();
    // As an older Rivet left it: no counters.
    store.engine().update(|tx| tx.delete_bucket(COUNTS_BUCKET)).unwrap();
    assert_eq!(stored_counter(&store), None);
    assert_eq!(store.read(|tx| tx.count::<Item>()).unwrap(), 7);
    assert_eq!(store.read(|tx| tx.verify::<Item>()).unwrap(), vec![]);
    store
        .write(|tx| {
            tx.insert(&mut item("x"))?;
            assert_eq!(tx.count::<Item>()?, 8);
            Ok(())
        })
        .unwrap();
    assert_eq!(stored_counter(&store), Some(8));
    assert_eq!(store.read(|tx| tx.count::<Item>()).unwrap(), 8);
}
