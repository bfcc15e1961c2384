use rivet::Record;
use serde::{Deserialize, Serialize};

mod v1 {
    use super::*;

    #[derive(Record, Serialize, Deserialize)]
    #[rivet(bucket = "users")]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        pub name: String,
    }
}

/// `from` without a version: the default version is 1, not above the predecessor's.
#[derive(Record, Serialize, Deserialize)]
#[rivet(bucket = "users", from = v1::User)]
pub struct User {
    #[key(auto)]
    pub id: u64,
    pub name: String,
    pub email: String,
}

mod same_version {
    use super::*;

    /// `from` with `version = 1`: the same.
    #[derive(Record, Serialize, Deserialize)]
    #[rivet(bucket = "users", version = 1, from = v1::User)]
    pub struct User {
        #[key(auto)]
        pub id: u64,
        pub name: String,
        pub email: String,
    }
}

impl From<v1::User> for User {
    fn from(u: v1::User) -> Self {
        User { id: u.id, name: u.name, email: String::new() }
    }
}

impl From<v1::User> for same_version::User {
    fn from(u: v1::User) -> Self {
        same_version::User { id: u.id, name: u.name, email: String::new() }
    }
}

fn main() {}
