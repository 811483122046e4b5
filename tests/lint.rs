//! hardinit-lint on the unmodified vault-helm 0.34.1 and openbao-helm 0.29.2 charts
//! (tests/fixtures/lint/charts), rendered by a real helm v4.1.4 (scripts/fetch-helm.sh) in every
//! mode of shared/fixtures/helm/SOURCE.txt and with the injector, each render's findings as the
//! README lists them; broken variants made with --set and -f, each caught; SARIF validated
//! against the SARIF 2.1.0 schema; the exit codes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

const LINT: &str = env!("CARGO_BIN_EXE_hardinit-lint");

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn helm() -> &'static Path {
    static HELM: OnceLock<PathBuf> = OnceLock::new();
    HELM.get_or_init(|| {
        if let Some(path) = std::env::var_os("HARDINIT_HELM_BIN") {
            return PathBuf::from(path);
        }
        let out = Command::new("bash").arg(root().join("scripts/fetch-helm.sh")).output().expect("bash");
        assert!(out.status.success(), "fetch-helm.sh: {}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
}

/// `helm template NAME CHART -n default ARGS...` of the chart copied unmodified into the fixtures.
fn render(chart: &str, args: &[&str]) -> String {
    let charts = root().join("tests/fixtures/lint/charts");
    let out = Command::new(helm())
        .current_dir(&charts)
        .env("HELM_CACHE_HOME", std::env::temp_dir().join("hardinit-lint-helm-cache"))
        .env("HELM_CONFIG_HOME", std::env::temp_dir().join("hardinit-lint-helm-config"))
        .env("HELM_DATA_HOME", std::env::temp_dir().join("hardinit-lint-helm-data"))
        .args(["template", chart, chart, "-n", "default"])
        .args(args)
        .output()
        .expect("helm");
    assert!(out.status.success(), "helm template {chart} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn lint(manifest: &str, flags: &[&str]) -> Output {
    let mut child = Command::new(LINT)
        .args(flags)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(manifest.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// The findings that are not PASS, as `STATUS id` per container, in report order.
fn verdicts(manifest: &str) -> Vec<String> {
    let out = lint(manifest, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] != "PASS")
        .map(|c| {
            format!("{} {} {}", c["object"].as_str().unwrap(), c["status"].as_str().unwrap(), c["id"].as_str().unwrap())
        })
        .collect()
}

const ZONES_VALUES: &str = "server:
  ha:
    enabled: true
    raft:
      enabled: true
      redundancyZones:
        enabled: true
      config: |
        ui = true

        listener \"tcp\" {
          tls_disable = 1
          address = \"[::]:8200\"
          cluster_address = \"[::]:8201\"
          # Enable unauthenticated metrics access (necessary for Prometheus Operator)
          #telemetry {
          #  unauthenticated_metrics_access = \"true\"
          #}
        }

        storage \"raft\" {
          path = \"/vault/data\"
          # Uncomment for Vault Enterprise redundancy zones (requires server.ha.raft.redundancyZones.enabled = true)
          autopilot_redundancy_zone = \"VAULT_REDUNDANCY_ZONE\"
        }

        service_registration \"kubernetes\" {}
";

fn values_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("hardinit-lint-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

/// The modes of shared/fixtures/helm/SOURCE.txt, and the injector on.
fn modes(chart: &str) -> Vec<(&'static str, Vec<String>)> {
    let set = |v: &str| vec!["--set".to_string(), v.to_string()];
    let mut modes = vec![
        ("dev", set("server.dev.enabled=true")),
        ("standalone", vec![]),
        ("ha", set("server.ha.enabled=true")),
        ("ha-raft", set("server.ha.enabled=true,server.ha.raft.enabled=true")),
        ("standalone-extraargs", set("server.extraArgs=-log-level=debug -log-format=json")),
        ("injector", set("injector.enabled=true")),
    ];
    if chart == "vault" {
        let file = values_file("zones.yaml", ZONES_VALUES);
        modes.push((
            "ha-raft-zones",
            vec!["--kube-version".into(), "1.35.0".into(), "-f".into(), file.display().to_string()],
        ));
    }
    modes
}

include!("fixtures/lint/expected.rs");

#[test]
fn each_default_render_gives_the_findings_the_readme_lists() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut failures = Vec::new();
    for chart in ["vault", "openbao"] {
        for (mode, args) in modes(chart) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let got = verdicts(&render(chart, &args));
            let want: Vec<String> = expected(chart, mode).iter().map(|s| s.to_string()).collect();
            if got != want {
                failures.push(format!("{chart} {mode}:\n  got  {got:#?}\n  want {want:#?}"));
            }
            // The README lists each render's findings, as `chart mode: STATUS id, ...`.
            let line = format!("| {chart} | {mode} | {} |", readme_cell(&want));
            if !readme.contains(&line) {
                failures.push(format!("README.md lacks the line {line}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The findings of one render as the README's table cell: `WARN tls, WARN seccomp` (the
/// injector's and the server's containers named where more than one).
fn readme_cell(want: &[String]) -> String {
    let mut objects: Vec<&str> = Vec::new();
    for w in want {
        let object = w.rsplitn(3, ' ').nth(2).unwrap();
        if !objects.contains(&object) {
            objects.push(object);
        }
    }
    objects
        .iter()
        .map(|object| {
            let ids: Vec<String> = want
                .iter()
                .filter(|w| w.rsplitn(3, ' ').nth(2).unwrap() == *object)
                .map(|w| w.rsplitn(3, ' ').take(2).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join(" "))
                .collect();
            format!("{object}: {}", ids.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Broken variants a user makes with --set and -f: each caught, with the finding that says so.
#[test]
fn broken_variants_are_caught() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("vault", &["--set", "server.statefulSet.securityContext.container.privileged=true"], "FAIL privileged"),
        ("openbao", &["--set", "server.statefulSet.securityContext.container.privileged=true"], "FAIL privileged"),
        ("vault", &["--set", "server.hostNetwork=true"], "WARN host-namespaces"),
        ("vault", &["--set", "server.shareProcessNamespace=true"], "WARN pid-namespace"),
        ("openbao", &["--set", "server.shareProcessNamespace=true"], "WARN pid-namespace"),
        ("vault", &["--set", "server.extraEnvironmentVars.VAULT_TOKEN=hvs.0123456789"], "WARN root-token"),
        ("vault", &["--set", "server.extraEnvironmentVars.VAULT_TOKEN=hvs.0123456789"], "WARN env-secrets"),
        ("openbao", &["--set", "server.extraEnvironmentVars.BAO_TOKEN=s.0123456789"], "WARN root-token"),
        (
            "vault",
            &["--set", "server.resources.requests.memory=256Mi,server.resources.limits.memory=512Mi"],
            "WARN memory",
        ),
        (
            "openbao",
            &["--set", "server.resources.requests.memory=256Mi,server.resources.limits.memory=512Mi"],
            "WARN memory",
        ),
        (
            "vault",
            &["--set", "server.ha.enabled=true,server.ha.disruptionBudget.enabled=false"],
            "WARN disruption-budget",
        ),
        ("vault", &["--set", "server.ha.enabled=true,server.affinity="], "WARN anti-affinity"),
        (
            "vault",
            &["--set", "server.ha.enabled=true,server.ha.disruptionBudget.maxUnavailable=2"],
            "WARN disruption-budget",
        ),
        ("vault", &["--set", "server.preStopSleepSeconds=10"], "WARN grace-period"),
        (
            "vault",
            &[
                "--set",
                "server.standalone.config=listener \"tcp\" { address = \"[::]:8200\"\n tls_disable = 1\n telemetry { unauthenticated_metrics_access = true } }",
            ],
            "WARN metrics",
        ),
    ];
    let mut failures = Vec::new();
    for (chart, args, want) in cases {
        let default = verdicts(&render(chart, &[]));
        let got = verdicts(&render(chart, args));
        let server = format!("StatefulSet default/{chart}, container {chart} {want}");
        if default.contains(&server) || !got.contains(&server) {
            failures.push(format!("{chart} {args:?}: want {want} (not in the default render), got {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The charts with values that meet every check (tests/fixtures/lint/hardened-*.yaml) and
/// hardinit's image: every check a PASS, so --strict exits 0.
fn hardened(chart: &str, extra: &[&str]) -> String {
    let values = root().join(format!("tests/fixtures/lint/hardened-{chart}.yaml"));
    let image = format!("server.image.repository={chart}-hardinit");
    let mut args = vec!["-f", values.to_str().unwrap(), "--set", &image];
    args.extend_from_slice(extra);
    render(chart, &args)
}

#[test]
fn a_hardened_render_passes_every_check() {
    for chart in ["vault", "openbao"] {
        let manifest = hardened(chart, &[]);
        assert_eq!(verdicts(&manifest), Vec::<String>::new(), "{chart}");
        let out = lint(&manifest, &["--strict", "--format", "json"]);
        assert_eq!(out.status.code(), Some(0), "{chart}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        for id in [
            "tls",
            "tls-verify",
            "memory",
            "capabilities",
            "seccomp",
            "lsm",
            "signals",
            "disruption-budget",
            "anti-affinity",
            "tls-secret",
            "entrypoint",
        ] {
            assert!(ids.contains(&id), "{chart}: {id} not judged: {ids:?}");
        }
    }
}

/// What breaks the hardened render, each caught.
#[test]
fn broken_variants_of_the_hardened_render_are_caught() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("vault", &["--set", "server.statefulSet.securityContext.container.privileged=true"], "FAIL privileged"),
        ("vault", &["--set", "server.extraEnvironmentVars.HARDINIT_REWRITE=TERM:0"], "WARN signals"),
        ("openbao", &["--set", "server.extraEnvironmentVars.HARDINIT_REWRITE=TERM:KILL"], "WARN signals"),
        ("vault", &["--set", "server.extraEnvironmentVars.HARDINIT_REWRITE=TERM:NOPE"], "FAIL signals"),
        ("vault", &["--set", "server.volumeMounts=null"], "FAIL root-filesystem"),
        ("vault", &["--set", "server.volumeMounts=null"], "WARN tls-secret"),
        (
            "vault",
            &["--set", "server.statefulSet.securityContext.container.capabilities.add={SYS_ADMIN}"],
            "WARN capabilities",
        ),
        (
            "openbao",
            &["--set", "server.statefulSet.securityContext.container.capabilities.add={IPC_LOCK}"],
            "WARN capabilities",
        ),
        ("vault", &["--set", "server.image.tag=2.0.4"], "WARN image-digest"),
        ("vault", &["--set", "server.statefulSet.securityContext.pod.seccompProfile.type=Unconfined"], "WARN seccomp"),
        ("openbao", &["--set", "server.statefulSet.securityContext.pod.appArmorProfile.type=Unconfined"], "WARN lsm"),
        ("vault", &["--set", "server.statefulSet.securityContext.pod.runAsUser=0"], "FAIL user"),
        ("vault", &["--set", "server.terminationGracePeriodSeconds=6"], "WARN grace-period"),
        (
            "vault",
            &["--set", "server.ha.replicas=5,server.ha.disruptionBudget.maxUnavailable=3"],
            "WARN disruption-budget",
        ),
        ("openbao", &["--set", "server.resources.limits.memory=2Gi"], "WARN memory"),
    ];
    let mut failures = Vec::new();
    for (chart, args, want) in cases {
        let got = verdicts(&hardened(chart, args));
        let server = format!("StatefulSet default/{chart}, container {chart} {want}");
        if !got.contains(&server) {
            failures.push(format!("{chart} {args:?}: want {want}, got {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What the configuration in the ConfigMap breaks, as a user writes it in the values, each caught
/// by the in-container check of the same id.
#[test]
fn configuration_variants_of_the_hardened_render_are_caught() {
    let hardened = std::fs::read_to_string(root().join("tests/fixtures/lint/hardened-vault.yaml")).unwrap();
    let anchor = "        service_registration \"kubernetes\" {}\n";
    assert!(hardened.contains(anchor));
    let cases: &[(&str, &[&str])] = &[
        (
            "        seal \"transit\" {\n          address = \"https://transit:8200\"\n          token = \"s.0123456789\"\n          tls_skip_verify = \"true\"\n        }\n",
            &["WARN tls-verify", "WARN seal-credentials"],
        ),
        ("        raw_storage_endpoint = true\n", &["WARN raw-storage"]),
        (
            "        listener \"tcp\" {\n          address = \"127.0.0.1:8300\"\n          tls_disable = true\n        }\n",
            &["WARN tls"],
        ),
        ("        disable_mlock = false\n", &["FAIL memory"]),
    ];
    for (added, wants) in cases {
        let values = values_file("variant.yaml", &hardened.replace(anchor, &format!("{anchor}{added}")));
        let image = "server.image.repository=vault-hardinit";
        let got = verdicts(&render("vault", &["-f", values.to_str().unwrap(), "--set", image]));
        let _ = std::fs::remove_file(&values);
        for want in *wants {
            assert!(
                got.contains(&format!("StatefulSet default/vault, container vault {want}")),
                "{added}: {want}: {got:#?}"
            );
        }
    }
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    let manifest = render("vault", &["--set", "server.ha.enabled=true,server.ha.raft.enabled=true"]);
    let out = lint(&manifest, &["--format", "sarif", "--name", "charts/vault.yaml", "--allow", "image-digest"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let results = report["runs"][0]["results"].as_array().unwrap();
    assert!(results.iter().any(|r| r["ruleId"] == "tls" && r["level"] == "warning"), "{results:#?}");
    let tls = results.iter().find(|r| r["ruleId"] == "tls").unwrap();
    let region = &tls["locations"][0]["physicalLocation"]["region"]["startLine"];
    // The line of `tls_disable = 1` in the rendered ConfigMap.
    let line = manifest.lines().nth(region.as_u64().unwrap() as usize - 1).unwrap();
    assert!(line.contains("tls_disable = 1"), "line {region}: {line}");
    let sarif = values_file("report.sarif", std::str::from_utf8(&out.stdout).unwrap());
    let schema = root().join("tests/fixtures/lint/sarif-2.1.0-rtm.5.json");
    let check = Command::new("python3")
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             schema = json.load(open(sys.argv[1])); report = json.load(open(sys.argv[2]))\n\
             jsonschema.Draft4Validator.check_schema(schema)\n\
             errors = list(jsonschema.Draft4Validator(schema).iter_errors(report))\n\
             [print(e.message) for e in errors]\n\
             bad = dict(report); bad['version'] = '2.0'\n\
             assert list(jsonschema.Draft4Validator(schema).iter_errors(bad)), 'the schema accepts anything'\n\
             sys.exit(1 if errors else 0)",
        ])
        .arg(&schema)
        .arg(&sarif)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&sarif);
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// The Vault Agent Injector's containers as vault-k8s adds them to an application pod
/// (shared/fixtures/injector, copied into tests/fixtures/lint/injector), in a pod with the image
/// vault-helm's injector.agentImage names: both found as agents by their script, checked as
/// containers (no server configuration), the application container left alone.
#[test]
fn injected_agent_containers_are_found() {
    let load = |name: &str| {
        let path = root().join(format!("tests/fixtures/lint/injector/{name}.json"));
        let mut container: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        container["image"] = "hashicorp/vault:2.0.4".into();
        for (i, mount) in container["volumeMounts"].as_array_mut().unwrap().iter_mut().enumerate() {
            mount.as_object_mut().unwrap().remove("what");
            mount["name"] = format!("volume-{i}").into();
        }
        container
    };
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "default"},
        "spec": {"initContainers": [load("agent-init")], "containers": [{"name": "app", "image": "busybox"}, load("agent-sidecar")]}
    });
    // JSON is YAML.
    let got = verdicts(&pod.to_string());
    let mut want = Vec::new();
    for container in ["vault-agent-init", "vault-agent"] {
        for verdict in ["WARN seccomp", "SKIP lsm", "SKIP signals", "WARN image-digest", "WARN entrypoint"] {
            want.push(format!("Pod default/app, container {container} {verdict}"));
        }
    }
    assert_eq!(got, want);
    let out = lint(&pod.to_string(), &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = report["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"tls") && !ids.contains(&"memory") && ids.contains(&"capabilities"), "{ids:?}");
}

/// The charts' placeholders (HOSTNAME, RAFT_ADDR...) replaced as their script's sed does: by
/// the variable's value, or where the kubelet takes it from; a placeholder whose variable is not
/// set stays as it is.
#[test]
fn the_charts_placeholders_are_substituted() {
    let values = values_file(
        "placeholders.yaml",
        "server:\n  extraEnvironmentVars:\n    RAFT_ADDR: 127.0.0.1\n  standalone:\n    config: |\n      listener \"tcp\" {\n        address = \"HOSTNAME:8200\"\n        tls_disable = 1\n      }\n      listener \"tcp\" {\n        address = \"RAFT_ADDR:8210\"\n        tls_disable = 1\n      }\n      listener \"tcp\" {\n        address = \"TRANSIT_ADDR:8220\"\n        tls_disable = 1\n      }\n      storage \"raft\" {\n        path = \"/vault/data\"\n      }\n",
    );
    let manifest = render("vault", &["-f", values.to_str().unwrap()]);
    let _ = std::fs::remove_file(&values);
    let out = lint(&manifest, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tls = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "tls").unwrap();
    let summary = tls["summary"].as_str().unwrap();
    for want in [
        "the listener on <metadata.name>:8200 (reachable from the network)",
        "the listener on 127.0.0.1:8210 (loopback only)",
        "the listener on TRANSIT_ADDR:8220 (reachable from the network)",
    ] {
        assert!(summary.contains(want), "{want}: {summary}");
    }
}

/// A pod no chart makes: hostPID (the charts have no value for it), the image's entrypoint
/// given `server` in args, a configuration directory of HCL and JSON keys, mlock left on.
#[test]
fn a_hand_written_pod() {
    let manifest = "apiVersion: v1
kind: Pod
metadata: {name: v}
spec:
  hostPID: true
  containers:
  - name: vault
    image: hashicorp/vault:1.20.0
    args: [server, -config=/vault/config]
    volumeMounts: [{name: c, mountPath: /vault/config}]
  volumes: [{name: c, configMap: {name: cfg}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data:
  a.hcl: |
    listener \"tcp\" {
      address = \"127.0.0.1:8200\"
      tls_disable = true
    }
  b.json: '{\"disable_mlock\": false}'
  c.txt: not read
";
    let got = verdicts(manifest);
    for want in ["WARN pid-namespace", "WARN host-namespaces", "FAIL memory", "WARN tls"] {
        assert!(got.contains(&format!("Pod v, container vault {want}")), "{want}: {got:#?}");
    }
    let out = lint(manifest, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = |id: &str| report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap().clone();
    let tls = check("tls");
    assert!(
        tls["summary"]
            .as_str()
            .unwrap()
            .contains("/vault/config/a.hcl:3: the listener on 127.0.0.1:8200 (loopback only)"),
        "{tls}"
    );
    assert_eq!(tls["line"], 20, "{tls}");
    let memory = check("memory")["summary"].as_str().unwrap().to_string();
    assert!(memory.contains("/vault/config/b.json:1 leaves mlock on") && memory.contains("IPC_LOCK"), "{memory}");
    // Without b.json nothing states disable_mlock: Vault 1.20 refuses to start, 1.19 locks.
    let unstated = manifest.replace("  b.json: '{\"disable_mlock\": false}'\n", "");
    assert_ne!(unstated, manifest);
    let summary = |manifest: &str| {
        let out = lint(manifest, &["--format", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let memory = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "memory").unwrap().clone();
        format!("{} {}", memory["status"].as_str().unwrap(), memory["summary"].as_str().unwrap())
    };
    assert!(
        summary(&unstated).starts_with("FAIL the configuration does not state disable_mlock"),
        "{}",
        summary(&unstated)
    );
    let older = unstated.replace("hashicorp/vault:1.20.0", "hashicorp/vault:1.19.5");
    assert!(summary(&older).starts_with("FAIL mlock rule (the server will call mlockall)"), "{}", summary(&older));
    // Without the ConfigMap, nothing the configuration decides is judged: SKIPs, IPC_LOCK left alone.
    let alone = manifest
        .split("---")
        .next()
        .unwrap()
        .replace("    args: [server", "    securityContext: {capabilities: {add: [IPC_LOCK]}}\n    args: [server");
    let got = verdicts(&alone);
    for id in ["tls", "tls-verify", "seal-credentials", "raw-storage", "metrics", "memory"] {
        assert!(got.contains(&format!("Pod v, container vault SKIP {id}")), "{id}: {got:#?}");
    }
    let out = lint(&alone, &["--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let capabilities = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "capabilities").unwrap();
    assert!(!capabilities["summary"].as_str().unwrap().contains("IPC_LOCK is added"), "{capabilities}");
}

/// Mutations of a real render (a cut, a line re-indented, a YAML indicator inserted): each one
/// read or refused with one line and exit 65, never a crash. HARDINIT_LINT_SEED replays a run.
#[test]
fn mutated_manifests_never_crash() {
    let seed: u64 = std::env::var("HARDINIT_LINT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    const COUNT: usize = 150;
    println!("mutated_manifests_never_crash: seed {seed} (HARDINIT_LINT_SEED={seed} replays), {COUNT} manifests");
    let mut state = seed | 1;
    let mut next = move |below: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % below as u64) as usize
    };
    let base = render("vault", &["--set", "server.ha.enabled=true,server.ha.raft.enabled=true"]);
    let lines: Vec<&str> = base.lines().collect();
    let mut codes = [0usize; 3];
    for case in 0..COUNT {
        let mut mutated: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        for _ in 0..1 + next(3) {
            let at = next(mutated.len());
            match next(3) {
                0 => mutated.truncate(at.max(1)),
                1 => mutated[at] = format!("{}{}", " ".repeat(next(12)), mutated[at].trim_start()),
                _ => {
                    let line = &mut mutated[at];
                    let chars: Vec<char> = line.chars().collect();
                    let position = next(chars.len() + 1);
                    let indicator =
                        ['[', ']', '{', '}', ':', '-', '\'', '"', '|', '>', '&', '*', '!', '#', '?', '%'][next(16)];
                    *line =
                        chars[..position].iter().chain(std::iter::once(&indicator)).chain(&chars[position..]).collect();
                }
            }
        }
        let manifest = mutated.join("\n");
        let out = lint(&manifest, &["--format", "sarif"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) | Some(1) => {
                codes[out.status.code().unwrap() as usize] += 1;
                let _: serde_json::Value =
                    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("case {case} (seed {seed}): {e}"));
            }
            Some(65) => {
                codes[2] += 1;
                assert!(out.stdout.is_empty() && stderr.lines().count() == 1, "case {case} (seed {seed}): {stderr}");
            }
            other => panic!("case {case} (seed {seed}): exit {other:?}: {stderr}"),
        }
    }
    println!("exit 0: {}, exit 1: {}, exit 65: {}", codes[0], codes[1], codes[2]);
}

#[test]
fn exit_codes() {
    let manifest = render("openbao", &[]);
    assert_eq!(lint(&manifest, &[]).status.code(), Some(0));
    assert_eq!(lint(&manifest, &["--strict"]).status.code(), Some(1));
    let warned: Vec<String> = verdicts(&manifest)
        .iter()
        .filter(|v| v.contains(" WARN "))
        .map(|v| v.rsplit(' ').next().unwrap().to_string())
        .collect();
    let allow = warned.join(",");
    assert_eq!(lint(&manifest, &["--strict", "--allow", &allow]).status.code(), Some(0), "--allow {allow}");
    let privileged = render("openbao", &["--set", "server.statefulSet.securityContext.container.privileged=true"]);
    assert_eq!(lint(&privileged, &[]).status.code(), Some(1));
    assert_eq!(lint(&privileged, &["--allow", "privileged"]).status.code(), Some(0));
    for bad in ["a: [1, 2\n", "a: b\n c: d\n", "\u{0}", &"[".repeat(10_000)] {
        let out = lint(bad, &[]);
        assert_eq!(out.status.code(), Some(65), "{bad:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.stdout.is_empty() && stderr.lines().count() == 1 && stderr.starts_with("hardinit-lint: stdin:"),
            "{stderr}"
        );
    }
    let out = Command::new(LINT).arg(root().join("tests/fixtures/lint")).output().unwrap();
    assert_eq!(out.status.code(), Some(65));
    // A FIFO no one writes to: refused at once, not waited on.
    let fifo = std::env::temp_dir().join(format!("hardinit-lint-{}-fifo", std::process::id()));
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let out = Command::new(LINT).arg(&fifo).output().unwrap();
    let _ = std::fs::remove_file(&fifo);
    assert_eq!(out.status.code(), Some(65), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file"));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let out = Command::new(LINT).args(["--format", "xml", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    // A file, and the report names it with the line of each finding.
    let file = values_file("openbao.yaml", &manifest);
    let out = Command::new(LINT).arg(&file).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let _ = std::fs::remove_file(&file);
    assert!(text.lines().any(|l| l.starts_with(&format!("{}:", file.display())) && l.contains("WARN tls: ")), "{text}");
}

#[test]
fn the_file_storage_of_openbao_helms_default_fails_only_from_openbao_2_7_on() {
    // openbao-helm 0.29.2's default (standalone, storage "file") on its own image, 2.6.2: the
    // server starts (with a deprecation warning). OpenBao 2.7.0 removed the file storage: refused.
    let refused = |tag: &str| {
        let manifest = render("openbao", &["--set", &format!("server.image.tag={tag}")]);
        verdicts(&manifest).iter().any(|v| v.ends_with(" FAIL tls"))
    };
    assert!(!refused("v2.6.2"), "2.6.2 has the file storage");
    assert!(refused("2.7.2"), "2.7.2 refuses the file storage");
    let manifest = render("openbao", &["--set", "server.image.tag=2.7.2"]);
    let out = lint(&manifest, &[]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("storage type \"file\" is not one of OpenBao's"));
}
