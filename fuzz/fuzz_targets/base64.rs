//! sh's `base64 -d`: never a panic; what an encoder writes (with or without line breaks) decodes
//! to the bytes it encoded.
#![no_main]

use hardinit::sh::builtins::base64::decode;
use libfuzzer_sys::fuzz_target;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// RFC 4648 base64 with padding, wrapped at 76 columns as base64(1) writes it.
fn encode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
        if out.len() % 77 == 76 {
            out.push(b'\n');
        }
    }
    out.push(b'\n');
    out
}

fuzz_target!(|data: &[u8]| {
    if let Err(e) = decode(data) {
        assert!(!e.contains('\n'), "multi-line error: {e:?}");
    }
    assert_eq!(decode(&encode(data)).as_deref(), Ok(data));
});
