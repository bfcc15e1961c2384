//! Schema evolution: three releases of one record type against one database file.
//!
//! - **Release 1** writes users `{id, email, name}`.
//! - **Release 2** adds `country` with `#[serde(default)]` and an index, without a new
//!   version: old rows read with the default, the first write transaction builds the index
//!   from every row, and index queries answer for old rows and new.
//! - **Release 3** is `version = 2, from = release2::User`: its `From` computes a new field
//!   (the email's domain, indexed) and fills in missing countries. Rows of version 1 come up
//!   through the `From` on every read until `Store::migrate` rewrites them, in bounded
//!   transactions, with progress.
//! - Then what is refused: release 2 on the file release 3 wrote (`Mismatch::Newer`), and a
//!   "release 4" that changed a field's type without declaring a new version
//!   (`Mismatch::Field`, naming the field and both shapes). Neither writes anything.
//!
//! Each release's type lives in its own module, as it would in successive builds of one
//! program; all of them use the bucket `users`. Every fact printed is also asserted.
//!
//! `cargo run --release -p rivet-examples --example evolve [-- PATH]`
//!
//! The file is `evolve.db` in the current directory unless a path is given; an existing file is
//! replaced, and the new one is left for inspection (`rivet dump evolve.db` shows the catalog
//! entry with its layouts).

use std::path::PathBuf;

use rivet::{Error, Mismatch, Record, Store};
use serde::{Deserialize, Serialize};

/// Release 1.
mod release1 {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
    }
}

/// Release 2: a field added with a default, and indexed. Same version: the store reads the
/// old rows by field name, and the new field takes its default.
mod release2 {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
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

/// Release 3: version 2, upgraded from release 2's type by a `From` that computes `domain`
/// and fills in the countries that release 1's rows never had.
mod release3 {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "users", version = 2, from = release2::User)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
        #[index]
        pub country: String,
        #[index]
        pub domain: String,
    }

    impl From<release2::User> for User {
        fn from(u: release2::User) -> Self {
            let domain = u.email.split_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
            let country = if u.country.is_empty() { tld_country(&domain) } else { u.country };
            User { id: u.id, email: u.email, name: u.name, country, domain }
        }
    }

    fn tld_country(domain: &str) -> String {
        match domain.rsplit('.').next() {
            Some("uk") => "GB".into(),
            Some(tld) if tld.len() == 2 => tld.to_uppercase(),
            _ => "??".into(),
        }
    }
}

/// A "release 4" that made `domain` optional but kept version 2: the values release 3 wrote
/// as version 2 hold a plain string there, so this type is refused.
mod release4_forgot_the_version {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "users", version = 2, from = release2::User)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email: String,
        pub name: String,
        #[index]
        pub country: String,
        pub domain: Option<String>,
    }

    impl From<release2::User> for User {
        fn from(u: release2::User) -> Self {
            let domain = u.email.split_once('@').map(|(_, d)| d.to_string());
            User { id: u.id, email: u.email, name: u.name, country: u.country, domain }
        }
    }
}

/// How many users release 1 writes.
const OLD_ROWS: u64 = 1_000;

fn email(i: u64) -> String {
    let domain = ["example.fr", "example.co.uk", "example.de", "example.com"][(i % 4) as usize];
    format!("user{i}@{domain}")
}

/// `Some` or the store's own not-found error (closures given to `Store::read`/`write` return
/// `rivet::Result`).
fn found<T>(record: Option<T>, key: impl std::fmt::Display) -> rivet::Result<T> {
    record.ok_or_else(|| Error::NotFound { bucket: "users".into(), key: key.to_string() })
}

/// The catalog entry of bucket `users`, as the file holds it.
fn catalog_entry(store: &Store) -> Result<String, Box<dyn std::error::Error>> {
    let bytes = store
        .engine()
        .view(|tx| Ok::<_, rivet::engine::Error>(tx.bucket(b"__rivet_catalog")?.get(b"users")?.map(<[u8]>::to_vec)))?;
    Ok(String::from_utf8(bytes.ok_or("no catalog entry for `users`")?)?)
}

fn print_entry(store: &Store) -> Result<(), Box<dyn std::error::Error>> {
    for line in catalog_entry(store)?.lines() {
        println!("    | {line}");
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("evolve.db"));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path)?;
    println!("database: {}", path.display());

    // ---------------------------------------------------------------- release 1
    println!("\n== release 1: User {{ id, email, name }}");
    store.write(|tx| {
        for i in 1..=OLD_ROWS {
            tx.insert(&mut release1::User { id: 0, email: email(i), name: format!("User {i}") })?;
        }
        Ok(())
    })?;
    let u = store.read(|tx| tx.index(release1::User::email).get(email(2)))?.ok_or("user 2")?;
    println!("wrote {OLD_ROWS} users; by email: {u:?}");
    assert_eq!(u.id, 2);
    print_entry(&store)?;

    // ---------------------------------------------------------------- release 2
    println!("\n== release 2: + #[serde(default)] #[index] country: String (still version 1)");
    store.read(|tx| {
        let u = found(tx.get::<release2::User>(2u64)?, 2)?;
        println!("old row read by release 2: {u:?}  (country is the default)");
        assert_eq!(u.country, "");
        assert_eq!(tx.scan::<release2::User>().to_vec()?.len(), OLD_ROWS as usize, "every old row reads");
        let e = tx.index(release2::User::country).equal("FR").count().unwrap_err();
        println!("query on the new index before any write: {e}");
        assert!(matches!(&e, Error::IndexNotBuilt { index, .. } if index == "country"));
        // The index release 1 built is still current and answers.
        assert_eq!(tx.index(release2::User::email).get(email(3))?.map(|u| u.id), Some(3));
        Ok(())
    })?;
    // The first write transaction that uses release 2's type registers it: it records the new
    // layout and builds the `country` index from every row (old rows index their default).
    store.write(|tx| {
        for (name, country) in [("Ada", "GB"), ("Marie", "FR"), ("Emmy", "DE")] {
            let email = format!("{}@new.example", name.to_lowercase());
            let id = tx.insert(&mut release2::User { id: 0, email, name: name.into(), country: country.into() })?;
            println!("inserted {name} ({country}) as id {id}");
        }
        // An old row, updated: it is now written in release 2's layout.
        let mut u = found(tx.get::<release2::User>(3u64)?, 3)?;
        u.country = "US".into();
        tx.update(&u)?;
        Ok(())
    })?;
    store.read(|tx| {
        let us: Vec<u64> = tx.index(release2::User::country).equal("US").keys().collect::<Result<_, _>>()?;
        let fr: Vec<u64> = tx.index(release2::User::country).equal("FR").keys().collect::<Result<_, _>>()?;
        let unknown = tx.index(release2::User::country).equal("").count()?;
        println!("country = US: ids {us:?}; FR: ids {fr:?}; \"\" (old rows, the default): {unknown} rows");
        assert_eq!((us, fr), (vec![3], vec![OLD_ROWS + 2]));
        assert_eq!(unknown, OLD_ROWS as usize - 1);
        assert_eq!(tx.count::<release2::User>()?, OLD_ROWS as usize + 3);
        assert!(tx.verify::<release2::User>()?.is_empty());
        Ok(())
    })?;
    print_entry(&store)?;
    let entry = catalog_entry(&store)?;
    assert!(entry.contains("layout 1 = version 1 {id: u64, email: string, name: string}"), "{entry}");
    assert!(entry.contains("layout 2 = version 1 {id: u64, email: string, name: string, country: string}"), "{entry}");

    // ---------------------------------------------------------------- release 3
    println!("\n== release 3: version = 2, from = release2::User (From computes domain, fills country)");
    store.read(|tx| {
        let u = found(tx.get::<release3::User>(5u64)?, 5)?;
        println!("old row read by release 3, through From: {u:?}");
        assert_eq!((u.country.as_str(), u.domain.as_str()), ("GB", "example.co.uk"));
        // The version went up, so every index waits for the first write: a From may change
        // indexed values (here it does: countries).
        let e = tx.index(release3::User::email).get(email(5)).unwrap_err();
        println!("query before the first write: {e}");
        assert!(matches!(e, Error::IndexNotBuilt { .. }));
        Ok(())
    })?;
    let batch = 300;
    println!("store.migrate::<release3::User>({batch}, ..):");
    let done = store.migrate::<release3::User>(batch, |m| {
        println!("    {} rows read to build indexes, {} rows rewritten", m.indexed, m.rewritten)
    })?;
    println!("done: {done:?}");
    // The version went up: every index is built again, one at a time, from every row.
    let indexes = release3::User::schema().indexes.len();
    assert_eq!(done.indexed, (OLD_ROWS as usize + 3) * indexes);
    // Every row was written by version 1 (layouts 1 and 2), so every row is rewritten.
    assert_eq!(done.rewritten, OLD_ROWS as usize + 3);
    assert_eq!(store.migrate::<release3::User>(batch, |_| {})?, rivet::Migrated::default(), "nothing left to do");
    store.read(|tx| {
        let uk = tx.index(release3::User::domain).equal("example.co.uk").count()?;
        let gb = tx.index(release3::User::country).equal("GB").count()?;
        let us: Vec<u64> = tx.index(release3::User::country).equal("US").keys().collect::<Result<_, _>>()?;
        let unknown = tx.index(release3::User::country).equal("??").count()?;
        println!(
            "domain = example.co.uk: {uk} rows; country = GB: {gb} rows; US: ids {us:?}; \"??\" (.com): {unknown} rows"
        );
        assert_eq!(uk, OLD_ROWS as usize / 4);
        assert_eq!(gb, OLD_ROWS as usize / 4 + 1, "the computed countries, and Ada's");
        assert_eq!(us, [3], "a country set by release 2 is kept");
        assert_eq!(unknown, OLD_ROWS as usize / 4 - 1);
        let ada = found(tx.index(release3::User::email).get("ada@new.example")?, "ada@new.example")?;
        println!("by email: {ada:?}");
        assert_eq!((ada.country.as_str(), ada.domain.as_str()), ("GB", "new.example"));
        assert!(tx.verify::<release3::User>()?.is_empty());
        Ok(())
    })?;
    print_entry(&store)?;

    // ---------------------------------------------------------------- refused
    println!("\n== refused");
    let before = store.engine().view(rivet::engine::dump::dump_json)?;
    let e = store.read(|tx| tx.count::<release2::User>()).unwrap_err();
    println!("release 2 on this file: {e}");
    assert!(matches!(e, Error::SchemaMismatch { reason: Mismatch::Newer { stored: 2, declared: 1 }, .. }));
    let e = store
        .write(|tx| {
            tx.insert(&mut release1::User { id: 0, email: "late@example.fr".into(), name: "Late".into() }).map(drop)
        })
        .unwrap_err();
    println!("release 1 writing to it: {e}");
    assert!(matches!(e, Error::SchemaMismatch { reason: Mismatch::Newer { stored: 2, declared: 1 }, .. }));

    let e = store.read(|tx| tx.get::<release4_forgot_the_version::User>(1u64)).unwrap_err();
    println!("release 4 (domain: String -> Option<String>, still version 2): {e}");
    match &e {
        Error::SchemaMismatch { reason: Mismatch::Field { version, field, stored, declared }, .. } => {
            assert_eq!(
                (*version, field.as_str(), stored.as_str(), declared.as_str()),
                (2, "domain", "string", "option<string>")
            );
        }
        other => return Err(format!("expected a field mismatch, got: {other}").into()),
    }
    let e = store
        .write(|tx| {
            let mut u = release4_forgot_the_version::User {
                id: 0,
                email: "oops@example.fr".into(),
                name: "Oops".into(),
                country: "FR".into(),
                domain: None,
            };
            tx.insert(&mut u).map(drop)
        })
        .unwrap_err();
    assert!(matches!(e, Error::SchemaMismatch { reason: Mismatch::Field { .. }, .. }));
    let after = store.engine().view(rivet::engine::dump::dump_json)?;
    assert!(before == after, "a refused type writes nothing");
    println!(
        "the file is unchanged; release 3 still reads all {} users",
        store.read(|tx| tx.count::<release3::User>())?
    );
    assert_eq!(store.read(|tx| tx.count::<release3::User>())?, OLD_ROWS as usize + 3);

    store.close()?;
    Ok(())
}
