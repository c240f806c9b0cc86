//! `codec::wire::Reader` driven by an arbitrary program of reads: every read is
//! checked, returns `Ok` or `Err`, never panics, and never moves past the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sop::test_hooks::{put_varint, Reader};

fuzz_target!(|data: &[u8]| {
    // data = [program length] program... buffer...
    let Some((&plen, rest)) = data.split_first() else { return };
    let (program, buf) = rest.split_at((plen as usize).min(rest.len()));
    let mut r = Reader::new(buf);
    let mut ops = program.iter();
    while let Some(&op) = ops.next() {
        let arg = ops.next().copied().unwrap_or(0) as usize;
        let before = r.pos;
        let remaining = r.remaining();
        let read_ok = match op % 11 {
            0 => r.u8().is_ok(),
            1 => r.u32().is_ok(),
            2 => r.u64().is_ok(),
            3 => r.u128().is_ok(),
            4 => match r.varint() {
                Ok(v) => {
                    // A decoded varint re-encodes to at most the bytes it used.
                    let mut enc = Vec::new();
                    put_varint(&mut enc, v);
                    assert!(enc.len() <= r.pos - before);
                    true
                }
                Err(_) => false,
            },
            5 => match r.len_prefix() {
                Ok(n) => {
                    assert!(n <= r.remaining());
                    true
                }
                Err(_) => false,
            },
            6 => match r.count(arg % 32) {
                Ok(n) => {
                    assert!((n as u128) * ((arg % 32).max(1) as u128) <= r.remaining() as u128);
                    true
                }
                Err(_) => false,
            },
            7 => match r.bytes() {
                Ok(b) => {
                    assert!(b.len() < r.pos - before, "a length prefix takes at least one byte");
                    true
                }
                Err(_) => false,
            },
            8 => match r.take(arg) {
                Ok(b) => {
                    assert_eq!(b, &buf[before..before + arg]);
                    true
                }
                Err(_) => {
                    assert!(arg > remaining || before > buf.len());
                    assert_eq!(r.pos, before, "a failed take does not move");
                    false
                }
            },
            // Seek anywhere, also past the end: `pos` is public, and the reader
            // promises that no read panics.
            9 => {
                r.pos = arg.wrapping_mul(7) % (buf.len() + 16);
                false
            }
            _ => {
                assert_eq!(r.is_empty(), remaining == 0);
                false
            }
        };
        // A successful read ends inside the buffer, having moved forward.
        if read_ok {
            assert!(before <= r.pos && r.pos <= buf.len());
        }
    }
});
