//! `rivet keys FILE BUCKET... [--format F] [--parse-format text|hex]`: every key of a bucket
//! (nested bucket names included), one per line, or a JSON array with `--format json`.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{Global, KeysArgs};
use crate::error::CliError;
use crate::format::{json, parse_arg, write_bytes, Format};

/// Runs `keys`.
pub fn run(g: &Global, a: KeysArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let path = a.bucket.iter().map(|s| parse_arg(s, a.parse_format, &a.file)).collect::<Result<Vec<_>, _>>()?;
    let (_raw, db) = crate::open::both(&a.file, g)?;
    let err = |e| CliError::engine(&a.file, e, None);
    let tx = db.begin(false).map_err(err)?;
    let b = crate::open::bucket(&tx, &path, &a.file)?;
    if a.format == Format::Json {
        let mut keys = Vec::new();
        for item in b.iter() {
            keys.push(json(item.map_err(err)?.0));
        }
        let s = serde_json::to_string(&keys).map_err(|e| CliError::usage(e.to_string()))?;
        writeln!(out, "{s}").map_err(CliError::output)?;
        return Ok(ExitCode::SUCCESS);
    }
    for item in b.iter() {
        let (k, _) = item.map_err(err)?;
        write_bytes(out, k, a.format, true)?;
    }
    Ok(ExitCode::SUCCESS)
}
