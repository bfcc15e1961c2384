//! `rivet check FILE [--from-page PGID] [--json]`: the consistency check. Prints every problem
//! found (one line each, `page N: ...` when a page is to blame) and exits 1 if there is any.
//!
//! The whole-file check is the engine's (`Tx::check`: every page reachable once or free, never
//! both; page types and ids; key order; branch keys; inline buckets). When the engine cannot
//! open the file (it is truncated, say) the raw walk of [`crate::walk`] checks it instead and
//! names the missing pages; `--from-page` uses the raw walk on one subtree. A damaged meta page
//! that the file can do without is a warning: readers fall back to the other one.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{CheckArgs, Global};
use crate::error::CliError;
use crate::progress::Progress;
use crate::raw::RawFile;
use crate::w;
use crate::walk::Walk;

/// The result, for JSON.
#[derive(Debug, Serialize)]
struct CheckJson {
    file: String,
    ok: bool,
    txid: u64,
    active_meta: u64,
    from_page: Option<u64>,
    checked_by: &'static str,
    warnings: Vec<String>,
    problems: Vec<String>,
}

/// Problems and warnings of a raw walk (whole file, or the subtree under `from`).
fn raw_walk(raw: &RawFile, g: &Global, from: Option<u64>) -> (Vec<String>, Vec<String>) {
    let progress = Progress::bar(g.quiet, raw.hwm(), "checking", "pages");
    let mut walk = Walk::new(raw, &progress);
    match from {
        Some(p) => walk.run_from(p),
        None => walk.run(),
    }
    progress.finish();
    (walk.problems, walk.warnings)
}

/// Runs `check`.
pub fn run(g: &Global, a: CheckArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let raw = crate::open::inspect(&a.file, g)?;
    let mut warnings: Vec<String> = Vec::new();
    for s in &raw.metas {
        if let Some(p) = &s.problem {
            warnings.push(format!(
                "meta page {}: {p}; ignored: the file is read at txid {} from meta page {}",
                s.page,
                raw.meta().txid,
                raw.active
            ));
        }
    }
    let mut problems = Vec::new();
    let checked_by;
    if let Some(from) = a.from_page {
        checked_by = "raw walk";
        let (p, w) = raw_walk(&raw, g, Some(from));
        problems.extend(p);
        warnings.extend(w);
    } else if let Some(t) = crate::open::truncation(&raw) {
        checked_by = "raw walk";
        problems.push(t);
        let (p, w) = raw_walk(&raw, g, None);
        problems.extend(p);
        warnings.extend(w);
    } else {
        let engine_result = crate::open::engine(&raw, g).and_then(|db| {
            let progress = Progress::spinner(g.quiet, "checking");
            let r = db.begin(false).and_then(|tx| tx.check());
            progress.finish();
            r.map_err(|e| CliError::engine(&a.file, e, g.lock_timeout()))
        });
        match engine_result {
            Ok(p) => {
                checked_by = "engine";
                problems.extend(p);
            }
            Err(e) => {
                // The engine gave up on the file: say why, and let the raw walk say where.
                checked_by = "raw walk";
                problems.push(e.message().to_string());
                let (p, w) = raw_walk(&raw, g, None);
                problems.extend(p);
                warnings.extend(w);
            }
        }
    }
    let ok = problems.is_empty();
    if a.json {
        let j = CheckJson {
            file: a.file.display().to_string(),
            ok,
            txid: raw.meta().txid,
            active_meta: raw.active as u64,
            from_page: a.from_page,
            checked_by,
            warnings,
            problems,
        };
        let s = serde_json::to_string_pretty(&j).map_err(|e| CliError::usage(e.to_string()))?;
        w!(out, "{s}")?;
    } else {
        for wn in &warnings {
            w!(out, "warning: {wn}")?;
        }
        for p in &problems {
            w!(out, "{p}")?;
        }
        let scope = match a.from_page {
            Some(p) => format!("the tree under page {p}"),
            None => format!("{} pages", raw.hwm()),
        };
        if ok {
            w!(out, "OK: no problems found ({scope}, txid {}, meta page {})", raw.meta().txid, raw.active)?;
        } else {
            let n = crate::format::count(problems.len(), "problem");
            w!(out, "FAIL: {n} found ({scope}, txid {}, meta page {})", raw.meta().txid, raw.active)?;
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
