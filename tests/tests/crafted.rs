//! Crafted files (issue 18): every case of the crafted corpus (`rivet_tests::craft::corpus`)
//! through every `rivet` command and every engine operation, each in a child process under
//! limits: 8 MiB of stack for the command's main thread, a 256 KiB thread for engine
//! operations, 1 GiB of heap, 20 s, output and disk writes linear in the bytes the file stores.
//!
//! A run is clean when it succeeds, or fails with one line on stderr and exit code 1 or 2: no
//! panic, no signal, no hang. Beyond that:
//! - a sound case (and any case the engine's check finds nothing wrong with) must succeed
//!   everywhere, and its reads must agree with each other;
//! - `rivet check` must agree with the engine's check, `rivet dump --json` print the engine's
//!   dump, and a compaction that succeeds must hold the same content as its source;
//! - a write must fail naming damage, or leave the file with no new kind of problem and the
//!   data it committed readable.
//!
//! `RIVET_CRAFTED=dag_buckets,tree_65` runs only those cases; `RIVET_CRAFTED_KEEP=DIR` keeps
//! the files (`DIR/CASE/CASE.db`) to run a command on by hand; `RIVET_BIN` names the `rivet`
//! binary (by default `cargo build -p rivet-cli` builds it in this test's target directory and
//! profile). Engine operations run in `crafted_op` (tests/src/bin/crafted_op.rs).

#[path = "crafted/run.rs"]
mod run;

use std::path::Path;
use std::sync::{Mutex, RwLock};

use rivet_tests::craft::corpus::{self, Case};
use rivet_tests::scratch;
use run::{check_kinds, dump_line, Context, OPS};

/// One judged run.
struct Report {
    case: &'static str,
    op: &'static str,
    verdict: run::Verdict,
    secs: f64,
}

/// Runs every operation on one case: the engine's check and dump first (their
/// results are the context for the rest).
fn run_case(case: &Case, dir: &Path) -> Vec<Report> {
    std::fs::create_dir_all(dir).expect("case dir");
    let file = dir.join(format!("{}.db", case.name));
    case.image.write(&file).expect("write case");
    let (len, stored) = (case.image.len(), case.image.stored());
    eprintln!("case {}: {} ({len} bytes, {stored} stored)", case.name, case.what);
    let mut cx = Context::default();
    let mut reports = Vec::new();
    for (i, op) in OPS.iter().enumerate() {
        let (verdict, outcome) = run::run(case, op, &file, &dir.join(format!("op{i}")), &cx);
        match i {
            0 => cx.kinds = check_kinds(&outcome),
            1 => cx.dump = dump_line(&outcome),
            _ => {}
        }
        let secs = outcome.elapsed.as_secs_f64();
        reports.push(Report { case: case.name, op: op.name, verdict, secs });
    }
    reports
}

/// The cases to run: all, or those `RIVET_CRAFTED` names (comma-separated).
fn case_names() -> Vec<&'static str> {
    let only = std::env::var("RIVET_CRAFTED").unwrap_or_default();
    let only: Vec<&str> = only.split(',').filter(|s| !s.is_empty()).collect();
    corpus::names().into_iter().filter(|n| only.is_empty() || only.contains(n)).collect()
}

/// Runs every case on `workers` threads; prints every verdict. The files
/// go to a scratch directory, or stay in `RIVET_CRAFTED_KEEP` if set (to run a command on one
/// by hand).
fn run_all(workers: usize) -> Vec<Report> {
    let tmp = scratch();
    let keep = std::env::var_os("RIVET_CRAFTED_KEEP").map(std::path::PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let names = case_names();
    let next = Mutex::new(0usize);
    let gate = RwLock::new(());
    let reports = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().unwrap();
                    *n += 1;
                    *n - 1
                };
                let Some(name) = names.get(i) else { break };
                let case = corpus::case(name).expect("case");
                let case_dir = dir.join(name);
                // Cases of more than 1 GiB apparent size may need the whole memory allowance
                // of a child: they run alone.
                let r = if case.image.len() > 1 << 30 {
                    let _alone = gate.write().unwrap();
                    run_case(&case, &case_dir)
                } else {
                    let _shared = gate.read().unwrap();
                    run_case(&case, &case_dir)
                };
                if keep.is_none() {
                    let _ = std::fs::remove_dir_all(&case_dir);
                }
                for rep in &r {
                    let (mark, text) = match &rep.verdict {
                        Ok(s) => ("ok  ", s),
                        Err(e) => ("FAIL", e),
                    };
                    eprintln!("{mark} {:<18} {:<22} {:>5.2}s  {text}", rep.case, rep.op, rep.secs);
                }
                reports.lock().unwrap().extend(r);
            });
        }
    });
    reports.into_inner().unwrap()
}

/// Every case through every operation.
#[test]
fn crafted_files_are_handled_cleanly() {
    let started = std::time::Instant::now();
    let reports = run_all(2);
    let failures: Vec<String> = reports
        .iter()
        .filter_map(|r| r.verdict.as_ref().err().map(|e| format!("{} / {}: {e}", r.case, r.op)))
        .collect();
    eprintln!("{} runs in {:.0}s, {} failures", reports.len(), started.elapsed().as_secs_f64(), failures.len());
    assert_eq!(reports.len(), case_names().len() * OPS.len(), "every pair ran");
    assert!(failures.is_empty(), "{} crafted-file runs failed:\n{}", failures.len(), failures.join("\n"));
}
