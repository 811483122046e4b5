//! Directory walking that never follows a symlink and never acts on a name twice: each entry is
//! opened once, relative to an open directory, without following it (O_PATH|O_NOFOLLOW: a
//! symlink's own inode, no device's open routine, no FIFO's wait), and everything after that, the
//! check (statx AT_EMPTY_PATH) and the change (fchownat AT_EMPTY_PATH, fchmodat2 AT_EMPTY_PATH),
//! is made through that descriptor. A name swapped in the meantime (renameat2 RENAME_EXCHANGE)
//! changes nothing: the descriptor still holds the inode that was judged.

use super::{check, check_long};
use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
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
    /// The inode's identity (device major, minor, inode number): two descriptors of one file.
    pub identity: (u32, u32, u64),
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
        | libc::STATX_INO
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
        identity: (st.stx_dev_major, st.stx_dev_minor, st.stx_ino),
    })
}

const DIR_FLAGS: i32 = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;

impl Dir {
    /// Opens the subdirectory `name` (one component), never through a symlink.
    pub fn open_child(&self, name: &CStr) -> io::Result<Dir> {
        // SAFETY: as above, relative to our descriptor.
        check(unsafe { libc::openat(self.0, name.as_ptr(), DIR_FLAGS) }).map(Dir)
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

    /// The entry `name` (one component, from [`Dir::names`]) opened without following it or
    /// opening it for I/O: O_PATH|O_NOFOLLOW gives a symlink's own inode, and runs no device's or
    /// FIFO's open. A mount point gives the mounted root, which [`Handle::stat`] tells apart.
    /// openat2's RESOLVE_* flags would add nothing for a single component without a slash.
    pub fn open_entry(&self, name: &CStr) -> io::Result<Handle> {
        if name.to_bytes().contains(&b'/') || name == c"." || name == c".." || name.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not one component of a directory"));
        }
        let flags = libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: `name` is NUL-terminated; the descriptor returned is fresh and owned by the Handle.
        let fd = check(unsafe { libc::openat(self.0, name.as_ptr(), flags) })?;
        // SAFETY: as above.
        Ok(Handle(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Opens an absolute path one component at a time from `/`, each with O_NOFOLLOW (O_PATH on
    /// the way): a symlink anywhere on it is refused (ELOOP or ENOTDIR), not only at its end.
    pub fn open_nofollow(path: &std::path::Path) -> io::Result<Dir> {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        if !bytes.starts_with(b"/") {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not an absolute path"));
        }
        let components: Vec<&[u8]> = bytes.split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".").collect();
        if components.contains(&&b".."[..]) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a path with .. in it"));
        }
        let walk = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        let c = |name: &[u8]| CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
        // SAFETY: a literal NUL-terminated path; the descriptor is owned by the OwnedFd.
        let mut at = unsafe { OwnedFd::from_raw_fd(check(libc::open(c"/".as_ptr(), walk))?) };
        for component in components {
            let name = c(component)?;
            // SAFETY: `name` is NUL-terminated, relative to our own descriptor.
            let fd = check(unsafe { libc::openat(at.as_raw_fd(), name.as_ptr(), walk) })?;
            // SAFETY: a fresh descriptor nobody else owns.
            at = unsafe { OwnedFd::from_raw_fd(fd) };
        }
        // SAFETY: "." of our own O_PATH directory: the same directory, opened for reading.
        check(unsafe { libc::openat(at.as_raw_fd(), c".".as_ptr(), DIR_FLAGS) }).map(Dir)
    }

    /// Creates the new file `name` (O_CREAT|O_EXCL, never through a symlink) for writing, with
    /// `mode` under the umask.
    pub fn create_child(&self, name: &CStr, mode: u32) -> io::Result<std::fs::File> {
        let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: `name` is NUL-terminated; the descriptor is handed to a File that owns it.
        let fd = check(unsafe { libc::openat(self.0, name.as_ptr(), flags, mode as libc::c_uint) })?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { std::fs::File::from_raw_fd(fd) })
    }

    /// renameat within this directory: `to` is replaced (a symlink there too, never followed).
    pub fn rename_child(&self, from: &CStr, to: &CStr) -> io::Result<()> {
        // SAFETY: both names are NUL-terminated and relative to our descriptor.
        check(unsafe { libc::renameat(self.0, from.as_ptr(), self.0, to.as_ptr()) }).map(drop)
    }

    /// unlinkat of a non-directory entry (a symlink itself, never its target).
    pub fn remove_child(&self, name: &CStr) -> io::Result<()> {
        // SAFETY: `name` is NUL-terminated and relative to our descriptor.
        check(unsafe { libc::unlinkat(self.0, name.as_ptr(), 0) }).map(drop)
    }

    /// Whether the directory's mount is read-only (fstatvfs ST_RDONLY).
    pub fn is_read_only(&self) -> io::Result<bool> {
        let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
        // SAFETY: `st` has room for one statvfs struct.
        check(unsafe { libc::fstatvfs(self.0, st.as_mut_ptr()) })?;
        // SAFETY: filled by fstatvfs on success.
        Ok(unsafe { st.assume_init() }.f_flag & libc::ST_RDONLY != 0)
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

/// One entry opened with O_PATH|O_NOFOLLOW ([`Dir::open_entry`]): checked and changed through this
/// descriptor only, never by its name again.
pub struct Handle(OwnedFd);

/// fchmodat2(2) (Linux 6.6), the same number on every architecture: the first chmod that takes
/// AT_EMPTY_PATH, so an O_PATH descriptor (fchmod refuses one with EBADF) can be chmod'ed.
const SYS_FCHMODAT2: libc::c_long = 452;

impl Handle {
    /// statx of the opened inode itself: a symlink's own, a mount's root for a mount point.
    pub fn stat(&self) -> io::Result<Entry> {
        statx(self.0.as_raw_fd(), c"")
    }

    /// fchownat(fd, "", AT_EMPTY_PATH): the opened inode's owner, a symlink's own for a symlink.
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: an empty NUL-terminated name; integer arguments otherwise.
        check(unsafe { libc::fchownat(self.0.as_raw_fd(), c"".as_ptr(), uid, gid, libc::AT_EMPTY_PATH) }).map(drop)
    }

    /// The mode of the opened inode: fchmodat2(fd, "", AT_EMPTY_PATH). On kernels without it
    /// (ENOSYS: before 6.6, qemu-user), the inode is reopened through /proc/self/fd, which names
    /// this descriptor and no path of the volume, and checked to be the same; without /proc the
    /// mode is left unchanged (an error).
    pub fn chmod(&self, mode: u32) -> io::Result<()> {
        // SAFETY: an empty NUL-terminated name; integer arguments otherwise.
        let rc = unsafe {
            libc::syscall(SYS_FCHMODAT2, self.0.as_raw_fd(), c"".as_ptr(), mode as libc::c_uint, libc::AT_EMPTY_PATH)
        };
        match check_long(rc) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                let file = self.reopen()?;
                // SAFETY: no memory arguments.
                check(unsafe { libc::fchmod(file.as_raw_fd(), mode) }).map(drop)
            }
            Err(e) => Err(e),
        }
    }

    /// The extended attribute `name` of the opened inode: getxattrat AT_EMPTY_PATH (Linux 6.13),
    /// and where it refuses an O_PATH descriptor (EBADF, as 6.18 does) or is missing, through the
    /// inode reopened as [`Handle::chmod`] does. None: no such attribute.
    pub fn xattr(&self, name: &CStr) -> io::Result<Option<Vec<u8>>> {
        match super::xattr::get_empty_path(&self.0, name) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EBADF)) => {
                super::xattr::get_open(&self.reopen()?, name)
            }
            other => other,
        }
    }

    /// The directory this descriptor holds, opened for reading ("." relative to it: no name of the
    /// volume is looked up again).
    pub fn open_dir(&self) -> io::Result<Dir> {
        // SAFETY: "." relative to our own descriptor; the descriptor returned is owned by the Dir.
        check(unsafe { libc::openat(self.0.as_raw_fd(), c".".as_ptr(), DIR_FLAGS) }).map(Dir)
    }

    /// The same inode opened for reading through the magic link /proc/self/fd/N: only a regular
    /// file (nothing runs on its open), only when /proc is there, and only if the inode opened is
    /// the one this descriptor holds.
    fn reopen(&self) -> io::Result<std::fs::File> {
        let held = self.stat()?;
        if !held.is_regular() {
            return Err(io::Error::new(io::ErrorKind::Unsupported, "only a regular file is reopened"));
        }
        let link = CString::new(format!("/proc/self/fd/{}", self.0.as_raw_fd())).map_err(io::Error::other)?;
        // O_LARGEFILE: 32-bit glibc's open refuses a file over 2 GiB without it (EOVERFLOW).
        let flags = libc::O_RDONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC | libc::O_LARGEFILE;
        // SAFETY: `link` is NUL-terminated; the descriptor is handed to a File that owns it.
        let fd = check(unsafe { libc::open(link.as_ptr(), flags) }).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("reopening it through /proc/self/fd (an ACL, or a mode before Linux 6.6): {e}"),
            )
        })?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let file = unsafe { std::fs::File::from_raw_fd(fd) };
        if stat_file(&file)?.identity != held.identity {
            return Err(io::Error::other("/proc/self/fd reopened another file"));
        }
        Ok(file)
    }
}
