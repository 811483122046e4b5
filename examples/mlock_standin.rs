//! A stand-in for the server's memory locking, for the tests of the memory rule: it maps and
//! touches 64 MiB (far beyond the default RLIMIT_MEMLOCK, as a real server's heap is), then calls
//! mlockall(MCL_CURRENT | MCL_FUTURE) as Vault does at start. Prints "locked" and exits 0, or
//! "mlockall: ERROR" and exits 1. Built for the musl target, so it runs in any container.
// A test program, not part of hardinit: it calls libc itself, as the programs it stands in for do.
#![allow(unsafe_code)]

fn main() {
    const SIZE: usize = 64 << 20;
    let mut heap = vec![0u8; SIZE];
    for page in heap.chunks_mut(4096) {
        page[0] = 1;
    }
    // SAFETY: mlockall has no memory arguments.
    let locked = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if locked == 0 {
        println!("locked {} bytes", heap.len());
    } else {
        println!("mlockall: {}", std::io::Error::last_os_error());
        std::process::exit(1);
    }
}
