use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Note {
    #[key(auto)]
    id: u64,
    #[key(auto)]
    other: u64,
}

fn main() {}
