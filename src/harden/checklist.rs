//! The production-hardening checks that read the server's configuration and the container it
//! runs in: TLS on every listener, certificate verification kept on, no clear-text seal
//! credential, no root token handed to the server, no raw storage endpoint, no unauthenticated
//! metrics; a read-only root filesystem, a seccomp filter, enough file descriptors, a PID
//! namespace of its own. They warn (a deployment may have reasons: TLS terminated by a mesh, say);
//! `--strict` turns every warning into a refusal. Findings name the file and line they saw.

use super::accounts::Identity;
use super::hcl::{Item, Literal, Value};
use super::permissions::{self, Node};
use super::server_config::{ConfigFile, LISTENER_TLS_KEYS, Stanza, blocks, key_is, setting};
use super::server_flags::{Environment, ServerCommand, ServerRules};
use super::{Finding, Status};
use std::path::Path;

/// A setting's truth as the server decodes flags like tls_disable (true, "true", 1, "1"); a value
/// the server would refuse counts as not set.
fn truthy(literal: &Literal) -> bool {
    literal.weak_bool().unwrap_or(false)
}

fn at(block_path: &Path, line: usize) -> String {
    format!("{}:{line}", block_path.display())
}

/// Whether a listener address only accepts connections from this host.
fn is_loopback(address: &str) -> bool {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => address,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn finding(id: &'static str, problems: Vec<String>, why: &'static str, fix: &str, pass: &str) -> Finding {
    if problems.is_empty() {
        Finding::new(id, Status::Pass, pass, why, "nothing to do")
    } else {
        Finding::new(id, Status::Warn, problems.join("; "), why, fix)
    }
}

/// The line of the listener's last `name` when it is not a plain value (a list, a block): the
/// server's decoder takes the last, and refuses it where it wants a boolean or a string.
fn not_a_value(listener: &super::server_config::Block, name: &str) -> Option<usize> {
    let last = listener.body.iter().rev().find(|i| key_is(i, name))?;
    (!matches!(last.value, Value::Literal(_))).then_some(last.line)
}

/// `tls`: every TCP listener serves TLS 1.2 or later, the dev-mode listener included.
fn tls(files: &[ConfigFile], command: &ServerCommand) -> Finding {
    let mut problems = Vec::new();
    let reach = |address: &str| if is_loopback(address) { "loopback only" } else { "reachable from the network" };
    // -dev-three-node's test-cluster nodes serve TLS in the dev listener's place.
    if command.dev && !command.dev_tls && !command.dev_three_node {
        for address in &command.dev_listen_addresses {
            problems.push(format!("dev mode serves {address} ({}) without TLS", reach(address)));
        }
    }
    for listener in blocks(files, Stanza::Listener).into_iter().filter(|b| b.kind.as_deref() == Some("tcp")) {
        let address = listener.setting("address").and_then(|(l, _)| l.as_text().map(str::to_string));
        let address = address.unwrap_or_else(|| "127.0.0.1:8200".into());
        let disabled = listener.setting("tls_disable").map(|(l, line)| (l.weak_bool(), line));
        if let Some(line) = not_a_value(&listener, "tls_disable") {
            problems.push(format!(
                "{}: tls_disable is a list or a block, not a boolean (the server refuses it)",
                at(listener.path, line)
            ));
        } else if let Some((Err(e), line)) = &disabled {
            problems.push(format!("{}: tls_disable: {e} (the server refuses it)", at(listener.path, *line)));
        } else if let Some((Ok(true), line)) = disabled {
            problems.push(format!(
                "{}: the listener on {address} ({}) has TLS disabled",
                at(listener.path, line),
                reach(&address)
            ));
        } else if let Some((version, line)) = listener.setting("tls_min_version") {
            if version.as_text().is_some_and(|v| matches!(v, "tls10" | "tls11")) {
                problems.push(format!(
                    "{}: tls_min_version {} allows TLS below 1.2",
                    at(listener.path, line),
                    version.as_text().unwrap_or("")
                ));
            }
        }
    }
    finding(
        "tls",
        problems,
        "without TLS, tokens and secrets cross the network in clear text (production hardening: end-to-end TLS)",
        "serve TLS on every listener (tls_cert_file, tls_key_file, tls_min_version = \"tls12\" or later); disable TLS only behind a TLS-terminating proxy or mesh on loopback",
        "every TCP listener serves TLS 1.2 or later",
    )
}

/// The type the server configures a seal stanza as: SEAL_TYPE in its environment, when set,
/// wins over the label of a seal that is not disabled (server.go's setSeal).
fn seal_kind(block: &super::server_config::Block, rules: &ServerRules, env: Environment) -> String {
    let overridden = rules.variable(env, "SEAL_TYPE").map(|(_, t)| t).filter(|t| !t.is_empty());
    let disabled = block.setting("disabled").is_some_and(|(l, _)| truthy(l));
    match overridden {
        Some(kind) if !disabled => kind,
        _ => block.kind_or_unknown().to_string(),
    }
}

/// The seal the server adds when the files configure none that is in use (no seal stanza, or
/// one that is disabled: server.go's setSeal adds a Shamir seal), when SEAL_TYPE in its
/// environment gives it another type: the variable's name and the type. Such a seal is
/// configured from the environment alone.
fn implicit_seal(files: &[ConfigFile], rules: &ServerRules, env: Environment) -> Option<(String, String)> {
    let seals = blocks(files, Stanza::Seal);
    let disabled = |b: &super::server_config::Block| b.setting("disabled").is_some_and(|(l, _)| truthy(l));
    let added = match seals.as_slice() {
        [] => true,
        [only] => disabled(only),
        _ => false,
    };
    rules.variable(env, "SEAL_TYPE").filter(|(_, kind)| added && !kind.is_empty())
}

/// `tls-verify`: no stanza turns off certificate verification of the servers it talks to.
fn tls_verify(files: &[ConfigFile], rules: &ServerRules, env: Environment) -> Finding {
    const SKIPS: [&str; 3] = ["tls_skip_verify", "tls_insecure_skip_verify", "skip_verify"];
    let mut problems: Vec<String> = Vec::new();
    // Each flavour's reading of the variables (Vault's and, with BAO_X set, OpenBao's: see
    // ServerRules::readings), the worse of them kept.
    for rules in rules.readings(env, &["SKIP_VERIFY", "SEAL_TYPE"]) {
        let skip_variable =
            rules.variable(env, "SKIP_VERIFY").filter(|(_, v)| super::hcl::parse_go_bool(v) == Some(true));
        let Some((name, value)) = &skip_variable else { continue };
        let mut found = Vec::new();
        if let Some((variable, _)) = implicit_seal(files, rules, env).filter(|(_, kind)| kind == "transit") {
            found.push(format!(
                "{name}={value} in the server's environment: the transit seal {variable} configures (no seal stanza) keeps it"
            ));
        }
        // The transit seal's client starts from the environment (api.DefaultConfig reads
        // SKIP_VERIFY), and the stanza's TLS settings only add to it: api's configureTLS sets
        // InsecureSkipVerify, never clears it, so a CA or a server name of its own verifies
        // nothing either.
        for block in blocks(files, Stanza::Seal) {
            if seal_kind(&block, rules, env) == "transit" {
                found.push(format!(
                    "{name}={value} in the server's environment: the {} \"transit\" stanza at {} keeps it",
                    block.name,
                    at(block.path, block.line)
                ));
            }
        }
        for problem in found {
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
    }
    for stanza in [Stanza::Storage, Stanza::HaStorage, Stanza::Seal, Stanza::ServiceRegistration] {
        for block in blocks(files, stanza) {
            let mut found: Vec<(&str, usize)> = Vec::new();
            for name in SKIPS {
                if let Some((_, line)) = block.setting(name).filter(|(l, _)| truthy(l)) {
                    found.push((name, line));
                }
            }
            // raft's retry_join: the storage's map holds it under its exact key, raft decodes
            // each entry as JSON into a struct (keys ignoring case).
            let joins = block.body.iter().filter(|i| i.keys.len() == 1 && i.keys[0] == "retry_join");
            for item in joins {
                let entries: Vec<Vec<&Item>> = match &item.value {
                    Value::Object(items) => vec![items.iter().collect()],
                    Value::List(values) => values
                        .iter()
                        .filter_map(|v| match v {
                            Value::Object(items) => Some(items.iter().collect()),
                            _ => None,
                        })
                        .collect(),
                    Value::Literal(_) => Vec::new(),
                };
                for body in &entries {
                    if let Some((_, line)) = setting(body, "leader_tls_skip_verify").filter(|(l, _)| truthy(l)) {
                        found.push(("leader_tls_skip_verify", line));
                    }
                }
            }
            for (name, line) in found {
                problems.push(format!(
                    "{}: {name} in {} \"{}\"",
                    at(block.path, line),
                    block.name,
                    block.kind_or_unknown()
                ));
            }
        }
    }
    finding(
        "tls-verify",
        problems,
        "without verification, anyone on the path can pose as the storage, the seal or the raft leader",
        "remove the skip-verify setting (or variable) and give the CA instead (tls_ca_file, tls_ca_cert, leader_ca_cert_file)",
        "certificate verification is on for storage, seal and raft joins",
    )
}

/// The settings of each seal that hold a secret when written out, by seal type (the wrappers'
/// getOpts in go-kms-wrapping: openbao/go-kms-wrapping a8ac4b0, wrappers/*/options.go). A
/// type not listed is judged by every name of the list.
const SEAL_SECRETS: &[(&str, &[&str])] = &[
    ("transit", &["token", "tls_client_key_bytes"]),
    ("awskms", &["access_key", "secret_key", "session_token"]),
    ("azurekeyvault", &["client_secret", "cert_password", "cert_bytes"]),
    ("gcpckms", &["credentials_json"]),
    // pkcs11's `token` is the token's label, not a secret.
    ("pkcs11", &["pin"]),
    ("alicloudkms", &["access_key", "secret_key", "access_secret"]),
    ("static", &["current_key", "previous_key"]),
    ("kmip", &["client_key_bytes"]),
    ("tencentcloudkms", &["access_key", "secret_key", "session_token"]),
    ("huaweicloudkms", &["access_key", "secret_key"]),
    ("ocikms", &[]),
];

/// Every secret name of [`SEAL_SECRETS`], for a seal type it does not list.
fn any_seal_secret(name: &str) -> bool {
    SEAL_SECRETS.iter().any(|(_, names)| names.contains(&name)) || matches!(name, "password" | "client_key")
}

/// A value the wrappers resolve rather than use (parseutil.ParsePath through
/// wrapping.ParsePaths: `env://NAME` is the variable's value, `file://PATH` the file's): the
/// file holds a reference, not the secret. Where a wrapper does not resolve it, the server uses
/// the reference itself, which is no secret either.
fn is_reference(value: &str) -> bool {
    value.starts_with("env://") || value.starts_with("file://")
}

/// `seal-credentials`: no secret written in a seal stanza (`seal`, `kms` and `hsm` are all
/// seals), for the seal type the server will configure (SEAL_TYPE in its environment wins over
/// the label of a seal that is not disabled).
fn seal_credentials(files: &[ConfigFile], rules: &ServerRules, env: Environment) -> Finding {
    let mut problems: Vec<String> = Vec::new();
    // The seal type by each flavour's reading of SEAL_TYPE (see ServerRules::readings).
    let readings = rules.readings(env, &["SEAL_TYPE"]);
    let kinds = |block: &super::server_config::Block| {
        let mut kinds: Vec<String> = Vec::new();
        for rules in &readings {
            let kind = seal_kind(block, rules, env);
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds
    };
    for block in blocks(files, Stanza::Seal) {
        for kind in kinds(&block) {
            let listed = SEAL_SECRETS.iter().find(|(k, _)| *k == kind).map(|(_, names)| *names);
            for item in &block.body {
                let [name] = item.keys.as_slice() else { continue };
                // The wrappers read their keys exactly, but `PIN = "1234"` is a secret in the file
                // all the same: names are compared ignoring case.
                let lower = name.to_ascii_lowercase();
                let secret = match listed {
                    Some(names) => names.contains(&lower.as_str()),
                    None => any_seal_secret(&lower),
                };
                // The last of several items of one key is the one the server reads.
                if !secret || block.setting(name).map(|(_, line)| line) != Some(item.line) {
                    continue;
                }
                let Value::Literal(value) = &item.value else { continue };
                if value.as_text().is_some_and(|v| !v.is_empty() && !is_reference(v)) {
                    problems.push(format!(
                        "{}: {name} written in the {} \"{kind}\" stanza",
                        at(block.path, item.line),
                        block.name
                    ));
                }
            }
        }
    }
    finding(
        "seal-credentials",
        problems,
        "a credential in a config file is readable by everyone who can read the file, the ConfigMap or its backups",
        "pass it in the seal's environment variable (e.g. VAULT_TRANSIT_SEAL_TOKEN, VAULT_HSM_PIN, AWS_SECRET_ACCESS_KEY), or write \"env://NAME\" or \"file:///path\" in its place (the seal reads the variable or the file), or use the platform's identity",
        "no credential is written in a seal stanza",
    )
}

/// `raw-storage` and `metrics`: endpoints that bypass the server's own protections.
fn endpoints(files: &[ConfigFile], command: &ServerCommand) -> Vec<Finding> {
    let mut raw = Vec::new();
    // Recovery mode serves sys/raw (to a recovery token) and dev mode turns it on, whatever the
    // files say.
    if command.recovery {
        raw.push("recovery mode (-recovery) serves sys/raw".to_string());
    } else if command.dev {
        raw.push("dev mode serves sys/raw".to_string());
    }
    for file in files {
        for item in file.items.iter().filter(|i| i.keys.len() == 1 && key_is(i, "raw_storage_endpoint")) {
            if matches!(&item.value, Value::Literal(l) if truthy(l)) {
                raw.push(format!("{}: raw_storage_endpoint is on", at(&file.path, item.line)));
            }
        }
    }
    let mut metrics = Vec::new();
    if command.dev && command.dev_three_node {
        // enableThreeNodeDevCluster opens metrics and pprof on the test cluster's handlers: the
        // second and third nodes answer without a token (bao 2.7.2), the first asks for one.
        metrics.push(match three_node_ports(command) {
            Some((host, port)) => format!(
                "dev mode (-dev-three-node) serves its metrics and profiles on {host}:{} and {host}:{} without a token",
                port + 1,
                port + 2
            ),
            None => "dev mode (-dev-three-node) serves its metrics and profiles without a token on two of its nodes (random ports, printed at start)".to_string(),
        });
    } else if command.dev {
        // server.go turns it on for the dev listener.
        metrics.push(format!(
            "dev mode serves its metrics on {} without a token",
            command.dev_listen_addresses.join(" and ")
        ));
    }
    // A listener's blocks that open an endpoint to requests without a token (the listener's
    // ListenerTelemetry, ListenerProfiling and ListenerInFlightRequestLogging): bao 2.7.2 serves
    // sys/pprof and sys/in-flight-req that way even sealed.
    const OPENED: [(&str, &str); 3] = [
        ("telemetry", "unauthenticated_metrics_access"),
        ("profiling", "unauthenticated_pprof_access"),
        ("inflight_requests_logging", "unauthenticated_in_flight_requests_access"),
    ];
    for listener in blocks(files, Stanza::Listener) {
        for (block, name) in OPENED {
            // Each block decodes over the previous ones of its name: the last setting counts. A
            // labelled block (`telemetry "x" { }`) decodes into the struct as a nested object
            // the struct has no field for: ignored by the server.
            let mut body: Vec<&Item> = Vec::new();
            for item in listener.body.iter().filter(|i| i.keys.len() == 1 && key_is(i, block)) {
                if let Value::Object(items) = &item.value {
                    body.extend(items.iter());
                }
            }
            // disallow_metrics refuses sys/metrics on the listener, token or not.
            if block == "telemetry" && setting(&body, "disallow_metrics").is_some_and(|(l, _)| truthy(l)) {
                continue;
            }
            if let Some((_, line)) = setting(&body, name).filter(|(l, _)| truthy(l)) {
                metrics.push(format!("{}: {name} is on", at(listener.path, line)));
            }
        }
    }
    vec![
        finding(
            "raw-storage",
            raw,
            "sys/raw reads and writes storage below the barrier's checks",
            "remove raw_storage_endpoint (turn it on only for a recovery, then off)",
            "the raw storage endpoint is off",
        ),
        finding(
            "metrics",
            metrics,
            "unauthenticated metrics, profiles and in-flight requests tell anyone who can reach the listener about the server's use, its memory and its clients",
            "remove the unauthenticated_*_access setting, and scrape or profile with a token",
            "metrics, profiling and in-flight requests need a token",
        ),
    ]
}

/// The host and port -dev-three-node's nodes count from: its dev listen address, when given
/// (without one the test cluster takes random ports).
fn three_node_ports(command: &ServerCommand) -> Option<(String, u32)> {
    let address = command.dev_listen_addresses.first().filter(|_| command.dev_listen_given)?;
    let (host, port) = address.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// The findings of `ids` when the server refuses the configuration: each a FAIL that says why.
fn refused_findings(error: &super::server_config::ConfigError, ids: &[&str]) -> Vec<Finding> {
    unread(error).into_iter().filter(|f| ids.contains(&f.id)).collect()
}

/// The configuration's findings, in a stable order.
pub fn configuration(
    files: &[ConfigFile],
    command: &ServerCommand,
    rules: &ServerRules,
    env: Environment,
) -> Vec<Finding> {
    if let Some(error) = super::server_config::refused(files, &command.configs, rules) {
        return refused_findings(&error, &["tls", "tls-verify", "seal-credentials", "raw-storage", "metrics"]);
    }
    let mut findings = vec![tls(files, command), tls_verify(files, rules, env), seal_credentials(files, rules, env)];
    findings.extend(endpoints(files, command));
    findings
}

/// The checks that read the configuration, when it cannot be read as the server reads it: each
/// a FAIL, never a PASS about files that were not read.
pub fn unread(error: &super::server_config::ConfigError) -> Vec<Finding> {
    [
        "tls",
        "tls-verify",
        "seal-credentials",
        "raw-storage",
        "metrics",
        "config-files",
        "tls-files",
        "storage",
        "audit",
        "plugin-directory",
    ]
    .into_iter()
    .map(|id| {
        Finding::new(
            id,
            Status::Fail,
            format!("not evaluated: {error}"),
            "the configuration must be read as the server reads it",
            super::memory::fix_when_unread(error)
                .unwrap_or("correct the configuration or the command line (the server reads them the same way)"),
        )
    })
    .collect()
}

/// How the files the configuration names are found: as they are, or as the entrypoint's planned
/// change will leave them (the decision before the chown).
pub struct FileView<'a> {
    /// Looks one path up, never following it (lstat, the ACL, the mount's read-only flag).
    pub lookup: &'a dyn Fn(&Path) -> std::io::Result<Node>,
    /// When the script hardinit ran at this start (the charts' `cp ... /tmp/storageconfig.hcl`)
    /// began: a configuration file written since was regenerated by it, from its own source.
    pub script_began: Option<(i64, i64)>,
    /// Where that source is: the image's configuration directory, where the charts mount their
    /// ConfigMap (/vault/config or /openbao/config). Judged in the regenerated file's place.
    pub script_sources: &'a [&'a Path],
    /// Whether hardinit started as root (and so gives the server its directories, or could).
    pub started_as_root: bool,
    /// The kernel's own answer where it can be asked: each listener TLS file opened by the
    /// server's user (at start, hardinit is that user; a root `check` asks a child that became
    /// it). What the permission model cannot see (an LSM's denial) is said from it.
    pub opened: &'a [(std::path::PathBuf, Result<(), String>)],
}

impl FileView<'_> {
    /// The files as they are now.
    pub fn now() -> FileView<'static> {
        FileView { lookup: &Node::of, script_began: None, script_sources: &[], opened: &[], started_as_root: true }
    }
}

/// `config-files`, `tls-files`, `storage`, `audit`: the files the configuration names, as the
/// server's user will find them. `configs`: the `-config` paths (a directory is loaded whole, so
/// a new file in it counts). `audit`: where the charts mount the audit volume.
pub fn named_files(
    files: &[ConfigFile],
    configs: &[std::path::PathBuf],
    identity: &Identity,
    audit: &Path,
    view: &FileView,
    rules: &ServerRules,
    env: Environment,
) -> Vec<Finding> {
    let resolve = |path: &Path| permissions::resolve(path, view.lookup);
    if let Some(error) = super::server_config::refused(files, configs, rules) {
        return refused_findings(&error, &["config-files", "tls-files", "storage", "audit", "plugin-directory"]);
    }
    let mut config = Vec::new();
    let mut regenerated = Vec::new();
    let named = configs.iter().filter(|p| resolve(p).is_ok_and(|r| r.node.is_dir()));
    for path in named.chain(files.iter().map(|f| &f.path)) {
        let resolved = match resolve(path) {
            Ok(r) => r,
            Err(e) => {
                config.push(format!("cannot be judged: {e}"));
                continue;
            }
        };
        if let Some(how) = resolved.changeable_by(&permissions::anyone()) {
            config.push(format!("{} is changeable by every user: {how}", path.display()));
        } else if let Some(how) = resolved.changeable_by(identity) {
            let written_at = resolved.node.modified;
            if !resolved.node.is_dir() && view.script_began.is_some_and(|began| written_at >= began) {
                regenerated.push(path.display().to_string());
            } else {
                config.push(format!("{} is changeable by the server's user: {how}", path.display()));
            }
        }
    }
    if !regenerated.is_empty() {
        // Listed at their real path (no link in it): root lists nothing through a link.
        let sources = view.script_sources.iter().filter_map(|dir| resolve(dir).ok()).flat_map(|dir| {
            let entries = std::fs::read_dir(&dir.path).into_iter().flatten().flatten().map(|e| e.path());
            std::iter::once(dir.path).chain(entries)
        });
        for path in sources {
            let how = resolve(&path)
                .ok()
                .and_then(|r| r.changeable_by(&permissions::anyone()).or_else(|| r.changeable_by(identity)));
            if let Some(how) = how {
                config.push(format!(
                    "{} (the source {} is regenerated from) is changeable by the server's user or others: {how}",
                    path.display(),
                    regenerated.join(", ")
                ));
            }
        }
    }
    let mut tls = Vec::new();
    // What guarantees the server cannot start (a TLS file it cannot read, a storage path it cannot
    // write): a refusal with its cause, not a warning followed by the server's own exit 1.
    let mut tls_blocking = 0;
    let mut storage_blocking = 0;
    let mut unmapped_owner = false;
    for listener in blocks(files, Stanza::Listener) {
        for name in LISTENER_TLS_KEYS {
            let Some((path, line)) =
                listener.setting(name).and_then(|(l, line)| l.as_text().map(|p| (p.to_string(), line)))
            else {
                continue;
            };
            let place = at(listener.path, line);
            match resolve(Path::new(&path)) {
                // As the server's user (at start) a directory it cannot search is an error here.
                Err(e) => {
                    tls_blocking += 1;
                    tls.push(format!("{place}: {name} {path} is not readable by the server's user: {e}"));
                }
                Ok(resolved) => {
                    let refused =
                        view.opened.iter().find(|(p, _)| p == Path::new(&path)).and_then(|(_, r)| r.clone().err());
                    if let Some(why) = resolved.unreadable_by(identity).or(refused) {
                        tls_blocking += 1;
                        unmapped_owner |= resolved.node.uid == OVERFLOW_ID;
                        tls.push(format!("{place}: {name} {path} is not readable by the server's user: {why}"));
                    }
                    let readers = resolved.node.other_readers(identity);
                    if name == "tls_key_file" && !readers.is_empty() {
                        tls.push(format!(
                            "{place}: the key {path} is readable by {} ({})",
                            readers.join(", "),
                            resolved.node.describe()
                        ));
                    }
                }
            }
        }
    }
    let mut storage = Vec::new();
    // The directories the server will really use (server_config::storage_paths).
    for selected in super::server_config::storage_paths(files, rules, env) {
        let (path, place) = match selected {
            Ok(found) => (found.path.display().to_string(), found.source),
            Err(problem) => {
                storage.push(problem);
                continue;
            }
        };
        let resolved = match resolve(Path::new(&path)) {
            Ok(resolved) => Ok(resolved),
            Err(e) => match to_be_created(Path::new(&path), identity, view) {
                Some(planned) => planned,
                None => Err(e),
            },
        };
        match resolved {
            Err(e) => {
                storage_blocking += 1;
                storage.push(format!("{place}: {e}"));
            }
            Ok(resolved) => {
                let node = &resolved.node;
                let reaches =
                    resolved.steps.iter().all(|step| step.dir_node.permission(identity, permissions::SEARCH).is_some());
                if !reaches || node.permission(identity, permissions::WRITE | permissions::SEARCH).is_none() {
                    storage_blocking += 1;
                    unmapped_owner |= node.uid == OVERFLOW_ID;
                    storage.push(format!("{place}: {path} is not writable by the server's user ({})", node.describe()));
                }
                // A directory on the way that every user can write lets anyone move the data
                // away and put their own in its place.
                let replaceable = (node.mode & 0o077 == 0).then(|| resolved.changeable_by(&permissions::anyone()));
                if let Some(how) = replaceable.flatten() {
                    storage.push(format!("{place}: {path} is not the server's alone: {how}"));
                }
                if node.uid != identity.uid {
                    storage.push(format!("{place}: {path} is not owned by the server's user ({})", node.describe()));
                }
                if node.mode & 0o077 != 0 {
                    storage.push(format!("{place}: {path} is open to others ({}; 0700 or stricter)", node.describe()));
                }
                if node.read_only {
                    storage_blocking += 1;
                    storage.push(format!("{place}: {path} is on a read-only filesystem"));
                }
            }
        }
    }
    let declared = declared_audit_problems(files, view);
    let volume_finding = match resolve(audit).map(|r| r.node) {
        Err(_) => Finding::new(
            "audit",
            Status::Pass,
            format!(
                "no audit volume at {}: audit devices are enabled by the operator (`vault audit enable file file_path=...`) and live in storage",
                audit.display()
            ),
            WHY_AUDIT,
            "nothing to do",
        ),
        Ok(node) => {
            if node.permission(identity, permissions::WRITE | permissions::SEARCH).is_none() {
                Finding::new(
                    "audit",
                    Status::Warn,
                    format!("{} is not writable by the server's user ({})", audit.display(), node.describe()),
                    WHY_AUDIT,
                    "give the audit volume to the server's user (fsGroup, or chown)",
                )
            } else if node.changeable_by(&permissions::anyone()).is_some() {
                Finding::new(
                    "audit",
                    Status::Warn,
                    format!("{} is writable by every user ({})", audit.display(), node.describe()),
                    WHY_AUDIT,
                    "chmod o-w the audit volume",
                )
            } else {
                Finding::new(
                    "audit",
                    Status::Pass,
                    format!(
                        "{} is the server's to write, and no one else's; enabling an audit device is the operator's step",
                        audit.display()
                    ),
                    WHY_AUDIT,
                    "nothing to do",
                )
            }
        }
    };
    let audit_finding = if declared.is_empty() {
        volume_finding
    } else {
        let mut problems = declared;
        if volume_finding.status != Status::Pass {
            problems.push(volume_finding.summary);
        }
        Finding::new(
            "audit",
            Status::Warn,
            problems.join("; "),
            WHY_AUDIT,
            "write the audit log in a directory only the server's user can write (mode 0700, its own), in directories no other user can write",
        )
    };
    let mut config_finding = finding(
        "config-files",
        config,
        WHY_CONFIG,
        "mount the configuration read-only (a ConfigMap), owned by root, mode 0644 or stricter, in directories only root can write; on OpenShift (group 0 for every container) no group write either",
        "the configuration files are not changeable by the server's user or by others",
    );
    if config_finding.status == Status::Pass && !regenerated.is_empty() {
        config_finding.summary = format!(
            "{}; {} is the server's to change, but the script hardinit ran wrote it at this start (from its own source, again at every start): no change outlives a restart",
            config_finding.summary,
            regenerated.join(", ")
        );
    }
    let blocking = |mut found: Finding, count: usize, fix: String| {
        if count > 0 {
            found.status = Status::Fail;
            found.fix = fix;
        }
        found
    };
    let (tls_fix, storage_fix) = unusable_fixes(identity, unmapped_owner, view.started_as_root);
    vec![
        config_finding,
        blocking(
            finding(
                "tls-files",
                tls,
                "a missing certificate stops the server; a key readable by others is a key shared with them",
                "make the files readable by the server's user only (a Secret with defaultMode 0400 and fsGroup)",
                "the TLS files are there, readable by the server, and the keys by no one else",
            ),
            tls_blocking,
            tls_fix,
        ),
        blocking(
            finding(
                "storage",
                storage,
                "the storage holds every secret, encrypted or not, and the keyring",
                "give the storage path to the server's user, mode 0700, on a writable volume",
                "the storage path is the server's alone, and writable",
            ),
            storage_blocking,
            storage_fix,
        ),
        audit_finding,
        plugin_directory(files, identity, view),
    ]
}

/// The owner a user namespace shows for a host id it does not map (rootless podman: a file of
/// root's or another user's on the host).
const OVERFLOW_ID: u32 = 65534;

/// The fixes for a TLS file the server cannot read and a storage path it cannot write, for the
/// way the server's identity came about: an arbitrary uid with group 0 (OpenShift), another
/// non-root start, a rootless podman hiding the owner, or a root start that drops to the image's
/// user.
fn unusable_fixes(identity: &Identity, unmapped_owner: bool, started_as_root: bool) -> (String, String) {
    let (uid, gid) = (identity.uid, identity.gid);
    if unmapped_owner {
        return (
            format!(
                "the file's owner is not mapped into this user namespace (rootless podman shows it as {OVERFLOW_ID}): make it yours on the host, then podman unshare chown 0:{gid} FILE and chmod 0640 it"
            ),
            format!(
                "use a named volume (podman volume), or make the directory yours on the host and podman unshare chown {uid}:{gid} it"
            ),
        );
    }
    if !started_as_root && gid == 0 {
        return (
            "the server runs as an arbitrary uid with group 0 (OpenShift's restricted SCC): make the key readable by group 0 (chgrp 0 and chmod 0640 it; a Secret: defaultMode 0440)".into(),
            "the server runs as an arbitrary uid with group 0 (OpenShift's restricted SCC): make the storage directory writable by group 0 (chgrp 0 and chmod 0770 it, or a volume the platform gives the pod's group)".into(),
        );
    }
    if !started_as_root {
        return (
            format!(
                "started as uid {uid} gid {gid}, hardinit cannot give the files to the server: start as root (no --user: it drops to the image's user itself), or make the files readable by uid {uid} or gid {gid}"
            ),
            format!(
                "started as uid {uid} gid {gid}, hardinit cannot give the directory to the server: start as root (no --user), run as its owner, or make it writable by uid {uid} or gid {gid}"
            ),
        );
    }
    (
        format!(
            "make the files readable by the server's group, and every directory above them searchable by it: chown root:{gid} and chmod 0640 the key on the host"
        ),
        format!(
            "give the storage path to uid {uid} gid {gid}, mode 0700 (a named volume copies the image's), on a writable volume"
        ),
    )
}

/// The file audit devices the configuration declares (OpenBao 2.x enables them at start):
/// each log as the file backend opens it (os.OpenFile: the kernel resolves the path as
/// written), or, not there yet, the directory it will be created in (the kernel's parent, or
/// where MkdirAll of filepath.Dir, which cleans, makes it). Every user able to replace or
/// write it is a problem.
fn declared_audit_problems(files: &[ConfigFile], view: &FileView) -> Vec<String> {
    let resolve = |path: &Path| permissions::resolve(path, view.lookup);
    let mut problems = Vec::new();
    for device in super::server_config::audit_files(files) {
        let path = Path::new(&device.path);
        let place = &device.source;
        let judged: Result<permissions::Resolved, String> = match resolve(path) {
            Ok(resolved) => Ok(resolved),
            Err(_) => {
                let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let cleaned = super::server_config::go_clean(&parent.to_string_lossy());
                resolve(parent).or_else(|_| {
                    cleaned.ancestors().find_map(|up| resolve(up).ok()).ok_or_else(|| "no directory".into())
                })
            }
        };
        match judged {
            Err(e) => problems.push(format!("{place}: the audit log {} cannot be judged: {e}", device.path)),
            Ok(resolved) => {
                if let Some(how) = resolved.changeable_by(&permissions::anyone()) {
                    problems.push(format!("{place}: the audit log {} is not the server's alone: {how}", device.path));
                }
                // The backend's os.Chmod, after every open: the log's permission bits become the
                // option's (a mode of 0 leaves the file's own).
                if let Some((mode, set_at)) = device.mode.as_ref().filter(|(m, _)| m & 0o022 != 0) {
                    problems.push(format!(
                        "{set_at}: the audit device's mode {:04o} lets others than the server write its log {}",
                        mode & 0o777,
                        device.path
                    ));
                }
            }
        }
    }
    problems
}

/// `plugin-directory`: the directory the server runs plugin binaries from (plugin_directory,
/// made absolute and cleaned as the server makes it, then resolved by the kernel) and every
/// directory on the way can be changed by root alone: anyone else able to put a file there
/// (the server's user, every user, the owner or group of a directory on the way) can run code
/// as the server. Also: a `plugin_file_permissions` the server will accept plugin files with
/// (BAO_ENABLE_FILE_PERMISSIONS_CHECK) that lets others write them.
fn plugin_directory(files: &[ConfigFile], identity: &Identity, view: &FileView) -> Finding {
    const WHY: &str = "a plugin directory anyone but root can write runs their code as the server";
    const FIX: &str = "keep plugin_directory owned by root, mode 0755 or stricter, in directories only root can write";
    let (path, place) = match super::server_config::plugin_directory(files) {
        Err(e) => return Finding::new("plugin-directory", Status::Fail, format!("not evaluated: {e}"), WHY, FIX),
        Ok(None) => {
            return Finding::new(
                "plugin-directory",
                Status::Pass,
                "no plugin_directory: the server runs no plugin binary of its own",
                WHY,
                "nothing to do",
            );
        }
        Ok(Some(found)) => found,
    };
    let mut problems = Vec::new();
    match permissions::resolve(&path, view.lookup) {
        Err(e) => problems.push(format!("{place}: plugin_directory {} cannot be judged: {e}", path.display())),
        Ok(resolved) => {
            let mut writers = vec![identity.clone(), permissions::anyone()];
            let nodes = std::iter::once(&resolved.node).chain(resolved.steps.iter().map(|s| &s.dir_node));
            for node in nodes {
                if node.uid != 0 {
                    writers.push(Identity { name: None, home: None, uid: node.uid, gid: u32::MAX, groups: Vec::new() });
                }
                if node.gid != 0 {
                    writers.push(Identity {
                        name: None,
                        home: None,
                        uid: u32::MAX - 1,
                        gid: node.gid,
                        groups: vec![node.gid],
                    });
                }
            }
            for who in writers {
                if let Some(how) = resolved.changeable_by(&who) {
                    let problem = format!(
                        "{place}: plugin_directory {} can be changed by others than root: {how}",
                        path.display()
                    );
                    if !problems.contains(&problem) {
                        problems.push(problem);
                    }
                }
            }
        }
    }
    for file in files {
        if let Ok(Some((literal, line))) = super::server_config::top_level(file, "plugin_file_permissions") {
            let mode = literal.as_text().and_then(|t| u32::from_str_radix(t, 8).ok());
            if mode.is_some_and(|m| m & 0o022 != 0) {
                problems.push(format!(
                    "{}: plugin_file_permissions {:o} accepts plugin files others can write",
                    at(&file.path, line),
                    mode.unwrap_or(0)
                ));
            }
        }
    }
    if problems.is_empty() {
        return Finding::new(
            "plugin-directory",
            Status::Pass,
            format!("{} ({place}) can be changed by root alone", path.display()),
            WHY,
            "nothing to do",
        );
    }
    Finding::new("plugin-directory", Status::Warn, problems.join("; "), WHY, FIX)
}

/// A storage directory that does not exist yet, as the server will make it: raft creates its
/// path and every missing directory above it, mode 0700, as the server's user (physical/raft's
/// EnsurePath), in the nearest directory that exists. None when the path is not simply missing;
/// `Err` when the server's user cannot make it there.
fn to_be_created(path: &Path, identity: &Identity, view: &FileView) -> Option<Result<permissions::Resolved, String>> {
    // A relative path starts at the working directory, the server's as hardinit's.
    let absolute = std::env::current_dir().ok()?.join(path);
    let path = absolute.as_path();
    let missing = (view.lookup)(path).err().is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound);
    if !missing {
        return None;
    }
    let parent = path.ancestors().skip(1).find_map(|up| permissions::resolve(up, view.lookup).ok())?;
    let reaches = parent.steps.iter().all(|step| step.dir_node.permission(identity, permissions::SEARCH).is_some());
    if !parent.node.is_dir()
        || !reaches
        || parent.node.permission(identity, permissions::WRITE | permissions::SEARCH).is_none()
    {
        return Some(Err(format!(
            "{} does not exist, and the server's user cannot create it in {} ({})",
            path.display(),
            parent.path.display(),
            parent.node.describe()
        )));
    }
    let entry = parent.path.join(path.strip_prefix(&parent.path).ok()?.components().next()?);
    let mut steps = parent.steps.clone();
    steps.push(permissions::Step {
        dir: parent.path.clone(),
        dir_node: parent.node.clone(),
        entry: entry.clone(),
        entry_uid: identity.uid,
    });
    let node = Node {
        uid: identity.uid,
        gid: identity.gid,
        mode: libc::S_IFDIR | 0o700,
        acl: None,
        read_only: parent.node.read_only,
        modified: (0, 0),
    };
    Some(Ok(permissions::Resolved { path: path.to_path_buf(), node, steps }))
}

const WHY_CONFIG: &str = "a server that can rewrite its own configuration keeps a compromise across restarts";
const WHY_AUDIT: &str = "audit devices record every request; a log others can write cannot be trusted";

/// `root-token`: nothing hands the server (or whoever reads its environment) a root token.
pub fn root_token(command: &ServerCommand, env: Environment) -> Finding {
    if let Some(why) = &command.refused {
        return Finding::new(
            "root-token",
            Status::Fail,
            format!("cannot tell whether the server runs in dev mode: {why}"),
            WHY_ROOT_TOKEN,
            "give the server only flags of its own `server -h`",
        );
    }
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let mut problems = Vec::new();
    if command.dev && command.dev_skip_init {
        problems.push(
            "the server runs in dev mode, in memory and left uninitialised (-dev-skip-init): whoever reaches it first initialises it and holds its root token".to_string(),
        );
    } else if command.dev {
        problems
            .push("the server runs in dev mode: unsealed, in memory, with a root token printed at start".to_string());
    } else {
        for name in ["VAULT_DEV_ROOT_TOKEN_ID", "BAO_DEV_ROOT_TOKEN_ID"].iter().filter(|n| set(n)) {
            problems.push(format!("{name} is set for a server that is not in dev mode"));
        }
    }
    for name in ["VAULT_TOKEN", "BAO_TOKEN"].iter().filter(|n| set(n)) {
        problems.push(format!("{name} is in the server's environment"));
    }
    finding(
        "root-token",
        problems,
        WHY_ROOT_TOKEN,
        "run `server -config=...` without -dev; unset the token variables in the container; revoke root tokens after use",
        "no dev mode, no token in the server's environment",
    )
}

pub const WHY_ROOT_TOKEN: &str = "a root token in an environment is readable by every process that can read /proc/<pid>/environ as that user, and by `docker inspect`";

/// The process findings: what the container gives the server.
pub fn process() -> Vec<Finding> {
    let read_only_root = crate::sys::fs::is_read_only("/").unwrap_or(false);
    let seccomp = super::user::ProcStatus::read().map(|status| status.get("Seccomp").to_string()).unwrap_or_default();
    let files = crate::sys::privilege::rlimit(crate::sys::privilege::Resource::OpenFiles).map(|l| l.soft).unwrap_or(0);
    let foreign = foreign_processes(crate::sys::process::getpid());
    // AppArmor's own file where the kernel has it, else the first LSM's context.
    let lsm = ["/proc/self/attr/apparmor/current", "/proc/self/attr/current"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok());
    let lsm_finding = lsm_finding(lsm.as_deref());
    vec![
        lsm_finding,
        if read_only_root {
            Finding::new("root-filesystem", Status::Pass, "the root filesystem is read-only", WHY_ROOT, "nothing to do")
        } else {
            Finding::new(
                "root-filesystem",
                Status::Warn,
                "the root filesystem is writable",
                WHY_ROOT,
                "docker run --read-only --tmpfs /tmp; Kubernetes readOnlyRootFilesystem: true with an emptyDir on /tmp",
            )
        },
        if seccomp == "2" {
            Finding::new(
                "seccomp",
                Status::Pass,
                "a seccomp filter is in force (Seccomp: 2)",
                WHY_SECCOMP,
                "nothing to do",
            )
        } else {
            Finding::new(
                "seccomp",
                Status::Warn,
                format!("no seccomp filter (Seccomp: {})", if seccomp.is_empty() { "?" } else { &seccomp }),
                WHY_SECCOMP,
                "Kubernetes seccompProfile: {type: RuntimeDefault}; Docker applies its default profile unless --security-opt seccomp=unconfined",
            )
        },
        open_files(files),
        if foreign == 0 {
            Finding::new(
                "pid-namespace",
                Status::Pass,
                "no process of another container or of the host is visible",
                WHY_PID,
                "nothing to do",
            )
        } else {
            Finding::new(
                "pid-namespace",
                Status::Warn,
                format!("{foreign} processes outside this container's cgroup are visible (a shared PID namespace)"),
                WHY_PID,
                "do not share the PID namespace (docker run without --pid=host or --pid=container:...; Kubernetes shareProcessNamespace: false)",
            )
        },
    ]
}

/// Visible processes of another container or of the host. What tells them apart is the cgroup,
/// not the process tree: an init the runtime put above hardinit (`docker run --init`: tini is
/// PID 1 and hardinit's parent) and the sessions it let in (`docker exec`, `kubectl exec`) are
/// in the container's cgroup; a Kubernetes pod's pause process and sidecars (shareProcessNamespace),
/// another container (--pid=container:...) and the host's processes and kernel threads (--pid=host)
/// each are in their own. The container is the cgroup of the tree hardinit runs in: its own when
/// the namespace's init is hardinit or one of its ancestors, else (entered from outside the
/// namespace by nsenter or an exec: a parent the namespace cannot see) the init's.
fn foreign_processes(own: i32) -> usize {
    let cgroup_of = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok();
    let container = if crate::procfs::descends_from(own, 1) { own } else { 1 };
    let others = crate::procfs::all_except(own).into_iter().filter(|p| !crate::procfs::descends_from(*p, own));
    match cgroup_of(container) {
        // A process that ended meanwhile has no cgroup left to tell: not counted.
        Some(theirs) => others.filter(|p| cgroup_of(*p).is_some_and(|c| c != theirs)).count(),
        // Without the container's cgroup, everything outside hardinit's tree counts.
        None => others.count(),
    }
}

/// `lsm`: the security context /proc/self/attr gives (None: no LSM at all).
fn lsm_finding(context: Option<&str>) -> Finding {
    let context = context.map(|c| c.trim_end_matches(['\n', '\0']).trim()).filter(|c| !c.is_empty());
    match context {
        Some(context) if !context.starts_with("unconfined") => Finding::new(
            "lsm",
            Status::Pass,
            format!("a security profile is in force: {context}"),
            WHY_LSM,
            "nothing to do",
        ),
        other => Finding::new(
            "lsm",
            Status::Warn,
            format!("no AppArmor or SELinux profile confines the server ({})", other.unwrap_or("no LSM context")),
            WHY_LSM,
            "Docker's default AppArmor profile (docker-default), Kubernetes appArmorProfile: {type: RuntimeDefault}, or an SELinux type",
        ),
    }
}

/// What the server needs: HashiCorp's production guidance raises the limit to 65,536.
const WANT_FILES: u64 = 65_536;

fn open_files(limit: u64) -> Finding {
    if limit >= WANT_FILES {
        Finding::new("open-files", Status::Pass, format!("RLIMIT_NOFILE is {limit}"), WHY_FILES, "nothing to do")
    } else {
        Finding::new(
            "open-files",
            Status::Warn,
            format!("RLIMIT_NOFILE is {limit}, below {WANT_FILES}"),
            WHY_FILES,
            "docker run --ulimit nofile=65536:65536; raise the runtime's default (containerd, CRI-O) for Kubernetes",
        )
    }
}

pub const WHY_ROOT: &str = "a writable root lets a compromised server change the image's binaries and configuration";
pub const WHY_LSM: &str = "a mandatory access control profile limits what a compromised server can reach on the host";
pub const WHY_SECCOMP: &str =
    "seccomp removes the kernel interfaces the server never needs from what an attacker can reach";
const WHY_FILES: &str = "every client connection, lease and raft peer is a file descriptor: too few and the server refuses clients under load";
pub const WHY_PID: &str =
    "processes that share the PID namespace can signal the server and read its /proc (environment, memory maps)";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harden::hcl;
    use crate::harden::server_flags::OPENBAO;
    use std::path::PathBuf;

    fn files(text: &str) -> Vec<ConfigFile> {
        vec![ConfigFile { path: PathBuf::from("/c/server.hcl"), items: hcl::parse(text.as_bytes()).unwrap() }]
    }

    fn status_of(id: &str, text: &str) -> (Status, String) {
        let f = configuration(&files(text), &ServerCommand::default(), &OPENBAO, &|_| None)
            .into_iter()
            .find(|f| f.id == id)
            .unwrap();
        (f.status, f.summary)
    }

    #[test]
    fn tls_on_every_listener() {
        let good =
            "listener \"tcp\" {\n  address = \"[::]:8200\"\n  tls_cert_file = \"/t/c\"\n  tls_key_file = \"/t/k\"\n}\n";
        assert_eq!(status_of("tls", good).0, Status::Pass);
        for (config, words) in [
            (
                "listener \"tcp\" {\n  address = \"[::]:8200\"\n  tls_disable = 1\n}\n",
                "/c/server.hcl:3: the listener on [::]:8200 (reachable from the network) has TLS disabled",
            ),
            (
                "listener \"tcp\" {\n  address = \"0.0.0.0:8200\"\n  tls_disable = \"true\"\n}\n",
                "reachable from the network",
            ),
            ("listener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n  tls_disable = true\n}\n", "loopback only"),
            ("listener \"tcp\" {\n  tls_min_version = \"tls11\"\n}\n", "tls_min_version tls11"),
            (r#"{"listener": [{"tcp": {"address": "[::]:8200", "tls_disable": "1"}}]}"#, "has TLS disabled"),
        ] {
            let (status, summary) = status_of("tls", config);
            assert_eq!(status, Status::Warn, "{config}");
            assert!(summary.contains(words), "{summary}");
        }
        assert_eq!(status_of("tls", "listener \"tcp\" {\n  tls_disable = \"false\"\n}\n").0, Status::Pass);
    }

    #[test]
    fn listeners_and_seals_are_the_ones_the_server_configures() {
        for config in [
            "listener \"TCP\" {\n  address = \"0.0.0.0:8200\"\n  tls_disable = 1\n}\n",
            r#"{"listener": {"Tcp": {"address": "0.0.0.0:8200", "tls_disable": true}}}"#,
            "listener \"unix\" {\n  type = \"tcp\"\n  address = \"0.0.0.0:8200\"\n  tls_disable = 1\n}\n",
        ] {
            assert_eq!(status_of("tls", config).0, Status::Warn, "{config}");
        }
        // A unix listener whatever its label says; TLS does not apply to it.
        let unix = "listener \"tcp\" {\n  type = \"unix\"\n  address = \"/run/s\"\n  tls_disable = 1\n}\n";
        assert_eq!(status_of("tls", unix).0, Status::Pass);
        // A value the server refuses is no PASS.
        assert_eq!(status_of("tls", "listener \"tcp\" {\n  tls_disable = \"maybe\"\n}\n").0, Status::Fail);
        // kms and hsm stanzas are seals; references are no secrets; pkcs11's token is a label.
        let transit = "kms \"Transit\" {\n  address = \"https://t:8200\"\n  token = \"s.abc\"\n}\n";
        assert_eq!(
            status_of("seal-credentials", transit),
            (Status::Warn, "/c/server.hcl:3: token written in the kms \"transit\" stanza".into())
        );
        for reference in ["env://MYTOK", "file:///run/secrets/token"] {
            let config = format!("seal \"transit\" {{\n  token = \"{reference}\"\n}}\n");
            assert_eq!(status_of("seal-credentials", &config).0, Status::Pass, "{reference}");
        }
        assert_eq!(status_of("seal-credentials", "hsm \"pkcs11\" {\n  token = \"label\"\n}\n").0, Status::Pass);
        assert_eq!(status_of("seal-credentials", "seal \"static\" {\n  current_key = \"k\"\n}\n").0, Status::Warn);
        // The last of several counts.
        assert_eq!(
            status_of("seal-credentials", "seal \"transit\" {\n  token = \"s.abc\"\n  token = \"env://T\"\n}\n").0,
            Status::Pass
        );
        // The seal type the environment gives wins over the label.
        let pkcs11 = files("seal \"pkcs11\" {\n  token = \"s.abc\"\n}\n");
        let transit_type = |n: &str| (n == "BAO_SEAL_TYPE").then(|| "transit".to_string());
        let found = configuration(&pkcs11, &ServerCommand::default(), &OPENBAO, &transit_type);
        assert_eq!(found.iter().find(|f| f.id == "seal-credentials").unwrap().status, Status::Warn);
        // Telemetry blocks decode over each other.
        let metrics = "listener \"tcp\" {\n  telemetry {\n    unauthenticated_metrics_access = true\n  }\n  telemetry {\n    unauthenticated_metrics_access = false\n  }\n}\n";
        assert_eq!(status_of("metrics", metrics).0, Status::Pass);
        // The transit seal's client keeps SKIP_VERIFY from the environment, whatever TLS the
        // stanza sets.
        let skip = |n: &str| (n == "VAULT_SKIP_VERIFY").then(|| "true".to_string());
        let verify_of = |text: &str| {
            let found = configuration(&files(text), &ServerCommand::default(), &OPENBAO, &skip);
            found.into_iter().find(|f| f.id == "tls-verify").unwrap()
        };
        let bare = verify_of("kms \"transit\" {\n  address = \"https://t\"\n}\n");
        assert_eq!(
            (bare.status, bare.summary.as_str()),
            (
                Status::Warn,
                "VAULT_SKIP_VERIFY=true in the server's environment: the kms \"transit\" stanza at /c/server.hcl:1 keeps it"
            )
        );
        for own in ["tls_ca_cert = \"/ca.pem\"", "tls_server_name = \"t\"", "tls_skip_verify = \"false\""] {
            let text = format!("seal \"transit\" {{\n  {own}\n}}\n");
            assert_eq!(verify_of(&text).status, Status::Warn, "{text}");
        }
        assert_eq!(verify_of("seal \"awskms\" {}\n").status, Status::Pass);
        // The storage's keys are exact: `TLS_SKIP_VERIFY` is not read by the storage.
        assert_eq!(status_of("tls-verify", "storage \"postgresql\" {\n  TLS_SKIP_VERIFY = true\n}\n").0, Status::Pass);
        assert_eq!(status_of("tls-verify", "backend \"PostgreSQL\" {\n  tls_skip_verify = true\n}\n").0, Status::Warn);
    }

    #[test]
    fn dev_mode_is_a_listener_without_tls() {
        let parse = |args: &[&str]| {
            let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
            ServerCommand::parse(&OPENBAO, &args, &|_| None)
        };
        let tls_of = |command: &ServerCommand| {
            configuration(&[], command, &OPENBAO, &|_| None).into_iter().find(|f| f.id == "tls").unwrap()
        };
        let dev = tls_of(&parse(&["server", "-disable-redirects", "-dev"]));
        assert_eq!(
            (dev.status, dev.summary.as_str()),
            (Status::Warn, "dev mode serves 127.0.0.1:8200 (loopback only) without TLS")
        );
        assert_eq!(tls_of(&parse(&["server", "-dev-tls"])).status, Status::Pass);
        let unknown = parse(&["server", "-no-such-flag", "-dev"]);
        assert_eq!(root_token(&unknown, &|_| None).status, Status::Fail);
    }

    #[test]
    fn metrics_and_dev_modes_as_openbao_serves_them() {
        // A labelled telemetry block is ignored; disallow_metrics closes sys/metrics.
        let telemetry = |inner: &str| format!("listener \"tcp\" {{\n  tls_disable = 1\n  {inner}\n}}\n");
        for inner in [
            "telemetry \"x\" {\n    unauthenticated_metrics_access = true\n  }",
            "telemetry {\n    unauthenticated_metrics_access = true\n    disallow_metrics = true\n  }",
        ] {
            assert_eq!(status_of("metrics", &telemetry(inner)).0, Status::Pass, "{inner}");
        }
        let open = telemetry("telemetry {\n    unauthenticated_metrics_access = true\n  }");
        assert_eq!(status_of("metrics", &open).0, Status::Warn);
        let find = |args: &[&str], id: &str| {
            let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
            let command = ServerCommand::parse(&OPENBAO, &args, &|_| None);
            let mut all = configuration(&[], &command, &OPENBAO, &|_| None);
            all.push(root_token(&command, &|_| None));
            all.into_iter().find(|f| f.id == id).unwrap()
        };
        let three = ["server", "-dev-three-node", "-dev-listen-address=127.0.0.1:9000"];
        assert_eq!(find(&three, "tls").status, Status::Pass);
        assert_eq!(
            find(&three, "metrics").summary,
            "dev mode (-dev-three-node) serves its metrics and profiles on 127.0.0.1:9001 and 127.0.0.1:9002 without a token"
        );
        assert!(find(&["server", "-dev-three-node"], "metrics").summary.contains("random ports"));
        let skipped = find(&["server", "-dev", "-dev-skip-init"], "root-token");
        assert!(skipped.status == Status::Warn && !skipped.summary.contains("printed"), "{}", skipped.summary);
        let empty = find(&["server", "-dev", "-dev-listen-address="], "tls");
        assert!(empty.summary.starts_with("dev mode serves 127.0.0.1:8200 (loopback only)"), "{}", empty.summary);
    }

    #[test]
    fn a_configuration_the_server_refuses_fails_every_check_that_reads_it() {
        let refused = files("disable_mlock = false\n");
        let me = Identity { name: None, home: None, uid: 4343, gid: 4343, groups: vec![4343] };
        let mut all = configuration(&refused, &ServerCommand::default(), &OPENBAO, &|_| None);
        all.extend(named_files(&refused, &[], &me, Path::new("/no-audit"), &FileView::now(), &OPENBAO, &|_| None));
        let ids: Vec<&str> = all.iter().map(|f| f.id).collect();
        assert_eq!(
            ids,
            [
                "tls",
                "tls-verify",
                "seal-credentials",
                "raw-storage",
                "metrics",
                "config-files",
                "tls-files",
                "storage",
                "audit",
                "plugin-directory"
            ]
        );
        for finding in &all {
            assert!(
                finding.status == Status::Fail
                    && finding.summary.contains("/c/server.hcl:1: disable_mlock is not true"),
                "{}: {}",
                finding.id,
                finding.summary
            );
        }
    }

    #[test]
    fn a_plugin_directory_is_roots_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hardinit-plugins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("plugins")).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let owner = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata(&dir).unwrap());
        let me = Identity { name: None, home: None, uid: 4343, gid: 4343, groups: vec![4343] };
        let judge = |mode: u32| {
            std::fs::set_permissions(dir.join("plugins"), std::fs::Permissions::from_mode(mode)).unwrap();
            let config = format!("plugin_directory = \"{}/x/../plugins\"\n", dir.display());
            let parsed = vec![ConfigFile { path: dir.join("c.hcl"), items: hcl::parse(config.as_bytes()).unwrap() }];
            let found = named_files(&parsed, &[], &me, &dir.join("no-audit"), &FileView::now(), &OPENBAO, &|_| None);
            found.into_iter().find(|f| f.id == "plugin-directory").unwrap()
        };
        let open = judge(0o777);
        let closed = judge(0o755);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            open.status == Status::Warn && open.summary.contains("can be changed by others than root"),
            "{}",
            open.summary
        );
        // The tests' user owns it unless they run as root.
        let expected = if owner == 0 { Status::Pass } else { Status::Warn };
        assert_eq!(closed.status, expected, "{}", closed.summary);
    }

    fn dev_command() -> ServerCommand {
        let args: Vec<std::ffi::OsString> = ["server", "-dev"].iter().map(Into::into).collect();
        ServerCommand::parse(&OPENBAO, &args, &|_| None)
    }

    #[test]
    fn the_dev_listener_of_a_server_judged_vault_is_where_openbao_would_bind_it_too() {
        use crate::harden::server_flags::VAULT;
        let args: Vec<std::ffi::OsString> = ["server", "-dev"].iter().map(Into::into).collect();
        let env = |n: &str| (n == "BAO_DEV_LISTEN_ADDRESS").then(|| "0.0.0.0:8300".to_string());
        let command = ServerCommand::parse(&VAULT, &args, &env);
        let found = configuration(&[], &command, &VAULT, &env);
        let summary = |id: &str| found.iter().find(|f| f.id == id).unwrap().summary.clone();
        assert!(summary("tls").contains("0.0.0.0:8300 (reachable from the network)"), "{}", summary("tls"));
        assert!(summary("tls").contains("127.0.0.1:8200 (loopback only)"), "{}", summary("tls"));
        assert!(summary("metrics").contains("0.0.0.0:8300"), "{}", summary("metrics"));
        // The flag binds both alike; a Vault without the variable is judged as before.
        let flagged: Vec<std::ffi::OsString> =
            ["server", "-dev", "-dev-listen-address=127.0.0.1:1"].iter().map(Into::into).collect();
        let found = configuration(&[], &ServerCommand::parse(&VAULT, &flagged, &env), &VAULT, &env);
        let tls = &found.iter().find(|f| f.id == "tls").unwrap().summary;
        assert_eq!(tls, "dev mode serves 127.0.0.1:1 (loopback only) without TLS");
        let found = configuration(&[], &ServerCommand::parse(&VAULT, &args, &|_| None), &VAULT, &|_| None);
        let tls = &found.iter().find(|f| f.id == "tls").unwrap().summary;
        assert_eq!(tls, "dev mode serves 127.0.0.1:8200 (loopback only) without TLS");
    }

    #[test]
    fn a_server_judged_vault_is_judged_by_openbaos_variables_too() {
        use crate::harden::server_flags::VAULT;
        let find = |text: &str, rules: &ServerRules, env: Environment, id: &str| {
            let found = configuration(&files(text), &ServerCommand::default(), rules, env);
            found.into_iter().find(|f| f.id == id).unwrap()
        };
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
        };
        let transit = "seal \"transit\" {\n  address = \"https://t\"\n}\n";
        // BAO_SKIP_VERIFY: Vault ignores it, OpenBao copied under Vault's name keeps it.
        let bao_skip = lookup(&[("BAO_SKIP_VERIFY", "true")]);
        let found = find(transit, &VAULT, &bao_skip, "tls-verify");
        assert_eq!(found.status, Status::Warn);
        assert!(found.summary.starts_with("BAO_SKIP_VERIFY=true in the server's environment"), "{}", found.summary);
        // Both readings skip: each names the variable it read.
        let both = lookup(&[("BAO_SKIP_VERIFY", "true"), ("VAULT_SKIP_VERIFY", "true")]);
        let found = find(transit, &VAULT, &both, "tls-verify");
        assert_eq!(found.summary.matches("keeps it").count(), 2, "{}", found.summary);
        // The worse reading wins either way: OpenBao's BAO_SKIP_VERIFY=false does not clear
        // Vault's VAULT_SKIP_VERIFY.
        let vault_skips = lookup(&[("BAO_SKIP_VERIFY", "false"), ("VAULT_SKIP_VERIFY", "true")]);
        assert_eq!(find(transit, &VAULT, &vault_skips, "tls-verify").status, Status::Warn);
        // BAO_SEAL_TYPE: the seal it adds from the environment, and the type it gives a stanza.
        let bao_seal = lookup(&[("BAO_SEAL_TYPE", "transit"), ("VAULT_SKIP_VERIFY", "1")]);
        let found = find("", &VAULT, &bao_seal, "tls-verify");
        assert_eq!(found.status, Status::Warn);
        assert!(found.summary.contains("the transit seal BAO_SEAL_TYPE configures"), "{}", found.summary);
        let labelled = "seal \"pkcs11\" {\n  token = \"s.secret\"\n}\n";
        let found = find(labelled, &VAULT, &lookup(&[("BAO_SEAL_TYPE", "transit")]), "seal-credentials");
        assert_eq!(
            (found.status, found.summary.as_str()),
            (Status::Warn, "/c/server.hcl:2: token written in the seal \"transit\" stanza")
        );
        // A real Vault without BAO_X set is judged as before: by VAULT_X alone.
        assert_eq!(find(labelled, &VAULT, &lookup(&[]), "seal-credentials").status, Status::Pass);
        assert_eq!(find("", &VAULT, &lookup(&[("VAULT_SKIP_VERIFY", "1")]), "tls-verify").status, Status::Pass);
        assert_eq!(find(transit, &VAULT, &lookup(&[("VAULT_SKIP_VERIFY", "1")]), "tls-verify").status, Status::Warn);
        // OpenBao itself reads BAO_X before VAULT_X, and nothing more.
        assert_eq!(find(transit, &OPENBAO, &vault_skips, "tls-verify").status, Status::Pass);
    }

    #[test]
    fn what_the_server_configures_beyond_the_stanzas() {
        let find = |text: &str, command: &ServerCommand, env: Environment, id: &str| {
            configuration(&files(text), command, &OPENBAO, env).into_iter().find(|f| f.id == id).unwrap()
        };
        let skip = |n: &str| match n {
            "BAO_SEAL_TYPE" => Some("transit".to_string()),
            "VAULT_SKIP_VERIFY" => Some("1".to_string()),
            _ => None,
        };
        let none = ServerCommand::default();
        // No seal stanza (or a disabled one): the seal SEAL_TYPE names, configured from the
        // environment, keeps its SKIP_VERIFY.
        for text in ["", "seal \"awskms\" {\n  disabled = \"true\"\n}\n"] {
            let found = find(text, &none, &skip, "tls-verify");
            assert_eq!(found.status, Status::Warn, "{text}");
            assert!(found.summary.contains("the transit seal BAO_SEAL_TYPE configures"), "{}", found.summary);
        }
        assert_eq!(find("seal \"awskms\" {}\n", &none, &skip, "tls-verify").status, Status::Warn);
        assert_eq!(
            find("", &none, &|n: &str| (n == "VAULT_SKIP_VERIFY").then(|| "1".into()), "tls-verify").status,
            Status::Pass
        );
        // Labels lower-cased as Go lower-cases them: U+0130 is an i.
        let dotted = "seal \"TRANS\u{130}T\" {\n  address = \"https://t\"\n}\n";
        let just_skip = |n: &str| (n == "VAULT_SKIP_VERIFY").then(|| "true".to_string());
        assert_eq!(find(dotted, &none, &just_skip, "tls-verify").status, Status::Warn);
        // Profiling and in-flight requests opened to requests without a token.
        let opened = "listener \"tcp\" {\n  profiling {\n    unauthenticated_pprof_access = \"1\"\n  }\n  inflight_requests_logging {\n    unauthenticated_in_flight_requests_access = true\n  }\n}\n";
        let found = find(opened, &none, &|_| None, "metrics");
        assert_eq!(
            (found.status, found.summary.as_str()),
            (
                Status::Warn,
                "/c/server.hcl:3: unauthenticated_pprof_access is on; /c/server.hcl:6: unauthenticated_in_flight_requests_access is on"
            )
        );
        // Recovery mode serves sys/raw.
        let args: Vec<std::ffi::OsString> = ["server", "-recovery", "-config=/c"].iter().map(Into::into).collect();
        let recovery = ServerCommand::parse(&OPENBAO, &args, &|_| None);
        assert_eq!(find("", &recovery, &|_| None, "raw-storage").status, Status::Warn);
        assert_eq!(find("", &none, &|_| None, "raw-storage").status, Status::Pass);
        assert_eq!(find("", &dev_command(), &|_| None, "raw-storage").status, Status::Warn);
        // A dev server's metrics need no token.
        let metrics = find("", &dev_command(), &|_| None, "metrics");
        assert_eq!(
            (metrics.status, metrics.summary.as_str()),
            (Status::Warn, "dev mode serves its metrics on 127.0.0.1:8200 without a token")
        );
        // A tls_disable the server cannot read as a boolean is no PASS.
        for value in ["[true]", "[]", "{ a = 1 }"] {
            let text = format!("listener \"tcp\" {{\n  tls_disable = {value}\n}}\n");
            let tls = find(&text, &none, &|_| None, "tls");
            assert!(
                tls.status == Status::Fail && tls.summary.contains("/c/server.hcl:2: tls_disable is a list"),
                "{text}: {}",
                tls.summary
            );
        }
    }

    #[test]
    fn verification_credentials_and_endpoints() {
        assert_eq!(status_of("tls-verify", "storage \"raft\" {\n  path = \"/d\"\n}\n").0, Status::Pass);
        let raft = "storage \"raft\" {\n  retry_join {\n    leader_api_addr = \"https://a:8200\"\n    leader_tls_skip_verify = true\n  }\n}\n";
        assert_eq!(
            status_of("tls-verify", raft),
            (Status::Warn, "/c/server.hcl:4: leader_tls_skip_verify in storage \"raft\"".into())
        );
        let transit = "seal \"transit\" {\n  token = \"s.abc\"\n  tls_skip_verify = \"true\"\n}\n";
        assert!(status_of("tls-verify", transit).1.contains("tls_skip_verify in seal \"transit\""));
        assert_eq!(
            status_of("seal-credentials", transit),
            (Status::Warn, "/c/server.hcl:2: token written in the seal \"transit\" stanza".into())
        );
        assert_eq!(status_of("seal-credentials", "seal \"awskms\" {\n  region = \"eu\"\n}\n").0, Status::Pass);
        assert!(status_of("seal-credentials", "seal \"pkcs11\" {\n  PIN = \"1234\"\n}\n").1.contains("PIN written"));
        assert_eq!(status_of("raw-storage", "raw_storage_endpoint = true\n").0, Status::Warn);
        assert_eq!(status_of("raw-storage", "raw_storage_endpoint = false\n").0, Status::Pass);
        let metrics = "listener \"tcp\" {\n  telemetry {\n    unauthenticated_metrics_access = \"true\"\n  }\n}\n";
        assert_eq!(
            status_of("metrics", metrics),
            (Status::Warn, "/c/server.hcl:3: unauthenticated_metrics_access is on".into())
        );
    }

    #[test]
    fn a_storage_every_user_can_move_away_is_not_the_servers_alone() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = std::env::temp_dir().join(format!("hardinit-storage-parent-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("open/data")).unwrap();
        let set =
            |p: &str, mode: u32| std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
        set("open", 0o777);
        set("open/data", 0o700);
        let owner = std::fs::metadata(dir.join("open/data")).unwrap().uid();
        let me = Identity { name: None, home: None, uid: owner, gid: owner, groups: vec![owner] };
        let config = format!("storage \"raft\" {{\n  path = \"{}/open/data\"\n}}\n", dir.display());
        let parsed = vec![ConfigFile { path: dir.join("c.hcl"), items: hcl::parse(config.as_bytes()).unwrap() }];
        let storage = || {
            let found = named_files(&parsed, &[], &me, &dir.join("no-audit"), &FileView::now(), &OPENBAO, &|_| None);
            found.into_iter().find(|f| f.id == "storage").unwrap()
        };
        let open = storage();
        assert!(
            open.status == Status::Warn
                && open.summary.contains("is not the server's alone")
                && open.summary.contains("open/data can be replaced"),
            "{}",
            open.summary
        );
        // The sticky bit keeps every user to its own entries.
        set("open", 0o1777);
        let sticky = storage();
        assert_eq!(sticky.status, Status::Pass, "{}", sticky.summary);
        // A path raft will create (two levels of it) is judged where it will be made.
        let at = |path: &str| {
            let config = format!("storage \"raft\" {{\n  path = \"{}/{path}\"\n}}\n", dir.display());
            let parsed = vec![ConfigFile { path: dir.join("c.hcl"), items: hcl::parse(config.as_bytes()).unwrap() }];
            let found = named_files(&parsed, &[], &me, &dir.join("no-audit"), &FileView::now(), &OPENBAO, &|_| None);
            found.into_iter().find(|f| f.id == "storage").unwrap()
        };
        set("open", 0o700);
        assert_eq!(at("open/data/raft/new").status, Status::Pass, "{}", at("open/data/raft/new").summary);
        set("open", 0o777);
        assert!(at("open/new").summary.contains("open/new can be replaced"), "{}", at("open/new").summary);
        let stranger = Identity { uid: 4343, gid: 4343, groups: vec![4343], ..me.clone() };
        set("open", 0o755);
        let found = named_files(
            &[ConfigFile {
                path: dir.join("c.hcl"),
                items: hcl::parse(
                    format!("storage \"raft\" {{\n  path = \"{}/open/x\"\n}}\n", dir.display()).as_bytes(),
                )
                .unwrap(),
            }],
            &[],
            &stranger,
            &dir.join("no-audit"),
            &FileView::now(),
            &OPENBAO,
            &|_| None,
        );
        let refused = found.into_iter().find(|f| f.id == "storage").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(refused.summary.contains("the server's user cannot create it in"), "{}", refused.summary);
    }

    #[test]
    fn files_as_the_servers_user_finds_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hardinit-checklist-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let me = Identity { name: None, home: None, uid: 4242, gid: 4242, groups: vec![4242] };
        let set =
            |p: &str, mode: u32| std::fs::set_permissions(dir.join(p), std::fs::Permissions::from_mode(mode)).unwrap();
        std::fs::write(dir.join("cert.pem"), "c").unwrap();
        std::fs::write(dir.join("key.pem"), "k").unwrap();
        let config = format!(
            "listener \"tcp\" {{\n  tls_cert_file = \"{0}/cert.pem\"\n  tls_key_file = \"{0}/key.pem\"\n  tls_client_ca_file = \"{0}/missing.pem\"\n}}\nstorage \"raft\" {{\n  path = \"{0}/data\"\n}}\n",
            dir.display()
        );
        std::fs::write(dir.join("server.hcl"), &config).unwrap();
        set("server.hcl", 0o666);
        set("cert.pem", 0o644);
        set("key.pem", 0o644);
        set("data", 0o755);
        let parsed = vec![ConfigFile { path: dir.join("server.hcl"), items: hcl::parse(config.as_bytes()).unwrap() }];
        let findings = named_files(&parsed, &[], &me, &dir.join("no-audit"), &FileView::now(), &OPENBAO, &|_| None);
        let get = |id: &str| findings.iter().find(|f| f.id == id).unwrap();
        assert!(get("config-files").summary.contains("changeable by every user"), "{}", get("config-files").summary);
        let tls = &get("tls-files").summary;
        assert!(
            tls.contains("missing.pem: No such file") && tls.contains("key.pem is readable by every user"),
            "{tls}"
        );
        let storage = &get("storage").summary;
        assert!(storage.contains("not owned by the server's user") && storage.contains("open to others"), "{storage}");
        assert_eq!(get("audit").status, Status::Pass);
        // Tightened: only what the files really are.
        set("server.hcl", 0o644);
        set("key.pem", 0o600);
        set("data", 0o700);
        std::fs::write(dir.join("missing.pem"), "ca").unwrap();
        let owner = std::fs::metadata(dir.join("data")).map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap();
        let findings = named_files(
            &parsed,
            &[],
            &Identity { uid: owner, ..me.clone() },
            &dir.join("no-audit"),
            &FileView::now(),
            &OPENBAO,
            &|_| None,
        );
        for id in ["config-files", "tls-files", "storage"] {
            let f = findings.iter().find(|f| f.id == id).unwrap();
            // As the files' owner (the test runs as one user), the config is the server's to write.
            if id == "config-files" {
                assert!(f.summary.contains("changeable by the server's user"), "{}", f.summary);
            } else {
                assert_eq!(f.status, Status::Pass, "{id}: {}", f.summary);
            }
        }
        // Another user's view: the root-owned 0644 config is not theirs to write; an audit volume
        // open to every user is a warning, the server's own is a pass.
        let other = Identity { uid: 4242, gid: 4242, groups: vec![4242], ..me.clone() };
        std::fs::create_dir(dir.join("audit")).unwrap();
        set("audit", 0o777);
        let findings = named_files(&parsed, &[], &other, &dir.join("audit"), &FileView::now(), &OPENBAO, &|_| None);
        let get = |id: &str| findings.iter().find(|f| f.id == id).unwrap().clone();
        assert_eq!(get("config-files").status, Status::Pass, "{}", get("config-files").summary);
        assert!(get("audit").summary.contains("writable by every user"), "{}", get("audit").summary);
        set("audit", 0o700);
        let findings = named_files(
            &parsed,
            &[],
            &Identity { uid: owner, ..me.clone() },
            &dir.join("audit"),
            &FileView::now(),
            &OPENBAO,
            &|_| None,
        );
        assert_eq!(findings.iter().find(|f| f.id == "audit").unwrap().status, Status::Pass);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tokens() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
        };
        let server = ServerCommand::parse(&OPENBAO, &["server".into(), "-config=/c".into()], &|_| None);
        assert_eq!(root_token(&server, &env(&[])).status, Status::Pass);
        assert!(root_token(&server, &env(&[("VAULT_DEV_ROOT_TOKEN_ID", "root")])).summary.contains("not in dev mode"));
        assert!(root_token(&server, &env(&[("VAULT_TOKEN", "s.x")])).summary.contains("VAULT_TOKEN is in"));
        let dev = ServerCommand::parse(&OPENBAO, &["server".into(), "-dev".into()], &|_| None);
        assert_eq!(root_token(&dev, &env(&[("VAULT_DEV_ROOT_TOKEN_ID", "root")])).status, Status::Warn);
        assert!(
            is_loopback("[::1]:8200")
                && is_loopback("localhost:1")
                && !is_loopback("[::]:8200")
                && !is_loopback("10.0.0.1:8200")
        );
    }
}
