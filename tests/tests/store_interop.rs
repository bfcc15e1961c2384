//! Acceptance 4 of the typed store: a file written by the store (records, nested index buckets,
//! the catalog, sequences; after inserts, updates, removes and a refused transaction) is still a
//! valid bbolt file: Go bbolt's check passes on it, and Go's dump equals the engine's.
//!
//! Needs the Go interop tool (`interop/install.sh` builds `target/interop/bbolt-tool`; `.ci/run`
//! runs it): `cargo test -p rivet-tests --test store_interop -- --ignored`.

use rivet::serde::{Deserialize, Serialize};
use rivet::{Options, Record, Store};
use rivet_tests::*;

#[derive(Record, Serialize, Deserialize, Debug, Clone)]
#[serde(crate = "rivet::serde")]
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
    bio: String,
}

#[derive(Record, Serialize, Deserialize, Debug, Clone)]
#[serde(crate = "rivet::serde")]
#[rivet(bucket = "orders", index(name = "by_sku_time", fields(sku, at)))]
struct Order {
    #[key]
    user: u64,
    #[key]
    at: i64,
    sku: String,
    cents: i64,
}

const COUNTRIES: [&str; 5] = ["GB", "US", "NO", "JP", "BR"];

/// Writes a store with enough records that records and indexes span many pages (so index
/// buckets are real sub-trees, not inline), with values over a page, then updates, removes and
/// a transaction refused by a unique violation.
fn build(path: &std::path::Path, seed: u64) {
    let store = Store::open_with(path, Options::default().no_sync(true)).unwrap();
    let mut rng = Rng::new(seed);
    store
        .write(|tx| {
            for i in 0..3000u64 {
                let bio = if i % 500 == 0 { "x".repeat(6000) } else { format!("user {i}") };
                let born = (i % 7 != 0).then(|| 1900 + (rng.below(120) as i32));
                let country = COUNTRIES[rng.below(5) as usize].to_string();
                tx.insert(&mut User { id: 0, email: format!("u{i}@example.com"), country, born, bio })?;
            }
            for i in 0..6000i64 {
                let user = 1 + rng.below(3000);
                tx.upsert(&Order { user, at: i * 37 - 50_000, sku: format!("sku{}", rng.below(40)), cents: i })?;
            }
            Ok(())
        })
        .unwrap();
    store
        .write(|tx| {
            for id in (1..3000u64).step_by(3) {
                if let Some(mut u) = tx.get::<User>(id)? {
                    u.country = COUNTRIES[(id % 5) as usize].to_string();
                    u.born = None;
                    tx.update(&u)?;
                }
            }
            for id in (2..3000u64).step_by(4) {
                tx.remove::<User>(id)?;
            }
            let doomed: Vec<(u64, i64)> = tx.scan::<Order>().keys().step_by(2).collect::<Result<_, _>>()?;
            for k in doomed {
                tx.remove::<Order>(k)?;
            }
            Ok(())
        })
        .unwrap();
    let refused = store.write(|tx| {
        tx.insert(&mut User {
            id: 0,
            email: "new@example.com".into(),
            country: "GB".into(),
            born: None,
            bio: "".into(),
        })?;
        tx.insert(&mut User { id: 0, email: "u0@example.com".into(), country: "GB".into(), born: None, bio: "".into() })
    });
    assert!(matches!(refused, Err(rivet::Error::UniqueViolation { .. })));
    store
        .read(|tx| {
            assert!(tx.verify::<User>()?.is_empty());
            assert!(tx.verify::<Order>()?.is_empty());
            assert!(tx.engine().check()?.is_empty());
            Ok(())
        })
        .unwrap();
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn store_written_file_passes_go_check() {
    let dir = scratch();
    let path = dir.path().join("store.db");
    build(&path, seed(0x570e));
    eprintln!("{} bytes written by the store", std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0));
    assert_go_check(&path);
    assert_eq!(go_dump(&path), rust_dump(&path), "Go and Rust dumps differ");
}
