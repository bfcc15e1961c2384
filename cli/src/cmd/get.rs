//! `rivet get FILE BUCKET... KEY [--format F] [--parse-format text|hex]`: the value stored
//! under KEY. `--format bytes` writes the value exactly (no newline), for binary values.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{GetArgs, Global};
use crate::error::CliError;
use crate::format::{parse_arg, path, write_bytes};

/// Runs `get`.
pub fn run(g: &Global, a: GetArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let names = a.bucket.iter().map(|s| parse_arg(s, a.parse_format, &a.file)).collect::<Result<Vec<_>, _>>()?;
    let key = parse_arg(&a.key, a.parse_format, &a.file)?;
    let (_raw, db) = crate::open::both(&a.file, g)?;
    let err = |e| CliError::engine(&a.file, e, None);
    let tx = db.begin(false).map_err(err)?;
    let b = crate::open::bucket(&tx, &names, &a.file)?;
    let mut full = names.clone();
    full.push(key.clone());
    match b.get(&key).map_err(err)? {
        Some(v) => write_bytes(out, v, a.format, false)?,
        None if b.has_bucket(&key).map_err(err)? => {
            return Err(CliError::file(&a.file, format!("{} is a bucket, not a value", path(&full))))
        }
        None => return Err(CliError::file(&a.file, format!("key {} not found", path(&full)))),
    }
    Ok(ExitCode::SUCCESS)
}
