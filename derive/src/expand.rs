//! Code generation: the `Record` impl and the typed index handles.
//!
//! Every use of a field's type is spanned at that type, so that "this type has no `Key`
//! implementation" and "`#[key(auto)]` needs an integer" point at the field, not at the derive.
//! (There are no separate assertion functions: they would only repeat the same error.)

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Type;

use crate::attr::{IndexDef, RecordDef};

fn field_spec(krate: &syn::Path, name: &str, ty: &Type) -> TokenStream {
    quote_spanned! {ty.span()=>
        #krate::FieldSpec { name: #name, kind: <#ty as #krate::Key>::kind }
    }
}

/// The type of an index's keys.
fn index_key_type(idx: &IndexDef) -> TokenStream {
    if let Some(inner) = idx.sparse.as_ref().or(idx.each.as_ref()) {
        return quote!(#inner);
    }
    match idx.fields.as_slice() {
        [one] => {
            let ty = &one.ty;
            quote!(#ty)
        }
        many => {
            let tys = many.iter().map(|f| &f.ty);
            quote!((#(#tys,)*))
        }
    }
}

/// A closure (coerced to `fn() -> Shape`) giving a field type's shape: its `Layout`, or opaque.
pub fn shape_fn(krate: &syn::Path, ty: &Type, custom: Option<&str>) -> TokenStream {
    match custom {
        Some(c) => quote!(|| #krate::Shape::Opaque(#krate::__private::String::from(#c))),
        None => quote_spanned! {ty.span()=>
            || {
                #[allow(unused_imports)]
                use #krate::__private::{ViaLayout as _, ViaOpaque as _};
                (&&#krate::__private::Probe::<#ty>::new()).rivet_shape()
            }
        },
    }
}

pub fn expand(def: &RecordDef) -> TokenStream {
    let RecordDef { ident, vis, bucket, version, codec, krate, keys, indexes, fields, from, renamed_from } = def;
    let value_specs = fields.iter().map(|f| {
        let name = &f.name;
        let shape = shape_fn(krate, &f.ty, f.custom.as_deref());
        let default = f.default;
        let renamed = &f.renamed_from;
        quote! {
            #krate::ValueFieldSpec { name: #name, shape: #shape, default: #default, renamed_from: &[#(#renamed),*] }
        }
    });
    let previous = match from {
        Some(p) => quote!(::core::option::Option::Some(<#p as #krate::Record>::schema)),
        None => quote!(::core::option::Option::None),
    };
    let decode_older = from.as_ref().map(|p| {
        quote! {
            fn decode_older(upgrade: &#krate::Upgrade<'_>, bytes: &[u8]) -> #krate::Result<Self> {
                let previous: #p = upgrade.decode::<#p>(bytes)?;
                <Self as ::core::convert::TryFrom<#p>>::try_from(previous).map_err(|e| upgrade.failed::<Self, _>(e))
            }
        }
    });
    let type_name = ident.to_string();
    let codec = match codec {
        Some(c) => quote!(#c),
        None => quote!(#krate::Postcard),
    };

    // The primary key.
    let key_type = match keys.as_slice() {
        [one] => {
            let ty = &one.ty;
            quote!(#ty)
        }
        many => {
            let tys = many.iter().map(|k| &k.ty);
            quote!((#(#tys,)*))
        }
    };
    let key_expr = match keys.as_slice() {
        [one] => {
            let f = &one.ident;
            quote!(::core::clone::Clone::clone(&self.#f))
        }
        many => {
            let fs = many.iter().map(|k| &k.ident);
            quote!((#(::core::clone::Clone::clone(&self.#fs),)*))
        }
    };
    let encode_key = keys.iter().map(|k| {
        let (f, ty) = (&k.ident, &k.ty);
        quote_spanned! {ty.span()=> <#ty as #krate::Key>::encode_key(&self.#f, out); }
    });
    let key_specs = keys.iter().map(|k| field_spec(krate, &k.ident.to_string(), &k.ty));
    let auto = keys.iter().find(|k| k.auto.is_some());
    let auto_key = auto.is_some();
    let auto_methods = auto.map(|k| {
        let (f, ty) = (&k.ident, &k.ty);
        quote! {
            fn assign_auto_key(&mut self, sequence: u64) -> bool {
                match <#ty as #krate::AutoKey>::from_sequence(sequence) {
                    ::core::option::Option::Some(v) => {
                        self.#f = v;
                        true
                    }
                    ::core::option::Option::None => false,
                }
            }
            fn auto_key_sequence(&self) -> ::core::option::Option<u64> {
                <#ty as #krate::AutoKey>::to_sequence(&self.#f)
            }
        }
    });

    // Indexes.
    let mut index_specs = Vec::new();
    let mut encode_arms = Vec::new();
    let mut each_arms = Vec::new();
    let mut value_arms = Vec::new();
    let mut handles = Vec::new();
    for (position, idx) in indexes.iter().enumerate() {
        let name = &idx.name;
        let unique = idx.unique;
        let sparse = idx.sparse.is_some();
        let each = idx.each.is_some();
        let fields = idx.fields.iter().map(|f| {
            let ty = match idx.sparse.as_ref().or(idx.each.as_ref()) {
                Some(inner) => inner,
                None => &f.ty,
            };
            field_spec(krate, &f.ident.to_string(), ty)
        });
        index_specs.push(quote! {
            #krate::IndexSpec {
                name: #name,
                unique: #unique,
                sparse: #sparse,
                each: #each,
                fields: #krate::__private::Vec::from([#(#fields),*]),
            }
        });
        if let (Some(element), [f]) = (&idx.each, idx.fields.as_slice()) {
            // One entry per element (the store drops repeated ones); `encode_index` has none.
            let fi = &f.ident;
            let encode = quote_spanned! {element.span()=> <#element as #krate::Key>::encode_key(v, out); };
            each_arms.push(quote! {
                #position => {
                    for v in self.#fi.iter() {
                        #encode
                        ends.push(out.len());
                    }
                }
            });
            value_arms.push(quote!(#position => ::std::format!("{:?}", &self.#fi),));
        } else {
            match (&idx.sparse, idx.fields.as_slice()) {
                (Some(inner), [f]) => {
                    let fi = &f.ident;
                    let encode = quote_spanned! {inner.span()=> <#inner as #krate::Key>::encode_key(v, out); };
                    encode_arms.push(quote! {
                        #position => match &self.#fi {
                            ::core::option::Option::Some(v) => {
                                #encode
                                true
                            }
                            ::core::option::Option::None => false,
                        },
                    });
                    value_arms.push(quote! {
                        #position => match &self.#fi {
                            ::core::option::Option::Some(v) => ::std::format!("{:?}", v),
                            ::core::option::Option::None => #krate::__private::String::from("None"),
                        },
                    });
                }
                (_, fields) => {
                    let encodes = fields.iter().map(|f| {
                        let (fi, ty) = (&f.ident, &f.ty);
                        quote_spanned! {ty.span()=> <#ty as #krate::Key>::encode_key(&self.#fi, out); }
                    });
                    encode_arms.push(quote! {
                        #position => {
                            #(#encodes)*
                            true
                        }
                    });
                    let value = match fields {
                        [one] => {
                            let fi = &one.ident;
                            quote!(::std::format!("{:?}", &self.#fi))
                        }
                        many => {
                            let fis = many.iter().map(|f| &f.ident);
                            quote!(::std::format!("{:?}", (#(&self.#fis,)*)))
                        }
                    };
                    value_arms.push(quote!(#position => #value,));
                }
            }
        }
        let const_name = format_ident!("{}", name, span = idx.name_span);
        let ktype = index_key_type(idx);
        let marker = if unique { quote!(#krate::Unique) } else { quote!(#krate::Multi) };
        let doc = format!(
            "The {}index `{}` of [`{}`], for `tx.index({}::{})`.",
            if unique { "unique " } else { "" },
            name,
            type_name,
            type_name,
            name
        );
        handles.push(quote! {
            #[doc = #doc]
            #[allow(non_upper_case_globals)]
            #vis const #const_name: #krate::Index<#ident, #ktype, #marker> = #krate::Index::new(#position, #name);
        });
    }

    quote! {
        impl #krate::Record for #ident {
            type Key = #key_type;
            type Codec = #codec;

            fn schema() -> &'static #krate::Schema {
                static SCHEMA: #krate::__private::OnceLock<#krate::Schema> = #krate::__private::OnceLock::new();
                SCHEMA.get_or_init(|| {
                    #krate::Schema::build::<Self>(#krate::SchemaSpec {
                        type_name: #type_name,
                        bucket: #bucket,
                        version: #version,
                        key: #krate::__private::Vec::from([#(#key_specs),*]),
                        auto_key: #auto_key,
                        indexes: #krate::__private::Vec::from([#(#index_specs),*]),
                        fields: #krate::__private::Vec::from([#(#value_specs),*]),
                        previous: #previous,
                        renamed_from: &[#(#renamed_from),*],
                    })
                })
            }

            fn key(&self) -> Self::Key {
                #key_expr
            }

            fn encode_key(&self, out: &mut #krate::__private::Vec<u8>) {
                #(#encode_key)*
            }

            #auto_methods

            #decode_older

            #[allow(unused_variables)]
            fn encode_index(&self, index: usize, out: &mut #krate::__private::Vec<u8>) -> bool {
                match index {
                    #(#encode_arms)*
                    _ => false,
                }
            }

            #[allow(unused_variables)]
            fn encode_index_entries(
                &self,
                index: usize,
                out: &mut #krate::__private::Vec<u8>,
                ends: &mut #krate::__private::Vec<usize>,
            ) {
                match index {
                    #(#each_arms)*
                    _ => {
                        if #krate::Record::encode_index(self, index, out) {
                            ends.push(out.len());
                        }
                    }
                }
            }

            #[allow(unused_variables)]
            fn index_value(&self, index: usize) -> #krate::__private::String {
                match index {
                    #(#value_arms)*
                    _ => #krate::__private::String::new(),
                }
            }
        }

        impl #ident {
            #(#handles)*
        }
    }
}
