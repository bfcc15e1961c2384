//! Direct reads of a database file: both meta pages (valid or not), page headers, pages with
//! their overflow, and the stored freelist, by `pread` (format doc sections 2-8).
//!
//! This is what lets the command describe files the engine refuses to open (a damaged meta, a
//! truncated file) and patch meta pages in `surgery`. The rules are the engine's and Go's: a
//! meta is valid when its magic, version and checksum (0 = unchecked) are right; the active
//! meta is the valid one with the higher txid; the page size comes from meta 0, or, if meta 0
//! is damaged, from the first plausible page size at which a valid meta 1 is found.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rivet_engine::format::freelist::Freelist;
use rivet_engine::format::meta::{Meta, MAGIC, NO_FREELIST, VERSION};
use rivet_engine::format::page::{PageHeader, PAGE_HEADER_SIZE};
use rivet_engine::{Error, PageId};

use crate::error::{locked_message, CliError};
use crate::lock::{lock, LockMode};

/// Go refuses files shorter than this, whatever their page size.
pub const MIN_FILE_SIZE: u64 = 4096;
/// Bytes of a meta page that hold the header and the meta struct.
const META_BYTES: usize = 80;

/// One meta page as found in the file.
#[derive(Debug, Clone)]
pub struct MetaSlot {
    /// 0 or 1.
    pub page: u64,
    /// The decoded fields (meaningless if `problem` is set).
    pub meta: Meta,
    /// The checksum the fields should carry.
    pub computed: u64,
    /// Why the meta is not usable, if it is not.
    pub problem: Option<String>,
}

impl MetaSlot {
    /// Whether the meta is valid.
    pub fn valid(&self) -> bool {
        self.problem.is_none()
    }
}

/// The stored freelist of the active meta.
#[derive(Debug, Clone, Default)]
pub struct FreelistInfo {
    /// Its first page, or `None` when the file stores no freelist (`NoFreelistSync`).
    pub page: Option<PageId>,
    /// Pages it spans (first page plus overflow).
    pub span: u64,
    /// The ids it lists, as stored.
    pub ids: Vec<PageId>,
    /// Whether the 0xFFFF count overflow form is used.
    pub overflow_form: bool,
}

/// An open, locked database file read page by page.
#[derive(Debug)]
pub struct RawFile {
    /// The path it was opened from.
    pub path: PathBuf,
    file: File,
    /// File length in bytes.
    pub len: u64,
    /// The page size.
    pub page_size: u32,
    /// Both meta pages.
    pub metas: [MetaSlot; 2],
    /// Index of the active meta in `metas`.
    pub active: usize,
}

fn valid_page_size(ps: u32) -> bool {
    ps.is_power_of_two() && (256..=65536).contains(&ps)
}

/// Why `m` (read from a page of size `ps`, if known) is unusable, or `None` if it is valid.
fn meta_problem(m: &Meta, ps: Option<u32>) -> Option<String> {
    if m.magic != MAGIC {
        if m.magic == MAGIC.swap_bytes() {
            return Some("big-endian bbolt file (written on a big-endian host)".into());
        }
        return Some(format!("bad magic {:#010x} (not a bbolt meta page)", m.magic));
    }
    if m.version != VERSION {
        return Some(format!("format version {} (only version 2 is supported)", m.version));
    }
    if m.checksum != 0 && m.checksum != m.compute_checksum() {
        return Some(format!(
            "checksum mismatch (stored {:#018x}, computed {:#018x})",
            m.checksum,
            m.compute_checksum()
        ));
    }
    if !valid_page_size(m.page_size) {
        return Some(format!("impossible page size {}", m.page_size));
    }
    if let Some(ps) = ps {
        if m.page_size != ps {
            return Some(format!("page size {} differs from the file's {ps}", m.page_size));
        }
    }
    None
}

fn engine_reason(e: Error) -> String {
    match e {
        Error::Corrupted { page, reason } => format!("page {page}: {reason}"),
        other => other.to_string(),
    }
}

impl RawFile {
    /// Opens `path`, takes the lock (`None`: no lock), and reads both meta pages.
    ///
    /// # Errors
    /// Missing or unreadable file, lock timeout, a file too small or without any valid meta.
    pub fn open(path: &Path, mode: Option<LockMode>, timeout: Option<Duration>, write: bool) -> Result<Self, CliError> {
        let file = OpenOptions::new().read(true).write(write).open(path).map_err(|e| CliError::io(path, "open", &e))?;
        let md = file.metadata().map_err(|e| CliError::io(path, "stat", &e))?;
        if md.is_dir() {
            return Err(CliError::file(path, "is a directory, not a database file"));
        }
        if let Some(mode) = mode {
            let got = lock(&file, mode, timeout).map_err(|e| CliError::io(path, "lock", &e))?;
            if !got {
                let msg = match mode {
                    LockMode::Shared => locked_message(timeout),
                    LockMode::Exclusive => format!(
                        "the file is in use by another process (could not take the exclusive lock within {:?}; \
                         close it first)",
                        timeout.unwrap_or_default()
                    ),
                };
                return Err(CliError::file(path, msg));
            }
        }
        let len = md.len();
        if len == 0 {
            return Err(CliError::file(path, "the file is empty: not a bbolt database"));
        }
        if len < MIN_FILE_SIZE {
            return Err(CliError::file(
                path,
                format!("not a bbolt database: {len} bytes is too small (at least {MIN_FILE_SIZE})"),
            ));
        }
        let read = |off: u64| -> Result<Option<Vec<u8>>, CliError> {
            if off + META_BYTES as u64 > len {
                return Ok(None);
            }
            let mut b = vec![0u8; META_BYTES];
            file.read_exact_at(&mut b, off).map_err(|e| CliError::io(path, "read", &e))?;
            Ok(Some(b))
        };
        let slot = |page: u64, bytes: Option<Vec<u8>>, ps: Option<u32>| -> MetaSlot {
            match bytes {
                Some(b) => match Meta::decode(&b, page) {
                    Ok(meta) => {
                        MetaSlot { page, meta, computed: meta.compute_checksum(), problem: meta_problem(&meta, ps) }
                    }
                    Err(e) => MetaSlot { page, meta: Meta::default(), computed: 0, problem: Some(engine_reason(e)) },
                },
                None => MetaSlot {
                    page,
                    meta: Meta::default(),
                    computed: 0,
                    problem: Some("lies beyond the end of the file".into()),
                },
            }
        };
        let m0 = slot(0, read(0)?, None);
        let (page_size, m1) = if m0.valid() {
            let ps = m0.meta.page_size;
            (ps, slot(1, read(u64::from(ps))?, Some(ps)))
        } else {
            // Meta 0 is damaged: look for a valid meta 1 at every plausible page size.
            let mut found = None;
            for ps in std::iter::once(4096u32).chain((8..=16).map(|s| 1u32 << s)) {
                let s = slot(1, read(u64::from(ps))?, Some(ps));
                if s.valid() {
                    found = Some((ps, s));
                    break;
                }
            }
            match found {
                Some(f) => f,
                None => {
                    let mut s = slot(1, read(4096)?, Some(4096));
                    if s.valid() {
                        s.problem = Some("not found at any page size".into());
                    }
                    (4096, s)
                }
            }
        };
        let active = match (m0.valid(), m1.valid()) {
            (true, true) => usize::from(m1.meta.txid > m0.meta.txid),
            (true, false) => 0,
            (false, true) => 1,
            (false, false) => {
                let p0 = m0.problem.unwrap_or_default();
                let p1 = m1.problem.unwrap_or_default();
                if p0.starts_with("bad magic") && p1.starts_with("bad magic") {
                    return Err(CliError::file(
                        path,
                        "not a bbolt database (no bbolt magic number in either meta page)",
                    ));
                }
                return Err(CliError::file(path, format!("both meta pages are damaged (meta 0: {p0}; meta 1: {p1})")));
            }
        };
        Ok(RawFile { path: path.to_path_buf(), file, len, page_size, metas: [m0, m1], active })
    }

    /// The active meta.
    pub fn meta(&self) -> &Meta {
        &self.metas[self.active].meta
    }

    /// The high-water mark of the active meta.
    pub fn hwm(&self) -> PageId {
        self.meta().pgid
    }

    /// Page size as u64.
    pub fn ps(&self) -> u64 {
        u64::from(self.page_size)
    }

    /// Whole pages present in the file.
    pub fn file_pages(&self) -> u64 {
        self.len / self.ps()
    }

    /// If the file is shorter than the high-water mark needs, the first missing page.
    pub fn missing_from(&self) -> Option<PageId> {
        let needed = self.hwm().saturating_mul(self.ps());
        (self.len < needed).then(|| self.file_pages())
    }

    /// The underlying file (for copying).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The 16-byte header of page `id`.
    pub fn header(&self, id: PageId) -> Result<PageHeader, String> {
        let off = id.checked_mul(self.ps()).ok_or_else(|| format!("page {id}: impossible page id"))?;
        if off + PAGE_HEADER_SIZE as u64 > self.len {
            return Err(format!("page {id}: beyond the end of the file (the file holds {} pages)", self.file_pages()));
        }
        let mut b = [0u8; PAGE_HEADER_SIZE];
        self.file.read_exact_at(&mut b, off).map_err(|e| format!("page {id}: read error: {e}"))?;
        PageHeader::read(&b, id).map_err(engine_reason)
    }

    /// The bytes of page `id` and of the overflow pages its header announces.
    pub fn page(&self, id: PageId) -> Result<Vec<u8>, String> {
        let h = self.header(id)?;
        let span = 1 + u64::from(h.overflow);
        let end = id.checked_add(span).and_then(|e| e.checked_mul(self.ps()));
        match end {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(format!(
                    "page {id}: its {} overflow pages run past the end of the file (the file holds {} pages)",
                    h.overflow,
                    self.file_pages()
                ))
            }
        }
        let mut b = vec![0u8; (span * self.ps()) as usize];
        self.file.read_exact_at(&mut b, id * self.ps()).map_err(|e| format!("page {id}: read error: {e}"))?;
        Ok(b)
    }

    /// Exactly one page `id` (no overflow), for hex dumps of free or garbage pages.
    pub fn single_page(&self, id: PageId) -> Result<Vec<u8>, String> {
        self.header(id)?;
        let n = self.ps().min(self.len - id * self.ps());
        let mut b = vec![0u8; n as usize];
        self.file.read_exact_at(&mut b, id * self.ps()).map_err(|e| format!("page {id}: read error: {e}"))?;
        Ok(b)
    }

    /// The stored freelist of the active meta.
    pub fn freelist(&self) -> Result<FreelistInfo, String> {
        let m = self.meta();
        if m.freelist == NO_FREELIST {
            return Ok(FreelistInfo::default());
        }
        let id = m.freelist;
        if id < 2 || id >= m.pgid {
            return Err(format!("page {id}: the freelist page lies outside 2..{} (the high-water mark)", m.pgid));
        }
        let bytes = self.page(id)?;
        let h = PageHeader::read(&bytes, id).map_err(engine_reason)?;
        let span = 1 + u64::from(h.overflow);
        if id + span > m.pgid {
            return Err(format!(
                "page {id}: the freelist's {} overflow pages run past the high-water mark",
                h.overflow
            ));
        }
        let ids = Freelist::decode_ids(&bytes, id).map_err(engine_reason)?;
        if let Some(bad) = ids.iter().find(|&&p| p < 2 || p >= m.pgid) {
            return Err(format!(
                "page {id}: the freelist lists page {bad}, outside 2..{} (the high-water mark)",
                m.pgid
            ));
        }
        Ok(FreelistInfo { page: Some(id), span, ids, overflow_form: h.count == 0xFFFF })
    }

    /// Writes `meta` as a fresh meta page (new checksum) into page `slot` (0 or 1), and syncs.
    pub fn write_meta(&self, slot: u64, meta: &Meta) -> Result<(), CliError> {
        let page = meta.encode_page(slot, self.page_size as usize);
        let io = |e: io::Error| CliError::io(&self.path, "write meta page", &e);
        self.file.write_all_at(&page, slot * self.ps()).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}
