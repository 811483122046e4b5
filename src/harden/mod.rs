//! The production-hardening checklist, enforced before the server starts and reported by
//! `hardinit check`. Each step is named after the guarantee it gives, reads its effect back from
//! the kernel, and returns a [`Finding`] that the start-up log and the check report both print.
//!
//! Order (kernel-facts.md): core dumps → bounding set → KEEPCAPS → groups, gid, uid → capset →
//! ambient → no_new_privs → read everything back → the memory guard, proven with the credentials
//! the server will have.

pub mod accounts;
pub mod checklist;
mod core_dumps;
pub mod hcl;
mod history;
pub mod memory;
pub mod permissions;
pub mod server_config;
pub mod server_flags;
mod user;

use crate::error::{ExitCode, Fatal};
use crate::sys::privilege as sys;
use core_dumps::disable_core_dumps;
use history::disable_shell_history;
use memory::prove_memory_stays_in_ram;
use std::ffi::OsString;
use std::path::Path;
use user::{Capability, drop_to_user};
pub use user::{WHY_CAP, WHY_USER, target_identity};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// Not evaluated: `check --config` runs offline, without the container the check is about.
    Skip,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
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
    pub fn new(
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

/// One refusal naming every finding that refuses the start, each with its fix, and for the WARNs
/// that --strict refuses, how to accept them as they are: a start refused one finding at a time
/// sends the user round the loop once per finding.
pub fn refusal_of(refused: &[&Finding]) -> Fatal {
    let strict: Vec<&str> = refused.iter().filter(|f| f.status == Status::Warn).map(|f| f.id).collect();
    let accept = if strict.is_empty() {
        String::new()
    } else {
        let ids = strict.join(",");
        let them = if strict.len() == 1 { "it" } else { "them" };
        format!(
            "; under --strict a WARN refuses: to accept {them} as {} (--allow {ids}, or HARDINIT_ALLOW={ids}; one comma-separated value)",
            if strict.len() == 1 { "it is" } else { "they are" }
        )
    };
    match refused {
        [] => Fatal::new(ExitCode::Internal, "a refusal without a finding".to_string()),
        [one] => Fatal::new(ExitCode::Refused, format!("{}: {}; fix: {}{accept}", one.id, one.summary, one.fix)),
        all => {
            // Findings that share their cause and fix (those not evaluated for want of the
            // configuration) are named together.
            let mut each: Vec<(Vec<&str>, &str, &str)> = Vec::new();
            for f in all {
                match each.iter_mut().find(|(_, summary, fix)| *summary == f.summary && *fix == f.fix) {
                    Some((ids, _, _)) => ids.push(f.id),
                    None => each.push((vec![f.id], &f.summary, &f.fix)),
                }
            }
            let each: Vec<String> =
                each.iter().map(|(ids, summary, fix)| format!("{}: {summary}; fix: {fix}", ids.join(", "))).collect();
            let ids: Vec<&str> = all.iter().map(|f| f.id).collect();
            Fatal::new(
                ExitCode::Refused,
                format!("{} findings refuse the start ({}): {}{accept}", all.len(), ids.join(", "), each.join(" | ")),
            )
        }
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
    /// `--strict`: a WARN refuses too.
    pub strict: bool,
    /// `--allow ID`: findings accepted whatever their status.
    pub allow: Vec<String>,
}

impl Settings {
    /// Whether `finding` stops a start (and fails `check`): a FAIL, or under --strict a WARN,
    /// unless --allow names it.
    pub fn refuses(&self, finding: &Finding) -> bool {
        let allowed = self.allow.iter().any(|id| id == finding.id);
        !allowed && (finding.status == Status::Fail || (self.strict && finding.status == Status::Warn))
    }
}

/// Apply changes the process; Check only looks. Preflight looks too, before the entrypoint's
/// chown: as Check (the configuration read as the server's user, in a forked reader), except that
/// the files the configuration names are judged as the planned change will leave them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Check,
    Preflight,
}

/// What the server needs from hardening: the environment variables to set for it.
pub struct Hardened {
    pub findings: Vec<Finding>,
    pub environment: Vec<(String, String)>,
    /// The server's configuration as read for the checks (None: not a `server` command), for
    /// what else needs it (--reload-on-change auto) without a second read.
    /// In Preflight and a root Check, read as the server's user.
    pub configuration: Option<Result<Vec<server_config::ConfigFile>, server_config::ConfigError>>,
    /// The container's checklist for a one-off command (`version`, `operator init`, `status`):
    /// evaluated, never enforced, shown only with -v.
    pub unreported: Vec<Finding>,
}

/// Whether the command is one the container lives for (`server`, `agent`, `proxy`), which the
/// container's checklist is about; `version`, `status` or `operator init` end at once.
pub fn is_long_running(command: &server_flags::ServerCommand, args: &[OsString]) -> bool {
    command.is_server || args.first().is_some_and(|a| a == "agent" || a == "proxy")
}

/// What a start knows beyond its command line.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The entrypoint's changes to the volumes, to be carried out once the start is decided: the
    /// preflight judges the files as they will be.
    pub plan: permissions::Plan,
    /// When the script hardinit ran as /bin/sh began (the charts' `sh -ec` that ends in
    /// `exec docker-entrypoint.sh`), in the file system's clock.
    pub script_began: Option<(i64, i64)>,
}

/// Runs the whole checklist. In `Apply` mode a failing finding stops at once with its refusal
/// (exit 78); in `Check` mode every finding is collected.
pub fn run(
    settings: &Settings,
    server: &Path,
    server_args: &[OsString],
    mode: Mode,
    context: &Context,
) -> Result<Hardened, Fatal> {
    let mut findings = Vec::new();
    // In Apply mode: the findings that refuse the start, named together once every check ran.
    // Those about the server's user and its privileges stop the start at once: what follows
    // them is judged with credentials the start cannot go on with.
    let mut refused = Vec::new();
    let mut record = |finding: Finding| -> Result<(), Fatal> {
        if mode == Mode::Apply && settings.refuses(&finding) {
            let stops_here = ["core-dumps", "user", "capabilities"].contains(&finding.id);
            refused.push(finding);
            if stops_here {
                return Err(refusal_of(&refused.iter().collect::<Vec<_>>()));
            }
            return Ok(());
        }
        if mode == Mode::Apply && finding.status != Status::Pass && settings.allow.iter().any(|id| id == finding.id) {
            crate::info!("{}: accepted by --allow {}: {}", finding.id, finding.id, finding.summary);
        }
        findings.push(finding);
        Ok(())
    };
    let started_as_root = sys::effective_uid() == 0;
    record(disable_core_dumps(mode)?)?;
    let mut environment = Vec::new();
    let mut read_as = None;
    let mut server_identity = None;
    let capability = match target_identity(settings) {
        Ok(identity) => {
            server_identity = Some(identity.clone());
            // `check` and the decision before the entrypoint's changes, as root, read the
            // configuration as the server will, not as root: a link planted in a directory the
            // server can write must not make root read, and quote, a file the server cannot.
            if matches!(mode, Mode::Check | Mode::Preflight) && sys::effective_uid() == 0 && identity.uid != 0 {
                read_as = Some(identity.clone());
            }
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
        Err(refusal) if mode != Mode::Apply => {
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
    // Read once, as the server will (or as the server's user, for a root `check`): the memory
    // rule and the production checklist both judge it.
    let rules = server_rules(server);
    let environment_of_server = |name: &str| std::env::var(name).ok();
    let command = server_flags::ServerCommand::parse(rules, server_args, &environment_of_server);
    let configuration = command.is_server.then(|| match &command.refused {
        // Which files a command line names is unknown when the command line is not understood.
        Some(why) => Err(server_config::ConfigError { message: why.clone() }),
        None => memory::read_configuration(&command.configs, read_as.as_ref()),
    });
    record(prove_memory_stays_in_ram(
        settings.memory_guard,
        &capability,
        server,
        &command,
        configuration.as_ref(),
        mode,
    )?)?;
    let (history, history_off) = disable_shell_history(settings.keep_env);
    environment.extend(history_off.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    record(history)?;
    record(umask_finding(settings.umask))?;
    // The production checklist: what the configuration and the container give the server.
    if command.is_server {
        match &configuration {
            Some(Ok(files)) => {
                for finding in checklist::configuration(files, &command, rules, &environment_of_server) {
                    record(finding)?;
                }
                if let Some(identity) = &server_identity {
                    let audit = match memory::flavour_of(server) {
                        memory::Flavour::Vault => Path::new("/vault/audit"),
                        memory::Flavour::OpenBao => Path::new("/openbao/audit"),
                    };
                    let planned = |path: &Path| context.plan.lookup(path, &crate::entrypoint::volumes::walk_reaches);
                    let opened = open_as_server(&server_config::listener_tls_files(files), mode, read_as.as_ref());
                    let view = checklist::FileView {
                        opened: &opened,
                        lookup: if mode == Mode::Preflight { &planned } else { &permissions::Node::of },
                        script_began: context.script_began.filter(|_| mode != Mode::Check),
                        script_sources: &[Path::new("/vault/config"), Path::new("/openbao/config")],
                        started_as_root,
                    };
                    let named = checklist::named_files(
                        files,
                        &command.configs,
                        identity,
                        audit,
                        &view,
                        rules,
                        &environment_of_server,
                    );
                    for finding in named {
                        record(finding)?;
                    }
                }
            }
            // Nothing that reads the configuration passes without it (whatever --memory-guard).
            Some(Err(e)) => {
                for finding in checklist::unread(e) {
                    record(finding)?;
                }
            }
            None => {}
        }
        record(checklist::root_token(&command, &environment_of_server))?;
    }
    let mut unreported = Vec::new();
    let runtime = memory::Runtime::detect();
    for mut finding in checklist::process() {
        runtime.localise(&mut finding);
        if mode == Mode::Check || is_long_running(&command, server_args) {
            record(finding)?;
        } else {
            unreported.push(finding);
        }
    }
    if !refused.is_empty() {
        return Err(refusal_of(&refused.iter().collect::<Vec<_>>()));
    }
    Ok(Hardened { findings, environment, configuration, unreported })
}

/// Whether the configuration could not be read because the reader (the server's user) was
/// denied access (EACCES), as opposed to a configuration that is wrong.
pub fn unreadable_by_server(
    configuration: Option<&Result<Vec<server_config::ConfigFile>, server_config::ConfigError>>,
) -> bool {
    let denied = std::io::Error::from_raw_os_error(libc::EACCES).to_string();
    matches!(configuration, Some(Err(e)) if e.message.contains(&denied))
}

/// Opens each of `paths` for reading as the server's user, where the kernel can be asked: at
/// start (hardinit is that user by now), and for a root `check` in a child that becomes it
/// (`read_as`). Before the entrypoint's changes (the preflight, as root) nothing is opened.
fn open_as_server(
    paths: &[std::path::PathBuf],
    mode: Mode,
    read_as: Option<&accounts::Identity>,
) -> Vec<(std::path::PathBuf, Result<(), String>)> {
    let open_all = |paths: &[std::path::PathBuf]| -> Vec<Result<(), String>> {
        paths.iter().map(|p| crate::sys::regular_file::open(p).map(drop).map_err(|e| e.to_string())).collect()
    };
    let results = match (mode, read_as) {
        (Mode::Apply, _) | (Mode::Check, None) => open_all(paths),
        (Mode::Check, Some(id)) => {
            let report = crate::sys::process::run_as_user(id.uid, id.gid, &id.groups, || {
                // One line per path: empty when it opened, else why not.
                let lines = open_all(paths).into_iter().map(|r| r.err().unwrap_or_default().replace('\n', " ") + "\n");
                lines.collect::<String>().into_bytes()
            });
            match report {
                Ok(bytes) => String::from_utf8_lossy(&bytes)
                    .lines()
                    .map(|l| if l.is_empty() { Ok(()) } else { Err(l.to_string()) })
                    .collect(),
                Err(e) => vec![Err(format!("cannot open it as uid {}: {e}", id.uid)); paths.len()],
            }
        }
        (Mode::Preflight, _) => return Vec::new(),
    };
    paths.iter().cloned().zip(results).collect()
}

/// The flags and variables of the server `server` is: OpenBao's or Vault's.
fn server_rules(server: &Path) -> &'static server_flags::ServerRules {
    match memory::flavour_of(server) {
        memory::Flavour::Vault => &server_flags::VAULT,
        memory::Flavour::OpenBao => &server_flags::OPENBAO,
    }
}

/// `check --config PATH...`: the configuration's checks, offline; those about the running
/// container are SKIP.
pub fn offline(settings: &Settings, paths: &[std::path::PathBuf]) -> Vec<Finding> {
    let skip = |id: &'static str, why: &'static str| {
        Finding::new(
            id,
            Status::Skip,
            "offline: needs the running container",
            why,
            "run `hardinit check` in the container",
        )
    };
    let mut findings = vec![
        skip("core-dumps", "core dumps write keys to disk"),
        skip("user", "the server's user must be known and unprivileged"),
        skip("capabilities", "the server keeps nothing but IPC_LOCK"),
    ];
    match memory::read_configuration(paths, None).and_then(|files| {
        let setting = server_config::mlock_setting(&files, None)?;
        Ok((files, setting))
    }) {
        Ok((files, setting)) => {
            let rule = if setting.disabled { "swap (mlock disabled)" } else { "mlock (Vault), swap (OpenBao)" };
            findings.push(Finding::new(
                "memory",
                Status::Skip,
                format!("offline: the configuration calls for the {rule} rule, proven only in the container"),
                memory::WHY_MEMORY,
                "run `hardinit check` in the container",
            ));
            // Offline there is no server command: its environment is this one, read by OpenBao's
            // rules, which read BAO_ and VAULT_ names both.
            let environment = |name: &str| std::env::var(name).ok();
            let command = server_flags::ServerCommand::default();
            findings.extend(checklist::configuration(&files, &command, &server_flags::OPENBAO, &environment));
            for id in ["config-files", "tls-files", "storage", "audit", "plugin-directory"] {
                findings.push(skip(id, "the files are checked where the server will find them"));
            }
        }
        Err(e) => {
            findings.push(Finding::new(
                "memory",
                Status::Fail,
                format!("cannot read the configuration as the server would: {e}"),
                memory::WHY_MEMORY,
                "correct the file (the server reads it the same way)",
            ));
            findings.extend(checklist::unread(&e));
        }
    }
    // Dev mode and a token in the environment are the server command's: there is none offline.
    findings.push(skip("root-token", checklist::WHY_ROOT_TOKEN));
    findings.push(skip("history", "a history file keeps every command typed"));
    findings.push(umask_finding(settings.umask));
    for finding in checklist::process() {
        findings.push(skip(finding.id, finding.why));
    }
    findings
}

/// The umask is the server's own business, but two choices give something up silently.
fn umask_finding(umask: u32) -> Finding {
    const WHY: &str = "files the server creates (raft, snapshots, audit logs) are not readable by other users";
    let given = |summary: String| Finding::new("umask", Status::Warn, summary, WHY, "--umask 077 (the default) or 027");
    if umask & 0o600 != 0 {
        given(format!(
            "the server's umask is {umask:03o}: it masks the owner's read or write, so the server cannot use the files it creates"
        ))
    } else if umask & 0o002 == 0 {
        given(format!("the server's umask is {umask:03o}: files it creates are writable by every user"))
    } else if umask & 0o004 == 0 {
        given(format!("the server's umask is {umask:03o}: files it creates are readable by every user"))
    } else {
        Finding::new("umask", Status::Pass, format!("the server's umask is {umask:03o}"), WHY, "--umask to change it")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_refusal_names_every_refusing_finding_and_how_to_accept_the_strict_ones() {
        let found = |id, status, summary: &str| Finding::new(id, status, summary, "why", format!("fix {id}"));
        let lsm = found("lsm", Status::Warn, "no LSM");
        let files = found("open-files", Status::Warn, "too few files");
        let memory = found("memory", Status::Fail, "may swap");
        let refusal = refusal_of(&[&lsm, &memory, &files]);
        assert_eq!(refusal.code, ExitCode::Refused);
        for part in [
            "3 findings refuse the start (lsm, memory, open-files)",
            "lsm: no LSM; fix: fix lsm",
            "memory: may swap; fix: fix memory",
            "HARDINIT_ALLOW=lsm,open-files",
        ] {
            assert!(refusal.message.contains(part), "{part}: {}", refusal.message);
        }
        assert!(!refusal.message.contains("\n"), "one line");
        // A FAIL alone reads as before, without an acceptance it does not need.
        assert_eq!(refusal_of(&[&memory]).message, "memory: may swap; fix: fix memory");
        // Findings sharing cause and fix are named together.
        let (tls, storage) =
            (found("tls", Status::Fail, "not evaluated"), found("storage", Status::Fail, "not evaluated"));
        let (tls, storage) = (Finding { fix: "same".into(), ..tls }, Finding { fix: "same".into(), ..storage });
        assert!(refusal_of(&[&tls, &storage]).message.ends_with("tls, storage: not evaluated; fix: same"));
    }

    #[test]
    fn a_umask_that_gives_something_up_warns() {
        for (umask, status) in [
            (0o077, Status::Pass),
            (0o027, Status::Pass),
            (0o007, Status::Pass),
            (0o000, Status::Warn),
            (0o777, Status::Warn),
            (0o022, Status::Warn),
            (0o002, Status::Warn),
            (0o200, Status::Warn),
        ] {
            assert_eq!(umask_finding(umask).status, status, "{umask:03o}");
        }
        assert!(umask_finding(0o000).summary.contains("writable by every user"));
        assert!(umask_finding(0o777).summary.contains("cannot use the files"));
    }
}
