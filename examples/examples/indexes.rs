//! Secondary indexes: unique, non-unique, sparse (`Option`) and composite; queries by
//! equality, range and prefix, reversed and paginated; and how indexes follow updates.
//!
//! `cargo run -p rivet-examples --example indexes [-- PATH]` (default: a file in the system
//! temp directory, recreated on each run).

use std::path::PathBuf;

use rivet::{Error, Record, Store};
use serde::{Deserialize, Serialize};

#[derive(Record, Serialize, Deserialize, Debug, Clone)]
#[rivet(index(name = "by_genre_year", fields(genre, year)))]
struct Book {
    #[key]
    isbn: String,
    #[index(unique)]
    title: String,
    #[index]
    author: String,
    /// Sparse: books without a series are not in this index.
    #[index]
    series: Option<String>,
    genre: String,
    year: i32,
}

fn book(isbn: &str, title: &str, author: &str, series: Option<&str>, genre: &str, year: i32) -> Book {
    Book {
        isbn: isbn.into(),
        title: title.into(),
        author: author.into(),
        series: series.map(Into::into),
        genre: genre.into(),
        year,
    }
}

fn titles(books: Vec<Book>) -> Vec<String> {
    books.into_iter().map(|b| format!("{} ({})", b.title, b.year)).collect()
}

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("indexes.db"));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path)?;

    store.write(|tx| {
        for b in [
            book("978-0", "Foundation", "Asimov", Some("Foundation"), "sf", 1951),
            book("978-1", "Foundation and Empire", "Asimov", Some("Foundation"), "sf", 1952),
            book("978-2", "The Left Hand of Darkness", "Le Guin", Some("Hainish"), "sf", 1969),
            book("978-3", "A Wizard of Earthsea", "Le Guin", Some("Earthsea"), "fantasy", 1968),
            book("978-4", "The Dispossessed", "Le Guin", Some("Hainish"), "sf", 1974),
            book("978-5", "Kindred", "Butler", None, "sf", 1979),
            book("978-6", "The Hobbit", "Tolkien", None, "fantasy", 1937),
        ] {
            tx.insert(&mut { b })?;
        }
        Ok(())
    })?;

    store.read(|tx| {
        let b = tx.index(Book::title).get("Kindred")?;
        println!("unique:    title \"Kindred\" -> {:?}", b.map(|b| b.isbn));
        println!("equality:  by Le Guin -> {:?}", titles(tx.index(Book::author).equal("Le Guin").to_vec()?));
        println!("range:     authors A..C -> {:?}", titles(tx.index(Book::author).range("A".."C").to_vec()?));
        println!(
            "sparse:    in a series -> {} of {} books",
            tx.index(Book::series).scan().count()?,
            tx.count::<Book>()?
        );
        println!("prefix:    sf, by year -> {:?}", titles(tx.index(Book::by_genre_year).prefix(("sf",)).to_vec()?));
        let sixties = ("sf".to_string(), 1960)..("sf".to_string(), 1970);
        println!("composite: sf of the 1960s -> {:?}", titles(tx.index(Book::by_genre_year).range(sixties).to_vec()?));
        let newest = tx.index(Book::by_genre_year).prefix(("sf",)).rev().limit(2).to_vec()?;
        println!("reversed:  newest two sf -> {:?}", titles(newest.clone()));
        if let Some(last) = newest.last() {
            let next = tx.index(Book::by_genre_year).prefix(("sf",)).rev().after(last).limit(2).to_vec()?;
            println!("next page: -> {:?}", titles(next));
        }
        Ok(())
    })?;

    // Indexes follow updates and removals in the same transaction.
    store.write(|tx| {
        if let Some(mut b) = tx.index(Book::title).get("The Hobbit")? {
            b.series = Some("Middle-earth".into());
            tx.update(&b)?;
        }
        tx.remove::<Book>("978-5")?;
        Ok(())
    })?;
    store.read(|tx| {
        let series: Vec<String> =
            tx.index(Book::series).scan().map(|b| b.map(|b| b.title)).collect::<Result<_, _>>()?;
        println!("after updating The Hobbit and removing Kindred, in a series: {series:?}");
        println!("index check: {:?}", tx.verify::<Book>()?);
        Ok(())
    })
}
