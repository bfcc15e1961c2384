//! Parsing `#[rivet(..)]`, `#[key]` and `#[index]` into a checked description of the record
//! type, with errors that point at the offending tokens.
//!
//! Invariants of a parsed [`RecordDef`]: at least one key field; at most one auto key, and only
//! when it is the only key field; index names unique; every field named by a composite index
//! exists; the bucket name is non-empty and not reserved.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, GenericArgument, Ident, LitInt, LitStr, Path, PathArguments, Type};

/// A key field.
pub struct KeyField {
    pub ident: Ident,
    pub ty: Type,
    pub auto: Option<Span>,
}

/// One indexed field of an index.
pub struct IndexField {
    pub ident: Ident,
    pub ty: Type,
}

/// A secondary index.
pub struct IndexDef {
    pub name: String,
    pub name_span: Span,
    pub unique: bool,
    /// For a sparse index (one `Option<T>` field): `T`.
    pub sparse: Option<Type>,
    /// For a multi-valued index (`#[index(each)]` on a `Vec<T>`, `BTreeSet<T>`, ...): `T`.
    pub each: Option<Type>,
    pub fields: Vec<IndexField>,
}

/// A serialized field of the value (what the catalog's layout lists).
pub struct ValueField {
    pub ty: Type,
    /// The serialized name.
    pub name: String,
    /// Whether it has a default.
    pub default: bool,
    /// `with = ..` and the like: the store cannot describe it.
    pub custom: Option<String>,
    /// `#[rivet(renamed_from = "..")]`.
    pub renamed_from: Vec<String>,
}

/// Everything the expansion needs.
pub struct RecordDef {
    pub ident: Ident,
    pub vis: syn::Visibility,
    pub bucket: String,
    pub version: u32,
    pub codec: Option<Path>,
    pub krate: Path,
    pub keys: Vec<KeyField>,
    pub indexes: Vec<IndexDef>,
    /// The serialized fields, in order.
    pub fields: Vec<ValueField>,
    /// `from = Previous`.
    pub from: Option<Path>,
    /// `renamed_from = "Old"` on the struct.
    pub renamed_from: Vec<String>,
}

/// Collects several errors into one.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    fn finish(self) -> syn::Result<()> {
        match self.0 {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// `OrderLine` -> `order_line`, `HTTPServer` -> `http_server`.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower = i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_uppercase())) {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `Option<T>` -> `T` (by the path's last segment, as serde does).
/// `T` of a collection type whose elements an `each` index holds (`Vec<T>`, `VecDeque<T>`,
/// `BTreeSet<T>`, `HashSet<T>`).
fn collection_inner(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if !["Vec", "VecDeque", "BTreeSet", "HashSet"].iter().any(|c| last.ident == c) {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

fn option_inner(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    if args.args.len() != 1 {
        return None;
    }
    match args.args.first()? {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    }
}

const STRUCT_ATTRS: &str = "expected `bucket = \"..\"`, `version = N`, `from = PreviousType`, \
                            `renamed_from = \"OldName\"`, `codec = path`, `crate = path` or \
                            `index(name = \"..\", fields(a, b), unique)`";

pub fn parse(input: &DeriveInput) -> syn::Result<RecordDef> {
    let mut errors = Errors::default();
    if !input.generics.params.is_empty() {
        errors.push(syn::Error::new(
            input.generics.span(),
            "`#[derive(Record)]` does not support generic types: a record type is stored under one bucket \
             and one catalog entry, so declare a concrete struct (a type alias or newtype per instantiation)",
        ));
    }
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(n) => Some(n),
            _ => {
                errors.push(syn::Error::new(
                    input.ident.span(),
                    "`#[derive(Record)]` needs a struct with named fields (the key and index attributes go on them)",
                ));
                None
            }
        },
        _ => {
            errors.push(syn::Error::new(input.ident.span(), "`#[derive(Record)]` can only be used on a struct"));
            None
        }
    };

    let mut bucket: Option<LitStr> = None;
    let mut version = 1u32;
    let mut version_span = None;
    let mut from: Option<Path> = None;
    let mut type_renamed_from = Vec::new();
    let serde_container = match crate::serde_attr::container(&input.attrs) {
        Ok(c) => c,
        Err(e) => {
            errors.push(e);
            Default::default()
        }
    };
    if let Some(span) = serde_container.transparent {
        errors.push(syn::Error::new(
            span,
            "`#[serde(transparent)]` cannot be used on a record: a record is stored as its fields",
        ));
    }
    let mut codec = None;
    let mut krate: Path = syn::parse_quote!(::rivet);
    struct Composite {
        name: LitStr,
        fields: Vec<Ident>,
        unique: bool,
    }
    let mut composites: Vec<Composite> = Vec::new();

    for attr in input.attrs.iter().filter(|a| a.path().is_ident("rivet")) {
        let r = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("bucket") {
                bucket = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("version") {
                let v: LitInt = meta.value()?.parse()?;
                version = v.base10_parse()?;
                version_span = Some(v.span());
                if version == 0 {
                    return Err(syn::Error::new(v.span(), "versions start at 1"));
                }
            } else if meta.path.is_ident("from") {
                from = Some(meta.value()?.parse::<Path>()?);
            } else if meta.path.is_ident("renamed_from") {
                let s: LitStr = meta.value()?.parse()?;
                type_renamed_from.push(s.value());
            } else if meta.path.is_ident("codec") {
                codec = Some(meta.value()?.parse::<Path>()?);
            } else if meta.path.is_ident("crate") {
                krate = meta.value()?.parse::<Path>()?;
            } else if meta.path.is_ident("index") {
                let mut name = None;
                let mut fields = Vec::new();
                let mut unique = false;
                let span = meta.path.span();
                meta.parse_nested_meta(|m| {
                    if m.path.is_ident("name") {
                        name = Some(m.value()?.parse::<LitStr>()?);
                    } else if m.path.is_ident("unique") {
                        unique = true;
                    } else if m.path.is_ident("fields") {
                        m.parse_nested_meta(|f| {
                            match f.path.get_ident() {
                                Some(i) => fields.push(i.clone()),
                                None => return Err(f.error("expected a field name")),
                            }
                            Ok(())
                        })?;
                    } else {
                        return Err(m.error(
                            "unknown `index` option; expected `name = \"..\"`, `fields(a, b, ..)` or `unique`",
                        ));
                    }
                    Ok(())
                })?;
                let Some(name) = name else {
                    return Err(syn::Error::new(
                        span,
                        "a composite index needs a name: `index(name = \"..\", fields(..))`",
                    ));
                };
                if fields.is_empty() {
                    return Err(syn::Error::new(name.span(), "an index needs `fields(a, b, ..)`"));
                }
                composites.push(Composite { name, fields, unique });
            } else {
                let what = meta.path.get_ident().map(|i| i.to_string()).unwrap_or_else(|| "?".into());
                return Err(meta.error(format!("unknown rivet attribute `{what}`; {STRUCT_ATTRS}")));
            }
            Ok(())
        });
        if let Err(e) = r {
            errors.push(e);
        }
    }

    let mut keys: Vec<KeyField> = Vec::new();
    let mut indexes: Vec<IndexDef> = Vec::new();
    let mut all_fields: Vec<(Ident, Type)> = Vec::new();
    let mut value_fields: Vec<ValueField> = Vec::new();
    // Fields whose serde form is not their value, with why (keys and indexes may not be such).
    let mut not_plain: Vec<(Ident, &'static str)> = Vec::new();
    if let Some(named) = named {
        for field in &named.named {
            let Some(ident) = field.ident.clone() else { continue };
            all_fields.push((ident.clone(), field.ty.clone()));
            let sf = match crate::serde_attr::field(&field.attrs) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(e);
                    Default::default()
                }
            };
            if let Some(span) = sf.flatten {
                errors.push(syn::Error::new(
                    span,
                    "`#[serde(flatten)]` cannot be used in a record: the store's codecs are positional and do not \
                     support flattened fields",
                ));
                not_plain.push((ident.clone(), "flatten"));
            }
            if sf.skip {
                not_plain.push((ident.clone(), "skip"));
            }
            if sf.custom.is_some() {
                not_plain.push((ident.clone(), "with"));
            }
            let mut renamed_from = Vec::new();
            for attr in field.attrs.iter().filter(|a| a.path().is_ident("rivet")) {
                let r = attr.parse_nested_meta(|m| {
                    if m.path.is_ident("renamed_from") {
                        let s: LitStr = m.value()?.parse()?;
                        renamed_from.push(s.value());
                        Ok(())
                    } else {
                        let what = m.path.get_ident().map(|i| i.to_string()).unwrap_or_else(|| "?".into());
                        Err(m.error(format!(
                            "unknown field attribute `{what}`; expected `#[rivet(renamed_from = \"old_name\")]` (the \
                             field's old serialized name)"
                        )))
                    }
                });
                if let Err(e) = r {
                    errors.push(e);
                }
            }
            if !sf.skip {
                let plain = ident.unraw().to_string();
                let name = match (&sf.rename, &serde_container.rename_all) {
                    (Some(n), _) => n.clone(),
                    (None, Some((rule, span))) => match crate::serde_attr::apply_rule(rule, *span, &plain, false) {
                        Ok(n) => n,
                        Err(e) => {
                            errors.push(e);
                            plain
                        }
                    },
                    (None, None) => plain,
                };
                value_fields.push(ValueField {
                    ty: field.ty.clone(),
                    name,
                    default: sf.default || serde_container.default,
                    custom: sf.custom.clone(),
                    renamed_from,
                });
            }
            for attr in &field.attrs {
                if attr.path().is_ident("key") {
                    let mut auto = None;
                    if !matches!(attr.meta, syn::Meta::Path(_)) {
                        let r = attr.parse_nested_meta(|m| {
                            if m.path.is_ident("auto") {
                                auto = Some(m.path.span());
                                Ok(())
                            } else {
                                Err(m.error("unknown `key` option; expected `#[key]` or `#[key(auto)]`"))
                            }
                        });
                        if let Err(e) = r {
                            errors.push(e);
                        }
                    }
                    if keys.iter().any(|k| k.ident == ident) {
                        errors.push(syn::Error::new(attr.span(), "duplicate `#[key]` on this field"));
                    }
                    keys.push(KeyField { ident: ident.clone(), ty: field.ty.clone(), auto });
                } else if attr.path().is_ident("index") {
                    let mut unique = false;
                    let mut each = false;
                    let mut name: Option<LitStr> = None;
                    if !matches!(attr.meta, syn::Meta::Path(_)) {
                        let r = attr.parse_nested_meta(|m| {
                            if m.path.is_ident("unique") {
                                unique = true;
                                Ok(())
                            } else if m.path.is_ident("each") {
                                each = true;
                                Ok(())
                            } else if m.path.is_ident("name") {
                                name = Some(m.value()?.parse()?);
                                Ok(())
                            } else {
                                Err(m.error("unknown `index` option; expected `unique`, `each` or `name = \"..\"`"))
                            }
                        });
                        if let Err(e) = r {
                            errors.push(e);
                        }
                    }
                    let element = if each {
                        let inner = collection_inner(&field.ty);
                        if inner.is_none() {
                            errors.push(syn::Error::new(
                                field.ty.span(),
                                "`#[index(each)]` indexes every element of a collection: the field must be a \
                                 `Vec<T>`, `VecDeque<T>`, `BTreeSet<T>` or `HashSet<T>`",
                            ));
                        }
                        inner
                    } else {
                        None
                    };
                    let (name, name_span) = match name {
                        Some(n) => (n.value(), n.span()),
                        None => (ident.to_string(), ident.span()),
                    };
                    indexes.push(IndexDef {
                        name,
                        name_span,
                        unique,
                        sparse: if each { None } else { option_inner(&field.ty) },
                        each: element,
                        fields: vec![IndexField { ident: ident.clone(), ty: field.ty.clone() }],
                    });
                }
            }
        }
        if keys.is_empty() {
            errors.push(syn::Error::new(
                input.ident.span(),
                "a record needs a primary key: mark a field with `#[key]` (several for a composite key) or \
                 `#[key(auto)]` for an autoincrement id",
            ));
        }
    }

    let autos: Vec<&KeyField> = keys.iter().filter(|k| k.auto.is_some()).collect();
    if autos.len() > 1 {
        for k in &autos[1..] {
            errors.push(syn::Error::new(
                k.auto.unwrap_or_else(Span::call_site),
                "only one field can be `#[key(auto)]`: the autoincrement id comes from the bucket's single sequence",
            ));
        }
    } else if let Some(k) = autos.first() {
        if keys.len() > 1 {
            errors.push(syn::Error::new(
                k.auto.unwrap_or_else(Span::call_site),
                "`#[key(auto)]` cannot be part of a composite key: make it the only `#[key]` field, or assign \
                 the composite key yourself",
            ));
        }
    }

    for c in composites {
        let mut fields = Vec::new();
        for f in &c.fields {
            match all_fields.iter().find(|(i, _)| i == f) {
                Some((i, t)) => fields.push(IndexField { ident: i.clone(), ty: t.clone() }),
                None => {
                    errors.push(syn::Error::new(f.span(), format!("index field `{f}` is not a field of this struct")))
                }
            }
        }
        indexes.push(IndexDef {
            name: c.name.value(),
            name_span: c.name.span(),
            unique: c.unique,
            sparse: None,
            each: None,
            fields,
        });
    }

    for (i, idx) in indexes.iter().enumerate() {
        if indexes[..i].iter().any(|o| o.name == idx.name) {
            errors.push(syn::Error::new(
                idx.name_span,
                format!("duplicate index name `{}`: index names must be unique within a record type", idx.name),
            ));
        }
        if syn::parse_str::<Ident>(&idx.name).is_err() {
            errors.push(syn::Error::new(
                idx.name_span,
                format!(
                    "index name `{}` must be a Rust identifier (it names the handle `Type::{}`)",
                    idx.name, idx.name
                ),
            ));
        }
    }

    // Keys and index fields must be what serde writes, or the indexes would drift from the
    // values after an upgrade.
    let plain_check = |f: &Ident, what: &str, errors: &mut Errors| {
        if let Some((_, why)) = not_plain.iter().find(|(i, _)| i == f) {
            errors.push(syn::Error::new(
                f.span(),
                format!(
                    "{what} field `{f}` cannot be `#[serde({why} ..)]`: its serialized form would not be its value, \
                     so the store could not keep the {what} in step with the records"
                ),
            ));
        }
    };
    for k in &keys {
        plain_check(&k.ident, "key", &mut errors);
    }
    for idx in &indexes {
        for f in &idx.fields {
            plain_check(&f.ident, "index", &mut errors);
        }
    }
    if let Some(f) = &from {
        if version < 2 {
            errors.push(syn::Error::new(
                version_span.unwrap_or_else(|| f.span()),
                "`from = ..` names the previous version of this type, so this type needs `version = N` with N \
                 greater than the previous type's version",
            ));
        }
    }

    let bucket_name = match &bucket {
        Some(b) => b.value(),
        None => snake_case(&input.ident.to_string()),
    };
    let bucket_span = bucket.as_ref().map(|b| b.span()).unwrap_or_else(|| input.ident.span());
    if bucket_name.is_empty() {
        errors.push(syn::Error::new(bucket_span, "the bucket name cannot be empty"));
    }
    if bucket_name.starts_with("__rivet") {
        errors.push(syn::Error::new(bucket_span, "bucket names starting with `__rivet` are reserved for the store"));
    }

    errors.finish()?;
    // Sparse only for a lone Option field.
    for idx in &mut indexes {
        if idx.fields.len() != 1 {
            idx.sparse = None;
        }
    }
    Ok(RecordDef {
        ident: input.ident.clone(),
        vis: input.vis.clone(),
        bucket: bucket_name,
        version,
        codec,
        krate,
        keys,
        indexes,
        fields: value_fields,
        from,
        renamed_from: type_renamed_from,
    })
}

#[cfg(test)]
mod tests {
    use super::snake_case;

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("OrderLine"), "order_line");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("Item2Box"), "item2_box");
    }
}
