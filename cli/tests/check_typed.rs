//! End-to-end tests of `rivet check` on typed stores: besides the pages, the indexes of every
//! record type in the catalog are checked, without the program's Rust types.

use std::path::Path;
use std::process::{Command, Output};

use rivet::key::encode;
use rivet::{Record, Store};
use serde::{Deserialize, Serialize};

fn rivet(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rivet")).args(args).arg(file).output().expect("cannot run the rivet binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "users")]
struct User {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    city: String,
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Visit {
    #[key]
    user: u64,
    #[key]
    at: i64,
    #[index]
    page: String,
}

fn write_store(path: &Path) -> Store {
    let store = Store::open(path).unwrap();
    store
        .write(|tx| {
            for (email, city) in [("a@x", "Oslo"), ("b@x", "Rome"), ("c@x", "Oslo")] {
                tx.insert(&mut User { id: 0, email: email.into(), city: city.into() })?;
            }
            for at in 0..5 {
                tx.insert(&mut Visit { user: 1, at, page: format!("/p{}", at % 2) })?;
            }
            Ok(())
        })
        .unwrap();
    store
}

#[test]
fn a_sound_store_is_ok_and_its_types_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    drop(write_store(&path));
    let o = rivet(&["check"], &path);
    assert!(o.status.success(), "{}\n{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("OK: no problems found") && out.contains("the indexes of 2 record types"), "{out}");
    assert!(!out.contains("warning"), "{out}");
}

#[test]
fn a_deleted_index_entry_and_a_deleted_record_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.db");
    let store = write_store(&path);
    let email = User::schema().indexes[0].bucket.clone();
    store
        .engine()
        .update(|tx| {
            tx.bucket_path_mut(&[b"users", &email])?.delete(&encode(&"b@x".to_string()))?;
            tx.bucket_mut(Visit::schema().bucket.as_bytes())?.delete(&encode(&(1u64, 3i64)))
        })
        .unwrap();
    drop(store);
    let o = rivet(&["check"], &path);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(
        out.contains(
            "record type User (bucket users): index `email`: the entry of record 2 (value \"b@x\") is missing"
        ),
        "{out}"
    );
    assert!(out.contains("record type Visit (bucket visit): index `page`: entry \"/p1\" matches no record"), "{out}");
    assert!(
        out.contains("record type Visit (bucket visit): the record counter says 5, the bucket holds 4 records"),
        "{out}"
    );
    assert!(out.contains("FAIL: 3 problems found"), "{out}");

    let o = rivet(&["check", "--json"], &path);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["ok"], false);
    assert_eq!(j["record_types"], 2);
    assert_eq!(j["problems"].as_array().map(Vec::len), Some(3), "{j}");
}

#[test]
fn a_file_without_a_catalog_is_checked_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain.db");
    let db = rivet::engine::DB::open(&path, rivet::Options::default()).unwrap();
    db.update(|tx| tx.create_bucket(b"b")?.put(b"k", b"v")).unwrap();
    drop(db);
    let o = rivet(&["check"], &path);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("OK: no problems found") && !out.contains("record type"), "{out}");
}

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "tags", codec = rivet::Bincode)]
struct Tag {
    #[key]
    name: String,
    #[index]
    uses: u32,
}

#[test]
fn bincode_buckets_are_listed_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.db");
    let store = Store::open(&path).unwrap();
    store
        .write(|tx| {
            tx.insert(&mut Tag { name: "rust".into(), uses: 70_000 })?;
            tx.insert(&mut Tag { name: "go".into(), uses: 3 })?;
            Ok(())
        })
        .unwrap();
    let uses = Tag::schema().indexes[0].bucket.clone();
    let mut entry = encode(&70_000u32);
    entry.extend_from_slice(&encode(&"rust".to_string()));
    store.engine().update(|tx| tx.bucket_path_mut(&[b"tags", &uses])?.delete(&entry)).unwrap();
    drop(store);
    let o = rivet(&["records", "--json"], &path);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["key"], "rust");
    assert_eq!(lines[1]["value"]["uses"], 70_000);
    let o = rivet(&["check"], &path);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains(
            "record type Tag (bucket tags): index `uses`: the entry of record \"rust\" (value 70000) is missing"
        ),
        "{}",
        stdout(&o)
    );
}
