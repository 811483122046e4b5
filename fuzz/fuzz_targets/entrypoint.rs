//! The official entrypoint's rewriting of the command line and the address template: never a
//! panic; a rewrite keeps every argument it was given, in order.
#![no_main]

use hardinit::entrypoint::{Flavour, rewrite, substitute_host};
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data.split(|b| *b == 0).map(|a| OsString::from_vec(a.to_vec())).collect();
    let env = |name: &str| name.ends_with("ADDRESS").then(|| "0.0.0.0:8200".to_string());
    for flavour in [Flavour::Vault, Flavour::OpenBao] {
        let (rewritten, _) = rewrite(flavour, &args, &env);
        let mut rest = rewritten.iter();
        for arg in &args {
            assert!(rest.any(|r| r == arg), "{flavour:?}: {arg:?} lost in {rewritten:?}");
        }
    }
    let _ = substitute_host(&String::from_utf8_lossy(data), "10.0.0.1");
});
