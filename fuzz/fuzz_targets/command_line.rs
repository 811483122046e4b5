//! hardinit's command line, as `hardinit` and as `hardinit check`: never a panic, errors on one
//! line. Arguments are the input split at NUL bytes (not UTF-8 allowed).
#![no_main]

use hardinit::cli;
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let mut args = vec![OsString::from("hardinit")];
    args.extend(data.split(|b| *b == 0).map(|a| OsString::from_vec(a.to_vec())));
    if let Err(e) = cli::parse(cli::multi_call(args)) {
        assert!(!e.message.contains('\n'), "multi-line error: {:?}", e.message);
    }
});
