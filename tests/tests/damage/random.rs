//! Random damage in data pages (1-3 mutations per copy of every fixture) never panics or hangs,
//! and is mostly detected.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rivet_engine::format::meta::fnv1a64;
use rivet_tests::{fixtures, scratch, Rng};

use crate::exercise::exercise;
use crate::helpers::write;
use crate::raw::{active_meta, get16, hexs, page_size_of, put32, put64, walk_tree, NO_FREELIST};

/// Applies 1-3 random mutations to pages 2..hwm (mostly pages in use) and describes them.
fn mutate(img: &mut [u8], ps: usize, hwm: u64, used: &[u64], rng: &mut Rng) -> Vec<String> {
    let mut log = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let page = if !used.is_empty() && rng.below(5) != 0 {
            used[rng.below(used.len() as u64) as usize]
        } else {
            2 + rng.below(hwm - 2)
        };
        let base = page as usize * ps;
        let count = get16(img, base + 10) as usize;
        let elems = (16 + 16 * count).min(ps);
        let kind = rng.below(8);
        let (off, len) = match kind {
            0 => (rng.below(16) as usize, 1),                                 // header byte
            1 => (16 + rng.below((elems - 16).max(1) as u64) as usize, 1),    // element header byte
            2 => (rng.below(ps as u64) as usize, 1),                          // any byte
            3 => (4 * rng.below(((elems / 4) as u64).max(1)) as usize, 4),    // u32 in headers
            4 => (8 * rng.below(((elems / 8) as u64).max(1)) as usize, 8),    // u64 in headers
            5 => (16 * rng.below(((elems / 16) as u64).max(1)) as usize, 16), // copy an element
            6 => (rng.below(ps as u64) as usize, 0),                          // bit flip
            _ => (0, ps),                                                     // whole page from another
        };
        let off = off.min(ps - len.max(1));
        let old: Vec<u8> = img[base + off..base + off + len.max(1)].to_vec();
        match kind {
            0..=2 => img[base + off] = rng.next_u64() as u8,
            3 => {
                let v = [0u32, 1, 2, 0xFFFF, 0xFFFF_FFFF, 0x8000_0000, ps as u32, ps as u32 - 1, rng.below(64) as u32];
                put32(img, base + off, v[rng.below(v.len() as u64) as usize]);
            }
            4 => {
                let other = used.get(rng.below(used.len().max(1) as u64) as usize).copied().unwrap_or(3);
                let v = [0u64, 1, 2, hwm - 1, hwm, hwm + 1, u64::MAX, other, page, rng.next_u64()];
                put64(img, base + off, v[rng.below(v.len() as u64) as usize]);
            }
            5 => {
                let from = 16 * rng.below(((elems / 16) as u64).max(1)) as usize;
                let src: Vec<u8> = img[base + from..base + from + 16].to_vec();
                img[base + off..base + off + 16].copy_from_slice(&src);
            }
            6 => img[base + off] ^= 1 << rng.below(8),
            _ => {
                let src_page = 2 + rng.below(hwm - 2) as usize;
                let src = img[src_page * ps..src_page * ps + ps].to_vec();
                img[base..base + ps].copy_from_slice(&src);
                log.push(format!("page {page}: whole page replaced by a copy of page {src_page}"));
                continue;
            }
        }
        let new = &img[base + off..base + off + len.max(1)];
        log.push(format!("page {page} offset {off} (file offset {}): {} -> {}", base + off, hexs(&old), hexs(new)));
    }
    log
}

/// Copies per fixture, by size: about 600 in total, a few seconds. `RIVET_DAMAGE_SCALE=N`
/// multiplies the count for longer hunts; `RIVET_DAMAGE_CASE=NAME.db:CASE` replays one case.
fn copies_for(len: usize) -> usize {
    let scale = std::env::var("RIVET_DAMAGE_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    scale
        * match len {
            0..=300_000 => 50,
            300_001..=2_500_000 => 25,
            _ => 10,
        }
}

/// Stop after this many panics or hangs (a hung thread keeps spinning until the process ends;
/// bounded loops do not count).
const MAX_FAILURES: usize = 3;

#[test]
fn random_page_damage_never_panics() {
    let seed = rivet_tests::seed(0x0BAD_F00D);
    let dir = scratch();
    let started = Instant::now();
    let mut failures = Vec::new();
    let mut stuck = 0; // panics and hangs (a hung thread keeps spinning until the process ends)
    let mut totals = [0usize; 6];
    let mut disagreements = Vec::new();
    // Replay one case: RIVET_DAMAGE_CASE=NAME.db:CASE (with the same RIVET_SEED).
    let only = std::env::var("RIVET_DAMAGE_CASE").ok();
    'fixtures: for f in fixtures() {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let base = std::fs::read(&f).unwrap();
        let ps = page_size_of(&base);
        let hwm = active_meta(&base, ps).hwm;
        let mut used = walk_tree(&base, ps).used;
        let fl = active_meta(&base, ps).freelist;
        if fl != NO_FREELIST {
            used.push(fl);
        }
        for case in 0..copies_for(base.len()) {
            if only.as_ref().is_some_and(|o| *o != format!("{name}:{case}")) {
                continue;
            }
            let case_seed = seed ^ (fnv1a64(name.as_bytes()).rotate_left(17)) ^ (case as u64).wrapping_mul(0x9E37_79B9);
            let mut rng = Rng::new(case_seed);
            let mut img = base.clone();
            let log = mutate(&mut img, ps, hwm, &used, &mut rng);
            let path = write(dir.path(), &format!("rand-{case}-{name}"), &img);
            let (tx, rx) = mpsc::channel();
            let p = path.clone();
            std::thread::spawn(move || {
                let r = catch_unwind(AssertUnwindSafe(|| exercise(&p)));
                let _ = tx.send(r);
            });
            let what = format!("fixture {name}, case {case}, case seed {case_seed:#x} (RIVET_SEED={seed}): {log:?}");
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(Ok(o)) if !o.wrong.is_empty() => failures.push(format!("{:?}: {what}", o.wrong)),
                Ok(Ok(o)) => {
                    totals[0] += 1;
                    totals[1] += o.open_failed as usize;
                    totals[2] += o.check_problems as usize;
                    totals[3] += (o.dump_err || o.check_err) as usize;
                    totals[4] += o.write_ok as usize;
                    if o.dump_err && !o.check_problems && !o.check_err {
                        disagreements.push(what.clone());
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Ok(Err(_)) => {
                    stuck += 1;
                    failures.push(format!("PANIC: {what}"))
                }
                Err(_) => {
                    stuck += 1;
                    failures.push(format!("HANG (30 s): {what}"))
                }
            }
            if stuck >= MAX_FAILURES {
                break 'fixtures;
            }
        }
    }
    eprintln!(
        "random damage: {} copies in {:.1?}: open failed {}, check found problems {}, dump/check errors {}, writes committed {}",
        totals[0] + failures.len(),
        started.elapsed(),
        totals[1],
        totals[2],
        totals[3],
        totals[4]
    );
    for d in &disagreements {
        eprintln!("note: dump failed but check() found nothing: {d}");
    }
    failures.sort_by_key(|f| f.contains("LOOP")); // panics, hangs and broken files first
    let shown: Vec<&str> = failures.iter().take(20).map(String::as_str).collect();
    assert!(
        failures.is_empty(),
        "{} damaged copies panicked, hung or misbehaved (first {} shown):\n{}",
        failures.len(),
        shown.len(),
        shown.join("\n")
    );
    assert!(totals[2] + totals[3] > totals[0] / 4, "the damage was rarely detected: {totals:?}");
}
