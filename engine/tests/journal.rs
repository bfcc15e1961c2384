//! Journal mode (`Options::journal`, design doc "The journal"): journaled commits are read
//! back at once and survive a crash, checkpoints make the file a complete bbolt file, readers
//! keep their versions across commits and checkpoints, and a journal that does not follow the
//! file, or is damaged, never changes data silently.
//!
//! A crash is simulated by copying the database and its journal while the handle is open
//! (what the files hold after the commits returned is what a power cut would leave, since
//! every commit synced) and opening the copies.

use std::path::{Path, PathBuf};

use rivet_engine::{dump::dump_json, Error, Options, DB};

fn dir(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("rivet-journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn journal_of(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push("-journal");
    PathBuf::from(s)
}

fn jopts() -> Options {
    Options::default().journal(true).page_size(4096)
}

/// Copies the database at `db` and its journal, as they are now (the state a crash would
/// leave), to `copy` in the same directory, and returns the copy's path.
fn crash_copy(db: &Path) -> PathBuf {
    let to = db.with_file_name("copy");
    std::fs::copy(db, &to).unwrap();
    if journal_of(db).exists() {
        std::fs::copy(journal_of(db), journal_of(&to)).unwrap();
    }
    to
}

/// Opens the crash copy at `copy` in journal mode and checks that it holds `want`, cleanly.
fn reopened(copy: &Path, want: &str) -> DB {
    let again = DB::open(copy, jopts()).unwrap();
    assert_eq!(dump(&again), want);
    check_clean(&again);
    again
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn dump(db: &DB) -> String {
    db.view(dump_json).unwrap()
}

fn check_clean(db: &DB) {
    let problems = db.view(|tx| tx.check()).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
}

fn fill(db: &DB, from: u32, to: u32) {
    db.update(|tx| {
        let mut b = tx.create_bucket_if_not_exists(b"b")?;
        for i in from..to {
            b.put(&i.to_be_bytes(), format!("value {i}").as_bytes())?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

#[test]
fn journaled_commits_are_read_at_once_and_survive_a_crash() {
    let d = dir("crash");
    let path = d.join("db");
    let db = DB::open(&path, jopts()).unwrap();
    assert_eq!(db.recovery().map(|r| r.replayed), Some(0));
    let before = std::fs::read(&path).unwrap();
    for i in 0..20 {
        fill(&db, i * 100, i * 100 + 100);
    }
    db.update(|tx| {
        tx.create_bucket(b"nested")?.create_bucket(b"inner")?.put(b"k", b"v")?;
        tx.bucket_mut(b"b")?.delete(&5u32.to_be_bytes())?;
        tx.bucket_mut(b"b")?.set_sequence(77)
    })
    .unwrap();
    // The file was not written: every commit went to the journal.
    assert_eq!(std::fs::read(&path).unwrap(), before, "journaled commits leave the file alone");
    assert!(std::fs::metadata(journal_of(&path)).unwrap().len() > 20 * 100 * 8);
    check_clean(&db);
    let want = dump(&db);
    assert!(want.contains(&hex(b"inner")));

    let copy = crash_copy(&path);
    // A read-only open replays in memory and writes nothing, with or without journal mode.
    let files = || (std::fs::read(&copy).unwrap(), std::fs::read(journal_of(&copy)).unwrap());
    let before = files();
    for journal in [false, true] {
        let ro = DB::open(&copy, Options::default().read_only(true).journal(journal)).unwrap();
        assert_eq!(ro.recovery().map(|r| r.replayed), Some(21));
        assert_eq!(dump(&ro), want);
        check_clean(&ro);
        drop(ro);
        assert!(files() == before, "a read-only open changed the files");
    }
    let again = DB::open(&copy, jopts()).unwrap();
    assert_eq!(again.recovery().map(|r| (r.replayed, r.dropped.is_none())), Some((21, true)));
    assert_eq!(dump(&again), want);
    check_clean(&again);
    // And it goes on from there.
    fill(&again, 5000, 5010);
    drop(again);
    let plain = DB::open(&copy, Options::default()).unwrap();
    assert!(dump(&plain).contains(&hex(b"value 5009")));
    drop(db);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn close_checkpoints_and_removes_the_journal() {
    let d = dir("close");
    let path = d.join("db");
    let db = DB::open(&path, jopts()).unwrap();
    fill(&db, 0, 3000);
    let want = dump(&db);
    db.close().unwrap();
    assert!(!journal_of(&path).exists(), "a clean close leaves no journal");
    let plain = DB::open(&path, Options::default().read_only(true)).unwrap();
    assert_eq!(dump(&plain), want);
    check_clean(&plain);
    drop(plain);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn checkpoints_keep_content_and_readers_keep_their_versions() {
    let d = dir("readers");
    let path = d.join("db");
    let db = DB::open(&path, jopts().journal_max_bytes(1 << 20)).unwrap();
    fill(&db, 0, 100);
    let old = db.begin(false).unwrap();
    let old_dump = dump_json(&old).unwrap();
    // Enough to pass the 1 MiB limit several times: checkpoints happen on their own.
    for round in 0..40u32 {
        db.update(|tx| {
            let mut b = tx.bucket_mut(b"b")?;
            for i in 0..200u32 {
                b.put(&(round * 1000 + i).to_be_bytes(), &[round as u8; 300])?;
            }
            b.delete(&(round % 100).to_be_bytes())
        })
        .unwrap();
        if round == 20 {
            db.checkpoint().unwrap();
        }
    }
    // The old reader still sees exactly its version, through every checkpoint.
    assert_eq!(dump_json(&old).unwrap(), old_dump);
    assert!(old.check().unwrap().is_empty());
    drop(old);
    check_clean(&db);
    let want = dump(&db);
    drop(reopened(&crash_copy(&path), &want));
    drop(db);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_journal_that_does_not_follow_the_file_is_refused_and_nothing_changes() {
    let d = dir("mismatch");
    let path = d.join("db");
    let db = DB::open(&path, jopts()).unwrap();
    fill(&db, 0, 10);
    let copy = crash_copy(&path);
    drop(db);
    // Another program writes the file while the journal waits: Go, say, or Rivet without
    // the journal (which is told to leave it alone by moving it away).
    let journal = journal_of(&copy);
    let aside = d.join("aside");
    std::fs::rename(&journal, &aside).unwrap();
    let other = DB::open(&copy, Options::default()).unwrap();
    other.update(|tx| tx.create_bucket(b"theirs").map(drop)).unwrap();
    drop(other);
    std::fs::rename(&aside, &journal).unwrap();
    let (file_before, journal_before) = (std::fs::read(&copy).unwrap(), std::fs::read(&journal).unwrap());
    match DB::open(&copy, jopts()) {
        Err(Error::JournalMismatch { journal_base, file }) => assert!(file > journal_base),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&copy).unwrap(), file_before);
    assert_eq!(std::fs::read(&journal).unwrap(), journal_before);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_damaged_record_is_dropped_with_everything_after_it_and_reported() {
    let d = dir("damage");
    let path = d.join("db");
    let db = DB::open(&path, jopts()).unwrap();
    let mut states = Vec::new();
    for i in 0..5 {
        fill(&db, i * 10, i * 10 + 10);
        states.push(dump(&db));
    }
    let copy = crash_copy(&path);
    drop(db);
    // Flip a byte inside the fourth record: the first three are replayed, the rest dropped.
    // (Records: a 24-byte header whose first four bytes are the payload's length, then the
    // payload, from offset 64 on; zeros follow the last one.)
    let j = journal_of(&copy);
    let mut bytes = std::fs::read(&j).unwrap();
    let mut ends = vec![64usize];
    for _ in 0..5 {
        let at = *ends.last().unwrap();
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        ends.push(at + 24 + len);
    }
    assert!(bytes[ends[5]..].iter().all(|&b| b == 0));
    bytes[ends[3] + 30] ^= 0x40;
    std::fs::write(&j, &bytes).unwrap();
    let again = DB::open(&copy, jopts()).unwrap();
    let r = again.recovery().unwrap();
    assert_eq!(r.replayed, 3);
    let (dropped_at, dropped_bytes, _) = r.dropped.expect("reported");
    assert_eq!((dropped_at, dropped_at + dropped_bytes), (ends[3] as u64, bytes.len() as u64));
    assert_eq!(dump(&again), states[2]);
    check_clean(&again);
    drop(again);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_rolled_back_transaction_appends_nothing() {
    let d = dir("rollback");
    let path = d.join("db");
    let db = DB::open(&path, jopts()).unwrap();
    fill(&db, 0, 10);
    let len = std::fs::metadata(journal_of(&path)).unwrap().len();
    let mut tx = db.begin(true).unwrap();
    tx.bucket_mut(b"b").unwrap().put(b"gone", b"x").unwrap();
    tx.rollback();
    let r: Result<(), Error> = db.update(|tx| {
        tx.bucket_mut(b"b")?.put(b"gone", b"x")?;
        Err(Error::BucketNotFound)
    });
    assert!(r.is_err());
    assert_eq!(std::fs::metadata(journal_of(&path)).unwrap().len(), len);
    assert!(!dump(&db).contains(&hex(b"gone")));
    drop(db);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_transaction_too_large_for_the_journal_commits_as_a_checkpoint() {
    let d = dir("large");
    let path = d.join("db");
    let db = DB::open(&path, Options::default().journal(true).page_size(1024).journal_max_bytes(1 << 20)).unwrap();
    db.update(|_| Ok::<_, Error>(())).unwrap();
    db.update(|tx| tx.create_bucket(b"a")?.put(b"a", &[1; 224])).unwrap();
    let len = std::fs::metadata(journal_of(&path)).unwrap().len();
    db.update(|tx| {
        let mut b = tx.bucket_mut(b"a")?;
        for i in 0u32..400 {
            b.put(&i.to_be_bytes(), &vec![i as u8; 1500])?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    check_clean(&db);
    // No commit record: the transaction went to the file, and the journal starts over.
    assert!(std::fs::metadata(journal_of(&path)).unwrap().len() < len);
    let want = dump(&db);
    let again = reopened(&crash_copy(&path), &want);
    assert_eq!(again.recovery().map(|r| r.replayed), Some(0));
    drop((again, db));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_checkpoint_that_deletes_a_journaled_bucket_writes_none_of_its_pages() {
    let d = dir("large-delete");
    let path = d.join("db");
    let db = DB::open(&path, Options::default().journal(true).page_size(1024).journal_max_bytes(1 << 20)).unwrap();
    db.update(|tx| {
        let mut b = tx.create_bucket(b"gone")?;
        for i in 0u32..50 {
            b.put(&i.to_be_bytes(), &[3; 200])?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    db.update(|tx| {
        tx.delete_bucket(b"gone")?;
        let mut b = tx.create_bucket(b"big")?;
        for i in 0u32..400 {
            b.put(&i.to_be_bytes(), &vec![i as u8; 1500])?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
    check_clean(&db);
    drop(db);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn concurrent_commits_share_syncs_and_all_survive() {
    let d = dir("group");
    let path = d.join("db");
    let db = std::sync::Arc::new(DB::open(&path, jopts()).unwrap());
    db.update(|tx| tx.create_bucket(b"b").map(drop)).unwrap();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for t in 0u32..4 {
            let (db, order) = (db.clone(), order.clone());
            s.spawn(move || {
                for i in 0u32..50 {
                    if i % 3 == 0 {
                        // A rolled-back writer between commits still waiting for their sync
                        // must not make the next one start from an older version.
                        let mut tx = db.begin(true).unwrap();
                        tx.bucket_mut(b"b").unwrap().put(b"never", b"x").unwrap();
                        tx.rollback();
                    }
                    let mut tx = db.begin(true).unwrap();
                    let id = tx.id();
                    tx.bucket_mut(b"b").unwrap().put(&(t * 1000 + i).to_be_bytes(), b"v").unwrap();
                    let order = order.clone();
                    tx.on_commit(move || order.lock().unwrap().push(id));
                    tx.commit().unwrap();
                    // Acknowledged: a new reader sees it.
                    let seen =
                        db.view(|tx| Ok::<_, Error>(tx.bucket(b"b")?.get(&(t * 1000 + i).to_be_bytes())?.is_some()));
                    assert!(seen.unwrap());
                }
            });
        }
    });
    // Every callback ran, in commit order.
    let order = order.lock().unwrap().clone();
    assert_eq!(order.len(), 200);
    assert!(order.windows(2).all(|w| w[0] < w[1]), "callbacks out of commit order");
    let n = db.view(|tx| Ok::<_, Error>(tx.bucket(b"b")?.iter().count())).unwrap();
    assert_eq!(n, 200, "every acknowledged insert, nothing rolled back");
    check_clean(&db);
    let want = dump(&db);
    drop(reopened(&crash_copy(&path), &want));
    drop(db);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_backup_needs_a_checkpoint_first() {
    let d = dir("backup");
    let path = d.join("db");
    let db = DB::open(&path, jopts()).unwrap();
    fill(&db, 0, 100);
    let r = db.view(|tx| tx.copy_file(d.join("copy1")));
    assert!(matches!(r, Err(Error::NotCheckpointed { .. })), "{r:?}");
    assert!(!d.join("copy1").exists());
    db.checkpoint().unwrap();
    db.view(|tx| tx.copy_file(d.join("copy2"))).unwrap();
    let copy = DB::open(d.join("copy2"), Options::default().read_only(true)).unwrap();
    assert_eq!(dump(&copy), dump(&db));
    drop((copy, db));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_reset_that_lost_its_header_is_no_mismatch() {
    // A checkpoint's reset writes the new header and truncates; a power loss can keep the
    // truncation and lose the header: the journal then names the meta before the checkpoint
    // and holds no record. Nothing is lost, so the open goes on.
    let d = dir("lost-header");
    let path = d.join("db");
    let db = DB::open(&path, jopts()).unwrap();
    let old_header = std::fs::read(journal_of(&path)).unwrap()[..64].to_vec();
    fill(&db, 0, 10);
    db.checkpoint().unwrap();
    let want = dump(&db);
    let copy = crash_copy(&path);
    drop(db);
    let mut j = std::fs::read(journal_of(&copy)).unwrap();
    j.truncate(64);
    j[..64].copy_from_slice(&old_header);
    std::fs::write(journal_of(&copy), &j).unwrap();
    let again = reopened(&copy, &want);
    assert_eq!(again.recovery().map(|r| r.replayed), Some(0));
    fill(&again, 10, 20);
    drop(again);
    // But a journal of another history that holds commits is still refused (the mismatch test).
    std::fs::remove_dir_all(&d).unwrap();
}
