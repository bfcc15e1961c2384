//! A database file read page by page with `pread`, without a memory map: for tools that look at
//! files the engine refuses to open (a truncated file, a damaged meta) and at pages it would not
//! read (free pages, garbage, pages past the high-water mark).
//!
//! Nothing here trusts the file: a page that lies (even partly) beyond its end is
//! [`Error::Corrupted`] naming the page, never a short read. Locking is the caller's business.

use std::borrow::Cow;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::corruption::Corruption;
use crate::error::{Error, PageId, Result};
use crate::format::metas::{select, Metas, META_PAGE_BYTES};
use crate::format::page::{PageHeader, PAGE_HEADER_SIZE};
use crate::format::source::PageSource;

/// Reads both meta pages of `file` (`len` bytes long) and chooses the active one
/// ([`crate::format::metas::select`]), looking for meta 1 at each size of `probe` when meta 0
/// is unusable.
///
/// # Errors
/// [`Error::Io`] naming `path` when a read fails.
pub fn read_metas(file: &File, path: &Path, len: u64, probe: &[u32]) -> Result<Metas> {
    let read = |off: u64| -> std::io::Result<Option<Vec<u8>>> {
        if off.saturating_add(META_PAGE_BYTES as u64) > len {
            return Ok(None);
        }
        let mut b = vec![0u8; META_PAGE_BYTES];
        file.read_exact_at(&mut b, off)?;
        Ok(Some(b))
    };
    select(read, probe).map_err(|source| Error::Io { op: "read", path: path.to_path_buf(), source })
}

/// An open database file, read page by page.
#[derive(Debug)]
pub struct RawFile {
    file: File,
    path: PathBuf,
    len: u64,
    page_size: u64,
}

impl RawFile {
    /// Reads `file` (opened from `path`, which errors name) in pages of `page_size` bytes.
    ///
    /// # Errors
    /// [`Error::Io`] if the file's length cannot be read; [`Error::Invalid`] for a page size
    /// of 0.
    pub fn new(file: File, path: impl Into<PathBuf>, page_size: u32) -> Result<RawFile> {
        let path = path.into();
        if page_size == 0 {
            return Err(Error::Invalid("page size 0".into()));
        }
        let len = file.metadata().map_err(|source| Error::Io { op: "stat", path: path.clone(), source })?.len();
        Ok(RawFile { file, path, len, page_size: u64::from(page_size) })
    }

    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's length in bytes (when it was opened).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whole pages in the file.
    pub fn file_pages(&self) -> u64 {
        self.len / self.page_size
    }

    fn read(&self, off: u64, n: u64, page: PageId) -> Result<Vec<u8>> {
        let beyond = || Error::corrupted(page, Corruption::BeyondFile { file_pages: self.file_pages() });
        let n = usize::try_from(n).map_err(|_| beyond())?;
        let mut b = vec![0u8; n];
        self.file.read_exact_at(&mut b, off).map_err(|source| Error::Io {
            op: "read",
            path: self.path.clone(),
            source,
        })?;
        Ok(b)
    }

    /// The 16-byte header of page `id`.
    ///
    /// # Errors
    /// [`Error::Corrupted`] if the header lies beyond the end of the file; [`Error::Io`].
    pub fn header(&self, id: PageId) -> Result<PageHeader> {
        let off = id.checked_mul(self.page_size);
        match off {
            Some(off) if off.saturating_add(PAGE_HEADER_SIZE as u64) <= self.len => {
                PageHeader::read(&self.read(off, PAGE_HEADER_SIZE as u64, id)?, id)
            }
            _ => Err(Error::corrupted(id, Corruption::BeyondFile { file_pages: self.file_pages() })),
        }
    }

    /// The bytes of page `id` alone (no overflow), cut short where the file ends: for looking at
    /// free pages, garbage and continuation pages.
    ///
    /// # Errors
    /// As [`RawFile::header`].
    pub fn page_prefix(&self, id: PageId) -> Result<Vec<u8>> {
        self.header(id)?;
        let off = id * self.page_size;
        self.read(off, self.page_size.min(self.len - off), id)
    }
}

impl PageSource for RawFile {
    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn page_count(&self) -> u64 {
        self.file_pages()
    }

    fn pages(&self, id: PageId, count: u64) -> Result<Cow<'_, [u8]>> {
        let ps = self.page_size;
        let span = id.checked_mul(ps).zip(id.checked_add(count).and_then(|end| end.checked_mul(ps)));
        match span {
            Some((start, end)) if end <= self.len => Ok(Cow::Owned(self.read(start, end - start, id)?)),
            _ if id >= self.file_pages() => {
                Err(Error::corrupted(id, Corruption::BeyondFile { file_pages: self.file_pages() }))
            }
            _ => {
                let overflow = u32::try_from(count.saturating_sub(1)).unwrap_or(u32::MAX);
                Err(Error::corrupted(id, Corruption::OverflowPastFile { overflow, file_pages: self.file_pages() }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_beyond_the_end_are_named_not_short() {
        let dir = std::env::temp_dir().join(format!("rivet-raw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("raw.db");
        let mut bytes = vec![0u8; 3 * 256 + 100];
        bytes[256] = 1;
        std::fs::write(&path, &bytes).unwrap();
        let raw = RawFile::new(File::open(&path).unwrap(), &path, 256).unwrap();
        assert_eq!((raw.file_pages(), raw.pages(1, 2).unwrap().len()), (3, 512));
        assert_eq!(raw.pages(1, 1).unwrap()[0], 1);
        let err = |r: Result<Cow<'_, [u8]>>| match r {
            Err(Error::Corrupted { page, reason }) => (page, reason),
            other => panic!("{other:?}"),
        };
        assert_eq!(err(raw.pages(3, 1)), (3, Corruption::BeyondFile { file_pages: 3 }));
        assert_eq!(err(raw.pages(2, 3)), (2, Corruption::OverflowPastFile { overflow: 2, file_pages: 3 }));
        assert_eq!(err(raw.pages(u64::MAX, 1)).1, Corruption::BeyondFile { file_pages: 3 });
        // The partial fourth page has a header, and a prefix of 100 bytes.
        assert!(raw.header(3).is_ok() && raw.header(4).is_err());
        assert_eq!(raw.page_prefix(3).unwrap().len(), 100);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
