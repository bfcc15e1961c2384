//! `rivet check FILE [--from-page PGID] [--json]`: the consistency check. Prints every problem
//! found (one line each, `page N: ...` when a page is to blame) and exits 1 if there is any.
//!
//! The check is the engine's, on the engine's page walker (`rivet_engine::tree::check`: every
//! page reachable once or free, never both; page types and ids; key order; branch keys; inline
//! buckets). Normally through `Tx::check` on the opened database; when the engine cannot open
//! the file (it is truncated, say) the same walk reads the file page by page ("raw walk") and
//! names the missing pages; `--from-page` walks one subtree that way. A damaged meta page that
//! the file can do without is a warning: readers fall back to the other one.
//!
//! On a file whose pages are sound and that holds a typed store (a `__rivet_catalog` bucket),
//! the indexes of every record type the catalog lists are checked too, by the catalog alone
//! (`rivet::stored::audit_stored`): every record has its index entries and every entry names a
//! record holding its value. What only the program can judge (records of older versions, a
//! codec or key kind of the program's own) is a warning that says so.

use std::io::Write;
use std::process::ExitCode;

use rivet::catalog::{Entry, CATALOG_BUCKET};
use rivet::stored::{audit_stored, StoredType};
use rivet_engine::tree::check::Report;
use rivet_engine::tree::walk::{walk, Role, Scope, Visitor};
use rivet_engine::{PageId, Problem};
use serde::Serialize;

use crate::cli::{CheckArgs, Global};
use crate::error::CliError;
use crate::format::{show, Format};
use crate::progress::Progress;
use crate::raw::RawFile;
use crate::w;

/// The result, for JSON.
#[derive(Debug, Serialize)]
struct CheckJson {
    file: String,
    ok: bool,
    txid: u64,
    active_meta: u64,
    from_page: Option<u64>,
    checked_by: &'static str,
    record_types: usize,
    warnings: Vec<String>,
    problems: Vec<String>,
}

/// The engine's check, counting pages on a progress bar as the walk reaches them.
struct Checking<'p> {
    report: Report,
    progress: &'p Progress,
}

impl Visitor for Checking<'_> {
    fn page(&mut self, _: PageId, _: Role) {
        self.progress.inc(1);
    }

    fn problem(&mut self, p: Problem) -> rivet_engine::Result<()> {
        self.report.problem(p)
    }
}

/// The check of `scope` of the file read page by page, with a progress bar saying `what`.
pub fn raw_check(raw: &RawFile, g: &Global, scope: Scope<'_>, what: &str) -> Result<Report, CliError> {
    let progress = Progress::bar(g.quiet, raw.hwm(), what, "pages");
    let mut v = Checking { report: Report::default(), progress: &progress };
    let r = walk(&raw.pages, raw.meta(), scope, &mut v);
    progress.finish();
    r.map_err(|e| CliError::engine(&raw.path, e, g.lock_timeout()))?;
    Ok(v.report)
}

/// Problems and warnings of a raw walk (whole file, or the subtree under `from`), as lines.
fn raw_walk(raw: &RawFile, g: &Global, from: Option<u64>) -> Result<(Vec<String>, Vec<String>), CliError> {
    let scope = from.map_or(Scope::File, Scope::From);
    let r = raw_check(raw, g, scope, "checking")?;
    let lines = |ps: Vec<Problem>| ps.iter().map(ToString::to_string).collect();
    Ok((lines(r.problems), lines(r.warnings)))
}

/// What the typed audit found.
#[derive(Debug, Default)]
struct Typed {
    /// Record types audited.
    types: usize,
    problems: Vec<String>,
    warnings: Vec<String>,
}

/// Audits the indexes of every record type the typed store's catalog lists (if the file has
/// one), by the catalog alone: [`rivet::stored::audit_stored`].
fn typed_audit(tx: &rivet_engine::Tx<'_>) -> Result<Typed, rivet::Error> {
    let mut out = Typed::default();
    let catalog = match tx.bucket(CATALOG_BUCKET) {
        Ok(c) => c,
        Err(rivet_engine::Error::BucketNotFound) => return Ok(out),
        Err(rivet_engine::Error::IncompatibleValue { .. }) => {
            out.problems.push("__rivet_catalog is a key holding a value, not a bucket".into());
            return Ok(out);
        }
        Err(e) => return Err(e.into()),
    };
    for item in catalog.iter() {
        let (k, v) = item?;
        let name = show(k, Format::Auto);
        let Some(v) = v else {
            out.problems.push(format!("catalog: {name} is a nested bucket, not an entry"));
            continue;
        };
        let entry = match Entry::parse(v) {
            Ok(e) => e,
            Err(e) => {
                out.problems.push(format!("catalog: the entry of bucket {name} does not parse: {e}"));
                continue;
            }
        };
        out.types += 1;
        let about = if entry.type_name.as_bytes() == k {
            format!("record type {}", entry.type_name)
        } else {
            format!("record type {} (bucket {name})", entry.type_name)
        };
        if !tx.root().has_bucket(k)? {
            out.problems.push(format!("{about}: the catalog lists its bucket, which the file does not have"));
            continue;
        }
        match audit_stored(tx, &StoredType::new(k.to_vec(), entry)) {
            Ok(audit) => {
                out.problems.extend(audit.problems.iter().map(|p| format!("{about}: {p}")));
                out.warnings.extend(audit.unverified.iter().map(|u| format!("{about}: {u}")));
            }
            // One type's failure does not hide what the others' audits found.
            Err(e) => out.problems.push(format!("{about}: cannot be checked: {e}")),
        }
    }
    Ok(out)
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
    let mut record_types = 0usize;
    let checked_by;
    if let Some(from) = a.from_page {
        checked_by = "raw walk";
        let (p, w) = raw_walk(&raw, g, Some(from))?;
        problems.extend(p);
        warnings.extend(w);
    } else if let Some(t) = crate::open::truncation(&raw) {
        checked_by = "raw walk";
        problems.push(t);
        let (p, w) = raw_walk(&raw, g, None)?;
        problems.extend(p);
        warnings.extend(w);
    } else {
        let engine_result = crate::open::engine(&raw, g).and_then(|db| {
            let progress = Progress::spinner(g.quiet, "checking");
            let r = db.begin(false).and_then(|tx| {
                let pages = tx.check()?;
                // The typed store's indexes, on a file whose pages are sound.
                let typed = if pages.is_empty() { typed_audit(&tx) } else { Ok(Typed::default()) };
                Ok((pages, typed))
            });
            progress.finish();
            r.map_err(|e| CliError::engine(&a.file, e, g.lock_timeout()))
        });
        match engine_result {
            Ok((p, typed)) => {
                checked_by = "engine";
                problems.extend(p.iter().map(ToString::to_string));
                match typed {
                    Ok(t) => {
                        problems.extend(t.problems);
                        warnings.extend(t.warnings);
                        record_types = t.types;
                    }
                    Err(e) => problems.push(format!("typed records: {e}")),
                }
            }
            Err(e) => {
                // The engine gave up on the file: say why, and let the raw walk say where.
                checked_by = "raw walk";
                problems.push(e.message().to_string());
                let (p, w) = raw_walk(&raw, g, None)?;
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
            record_types,
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
        let mut scope = match a.from_page {
            Some(p) => format!("the tree under page {p}"),
            None => format!("{} pages", raw.hwm()),
        };
        if record_types > 0 {
            scope.push_str(&format!(" and the indexes of {}", crate::format::count(record_types, "record type")));
        }
        if ok {
            w!(out, "OK: no problems found ({scope}, txid {}, meta page {})", raw.meta().txid, raw.active)?;
        } else {
            let n = crate::format::count(problems.len(), "problem");
            w!(out, "FAIL: {n} found ({scope}, txid {}, meta page {})", raw.meta().txid, raw.active)?;
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
