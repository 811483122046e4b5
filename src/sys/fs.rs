//! Directory walking that never follows a symlink: every lookup is relative to an open directory
//! (openat, fstatat, fchownat) with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, so a link planted in a volume
//! is seen as a link, never as the file it points to.

use super::check;
use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::unix::ffi::OsStringExt;

/// An open directory, closed on drop.
pub struct Dir(i32);

/// What fstatat says about an entry, the link itself for a symlink.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub dev: u64,
    pub links: libc::nlink_t,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }
}

fn stat_of(st: &libc::stat) -> Entry {
    Entry { mode: st.st_mode, uid: st.st_uid, gid: st.st_gid, dev: st.st_dev, links: st.st_nlink }
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
        let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
        // SAFETY: `name` is NUL-terminated; the descriptor is handed to a File that owns it.
        let fd = check(unsafe { libc::openat(self.0, name.as_ptr(), flags) })?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
    }

    /// fstat of the directory itself.
    pub fn stat(&self) -> io::Result<Entry> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: `st` has room for one stat struct.
        check(unsafe { libc::fstat(self.0, st.as_mut_ptr()) })?;
        // SAFETY: filled by fstat on success.
        Ok(stat_of(&unsafe { st.assume_init() }))
    }

    /// fstatat(AT_SYMLINK_NOFOLLOW) of an entry.
    pub fn stat_child(&self, name: &CStr) -> io::Result<Entry> {
        let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
        // SAFETY: `name` is NUL-terminated and `st` has room for one stat struct.
        check(unsafe { libc::fstatat(self.0, name.as_ptr(), st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) })?;
        // SAFETY: filled by fstatat on success.
        Ok(stat_of(&unsafe { st.assume_init() }))
    }

    /// fchown of the directory itself.
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: no memory arguments.
        check(unsafe { libc::fchown(self.0, uid, gid) }).map(drop)
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
            let entry = unsafe { libc::readdir(stream) };
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
