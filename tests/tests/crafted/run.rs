//! Running one operation of the harness on one crafted file in a child process, and judging
//! how it ended.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use rivet_tests::child::{self, Limits, Outcome};
use rivet_tests::craft::corpus::Case;

/// Wall-clock limit of one operation.
pub const TIME: Duration = Duration::from_secs(20);
/// Heap (data segment) limit of one child.
pub const MEMORY: u64 = 1 << 30;

/// Who carries an operation out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The `rivet` command, on its main thread (8 MiB stack).
    Cli,
    /// The engine, through `crafted_op` (a 256 KiB thread).
    Engine,
}

/// One operation.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Its name in reports.
    pub name: &'static str,
    /// Who runs it.
    pub tool: Tool,
    /// `rivet` arguments (FILE goes after the first word), or the `crafted_op` operation.
    pub args: &'static str,
    /// It writes to the file (gets its own fresh copy).
    pub writes: bool,
}

const fn cli(name: &'static str, args: &'static str) -> Op {
    Op { name, tool: Tool::Cli, args, writes: false }
}
const fn engine(name: &'static str, args: &'static str, writes: bool) -> Op {
    Op { name, tool: Tool::Engine, args, writes }
}

/// Every operation, the engine's check first (the others are judged against what it found),
/// then the engine's dump (which `rivet dump --json` and compactions are compared with).
pub const OPS: &[Op] = &[
    engine("engine check", "check", false),
    engine("engine dump", "dump", false),
    engine("engine open_ro", "open_ro", false),
    engine("engine open_rw", "open_rw", true),
    engine("engine open_rw_nofl", "open_rw_nofl", true),
    engine("engine read", "read", false),
    engine("engine stats", "stats", false),
    engine("engine compact", "compact", false),
    engine("engine copy_file", "copy_file", false),
    engine("engine delete_buckets", "delete_buckets", true),
    engine("engine put", "put", true),
    cli("rivet check", "check"),
    cli("rivet check --json", "check --json"),
    cli("rivet pages", "pages"),
    cli("rivet pages --json", "pages --json"),
    cli("rivet dump", "dump"),
    cli("rivet dump --json", "dump --json"),
    cli("rivet buckets -r", "buckets -r"),
    cli("rivet stats", "stats"),
    cli("rivet info", "info"),
    cli("rivet compact", "compact"),
    cli("rivet keys", "keys"),
    cli("rivet get", "get"),
];

/// What the engine's check and dump said about a case: the context other operations are
/// judged in.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The kinds of problem the check found (empty: none), if the check ran cleanly.
    pub kinds: Option<Vec<String>>,
    /// Length and hash line of the engine's dump, if it succeeded.
    pub dump: Option<(u64, u64)>,
}

impl Context {
    fn clean(&self) -> bool {
        self.kinds.as_ref().is_some_and(Vec::is_empty)
    }
}

/// The `rivet` binary: `RIVET_BIN`, else built (or found up to date) by cargo in this test's
/// own target directory and profile.
pub fn rivet_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("RIVET_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("test executable");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target/PROFILE/deps/TEST").to_path_buf();
        let target = profile_dir.parent().expect("target dir").to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        // The profile `cargo test` builds the binary with (`test` in target/debug, `release`
        // with --release), so that after a workspace `cargo test` this finds it up to date.
        let mut cmd = Command::new(option_env!("CARGO").unwrap_or("cargo"));
        cmd.args(["build", "--quiet", "-p", "rivet-cli", "--bin", "rivet"]).env("CARGO_TARGET_DIR", &target);
        cmd.args(["--profile", if release { "release" } else { "test" }]);
        let status = cmd.status().expect("run cargo build for the rivet binary");
        assert!(status.success(), "cargo build -p rivet-cli failed");
        profile_dir.join("rivet")
    })
    .clone()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The limits of one child: output and disk linear in the bytes the file stores.
fn limits(case: &Case, op: &Op, scratch: &Path) -> Limits {
    let linear = 64 * case.image.stored() + (64 << 10);
    // A commit on a file with many free pages writes their list: 8 bytes per page, at a new
    // place each time (the previous list's pages are still pending). The write operations
    // commit up to four times: 32 bytes per page. Building and writing the list takes time
    // too: a second more per 2^20 pages.
    let pages = case.image.len() / case.image.page_size as u64;
    let (freelist, slow) = if op.writes { (32 * pages, pages >> 20) } else { (0, 0) };
    Limits {
        data: MEMORY,
        address_space: 64 << 30,
        stack: 8 << 20,
        time: TIME + Duration::from_secs(slow),
        output: linear,
        disk: Some((scratch.to_path_buf(), linear + freelist)),
    }
}

/// The command line of `op` on `file`.
fn command(case: &Case, op: &Op, file: &Path, scratch: &Path, cx: &Context) -> Command {
    match op.tool {
        Tool::Engine => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_crafted_op"));
            c.arg(op.args).arg(file).arg(scratch);
            if cx.clean() {
                c.arg("--clean");
            }
            if let Some(k) = &cx.kinds {
                c.arg("--baseline").arg(k.join("\n"));
            }
            c
        }
        Tool::Cli => {
            let mut words = op.args.split_whitespace();
            let mut args: Vec<OsString> = vec![words.next().unwrap_or_default().into(), file.into()];
            args.extend(words.map(OsString::from));
            let (path, key) = case.probe.clone().unwrap_or_default();
            match op.args {
                "compact" => args.extend(["-o".into(), scratch.join("compacted.db").into_os_string()]),
                "keys" | "get" => {
                    args.extend(["--parse-format".into(), "hex".into()]);
                    args.extend(path.iter().map(|n| OsString::from(hex(n))));
                    if op.args == "get" {
                        args.push(hex(&key).into());
                    }
                }
                _ => {}
            }
            let mut c = Command::new(rivet_bin());
            c.args(args).arg("--quiet");
            c
        }
    }
}

/// What went wrong, in a few words, from the way a child ended.
fn crash(o: &Outcome) -> Option<String> {
    let err = o.stderr_text();
    let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    let first: String = first.chars().take(160).collect();
    if o.timed_out {
        return Some(format!("hang: no end within {} s", o.elapsed.as_secs()));
    }
    if o.output_exceeded {
        return Some(format!("output: more than {} bytes printed", o.printed));
    }
    if o.disk_exceeded {
        return Some(format!("disk: wrote more than its allowance ({} bytes allocated)", o.disk_used));
    }
    if err.contains("has overflowed its stack") {
        return Some("stack overflow".into());
    }
    if err.contains("memory allocation of") {
        return Some(format!("memory: {first}"));
    }
    if let Some(s) = o.signal {
        return Some(format!("killed by signal {s}: {first}"));
    }
    if err.contains("panicked") {
        let at = err.lines().find(|l| l.contains("panicked")).unwrap_or("");
        return Some(format!("panic: {}", at.chars().take(200).collect::<String>()));
    }
    if o.code == Some(3) {
        return Some(format!("wrong result: {first}"));
    }
    if !matches!(o.code, Some(0..=2)) {
        return Some(format!("exit code {:?}: {first}", o.code));
    }
    if err.lines().filter(|l| !l.trim().is_empty()).count() > 1 {
        return Some(format!("more than one line on stderr: {:?}", err.chars().take(300).collect::<String>()));
    }
    None
}

/// The verdict on one run: `Ok(summary)` or `Err(what went wrong)`.
pub type Verdict = Result<String, String>;

/// Runs `op` on the case (written at `file`; operations that write get a fresh copy in their
/// scratch directory) and judges it. Returns the verdict and the outcome.
pub fn run(case: &Case, op: &Op, file: &Path, scratch: &Path, cx: &Context) -> (Verdict, Outcome) {
    std::fs::create_dir_all(scratch).expect("scratch dir");
    let target = if op.writes {
        let copy = scratch.join("work.db");
        case.image.write(&copy).expect("write a fresh copy");
        copy
    } else {
        file.to_path_buf()
    };
    let o = child::run(command(case, op, &target, scratch, cx), &limits(case, op, scratch)).expect("spawn child");
    let verdict = judge(case, op, &o, scratch, cx);
    (verdict, o)
}

fn judge(case: &Case, op: &Op, o: &Outcome, scratch: &Path, cx: &Context) -> Verdict {
    if let Some(c) = crash(o) {
        return Err(c);
    }
    let code = o.code.unwrap_or(-1);
    let err = o.stderr_text();
    let err = err.trim();
    let summary = if code == 0 {
        o.stdout_text().lines().next().unwrap_or("").chars().take(100).collect()
    } else {
        format!("exit {code}: {}", err.chars().take(140).collect::<String>())
    };
    if op.name == "engine check" && case.sound && !o.stdout_text().starts_with("0 problems") {
        return Err(format!("the check finds problems in a sound file: {}", o.stdout_text().replace('\n', "; ")));
    }
    if (case.sound || cx.clean()) && code != 0 {
        return Err(format!("fails on a file the check finds nothing wrong with: {summary}"));
    }
    if op.tool == Tool::Cli && op.args.starts_with("check") {
        if let Some(k) = &cx.kinds {
            let want = if k.is_empty() { 0 } else { 1 };
            if code != want {
                return Err(format!("disagrees with the engine's check ({} kinds of problem): {summary}", k.len()));
            }
        }
    }
    if op.name == "rivet dump --json" && code == 0 {
        if let Some((len, hash)) = cx.dump {
            if (o.printed, o.stdout_hash) != (len, hash) {
                return Err(format!("prints another dump than the engine's ({} bytes, engine {len})", o.printed));
            }
        }
    }
    if op.name == "rivet compact" && code == 0 {
        if let Some(expected) = cx.dump {
            let dst = scratch.join("compacted.db");
            let (v, d) = run(case, &OPS[1], &dst, &scratch.join("dump"), &Context::default());
            v.map_err(|e| format!("compacted, but the copy does not dump: {e}"))?;
            if dump_line(&d) != Some(expected) {
                return Err(format!("compacted, but the copy's dump differs from the source's: {}", d.stdout_text()));
            }
        }
    }
    Ok(summary)
}

/// Length and hash from the engine dump's line (`N bytes, hash H`).
pub fn dump_line(o: &Outcome) -> Option<(u64, u64)> {
    if o.code != Some(0) {
        return None;
    }
    let out = o.stdout_text();
    let (len, rest) = out.trim().split_once(" bytes, hash ")?;
    Some((len.parse().ok()?, u64::from_str_radix(rest, 16).ok()?))
}

/// The kinds of problem from the engine check's output (`N problems`, then one kind a line).
pub fn check_kinds(o: &Outcome) -> Option<Vec<String>> {
    if o.code != Some(0) {
        return None;
    }
    let out = o.stdout_text();
    let mut lines = out.lines();
    lines.next()?.strip_suffix(" problems")?;
    Some(lines.filter(|l| !l.is_empty()).map(str::to_string).collect())
}
