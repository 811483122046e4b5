//! The regex layer of sh's `sed -E` and `grep -E`: never a panic, errors on one line. The
//! pattern is the input's first line, the text the rest.
#![no_main]

use hardinit::sh::builtins::ere;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (pattern, subject) = text.split_once('\n').unwrap_or((text, ""));
    if let Err(e) = ere::first_match(pattern, subject.as_bytes()) {
        assert!(!e.contains('\n'), "multi-line error: {e:?}");
    }
});
