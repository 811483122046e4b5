//! Processes: fork, exec, wait, process groups, terminals, file descriptors, prctl.

use super::{check, check_long};
use std::ffi::{CStr, CString, c_char};
use std::io;

pub fn getpid() -> i32 {
    // SAFETY: getpid cannot fail.
    unsafe { libc::getpid() }
}

pub enum Forked {
    Parent { child: i32 },
    Child,
}

/// fork(2). hardinit is single-threaded when it forks, so the child may run ordinary code until it
/// execs; it still sticks to the async-signal-safe calls of this module by habit.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: no other thread exists whose locks the child could inherit half-taken.
    let pid = check(unsafe { libc::fork() })?;
    Ok(if pid == 0 { Forked::Child } else { Forked::Parent { child: pid } })
}

/// A program, its arguments and its environment, converted to C strings before the fork so that
/// the child does not allocate.
pub struct ExecImage {
    /// The uid the child takes as its real, effective and saved uid just before execve (PID 1
    /// keeps a real and saved uid the server does not share).
    uid: Option<u32>,
    path: CString,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
    envp_ptrs: Vec<*const c_char>,
}

impl ExecImage {
    pub fn new(path: CString, argv: Vec<CString>, envp: Vec<CString>) -> ExecImage {
        let pointers = |v: &[CString]| v.iter().map(|s| s.as_ptr()).chain([std::ptr::null()]).collect();
        let argv_ptrs = pointers(&argv);
        let envp_ptrs = pointers(&envp);
        ExecImage { uid: None, path, _argv: argv, _envp: envp, argv_ptrs, envp_ptrs }
    }

    /// The child becomes `uid` (real, effective and saved), read back, before execve.
    pub fn as_uid(mut self, uid: u32) -> ExecImage {
        self.uid = Some(uid);
        self
    }

    pub fn path(&self) -> &CStr {
        &self.path
    }

    /// execve(2), after becoming [`ExecImage::as_uid`]'s uid if one was given. Returns only on
    /// failure.
    pub fn exec(&self) -> io::Error {
        if let Some(uid) = self.uid {
            match super::privilege::set_uids(uid, uid, uid).and_then(|()| super::privilege::uids()) {
                Ok(ids) if ids == (uid, uid, uid) => {}
                Ok(_) => return io::Error::other("the kernel did not give the server's uid"),
                Err(e) => return e,
            }
        }
        // SAFETY: path and both pointer arrays are NUL-terminated and owned by `self`, alive here.
        unsafe { libc::execve(self.path.as_ptr(), self.argv_ptrs.as_ptr(), self.envp_ptrs.as_ptr()) };
        io::Error::last_os_error()
    }
}

/// _exit(2): leaves at once, without running destructors or flushing stdio (the forked child
/// shares the parent's buffers).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no memory arguments.
    unsafe { libc::_exit(code) }
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(i32),
}

/// waitpid(-1, WNOHANG): one ended child, `Ok(None)` when children remain but none has ended,
/// ECHILD when there is no child at all.
pub fn reap_any(block: bool) -> io::Result<Option<(i32, Ended)>> {
    reap(-1, block)
}

/// Blocks until the child `pid` has ended and collects it.
pub fn reap_child(pid: i32) -> io::Result<Ended> {
    reap(pid, true)?.map(|(_, ended)| ended).ok_or_else(|| io::Error::from_raw_os_error(libc::ECHILD))
}

/// waitpid(pid) (`-1`: any child), retried on EINTR.
fn reap(pid: i32, block: bool) -> io::Result<Option<(i32, Ended)>> {
    let mut status = 0;
    let flags = if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: `status` is a valid int for the kernel to fill.
        match check(unsafe { libc::waitpid(pid, &mut status, flags) }) {
            Ok(0) => return Ok(None),
            Ok(pid) => {
                let ended = if libc::WIFEXITED(status) {
                    Ended::Exited(libc::WEXITSTATUS(status))
                } else {
                    Ended::Killed(libc::WTERMSIG(status))
                };
                return Ok(Some((pid, ended)));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A pipe whose both ends close at execve.
pub fn pipe_cloexec() -> io::Result<(i32, i32)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

pub fn close(fd: i32) -> io::Result<()> {
    // SAFETY: closing a descriptor has no memory effect; the caller owns `fd`.
    check(unsafe { libc::close(fd) }).map(drop)
}

/// write(2) of the whole buffer (retrying on short writes and EINTR). Async-signal-safe.
pub fn write_all(fd: i32, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid readable buffer of the given length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n == -1 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

/// read(2) until `buf` is full or end of file; returns how many bytes were read.
pub fn read_full(fd: i32, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        // SAFETY: the slice after `done` is a valid writable buffer of the given length.
        let n = unsafe { libc::read(fd, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
        match n {
            -1 if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => continue,
            -1 => return Err(io::Error::last_os_error()),
            0 => break,
            n => done += n as usize,
        }
    }
    Ok(done)
}

/// Closes every descriptor from `first` up, except `keep`, with close_range(2) (Linux 5.9), or
/// one by one up to RLIMIT_NOFILE on older kernels.
pub fn close_descriptors_from(first: u32, keep: u32) -> io::Result<()> {
    let ranges = [(first, keep.saturating_sub(1)), (keep.saturating_add(1), u32::MAX)];
    for (low, high) in ranges {
        if low > high {
            continue;
        }
        // SAFETY: close_range has no memory arguments.
        match check_long(unsafe { libc::syscall(libc::SYS_close_range, low, high, 0) }) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
                // SAFETY: `limit` is a valid rlimit for the kernel to fill.
                check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
                let top = limit.rlim_cur.min(1 << 20) as u32;
                for fd in low..top.min(high.saturating_add(1)) {
                    // SAFETY: closing descriptors the child will not use; EBADF is expected.
                    unsafe { libc::close(fd as i32) };
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// setsid(2): a new session and process group, no controlling terminal.
pub fn new_session() -> io::Result<()> {
    // SAFETY: setsid has no arguments.
    check(unsafe { libc::setsid() }).map(drop)
}

/// setpgid(0, 0): a process group of our own, in the same session.
pub fn new_process_group() -> io::Result<()> {
    // SAFETY: setpgid has no memory arguments.
    check(unsafe { libc::setpgid(0, 0) }).map(drop)
}

/// The foreground process group of the terminal on `fd`, if `fd` is our controlling terminal.
pub fn terminal_foreground_group(fd: i32) -> io::Result<i32> {
    // SAFETY: tcgetpgrp has no memory arguments.
    check(unsafe { libc::tcgetpgrp(fd) })
}

/// Makes our own process group the terminal's foreground group. The caller must have SIGTTOU
/// blocked, or a background group is stopped instead.
pub fn become_terminal_foreground(fd: i32) -> io::Result<()> {
    // SAFETY: getpgrp cannot fail; tcsetpgrp has no memory arguments.
    check(unsafe { libc::tcsetpgrp(fd, libc::getpgrp()) }).map(drop)
}

/// prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to us, not to PID 1.
pub fn become_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }).map(drop)
}

/// umask(2); cannot fail.
pub fn set_umask(mask: u32) {
    // SAFETY: umask has no memory arguments and cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
}

/// Runs `work` in a forked child that has become `uid`/`gid` with `groups` (no capability left),
/// and returns the bytes it produced. Used by `hardinit check`, started as root, to read files
/// with exactly the access the server will have. The child's status is collected here.
pub fn run_as_user(uid: u32, gid: u32, groups: &[u32], work: impl FnOnce() -> Vec<u8>) -> io::Result<Vec<u8>> {
    let (read_end, write_end) = pipe_cloexec()?;
    let child = match fork() {
        Ok(Forked::Child) => {
            let _ = close(read_end);
            let dropped = super::privilege::set_groups(groups)
                .and_then(|()| super::privilege::set_gid(gid))
                .and_then(|()| super::privilege::set_uid(uid));
            let status = match dropped {
                Ok(()) => {
                    let bytes = work();
                    if write_all(write_end, &bytes).is_ok() { 0 } else { 1 }
                }
                Err(_) => 2,
            };
            exit_now(status);
        }
        Ok(Forked::Parent { child }) => child,
        Err(e) => {
            let _ = close(read_end);
            let _ = close(write_end);
            return Err(e);
        }
    };
    let _ = close(write_end);
    let mut out = Vec::new();
    // On the heap: a 64 KiB array here would become part of the callers' frames once inlined, and
    // every start would touch (and keep resident) that much stack whether or not it reads a config.
    let mut buf = vec![0u8; 65536];
    let read = loop {
        match read_full(read_end, &mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break Err(e),
        }
    };
    let _ = close(read_end);
    let ended = reap_child(child)?;
    read?;
    if ended != Ended::Exited(0) {
        return Err(io::Error::other(format!("the reader running as uid {uid} gid {gid} failed")));
    }
    Ok(out)
}

/// 64 random bits from the kernel (getrandom(2)); for names that must not be guessed.
pub fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // SAFETY: `bytes` is a valid writable buffer of 8 bytes. A short or failed read leaves some
    // zeros, which only makes the name less random, never invalid.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    u64::from_ne_bytes(bytes) ^ u64::from(getpid().unsigned_abs())
}

/// Our own process group.
pub fn process_group() -> i32 {
    // SAFETY: getpgrp cannot fail.
    unsafe { libc::getpgrp() }
}

/// CLOCK_REALTIME_COARSE, (seconds, nanoseconds): the clock the kernel stamps file times with, so
/// that a file written after this call never has an older modification time.
pub fn coarse_realtime() -> std::io::Result<(i64, i64)> {
    let mut now = std::mem::MaybeUninit::<libc::timespec>::zeroed();
    // SAFETY: `now` has room for one timespec, which the kernel fills on success.
    super::check(unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, now.as_mut_ptr()) })?;
    // SAFETY: filled by clock_gettime on success.
    let now = unsafe { now.assume_init() };
    // time_t and long are 64-bit here, 32-bit on i686: a conversion there, none here.
    #[allow(clippy::useless_conversion)]
    Ok((i64::from(now.tv_sec), i64::from(now.tv_nsec)))
}
