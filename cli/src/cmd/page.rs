//! `rivet page FILE ID... [--format F] [--hexdump] [--full]`: decodes pages: the header, then
//! the meta fields, the freelist ids, or the branch/leaf elements (sub-bucket headers and
//! inline buckets spelled out). Reads raw pages, so damaged pages can be looked at too.

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::format::bucket::{decode_bucket, DiskRoot};
use rivet_engine::format::freelist::Freelist;
use rivet_engine::format::meta::{Meta, NO_FREELIST};
use rivet_engine::format::page::{NodeView, BRANCH_FLAG, FREELIST_FLAG, LEAF_FLAG, META_FLAG};
use rivet_engine::PageId;

use crate::cli::{Global, PageArgs};
use crate::error::CliError;
use crate::format::{ranges, show, show_short, Format};
use crate::raw::RawFile;
use crate::w;

/// Longest key or value shown in full without `--full`.
const SHORT: usize = 64;

/// Describes a leaf value: plain, or a sub-bucket header (with its inline page).
pub fn describe_value(flags: u32, value: &[u8], f: Format, full: bool) -> String {
    let shown = |b: &[u8]| if full { show(b, f) } else { show_short(b, f, SHORT) };
    if flags & rivet_engine::format::page::BUCKET_LEAF_FLAG == 0 {
        return shown(value);
    }
    let Ok(b) = decode_bucket(value, 0) else {
        return format!("<bucket header of {} bytes: damaged>", value.len());
    };
    let seq = b.sequence;
    match b.root {
        DiskRoot::Paged(root) => format!("<bucket: root page {root}, sequence {seq}>"),
        DiskRoot::Inline(image) => match NodeView::new(image, 0) {
            Ok(n) => format!("<inline bucket: sequence {seq}, {} items, {} bytes>", n.len(), image.len()),
            Err(e) => format!("<inline bucket: sequence {seq}, damaged page image: {e}>"),
        },
    }
}

fn hexdump(out: &mut dyn Write, bytes: &[u8]) -> Result<(), CliError> {
    for (i, line) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = line.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
        w!(out, "  {:08x}  {:<47}  |{}|", i * 16, hex.join(" "), ascii)?;
    }
    Ok(())
}

fn meta(out: &mut dyn Write, raw: &RawFile, id: PageId, bytes: &[u8]) -> Result<(), CliError> {
    let m = match Meta::decode(bytes, id) {
        Ok(m) => m,
        Err(e) => return w!(out, "  cannot decode: {e}"),
    };
    let slot = &raw.metas[id as usize];
    w!(out, "  magic:           {:#010x}", m.magic)?;
    w!(out, "  version:         {}", m.version)?;
    w!(out, "  page size:       {}", m.page_size)?;
    w!(out, "  flags:           {:#x}", m.flags)?;
    w!(out, "  root:            page {} (sequence {})", m.root, m.root_sequence)?;
    if m.freelist == NO_FREELIST {
        w!(out, "  freelist:        none (0xffffffffffffffff)")?;
    } else {
        w!(out, "  freelist:        page {}", m.freelist)?;
    }
    w!(out, "  high-water mark: {}", m.pgid)?;
    w!(out, "  txid:            {}", m.txid)?;
    w!(out, "  checksum:        {:#018x} (computed {:#018x})", m.checksum, m.compute_checksum())?;
    match &slot.problem {
        None if raw.active as u64 == id => w!(out, "  status:          valid, active"),
        None => w!(out, "  status:          valid, previous transaction"),
        Some(p) => w!(out, "  status:          INVALID: {p}"),
    }
}

fn node(out: &mut dyn Write, id: PageId, bytes: &[u8], f: Format, full: bool) -> Result<(), CliError> {
    let n = match NodeView::new(bytes, id) {
        Ok(n) => n,
        Err(e) => return w!(out, "  cannot decode: {e}"),
    };
    let shown = |b: &[u8]| if full { show(b, f) } else { show_short(b, f, SHORT) };
    for i in 0..n.len() {
        if n.leaf {
            match n.leaf_elem(i) {
                Ok(e) => {
                    w!(out, "  [{i}] {} = {}", shown(e.key), describe_value(e.flags, e.value, f, full))?;
                    if e.is_bucket() {
                        inline_items(out, e.value, f, full)?;
                    }
                }
                Err(e) => return w!(out, "  [{i}] DAMAGED: {e}"),
            }
        } else {
            match n.branch_elem(i) {
                Ok(e) => w!(out, "  [{i}] {} -> page {}", shown(e.key), e.pgid)?,
                Err(e) => return w!(out, "  [{i}] DAMAGED: {e}"),
            }
        }
    }
    Ok(())
}

/// Lists the elements of an inline bucket stored in a leaf value (nothing for a paged bucket).
fn inline_items(out: &mut dyn Write, value: &[u8], f: Format, full: bool) -> Result<(), CliError> {
    let Ok(DiskRoot::Inline(image)) = decode_bucket(value, 0).map(|b| b.root) else { return Ok(()) };
    let Ok(n) = NodeView::new(image, 0) else { return Ok(()) };
    let shown = |b: &[u8]| if full { show(b, f) } else { show_short(b, f, SHORT) };
    for j in 0..n.len() {
        match n.leaf_elem(j) {
            Ok(e) => w!(out, "        [{j}] {} = {}", shown(e.key), describe_value(e.flags, e.value, f, full))?,
            Err(e) => return w!(out, "        [{j}] DAMAGED: {e}"),
        }
    }
    Ok(())
}

/// Runs `page`.
pub fn run(g: &Global, a: PageArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let raw = crate::open::inspect(&a.file, g)?;
    let free: Vec<PageId> = raw.freelist().ok().flatten().map(|fl| fl.ids).unwrap_or_default();
    for (n, &id) in a.ids.iter().enumerate() {
        let h = raw.header(id).map_err(|e| CliError::file(&a.file, e))?;
        if n > 0 {
            w!(out)?;
        }
        let mut notes = Vec::new();
        if h.id != id && id >= 2 {
            notes.push(format!("the header says page {}", h.id));
        }
        if id >= raw.hwm() {
            notes.push(format!("at or above the high-water mark {}: never allocated", raw.hwm()));
        }
        if free.contains(&id) {
            notes.push("on the freelist".to_string());
        }
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
        // A header that names another page is not the start of a page: an overflow
        // continuation, a free page or garbage. Show its bytes, decode nothing.
        let plausible = id < 2 || h.id == id;
        let known = plausible && h.flags & (BRANCH_FLAG | LEAF_FLAG | META_FLAG | FREELIST_FLAG) != 0;
        let span = if known { 1 + u64::from(h.overflow) } else { 1 };
        if !plausible {
            w!(out, "Page {id}: not the start of a page{notes}: an overflow continuation, a free page or garbage")?;
        } else {
            w!(
                out,
                "Page {id}: {}, {} items, {} overflow pages, {} bytes{notes}",
                h.type_name(),
                h.count,
                h.overflow,
                span * raw.ps()
            )?;
        }
        let bytes = if known && id >= 2 { raw.page(id) } else { raw.single_page(id) };
        let bytes = match bytes {
            Ok(b) => b,
            Err(e) => {
                w!(out, "  cannot read the whole page: {e}")?;
                raw.single_page(id).map_err(|e| CliError::file(&a.file, e))?
            }
        };
        if !known {
            if plausible {
                w!(out, "  no known page type (flags {:#06x}): a free page or garbage", h.flags)?;
            }
        } else if id < 2 && h.flags & META_FLAG != 0 {
            meta(out, &raw, id, &bytes)?;
        } else if h.flags & FREELIST_FLAG != 0 {
            match Freelist::decode_ids(&bytes, id) {
                Ok(mut ids) => {
                    let n = ids.len();
                    ids.sort_unstable();
                    let form = if h.count == 0xFFFF { " (count overflow form)" } else { "" };
                    w!(out, "  {n} free page ids{form}: {}", ranges(&ids))?;
                }
                Err(e) => w!(out, "  cannot decode: {e}")?,
            }
        } else {
            node(out, id, &bytes, a.format, a.full)?;
        }
        if a.hexdump {
            hexdump(out, &bytes)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
