//! The value codecs side by side (with `--features bincode`): a bucket is read only by the
//! codec that wrote it. The same record type declared with `Bincode` and with `Postcard` (one
//! name, bucket and key) cannot open each other's file: the first transaction that uses the
//! other codec's type is `Error::SchemaMismatch` with `Mismatch::Codec` naming both, before
//! anything is read or written.
#![cfg(feature = "bincode")]

use rivet::catalog::{envelope, Entry, CATALOG_BUCKET};
use rivet::{Bincode, Codec, Error, Mismatch, Postcard, Record, Store};
use serde::{Deserialize, Serialize};

/// The type as a release that chose bincode declares it.
mod with_bincode {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users", codec = rivet::Bincode)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub scores: Vec<u32>,
    }
}

/// The same type with the default codec (postcard).
mod with_postcard {
    use super::*;
    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub scores: Vec<u32>,
    }
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(dir.path().join("codecs.db")).unwrap()
}

/// The codec the catalog records for `users`, and the raw value stored under `key`.
fn stored(store: &Store, key: u64) -> (String, Vec<u8>) {
    let tx = store.engine().begin(false).unwrap();
    let entry = tx.bucket(CATALOG_BUCKET).unwrap().get(b"users").unwrap().unwrap().to_vec();
    let value = tx.bucket(b"users").unwrap().get(&rivet::key::encode(&key)).unwrap().unwrap().to_vec();
    (Entry::parse(&entry).unwrap().codec, value)
}

/// Asserts `e` is the codec mismatch of a `declared` type over a `stored` bucket.
fn assert_codec_mismatch(e: Error, stored: &str, declared: &str) {
    match e {
        Error::SchemaMismatch { bucket, reason } => {
            assert_eq!(bucket, "users");
            assert_eq!(reason, Mismatch::Codec { stored: stored.into(), declared: declared.into() });
        }
        other => panic!("expected a codec mismatch, got {other}"),
    }
}

#[test]
fn a_bincode_file_is_refused_by_the_postcard_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let ada = with_bincode::User { id: 0, email: "ada@example.com".into(), scores: (0..10).collect() };
    let id = store.write(|tx| tx.insert(&mut ada.clone())).unwrap();
    let (codec, value) = stored(&store, id);
    assert_eq!(codec, Bincode::NAME);
    // The envelope of layout 1, then the bincode bytes.
    let (env, len) = envelope(1);
    assert_eq!(value, [&env[..len], &Bincode::encode(&with_bincode::User { id, ..ada.clone() }).unwrap()].concat());
    drop(store);

    let store = open(&dir);
    let e = store.read(|tx| tx.get::<with_postcard::User>(id)).unwrap_err();
    assert_codec_mismatch(e, "bincode", "postcard");
    let e = store.read(|tx| tx.scan::<with_postcard::User>().count()).unwrap_err();
    assert_codec_mismatch(e, "bincode", "postcard");
    let e = store
        .write(|tx| tx.insert(&mut with_postcard::User { id: 0, email: "b@x".into(), scores: vec![] }))
        .unwrap_err();
    assert_codec_mismatch(e, "bincode", "postcard");

    // Nothing was written: the bincode type still reads its record, and the catalog is as it was.
    let back = store.read(|tx| tx.scan::<with_bincode::User>().to_vec()).unwrap();
    assert_eq!(back, vec![with_bincode::User { id, ..ada }]);
    assert_eq!(stored(&store, id), (codec, value));
}

#[test]
fn a_postcard_file_is_refused_by_the_bincode_type() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let ada = with_postcard::User { id: 0, email: "ada@example.com".into(), scores: vec![300, 70_000] };
    let id = store.write(|tx| tx.insert(&mut ada.clone())).unwrap();
    let (codec, value) = stored(&store, id);
    assert_eq!(codec, Postcard::NAME);
    drop(store);

    let store = open(&dir);
    let e = store.read(|tx| tx.get::<with_bincode::User>(id)).unwrap_err();
    assert_codec_mismatch(e, "postcard", "bincode");
    let e = store.write(|tx| tx.remove::<with_bincode::User>(id)).unwrap_err();
    assert_codec_mismatch(e, "postcard", "bincode");
    let e = store.write(|tx| tx.migrate::<with_bincode::User>()).unwrap_err();
    assert_codec_mismatch(e, "postcard", "bincode");

    let back = store.read(|tx| tx.get::<with_postcard::User>(id)).unwrap();
    assert_eq!(back, Some(with_postcard::User { id, ..ada }));
    assert_eq!(stored(&store, id), (codec, value));
}

/// A bincode type evolves like a postcard one: the added field of the next release is read
/// with its default from values of the old layout, by name through `Bincode::decode_shape`.
#[test]
fn a_bincode_type_reads_its_older_layout_by_name() {
    mod next {
        use super::*;
        #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
        #[rivet(bucket = "users", codec = rivet::Bincode)]
        pub struct User {
            #[key(auto)]
            pub id: u64,
            pub scores: Vec<u32>,
            #[serde(default)]
            #[index]
            pub team: Option<String>,
            #[index(unique)]
            pub email: String,
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let id = store
        .write(|tx| tx.insert(&mut with_bincode::User { id: 0, email: "a@x".into(), scores: vec![1, 2] }))
        .unwrap();
    let read = store.read(|tx| tx.get::<next::User>(id)).unwrap();
    assert_eq!(read, Some(next::User { id, scores: vec![1, 2], team: None, email: "a@x".into() }));
    store.write(|tx| tx.migrate::<next::User>().map(drop)).unwrap();
    assert_eq!(store.read(|tx| tx.index(next::User::team).scan().count()).unwrap(), 0);
    assert_eq!(store.read(|tx| tx.index(next::User::email).get("a@x")).unwrap().map(|u| u.id), Some(id));
}
