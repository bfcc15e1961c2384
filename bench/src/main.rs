//! `rivet-bench`: the benchmark driver (and, with `--worker`, one contender's run).
//! See the crate documentation of `rivet_bench` and `--help`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = if args.first().map(String::as_str) == Some("--worker") {
        rivet_bench::driver::worker_main(&args)
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
