//! `rivet-bench`: the benchmark driver (with `--worker`, one contender's run; with `--chart`, the
//! charts of stored results). See the crate documentation of `rivet_bench` and `--help`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = if args.first().map(String::as_str) == Some("--worker") {
        rivet_bench::driver::worker_main(&args)
    } else if args.first().map(String::as_str) == Some("--chart") {
        charts(&args[1..])
    } else {
        match rivet_bench::driver::Args::parse(&args) {
            Ok(a) => rivet_bench::driver::main(a),
            Err(msg) => {
                eprintln!("{msg}");
                if msg == rivet_bench::driver::USAGE {
                    0
                } else {
                    2
                }
            }
        }
    };
    std::process::exit(code);
}

/// `--chart FILE.json...`: redraws the charts of stored results beside each file.
fn charts(files: &[String]) -> i32 {
    if files.is_empty() {
        eprintln!("rivet-bench --chart: name one or more results files (written with --json)");
        return 2;
    }
    let mut code = 0;
    for f in files {
        match rivet_bench::chart::write_charts(std::path::Path::new(f)) {
            Ok(written) => written.iter().for_each(|p| eprintln!("rivet-bench: wrote {}", p.display())),
            Err(e) => {
                eprintln!("rivet-bench --chart: {e}");
                code = 1;
            }
        }
    }
    code
}
