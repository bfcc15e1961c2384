//! `rivet map`: the SVG of every fixture parses as XML, its cells give each page the owner the
//! page walker reports (as `rivet pages --json` prints it), its legend's totals are `rivet
//! stats`'s; a damaged copy still draws, with the damaged page marked; and the map of a file of
//! a million pages stays under 2 MB (its time is printed, never asserted: run
//! `cargo test --release -p rivet-cli --test map -- --nocapture million` for the figure).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use rivet_engine::{Options, DB};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("RIVET_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bbolt"),
    }
}

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .collect();
    v.sort();
    assert!(!v.is_empty());
    v
}

fn rivet<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rivet")).args(args).output().expect("run rivet")
}

fn ok<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(args: I) -> String {
    let o = rivet(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "rivet failed: {err}");
    assert!(!err.contains("panicked"), "{err}");
    String::from_utf8(o.stdout).expect("utf-8")
}

/// A legend entry: owner, kind and pages.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    owner: String,
    kind: String,
    pages: u64,
}

/// What a map says: the class of each page (expanded from the cells) and the legend by class.
struct Map {
    per_cell: u64,
    pages: Vec<String>,
    legend: HashMap<String, Entry>,
}

impl Map {
    fn entry(&self, page: usize) -> &Entry {
        &self.legend[&self.pages[page]]
    }
}

fn parse(svg: &str) -> Map {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML: {e}"));
    let group =
        |id: &str| doc.descendants().find(|n| n.attribute("id") == Some(id)).unwrap_or_else(|| panic!("no group {id}"));
    let map = group("map");
    let per_cell: u64 = map.attribute("data-per-cell").unwrap().parse().unwrap();
    let total: usize = map.attribute("data-pages").unwrap().parse().unwrap();
    let mut pages = vec![String::new(); total];
    let mut next = 0u64;
    for r in map.children().filter(|n| n.has_tag_name("rect")) {
        let first: u64 = r.attribute("data-p").unwrap().parse().unwrap();
        let n: u64 = r.attribute("data-n").unwrap().parse().unwrap();
        assert_eq!(first, next, "cells cover the pages in order, without gaps");
        for p in first..first + n {
            pages[p as usize] = r.attribute("class").unwrap().to_string();
        }
        next = first + n;
    }
    assert_eq!(next as usize, total, "the cells cover every page");
    let mut legend = HashMap::new();
    for r in group("legend").children().filter(|n| n.has_tag_name("rect")) {
        let e = Entry {
            owner: r.attribute("data-owner").unwrap().to_string(),
            kind: r.attribute("data-kind").unwrap().to_string(),
            pages: r.attribute("data-pages").unwrap().parse().unwrap(),
        };
        legend.insert(r.attribute("class").unwrap().to_string(), e);
    }
    for c in &pages {
        assert!(legend.contains_key(c), "class {c} of a cell is in the legend");
    }
    Map { per_cell, pages, legend }
}

/// The owner and kind `rivet pages --json` gives each page, overflow pages expanded.
fn expected(file: &Path) -> Vec<(String, String)> {
    let j: Value = serde_json::from_str(&ok([OsStr::new("pages"), file.as_os_str(), OsStr::new("--json")])).unwrap();
    let mut v = Vec::new();
    for row in j["pages"].as_array().unwrap() {
        let kind = row["type"].as_str().unwrap();
        let overflow = row["overflow"].as_u64().unwrap();
        let owner = match kind {
            "branch" | "leaf" => match row["bucket"].as_array().unwrap().first() {
                None => "root".to_string(),
                Some(name) => format!("bucket:{}", name.as_str().unwrap()),
            },
            "unreachable" => "leaked".to_string(),
            "invalid" => "damaged".to_string(),
            other => other.to_string(),
        };
        let k = if matches!(kind, "branch" | "leaf") { kind } else { "" };
        // A run of free or unreachable pages is one row, `id` to `last`.
        let run = match (row["id"].as_u64(), row["last"].as_u64()) {
            (Some(first), Some(last)) => last - first + 1,
            _ => 1,
        };
        for _ in 0..run {
            v.push((owner.clone(), k.to_string()));
        }
        let more = if k.is_empty() { "" } else { "overflow" };
        for _ in 0..overflow {
            v.push((owner.clone(), more.to_string()));
        }
    }
    v
}

#[test]
fn every_fixture_maps_each_page_to_its_walked_owner() {
    for f in fixtures() {
        let svg = ok([OsStr::new("map"), f.as_os_str()]);
        let map = parse(&svg);
        assert_eq!(map.per_cell, 1, "{}: small files get a cell per page", f.display());
        let want = expected(&f);
        assert_eq!(map.pages.len(), want.len(), "{}", f.display());
        for (i, (owner, kind)) in want.iter().enumerate() {
            let e = map.entry(i);
            assert_eq!((&e.owner, &e.kind), (owner, kind), "{}: page {i}", f.display());
        }
        // Each legend entry counts the pages drawn in its class.
        for (class, e) in &map.legend {
            let drawn = map.pages.iter().filter(|c| *c == class).count() as u64;
            assert_eq!(e.pages, drawn, "{}: legend {class} {e:?}", f.display());
        }
    }
}

#[test]
fn legend_totals_are_the_stats_figures() {
    for f in fixtures() {
        let o = rivet([OsStr::new("stats"), f.as_os_str(), OsStr::new("--json")]);
        if !o.status.success() {
            continue; // a file the engine refuses has no `stats`
        }
        let s: Value = serde_json::from_slice(&o.stdout).unwrap();
        let t = &s["totals"];
        let map = parse(&ok([OsStr::new("map"), f.as_os_str()]));
        let sum = |kind: &str| map.legend.values().filter(|e| e.kind == kind).map(|e| e.pages).sum::<u64>();
        let n = |k: &str| t[k].as_u64().unwrap();
        assert_eq!(sum("branch"), n("branch_pages"), "{}", f.display());
        assert_eq!(sum("leaf"), n("leaf_pages"), "{}", f.display());
        assert_eq!(sum("overflow"), n("branch_overflow_pages") + n("leaf_overflow_pages"), "{}", f.display());
    }
}

#[test]
fn html_has_a_title_per_cell() {
    let f = fixtures_dir().join("nested3.db");
    let html = ok([OsStr::new("map"), f.as_os_str(), OsStr::new("--html")]);
    let map = parse(svg_of(&html));
    let doc = roxmltree::Document::parse(svg_of(&html)).unwrap();
    let titles = doc.descendants().filter(|n| n.has_tag_name("title")).count();
    assert_eq!(titles, map.pages.len());
    assert!(!html.contains("http://") || html.matches("http://").count() == 1, "no external resources");
}

/// A copy of fixture `name` in `dir`.
fn copy(name: &str, dir: &Path) -> PathBuf {
    let to = dir.join(format!("{name}.db"));
    std::fs::copy(fixtures_dir().join(format!("{name}.db")), &to).unwrap();
    to
}

#[test]
fn a_damaged_file_still_draws_with_the_damage_marked() {
    let dir = tempfile::tempdir().unwrap();
    let f = copy("seq_15k", dir.path());
    let want = expected(&f);
    let leaf = want.iter().position(|(_, k)| k == "leaf").unwrap();
    let j: Value = serde_json::from_str(&ok([OsStr::new("info"), f.as_os_str(), OsStr::new("--json")])).unwrap();
    let ps = j["page_size"].as_u64().unwrap();
    {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.write_all_at(&[0xa5; 16], leaf as u64 * ps).unwrap();
    }
    let out = dir.path().join("map.svg");
    ok([OsStr::new("map"), f.as_os_str(), OsStr::new("-o"), out.as_os_str()]);
    let map = parse(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(map.entry(leaf).owner, "damaged", "page {leaf} is marked");
    let damaged = map.legend.values().find(|e| e.owner == "damaged").unwrap();
    assert!(damaged.pages >= 1);
    // Truncated in the middle, and with the tree's root overwritten: still drawn.
    let len = std::fs::metadata(&f).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&f).unwrap().set_len(len / 2).unwrap();
    parse(&ok([OsStr::new("map"), f.as_os_str()]));
    for page in 2..6u64 {
        use std::os::unix::fs::FileExt;
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.write_all_at(&[0xff; 64], page * ps).unwrap();
    }
    let html = ok([OsStr::new("map"), f.as_os_str(), OsStr::new("--html")]);
    parse(svg_of(&html));
}

/// The SVG inside an HTML page.
fn svg_of(html: &str) -> &str {
    let start = html.find("<svg").expect("an svg element");
    let end = html.rfind("</svg>").expect("its end") + "</svg>".len();
    &html[start..end]
}

#[test]
fn pages_overwritten_with_garbage_never_stop_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for page in [0u64, 1, 2, 3, 4, 5, 10, 40, 100, 150, 200, 219] {
        for pattern in 0..3 {
            let f = copy("seq_15k", dir.path());
            let bytes: Vec<u8> = (0..4096)
                .map(|_| match pattern {
                    0 => 0,
                    1 => 0xff,
                    _ => {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        seed as u8
                    }
                })
                .collect();
            {
                use std::os::unix::fs::FileExt;
                let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
                file.write_all_at(&bytes, page * 4096).unwrap();
            }
            let o = rivet([OsStr::new("map"), f.as_os_str()]);
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(!err.contains("panicked"), "page {page}, pattern {pattern}: {err}");
            match o.status.code() {
                Some(0) => {
                    let map = parse(std::str::from_utf8(&o.stdout).unwrap());
                    if page >= 2 {
                        let e = map.entry(page as usize);
                        assert!(matches!(e.owner.as_str(), "damaged" | "free" | "leaked"), "page {page}: {e:?}");
                    }
                }
                Some(2) => assert!(page < 2, "page {page}, pattern {pattern}: {err}"),
                other => panic!("page {page}, pattern {pattern}: exit {other:?}: {err}"),
            }
        }
    }
}

/// FNV-1a 64, the meta checksum.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[test]
fn a_huge_high_water_mark_draws_the_pages_the_file_has() {
    use std::os::unix::fs::FileExt;
    let dir = tempfile::tempdir().unwrap();
    let f = copy("seq_15k", dir.path());
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&f).unwrap();
    for m in 0..2u64 {
        let mut meta = vec![0u8; 80];
        file.read_exact_at(&mut meta, m * 4096).unwrap();
        meta[56..64].copy_from_slice(&(1u64 << 62).to_le_bytes()); // the high-water mark
        let sum = fnv1a(&meta[16..72]);
        meta[72..80].copy_from_slice(&sum.to_le_bytes());
        file.write_all_at(&meta, m * 4096).unwrap();
    }
    let map = parse(&ok([OsStr::new("map"), f.as_os_str()]));
    assert_eq!(map.pages.len(), 256, "the pages in the file, not the high-water mark");
}

#[test]
fn the_map_never_overwrites_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let f = copy("one_bucket", dir.path());
    let before = std::fs::read(&f).unwrap();
    let o = rivet([OsStr::new("map"), f.as_os_str(), OsStr::new("-o"), f.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is the database itself"));
    assert_eq!(std::fs::read(&f).unwrap(), before);
}

/// A file of at least `pages` pages of 256 bytes: eight buckets of small values and (one in
/// `big`, if not 0) overflowing ones, a third of them deleted again (free runs).
fn million(path: &Path, pages: u64, big: u64) {
    let db = DB::open(path, Options::default().page_size(256).no_sync(true)).unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut key = 0u64;
    while db.info().meta.pgid < pages {
        db.update(|tx| {
            for b in 0..8u8 {
                let mut bucket = tx.create_bucket_if_not_exists(&[b'b', b'0' + b])?;
                for _ in 0..400 {
                    key += 1;
                    let len =
                        if big > 0 && next() % big == 0 { (next() % 16_000) as usize } else { (next() % 100) as usize };
                    bucket.put(&key.to_be_bytes(), &vec![b; len])?;
                }
            }
            Ok::<_, rivet_engine::Error>(())
        })
        .unwrap();
        db.update(|tx| {
            for b in 0..8u8 {
                let mut bucket = tx.bucket_mut(&[b'b', b'0' + b])?;
                for k in (key.saturating_sub(3200)..key).step_by(3) {
                    bucket.delete(&k.to_be_bytes())?;
                }
            }
            Ok::<_, rivet_engine::Error>(())
        })
        .unwrap();
    }
}

#[test]
fn a_million_pages_map_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("million.db");
    let t = Instant::now();
    million(&f, 1_000_000, 4);
    println!("built the file in {:?}", t.elapsed());
    draw_million(&f, dir.path());
}

/// The same with small values only: a million pages nearly all branches and leaves, which the
/// walk reads one by one (slow to build in a debug build; run it with `--release --ignored`).
#[test]
#[ignore]
fn a_million_tree_pages_map_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("million.db");
    let t = Instant::now();
    million(&f, 1_000_000, 0);
    println!("built the file in {:?}", t.elapsed());
    draw_million(&f, dir.path());
}

/// Draws the million-page file `f`, prints the time and size, and checks the size.
fn draw_million(f: &Path, dir: &Path) {
    let out = dir.join("map.svg");
    let t = Instant::now();
    ok([OsStr::new("map"), f.as_os_str(), OsStr::new("-o"), out.as_os_str()]);
    let took = t.elapsed();
    let size = std::fs::metadata(&out).unwrap().len();
    let map = parse(&std::fs::read_to_string(&out).unwrap());
    if let Some(keep) = std::env::var_os("RIVET_MAP_KEEP") {
        std::fs::copy(&out, keep).unwrap();
    }
    println!("map of {} pages: {took:?}, {size} bytes, {} pages per cell", map.pages.len(), map.per_cell);
    assert!(map.pages.len() >= 1_000_000);
    assert!(map.per_cell > 1);
    assert!(size < 2 * 1024 * 1024, "{size} bytes");
}
