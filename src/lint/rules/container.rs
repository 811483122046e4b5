//! The in-container checks a container's securityContext and its pod decide (capabilities, user,
//! seccomp, lsm, root-filesystem, pid-namespace, signals), with the ids and texts of
//! `hardinit check`, and the container rules beside them (privileged, host-namespaces,
//! privilege-escalation).

use super::*;

pub(super) fn capabilities(node: &Node, field: &str) -> Vec<String> {
    node.at(&format!("securityContext.capabilities.{field}"))
        .items()
        .iter()
        .filter_map(|c| c.text())
        .map(|c| c.trim_start_matches("CAP_").to_ascii_uppercase())
        .collect()
}

pub(super) fn capabilities_finding(ctx: &mut Ctx, rule: Option<&MemoryRule>) {
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
            } else if rule.is_some() && !needs_lock && target.role == Role::Server {
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

pub(super) fn user_finding(ctx: &mut Ctx) {
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

pub(super) fn seccomp_finding(ctx: &mut Ctx) {
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

pub(super) fn lsm_finding(ctx: &mut Ctx) {
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

pub(super) fn root_filesystem_finding(ctx: &mut Ctx) {
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

pub(super) fn namespaces_findings(ctx: &mut Ctx) {
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

pub(super) fn signals(ctx: &mut Ctx, env: &[(String, String, usize)]) {
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
    let argv: Vec<String> = manifest::strings(target.container.get("command"))
        .into_iter()
        .chain(manifest::strings(target.container.get("args")))
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

pub(super) fn privileged(ctx: &mut Ctx) {
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

pub(super) fn escalation(ctx: &mut Ctx) {
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
