//! The `rivet` command. Today it has `dump` and `check`; the full bbolt-style tool (info,
//! stats, pages, compact, surgery, bench) is tracked in the CLI issue.

use std::process::ExitCode;

use rivet_engine::{Options, DB};

const USAGE: &str =
    "usage: rivet dump FILE   print the canonical JSON dump\n       rivet check FILE  run the consistency check";

fn run(cmd: &str, file: &str) -> Result<ExitCode, rivet_engine::Error> {
    let db = DB::open(file, Options::default().read_only(true).with_timeout(std::time::Duration::from_secs(5)))?;
    let tx = db.begin(false)?;
    match cmd {
        "dump" => {
            print!("{}", rivet_engine::dump::dump_json(&tx)?);
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            let problems = tx.check()?;
            for p in &problems {
                println!("ERROR {p}");
            }
            if problems.is_empty() {
                println!("OK");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("FAIL: {} problems", problems.len());
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, file] if cmd == "dump" || cmd == "check" => match run(cmd, file) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("rivet: {file}: {e}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
