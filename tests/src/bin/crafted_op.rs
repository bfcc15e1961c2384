//! One engine operation on one file, for the `crafted` harness, which runs it in a child
//! process under limits (tests/tests/crafted.rs):
//!
//! ```text
//! crafted_op OP FILE SCRATCH [--clean] [--baseline KINDS]
//! ```
//!
//! The operation runs on a thread with a 256 KiB stack. It prints one line on stdout and exits
//! 0 when it succeeded; prints `error: ...` on stderr and exits 1 when the engine returned an
//! error; prints `WRONG: ...` on stderr and exits 3 when the engine answered wrongly. A panic,
//! an abort or a stack overflow ends the process the usual way.
//!
//! `--clean` says that `tx.check()` found nothing in FILE: then every operation must succeed,
//! and reads must agree with each other. `--baseline` gives the kinds of problem the check
//! found, one per line: after a write that succeeded, the file must show no other kind. What a
//! kind is: [`kind`].
//!
//! Operations: `open_ro`, `open_rw` (rebuilds and commits a freelist the file does not store),
//! `open_rw_nofl` (`no_freelist_sync`, then an empty commit), `read` (every bucket and key
//! through cursors, and a point lookup of every key), `check` (prints the kinds found),
//! `stats`, `dump` (prints the dump's length and hash), `compact` and `copy_file` (into
//! SCRATCH), `delete_buckets` (each top-level bucket in its own transaction, each followed by
//! a check, then a commit of new data), `put` (into the first top-level bucket and a new one,
//! one commit); after a write, the new data is read back and the file checked.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rivet_engine::{Bucket, Error, Options, DB};

/// How an operation failed, short of a crash.
enum End {
    Err(Error),
    Wrong(String),
}

impl From<Error> for End {
    fn from(e: Error) -> End {
        End::Err(e)
    }
}

type Op = Result<String, End>;

struct Args {
    op: String,
    file: PathBuf,
    scratch: PathBuf,
    clean: bool,
    baseline: Option<Vec<String>>,
}

/// A check message with its numbers and hex strings taken out: `page 7: keys out of order` and
/// `page 9: keys out of order` are one kind.
fn kind(message: &str) -> String {
    let words: Vec<&str> =
        message.split_whitespace().map(|w| if w.bytes().any(|b| b.is_ascii_digit()) { "#" } else { w }).collect();
    words.join(" ")
}

fn kinds(problems: &[String]) -> Vec<String> {
    let mut k: Vec<String> = problems.iter().map(|p| kind(p)).collect();
    k.sort();
    k.dedup();
    k
}

fn ro() -> Options {
    Options::default().read_only(true)
}

fn rw() -> Options {
    Options::default().no_sync(true)
}

fn hash(s: &[u8]) -> u64 {
    rivet_engine::format::meta::fnv1a64(s)
}

/// Top-level bucket names (at most 1000).
fn top_level(db: &DB) -> Result<Vec<Vec<u8>>, Error> {
    let tx = db.begin(false)?;
    let mut names = Vec::new();
    for item in tx.root().iter().take(1000) {
        let (k, v) = item?;
        if v.is_none() {
            names.push(k.to_vec());
        }
    }
    Ok(names)
}

/// Walks a bucket and its sub-buckets through cursors; counts buckets and keys, and with
/// `clean` looks every key up again. Keeps its own stack of open cursors (one per nesting
/// level), as an application walking nested buckets on a small stack would.
fn walk(root: Bucket<'_>, clean: bool, n: &mut (u64, u64)) -> Result<(), End> {
    let mut stack = vec![(root.iter(), root)];
    n.0 += 1;
    while let Some((items, b)) = stack.last_mut() {
        let Some(item) = items.next() else {
            stack.pop();
            continue;
        };
        let (k, v) = item?;
        n.1 += 1;
        match v {
            None => {
                let child = b.bucket(k)?;
                if stack.len() > 65 {
                    let depth = stack.len();
                    return Err(End::Wrong(format!(
                        "the engine opened a bucket nested {depth} deep (reads stop past 64)"
                    )));
                }
                n.0 += 1;
                stack.push((child.iter(), child));
            }
            Some(v) if clean => {
                let got = b.get(k)?;
                if got != Some(v) {
                    return Err(End::Wrong(format!("a cursor gave key {k:02x?} a value that get does not return")));
                }
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn check_problems(path: &Path) -> Result<Vec<String>, Error> {
    let db = DB::open(path, ro())?;
    let tx = db.begin(false)?;
    Ok(lines(tx.check()?))
}

/// The check's problems as its lines.
fn lines(problems: Vec<rivet_engine::Problem>) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

/// The kinds of problem in `problems` that the baseline (if given) does not have.
fn new_kinds(a: &Args, problems: &[String]) -> Result<(), End> {
    let Some(before) = &a.baseline else { return Ok(()) };
    let new: Vec<String> = kinds(problems).into_iter().filter(|k| !before.contains(k)).collect();
    if new.is_empty() {
        Ok(())
    } else {
        Err(End::Wrong(format!("after a write that succeeded, new problems: {new:?}")))
    }
}

/// After a write that succeeded: the file shows no new kind of problem, and `written` (what
/// this process put into `crafted-probe`) reads back exactly.
fn verify_after_write(a: &Args, written: &[(Vec<u8>, Vec<u8>)]) -> Op {
    let db = DB::open(&a.file, ro())?;
    let tx = db.begin(false)?;
    let problems = lines(tx.check()?);
    new_kinds(a, &problems)?;
    let b = if written.is_empty() { tx.root() } else { tx.bucket(b"crafted-probe")? };
    for (k, v) in written {
        if b.get(k)? != Some(v.as_slice()) {
            return Err(End::Wrong(format!("a committed write reads back wrong (key {k:02x?})")));
        }
    }
    Ok(format!("verified {} keys; {} problems after the write", written.len(), problems.len()))
}

/// Fresh data for `crafted-probe`: 400 keys of 150 bytes.
fn probe_data() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..400u16).map(|i| (i.to_be_bytes().to_vec(), vec![i as u8; 150])).collect()
}

/// Puts `data` into `crafted-probe` (created if need be).
fn put_probe(tx: &mut rivet_engine::Tx<'_>, data: &[(Vec<u8>, Vec<u8>)]) -> Result<(), Error> {
    let mut b = tx.create_bucket_if_not_exists(b"crafted-probe")?;
    for (k, v) in data {
        b.put(k, v)?;
    }
    Ok(())
}

/// A write failed: fine if it names damage.
fn write_failed(e: Error) -> End {
    match e {
        Error::Corrupted { .. } | Error::CheckFailed(_) => End::Err(e),
        e => End::Wrong(format!("a write failed without naming damage: {e}")),
    }
}

fn run(a: &Args) -> Op {
    match a.op.as_str() {
        "open_ro" => {
            let db = DB::open(&a.file, ro())?;
            let tx = db.begin(false)?;
            Ok(format!("txid {}", tx.id()))
        }
        "open_rw" | "open_rw_nofl" => {
            let opts = rw().no_freelist_sync(a.op == "open_rw_nofl");
            let db = DB::open(&a.file, opts).map_err(write_failed)?;
            db.update(|_| Ok::<_, Error>(())).map_err(write_failed)?;
            let txid = db.info().meta.txid;
            drop(db);
            verify_after_write(a, &[]).map(|v| format!("txid {txid}; {v}"))
        }
        "read" => {
            let db = DB::open(&a.file, ro())?;
            let tx = db.begin(false)?;
            let mut n = (0, 0);
            walk(tx.root(), a.clean, &mut n)?;
            Ok(format!("{} buckets, {} items", n.0, n.1))
        }
        "check" => {
            let problems = check_problems(&a.file)?;
            let k = kinds(&problems);
            Ok(format!("{} problems\n{}", problems.len(), k.iter().take(100).cloned().collect::<Vec<_>>().join("\n")))
        }
        "stats" => {
            let db = DB::open(&a.file, ro())?;
            let tx = db.begin(false)?;
            let s = tx.root().stats()?;
            Ok(format!("{s:?}").chars().take(200).collect())
        }
        "dump" => {
            let db = DB::open(&a.file, ro())?;
            let tx = db.begin(false)?;
            let d = rivet_engine::dump::dump_json(&tx)?;
            Ok(format!("{} bytes, hash {:016x}", d.len(), hash(d.as_bytes())))
        }
        "compact" => {
            let dst_path = a.scratch.join("compacted.db");
            let src = DB::open(&a.file, ro())?;
            let dst = DB::open(&dst_path, rw().page_size(src.info().page_size))?;
            let keys = rivet_engine::compact(&src, &dst, 1 << 20)?;
            let before = rivet_engine::dump::dump_json(&src.begin(false)?);
            let after = rivet_engine::dump::dump_json(&dst.begin(false)?)?;
            match before {
                Ok(b) if b != after => Err(End::Wrong(format!(
                    "compact succeeded ({keys} keys) but the copy's dump differs from the source's ({} vs {} bytes)",
                    after.len(),
                    b.len()
                ))),
                _ => Ok(format!("{keys} keys, {} bytes", std::fs::metadata(&dst_path).map(|m| m.len()).unwrap_or(0))),
            }
        }
        "copy_file" => {
            let dst = a.scratch.join("copy.db");
            let db = DB::open(&a.file, ro())?;
            let n = db.begin(false)?.copy_file(&dst)?;
            new_kinds(a, &check_problems(&dst)?)?;
            Ok(format!("{n} bytes copied"))
        }
        "delete_buckets" => {
            let db = DB::open(&a.file, rw()).map_err(write_failed)?;
            let names = top_level(&db)?;
            for name in &names {
                db.update(|tx| tx.delete_bucket(name)).map_err(write_failed)?;
                new_kinds(a, &lines(db.begin(false)?.check()?))?;
            }
            // A commit that reuses the pages the deletes freed.
            let written = probe_data();
            db.update(|tx| put_probe(tx, &written)).map_err(write_failed)?;
            drop(db);
            verify_after_write(a, &written).map(|v| format!("{} buckets deleted; {v}", names.len()))
        }
        "put" => {
            let db = DB::open(&a.file, rw()).map_err(write_failed)?;
            let first = top_level(&db)?.into_iter().next();
            let written = probe_data();
            db.update(|tx| {
                if let Some(first) = &first {
                    let mut b = tx.bucket_mut(first)?;
                    for i in 0..50u8 {
                        b.put(&[0xfe, i], &[i; 300])?;
                    }
                }
                put_probe(tx, &written)
            })
            .map_err(write_failed)?;
            drop(db);
            verify_after_write(a, &written)
        }
        other => Err(End::Wrong(format!("unknown operation {other}"))),
    }
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let usage = "usage: crafted_op OP FILE SCRATCH [--clean] [--baseline KINDS]";
    let (Some(op), Some(file), Some(scratch)) = (it.next(), it.next(), it.next()) else {
        return Err(usage.into());
    };
    let mut a = Args { op, file: file.into(), scratch: scratch.into(), clean: false, baseline: None };
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--clean" => a.clean = true,
            "--baseline" => {
                let k = it.next().ok_or(usage)?;
                a.baseline = Some(k.lines().filter(|l| !l.is_empty()).map(str::to_string).collect());
            }
            _ => return Err(usage.into()),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(64);
        }
    };
    let clean = a.clean;
    let worker = std::thread::Builder::new().name(format!("op {}", a.op)).stack_size(256 << 10).spawn(move || run(&a));
    let end = match worker.map(|w| w.join()) {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => return ExitCode::from(101), // the panic message is on stderr already
        Err(e) => {
            eprintln!("error: cannot start the operation thread: {e}");
            return ExitCode::from(70);
        }
    };
    match end {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(End::Err(e)) if clean => {
            eprintln!("WRONG: the check found nothing, but the operation failed: {e}");
            ExitCode::from(3)
        }
        Err(End::Err(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
        Err(End::Wrong(w)) => {
            eprintln!("WRONG: {w}");
            ExitCode::from(3)
        }
    }
}
