//! `base64 -d`: standard alphabet, `=` padding, whitespace ignored; how the Agent Injector hands
//! its configuration to the agent. Bad input (a byte outside the alphabet, a missing padding, `=`
//! before the end) is one line and status 1, and nothing is written: busybox would skip the
//! foreign byte and print what it decoded before the error. A `> FILE` redirection writes only
//! after success.

use super::{Io, files, options};

/// Whether to decode, or what hardinit refuses.
fn decoding(args: &[String]) -> Result<bool, String> {
    match options(args, "d") {
        Ok((letters, [])) => Ok(letters.contains(&'d')),
        Ok(_) => Err("a file operand is not supported (base64 [-d] reads the standard input)".into()),
        Err(e) => Err(e),
    }
}

pub fn refusal(args: &[String]) -> Option<String> {
    decoding(args).err()
}

/// The standard alphabet with `=` padding, in lines of 76 characters, as busybox writes it.
pub fn encode(input: &[u8]) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = Vec::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let bits = chunk.iter().enumerate().fold(0u32, |bits, (i, b)| bits | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            text.push(if i <= chunk.len() { ALPHABET[(bits >> (18 - 6 * i) & 63) as usize] } else { b'=' });
        }
    }
    let mut out = Vec::with_capacity(text.len() + text.len() / 76 + 1);
    for line in text.chunks(76) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out
}

pub fn run(args: &[String], io: &mut Io) -> i32 {
    let decode_it = match decoding(args) {
        Ok(d) => d,
        Err(e) => return io.fail("base64", 2, e),
    };
    let input = match crate::sys::regular_file::read_bounded(&mut *io.stdin, files::MAX_FILE) {
        Ok(input) => input,
        Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => return io.fail("base64", 1, format!("input {e}")),
        Err(e) => return io.fail("base64", 1, e),
    };
    let converted = if decode_it { decode(&input) } else { Ok(encode(&input)) };
    match converted {
        Ok(bytes) => match io.out.write_all(&bytes) {
            Ok(()) => 0,
            Err(e) => io.fail("base64", 1, e),
        },
        Err(e) => io.fail("base64", 1, e),
    }
}

fn value(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    } as u32)
}

pub fn decode(input: &[u8]) -> Result<Vec<u8>, String> {
    let symbols: Vec<u8> = input.iter().copied().filter(|c| !c.is_ascii_whitespace()).collect();
    let padding = symbols.iter().rev().take_while(|c| **c == b'=').count();
    let data = &symbols[..symbols.len() - padding];
    // Padded to a whole number of quads, as busybox and GNU require.
    if padding > 2 || !symbols.len().is_multiple_of(4) {
        return Err("invalid input (bad length or padding)".into());
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let mut bits = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            let v = value(*c).ok_or_else(|| format!("invalid input (byte {:?})", *c as char))?;
            bits |= v << (18 - 6 * i);
        }
        let bytes = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        out.extend_from_slice(&bytes[..chunk.len() - 1]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::testing::run_builtin;
    use super::*;

    #[test]
    fn decodes_what_encoders_write() {
        assert_eq!(decode(b"eyJhIjogMX0=").unwrap(), b"{\"a\": 1}");
        assert_eq!(decode(b"YQ==\n").unwrap(), b"a");
        assert_eq!(decode(b"YWI=").unwrap(), b"ab");
        assert_eq!(decode(b"YWJj").unwrap(), b"abc");
        assert_eq!(decode(b"YW\nJj\n").unwrap(), b"abc");
        assert_eq!(decode(b"").unwrap(), b"");
    }

    #[test]
    fn bad_input_is_status_1() {
        for bad in [&b"Y"[..], b"YQ=", b"YQ===", b"Y!==", b"YQ==YQ==", b"====", b"a-b_", b"YWI", b"YWJjZA"] {
            let (status, out, err) = run_builtin("base64", &["-d"], bad);
            assert_eq!((status, out.as_str()), (1, ""), "{bad:?}");
            assert_eq!(err.lines().count(), 1);
        }
        assert_eq!(run_builtin("base64", &["-d", "file"], b"").0, 2, "a file operand is not supported");
    }
}
