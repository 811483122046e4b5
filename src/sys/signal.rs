//! Signal sets, the signal mask, dispositions and synchronous signal waiting.

use super::check;
use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

/// The highest signal number the kernel knows on Linux (x86_64, aarch64).
pub const MAX_SIGNAL: i32 = 64;

/// A set of signals (`sigset_t`).
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct SigSet(libc::sigset_t);

impl SigSet {
    pub fn empty() -> SigSet {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the whole set it is given and cannot fail for a valid pointer.
        unsafe { libc::sigemptyset(set.as_mut_ptr()) };
        // SAFETY: initialised by sigemptyset just above.
        SigSet(unsafe { set.assume_init() })
    }

    /// Adds `signal` (1 to 64), by setting its bit: musl's sigaddset refuses 32 to 34, which the
    /// kernel itself accepts (34 is glibc's and Docker's SIGRTMIN). Other numbers are ignored.
    pub fn add(&mut self, signal: i32) {
        if let Some((word, bit)) = Self::position(signal) {
            self.words_mut()[word] |= bit;
        }
    }

    pub fn contains(&self, signal: i32) -> bool {
        Self::position(signal).is_some_and(|(word, bit)| self.words()[word] & bit != 0)
    }

    /// The kernel's layout: signal N is bit N-1 of an array of unsigned longs.
    fn position(signal: i32) -> Option<(usize, libc::c_ulong)> {
        if !(1..=MAX_SIGNAL).contains(&signal) {
            return None;
        }
        let index = (signal - 1) as usize;
        let bits = libc::c_ulong::BITS as usize;
        Some((index / bits, 1 << (index % bits)))
    }

    /// How many unsigned longs a sigset_t holds.
    const WORDS: usize = std::mem::size_of::<libc::sigset_t>() / std::mem::size_of::<libc::c_ulong>();

    fn words(&self) -> &[libc::c_ulong] {
        // SAFETY: sigset_t is, in glibc and musl on Linux, an array of unsigned longs (128 bytes)
        // whose bits are the kernel's signal bits; the slice covers exactly that storage.
        unsafe { std::slice::from_raw_parts((&self.0 as *const libc::sigset_t).cast(), Self::WORDS) }
    }

    fn words_mut(&mut self) -> &mut [libc::c_ulong] {
        // SAFETY: as in `words`; `self` is borrowed mutably for the slice's life.
        unsafe { std::slice::from_raw_parts_mut((&mut self.0 as *mut libc::sigset_t).cast(), Self::WORDS) }
    }

    /// The signals of this set, in increasing order.
    pub fn members(&self) -> impl Iterator<Item = i32> + '_ {
        (1..=MAX_SIGNAL).filter(|s| self.contains(*s))
    }
}

/// The calling thread's signal mask, unchanged, read with the raw system call: musl's
/// pthread_sigmask hides bits 32 to 34 of the mask it returns.
pub fn current_mask() -> io::Result<SigSet> {
    let mut old = SigSet::empty();
    // SAFETY: a null new set only reads the mask into `old`, a valid sigset_t of at least the
    // 8 bytes (64 signals) the kernel writes.
    super::check_long(unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_BLOCK, std::ptr::null::<libc::sigset_t>(), &mut old.0, 8)
    })?;
    Ok(old)
}

/// Makes the signal mask exactly `set` (hardinit has one thread). Inherited over fork and execve.
pub fn set_mask(set: &SigSet) -> io::Result<()> {
    // SAFETY: `set.0` is a valid sigset_t; the old mask is not requested.
    super::check_long(unsafe {
        libc::syscall(libc::SYS_rt_sigprocmask, libc::SIG_SETMASK, &set.0, std::ptr::null_mut::<libc::sigset_t>(), 8)
    })
    .map(drop)
}

/// Whether `signal`'s disposition is SIG_IGN. Ignored dispositions survive execve; handlers do not.
pub fn is_ignored(signal: i32) -> io::Result<bool> {
    let mut action = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `action`, a valid sigaction struct.
    check(unsafe { libc::sigaction(signal, std::ptr::null(), action.as_mut_ptr()) })?;
    // SAFETY: sigaction filled `action` on success.
    Ok(unsafe { action.assume_init() }.sa_sigaction == libc::SIG_IGN)
}

/// Sets `signal`'s disposition to SIG_IGN (`ignore == true`) or SIG_DFL. Async-signal-safe.
pub fn set_disposition(signal: i32, ignore: bool) -> io::Result<()> {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); only the handler field is set.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = if ignore { libc::SIG_IGN } else { libc::SIG_DFL };
    // SAFETY: `action` is a valid sigaction; the old action is not requested.
    check(unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) }).map(drop)
}

/// What the kernel tells about one received signal.
#[derive(Clone, Copy, Debug)]
pub struct SigInfo {
    pub signal: i32,
    /// `si_code`: SI_USER for kill(2), SI_QUEUE for sigqueue(3), SI_KERNEL for the kernel itself...
    pub code: i32,
    pub sender_pid: i32,
    pub sender_uid: u32,
    /// The value a sigqueue(3) sender attached (meaningful for SI_QUEUE only).
    pub value: usize,
}

/// Waits for one signal of `set` (which must be blocked), at most `timeout` (`None`: forever).
/// Returns `None` when the timeout passed. Real-time signals are dequeued one instance at a time:
/// none is coalesced, unlike a handler that only sets a flag.
pub fn wait_for_signal(set: &SigSet, timeout: Option<Duration>) -> io::Result<Option<SigInfo>> {
    loop {
        let mut info = MaybeUninit::<libc::siginfo_t>::zeroed();
        let ret = match timeout {
            // SAFETY: `set.0` is a valid sigset_t and `info` has room for one siginfo_t.
            None => unsafe { libc::sigwaitinfo(&set.0, info.as_mut_ptr()) },
            Some(t) => {
                let ts = libc::timespec {
                    tv_sec: t.as_secs().min(i64::MAX as u64) as _,
                    tv_nsec: t.subsec_nanos() as libc::c_long,
                };
                // SAFETY: as above; `ts` is a valid timespec.
                unsafe { libc::sigtimedwait(&set.0, info.as_mut_ptr(), &ts) }
            }
        };
        match check(ret) {
            Ok(_) => {
                // SAFETY: the kernel filled `info` when the call succeeded.
                let info = unsafe { info.assume_init() };
                // SAFETY: si_pid/si_uid/si_value read fields of the union that the kernel fills for
                // SI_USER, SI_QUEUE and SIGCHLD; for other codes they hold zeros or unrelated bits
                // that are only logged, never trusted.
                let (sender_pid, sender_uid, value) =
                    unsafe { (info.si_pid(), info.si_uid(), info.si_value().sival_ptr as usize) };
                return Ok(Some(SigInfo { signal: info.si_signo, code: info.si_code, sender_pid, sender_uid, value }));
            }
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// kill(2). `pid` below 0 addresses a process group, -1 every process we may signal.
pub fn kill(pid: i32, signal: i32) -> io::Result<()> {
    // SAFETY: kill has no memory arguments.
    check(unsafe { libc::kill(pid, signal) }).map(drop)
}

/// Who a queued signal says it comes from: read once, not with two system calls per signal.
#[derive(Clone, Copy, Debug)]
pub struct Sender {
    pub pid: i32,
    pub uid: u32,
}

impl Sender {
    /// This process, with its current real uid (read after any change of user).
    pub fn current() -> Sender {
        // SAFETY: getpid and getuid cannot fail and have no arguments.
        unsafe { Sender { pid: libc::getpid(), uid: libc::getuid() } }
    }
}

/// Queues a real-time signal with rt_sigqueueinfo(2) (what sigqueue(3) does). Unlike kill(2),
/// which silently sets the pending bit without an entry when the receiver's queue is full (the
/// instance is lost), this fails with EAGAIN, so the caller can retry.
pub fn queue_signal(pid: i32, signal: i32, value: usize, sender: Sender) -> io::Result<()> {
    // SAFETY: a zeroed siginfo_t is a valid starting point; the fields below are plain integers.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    info.si_signo = signal;
    info.si_code = libc::SI_QUEUE;
    // The kernel's siginfo layout for SI_QUEUE: si_pid, si_uid, then si_value, after the header.
    #[repr(C)]
    struct QueueFields {
        pid: libc::pid_t,
        uid: libc::uid_t,
        value: usize,
    }
    let fields = QueueFields { pid: sender.pid, uid: sender.uid, value };
    // SAFETY: the union starts after si_signo, si_errno, si_code and padding to 8 bytes (16 bytes);
    // siginfo_t is 128 bytes, so the 16-byte QueueFields fits.
    unsafe {
        let base = (&mut info as *mut libc::siginfo_t).cast::<u8>().add(16).cast::<QueueFields>();
        base.write_unaligned(fields);
    }
    // SAFETY: `info` is a valid siginfo_t that lives for the call.
    super::check_long(unsafe { libc::syscall(libc::SYS_rt_sigqueueinfo, pid, signal, &info) }).map(drop)
}

/// The signals pending for this process or thread (rt_sigpending(2)): blocked ones that arrived.
pub fn pending() -> io::Result<SigSet> {
    let mut set = SigSet::empty();
    // SAFETY: `set.0` is a valid sigset_t with room for the 8 bytes the kernel writes.
    super::check_long(unsafe { libc::syscall(libc::SYS_rt_sigpending, &mut set.0, 8) })?;
    Ok(set)
}
