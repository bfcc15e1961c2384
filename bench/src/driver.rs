//! The driver: runs every contender in its own process on a fresh directory, interleaving
//! contenders run after run, with a time cap per phase; then prints the table and the targets.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::data::{parse_count, Workload};
use crate::report::{first_line, fmt_time, machine, print_report, stats, utc_date, versions, Row};

/// Phases of the key/value workload, in order.
pub const KV_PHASES: [&str; 8] = [
    "bulk_load",
    "individual_writes",
    "batch_writes",
    "random_reads",
    "random_reads_2t",
    "range_scans",
    "removals",
    "concurrent_writes",
];
/// The phases Go bbolt's worker runs (all but `concurrent_writes`).
pub const GO_PHASES: [&str; 7] =
    ["bulk_load", "individual_writes", "batch_writes", "random_reads", "random_reads_2t", "range_scans", "removals"];
/// Phases of the typed workload, in order.
pub const TYPED_PHASES: [&str; 6] =
    ["typed_insert", "typed_get", "typed_range", "typed_index_get", "typed_count", "typed_remove"];
/// Phases of the combined-query workload (Rivet alone: an AND of index equalities against a
/// filtered scan).
pub const QUERY_PHASES: [&str; 3] = ["typed_query_load", "typed_and_query", "typed_filter_scan"];

/// Command-line options of the driver.
#[derive(Debug, Clone)]
pub struct Args {
    /// Keys of the bulk load (and records of the typed workload).
    pub n: usize,
    /// Runs per contender.
    pub runs: usize,
    /// Contender labels (or `kv` / `typed`) to run; empty: all.
    pub only: Vec<String>,
    /// Where to write the JSON results.
    pub json: Option<PathBuf>,
    /// Time cap per phase.
    pub cap: Duration,
    /// Parent directory of the per-run database directories.
    pub dir: PathBuf,
}

/// Usage text.
pub const USAGE: &str = "\
usage: cargo run --release -p rivet-bench -- [--n N] [--runs R] [--only a,b] [--json FILE] [--cap SECS] [--dir DIR]

  --n N        keys of the bulk load and records of the typed workload (default 200000; 200k, 1m accepted)
  --runs R     runs per contender; the table shows the median and the spread (default 3)
  --only a,b   contenders to run: rivet, rivet-journal, lmdb, redb, bbolt, jammdb, sled, fjall, native_db, rivet-engine,
               fdatasync, or the groups kv and typed (rivet brings in its references fdatasync and rivet-engine)
  --json FILE  also write the results as JSON, and an SVG bar chart per workload beside it
               (results.json: results-kv.svg, results-typed.svg)
  --cap SECS   time cap per phase; a phase over it is reported as timed out (default 120)
  --dir DIR    where the databases are created (default: the system temp directory)

       cargo run --release -p rivet-bench -- --chart FILE.json...
  redraws the charts of stored results, beside each file";

impl Args {
    /// Parses the driver's arguments.
    ///
    /// # Errors
    /// A message for a malformed or unknown argument.
    pub fn parse(args: &[String]) -> Result<Args, String> {
        let mut a = Args {
            n: 200_000,
            runs: 3,
            only: Vec::new(),
            json: None,
            cap: Duration::from_secs(120),
            dir: std::env::temp_dir(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((k, v)) if k.starts_with("--") => (k, Some(v.to_string())),
                _ => (arg.as_str(), None),
            };
            let mut value = || inline.clone().or_else(|| it.next().cloned()).ok_or(format!("{name} needs a value"));
            match name {
                "--n" => {
                    let v = value()?;
                    a.n = parse_count(&v).filter(|&n| n >= 20).ok_or(format!("--n: `{v}` is not a count >= 20"))?;
                }
                "--runs" => {
                    let v = value()?;
                    a.runs = v.parse().ok().filter(|&r| r >= 1).ok_or(format!("--runs: `{v}` is not a count >= 1"))?;
                }
                "--only" => {
                    a.only = value()?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
                }
                "--json" => a.json = Some(PathBuf::from(value()?)),
                "--cap" => {
                    let v = value()?;
                    let s: f64 =
                        v.parse().ok().filter(|s: &f64| *s > 0.0).ok_or(format!("--cap: `{v}` is not seconds"))?;
                    a.cap = Duration::from_secs_f64(s);
                }
                "--dir" => a.dir = PathBuf::from(value()?),
                "-h" | "--help" => return Err(USAGE.to_string()),
                other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
            }
        }
        let known = [
            "rivet",
            "rivet-journal",
            "lmdb",
            "redb",
            "bbolt",
            "jammdb",
            "sled",
            "fjall",
            "native_db",
            "rivet-engine",
            "fdatasync",
        ];
        for o in &a.only {
            if !known.contains(&o.as_str()) && o != "kv" && o != "typed" {
                return Err(format!("--only: unknown contender `{o}` (known: {}, kv, typed)", known.join(", ")));
            }
        }
        Ok(a)
    }
}

/// How a contender's worker is started.
#[derive(Debug, Clone)]
enum Program {
    /// This executable, `--worker NAME`.
    SelfExe(&'static str),
    /// The Go bbolt worker.
    Go(PathBuf),
}

/// One contender of one workload.
#[derive(Debug, Clone)]
struct Job {
    /// The name in the table and the JSON.
    label: &'static str,
    /// `kv` or `typed`.
    group: &'static str,
    program: Program,
    /// Phases it reports.
    phases: &'static [&'static str],
}

/// Median sizes per contender: (label, group, {"after_writes" | "final": (apparent, allocated)}).
pub(crate) type Sizes = Vec<(String, String, BTreeMap<String, (u64, u64)>)>;

/// The outcome of one phase in one run.
#[derive(Debug, Clone)]
enum Outcome {
    Done { ns: u128, ops: u64, threads: Vec<u128> },
    TimedOut,
    Failed(String),
    NotRun,
}

/// Everything one worker run reported.
#[derive(Debug, Default)]
struct RunReport {
    phases: BTreeMap<String, Outcome>,
    sizes: BTreeMap<String, (u64, u64)>,
    dataset: Option<u64>,
    failure: Option<String>,
}

enum Event {
    Line(String),
    Eof,
}

fn run_worker(job: &Job, dir: &Path, n: usize, cap: Duration) -> RunReport {
    let mut report = RunReport::default();
    let mut cmd = match &job.program {
        Program::SelfExe(w) => match std::env::current_exe() {
            Ok(exe) => {
                let mut c = Command::new(exe);
                c.arg("--worker").arg(w);
                c
            }
            Err(e) => {
                report.failure = Some(format!("cannot find this executable to re-run it: {e}"));
                return report;
            }
        },
        Program::Go(bin) => Command::new(bin),
    };
    cmd.arg("--dir").arg(dir).arg("--n").arg(n.to_string());
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child: Child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            report.failure = Some(format!("cannot start the worker: {e}"));
            return report;
        }
    };
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take();
    let reader = std::thread::spawn(move || {
        if let Some(out) = stdout {
            for line in BufReader::new(out).lines() {
                match line {
                    Ok(l) => {
                        if tx.send(Event::Line(l)).is_err() {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
        let _ = tx.send(Event::Eof);
    });
    let stderr = child.stderr.take();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut s);
        }
        s
    });

    let mut current: Option<String> = None;
    let mut deadline = Instant::now() + cap;
    let mut timed_out = false;
    loop {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Event::Line(l)) => {
                let f: Vec<&str> = l.split_whitespace().collect();
                match f.as_slice() {
                    ["begin", p] => {
                        current = Some(p.to_string());
                        deadline = Instant::now() + cap;
                    }
                    ["phase", p, ns, ops, threads @ ..] => {
                        let parsed = (ns.parse::<u128>(), ops.parse::<u64>());
                        let outcome = match parsed {
                            (Ok(ns), Ok(ops)) => Outcome::Done {
                                ns,
                                ops,
                                threads: threads.iter().filter_map(|t| t.parse().ok()).collect(),
                            },
                            _ => Outcome::Failed(format!("malformed line `{l}`")),
                        };
                        report.phases.insert(p.to_string(), outcome);
                        current = None;
                        deadline = Instant::now() + cap;
                    }
                    ["size", label, a, b] => {
                        if let (Ok(a), Ok(b)) = (a.parse(), b.parse()) {
                            report.sizes.insert(label.to_string(), (a, b));
                        }
                    }
                    ["dataset", h] => report.dataset = u64::from_str_radix(h, 16).ok(),
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
        }
    }
    let status = child.wait();
    let _ = reader.join();
    let stderr = err_reader.join().unwrap_or_default();
    if timed_out {
        match &current {
            Some(p) => {
                report.phases.insert(p.clone(), Outcome::TimedOut);
            }
            None => report.failure = Some(format!("no progress within the cap of {:.0} s", cap.as_secs_f64())),
        }
    } else {
        let ok = matches!(&status, Ok(s) if s.success());
        if !ok {
            let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            let why = match &status {
                Ok(s) => format!("worker exited with {s}: {last}"),
                Err(e) => format!("worker could not be waited for: {e}"),
            };
            if let Some(p) = &current {
                report.phases.insert(p.clone(), Outcome::Failed(why.clone()));
            }
            report.failure = Some(why);
        }
    }
    for p in job.phases {
        report.phases.entry(p.to_string()).or_insert(Outcome::NotRun);
    }
    report
}

/// Builds the Go bbolt worker, or says why it cannot.
fn build_go(out: &Path) -> Result<(PathBuf, String), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("go");
    let go = ["go", "/usr/lib/go/bin/go"]
        .into_iter()
        .find(|g| Command::new(g).arg("version").output().map(|o| o.status.success()).unwrap_or(false))
        .ok_or("`go` is not installed (bench/run.sh installs golang-go and golang-github-coreos-bbolt-dev with apt)")?;
    let gocode = Path::new("/usr/share/gocode");
    if !gocode.join("src/go.etcd.io/bbolt/db.go").exists() {
        return Err(
            "Debian's golang-github-coreos-bbolt-dev is not installed (bench/run.sh installs it with apt)".into()
        );
    }
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let bin = out.join("bbolt-bench");
    let mut cmd = Command::new(go);
    cmd.current_dir(&src)
        .arg("build")
        .arg("-o")
        .arg(&bin)
        .arg(".")
        .env("GO111MODULE", "off")
        .env("GOPATH", format!("{}:{}", out.join(".gopath").display(), gocode.display()))
        .env("GOFLAGS", "")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0");
    if std::env::var_os("GOCACHE").is_none()
        && std::env::var_os("HOME").is_none()
        && std::env::var_os("XDG_CACHE_HOME").is_none()
    {
        cmd.env("GOCACHE", out.join(".gocache"));
    }
    let o = cmd.output().map_err(|e| format!("cannot run `go build`: {e}"))?;
    if !o.status.success() {
        return Err(format!("`go build` in {} failed: {}", src.display(), String::from_utf8_lossy(&o.stderr).trim()));
    }
    let gov = Command::new(go).arg("version").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let deb = Command::new("dpkg-query")
        .args(["-W", "-f=${Version}", "golang-github-coreos-bbolt-dev"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let version = format!(
        "bbolt {} (Debian golang-github-coreos-bbolt-dev {deb}, {})",
        deb.split('-').next().unwrap_or("?"),
        gov.unwrap_or_default().trim_start_matches("go version ")
    );
    Ok((bin, version))
}

/// Runs the benchmark as `args` says and prints the report. Returns the process exit code.
pub fn main(args: Args) -> i32 {
    let select = |label: &str, group: &str| {
        args.only.is_empty()
            || args.only.iter().any(|o| o == label || o == group)
            || (args.only.iter().any(|o| o == "rivet") && (label == "fdatasync" || label == "rivet-engine"))
    };
    let mut go_version = None;
    let mut go_bin = None;
    if select("bbolt", "kv") {
        let out = std::env::current_exe()
            .ok()
            .and_then(|e| e.parent().map(|p| p.join("rivet-bench-go")))
            .unwrap_or_else(|| args.dir.join("rivet-bench-go"));
        match build_go(&out) {
            Ok((bin, v)) => {
                go_bin = Some(bin);
                go_version = Some(v);
            }
            Err(why) => eprintln!("rivet-bench: bbolt skipped: {why}"),
        }
    }
    let kv = |label: &'static str, worker: &'static str| Job {
        label,
        group: "kv",
        program: Program::SelfExe(worker),
        phases: &KV_PHASES,
    };
    let mut jobs =
        vec![kv("rivet", "rivet"), kv("rivet-journal", "rivet-journal"), kv("lmdb", "lmdb"), kv("redb", "redb")];
    if let Some(bin) = &go_bin {
        jobs.push(Job { label: "bbolt", group: "kv", program: Program::Go(bin.clone()), phases: &GO_PHASES });
    }
    jobs.extend([kv("jammdb", "jammdb"), kv("sled", "sled"), kv("fjall", "fjall")]);
    jobs.push(Job {
        label: "fdatasync",
        group: "kv",
        program: Program::SelfExe("fdatasync"),
        phases: &["individual_writes"],
    });
    let typed = |label: &'static str, worker: &'static str| Job {
        label,
        group: "typed",
        program: Program::SelfExe(worker),
        phases: &TYPED_PHASES,
    };
    jobs.extend([
        typed("rivet", "typed:rivet"),
        typed("rivet-engine", "typed:rivet-engine"),
        typed("native_db", "typed:native_db"),
    ]);
    jobs.push(Job { label: "rivet", group: "typed", program: Program::SelfExe("typed-query"), phases: &QUERY_PHASES });
    jobs.retain(|j| select(j.label, j.group));
    if jobs.is_empty() {
        eprintln!("rivet-bench: --only selected nothing");
        return 2;
    }
    if args.runs < 3 {
        eprintln!("rivet-bench: note: {} run(s); the issue asks for the median of at least 3", args.runs);
    }
    let base = args.dir.join(format!("rivet-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&base) {
        eprintln!("rivet-bench: cannot create {}: {e}", base.display());
        return 2;
    }
    let expected = Workload::new(args.n).checksum();
    let load_before = first_line("/proc/loadavg");
    let started = Instant::now();

    let mut reports: Vec<(usize, usize, RunReport)> = Vec::new(); // (job, run, report)
    let mut failed = false;
    for run in 0..args.runs {
        // Interleave: every contender once per run, starting one further along each run.
        for k in 0..jobs.len() {
            let j = (k + run) % jobs.len();
            let job = &jobs[j];
            let dir = base.join(format!("{run}-{}-{}", job.group, job.label));
            if let Err(e) = std::fs::create_dir_all(&dir) {
                eprintln!("rivet-bench: cannot create {}: {e}", dir.display());
                return 2;
            }
            let mut r = run_worker(job, &dir, args.n, args.cap);
            if let Some(d) = r.dataset {
                if d != expected {
                    r.failure = Some(format!("generated different data (checksum {d:016x}, expected {expected:016x})"));
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
            let mut line = format!("run {}/{} {:>5} {:<12}", run + 1, args.runs, job.group, job.label);
            for p in job.phases {
                match r.phases.get(*p) {
                    Some(Outcome::Done { ns, threads, .. }) => {
                        line += &format!(" {p} {}", fmt_time(*ns));
                        if !threads.is_empty() {
                            let t: Vec<String> = threads.iter().map(|t| fmt_time(*t)).collect();
                            line += &format!(" (threads: {})", t.join(", "));
                        }
                    }
                    Some(Outcome::TimedOut) => line += &format!(" {p} TIMED OUT"),
                    Some(Outcome::Failed(why)) => line += &format!(" {p} FAILED ({why})"),
                    _ => {}
                }
            }
            eprintln!("{line}");
            if let Some(f) = &r.failure {
                eprintln!("  {} ({}): {f}", job.label, job.group);
                failed = true;
            }
            reports.push((j, run, r));
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    let elapsed = started.elapsed();
    let load_after = first_line("/proc/loadavg");

    // Aggregate.
    let mut rows: Vec<Row> = Vec::new();
    for phase in KV_PHASES.iter().chain(TYPED_PHASES.iter()).chain(QUERY_PHASES.iter()) {
        for (j, job) in jobs.iter().enumerate() {
            if !job.phases.contains(phase) {
                continue;
            }
            let (mut done, mut ops, mut timed, mut fails, mut notrun) = (Vec::new(), 0, 0, 0, 0);
            for (_, _, r) in reports.iter().filter(|(jj, _, _)| *jj == j) {
                match r.phases.get(*phase) {
                    Some(Outcome::Done { ns, ops: o, .. }) => {
                        done.push(*ns);
                        ops = *o;
                    }
                    Some(Outcome::TimedOut) => timed += 1,
                    Some(Outcome::Failed(_)) => fails += 1,
                    _ => notrun += 1,
                }
            }
            let runs = args.runs;
            let status = if fails > 0 {
                format!("failed in {fails}/{runs} runs")
            } else if timed > 0 {
                format!("timed out in {timed}/{runs} runs (cap {:.0} s)", args.cap.as_secs_f64())
            } else if notrun > 0 {
                format!("not run in {notrun}/{runs} runs")
            } else {
                "ok".into()
            };
            rows.push(Row {
                contender: job.label.to_string(),
                phase: phase.to_string(),
                workload: job.group.to_string(),
                ns: stats(&done),
                ops,
                status,
                reference: job.label == "fdatasync",
            });
        }
    }
    let mut sizes: Sizes = Vec::new();
    for (j, job) in jobs.iter().enumerate() {
        let mut m = BTreeMap::new();
        for label in ["after_writes", "final"] {
            let mut a: Vec<u128> = Vec::new();
            let mut b: Vec<u128> = Vec::new();
            for (_, _, r) in reports.iter().filter(|(jj, _, _)| *jj == j) {
                if let Some((x, y)) = r.sizes.get(label) {
                    a.push(*x as u128);
                    b.push(*y as u128);
                }
            }
            if let (Some((ma, _, _)), Some((mb, _, _))) = (stats(&a), stats(&b)) {
                m.insert(label.to_string(), (ma as u64, mb as u64));
            }
        }
        if !m.is_empty() {
            sizes.push((job.label.to_string(), job.group.to_string(), m));
        }
    }

    let machine = machine(&args.dir);
    let versions = versions(go_version.as_deref());
    print_report(&args, &rows, &sizes, &machine, &versions, elapsed, &load_before, &load_after);

    if let Some(path) = &args.json {
        let results: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "contender": r.contender,
                    "phase": r.phase,
                    "workload": r.workload,
                    "ops_per_sec": r.ops_per_sec(),
                    "median_ms": r.ns.map(|(m, _, _)| m as f64 / 1e6),
                    "min_ms": r.ns.map(|(_, m, _)| m as f64 / 1e6),
                    "max_ms": r.ns.map(|(_, _, m)| m as f64 / 1e6),
                    "ops": r.ops,
                    "status": r.status,
                    "reference": r.reference,
                })
            })
            .collect();
        let sizes_json: Vec<serde_json::Value> = sizes
            .iter()
            .map(|(c, g, m)| {
                let get = |k: &str| m.get(k).copied();
                serde_json::json!({
                    "contender": c,
                    "workload": g,
                    "after_writes_apparent": get("after_writes").map(|x| x.0),
                    "after_writes_allocated": get("after_writes").map(|x| x.1),
                    "final_apparent": get("final").map(|x| x.0),
                    "final_allocated": get("final").map(|x| x.1),
                })
            })
            .collect();
        let doc = serde_json::json!({
            "n": args.n,
            "runs": args.runs,
            "date": utc_date(),
            "cap_secs": args.cap.as_secs_f64(),
            "results": results,
            "sizes": sizes_json,
            "versions": versions.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "machine": machine.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect::<serde_json::Map<_, _>>(),
            "load_average": {"before": load_before, "after": load_after},
            "elapsed_secs": elapsed.as_secs_f64(),
        });
        let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("rivet-bench: cannot write {}: {e}", path.display());
            return 2;
        }
        eprintln!("rivet-bench: wrote {}", path.display());
        match crate::chart::write_charts(path) {
            Ok(charts) => charts.iter().for_each(|c| eprintln!("rivet-bench: wrote {}", c.display())),
            Err(e) => eprintln!("rivet-bench: no charts: {e}"),
        }
    }
    if failed {
        eprintln!("rivet-bench: some runs FAILED (see above); their phases are marked in the table");
        1
    } else {
        0
    }
}

/// Runs a worker (the `--worker` form of the command line). Returns the process exit code.
pub fn worker_main(args: &[String]) -> i32 {
    let mut name = None;
    let mut dir = None;
    let mut n = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--worker" => name = it.next().cloned(),
            "--dir" => dir = it.next().map(PathBuf::from),
            "--n" => n = it.next().and_then(|s| parse_count(s)),
            _ => {}
        }
    }
    let (Some(name), Some(dir), Some(n)) = (name, dir, n) else {
        eprintln!("rivet-bench worker: needs --worker NAME --dir DIR --n N");
        return 2;
    };
    let r = if let Some(kind) = name.strip_prefix("typed:") {
        crate::typed::run_typed(kind, &dir, n)
    } else if name == "typed-query" {
        crate::query::run_query(&dir, n)
    } else if name == "fdatasync" {
        crate::worker::run_sync2(&dir)
    } else {
        crate::worker::run_kv(&name, &dir, n)
    };
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("rivet-bench worker {name}: {e}");
            1
        }
    }
}
