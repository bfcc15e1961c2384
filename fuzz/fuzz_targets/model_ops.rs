//! Arbitrary operation sequences against an in-memory model: puts, deletes, nested buckets,
//! sequences, commits and rollbacks, with a reopen and a consistency check at the end.
#![no_main]

use std::collections::BTreeMap;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rivet_engine::{Error, Options, DB};

#[derive(Debug, Arbitrary)]
enum Op {
    Put { bucket: u8, key: Vec<u8>, len: u16 },
    Delete { bucket: u8, key: Vec<u8> },
    DeleteBucket { bucket: u8 },
    NextSequence { bucket: u8 },
    Commit,
    Rollback,
}

type Model = BTreeMap<Vec<u8>, (u64, BTreeMap<Vec<u8>, Vec<u8>>)>;

fn name(b: u8) -> Vec<u8> {
    vec![b'b', b % 4]
}

fn path() -> std::path::PathBuf {
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm".into() } else { std::env::temp_dir() };
    dir.join(format!("rivet-fuzz-model-{}.db", std::process::id()))
}

fn check_model(db: &DB, model: &Model) {
    let tx = db.begin(false).expect("begin");
    assert!(tx.check().expect("check").is_empty(), "check failed");
    let mut seen = BTreeMap::new();
    tx.for_each_bucket(|n, b| {
        let items: BTreeMap<Vec<u8>, Vec<u8>> =
            b.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.unwrap_or_default().to_vec()))).collect::<Result<_, _>>()?;
        seen.insert(n.to_vec(), (b.sequence(), items));
        Ok(())
    })
    .expect("walk");
    assert_eq!(&seen, model, "engine differs from the model");
}

fuzz_target!(|ops: Vec<Op>| {
    let p = path();
    let _ = std::fs::remove_file(&p);
    let db = DB::open(&p, Options::default().page_size(1024).no_sync(true)).expect("open");
    let mut committed: Model = BTreeMap::new();
    let mut tx = db.begin(true).expect("begin");
    let mut model = committed.clone();
    for op in ops.iter().take(400) {
        match op {
            Op::Put { bucket, key, len } => {
                let value = vec![key.len() as u8; usize::from(*len % 3000)];
                let r = tx.create_bucket_if_not_exists(&name(*bucket)).and_then(|mut b| b.put(key, &value));
                match r {
                    Ok(()) => {
                        model.entry(name(*bucket)).or_default().1.insert(key.clone(), value);
                    }
                    Err(Error::KeyRequired) => {
                        assert!(key.is_empty());
                        model.entry(name(*bucket)).or_default();
                    }
                    Err(e) => panic!("put: {e}"),
                }
            }
            Op::Delete { bucket, key } => match tx.bucket_mut(&name(*bucket)) {
                Ok(mut b) => {
                    b.delete(key).expect("delete");
                    if let Some(m) = model.get_mut(&name(*bucket)) {
                        m.1.remove(key);
                    }
                }
                Err(Error::BucketNotFound) => assert!(!model.contains_key(&name(*bucket))),
                Err(e) => panic!("bucket: {e}"),
            },
            Op::DeleteBucket { bucket } => match tx.delete_bucket(&name(*bucket)) {
                Ok(()) => assert!(model.remove(&name(*bucket)).is_some()),
                Err(Error::BucketNotFound) => assert!(!model.contains_key(&name(*bucket))),
                Err(e) => panic!("delete bucket: {e}"),
            },
            Op::NextSequence { bucket } => {
                if let Ok(mut b) = tx.bucket_mut(&name(*bucket)) {
                    let s = b.next_sequence().expect("sequence");
                    model.get_mut(&name(*bucket)).expect("model bucket").0 = s;
                }
            }
            Op::Commit => {
                tx.commit().expect("commit");
                committed = model.clone();
                tx = db.begin(true).expect("begin");
            }
            Op::Rollback => {
                tx.rollback();
                model = committed.clone();
                tx = db.begin(true).expect("begin");
            }
        }
    }
    tx.commit().expect("final commit");
    check_model(&db, &model);
    drop(db);
    let db = DB::open(&p, Options::default()).expect("reopen");
    check_model(&db, &model);
    drop(db);
    let _ = std::fs::remove_file(&p);
});
