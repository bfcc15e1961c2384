//! `rivet dump FILE [--json] [--format F]`: the whole database.
//!
//! With `--json`, the canonical dump (format doc section 18; the engine's
//! `rivet_engine::dump::dump_json` and Go's `bbolt-tool dump` print the same bytes): compact
//! JSON, `{"sequence":N,"entries":[...]}` per bucket, hex keys and values in key order, one
//! trailing newline. It is streamed to the output as the trees are walked, so memory stays
//! flat on large files. Without `--json`, an indented listing: `key = value` lines, and
//! `[bucket NAME] (sequence N)` headers over nested contents.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use rivet_engine::Bucket;

use crate::cli::{DumpArgs, Global};
use crate::error::CliError;
use crate::format::{show, Format};
use crate::progress::Progress;

/// Deepest bucket nesting followed (as the engine).
const MAX_NESTING: usize = 64;

struct Dumper<'a> {
    out: &'a mut dyn Write,
    file: &'a std::path::Path,
    progress: Progress,
    items: u64,
    hex_buf: Vec<u8>,
}

impl Dumper<'_> {
    fn err(&self, e: rivet_engine::Error) -> CliError {
        CliError::engine(self.file, e, None)
    }

    fn put(&mut self, s: &[u8]) -> Result<(), CliError> {
        self.out.write_all(s).map_err(CliError::output)
    }

    fn put_hex(&mut self, b: &[u8]) -> Result<(), CliError> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.hex_buf.clear();
        for &x in b {
            self.hex_buf.push(HEX[(x >> 4) as usize]);
            self.hex_buf.push(HEX[(x & 15) as usize]);
        }
        self.out.write_all(&self.hex_buf).map_err(CliError::output)
    }

    fn tick(&mut self) {
        self.items += 1;
        if self.items.is_multiple_of(4096) && self.progress.is_active() {
            self.progress.message(format!("dumping: {} items", self.items));
        }
    }

    fn json(&mut self, b: &Bucket<'_>, depth: usize) -> Result<(), CliError> {
        if depth > MAX_NESTING {
            return Err(CliError::file(self.file, "buckets nested deeper than 64 levels (run `rivet check`)"));
        }
        self.put(format!("{{\"sequence\":{},\"entries\":[", b.sequence()).as_bytes())?;
        let mut first = true;
        for item in b.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            self.tick();
            self.put(if first { b"{\"key\":\"" } else { b",{\"key\":\"" })?;
            first = false;
            self.put_hex(k)?;
            match v {
                Some(v) => {
                    self.put(b"\",\"value\":\"")?;
                    self.put_hex(v)?;
                    self.put(b"\"}")?;
                }
                None => {
                    self.put(b"\",\"bucket\":")?;
                    let child = b.bucket(k).map_err(|e| self.err(e))?;
                    self.json(&child, depth + 1)?;
                    self.put(b"}")?;
                }
            }
        }
        self.put(b"]}")
    }

    fn text(&mut self, b: &Bucket<'_>, depth: usize, f: Format) -> Result<(), CliError> {
        if depth > MAX_NESTING {
            return Err(CliError::file(self.file, "buckets nested deeper than 64 levels (run `rivet check`)"));
        }
        let indent = "  ".repeat(depth);
        for item in b.iter() {
            let (k, v) = item.map_err(|e| self.err(e))?;
            self.tick();
            match v {
                Some(v) => writeln!(self.out, "{indent}{} = {}", show(k, f), show(v, f)).map_err(CliError::output)?,
                None => {
                    let child = b.bucket(k).map_err(|e| self.err(e))?;
                    writeln!(self.out, "{indent}[bucket {}] (sequence {})", show(k, f), child.sequence())
                        .map_err(CliError::output)?;
                    self.text(&child, depth + 1, f)?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `dump`.
pub fn run(g: &Global, a: DumpArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let (_raw, db) = crate::open::both(&a.file, g)?;
    let tx = db.begin(false).map_err(|e| CliError::engine(&a.file, e, None))?;
    // A spinner would garble a dump printed on the same terminal.
    let progress =
        if std::io::stdout().is_terminal() { Progress::none() } else { Progress::spinner(g.quiet, "dumping") };
    let mut d = Dumper { out, file: &a.file, progress, items: 0, hex_buf: Vec::new() };
    if a.json {
        d.json(&tx.root(), 0)?;
        d.put(b"\n")?;
    } else {
        d.text(&tx.root(), 0, a.format)?;
    }
    d.progress.finish();
    Ok(ExitCode::SUCCESS)
}
