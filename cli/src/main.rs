//! # `rivet`: inspect, check, dump, compact, repair and bench Rivet and bbolt files
//!
//! The command-line companion of `rivet-engine`, with the command names Go's `bbolt` tool
//! users know. Every command works on files written by Rivet and on files written by Go bbolt
//! (format version 2, little-endian).
//!
//! Layout of this crate:
//! - [`cli`]: the argument grammar (clap derive) and the shared options;
//! - [`cmd`]: one module per command;
//! - [`raw`]: opens a file for direct reading (so that damaged files can still be inspected);
//!   what the file holds (metas, pages, the freelist, the walk over its trees and every check)
//!   is read by the engine's format and walking layer, `rivet_engine::{format, io::raw, tree}`;
//! - [`open`]: opening a file for inspection (read-only, shared lock, bounded wait) and turning
//!   engine errors into one-line messages; [`lock`] is the `flock` behind it;
//! - [`format`]: how keys and values are printed (`--format`) and parsed (`--parse-format`);
//! - [`progress`]: progress bars on a terminal, silence when piped;
//! - [`error`]: the single error type, printed as `rivet: FILE: problem`.
//!
//! Exit status: 0 success, 1 `check` found problems (or `records` met a record it could not
//! decode, or a file without typed records), 2 the command could not be carried out
//! (missing file, not a bbolt file, damaged meta pages, unknown bucket, bad hex, usage error).
//! Nothing is ever written to a file unless the command is meant to write (`compact`,
//! `surgery`, `bench`); inspection takes a shared lock and gives up after `--timeout` if a
//! writer holds the file.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod cmd;
mod error;
mod format;
mod lock;
mod open;
mod progress;
mod raw;
mod svg;

use cli::{Cli, Command};
use error::CliError;

/// Runs the parsed command, writing its normal output to `out`.
fn run(cli: Cli, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let g = cli.global;
    match cli.command {
        Command::Info(a) => cmd::info::run(&g, a, out),
        Command::Stats(a) => cmd::stats::run(&g, a, out),
        Command::Buckets(a) => cmd::buckets::run(&g, a, out),
        Command::Keys(a) => cmd::keys::run(&g, a, out),
        Command::Get(a) => cmd::get::run(&g, a, out),
        Command::Pages(a) => cmd::pages::run(&g, a, out),
        Command::Map(a) => cmd::map::run(&g, a, out),
        Command::Page(a) => cmd::page::run(&g, a, out),
        Command::PageItem(a) => cmd::page_item::run(&g, a, out),
        Command::Check(a) => cmd::check::run(&g, a, out),
        Command::Dump(a) => cmd::dump::run(&g, a, out),
        Command::Records(a) => cmd::records::run(&g, a, out),
        Command::Compact(a) => cmd::compact::run(&g, a, out),
        Command::Surgery(a) => cmd::surgery::run(&g, a, out),
        Command::Bench(a) => cmd::bench::run(&g, a, out),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = run(cli, &mut out).and_then(|code| {
        out.flush().map_err(CliError::output)?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            // Whatever was printed before the error still goes out first.
            let _ = out.flush();
            if e.is_quiet() {
                return ExitCode::SUCCESS;
            }
            eprintln!("{e}");
            ExitCode::from(e.code())
        }
    }
}
