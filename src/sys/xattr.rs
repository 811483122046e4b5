//! Extended attributes, read without following a symlink: the POSIX ACLs the kernel keeps in
//! `system.posix_acl_access` (and `system.posix_acl_default` on directories).

use super::check_long;
use std::ffi::{CStr, CString};
use std::io;

/// The ACL attribute the kernel consults for access checks, in its on-disk (xattr) encoding.
pub const POSIX_ACL_ACCESS: &CStr = c"system.posix_acl_access";

/// No attribute is larger than this (the kernel's XATTR_SIZE_MAX).
const MAX_SIZE: usize = 65536;

/// Reads attribute `name` of `path` itself (lgetxattr: a symlink's own, never its target's).
/// None: the file has no such attribute, or its filesystem keeps none (ENODATA, ENOTSUP).
pub fn get_nofollow(path: &std::path::Path, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut buf = vec![0u8; MAX_SIZE];
    // SAFETY: both strings are NUL-terminated; `buf` has MAX_SIZE writable bytes and the kernel
    // writes at most that many.
    let n = unsafe { libc::lgetxattr(c_path.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    Ok(absent_as_none(check_long(n as libc::c_long))?.map(|n| {
        buf.truncate(n as usize);
        buf
    }))
}

/// Reads attribute `name` of an open file (fgetxattr): the inode that was opened and checked.
pub fn get_open(file: &impl std::os::fd::AsRawFd, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; MAX_SIZE];
    // SAFETY: `buf` has MAX_SIZE writable bytes; `name` is NUL-terminated.
    let n = unsafe { libc::fgetxattr(file.as_raw_fd(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    Ok(absent_as_none(check_long(n as libc::c_long))?.map(|n| {
        buf.truncate(n as usize);
        buf
    }))
}

/// getxattrat(2) (Linux 6.13), the same number on every architecture.
const SYS_GETXATTRAT: libc::c_long = 464;

/// The kernel's `struct xattr_args` of getxattrat.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// Reads attribute `name` of the inode an O_PATH descriptor holds (getxattrat with AT_EMPTY_PATH;
/// fgetxattr refuses O_PATH descriptors). ENOSYS on kernels before 6.13, for the caller to handle.
pub fn get_empty_path(fd: &impl std::os::fd::AsRawFd, name: &CStr) -> io::Result<Option<Vec<u8>>> {
    let mut buf = vec![0u8; MAX_SIZE];
    let mut args = XattrArgs { value: buf.as_mut_ptr() as u64, size: MAX_SIZE as u32, flags: 0 };
    // SAFETY: both strings are NUL-terminated; `args` points at `buf`, writable for MAX_SIZE bytes,
    // and its own size is passed.
    let n = unsafe {
        libc::syscall(
            SYS_GETXATTRAT,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH as libc::c_uint,
            name.as_ptr(),
            &mut args as *mut XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    };
    Ok(absent_as_none(check_long(n))?.map(|n| {
        buf.truncate(n as usize);
        buf
    }))
}

fn absent_as_none(result: io::Result<libc::c_long>) -> io::Result<Option<libc::c_long>> {
    match result {
        Ok(n) => Ok(Some(n)),
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::ENOTSUP)) => Ok(None),
        Err(e) => Err(e),
    }
}
