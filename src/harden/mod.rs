//! The production-hardening checklist, enforced before the server starts and reported by
//! `hardinit check`. Each step is named after the guarantee it gives, reads its effect back from
//! the kernel, and returns a [`Finding`] that the start-up log and the check report both print.
//!
//! Order (kernel-facts.md): core dumps → bounding set → KEEPCAPS → groups, gid, uid → capset →
//! ambient → no_new_privs → read everything back → the memory guard, proven with the credentials
//! the server will have.

pub mod accounts;
pub mod server_config;

use crate::error::{ExitCode, Fatal};
use crate::sys::privilege::{self as sys, CAP_IPC_LOCK, CapSets, Limit, Resource};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the checklist: what holds (or not), why it matters, and the fix.
#[derive(Clone, Debug)]
pub struct Finding {
    pub id: &'static str,
    pub status: Status,
    pub summary: String,
    pub why: &'static str,
    pub fix: String,
}

impl Finding {
    fn new(
        id: &'static str,
        status: Status,
        summary: impl Into<String>,
        why: &'static str,
        fix: impl Into<String>,
    ) -> Self {
        Finding { id, status, summary: summary.into(), why, fix: fix.into() }
    }

    /// The refusal this finding stands for: one line, cause and fix.
    pub fn refusal(&self) -> Fatal {
        Fatal::new(ExitCode::Refused, format!("{}: {}; fix: {}", self.id, self.summary, self.fix))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryGuard {
    Auto,
    Mlock,
    Swap,
    Off,
}

/// The hardening options of the command line.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `--user`; `None` is the default (vault, or openbao where only that user exists).
    pub user: Option<String>,
    pub allow_root: bool,
    pub memory_guard: MemoryGuard,
    pub keep_env: bool,
    pub umask: u32,
}

/// Apply changes the process; Check only looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Check,
}

/// What the server needs from hardening: the environment variables to set for it.
pub struct Hardened {
    pub findings: Vec<Finding>,
    pub environment: Vec<(String, String)>,
}

/// Runs the whole checklist. In `Apply` mode a failing finding stops at once with its refusal
/// (exit 78); in `Check` mode every finding is collected.
pub fn run(settings: &Settings, server: &Path, server_args: &[OsString], mode: Mode) -> Result<Hardened, Fatal> {
    let mut findings = Vec::new();
    let mut record = |finding: Finding| -> Result<(), Fatal> {
        if finding.status == Status::Fail && mode == Mode::Apply {
            return Err(finding.refusal());
        }
        findings.push(finding);
        Ok(())
    };
    record(disable_core_dumps(mode)?)?;
    let mut environment = Vec::new();
    let capability = match target_identity(settings) {
        Ok(identity) => {
            // As su-exec and gosu do: the server's HOME is its own, not root's (a -dev server
            // writes its token helper file there).
            if let (0, Some(home)) = (sys::effective_uid(), &identity.home) {
                environment.push(("HOME".to_string(), home.clone()));
            }
            let (user_finding, capability) = drop_to_user(&identity, settings, mode)?;
            record(user_finding)?;
            record(capability.finding.clone())?;
            capability
        }
        Err(refusal) if mode == Mode::Check => {
            let (summary, fix) = refusal
                .message
                .split_once("; fix: ")
                .map_or((refusal.message.as_str(), "see the summary"), |(s, f)| (s, f));
            record(Finding::new(
                "user",
                Status::Fail,
                summary,
                "the server's user must be known and unprivileged",
                fix,
            ))?;
            let why = "the capabilities depend on the user";
            let finding = Finding::new(
                "capabilities",
                Status::Warn,
                "not evaluated: the user is refused",
                why,
                "fix the user first",
            );
            record(finding.clone())?;
            Capability { ipc_lock: false, finding }
        }
        Err(refusal) => return Err(refusal),
    };
    record(prove_memory_stays_in_ram(settings.memory_guard, &capability, server, server_args, mode)?)?;
    let (history, history_off) = disable_shell_history(settings.keep_env);
    environment.extend(history_off.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    record(history)?;
    record(Finding::new(
        "umask",
        Status::Pass,
        format!("the server's umask is {:03o}", settings.umask),
        "files the server creates are not readable by other users",
        "--umask to change it",
    ))?;
    Ok(Hardened { findings, environment })
}

/// How /proc/sys/kernel/core_pattern hands core dumps over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreMode {
    File,
    Pipe,
    Socket,
    Unknown,
}

pub fn core_mode(pattern: Option<&str>) -> CoreMode {
    match pattern.map(str::trim_start) {
        Some(p) if p.starts_with('|') => CoreMode::Pipe,
        Some(p) if p.starts_with('@') => CoreMode::Socket,
        Some(_) => CoreMode::File,
        None => CoreMode::Unknown,
    }
}

/// RLIMIT_CORE soft = hard (0, or 1 where the kernel ignores 0: a piped core_pattern, or one we
/// could not read), coredump_filter 0 (survives fork and execve), hardinit itself not dumpable.
fn disable_core_dumps(mode: Mode) -> Result<Finding, Fatal> {
    const WHY: &str = "a core dump writes the server's memory, keys and tokens included, to disk or to the host";
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").ok();
    let core = core_mode(pattern.as_deref());
    let n = if matches!(core, CoreMode::File | CoreMode::Socket) { 0 } else { 1 };
    let limit = Limit { soft: n, hard: n };
    if mode == Mode::Apply {
        sys::set_rlimit(Resource::Core, limit).map_err(|e| Fatal::system("setting RLIMIT_CORE", e))?;
        std::fs::write("/proc/self/coredump_filter", "0")
            .map_err(|e| Fatal::system("writing /proc/self/coredump_filter", e))?;
        sys::set_not_dumpable().map_err(|e| Fatal::system("PR_SET_DUMPABLE", e))?;
        let read = sys::rlimit(Resource::Core).map_err(|e| Fatal::system("reading RLIMIT_CORE", e))?;
        let filter = std::fs::read_to_string("/proc/self/coredump_filter").unwrap_or_default();
        if read != limit || u64::from_str_radix(filter.trim(), 16) != Ok(0) {
            let summary = format!(
                "RLIMIT_CORE reads {}/{} and coredump_filter {:?} after setting them",
                read.soft,
                read.hard,
                filter.trim()
            );
            return Ok(Finding::new(
                "core-dumps",
                Status::Fail,
                summary,
                WHY,
                "report this: the kernel did not keep the limits",
            ));
        }
    }
    let verb = if mode == Mode::Apply { "set" } else { "would set" };
    Ok(match core {
        CoreMode::Socket => Finding::new(
            "core-dumps",
            Status::Warn,
            format!(
                "core_pattern sends dumps to a socket, which ignores every limit; {verb} RLIMIT_CORE {n} and coredump_filter 0 (registers only)"
            ),
            WHY,
            "on the host: point kernel.core_pattern at a file or at systemd-coredump with storage off",
        ),
        _ => Finding::new(
            "core-dumps",
            Status::Pass,
            format!("{verb} RLIMIT_CORE {n} (soft and hard, {core:?} mode) and coredump_filter 0"),
            WHY,
            "nothing to do",
        ),
    })
}

fn read_account_file(path: &str) -> Result<Vec<u8>, Fatal> {
    let refuse = |what: String| Fatal::new(ExitCode::Refused, format!("{what}; fix: repair the image's {path}"));
    let meta = std::fs::metadata(path).map_err(|e| refuse(format!("cannot read {path}: {e}")))?;
    if meta.len() > accounts::MAX_FILE {
        return Err(refuse(format!("{path} is larger than {} bytes", accounts::MAX_FILE)));
    }
    std::fs::read(path).map_err(|e| refuse(format!("cannot read {path}: {e}")))
}

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
    let identity = accounts::resolve(&spec, &users, &groups).map_err(refused)?;
    if running.uid != 0 && (identity.uid != running.uid || identity.gid != running.gid) {
        return Err(refused(format!(
            "started as uid {} gid {}, which cannot become --user {spec} (uid {} gid {}); fix: start as root, or run as that user (Kubernetes runAsUser/runAsGroup, docker run --user {}:{})",
            running.uid, running.gid, identity.uid, identity.gid, identity.uid, identity.gid
        )));
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

const IPC_LOCK_MASK: u64 = 1 << CAP_IPC_LOCK;

fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

/// Drops to the server's user keeping only CAP_IPC_LOCK, raised into the ambient set so that it
/// survives the exec of a plain server binary (no setcap on the server), then sets no_new_privs
/// and reads every set back.
fn drop_to_user(
    identity: &accounts::Identity,
    settings: &Settings,
    mode: Mode,
) -> Result<(Finding, Capability), Fatal> {
    const WHY_USER: &str = "a server running as root turns any compromise into a compromise of the container";
    const WHY_CAP: &str =
        "the server keeps nothing but IPC_LOCK: no other capability, no way to gain one (no_new_privs)";
    let name = identity.name.clone().unwrap_or_else(|| identity.uid.to_string());
    if (identity.uid == 0 || identity.gid == 0 || identity.groups.contains(&0)) && !settings.allow_root {
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
    let started_as_root = sys::effective_uid() == 0;
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
    if mode == Mode::Check {
        let verb = if started_as_root { "would drop to" } else { "already" };
        let user = Finding::new("user", Status::Pass, format!("{verb}: {user_summary}"), WHY_USER, "nothing to do");
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
        let setid_fix =
            "give the container CAP_SETUID and CAP_SETGID (Docker's defaults), or start it as the server's user";
        sys::set_groups(&identity.groups).map_err(|e| fail("setgroups", e, setid_fix))?;
        sys::set_gid(identity.gid).map_err(|e| fail(&format!("changing to gid {}", identity.gid), e, setid_fix))?;
        sys::set_uid(identity.uid).map_err(|e| fail(&format!("changing to uid {}", identity.uid), e, setid_fix))?;
    }
    let sets = CapSets { effective: wanted, permitted: wanted, inheritable: wanted };
    sys::set_capabilities(sets).map_err(|e| Fatal::system("capset", e))?;
    if ipc_lock {
        sys::raise_ambient(CAP_IPC_LOCK).map_err(|e| Fatal::system("raising IPC_LOCK into the ambient set", e))?;
    }
    if started_as_root {
        sys::set_keep_capabilities(false).map_err(|e| Fatal::system("PR_SET_KEEPCAPS", e))?;
    }
    sys::set_no_new_privs().map_err(|e| Fatal::system("PR_SET_NO_NEW_PRIVS", e))?;

    // Trust nothing: what the kernel says now is what the server inherits.
    let status = ProcStatus::read()?;
    let mut mismatches = Vec::new();
    for (key, want) in [("Uid", identity.uid), ("Gid", identity.gid)] {
        if status.ids(key) != [want; 4] {
            mismatches.push(format!("{key} is {:?}, not {want}", status.get(key)));
        }
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
    let user = Finding::new("user", Status::Pass, user_summary, WHY_USER, "nothing to do");
    let bounding =
        if bounding_shrunk { "bounding set shrunk to the same" } else { "bounding set left as is (no CAP_SETPCAP)" };
    let caps = format!("{how}; CapInh/Prm/Eff/Amb = {wanted:#x}, {bounding}, no_new_privs on");
    Ok((
        user,
        Capability { ipc_lock, finding: Finding::new("capabilities", Status::Pass, caps, WHY_CAP, "nothing to do") },
    ))
}

/// The server whose memory is to be guarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Vault,
    OpenBao,
}

/// OpenBao ships as `bao` (with a `vault` link to it in its images): look through the link.
pub fn flavour_of(server: &Path) -> Flavour {
    let real = std::fs::canonicalize(server).unwrap_or_else(|_| server.to_path_buf());
    match real.file_name().and_then(|n| n.to_str()) {
        Some("bao" | "openbao") => Flavour::OpenBao,
        _ => Flavour::Vault,
    }
}

/// Which rule `auto` picks, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemoryRule {
    Mlock(String),
    Swap(String),
    WarnOnly(String),
    NotAServer,
}

/// The `auto` decision: pure, given what the config says.
pub fn choose_memory_rule(
    flavour: Flavour,
    server_args: &[OsString],
    config: server_config::MlockSetting,
) -> MemoryRule {
    if server_args.first().is_none_or(|a| a != "server") {
        return MemoryRule::NotAServer;
    }
    let dev = server_args.iter().any(|a| {
        a == "-dev" || a == "--dev" || a.to_str().is_some_and(|s| s.starts_with("-dev=") || s.starts_with("--dev="))
    });
    match (flavour, config.disabled) {
        (Flavour::OpenBao, _) => MemoryRule::Swap("OpenBao has no mlock since 2.0".into()),
        (Flavour::Vault, Some(true)) => MemoryRule::Swap("the server's configuration sets disable_mlock".into()),
        // The entrypoint always passes -config=/vault/config: an empty directory is no config.
        (Flavour::Vault, _) if dev && config.files == 0 => {
            MemoryRule::WarnOnly("a -dev server keeps its data in memory only".into())
        }
        // Vault's dev configuration disables mlock itself; config files are merged into it.
        (Flavour::Vault, _) if dev => MemoryRule::Swap("-dev disables mlock".into()),
        (Flavour::Vault, _) => MemoryRule::Mlock("the server will call mlockall".into()),
    }
}

const WHY_MEMORY: &str = "swapped-out pages put the server's keys and secrets on disk";
const FIX_MLOCK: &str = "docker run --cap-add IPC_LOCK, or Kubernetes securityContext.capabilities.add: [\"IPC_LOCK\"]; or set disable_mlock = true and keep swap off for the container";
const FIX_SWAP: &str = "limit the container's swap to 0 (docker run --memory-swap equal to --memory; Kubernetes NoSwap, the default), or swapoff on the host";

/// Proves that the server's memory cannot reach disk: mlock works and IPC_LOCK is held, or swap
/// is off for this container.
fn prove_memory_stays_in_ram(
    guard: MemoryGuard,
    capability: &Capability,
    server: &Path,
    server_args: &[OsString],
    mode: Mode,
) -> Result<Finding, Fatal> {
    let rule = match guard {
        MemoryGuard::Off => {
            return Ok(Finding::new(
                "memory",
                Status::Warn,
                "--memory-guard off: nothing proves the server's memory stays in RAM",
                WHY_MEMORY,
                "--memory-guard auto",
            ));
        }
        MemoryGuard::Mlock => MemoryRule::Mlock("--memory-guard mlock".into()),
        MemoryGuard::Swap => MemoryRule::Swap("--memory-guard swap".into()),
        MemoryGuard::Auto => {
            let env = |name: &'static str| (name, std::env::var(name).ok());
            let paths = server_config::config_paths(server_args);
            let disabled =
                server_config::mlock_disabled(&paths, &[env("VAULT_DISABLE_MLOCK"), env("BAO_DISABLE_MLOCK")])
                    .map_err(|e| {
                        Fatal::new(
                            ExitCode::Refused,
                            format!("cannot read the server's configuration: {e}; fix the file or the -config path"),
                        )
                    })?;
            choose_memory_rule(flavour_of(server), server_args, disabled)
        }
    };
    Ok(match rule {
        MemoryRule::NotAServer => Finding::new(
            "memory",
            Status::Pass,
            "not a `server` command: no server memory to guard",
            WHY_MEMORY,
            "nothing to do",
        ),
        MemoryRule::WarnOnly(why) => Finding::new(
            "memory",
            Status::Warn,
            format!("{why}: not guarded"),
            WHY_MEMORY,
            "for production, run with -config",
        ),
        MemoryRule::Mlock(why) => mlock_finding(&why, capability, server, mode),
        MemoryRule::Swap(why) => swap_finding(&why),
    })
}

fn mlock_finding(why: &str, capability: &Capability, server: &Path, mode: Mode) -> Finding {
    let fail = |summary: String, fix: &str| {
        Finding::new("memory", Status::Fail, format!("mlock rule ({why}): {summary}"), WHY_MEMORY, fix)
    };
    if !capability.ipc_lock {
        return fail("the server would not hold CAP_IPC_LOCK".into(), FIX_MLOCK);
    }
    let setid = std::fs::metadata(server)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o6000 != 0)
        .unwrap_or(false);
    if setid || sys::has_file_capabilities(server).unwrap_or(true) {
        return fail(
            format!(
                "{} has a setuid/setgid bit or file capabilities, which clear the ambient set at exec",
                server.display()
            ),
            "remove them (setcap -r, chmod u-s,g-s): hardinit passes IPC_LOCK as an ambient capability",
        );
    }
    let limit = match sys::rlimit(Resource::MemoryLock) {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot read RLIMIT_MEMLOCK: {e}"), FIX_MLOCK),
    };
    if limit.soft == sys::UNLIMITED {
        let summary = format!(
            "mlock rule ({why}): RLIMIT_MEMLOCK is unlimited, so mlock works; the capability itself is not proven"
        );
        return Finding::new("memory", Status::Pass, summary, WHY_MEMORY, "nothing to do");
    }
    if mode == Mode::Check && sys::capabilities().is_ok_and(|c| c.effective & IPC_LOCK_MASK == 0) {
        let summary = format!(
            "mlock rule ({why}): IPC_LOCK would be raised for the server (not probed: not effective in hardinit yet)"
        );
        return Finding::new("memory", Status::Pass, summary, WHY_MEMORY, "nothing to do");
    }
    // Beyond RLIMIT_MEMLOCK only a real CAP_IPC_LOCK lets the lock succeed.
    let bytes = limit.soft as usize + 2 * sys::page_size();
    match sys::probe_memory_lock(bytes) {
        Ok(()) => {
            let verb = if mode == Mode::Apply { "proven" } else { "proven with hardinit's current credentials" };
            Finding::new(
                "memory",
                Status::Pass,
                format!("mlock rule ({why}): locking {bytes} bytes beyond RLIMIT_MEMLOCK works: IPC_LOCK {verb}"),
                WHY_MEMORY,
                "nothing to do",
            )
        }
        Err(e) => fail(
            format!("locking beyond RLIMIT_MEMLOCK fails ({e}): IPC_LOCK is not effective here (a user namespace?)"),
            FIX_MLOCK,
        ),
    }
}

/// Active swap devices on the host (/proc/swaps is not namespaced).
fn active_swaps() -> usize {
    std::fs::read_to_string("/proc/swaps").map_or(0, |s| s.lines().skip(1).filter(|l| !l.trim().is_empty()).count())
}

/// The container's swap limit, as bytes (None: unlimited or unknown).
pub fn cgroup_swap_limit() -> Result<u64, String> {
    let cgroups =
        std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let read = |path: &Path| std::fs::read_to_string(path).ok().map(|s| s.trim().to_string());
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        let relative = path.trim_start_matches('/');
        // The container may see its own cgroup at the mount's root (a cgroup namespace, or
        // runc's v1 bind mounts), or the full path: try both.
        let candidates =
            |base: &str, file: &str| [PathBuf::from(base).join(relative).join(file), PathBuf::from(base).join(file)];
        if controllers.is_empty() {
            for candidate in candidates("/sys/fs/cgroup", "memory.swap.max") {
                if let Some(v) = read(&candidate) {
                    return if v == "max" {
                        Err("memory.swap.max is max".into())
                    } else {
                        v.parse().map_err(|_| format!("memory.swap.max reads {v:?}"))
                    };
                }
            }
        } else if controllers.split(',').any(|c| c == "memory") {
            for (memsw, mem) in candidates("/sys/fs/cgroup/memory", "memory.memsw.limit_in_bytes")
                .into_iter()
                .zip(candidates("/sys/fs/cgroup/memory", "memory.limit_in_bytes"))
            {
                if let (Some(memsw), Some(mem)) = (read(&memsw), read(&mem)) {
                    let (memsw, mem): (u64, u64) = (memsw.parse().unwrap_or(u64::MAX), mem.parse().unwrap_or(u64::MAX));
                    // v1 writes "unlimited" as the largest page-aligned value: equal then, but no limit.
                    if memsw >= 1 << 62 {
                        return Err("memory.memsw.limit_in_bytes is unlimited".into());
                    }
                    return Ok(memsw.saturating_sub(mem));
                }
            }
            return Err("cgroup v1 without swap accounting (memory.memsw.limit_in_bytes)".into());
        }
    }
    Err("no memory cgroup found".into())
}

fn swap_finding(why: &str) -> Finding {
    let swaps = active_swaps();
    if swaps == 0 {
        return Finding::new(
            "memory",
            Status::Pass,
            format!("swap rule ({why}): the host has no active swap"),
            WHY_MEMORY,
            "nothing to do",
        );
    }
    match cgroup_swap_limit() {
        Ok(0) => Finding::new(
            "memory",
            Status::Pass,
            format!("swap rule ({why}): the host has swap, but this container's cgroup allows 0 bytes of it"),
            WHY_MEMORY,
            "nothing to do",
        ),
        Ok(n) => Finding::new(
            "memory",
            Status::Fail,
            format!(
                "swap rule ({why}): the host has {swaps} active swap area(s) and this container may use {n} bytes of swap"
            ),
            WHY_MEMORY,
            FIX_SWAP,
        ),
        Err(e) => Finding::new(
            "memory",
            Status::Fail,
            format!(
                "swap rule ({why}): the host has {swaps} active swap area(s) and the container's swap limit is not 0 ({e})"
            ),
            WHY_MEMORY,
            FIX_SWAP,
        ),
    }
}

/// Variables that turn history files off in the shells and interactive tools an operator may start
/// next to the server (`docker exec`, `kubectl exec`).
pub const HISTORY_OFF: [(&str, &str); 11] = [
    ("HISTFILE", "/dev/null"),
    ("HISTSIZE", "0"),
    ("HISTFILESIZE", "0"),
    ("SAVEHIST", "0"),
    ("LESSHISTFILE", "/dev/null"),
    ("PSQL_HISTORY", "/dev/null"),
    ("MYSQL_HISTFILE", "/dev/null"),
    ("SQLITE_HISTORY", "/dev/null"),
    ("REDISCLI_HISTFILE", "/dev/null"),
    ("NODE_REPL_HISTORY", ""),
    ("PYTHON_HISTORY", "/dev/null"),
];

fn disable_shell_history(keep_env: bool) -> (Finding, Vec<(&'static str, &'static str)>) {
    const WHY: &str = "a history file keeps every command typed, tokens and unseal keys included";
    if keep_env {
        return (
            Finding::new(
                "history",
                Status::Warn,
                "--keep-env: the server's environment is passed unchanged",
                WHY,
                "drop --keep-env",
            ),
            Vec::new(),
        );
    }
    // hardinit's own environment is what exec sessions in the container get.
    let exec_sessions_safe = std::env::var("HISTFILE").is_ok_and(|v| v == "/dev/null");
    let finding = if exec_sessions_safe {
        Finding::new("history", Status::Pass, "history off for the server and for exec sessions", WHY, "nothing to do")
    } else {
        Finding::new(
            "history",
            Status::Warn,
            "history off for the server; `docker exec` / `kubectl exec` sessions still keep it (HISTFILE is not /dev/null in the container's environment)",
            WHY,
            "ENV HISTFILE=/dev/null in the image, or env HISTFILE=/dev/null in the pod spec",
        )
    };
    (finding, HISTORY_OFF.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn auto_picks_mlock_for_vault_unless_the_config_disables_it() {
        use server_config::MlockSetting;
        let says = |disabled| MlockSetting { disabled, files: 1 };
        let server = args(&["server", "-config=/vault/config"]);
        assert!(matches!(choose_memory_rule(Flavour::Vault, &server, says(None)), MemoryRule::Mlock(_)));
        assert!(matches!(choose_memory_rule(Flavour::Vault, &server, says(Some(false))), MemoryRule::Mlock(_)));
        assert!(matches!(choose_memory_rule(Flavour::Vault, &server, says(Some(true))), MemoryRule::Swap(_)));
        assert!(matches!(choose_memory_rule(Flavour::OpenBao, &server, says(None)), MemoryRule::Swap(_)));
        let empty = MlockSetting::default();
        let dev = args(&["server", "-config=/vault/config", "-dev"]);
        assert!(matches!(choose_memory_rule(Flavour::Vault, &dev, empty), MemoryRule::WarnOnly(_)));
        assert!(matches!(
            choose_memory_rule(Flavour::Vault, &args(&["server", "-dev"]), empty),
            MemoryRule::WarnOnly(_)
        ));
        assert!(matches!(choose_memory_rule(Flavour::Vault, &dev, says(None)), MemoryRule::Swap(_)));
        assert_eq!(choose_memory_rule(Flavour::Vault, &args(&["status"]), empty), MemoryRule::NotAServer);
    }

    #[test]
    fn auto_reads_the_vault_helm_config_as_disabling_mlock() {
        let dir = std::env::temp_dir().join(format!("hardinit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("extraconfig-from-values.hcl"),
            include_str!("../../tests/fixtures/helm/vault-helm-ha-raft.hcl"),
        )
        .unwrap();
        std::fs::write(dir.join("ignored.txt"), "disable_mlock = false").unwrap();
        let server = args(&["server", &format!("-config={}", dir.display())]);
        let disabled = server_config::mlock_disabled(&server_config::config_paths(&server), &[]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(disabled, server_config::MlockSetting { disabled: Some(true), files: 1 });
        assert!(matches!(choose_memory_rule(Flavour::Vault, &server, disabled), MemoryRule::Swap(_)));
    }

    #[test]
    fn core_pattern_modes() {
        assert_eq!(core_mode(Some("|/usr/lib/systemd/systemd-coredump %P")), CoreMode::Pipe);
        assert_eq!(core_mode(Some("@/run/core.sock")), CoreMode::Socket);
        assert_eq!(core_mode(Some("core")), CoreMode::File);
        assert_eq!(core_mode(None), CoreMode::Unknown);
    }

    #[test]
    fn flavour_looks_through_links() {
        assert_eq!(flavour_of(Path::new("/nonexistent/bao")), Flavour::OpenBao);
        assert_eq!(flavour_of(Path::new("/nonexistent/vault")), Flavour::Vault);
        let dir = std::env::temp_dir().join(format!("hardinit-flavour-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bao"), "").unwrap();
        let _ = std::fs::remove_file(dir.join("vault"));
        std::os::unix::fs::symlink("bao", dir.join("vault")).unwrap();
        let flavour = flavour_of(&dir.join("vault"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(flavour, Flavour::OpenBao);
    }
}
