//! The checklist on a manifest: for each Vault or OpenBao container, the in-container checks a
//! manifest decides (the library's own, with the same ids and texts, fed the configuration from
//! the ConfigMap), then the rules only a manifest shows (the pod's namespaces, its disruption
//! budget, where its TLS files and variables come from), each with its source.

use super::manifest::{self, Role, Target, Workload};
use super::yaml::Node;
use hardinit::check::signals_finding;
use hardinit::harden::memory::{self, Flavour, MemoryRule};
use hardinit::harden::server_config::{self, ConfigFile, LISTENER_TLS_KEYS, Stanza};
use hardinit::harden::server_flags::{OPENBAO, OPENBAO_BEFORE_2_7, ServerCommand, ServerRules, VAULT};
use hardinit::harden::{Finding, Status, WHY_CAP, WHY_USER, checklist};
use std::ffi::OsString;
use std::path::PathBuf;

mod config;
mod container;
mod memory_guard;
mod pod;

use config::*;
use container::*;
use memory_guard::*;
use pod::*;

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
        // The image's tag names the server's release where the in-container reader cannot know it:
        // OpenBao 2.6 still has the file storage 2.7 refuses (openbao-helm 0.29.2's default).
        Flavour::OpenBao
            if manifest::image_tag(container.get("image").text().unwrap_or(""))
                .and_then(version)
                .is_some_and(|v| v < (2, 7, 0)) =>
        {
            &OPENBAO_BEFORE_2_7
        }
        Flavour::OpenBao => &OPENBAO,
    };
    let args: Vec<OsString> = target.args.iter().map(OsString::from).collect();
    let command = ServerCommand::parse(rules, &args, &lookup);
    let mut memory_rule = None;
    let mut files: Vec<ConfigFile> = Vec::new();
    let mut configuration_read = false;
    // Why the configuration could not be judged, and whether that is a FAIL or a SKIP.
    let mut unread: Option<(Status, String)> = None;
    if target.role == Role::Server {
        let line = container.get("args").line_or(container.get("command").line);
        if let Some(why) = &command.refused {
            unread = Some((Status::Fail, why.clone()));
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
                    unread = Some((status, why.clone()));
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
        if let Some((status, why)) = &unread {
            let f = Finding::new(
                "memory",
                *status,
                format!("not evaluated: {why}"),
                memory::WHY_MEMORY,
                "the memory rule follows the configuration: put the ConfigMap the server mounts in the manifests linted, or correct it",
            );
            ctx.push(f, SWAP, line);
        } else if unstated {
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
        memory_rule = rule.ok().filter(|_| unread.is_none());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_versions() {
        assert_eq!(version("v2.6.2"), Some((2, 6, 2)));
        assert_eq!(version("1.20-ent"), Some((1, 20, 0)));
        assert_eq!(version("latest"), None);
    }
}
