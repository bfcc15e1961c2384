//! Value codecs: how a record's serde form becomes the bytes stored under its key.
//!
//! A record type names its codec (`#[rivet(codec = path::To::Codec)]`, default [`Postcard`]);
//! the catalog records the codec's [`Codec::NAME`], so a file written with one codec is never
//! read with another ([`Mismatch::Codec`](crate::Mismatch::Codec)). A codec must reject bytes
//! it cannot fully consume: a value with trailing bytes is a decode error, never a silent
//! partial read.
//!
//! Two codecs come with the store, both compact, non self-describing and positional (fields
//! in declaration order, no names on the wire), and both able to read a value by its recorded
//! [`Shape`] ([`Codec::decode_shape`]), so schema evolution works the same with either:
//!
//! | codec | `NAME` | cargo feature | notes |
//! |---|---|---|---|
//! | [`Postcard`] | `postcard` | always | the default; LEB128 varint integers |
//! | `Bincode` | `bincode` | `bincode` | bincode 2.0.1 (pinned: its later releases do not build); a varint is one byte below 251, else a marker byte and the fixed-width value |
//!
//! The README's "Value codecs" section compares their sizes and speed.

use serde::de::{DeserializeOwned, DeserializeSeed};
use serde::Serialize;

use crate::layout::Shape;
use crate::value::{ShapeSeed, Value};

#[cfg(feature = "bincode")]
mod bincode;
#[cfg(feature = "bincode")]
pub use self::bincode::Bincode;

/// A codec's error, as text (it ends up in [`crate::Error::Decode`] or [`crate::Error::Encode`]).
pub type CodecError = String;

/// Turns serde values into bytes and back.
pub trait Codec {
    /// The name recorded in the catalog (`postcard`, `bincode`): a bucket's values are only
    /// ever read by a codec of that name.
    const NAME: &'static str;

    /// Encodes `value`.
    ///
    /// # Errors
    /// Whatever the serializer refuses, as text.
    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError>;

    /// Encodes `value` into `out`, replacing what it held: the same bytes as
    /// [`Codec::encode`], but a codec can reuse `out`'s allocation (the store keeps one buffer
    /// per write transaction). The default calls [`Codec::encode`].
    ///
    /// # Errors
    /// As [`Codec::encode`]; `out` is unspecified then.
    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        *out = Self::encode(value)?;
        Ok(())
    }

    /// Decodes a whole value from `bytes`.
    ///
    /// # Errors
    /// Malformed bytes, a value of another shape, or bytes left over, as text.
    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError>;

    /// Decodes a whole value of a known [`Shape`] without its Rust type (how the store reads
    /// values of an older layout by field name, and how `rivet records` prints them). The
    /// default says the codec cannot: such a codec supports only unchanged layouts and
    /// versioned upgrades (`from = ..`), not automatic field changes.
    ///
    /// # Errors
    /// Malformed bytes, or bytes left over, as text.
    fn decode_shape(bytes: &[u8], shape: &Shape) -> Result<Value, CodecError> {
        let _ = (bytes, shape);
        Err(format!("codec `{}` cannot read values without their Rust type", Self::NAME))
    }
}

/// The default codec: [postcard](https://docs.rs/postcard), a compact, stable, non
/// self-describing format (varint integers, length-prefixed strings, fields in declaration
/// order). The catalog records each layout, so adding, removing, reordering and renaming
/// fields are handled by the store (see the README, "Changing your types").
#[derive(Debug, Clone, Copy, Default)]
pub struct Postcard;

impl Codec for Postcard {
    const NAME: &'static str = "postcard";

    fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CodecError> {
        postcard::to_allocvec(value).map_err(|e| e.to_string())
    }

    fn encode_into<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        postcard::serialize_with_flavor(value, Append(out)).map_err(|e| e.to_string())
    }

    fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
        let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| e.to_string())?;
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(format!("{} bytes left over after the value", rest.len()))
        }
    }

    fn decode_shape(bytes: &[u8], shape: &Shape) -> Result<Value, CodecError> {
        let mut de = postcard::Deserializer::from_bytes(bytes);
        let value = ShapeSeed(shape).deserialize(&mut de).map_err(|e| e.to_string())?;
        let rest = de.finalize().map_err(|e| e.to_string())?;
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(format!("{} bytes left over after the value", rest.len()))
        }
    }
}

/// A postcard output that appends to a borrowed buffer (so the buffer's allocation is reused).
struct Append<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Append<'_> {
    type Output = ();

    #[inline]
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    #[inline]
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}
