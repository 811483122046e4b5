//! The memory guard: proof that the server's memory cannot reach disk, by mlock (IPC_LOCK held and
//! working) or by swap being off for the container.

use super::accounts::Identity;
use super::server_config::{self, ConfigError, ConfigFile, MlockSetting};
use super::server_flags::ServerCommand;
use super::user::{Capability, IPC_LOCK_MASK};
use super::{Finding, MemoryGuard, Mode, Status};
use crate::error::Fatal;
use crate::sys::privilege::CAP_IPC_LOCK;
use crate::sys::privilege::{self as sys, Resource};
use crate::sys::process as sys_process;
use std::path::{Path, PathBuf};

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

/// The `auto` decision: pure, given the command line and what the configuration says.
pub fn choose_memory_rule(flavour: Flavour, command: &ServerCommand, config: &MlockSetting) -> MemoryRule {
    if !command.is_server {
        return MemoryRule::NotAServer;
    }
    if command.dev {
        // A dev server keeps its data in memory, unseals itself and prints its root token:
        // nothing in it is worth protecting, and Vault's -dev disables mlock itself.
        return MemoryRule::WarnOnly(
            "a dev-mode server (-dev or a -dev-* mode flag) keeps nothing worth protecting".into(),
        );
    }
    let source = config.source.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
    match flavour {
        Flavour::OpenBao => MemoryRule::Swap("OpenBao has no mlock since 2.0".into()),
        Flavour::Vault if config.disabled => MemoryRule::Swap(format!("mlock is disabled{source}")),
        Flavour::Vault => MemoryRule::Mlock(match &config.source {
            Some(s) => format!("the server will call mlockall: {s} leaves mlock on"),
            None => "the server will call mlockall".into(),
        }),
    }
}

/// Reads the configuration the command line names, as the server's user when `read_as` is
/// given (a root `hardinit check`), with hardinit's own credentials otherwise.
pub(super) fn read_configuration(
    paths: &[PathBuf],
    read_as: Option<&Identity>,
) -> Result<Vec<ConfigFile>, ConfigError> {
    let raw = match read_as {
        Some(id) => {
            let report = sys_process::run_as_user(id.uid, id.gid, &id.groups, || {
                server_config::encode(&server_config::gather(paths))
            })
            .map_err(|e| ConfigError { message: format!("{NOT_READ_AS_SERVER} (uid {}): {e}", id.uid) })?;
            server_config::decode(&report)?
        }
        None => server_config::gather(paths)?,
    };
    server_config::parse_all(raw)
}

/// The start of a [`ConfigError`] that says nothing about the configuration: `check` as root could
/// not become the server's user to read it (a container without CAP_SETUID or CAP_SETGID).
const NOT_READ_AS_SERVER: &str = "could not become the server's user to read the configuration";

/// The fix of a finding that could not be evaluated because of `error`, when the configuration is
/// not what is wrong: the `user` finding says what is.
pub(super) fn fix_when_unread(error: &ConfigError) -> Option<&'static str> {
    error.message.starts_with(NOT_READ_AS_SERVER).then_some(
        "nothing says the configuration is wrong: hardinit could not become the server's user to read it (see the user FAIL: give the container CAP_SETUID and CAP_SETGID, Docker's defaults, or start it as the server's user)",
    )
}

/// The variable a configuration error really comes from, when it is in the local.json the
/// entrypoint writes from *_LOCAL_CONFIG.
fn written_from_variable(error: &str) -> Option<&'static str> {
    let set = |name: &&str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let candidates: &[&'static str] = if error.starts_with("/vault/config/local.json:") {
        &["VAULT_LOCAL_CONFIG"]
    } else if error.starts_with("/openbao/config/local.json:") {
        // OpenBao's entrypoint falls back to the VAULT_ name.
        &["BAO_LOCAL_CONFIG", "VAULT_LOCAL_CONFIG"]
    } else {
        &[]
    };
    candidates.iter().copied().find(set)
}

pub const WHY_MEMORY: &str = "swapped-out pages put the server's keys and secrets on disk";
const FIX_MLOCK: &str = "docker run --cap-add IPC_LOCK, or Kubernetes securityContext.capabilities.add: [\"IPC_LOCK\"]; or set disable_mlock = true and keep swap off for the container";
const FIX_MLOCK_USER_NAMESPACE: &str = "raise the limit from outside (docker run --ulimit memlock=-1, podman run --ulimit memlock=-1), or set disable_mlock = true and keep swap off for the container";
const FIX_SWAP: &str = "limit the container's swap to 0 (docker run --memory-swap equal to --memory; Kubernetes NoSwap, the default), or swapoff on the host";

/// The runtime that started the container, as far as it shows itself inside: each has its own
/// working fix, and a fix for another runtime sends the user nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// KUBERNETES_SERVICE_HOST, which the kubelet sets in every container.
    Kubernetes,
    /// /run/.containerenv, which podman mounts; rootless when its user namespace is not the host's.
    Podman { rootless: bool },
    /// /.dockerenv, which dockerd creates.
    Docker,
    /// None of these (runc, containerd alone, another runtime): every fix is named.
    Unknown,
}

impl Runtime {
    pub fn detect() -> Runtime {
        if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some_and(|v| !v.is_empty()) {
            Runtime::Kubernetes
        } else if Path::new("/run/.containerenv").exists() {
            let said = std::fs::read_to_string("/run/.containerenv").unwrap_or_default();
            Runtime::Podman { rootless: said.lines().any(|l| l == "rootless=1") || in_user_namespace() }
        } else if Path::new("/.dockerenv").exists() {
            Runtime::Docker
        } else {
            Runtime::Unknown
        }
    }

    /// How to keep the container's swap at 0 here.
    pub fn swap_fix(self) -> String {
        match self {
            Runtime::Kubernetes => "Kubernetes NoSwap (the default swapBehavior), or swapoff on the node".into(),
            Runtime::Docker => {
                "docker run --memory-swap equal to --memory (Compose: memswap_limit equal to mem_limit), or swapoff on the host".into()
            }
            Runtime::Podman { rootless: true } if cgroup_v1() => {
                "rootless podman cannot limit a container's memory on cgroup v1 (it ignores --memory and --memory-swap): swapoff on the host, or run the container with rootful podman (sudo podman run --memory-swap equal to --memory)".into()
            }
            Runtime::Podman { .. } => "podman run --memory-swap equal to --memory, or swapoff on the host".into(),
            Runtime::Unknown => FIX_SWAP.into(),
        }
    }

    /// How to give the server IPC_LOCK (or do without it) here, for a start as root.
    fn mlock_fix(self) -> String {
        let without = format!("or set disable_mlock = true and keep swap off ({})", self.swap_fix());
        match self {
            Runtime::Kubernetes => format!("securityContext.capabilities.add: [\"IPC_LOCK\"]; {without}"),
            Runtime::Docker => format!("docker run --cap-add IPC_LOCK; {without}"),
            Runtime::Podman { rootless: false } => format!("podman run --cap-add IPC_LOCK; {without}"),
            Runtime::Podman { rootless: true } => self.mlock_fix_in_user_namespace(),
            Runtime::Unknown => FIX_MLOCK.into(),
        }
    }

    /// In a user namespace IPC_LOCK counts for nothing against the host's RLIMIT_MEMLOCK.
    fn mlock_fix_in_user_namespace(self) -> String {
        match self {
            // The user's own hard limit bounds --ulimit memlock: podman cannot raise it (runc:
            // "error setting rlimit type 8: operation not permitted").
            Runtime::Podman { rootless: true } => format!(
                "set disable_mlock = true and keep swap off ({}); podman run --ulimit memlock=-1 works only once the host raised this user's hard memlock limit",
                self.swap_fix()
            ),
            Runtime::Docker => format!(
                "raise the limit from outside (docker run --ulimit memlock=-1), or set disable_mlock = true and keep swap off ({})",
                self.swap_fix()
            ),
            _ => FIX_MLOCK_USER_NAMESPACE.into(),
        }
    }
}

impl Runtime {
    /// The container checklist's fix of `finding` in this runtime's words, where they differ from
    /// Docker's (which the checklist names): podman takes the same flags, but a rootless podman
    /// cannot give more open files than its user's own hard limit.
    pub fn localise(self, finding: &mut Finding) {
        let Runtime::Podman { rootless } = self else { return };
        if finding.status == Status::Pass {
            return;
        }
        finding.fix = match finding.id {
            "root-filesystem" => "podman run --read-only --tmpfs /tmp".into(),
            "open-files" if rootless => "podman run --ulimit nofile=65536:65536, within your own hard limit (ulimit -Hn): rootless podman cannot raise it; raise it on the host first (limits.conf nofile, then a new login)".into(),
            "open-files" => "podman run --ulimit nofile=65536:65536".into(),
            "lsm" => "podman's default SELinux or AppArmor confinement (no --security-opt label=disable, apparmor=unconfined), on a host that has the LSM".into(),
            "pid-namespace" => "do not share the PID namespace (podman run without --pid=host or --pod sharing pid)".into(),
            _ => return,
        };
    }
}

/// Whether the memory controller is cgroup v1's (a line naming it in /proc/self/cgroup).
fn cgroup_v1() -> bool {
    std::fs::read_to_string("/proc/self/cgroup")
        .is_ok_and(|t| t.lines().any(|l| l.split(':').nth(1).is_some_and(|c| c.split(',').any(|c| c == "memory"))))
}

/// Proves that the server's memory cannot reach disk: mlock works and IPC_LOCK is held, or swap
/// is off for this container. `configuration`: what [`read_configuration`] gave for a `server`
/// command (None for any other command).
pub(super) fn prove_memory_stays_in_ram(
    guard: MemoryGuard,
    capability: &Capability,
    server: &Path,
    command: &ServerCommand,
    configuration: Option<&Result<Vec<ConfigFile>, ConfigError>>,
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
        // `hardinit check` with no command: there is no configuration to read.
        MemoryGuard::Auto if server.as_os_str().is_empty() => {
            return Ok(Finding::new(
                "memory",
                Status::Warn,
                "no server command given, so its configuration was not read",
                WHY_MEMORY,
                {
                    let flavour = crate::entrypoint::Flavour::detect(|p| Path::new(p).exists());
                    format!(
                        "give the command the container runs: hardinit check -- {} server -config={}/config (docker run --rm IMAGE check judges the image's own)",
                        flavour.binary(),
                        flavour.root()
                    )
                },
            ));
        }
        MemoryGuard::Auto => {
            let flavour = flavour_of(server);
            let setting = if command.is_server && !command.dev {
                let environment = match flavour {
                    Flavour::Vault => std::env::var("VAULT_DISABLE_MLOCK").ok(),
                    Flavour::OpenBao => None,
                };
                let read = match configuration {
                    Some(Ok(files)) => server_config::mlock_setting(files, environment.as_deref()),
                    Some(Err(e)) => Err(e.clone()),
                    None => Ok(MlockSetting::default()),
                };
                match read {
                    Ok(setting) => setting,
                    Err(e) => {
                        let fix = match (fix_when_unread(&e), written_from_variable(&e.message)) {
                            (Some(fix), _) => fix.to_string(),
                            (None, Some(variable)) => format!(
                                "correct {variable}: the entrypoint writes config/local.json from it at every start, so editing the file does not help"
                            ),
                            (None, None) => "correct the file or the variable (the server reads it the same way), or the -config path"
                                .into(),
                        };
                        return Ok(Finding::new(
                            "memory",
                            Status::Fail,
                            format!("cannot read the server's configuration as the server will: {e}"),
                            WHY_MEMORY,
                            fix,
                        ));
                    }
                }
            } else {
                MlockSetting::default()
            };
            choose_memory_rule(flavour, command, &setting)
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
            format!("{why}: its memory is not guarded"),
            WHY_MEMORY,
            "for production, run `server -config=...` without -dev",
        ),
        MemoryRule::Mlock(why) => mlock_finding(&why, capability, server, mode),
        MemoryRule::Swap(why) => match file_capabilities_refusal(server, false) {
            Some(refusal) => Finding::new(
                "memory",
                Status::Fail,
                format!("swap rule ({why}): {refusal}"),
                WHY_MEMORY,
                FIX_FILE_CAPABILITIES,
            ),
            None => swap_finding(&why),
        },
    })
}

fn mlock_finding(why: &str, capability: &Capability, server: &Path, mode: Mode) -> Finding {
    let fail = |summary: String, fix: &str| {
        Finding::new("memory", Status::Fail, format!("mlock rule ({why}): {summary}"), WHY_MEMORY, fix)
    };
    let runtime = Runtime::detect();
    if !capability.ipc_lock {
        // A non-root start with IPC_LOCK in the bounding set (`--user 100:1000 --cap-add
        // IPC_LOCK`): the runtime gave it, but only a root start or a file capability on hardinit
        // can pass it on, and the image carries none.
        if sys::effective_uid() != 0 && sys::in_bounding_set(CAP_IPC_LOCK).unwrap_or(false) {
            return fail(
                format!(
                    "started as uid {}, the server cannot get CAP_IPC_LOCK: the runtime puts an added capability in the bounding set only, and a non-root process raises it only through a file capability, and this hardinit holds none (it carries none, or the kernel did not grant it)",
                    sys::effective_uid()
                ),
                &format!(
                    "start the container as root (no --user, no runAsUser): hardinit drops to the server's user itself and keeps IPC_LOCK for it; or set disable_mlock = true and keep swap off ({})",
                    runtime.swap_fix()
                ),
            );
        }
        return fail("the server would not hold CAP_IPC_LOCK".into(), &runtime.mlock_fix());
    }
    let setid = std::fs::metadata(server)
        .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o6000 != 0)
        .unwrap_or(false);
    if let Some(refusal) = file_capabilities_refusal(server, true) {
        return fail(refusal, FIX_FILE_CAPABILITIES);
    }
    if setid {
        return fail(
            format!("{} has a setuid/setgid bit, which clears the ambient set at exec", server.display()),
            "remove it (chmod u-s,g-s): hardinit passes IPC_LOCK as an ambient capability",
        );
    }
    let limit = match sys::rlimit(Resource::MemoryLock) {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot read RLIMIT_MEMLOCK: {e}"), &runtime.mlock_fix()),
    };
    if limit.soft == sys::UNLIMITED {
        let summary = format!(
            "mlock rule ({why}): RLIMIT_MEMLOCK is unlimited, so mlock works; the capability itself is not proven"
        );
        return Finding::new("memory", Status::Pass, summary, WHY_MEMORY, "nothing to do");
    }
    if mode != Mode::Apply && sys::capabilities().is_ok_and(|c| c.effective & IPC_LOCK_MASK == 0) {
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
        Err(e) if in_user_namespace() => fail(
            format!(
                "locking beyond RLIMIT_MEMLOCK fails ({e}): in a user namespace (rootless Docker or Podman, userns-remap) IPC_LOCK never lifts the limit"
            ),
            &runtime.mlock_fix_in_user_namespace(),
        ),
        Err(e) => fail(
            format!("locking beyond RLIMIT_MEMLOCK fails ({e}): IPC_LOCK is not effective here"),
            &runtime.mlock_fix(),
        ),
    }
}

/// Vault 2.0.1 bakes `cap_ipc_lock=ep` into its binary (vault #31977), as images once did with
/// setcap at start (2.0.0's entrypoint still calls it, vault #31919); 2.0.2 dropped it.
const FIX_FILE_CAPABILITIES: &str = "Vault 2.0.2 or later (no file capability; it recommends disable_mlock = true with swap off, and since 1.20 integrated storage needs disable_mlock set either way), or remove the capability from the image's binary (setcap -r) and let hardinit pass IPC_LOCK (docker run --cap-add IPC_LOCK, started as root)";

/// Why a server binary with file capabilities cannot be started by hardinit: the kernel clears the
/// ambient set at its exec, and an `e` (effective) capability the bounding set lacks makes the
/// exec itself fail. None when it has none (or the file system keeps no capabilities);
/// `unknown_refuses`: whether a file whose attributes cannot be read is refused (the mlock rule,
/// which rests on the ambient set) or let through (the swap rule, which does not).
fn file_capabilities_refusal(server: &Path, unknown_refuses: bool) -> Option<String> {
    let has = match sys::has_file_capabilities(server) {
        Ok(has) => has,
        Err(e) if unknown_refuses => {
            return Some(format!("whether {} carries file capabilities is unknown ({e})", server.display()));
        }
        Err(_) => false,
    };
    has.then(|| {
        format!(
            "{} carries file capabilities (Vault 2.0.1's cap_ipc_lock=ep, or a setcap in the image): they clear the ambient set hardinit raises for it, and where IPC_LOCK is not in the container's bounding set the kernel refuses to execute it at all",
            server.display()
        )
    })
}

/// A user namespace other than the host's: its capabilities do not count against the host's
/// RLIMIT_MEMLOCK checks. The initial namespace maps all 2^32 - 1 ids from 0.
fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .is_ok_and(|map| map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// Active swap devices on the host (/proc/swaps is not namespaced). A file that cannot be read
/// (a runtime that masks it, or makes it unreadable for the server's user) says nothing about
/// swap: unknown, never "none".
fn active_swaps() -> Result<usize, String> {
    let text = std::fs::read_to_string("/proc/swaps").map_err(|e| format!("cannot read /proc/swaps: {e}"))?;
    let mut lines = text.lines();
    match lines.next() {
        Some(header) if header.starts_with("Filename") => Ok(lines.filter(|l| !l.trim().is_empty()).count()),
        _ => Err("/proc/swaps has no header line (masked or replaced)".into()),
    }
}

/// The swap the container's cgroup allows, in bytes; an error says why it is unlimited or unknown.
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
    let host = match active_swaps() {
        Ok(0) => {
            return Finding::new(
                "memory",
                Status::Pass,
                format!("swap rule ({why}): the host has no active swap"),
                WHY_MEMORY,
                "nothing to do",
            );
        }
        Ok(swaps) => format!("the host has {swaps} active swap area(s)"),
        Err(e) => format!("whether the host swaps is unknown ({e})"),
    };
    match cgroup_swap_limit() {
        Ok(0) => Finding::new(
            "memory",
            Status::Pass,
            format!("swap rule ({why}): {host}, but this container's cgroup allows 0 bytes of swap"),
            WHY_MEMORY,
            "nothing to do",
        ),
        Ok(n) => Finding::new(
            "memory",
            Status::Fail,
            format!("swap rule ({why}): {host} and this container may use {n} bytes of swap"),
            WHY_MEMORY,
            Runtime::detect().swap_fix(),
        ),
        Err(e) => Finding::new(
            "memory",
            Status::Fail,
            format!("swap rule ({why}): {host} and the container's swap limit is not 0 ({e})"),
            WHY_MEMORY,
            Runtime::detect().swap_fix(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(a: &[&str]) -> ServerCommand {
        ServerCommand::parse(
            &super::super::server_flags::OPENBAO,
            &a.iter().map(std::ffi::OsString::from).collect::<Vec<_>>(),
            &|_| None,
        )
    }

    #[test]
    fn auto_picks_mlock_for_vault_unless_the_config_disables_it() {
        let says = |disabled, source: Option<&str>| MlockSetting { disabled, source: source.map(String::from) };
        let server = command(&["server", "-config=/vault/config"]);
        assert!(matches!(choose_memory_rule(Flavour::Vault, &server, &says(false, None)), MemoryRule::Mlock(_)));
        assert!(matches!(
            choose_memory_rule(Flavour::Vault, &server, &says(false, Some("a.hcl:1"))),
            MemoryRule::Mlock(_)
        ));
        assert!(
            matches!(choose_memory_rule(Flavour::Vault, &server, &says(true, Some("a.hcl:3"))), MemoryRule::Swap(why) if why.contains("a.hcl:3"))
        );
        assert!(matches!(choose_memory_rule(Flavour::OpenBao, &server, &says(false, None)), MemoryRule::Swap(_)));
        assert_eq!(
            choose_memory_rule(Flavour::Vault, &command(&["status"]), &says(false, None)),
            MemoryRule::NotAServer
        );
    }

    #[test]
    fn every_dev_mode_only_warns_for_both_flavours() {
        let none = MlockSetting::default();
        for flavour in [Flavour::Vault, Flavour::OpenBao] {
            for dev in
                [&["server", "-dev"][..], &["server", "-config=/vault/config", "-dev-tls"], &["server", "-dev-ha"]]
            {
                assert!(
                    matches!(choose_memory_rule(flavour, &command(dev), &none), MemoryRule::WarnOnly(_)),
                    "{dev:?}"
                );
            }
            assert!(!matches!(
                choose_memory_rule(flavour, &command(&["server", "-dev=false", "-config=/c"]), &none),
                MemoryRule::WarnOnly(_)
            ));
        }
    }

    #[test]
    fn auto_reads_the_vault_helm_config_as_disabling_mlock() {
        let dir = std::env::temp_dir().join(format!("hardinit-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("extraconfig-from-values.hcl"),
            include_str!("../../tests/fixtures/charts/vault-helm/ha-raft/config.hcl"),
        )
        .unwrap();
        std::fs::write(dir.join("ignored.txt"), "disable_mlock = false").unwrap();
        let server = command(&["server", &format!("-config={}", dir.display())]);
        let files = read_configuration(&server.configs, None).unwrap();
        let setting = server_config::mlock_setting(&files, None).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(files.len(), 1, "only the .hcl file is loaded");
        assert!(setting.disabled, "{setting:?}");
        assert!(matches!(choose_memory_rule(Flavour::Vault, &server, &setting), MemoryRule::Swap(_)));
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
