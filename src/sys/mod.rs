//! The only place in hardinit that calls into libc.
//!
//! Every function here is a thin wrapper over one system call (or a very small group of them) that
//! turns the C convention (`-1` and `errno`) into `io::Result`. Policy lives above this module, in
//! safe Rust. Every `unsafe` block carries a `// SAFETY:` line that says why it holds.
//! The crate denies `unsafe_code` everywhere else (Cargo.toml's `[lints]`).
#![allow(unsafe_code)]

pub mod env;
pub mod fs;
pub mod inotify;
pub mod net;
pub mod nofollow;
pub mod privilege;
pub mod process;
pub mod regex;
pub mod regular_file;
pub mod signal;
pub mod xattr;

use std::ffi::{c_char, c_int};
use std::io;
use std::os::unix::ffi::OsStringExt;

/// Turns the C convention "-1 means failure, errno says why" into a `Result`.
fn check(ret: c_int) -> io::Result<c_int> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// Same as [`check`] for calls that return `long` (raw `syscall`).
fn check_long(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 { Err(io::Error::last_os_error()) } else { Ok(ret) }
}

/// The process entry point: `c_entry_point!(f)` in the binary defines the C `main`, which hands
/// `f` the arguments. hardinit defines the C `main` itself (`#![no_main]`) because the Rust runtime
/// sets SIGPIPE to SIG_IGN before a Rust `main` runs: the server would inherit an ignored SIGPIPE
/// that hardinit never received, and hardinit could not tell what it really received.
#[macro_export]
macro_rules! c_entry_point {
    ($run:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn main(argc: ::std::ffi::c_int, argv: *const *const ::std::ffi::c_char) -> ::std::ffi::c_int {
            // SAFETY: the C runtime calls `main` with `argc` valid pointers to NUL-terminated strings.
            $run(unsafe { $crate::sys::args_from_argv(argc, argv) })
        }
    };
}

/// The arguments of the C `main`, as raw bytes (they need not be UTF-8).
///
/// # Safety
/// `argv` must hold `argc` valid pointers to NUL-terminated strings, as the C runtime passes them.
pub unsafe fn args_from_argv(argc: c_int, argv: *const *const c_char) -> Vec<std::ffi::OsString> {
    let count = usize::try_from(argc).unwrap_or(0);
    let mut args = Vec::with_capacity(count);
    for i in 0..count {
        // SAFETY: the caller guarantees `argc` valid pointers to NUL-terminated strings in `argv`.
        let arg = unsafe { std::ffi::CStr::from_ptr(*argv.add(i)) };
        args.push(std::ffi::OsString::from_vec(arg.to_bytes().to_vec()));
    }
    args
}
