//! Opening a file for inspection: read-only, under a shared lock taken with a bounded wait, with
//! a one-line reason when the file cannot be used. The raw view is opened first (it names the
//! problem precisely: missing file, not bbolt, which meta is damaged, truncation), then the
//! engine, which takes its own shared lock on the same file.

use std::path::Path;

use rivet_engine::{Options, DB};

use crate::cli::Global;
use crate::error::CliError;
use crate::lock::LockMode;
use crate::raw::RawFile;

/// Opens `path` for raw reading under a shared lock.
pub fn inspect(path: &Path, g: &Global) -> Result<RawFile, CliError> {
    RawFile::open(path, Some(LockMode::Shared), g.lock_timeout(), false)
}

/// The message for a file shorter than its high-water mark needs, if it is.
pub fn truncation(raw: &RawFile) -> Option<String> {
    let first = raw.missing_from()?;
    let hwm = raw.hwm();
    Some(format!(
        "the file is truncated: {} bytes, but the high-water mark of {hwm} pages needs {} (pages {first}..{} are missing)",
        raw.len,
        u128::from(hwm) * u128::from(raw.ps()),
        hwm.saturating_sub(1)
    ))
}

/// Opens the engine on a file already opened raw (read-only, shared lock).
pub fn engine(raw: &RawFile, g: &Global) -> Result<DB, CliError> {
    if let Some(msg) = truncation(raw) {
        return Err(CliError::file(&raw.path, format!("{msg}; run `rivet check`")));
    }
    let mut opts = Options::default().read_only(true);
    opts.timeout = g.lock_timeout();
    DB::open(&raw.path, opts).map_err(|e| CliError::engine(&raw.path, e, g.lock_timeout()))
}

/// Opens `path` raw and with the engine.
pub fn both(path: &Path, g: &Global) -> Result<(RawFile, DB), CliError> {
    let raw = inspect(path, g)?;
    let db = engine(&raw, g)?;
    Ok((raw, db))
}

/// The bucket at `path` (names from the top level), with an error naming the first missing
/// level or the level that holds a value instead of a bucket.
pub fn bucket<'t>(
    tx: &'t rivet_engine::Tx<'_>,
    path: &[Vec<u8>],
    file: &Path,
) -> Result<rivet_engine::Bucket<'t>, CliError> {
    let mut b = tx.root();
    for (i, name) in path.iter().enumerate() {
        let shown = crate::format::path(&path[..=i]);
        b = match b.bucket(name) {
            Ok(child) => child,
            Err(rivet_engine::Error::BucketNotFound) => {
                return Err(CliError::file(file, format!("bucket {shown} not found")))
            }
            Err(rivet_engine::Error::IncompatibleValue { .. }) => {
                return Err(CliError::file(file, format!("{shown} is a key holding a value, not a bucket")))
            }
            Err(e) => return Err(CliError::engine(file, e, None)),
        };
    }
    Ok(b)
}
