//! `kill -9` of a child process committing in a loop: the child acknowledges each commit on
//! stdout once `update` returned; the parent kills it at a random moment, reopens the file and
//! checks that every acknowledged commit is there and the check is clean. The child is the
//! `torture` binary run as `torture --child PATH START` (or `--child-journal` for journal mode).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

use rivet_engine::{Error, Options, DB};

use crate::journal_torture::JOURNAL_MAX;
use crate::Rng;

/// The options of the child in journal mode: a 1 MiB journal, so that checkpoints (by size,
/// and explicit ones every 64 commits) happen between the kills.
pub fn child_options(journal: bool) -> Options {
    if journal {
        Options::default().journal(true).journal_max_bytes(JOURNAL_MAX)
    } else {
        Options::default()
    }
}

/// The child side: commit forever from `start`, acknowledging each commit on stdout.
pub fn child(path: &str, start: u64, journal: bool) -> ExitCode {
    let Ok(db) = DB::open(path, child_options(journal)) else { return ExitCode::FAILURE };
    let mut i = start;
    loop {
        let r = db.update(|tx| {
            let mut b = tx.create_bucket_if_not_exists(b"acks")?;
            b.put(&i.to_be_bytes(), &[i as u8; 200])?;
            if i.is_multiple_of(7) {
                b.delete(&(i / 2).to_be_bytes())?;
                b.put(&(i / 2).to_be_bytes(), &[(i / 2) as u8; 200])?;
            }
            if journal && i.is_multiple_of(5) {
                // Bigger commits fill the journal sooner.
                tx.create_bucket_if_not_exists(b"fill")?.put(&i.to_be_bytes(), &[i as u8; 3000])?;
            }
            Ok::<_, Error>(())
        });
        if r.is_err() {
            return ExitCode::FAILURE;
        }
        println!("ACK {i}");
        if journal && i % 64 == 63 && db.checkpoint().is_err() {
            return ExitCode::FAILURE;
        }
        i += 1;
    }
}

/// Kills a committing child (`exe --child[-journal] PATH NEXT`) at a random moment and checks
/// that every acknowledged commit survived; `next` moves past the last commit found. In
/// journal mode the file is reopened in journal mode (replaying the journal) or, every other
/// time, without it (an open without journal mode replays and checkpoints too).
pub fn kill_once(exe: &Path, path: &Path, next: &mut u64, rng: &mut Rng, journal: bool) -> Result<u64, String> {
    let mode = if journal { "--child-journal" } else { "--child" };
    let mut child = Command::new(exe)
        .args([mode, path.to_str().ok_or("path")?, &next.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| l.strip_prefix("ACK ")?.parse::<u64>().ok())
            .collect::<Vec<u64>>()
    });
    std::thread::sleep(Duration::from_millis(5 + rng.below(60)));
    let _ = child.kill();
    let _ = child.wait();
    let acked = reader.join().map_err(|_| "reader thread")?;
    let opts = if journal && rng.below(2) == 0 { child_options(true) } else { Options::default() };
    let db = DB::open(path, opts).map_err(|e| format!("reopen after kill: {e}"))?;
    let replayed = db.recovery().map_or(0, |r| r.replayed);
    let tx = db.begin(false).map_err(|e| e.to_string())?;
    let problems = tx.check().map_err(|e| e.to_string())?;
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(format!("check after kill: {lines:?}"));
    }
    if let Some(&last) = acked.last() {
        let b = tx.bucket(b"acks").map_err(|e| format!("acknowledged bucket missing: {e}"))?;
        for i in acked.iter().copied() {
            if b.get(&i.to_be_bytes()).map_err(|e| e.to_string())?.is_none() {
                return Err(format!("acknowledged commit {i} lost"));
            }
        }
        *next = last + 1;
    }
    // A commit may have landed without its acknowledgement; continue after whatever is there.
    if let Ok(b) = tx.bucket(b"acks") {
        if let Ok(Some((k, _))) = b.cursor().last() {
            let k: [u8; 8] = k.try_into().unwrap_or_default();
            *next = (*next).max(u64::from_be_bytes(k) + 1);
        }
    }
    Ok(replayed)
}
