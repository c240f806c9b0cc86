//! Typed key encodings: byte order equals the natural order, round trips, and decoding
//! arbitrary bytes never panics.

use proptest::prelude::*;
use sop::Key;
use std::cmp::Ordering;
use std::fmt::Debug;

fn enc<K: Key>(k: &K) -> Vec<u8> {
    k.to_key_bytes()
}

/// The encoding orders like `cmp` and round-trips (checked with `same`).
fn check_pair<K: Key + Debug>(
    a: &K,
    b: &K,
    cmp: impl Fn(&K, &K) -> Ordering,
    same: impl Fn(&K, &K) -> bool,
) {
    let (ea, eb) = (enc(a), enc(b));
    assert_eq!(
        cmp(a, b),
        ea.cmp(&eb),
        "order of {a:?} vs {b:?}: {ea:02x?} vs {eb:02x?}"
    );
    for (k, e) in [(a, &ea), (b, &eb)] {
        let back =
            K::from_key_bytes(e).unwrap_or_else(|err| panic!("decode {k:?} from {e:02x?}: {err}"));
        assert!(same(&back, k), "round trip of {k:?} gave {back:?}");
        // Decoding from the front of a longer buffer consumes exactly the encoding.
        let mut longer = e.clone();
        longer.extend_from_slice(&[0x00, 0xFF, 0x42]);
        let mut input = &longer[..];
        let back = K::decode_key(&mut input).unwrap();
        assert!(same(&back, k));
        assert_eq!(input, &[0x00, 0xFF, 0x42]);
    }
}

fn check_ord<K: Key + Ord + Debug>(a: &K, b: &K) {
    check_pair(a, b, K::cmp, |x, y| x == y);
}

/// Decoding arbitrary bytes returns a result without panicking; a successful decode of
/// the whole input re-encodes to exactly the input (the encoding is canonical).
fn check_decode_any<K: Key + Debug>(bytes: &[u8]) {
    if let Ok(k) = K::from_key_bytes(bytes) {
        assert_eq!(
            enc(&k),
            bytes,
            "{} decoded {bytes:02x?} as {k:?}",
            K::type_name()
        );
    }
    let mut input = bytes;
    let _ = K::decode_key(&mut input);
}

/// Strings biased towards shared prefixes, NULs and high bytes.
fn small_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(
            prop::sample::select(vec!['\0', 'a', 'b', '\u{7f}', 'é', '\u{ffff}', '😀']),
            0..5
        )
        .prop_map(|v| v.into_iter().collect()),
        any::<String>(),
    ]
}

fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(vec![0u8, 1, 0x7f, 0xfe, 0xff]), 0..5),
        prop::collection::vec(any::<u8>(), 0..20),
    ]
}

fn float64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            f64::from_bits(1),
            -f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
        ]),
        any::<i32>().prop_map(|i| i as f64 / 8.0),
    ]
}

fn float32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<u32>().prop_map(f32::from_bits),
        prop::sample::select(vec![
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN
        ]),
    ]
}

macro_rules! ord_tests {
    ($($test:ident: $t:ty = $strat:expr;)*) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            $(
                #[test]
                fn $test(a in $strat, b in $strat) {
                    check_ord::<$t>(&a, &b);
                    check_ord::<$t>(&a, &a);
                }
            )*
        }
    };
}

ord_tests! {
    order_u8: u8 = any::<u8>();
    order_u16: u16 = any::<u16>();
    order_u32: u32 = any::<u32>();
    order_u64: u64 = any::<u64>();
    order_u128: u128 = any::<u128>();
    order_i8: i8 = any::<i8>();
    order_i16: i16 = any::<i16>();
    order_i32: i32 = any::<i32>();
    order_i64: i64 = any::<i64>();
    order_i128: i128 = any::<i128>();
    order_bool: bool = any::<bool>();
    order_string: String = small_string();
    order_bytes: Vec<u8> = small_bytes();
    order_array0: [u8; 0] = any::<[u8; 0]>();
    order_array3: [u8; 3] = any::<[u8; 3]>();
    order_array24: [u8; 24] = any::<[u8; 24]>();
    order_uuid: uuid::Uuid = any::<u128>().prop_map(uuid::Uuid::from_u128);
    order_opt_u32: Option<u32> = any::<Option<u32>>();
    order_opt_string: Option<String> = proptest::option::of(small_string());
    order_opt_opt_i8: Option<Option<i8>> = any::<Option<Option<i8>>>();
    order_tuple2: (String, u64) = (small_string(), any::<u64>());
    order_tuple3: (i32, Vec<u8>, bool) = (-3i32..3, small_bytes(), any::<bool>());
    order_tuple4: (u8, String, Option<i16>, [u8; 2]) =
        (0u8..3, small_string(), any::<Option<i16>>(), any::<[u8; 2]>());
    order_tuple5: (bool, bool, String, u16, i64) =
        (any::<bool>(), any::<bool>(), small_string(), 0u16..3, any::<i64>());
    order_tuple6: (u8, i8, String, Vec<u8>, Option<String>, u128) =
        (0u8..2, -1i8..1, small_string(), small_bytes(), proptest::option::of(small_string()), any::<u128>());
    order_nested: ((String, Option<(i32, Vec<u8>)>), (Option<String>, (bool, u8))) = (
        (small_string(), proptest::option::of((-2i32..2, small_bytes()))),
        (proptest::option::of(small_string()), (any::<bool>(), 0u8..2)),
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn order_f64(a in float64(), b in float64()) {
        check_pair(&a, &b, f64::total_cmp, |x, y| x.to_bits() == y.to_bits());
    }

    #[test]
    fn order_f32(a in float32(), b in float32()) {
        check_pair(&a, &b, f32::total_cmp, |x, y| x.to_bits() == y.to_bits());
    }

    #[test]
    fn order_tuple_with_float(a in (float64(), small_string()), b in (float64(), small_string())) {
        check_pair(
            &a,
            &b,
            |x, y| x.0.total_cmp(&y.0).then_with(|| x.1.cmp(&y.1)),
            |x, y| x.0.to_bits() == y.0.to_bits() && x.1 == y.1,
        );
    }

    #[test]
    fn decode_random_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..48)) {
        check_decode_any::<u8>(&bytes);
        check_decode_any::<u16>(&bytes);
        check_decode_any::<u32>(&bytes);
        check_decode_any::<u64>(&bytes);
        check_decode_any::<u128>(&bytes);
        check_decode_any::<i8>(&bytes);
        check_decode_any::<i16>(&bytes);
        check_decode_any::<i32>(&bytes);
        check_decode_any::<i64>(&bytes);
        check_decode_any::<i128>(&bytes);
        check_decode_any::<bool>(&bytes);
        check_decode_any::<f32>(&bytes);
        check_decode_any::<f64>(&bytes);
        check_decode_any::<String>(&bytes);
        check_decode_any::<Vec<u8>>(&bytes);
        check_decode_any::<[u8; 0]>(&bytes);
        check_decode_any::<[u8; 5]>(&bytes);
        check_decode_any::<uuid::Uuid>(&bytes);
        check_decode_any::<Option<String>>(&bytes);
        check_decode_any::<Option<Option<u8>>>(&bytes);
        check_decode_any::<(String, u64)>(&bytes);
        check_decode_any::<(bool, Vec<u8>, Option<i32>)>(&bytes);
        check_decode_any::<(u8, u8, u8, u8, String)>(&bytes);
        check_decode_any::<(u8, String, bool, Option<u8>, Vec<u8>, i8)>(&bytes);
        check_decode_any::<((String, u8), Option<(bool, Vec<u8>)>)>(&bytes);
    }
}

/// Byte strings biased towards the escape sequences, so random input often decodes.
#[test]
fn decode_escape_like_bytes_never_panics() {
    let alphabet = [0x00u8, 0xFF, 0x01, 0x61];
    let mut runner = proptest::test_runner::TestRunner::default();
    runner
        .run(
            &prop::collection::vec(prop::sample::select(alphabet.to_vec()), 0..16),
            |bytes| {
                check_decode_any::<String>(&bytes);
                check_decode_any::<Vec<u8>>(&bytes);
                check_decode_any::<(Vec<u8>, Vec<u8>)>(&bytes);
                check_decode_any::<(Option<Vec<u8>>, bool)>(&bytes);
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn tuple_prefix_order() {
    let keys: Vec<(String, u64)> = vec![("a".into(), 2), ("a\0".into(), 1), ("ab".into(), 0)];
    for w in keys.windows(2) {
        assert!(w[0] < w[1]);
        assert!(enc(&w[0]) < enc(&w[1]), "{:?} vs {:?}", w[0], w[1]);
    }
    // Byte strings behave the same way.
    let keys: Vec<(Vec<u8>, u64)> = vec![
        (b"a".to_vec(), 2),
        (b"a\0".to_vec(), 1),
        (b"ab".to_vec(), 0),
    ];
    for w in keys.windows(2) {
        assert!(enc(&w[0]) < enc(&w[1]));
    }
}

#[test]
fn type_names() {
    assert_eq!(u8::type_name(), "u8");
    assert_eq!(i32::type_name(), "i32");
    assert_eq!(i128::type_name(), "i128");
    assert_eq!(bool::type_name(), "bool");
    assert_eq!(f32::type_name(), "f32");
    assert_eq!(f64::type_name(), "f64");
    assert_eq!(String::type_name(), "str");
    assert_eq!(<Vec<u8>>::type_name(), "bytes");
    assert_eq!(<[u8; 24]>::type_name(), "[u8;24]");
    assert_eq!(uuid::Uuid::type_name(), "uuid");
    assert_eq!(<Option<String>>::type_name(), "opt<str>");
    assert_eq!(<(String, u64)>::type_name(), "(str,u64)");
    assert_eq!(
        <((String, u64), Option<(i8, bool)>)>::type_name(),
        "((str,u64),opt<(i8,bool)>)"
    );
    assert_eq!(
        <(u8, u8, u8, u8, u8, u8)>::type_name(),
        "(u8,u8,u8,u8,u8,u8)"
    );
}

#[test]
fn fixed_encodings() {
    assert_eq!(enc(&-1i8), [0x7F]);
    assert_eq!(enc(&0i16), [0x80, 0x00]);
    assert_eq!(enc(&i32::MIN), [0, 0, 0, 0]);
    assert_eq!(enc(&true), [1]);
    assert_eq!(enc(&0.0f64), [0x80, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        enc(&-0.0f64),
        [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
    );
    assert_eq!(enc(&b"a\0".to_vec()), [0x61, 0x00, 0xFF, 0x00, 0x00]);
    assert_eq!(enc(&None::<u8>), [0]);
    assert_eq!(enc(&Some(7u8)), [1, 7]);
    assert!(bool::from_key_bytes(&[2]).is_err());
    assert!(<Option<u8>>::from_key_bytes(&[2, 0]).is_err());
    assert!(String::from_key_bytes(&[0xFF, 0, 0]).is_err(), "not UTF-8");
    assert!(
        String::from_key_bytes(&[0x61, 0, 0x01]).is_err(),
        "bad escape"
    );
    assert!(u64::from_key_bytes(&[0; 9]).is_err(), "trailing bytes");
}
