use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
#[rivet(buckets = "notes")]
struct Note {
    #[key(autoincrement)]
    id: u64,
    #[index(uniq)]
    text: String,
}

fn main() {}
