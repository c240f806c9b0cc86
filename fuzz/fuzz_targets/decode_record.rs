//! Commit record decoding on arbitrary bytes: `Record::decode_file`, and
//! `Record::decode_header` with a matching checksum (so the parser behind the
//! checksum is reached). Never panics; what decodes re-encodes to the same record.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop::test_hooks::checksum;
use sop::test_hooks::{Record, PREFIX_LEN, TRAILER_LEN};

fn file_around(header: &[u8], body: &[u8]) -> Vec<u8> {
    let mut file = Record::prefix().to_vec();
    file.extend_from_slice(body);
    let off = file.len() as u64;
    file.extend_from_slice(header);
    file.extend_from_slice(&Record::trailer(off, header));
    file
}

fuzz_target!(|data: &[u8]| {
    // The raw bytes as a whole record file.
    if let Ok(rec) = Record::decode_file(data) {
        assert!(data.len() >= PREFIX_LEN + TRAILER_LEN);
        let h = rec.encode_header();
        assert_eq!(Record::decode_header(&h, checksum(&h)).as_ref(), Ok(&rec));
    }
    // A wrong checksum is always refused.
    assert!(Record::decode_header(data, checksum(data) ^ 1).is_err());

    // The raw bytes as a header with a good checksum.
    let direct = Record::decode_header(data, checksum(data));
    // ... and inside a well-formed file: the same answer.
    let body_len = data.first().map_or(0, |b| (*b % 8) as usize);
    let file = file_around(data, &vec![0xA5; body_len]);
    let via_file = Record::decode_file(&file);
    assert_eq!(direct.is_ok(), via_file.is_ok());
    // The trailer and prefix checks: a truncated or extended file is refused.
    assert!(Record::decode_file(&file[..file.len() - 1]).is_err());
    let mut longer = file.clone();
    longer.push(0);
    assert!(Record::decode_file(&longer).is_err());

    if let Ok(rec) = direct {
        assert_eq!(via_file.as_ref(), Ok(&rec));
        // Round trip: decode(encode(rec)) == rec, and the encoding is a fixed point.
        let h = rec.encode_header();
        let back = Record::decode_header(&h, checksum(&h)).expect("re-encoded header decodes");
        assert_eq!(back, rec);
        assert_eq!(back.encode_header(), h);
        assert_eq!(Record::decode_file(&file_around(&h, b"")).as_ref(), Ok(&rec));
    }
});
