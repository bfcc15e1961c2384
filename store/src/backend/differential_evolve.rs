//! Schema evolution on two backends at once: a type's releases registering, building and
//! dropping indexes, bounded migrations, rewrites and layout pruning must leave the engine and
//! the in-memory map with the same answers (see `differential.rs` for everyday work).

use serde::{Deserialize, Serialize};

use crate::{Record, Store};

mod v1 {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "items")]
    pub struct Item {
        #[key(auto)]
        pub id: u64,
        #[index]
        pub kind: String,
        pub name: String,
    }
}

/// A new version: `kind` no longer indexed, a computed field with a unique index.
mod v2 {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "items", version = 2, from = v1::Item)]
    pub struct Item {
        #[key(auto)]
        pub id: u64,
        pub kind: String,
        pub name: String,
        #[index(unique)]
        pub code: String,
        #[index]
        pub len: u32,
    }

    impl From<v1::Item> for Item {
        fn from(i: v1::Item) -> Self {
            let code = format!("{}-{}", i.kind, i.id);
            Item { id: i.id, len: i.name.len() as u32, kind: i.kind, name: i.name, code }
        }
    }
}

/// Everything a program could ask of `v2` records, as text.
fn answers(store: &Store) -> String {
    let r = store.read(|tx| {
        Ok([
            format!("{:?}", tx.scan::<v2::Item>().to_vec()),
            format!("{:?}", tx.index(v2::Item::code).get("b-8")),
            format!("{:?}", tx.index(v2::Item::len).range(3..6).rev().keys().collect::<Vec<_>>()),
            format!("{:?}", tx.find(v2::Item::len.eq(4)).to_vec()),
            format!("{:?} {:?}", tx.count::<v2::Item>(), tx.sequence::<v2::Item>()),
            format!("{:?}", tx.verify::<v2::Item>()),
        ]
        .join("\n"))
    });
    format!("{r:?}")
}

/// Runs the releases on `store`; returns what each stage saw.
fn releases(store: &Store) -> Vec<String> {
    let mut seen = Vec::new();
    store
        .write(|tx| {
            for n in 0..40u64 {
                let kind = ["a", "b", "c"][(n % 3) as usize].to_string();
                tx.insert(&mut v1::Item { id: 0, kind, name: "x".repeat(1 + (n % 7) as usize) })?;
            }
            tx.remove::<v1::Item>(5).map(drop)
        })
        .unwrap();
    seen.push(format!("{:?}", store.read(|tx| tx.index(v1::Item::kind).equal("b").count())));
    // Before the migration the new indexes are not built; reads upgrade on the fly.
    seen.push(answers(store));
    let mut batches = Vec::new();
    let done = store.migrate::<v2::Item>(7, |m| batches.push(*m));
    seen.push(format!("{done:?} {batches:?}"));
    seen.push(answers(store));
    // A write after the migration, then a unique collision refused.
    let w = store.write(|tx| {
        let mut i = v2::Item { id: 0, kind: "d".into(), name: "new".into(), code: "d-new".into(), len: 3 };
        tx.insert(&mut i)?;
        let clash = v2::Item { id: 0, kind: "d".into(), name: "z".into(), code: "b-8".into(), len: 1 };
        Ok(format!("{:?}", tx.insert(&mut { clash })))
    });
    seen.push(format!("{w:?}"));
    seen.push(answers(store));
    // The old release is refused now (its version is older than the file's).
    seen.push(format!("{:?}", store.read(|tx| tx.count::<v1::Item>())));
    seen
}

#[test]
fn evolution_answers_the_same_on_the_engine_and_on_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Store::open_with(dir.path().join("e.db"), crate::Options::default().no_sync(true)).unwrap();
    let map = Store::in_map();
    let (a, b) = (releases(&engine), releases(&map));
    assert!(a[3].contains("b-8"), "the migration built the unique index: {}", a[3]);
    assert!(a[4].contains("UniqueViolation"), "{}", a[4]);
    for (n, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "stage {n}");
    }
}
