//! Engine helpers: options, dumps, `check()` results, writing damaged copies, running with a
//! time limit, and the shared assertions that a file is unusable or that `check()` reports a
//! problem.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use rivet_engine::{Error, Options, DB};
use rivet_tests::fixtures_dir;

use crate::raw::page_size_of;

pub(crate) fn ro() -> Options {
    Options::default().read_only(true).with_timeout(Duration::from_secs(10))
}
pub(crate) fn rw() -> Options {
    Options::default().no_sync(true).with_timeout(Duration::from_secs(10))
}

/// The canonical dump through an open handle (rust_dump would need a second lock).
pub(crate) fn dump(db: &DB) -> Result<String, Error> {
    let tx = db.begin(false)?;
    rivet_engine::dump::dump_json(&tx)
}

/// The problems `check()` reports for a file, or the error that prevented checking it
/// (prefixed `error:`).
pub(crate) fn problems(path: &Path) -> Vec<String> {
    let db = match DB::open(path, ro()) {
        Ok(db) => db,
        Err(e) => return vec![format!("error: open: {e}")],
    };
    let tx = match db.begin(false) {
        Ok(tx) => tx,
        Err(e) => return vec![format!("error: begin: {e}")],
    };
    match tx.check() {
        Ok(p) => p.iter().map(ToString::to_string).collect(),
        Err(e) => vec![format!("error: check: {e}")],
    }
}

pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write test file");
    p
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

pub(crate) fn read_fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("read fixture")
}

/// Runs `f` on another thread and fails if it takes longer than `secs` (a hang), returning its
/// result (a panic inside `f` fails the caller, with `what` and the panic message).
pub(crate) fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(v)) => v,
        Ok(Err(p)) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what}: panicked: {msg}")
        }
        Err(_) => panic!("{what}: no answer within {secs} s (hang?)"),
    }
}

/// Opens `path` read-only and read-write; both must fail with an error `ok` accepts, and a
/// failed open must leave the file unchanged.
pub(crate) fn assert_open_fails(path: &Path, what: &str, ok: impl Fn(&Error) -> bool) {
    assert_unusable(path, what, ok, false);
}

/// Like [`assert_open_fails`], but when `may_recreate` the read-write open may instead treat the
/// file as an interrupted creation (engine commit b021a08: a short file holding nothing but a
/// prefix of a fresh database's image, or zeros, and no valid meta) and create a new, empty,
/// consistent database in it.
pub(crate) fn assert_unusable(path: &Path, what: &str, ok: impl Fn(&Error) -> bool, may_recreate: bool) {
    let before = std::fs::read(path).unwrap();
    for (mode, opts) in [("ro", ro()), ("rw", rw())] {
        let p = path.to_path_buf();
        let r = within(30, what, move || {
            DB::open(&p, opts).map(|db| {
                let txid = db.info().meta.txid;
                let content = dump(&db);
                let problems = db.begin(false).and_then(|tx| tx.check());
                (txid, content, problems)
            })
        });
        match r {
            Ok((txid, content, problems)) => {
                assert!(may_recreate && mode == "rw", "{what}: {mode} open succeeded (txid {txid}, {content:?})");
                assert_eq!(txid, 1, "{what}: recreated database");
                let empty = std::fs::read_to_string(fixture("empty.json")).unwrap();
                assert!(content.as_deref().ok() == Some(empty.as_str()), "{what}: recreated content {content:?}");
                assert!(problems.as_ref().is_ok_and(|p| p.is_empty()), "{what}: recreated check {problems:?}");
            }
            Err(e) => {
                assert!(ok(&e), "{what}: {mode} open: unexpected error {e:?}");
                assert!(std::fs::read(path).unwrap() == before, "{what}: failed {mode} open changed the file");
            }
        }
    }
}

/// A damaged copy of a fixture: writes it and returns the path.
pub(crate) fn damaged(dir: &Path, name: &str, label: &str, f: impl FnOnce(&mut [u8], usize)) -> PathBuf {
    let mut img = read_fixture(name);
    let ps = page_size_of(&img);
    f(&mut img, ps);
    write(dir, &format!("{label}-{name}"), &img)
}

pub(crate) fn assert_problem(path: &Path, what: &str, needle: &str) -> Vec<String> {
    let p = path.to_path_buf();
    let found = within(30, what, move || problems(&p));
    assert!(
        found.iter().any(|m| m.contains(needle)),
        "{what}: expected a problem containing {needle:?}, got {found:?}"
    );
    found
}
