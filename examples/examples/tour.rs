//! The tour: Rivet's typed store on a real database file.
//!
//! It declares users and orders with `#[derive(Record)]`, inserts them with autoincrement ids,
//! looks a user up by a unique index, lists a user's orders by a prefix of the composite key,
//! scans time ranges, paginates, and shows a unique violation refusing a whole transaction.
//!
//! `cargo run --release -p rivet-examples --example tour [-- PATH]`
//!
//! The file is `tour.db` in the current directory unless a path is given; an existing file is
//! replaced, and the new one is left for inspection (`rivet dump tour.db`, or bbolt's tools:
//! it is an ordinary bbolt file; the layout is described in the `rivet` crate docs).

use std::path::PathBuf;

use rivet::{Error, Record, Store};
use serde::{Deserialize, Serialize};

/// A user, stored in bucket `users` under an autoincrement id.
#[derive(Record, Serialize, Deserialize, Debug, Clone)]
#[rivet(bucket = "users")]
struct User {
    #[key(auto)]
    id: u64,
    #[index(unique)]
    email: String,
    #[index]
    country: String,
    /// Indexed only when known.
    #[index]
    born: Option<i32>,
    name: String,
}

/// An order, keyed by (user, time): a user's orders sit together, in time order.
#[derive(Record, Serialize, Deserialize, Debug, Clone)]
#[rivet(bucket = "orders", index(name = "by_sku_time", fields(sku, at)))]
struct Order {
    #[key]
    user: u64,
    /// Unix seconds.
    #[key]
    at: i64,
    sku: String,
    cents: i64,
}

/// 2024-05-01 00:00 UTC.
const MAY_1: i64 = 1_714_521_600;

fn at(day: i64, hour: i64, minute: i64) -> i64 {
    MAY_1 + (day - 1) * 86_400 + hour * 3_600 + minute * 60
}

fn when(t: i64) -> String {
    let s = t - MAY_1;
    format!("2024-05-{:02} {:02}:{:02}", s / 86_400 + 1, s % 86_400 / 3_600, s % 3_600 / 60)
}

fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

fn show(o: &Order) -> String {
    format!("user {} at {}: {} for {}", o.user, when(o.at), o.sku, money(o.cents))
}

fn step(title: &str) {
    println!("\n== {title}");
}

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("tour.db"));
    if path.exists() {
        std::fs::remove_file(&path)
            .map_err(|source| Error::Engine(rivet::engine::Error::Io { op: "remove", path: path.clone(), source }))?;
    }
    let store = Store::open(&path)?;
    println!("created {}", path.display());

    step("insert users: ids come from the bucket's sequence");
    let people = [
        ("ada@example.com", "GB", Some(1815), "Ada Lovelace"),
        ("grace@example.com", "US", Some(1906), "Grace Hopper"),
        ("alan@example.com", "GB", Some(1912), "Alan Turing"),
        ("edsger@example.com", "NL", Some(1930), "Edsger Dijkstra"),
        ("barbara@example.com", "US", Some(1939), "Barbara Liskov"),
        ("anon@example.com", "NO", None, "Anonymous"),
    ];
    let ids = store.write(|tx| {
        let mut ids = Vec::new();
        for (email, country, born, name) in people {
            let mut u = User { id: 0, email: email.into(), country: country.into(), born, name: name.into() };
            let id = tx.insert(&mut u)?;
            println!("  inserted #{id}: {} <{}>", u.name, u.email);
            ids.push(id);
        }
        Ok(ids)
    })?;

    step("insert orders, keyed by (user, time)");
    let orders = [
        (ids[0], at(1, 9, 30), "loom", 120_000),
        (ids[0], at(3, 14, 0), "punch-cards", 2_500),
        (ids[0], at(9, 11, 15), "gear", 300),
        (ids[1], at(2, 10, 0), "compiler", 99_900),
        (ids[1], at(4, 16, 45), "gear", 300),
        (ids[2], at(3, 8, 5), "bombe", 450_000),
        (ids[2], at(5, 12, 0), "gear", 600),
        (ids[3], at(6, 9, 0), "semaphore", 1_200),
        (ids[4], at(7, 13, 30), "gear", 900),
        (ids[4], at(8, 15, 0), "clu-manual", 4_000),
    ];
    store.write(|tx| {
        for (user, t, sku, cents) in orders {
            tx.insert(&mut Order { user, at: t, sku: sku.into(), cents })?;
        }
        println!("  inserted {} orders", tx.count::<Order>()?);
        Ok(())
    })?;

    store.read(|tx| {
        step("look up by unique index: tx.index(User::email).get(..)");
        let grace = tx.index(User::email).get("grace@example.com")?;
        match &grace {
            Some(u) => println!(
                "  grace@example.com -> #{} {} ({}, born {})",
                u.id,
                u.name,
                u.country,
                u.born.unwrap_or_default()
            ),
            None => println!("  grace@example.com -> not found"),
        }

        step("a user's orders by composite-key prefix: tx.prefix::<Order>((ada,))");
        let ada = ids[0];
        for o in tx.prefix::<Order>((ada,)) {
            println!("  {}", show(&o?));
        }

        step("time range on the primary key: Ada's orders in May 2..8");
        for o in tx.range::<Order>((ada, at(2, 0, 0))..(ada, at(9, 0, 0))) {
            println!("  {}", show(&o?));
        }

        step("time range on a composite index: gears sold May 1..6 (index by_sku_time)");
        let gears =
            tx.index(Order::by_sku_time).range(("gear".to_string(), at(1, 0, 0))..("gear".to_string(), at(6, 0, 0)));
        for o in gears {
            println!("  {}", show(&o?));
        }

        step("index equality and range: users in GB; users born 1900..1935");
        let british: Vec<String> =
            tx.index(User::country).equal("GB").map(|u| u.map(|u| u.name)).collect::<Result<_, _>>()?;
        println!("  GB: {british:?}");
        let born: Vec<String> = tx
            .index(User::born)
            .range(1900..1935)
            .map(|u| u.map(|u| format!("{} ({})", u.name, u.born.unwrap_or_default())))
            .collect::<Result<_, _>>()?;
        println!("  born 1900..1935: {born:?} (Anonymous has no birth year, so is not in that index)");

        step("paginate: all orders, newest user first, 4 per page, continuing with .after(last key)");
        let mut after: Option<(u64, i64)> = None;
        let mut page_no = 1;
        loop {
            let q = tx.scan::<Order>().rev().limit(4);
            let page = match after {
                Some(k) => q.after(k).to_vec()?,
                None => q.to_vec()?,
            };
            let Some(last) = page.last() else { break };
            after = Some(last.key());
            println!("  page {page_no}:");
            for o in &page {
                println!("    {}", show(o));
            }
            page_no += 1;
        }
        Ok(())
    })?;

    step("a unique violation, returned from the closure, rolls the whole transaction back");
    let before = store.read(|tx| tx.count::<User>())?;
    let refused = store.write(|tx| {
        let id = tx.insert(&mut User {
            id: 0,
            email: "linus@example.com".into(),
            country: "FI".into(),
            born: Some(1969),
            name: "Linus".into(),
        })?;
        println!("  inserted #{id} Linus in this transaction...");
        tx.insert(&mut User {
            id: 0,
            email: "ada@example.com".into(),
            country: "GB".into(),
            born: None,
            name: "Impostor".into(),
        })?;
        Ok(())
    });
    match refused {
        Err(e) => println!("  ...then refused: {e}"),
        Ok(()) => println!("  ...unexpectedly accepted"),
    }
    let after =
        store.read(|tx| Ok((tx.count::<User>()?, tx.index(User::email).get("linus@example.com")?.is_some())))?;
    println!("  users before: {before}, after: {} (Linus stored: {})", after.0, after.1);

    step("reopen and check");
    drop(store);
    let store = Store::open(&path)?;
    let (users, orders, problems) = store.read(|tx| {
        let mut problems: Vec<String> = tx.engine().check()?.iter().map(ToString::to_string).collect();
        problems.extend(tx.verify::<User>()?.iter().map(ToString::to_string));
        problems.extend(tx.verify::<Order>()?.iter().map(ToString::to_string));
        Ok((tx.count::<User>()?, tx.count::<Order>()?, problems))
    })?;
    println!(
        "  {users} users, {orders} orders, next user id {}; {} bytes on disk; check: {}",
        store.read(|tx| tx.sequence::<User>())? + 1,
        std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
        if problems.is_empty() { "OK".to_string() } else { format!("{problems:?}") }
    );
    println!("\nleft {} for inspection (try `rivet dump {}`)", path.display(), path.display());
    Ok(())
}
