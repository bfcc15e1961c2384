//! End-to-end tests of the `rivet` binary: every fixture Go wrote (dump, check, info and stats
//! against the fixture's census), compaction, damaged copies, surgery, bench, and the one-line
//! errors. Fixtures are read-only: every test that writes works on copies in a scratch dir.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The Go-written fixtures (`tests/fixtures/bbolt`, made by `interop/make-fixtures.sh`).
fn fixtures_dir() -> PathBuf {
    match std::env::var_os("RIVET_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bbolt"),
    }
}

fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(format!("{name}.db"))
}

/// Every fixture's name (`NAME` of `NAME.db`), sorted.
fn fixture_names() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap_or_else(|e| panic!("fixtures directory {} is missing: {e}", fixtures_dir().display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures found in {}", fixtures_dir().display());
    v
}

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

/// Runs `rivet` and insists on success.
fn ok<I, S>(args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let o = rivet(args);
    assert!(o.status.success(), "rivet failed ({:?}): {}{}", o.status, stdout(&o), stderr(&o));
    stdout(&o)
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("rivet-cli-test-").tempdir().expect("temp dir")
}

/// A writable copy of a fixture in `dir`.
fn copy(name: &str, dir: &Path) -> PathBuf {
    let to = dir.join(format!("{name}.db"));
    std::fs::write(&to, std::fs::read(fixture(name)).expect("read fixture")).expect("write copy");
    to
}

fn patch(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).expect("open for patching");
    f.write_all_at(bytes, offset).expect("patch");
}

/// A failed command: exit status 2 and exactly one line on stderr, `rivet: FILE: ...`.
fn assert_error(o: &Output, file: &Path, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with(&format!("rivet: {}: ", file.display())), "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn dump_json_equals_every_fixture_dump() {
    for name in fixture_names() {
        let want = std::fs::read(fixtures_dir().join(format!("{name}.json"))).expect("fixture json");
        let o = rivet([OsStr::new("dump"), OsStr::new("--json"), fixture(&name).as_os_str()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(o.stdout == want, "{name}: dump --json differs from {name}.json");
        // The readable dump works too.
        ok([OsStr::new("dump"), fixture(&name).as_os_str()]);
    }
}

#[test]
fn check_passes_on_every_fixture() {
    for name in fixture_names() {
        let out = ok([OsStr::new("check"), fixture(&name).as_os_str()]);
        assert!(out.lines().last().is_some_and(|l| l.starts_with("OK")), "{name}: {out}");
        let j = json(&ok([OsStr::new("check"), OsStr::new("--json"), fixture(&name).as_os_str()]));
        assert_eq!(j["ok"], true, "{name}");
        // The torn meta page is a warning, not a failure.
        assert_eq!(j["warnings"].as_array().map(Vec::len), Some(usize::from(name == "torn_meta")), "{name}: {j}");
    }
}

#[test]
fn info_stats_and_pages_agree_with_every_census() {
    for name in fixture_names() {
        let file = fixture(&name);
        let want = json(&std::fs::read_to_string(fixtures_dir().join(format!("{name}.info.json"))).expect("info"));
        let census = &want["census"];

        let info = json(&ok([OsStr::new("info"), OsStr::new("--json"), file.as_os_str()]));
        assert_eq!(info["active_meta"], want["active_meta"], "{name}: active meta");
        assert_eq!(info["page_size"], want["page_size"], "{name}: page size");
        assert_eq!(info["file_size"], want["file_size"], "{name}: file size");
        let active = want["active_meta"].as_u64().expect("active_meta") as usize;
        assert_eq!(info["txid"], want["metas"][active]["txid"], "{name}: txid");
        assert_eq!(info["high_water_mark"], want["metas"][active]["pgid_high_water_mark"], "{name}: hwm");
        assert_eq!(info["freelist"]["synced"], want["freelist_synced"], "{name}: freelist synced");
        assert_eq!(info["freelist"]["count"], want["freelist_count"], "{name}: freelist count");
        assert_eq!(info["freelist"]["ids"], want["freelist_ids"], "{name}: freelist ids");
        for m in 0..2 {
            assert_eq!(info["metas"][m]["valid"], want["metas"][m]["valid"], "{name}: meta {m} validity");
        }

        let stats = json(&ok([OsStr::new("stats"), OsStr::new("--json"), file.as_os_str()]));
        let t = &stats["totals"];
        assert_eq!(t["buckets"], census["buckets"], "{name}: buckets");
        assert_eq!(t["inline_buckets"], census["inline_buckets"], "{name}: inline buckets");
        assert_eq!(t["values"], census["keys"], "{name}: keys");
        assert_eq!(t["branch_pages"], census["branch_pages"], "{name}: branch pages");
        assert_eq!(t["leaf_pages"], census["leaf_pages"], "{name}: leaf pages");
        let overflow =
            t["branch_overflow_pages"].as_u64().unwrap_or(0) + t["leaf_overflow_pages"].as_u64().unwrap_or(0);
        assert_eq!(Some(overflow), census["overflow_pages"].as_u64(), "{name}: overflow pages");
        assert_eq!(t["depth"], census["max_tree_depth"], "{name}: depth");

        // The raw walk behind `pages` counts the same, and finds nothing wrong.
        let pages = json(&ok([OsStr::new("pages"), OsStr::new("--json"), file.as_os_str()]));
        assert_eq!(&pages["census"], census, "{name}: pages census");
        assert_eq!(pages["problems"].as_array().map(Vec::len), Some(0), "{name}: {}", pages["problems"]);
    }
}

#[test]
fn stats_with_prefix_sums_top_level_buckets() {
    let j = json(&ok([OsStr::new("stats"), OsStr::new("--json"), fixture("nested3").as_os_str(), OsStr::new("level")]));
    assert_eq!(j["buckets_matched"], 1);
    let text = ok([OsStr::new("stats"), fixture("freelist").as_os_str(), OsStr::new("")]);
    assert!(text.starts_with("Aggregate statistics for 2 buckets"), "{text}");
}

#[test]
fn buckets_keys_and_get_with_formats_and_hex_input() {
    let one = fixture("one_bucket");
    assert_eq!(ok([OsStr::new("buckets"), one.as_os_str()]), "fruits\n");
    assert_eq!(ok([OsStr::new("get"), one.as_os_str(), OsStr::new("fruits"), OsStr::new("apple")]), "red\n");
    let keys =
        ok([OsStr::new("keys"), OsStr::new("--format"), OsStr::new("json"), one.as_os_str(), OsStr::new("fruits")]);
    assert_eq!(keys.trim(), r#"["apple","banana","cherry","date","elderberry"]"#);
    // Hex input and output on binary names and keys; raw bytes out.
    let bin = fixture("binary_keys");
    let args = ["get", "--parse-format", "hex", "--format", "hex"];
    let mut a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    a.extend([bin.as_os_str(), OsStr::new("00"), OsStr::new("0001")]);
    assert_eq!(ok(a), "00ff02\n");
    let o = rivet([
        OsStr::new("get"),
        OsStr::new("--parse-format"),
        OsStr::new("hex"),
        OsStr::new("--format"),
        OsStr::new("bytes"),
        bin.as_os_str(),
        OsStr::new("00"),
        OsStr::new("ffffffff"),
    ]);
    assert_eq!(o.stdout, vec![0x00, 0xff, 0x0b]);
    let nested = ok([OsStr::new("buckets"), OsStr::new("-r"), fixture("nested3").as_os_str()]);
    assert!(nested.contains("\n    innermost\n"), "{nested}");
}

#[test]
fn pages_page_and_page_item_decode_pages() {
    let one = fixture("one_bucket");
    let table = ok([OsStr::new("pages"), one.as_os_str()]);
    assert!(table.lines().any(|l| l.starts_with("4 ") && l.contains("leaf")), "{table}");
    assert!(table.lines().any(|l| l.starts_with("5 ") && l.contains("freelist")), "{table}");
    let page = ok([OsStr::new("page"), one.as_os_str(), OsStr::new("0"), OsStr::new("4"), OsStr::new("5")]);
    assert!(page.contains("status:          valid, active"), "{page}");
    assert!(page.contains("[0] fruits = <inline bucket: sequence 0, 5 items"), "{page}");
    assert!(page.contains("[0] apple = red"), "{page}");
    assert!(page.contains("2 free page ids: 2-3"), "{page}");
    let item =
        ok([OsStr::new("page-item"), one.as_os_str(), OsStr::new("4"), OsStr::new("0"), OsStr::new("--key-only")]);
    assert_eq!(item, "fruits\n");
    // An overflow continuation page (page 101 continues leaf 100 in the committed fixture) is
    // described, not decoded, and no error.
    ok([OsStr::new("page"), OsStr::new("--hexdump"), fixture("random_values").as_os_str(), OsStr::new("101")]);
}

#[test]
fn compact_shrinks_the_freelist_fixture_and_keeps_its_content() {
    let dir = scratch();
    let dst = dir.path().join("compact.db");
    let src = fixture("freelist");
    let out = ok([OsStr::new("compact"), src.as_os_str(), OsStr::new("-o"), dst.as_os_str()]);
    assert!(out.contains("1601 keys copied"), "{out}");
    let (before, after) = (std::fs::metadata(&src).unwrap().len(), std::fs::metadata(&dst).unwrap().len());
    assert!(after < before, "compacted {after} bytes is not smaller than {before}");
    let want = std::fs::read(fixtures_dir().join("freelist.json")).unwrap();
    assert!(rivet([OsStr::new("dump"), OsStr::new("--json"), dst.as_os_str()]).stdout == want);
    ok([OsStr::new("check"), dst.as_os_str()]);
    // Never overwrites.
    let o = rivet([OsStr::new("compact"), src.as_os_str(), OsStr::new("-o"), dst.as_os_str()]);
    assert_error(&o, &dst, "already exists");
    // Page size is kept.
    let dst16 = dir.path().join("c16.db");
    ok([OsStr::new("compact"), fixture("page_16k").as_os_str(), OsStr::new("-o"), dst16.as_os_str()]);
    assert_eq!(json(&ok([OsStr::new("info"), OsStr::new("--json"), dst16.as_os_str()]))["page_size"], 16384);
}

/// The Go interop tool: `RIVET_BBOLT_TOOL`, else `target/interop/bbolt-tool`.
fn bbolt_tool() -> PathBuf {
    match std::env::var_os("RIVET_BBOLT_TOOL") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/interop/bbolt-tool"),
    }
}

#[test]
#[ignore = "needs Go bbolt-tool (.ci/run installs it)"]
fn compacted_file_passes_go_check_and_dumps_alike() {
    let tool = bbolt_tool();
    assert!(tool.exists(), "no bbolt-tool at {}", tool.display());
    let dir = scratch();
    let dst = dir.path().join("compact.db");
    ok([OsStr::new("compact"), fixture("freelist").as_os_str(), OsStr::new("-o"), dst.as_os_str()]);
    let check = Command::new(&tool).arg("check").arg(&dst).output().expect("run bbolt-tool");
    assert!(check.status.success(), "Go check failed: {}{}", stdout(&check), stderr(&check));
    let go = Command::new(&tool).arg("dump").arg(&dst).output().expect("run bbolt-tool");
    let orig = Command::new(&tool).arg("dump").arg(fixture("freelist")).output().expect("run bbolt-tool");
    assert!(go.status.success() && orig.status.success());
    assert!(go.stdout == orig.stdout, "Go dumps of the original and the compacted file differ");
}

#[test]
fn check_names_a_corrupted_leaf_page() {
    let dir = scratch();
    let f = copy("freelist", dir.path());
    // Page 150 is a leaf of bucket "alpha", below its branch page 3 (see `rivet pages`): clear
    // its flags.
    patch(&f, 150 * 4096 + 8, &[0, 0]);
    let o = rivet([OsStr::new("check"), f.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("page 150: invalid type"), "{}", stdout(&o));
    // The raw walk below the bucket's branch page finds it too.
    let o = rivet([OsStr::new("check"), OsStr::new("--from-page"), OsStr::new("3"), f.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("page 150: invalid type"), "{}", stdout(&o));
}

/// The freelist fixture with its freelist's (page 5) first id (page 6, free) replaced by live
/// page 150.
fn freelist_listing_a_live_page(dir: &Path) -> PathBuf {
    let f = copy("freelist", dir);
    patch(&f, 5 * 4096 + 16, &150u64.to_le_bytes());
    f
}

#[test]
fn check_names_a_live_page_on_the_freelist() {
    let dir = scratch();
    let f = freelist_listing_a_live_page(dir.path());
    let o = rivet([OsStr::new("check"), OsStr::new("--json"), f.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let j = json(&stdout(&o));
    let problems: Vec<&str> = j["problems"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(problems.contains(&"page 150: reachable freed"), "{problems:?}");
    assert!(problems.contains(&"page 6: unreachable unfreed"), "{problems:?}");
}

#[test]
fn check_names_the_pages_a_truncated_file_lost() {
    let dir = scratch();
    let f = copy("freelist", dir.path());
    // 180 of its 195 pages: gamma's branch page 192 is cut off.
    std::fs::OpenOptions::new().write(true).open(&f).unwrap().set_len(180 * 4096).unwrap();
    let o = rivet([OsStr::new("check"), f.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("the file is truncated"), "{out}");
    assert!(out.contains("page 192: missing"), "{out}");
    // Other commands refuse it with one line.
    assert_error(&rivet([OsStr::new("dump"), f.as_os_str()]), &f, "truncated");
    // info still describes it.
    let info = json(&ok([OsStr::new("info"), OsStr::new("--json"), f.as_os_str()]));
    assert!(info["truncated"].is_string());
}

#[test]
fn revert_meta_page_recovers_from_a_damaged_last_transaction() {
    let dir = scratch();
    let f = copy("freelist", dir.path());
    // Page 4 is the root of txid 6 only (txid 5's root is 193): damage its elements.
    patch(&f, 4 * 4096 + 16, &[0xee; 64]);
    assert_eq!(rivet([OsStr::new("check"), f.as_os_str()]).status.code(), Some(1));
    let fixed = dir.path().join("fixed.db");
    let out =
        ok([OsStr::new("surgery"), OsStr::new("revert-meta-page"), f.as_os_str(), OsStr::new("-o"), fixed.as_os_str()]);
    assert!(out.contains("from txid 6 to txid 5"), "{out}");
    let j = json(&ok([OsStr::new("check"), OsStr::new("--json"), fixed.as_os_str()]));
    assert_eq!(j["ok"], true);
    assert_eq!(j["txid"], 5);
    // The original is untouched; in place works too.
    assert_eq!(rivet([OsStr::new("check"), f.as_os_str()]).status.code(), Some(1));
    ok([OsStr::new("surgery"), OsStr::new("revert-meta-page"), OsStr::new("--in-place"), f.as_os_str()]);
    assert!(ok([OsStr::new("check"), f.as_os_str()]).contains("txid 5"));
    // A read-only file is never modified in place, even by root. (On a copy: a checkout does
    // not keep the fixtures' permission bits, and the fixture must stay as it is.)
    let fx = dir.path().join("read-only.db");
    std::fs::copy(fixture("freelist"), &fx).unwrap();
    let mut perm = std::fs::metadata(&fx).unwrap().permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(&fx, perm).unwrap();
    let o = rivet([OsStr::new("surgery"), OsStr::new("revert-meta-page"), OsStr::new("--in-place"), fx.as_os_str()]);
    assert_error(&o, &fx, "read-only");
    assert_eq!(std::fs::read(&fx).unwrap(), std::fs::read(fixture("freelist")).unwrap());
    // With the other meta damaged there is nothing to revert to, and no copy is left behind.
    let torn = fixture("torn_meta");
    let out = dir.path().join("torn.db");
    let o = rivet([
        OsStr::new("surgery"),
        OsStr::new("revert-meta-page"),
        torn.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
    ]);
    assert_error(&o, &torn, "meta page 1 is damaged");
    assert!(!out.exists());
}

#[test]
fn freelist_surgery_repairs_a_freelist_listing_a_live_page() {
    let dir = scratch();
    let f = freelist_listing_a_live_page(dir.path());
    let want = std::fs::read(fixtures_dir().join("freelist.json")).unwrap();
    // Rebuild: a real freelist again, one transaction later, nothing lost.
    let out = ok([OsStr::new("surgery"), OsStr::new("freelist"), OsStr::new("rebuild"), f.as_os_str()]);
    assert!(out.contains("132 free pages"), "{out}");
    let rebuilt = dir.path().join("freelist.db.repaired");
    let j = json(&ok([OsStr::new("check"), OsStr::new("--json"), rebuilt.as_os_str()]));
    assert_eq!((j["ok"].clone(), j["txid"].clone()), (Value::Bool(true), Value::from(7)));
    assert!(rivet([OsStr::new("dump"), OsStr::new("--json"), rebuilt.as_os_str()]).stdout == want);
    // Abandon: no stored freelist, the file checks clean and reads the same.
    let ab = dir.path().join("abandoned.db");
    ok([
        OsStr::new("surgery"),
        OsStr::new("freelist"),
        OsStr::new("abandon"),
        f.as_os_str(),
        OsStr::new("-o"),
        ab.as_os_str(),
    ]);
    let info = json(&ok([OsStr::new("info"), OsStr::new("--json"), ab.as_os_str()]));
    assert_eq!(info["freelist"]["synced"], false);
    ok([OsStr::new("check"), ab.as_os_str()]);
    assert!(rivet([OsStr::new("dump"), OsStr::new("--json"), ab.as_os_str()]).stdout == want);
    // Rebuild refuses damaged trees and changes nothing.
    let bad = copy("one_bucket", dir.path());
    patch(&bad, 4 * 4096 + 8, &[0, 0]);
    let before = std::fs::read(&bad).unwrap();
    let o = rivet([
        OsStr::new("surgery"),
        OsStr::new("freelist"),
        OsStr::new("rebuild"),
        OsStr::new("--in-place"),
        bad.as_os_str(),
    ]);
    assert_error(&o, &bad, "trees are damaged");
    assert_eq!(std::fs::read(&bad).unwrap(), before);
}

#[test]
fn bench_runs_every_mode_with_small_counts() {
    for w in ["seq", "rnd", "seq-nest", "rnd-nest"] {
        for r in ["seq", "rnd"] {
            let out = ok([
                "bench",
                "--write-mode",
                w,
                "--read-mode",
                r,
                "--count",
                "300",
                "--batch-size",
                "70",
                "--key-size",
                "6",
                "--value-size",
                "20",
                "--fill-percent",
                "0.9",
                "--no-sync",
                "--page-size",
                "1024",
                "--read-time",
                "0",
            ]);
            assert!(out.lines().any(|l| l.starts_with("# Write\t") && l.ends_with("op/sec)")), "{out}");
            assert!(out.lines().any(|l| l.starts_with("# Read\t")), "{out}");
        }
    }
    let o = rivet(["bench", "--key-size", "1", "--count", "1000"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn errors_are_one_line_naming_the_file() {
    let dir = scratch();
    let missing = dir.path().join("missing.db");
    assert_error(&rivet([OsStr::new("info"), missing.as_os_str()]), &missing, "no such file");
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x5au8; 8192]).unwrap();
    assert_error(&rivet([OsStr::new("check"), junk.as_os_str()]), &junk, "not a bbolt database");
    let small = dir.path().join("small.db");
    std::fs::write(&small, b"tiny").unwrap();
    assert_error(&rivet([OsStr::new("dump"), small.as_os_str()]), &small, "too small");
    // Both meta pages damaged (the fixture's meta 1 already is).
    let torn = copy("torn_meta", dir.path());
    patch(&torn, 40, &[0x01]);
    assert_error(&rivet([OsStr::new("stats"), torn.as_os_str()]), &torn, "both meta pages are damaged");
    let one = fixture("one_bucket");
    assert_error(&rivet([OsStr::new("keys"), one.as_os_str(), OsStr::new("nope")]), &one, "bucket nope not found");
    let o = rivet([OsStr::new("get"), one.as_os_str(), OsStr::new("fruits"), OsStr::new("nope")]);
    assert_error(&o, &one, "key fruits/nope not found");
    let o = rivet([
        OsStr::new("get"),
        OsStr::new("--parse-format"),
        OsStr::new("hex"),
        one.as_os_str(),
        OsStr::new("zz"),
        OsStr::new("00"),
    ]);
    assert_error(&o, &one, "bad hex");
    assert_error(&rivet([OsStr::new("page"), one.as_os_str(), OsStr::new("999")]), &one, "page 999");
}

#[test]
fn inspection_reports_a_writer_lock_and_never_writes() {
    let dir = scratch();
    let f = copy("one_bucket", dir.path());
    let before = std::fs::read(&f).unwrap();
    for cmd in ["info", "stats", "buckets", "pages", "check", "dump"] {
        ok([OsStr::new(cmd), f.as_os_str()]);
    }
    assert_eq!(std::fs::read(&f).unwrap(), before, "an inspection command changed the file");
    // A writer (this process, through the engine) holds the exclusive lock.
    let db = rivet_engine::DB::open(&f, rivet_engine::Options::default()).expect("open read-write");
    let started = std::time::Instant::now();
    let o = rivet([OsStr::new("info"), OsStr::new("--timeout"), OsStr::new("300ms"), f.as_os_str()]);
    assert_error(&o, &f, "locked by a writer");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let o = rivet([OsStr::new("dump"), OsStr::new("--timeout"), OsStr::new("200ms"), f.as_os_str()]);
    assert_error(&o, &f, "locked by a writer");
    drop(db);
    ok([OsStr::new("info"), f.as_os_str()]);
}
