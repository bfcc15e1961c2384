//! Schema evolution leaves a valid bbolt file: 10,000 records written by release 1 of a type,
//! then release 2 (a field added with a default and indexed) writes, builds its index and
//! migrates the old values, then release 3 (a new version with `from`) does the same. After
//! each step Go bbolt's check passes on the file and Go's dump equals the engine's.
//!
//! Needs the Go interop tool (`interop/install.sh target/interop`, which `.ci/run` runs):
//! `cargo test -p rivet-tests --test evolve_interop -- --ignored`.

use rivet::serde::{Deserialize, Serialize};
use rivet::{Record, Store};
use rivet_tests::*;

mod v1 {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[serde(crate = "rivet::serde")]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
    }
}

mod v2 {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[serde(crate = "rivet::serde")]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
        #[serde(default)]
        #[index]
        pub country: String,
    }
}

mod v3 {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[serde(crate = "rivet::serde")]
    #[rivet(bucket = "users", version = 2, from = v2::User)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        #[index]
        pub country: String,
        pub name_len: u32,
    }
    impl From<v2::User> for User {
        fn from(u: v2::User) -> Self {
            let country = if u.country.is_empty() { "XX".into() } else { u.country };
            User { id: u.id, email: u.email, country, name_len: u.name.len() as u32 }
        }
    }
}

fn go_agrees(path: &std::path::Path) {
    assert_go_check(path);
    assert_eq!(go_dump(path), rust_dump(path), "Go and Rust dumps differ");
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn evolved_files_pass_go_check() {
    let dir = scratch();
    let path = dir.path().join("evolve.db");
    let mut rng = Rng::new(seed(0xe401));
    {
        let store = Store::open(&path).unwrap();
        store
            .write(|tx| {
                for i in 0..10_000u64 {
                    let name = format!("user {}", rng.below(1_000_000));
                    tx.insert(&mut v1::User { id: 0, email: format!("u{i}@x"), name })?;
                }
                Ok(())
            })
            .unwrap();
    }
    go_agrees(&path);
    {
        let store = Store::open(&path).unwrap();
        store
            .write(|tx| {
                for i in 0..500u64 {
                    let id = 1 + rng.below(10_000);
                    if let Some(mut u) = tx.get::<v2::User>(id)? {
                        u.country = ["GB", "NO", "JP"][(i % 3) as usize].into();
                        tx.update(&u)?;
                    }
                }
                Ok(())
            })
            .unwrap();
        assert!(store.migrate::<v2::User>(3_000, |_| {}).unwrap().rewritten > 0);
        assert!(store.read(|tx| tx.verify::<v2::User>()).unwrap().is_empty());
    }
    go_agrees(&path);
    {
        let store = Store::open(&path).unwrap();
        assert_eq!(store.migrate::<v3::User>(4_000, |_| {}).unwrap().rewritten, 10_000);
        store
            .read(|tx| {
                assert!(tx.verify::<v3::User>()?.is_empty());
                assert_eq!(tx.count::<v3::User>()?, 10_000);
                assert!(tx.index(v3::User::country).equal("XX").count()? > 9_000);
                Ok(())
            })
            .unwrap();
    }
    go_agrees(&path);
}
