//! The reliability scenarios in journal mode (`Options::journal`): simulated power loss at
//! every I/O operation of both files (journal appends, syncs and resets, checkpoint writes) and
//! injected I/O errors at each of them. A workload is a list of [`Step`]s: random transactions,
//! bulk transactions that fill the (1 MiB) journal or do not fit in it, and explicit
//! checkpoints, so that checkpoints of all three kinds happen inside every recording.

use std::path::Path;
use std::sync::{Arc, Mutex};

use rivet_engine::{Error, JournalIo, Options, DB};

use crate::faults::{crash_images, Fault, FaultJournal, FaultPlan, FaultStorage, Op, Recorder, Which};
use crate::torture::{scenario_options, EMPTY_DUMP};
use crate::Rng;

/// The journal limit of the scenarios: the smallest the engine accepts, so that checkpoints
/// come often.
pub const JOURNAL_MAX: u64 = 1 << 20;

/// Options of a journal-mode scenario.
pub fn journal_options(seed: u64) -> Options {
    scenario_options(seed).journal(true).journal_max_bytes(JOURNAL_MAX)
}

/// Options to reopen a journal-mode database for checking (the page size is the file's). No
/// syncs: what is checked is what the open makes of the files, and the checkpoint at close
/// would otherwise cost several syncs per image.
pub fn reopen_options() -> Options {
    Options::default().journal(true).journal_max_bytes(JOURNAL_MAX).no_sync(true)
}

/// One step of a journal-mode workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// One transaction of random writes ([`crate::try_random_mix`]) from this seed.
    Mix(u64),
    /// One transaction putting this many 16 KiB values: 40 (about 640 KiB of journal, so two
    /// fill it and the next write transaction checkpoints first) or 70 (more than the journal
    /// holds: the transaction is committed by a checkpoint).
    Bulk(u64, usize),
    /// `DB::checkpoint`.
    Checkpoint,
    /// `DB::close` (a last checkpoint; the journal is removed outside the recorded seam).
    Close,
}

/// The workload of a seed: `n` steps, then [`Step::Close`].
pub fn steps(seed: u64, n: usize) -> Vec<Step> {
    let mut rng = Rng::new(seed ^ 0x5EED_0010);
    let mut v: Vec<Step> = (0..n)
        .map(|t| {
            let s = seed.wrapping_mul(1000) + t as u64;
            match rng.below(14) {
                0..=2 => Step::Checkpoint,
                3 => Step::Bulk(s, if rng.below(3) == 0 { 70 } else { 40 }),
                _ => Step::Mix(s),
            }
        })
        .collect();
    v.push(Step::Close);
    v
}

/// Runs one step (not [`Step::Close`], which consumes the handle).
pub fn run_step(db: &DB, step: Step) -> Result<(), Error> {
    match step {
        Step::Mix(s) => crate::try_random_mix(db, s, 1, 12),
        Step::Bulk(s, n) => db.update(|tx| {
            let mut b = tx.create_bucket_if_not_exists(b"bulk")?;
            let mut rng = Rng::new(s);
            for i in 0..n as u64 {
                let value: Vec<u8> = (0..2048).flat_map(|_| rng.next_u64().to_le_bytes()).collect();
                b.put(&[s.to_be_bytes(), i.to_be_bytes()].concat(), &value)?;
            }
            Ok(())
        }),
        Step::Checkpoint => db.checkpoint(),
        Step::Close => Ok(()),
    }
}

/// What one step did in a recording.
#[derive(Debug, Clone)]
pub struct StepRecord {
    /// The step.
    pub step: Step,
    /// Log length before it.
    pub start: usize,
    /// Log length after it.
    pub end: usize,
    /// The dump before it.
    pub before: String,
    /// The dump after it.
    pub after: String,
    /// Whether it wrote to the database file (a checkpoint ran inside it).
    pub wrote_db: bool,
}

/// One run of a journal-mode workload, both files' operations in one log.
#[derive(Debug, Clone)]
pub struct JournalRecording {
    /// Every mutation of either file, in order.
    pub log: Vec<(Which, Op)>,
    /// The steps, in order.
    pub steps: Vec<StepRecord>,
    /// Log length once the database and its journal were created.
    pub created: usize,
}

/// Adds `new` to `ok` (the options of the moment) per the rule of
/// [`crate::torture::Recording::acceptable`]: a step that ended by `k` replaces them, one in
/// flight adds to them.
fn fold<'a>(ok: &mut Vec<&'a str>, start: usize, end: usize, k: usize, new: Vec<&'a str>) {
    if end <= k {
        *ok = new;
    } else if start < k {
        ok.extend(new);
    }
}

impl JournalRecording {
    /// The dumps a database opened in journal mode (file and journal) may show after a crash
    /// following the first `k` operations: the last acknowledged commit or the one in flight.
    pub fn acceptable(&self, k: usize) -> Vec<&str> {
        let mut ok = vec![EMPTY_DUMP];
        for s in &self.steps {
            fold(&mut ok, s.start, s.end, k, vec![s.after.as_str()]);
        }
        ok
    }

    /// The dumps the database file alone (as Go bbolt sees it, without the journal) may show
    /// then: the last checkpoint, or one in flight. A checkpoint inside a transaction (the
    /// journal was full, or the transaction too large for it) holds the state before it or
    /// after it.
    pub fn acceptable_file(&self, k: usize) -> Vec<&str> {
        let mut ok = vec![EMPTY_DUMP];
        for s in self.steps.iter().filter(|s| s.wrote_db) {
            let states = match s.step {
                Step::Checkpoint | Step::Close => vec![s.after.as_str()],
                _ => vec![s.before.as_str(), s.after.as_str()],
            };
            fold(&mut ok, s.start, s.end, k, states);
        }
        ok
    }
}

/// What [`DB::open_with_io`] wraps the journal's file with.
type Wrap = Box<dyn FnMut(Arc<dyn JournalIo>) -> Arc<dyn JournalIo>>;

/// Opens `path` with both files going through one recorder.
fn open_recorded(path: &Path, opts: Options, rec: &Arc<Mutex<Recorder>>) -> Result<DB, Error> {
    let (r1, r2) = (rec.clone(), rec.clone());
    let wrap: Wrap = Box::new(move |io| Arc::new(FaultJournal::new(io, r2.clone())) as Arc<dyn JournalIo>);
    DB::open_with_io(path, opts, move |f| Box::new(FaultStorage::new(f, r1)), wrap)
}

fn dump(db: &DB) -> String {
    rivet_engine::dump::dump_json(&db.begin(false).expect("begin")).expect("dump")
}

/// Runs the workload of `seed` (`n` steps) on a new database at `path` in journal mode,
/// recording every mutation of both files.
pub fn record_journal(path: &Path, seed: u64, n: usize) -> JournalRecording {
    let rec = Arc::new(Mutex::new(Recorder::default()));
    let len = || rec.lock().map(|r| r.log.len()).unwrap_or(0);
    let db = open_recorded(path, journal_options(seed), &rec).expect("open recording db");
    let created = len();
    let mut done = Vec::new();
    let mut before = dump(&db);
    let mut db = Some(db);
    for step in steps(seed, n) {
        let start = len();
        let after = match step {
            Step::Close => {
                db.take().expect("open").close().expect("close");
                before.clone()
            }
            _ => {
                let d = db.as_ref().expect("open");
                run_step(d, step).unwrap_or_else(|e| panic!("step {step:?} (seed {seed}): {e}"));
                dump(d)
            }
        };
        let end = len();
        let wrote_db = rec.lock().map(|r| r.log[start..end].iter().any(|(w, _)| *w == Which::Db)).unwrap_or(true);
        done.push(StepRecord {
            step,
            start,
            end,
            before: std::mem::replace(&mut before, after.clone()),
            after,
            wrote_db,
        });
    }
    let log = rec.lock().map(|r| r.log.clone()).unwrap_or_default();
    JournalRecording { log, steps: done, created }
}

/// Opens the database at `path` with `opts`, checks it and returns its dump.
fn open_check_dump(path: &Path, opts: Options) -> Result<String, String> {
    let db = DB::open(path, opts).map_err(|e| format!("open failed: {e}"))?;
    let tx = db.begin(false).map_err(|e| e.to_string())?;
    let problems = tx.check().map_err(|e| e.to_string())?;
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(format!("check: {lines:?}"));
    }
    rivet_engine::dump::dump_json(&tx).map_err(|e| e.to_string())
}

fn journal_of(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push("-journal");
    s.into()
}

/// Checks the files at `path` (database and journal, as they are) in journal mode: the open
/// replays, the check is clean, the content is one of `ok`; after the handle is dropped (a
/// checkpoint, the journal removed) a plain open shows the same content.
pub fn verify_journal_files(path: &Path, ok: &[&str]) -> Result<(), String> {
    let got = open_check_dump(path, reopen_options())?;
    if !ok.contains(&got.as_str()) {
        return Err(format!(
            "journal mode: content is neither the last acknowledged commit nor the one in flight ({} options)",
            ok.len()
        ));
    }
    let again = open_check_dump(path, Options::default().no_sync(true))?;
    if again != got {
        return Err("after the checkpoint at close, a plain open shows other content".into());
    }
    Ok(())
}

/// Checks one crash image: the database file alone, without journal mode (as Go bbolt would
/// open it), is a valid file at a checkpoint of `ok_file`; then database and journal together
/// pass [`verify_journal_files`] with `ok`.
pub fn verify_journal_image(
    dir: &Path,
    db: &[u8],
    journal: Option<&[u8]>,
    ok: &[&str],
    ok_file: &[&str],
) -> Result<(), String> {
    let alone = dir.join("alone.db");
    let _ = std::fs::remove_file(journal_of(&alone));
    std::fs::write(&alone, db).map_err(|e| e.to_string())?;
    let plain = Options::default().no_sync(true);
    let got = open_check_dump(&alone, plain).map_err(|e| format!("database file alone: {e}"))?;
    if !ok_file.contains(&got.as_str()) {
        return Err(format!("database file alone: content is not a checkpoint's ({} options)", ok_file.len()));
    }
    let path = dir.join("both.db");
    std::fs::write(&path, db).map_err(|e| e.to_string())?;
    match journal {
        Some(j) => std::fs::write(journal_of(&path), j).map_err(|e| e.to_string())?,
        None => {
            let _ = std::fs::remove_file(journal_of(&path));
        }
    }
    verify_journal_files(&path, ok)
}

/// What [`power_loss_journal`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct PowerLoss {
    /// Crash images verified.
    pub images: usize,
    /// Steps of the recording that wrote the database file (checkpoints).
    pub checkpoints: usize,
}

/// Simulated power loss in journal mode: for every operation boundary of a recorded workload
/// (`n` steps), `per_boundary` random crash images of both files, each verified by
/// [`verify_journal_image`]. Panics with the seed on the first failure.
pub fn power_loss_journal(dir: &Path, seed: u64, n: usize, per_boundary: usize) -> PowerLoss {
    let rec = record_journal(&dir.join(format!("jrec-{seed}.db")), seed, n);
    let mut out = PowerLoss { checkpoints: rec.steps.iter().filter(|s| s.wrote_db).count(), ..PowerLoss::default() };
    let mut rng = Rng::new(seed ^ 0x0C0F_FEE5);
    for k in 0..=rec.log.len() {
        let (ok, ok_file) = (rec.acceptable(k), rec.acceptable_file(k));
        for _ in 0..per_boundary {
            let (db, journal) = crash_images(&rec.log, k, &mut rng);
            if let Err(e) = verify_journal_image(dir, &db, journal.as_deref(), &ok, &ok_file) {
                panic!("journal mode: power loss after operation {k} of {} (seed {seed}): {e}", rec.log.len());
            }
            out.images += 1;
        }
    }
    out
}

/// Every fault at every operation (of either file) of a journal-mode workload of `n` steps: the
/// failing call returns `Error::Io` without panicking, the handle is poisoned, and after
/// reopening the state is the last acknowledged commit or the one in flight. Returns the number
/// of runs.
pub fn io_errors_journal(dir: &Path, seed: u64, n: usize) -> usize {
    let reference = record_journal(&dir.join(format!("jref-{seed}.db")), seed, n);
    let total = reference.log.len();
    let mut runs = 0;
    for fault in [Fault::Eio, Fault::NoSpace, Fault::ShortWrite, Fault::SyncFails] {
        for once in [true, false] {
            for at in reference.created..total {
                let case = format!("fault {fault:?} at op {at} of {total} (once={once}, seed {seed})");
                let path = dir.join(format!("jfault-{seed}.db"));
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(journal_of(&path));
                let rec = Arc::new(Mutex::new(Recorder::default()));
                let db = open_recorded(&path, journal_options(seed), &rec).expect("open");
                rec.lock().expect("lock").plan = Some(FaultPlan { at, once, fault });
                let mut acked = dump(&db);
                let mut in_flight = None;
                let mut db = Some(db);
                for s in &reference.steps {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match s.step {
                        Step::Close => db.take().expect("open").close(),
                        step => run_step(db.as_ref().expect("open"), step),
                    }));
                    match r {
                        Err(_) => panic!("journal mode: panic under {case} in {:?}", s.step),
                        Ok(Ok(())) => {
                            // An injected fault may not be swallowed: the call that met it fails.
                            let injected = rec.lock().map(|r| r.injected).unwrap_or(0);
                            assert_eq!(injected, 0, "journal mode: {:?} succeeded after a fault ({case})", s.step);
                            if let Some(d) = &db {
                                acked = dump(d);
                            }
                        }
                        Ok(Err(e)) => {
                            assert!(matches!(e, Error::Io { .. }), "journal mode: {case} gave {e} in {:?}", s.step);
                            if let Some(d) = &db {
                                assert!(
                                    matches!(d.begin(true), Err(Error::Poisoned)),
                                    "journal mode: a failed {:?} must poison the handle ({case})",
                                    s.step
                                );
                            }
                            in_flight = Some(s.after.clone());
                            break;
                        }
                    }
                }
                drop(db);
                let mut ok = vec![acked.as_str()];
                ok.extend(in_flight.as_deref());
                if let Err(e) = verify_journal_files(&path, &ok) {
                    panic!("journal mode: after {case}: {e}");
                }
                runs += 1;
            }
        }
    }
    runs
}
