//! `rivet buckets FILE [-r] [--format F]`: the top-level buckets, one per line (with
//! `--recursive`, the whole bucket tree, nested names indented by two spaces per level).

use std::io::Write;
use std::process::ExitCode;

use rivet_engine::Bucket;

use crate::cli::{BucketsArgs, Global};
use crate::error::CliError;
use crate::format::{write_bytes, Format};

fn list(b: &Bucket<'_>, depth: usize, a: &BucketsArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let file = a.file.as_path();
    let err = |e| CliError::engine(file, e, None);
    for item in b.iter() {
        let (name, v) = item.map_err(err)?;
        if v.is_some() {
            continue;
        }
        if a.recursive && depth > 0 && a.format != Format::Bytes {
            write!(out, "{}", "  ".repeat(depth)).map_err(CliError::output)?;
        }
        write_bytes(out, name, a.format, true)?;
        if a.recursive {
            list(&b.bucket(name).map_err(err)?, depth + 1, a, out)?;
        }
    }
    Ok(())
}

/// Runs `buckets`.
pub fn run(g: &Global, a: BucketsArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let (_raw, db) = crate::open::both(&a.file, g)?;
    let tx = db.begin(false).map_err(|e| CliError::engine(&a.file, e, None))?;
    list(&tx.root(), 0, &a, out)?;
    Ok(ExitCode::SUCCESS)
}
