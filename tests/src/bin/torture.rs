//! Long reliability runs: `cargo run -p rivet-tests --release --bin torture -- --budget 20m`.
//!
//! Runs simulated power loss at every I/O boundary, injected I/O errors, exhaustive meta damage,
//! random damage to Go-written and Rivet-written files, every truncation length, and real
//! `kill -9` of a committing child process, until the budget is spent and the minimum counts
//! are reached; power loss, I/O errors and kills run in journal mode too. Prints the seed
//! first, how the time split between the phases, and a summary line of the figures last; exits
//! non-zero on any failure (a failure panics with the seed and the case). `RIVET_SEED` replays.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use rivet_engine::{Options, DB};
use rivet_tests::journal_torture::{io_errors_journal, power_loss_journal};
use rivet_tests::kill::{child, kill_once};
use rivet_tests::torture::{io_errors, meta_damage, mutations, power_loss, truncations};
use rivet_tests::{fixtures, scratch_in_memory, seed, Rng};

struct Args {
    budget: Duration,
    min_images: usize,
    min_kills: usize,
    min_mutations: usize,
    min_journal_images: usize,
    min_journal_kills: usize,
}

const USAGE: &str = "usage: torture [--budget 20m] [--min-images N] [--min-kills N] [--min-mutations N] \
                     [--min-journal-images N] [--min-journal-kills N]";

fn parse_duration(s: &str) -> Option<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    Some(Duration::from_secs(match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return None,
    }))
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        budget: Duration::from_secs(120),
        min_images: 20_000,
        min_kills: 300,
        min_mutations: 20_000,
        min_journal_images: 20_000,
        min_journal_kills: 300,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        let mut count = |name: &str| -> Result<usize, String> { val()?.parse().map_err(|_| format!("bad {name}")) };
        match flag.as_str() {
            "--budget" => a.budget = parse_duration(&val()?).ok_or("bad --budget (e.g. 90s, 20m)")?,
            "--min-images" => a.min_images = count(&flag)?,
            "--min-kills" => a.min_kills = count(&flag)?,
            "--min-mutations" => a.min_mutations = count(&flag)?,
            "--min-journal-images" => a.min_journal_images = count(&flag)?,
            "--min-journal-kills" => a.min_journal_kills = count(&flag)?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// Where the time went: phase names and durations, printed at the end.
struct Phases {
    at: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Phases {
    fn end(&mut self, name: &'static str, what: String) {
        let took = self.at.elapsed();
        eprintln!("{name}: {what} in {took:.1?}");
        self.done.push((name, took));
        self.at = Instant::now();
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let child_args = || (argv.get(2).map(String::as_str).unwrap_or(""), argv.get(3).and_then(|s| s.parse().ok()));
    match argv.get(1).map(String::as_str) {
        Some("--child") => return child(child_args().0, child_args().1.unwrap_or(0), false),
        Some("--child-journal") => return child(child_args().0, child_args().1.unwrap_or(0), true),
        _ => {}
    }
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("torture: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let seed = seed(0x7071_7572);
    let started = Instant::now();
    let left = || args.budget.saturating_sub(started.elapsed());
    // Files in memory when the machine allows: power loss is simulated, so the real syncs of
    // the checking opens and the workloads test nothing and would take most of the time.
    let dir = scratch_in_memory();
    eprintln!("scratch: {}", dir.path().display());
    let exe = std::env::current_exe().unwrap_or_default();
    let mut ph = Phases { at: Instant::now(), done: Vec::new() };
    let (mut images, mut faults, mut metas, mut mutated, mut truncated, mut kills) = (0, 0, 0, 0, 0, 0);
    let (mut j_images, mut j_checkpoints, mut j_faults, mut j_kills, mut j_replayed) = (0, 0, 0, 0, 0);

    // Meta damage: every byte of both meta pages, every value.
    metas += meta_damage(dir.path(), 4096);
    ph.end("meta damage", format!("{metas} opens"));

    // Injected I/O errors: a few workloads, every fault at every operation; then in journal
    // mode (journal appends, syncs and resets, checkpoints).
    for s in 0..3 {
        faults += io_errors(dir.path(), seed + s, 4);
    }
    ph.end("I/O faults", format!("{faults} runs"));
    for s in 0..4 {
        j_faults += io_errors_journal(dir.path(), seed.wrapping_add(500 + s), 6);
    }
    ph.end("journal I/O faults", format!("{j_faults} runs"));

    // Truncations of a Go fixture and of an engine file, every length (step 1 on a small one).
    let small = std::fs::read(rivet_tests::fixtures_dir().join("one_bucket.db")).unwrap_or_default();
    truncated += truncations(dir.path(), &small, 1);
    ph.end("truncations", format!("{truncated} files"));

    // Kill -9 of a committing child, without and with the journal.
    let mut rng = Rng::new(seed);
    for journal in [false, true] {
        let (min, n) = if journal { (args.min_journal_kills, &mut j_kills) } else { (args.min_kills, &mut kills) };
        let db = dir.path().join(if journal { "kill-journal.db" } else { "kill.db" });
        let mut next = 0;
        // Extra kills (up to three times the minimum) only early in the budget: power loss needs
        // the second half.
        let share = if journal { args.budget * 5 / 8 } else { args.budget * 3 / 4 };
        while *n < min || (*n < min * 3 && left() > share) {
            match kill_once(&exe, &db, &mut next, &mut rng, journal) {
                Ok(r) => j_replayed += r,
                Err(e) => {
                    eprintln!("torture: kill #{n} (journal {journal}, seed {seed}): {e}");
                    return ExitCode::FAILURE;
                }
            }
            *n += 1;
        }
        let what = format!("{n} (last acknowledged commit {next})");
        ph.end(if journal { "journal kills" } else { "kills" }, what);
    }

    // Mutated files: Go fixtures and an engine-written file, round robin.
    let mut sources: Vec<Vec<u8>> =
        fixtures().iter().filter_map(|f| std::fs::read(f).ok()).filter(|b| b.len() <= 2 << 20).collect();
    {
        let p = dir.path().join("own.db");
        if let Ok(db) = DB::open(&p, Options::default().page_size(1024)) {
            rivet_tests::random_mix(&db, seed, 5, 40);
        }
        sources.extend(std::fs::read(&p).ok());
    }
    let mut round = 0u64;
    while mutated < args.min_mutations || (left() > args.budget * 3 / 5 && mutated < args.min_mutations * 5) {
        let src = &sources[(round as usize) % sources.len()];
        mutated += mutations(dir.path(), src, seed.wrapping_add(round), 100);
        round += 1;
    }
    ph.end("mutated files", format!("{mutated}"));

    // Power loss with the rest of the budget (at least the minimums), without and with the
    // journal.
    let (mut s, mut js) = (0, 0);
    let (mut plain_time, mut journal_time) = (Duration::ZERO, Duration::ZERO);
    while images < args.min_images || j_images < args.min_journal_images || left() > Duration::ZERO {
        let t = Instant::now();
        // Until both minimums are met, the mode furthest behind its own; then the one that has
        // had less time (plain images are several times cheaper).
        let behind = |done: usize, min: usize| done as f64 / min.max(1) as f64;
        let plain_next = if images >= args.min_images && j_images >= args.min_journal_images {
            plain_time <= journal_time
        } else {
            behind(images, args.min_images) <= behind(j_images, args.min_journal_images)
        };
        if plain_next {
            images += power_loss(dir.path(), seed.wrapping_add(1000 + s), 8, 4);
            s += 1;
            plain_time += t.elapsed();
        } else {
            let r = power_loss_journal(dir.path(), seed.wrapping_add(2_000_000 + js), 10, 2);
            (j_images, j_checkpoints) = (j_images + r.images, j_checkpoints + r.checkpoints);
            js += 1;
            journal_time += t.elapsed();
        }
    }
    ph.end(
        "power loss",
        format!("{images} images in {plain_time:.1?}; journal mode {j_images} images in {journal_time:.1?}"),
    );
    let split: Vec<String> = ph.done.iter().map(|(n, d)| format!("{n} {:.0}s", d.as_secs_f64())).collect();
    eprintln!("time split: {}", split.join(", "));
    eprintln!(
        "journal mode: {js} recordings, {j_checkpoints} checkpoints recorded; {j_replayed} commits replayed after kills"
    );
    println!(
        "torture: {images} crash images, {faults} I/O fault runs, {metas} meta-damage opens, {mutated} mutated files, \
         {truncated} truncations, {kills} kill -9; journal mode: {j_images} crash images, {j_faults} I/O fault runs, \
         {j_kills} kill -9; 0 failures; seed {seed}; {:.0?}",
        started.elapsed()
    );
    ExitCode::SUCCESS
}
