//! hardinit's sh, its contract: what is knowable before a script runs is judged before it runs.
//! For any script the parser accepts, no built-in with written-out arguments is left for the run
//! to refuse; and the judgement of any arguments (sed programs, grep patterns, options of every
//! built-in), taken from the input split at NUL bytes, never panics and is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    if let Ok(script) = std::str::from_utf8(data) {
        if let Some(refusal) = hardinit::sh::refusal_left_for_run_time(script) {
            panic!("accepted by the parser, refused when it runs: {refusal:?} in {script:?}");
        }
    }
    let Some((&selector, rest)) = data.split_first() else { return };
    let builtins = ["sed", "grep", "cp", "touch", "base64", "export", "kill", "sleep", "echo", "["];
    let name = builtins[usize::from(selector) % builtins.len()];
    let args: Vec<OsString> = rest.split(|b| *b == 0).map(|a| OsString::from_vec(a.to_vec())).collect();
    if let Some(refusal) = hardinit::sh::builtins::refusal(name, &args) {
        assert!(!hardinit::sh::one_line(&refusal).contains('\n'), "multi-line refusal: {refusal:?}");
    }
});
