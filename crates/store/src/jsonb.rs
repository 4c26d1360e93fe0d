//! SQLite's binary JSON ([JSONB](https://sqlite.org/jsonb.html)), written
//! straight from serde values: the single pass's commit documents
//! (`batch::Jsonb`), arrays of rows of strings, integers, booleans and nulls.
//!
//! An element is a header (its type in the low four bits, its payload size
//! in the high four or in the one to eight bytes after) and a payload.
//! Strings go in raw (`TEXTRAW`: no escapes to write or for SQLite to
//! undo), integers as their decimal digits. An array is written with a
//! five-byte header whose size is filled in once its elements are: SQLite
//! reads a header of any width, so nothing is moved. Values JSONB holds but
//! rows never do (floats, objects, bytes) are refused, not guessed at.

use serde::ser::{self, Impossible, Serialize};

// Element types (jsonb.html, section 3.2).
const NULL: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const INT: u8 = 3;
const TEXTRAW: u8 = 10;
const ARRAY: u8 = 11;

/// The serde traits of the sequences JSONB writes as arrays, each adding
/// elements with its `method`.
macro_rules! array_of {
    ($($serialize:path: $method:ident,)*) => {$(
        impl $serialize for Array<'_> {
            type Ok = ();
            type Error = Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
                self.element(value)
            }

            fn end(self) -> Result<(), Error> {
                self.close()
            }
        }
    )*};
}

/// The `Serializer` methods of the integer types: their decimal digits.
macro_rules! integers {
    ($($method:ident: $ty:ty),* $(,)?) => {$(
        fn $method(self, v: $ty) -> Result<(), Error> {
            self.int(v);
            Ok(())
        }
    )*};
}

/// `value` as JSONB.
pub(crate) fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut writer = Writer(Vec::with_capacity(256));
    value.serialize(&mut writer)?;
    Ok(writer.0)
}

/// A value JSONB documents here do not hold.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct Error(String);

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(message: T) -> Self {
        Error(message.to_string())
    }
}

fn unsupported<T>(what: &str) -> Result<T, Error> {
    Err(Error(format!("a commit document holds no {what}")))
}

struct Writer(Vec<u8>);

impl Writer {
    /// A scalar element: its header, the smallest that holds its size, and
    /// its payload.
    fn scalar(&mut self, kind: u8, payload: &[u8]) {
        let size = payload.len();
        if size <= 11 {
            // At most 11: fits the header's high four bits.
            self.0.push(((size as u8) << 4) | kind);
        } else if let Ok(one) = u8::try_from(size) {
            self.0.extend_from_slice(&[0xc0 | kind, one]);
        } else if let Ok(two) = u16::try_from(size) {
            self.0.push(0xd0 | kind);
            self.0.extend_from_slice(&two.to_be_bytes());
        } else if let Ok(four) = u32::try_from(size) {
            self.0.push(0xe0 | kind);
            self.0.extend_from_slice(&four.to_be_bytes());
        } else {
            self.0.push(0xf0 | kind);
            self.0.extend_from_slice(&(size as u64).to_be_bytes());
        }
        self.0.extend_from_slice(payload);
    }

    fn int(&mut self, value: impl itoa::Integer) {
        self.scalar(INT, itoa::Buffer::new().format(value).as_bytes());
    }

    /// Opens an array: a header with room for a four-byte size.
    fn open(&mut self) -> Array<'_> {
        let at = self.0.len();
        self.0.extend_from_slice(&[0xe0 | ARRAY, 0, 0, 0, 0]);
        Array { writer: self, at }
    }
}

/// An array being written; [`end`](ser::SerializeSeq::end) fills in its size.
struct Array<'a> {
    writer: &'a mut Writer,
    at: usize,
}

impl Array<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.writer)
    }

    fn close(self) -> Result<(), Error> {
        let size = self.writer.0.len() - self.at - 5;
        let Ok(size) = u32::try_from(size) else {
            return unsupported("array of 4 GiB or more");
        };
        self.writer.0[self.at + 1..self.at + 5].copy_from_slice(&size.to_be_bytes());
        Ok(())
    }
}

array_of! {
    ser::SerializeSeq: serialize_element,
    ser::SerializeTuple: serialize_element,
    ser::SerializeTupleStruct: serialize_field,
}

impl<'a> ser::Serializer for &'a mut Writer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Array<'a>;
    type SerializeTuple = Array<'a>;
    type SerializeTupleStruct = Array<'a>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Impossible<(), Error>;
    type SerializeStruct = Impossible<(), Error>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.0.push(if v { TRUE } else { FALSE });
        Ok(())
    }

    integers! {
        serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
        serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64,
    }

    fn serialize_f32(self, _: f32) -> Result<(), Error> {
        unsupported("float")
    }

    fn serialize_f64(self, _: f64) -> Result<(), Error> {
        unsupported("float")
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.scalar(TEXTRAW, v.encode_utf8(&mut [0; 4]).as_bytes());
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.scalar(TEXTRAW, v.as_bytes());
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        unsupported("bytes")
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.0.push(NULL);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_none()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        unsupported("enum with data")
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Array<'a>, Error> {
        Ok(self.open())
    }

    fn serialize_tuple(self, _: usize) -> Result<Array<'a>, Error> {
        Ok(self.open())
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Array<'a>, Error> {
        Ok(self.open())
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        unsupported("enum with data")
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        unsupported("object")
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        unsupported("object")
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        unsupported("enum with data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_the_smallest_for_scalars_and_five_bytes_for_arrays() {
        assert_eq!(to_vec(&()).expect("null"), [0x00]);
        assert_eq!(to_vec(&true).expect("true"), [0x01]);
        assert_eq!(to_vec(&-12_i64).expect("int"), [0x33, b'-', b'1', b'2']);
        assert_eq!(to_vec("ab").expect("text"), [0x2a, b'a', b'b']);
        let twelve = to_vec("x".repeat(12).as_str()).expect("text");
        assert_eq!(twelve[..2], [0xca, 12]);
        let long = to_vec("x".repeat(300).as_str()).expect("text");
        assert_eq!(long[..3], [0xda, 0x01, 0x2c]);
        let huge = to_vec("x".repeat(70_000).as_str()).expect("text");
        assert_eq!(huge[..5], [0xea, 0x00, 0x01, 0x11, 0x70]);
        assert_eq!(huge.len(), 70_005);
        assert_eq!(
            to_vec(&(1_u8, None::<&str>)).expect("array"),
            [0xeb, 0, 0, 0, 3, 0x13, b'1', 0x00]
        );
    }

    #[test]
    fn floats_and_objects_are_refused() {
        assert!(to_vec(&1.5_f64).is_err());
        assert!(to_vec(&std::collections::BTreeMap::from([("a", 1)])).is_err());
    }
}
