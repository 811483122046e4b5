//! hardinit's sh, lexer and parser: never a panic or a stack overflow, and a refusal is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(script) = std::str::from_utf8(data) else { return };
    if let Err(refusal) = hardinit::sh::check_script(script) {
        assert!(!refusal.contains('\n'), "multi-line refusal: {refusal:?}");
    }
});
