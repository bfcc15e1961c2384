//! End-to-end tests of `rivet records`: stores written here with the `rivet` crate, listed by
//! the binary without their Rust types.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Runs `rivet` with `args`.
fn rivet<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_rivet")).args(args).output().expect("cannot run the rivet binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The NDJSON lines of `rivet records --json FILE [args]`, and the output.
fn records_json(file: &Path, args: &[&str]) -> (Vec<Value>, Output) {
    let mut all: Vec<&OsStr> = vec![OsStr::new("records"), OsStr::new("--json"), file.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    let o = rivet(all);
    let lines =
        stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    (lines, o)
}

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store.db")
}

// ---- (1) A plain store: auto key, unique index, Option, Vec, nested struct ----

#[derive(rivet::Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Address {
    street: String,
    zip: u32,
}

#[derive(rivet::Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "users")]
struct User {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    nick: Option<String>,
    tags: Vec<String>,
    address: Address,
}

fn user(email: &str, nick: Option<&str>, tags: &[&str], street: &str, zip: u32) -> User {
    User {
        id: 0,
        email: email.into(),
        nick: nick.map(Into::into),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        address: Address { street: street.into(), zip },
    }
}

#[test]
fn json_lists_exactly_the_records_and_no_index_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let mut users = vec![
        user("ada@example.com", Some("ada"), &["math", "loom"], "1 Analytical Way", 1815),
        user("bob@example.com", None, &[], "2 Nowhere St", 90210),
        user("cy@example.com", Some("cy"), &["x"], "", 0),
    ];
    {
        let store = rivet::Store::open(&path).unwrap();
        store
            .write(|tx| {
                for u in &mut users {
                    tx.insert(u)?;
                }
                Ok(())
            })
            .unwrap();
    }
    assert_eq!(users.iter().map(|u| u.id).collect::<Vec<_>>(), [1, 2, 3]);

    let (lines, o) = records_json(&path, &[]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(lines.len(), users.len(), "{}", stdout(&o));
    for (line, u) in lines.iter().zip(&users) {
        assert_eq!(line["type"], "User");
        assert_eq!(line["bucket"], "users");
        assert_eq!(line["key"], json!(u.id));
        assert_eq!(line["version"], 1);
        assert_eq!(line["layout"], 1);
        let v = &line["value"];
        assert_eq!(v["id"], u.id);
        assert_eq!(v["email"], u.email.as_str());
        assert_eq!(v["nick"], json!(u.nick));
        assert_eq!(v["tags"], json!(u.tags));
        assert_eq!(v["address"], json!({"street": u.address.street, "zip": u.address.zip}));
        // The decoded value reads back as the type itself.
        let back: User = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(&back, u);
    }
    assert!(!stdout(&o).contains("index:"), "{}", stdout(&o));

    // By type name and by bucket name alike; text output, one line per record.
    for name in ["User", "users"] {
        let o = rivet([OsStr::new("records"), path.as_os_str(), OsStr::new(name)]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("users 1 (User v1, layout 1): {\"id\":1,\"email\":\"ada@example.com\""), "{first}");
        assert_eq!(text.lines().count(), 3, "{text}");
    }
}

// ---- (2) An evolved file: rows of two layouts ----

mod v1 {
    use super::*;

    #[derive(rivet::Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "users", version = 1)]
    pub struct UserV1 {
        #[key(auto)]
        pub id: u64,
        pub name: String,
    }
}
use v1::UserV1;

#[derive(rivet::Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "users", version = 2, from = UserV1)]
struct UserV2 {
    #[key(auto)]
    id: u64,
    name: String,
    country: String,
}

impl From<UserV1> for UserV2 {
    fn from(u: UserV1) -> Self {
        UserV2 { id: u.id, name: u.name, country: "unknown".into() }
    }
}

#[test]
fn records_of_every_layout_print_with_their_own_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let store = rivet::Store::open(&path).unwrap();
        store
            .write(|tx| {
                tx.insert(&mut UserV1 { id: 0, name: "ada".into() })?;
                tx.insert(&mut UserV1 { id: 0, name: "bob".into() })?;
                Ok(())
            })
            .unwrap();
    }
    {
        let store = rivet::Store::open(&path).unwrap();
        store
            .write(|tx| {
                tx.insert(&mut UserV2 { id: 0, name: "cy".into(), country: "FR".into() })?;
                Ok(())
            })
            .unwrap();
    }
    let (lines, o) = records_json(&path, &["users"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(lines.len(), 3, "{}", stdout(&o));
    for (line, (id, name)) in lines[..2].iter().zip([(1, "ada"), (2, "bob")]) {
        assert_eq!(line["key"], id);
        assert_eq!((&line["version"], &line["layout"]), (&json!(1), &json!(1)));
        assert_eq!(line["value"], json!({"id": id, "name": name}), "old rows keep their own fields");
    }
    let new = &lines[2];
    assert_eq!(new["key"], 3);
    assert_eq!((&new["version"], &new["layout"]), (&json!(2), &json!(2)));
    assert_eq!(new["value"], json!({"id": 3, "name": "cy", "country": "FR"}));
    // The catalog names the type that registered last.
    assert!(lines.iter().all(|l| l["type"] == "UserV2"), "{}", stdout(&o));

    let text = stdout(&rivet([OsStr::new("records"), path.as_os_str()]));
    assert!(text.contains("users 1 (UserV2 v1, layout 1): {\"id\":1,\"name\":\"ada\"}"), "{text}");
    assert!(text.contains("users 3 (UserV2 v2, layout 2): {\"id\":3,\"name\":\"cy\",\"country\":\"FR\"}"), "{text}");
}

// ---- (3) An opaque field ----

/// Serializable, but without `rivet::Layout`: the catalog cannot describe it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Blob {
    bytes: Vec<u8>,
}

#[derive(rivet::Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "docs")]
struct Doc {
    #[key]
    name: String,
    blob: Blob,
}

#[derive(rivet::Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "notes")]
struct Note {
    #[key]
    at: i64,
    text: String,
}

#[test]
fn an_opaque_field_prints_hex_with_a_note_and_fails_the_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let store = rivet::Store::open(&path).unwrap();
        store
            .write(|tx| {
                tx.insert(&mut Doc { name: "readme".into(), blob: Blob { bytes: vec![1, 2, 3] } })?;
                tx.insert(&mut Note { at: -7, text: "hello".into() })?;
                Ok(())
            })
            .unwrap();
    }
    let (lines, o) = records_json(&path, &[]);
    assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(lines.len(), 2, "the listing goes on past the record it cannot decode: {}", stdout(&o));
    let doc = lines.iter().find(|l| l["bucket"] == "docs").unwrap();
    assert_eq!(doc["key"], "readme");
    assert!(doc.get("value").is_none(), "{doc}");
    // The stored value: the envelope (layout 1), then postcard's `Doc { name, blob: Blob { bytes } }`.
    assert_eq!(doc["hex"], "0106726561646d6503010203");
    let note = doc["note"].as_str().unwrap();
    assert!(note.contains("`blob`") && note.contains("Blob") && note.contains("rivet::Layout"), "{note}");
    let n = lines.iter().find(|l| l["bucket"] == "notes").unwrap();
    assert_eq!((&n["key"], &n["value"]), (&json!(-7), &json!({"at": -7, "text": "hello"})));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("1 of 2 records could not be decoded"), "{err}");

    let o = rivet([OsStr::new("records"), path.as_os_str(), OsStr::new("Doc")]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(
        text.starts_with("docs \"readme\" (Doc v1, layout 1): hex 0106726561646d6503010203 (field `blob` has type `"),
        "{text}"
    );
}

// ---- (4) Errors ----

#[test]
fn an_unknown_type_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let store = rivet::Store::open(&path).unwrap();
        store.write(|tx| tx.insert(&mut Note { at: 1, text: "x".into() }).map(drop)).unwrap();
    }
    let o = rivet([OsStr::new("records"), path.as_os_str(), OsStr::new("Nope")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).is_empty());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("rivet: {}: ", path.display())), "{err}");
    assert!(err.contains("`Nope`") && err.contains("Note (bucket notes)"), "{err}");
}

#[test]
fn a_file_without_a_catalog_has_no_typed_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        let db = rivet::engine::DB::open(&path, rivet::Options::default()).unwrap();
        let mut tx = db.begin(true).unwrap();
        tx.create_bucket(b"plain").unwrap().put(b"k", b"v").unwrap();
        tx.commit().unwrap();
    }
    let o = rivet([OsStr::new("records"), path.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o).trim_end(),
        format!("rivet: {}: no typed records: the file has no __rivet_catalog bucket", path.display())
    );
}

#[test]
fn format_1_buckets_and_other_codecs_print_hex_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    {
        // Written by hand as an older store (format 1: no layouts, no envelope) and as a store
        // with another codec would.
        let db = rivet::engine::DB::open(&path, rivet::Options::default()).unwrap();
        let mut tx = db.begin(true).unwrap();
        {
            let mut cat = tx.create_bucket(b"__rivet_catalog").unwrap();
            cat.put(b"old", b"format = 1\ntype = Old\nversion = 3\ncodec = postcard\nkey = id: u64 (auto)\n").unwrap();
            cat.put(
            b"other",
            b"format = 2\ntype = Other\nversion = 1\ncodec = mycodec\nkey = k: string\nlayout 1 = version 1 {k: string}\n",
        )
        .unwrap();
        }
        {
            let mut old = tx.create_bucket(b"old").unwrap();
            old.put(&rivet::key::encode(&5u64), &[5, 1, b'x']).unwrap();
            old.create_bucket(b"index:whatever").unwrap().put(b"a", b"").unwrap();
        }
        tx.create_bucket(b"other").unwrap().put(&rivet::key::encode(&"k1".to_string()), &[1, 9, 9]).unwrap();
        tx.commit().unwrap();
    }
    let (lines, o) = records_json(&path, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(lines.len(), 2, "{}", stdout(&o));
    assert_eq!(
        lines[0],
        json!({"type": "Old", "bucket": "old", "key": 5, "version": 3, "layout": null, "hex": "050178",
               "note": "format 1: layout not recorded"})
    );
    assert_eq!((&lines[1]["key"], &lines[1]["layout"], &lines[1]["hex"]), (&json!("k1"), &json!(1), &json!("010909")));
    assert!(lines[1]["note"].as_str().unwrap().contains("codec `mycodec`"), "{}", lines[1]);
    assert!(stderr(&o).contains("2 of 2 records could not be decoded"), "{}", stderr(&o));
    // `rivet check` passes both, saying what it could not verify without the program.
    let o = rivet([OsStr::new("check"), path.as_os_str()]);
    assert!(o.status.success(), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("warning: record type Old (bucket old): indexes not verified: format 1"), "{out}");
    assert!(out.contains("warning: record type Other (bucket other): indexes not verified: codec `mycodec`"), "{out}");
}
