//! The official images' `docker-entrypoint.sh` contract, done natively: no shell, no setcap, no
//! su-exec. Run as `docker-entrypoint.sh` (argv[0]) or with `--entrypoint vault|openbao|auto`,
//! hardinit applies it, then its normal pipeline (hardening, supervision) runs the result.
//!
//! In the script's order: *_INTERFACE → *_ADDR, *_LOCAL_CONFIG → config/local.json, argument
//! rewriting, then (only when the server binary runs, as root, without SKIP_CHOWN) the ownership
//! of the config, logs and file directories.

pub mod volumes;

use crate::error::{ExitCode, Fatal};
use crate::harden::accounts::Identity;
use crate::harden::permissions::{Give, Plan};
use crate::{info, warn};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Vault,
    OpenBao,
}

/// Top-level commands of both servers (`vault --help`, `bao --help` of OpenBao 2.7): the ones the
/// script's `vault --help "$1" | grep` recognises. A name not listed (a command added in a later
/// release) is run unchanged, as any other program: `docker run IMAGE vault NEWCOMMAND` works
/// whatever the list says.
#[rustfmt::skip]
const COMMON_COMMANDS: [&str; 30] = [
    "agent", "audit", "auth", "debug", "delete", "kv", "lease", "list", "login", "monitor", "namespace",
    "operator", "patch", "path-help", "pki", "plugin", "policy", "print", "proxy", "read", "secrets",
    "server", "ssh", "status", "token", "transit", "unwrap", "version-history", "write", "version",
];
const VAULT_ONLY_COMMANDS: [&str; 4] = ["events", "hcp", "license", "transform"];
const BAO_ONLY_COMMANDS: [&str; 1] = ["scan"];

impl Flavour {
    /// What the image holds: /openbao or /vault, else which server binary is there.
    pub fn detect(exists: impl Fn(&str) -> bool) -> Flavour {
        if exists("/openbao") {
            Flavour::OpenBao
        } else if exists("/vault") {
            Flavour::Vault
        } else if exists("/usr/bin/bao") || exists("/bin/bao") {
            Flavour::OpenBao
        } else {
            Flavour::Vault
        }
    }

    pub fn binary(self) -> &'static str {
        match self {
            Flavour::Vault => "vault",
            Flavour::OpenBao => "bao",
        }
    }

    pub fn root(self) -> &'static str {
        match self {
            Flavour::Vault => "/vault",
            Flavour::OpenBao => "/openbao",
        }
    }

    pub fn user(self) -> &'static str {
        match self {
            Flavour::Vault => "vault",
            Flavour::OpenBao => "openbao",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Flavour::Vault => "VAULT_",
            Flavour::OpenBao => "BAO_",
        }
    }

    /// `VAULT_<name>`, or for OpenBao `BAO_<name>` falling back to `VAULT_<name>` as OpenBao does.
    /// Empty counts as unset, as the script's `[ -n ... ]` does.
    pub fn var(self, env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
        self.named_var(env, name).map(|(_, value)| value)
    }

    /// As [`Flavour::var`], with the name of the variable the value came from (for messages).
    pub fn named_var(self, env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<(String, String)> {
        let candidates = match self {
            Flavour::OpenBao => [Some(format!("BAO_{name}")), Some(format!("VAULT_{name}"))],
            Flavour::Vault => [Some(format!("VAULT_{name}")), None],
        };
        candidates.into_iter().flatten().find_map(|full| env(&full).filter(|v| !v.is_empty()).map(|v| (full, v)))
    }

    fn is_subcommand(self, name: &str) -> bool {
        let own: &[&str] = match self {
            Flavour::Vault => &VAULT_ONLY_COMMANDS,
            Flavour::OpenBao => &BAO_ONLY_COMMANDS,
        };
        COMMON_COMMANDS.contains(&name) || own.contains(&name)
    }
}

/// The script's argument rewriting. Returns the command, and whether it runs the server binary
/// (only then are directories chowned).
pub fn rewrite(flavour: Flavour, args: &[OsString], env: &dyn Fn(&str) -> Option<String>) -> (Vec<OsString>, bool) {
    let bin = OsString::from(flavour.binary());
    let first = args.first().and_then(|a| a.to_str()).unwrap_or("");
    let mut command: Vec<OsString> = if first.starts_with('-') || args.is_empty() {
        std::iter::once(bin.clone()).chain(args.iter().cloned()).collect()
    } else if first == "server" {
        let token = env(&format!("{}DEV_ROOT_TOKEN_ID", flavour.prefix())).unwrap_or_default();
        let listen = env(&format!("{}DEV_LISTEN_ADDRESS", flavour.prefix())).filter(|v| !v.is_empty());
        let injected = [
            format!("-config={}/config", flavour.root()),
            format!("-dev-root-token-id={token}"),
            format!("-dev-listen-address={}", listen.as_deref().unwrap_or("0.0.0.0:8200")),
        ];
        let mut c = vec![bin.clone(), "server".into()];
        c.extend(injected.map(OsString::from));
        c.extend(args[1..].iter().cloned());
        c
    } else if flavour.is_subcommand(first) {
        std::iter::once(bin.clone()).chain(args.iter().cloned()).collect()
    } else {
        args.to_vec()
    };
    if command.is_empty() {
        command.push(bin.clone());
    }
    let runs_server = command[0] == bin;
    (command, runs_server)
}

/// `http://0.0.0.0:8200` with the host replaced by `ip`, the scheme and `:port` kept. None for a
/// template without a scheme, a host and a port: the script's `gensub` would leave it unchanged,
/// and the interface's address silently unused.
pub fn substitute_host(template: &str, ip: &str) -> Option<String> {
    let scheme_end = template.find("://").filter(|i| *i > 0)? + 3;
    let colon = template[scheme_end..].rfind(':').filter(|c| *c > 0)?;
    let port = &template[scheme_end + colon + 1..];
    port.starts_with(|c: char| c.is_ascii_digit())
        .then(|| format!("{}{ip}{}", &template[..scheme_end], &template[scheme_end + colon..]))
}

/// What the contract adds to the server's environment.
pub type Exports = Vec<(String, String)>;

/// *_REDIRECT_INTERFACE / *_CLUSTER_INTERFACE → *_REDIRECT_ADDR / *_CLUSTER_ADDR.
fn interface_addresses(flavour: Flavour, env: &dyn Fn(&str) -> Option<String>) -> Result<Exports, Fatal> {
    let mut exports = Vec::new();
    for (kind, default) in [("REDIRECT", "http://0.0.0.0:8200"), ("CLUSTER", "https://0.0.0.0:8201")] {
        let Some((interface_variable, interface)) = flavour.named_var(env, &format!("{kind}_INTERFACE")) else {
            continue;
        };
        let variable = format!("{}{kind}_ADDR", flavour.prefix());
        let (template_variable, template) = flavour
            .named_var(env, &format!("{kind}_ADDR"))
            .unwrap_or_else(|| (format!("the default {kind}_ADDR"), default.to_string()));
        if substitute_host(&template, "0.0.0.0").is_none() {
            return Err(Fatal::new(
                ExitCode::Refused,
                format!(
                    "{template_variable}={template:?} is not a URL with a host and a port, so the address of {interface_variable}={interface:?} cannot be put in it; fix: {template_variable}=https://0.0.0.0:8200 (the host is replaced), or unset {interface_variable}"
                ),
            ));
        }
        let refuse = |why: String| {
            Fatal::new(
                ExitCode::Refused,
                format!(
                    "{interface_variable}={interface:?}: {why}; fix: name an interface that has an IPv4 address (see `ip -4 addr`), or set {variable} yourself"
                ),
            )
        };
        let ip = match crate::sys::net::first_ipv4(&interface) {
            Ok(Some(ip)) => ip,
            Ok(None) => return Err(refuse("the interface has no IPv4 address".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(refuse("no such interface".into())),
            Err(e) => return Err(refuse(format!("cannot list interfaces: {e}"))),
        };
        let address = substitute_host(&template, &ip.to_string()).unwrap_or(template);
        info!("using {interface} for {variable}: {address}");
        exports.push((variable, address));
    }
    Ok(exports)
}

/// *_LOCAL_CONFIG → <root>/config/local.json: written to a new file beside it (never through a
/// symlink), mode 0640, owned by the server's user, synced, then renamed over the old one.
fn write_local_config(flavour: Flavour, text: &str, owner: Option<&Identity>) -> Result<(), Fatal> {
    let dir = PathBuf::from(flavour.root()).join("config");
    let target = dir.join("local.json");
    let refuse = |why: String| {
        Fatal::new(
            ExitCode::Refused,
            format!(
                "cannot write {}{}: {why}; fix: make {} a writable directory (a volume), or pass the configuration as a file",
                target.display(),
                "",
                dir.display()
            ),
        )
    };
    // The directory is opened once, without following a symlink anywhere on its path; every
    // name below is looked up relative to it.
    let directory = match crate::sys::fs::Dir::open_nofollow(&dir) {
        Ok(d) => d,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENOTDIR)) => {
            return Err(refuse(format!("{} is not a directory (symlinks are not followed)", dir.display())));
        }
        Err(e) => return Err(refuse(e.to_string())),
    };
    // An unpredictable name, so that nothing planted can be in the way; leftovers of a start
    // killed between create and rename are ours to clear (unlink never follows a link).
    const PREFIX: &str = ".local.json.hardinit-";
    for name in directory.names().unwrap_or_default() {
        if name.to_bytes().starts_with(PREFIX.as_bytes()) {
            let _ = directory.remove_child(&name);
        }
    }
    let temporary = std::ffi::CString::new(format!("{PREFIX}{:016x}", crate::sys::process::random_u64()))
        .map_err(|e| refuse(e.to_string()))?;
    let result = (|| -> std::io::Result<()> {
        let mut file = directory.create_child(&temporary, 0o640)?;
        // The script writes it with echo: the text and a newline.
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.set_permissions(std::fs::Permissions::from_mode(0o640))?;
        // Root's, readable by the server's group: the server reads its configuration, it does
        // not get to change it (the script hands it to the server's user).
        if let Some(owner) = owner {
            std::os::unix::fs::fchown(&file, Some(0), Some(owner.gid))?;
        }
        file.sync_all()?;
        directory.rename_child(&temporary, c"local.json")
    })();
    if let Err(e) = result {
        let _ = directory.remove_child(&temporary);
        return Err(refuse(e.to_string()));
    }
    Ok(())
}

/// The environment as the contract reads it.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// What the contract asks for, decided before anything is changed on a volume.
pub struct Prepared {
    pub command: Vec<OsString>,
    /// Variables exported to the server.
    pub exports: Exports,
    /// What the server's directories are to be given, once the start is decided.
    pub plan: Plan,
}

/// Applies the contract up to the chown, which is only planned: a start the hardening then
/// refuses must not have changed the owner of a volume. `owner`: the server's user when hardinit
/// runs as root (None otherwise).
pub fn prepare(flavour: Flavour, args: &[OsString], owner: Option<&Identity>) -> Result<Prepared, Fatal> {
    let env: &dyn Fn(&str) -> Option<String> = &process_env;
    let exports = interface_addresses(flavour, env)?;
    if let Some(text) = flavour.var(env, "LOCAL_CONFIG") {
        write_local_config(flavour, &text, owner)?;
    }
    let (command, runs_server) = rewrite(flavour, args, env);
    // As the script's `[ -z "$SKIP_CHOWN" ]`: any non-empty value skips, "false" included.
    let skip_chown = env("SKIP_CHOWN").is_some_and(|v| !v.is_empty());
    let mut plan = Plan::default();
    if let (true, false, Some(owner)) = (runs_server, skip_chown, owner) {
        // Unlike the script, the configuration is not given to the server: a server that can
        // rewrite its configuration keeps a compromise across restarts (the config-files check).
        // What the server cannot read becomes root's with the server's group, group-readable;
        // what it could change, root's and unwritable; the rest (a root-owned bind mount, a
        // ConfigMap) is left as it is.
        let config = Path::new(flavour.root()).join("config");
        if std::fs::symlink_metadata(&config).is_ok_and(|m| m.is_dir()) {
            plan.0.push((config, Give::ReadOnlyTo(owner.clone())));
        }
        for name in ["logs", "file"] {
            let dir = Path::new(flavour.root()).join(name);
            // As the script: only a directory whose owner is not the server's user is walked.
            if volumes::owner_of(&dir).is_some_and(|uid| uid != owner.uid) {
                plan.0.push((dir, Give::Owner { uid: owner.uid, gid: owner.gid }));
            }
        }
    }
    Ok(Prepared { command, exports, plan })
}

/// The changes the contract planned; `stop` ends them early (a stop signal arrived).
pub fn give_volumes(plan: &Plan, stop: &dyn Fn() -> bool) {
    for (dir, give) in &plan.0 {
        if stop() {
            return;
        }
        let report = volumes::give_tree(dir, give, stop);
        for line in &report.listed {
            warn!("chown: {line}");
        }
        let entries = if report.changed == 1 { "entry" } else { "entries" };
        let given = match give {
            Give::Owner { uid, gid } => format!("{}: {} {entries} given to {uid}:{gid}", dir.display(), report.changed),
            Give::ReadOnlyTo(server) => format!(
                "{}: {} {entries} made readable, not writable, by the server (owner 0:{}, group read, no group or other write)",
                dir.display(),
                report.changed,
                server.gid
            ),
        };
        match report.unchanged_summary() {
            None if report.changed == 0 && matches!(give, Give::ReadOnlyTo(_)) => {}
            None => info!("{given}"),
            Some(unchanged) => warn!("{given}; {unchanged}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    fn os(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn server_gets_the_injected_flags_before_the_users() {
        let env = env_of(&[]);
        let (c, runs) = rewrite(Flavour::Vault, &os(&["server", "-dev"]), &env);
        assert_eq!(
            c,
            os(&[
                "vault",
                "server",
                "-config=/vault/config",
                "-dev-root-token-id=",
                "-dev-listen-address=0.0.0.0:8200",
                "-dev"
            ])
        );
        assert!(runs);
        let env = env_of(&[("BAO_DEV_ROOT_TOKEN_ID", "root"), ("BAO_DEV_LISTEN_ADDRESS", "[::]:8200")]);
        let (c, _) = rewrite(Flavour::OpenBao, &os(&["server", "-dev", "-dev-no-store-token"]), &env);
        assert_eq!(
            c,
            os(&[
                "bao",
                "server",
                "-config=/openbao/config",
                "-dev-root-token-id=root",
                "-dev-listen-address=[::]:8200",
                "-dev",
                "-dev-no-store-token"
            ])
        );
    }

    #[test]
    fn flags_versions_subcommands_and_other_programs() {
        let env = env_of(&[]);
        assert_eq!(rewrite(Flavour::Vault, &os(&["-version"]), &env), (os(&["vault", "-version"]), true));
        assert_eq!(rewrite(Flavour::Vault, &os(&["version"]), &env), (os(&["vault", "version"]), true));
        assert_eq!(
            rewrite(Flavour::Vault, &os(&["status", "-format=json"]), &env),
            (os(&["vault", "status", "-format=json"]), true)
        );
        assert_eq!(rewrite(Flavour::OpenBao, &os(&["scan", "secret/"]), &env), (os(&["bao", "scan", "secret/"]), true));
        assert_eq!(rewrite(Flavour::Vault, &os(&["scan"]), &env), (os(&["scan"]), false), "scan is OpenBao's only");
        assert_eq!(rewrite(Flavour::Vault, &os(&["id", "-u"]), &env), (os(&["id", "-u"]), false));
        assert_eq!(rewrite(Flavour::Vault, &os(&["vault", "status"]), &env), (os(&["vault", "status"]), true));
        assert_eq!(rewrite(Flavour::OpenBao, &[], &env), (os(&["bao"]), true));
    }

    #[test]
    fn openbao_falls_back_to_vault_variables_and_empty_is_unset() {
        let env = env_of(&[
            ("VAULT_LOCAL_CONFIG", "{}"),
            ("BAO_REDIRECT_INTERFACE", ""),
            ("VAULT_REDIRECT_INTERFACE", "eth0"),
        ]);
        assert_eq!(Flavour::OpenBao.var(&env, "LOCAL_CONFIG").as_deref(), Some("{}"));
        assert_eq!(Flavour::OpenBao.var(&env, "REDIRECT_INTERFACE").as_deref(), Some("eth0"));
        assert_eq!(Flavour::Vault.var(&env_of(&[("BAO_LOCAL_CONFIG", "{}")]), "LOCAL_CONFIG"), None);
        let vault_named = env_of(&[("VAULT_REDIRECT_INTERFACE", "eth0")]);
        assert_eq!(
            Flavour::OpenBao.named_var(&vault_named, "REDIRECT_INTERFACE"),
            Some(("VAULT_REDIRECT_INTERFACE".into(), "eth0".into())),
            "messages name the variable that was set"
        );
    }

    #[test]
    fn interface_templates_keep_scheme_and_port() {
        assert_eq!(substitute_host("http://0.0.0.0:8200", "10.1.2.3").unwrap(), "http://10.1.2.3:8200");
        assert_eq!(substitute_host("https://vault.example.com:443", "10.1.2.3").unwrap(), "https://10.1.2.3:443");
        assert_eq!(substitute_host("https://vault.example.com", "10.1.2.3"), None);
        assert_eq!(substitute_host("10.0.0.1:8200", "10.1.2.3"), None);
        assert_eq!(substitute_host("not a url", "10.1.2.3"), None);
        assert_eq!(substitute_host("://x:1", "10.1.2.3"), None);
    }

    #[test]
    fn flavour_from_the_image() {
        assert_eq!(Flavour::detect(|p| p == "/openbao" || p == "/usr/bin/bao"), Flavour::OpenBao);
        assert_eq!(Flavour::detect(|p| p == "/vault" || p == "/bin/bao"), Flavour::Vault);
        assert_eq!(Flavour::detect(|p| p == "/usr/bin/bao"), Flavour::OpenBao);
        assert_eq!(Flavour::detect(|_| false), Flavour::Vault);
    }
}
