//! Schema evolution attributes: `from`, `renamed_from`, `#[derive(Layout)]` on nested types,
//! and serde's `rename_all`, built and run against a real file.

use rivet::{Layout, Record, Store};
use serde::{Deserialize, Serialize};

/// Release 1: serialized names in camelCase, nested types described field by field.
mod v1 {
    use super::*;

    #[derive(Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Address {
        pub street: String,
        pub zip: u32,
    }

    #[derive(Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub enum Plan {
        Free,
        Seats(u32),
        Pair(u8, u8),
        Custom { cents: i64, note: Option<String> },
    }

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "customers")]
    #[serde(rename_all = "camelCase")]
    pub struct Customer {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email_address: String,
        pub full_name: String,
        pub home_address: Address,
        pub plan: Plan,
    }
}

/// Release 2, same version: a field renamed (by its serialized name), a nested struct that
/// lost a field, a field added with a default.
mod renamed {
    use super::*;

    #[derive(Layout, Serialize, Deserialize, Debug, Clone, PartialEq)]
    pub struct Address {
        pub street: String,
    }

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "customers")]
    #[serde(rename_all = "camelCase")]
    pub struct Customer {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email_address: String,
        #[rivet(renamed_from = "fullName")]
        pub display_name: String,
        pub home_address: Address,
        pub plan: v1::Plan,
        #[serde(default)]
        pub vip: bool,
    }
}

/// Release 3: a new version, upgraded from release 2's type.
mod v2 {
    use super::*;

    #[derive(Record, Serialize, Deserialize, Debug, Clone)]
    #[rivet(bucket = "customers", version = 2, from = renamed::Customer)]
    #[serde(rename_all = "camelCase")]
    pub struct Customer {
        #[key(auto)]
        pub id: u64,
        #[index(unique)]
        pub email_address: String,
        pub display_name: String,
        #[index]
        pub seats: u32,
    }

    impl From<renamed::Customer> for Customer {
        fn from(c: renamed::Customer) -> Self {
            let seats = match c.plan {
                v1::Plan::Free => 1,
                v1::Plan::Seats(n) => n,
                v1::Plan::Pair(a, b) => u32::from(a) + u32::from(b),
                v1::Plan::Custom { .. } => 100,
            };
            Customer { id: c.id, email_address: c.email_address, display_name: c.display_name, seats }
        }
    }
}

fn main() {
    let s = v1::Customer::schema();
    let names: Vec<&str> = s.fields.iter().map(|f| f.shape.name.as_str()).collect();
    assert_eq!(names, ["id", "emailAddress", "fullName", "homeAddress", "plan"]);
    assert_eq!(s.field("homeAddress").unwrap().shape.shape.to_string(), "struct Address {street: string, zip: u32}");
    assert!(s.field("plan").unwrap().shape.shape.is_described());
    let r = renamed::Customer::schema();
    assert_eq!(r.field("displayName").unwrap().renamed_from, ["fullName"]);
    assert!(r.field("vip").unwrap().default);
    let s2 = v2::Customer::schema();
    assert_eq!(s2.version, 2);
    assert_eq!(s2.previous.map(|p| p().type_name), Some("Customer"));
    assert_eq!(s2.previous.map(|p| p().version), Some(1));

    let path = std::env::temp_dir().join(format!("rivet-pass-evolve-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path).unwrap();
    store
        .write(|tx| {
            for (i, plan) in [v1::Plan::Free, v1::Plan::Seats(5), v1::Plan::Pair(2, 3)].into_iter().enumerate() {
                tx.insert(&mut v1::Customer {
                    id: 0,
                    email_address: format!("c{i}@example.com"),
                    full_name: format!("Customer {i}"),
                    home_address: v1::Address { street: "Main St".into(), zip: 1000 + i as u32 },
                    plan,
                })?;
            }
            Ok(())
        })
        .unwrap();
    let c = store.read(|tx| tx.get::<renamed::Customer>(2u64)).unwrap().unwrap();
    assert_eq!((c.display_name.as_str(), c.home_address.street.as_str(), c.vip), ("Customer 1", "Main St", false));
    assert_eq!(store.migrate::<v2::Customer>(2, |_| {}).unwrap().rewritten, 3);
    let c = store.read(|tx| tx.index(v2::Customer::email_address).get("c2@example.com")).unwrap().unwrap();
    assert_eq!((c.display_name.as_str(), c.seats), ("Customer 2", 5));
    assert_eq!(store.read(|tx| tx.index(v2::Customer::seats).equal(5u32).count()).unwrap(), 2);
    drop(store);
    let _ = std::fs::remove_file(&path);
}
