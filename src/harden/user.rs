//! The server's user and capabilities: who it runs as, the drop from root (or the raise of a file
//! capability), read back from the kernel.

use super::{Finding, Mode, Settings, Status, accounts};
use crate::error::{ExitCode, Fatal};
use crate::sys::privilege::{self as sys, CAP_IPC_LOCK, CapSets};

fn read_account_file(path: &str) -> Result<Vec<u8>, Fatal> {
    let refuse = |what: String| Fatal::new(ExitCode::Refused, format!("{what}; fix: repair the image's {path}"));
    accounts::read(std::path::Path::new(path)).map_err(|e| refuse(format!("cannot read {path}: {e}")))
}

pub const WHY_USER: &str = "a server running as root turns any compromise into a compromise of the container";
pub const WHY_CAP: &str =
    "the server keeps nothing but IPC_LOCK: no other capability, no way to gain one (no_new_privs)";

/// Who the server will run as. As root: the `--user` (or default) from /etc/passwd and /etc/group.
/// As non-root, no change is possible: the running identity, unless another was asked for.
pub fn target_identity(settings: &Settings) -> Result<accounts::Identity, Fatal> {
    let running = current_identity()?;
    let refused = |m: String| Fatal::new(ExitCode::Refused, m);
    if running.uid != 0 && settings.user.is_none() {
        return Ok(running);
    }
    let users = accounts::parse_passwd(&read_account_file("/etc/passwd")?)
        .map_err(|e| refused(format!("{e}; fix: repair the image's /etc/passwd")))?;
    let groups = accounts::parse_group(&read_account_file("/etc/group")?)
        .map_err(|e| refused(format!("{e}; fix: repair the image's /etc/group")))?;
    let spec = match &settings.user {
        Some(spec) => spec.clone(),
        None if users.iter().any(|u| u.name == "vault") => "vault".into(),
        None if users.iter().any(|u| u.name == "openbao") => "openbao".into(),
        None => {
            return Err(refused(
                "neither vault nor openbao is in /etc/passwd; fix: add the user to the image or give --user".into(),
            ));
        }
    };
    let mut identity = accounts::resolve(&spec, &users, &groups).map_err(refused)?;
    if running.uid != 0 && (identity.uid != running.uid || identity.gid != running.gid) {
        return Err(refused(format!(
            "started as uid {} gid {}, which cannot become --user {spec} (uid {} gid {}); fix: start as root, or run as that user (Kubernetes runAsUser/runAsGroup, docker run --user {}:{})",
            running.uid, running.gid, identity.uid, identity.gid, identity.uid, identity.gid
        )));
    }
    if running.uid != 0 {
        // No change of user happens: the server gets the groups the kernel gave us, whatever
        // /etc/group says.
        identity.groups = running.groups;
    }
    Ok(identity)
}

/// The kernel's view of this process, from /proc/self/status.
pub struct ProcStatus(Vec<(String, String)>);

impl ProcStatus {
    pub fn read() -> Result<ProcStatus, Fatal> {
        let text =
            std::fs::read_to_string("/proc/self/status").map_err(|e| Fatal::system("reading /proc/self/status", e))?;
        Ok(ProcStatus(
            text.lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect(),
        ))
    }

    pub fn get(&self, key: &str) -> &str {
        self.0.iter().find(|(k, _)| k == key).map_or("", |(_, v)| v)
    }

    pub fn ids(&self, key: &str) -> Vec<u32> {
        self.get(key).split_whitespace().filter_map(|v| v.parse().ok()).collect()
    }

    pub fn mask(&self, key: &str) -> u64 {
        u64::from_str_radix(self.get(key), 16).unwrap_or(u64::MAX)
    }
}

fn current_identity() -> Result<accounts::Identity, Fatal> {
    let status = ProcStatus::read()?;
    let (uids, gids) = (status.ids("Uid"), status.ids("Gid"));
    let (Some(&uid), Some(&gid)) = (uids.get(1), gids.get(1)) else {
        return Err(Fatal::system("reading our uid", std::io::Error::from(std::io::ErrorKind::InvalidData)));
    };
    let mut groups = status.ids("Groups");
    groups.sort_unstable();
    Ok(accounts::Identity { name: None, home: None, uid, gid, groups })
}

/// What the server gets of CAP_IPC_LOCK, and the finding that says so.
#[derive(Clone)]
pub struct Capability {
    /// IPC_LOCK is (Apply: verified in) or would be (Check) in the ambient set.
    pub ipc_lock: bool,
    pub finding: Finding,
}

pub(super) const IPC_LOCK_MASK: u64 = 1 << CAP_IPC_LOCK;

const SETID_FIX: &str =
    "give the container CAP_SETUID and CAP_SETGID (Docker's defaults), or start it as the server's user";

fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// PID 1's real and saved uid after the drop, unless the server is this uid (then
/// [`PID1_UID_ALTERNATIVE`]): below 65536, so that user namespaces (rootless Podman, Kubernetes'
/// hostUsers: false) map it, and none of the conventional ones (65532 distroless's nonroot,
/// 65534 nobody, 65535 the 16-bit -1).
pub const PID1_UID: u32 = 65533;
pub const PID1_UID_ALTERNATIVE: u32 = 65531;

/// Becomes the server's uid as the effective uid, keeping [`PID1_UID`] as the real and saved uid:
/// the kernel lets a process signal another only when one of its real and effective uids is the
/// target's real or saved uid (kill_ok_by_cred), and prlimit and ptrace another only when all the
/// ids are the same (__prlimit_check, __ptrace_may_access). So the server (all its uids its own)
/// cannot reach PID 1, while PID 1 (effective uid the server's real one) can signal the server.
/// The server takes its uid in full in the forked child, before execve. Where the namespace does
/// not map PID1_UID (EINVAL), the uid is the server's in full, as before: Some(own uid) or None.
fn take_the_servers_uid(uid: u32) -> std::io::Result<Option<u32>> {
    if uid == 0 {
        sys::set_uid(0)?;
        return Ok(None);
    }
    let own = if uid == PID1_UID { PID1_UID_ALTERNATIVE } else { PID1_UID };
    match sys::set_uids(own, uid, own) {
        Ok(()) => Ok(Some(own)),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => sys::set_uid(uid).map(|()| None),
        Err(e) => Err(e),
    }
}

/// Drops to the server's user keeping only CAP_IPC_LOCK, raised into the ambient set so that it
/// survives the exec of a plain server binary (no setcap on the server), then sets no_new_privs
/// and reads every set back.
pub(super) fn drop_to_user(
    identity: &accounts::Identity,
    settings: &Settings,
    mode: Mode,
) -> Result<(Finding, Capability), Fatal> {
    let name = identity.name.clone().unwrap_or_else(|| identity.uid.to_string());
    let started_as_root = sys::effective_uid() == 0;
    let group_zero = identity.gid == 0 || identity.groups.contains(&0);
    // OpenShift's restricted SCC starts every container as an arbitrary uid with gid 0, by
    // design: a platform convention hardinit warns about, not a choice it refuses.
    let platform_group_zero = group_zero && !started_as_root && identity.uid != 0;
    if (identity.uid == 0 || (group_zero && !platform_group_zero)) && !settings.allow_root {
        let finding = Finding::new(
            "user",
            Status::Fail,
            format!(
                "the server would run as uid {} gid {} (user {name}, groups {:?})",
                identity.uid, identity.gid, identity.groups
            ),
            WHY_USER,
            "--user vault (or another unprivileged user), or --allow-root if this is really wanted",
        );
        if mode == Mode::Apply {
            return Err(finding.refusal());
        }
        let cap = Capability {
            ipc_lock: false,
            finding: Finding::new(
                "capabilities",
                Status::Warn,
                "not evaluated: the user is refused",
                WHY_CAP,
                "fix the user first",
            ),
        };
        return Ok((finding, cap));
    }
    let start = sys::capabilities().map_err(|e| Fatal::system("capget", e))?;
    let bounding_has_ipc_lock = sys::in_bounding_set(CAP_IPC_LOCK).unwrap_or(false);
    // Root keeps IPC_LOCK through KEEPCAPS when it is in its permitted set; a non-root start has
    // it only from the binary's file capability (cap_ipc_lock=p), also in the permitted set.
    let ipc_lock = start.permitted & IPC_LOCK_MASK != 0 && bounding_has_ipc_lock;
    let wanted = if ipc_lock { IPC_LOCK_MASK } else { 0 };
    let how = match (ipc_lock, started_as_root) {
        (true, true) => "IPC_LOCK kept through the drop from root",
        (true, false) => "IPC_LOCK from hardinit's file capability (cap_ipc_lock=p)",
        (false, true) => "IPC_LOCK is not in the container's capability set",
        (false, false) => "not root and no file capability on hardinit: no IPC_LOCK",
    };
    let user_summary =
        format!("the server runs as {name} (uid {} gid {} groups {:?})", identity.uid, identity.gid, identity.groups);
    let user_finding = |summary: String| {
        if platform_group_zero {
            Finding::new(
                "user",
                Status::Warn,
                format!(
                    "{summary}: group 0 from the platform (OpenShift runs containers as an arbitrary uid with gid 0 by design); files writable by group 0 are writable by the server"
                ),
                WHY_USER,
                "nothing to do on OpenShift; elsewhere give the container a non-zero group (runAsGroup, docker run --user UID:GID)",
            )
        } else if identity.uid == 0 || group_zero {
            Finding::new(
                "user",
                Status::Warn,
                format!(
                    "{summary}: root or group 0 allowed by --allow-root (or BAO_SKIP_DROP_ROOT); a compromise of the server is a compromise of the container"
                ),
                WHY_USER,
                "--user vault (or another unprivileged user) without --allow-root",
            )
        } else {
            Finding::new("user", Status::Pass, summary, WHY_USER, "nothing to do")
        }
    };
    if mode != Mode::Apply {
        // The drop's setgroups needs CAP_SETGID, and a change of uid CAP_SETUID: without them
        // (`--cap-drop SETUID`, `drop: [ALL]` with root) the start stops there, so the check does.
        if started_as_root {
            let current = current_identity()?;
            let effective = sys::capabilities().map_err(|e| Fatal::system("capget", e))?.effective;
            let mut missing = Vec::new();
            if effective & 1 << sys::CAP_SETGID == 0 {
                missing.push("CAP_SETGID (setgroups)");
            }
            if effective & 1 << sys::CAP_SETUID == 0 && current.uid != identity.uid {
                missing.push("CAP_SETUID");
            }
            if !missing.is_empty() {
                let finding = Finding::new(
                    "user",
                    Status::Fail,
                    format!(
                        "cannot drop to {name} (uid {} gid {}): the container does not give {}",
                        identity.uid,
                        identity.gid,
                        missing.join(" or ")
                    ),
                    WHY_USER,
                    SETID_FIX,
                );
                let caps = Finding::new(
                    "capabilities",
                    Status::Warn,
                    "not evaluated: the user is refused",
                    WHY_CAP,
                    "fix the user first",
                );
                return Ok((finding, Capability { ipc_lock, finding: caps }));
            }
        }
        let verb = if started_as_root { "would drop to" } else { "already" };
        let user = user_finding(format!("{verb}: {user_summary}"));
        let caps = format!(
            "{how}; would keep {{{}}} in all five sets, no_new_privs on",
            if ipc_lock { "IPC_LOCK" } else { "" }
        );
        let finding = Finding::new("capabilities", Status::Pass, caps, WHY_CAP, "nothing to do");
        return Ok((user, Capability { ipc_lock, finding }));
    }

    let fail =
        |what: &str, e: std::io::Error, fix: &str| Fatal::new(ExitCode::Refused, format!("{what}: {e}; fix: {fix}"));
    // The bounding set first, while we may still have CAP_SETPCAP: nothing the server execs can
    // ever hold more. Without CAP_SETPCAP (a non-root start, or `drop: [ALL]`) it stays as it is;
    // no_new_privs and empty permitted sets make it moot.
    let mut bounding_shrunk = true;
    for cap in (0..=last_capability()).filter(|c| *c != CAP_IPC_LOCK || !ipc_lock) {
        if sys::in_bounding_set(cap).unwrap_or(false) && sys::drop_from_bounding_set(cap).is_err() {
            bounding_shrunk = false;
        }
    }
    if started_as_root {
        sys::set_keep_capabilities(true).map_err(|e| Fatal::system("PR_SET_KEEPCAPS", e))?;
        sys::set_groups(&identity.groups).map_err(|e| fail("setgroups", e, SETID_FIX))?;
        sys::set_gid(identity.gid).map_err(|e| fail(&format!("changing to gid {}", identity.gid), e, SETID_FIX))?;
    }
    let own_uid = if started_as_root {
        take_the_servers_uid(identity.uid)
            .map_err(|e| fail(&format!("changing to uid {}", identity.uid), e, SETID_FIX))?
    } else {
        None
    };
    let sets = CapSets { effective: wanted, permitted: wanted, inheritable: wanted };
    sys::set_capabilities(sets).map_err(|e| Fatal::system("capset", e))?;
    if ipc_lock {
        sys::raise_ambient(CAP_IPC_LOCK).map_err(|e| Fatal::system("raising IPC_LOCK into the ambient set", e))?;
    }
    if started_as_root {
        sys::set_keep_capabilities(false).map_err(|e| Fatal::system("PR_SET_KEEPCAPS", e))?;
    }
    sys::set_no_new_privs().map_err(|e| Fatal::system("PR_SET_NO_NEW_PRIVS", e))?;
    // A change of effective uid makes the process dumpable again where the host's
    // fs.suid_dumpable says so: PID 1's /proc files would become the server's to write.
    sys::set_not_dumpable().map_err(|e| Fatal::system("PR_SET_DUMPABLE", e))?;

    // Trust nothing: what the kernel says now is what the server inherits (its real and saved
    // uid aside, which the server takes in the forked child and reads back there).
    let status = ProcStatus::read()?;
    let mut mismatches = Vec::new();
    let uids = match own_uid {
        Some(own) => [own, identity.uid, own, identity.uid],
        None => [identity.uid; 4],
    };
    if status.ids("Uid") != uids {
        mismatches.push(format!("Uid is {:?}, not {uids:?}", status.get("Uid")));
    }
    if status.ids("Gid") != [identity.gid; 4] {
        mismatches.push(format!("Gid is {:?}, not {}", status.get("Gid"), identity.gid));
    }
    if sys::is_dumpable().unwrap_or(true) {
        mismatches.push("hardinit is dumpable".into());
    }
    let mut groups = status.ids("Groups");
    groups.sort_unstable();
    if started_as_root && groups != identity.groups {
        mismatches.push(format!("Groups is {groups:?}, not {:?}", identity.groups));
    }
    for key in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        if status.mask(key) != wanted {
            mismatches.push(format!("{key} is {}, not {wanted:016x}", status.get(key)));
        }
    }
    if bounding_shrunk && status.mask("CapBnd") & !wanted != 0 {
        mismatches.push(format!("CapBnd is {}, not {wanted:016x}", status.get("CapBnd")));
    }
    if status.get("NoNewPrivs") != "1" {
        mismatches.push("NoNewPrivs is not 1".into());
    }
    if !mismatches.is_empty() {
        let finding = Finding::new(
            "capabilities",
            Status::Fail,
            format!("after the drop the kernel reports: {}", mismatches.join(", ")),
            WHY_CAP,
            "report this with the container runtime and kernel version",
        );
        return Err(finding.refusal());
    }
    let user = user_finding(match own_uid {
        Some(own) => format!(
            "{user_summary}; hardinit keeps uid {own} as its real and saved uid, which the server does not share: the server cannot signal, prlimit or ptrace hardinit"
        ),
        None if started_as_root && identity.uid != 0 => {
            format!("{user_summary}; hardinit shares the server's uid: {PID1_UID} is not mapped in this user namespace")
        }
        None => user_summary,
    });
    let bounding =
        if bounding_shrunk { "bounding set shrunk to the same" } else { "bounding set left as is (no CAP_SETPCAP)" };
    let caps = format!("{how}; CapInh/Prm/Eff/Amb = {wanted:#x}, {bounding}, no_new_privs on");
    Ok((
        user,
        Capability { ipc_lock, finding: Finding::new("capabilities", Status::Pass, caps, WHY_CAP, "nothing to do") },
    ))
}
