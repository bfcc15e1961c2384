//! `#[derive(Layout)]`: the serialized shape of a struct or enum that records contain, so that
//! the catalog describes it field by field (and its fields can evolve) instead of calling it
//! opaque.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Path};

use crate::expand::shape_fn;
use crate::serde_attr::{self, SerdeContainer};

/// The `Shape` expression of a list of fields, with serde's names applied.
fn fields_expr(krate: &Path, fields: &Fields, container: &SerdeContainer, errors: &mut Vec<syn::Error>) -> TokenStream {
    match fields {
        Fields::Named(named) => {
            let mut items = Vec::new();
            for f in &named.named {
                let sf = match serde_attr::field(&f.attrs) {
                    Ok(sf) => sf,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                if let Some(span) = sf.flatten {
                    errors.push(syn::Error::new(span, "`#[serde(flatten)]` is not supported by positional codecs"));
                }
                if sf.skip {
                    continue;
                }
                let plain = f.ident.as_ref().map(|i| i.unraw().to_string()).unwrap_or_default();
                let name = match (&sf.rename, &container.rename_all) {
                    (Some(n), _) => n.clone(),
                    (None, Some((rule, span))) => {
                        serde_attr::apply_rule(rule, *span, &plain, false).unwrap_or_else(|e| {
                            errors.push(e);
                            plain.clone()
                        })
                    }
                    (None, None) => plain,
                };
                let shape = shape_fn(krate, &f.ty, sf.custom.as_deref());
                items.push(quote! {
                    #krate::layout::FieldShape { name: #krate::__private::String::from(#name), shape: (#shape)() }
                });
            }
            quote!(#krate::__private::Vec::from([#(#items),*]))
        }
        _ => quote!(#krate::__private::Vec::new()),
    }
}

/// The shapes of positional fields.
fn positional(krate: &Path, fields: &Fields) -> Vec<TokenStream> {
    fields
        .iter()
        .map(|f| {
            let shape = shape_fn(krate, &f.ty, None);
            quote!((#shape)())
        })
        .collect()
}

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut krate: Path = syn::parse_quote!(::rivet);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("rivet")) {
        attr.parse_nested_meta(|m| {
            if m.path.is_ident("crate") {
                krate = m.value()?.parse()?;
                Ok(())
            } else {
                Err(m.error("`#[derive(Layout)]` takes only `#[rivet(crate = path)]`"))
            }
        })?;
    }
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "`#[derive(Layout)]` does not support generic types; implement `rivet::Layout` by hand",
        ));
    }
    let container = serde_attr::container(&input.attrs)?;
    let ident = &input.ident;
    let name = ident.to_string();
    let mut errors = Vec::new();
    let body = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(_) => {
                let fields = fields_expr(&krate, &s.fields, &container, &mut errors);
                quote!(#krate::Shape::Struct { name: #krate::__private::String::from(#name), fields: #fields })
            }
            Fields::Unnamed(u) if u.unnamed.len() == 1 || container.transparent.is_some() => {
                let one = positional(&krate, &s.fields);
                quote!(#(#one)*)
            }
            Fields::Unnamed(_) => {
                let items = positional(&krate, &s.fields);
                quote!(#krate::Shape::Tuple(#krate::__private::Vec::from([#(#items),*])))
            }
            Fields::Unit => quote!(#krate::Shape::Unit),
        },
        Data::Enum(e) => {
            let mut variants = Vec::new();
            for v in &e.variants {
                let sv = serde_attr::field(&v.attrs)?;
                if sv.skip {
                    continue;
                }
                let plain = v.ident.unraw().to_string();
                let vname = match (&sv.rename, &container.rename_all) {
                    (Some(n), _) => n.clone(),
                    (None, Some((rule, span))) => serde_attr::apply_rule(rule, *span, &plain, true)?,
                    (None, None) => plain,
                };
                let data = match &v.fields {
                    Fields::Unit => quote!(#krate::layout::VariantData::Unit),
                    Fields::Unnamed(u) if u.unnamed.len() == 1 => {
                        let one = positional(&krate, &v.fields);
                        quote!(#krate::layout::VariantData::Newtype(#(#one)*))
                    }
                    Fields::Unnamed(_) => {
                        let items = positional(&krate, &v.fields);
                        quote!(#krate::layout::VariantData::Tuple(#krate::__private::Vec::from([#(#items),*])))
                    }
                    Fields::Named(_) => {
                        let fields = fields_expr(&krate, &v.fields, &SerdeContainer::default(), &mut errors);
                        quote!(#krate::layout::VariantData::Struct(#fields))
                    }
                };
                variants.push(quote! {
                    #krate::layout::Variant { name: #krate::__private::String::from(#vname), data: #data }
                });
            }
            quote!(#krate::Shape::Enum { name: #krate::__private::String::from(#name), variants: #krate::__private::Vec::from([#(#variants),*]) })
        }
        Data::Union(_) => return Err(syn::Error::new(ident.span(), "`#[derive(Layout)]` cannot be used on a union")),
    };
    if let Some(first) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(first);
    }
    Ok(quote! {
        impl #krate::Layout for #ident {
            fn shape() -> #krate::Shape {
                #body
            }
        }
    })
}
