use rivet::Record;
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize)]
#[rivet(index(name = "email", fields(email, name)))]
struct User {
    #[key]
    id: u64,
    #[index]
    email: String,
    name: String,
}

fn main() {}
