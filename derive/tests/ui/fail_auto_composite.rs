use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Line {
    #[key]
    order: u64,
    #[key(auto)]
    line: u32,
}

fn main() {}
