use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Record, Serialize, Deserialize)]
struct Place {
    #[key]
    at: Point,
    name: String,
}

fn main() {}
