//! The typed store on a journaled engine (`Options::journal`, issue 16): records, unique
//! indexes, counts and change subscriptions work as without the journal, commits survive a
//! simulated crash (the files copied while the store is open), and a clean close leaves a
//! plain file with everything in it.

use std::time::Duration;

use rivet::serde::{Deserialize, Serialize};
use rivet::{Error, Options, Record, Store};
use rivet_tests::scratch;

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(crate = "rivet::serde")]
struct Item {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    name: String,
    #[index]
    shelf: u32,
}

fn journal_of(p: &std::path::Path) -> std::path::PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push("-journal");
    s.into()
}

#[test]
fn the_typed_store_runs_on_a_journaled_engine_and_survives_a_crash() {
    let dir = scratch();
    let path = dir.path().join("shop.db");
    let opts = || Options::default().journal(true).journal_max_bytes(1 << 20);
    let store = Store::open_with(&path, opts()).unwrap();
    let watch = store.watch::<Item>(10_000);
    for round in 0..20u32 {
        store
            .write(|tx| {
                for i in 0..50u32 {
                    tx.insert(&mut Item { id: 0, name: format!("item {round}-{i}"), shelf: i % 7 })?;
                }
                Ok(())
            })
            .unwrap();
    }
    // A unique violation rolls its transaction back, journal or not.
    let dup = store.write(|tx| tx.insert(&mut Item { id: 0, name: "item 3-4".into(), shelf: 1 }).map(drop));
    assert!(matches!(dup, Err(Error::UniqueViolation { .. })), "{dup:?}");
    assert_eq!(store.read(|tx| tx.count::<Item>()).unwrap(), 1000);
    let mut events = 0;
    while watch.recv_timeout(Duration::from_secs(5)).is_some() {
        events += 1;
        if events == 1000 {
            break;
        }
    }
    assert_eq!(events, 1000, "every insert reached the subscriber");

    // A crash: the files as they are now.
    let crashed = dir.path().join("crashed.db");
    std::fs::copy(&path, &crashed).unwrap();
    std::fs::copy(journal_of(&path), journal_of(&crashed)).unwrap();
    drop(store);
    assert!(!journal_of(&path).exists(), "a clean close checkpoints and removes the journal");

    for p in [&path, &crashed] {
        let again = Store::open_with(p, opts()).unwrap();
        let (n, on_shelf_3) =
            again.read(|tx| Ok((tx.count::<Item>()?, tx.find(Item::shelf.eq(3u32)).count()?))).unwrap();
        assert_eq!(n, 1000, "{}", p.display());
        assert_eq!(on_shelf_3, 20 * 7, "{}", p.display());
        drop(again);
    }
    // Without the journal: the closed file holds everything.
    let plain = Store::open_with(&path, Options::default().read_only(true)).unwrap();
    assert_eq!(plain.read(|tx| tx.count::<Item>()).unwrap(), 1000);
}
