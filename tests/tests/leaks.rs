//! Go bbolt 1.3.6 can leak pages in `DeleteBucket` (format doc, section 16): pages neither
//! reachable nor on the freelist. Such files must stay readable and writable; `check` reports
//! the leak, and the engine never hands the leaked pages out.

use rivet_engine::{Corruption, Options, Problem, DB};
use rivet_tests::{copy_fixture, fixtures_dir, rust_dump, scratch};

/// Rewrites the freelist page of `path` without its last id, leaking that page.
fn leak_last_free_page(path: &std::path::Path) -> u64 {
    let db = DB::open(path, Options::default().read_only(true)).unwrap();
    let info = db.info();
    drop(db);
    let ps = u64::from(info.page_size);
    let mut bytes = std::fs::read(path).unwrap();
    let off = (info.meta.freelist * ps) as usize;
    let count = u16::from_le_bytes([bytes[off + 10], bytes[off + 11]]);
    assert!(count > 0 && count < 0xFFFF, "fixture needs a small non-empty freelist");
    let last_at = off + 16 + 8 * (count as usize - 1);
    let leaked = u64::from_le_bytes(bytes[last_at..last_at + 8].try_into().unwrap());
    bytes[off + 10..off + 12].copy_from_slice(&(count - 1).to_le_bytes());
    bytes[last_at..last_at + 8].fill(0);
    std::fs::write(path, bytes).unwrap();
    leaked
}

#[test]
fn leaked_pages_are_reported_and_the_file_stays_usable() {
    let dir = scratch();
    let path = copy_fixture(&fixtures_dir().join("freelist.db"), dir.path());
    let before = rust_dump(&path);
    let leaked = leak_last_free_page(&path);
    let db = DB::open(&path, Options::default()).unwrap();
    let problems = db.begin(false).unwrap().check().unwrap();
    assert_eq!(problems, vec![Problem::new(leaked, Corruption::UnreachableUnfreed)]);
    assert_eq!(problems[0].to_string(), format!("page {leaked}: unreachable unfreed"));
    assert_eq!(rivet_engine::dump::dump_json(&db.begin(false).unwrap()).unwrap(), before);
    for round in 0..5u32 {
        db.update(|tx| {
            let mut b = tx.create_bucket_if_not_exists(b"more")?;
            for i in 0..500u32 {
                b.put(&(round * 1000 + i).to_be_bytes(), &[1u8; 64])?;
            }
            Ok::<_, rivet_engine::Error>(())
        })
        .unwrap();
    }
    // Still exactly one problem: the leaked page was never reused.
    let problems = db.begin(false).unwrap().check().unwrap();
    assert_eq!(problems, vec![Problem::new(leaked, Corruption::UnreachableUnfreed)]);
}
