//! The server-config reader (HCL v1 and JSON): never a panic, errors on one line with the file.
#![no_main]

use hardinit::harden::{hcl, server_config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = hcl::parse(data) {
        let message = e.to_string();
        assert!(!message.contains('\n'), "multi-line error: {message:?}");
    }
    let files = match server_config::parse_all(vec![("/c/server.hcl".into(), data.to_vec())]) {
        Ok(files) => files,
        Err(e) => {
            assert!(!e.message.contains('\n'), "multi-line error: {:?}", e.message);
            return;
        }
    };
    if let Err(e) = server_config::mlock_setting(&files, None) {
        assert!(!e.message.contains('\n'), "multi-line error: {:?}", e.message);
    }
    let _ = server_config::listener_tls_files(&files);
});
