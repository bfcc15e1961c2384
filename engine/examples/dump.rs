//! Prints the canonical JSON dump of a Rivet or bbolt file (the interop tool's `dump` format).
//!
//! `cargo run --release -p rivet-engine --example dump -- FILE`

use std::process::ExitCode;

use rivet_engine::{Options, DB};

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump FILE");
        return ExitCode::from(2);
    };
    let run = || -> Result<String, rivet_engine::Error> {
        let db = DB::open(&path, Options::default().read_only(true))?;
        let tx = db.begin(false)?;
        rivet_engine::dump::dump_json(&tx)
    };
    match run() {
        Ok(json) => {
            print!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dump: {path}: {e}");
            ExitCode::FAILURE
        }
    }
}
