//! The report: medians and spreads, the markdown tables, ratios to the best peer, the targets
//! of the benchmarks issue, and notes on the machine and the versions that ran.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::driver::{Args, Sizes, TYPED_PHASES};

/// Median, minimum and maximum of some durations (ns).
pub(crate) fn stats(v: &[u128]) -> Option<(u128, u128, u128)> {
    let mut v = v.to_vec();
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    let med = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2 };
    Some((med, v[0], v[n - 1]))
}

/// One row of the results: a contender's phase over all runs.
#[derive(Debug, Clone)]
pub struct Row {
    /// Contender label.
    pub contender: String,
    /// Phase name.
    pub phase: String,
    /// The workload the phase belongs to (`kv`, `typed`): one chart each.
    pub workload: String,
    /// Median, min, max in ns over completed runs.
    pub ns: Option<(u128, u128, u128)>,
    /// Operations per run.
    pub ops: u64,
    /// `ok`, `timed out`, `failed`, `not run`, possibly with a count of runs.
    pub status: String,
    /// Whether this row is a reference (two fdatasyncs), not a contender.
    pub reference: bool,
}

impl Row {
    /// Operations per second at the median.
    pub fn ops_per_sec(&self) -> Option<f64> {
        self.ns.map(|(m, _, _)| self.ops as f64 / (m as f64 / 1e9))
    }
}

/// A contender's name in the tables and charts; a reference says what it is.
pub(crate) fn display_name(contender: &str, reference: bool) -> String {
    match (contender, reference) {
        ("fdatasync", true) => "2× fdatasync (reference)".into(),
        (c, true) => format!("{c} (reference)"),
        (c, false) => c.into(),
    }
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock.
pub(crate) fn utc_date() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_date((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian (year, month, day) of a count of days since 1970-01-01.
fn civil_date(days: i64) -> (i64, u32, u32) {
    // Count from 0000-03-01, so that a leap day ends its year; eras of 400 years repeat.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of the era, 0..146096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of the era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the year from March 1
    let mp = (5 * doy + 2) / 153; // month from March, 0..11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

pub(crate) fn fmt_time(ns: u128) -> String {
    let s = ns as f64 / 1e9;
    if s >= 10.0 {
        format!("{s:.1} s")
    } else if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.1} µs", s * 1e6)
    }
}

pub(crate) fn fmt_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2}M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1}K", r / 1e3)
    } else {
        format!("{r:.0}")
    }
}

pub(crate) fn fmt_bytes(b: u64) -> String {
    let b = b as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} GiB", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}

pub(crate) fn first_line(s: &str) -> String {
    std::fs::read_to_string(s).ok().and_then(|t| t.lines().next().map(str::to_string)).unwrap_or_default()
}

/// A few facts about the machine, for the notes under the table.
pub(crate) fn machine(dir: &Path) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse::<u64>().ok()))
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = first_line("/proc/sys/kernel/osrelease");
    // The filesystem of the longest mount point that is a prefix of `dir`.
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let fs = mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && dir.starts_with(f[1])).then(|| (f[1].len(), format!("{} ({} on {})", f[2], f[0], f[1])))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, s)| s)
        .unwrap_or_default();
    vec![
        ("cpu".into(), format!("{model}, {cores} cores")),
        ("memory".into(), mem),
        ("kernel".into(), format!("Linux {kernel}")),
        ("filesystem".into(), fs),
    ]
}

pub(crate) fn versions(go: Option<&str>) -> Vec<(String, String)> {
    let lmdb = heed::lmdb_version();
    let git = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into());
    let mut v = vec![
        (
            "rivet".to_string(),
            format!(
                "rivet-engine {} and rivet {} (this tree, at commit {git})",
                env!("CARGO_PKG_VERSION"),
                env!("CARGO_PKG_VERSION")
            ),
        ),
        (
            "lmdb".into(),
            format!(
                "LMDB {}.{}.{} via heed {} (lmdb-master-sys {})",
                lmdb.major,
                lmdb.minor,
                lmdb.patch,
                env!("BENCH_VER_HEED"),
                env!("BENCH_VER_LMDB_MASTER_SYS")
            ),
        ),
        ("redb".into(), format!("redb {}", env!("BENCH_VER_REDB"))),
        ("jammdb".into(), format!("jammdb {}", env!("BENCH_VER_JAMMDB"))),
        ("sled".into(), format!("sled {}", env!("BENCH_VER_SLED"))),
        ("fjall".into(), format!("fjall {}", env!("BENCH_VER_FJALL"))),
        (
            "native_db".into(),
            format!("native_db {} (on redb {})", env!("BENCH_VER_NATIVE_DB"), env!("BENCH_VER_NATIVE_DB_REDB")),
        ),
    ];
    v.push(("bbolt".into(), go.map(str::to_string).unwrap_or_else(|| "not run".into())));
    v
}

pub(crate) fn find<'a>(rows: &'a [Row], contender: &str, phase: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.contender == contender && r.phase == phase)
}

/// Rivet's ops/s divided by `peer`'s in `phase`.
pub(crate) fn ratio(rows: &[Row], phase: &str, rivet: &str, peer: &str) -> Option<(f64, f64, f64)> {
    let a = find(rows, rivet, phase)?.ops_per_sec()?;
    let b = find(rows, peer, phase)?.ops_per_sec()?;
    Some((a / b, a, b))
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn print_report(
    args: &Args,
    rows: &[Row],
    sizes: &Sizes,
    machine: &[(String, String)],
    versions: &[(String, String)],
    elapsed: Duration,
    load_before: &str,
    load_after: &str,
) {
    println!(
        "## rivet-bench: N = {}, {} run{} per contender (median; spread = min–max over runs)\n",
        args.n,
        args.runs,
        if args.runs == 1 { "" } else { "s" }
    );
    println!("| phase | contender | median | ops/s | × fastest (time) | spread | status |");
    println!("|---|---|---:|---:|---:|---|---|");
    let mut phases: Vec<&str> = Vec::new();
    for r in rows {
        if !phases.contains(&r.phase.as_str()) {
            phases.push(&r.phase);
        }
    }
    for phase in &phases {
        let group: Vec<&Row> = rows.iter().filter(|r| r.phase == *phase).collect();
        let fastest = group.iter().filter(|r| !r.reference).filter_map(|r| r.ns.map(|n| n.0)).min();
        for r in group {
            let (med, rate, rel, spread) = match r.ns {
                Some((m, lo, hi)) => (
                    fmt_time(m),
                    r.ops_per_sec().map(fmt_rate).unwrap_or_default(),
                    fastest.map(|f| format!("{:.2}", m as f64 / f as f64)).unwrap_or_default(),
                    format!("{}–{}", fmt_time(lo), fmt_time(hi)),
                ),
                None => ("—".into(), "—".into(), "—".into(), "—".into()),
            };
            let name = display_name(&r.contender, r.reference);
            println!("| {} | {name} | {med} | {rate} | {rel} | {spread} | {} |", r.phase, r.status);
        }
    }

    if !sizes.is_empty() {
        println!("\nFile sizes (median over runs; whole database directory; apparent / allocated):\n");
        println!("| contender | workload | after the writes | at the end |");
        println!("|---|---|---:|---:|");
        for (c, g, m) in sizes {
            let f =
                |k: &str| m.get(k).map(|(a, b)| format!("{} / {}", fmt_bytes(*a), fmt_bytes(*b))).unwrap_or("—".into());
            println!("| {c} | {g} | {} | {} |", f("after_writes"), f("final"));
        }
    }

    // Rivet against the best peer.
    println!("\nRivet against the best peer in each phase (ops/s ratio; > 1 means Rivet is faster):\n");
    println!("| phase | rivet ops/s | best peer | peer ops/s | rivet ÷ peer |");
    println!("|---|---:|---|---:|---:|");
    for phase in &phases {
        let Some(rv) = find(rows, "rivet", phase).and_then(Row::ops_per_sec) else { continue };
        let best = rows
            .iter()
            .filter(|r| r.phase == *phase && !r.reference && !r.contender.starts_with("rivet"))
            .filter_map(|r| r.ops_per_sec().map(|o| (r.contender.as_str(), o)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((peer, po)) = best {
            println!("| {phase} | {} | {peer} | {} | {:.2}× |", fmt_rate(rv), fmt_rate(po), rv / po);
        }
    }

    // Targets.
    println!("\nTargets (issue 6), judged on this run:\n");
    // `at_least`: the figure must be >= `want` (a speed ratio); otherwise <= `want` (a cost ratio).
    let target = |what: &str, got: Option<(f64, String)>, want: f64, at_least: bool| match got {
        Some((x, detail)) => {
            let ok = if at_least { x >= want } else { x <= want };
            let op = if at_least { "≥" } else { "≤" };
            println!("- {} {what}: {x:.2}× (want {op} {want}×; {detail})", if ok { "MET   " } else { "MISSED" });
        }
        None => println!("- n/a    {what}: not measured in this run"),
    };
    let vs = |phase: &str, peer: &str| {
        ratio(rows, phase, "rivet", peer)
            .map(|(x, a, b)| (x, format!("rivet {}/s, {peer} {}/s", fmt_rate(a), fmt_rate(b))))
    };
    target("bulk_load, rivet ÷ LMDB", vs("bulk_load", "lmdb"), 1.0, true);
    target("bulk_load, rivet ÷ bbolt", vs("bulk_load", "bbolt"), 100.0, true);
    for p in ["random_reads", "random_reads_2t", "range_scans"] {
        target(&format!("{p}, rivet ÷ LMDB"), vs(p, "lmdb"), 1.0, true);
        target(&format!("{p}, rivet ÷ bbolt"), vs(p, "bbolt"), 1.5, true);
    }
    target("individual_writes, rivet ÷ LMDB", vs("individual_writes", "lmdb"), 1.0, true);
    let sync = ratio(rows, "individual_writes", "rivet", "fdatasync")
        .map(|(x, a, b)| (1.0 / x, format!("rivet {}/s, two fdatasyncs {}/s", fmt_rate(a), fmt_rate(b))));
    target("individual_writes, rivet's time ÷ two fdatasyncs' time", sync, 1.3, false);
    target("batch_writes, rivet ÷ LMDB", vs("batch_writes", "lmdb"), 2.0, true);
    target("removals, rivet ÷ LMDB", vs("removals", "lmdb"), 1.0, true);
    let size_of =
        |c: &str| sizes.iter().find(|(cc, g, _)| cc == c && g == "kv").and_then(|(_, _, m)| m.get("final").copied());
    let fs = match (size_of("rivet"), size_of("lmdb")) {
        (Some(r), Some(l)) => Some((
            r.0 as f64 / l.0 as f64,
            format!(
                "rivet {} apparent ({} allocated), lmdb {} ({})",
                fmt_bytes(r.0),
                fmt_bytes(r.1),
                fmt_bytes(l.0),
                fmt_bytes(l.1)
            ),
        )),
        _ => None,
    };
    target("final file size, rivet ÷ LMDB (apparent)", fs, 1.0, false);
    for p in TYPED_PHASES {
        // Both stores answer a count from a stored number, so there is no 3x to win there:
        // the target for counts is only not to lose.
        let want = if p == "typed_count" { 1.0 } else { 3.0 };
        target(&format!("{p}, rivet typed store ÷ native_db"), vs(p, "native_db"), want, true);
    }
    let ti = ratio(rows, "typed_insert", "rivet", "rivet-engine").map(|(x, a, b)| {
        (1.0 / x, format!("typed store {}/s, raw engine (same bytes) {}/s", fmt_rate(a), fmt_rate(b)))
    });
    target("typed_insert, typed store's time ÷ raw engine's time", ti, 2.0, false);
    let rate = |phase: &str| find(rows, "rivet", phase).and_then(Row::ops_per_sec);
    let aq = match (rate("typed_and_query"), rate("typed_filter_scan")) {
        (Some(a), Some(b)) => Some((
            a / b,
            format!("AND of two index equalities {}/s, scan with a filter {}/s", fmt_rate(a), fmt_rate(b)),
        )),
        _ => None,
    };
    target("typed_and_query ÷ typed_filter_scan (the same questions, queries/s)", aq, 10.0, true);

    println!("\nVersions:");
    for (k, v) in versions {
        println!("- {k}: {v}");
    }
    println!("\nMachine:");
    for (k, v) in machine {
        println!("- {k}: {v}");
    }
    println!("- load average (1, 5, 15 min) before: {load_before}; after: {load_after}");
    println!("- wall time of the whole benchmark: {:.0} s", elapsed.as_secs_f64());
    println!(
        "\nDurability: every commit is durable (fdatasync or fsync before it returns) — rivet, LMDB and bbolt \
         sync the data then the meta page (two syncs); redb and native_db use Durability::Immediate; jammdb \
         syncs once, after writing the meta page; sled has no durable commit, so each is followed by \
         Db::flush() (fsync); fjall commits a WriteBatch with PersistMode::SyncData. Sizes count the whole \
         database directory (LMDB's lock file, sled's and fjall's logs included)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), (1970, 1, 1));
        assert_eq!(civil_date(-1), (1969, 12, 31));
        assert_eq!(civil_date(11_016), (2000, 2, 29));
        assert_eq!(civil_date(19_782), (2024, 2, 29));
        assert_eq!(civil_date(20_454), (2026, 1, 1));
        assert_eq!(utc_date().len(), 10);
    }
}
