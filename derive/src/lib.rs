//! `#[derive(Record)]` for rivet's typed store.
//!
//! Use it through the `rivet` crate (`use rivet::Record;`), which documents the attributes
//! and the storage layout. The derive reads:
//! - on the struct: `#[rivet(bucket = "..", version = N, codec = path, crate = path,
//!   index(name = "..", fields(a, b), unique))]`;
//! - on fields: `#[key]`, `#[key(auto)]`, `#[index]`, `#[index(unique)]`, `#[index(name = "..")]`;
//!
//! and generates the `rivet::Record` impl (bucket, key extraction and encoding, index
//! extraction, catalog schema) plus one typed index handle per index, an associated constant
//! named after the index (`User::email`). Mistakes are compile errors that point at the
//! attribute or field concerned.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod attr;
mod expand;
mod layout;
mod serde_attr;

use proc_macro::TokenStream;

/// Derives `rivet::Record`. See the `rivet` crate for the attributes.
#[proc_macro_derive(Record, attributes(rivet, key, index))]
pub fn derive_record(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match attr::parse(&input) {
        Ok(def) => expand::expand(&def).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Derives `rivet::Layout` (the serialized shape of a type that records contain). See the
/// `rivet` crate.
#[proc_macro_derive(Layout, attributes(rivet))]
pub fn derive_layout(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    match layout::expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}
