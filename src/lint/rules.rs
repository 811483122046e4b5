//! The checklist on a manifest: for each Vault or OpenBao container, the in-container checks a
//! manifest decides (the library's own, with the same ids and texts, fed the configuration from
//! the ConfigMap), then the rules only a manifest shows (the pod's namespaces, its disruption
//! budget, where its TLS files and variables come from), each with its source.

use super::manifest::{self, Role, Target, Workload};
use super::yaml::Node;
use hardinit::check::signals_finding;
use hardinit::harden::memory::{self, Flavour, MemoryRule};
use hardinit::harden::server_config::{self, ConfigFile, LISTENER_TLS_KEYS, Stanza};
use hardinit::harden::server_flags::{OPENBAO, ServerCommand, ServerRules, VAULT};
use hardinit::harden::{Finding, Status, WHY_CAP, WHY_USER, checklist};
use std::ffi::OsString;
use std::path::PathBuf;

/// A finding about one container of one document, with the line that decides it and the
/// guidance it rests on.
pub struct Located {
    pub finding: Finding,
    pub source: &'static str,
    pub document: usize,
    pub line: usize,
    pub object: String,
}

const HARDENING: &str = "Vault production hardening, developer.hashicorp.com/vault/docs/concepts/production-hardening; OpenBao's, openbao.org/docs/concepts/production-hardening";
const K8S_SECURITY: &str = "Vault on Kubernetes security considerations, developer.hashicorp.com/vault/tutorials/kubernetes/kubernetes-security-concerns";
const PSS: &str = "Kubernetes Pod Security Standards, kubernetes.io/docs/concepts/security/pod-security-standards";
const SWAP: &str = "Vault disable_mlock, developer.hashicorp.com/vault/docs/configuration#disable_mlock; Kubernetes swap (LimitedSwap: Burstable pods only), kubernetes.io/docs/concepts/cluster-administration/swap-memory-management, kubernetes/kubernetes#118764";
const TERMINATION: &str = "Kubernetes pod termination, kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination; vault-helm server.preStop (sleep 5) and terminationGracePeriodSeconds (10)";
const QUORUM: &str = "Vault integrated storage quorum ((n/2)+1), developer.hashicorp.com/vault/docs/internals/integrated-storage; Kubernetes PodDisruptionBudget, kubernetes.io/docs/tasks/run-application/configure-pdb";
const SPREAD: &str = "Vault on Kubernetes reference architecture (one server per node), developer.hashicorp.com/vault/tutorials/kubernetes/kubernetes-reference-architecture";
const TLS_SECRET: &str = "vault-helm standalone TLS (certificates from a Secret), developer.hashicorp.com/vault/docs/platform/k8s/helm/examples/standalone-tls";
const ENV_SECRETS: &str =
    "Kubernetes Secrets as environment variables, kubernetes.io/docs/concepts/configuration/secret";
const SA_TOKEN: &str = "Kubernetes: opt out of API credential automounting, kubernetes.io/docs/tasks/configure-pod-container/configure-service-account";
const DIGEST: &str = "Kubernetes image names and digests, kubernetes.io/docs/concepts/containers/images";
const SHARE_PID: &str =
    "Kubernetes shareProcessNamespace, kubernetes.io/docs/tasks/configure-pod-container/share-process-namespace";
const HARDINIT: &str = "hardinit README, the checks";

/// Everything the manifests hold, for the rules that look beyond one pod.
pub struct Cluster<'a> {
    pub objects: Vec<(usize, &'a Node)>,
}

impl Cluster<'_> {
    fn find(&self, kind: &str, name: &str, namespace: &str) -> Option<(usize, &Node)> {
        self.objects
            .iter()
            .find(|(_, o)| {
                manifest::kind_of(o) == kind
                    && manifest::name_of(o) == name
                    && manifest::same_namespace(manifest::namespace_of(o), namespace)
            })
            .map(|(d, o)| (*d, *o))
    }
}

struct Ctx<'a> {
    target: &'a Target<'a>,
    out: Vec<Located>,
}

impl Ctx<'_> {
    fn push(&mut self, finding: Finding, source: &'static str, line: usize) {
        let workload = self.target.workload;
        self.out.push(Located {
            finding,
            source,
            document: workload.document,
            line: if line == 0 { self.target.container.line } else { line },
            object: format!("{}, container {}", workload.object(), self.target.name),
        });
    }
}

fn pass(id: &'static str, summary: impl Into<String>, why: &'static str) -> Finding {
    Finding::new(id, Status::Pass, summary, why, "nothing to do")
}

fn warn(id: &'static str, summary: impl Into<String>, why: &'static str, fix: impl Into<String>) -> Finding {
    Finding::new(id, Status::Warn, summary, why, fix)
}

/// A field of the container's securityContext, else the pod's (the container's wins).
fn security<'a>(target: &'a Target, field: &str) -> &'a Node {
    let own = target.container.at(&format!("securityContext.{field}"));
    if own.is_null() { target.workload.pod.at(&format!("securityContext.{field}")) } else { own }
}

/// The server's configuration as the server will read it: each `-config` path found in the
/// ConfigMap mounted over it, through the charts' `cp SRC DST` and their `sed` placeholder
/// substitutions. Err: why not, and whether that is a reading error (FAIL) or something the
/// manifests do not hold (SKIP). Ok also gives each file's first line in the manifest.
struct ReadConfig {
    files: Vec<ConfigFile>,
    /// Per file: the document and the line of the data value, and whether the value is a
    /// literal block (its line N is the value's line + N - 1).
    places: Vec<(PathBuf, usize, usize, bool)>,
}

fn substitutions(script: &str, destination: &str) -> (Option<String>, Vec<(String, String)>) {
    let mut source = None;
    let mut replaced = Vec::new();
    for words in script.lines().flat_map(manifest::shell_commands) {
        match words.first().map(String::as_str) {
            Some("cp") => {
                let operands: Vec<&String> = words[1..].iter().filter(|w| !w.starts_with('-')).collect();
                if let [from, to] = operands.as_slice() {
                    if *to == destination {
                        source = Some(from.to_string());
                    }
                }
            }
            Some("sed") if words.last().is_some_and(|w| w == destination) => {
                for word in &words[1..] {
                    let Some(expression) = word.strip_prefix('s') else { continue };
                    let Some(delimiter) = expression.chars().next() else { continue };
                    let parts: Vec<&str> = expression[delimiter.len_utf8()..].split(delimiter).collect();
                    if let [from, to, _flags] = parts.as_slice() {
                        replaced.push((from.to_string(), to.to_string()));
                    }
                }
            }
            _ => {}
        }
    }
    (source, replaced)
}

/// `${NAME?}`, `${NAME}` or `$NAME` in a substitution: the variable's name.
fn variable_of(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')).or_else(|| text.strip_prefix('$'))?;
    Some(inner.trim_end_matches('?'))
}

fn read_config(
    target: &Target,
    configs: &[PathBuf],
    env: &[(String, String, usize)],
    cluster: &Cluster,
) -> Result<ReadConfig, (Status, String)> {
    let mut raw = Vec::new();
    let mut places = Vec::new();
    for path in configs {
        let path_text = path.to_string_lossy().to_string();
        let (source, replaced) = match &target.script {
            Some(script) => substitutions(script, &path_text),
            None => (None, Vec::new()),
        };
        let read_from = source.clone().unwrap_or_else(|| path_text.clone());
        let skip = |why: String| (Status::Skip, why);
        let (_, volume, inside) = manifest::mount_of(target.container, target.workload.pod, &read_from)
            .ok_or_else(|| skip(format!("{read_from} is not on a volume of the manifest (the image's own file)")))?;
        let (map_name, key) = manifest::config_map_key(volume, &inside).ok_or_else(|| {
            skip(format!("{read_from} is on a {} volume, not a ConfigMap", manifest::volume_kind(volume)))
        })?;
        let (document, map) = cluster.find("ConfigMap", &map_name, &target.workload.namespace).ok_or_else(|| {
            skip(format!("the ConfigMap {map_name} that {read_from} comes from is not in these manifests"))
        })?;
        let data = map.get("data");
        let keys: Vec<&(String, Node)> = if key.is_empty() {
            // A directory: the server loads its *.hcl and *.json files, by name.
            let mut keys: Vec<_> =
                data.entries().iter().filter(|(k, _)| k.ends_with(".hcl") || k.ends_with(".json")).collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            keys
        } else {
            let found = data.entries().iter().rev().find(|(k, _)| *k == key);
            vec![found.ok_or_else(|| {
                (
                    Status::Fail,
                    format!("{read_from}: the ConfigMap {map_name} has no key {key} (the server would not start)"),
                )
            })?]
        };
        for (name, value) in keys {
            let mut text = value.text().unwrap_or("").to_string();
            // The chart's sed: each placeholder replaced where the variable is set and not empty.
            for (from, to) in &replaced {
                let value = variable_of(to)
                    .and_then(|v| env.iter().find(|(n, _, _)| n == v))
                    .map(|(_, value, _)| value.clone());
                if let Some(value) = value.filter(|v| !v.is_empty()) {
                    text = text.replace(from.as_str(), &value);
                }
            }
            let file = if key.is_empty() { PathBuf::from(&read_from).join(name) } else { PathBuf::from(&read_from) };
            places.push((file.clone(), document, value.line, value.block));
            raw.push((file, text.into_bytes()));
        }
    }
    let files = server_config::parse_all(raw).map_err(|e| (Status::Fail, e.message))?;
    Ok(ReadConfig { files, places })
}

/// The manifest line a configuration finding's first `path:line` points at.
fn config_line(summary: &str, places: &[(PathBuf, usize, usize, bool)]) -> Option<usize> {
    for (path, _, line, block) in places {
        let prefix = format!("{}:", path.display());
        if let Some(at) = summary.find(&prefix) {
            let digits: String = summary[at + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
            let n: usize = digits.parse().ok()?;
            return Some(if *block { line + n.saturating_sub(1) } else { *line });
        }
    }
    None
}

/// A Kubernetes quantity in its base unit (`512Mi`, `1.5G`, `250m`).
pub fn quantity(text: &str) -> Option<f64> {
    const SUFFIXES: [(&str, f64); 13] = [
        ("Ki", 1024.0),
        ("Mi", 1048576.0),
        ("Gi", 1073741824.0),
        ("Ti", 1099511627776.0),
        ("Pi", 1125899906842624.0),
        ("Ei", 1152921504606846976.0),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    let text = text.trim();
    for (suffix, factor) in SUFFIXES {
        if let Some(number) = text.strip_suffix(suffix) {
            return number.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

#[derive(Debug, PartialEq, Eq)]
pub enum Qos {
    Guaranteed,
    Burstable,
    BestEffort,
}

/// The pod's QoS class, as the kubelet computes it: every container (init containers too)
/// with cpu and memory limits that requests equal (an unset request is its limit): Guaranteed;
/// no request or limit anywhere: BestEffort; else Burstable.
pub fn qos(pod: &Node) -> Qos {
    let containers: Vec<&Node> = ["initContainers", "containers"].iter().flat_map(|l| pod.get(l).items()).collect();
    let mut any = false;
    let mut guaranteed = true;
    for container in containers {
        for resource in ["cpu", "memory"] {
            let limit = container.at(&format!("resources.limits.{resource}")).text().and_then(quantity);
            let request = container.at(&format!("resources.requests.{resource}")).text().and_then(quantity);
            any |= limit.is_some() || request.is_some();
            match (limit, request) {
                (Some(l), Some(r)) if (l - r).abs() > f64::EPSILON * l.abs().max(1.0) => guaranteed = false,
                (None, _) => guaranteed = false,
                _ => {}
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => Qos::BestEffort,
        (true, true) => Qos::Guaranteed,
        (true, false) => Qos::Burstable,
    }
}

fn capabilities(node: &Node, field: &str) -> Vec<String> {
    node.at(&format!("securityContext.capabilities.{field}"))
        .items()
        .iter()
        .filter_map(|c| c.text())
        .map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase())
        .collect()
}

/// `major.minor.patch` of an image tag (`v2.6.2`, `1.20.0-ent`).
fn version(tag: &str) -> Option<(u32, u32, u32)> {
    let core = tag.trim_start_matches('v').split(['-', '+', '_']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0), parts.next().flatten().unwrap_or(0)))
}

/// Every finding of every Vault and OpenBao container of the manifests.
pub fn lint(cluster: &Cluster, workloads: &[Workload]) -> Vec<Located> {
    let mut out = Vec::new();
    for workload in workloads {
        for target in manifest::targets(workload) {
            let mut ctx = Ctx { target: &target, out: Vec::new() };
            container_checks(&mut ctx, cluster);
            out.extend(ctx.out);
        }
    }
    out
}

fn container_checks(ctx: &mut Ctx, cluster: &Cluster) {
    let target = ctx.target;
    let container = target.container;
    let env = manifest::environment(container);
    let lookup = |name: &str| env.iter().find(|(n, _, _)| n == name).map(|(_, v, _)| v.clone());
    let rules: &ServerRules = match target.flavour {
        Flavour::Vault => &VAULT,
        Flavour::OpenBao => &OPENBAO,
    };
    let args: Vec<OsString> = target.args.iter().map(OsString::from).collect();
    let command = ServerCommand::parse(rules, &args, &lookup);
    let mut memory_rule = None;
    let mut files: Vec<ConfigFile> = Vec::new();
    let mut configuration_read = false;
    if target.role == Role::Server {
        let line = container.get("args").line_or(container.get("command").line);
        if let Some(why) = &command.refused {
            for id in ["tls", "tls-verify", "seal-credentials", "raw-storage", "metrics"] {
                let f = Finding::new(
                    id,
                    Status::Fail,
                    format!("not evaluated: {why}"),
                    "the configuration must be read as the server reads it",
                    "give the server only flags of its own `server -h`",
                );
                ctx.push(f, HARDENING, line);
            }
        } else {
            let read = if command.dev {
                Ok(ReadConfig { files: Vec::new(), places: Vec::new() })
            } else {
                read_config(target, &command.configs, &env, cluster)
            };
            match read {
                Ok(read) => {
                    configuration_read = !command.dev;
                    for finding in checklist::configuration(&read.files, &command, rules, &lookup) {
                        let at = config_line(&finding.summary, &read.places).unwrap_or(line);
                        ctx.push(finding, HARDENING, at);
                    }
                    files = read.files;
                }
                Err((status, why)) => {
                    for id in ["tls", "tls-verify", "seal-credentials", "raw-storage", "metrics"] {
                        let f = Finding::new(
                            id,
                            status,
                            format!("not evaluated: {why}"),
                            "the configuration must be read as the server reads it",
                            "put the ConfigMap the server mounts in the manifests linted, or correct it",
                        );
                        ctx.push(f, HARDENING, line);
                    }
                }
            }
        }
        let env_line = container.get("env").line_or(line);
        ctx.push(checklist::root_token(&command, &lookup), HARDENING, env_line);
        let mlock_variable = match target.flavour {
            Flavour::Vault => lookup("VAULT_DISABLE_MLOCK"),
            Flavour::OpenBao => None,
        };
        let setting = server_config::mlock_setting(&files, mlock_variable.as_deref());
        // Vault 1.20 and later refuse to start unless disable_mlock is stated (the image tag says
        // which Vault it is; the configuration must have been read to tell).
        let tag = manifest::image_tag(container.get("image").text().unwrap_or("")).and_then(version);
        let unstated = configuration_read
            && !command.dev
            && target.flavour == Flavour::Vault
            && tag.is_some_and(|v| v >= (1, 20, 0))
            && setting.as_ref().is_ok_and(|s| s.source.is_none());
        let rule = setting.map(|setting| memory::choose_memory_rule(target.flavour, &command, &setting));
        if unstated {
            let f = Finding::new(
                "memory",
                Status::Fail,
                "the configuration does not state disable_mlock, and Vault 1.20 and later refuse to start without it",
                memory::WHY_MEMORY,
                "state disable_mlock = true (and keep the pod from swapping) or disable_mlock = false (with IPC_LOCK added)",
            );
            ctx.push(f, SWAP, container.get("image").line);
        } else {
            memory_finding(ctx, &rule);
        }
        memory_rule = rule.ok();
    }
    capabilities_finding(ctx, memory_rule.as_ref());
    user_finding(ctx);
    seccomp_finding(ctx);
    lsm_finding(ctx);
    root_filesystem_finding(ctx);
    namespaces_findings(ctx);
    signals(ctx, &env);
    privileged(ctx);
    escalation(ctx);
    if target.role == Role::Server {
        grace_period(ctx);
        high_availability(ctx, cluster, &files);
        tls_secret(ctx, &files);
        service_account_token(ctx, cluster, &files);
    }
    env_secrets(ctx, &env);
    image_digest(ctx);
    entrypoint(ctx);
}

fn memory_finding(ctx: &mut Ctx, rule: &Result<MemoryRule, server_config::ConfigError>) {
    let target = ctx.target;
    let why = memory::WHY_MEMORY;
    let resources = target.container.get("resources");
    let line = resources.line_or(0);
    let finding = match rule {
        Err(e) => Finding::new(
            "memory",
            Status::Fail,
            format!("cannot read the server's configuration as the server will: {e}"),
            why,
            "correct the configuration or the variable (the server reads it the same way)",
        ),
        Ok(MemoryRule::NotAServer) => pass("memory", "not a `server` command: no server memory to guard", why),
        Ok(MemoryRule::WarnOnly(w)) => warn(
            "memory",
            format!("{w}: its memory is not guarded"),
            why,
            "for production, run `server -config=...` without -dev",
        ),
        Ok(MemoryRule::Mlock(w)) => {
            let added = capabilities(target.container, "add").contains(&"IPC_LOCK".to_string());
            let privileged = target.container.at("securityContext.privileged").boolean() == Some(true);
            if added || privileged {
                pass("memory", format!("mlock rule ({w}): the container adds IPC_LOCK"), why)
            } else {
                Finding::new(
                    "memory",
                    Status::Fail,
                    format!(
                        "mlock rule ({w}): the server would not hold CAP_IPC_LOCK (securityContext.capabilities.add has no IPC_LOCK)"
                    ),
                    why,
                    "securityContext.capabilities.add: [\"IPC_LOCK\"]; or set disable_mlock = true and keep the pod from swapping (Guaranteed or BestEffort QoS, or NoSwap nodes)",
                )
            }
        }
        Ok(MemoryRule::Swap(w)) => {
            let memory = |field: &str| resources.at(&format!("{field}.memory")).text().map(str::to_string);
            let (limit, request) = (memory("limits"), memory("requests"));
            match manifest_qos(target) {
                Qos::Burstable
                    if request.as_deref().and_then(quantity).is_some_and(|r| r > 0.0)
                        && limit.as_deref().and_then(quantity) != request.as_deref().and_then(quantity) =>
                {
                    warn(
                        "memory",
                        format!(
                            "swap rule ({w}): the pod is Burstable and the server's memory request {} is below its limit {}: on a node with LimitedSwap its memory may be swapped out",
                            request.unwrap_or_default(),
                            limit.unwrap_or_else(|| "(none)".into())
                        ),
                        why,
                        "set the memory (and cpu) limits equal to the requests (Guaranteed QoS: never swapped), or mlock (disable_mlock = false with IPC_LOCK, Vault only), or keep the nodes on NoSwap",
                    )
                }
                qos => pass(
                    "memory",
                    format!(
                        "swap rule ({w}): the pod is {qos:?}: Kubernetes gives it no swap (NoSwap, and LimitedSwap swaps Burstable pods only)"
                    ),
                    why,
                ),
            }
        }
    };
    ctx.push(finding, SWAP, line);
}

fn manifest_qos(target: &Target) -> Qos {
    qos(target.workload.pod)
}

fn capabilities_finding(ctx: &mut Ctx, rule: Option<&MemoryRule>) {
    let target = ctx.target;
    let (add, drop) = (capabilities(target.container, "add"), capabilities(target.container, "drop"));
    let line =
        target.container.at("securityContext.capabilities").line_or(target.container.get("securityContext").line);
    let mut problems = Vec::new();
    if !drop.iter().any(|c| c == "ALL") && !target.hardinit {
        problems.push("capabilities.drop has no ALL: the runtime's default set (CHOWN, DAC_OVERRIDE, FOWNER, SETUID, SETGID, NET_RAW...) stays".to_string());
    }
    let needs_lock = matches!(rule, Some(MemoryRule::Mlock(_)));
    for cap in &add {
        if cap == "IPC_LOCK" {
            if target.flavour == Flavour::OpenBao {
                problems.push(
                    "IPC_LOCK is added, but OpenBao has no mlock since 2.0: it gives the server nothing".to_string(),
                );
            } else if !needs_lock && target.role == Role::Server {
                problems.push(
                    "IPC_LOCK is added, but the server does not lock its memory (disable_mlock or dev mode)"
                        .to_string(),
                );
            }
        } else {
            problems.push(format!("{cap} is added"));
        }
    }
    // Vault 2.0.1 to 2.1.x carry cap_ipc_lock=ep on the binary: exec fails ("Operation not
    // permitted") unless IPC_LOCK is in the bounding set or no_new_privs makes file capabilities
    // ignored.
    let image = target.container.get("image").text().unwrap_or("");
    let tag = manifest::image_tag(image).and_then(version);
    let escalation_off = target.container.at("securityContext.allowPrivilegeEscalation").boolean() == Some(false);
    if target.flavour == Flavour::Vault
        && tag.is_some_and(|v| ((2, 0, 1)..(2, 2, 0)).contains(&v))
        && !add.iter().any(|c| c == "IPC_LOCK")
        && !escalation_off
    {
        problems.push(format!("the image {image} (Vault 2.0.1 to 2.1.x) has cap_ipc_lock=ep on its binary: without IPC_LOCK added or allowPrivilegeEscalation: false it cannot be executed"));
    }
    let finding = if problems.is_empty() {
        let kept = if add.is_empty() { "none added".to_string() } else { format!("only {} added", add.join(", ")) };
        pass(
            "capabilities",
            format!(
                "capabilities: {kept}{}",
                if drop.iter().any(|c| c == "ALL") { ", ALL dropped" } else { ", hardinit drops the rest at start" }
            ),
            WHY_CAP,
        )
    } else {
        warn(
            "capabilities",
            problems.join("; "),
            WHY_CAP,
            "securityContext.capabilities: {drop: [ALL]}, and add IPC_LOCK only for a Vault that locks its memory (disable_mlock = false)",
        )
    };
    ctx.push(finding, PSS, line);
}

fn user_finding(ctx: &mut Ctx) {
    let target = ctx.target;
    let uid = security(target, "runAsUser");
    let non_root = security(target, "runAsNonRoot").boolean() == Some(true);
    let gid = security(target, "runAsGroup").integer();
    let line = uid.line_or(security(target, "runAsNonRoot").line);
    let finding = match uid.integer() {
        Some(0) if non_root => Finding::new(
            "user",
            Status::Fail,
            "runAsUser: 0 with runAsNonRoot: true: the kubelet refuses to start the container",
            WHY_USER,
            "runAsUser: 100 (vault), or with hardinit as the entrypoint start as root without runAsNonRoot",
        ),
        Some(0) if target.hardinit => {
            pass("user", "starts as uid 0: hardinit drops to the server's user before the server starts", WHY_USER)
        }
        Some(0) => warn(
            "user",
            "runAsUser: 0: the server runs as root",
            WHY_USER,
            "runAsNonRoot: true, runAsUser: 100 (vault) and runAsGroup: 1000, or hardinit as the entrypoint",
        ),
        None if !non_root && !target.hardinit => warn(
            "user",
            "no runAsUser and runAsNonRoot is not true: the image's USER decides, root included",
            WHY_USER,
            "runAsNonRoot: true, runAsUser: 100 (vault) and runAsGroup: 1000",
        ),
        _ if gid == Some(0) => warn(
            "user",
            "runAsGroup: 0: files writable by group 0 are writable by the server",
            WHY_USER,
            "runAsGroup: 1000",
        ),
        Some(uid) => {
            pass("user", format!("runs as uid {uid}{}", if non_root { ", runAsNonRoot" } else { "" }), WHY_USER)
        }
        None => pass(
            "user",
            if target.hardinit { "hardinit drops to the server's user" } else { "runAsNonRoot: true" },
            WHY_USER,
        ),
    };
    ctx.push(finding, PSS, line);
}

fn seccomp_finding(ctx: &mut Ctx) {
    let profile = security(ctx.target, "seccompProfile");
    let kind = profile.get("type").text();
    let finding = match kind {
        Some("RuntimeDefault" | "Localhost") => {
            pass("seccomp", format!("seccompProfile {} is in force", kind.unwrap_or("")), checklist::WHY_SECCOMP)
        }
        Some(other) => warn(
            "seccomp",
            format!("seccompProfile {other}: no seccomp filter"),
            checklist::WHY_SECCOMP,
            "Kubernetes seccompProfile: {type: RuntimeDefault}",
        ),
        None => warn(
            "seccomp",
            "no seccompProfile: the kubelet runs the container Unconfined unless started with --seccomp-default",
            checklist::WHY_SECCOMP,
            "Kubernetes seccompProfile: {type: RuntimeDefault}",
        ),
    };
    ctx.push(finding, PSS, profile.line);
}

fn lsm_finding(ctx: &mut Ctx) {
    let target = ctx.target;
    let profile = security(target, "appArmorProfile");
    let annotation =
        target.workload.annotations.get(&format!("container.apparmor.security.beta.kubernetes.io/{}", target.name));
    let selinux = security(target, "seLinuxOptions");
    let kind = profile.get("type").text().map(str::to_string).or_else(|| {
        annotation.text().map(|a| match a {
            "runtime/default" => "RuntimeDefault".to_string(),
            "unconfined" => "Unconfined".to_string(),
            other => other.to_string(),
        })
    });
    let why = checklist::WHY_LSM;
    let line = profile.line_or(annotation.line_or(selinux.line));
    let finding = match kind.as_deref() {
        Some("Unconfined") => warn(
            "lsm",
            "appArmorProfile Unconfined: no AppArmor profile confines the server",
            why,
            "appArmorProfile: {type: RuntimeDefault}",
        ),
        Some(kind) => pass("lsm", format!("AppArmor profile {kind}"), why),
        None if selinux.get("type").text().is_some_and(|t| t.contains("spc_t")) => warn(
            "lsm",
            "seLinuxOptions type spc_t: a super-privileged container, unconfined",
            why,
            "remove the seLinuxOptions type",
        ),
        None if !selinux.get("type").is_null() => {
            pass("lsm", format!("SELinux type {}", selinux.get("type").text().unwrap_or("")), why)
        }
        None => Finding::new(
            "lsm",
            Status::Skip,
            "no appArmorProfile or seLinuxOptions: the node's runtime default applies where the node has an LSM (hardinit checks it at start)",
            why,
            "appArmorProfile: {type: RuntimeDefault} to require it",
        ),
    };
    ctx.push(finding, PSS, line);
}

fn root_filesystem_finding(ctx: &mut Ctx) {
    let target = ctx.target;
    let field = target.container.at("securityContext.readOnlyRootFilesystem");
    let why = checklist::WHY_ROOT;
    let finding = if field.boolean() == Some(true) {
        // The charts' script writes its configuration copy to /tmp.
        let writes_tmp = target.script.as_deref().is_some_and(|s| s.contains("/tmp/"));
        let tmp_mounted = manifest::mount_of(target.container, target.workload.pod, "/tmp/x").is_some();
        if writes_tmp && !tmp_mounted {
            Finding::new(
                "root-filesystem",
                Status::Fail,
                "the root filesystem is read-only, but the container's script writes to /tmp, which no volume provides: the server would not start",
                why,
                "mount an emptyDir on /tmp",
            )
        } else {
            pass("root-filesystem", "the root filesystem is read-only", why)
        }
    } else {
        warn(
            "root-filesystem",
            "the root filesystem is writable",
            why,
            "docker run --read-only --tmpfs /tmp; Kubernetes readOnlyRootFilesystem: true with an emptyDir on /tmp",
        )
    };
    ctx.push(finding, K8S_SECURITY, field.line);
}

fn namespaces_findings(ctx: &mut Ctx) {
    let pod = ctx.target.workload.pod;
    let shared = pod.get("shareProcessNamespace");
    let host_pid = pod.get("hostPID");
    let mut problems = Vec::new();
    if shared.boolean() == Some(true) {
        problems.push("shareProcessNamespace: true: every container of the pod sees the server's processes");
    }
    if host_pid.boolean() == Some(true) {
        problems.push("hostPID: true: the host's processes share the server's PID namespace");
    }
    let finding = if problems.is_empty() {
        pass(
            "pid-namespace",
            "the pod has a PID namespace of its own (no shareProcessNamespace, no hostPID)",
            checklist::WHY_PID,
        )
    } else {
        warn(
            "pid-namespace",
            problems.join("; "),
            checklist::WHY_PID,
            "do not share the PID namespace (Kubernetes shareProcessNamespace: false, hostPID: false)",
        )
    };
    ctx.push(finding, SHARE_PID, shared.line_or(host_pid.line));
    let mut host = Vec::new();
    let mut line = 0;
    for (field, what) in [
        ("hostPID", "the host's processes"),
        ("hostIPC", "the host's shared memory and message queues"),
        ("hostNetwork", "the host's network stack and loopback"),
    ] {
        let node = pod.get(field);
        if node.boolean() == Some(true) {
            host.push(format!("{field}: true ({what})"));
            line = node.line;
        }
    }
    const WHY: &str =
        "a host namespace lets the server and whoever compromises it reach the node's processes, memory or network";
    let finding = if host.is_empty() {
        pass("host-namespaces", "no host namespace is shared", WHY)
    } else {
        warn("host-namespaces", host.join("; "), WHY, "remove hostPID, hostIPC and hostNetwork")
    };
    ctx.push(finding, PSS, line);
}

fn signals(ctx: &mut Ctx, env: &[(String, String, usize)]) {
    let target = ctx.target;
    if !target.hardinit {
        let f = Finding::new(
            "signals",
            Status::Skip,
            "hardinit is not the container's PID 1: its signal forwarding and rewrites do not apply",
            "a container stop must reach the server as a request to stop cleanly",
            "use hardinit's image as the entrypoint",
        );
        ctx.push(f, HARDINIT, 0);
        return;
    }
    let mut rewrites = hardinit::signals::Rewrites::default();
    let mut errors = Vec::new();
    let mut specs: Vec<String> = Vec::new();
    let argv: Vec<String> = manifest_strings(target.container.get("command"))
        .into_iter()
        .chain(manifest_strings(target.container.get("args")))
        .collect();
    let mut words = argv.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if let Some(spec) = word.strip_prefix("--rewrite=") {
            specs.extend(spec.split(',').map(str::to_string));
        } else if word == "--rewrite" {
            specs.extend(words.next().into_iter().flat_map(|s| s.split(',').map(str::to_string)));
        }
    }
    if specs.is_empty() {
        if let Some((_, value, _)) = env.iter().find(|(n, _, _)| n == "HARDINIT_REWRITE") {
            specs.extend(value.split(',').map(str::to_string));
        }
    }
    for spec in specs.iter().filter(|s| !s.is_empty()) {
        if let Err(e) = rewrites.add(spec) {
            errors.push(e);
        }
    }
    let finding = if errors.is_empty() {
        signals_finding(&rewrites)
    } else {
        Finding::new(
            "signals",
            Status::Fail,
            errors.join("; "),
            "a container stop must reach the server as a request to stop cleanly",
            "correct the --rewrite (hardinit refuses to start with it)",
        )
    };
    ctx.push(finding, HARDINIT, target.container.get("args").line_or(0));
}

fn manifest_strings(node: &Node) -> Vec<String> {
    node.items().iter().filter_map(|n| n.text()).map(str::to_string).collect()
}

fn privileged(ctx: &mut Ctx) {
    let field = ctx.target.container.at("securityContext.privileged");
    const WHY: &str = "a privileged container holds every capability and every device, without seccomp or AppArmor: no other guarantee holds";
    let finding = if field.boolean() == Some(true) {
        Finding::new(
            "privileged",
            Status::Fail,
            "securityContext.privileged: true",
            WHY,
            "remove privileged; add IPC_LOCK alone where mlock needs it",
        )
    } else {
        pass("privileged", "not privileged", WHY)
    };
    ctx.push(finding, PSS, field.line);
}

fn escalation(ctx: &mut Ctx) {
    let field = ctx.target.container.at("securityContext.allowPrivilegeEscalation");
    const WHY: &str =
        "without no_new_privs a setuid binary or file capabilities give a compromised server more than it started with";
    let finding = if field.boolean() == Some(false) {
        pass("privilege-escalation", "allowPrivilegeEscalation: false (no_new_privs)", WHY)
    } else if ctx.target.hardinit {
        pass("privilege-escalation", "hardinit sets no_new_privs for the server", WHY)
    } else {
        warn(
            "privilege-escalation",
            "allowPrivilegeEscalation is not false",
            WHY,
            "securityContext.allowPrivilegeEscalation: false",
        )
    };
    ctx.push(finding, PSS, field.line);
}

/// The seconds of the preStop hook's `sleep N`.
fn pre_stop_sleep(hook: &Node) -> Option<(i64, usize)> {
    let command = manifest_strings(hook.at("exec.command"));
    let text = command.join(" ");
    let commands = manifest::shell_commands(&text);
    let words = commands.iter().find(|w| w.first().is_some_and(|c| c == "sleep") || w.iter().any(|x| x == "sleep"))?;
    let at = words.iter().position(|w| w == "sleep")?;
    let seconds = words.get(at + 1)?.trim_end_matches('s').parse().ok()?;
    Some((seconds, hook.line))
}

fn grace_period(ctx: &mut Ctx) {
    let target = ctx.target;
    let field = target.workload.pod.get("terminationGracePeriodSeconds");
    let grace = field.integer().unwrap_or(30);
    let hook = target.container.at("lifecycle.preStop");
    const WHY: &str = "the kubelet kills the container when the grace period ends, and the preStop hook's time counts in it: the server must be left time to step down and close its storage";
    const LEFT: i64 = 5;
    let finding = match pre_stop_sleep(hook) {
        Some((sleep, _)) if grace - sleep < LEFT => warn(
            "grace-period",
            format!(
                "terminationGracePeriodSeconds {grace} leaves {} s after the preStop hook's sleep {sleep}",
                grace - sleep
            ),
            WHY,
            format!(
                "terminationGracePeriodSeconds of at least {} (the preStop sleep and {LEFT} s, as vault-helm's defaults leave)",
                sleep + LEFT
            ),
        ),
        Some((sleep, _)) => pass(
            "grace-period",
            format!(
                "terminationGracePeriodSeconds {grace} leaves {} s after the preStop hook's sleep {sleep}",
                grace - sleep
            ),
            WHY,
        ),
        None if grace < LEFT => warn(
            "grace-period",
            format!("terminationGracePeriodSeconds {grace}: under {LEFT} s to stop"),
            WHY,
            format!("terminationGracePeriodSeconds of at least {LEFT}"),
        ),
        None => pass("grace-period", format!("terminationGracePeriodSeconds {grace}, no preStop sleep"), WHY),
    };
    ctx.push(finding, TERMINATION, field.line_or(hook.line));
}

fn selects(selector: &Node, labels: &Node) -> bool {
    let wanted = selector.get("matchLabels").entries();
    let expressions = selector.get("matchExpressions").items();
    (!wanted.is_empty() || !expressions.is_empty())
        && wanted.iter().all(|(k, v)| labels.get(k).text() == v.text())
        && expressions.iter().all(|e| {
            let key = e.get("key").text().unwrap_or("");
            let values = manifest_strings(e.get("values"));
            let has = labels.get(key).text();
            match e.get("operator").text() {
                Some("In") => has.is_some_and(|h| values.iter().any(|v| v == h)),
                Some("NotIn") => !has.is_some_and(|h| values.iter().any(|v| v == h)),
                Some("Exists") => has.is_some(),
                Some("DoesNotExist") => has.is_none(),
                _ => false,
            }
        })
}

/// An absolute count or a percentage of `of` (rounded up, as the disruption controller does).
fn count_or_percent(node: &Node, of: i64) -> Option<i64> {
    let text = node.text()?;
    match text.strip_suffix('%') {
        Some(p) => p.parse::<i64>().ok().map(|p| (p * of + 99) / 100),
        None => text.parse().ok(),
    }
}

fn high_availability(ctx: &mut Ctx, cluster: &Cluster, files: &[ConfigFile]) {
    let target = ctx.target;
    let workload = target.workload;
    let Some(replicas) = workload.replicas.filter(|r| *r > 1) else { return };
    let quorum = replicas / 2 + 1;
    let tolerable = replicas - quorum;
    let raft = server_config::effective(files, Stanza::Storage).is_some_and(|b| b.kind.as_deref() == Some("raft"));
    const WHY_PDB: &str = "a drain evicts every pod it may at once: more than the cluster tolerates loses the raft quorum, and the cluster stops serving";
    let budgets: Vec<(usize, &Node)> = cluster
        .objects
        .iter()
        .filter(|(_, o)| {
            manifest::kind_of(o) == "PodDisruptionBudget"
                && manifest::same_namespace(manifest::namespace_of(o), &workload.namespace)
        })
        .filter(|(_, o)| selects(o.at("spec.selector"), workload.labels))
        .map(|(d, o)| (*d, *o))
        .collect();
    let what = if raft { "raft quorum" } else { "active/standby set" };
    let finding = match budgets.first() {
        None => warn(
            "disruption-budget",
            format!(
                "{replicas} replicas and no PodDisruptionBudget selects them: a drain may evict more than {tolerable} at once and lose the {what}"
            ),
            WHY_PDB,
            format!("a PodDisruptionBudget with maxUnavailable: {tolerable} (vault-helm server.ha.disruptionBudget)"),
        ),
        Some((_, budget)) => {
            let unavailable = count_or_percent(budget.at("spec.maxUnavailable"), replicas);
            let available = count_or_percent(budget.at("spec.minAvailable"), replicas);
            let allowed = unavailable.or(available.map(|a| replicas - a)).unwrap_or(replicas);
            if allowed > tolerable {
                warn(
                    "disruption-budget",
                    format!(
                        "the PodDisruptionBudget {} lets {allowed} of {replicas} go at once; the {what} survives {tolerable}",
                        manifest::name_of(budget)
                    ),
                    WHY_PDB,
                    format!("maxUnavailable: {tolerable}"),
                )
            } else {
                pass(
                    "disruption-budget",
                    format!(
                        "the PodDisruptionBudget {} lets at most {allowed} of {replicas} go at once",
                        manifest::name_of(budget)
                    ),
                    WHY_PDB,
                )
            }
        }
    };
    ctx.push(finding, QUORUM, budgets.first().map_or(workload.line, |(_, b)| b.line));
    let anti = workload.pod.at("affinity.podAntiAffinity");
    let required = anti
        .get("requiredDuringSchedulingIgnoredDuringExecution")
        .items()
        .iter()
        .any(|t| t.get("topologyKey").text().is_some());
    let spread =
        workload.pod.get("topologySpreadConstraints").items().iter().any(|c| {
            c.get("whenUnsatisfiable").text() == Some("DoNotSchedule") && c.get("maxSkew").integer() == Some(1)
        });
    const WHY_SPREAD: &str = "servers scheduled on one node fall together when it does, quorum with them";
    let finding = if required || spread {
        pass(
            "anti-affinity",
            if required {
                "required pod anti-affinity keeps the servers on different nodes"
            } else {
                "a topology spread constraint (maxSkew 1, DoNotSchedule) spreads the servers"
            },
            WHY_SPREAD,
        )
    } else {
        warn(
            "anti-affinity",
            format!(
                "nothing keeps the {replicas} servers on different nodes (no required podAntiAffinity, no DoNotSchedule topologySpreadConstraints)"
            ),
            WHY_SPREAD,
            "affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution on kubernetes.io/hostname (vault-helm's default server.affinity)",
        )
    };
    ctx.push(finding, SPREAD, anti.line_or(workload.pod.get("affinity").line));
}

fn tls_secret(ctx: &mut Ctx, files: &[ConfigFile]) {
    let target = ctx.target;
    const WHY: &str = "a key in a ConfigMap, the image or a host path is readable by whoever reads those; a Secret is access-controlled apart and mounted in memory";
    let mut named = Vec::new();
    for listener in server_config::blocks(files, Stanza::Listener) {
        for key in LISTENER_TLS_KEYS {
            if let Some(path) = listener.setting(key).and_then(|(l, _)| l.as_text().map(str::to_string)) {
                named.push((key, path));
            }
        }
    }
    if named.is_empty() {
        let f = Finding::new("tls-secret", Status::Skip, "no listener names a TLS file", WHY, "nothing to do");
        ctx.push(f, TLS_SECRET, 0);
        return;
    }
    let mut problems = Vec::new();
    let mut line = 0;
    for (key, path) in &named {
        match manifest::mount_of(target.container, target.workload.pod, path) {
            Some((mount, volume, _)) => {
                let kind = manifest::volume_kind(volume);
                let secret =
                    kind == "secret" || kind == "csi" || (kind.starts_with("projected") && !kind.contains("configMap"));
                if !secret {
                    problems.push(format!("{key} {path} comes from a {kind} volume"));
                    line = mount.line;
                }
            }
            None => problems.push(format!("{key} {path} is on no volume (the image's own file)")),
        }
    }
    let finding = if problems.is_empty() {
        pass(
            "tls-secret",
            format!(
                "the TLS files ({}) come from Secret volumes",
                named.iter().map(|(_, p)| p.as_str()).collect::<Vec<_>>().join(", ")
            ),
            WHY,
        )
    } else {
        warn(
            "tls-secret",
            problems.join("; "),
            WHY,
            "mount the certificate and key from a Secret (server.volumes and server.volumeMounts, or extraVolumes of type secret)",
        )
    };
    ctx.push(finding, TLS_SECRET, line);
}

fn env_secrets(ctx: &mut Ctx, env: &[(String, String, usize)]) {
    const WHY: &str = "a value written in the manifest is in the chart's values, the release history and every copy of the manifest, readable by whoever can read the workload";
    const WORDS: [&str; 9] =
        ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "PIN", "PRIVATE_KEY", "ACCESS_KEY", "CREDENTIAL", "UNSEAL"];
    let mut problems = Vec::new();
    let mut line = 0;
    let literal = ctx.target.container.get("env").items().iter().filter(|e| !e.get("value").is_null());
    for entry in literal {
        let name = entry.get("name").text().unwrap_or("");
        let upper = name.to_ascii_uppercase();
        let value = env.iter().find(|(n, _, _)| n == name).map(|(_, v, _)| v.as_str()).unwrap_or("");
        let reference = value.starts_with("env://") || value.starts_with("file://") || value.is_empty();
        let words = upper.split('_').collect::<Vec<_>>();
        let secret = WORDS.iter().any(|w| if w.contains('_') { upper.contains(w) } else { words.contains(w) });
        if secret && !reference {
            problems.push(format!("{name} has its value written in the manifest"));
            line = entry.line;
        }
    }
    let finding = if problems.is_empty() {
        pass("env-secrets", "no secret-named variable has a value written in the manifest", WHY)
    } else {
        warn(
            "env-secrets",
            problems.join("; "),
            WHY,
            "valueFrom.secretKeyRef (or a file from a Secret volume); a token in the server's environment is better not there at all",
        )
    };
    ctx.push(finding, ENV_SECRETS, line);
}

fn service_account_token(ctx: &mut Ctx, cluster: &Cluster, files: &[ConfigFile]) {
    let workload = ctx.target.workload;
    let field = workload.pod.get("automountServiceAccountToken");
    let account = workload.pod.get("serviceAccountName").text().unwrap_or("default");
    let from_account = cluster
        .find("ServiceAccount", account, &workload.namespace)
        .map(|(_, a)| a.get("automountServiceAccountToken"));
    let mounted = field.boolean().or_else(|| from_account.and_then(Node::boolean)).unwrap_or(true);
    const WHY: &str =
        "a mounted service account token lets whoever compromises the container call the Kubernetes API as the pod";
    let registers = server_config::blocks(files, Stanza::ServiceRegistration)
        .iter()
        .any(|b| b.kind.as_deref() == Some("kubernetes"));
    let finding = if !mounted {
        pass("service-account-token", "automountServiceAccountToken: false", WHY)
    } else if registers {
        pass("service-account-token", "the token is mounted: service_registration \"kubernetes\" uses it", WHY)
    } else {
        warn(
            "service-account-token",
            format!(
                "the service account {account}'s token is mounted, and the configuration registers nothing with Kubernetes"
            ),
            WHY,
            "automountServiceAccountToken: false, unless a kubernetes auth method reviews tokens with the server's own (then keep it and say so with --allow service-account-token)",
        )
    };
    ctx.push(finding, SA_TOKEN, field.line);
}

fn image_digest(ctx: &mut Ctx) {
    let field = ctx.target.container.get("image");
    let image = field.text().unwrap_or("");
    const WHY: &str = "a tag can be moved to another image; a digest names one image for good";
    let finding = if image.contains("@sha256:") {
        pass("image-digest", format!("{image} is pinned by digest"), WHY)
    } else {
        warn(
            "image-digest",
            format!("{image} is not pinned by digest"),
            WHY,
            "name the image by digest (repository:tag@sha256:...)",
        )
    };
    ctx.push(finding, DIGEST, field.line);
}

fn entrypoint(ctx: &mut Ctx) {
    let target = ctx.target;
    const WHY: &str = "hardinit checks at every start what no manifest shows: the memory guard proven, the configuration and TLS files' owners and modes, the storage, the audit volume, core dumps, open files";
    let mut finding = if target.hardinit {
        pass("entrypoint", "hardinit is the container's PID 1: the in-container checks run at every start", WHY)
    } else {
        warn(
            "entrypoint",
            "hardinit is not the container's PID 1: nothing checks the memory guard, config-files, tls-files, storage, audit, core dumps or open-files at start, and a shell as PID 1 ignores SIGTERM",
            WHY,
            "use hardinit's image (its /bin/sh runs the charts' scripts)",
        )
    };
    if target.image_default {
        finding.summary.push_str("; no command or args: the image's default command (server -dev) was assumed");
    }
    ctx.push(finding, HARDINIT, target.container.get("image").line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_and_qos() {
        assert_eq!(quantity("512Mi"), Some(536870912.0));
        assert_eq!(quantity("250m"), Some(0.25));
        assert_eq!(quantity("1e3"), Some(1000.0));
        assert_eq!(quantity("x"), None);
        let pod = |text: &str| super::super::yaml::documents(text).unwrap().remove(0).root;
        assert_eq!(qos(&pod("containers: [{name: a}]")), Qos::BestEffort);
        assert_eq!(qos(&pod("containers: [{resources: {limits: {cpu: 1, memory: 1Gi}}}]")), Qos::Guaranteed);
        assert_eq!(
            qos(&pod("containers: [{resources: {limits: {cpu: 1, memory: 1Gi}, requests: {memory: 512Mi}}}]")),
            Qos::Burstable
        );
    }

    #[test]
    fn the_charts_substitutions() {
        let script = "cp /vault/config/x.hcl /tmp/s.hcl;\n[ -n \"${POD_IP}\" ] && sed -Ei \"s|POD_IP|${POD_IP?}|g\" /tmp/s.hcl;\n";
        let (source, replaced) = substitutions(script, "/tmp/s.hcl");
        assert_eq!(source.as_deref(), Some("/vault/config/x.hcl"));
        assert_eq!(replaced, [("POD_IP".to_string(), "${POD_IP?}".to_string())]);
        assert_eq!(variable_of("${POD_IP?}"), Some("POD_IP"));
        assert_eq!(version("v2.6.2"), Some((2, 6, 2)));
        assert_eq!(version("1.20-ent"), Some((1, 20, 0)));
    }
}
