//! `rivet page-item FILE PAGE ITEM [--key-only|--value-only] [--format F]`: the key and value
//! of one element of a branch or leaf page (bbolt's `page-item`), in full.

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::format::page::NodeView;

use crate::cli::{Global, PageItemArgs};
use crate::error::CliError;
use crate::format::{show, write_bytes};
use crate::w;

/// Runs `page-item`.
pub fn run(g: &Global, a: PageItemArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let raw = crate::open::inspect(&a.file, g)?;
    let file = a.file.as_path();
    let bytes = raw.page(a.page).map_err(|e| CliError::file(file, e))?;
    let node = NodeView::new(&bytes, a.page)
        .map_err(|e| CliError::file(file, format!("page {}: not a branch or leaf page ({e})", a.page)))?;
    if a.item >= node.len() {
        return Err(CliError::file(file, format!("page {}: no item {} (it has {})", a.page, a.item, node.len())));
    }
    let damaged = |e| CliError::file(file, format!("page {}: item {}: {e}", a.page, a.item));
    if node.leaf {
        let e = node.leaf_elem(a.item).map_err(damaged)?;
        if a.key_only {
            return write_bytes(out, e.key, a.format, true).map(|()| ExitCode::SUCCESS);
        }
        if a.value_only {
            return write_bytes(out, e.value, a.format, true).map(|()| ExitCode::SUCCESS);
        }
        w!(out, "Key:   {}", show(e.key, a.format))?;
        w!(out, "Value: {}", crate::cmd::page::describe_value(e.flags, e.value, a.format, true))?;
    } else {
        let e = node.branch_elem(a.item).map_err(damaged)?;
        if a.key_only {
            return write_bytes(out, e.key, a.format, true).map(|()| ExitCode::SUCCESS);
        }
        if a.value_only {
            w!(out, "{}", e.pgid)?;
            return Ok(ExitCode::SUCCESS);
        }
        w!(out, "Key:   {}", show(e.key, a.format))?;
        w!(out, "Child: page {}", e.pgid)?;
    }
    Ok(ExitCode::SUCCESS)
}
