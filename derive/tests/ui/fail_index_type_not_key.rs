use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Post {
    #[key]
    id: u64,
    #[index]
    tags: Vec<String>,
}

fn main() {}
