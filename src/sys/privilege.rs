//! Credentials, capabilities, prctl switches, resource limits and the memory-lock probe.
//!
//! capset and these prctls act on the calling thread only: hardinit calls them while it has one.

use super::{check, check_long};
use std::ffi::CString;
use std::io;

pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;

/// Effective, permitted and inheritable capability sets, as 64-bit masks (bit N = capability N).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

const CAP_V3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// capget(2) for the calling thread.
pub fn capabilities() -> io::Result<CapSets> {
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let mut data = [CapData::default(); 2];
    // SAFETY: version 3 takes a header and two data structs, both valid and writable here.
    check_long(unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) })?;
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(CapSets {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// capset(2) for the calling thread: the sets become exactly `sets`.
pub fn set_capabilities(sets: CapSets) -> io::Result<()> {
    let mut header = CapHeader { version: CAP_V3, pid: 0 };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(sets.effective);
    let (p0, p1) = split(sets.permitted);
    let (i0, i1) = split(sets.inheritable);
    let data = [
        CapData { effective: e0, permitted: p0, inheritable: i0 },
        CapData { effective: e1, permitted: p1, inheritable: i1 },
    ];
    // SAFETY: version 3 takes a header and two data structs, both valid for the call.
    check_long(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) }).map(drop)
}

fn prctl(option: libc::c_int, arg2: libc::c_ulong, arg3: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: every prctl used here takes integer arguments only.
    check(unsafe { libc::prctl(option, arg2, arg3, 0 as libc::c_ulong, 0 as libc::c_ulong) })
}

/// PR_CAPBSET_READ.
pub fn in_bounding_set(cap: u32) -> io::Result<bool> {
    prctl(libc::PR_CAPBSET_READ, cap.into(), 0).map(|v| v == 1)
}

/// PR_CAPBSET_DROP: never again obtainable, by exec of anything. Needs CAP_SETPCAP.
pub fn drop_from_bounding_set(cap: u32) -> io::Result<()> {
    prctl(libc::PR_CAPBSET_DROP, cap.into(), 0).map(drop)
}

/// PR_SET_KEEPCAPS: keep the permitted set across the coming setresuid away from 0.
pub fn set_keep_capabilities(keep: bool) -> io::Result<()> {
    prctl(libc::PR_SET_KEEPCAPS, keep.into(), 0).map(drop)
}

/// PR_CAP_AMBIENT_RAISE: the capability survives execve of a plain binary. EPERM unless it is in
/// both the permitted and the inheritable set.
pub fn raise_ambient(cap: u32) -> io::Result<()> {
    prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong, cap.into()).map(drop)
}

/// PR_SET_NO_NEW_PRIVS: execve can never grant privileges again (setuid bits, file capabilities).
pub fn set_no_new_privs() -> io::Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0).map(drop)
}

/// PR_SET_DUMPABLE 0: no core dump and no ptrace attach by the same user. Reset by execve.
pub fn set_not_dumpable() -> io::Result<()> {
    prctl(libc::PR_SET_DUMPABLE, 0, 0).map(drop)
}

pub fn set_groups(groups: &[u32]) -> io::Result<()> {
    // SAFETY: the pointer and length describe `groups`, valid for the call.
    check(unsafe { libc::setgroups(groups.len(), groups.as_ptr()) }).map(drop)
}

/// setresgid(gid, gid, gid): real, effective and saved.
pub fn set_gid(gid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresgid(gid, gid, gid) }).map(drop)
}

/// setresuid(uid, uid, uid): away from 0 this clears the ambient set, and the permitted and
/// effective sets too unless PR_SET_KEEPCAPS is on.
pub fn set_uid(uid: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresuid(uid, uid, uid) }).map(drop)
}

/// setresuid(real, effective, saved), for an identity that is not one uid thrice: PID 1 keeps a
/// real and saved uid of its own while its effective uid is the server's.
pub fn set_uids(real: u32, effective: u32, saved: u32) -> io::Result<()> {
    // SAFETY: integer arguments only.
    check(unsafe { libc::setresuid(real, effective, saved) }).map(drop)
}

/// getresuid(2): the real, effective and saved uid, as the kernel holds them.
pub fn uids() -> io::Result<(u32, u32, u32)> {
    let (mut real, mut effective, mut saved) = (0, 0, 0);
    // SAFETY: three valid uid_t locations for the kernel to fill.
    check(unsafe { libc::getresuid(&mut real, &mut effective, &mut saved) })?;
    Ok((real, effective, saved))
}

/// PR_GET_DUMPABLE: 0 when no one without CAP_SYS_PTRACE may ptrace us, and our /proc files are
/// root's.
pub fn is_dumpable() -> io::Result<bool> {
    prctl(libc::PR_GET_DUMPABLE, 0, 0).map(|v| v != 0)
}

pub fn effective_uid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub soft: u64,
    pub hard: u64,
}

// rlim_t is 32 bits wide in 32-bit glibc (armv7): its RLIM_INFINITY is then u32::MAX, which is
// what getrlimit reports for an unlimited (or wider than 32 bits) limit there.
#[allow(clippy::unnecessary_cast, reason = "rlim_t is u32 in 32-bit glibc")]
pub const UNLIMITED: u64 = libc::RLIM_INFINITY as u64;

#[derive(Clone, Copy, Debug)]
pub enum Resource {
    Core,
    MemoryLock,
    OpenFiles,
}

impl Resource {
    // glibc and musl spell the type of the resource argument differently.
    #[cfg(target_env = "gnu")]
    fn raw(self) -> libc::__rlimit_resource_t {
        match self {
            Resource::Core => libc::RLIMIT_CORE,
            Resource::MemoryLock => libc::RLIMIT_MEMLOCK,
            Resource::OpenFiles => libc::RLIMIT_NOFILE,
        }
    }
    #[cfg(not(target_env = "gnu"))]
    fn raw(self) -> libc::c_int {
        match self {
            Resource::Core => libc::RLIMIT_CORE,
            Resource::MemoryLock => libc::RLIMIT_MEMLOCK,
            Resource::OpenFiles => libc::RLIMIT_NOFILE,
        }
    }
}

#[allow(clippy::useless_conversion, reason = "rlim_t is u32 in 32-bit glibc")]
pub fn rlimit(resource: Resource) -> io::Result<Limit> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill.
    check(unsafe { libc::getrlimit(resource.raw(), &mut limit) })?;
    Ok(Limit { soft: limit.rlim_cur.into(), hard: limit.rlim_max.into() })
}

pub fn set_rlimit(resource: Resource, limit: Limit) -> io::Result<()> {
    let narrow = |value: u64| libc::rlim_t::try_from(value).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL));
    let value = libc::rlimit { rlim_cur: narrow(limit.soft)?, rlim_max: narrow(limit.hard)? };
    // SAFETY: `value` is a valid rlimit for the call.
    check(unsafe { libc::setrlimit(resource.raw(), &value) }).map(drop)
}

/// The costless proof that locking memory beyond RLIMIT_MEMLOCK works (which holds exactly when
/// the kernel grants CAP_IPC_LOCK, LSMs and user namespaces included): reserve `bytes` of
/// read-only address space without backing (MAP_NORESERVE), lock it, unlock, unmap. The kernel
/// checks the limit before it faults anything in. mlock2(MLOCK_ONFAULT) touches no page; where
/// mlock2 is missing (ENOSYS: qemu-user, seccomp sandboxes that predate it, kernels before 4.4),
/// plain mlock faults the range in, and read faults of a private anonymous mapping all map the
/// kernel's one zero page: page tables, no memory.
pub fn probe_memory_lock(bytes: usize) -> io::Result<()> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE;
    // SAFETY: an anonymous private mapping at an address of the kernel's choice touches no
    // existing memory.
    let addr = unsafe { libc::mmap(std::ptr::null_mut(), bytes, libc::PROT_READ, flags, -1, 0) };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `addr` and `bytes` describe the mapping made above.
    let locked = match check_long(unsafe { libc::syscall(libc::SYS_mlock2, addr, bytes, libc::MLOCK_ONFAULT) }) {
        Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
            // SAFETY: same mapping; locking it reads nothing into the process.
            check(unsafe { libc::mlock(addr, bytes) }).map(drop)
        }
        other => other.map(drop),
    };
    if locked.is_ok() {
        // SAFETY: same mapping; unlocking cannot harm it.
        unsafe { libc::munlock(addr, bytes) };
    }
    // SAFETY: same mapping, not used after this.
    let unmapped = check(unsafe { libc::munmap(addr, bytes) });
    locked.and(unmapped.map(drop))
}

/// Whether the file carries file capabilities (the `security.capability` extended attribute),
/// following symlinks as execve does.
pub fn has_file_capabilities(path: &std::path::Path) -> io::Result<bool> {
    let path = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a zero-sized query with a null buffer only returns the attribute's size.
    let ret = unsafe { libc::getxattr(path.as_ptr(), c"security.capability".as_ptr(), std::ptr::null_mut(), 0) };
    match ret {
        -1 => match io::Error::last_os_error() {
            e if e.raw_os_error() == Some(libc::ENODATA) || e.raw_os_error() == Some(libc::ENOTSUP) => Ok(false),
            e => Err(e),
        },
        _ => Ok(true),
    }
}

pub fn page_size() -> usize {
    // SAFETY: sysconf has no memory arguments.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 { size as usize } else { 4096 }
}
