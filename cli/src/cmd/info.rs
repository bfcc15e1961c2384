//! `rivet info FILE [--json]`: page size, file size, high-water mark, txid, freelist and both
//! meta pages, read straight from the file (cheap on any size; works when a meta is damaged).

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::format::meta::{MAGIC, NO_FREELIST};
use rivet_engine::format::metas::{MetaProblem, MetaSlot};
use serde::Serialize;

use crate::cli::{Global, InfoArgs};
use crate::error::CliError;
use crate::format::ranges;
use crate::raw::RawFile;
use crate::w;

/// One meta page, for JSON.
#[derive(Debug, Serialize)]
struct MetaJson {
    page: u64,
    valid: bool,
    problem: Option<String>,
    txid: u64,
    root: u64,
    root_sequence: u64,
    /// `null` when no freelist is stored.
    freelist: Option<u64>,
    high_water_mark: u64,
    page_size: u32,
    checksum: u64,
    computed_checksum: u64,
}

/// The stored freelist, for JSON.
#[derive(Debug, Serialize)]
struct FreelistJson {
    synced: bool,
    page: Option<u64>,
    page_span: u64,
    count: u64,
    overflow_form: bool,
    ids: String,
    problem: Option<String>,
}

/// The whole answer, for JSON.
#[derive(Debug, Serialize)]
struct InfoJson {
    file: String,
    file_size: u64,
    page_size: u32,
    active_meta: u64,
    txid: u64,
    root: u64,
    high_water_mark: u64,
    truncated: Option<String>,
    freelist: FreelistJson,
    metas: Vec<MetaJson>,
}

fn meta_json(s: &MetaSlot) -> MetaJson {
    let m = &s.meta;
    MetaJson {
        page: s.page,
        valid: s.valid(),
        problem: s.problem.as_ref().map(ToString::to_string),
        txid: m.txid,
        root: m.root,
        root_sequence: m.root_sequence,
        freelist: (m.freelist != NO_FREELIST).then_some(m.freelist),
        high_water_mark: m.pgid,
        page_size: m.page_size,
        checksum: m.checksum,
        computed_checksum: match s.problem {
            // Nothing was read: no checksum to compute.
            Some(MetaProblem::Missing | MetaProblem::Undecodable { .. }) => 0,
            _ => m.compute_checksum(),
        },
    }
}

fn freelist_json(raw: &RawFile) -> FreelistJson {
    let synced = raw.meta().freelist != NO_FREELIST;
    match raw.freelist() {
        Ok(None) => FreelistJson {
            synced,
            page: None,
            page_span: 0,
            count: 0,
            overflow_form: false,
            ids: String::new(),
            problem: None,
        },
        Ok(Some(fl)) => {
            let mut ids = fl.ids.clone();
            ids.sort_unstable();
            FreelistJson {
                synced,
                page: Some(fl.page),
                page_span: fl.span,
                count: fl.ids.len() as u64,
                overflow_form: fl.long_form,
                ids: ranges(&ids),
                problem: None,
            }
        }
        Err(e) => FreelistJson {
            synced,
            page: Some(raw.meta().freelist),
            page_span: 0,
            count: 0,
            overflow_form: false,
            ids: String::new(),
            problem: Some(e),
        },
    }
}

fn meta_line(s: &MetaSlot) -> String {
    let m = &s.meta;
    let fields = format!(
        "txid {}, root {}, freelist {}, hwm {}",
        m.txid,
        m.root,
        if m.freelist == NO_FREELIST { "none".to_string() } else { m.freelist.to_string() },
        m.pgid
    );
    match &s.problem {
        None if m.checksum == 0 => format!("{fields}, checksum 0 (unchecked)"),
        None => format!("{fields}, checksum ok"),
        Some(p) if m.magic == MAGIC => format!("INVALID: {p} ({fields})"),
        Some(p) => format!("INVALID: {p}"),
    }
}

/// Runs `info`.
pub fn run(g: &Global, a: InfoArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let raw = crate::open::inspect(&a.file, g)?;
    let m = *raw.meta();
    let fl = freelist_json(&raw);
    let truncated = crate::open::truncation(&raw);
    if a.json {
        let info = InfoJson {
            file: a.file.display().to_string(),
            file_size: raw.len,
            page_size: raw.page_size,
            active_meta: raw.active as u64,
            txid: m.txid,
            root: m.root,
            high_water_mark: m.pgid,
            truncated,
            freelist: fl,
            metas: raw.metas.iter().map(meta_json).collect(),
        };
        let s = serde_json::to_string_pretty(&info).map_err(|e| CliError::usage(e.to_string()))?;
        w!(out, "{s}")?;
        return Ok(ExitCode::SUCCESS);
    }
    w!(out, "File:             {}", a.file.display())?;
    w!(out, "File size:        {} bytes ({} pages)", raw.len, raw.file_pages())?;
    w!(out, "Page size:        {}", raw.page_size)?;
    w!(out, "Active meta:      page {} (txid {})", raw.active, m.txid)?;
    w!(out, "High-water mark:  {} pages ({} bytes)", m.pgid, m.pgid.saturating_mul(raw.ps()))?;
    w!(out, "Root page:        {}", m.root)?;
    let fl_line = match (&fl.problem, fl.page) {
        (Some(p), _) => format!("UNREADABLE: {p}"),
        (None, None) => "not stored (NoFreelistSync): free pages are found by walking the tree".to_string(),
        (None, Some(page)) => format!(
            "page {page} ({} page{}), {} free page ids{}",
            fl.page_span,
            if fl.page_span == 1 { "" } else { "s" },
            fl.count,
            if fl.overflow_form { " (count overflow form)" } else { "" }
        ),
    };
    w!(out, "Freelist:         {fl_line}")?;
    for s in &raw.metas {
        w!(out, "Meta page {}:      {}", s.page, meta_line(s))?;
    }
    if let Some(t) = truncated {
        w!(out, "WARNING:          {t}")?;
    }
    Ok(ExitCode::SUCCESS)
}
