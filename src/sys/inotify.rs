//! inotify(7), with its readiness delivered as a signal (fcntl F_SETSIG + O_ASYNC): the
//! supervisor keeps its one wait, sigwaitinfo, and learns of file changes the way it learns of
//! everything else.

use super::check;
use std::ffi::CStr;
use std::io;

/// What the watched directories report: entries created, written, moved in or out, removed,
/// their metadata changed; the directory itself removed or moved.
pub const CHANGES: u32 = libc::IN_CREATE
    | libc::IN_CLOSE_WRITE
    | libc::IN_MODIFY
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE
    | libc::IN_ATTRIB
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF;

/// fcntl's F_SETSIG (10 on x86_64 and the asm-generic architectures), which the libc crate
/// does not name for every target.
const F_SETSIG: i32 = 10;

/// An inotify instance, non-blocking, closed on exec and on drop.
pub struct Inotify(i32);

impl Inotify {
    /// A new instance that raises `signal` (with `si_code` POLL_IN) in this process whenever
    /// events are queued. `signal` must be blocked and waited for.
    pub fn signalling(signal: i32) -> io::Result<Inotify> {
        // SAFETY: no memory arguments.
        let fd = check(unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) })?;
        let inotify = Inotify(fd);
        // SAFETY: fcntl with integer arguments only, on our own descriptor.
        check(unsafe { libc::fcntl(fd, libc::F_SETOWN, libc::getpid()) })?;
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, F_SETSIG, signal) })?;
        // SAFETY: as above.
        let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC) })?;
        Ok(inotify)
    }

    /// Watches the directory `dir`, never a symlink's target: a final symlink is refused
    /// (ENOTDIR), as the link is the thing a kubelet swaps and the caller resolves links itself.
    /// Adding a directory already watched is harmless: the kernel returns the same watch.
    pub fn watch(&self, dir: &CStr) -> io::Result<i32> {
        let mask = CHANGES | libc::IN_ONLYDIR | libc::IN_DONT_FOLLOW;
        // SAFETY: `dir` is NUL-terminated.
        check(unsafe { libc::inotify_add_watch(self.0, dir.as_ptr(), mask) })
    }

    /// Ends the watch `wd`. EINVAL means the kernel has ended it already (its directory was
    /// removed): not an error.
    pub fn unwatch(&self, wd: i32) -> io::Result<()> {
        // SAFETY: integer arguments only, on our own descriptor.
        match check(unsafe { libc::inotify_rm_watch(self.0, wd) }) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
            result => result.map(drop),
        }
    }

    /// Reads every queued event and returns how many there were (their content does not matter:
    /// any change in a watched directory starts the debounce). Never blocks.
    pub fn drain(&self) -> io::Result<usize> {
        let mut buffer = [0u8; 4096];
        let mut events = 0;
        loop {
            // SAFETY: `buffer` is writable for its length.
            let n = unsafe { libc::read(self.0, buffer.as_mut_ptr().cast(), buffer.len()) };
            if n == -1 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => Ok(events),
                    Some(libc::EINTR) => continue,
                    _ => Err(e),
                };
            }
            // Each event: wd, mask, cookie, len (4 x 4 bytes), then `len` bytes of name.
            let mut at = 0usize;
            let n = n as usize;
            while at + 16 <= n {
                let len = u32::from_ne_bytes([buffer[at + 12], buffer[at + 13], buffer[at + 14], buffer[at + 15]]);
                at += 16 + len as usize;
                events += 1;
            }
            if n == 0 {
                return Ok(events);
            }
        }
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor; an error on close has nothing left to tell.
        unsafe { libc::close(self.0) };
    }
}
