//! Long reliability runs: `cargo run -p rivet-tests --release --bin torture -- --budget 20m`.
//!
//! Runs simulated power loss at every I/O boundary, injected I/O errors, exhaustive meta damage,
//! random damage to Go-written and Rivet-written files, every truncation length, and real
//! `kill -9` of a committing child process, until the budget is spent and the minimum counts
//! are reached. Prints the seed first and a summary line of the figures last; exits non-zero on
//! any failure (a failure panics with the seed and the case). `RIVET_SEED` replays.

use std::io::{BufRead, BufReader};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rivet_engine::{Error, Options, DB};
use rivet_tests::torture::{io_errors, meta_damage, mutations, power_loss, truncations};
use rivet_tests::{fixtures, scratch, seed, Rng};

struct Args {
    budget: Duration,
    min_images: usize,
    min_kills: usize,
    min_mutations: usize,
}

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
    let mut a = Args { budget: Duration::from_secs(120), min_images: 20_000, min_kills: 300, min_mutations: 20_000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--budget" => a.budget = parse_duration(&val()?).ok_or("bad --budget (e.g. 90s, 20m)")?,
            "--min-images" => a.min_images = val()?.parse().map_err(|_| "bad --min-images")?,
            "--min-kills" => a.min_kills = val()?.parse().map_err(|_| "bad --min-kills")?,
            "--min-mutations" => a.min_mutations = val()?.parse().map_err(|_| "bad --min-mutations")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

/// The child side of the kill test: commit forever, acknowledging each commit on stdout.
fn child(path: &str, start: u64) -> ExitCode {
    let Ok(db) = DB::open(path, Options::default()) else { return ExitCode::FAILURE };
    let mut i = start;
    loop {
        let r = db.update(|tx| {
            let mut b = tx.create_bucket_if_not_exists(b"acks")?;
            b.put(&i.to_be_bytes(), &[i as u8; 200])?;
            if i.is_multiple_of(7) {
                b.delete(&(i / 2).to_be_bytes())?;
                b.put(&(i / 2).to_be_bytes(), &[(i / 2) as u8; 200])?;
            }
            Ok::<_, Error>(())
        });
        if r.is_err() {
            return ExitCode::FAILURE;
        }
        println!("ACK {i}");
        i += 1;
    }
}

/// Kills a committing child at a random moment and checks every acknowledged commit survived.
fn kill_once(exe: &std::path::Path, path: &std::path::Path, next: &mut u64, rng: &mut Rng) -> Result<(), String> {
    let mut child = Command::new(exe)
        .args(["--child", path.to_str().ok_or("path")?, &next.to_string()])
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
    let db = DB::open(path, Options::default()).map_err(|e| format!("reopen after kill: {e}"))?;
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
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("--child") {
        let start = argv.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        return child(argv.get(2).map(String::as_str).unwrap_or(""), start);
    }
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "torture: {e}\nusage: torture [--budget 20m] [--min-images N] [--min-kills N] [--min-mutations N]"
            );
            return ExitCode::from(2);
        }
    };
    let seed = seed(0x7071_7572);
    let started = Instant::now();
    let left = || args.budget.saturating_sub(started.elapsed());
    let dir = scratch();
    let exe = std::env::current_exe().unwrap_or_default();
    let (mut images, mut faults, mut metas, mut mutated, mut truncated, mut kills) = (0, 0, 0, 0, 0, 0);

    // Meta damage: every byte of both meta pages, every value.
    metas += meta_damage(dir.path(), 4096);
    eprintln!("meta damage: {metas} opens");

    // Injected I/O errors: a few workloads, every fault at every operation.
    for s in 0..3 {
        faults += io_errors(dir.path(), seed + s, 4);
    }
    eprintln!("I/O faults: {faults} runs");

    // Truncations of a Go fixture and of an engine file, every length (step 1 on a small one).
    let small = std::fs::read(rivet_tests::fixtures_dir().join("one_bucket.db")).unwrap_or_default();
    truncated += truncations(dir.path(), &small, 1);
    eprintln!("truncations: {truncated}");

    // Kill -9 of a committing child.
    let kill_db = dir.path().join("kill.db");
    let mut rng = Rng::new(seed);
    let mut next = 0;
    while kills < args.min_kills || (kills < args.min_kills * 3 && left() > args.budget / 2) {
        if let Err(e) = kill_once(&exe, &kill_db, &mut next, &mut rng) {
            eprintln!("torture: kill #{kills} (seed {seed}): {e}");
            return ExitCode::FAILURE;
        }
        kills += 1;
    }
    eprintln!("kills: {kills} (last acknowledged commit {next})");

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
    while mutated < args.min_mutations || (left() > args.budget / 3 && mutated < args.min_mutations * 5) {
        let src = &sources[(round as usize) % sources.len()];
        mutated += mutations(dir.path(), src, seed.wrapping_add(round), 100);
        round += 1;
    }
    eprintln!("mutated files: {mutated}");

    // Power loss with the rest of the budget (at least the minimum).
    let mut s = 0;
    while images < args.min_images || left() > Duration::ZERO {
        images += power_loss(dir.path(), seed.wrapping_add(1000 + s), 8, 4);
        s += 1;
    }
    println!(
        "torture: {images} crash images, {faults} I/O fault runs, {metas} meta-damage opens, {mutated} mutated files, \
         {truncated} truncations, {kills} kill -9; 0 failures; seed {seed}; {:.0?}",
        started.elapsed()
    );
    ExitCode::SUCCESS
}
