//! Opening a database file for direct reading: the lock, the one-line reasons a file cannot be
//! used at all, and writing a meta page (for `surgery`).
//!
//! Everything about the file's contents is the engine's: both metas and the choice of the
//! active one (`rivet_engine::format::metas`), pages by `pread` (`rivet_engine::io::raw`), the
//! stored freelist (`rivet_engine::tree::freelist`), and the walk over the trees
//! (`rivet_engine::tree::walk`). This is what lets the command describe files the engine
//! refuses to open (a damaged meta, a truncated file).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rivet_engine::format::meta::Meta;
use rivet_engine::format::metas::{MetaProblem, MetaSlot};
use rivet_engine::format::page::PageHeader;
use rivet_engine::format::source::PageSource;
use rivet_engine::io::raw::{read_metas, RawFile as Pages};
use rivet_engine::tree::freelist::{read_freelist, StoredFreelist};
use rivet_engine::{Error, PageId};

use crate::error::{locked_message, CliError};
use crate::lock::{lock, LockMode};

/// Go refuses files shorter than this, whatever their page size.
pub const MIN_FILE_SIZE: u64 = 4096;

/// Page sizes at which meta 1 is looked for when meta 0 is damaged, in order.
const PROBE: [u32; 10] = [4096, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536];

/// An error of the engine about a page, as one line: `page N: why`.
pub fn page_error(e: Error) -> String {
    match e {
        Error::Corrupted { page, reason } => format!("page {page}: {reason}"),
        other => other.to_string(),
    }
}

/// An open, locked database file read page by page.
#[derive(Debug)]
pub struct RawFile {
    /// The path it was opened from.
    pub path: PathBuf,
    /// Its pages.
    pub pages: Pages,
    /// File length in bytes.
    pub len: u64,
    /// The page size.
    pub page_size: u32,
    /// Both meta pages.
    pub metas: [MetaSlot; 2],
    /// Index of the active meta in `metas`.
    pub active: usize,
}

fn open_file(path: &Path, mode: Option<LockMode>, timeout: Option<Duration>, write: bool) -> Result<File, CliError> {
    let file = OpenOptions::new().read(true).write(write).open(path).map_err(|e| CliError::io(path, "open", &e))?;
    let md = file.metadata().map_err(|e| CliError::io(path, "stat", &e))?;
    if md.is_dir() {
        return Err(CliError::file(path, "is a directory, not a database file"));
    }
    let Some(mode) = mode else { return Ok(file) };
    if lock(&file, mode, timeout).map_err(|e| CliError::io(path, "lock", &e))? {
        return Ok(file);
    }
    let msg = match mode {
        LockMode::Shared => locked_message(timeout),
        LockMode::Exclusive => format!(
            "the file is in use by another process (could not take the exclusive lock within {:?}; close it first)",
            timeout.unwrap_or_default()
        ),
    };
    Err(CliError::file(path, msg))
}

impl RawFile {
    /// Opens `path`, takes the lock (`None`: no lock), and reads both meta pages.
    ///
    /// # Errors
    /// Missing or unreadable file, lock timeout, a file too small or without any valid meta.
    pub fn open(path: &Path, mode: Option<LockMode>, timeout: Option<Duration>, write: bool) -> Result<Self, CliError> {
        let file = open_file(path, mode, timeout, write)?;
        let len = file.metadata().map_err(|e| CliError::io(path, "stat", &e))?.len();
        if len == 0 {
            return Err(CliError::file(path, "the file is empty: not a bbolt database"));
        }
        if len < MIN_FILE_SIZE {
            return Err(CliError::file(
                path,
                format!("not a bbolt database: {len} bytes is too small (at least {MIN_FILE_SIZE})"),
            ));
        }
        let engine = |e| CliError::engine(path, e, timeout);
        let metas = read_metas(&file, path, len, &PROBE).map_err(engine)?;
        let Some(active) = metas.active else {
            let [m0, m1] = &metas.slots;
            if matches!((&m0.problem, &m1.problem), (Some(MetaProblem::BadMagic(_)), Some(MetaProblem::BadMagic(_)))) {
                return Err(CliError::file(path, "not a bbolt database (no bbolt magic number in either meta page)"));
            }
            let shown = |s: &MetaSlot| s.problem.as_ref().map(ToString::to_string).unwrap_or_default();
            let msg = format!("both meta pages are damaged (meta 0: {}; meta 1: {})", shown(m0), shown(m1));
            return Err(CliError::file(path, msg));
        };
        let pages = Pages::new(file, path, metas.page_size).map_err(engine)?;
        Ok(RawFile { path: path.to_path_buf(), pages, len, page_size: metas.page_size, metas: metas.slots, active })
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
        self.pages.file()
    }

    /// The 16-byte header of page `id`.
    pub fn header(&self, id: PageId) -> Result<PageHeader, String> {
        self.pages.header(id).map_err(page_error)
    }

    /// The bytes of page `id` and of the overflow pages its header announces.
    pub fn page(&self, id: PageId) -> Result<Vec<u8>, String> {
        let h = self.header(id)?;
        let bytes = self.pages.pages(id, 1 + u64::from(h.overflow)).map_err(page_error)?;
        Ok(bytes.into_owned())
    }

    /// Exactly one page `id` (no overflow, cut where the file ends), for hex dumps of free or
    /// garbage pages.
    pub fn single_page(&self, id: PageId) -> Result<Vec<u8>, String> {
        self.pages.page_prefix(id).map_err(page_error)
    }

    /// The stored freelist of the active meta (`None`: the file stores none), or why it
    /// cannot be read.
    pub fn freelist(&self) -> Result<Option<StoredFreelist>, String> {
        read_freelist(&self.pages, self.meta()).map_err(page_error)
    }

    /// Writes `meta` as a fresh meta page (new checksum) into page `slot` (0 or 1), and syncs.
    pub fn write_meta(&self, slot: u64, meta: &Meta) -> Result<(), CliError> {
        let page = meta.encode_page(slot, self.page_size as usize);
        let io = |e: io::Error| CliError::io(&self.path, "write meta page", &e);
        self.file().write_all_at(&page, slot * self.ps()).map_err(io)?;
        self.file().sync_data().map_err(io)
    }
}
