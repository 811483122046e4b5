//! The rules only a manifest shows: the grace period, the disruption budget and spread of an HA
//! cluster, where the TLS files and the variables come from, the service account token, the
//! image's digest, and whether hardinit is the PID 1.

use super::*;

/// The seconds of the preStop hook's `sleep N`.
pub(super) fn pre_stop_sleep(hook: &Node) -> Option<(i64, usize)> {
    let command = manifest::strings(hook.at("exec.command"));
    let text = command.join(" ");
    let commands = manifest::shell_commands(&text);
    let words = commands.iter().find(|w| w.first().is_some_and(|c| c == "sleep") || w.iter().any(|x| x == "sleep"))?;
    let at = words.iter().position(|w| w == "sleep")?;
    let seconds = words.get(at + 1)?.trim_end_matches('s').parse().ok()?;
    Some((seconds, hook.line))
}

pub(super) fn grace_period(ctx: &mut Ctx) {
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

pub(super) fn selects(selector: &Node, labels: &Node) -> bool {
    let wanted = selector.get("matchLabels").entries();
    let expressions = selector.get("matchExpressions").items();
    (!wanted.is_empty() || !expressions.is_empty())
        && wanted.iter().all(|(k, v)| labels.get(k).text() == v.text())
        && expressions.iter().all(|e| {
            let key = e.get("key").text().unwrap_or("");
            let values = manifest::strings(e.get("values"));
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
pub(super) fn count_or_percent(node: &Node, of: i64) -> Option<i64> {
    let text = node.text()?;
    match text.strip_suffix('%') {
        Some(p) => p.parse::<i64>().ok().map(|p| (p * of + 99) / 100),
        None => text.parse().ok(),
    }
}

pub(super) fn high_availability(ctx: &mut Ctx, cluster: &Cluster, files: &[ConfigFile]) {
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

pub(super) fn tls_secret(ctx: &mut Ctx, files: &[ConfigFile]) {
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

pub(super) fn env_secrets(ctx: &mut Ctx, env: &[(String, String, usize)]) {
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

pub(super) fn service_account_token(ctx: &mut Ctx, cluster: &Cluster, files: &[ConfigFile]) {
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

pub(super) fn image_digest(ctx: &mut Ctx) {
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

pub(super) fn entrypoint(ctx: &mut Ctx) {
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
