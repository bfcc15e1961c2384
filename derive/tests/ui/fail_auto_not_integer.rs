use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Tag {
    #[key(auto)]
    name: String,
}

fn main() {}
