//! The builder against the engine: files it lays out with ordinary content open, pass
//! `tx.check()` and read back exactly what was laid out, at every page size; a write
//! transaction on them keeps them consistent; the encoders agree with the engine's decoders.

use std::collections::BTreeMap;

use rivet_engine::{Options, DB};

use super::node::{self, fnv1a64, MetaFields};
use super::{corpus, Craft, Elem, Freelist};
use crate::{scratch, Rng};

/// A bucket's content: keys to values or nested buckets (sequence, content).
#[derive(Debug, Clone)]
enum Item {
    Value(Vec<u8>),
    Bucket(u64, BTreeMap<Vec<u8>, Item>),
}

fn model(rng: &mut Rng, depth: usize, ps: usize) -> BTreeMap<Vec<u8>, Item> {
    let n = rng.below(if depth == 0 { 6 } else { 60 }) as usize;
    let mut m = BTreeMap::new();
    for _ in 0..n {
        let key = rng.bytes_between(1, 10);
        let item = if depth == 0 || (depth < 3 && rng.below(12) == 0) {
            Item::Bucket(rng.next_u64() >> rng.below(64), model(rng, depth + 1, ps))
        } else {
            let len = match rng.below(40) {
                0 => ps + rng.below(3 * ps as u64) as usize,
                _ => rng.below(40) as usize,
            };
            Item::Value(rng.bytes(len))
        };
        m.insert(key, item);
    }
    m
}

/// Lays out a bucket's content; small buckets without sub-buckets go inline at random.
fn lay_out(c: &mut Craft, m: &BTreeMap<Vec<u8>, Item>, rng: &mut Rng) -> Vec<Elem> {
    let per_leaf = 2 + rng.below(30) as usize;
    m.iter()
        .map(|(k, item)| match item {
            Item::Value(v) => Elem::kv(k, v),
            Item::Bucket(seq, sub) => {
                let elems = lay_out(c, sub, rng);
                let flat = sub.values().all(|i| matches!(i, Item::Value(_)));
                let size = node::leaf(&elems).len();
                if flat && size <= c.page_size() / 4 && rng.below(2) == 0 {
                    Elem::inline(k, *seq, &elems)
                } else {
                    let root = c.tree(&elems, per_leaf);
                    Elem::bucket(k, root, *seq)
                }
            }
        })
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The canonical dump (format section 18) of a bucket.
fn dump(seq: u64, m: &BTreeMap<Vec<u8>, Item>) -> String {
    let entries: Vec<String> = m
        .iter()
        .map(|(k, item)| match item {
            Item::Value(v) => format!("{{\"key\":\"{}\",\"value\":\"{}\"}}", hex(k), hex(v)),
            Item::Bucket(s, sub) => format!("{{\"key\":\"{}\",\"bucket\":{}}}", hex(k), dump(*s, sub)),
        })
        .collect();
    format!("{{\"sequence\":{seq},\"entries\":[{}]}}", entries.join(","))
}

fn opts(ro: bool) -> Options {
    Options::default().read_only(ro).no_sync(true)
}

#[test]
fn checksum_and_meta_agree_with_the_engine() {
    for s in [&b""[..], b"a", b"rivet", &[0xffu8; 300]] {
        assert_eq!(fnv1a64(s), rivet_engine::format::meta::fnv1a64(s));
    }
    let f = MetaFields {
        magic: node::MAGIC,
        version: node::VERSION,
        page_size: 1024,
        flags: 0,
        root: 7,
        root_sequence: 9,
        freelist: 5,
        hwm: 11,
        txid: 13,
    };
    let page = f.page(1, 1024);
    let m = rivet_engine::format::meta::Meta::decode(&page, 1).expect("meta decodes");
    m.validate().expect("meta validates");
    assert_eq!((m.root, m.root_sequence, m.freelist, m.pgid, m.txid, m.page_size), (7, 9, 5, 11, 13, 1024));
}

/// Random nested content at every page size, with and without a stored freelist: the engine
/// opens the file, finds nothing wrong, and dumps exactly the content; a write transaction
/// leaves it consistent.
#[test]
fn ordinary_content_opens_checks_and_reads_back() {
    let dir = scratch();
    let mut rng = Rng::new(crate::seed(0xC4AF7));
    for round in 0..24 {
        let ps = [256usize, 1024, 4096, 16384][round % 4];
        let no_freelist = round % 3 == 2;
        let content = model(&mut rng, 0, ps);
        let mut c = Craft::new(ps);
        let root_elems = lay_out(&mut c, &content, &mut rng);
        let per_leaf = 2 + rng.below(6) as usize;
        let root = c.tree(&root_elems, per_leaf);
        let root_seq = rng.next_u64();
        c.root(root).root_sequence(root_seq);
        c.txid(2 + rng.below(1000));
        if no_freelist {
            c.freelist(Freelist::Absent);
        }
        let image = c.finish();
        let path = dir.path().join(format!("ordinary-{round}.db"));
        image.write(&path).unwrap();
        let expected = format!("{}\n", dump(root_seq, &content));
        let what = format!("round {round} (page size {ps}, no freelist: {no_freelist})");

        let db = DB::open(&path, opts(true)).unwrap_or_else(|e| panic!("{what}: open: {e}"));
        let tx = db.begin(false).unwrap();
        assert_eq!(tx.check().unwrap(), Vec::new(), "{what}: check");
        assert_eq!(rivet_engine::dump::dump_json(&tx).unwrap(), expected, "{what}: dump");
        drop(tx);
        drop(db);

        let db = DB::open(&path, opts(false)).unwrap_or_else(|e| panic!("{what}: open rw: {e}"));
        db.update(|tx| {
            tx.create_bucket_if_not_exists(b"\xffadded")?.put(b"k", b"v")?;
            let first = tx.root().iter().next().transpose()?.map(|(k, _)| k.to_vec());
            if let Some(name) = first {
                tx.bucket_mut(&name)?.put(b"\x00new", &[3u8; 50])?;
            }
            Ok::<_, rivet_engine::Error>(())
        })
        .unwrap_or_else(|e| panic!("{what}: write: {e}"));
        let tx = db.begin(false).unwrap();
        assert_eq!(tx.check().unwrap(), Vec::new(), "{what}: check after a write");
        assert_eq!(tx.bucket(b"\xffadded").unwrap().get(b"k").unwrap(), Some(&b"v"[..]), "{what}");
    }
}

#[test]
fn the_ordinary_case_of_the_corpus_is_sound() {
    let dir = scratch();
    let case = corpus::case("ordinary").expect("ordinary case");
    assert!(case.sound);
    let path = dir.path().join("ordinary.db");
    case.image.write(&path).unwrap();
    let db = DB::open(&path, opts(true)).unwrap();
    let tx = db.begin(false).unwrap();
    assert_eq!(tx.check().unwrap(), Vec::new());
    let alpha = tx.bucket(b"alpha").unwrap();
    assert_eq!(alpha.iter().count(), 2000);
    assert_eq!(alpha.get(b"key00007").unwrap(), Some(&[0xabu8; 10_000][..]));
    assert_eq!(alpha.sequence(), 42);
    let inner = tx.bucket_path(&[b"gamma", b"inner"]).unwrap();
    assert_eq!(inner.get(b"x").unwrap(), Some(&b"1"[..]));
    assert_eq!(tx.bucket_path(&[b"gamma", b"deep"]).unwrap().iter().count(), 300);
    let (path, key) = case.probe.expect("probe");
    let refs: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
    assert!(tx.bucket_path(&refs).unwrap().get(&key).unwrap().is_some(), "the probe names a key");
}

/// Every case builds, is at most a few megabytes on disk, and its metas are valid.
#[test]
fn every_case_builds_with_valid_metas() {
    let names = corpus::names();
    let cases = corpus::corpus();
    assert_eq!(names.len(), cases.len());
    for (name, case) in names.iter().zip(&cases) {
        assert_eq!(*name, case.name);
        assert!(case.image.stored() <= 4 << 20, "{name}: {} bytes stored", case.image.stored());
        let ps = case.image.page_size;
        // Both metas sit in the first written run; read them from a copy of its pages.
        let head = case.image.head(2 * ps);
        for page in 0..2usize {
            let m = rivet_engine::format::meta::Meta::decode(&head[page * ps..(page + 1) * ps], page as u64)
                .unwrap_or_else(|e| panic!("{name}: meta {page}: {e}"));
            m.validate().unwrap_or_else(|e| panic!("{name}: meta {page}: {e}"));
        }
    }
}

/// A huge high-water mark costs nothing on disk: the file is a hole past its few pages.
#[test]
fn sparse_images_stay_sparse() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch();
    let case = corpus::case("sparse_26_nofl").unwrap();
    assert_eq!(case.image.len(), 256 << 26);
    assert!(case.image.stored() <= 4096, "{} bytes stored", case.image.stored());
    let path = dir.path().join("sparse.db");
    case.image.write(&path).unwrap();
    let md = std::fs::metadata(&path).unwrap();
    assert_eq!(md.len(), 256 << 26);
    assert!(md.blocks() * 512 <= 64 << 10, "{} bytes allocated", md.blocks() * 512);
    // A read-only open maps it and sees the one bucket.
    let db = DB::open(&path, opts(true)).unwrap();
    assert_eq!(db.info().meta.pgid, 1 << 26);
    let tx = db.begin(false).unwrap();
    assert_eq!(tx.bucket(b"b").unwrap().get(b"k").unwrap(), Some(&b"v"[..]));
}

/// Defects land where they are asked for: the freelist header id, hwm, txids of both metas.
#[test]
fn single_field_defects_are_placed_as_asked() {
    let mut c = Craft::new(1024);
    c.root_leaf(&[Elem::bucket("b", 0, 0)]);
    let free = c.alloc(1);
    c.freelist(Freelist::Ids(vec![free])).freelist_header_id(99).txid(7);
    let img = c.finish().to_vec();
    let meta = |p: usize| rivet_engine::format::meta::Meta::decode(&img[p * 1024..(p + 1) * 1024], p as u64).unwrap();
    let (m0, m1) = (meta(0), meta(1));
    assert_eq!((m1.txid, m0.txid), (7, 6), "the current meta goes to page txid % 2");
    let fl = m1.freelist as usize * 1024;
    assert_eq!(u64::from_le_bytes(img[fl..fl + 8].try_into().unwrap()), 99);
    assert_eq!(u16::from_le_bytes([img[fl + 8], img[fl + 9]]), node::FREELIST);
    assert_eq!(u64::from_le_bytes(img[fl + 16..fl + 24].try_into().unwrap()), free);
    assert_eq!(m1.pgid, m1.freelist + 1);
}
