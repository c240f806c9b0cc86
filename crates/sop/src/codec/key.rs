//! Order-preserving key encoding: typed keys become bytes whose lexicographic
//! (memcmp) order equals the keys' natural order, so the B-tree compares bytes only.

use crate::error::CodecError;

/// A key type with a total order and an order-preserving, self-delimiting byte encoding.
pub trait Key: Sized {
    /// The identity of this encoding, saved with a store so that opening it with an
    /// incompatible key type fails (e.g. `"u64"`, `"str"`, `"(str,u64)"`).
    fn type_name() -> String;
    /// Append the encoding of `self` to `out`.
    fn encode_key(&self, out: &mut Vec<u8>);
    /// Decode one key from the front of `input`, advancing it.
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError>;

    /// The encoding of `self` alone.
    fn to_key_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.encode_key(&mut v);
        v
    }
    /// Decode a key from exactly `bytes` (trailing bytes are an error).
    fn from_key_bytes(mut bytes: &[u8]) -> Result<Self, CodecError> {
        let k = Self::decode_key(&mut bytes)?;
        if !bytes.is_empty() {
            return Err(CodecError::new("trailing bytes after key"));
        }
        Ok(k)
    }
}

impl Key for u64 {
    fn type_name() -> String {
        "u64".into()
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_be_bytes());
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        let (head, rest) = input
            .split_first_chunk::<8>()
            .ok_or_else(|| CodecError::new("short u64 key"))?;
        *input = rest;
        Ok(u64::from_be_bytes(*head))
    }
}

/// Unsigned integers: fixed-width big-endian.
macro_rules! key_unsigned {
    ($($t:ty => $name:literal),* $(,)?) => {$(
        impl Key for $t {
            fn type_name() -> String {
                $name.into()
            }
            fn encode_key(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
                let head = take_array(input, concat!("short ", $name, " key"))?;
                Ok(<$t>::from_be_bytes(head))
            }
        }
    )*};
}
key_unsigned!(u8 => "u8", u16 => "u16", u32 => "u32", u128 => "u128");

/// Signed integers: fixed-width big-endian of the two's complement with the sign bit
/// flipped, so negative numbers sort below non-negative ones.
macro_rules! key_signed {
    ($($t:ty => $u:ty, $name:literal),* $(,)?) => {$(
        impl Key for $t {
            fn type_name() -> String {
                $name.into()
            }
            fn encode_key(&self, out: &mut Vec<u8>) {
                let flipped = (*self as $u) ^ (1 << (<$u>::BITS - 1));
                out.extend_from_slice(&flipped.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
                let head = take_array(input, concat!("short ", $name, " key"))?;
                let flipped = <$u>::from_be_bytes(head) ^ (1 << (<$u>::BITS - 1));
                Ok(flipped as $t)
            }
        }
    )*};
}
key_signed!(i8 => u8, "i8", i16 => u16, "i16", i32 => u32, "i32", i64 => u64, "i64", i128 => u128, "i128");

/// Booleans: one byte, 0x00 for false and 0x01 for true (any other byte is an error).
impl Key for bool {
    fn type_name() -> String {
        "bool".into()
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        let [b] = take_array::<1>(input, "short bool key")?;
        match b {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError::new(format!("bad bool key byte 0x{b:02x}"))),
        }
    }
}

/// Floats: the IEEE bits big-endian, all bits flipped when the sign bit is set and only
/// the sign bit flipped otherwise. The byte order equals `total_cmp` (-NaN < -inf <
/// ... < -0.0 < +0.0 < ... < +inf < +NaN); every bit pattern, including NaN payloads,
/// round-trips.
macro_rules! key_float {
    ($($t:ty => $u:ty, $name:literal),* $(,)?) => {$(
        impl Key for $t {
            fn type_name() -> String {
                $name.into()
            }
            fn encode_key(&self, out: &mut Vec<u8>) {
                const SIGN: $u = 1 << (<$u>::BITS - 1);
                let bits = self.to_bits();
                let enc = if bits & SIGN != 0 { !bits } else { bits ^ SIGN };
                out.extend_from_slice(&enc.to_be_bytes());
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
                const SIGN: $u = 1 << (<$u>::BITS - 1);
                let enc = <$u>::from_be_bytes(take_array(input, concat!("short ", $name, " key"))?);
                let bits = if enc & SIGN != 0 { enc ^ SIGN } else { !enc };
                Ok(<$t>::from_bits(bits))
            }
        }
    )*};
}
key_float!(f32 => u32, "f32", f64 => u64, "f64");

/// Byte strings: escaped exactly like `String` (0x00 -> 0x00 0xFF, terminated by
/// 0x00 0x00), so they are self-delimiting and usable inside tuples.
impl Key for Vec<u8> {
    fn type_name() -> String {
        "bytes".into()
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        escape_bytes(self, out);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        unescape_bytes(input)
    }
}

/// Fixed-size byte arrays: the N raw bytes (fixed width, so self-delimiting).
impl<const N: usize> Key for [u8; N] {
    fn type_name() -> String {
        format!("[u8;{N}]")
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        take_array(input, "short fixed-size byte array key")
    }
}

/// UUIDs: the 16 raw bytes (the order of `Uuid`'s `Ord`).
impl Key for uuid::Uuid {
    fn type_name() -> String {
        "uuid".into()
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.as_bytes());
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        Ok(uuid::Uuid::from_bytes(take_array(input, "short uuid key")?))
    }
}

/// Options: 0x00 for `None`; 0x01 followed by the value for `Some` (None sorts first).
impl<T: Key> Key for Option<T> {
    fn type_name() -> String {
        format!("opt<{}>", T::type_name())
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode_key(out);
            }
        }
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        let [tag] = take_array::<1>(input, "short option key")?;
        match tag {
            0 => Ok(None),
            1 => Ok(Some(T::decode_key(input)?)),
            _ => Err(CodecError::new(format!("bad option key tag 0x{tag:02x}"))),
        }
    }
}

/// Tuples: the concatenation of the elements' encodings. Every element encoding is
/// prefix-free (fixed width or self-delimiting), so the concatenation compares
/// element by element, like the tuple's `Ord`.
macro_rules! key_tuple {
    ($($name:ident),+) => {
        impl<$($name: Key),+> Key for ($($name,)+) {
            fn type_name() -> String {
                let names: Vec<String> = vec![$($name::type_name()),+];
                format!("({})", names.join(","))
            }
            #[allow(non_snake_case)]
            fn encode_key(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode_key(out);)+
            }
            fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
                Ok(($($name::decode_key(input)?,)+))
            }
        }
    };
}
key_tuple!(A, B);
key_tuple!(A, B, C);
key_tuple!(A, B, C, D);
key_tuple!(A, B, C, D, E);
key_tuple!(A, B, C, D, E, F);

/// Split `N` bytes off the front of `input`.
fn take_array<const N: usize>(input: &mut &[u8], what: &str) -> Result<[u8; N], CodecError> {
    let (head, rest) = input
        .split_first_chunk::<N>()
        .ok_or_else(|| CodecError::new(what))?;
    *input = rest;
    Ok(*head)
}

/// Strings: bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x00.
impl Key for String {
    fn type_name() -> String {
        "str".into()
    }
    fn encode_key(&self, out: &mut Vec<u8>) {
        escape_bytes(self.as_bytes(), out);
    }
    fn decode_key(input: &mut &[u8]) -> Result<Self, CodecError> {
        let raw = unescape_bytes(input)?;
        String::from_utf8(raw).map_err(|_| CodecError::new("string key is not UTF-8"))
    }
}

pub(crate) fn escape_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.reserve(b.len() + 2);
    for &c in b {
        out.push(c);
        if c == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

pub(crate) fn unescape_bytes(input: &mut &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let mut i = 0;
    let b = *input;
    loop {
        let c = *b
            .get(i)
            .ok_or_else(|| CodecError::new("unterminated byte string in key"))?;
        if c == 0 {
            match b.get(i + 1) {
                Some(0xFF) => {
                    out.push(0);
                    i += 2;
                }
                Some(0) => {
                    *input = &b[i + 2..];
                    return Ok(out);
                }
                _ => return Err(CodecError::new("bad escape in key")),
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
}
