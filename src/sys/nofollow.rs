//! Reaching a file to write without following a symlink in any component of its path: the walk
//! goes one directory at a time (openat O_PATH|O_DIRECTORY|O_NOFOLLOW from `/` or the working
//! directory), and the last component is opened, renamed or checked relative to the directory
//! the walk ended in, with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW. Works on every kernel and under
//! qemu-user, which openat2's RESOLVE_NO_SYMLINKS would not.

use super::check;
use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
// 32-bit glibc's fstatat fails with EOVERFLOW where an inode number or a size needs 64 bits
// (overlayfs, a file over 2 GiB): fstatat64 is the same call in 64-bit glibc, musl's is 64-bit.
#[cfg(not(target_env = "gnu"))]
use libc::{fstatat, stat};
#[cfg(target_env = "gnu")]
use libc::{fstatat64 as fstatat, stat64 as stat};

/// The directory that holds a path's last component, reached without following a symlink, and
/// that component's name.
pub struct Parent {
    dir: OwnedFd,
    name: CString,
}

const WALK: i32 = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

fn open_dir(at: Option<&OwnedFd>, name: &CStr) -> io::Result<OwnedFd> {
    let at = at.map_or(libc::AT_FDCWD, AsRawFd::as_raw_fd);
    // SAFETY: `name` is NUL-terminated; the descriptor returned is fresh and owned by the OwnedFd.
    let fd = check(unsafe { libc::openat(at, name.as_ptr(), WALK) })?;
    // SAFETY: as above.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The file type bits (S_IFMT) of `name` in `dir`, the link itself for a symlink.
fn kind(dir: &OwnedFd, name: &CStr) -> io::Result<u32> {
    let mut st = std::mem::MaybeUninit::<stat>::zeroed();
    // SAFETY: `name` is NUL-terminated and `st` has room for one stat struct.
    check(unsafe { fstatat(dir.as_raw_fd(), name.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) })?;
    // SAFETY: filled by fstatat on success.
    Ok(unsafe { st.assume_init() }.st_mode & libc::S_IFMT)
}

/// The error of a walk that met a symlink: a refusal, told apart by [`is_refusal`].
#[derive(Debug)]
struct ThroughSymlink(String);

impl std::fmt::Display for ThroughSymlink {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} is a symlink: not written through", self.0)
    }
}

impl std::error::Error for ThroughSymlink {}

fn symlink_error(component: &OsStr) -> io::Error {
    io::Error::other(ThroughSymlink(Path::new(component).display().to_string()))
}

/// Whether `error` is a symlink met on the way (hardinit refuses), not a failure of the system.
pub fn is_refusal(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<ThroughSymlink>())
}

fn c_name(name: &[u8]) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))
}

/// Walks to the directory holding `path`'s last component. A symlink among the directories is an
/// error saying so; so is a path that names no file (empty, ending in `/`, `.` or `..`).
pub fn parent(path: &Path) -> io::Result<Parent> {
    let bytes = path.as_os_str().as_bytes();
    let (directories, name) = match bytes.iter().rposition(|b| *b == b'/') {
        Some(slash) => (&bytes[..=slash], &bytes[slash + 1..]),
        None => (&b""[..], bytes),
    };
    if name.is_empty() || name == b"." || name == b".." {
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    }
    let mut dir = if bytes.starts_with(b"/") { open_dir(None, c"/")? } else { open_dir(None, c".")? };
    for component in directories.split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".") {
        let component = c_name(component)?;
        dir = match open_dir(Some(&dir), &component) {
            Ok(next) => next,
            Err(e)
                if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::ELOOP))
                    && kind(&dir, &component).is_ok_and(|k| k == libc::S_IFLNK) =>
            {
                return Err(symlink_error(OsStr::from_bytes(component.as_bytes())));
            }
            Err(e) => return Err(e),
        };
    }
    Ok(Parent { dir, name: c_name(name)? })
}

impl Parent {
    /// openat of the last component with `flags` (O_NOFOLLOW, O_NOCTTY and O_CLOEXEC added) and,
    /// when it creates, `mode` under the umask. A symlink there is an error saying so.
    pub fn open(&self, flags: i32, mode: u32) -> io::Result<File> {
        self.open_sibling(&self.name, flags, mode).map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => symlink_error(OsStr::from_bytes(self.name.as_bytes())),
            _ => e,
        })
    }

    /// openat of another name in the same directory (a temporary file beside the target).
    pub fn open_sibling(&self, name: &CStr, flags: i32, mode: u32) -> io::Result<File> {
        // O_LARGEFILE: 32-bit glibc's openat refuses a file over 2 GiB without it (EOVERFLOW).
        let flags = flags | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_LARGEFILE;
        // SAFETY: `name` is NUL-terminated; the descriptor is handed to a File that owns it.
        let fd = check(unsafe { libc::openat(self.dir.as_raw_fd(), name.as_ptr(), flags, mode) })?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { File::from_raw_fd(fd) })
    }

    /// renameat: `from`, in the same directory, replaces the last component (a symlink there is
    /// replaced, never followed).
    pub fn rename_over(&self, from: &CStr) -> io::Result<()> {
        let dir = self.dir.as_raw_fd();
        // SAFETY: both names are NUL-terminated and relative to our descriptor.
        check(unsafe { libc::renameat(dir, from.as_ptr(), dir, self.name.as_ptr()) }).map(drop)
    }

    /// unlinkat of another name in the same directory.
    pub fn remove_sibling(&self, name: &CStr) -> io::Result<()> {
        // SAFETY: `name` is NUL-terminated and relative to our descriptor.
        check(unsafe { libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr(), 0) }).map(drop)
    }

    /// Whether the last component is a directory (not a symlink to one).
    pub fn is_dir(&self) -> bool {
        kind(&self.dir, &self.name).is_ok_and(|k| k == libc::S_IFDIR)
    }

    pub fn name(&self) -> &CStr {
        &self.name
    }
}
