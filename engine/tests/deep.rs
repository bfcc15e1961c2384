//! The deepest file the engine accepts is read on a small stack: `check`, bucket statistics, the
//! JSON dump and a read of every key (cursors both ways, lookups) run on a thread with a
//! 256 KiB stack, so none of them may recurse per tree level or per nesting level; so do a put
//! into the deepest bucket, a compaction and the deletion of the outermost bucket. CI runs this
//! file unoptimised too (`cargo test --profile dev`), where frames are largest.
//!
//! The file is made by hand from the format's own node writers: page size 512, buckets nested
//! `MAX_NESTING` (48) levels below the root bucket, and every bucket's tree 64 levels deep
//! (the most reads accept: a chain of one-element branch pages over one leaf). That is
//! 49 x 64 tree levels on the deepest path, which a walk that recursed per level could not
//! survive on this stack.

use std::path::Path;

use rivet_engine::format::meta::Meta;
use rivet_engine::format::page::FREELIST_FLAG;
use rivet_engine::format::page::{write_branch, write_leaf, BranchElem, LeafElem, PageHeader, BUCKET_LEAF_FLAG};
use rivet_engine::{Options, DB, MAX_NESTING};

const PAGE_SIZE: usize = 512;
/// Tree levels of every bucket: the deepest tree reads accept (`MAX_DEPTH`).
const LEVELS: u64 = 64;
/// Plain values in the leaf of every nested bucket.
const VALUES: usize = 4;
/// The root bucket and the buckets nested below it.
const BUCKETS: usize = MAX_NESTING + 1;
/// The first page of the trees (after the metas and the freelist page).
const FIRST: u64 = 3;

/// The root page of the tree of bucket `n` (0: the root bucket, `n`: nested `n` levels deep):
/// its tree is pages `root .. root + LEVELS`, branches first, the leaf last.
fn root_of(n: usize) -> u64 {
    FIRST + n as u64 * LEVELS
}

fn page(img: &mut [u8], id: u64) -> &mut [u8] {
    let at = id as usize * PAGE_SIZE;
    &mut img[at..at + PAGE_SIZE]
}

fn craft() -> Vec<u8> {
    let hwm = root_of(BUCKETS);
    let mut img = vec![0u8; hwm as usize * PAGE_SIZE];
    for (id, txid) in [(0u64, 2u64), (1, 1)] {
        let meta = Meta { root: root_of(0), freelist: 2, pgid: hwm, ..Meta::initial(PAGE_SIZE as u32, txid) };
        page(&mut img, id).copy_from_slice(&meta.encode_page(id, PAGE_SIZE));
    }
    PageHeader { id: 2, flags: FREELIST_FLAG, count: 0, overflow: 0 }.write(page(&mut img, 2)).unwrap();
    for n in 0..BUCKETS {
        // The root bucket holds only its sub-bucket; the deepest bucket only values.
        let values: Vec<(Vec<u8>, Vec<u8>)> = if n == 0 {
            Vec::new()
        } else {
            (0..VALUES).map(|i| (format!("k{i}").into_bytes(), format!("v{n}-{i}").into_bytes())).collect()
        };
        let header = [root_of(n + 1).to_le_bytes(), (n as u64).to_le_bytes()].concat();
        let mut elems: Vec<LeafElem<'_>> =
            values.iter().map(|(k, v)| LeafElem { flags: 0, key: k, value: v }).collect();
        if n + 1 < BUCKETS {
            elems.push(LeafElem { flags: BUCKET_LEAF_FLAG, key: b"sub", value: &header });
        }
        let leaf = root_of(n) + LEVELS - 1;
        write_leaf(page(&mut img, leaf), leaf, 0, elems.iter().copied()).unwrap();
        let first = elems[0].key;
        for id in root_of(n)..leaf {
            let child = [BranchElem { key: first, pgid: id + 1 }];
            write_branch(page(&mut img, id), id, 0, child.iter().copied()).unwrap();
        }
    }
    img
}

/// Everything that reads the whole file, on a 256 KiB stack.
fn read_everything(path: &Path) {
    let db = DB::open(path, Options::default().read_only(true)).unwrap();
    let tx = db.begin(false).unwrap();

    let problems = tx.check().unwrap();
    assert!(problems.is_empty(), "{problems:?}");

    let s = tx.root().stats().unwrap();
    let buckets = BUCKETS as u64;
    assert_eq!((s.depth, s.bucket_n, s.inline_bucket_n), (LEVELS, buckets, 0));
    assert_eq!((s.branch_page_n, s.leaf_page_n), (buckets * (LEVELS - 1), buckets));
    assert_eq!(s.key_n, (buckets - 1) + ((buckets - 1) * VALUES as u64), "a bucket entry per level, and values");

    let dump = rivet_engine::dump::dump_json(&tx).unwrap();
    assert_eq!(dump.matches("\"bucket\":").count(), MAX_NESTING);
    assert!(dump.ends_with(&format!("{}\n", "]}}".repeat(MAX_NESTING) + "]}")), "{}", &dump[dump.len() - 300..]);

    // Every key of every bucket: forwards, backwards, and by lookup.
    let mut b = tx.root();
    let mut values = 0;
    for n in 0..BUCKETS {
        let items: Vec<_> = b.iter().collect::<Result<_, _>>().unwrap();
        let mut back: Vec<_> = b.iter().rev().collect::<Result<_, _>>().unwrap();
        back.reverse();
        assert_eq!(items, back, "bucket {n}: both directions");
        for (k, v) in &items {
            match v {
                Some(v) => {
                    assert_eq!(b.get(k).unwrap(), Some(*v), "bucket {n}");
                    values += 1;
                }
                None => assert!(b.has_bucket(k).unwrap()),
            }
        }
        if n + 1 < BUCKETS {
            b = b.bucket(b"sub").unwrap();
            assert_eq!(b.sequence(), n as u64);
        }
    }
    assert_eq!(values, MAX_NESTING * VALUES);
}

#[test]
fn the_deepest_file_is_checked_counted_dumped_and_read_on_a_256_kib_stack() {
    let dir = std::env::temp_dir().join(format!("rivet-deep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("deep.db");
    std::fs::write(&path, craft()).unwrap();
    let p = path.clone();
    let reader = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || read_everything(&p)).unwrap();
    let r = reader.join();
    std::fs::remove_dir_all(&dir).unwrap();
    if let Err(panic) = r {
        std::panic::resume_unwind(panic);
    }
}

/// Everything that writes at the deepest point, on a 256 KiB stack: a put into the deepest
/// bucket (a commit that rebuilds a 64-level path in each of the 49 trees above it), a
/// compaction of the whole file, and the deletion of the outermost bucket (which frees every
/// page below it).
fn write_everything(path: &Path, copy: &Path) {
    let db = DB::open(path, Options::default()).unwrap();
    db.update(|tx| {
        let mut names: Vec<&[u8]> = Vec::new();
        names.resize(MAX_NESTING, b"sub");
        tx.bucket_path_mut(&names)?.put(b"new", b"value")
    })
    .unwrap();
    db.view(|tx| {
        assert_eq!(tx.check()?, Vec::new());
        let mut b = tx.root();
        for _ in 0..MAX_NESTING {
            b = b.bucket(b"sub")?;
        }
        assert_eq!(b.get(b"new")?, Some(&b"value"[..]));
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap();

    let dst = DB::open(copy, Options::default()).unwrap();
    let keys = rivet_engine::compact(&db, &dst, 0).unwrap();
    assert_eq!(keys as usize, MAX_NESTING * VALUES + 1);
    dst.view(|tx| {
        assert_eq!(tx.check()?, Vec::new());
        assert_eq!(rivet_engine::dump::dump_json(tx)?, rivet_engine::dump::dump_json(&db.begin(false)?)?);
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap();

    db.update(|tx| tx.delete_bucket(b"sub")).unwrap();
    db.view(|tx| {
        assert_eq!(tx.check()?, Vec::new());
        assert_eq!(tx.root().iter().count(), 0, "only `sub` was in the root bucket");
        Ok::<_, rivet_engine::Error>(())
    })
    .unwrap();
}

#[test]
fn the_deepest_file_is_written_compacted_and_emptied_on_a_256_kib_stack() {
    let dir = std::env::temp_dir().join(format!("rivet-deep-w-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("deep.db");
    std::fs::write(&path, craft()).unwrap();
    let (p, c) = (path.clone(), dir.join("copy.db"));
    let writer = std::thread::Builder::new().stack_size(256 * 1024).spawn(move || write_everything(&p, &c)).unwrap();
    let r = writer.join();
    std::fs::remove_dir_all(&dir).unwrap();
    if let Err(panic) = r {
        std::panic::resume_unwind(panic);
    }
}
