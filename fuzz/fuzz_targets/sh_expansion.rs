//! sh's expansion and arithmetic, the runner's pure parts: never a panic or a stack overflow,
//! errors on one line; a word without expansions expands to its own text.
#![no_main]

use hardinit::sh::arith;
use hardinit::sh::expand::{Scope, fields, single};
use hardinit::sh::lexer::{Token, tokens};
use libfuzzer_sys::fuzz_target;

/// Variables from the input itself: `X`, `Y` and `1` hold its first bytes.
struct Variables(String);

impl Scope for Variables {
    fn lookup(&self, name: &str) -> Option<Vec<u8>> {
        match name {
            "X" | "1" => Some(self.0.clone().into_bytes()),
            "Y" => Some(format!(" {} ", self.0).into_bytes()),
            "?" => Some(b"0".to_vec()),
            _ => None,
        }
    }

    fn pidof(&self, _names: &[String]) -> Vec<u8> {
        Vec::new()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (value, script) = text.split_once('\n').unwrap_or(("", text));
    let scope = Variables(value.to_string());
    if let Ok(expr) = arith::parse(script) {
        if let Err(e) = arith::eval(&expr, &|name| scope.lookup(name)) {
            assert!(!e.contains('\n'), "multi-line error: {e:?}");
        }
    }
    let Ok(tokens) = tokens(script) else { return };
    for token in tokens {
        let Token::Word(word) = token else { continue };
        match fields(std::slice::from_ref(&word), &scope) {
            Err(e) => assert!(!e.contains('\n'), "multi-line error: {e:?}"),
            Ok(_) => {
                if let Some(literal) = word.literal() {
                    assert_eq!(single(&word, &scope).as_deref(), Ok(literal.as_bytes()));
                }
            }
        }
    }
});
