use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Post {
    #[key]
    id: u64,
    // `each` needs a collection of keys.
    #[index(each)]
    tag: String,
}

fn main() {}
