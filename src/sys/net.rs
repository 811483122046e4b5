//! Network interfaces: the first IPv4 address of a named interface (getifaddrs), what the official
//! entrypoint asks `ip addr show dev IF` for.

use super::check;
use std::ffi::CStr;
use std::io;
use std::net::Ipv4Addr;

/// `Ok(None)`: the interface exists but has no IPv4 address; `Err(NotFound)`: no such interface.
pub fn first_ipv4(interface: &str) -> io::Result<Option<Ipv4Addr>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates the list and stores its head in `list`.
    check(unsafe { libc::getifaddrs(&mut list) })?;
    let mut found = false;
    let mut address = None;
    let mut cursor = list;
    while !cursor.is_null() {
        // SAFETY: every node of the list is valid until freeifaddrs below.
        let node = unsafe { &*cursor };
        // SAFETY: ifa_name is a NUL-terminated string for every node.
        let name = unsafe { CStr::from_ptr(node.ifa_name) };
        if name.to_bytes() == interface.as_bytes() {
            found = true;
            // SAFETY: ifa_addr is null or a sockaddr whose family says its real type.
            if !node.ifa_addr.is_null() && i32::from(unsafe { (*node.ifa_addr).sa_family }) == libc::AF_INET {
                // SAFETY: an AF_INET address is a sockaddr_in.
                let sin = unsafe { &*(node.ifa_addr as *const libc::sockaddr_in) };
                address = Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
                break;
            }
        }
        cursor = node.ifa_next;
    }
    // SAFETY: frees the list getifaddrs allocated; no pointer into it is kept.
    unsafe { libc::freeifaddrs(list) };
    if !found {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    }
    Ok(address)
}
