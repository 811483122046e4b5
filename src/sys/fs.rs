//! Directory walking that never follows a symlink: every lookup is relative to an open directory
//! (openat, statx, fchownat) with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so a link planted in a volume
//! is seen as a link, never as the file it points to.

use super::check;
use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::unix::ffi::OsStringExt;
// 32-bit glibc's readdir and statvfs fail with EOVERFLOW where an inode number, a directory offset
// or a block count needs 64 bits (overlayfs, ext4's hashed offsets): its *64 forms are the same
// calls in 64-bit glibc, and musl's are 64-bit throughout.
#[cfg(not(target_env = "gnu"))]
use libc::{readdir, statvfs};
#[cfg(target_env = "gnu")]
use libc::{readdir64 as readdir, statvfs64 as statvfs};

/// An open directory, closed on drop.
pub struct Dir(i32);

/// What statx says about an entry, the link itself for a symlink.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// The mount the entry belongs to: a bind mount of a file or directory from the same
    /// filesystem has the same st_dev but its own mount id.
    pub mount_id: u64,
    /// The entry is the root of a mount (a mount point seen from above).
    pub mount_root: bool,
    pub links: u32,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
    pub fn is_regular(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFREG
    }
    pub fn is_device(&self) -> bool {
        matches!(self.mode & libc::S_IFMT, libc::S_IFBLK | libc::S_IFCHR)
    }
}

/// statx(2) of `name` relative to `dirfd` (an empty name: `dirfd` itself), never following a
/// symlink. Called through syscall(2): musl gained a statx wrapper only in 1.2.5.
fn statx(dirfd: i32, name: &CStr) -> io::Result<Entry> {
    const MASK: u32 = libc::STATX_TYPE
        | libc::STATX_MODE
        | libc::STATX_UID
        | libc::STATX_GID
        | libc::STATX_NLINK
        | libc::STATX_MNT_ID;
    let flags = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_STATX_SYNC_AS_STAT;
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: `name` is NUL-terminated and `st` has room for one statx struct, which the kernel
    // fills on success.
    let rc = unsafe { libc::syscall(libc::SYS_statx, dirfd, name.as_ptr(), flags, MASK, st.as_mut_ptr()) };
    check(rc as i32)?;
    // SAFETY: zero-initialised and filled by the kernel on success.
    let st = unsafe { st.assume_init() };
    if st.stx_mask & libc::STATX_MNT_ID == 0 {
        // Kernels before 5.8: without the mount id a bind mount cannot be told apart.
        return Err(io::Error::new(io::ErrorKind::Unsupported, "the kernel reports no mount id (Linux 5.8 or later)"));
    }
    Ok(Entry {
        mode: u32::from(st.stx_mode),
        uid: st.stx_uid,
        gid: st.stx_gid,
        mount_id: st.stx_mnt_id,
        mount_root: st.stx_attributes_mask & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0
            && st.stx_attributes & libc::STATX_ATTR_MOUNT_ROOT as u64 != 0,
        links: st.stx_nlink,
    })
}

const DIR_FLAGS: i32 = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

impl Dir {
    /// Opens an absolute path; fails (ELOOP or ENOTDIR) if its last component is a symlink.
    pub fn open(path: &CStr) -> io::Result<Dir> {
        // SAFETY: `path` is NUL-terminated; the returned descriptor is owned by the Dir.
        check(unsafe { libc::open(path.as_ptr(), DIR_FLAGS) }).map(Dir)
    }

    /// Opens the subdirectory `name` (one component), never through a symlink.
    pub fn open_child(&self, name: &CStr) -> io::Result<Dir> {
        // SAFETY: as above, relative to our descriptor.
        check(unsafe { libc::openat(self.0, name.as_ptr(), DIR_FLAGS) }).map(Dir)
    }

    /// Opens the entry `name` for reading without following a symlink or blocking on a FIFO and
    /// without becoming our controlling terminal: fstat and fchown on the result act on exactly the
    /// inode that was checked.
    pub fn open_child_file(&self, name: &CStr) -> io::Result<std::fs::File> {
        // O_LARGEFILE: 32-bit glibc's openat refuses a file over 2 GiB without it (EOVERFLOW).
        let flags =
            libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_LARGEFILE;
        // SAFETY: `name` is NUL-terminated; the descriptor is handed to a File that owns it.
        let fd = check(unsafe { libc::openat(self.0, name.as_ptr(), flags) })?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
    }

    /// statx of the directory itself.
    pub fn stat(&self) -> io::Result<Entry> {
        statx(self.0, c"")
    }

    /// statx of an entry, the link itself for a symlink.
    pub fn stat_child(&self, name: &CStr) -> io::Result<Entry> {
        statx(self.0, name)
    }

    /// fchown of the directory itself.
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: no memory arguments.
        check(unsafe { libc::fchown(self.0, uid, gid) }).map(drop)
    }

    /// fchmod of the directory itself (an ACL's mask and entries follow, as chmod(2) says).
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        // SAFETY: no memory arguments.
        check(unsafe { libc::fchmod(self.0, mode) }).map(drop)
    }

    /// fchownat(AT_SYMLINK_NOFOLLOW): a symlink's own owner changes, never its target's.
    pub fn chown_child(&self, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: `name` is NUL-terminated.
        check(unsafe { libc::fchownat(self.0, name.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
    }

    /// The names in the directory, without `.` and `..`.
    pub fn names(&self) -> io::Result<Vec<CString>> {
        // fdopendir takes the descriptor over; give it a duplicate so ours stays open.
        // SAFETY: fcntl with F_DUPFD_CLOEXEC has no memory arguments.
        let dup = check(unsafe { libc::fcntl(self.0, libc::F_DUPFD_CLOEXEC, 0) })?;
        // SAFETY: `dup` is a valid directory descriptor that the DIR stream now owns.
        let stream = unsafe { libc::fdopendir(dup) };
        if stream.is_null() {
            let e = io::Error::last_os_error();
            // SAFETY: fdopendir failed, so `dup` is still ours to close.
            unsafe { libc::close(dup) };
            return Err(e);
        }
        // SAFETY: rewinding a fresh stream is always valid (the duplicate shares the offset).
        unsafe { libc::rewinddir(stream) };
        let mut names = Vec::new();
        let result = loop {
            // readdir returns null both at the end and on error; only errno tells them apart.
            // SAFETY: __errno_location returns this thread's errno, always valid to write.
            unsafe { *libc::__errno_location() = 0 };
            // SAFETY: `stream` is a valid DIR*; readdir returns null at the end.
            let entry = unsafe { readdir(stream) };
            if entry.is_null() {
                let e = io::Error::last_os_error();
                break if e.raw_os_error() == Some(0) { Ok(()) } else { Err(e) };
            }
            // SAFETY: d_name is a NUL-terminated array inside the entry, valid until the next readdir.
            let name = unsafe { CStr::from_ptr((*entry).d_name.as_ptr()) };
            if name != c"." && name != c".." {
                names.push(name.to_owned());
            }
        };
        // SAFETY: closes the stream and `dup` with it; not used afterwards.
        unsafe { libc::closedir(stream) };
        result.map(|()| names)
    }
}

/// Whether the filesystem holding `path` is mounted read-only (statvfs ST_RDONLY).
pub fn is_read_only(path: &str) -> io::Result<bool> {
    let c_path = CString::new(path).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut st = std::mem::MaybeUninit::<statvfs>::zeroed();
    // SAFETY: `c_path` is NUL-terminated and `st` has room for one statvfs struct.
    check(unsafe { statvfs(c_path.as_ptr(), st.as_mut_ptr()) })?;
    // SAFETY: filled by statvfs on success.
    Ok(unsafe { st.assume_init() }.f_flag & libc::ST_RDONLY != 0)
}

/// statx of an open file: what it is, not what its name now points to.
pub fn stat_file(file: &std::fs::File) -> io::Result<Entry> {
    statx(std::os::fd::AsRawFd::as_raw_fd(file), c"")
}

impl std::os::fd::AsRawFd for Dir {
    fn as_raw_fd(&self) -> i32 {
        self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor; an error on close has nothing left to tell.
        unsafe { libc::close(self.0) };
    }
}

/// For messages: a name as text (not UTF-8 bytes escaped by the caller's `{:?}`).
pub fn name_text(name: &CStr) -> OsString {
    OsString::from_vec(name.to_bytes().to_vec())
}
