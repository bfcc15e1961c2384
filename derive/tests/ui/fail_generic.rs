use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
struct Boxed<T> {
    #[key]
    id: u64,
    value: T,
}

fn main() {}
