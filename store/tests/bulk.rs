//! Bulk writes and in-place changes: remove_range, remove_prefix, retain, clear, modify, and the
//! records upsert and remove give back.

use rivet::{Error, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "tickets")]
struct Ticket {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    title: String,
    #[index]
    open: bool,
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Visit {
    #[key]
    user: String,
    #[key]
    at: i64,
    #[index]
    page: String,
}

fn ticket(title: &str, open: bool) -> Ticket {
    Ticket { id: 0, title: title.into(), open }
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("b.db")).unwrap();
    store
        .write(|tx| {
            for (i, t) in ["a", "b", "c", "d", "e"].iter().enumerate() {
                tx.insert(&mut ticket(t, i % 2 == 0))?;
            }
            for user in ["ann", "bob"] {
                for at in 0..4 {
                    tx.insert(&mut Visit { user: user.into(), at, page: format!("/p{at}") })?;
                }
            }
            Ok(())
        })
        .unwrap();
    (dir, store)
}

#[test]
fn removals_by_prefix_and_range_keep_indexes_and_counts() {
    let (_d, store) = store();
    store
        .write(|tx| {
            assert_eq!(tx.remove_prefix::<Visit>(("ann",))?, 4);
            assert_eq!(tx.remove_prefix::<Visit>(("nobody",))?, 0);
            assert_eq!(tx.remove_range::<Visit>(("bob".to_string(), 2)..)?, 2);
            Ok(())
        })
        .unwrap();
    store
        .read(|tx| {
            let left: Vec<(String, i64)> = tx.scan::<Visit>().to_vec()?.into_iter().map(|v| (v.user, v.at)).collect();
            assert_eq!(left, [("bob".to_string(), 0), ("bob".to_string(), 1)]);
            assert_eq!(tx.count::<Visit>()?, 2);
            assert_eq!(tx.index(Visit::page).equal("/p3").count()?, 0);
            assert_eq!(tx.verify::<Visit>()?, vec![]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn retain_and_clear() {
    let (_d, store) = store();
    let removed = store.write(|tx| tx.retain::<Ticket>(|t| t.open)).unwrap();
    assert_eq!(removed, 2);
    store
        .read(|tx| {
            assert_eq!(tx.count::<Ticket>()?, 3);
            assert_eq!(tx.index(Ticket::open).equal(false).count()?, 0);
            assert_eq!(tx.index(Ticket::title).get("b")?, None);
            assert_eq!(tx.verify::<Ticket>()?, vec![]);
            Ok(())
        })
        .unwrap();
    // clear keeps the sequence: ids are never handed out twice.
    assert_eq!(store.write(|tx| tx.clear::<Ticket>()).unwrap(), 3);
    let id = store.write(|tx| tx.insert(&mut ticket("after", true))).unwrap();
    assert_eq!(id, 6);
    store
        .read(|tx| {
            assert_eq!(tx.count::<Ticket>()?, 1);
            assert_eq!(tx.index(Ticket::title).get("a")?, None);
            assert_eq!(tx.verify::<Ticket>()?, vec![]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn modify_changes_in_place_and_refuses_key_changes() {
    let (_d, store) = store();
    let got = store
        .write(|tx| {
            tx.modify::<Ticket, _>(2u64, |t| {
                t.title = "bee".into();
                t.open = true;
                t.title.len()
            })
        })
        .unwrap();
    assert_eq!(got, Some(3));
    assert_eq!(store.write(|tx| tx.modify::<Ticket, _>(99u64, |_| ())).unwrap(), None);
    let e = store.write(|tx| tx.modify::<Ticket, _>(3u64, |t| t.id = 30)).unwrap_err();
    assert!(matches!(&e, Error::KeyChanged { from, to, .. } if from == "3" && to == "30"), "{e}");
    // A unique clash is refused before anything is written, as for update.
    let e = store.write(|tx| tx.modify::<Ticket, _>(3u64, |t| t.title = "a".into())).unwrap_err();
    assert!(matches!(e, Error::UniqueViolation { .. }), "{e}");
    store
        .read(|tx| {
            assert_eq!(tx.index(Ticket::title).get("bee")?.map(|t| t.id), Some(2));
            assert_eq!(tx.get::<Ticket>(3u64)?.map(|t| t.title), Some("c".to_string()));
            assert_eq!(tx.get::<Ticket>(30u64)?, None);
            assert_eq!(tx.verify::<Ticket>()?, vec![]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn upsert_and_remove_give_back_the_old_record() {
    let (_d, store) = store();
    store
        .write(|tx| {
            let old = tx.upsert(&Ticket { id: 1, title: "A".into(), open: false })?;
            assert_eq!(old, Some(Ticket { id: 1, title: "a".into(), open: true }));
            assert_eq!(tx.upsert(&Ticket { id: 50, title: "new".into(), open: false })?, None);
            assert_eq!(tx.remove::<Ticket>(50u64)?.map(|t| t.title), Some("new".to_string()));
            assert_eq!(tx.remove::<Ticket>(50u64)?, None);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_memory_store_leaves_no_file_and_keeps_nothing() {
    let listing = || -> Vec<std::path::PathBuf> {
        let dirs = [std::path::PathBuf::from("/dev/shm"), std::env::temp_dir()];
        dirs.iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("rivet-memory-{}-", std::process::id())))
            })
            .collect()
    };
    let a = Store::memory().unwrap();
    let b = Store::memory().unwrap();
    assert_eq!(listing(), Vec::<std::path::PathBuf>::new(), "no file is left while the stores are open");
    a.write(|tx| tx.insert(&mut ticket("only in a", true)).map(drop)).unwrap();
    assert_eq!(a.read(|tx| tx.count::<Ticket>()).unwrap(), 1);
    assert_eq!(b.read(|tx| tx.count::<Ticket>()).unwrap(), 0, "two memory stores are separate");
    // Large enough to grow the file several times.
    a.write(|tx| (0..5_000).try_for_each(|i| tx.insert(&mut ticket(&format!("t{i}"), i % 2 == 0)).map(drop))).unwrap();
    assert_eq!(a.read(|tx| tx.verify::<Ticket>()).unwrap(), vec![]);
    drop(a);
    assert_eq!(Store::memory().unwrap().read(|tx| tx.count::<Ticket>()).unwrap(), 0);
}
