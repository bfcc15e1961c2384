//! `rivet compact SRC -o DST [--tx-max-size N]`: copies every bucket, nested bucket, sequence
//! and key of SRC into a new file DST with the same page size (`rivet_engine::compact`: pages
//! filled to 100 %, no free pages), committing every N bytes, and prints both sizes.
//!
//! SRC is opened read-only under a shared lock. DST must not exist; it is written without a
//! sync per commit and synced once at the end (a crash leaves a partial DST, never a damaged
//! SRC), and removed if the compaction fails.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rivet_engine::{Options, DB};

use crate::cli::{CompactArgs, Global};
use crate::error::CliError;
use crate::progress::Progress;
use crate::w;

fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Creates DST, opens it with the engine and compacts `src` into it. Returns the keys copied.
fn compact_into(src: &DB, a: &CompactArgs, page_size: u32, g: &Global) -> Result<u64, CliError> {
    let dst_err = |e| CliError::engine(&a.dst, e, None);
    let opts = Options::default().page_size(page_size).no_sync(true);
    let dst = DB::open(&a.dst, opts).map_err(dst_err)?;
    let progress = Progress::spinner(g.quiet, "compacting");
    let done = AtomicBool::new(false);
    let keys = std::thread::scope(|s| {
        if progress.is_active() {
            s.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    progress.message(format!("compacting: {} MiB written", size(&a.dst) >> 20));
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
        }
        let r = rivet_engine::compact(src, &dst, a.tx_max_size);
        done.store(true, Ordering::Relaxed);
        r
    });
    progress.finish();
    let keys = keys.map_err(|e| {
        CliError::file(&a.src, format!("compaction failed: {}", CliError::engine(&a.src, e, None).message()))
    })?;
    dst.sync().map_err(dst_err)?;
    Ok(keys)
}

/// Runs `compact`.
pub fn run(g: &Global, a: CompactArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let (raw, src) = crate::open::both(&a.src, g)?;
    // Claim DST first: never overwrite an existing file.
    OpenOptions::new().write(true).create_new(true).open(&a.dst).map_err(|e| CliError::io(&a.dst, "create", &e))?;
    let keys = match compact_into(&src, &a, raw.page_size, g) {
        Ok(k) => k,
        Err(e) => {
            let _ = std::fs::remove_file(&a.dst);
            return Err(e);
        }
    };
    drop(src);
    let (before, after) = (raw.len, size(&a.dst));
    let gain = if after == 0 { 0.0 } else { before as f64 / after as f64 };
    let smaller = if before == 0 { 0.0 } else { 100.0 * (before as f64 - after as f64) / before as f64 };
    w!(
        out,
        "{} -> {}: {before} -> {after} bytes ({smaller:.1}% smaller, gain={gain:.2}x), {keys} keys copied",
        a.src.display(),
        a.dst.display()
    )?;
    Ok(ExitCode::SUCCESS)
}
