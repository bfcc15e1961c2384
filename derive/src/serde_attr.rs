//! The serde attributes that change how a value is laid out on the wire, read so that the
//! layout the catalog records is the one serde really writes: serialized names (`rename`,
//! `rename_all`), skipped fields, defaults, and fields whose encoding is the user's own
//! (`with`, `serialize_with`), which the store can only treat as opaque.
//!
//! Attributes that make a positional codec unreadable (`flatten`, `skip_serializing_if`, a
//! skip on one side only) are compile errors here, with the reason.

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::{Attribute, LitStr};

/// What serde's attributes say about one field (or variant).
#[derive(Default)]
pub struct SerdeField {
    /// `rename = ".."` (or its `deserialize` half).
    pub rename: Option<String>,
    /// `skip`, or both `skip_serializing` and `skip_deserializing`.
    pub skip: bool,
    /// `default` or `default = ".."`.
    pub default: bool,
    /// `with`, `serialize_with` or `deserialize_with`, with its text.
    pub custom: Option<String>,
    /// Where `flatten` was written.
    pub flatten: Option<Span>,
}

/// What serde's attributes say about the container.
#[derive(Default)]
pub struct SerdeContainer {
    /// `rename_all = ".."` (or its `deserialize` half).
    pub rename_all: Option<(String, Span)>,
    /// `default` on the container: every field has one.
    pub default: bool,
    /// Where `transparent` was written.
    pub transparent: Option<Span>,
}

/// Skips an attribute item serde has but the layout does not need: `= value` or `( .. )`.
fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        let _: TokenStream = content.parse()?;
    }
    Ok(())
}

/// `rename = ".."` or `rename(serialize = "..", deserialize = "..")`: the deserialize name.
fn renamed(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<Option<String>> {
    if meta.input.peek(syn::Token![=]) {
        let s: LitStr = meta.value()?.parse()?;
        return Ok(Some(s.value()));
    }
    let mut out = None;
    meta.parse_nested_meta(|m| {
        let s: LitStr = m.value()?.parse()?;
        if m.path.is_ident("deserialize") || (out.is_none() && m.path.is_ident("serialize")) {
            out = Some(s.value());
        }
        Ok(())
    })?;
    Ok(out)
}

/// Reads the `#[serde(..)]` attributes of a field or variant.
pub fn field(attrs: &[Attribute]) -> syn::Result<SerdeField> {
    let mut out = SerdeField::default();
    let (mut skip_ser, mut skip_de) = (false, false);
    let mut span = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("rename") {
                out.rename = renamed(&meta)?;
            } else if p.is_ident("skip") {
                out.skip = true;
            } else if p.is_ident("skip_serializing") {
                skip_ser = true;
                span = Some(p.span());
            } else if p.is_ident("skip_deserializing") {
                skip_de = true;
                span = Some(p.span());
            } else if p.is_ident("default") {
                out.default = true;
                skip_value(&meta)?;
            } else if p.is_ident("with") || p.is_ident("serialize_with") || p.is_ident("deserialize_with") {
                let name = p.get_ident().map(|i| i.to_string()).unwrap_or_default();
                let s: LitStr = meta.value()?.parse()?;
                out.custom = Some(format!("{name} = {}", s.value()));
            } else if p.is_ident("flatten") {
                out.flatten = Some(p.span());
            } else if p.is_ident("skip_serializing_if") {
                return Err(meta.error(
                    "`skip_serializing_if` cannot be used in a record: the store's codecs are positional, so a \
                     field written only sometimes makes every value after it unreadable",
                ));
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
    }
    if skip_ser && skip_de {
        out.skip = true;
    } else if skip_ser || skip_de {
        return Err(syn::Error::new(
            span.unwrap_or_else(Span::call_site),
            "a field skipped on only one side (`skip_serializing` or `skip_deserializing` alone) cannot be read back \
             by a positional codec: use `#[serde(skip)]`",
        ));
    }
    Ok(out)
}

/// Reads the container's `#[serde(..)]` attributes.
pub fn container(attrs: &[Attribute]) -> syn::Result<SerdeContainer> {
    let mut out = SerdeContainer::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| {
            let p = &meta.path;
            if p.is_ident("rename_all") {
                let span = p.span();
                if let Some(rule) = renamed(&meta)? {
                    out.rename_all = Some((rule, span));
                }
            } else if p.is_ident("default") {
                out.default = true;
                skip_value(&meta)?;
            } else if p.is_ident("transparent") {
                out.transparent = Some(p.span());
            } else {
                skip_value(&meta)?;
            }
            Ok(())
        })?;
    }
    Ok(out)
}

/// Applies a `rename_all` rule to a field or variant name, as serde does.
pub fn apply_rule(rule: &str, span: Span, name: &str, variant: bool) -> syn::Result<String> {
    // Field names are snake_case, variant names PascalCase; split either into words.
    let words: Vec<String> = if variant {
        let mut words = Vec::new();
        for c in name.chars() {
            if c.is_uppercase() || words.is_empty() {
                words.push(String::new());
            }
            if let Some(w) = words.last_mut() {
                w.push(c);
            }
        }
        words.into_iter().map(|w| w.to_lowercase()).collect()
    } else {
        name.split('_').map(str::to_string).collect()
    };
    let capital = |w: &str| {
        let mut c = w.chars();
        c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
    };
    Ok(match rule {
        "lowercase" => words.concat().to_lowercase(),
        "UPPERCASE" => words.concat().to_uppercase(),
        "PascalCase" => words.iter().map(|w| capital(w)).collect(),
        "camelCase" => {
            let pascal: String = words.iter().map(|w| capital(w)).collect();
            let mut c = pascal.chars();
            c.next().map(|f| f.to_lowercase().collect::<String>() + c.as_str()).unwrap_or_default()
        }
        "snake_case" => words.join("_").to_lowercase(),
        "SCREAMING_SNAKE_CASE" => words.join("_").to_uppercase(),
        "kebab-case" => words.join("-").to_lowercase(),
        "SCREAMING-KEBAB-CASE" => words.join("-").to_uppercase(),
        other => return Err(syn::Error::new(span, format!("unknown serde rename_all rule `{other}`"))),
    })
}

#[cfg(test)]
mod tests {
    use super::apply_rule;
    use proc_macro2::Span;

    #[test]
    fn rules_follow_serde() {
        let s = Span::call_site();
        assert_eq!(apply_rule("camelCase", s, "first_name", false).unwrap(), "firstName");
        assert_eq!(apply_rule("PascalCase", s, "first_name", false).unwrap(), "FirstName");
        assert_eq!(apply_rule("SCREAMING-KEBAB-CASE", s, "first_name", false).unwrap(), "FIRST-NAME");
        assert_eq!(apply_rule("snake_case", s, "VeryTasty", true).unwrap(), "very_tasty");
        assert_eq!(apply_rule("kebab-case", s, "VeryTasty", true).unwrap(), "very-tasty");
        assert_eq!(apply_rule("lowercase", s, "VeryTasty", true).unwrap(), "verytasty");
        assert!(apply_rule("nope", s, "a", false).is_err());
    }
}
