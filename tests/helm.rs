//! The official Helm charts, unmodified, on the shell-less image: every mode of vault-helm and
//! openbao-helm in tests/fixtures/charts/ runs in runc with the chart's command and script, its
//! environment, its config mounted where the chart mounts it and its security context, with
//! hardinit as /bin/sh and the real OpenBao server as the server binary.
//!
//! What a test may adapt (tests/fixtures/charts/README.md): OpenBao 2.7 has neither the `file` nor
//! the `consul` storage, so those stanzas become `inmem` with their body kept (placeholders such
//! as HOST_IP stay in it, for the substitution check), and `service_registration "kubernetes"`,
//! which needs an API server, is dropped. Nothing else changes.

mod common;

use common::runc::{Container, DOCKER_DEFAULT_CAPS, IMAGE_ENV, Running};
use common::*;
use serde_json::Value;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

fn fixture(chart: &str, file: &str) -> Option<String> {
    std::fs::read_to_string(repo().join("tests/fixtures/charts").join(chart).join(file)).ok()
}

fn strings(json: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(json).expect("a JSON list of strings")
}

struct Chart {
    /// vault-helm or openbao-helm.
    name: &'static str,
    mode: &'static str,
}

impl Chart {
    fn file(&self, file: &str) -> Option<String> {
        fixture(&format!("{}/{}", self.name, self.mode), file)
    }
    fn flavour(&self) -> &'static str {
        if self.name == "vault-helm" { "vault" } else { "openbao" }
    }
    fn binary(&self) -> &'static str {
        if self.name == "vault-helm" { "vault" } else { "bao" }
    }
    fn root(&self) -> &'static str {
        if self.name == "vault-helm" { "/vault" } else { "/openbao" }
    }
    fn argv(&self, file: &str) -> Vec<String> {
        strings(&self.file(file).unwrap_or_else(|| panic!("{}/{}: no {file}", self.name, self.mode)))
    }

    /// env.json as the kubelet gives it: valueFrom filled with plausible values, `$(NAME)`
    /// references to earlier entries expanded. `zone`: the pod's zone label, if it has one.
    fn environment(&self, zone: Option<&str>) -> Vec<(String, String)> {
        let entries: Vec<Value> = serde_json::from_str(&self.file("env.json").unwrap()).unwrap();
        let mut env: Vec<(String, String)> = Vec::new();
        for entry in entries {
            let name = entry["name"].as_str().unwrap().to_string();
            let value = if let Some(value) = entry["value"].as_str() {
                let mut expanded = value.to_string();
                for (earlier, v) in &env {
                    expanded = expanded.replace(&format!("$({earlier})"), v);
                }
                expanded
            } else {
                match entry["valueFrom"]["fieldRef"]["fieldPath"].as_str().unwrap() {
                    "status.hostIP" => "192.0.2.10".into(),
                    "status.podIP" => "10.244.0.7".into(),
                    "metadata.name" => format!("{}-0", self.flavour()),
                    "metadata.namespace" => "default".into(),
                    "metadata.labels['topology.kubernetes.io/zone']" => match zone {
                        Some(zone) => zone.into(),
                        None => continue,
                    },
                    other => panic!("no value for fieldPath {other}"),
                }
            };
            env.push((name, value));
        }
        env
    }

    /// The mounted config, adapted only where OpenBao 2.7 cannot run it.
    fn mounted_config(&self) -> Option<String> {
        let config = self.file("config.hcl")?;
        Some(
            config
                .replace("storage \"file\" {", "storage \"inmem\" {")
                .replace("storage \"consul\" {", "storage \"inmem\" {")
                .replace("service_registration \"kubernetes\" {}", ""),
        )
    }

    /// What the chart's script makes of the mounted config: each placeholder replaced by its
    /// variable, as its `sed -Ei "s|NAME|${NAME?}|g"` lines do (zones: the quoted placeholder).
    fn expected_storage_config(&self, env: &[(String, String)]) -> Option<String> {
        let mut text = self.mounted_config()?;
        let value = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        for name in ["HOST_IP", "POD_IP", "HOSTNAME", "API_ADDR", "TRANSIT_ADDR", "RAFT_ADDR"] {
            if let Some(v) = value(name).filter(|v| !v.is_empty()) {
                text = text.replace(name, &v);
            }
        }
        if let Some(zone) = value("VAULT_REDUNDANCY_ZONE") {
            text = text.replace("\"VAULT_REDUNDANCY_ZONE\"", &format!("\"{zone}\""));
        }
        Some(text)
    }
}

/// The chart's server container: its command and args, image ENV plus its env, its security
/// context (uid 100, gid 1000 and fsGroup 1000, no_new_privs, no added capability), its config
/// at <root>/config (read-only, as a ConfigMap), a data volume at <root>/data, a network of its
/// own.
fn server_container(
    chart: &Chart,
    name: &str,
    zone: Option<&str>,
    volumes: &Scratch,
) -> (Container, Vec<(String, String)>) {
    let mut argv = chart.argv("command.json");
    argv.extend(chart.argv("args.json"));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut container = Container::from_image(name, chart.flavour(), &[]);
    container.args(&argv);
    let env = chart.environment(zone);
    container.config["process"]["env"] = serde_json::json!(IMAGE_ENV);
    for (k, v) in &env {
        container.env(k, v);
    }
    container.config["process"]["user"] = serde_json::json!({"uid": 100, "gid": 1000, "additionalGids": [1000]});
    container.no_new_privileges(true).capabilities(&DOCKER_DEFAULT_CAPS).own_network();
    // The charts leave the root writable; here the one image tree is shared by parallel tests, so
    // the root is read-only and the two places the scripts and the server write (/tmp, and the
    // user's home for -dev's token file) are the container's own tmpfs.
    container.read_only_root();
    let user = if chart.flavour() == "vault" { "vault" } else { "openbao" };
    let home = serde_json::json!({"destination": format!("/home/{user}"), "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=700", "uid=100", "gid=1000"]});
    container.config["mounts"].as_array_mut().unwrap().push(home);
    if let Some(config) = chart.mounted_config() {
        let dir = volumes.path("config");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("extraconfig-from-values.hcl"), config).unwrap();
        container.read_only_volume(&dir, &format!("{}/config", chart.root()));
    }
    let data = volumes.path("data");
    std::fs::create_dir_all(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(100), Some(1000)).unwrap();
    container.volume(&data, &format!("{}/data", chart.root()));
    (container, env)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The readiness probe's exit status.
fn readiness(chart: &Chart, running: &Running) -> i32 {
    let argv = chart.argv("readiness.json");
    let out = running.exec(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    code(out.status)
}

/// The real server's banner (OpenBao's, also when it runs as `vault`).
fn started(running: &mut Running) {
    running.wait_for_output("OpenBao server started", LONG);
}

/// PID 1 is hardinit (not a shell), and its one child is the server.
fn assert_hardinit_is_pid_1(chart: &Chart, running: &Running) {
    let init = running.init_pid();
    let exe = std::fs::read_link(format!("/proc/{init}/exe")).unwrap();
    assert!(exe.ends_with("usr/local/bin/hardinit"), "PID 1 runs {exe:?}");
    let server = running.server_pid();
    let comm = std::fs::read_to_string(format!("/proc/{server}/comm")).unwrap();
    assert_eq!(comm.trim(), chart.binary(), "hardinit's child is the server itself, not a shell");
    assert_eq!(children_of(init), [server], "nothing else runs under PID 1");
}

fn run_mode(chart: Chart) {
    if !privileged(true) {
        return;
    }
    let volumes = Scratch::new(&format!("helm-{}-{}", chart.name, chart.mode));
    let zone = (chart.mode == "ha-raft-zones").then_some("zone-a");
    let (container, env) = server_container(&chart, &format!("{}-{}", chart.flavour(), chart.mode), zone, &volumes);
    let mut running = container.start();
    started(&mut running);
    assert_hardinit_is_pid_1(&chart, &running);
    let dev = chart.mode == "dev";

    // The script's substitutions, byte for byte.
    if let Some(expected) = chart.expected_storage_config(&env) {
        let path = format!("/proc/{}/root/tmp/storageconfig.hcl", running.init_pid());
        assert_eq!(std::fs::read_to_string(path).unwrap(), expected, "/tmp/storageconfig.hcl");
    }

    // The readiness probe: 2 while sealed; 0 once initialised and unsealed from outside.
    let bin = chart.binary();
    if !dev {
        assert_eq!(readiness(&chart, &running), 2, "sealed");
        let init = running.exec(&[bin, "operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json"]);
        assert_eq!(code(init.status), 0, "{}", text(&init.stderr));
        let keys: Value = serde_json::from_slice(&init.stdout).unwrap();
        let key = keys["unseal_keys_b64"][0].as_str().unwrap();
        let unseal = running.exec(&[bin, "operator", "unseal", key]);
        assert_eq!(code(unseal.status), 0, "{}", text(&unseal.stderr));
    }
    let ready = wait_until(LONG, || (readiness(&chart, &running) == 0).then_some(()));
    assert!(ready.is_some(), "the readiness probe never answered 0: {}", running.stderr());

    // `helm test`'s script, in the same image.
    let test = fixture(chart.name, "helm-test.json").unwrap();
    let out = running.exec(&strings(&test).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(out.status), 0, "helm test: {}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("sealed: false"), "{}", text(&out.stdout));

    // SIGTERM from the runtime: the server stops cleanly, well inside the chart's 30 s grace.
    let stopping = Instant::now();
    running.kill("TERM");
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert!(stopping.elapsed() < Duration::from_secs(10), "stopped in {:?}", stopping.elapsed());

    // The preStop hook, as the kubelet runs it: `sleep 5 && kill -SIGTERM $(pidof vault)`.
    let volumes = Scratch::new(&format!("helm-{}-{}-prestop", chart.name, chart.mode));
    let (container, _) =
        server_container(&chart, &format!("{}-{}-prestop", chart.flavour(), chart.mode), zone, &volumes);
    let mut running = container.start();
    started(&mut running);
    let hook = chart.argv("prestop.json");
    let hooked = Instant::now();
    let out = running.exec(&hook.iter().map(String::as_str).collect::<Vec<_>>());
    // The hook ends the server, and with it the container: the kernel may SIGKILL the hook's own
    // last microseconds (137), as it does under a shell PID 1. What it must do is done below.
    assert!([0, 137].contains(&code(out.status)), "preStop: {}", text(&out.stderr));
    assert!(hooked.elapsed() >= Duration::from_secs(5), "the hook's sleep 5 ran first");
    assert_eq!(running.wait(LONG), 0, "the server got SIGTERM from the hook and stopped: {}", running.stderr());
}

#[test]
fn vault_helm_dev() {
    run_mode(Chart { name: "vault-helm", mode: "dev" });
}

#[test]
fn vault_helm_standalone() {
    run_mode(Chart { name: "vault-helm", mode: "standalone" });
}

#[test]
fn vault_helm_standalone_extraargs() {
    run_mode(Chart { name: "vault-helm", mode: "standalone-extraargs" });
}

#[test]
fn vault_helm_ha() {
    run_mode(Chart { name: "vault-helm", mode: "ha" });
}

#[test]
fn vault_helm_ha_raft() {
    run_mode(Chart { name: "vault-helm", mode: "ha-raft" });
}

#[test]
fn vault_helm_ha_raft_zones() {
    run_mode(Chart { name: "vault-helm", mode: "ha-raft-zones" });
}

#[test]
fn openbao_helm_dev() {
    run_mode(Chart { name: "openbao-helm", mode: "dev" });
}

#[test]
fn openbao_helm_standalone() {
    run_mode(Chart { name: "openbao-helm", mode: "standalone" });
}

#[test]
fn openbao_helm_standalone_extraargs() {
    run_mode(Chart { name: "openbao-helm", mode: "standalone-extraargs" });
}

#[test]
fn openbao_helm_ha() {
    run_mode(Chart { name: "openbao-helm", mode: "ha" });
}

#[test]
fn openbao_helm_ha_raft() {
    run_mode(Chart { name: "openbao-helm", mode: "ha-raft" });
}

#[test]
fn vault_helm_ha_raft_zones_without_a_zone_label_is_the_scripts_own_error() {
    if !privileged(true) {
        return;
    }
    let chart = Chart { name: "vault-helm", mode: "ha-raft-zones" };
    let volumes = Scratch::new("helm-zones-unset");
    let (container, _) = server_container(&chart, "vault-zones-unset", None, &volumes);
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 1, "{}", running.stderr());
    let stderr = running.stderr();
    assert!(stderr.starts_with("ERROR: Missing zone label on pod."), "{stderr}");
    assert!(stderr.contains("kubectl get pod ${HOSTNAME} -o jsonpath='{.metadata.labels}'"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!running.stdout().contains("OpenBao"), "the server never started");
}

/// Fixtures all present: a mode folder without its files would make a test above vacuous.
#[test]
fn every_fixture_mode_has_a_test() {
    let mut modes = Vec::new();
    for chart in ["vault-helm", "openbao-helm"] {
        for entry in std::fs::read_dir(repo().join("tests/fixtures/charts").join(chart)).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                modes.push(format!("{chart}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    modes.sort();
    let source = std::fs::read_to_string(repo().join("tests/helm.rs")).unwrap();
    for mode in &modes {
        let (chart, mode) = mode.split_once('/').unwrap();
        let call = format!("run_mode(Chart {{ name: \"{chart}\", mode: \"{mode}\" }})");
        assert!(source.contains(&call), "{chart}/{mode} has no test");
    }
    assert_eq!(modes.len(), 11, "{modes:?}");
}

/// The chart's script copies the ConfigMap to /tmp/storageconfig.hcl at every start (as the
/// server's user, so the copy is the server's to change): a file regenerated from a read-only
/// source at every start is no foothold, and the check says so instead of refusing under --strict.
#[test]
fn the_charts_regenerated_storageconfig_is_not_a_persistent_foothold() {
    if !privileged(true) {
        return;
    }
    let chart = Chart { name: "vault-helm", mode: "standalone" };
    let volumes = Scratch::new("helm-regenerated");
    let (mut container, _) = server_container(&chart, "vault-regenerated", None, &volumes);
    // Every other finding accepted: only config-files can refuse.
    let others = "tls,lsm,seccomp,open-files,storage,audit,history,root-token,pid-namespace,memory";
    container.env("HARDINIT_STRICT", "true").env("HARDINIT_ALLOW", others).env("HARDINIT_VERBOSE", "true");
    let mut running = container.start();
    started(&mut running);
    let stderr = running.stderr();
    let verdict = stderr.lines().find(|l| l.contains("PASS config-files:")).unwrap_or_default();
    assert!(
        verdict.contains(
            "/tmp/storageconfig.hcl is the server's to change, but the script hardinit ran wrote it at this start"
        ),
        "{stderr}"
    );
    running.stop_cleanly();
}
