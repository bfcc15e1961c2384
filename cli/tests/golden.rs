//! Golden outputs of the inspection commands: for every database fixture (the Go-written files
//! in `tests/fixtures/bbolt`, and damaged copies of some of them made here by patching a few
//! bytes), `rivet check`, `dump`, `pages`, `stats`, `info`, `buckets`, `page`, `page-item`,
//! `check --from-page` and a few `surgery` runs print exactly what they printed when the golden
//! files were written: the same stdout, the same stderr and the same exit status.
//!
//! The goldens are in `cli/tests/golden/<input>/<command>.txt`, one file per command line, each
//! holding the command, its exit status, its stdout and its stderr. They were captured while the
//! command still had a page reader and walker of its own, and pin the behaviour of what
//! replaced them (the engine's format and walking layer: `rivet_engine::{format, io::raw,
//! tree::walk}`) and of the engine underneath, so that a rewrite of either can be checked against
//! the outputs from before it.
//!
//! Outputs over [`BIG`] bytes (the dumps of the larger fixtures) are not kept in full: their
//! golden holds the size, an FNV-1a 64-bit hash of the whole output, a hash of every [`CHUNK`]
//! bytes (so that a failure says where the difference starts) and the first [`HEAD_LINES`]
//! lines. (The fixtures' `NAME.json` files are the full `dump --json` outputs;
//! `cli.rs` compares them byte for byte.)
//!
//! Every input is copied into its own directory under a scratch directory and the commands run
//! there on a relative file name (`NAME.db`), so nothing depends on where the checkout or the
//! scratch directory is; any mention of the scratch directory's path is replaced by `<tmp>`
//! anyway. The inputs are checked to be unchanged afterwards.
//!
//! On a difference the test goes on through every command, then fails with the first differing
//! line of each failing command; the whole actual outputs are written under
//! `target/tmp/golden-actual/` (`CARGO_TARGET_TMPDIR`), laid out as the goldens are.
//!
//! To write the goldens again after a deliberate change of output, run
//!
//! ```sh
//! RIVET_BLESS=1 cargo test -p rivet-cli --test golden
//! ```
//!
//! and review `git diff cli/tests/golden`: blessing writes every golden, and removes golden files
//! no command produces any more.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Outputs longer than this many bytes are kept as hashes and their first lines.
const BIG: usize = 200_000;
/// Bytes per chunk hash of a big output (byte chunks, not lines: `dump --json` is one line).
const CHUNK: usize = 32 * 1024;
/// Lines kept of a big output.
const HEAD_LINES: usize = 30;
/// Characters kept of each of those lines.
const HEAD_WIDTH: usize = 200;
/// A command that runs longer than this is killed (a hang is a failure, not a stuck test).
const TIME_LIMIT: Duration = Duration::from_secs(60);

/// The Go-written fixtures in the tree (not `RIVET_FIXTURES`: the goldens describe these).
fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bbolt")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn actual_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-actual")
}

/// Every fixture's name (`NAME` of `NAME.db`), sorted.
fn fixture_names() -> Vec<String> {
    let dir = fixtures_dir();
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures directory {} is missing: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "db"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixtures found in {}", dir.display());
    v
}

/// Pages of a fixture worth decoding one by one, chosen from its page table: both metas, the
/// root bucket's root page, the freelist page, the first free page, a branch page, a leaf of a
/// bucket, the first leaf with overflow pages, the last leaf.
struct Picks {
    fixture: &'static str,
    /// `page FILE IDS...` (one command).
    pages: &'static [u64],
    /// `page --hexdump FILE ID`.
    hexdump: u64,
    /// `page-item FILE PAGE ITEM` for each.
    items: &'static [(u64, usize)],
    /// An element of a bucket's leaf, printed with each `page-item` option.
    leaf_item: Option<(u64, usize)>,
    /// `check --from-page ID` (text and JSON) for each: a bucket's top page, the root page.
    from_pages: &'static [u64],
}

#[rustfmt::skip]
const PICKS: &[Picks] = &[
    Picks { fixture: "backup_copy", pages: &[0, 1, 2, 17, 24, 25, 26], hexdump: 25, items: &[(25, 0), (24, 0), (24, 17)], leaf_item: Some((2, 0)), from_pages: &[24, 25] },
    Picks { fixture: "binary_keys", pages: &[0, 1, 2, 4, 6, 8, 9], hexdump: 8, items: &[(8, 0), (8, 2), (6, 0), (6, 1)], leaf_item: Some((4, 0)), from_pages: &[6, 8] },
    Picks { fixture: "empty", pages: &[0, 1, 2, 3], hexdump: 3, items: &[(3, 0)], leaf_item: None, from_pages: &[3] },
    Picks { fixture: "empty_tx", pages: &[0, 1, 2, 3, 4], hexdump: 3, items: &[(3, 0)], leaf_item: None, from_pages: &[3] },
    Picks { fixture: "freelist", pages: &[0, 1, 2, 3, 4, 5, 6, 191, 192], hexdump: 4, items: &[(4, 0), (4, 1), (3, 0), (3, 26)], leaf_item: Some((2, 0)), from_pages: &[3, 4, 192] },
    Picks { fixture: "inline_buckets", pages: &[0, 1, 2, 4, 9, 10, 11], hexdump: 10, items: &[(10, 0), (10, 3), (7, 0)], leaf_item: Some((4, 0)), from_pages: &[10] },
    Picks { fixture: "max_key", pages: &[0, 1, 2, 4, 71, 105, 106], hexdump: 105, items: &[(105, 0), (105, 1), (71, 0), (71, 2)], leaf_item: Some((4, 0)), from_pages: &[71, 105] },
    Picks { fixture: "nested3", pages: &[0, 1, 2, 4, 12, 31, 34, 35], hexdump: 34, items: &[(34, 0), (34, 1), (12, 0), (12, 7)], leaf_item: Some((4, 0)), from_pages: &[12, 31, 34] },
    Picks { fixture: "no_freelist_sync", pages: &[0, 1, 2, 29, 76, 102], hexdump: 102, items: &[(102, 0), (102, 1), (76, 0), (76, 23)], leaf_item: Some((29, 0)), from_pages: &[76, 102] },
    Picks { fixture: "one_bucket", pages: &[0, 1, 2, 4, 5], hexdump: 4, items: &[(4, 0)], leaf_item: Some((4, 0)), from_pages: &[4] },
    Picks { fixture: "page_16k", pages: &[0, 1, 2, 4, 20, 24, 25, 26], hexdump: 25, items: &[(25, 0), (25, 1), (24, 0), (24, 16)], leaf_item: Some((4, 0)), from_pages: &[24, 25] },
    Picks { fixture: "random_values", pages: &[0, 1, 2, 4, 50, 101, 109, 113, 114], hexdump: 113, items: &[(113, 0), (113, 2), (109, 0), (109, 38)], leaf_item: Some((4, 0)), from_pages: &[109, 113] },
    Picks { fixture: "seq_15k", pages: &[0, 1, 2, 192, 193, 217, 218, 219], hexdump: 218, items: &[(218, 0), (217, 0), (217, 1), (193, 0), (193, 83)], leaf_item: Some((2, 0)), from_pages: &[217, 193, 218] },
    Picks { fixture: "sequences", pages: &[0, 1, 2, 3, 4, 13, 14], hexdump: 13, items: &[(13, 0), (13, 3), (3, 0), (3, 5)], leaf_item: Some((2, 0)), from_pages: &[3, 13] },
    Picks { fixture: "torn_meta", pages: &[0, 1, 2, 4, 5], hexdump: 4, items: &[(4, 0)], leaf_item: Some((4, 0)), from_pages: &[4] },
];

/// How a damaged input is made from a fixture.
enum Edit {
    /// Bytes written at file offsets.
    Patch(&'static [(u64, &'static [u8])]),
    /// The file cut to this many bytes.
    Truncate(u64),
}

/// A damaged copy of a fixture, named `FIXTURE@WHAT`, with commands of its own besides the
/// common ones (the placeholder `{db}` is its file name).
struct Damaged {
    name: &'static str,
    fixture: &'static str,
    edit: Edit,
    extra: &'static [&'static [&'static str]],
}

const fn le(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

/// Offsets are those of the fixtures as committed (page size 4096; see `rivet pages`), as are the
/// page ids in [`PICKS`]; `inputs.txt` holds the hashes of those files, so a regenerated fixture
/// shows there first, and its picks and damage must be chosen again.
const DAMAGED: &[Damaged] = &[
    // A leaf of bucket alpha, below its branch page 3: flags cleared.
    Damaged {
        name: "freelist@leaf150-flags-cleared",
        fixture: "freelist",
        edit: Edit::Patch(&[(150 * 4096 + 8, &[0, 0])]),
        extra: &[
            &["page", "{db}", "150"],
            &["page-item", "{db}", "150", "0"],
            &["check", "--from-page", "3", "{db}"],
            &["check", "--json", "--from-page", "3", "{db}"],
        ],
    },
    // The freelist's (page 5) first id, free page 6, replaced by live leaf 150.
    Damaged {
        name: "freelist@live-page-on-freelist",
        fixture: "freelist",
        edit: Edit::Patch(&[(5 * 4096 + 16, &le(150))]),
        extra: &[
            &["page", "{db}", "5"],
            &["surgery", "freelist", "rebuild", "{db}", "-o", "rebuilt.db"],
            &["check", "rebuilt.db"],
            &["info", "--json", "rebuilt.db"],
            &["pages", "rebuilt.db"],
            &["surgery", "freelist", "abandon", "{db}", "-o", "abandoned.db"],
            &["check", "abandoned.db"],
            &["info", "--json", "abandoned.db"],
            &["pages", "abandoned.db"],
        ],
    },
    // The freelist's second id (7) replaced by its first (6): page 6 listed twice.
    Damaged {
        name: "freelist@id-listed-twice",
        fixture: "freelist",
        edit: Edit::Patch(&[(5 * 4096 + 24, &le(6))]),
        extra: &[&["page", "{db}", "5"]],
    },
    // 180 of the 195 pages: gamma's branch page 192 is cut off.
    Damaged {
        name: "freelist@truncated",
        fixture: "freelist",
        edit: Edit::Truncate(180 * 4096),
        extra: &[
            &["page", "{db}", "179", "180"],
            &["page", "{db}", "192"],
            &["check", "--from-page", "192", "{db}"],
            &["check", "--from-page", "3", "{db}"],
        ],
    },
    // Page 4, the root of txid 6 only (txid 5's root is 193): its element headers overwritten.
    Damaged {
        name: "freelist@root-garbled",
        fixture: "freelist",
        edit: Edit::Patch(&[(4 * 4096 + 16, &[0xee; 64])]),
        extra: &[
            &["page", "{db}", "4"],
            &["page", "--hexdump", "{db}", "4"],
            &["page-item", "{db}", "4", "0"],
            &["surgery", "freelist", "rebuild", "{db}", "-o", "rebuilt.db"],
            &["surgery", "revert-meta-page", "{db}", "-o", "reverted.db"],
            &["check", "reverted.db"],
            &["check", "--json", "reverted.db"],
            &["pages", "reverted.db"],
            &["info", "reverted.db"],
        ],
    },
    // Meta page 0 damaged too (the fixture's meta page 1 already is).
    Damaged {
        name: "torn_meta@both-metas-damaged",
        fixture: "torn_meta",
        edit: Edit::Patch(&[(40, &[0x01])]),
        extra: &[&["page", "{db}", "0", "1"], &["surgery", "revert-meta-page", "{db}", "-o", "reverted.db"]],
    },
    // The root bucket's only leaf: flags cleared.
    Damaged {
        name: "one_bucket@root-leaf-flags-cleared",
        fixture: "one_bucket",
        edit: Edit::Patch(&[(4 * 4096 + 8, &[0, 0])]),
        extra: &[
            &["page", "{db}", "4"],
            &["page-item", "{db}", "4", "0"],
            &["surgery", "freelist", "rebuild", "{db}", "-o", "rebuilt.db"],
        ],
    },
    // Leaf 2 (below branch 193): the last bytes of its first two keys swapped (0x58, 0x59).
    Damaged {
        name: "seq_15k@keys-swapped",
        fixture: "seq_15k",
        edit: Edit::Patch(&[(9367, &[0x59]), (9379, &[0x58])]),
        extra: &[&["page", "{db}", "2"], &["page-item", "{db}", "2", "0"], &["check", "--from-page", "193", "{db}"]],
    },
    // Branch 193's first element points at 193 itself.
    Damaged {
        name: "seq_15k@branch-cycle",
        fixture: "seq_15k",
        edit: Edit::Patch(&[(193 * 4096 + 24, &le(193))]),
        extra: &[
            &["page", "{db}", "193"],
            &["check", "--from-page", "193", "{db}"],
            &["check", "--from-page", "217", "{db}"],
            &["check", "--json", "--from-page", "217", "{db}"],
        ],
    },
];

/// Commands run on every input, fixture or damaged.
const COMMON: &[&[&str]] = &[
    &["check", "{db}"],
    &["check", "--json", "{db}"],
    &["dump", "--json", "{db}"],
    &["dump", "{db}"],
    &["pages", "{db}"],
    &["pages", "--json", "{db}"],
    &["stats", "{db}"],
    &["stats", "--json", "{db}"],
    &["stats", "--per-bucket", "{db}"],
    &["info", "{db}"],
    &["info", "--json", "{db}"],
    &["buckets", "-r", "{db}"],
];

/// More commands on particular fixtures: prefixes of `stats`, pages and items that do not exist,
/// pages that are no tree pages given to `check --from-page` and `page-item`.
const EXTRA: &[(&str, &[&str])] = &[
    ("freelist", &["stats", "{db}", ""]),
    ("nested3", &["stats", "--json", "{db}", "level"]),
    ("nested3", &["stats", "--per-bucket", "--json", "{db}", "big"]),
    ("binary_keys", &["stats", "--parse-format", "hex", "{db}", "00"]),
    ("binary_keys", &["page", "--format", "hex", "{db}", "4", "7"]),
    ("binary_keys", &["page", "--format", "json", "{db}", "7"]),
    ("one_bucket", &["page", "{db}", "999"]),
    ("one_bucket", &["page", "{db}", "6"]),
    ("one_bucket", &["page-item", "{db}", "4", "1"]),
    ("one_bucket", &["page-item", "{db}", "0", "0"]),
    ("one_bucket", &["page-item", "{db}", "5", "0"]),
    ("one_bucket", &["check", "--from-page", "0", "{db}"]),
    ("one_bucket", &["check", "--from-page", "2", "{db}"]),
    ("one_bucket", &["check", "--from-page", "5", "{db}"]),
    ("one_bucket", &["check", "--from-page", "999", "{db}"]),
    ("one_bucket", &["check", "--json", "--from-page", "999", "{db}"]),
    ("max_key", &["page", "--full", "{db}", "96"]),
    ("random_values", &["page", "--hexdump", "{db}", "101"]),
];

/// One input file and the commands run on it.
struct Input {
    name: String,
    image: Vec<u8>,
    commands: Vec<Vec<String>>,
}

fn command(args: &[&str], file: &str) -> Vec<String> {
    args.iter().map(|a| if *a == "{db}" { file.to_string() } else { a.to_string() }).collect()
}

fn inputs() -> Vec<Input> {
    let mut v = Vec::new();
    let names = fixture_names();
    for name in &names {
        let image = std::fs::read(fixtures_dir().join(format!("{name}.db"))).expect("read fixture");
        let file = format!("{name}.db");
        let mut commands: Vec<Vec<String>> = COMMON.iter().map(|c| command(c, &file)).collect();
        if let Some(p) = PICKS.iter().find(|p| p.fixture == name) {
            let mut page = vec!["page".to_string(), file.clone()];
            page.extend(p.pages.iter().map(u64::to_string));
            commands.push(page);
            commands.push(command(&["page", "--hexdump", "{db}", &p.hexdump.to_string()], &file));
            for (pg, item) in p.items {
                commands.push(command(&["page-item", "{db}", &pg.to_string(), &item.to_string()], &file));
            }
            if let Some((pg, item)) = p.leaf_item {
                let (pg, item) = (pg.to_string(), item.to_string());
                for opts in [&[][..], &["--key-only"], &["--value-only"], &["--format", "hex"], &["--format", "json"]] {
                    let mut c = vec!["page-item", "{db}", &pg, &item];
                    c.extend_from_slice(opts);
                    commands.push(command(&c, &file));
                }
                commands.push(command(&["page", "--full", "--format", "hex", "{db}", &pg], &file));
            }
            for from in p.from_pages {
                let from = from.to_string();
                commands.push(command(&["check", "--from-page", &from, "{db}"], &file));
                commands.push(command(&["check", "--json", "--from-page", &from, "{db}"], &file));
            }
        }
        commands.extend(EXTRA.iter().filter(|(f, _)| f == name).map(|(_, c)| command(c, &file)));
        // The picks may name one page or item twice (a root leaf that is also the bucket leaf).
        let mut seen = std::collections::HashSet::new();
        commands.retain(|c| seen.insert(c.clone()));
        v.push(Input { name: name.clone(), image, commands });
    }
    for d in DAMAGED {
        assert!(names.iter().any(|n| n == d.fixture), "{}: no fixture {}", d.name, d.fixture);
        let mut image = std::fs::read(fixtures_dir().join(format!("{}.db", d.fixture))).expect("read fixture");
        match d.edit {
            Edit::Patch(patches) => {
                for (off, bytes) in patches {
                    let off = *off as usize;
                    image[off..off + bytes.len()].copy_from_slice(bytes);
                }
            }
            Edit::Truncate(len) => image.truncate(len as usize),
        }
        let file = format!("{}.db", d.name);
        let mut commands: Vec<Vec<String>> = COMMON.iter().map(|c| command(c, &file)).collect();
        commands.extend(d.extra.iter().map(|c| command(c, &file)));
        v.push(Input { name: d.name.to_string(), image, commands });
    }
    // Not a bbolt file at all.
    let file = "junk.db";
    let mut commands: Vec<Vec<String>> = COMMON.iter().map(|c| command(c, file)).collect();
    commands.push(command(&["page", "{db}", "0"], file));
    v.push(Input { name: "junk".into(), image: vec![0x5a; 8192], commands });
    v
}

/// The golden file name of a command: its arguments other than the input file, joined by `_`,
/// with anything but letters, digits, `.`, `-` and `@` replaced by `_`.
fn slug(args: &[String], file: &str) -> String {
    let words: Vec<&str> = args.iter().filter(|a| *a != file).map(|a| if a.is_empty() { "''" } else { a }).collect();
    let s: String = words
        .join("_")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '@') { c } else { '_' })
        .collect();
    format!("{s}.txt")
}

/// What a command did.
struct Run {
    status: String,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn status_text(s: ExitStatus) -> String {
    match s.code() {
        Some(c) => c.to_string(),
        None => format!("killed ({s})"),
    }
}

/// Runs `rivet ARGS` in `dir`, its outputs going to files (no pipes to drain), killed after
/// [`TIME_LIMIT`].
fn run(dir: &Path, outs: &Path, args: &[String]) -> Run {
    let (out_path, err_path) = (outs.join("stdout"), outs.join("stderr"));
    let out = std::fs::File::create(&out_path).expect("stdout file");
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rivet"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("cannot run the rivet binary");
    let started = Instant::now();
    let mut nap = Duration::from_millis(1);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for rivet") {
            break status_text(s);
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break format!("still running after {TIME_LIMIT:?}, killed");
        }
        std::thread::sleep(nap);
        nap = (nap * 2).min(Duration::from_millis(20));
    };
    let stdout = std::fs::read(&out_path).expect("read stdout");
    let stderr = std::fs::read(&err_path).expect("read stderr");
    Run { status, stdout, stderr }
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Replaces every mention of the scratch directory with `<tmp>`.
fn normalise(bytes: &[u8], tmp: &[String]) -> Vec<u8> {
    let Ok(s) = std::str::from_utf8(bytes) else { return bytes.to_vec() };
    let mut s = s.to_string();
    for t in tmp {
        s = s.replace(t.as_str(), "<tmp>");
    }
    s.into_bytes()
}

/// One output stream in golden form.
fn render_stream(out: &mut String, what: &str, bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let _ = writeln!(out, "----- {what}: {} bytes, not UTF-8, in hex -----", bytes.len());
        for chunk in bytes.chunks(32) {
            let line: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
            let _ = writeln!(out, "{line}");
        }
        return;
    };
    if bytes.len() > BIG {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let _ = writeln!(
            out,
            "----- {what}: {} bytes, {} lines, fnv1a64 {:016x} (over {BIG} bytes: only hashes of the whole \
             and of every {CHUNK} bytes, and the first {HEAD_LINES} lines cut at {HEAD_WIDTH} characters, \
             are kept) -----",
            bytes.len(),
            lines.len(),
            fnv1a(bytes)
        );
        for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
            let first = i * CHUNK;
            let _ = writeln!(out, "bytes {first}-{}: fnv1a64 {:016x}", first + chunk.len() - 1, fnv1a(chunk));
        }
        let _ = writeln!(out, "----- {what}: the first lines -----");
        for line in lines.iter().take(HEAD_LINES) {
            let line = line.trim_end_matches('\n');
            let cut: String = line.chars().take(HEAD_WIDTH).collect();
            let more = if cut.len() < line.len() { " [...]" } else { "" };
            let _ = writeln!(out, "{cut}{more}");
        }
        return;
    }
    let _ = writeln!(out, "----- {what}: {} bytes -----", bytes.len());
    out.push_str(text);
    if !text.is_empty() && !text.ends_with('\n') {
        out.push_str("\n\\ no newline at the end\n");
    }
}

/// A command's golden text.
fn render(args: &[String], r: &Run) -> String {
    let mut out = format!("$ rivet {}\n", args.iter().map(|a| shown_arg(a)).collect::<Vec<_>>().join(" "));
    let _ = writeln!(out, "exit status: {}", r.status);
    render_stream(&mut out, "stdout", &r.stdout);
    render_stream(&mut out, "stderr", &r.stderr);
    out
}

fn shown_arg(a: &str) -> String {
    if a.is_empty() || a.contains(char::is_whitespace) {
        format!("'{a}'")
    } else {
        a.to_string()
    }
}

/// Where two golden texts first differ, with a little context.
fn first_difference(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let i = w.iter().zip(&g).position(|(a, b)| a != b).unwrap_or(w.len().min(g.len()));
    let cut = |s: &str| -> String {
        let c: String = s.chars().take(300).collect();
        if c.len() < s.len() {
            format!("{c} [...]")
        } else {
            c
        }
    };
    let mut s = String::new();
    for (k, line) in w.iter().enumerate().take(i).skip(i.saturating_sub(2)) {
        let _ = writeln!(s, "        {:>5}   {}", k + 1, cut(line));
    }
    let _ = writeln!(s, "  golden {:>5} - {}", i + 1, w.get(i).map_or("<end of file>".into(), |l| cut(l)));
    let _ = writeln!(s, "  actual {:>5} + {}", i + 1, g.get(i).map_or("<end of file>".into(), |l| cut(l)));
    s
}

/// Every `*.txt` below `dir`, relative to it.
fn golden_files(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return v };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(golden_files(&p).into_iter().map(|f| Path::new(&e.file_name()).join(f)));
        } else if p.extension().is_some_and(|x| x == "txt") {
            v.push(PathBuf::from(e.file_name()));
        }
    }
    v
}

/// The goldens met so far, and what differed.
struct Goldens {
    bless: bool,
    expected: Vec<PathBuf>,
    failures: Vec<String>,
    written: usize,
}

impl Goldens {
    /// Compares `got` with the golden `rel` (or writes it, when blessing). `what` names the
    /// command; `stdout` is its whole stdout, saved for inspection when the golden keeps only
    /// hashes of it.
    fn compare(&mut self, rel: PathBuf, got: &str, what: &str, stdout: &[u8]) {
        assert!(!self.expected.contains(&rel), "two commands share the golden {}", rel.display());
        self.expected.push(rel.clone());
        let golden = golden_dir().join(&rel);
        let want = std::fs::read_to_string(&golden).ok();
        if want.as_deref() == Some(got) {
            return;
        }
        if self.bless {
            std::fs::create_dir_all(golden.parent().unwrap()).expect("golden dir");
            std::fs::write(&golden, got).expect("write golden");
            self.written += 1;
            return;
        }
        let actual = actual_dir().join(&rel);
        std::fs::create_dir_all(actual.parent().unwrap()).expect("actual dir");
        std::fs::write(&actual, got).expect("write actual");
        let mut msg = format!("{}: {what}\n", rel.display());
        match want {
            None => msg.push_str("  no golden file\n"),
            Some(want) => {
                msg.push_str(&first_difference(&want, got));
                if stdout.len() > BIG {
                    let full = actual.with_extension("stdout");
                    std::fs::write(&full, stdout).expect("write actual stdout");
                    let _ = writeln!(msg, "  (the whole stdout is in {})", full.display());
                }
            }
        }
        self.failures.push(msg);
    }
}

/// The size and hash of every input, so that a changed fixture is named as such.
fn render_inputs(inputs: &[Input]) -> String {
    let mut s = String::from(
        "The inputs of the golden commands: the fixtures as committed and the damaged copies made of them.\n\
         Page ids and offsets in golden.rs are those of these files.\n",
    );
    for i in inputs {
        let _ = writeln!(s, "{}.db: {} bytes, fnv1a64 {:016x}", i.name, i.image.len(), fnv1a(&i.image));
    }
    s
}

#[test]
fn inspection_commands_print_their_golden_outputs() {
    let bless = std::env::var_os("RIVET_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    let scratch = tempfile::Builder::new().prefix("rivet-golden-").tempdir().expect("temp dir");
    let root = scratch.path();
    let mut tmp_names = vec![root.display().to_string()];
    if let Ok(c) = root.canonicalize() {
        tmp_names.push(c.display().to_string());
    }
    let outs = root.join(".outputs");
    std::fs::create_dir(&outs).expect("outputs dir");
    let _ = std::fs::remove_dir_all(actual_dir());

    let inputs = inputs();
    let mut g = Goldens { bless, expected: Vec::new(), failures: Vec::new(), written: 0 };
    g.compare(PathBuf::from("inputs.txt"), &render_inputs(&inputs), "the inputs' sizes and hashes", &[]);
    for input in &inputs {
        let dir = root.join(&input.name);
        std::fs::create_dir(&dir).expect("input dir");
        let file = format!("{}.db", input.name);
        std::fs::write(dir.join(&file), &input.image).expect("write input");
        for args in &input.commands {
            let mut r = run(&dir, &outs, args);
            r.stdout = normalise(&r.stdout, &tmp_names);
            r.stderr = normalise(&r.stderr, &tmp_names);
            let rel = Path::new(&input.name).join(slug(args, &file));
            g.compare(rel, &render(args, &r), &format!("`rivet {}`", args.join(" ")), &r.stdout);
        }
        // Inspection never writes (and the surgery commands write to copies).
        let after = std::fs::read(dir.join(&file)).expect("read input");
        assert!(after == input.image, "{}: a command changed the input file", input.name);
    }

    let stale: Vec<PathBuf> = golden_files(&golden_dir()).into_iter().filter(|f| !g.expected.contains(f)).collect();
    if bless {
        for f in &stale {
            std::fs::remove_file(golden_dir().join(f)).expect("remove stale golden");
        }
        eprintln!(
            "RIVET_BLESS: {} goldens, {} written, {} stale ones removed",
            g.expected.len(),
            g.written,
            stale.len()
        );
        return;
    }
    for f in &stale {
        g.failures.push(format!("{}: a golden file no command produces\n", f.display()));
    }
    assert!(
        g.failures.is_empty(),
        "{} of {} goldens differ in {} (actual outputs in {}; \
         if the change is meant, run RIVET_BLESS=1 cargo test -p rivet-cli --test golden):\n\n{}",
        g.failures.len(),
        g.expected.len(),
        golden_dir().display(),
        actual_dir().display(),
        g.failures.join("\n")
    );
}
