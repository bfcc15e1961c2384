//! Criterion micro-benchmarks of Rivet's hot paths, so that regressions show up during
//! development: `cargo bench -p rivet-bench` (or `-- lookup` for one).
//!
//! - `lookup`: one `Bucket::get` of an existing key in a 100,000-key bucket (read transaction
//!   held open);
//! - `cursor_step`: one `Cursor::next` over that bucket;
//! - `put_dirty_node`: one `BucketMut::put` overwriting a key whose leaf is already dirty in
//!   the open write transaction;
//! - `commit_empty`: begin and commit a write transaction that changes nothing, durable (the
//!   default) and with `no_sync`;
//! - `key_encoding`: the typed store's key encoding of a `u64` and of a `(String, i64)`.
//!
//! Runs are short (20 samples, 2 s each) and use the workspace's `[profile.bench]`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rivet_bench::data::Workload;
use rivet_engine::{Options, DB};

const N: usize = 100_000;
const BUCKET: &[u8] = b"bench";

/// A fresh directory for one benchmark's database.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rivet-micro-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("cannot create {}: {e}", dir.display());
    }
    dir
}

/// A database holding the first `N` keys of the workload.
fn loaded(name: &str, w: &Workload, opts: Options) -> (DB, PathBuf) {
    let dir = scratch(name);
    let db = DB::open(dir.join("micro.db"), opts).unwrap_or_else(|e| panic!("open: {e}"));
    db.update(|tx| {
        let mut b = tx.create_bucket(BUCKET)?;
        for i in 0..N {
            b.put(&w.keys[i], &w.values[i])?;
        }
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap_or_else(|e| panic!("load: {e}"));
    (db, dir)
}

fn engine(c: &mut Criterion) {
    let w = Workload::new(N);
    let (db, dir) = loaded("read", &w, Options::default());

    {
        let tx = db.begin(false).unwrap_or_else(|e| panic!("begin: {e}"));
        let b = tx.bucket(BUCKET).unwrap_or_else(|e| panic!("bucket: {e}"));
        let mut i = 0usize;
        c.bench_function("lookup", |bench| {
            bench.iter(|| {
                i = (i + 7919) % N;
                black_box(b.get(&w.keys[i]).ok().flatten().map(<[u8]>::len))
            })
        });
        let mut cur = b.cursor();
        let _ = cur.first();
        c.bench_function("cursor_step", |bench| {
            bench.iter(|| match cur.next() {
                Ok(Some((k, _))) => black_box(k.len()),
                _ => {
                    let _ = cur.first();
                    0
                }
            })
        });
    }

    let mut wtx = db.begin(true).unwrap_or_else(|e| panic!("begin write: {e}"));
    {
        let mut b = wtx.bucket_mut(BUCKET).unwrap_or_else(|e| panic!("bucket_mut: {e}"));
        // Make the leaves of the first 1,000 keys dirty, then overwrite them over and over.
        for k in 0..1000 {
            let _ = b.put(&w.keys[k], &w.values[k + 1]);
        }
        let mut k = 0usize;
        c.bench_function("put_dirty_node", |bench| {
            bench.iter(|| {
                k = (k + 13) % 1000;
                black_box(b.put(&w.keys[k], &w.values[k]).is_ok())
            })
        });
    }
    wtx.rollback();

    c.bench_function("commit_empty_durable", |bench| {
        bench.iter(|| {
            let tx = db.begin(true).unwrap_or_else(|e| panic!("begin write: {e}"));
            black_box(tx.commit().is_ok())
        })
    });
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);

    let (db, dir) = loaded("nosync", &w, Options::default().no_sync(true));
    c.bench_function("commit_empty_no_sync", |bench| {
        bench.iter(|| {
            let tx = db.begin(true).unwrap_or_else(|e| panic!("begin write: {e}"));
            black_box(tx.commit().is_ok())
        })
    });
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

fn keys(c: &mut Criterion) {
    let mut x = 0u64;
    c.bench_function("key_encoding_u64", |bench| {
        bench.iter(|| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            black_box(rivet::key::encode(&x))
        })
    });
    let composite = ("ada@example.com".to_string(), -42i64);
    c.bench_function("key_encoding_string_i64", |bench| bench.iter(|| black_box(rivet::key::encode(&composite))));
    let encoded = rivet::key::encode(&composite);
    c.bench_function("key_decoding_string_i64", |bench| {
        bench.iter(|| black_box(rivet::key::decode::<(String, i64)>(&encoded).is_ok()))
    });
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
}

criterion_group! { name = micro; config = config(); targets = engine, keys }
criterion_main!(micro);
