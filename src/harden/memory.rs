//! The memory guard: proof that the server's memory cannot reach disk, by mlock (IPC_LOCK held and
//! working) or by swap being off for the container.

use super::user::{Capability, IPC_LOCK_MASK};
use super::{Finding, MemoryGuard, Mode, Status, server_config};
use crate::error::{ExitCode, Fatal};
use crate::sys::privilege::{self as sys, Resource};
use std::ffi::OsString;
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
pub(super) fn prove_memory_stays_in_ram(
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
        // `hardinit check` with no command: there is no configuration to read.
        MemoryGuard::Auto if server.as_os_str().is_empty() => {
            return Ok(Finding::new(
                "memory",
                Status::Warn,
                "no server command given, so its configuration was not read",
                WHY_MEMORY,
                "hardinit check -- vault server -config=/vault/config (the command the container runs)",
            ));
        }
        MemoryGuard::Auto => {
            let env = |name: &'static str| (name, std::env::var(name).ok());
            let paths = server_config::config_paths(server_args);
            let disabled =
                server_config::mlock_disabled(&paths, &[env("VAULT_DISABLE_MLOCK"), env("BAO_DISABLE_MLOCK")])
                    .map_err(|e| {
                        Fatal::new(
                            ExitCode::Refused,
                            format!(
                                "cannot read the server's configuration: {e}; fix: repair the file or the -config path"
                            ),
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
