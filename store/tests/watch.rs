//! Change subscriptions: every committed change, in commit order, after the commit; nothing
//! from rolled-back transactions; a bounded queue with a marker for what a slow subscriber lost.

use std::time::Duration;

use rivet::watch::Change;
use rivet::{Options, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "notes")]
struct Note {
    #[key(auto)]
    id: u64,
    #[index]
    tag: String,
}

fn note(tag: &str) -> Note {
    Note { id: 0, tag: tag.into() }
}

fn fast_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(dir.path().join("w.db"), Options::default().no_sync(true)).unwrap();
    (dir, store)
}

fn drain(w: &rivet::watch::Watch<Note>) -> Vec<Change<Note>> {
    std::iter::from_fn(|| w.try_recv()).collect()
}

#[test]
fn committed_changes_arrive_and_rolled_back_ones_do_not() {
    let (_d, store) = fast_store();
    let all = store.watch::<Note>(100);
    store.write(|tx| tx.insert(&mut note("a")).map(drop)).unwrap();
    assert_eq!(drain(&all), [Change::Inserted(Note { id: 1, tag: "a".into() })]);
    // Nothing before the commit, everything after.
    let mut tx = store.begin_write().unwrap();
    tx.insert(&mut note("b")).unwrap();
    tx.modify::<Note, _>(1u64, |n| n.tag = "A".into()).unwrap();
    assert!(all.try_recv().is_none());
    tx.commit().unwrap();
    assert_eq!(
        drain(&all),
        [
            Change::Inserted(Note { id: 2, tag: "b".into() }),
            Change::Updated { old: Note { id: 1, tag: "a".into() }, new: Note { id: 1, tag: "A".into() } },
        ]
    );
    // Rolled back, failed: nothing.
    let mut tx = store.begin_write().unwrap();
    tx.insert(&mut note("gone")).unwrap();
    tx.rollback();
    let _ = store.write(|tx| {
        tx.remove::<Note>(1u64)?;
        Err::<(), _>(rivet::Error::NotFound { bucket: "notes".into(), key: "(fail)".into() })
    });
    assert_eq!(drain(&all), []);
    // Bulk removals tell of each record.
    store.write(|tx| tx.insert(&mut note("c")).map(drop)).unwrap();
    store.write(|tx| tx.clear::<Note>().map(drop)).unwrap();
    let removed: Vec<u64> = drain(&all)
        .into_iter()
        .filter_map(|c| match c {
            Change::Removed(n) => Some(n.id),
            _ => None,
        })
        .collect();
    assert_eq!(removed, [1, 2, 3], "the rolled-back insert took no id");
}

#[test]
fn a_subscriber_that_never_reads_does_not_hold_commits_and_learns_what_it_lost() {
    let (_d, store) = fast_store();
    let slow = store.watch::<Note>(10);
    // Many commits with a full queue: none waits for the subscriber.
    for i in 0..2_000 {
        store.write(|tx| tx.insert(&mut note(&format!("t{i}"))).map(drop)).unwrap();
    }
    let got = drain(&slow);
    assert_eq!(got.len(), 11, "{got:?}");
    for (i, c) in got[..10].iter().enumerate() {
        assert_eq!(c, &Change::Inserted(Note { id: i as u64 + 1, tag: format!("t{i}") }));
    }
    assert_eq!(got[10], Change::Lost { changes: 1_990 });
    // After the marker, changes flow again.
    store.write(|tx| tx.remove::<Note>(5u64).map(drop)).unwrap();
    assert_eq!(slow.recv_timeout(Duration::from_secs(5)), Some(Change::Removed(Note { id: 5, tag: "t4".into() })));
}

#[test]
fn concurrent_writers_deliver_in_commit_order() {
    let (_d, store) = fast_store();
    let all = store.watch::<Note>(100_000);
    std::thread::scope(|s| {
        for w in 0..3 {
            let store = &store;
            s.spawn(move || {
                for i in 0..300 {
                    store.write(|tx| tx.insert(&mut note(&format!("w{w}-{i}"))).map(drop)).unwrap();
                }
            });
        }
    });
    // Auto keys are handed out in commit order, so the ids must arrive in order.
    let ids: Vec<u64> = drain(&all)
        .into_iter()
        .map(|c| match c {
            Change::Inserted(n) => n.id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids, (1..=900).collect::<Vec<u64>>());
}

#[test]
fn a_key_range_watch_sees_only_its_keys() {
    let (_d, store) = fast_store();
    let some = store.watch_range::<Note>(3u64..5, 100);
    store.write(|tx| (0..6).try_for_each(|i| tx.insert(&mut note(&format!("n{i}"))).map(drop))).unwrap();
    let ids: Vec<u64> = drain(&some)
        .into_iter()
        .map(|c| match c {
            Change::Inserted(n) => n.id,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(ids, [3, 4]);
}

#[test]
fn a_watch_ends_when_the_store_is_dropped() {
    let (_d, store) = fast_store();
    let w = store.watch::<Note>(10);
    store.write(|tx| tx.insert(&mut note("last")).map(drop)).unwrap();
    let reader = std::thread::spawn(move || w.collect::<Vec<_>>());
    drop(store);
    let got = reader.join().unwrap();
    assert_eq!(got, [Change::Inserted(Note { id: 1, tag: "last".into() })]);
}

#[test]
fn a_write_begun_before_the_subscription_is_reported_lost_not_skipped() {
    let (_d, store) = fast_store();
    let mut tx = store.begin_write().unwrap();
    tx.insert(&mut note("in flight")).unwrap();
    tx.insert(&mut note("also")).unwrap();
    // Subscribed while the write is open: it did not note these changes, so the subscriber
    // hears they are lost instead of never hearing of them.
    let w = store.watch::<Note>(10);
    tx.commit().unwrap();
    assert_eq!(w.try_recv(), Some(Change::Lost { changes: 2 }));
    store.write(|tx| tx.insert(&mut note("after")).map(drop)).unwrap();
    assert_eq!(w.try_recv(), Some(Change::Inserted(Note { id: 3, tag: "after".into() })));
}

#[test]
fn transactions_can_move_between_threads() {
    fn send<T: Send>(_: &T) {}
    let (_d, store) = fast_store();
    let _w = store.watch::<Note>(10);
    let tx = store.begin_write().unwrap();
    send(&tx);
    tx.rollback();
}
