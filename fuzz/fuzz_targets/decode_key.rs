//! Key decoders (`Key::from_key_bytes` / `decode_key`) on arbitrary bytes: never
//! panic; accepted bytes are exactly the canonical encoding of the decoded key;
//! the byte order of encodings is the order of the keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop::Key;

fn check<K: Key + Ord + std::fmt::Debug>(a: &[u8], b: &[u8]) {
    let ka = K::from_key_bytes(a);
    if let Ok(k) = &ka {
        assert_eq!(k.to_key_bytes(), a, "accepted key bytes are not canonical");
    }
    if let (Ok(x), Ok(y)) = (ka, K::from_key_bytes(b)) {
        assert_eq!(x.cmp(&y), a.cmp(b), "byte order differs from key order: {x:?} {y:?}");
    }
}

/// Keys are self-delimiting: decoding a run of keys consumes each one's encoding exactly.
fn check_sequence<K: Key>(mut input: &[u8]) {
    while !input.is_empty() {
        let before = input;
        let Ok(k) = K::decode_key(&mut input) else { return };
        let used = before.len() - input.len();
        assert_eq!(k.to_key_bytes(), &before[..used]);
    }
}

fuzz_target!(|data: &[u8]| {
    let (a, b) = data.split_at(data.first().map_or(0, |n| *n as usize % (data.len() + 1)));
    check::<u64>(a, b);
    check::<String>(a, b);
    check_sequence::<u64>(data);
    check_sequence::<String>(data);
    // A (String, u64) composite, as a tuple key would encode it.
    let mut rest = data;
    if let Ok(s) = String::decode_key(&mut rest) {
        if let Ok(n) = u64::decode_key(&mut rest) {
            let mut enc = s.to_key_bytes();
            n.encode_key(&mut enc);
            assert_eq!(enc, &data[..data.len() - rest.len()]);
        }
    }
});
