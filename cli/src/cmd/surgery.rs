//! `rivet surgery ...`: the repairs bbolt operators reach for after a crash. Each works on a
//! copy (`-o DST`, default `FILE.repaired`, never overwritten) unless `--in-place` is given,
//! in which case it takes the exclusive lock on FILE first. Each says what it did.
//!
//! - `revert-meta-page`: rewrites the active (newest) meta page with the fields of the other
//!   one and a fresh checksum, so that both describe the previous transaction. Pages written by
//!   the lost transaction were free in the previous one, so the result is consistent.
//! - `freelist abandon`: sets the active meta's freelist field to `0xFFFFFFFFFFFFFFFF` ("none
//!   stored") with a fresh checksum; the next read-write open (Go's or Rivet's) finds the free
//!   pages by walking the tree and stores a new list.
//! - `freelist rebuild`: checks that the trees are intact (a freelist rebuilt from damaged
//!   trees would hand live pages out), abandons the freelist, then opens the file read-write
//!   with the engine, which rebuilds the list and commits it at once (the txid advances by one).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rivet_engine::format::meta::NO_FREELIST;
use rivet_engine::tree::walk::Scope;
use rivet_engine::{Options, DB};

use crate::cli::{FreelistCommand, Global, SurgeryCommand, SurgeryTarget};
use crate::error::CliError;
use crate::lock::LockMode;
use crate::raw::RawFile;
use crate::w;

/// The file being repaired: FILE itself, or the copy made for the repair.
struct Target {
    raw: RawFile,
    /// Set when the repair works on a copy (removed again if the repair fails).
    copy: Option<PathBuf>,
}

impl Target {
    fn path(&self) -> PathBuf {
        self.raw.path.clone()
    }

    /// Ends a failed repair: removes the copy, passes the error on.
    fn fail(self, e: CliError) -> CliError {
        if let Some(c) = self.copy {
            drop(self.raw);
            let _ = std::fs::remove_file(c);
        }
        e
    }

    fn done(&self) -> String {
        match &self.copy {
            Some(c) => format!("wrote the repaired copy {}", c.display()),
            None => format!("modified {} in place", self.raw.path.display()),
        }
    }
}

fn default_output(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".repaired");
    PathBuf::from(s)
}

/// Opens FILE for the repair: in place under the exclusive lock, or as a fresh copy taken
/// under the shared lock.
fn target(g: &Global, t: &SurgeryTarget) -> Result<Target, CliError> {
    if t.in_place {
        // Root can write anything: honour the permission bits anyway, they say "keep".
        let md = std::fs::metadata(&t.file).map_err(|e| CliError::io(&t.file, "stat", &e))?;
        if md.permissions().readonly() {
            return Err(CliError::file(
                &t.file,
                "the file is read-only (no write permission bits): refusing to modify it in place (make it writable \
                 first, or repair a copy with -o)",
            ));
        }
        let raw = RawFile::open(&t.file, Some(LockMode::Exclusive), g.lock_timeout(), true)?;
        return Ok(Target { raw, copy: None });
    }
    let src = crate::open::inspect(&t.file, g)?;
    let dst = t.output.clone().unwrap_or_else(|| default_output(&t.file));
    let mut f =
        OpenOptions::new().write(true).create_new(true).open(&dst).map_err(|e| CliError::io(&dst, "create", &e))?;
    let copied = std::io::copy(&mut src.file(), &mut f).and_then(|_| f.sync_all());
    drop(f);
    drop(src);
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&dst);
        return Err(CliError::io(&dst, "copy", &e));
    }
    match RawFile::open(&dst, Some(LockMode::Exclusive), g.lock_timeout(), true) {
        Ok(raw) => Ok(Target { raw, copy: Some(dst) }),
        Err(e) => {
            let _ = std::fs::remove_file(&dst);
            Err(e)
        }
    }
}

/// Runs `surgery`.
pub fn run(g: &Global, c: SurgeryCommand, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    match c {
        SurgeryCommand::RevertMetaPage(t) => revert(g, &t, out),
        SurgeryCommand::Freelist(FreelistCommand::Abandon(t)) => abandon(g, &t, out),
        SurgeryCommand::Freelist(FreelistCommand::Rebuild(t)) => rebuild(g, &t, out),
    }
}

fn revert(g: &Global, t: &SurgeryTarget, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let tg = target(g, t)?;
    let (a, o) = (tg.raw.active, 1 - tg.raw.active);
    if let Some(p) = tg.raw.metas[o].problem.clone() {
        let e = CliError::file(
            &t.file,
            format!(
                "meta page {o} is damaged ({p}): there is no previous transaction to revert to; nothing was changed"
            ),
        );
        return Err(tg.fail(e));
    }
    let cur = tg.raw.metas[a].meta;
    let prev = tg.raw.metas[o].meta;
    if let Err(e) = tg.raw.write_meta(a as u64, &prev) {
        return Err(tg.fail(e));
    }
    w!(
        out,
        "reverted meta page {a} from txid {} to txid {} (root {}, high-water mark {}): transaction {} is undone; {}",
        cur.txid,
        prev.txid,
        prev.root,
        prev.pgid,
        cur.txid,
        tg.done()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Clears the freelist field of the active meta; returns the old freelist page, if any.
fn clear_freelist(raw: &RawFile) -> Result<Option<u64>, CliError> {
    let mut m = *raw.meta();
    if m.freelist == NO_FREELIST {
        return Ok(None);
    }
    let old = m.freelist;
    m.freelist = NO_FREELIST;
    raw.write_meta(raw.active as u64, &m)?;
    Ok(Some(old))
}

fn abandon(g: &Global, t: &SurgeryTarget, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let tg = target(g, t)?;
    let (active, txid) = (tg.raw.active, tg.raw.meta().txid);
    match clear_freelist(&tg.raw) {
        Ok(Some(old)) => w!(
            out,
            "abandoned the freelist of meta page {active} (txid {txid}; it was page {old}): the next read-write \
             open finds the free pages by walking the tree; {}",
            tg.done()
        )?,
        Ok(None) => {
            w!(out, "meta page {active} (txid {txid}) already stores no freelist: nothing to do; {}", tg.done())?
        }
        Err(e) => return Err(tg.fail(e)),
    }
    Ok(ExitCode::SUCCESS)
}

fn rebuild(g: &Global, t: &SurgeryTarget, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let tg = target(g, t)?;
    if let Some(msg) = crate::open::truncation(&tg.raw) {
        return Err(
            tg.fail(CliError::file(&t.file, format!("{msg}: cannot rebuild the freelist; nothing was changed")))
        );
    }
    let problems = match crate::cmd::check::raw_check(&tg.raw, g, Scope::Trees, "walking the trees") {
        Ok(report) => report.problems,
        Err(e) => return Err(tg.fail(e)),
    };
    if let Some(first) = problems.first() {
        let e = CliError::file(
            &t.file,
            format!(
                "the bucket trees are damaged ({}, the first: {first}); a freelist rebuilt from them would be \
                 wrong; nothing was changed (try `rivet surgery revert-meta-page`)",
                crate::format::count(problems.len(), "problem")
            ),
        );
        return Err(tg.fail(e));
    }
    let old = match clear_freelist(&tg.raw) {
        Ok(old) => old,
        Err(e) => return Err(tg.fail(e)),
    };
    let path = tg.path();
    let done = tg.done();
    let Target { raw, copy } = tg;
    // Release our lock: the engine takes its own exclusive lock on the file.
    drop(raw);
    let opts = Options::default().timeout(g.lock_timeout());
    let info = DB::open(&path, opts).map(|db| db.info()).map_err(|e| {
        let e = CliError::engine(&path, e, g.lock_timeout());
        CliError::file(&path, format!("rebuilding the freelist failed: {} (the freelist is abandoned)", e.message()))
    });
    let info = match info {
        Ok(i) => i,
        Err(e) => {
            if let Some(c) = copy {
                let _ = std::fs::remove_file(c);
            }
            return Err(e);
        }
    };
    let free = RawFile::open(&path, Some(LockMode::Shared), g.lock_timeout(), false)?
        .freelist()
        .map(|fl| fl.map_or(0, |fl| fl.ids.len()))
        .map_err(|e| CliError::file(&path, e))?;
    let was = match old {
        Some(p) => format!("the old list at page {p} was dropped"),
        None => "no list was stored before".to_string(),
    };
    w!(
        out,
        "rebuilt the freelist by walking the tree ({was}): {free} free pages, committed as txid {} with the list at \
         page {}; {done}",
        info.meta.txid,
        info.meta.freelist
    )?;
    Ok(ExitCode::SUCCESS)
}
