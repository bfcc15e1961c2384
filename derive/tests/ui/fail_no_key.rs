use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Note {
    id: u64,
    text: String,
}

fn main() {}
