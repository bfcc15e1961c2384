//! Multi-valued indexes (`#[index(each)]`): one entry per distinct element of a collection
//! field, kept in step by every write (only the entries that change), queried by element.

use std::collections::BTreeSet;

use rivet::catalog::{Entry, CATALOG_BUCKET};
use rivet::key::encode;
use rivet::stored::{audit_stored, StoredType};
use rivet::{Error, Problem, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[rivet(bucket = "posts")]
struct Post {
    #[key(auto)]
    id: u64,
    #[index(each)]
    tags: Vec<String>,
    /// Every slug is held by one post at most.
    #[index(each, unique)]
    slugs: BTreeSet<String>,
}

fn post(tags: &[&str], slugs: &[&str]) -> Post {
    Post {
        id: 0,
        tags: tags.iter().map(|t| t.to_string()).collect(),
        slugs: slugs.iter().map(|s| s.to_string()).collect(),
    }
}

fn tagged(store: &Store, tag: &str) -> Vec<u64> {
    store.read(|tx| tx.index(Post::tags).equal(tag).keys().collect::<Result<Vec<u64>, _>>()).unwrap()
}

fn raw_entries(store: &Store, index: &str) -> usize {
    let bucket = Post::schema().indexes.iter().find(|i| i.name == index).unwrap().bucket.clone();
    let tx = store.engine().begin(false).unwrap();
    let b = tx.bucket_path(&[b"posts", &bucket]).unwrap();
    b.iter().count()
}

fn audit(store: &Store) -> Vec<Problem> {
    let tx = store.engine().begin(false).unwrap();
    let entry = Entry::parse(tx.bucket(CATALOG_BUCKET).unwrap().get(b"posts").unwrap().unwrap()).unwrap();
    let a = audit_stored(&tx, &StoredType::new(b"posts".to_vec(), entry)).unwrap();
    assert_eq!(a.unverified, vec![], "everything is judged by layout");
    a.problems
}

#[test]
fn each_element_is_an_entry_and_queries_find_records_by_element() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    store
        .write(|tx| {
            tx.insert(&mut post(&["rust", "db", "rust"], &["intro"]))?;
            tx.insert(&mut post(&["db"], &["second", "2nd"]))?;
            tx.insert(&mut post(&[], &[]))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(tagged(&store, "rust"), [1]);
    assert_eq!(tagged(&store, "db"), [1, 2]);
    // A repeated element is one entry; an empty collection none.
    assert_eq!(raw_entries(&store, "tags"), 3);
    assert_eq!(raw_entries(&store, "slugs"), 3);
    store
        .read(|tx| {
            assert_eq!(tx.index(Post::slugs).get("2nd")?.map(|p| p.id), Some(2));
            assert_eq!(tx.index(Post::tags).range("r".."s").count()?, 1);
            assert_eq!(tx.index(Post::tags).range("a".."e").count()?, 2);
            assert_eq!(tx.verify::<Post>()?, vec![]);
            Ok(())
        })
        .unwrap();
    assert_eq!(audit(&store), vec![]);
}

#[test]
fn updates_change_only_the_entries_that_differ_and_unique_elements_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    store.write(|tx| tx.insert(&mut post(&["a", "b"], &["one"])).map(drop)).unwrap();
    store.write(|tx| tx.insert(&mut post(&["b"], &["two"])).map(drop)).unwrap();
    // Post 1 drops "a", keeps "b", gains "c".
    store.write(|tx| tx.modify::<Post, _>(1u64, |p| p.tags = vec!["c".into(), "b".into()]).map(drop)).unwrap();
    assert_eq!(tagged(&store, "a"), Vec::<u64>::new());
    assert_eq!(tagged(&store, "b"), [1, 2]);
    assert_eq!(tagged(&store, "c"), [1]);
    assert_eq!(raw_entries(&store, "tags"), 3);
    // A slug another post holds: refused, nothing written.
    let e = store
        .write(|tx| {
            tx.modify::<Post, _>(1u64, |p| {
                p.slugs.insert("two".into());
            })
        })
        .unwrap_err();
    assert!(matches!(&e, Error::UniqueViolation { index, value, .. } if index == "slugs" && value == "two"), "{e}");
    assert_eq!(store.read(|tx| tx.index(Post::slugs).get("two")).unwrap().map(|p| p.id), Some(2));
    // Removing a post removes all its entries.
    store.write(|tx| tx.remove::<Post>(1u64).map(drop)).unwrap();
    assert_eq!(raw_entries(&store, "tags"), 1);
    assert_eq!(raw_entries(&store, "slugs"), 1);
    assert_eq!(store.read(|tx| tx.verify::<Post>()).unwrap(), vec![]);
    assert_eq!(audit(&store), vec![]);
}

#[test]
fn damage_to_a_multi_valued_index_is_found_by_both_audits() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    store.write(|tx| tx.insert(&mut post(&["x", "y"], &["s"])).map(drop)).unwrap();
    let tags = Post::schema().indexes[0].bucket.clone();
    let mut y = encode(&"y".to_string());
    y.extend_from_slice(&encode(&1u64));
    let mut z = encode(&"z".to_string());
    z.extend_from_slice(&encode(&1u64));
    store
        .engine()
        .update(|tx| {
            let mut b = tx.bucket_path_mut(&[b"posts", &tags])?;
            b.delete(&y)?;
            b.put(&z, b"")
        })
        .unwrap();
    let typed = store.read(|tx| tx.verify::<Post>()).unwrap();
    assert_eq!(typed, audit(&store));
    assert!(typed
        .iter()
        .any(|p| matches!(p, Problem::MissingEntry { index, value, .. } if index == "tags" && value == "\"y\"")));
    assert!(typed
        .iter()
        .any(|p| matches!(p, Problem::StrayEntry { index, entry, .. } if index == "tags" && entry == "\"z\"")));
}

mod before {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone, PartialEq)]
    #[rivet(bucket = "posts")]
    pub struct Post {
        #[key(auto)]
        pub id: u64,
        pub tags: Vec<String>,
        pub slugs: BTreeSet<String>,
    }
}

#[test]
fn a_new_multi_valued_index_is_built_from_the_records_and_collisions_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db")).unwrap();
    store
        .write(|tx| {
            for i in 0..50u64 {
                let tags = vec![format!("t{}", i % 5), "all".to_string()];
                let slugs = [format!("s{i}")].into_iter().collect();
                tx.insert(&mut before::Post { id: 0, tags, slugs })?;
            }
            Ok(())
        })
        .unwrap();
    let done = store.migrate::<Post>(7, |_| {}).unwrap();
    assert_eq!(done.indexed, 100, "two indexes, 50 records each");
    assert_eq!(tagged(&store, "all").len(), 50);
    assert_eq!(tagged(&store, "t3"), [4, 9, 14, 19, 24, 29, 34, 39, 44, 49]);
    assert_eq!(store.read(|tx| tx.verify::<Post>()).unwrap(), vec![]);
    // Two posts with one slug: the unique build names both.
    let dir2 = tempfile::tempdir().unwrap();
    let other = Store::open(dir2.path().join("n.db")).unwrap();
    other
        .write(|tx| {
            for s in [["a", "b"], ["c", "b"]] {
                tx.insert(&mut before::Post { id: 0, tags: vec![], slugs: s.iter().map(|x| x.to_string()).collect() })?;
            }
            Ok(())
        })
        .unwrap();
    let e = other.write(|tx| tx.migrate::<Post>()).unwrap_err();
    assert!(
        matches!(&e, Error::UniqueCollision { index, first, second, .. } if index == "slugs" && first == "1" && second == "2"),
        "{e}"
    );
}
