//! A three-node OpenBao raft cluster through a rolling restart and node kills, as Kubernetes runs
//! openbao-helm's `ha-raft` mode: nothing acknowledged may be lost.
//!
//! Each node is a runc container whose PID 1 is hardinit running the chart's script exactly
//! (hardinit as /bin/sh), as uid 100 with the chart's security context, a read-only root and a
//! data volume of its own. The three share one network namespace that the harness makes, each on
//! 127.0.0.1 with ports of its own (where Kubernetes gives each pod its own address), with the
//! chart's `retry_join` pointing at the others. A client (tests/helpers/cluster_client.py, in the
//! same namespace) writes a secret every 20 ms through whichever node takes it and at the end
//! reads every acknowledged write back.
//!
//! `cluster_benchmark` (ignored; `python3 scripts/bench.py --cluster`) runs every scenario under
//! hardinit and under what users run today, side by side: the official image's arrangement
//! (dumb-init, from docker-entrypoint.sh's `#!/usr/bin/dumb-init /bin/sh`, running busybox sh
//! that execs the server), tini as PID 1, and the server itself as PID 1 (busybox `sh -ec` execs
//! its last command).

mod common;

use common::runc::{Container, DOCKER_DEFAULT_CAPS, IMAGE_ENV, Running};
use common::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CHART: &str = "tests/fixtures/charts/openbao-helm/ha-raft";
const LONG: Duration = Duration::from_secs(120);
/// The kubelet's grace after preStop and SIGTERM (the chart's terminationGracePeriodSeconds).
const GRACE: Duration = Duration::from_secs(30);

/// What runs as PID 1 of each node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pid1 {
    Hardinit,
    /// The official image: docker-entrypoint.sh starts with `#!/usr/bin/dumb-init /bin/sh`.
    DumbInit,
    Tini,
    /// No init: busybox sh execs the entrypoint, which execs the server.
    Bare,
}

impl Pid1 {
    fn name(self) -> &'static str {
        match self {
            Pid1::Hardinit => "hardinit",
            Pid1::DumbInit => "dumb-init + busybox sh (official image)",
            Pid1::Tini => "tini + busybox sh",
            Pid1::Bare => "the server as PID 1",
        }
    }
}

fn chart_file(name: &str) -> String {
    std::fs::read_to_string(repo().join(CHART).join(name)).unwrap()
}

fn chart_list(name: &str) -> Vec<String> {
    serde_json::from_str(&chart_file(name)).unwrap()
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A network namespace of the harness's own (`ip netns add`), with its loopback up; deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        let name = format!("hardinit-cluster-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "delete", &name]).output();
        for args in [vec!["netns", "add", &name], vec!["-n", &name, "link", "set", "lo", "up"]] {
            let out = Command::new("ip").args(&args).output().expect("ip (iproute2)");
            assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Netns(name)
    }

    fn path(&self) -> String {
        format!("/var/run/netns/{}", self.0)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).output();
    }
}

/// One pod of the StatefulSet: its ports, its volumes (kept across restarts) and its container.
struct Node {
    index: usize,
    init: Pid1,
    volumes: Scratch,
    running: Option<Running>,
    term_delay: Option<&'static str>,
}

fn api_port(index: usize) -> u16 {
    8200 + 10 * index as u16
}

fn cluster_port(index: usize) -> u16 {
    api_port(index) + 1
}

impl Node {
    fn new(index: usize, init: Pid1) -> Node {
        let volumes = Scratch::new(&format!("cluster-{index}"));
        for dir in ["config", "data"] {
            std::fs::create_dir_all(volumes.path(dir)).unwrap();
        }
        std::os::unix::fs::chown(volumes.path("data"), Some(100), Some(1000)).unwrap();
        std::fs::write(volumes.path("config/extraconfig-from-values.hcl"), Node::config(index, init)).unwrap();
        Node { index, init, volumes, running: None, term_delay: None }
    }

    fn name(&self) -> String {
        format!("openbao-{}", self.index)
    }

    /// The chart's config for this node: its ports instead of [::]:8200 and [::]:8201, a
    /// retry_join per other node (as users write the chart's ha.raft.config), and
    /// `service_registration "kubernetes"` dropped (it needs an API server). The alternatives
    /// cannot lock memory as uid 100 without CAP_IPC_LOCK: they get `disable_mlock = true`.
    fn config(index: usize, init: Pid1) -> String {
        let mut config = chart_file("config.hcl")
            .replace("[::]:8200", &format!("127.0.0.1:{}", api_port(index)))
            .replace("[::]:8201", &format!("127.0.0.1:{}", cluster_port(index)))
            .replace("service_registration \"kubernetes\" {}", "");
        let joins: String = (0..3)
            .filter(|other| *other != index)
            .map(|other| {
                format!("  retry_join {{\n    leader_api_addr = \"http://127.0.0.1:{}\"\n  }}\n", api_port(other))
            })
            .collect();
        config = config.replace("  path = \"/openbao/data\"\n", &format!("  path = \"/openbao/data\"\n{joins}"));
        assert!(config.contains("retry_join"), "the chart's raft stanza changed: {config}");
        if init != Pid1::Hardinit {
            config = format!("disable_mlock = true\n{config}");
        }
        config
    }

    /// env.json as the kubelet fills it for this pod; the addresses carry the node's ports.
    fn environment(&self) -> Vec<(String, String)> {
        let entries: Vec<Value> = serde_json::from_str(&chart_file("env.json")).unwrap();
        let (api, cluster) = (api_port(self.index), cluster_port(self.index));
        let mut env = Vec::new();
        for entry in entries {
            let name = entry["name"].as_str().unwrap().to_string();
            let value = match name.as_str() {
                "BAO_ADDR" | "BAO_API_ADDR" => format!("http://127.0.0.1:{api}"),
                "BAO_CLUSTER_ADDR" => format!("https://127.0.0.1:{cluster}"),
                _ => match entry["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                    Some("status.hostIP" | "status.podIP") => "127.0.0.1".into(),
                    Some("metadata.name") => self.name(),
                    Some("metadata.namespace") => "default".into(),
                    Some(other) => panic!("no value for fieldPath {other}"),
                    None => entry["value"].as_str().unwrap().to_string(),
                },
            };
            env.push((name, value));
        }
        if let Some(delay) = self.term_delay {
            env.push(("HARDINIT_TERM_DELAY".into(), delay.into()));
        }
        env
    }

    fn container(&self, netns: &Netns, generation: u32) -> Container {
        let mut argv = chart_list("command.json");
        argv.extend(chart_list("args.json"));
        let name = format!("cluster-{}-{generation}", self.index);
        let mut container = match self.init {
            Pid1::Hardinit => {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let mut container = Container::from_image(&name, "openbao", &[]);
                container.args(&argv);
                container.config["process"]["env"] = json!(IMAGE_ENV);
                container
            }
            init => alternative(&name, init, argv),
        };
        for (k, v) in self.environment() {
            container.env(&k, &v);
        }
        container.config["process"]["user"] = json!({"uid": 100, "gid": 1000, "additionalGids": [1000]});
        container.no_new_privileges(true).capabilities(&DOCKER_DEFAULT_CAPS).read_only_root();
        let home = json!({"destination": "/home/openbao", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=700", "uid=100", "gid=1000"]});
        container.config["mounts"].as_array_mut().unwrap().push(home);
        container.read_only_volume(&self.volumes.path("config"), "/openbao/config");
        container.volume(&self.volumes.path("data"), "/openbao/data");
        container.join_network(&netns.path());
        container
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("the node runs")
    }

    /// `bao ARGS` in the node, as `kubectl exec` runs it.
    fn bao(&self, token: Option<&str>, args: &[&str]) -> std::process::Output {
        let mut argv = vec!["bao"];
        argv.extend_from_slice(args);
        let env: Vec<(&str, &str)> = token.map(|t| ("BAO_TOKEN", t)).into_iter().collect();
        self.running().exec_with(&env, &argv)
    }

    fn status(&self) -> Option<Value> {
        let out = self.bao(None, &["status", "-format=json"]);
        serde_json::from_slice(&out.stdout).ok()
    }

    /// Gives the node the unseal keys; a node still joining may refuse them (the caller retries
    /// until `bao status` says unsealed).
    fn unseal(&self, keys: &[String]) {
        for key in keys {
            let _ = self.bao(None, &["operator", "unseal", key]);
        }
    }
}

/// A node under one of the alternatives: busybox as /bin/sh with the applets the chart's script
/// and hooks use, the real server as /bin/bao, and a docker-entrypoint.sh that does what the
/// official one does for `server` when it runs as non-root with SKIP_CHOWN and SKIP_SETCAP
/// (nothing but exec the server), with the official image's dumb-init shebang or not.
fn alternative(name: &str, init: Pid1, script_argv: Vec<String>) -> Container {
    let pid1: Vec<String> = match init {
        Pid1::Tini => vec!["/usr/bin/tini".into(), "--".into()],
        _ => vec![],
    };
    let argv: Vec<String> = pid1.into_iter().chain(script_argv).collect();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut container = Container::new(name, &argv);
    let rootfs = container.rootfs();
    for tool in ["cp", "sed", "pidof"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(tool)).unwrap();
    }
    for dir in ["openbao/config", "openbao/data", "home/openbao", "usr/bin", "lib64", "lib/x86_64-linux-gnu"] {
        std::fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    install(Path::new("/usr/bin/tini-static"), &rootfs.join("usr/bin/tini"), 0o755);
    install(Path::new("/usr/bin/dumb-init"), &rootfs.join("usr/bin/dumb-init"), 0o755);
    let shebang = if init == Pid1::DumbInit { "#!/usr/bin/dumb-init /bin/sh" } else { "#!/bin/sh" };
    let entrypoint =
        format!("{shebang}\nset -e\nif [ \"${{1#-}}\" != \"$1\" ]; then set -- bao \"$@\"; fi\nexec \"$@\"\n");
    let path = rootfs.join("usr/local/bin/docker-entrypoint.sh");
    std::fs::write(&path, entrypoint).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nopenbao:x:100:1000:openbao:/home/openbao:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nopenbao:x:1000:openbao\n").unwrap();
    // Debian's dumb-init links the C library dynamically.
    let mounts = container.config["mounts"].as_array_mut().unwrap();
    for lib in ["/lib64", "/lib/x86_64-linux-gnu"] {
        mounts.push(json!({"destination": lib, "type": "bind", "source": lib, "options": ["rbind", "ro"]}));
    }
    container.config["process"]["env"] = json!(["PATH=/usr/local/bin:/usr/bin:/bin"]);
    container
}

/// What one event cost: the container's stop and the clients' wait.
#[derive(Debug)]
struct Event {
    name: String,
    start: f64,
    end: f64,
    stop_status: i32,
    stop_seconds: f64,
    rejoin_seconds: f64,
}

struct Cluster {
    netns: Netns,
    nodes: Vec<Node>,
    generation: u32,
    keys: Vec<String>,
    token: String,
    events: Vec<Event>,
}

impl Cluster {
    /// `term_delay`: hardinit's --term-delay on every node (the preStop hook and SIGKILL do not
    /// go through it; a SIGTERM to PID 1 alone does).
    fn start(init: Pid1, term_delay: Option<&'static str>) -> Cluster {
        let netns = Netns::new();
        let mut nodes: Vec<Node> = (0..3).map(|i| Node::new(i, init)).collect();
        for node in &mut nodes {
            node.term_delay = term_delay;
        }
        let mut cluster =
            Cluster { netns, nodes, generation: 0, keys: Vec::new(), token: String::new(), events: Vec::new() };
        for index in 0..3 {
            cluster.boot(index);
        }
        // Initialise the first node; Shamir keys, 3 shares, 2 to unseal.
        let first = &cluster.nodes[0];
        let out = wait_until(LONG, || {
            let out = first.bao(None, &["operator", "init", "-key-shares=3", "-key-threshold=2", "-format=json"]);
            (code(out.status) == 0).then_some(out)
        })
        .unwrap_or_else(|| panic!("operator init never succeeded: {}", first.running().stderr()));
        let init: Value = serde_json::from_slice(&out.stdout).unwrap();
        cluster.keys =
            init["unseal_keys_b64"].as_array().unwrap()[..2].iter().map(|k| k.as_str().unwrap().into()).collect();
        cluster.token = init["root_token"].as_str().unwrap().into();
        cluster.nodes[0].unseal(&cluster.keys);
        assert_eq!(cluster.active(), 0, "the initialised node leads");
        let out = cluster.nodes[0].bao(Some(&cluster.token), &["secrets", "enable", "-path=secret", "kv-v2"]);
        assert_eq!(code(out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));
        for index in 1..3 {
            cluster.join(index);
        }
        cluster
    }

    fn boot(&mut self, index: usize) {
        self.generation += 1;
        let container = self.nodes[index].container(&self.netns, self.generation);
        let mut running = container.start();
        running.wait_for_output("OpenBao server started", LONG);
        self.nodes[index].running = Some(running);
    }

    /// Unseals node `index` (which completes its retry_join) and waits until the raft
    /// configuration lists it as a voter.
    fn join(&self, index: usize) {
        let node = &self.nodes[index];
        let joined = wait_until(LONG, || {
            node.unseal(&self.keys);
            node.status().filter(|s| s["sealed"] == false).map(drop)
        });
        assert!(joined.is_some(), "{} never unsealed: {}", node.name(), node.running().stderr());
        let address = format!("127.0.0.1:{}", cluster_port(index));
        let voter = wait_until(LONG, || self.voters().contains(&address).then_some(()));
        assert!(voter.is_some(), "{} never became a voter: {:?}", node.name(), self.voters());
    }

    /// The raft addresses of the voters the cluster's configuration lists, seen from any node
    /// that answers.
    fn voters(&self) -> Vec<String> {
        for node in self.nodes.iter().filter(|n| n.running.is_some()) {
            let out = node.bao(Some(&self.token), &["operator", "raft", "list-peers", "-format=json"]);
            if let Ok(peers) = serde_json::from_slice::<Value>(&out.stdout) {
                let servers = peers["data"]["config"]["servers"].as_array().cloned().unwrap_or_default();
                let voters = servers.iter().filter(|s| s["voter"] == true);
                return voters.filter_map(|s| s["address"].as_str().map(str::to_string)).collect();
            }
        }
        Vec::new()
    }

    /// The index of the active node.
    fn active(&self) -> usize {
        wait_until(LONG, || {
            (0..3).find(|i| {
                let node = &self.nodes[*i];
                node.running.is_some() && {
                    let out = node.bao(Some(&self.token), &["read", "-format=json", "sys/leader"]);
                    serde_json::from_slice::<Value>(&out.stdout).is_ok_and(|l| l["data"]["is_self"] == true)
                }
            })
        })
        .expect("no active node")
    }

    fn standbys(&self) -> Vec<usize> {
        let active = self.active();
        (0..3).filter(|i| *i != active).collect()
    }

    /// Ends node `index` the way `how` says, starts it again on the same volume, unseals it and
    /// waits until it is a voter again.
    fn restart(&mut self, index: usize, how: Stop, label: &str) {
        let start = now();
        let mut running = self.nodes[index].running.take().expect("running");
        let signalled;
        match how {
            Stop::PreStopThenTerm => {
                // The kubelet: the preStop hook to its end, then SIGTERM to PID 1.
                let hook = chart_list("prestop.json");
                let hook: Vec<&str> = hook.iter().map(String::as_str).collect();
                let hooked = Instant::now();
                let _ = running.exec(&hook);
                // The hook's `sleep 5` is over when its kill reaches the server.
                signalled = hooked + Duration::from_secs(5);
                running.kill_if_running("TERM");
            }
            Stop::Term => {
                signalled = Instant::now();
                running.kill("TERM");
            }
            Stop::Kill => {
                signalled = Instant::now();
                running.kill("KILL");
            }
        }
        let status = running.wait(GRACE + LONG);
        let stop_seconds = signalled.elapsed().as_secs_f64();
        drop(running);
        let down = Instant::now();
        self.boot(index);
        self.join(index);
        let rejoin_seconds = down.elapsed().as_secs_f64();
        self.events.push(Event {
            name: label.into(),
            start,
            end: now(),
            stop_status: status,
            stop_seconds,
            rejoin_seconds,
        });
    }

    fn client(&self, scratch: &Scratch) -> Client {
        let acks = scratch.path("acks");
        let stop = scratch.path("stop");
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns.0, "python3"]);
        command.arg(repo().join("tests/helpers/cluster_client.py")).arg(&self.token).arg(&acks).arg(&stop);
        command.args((0..3).map(|i| api_port(i).to_string()));
        let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python3");
        let client = Client { child: Some(child), acks, stop };
        assert!(
            wait_until(LONG, || (client.acknowledged().len() > 10).then_some(())).is_some(),
            "the client never wrote"
        );
        client
    }
}

#[derive(Clone, Copy)]
enum Stop {
    /// As the chart's upgrade: preStop `sleep 5 && kill -SIGTERM $(pidof bao)`, then SIGTERM.
    PreStopThenTerm,
    /// SIGTERM to PID 1 alone (with --term-delay, hardinit holds it back).
    Term,
    /// An OOM kill or an eviction past its grace.
    Kill,
}

struct Client {
    child: Option<Child>,
    acks: PathBuf,
    stop: PathBuf,
}

/// The client's verdict.
struct Verdict {
    acknowledged: usize,
    lost: Vec<u64>,
    ack_times: Vec<f64>,
}

impl Client {
    fn acknowledged(&self) -> Vec<f64> {
        let text = std::fs::read_to_string(&self.acks).unwrap_or_default();
        text.lines().filter_map(|l| l.split_whitespace().nth(1)?.parse().ok()).collect()
    }

    fn finish(mut self) -> Verdict {
        std::fs::write(&self.stop, b"").unwrap();
        let child = self.child.take().unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_else(|| panic!("client: {}", String::from_utf8_lossy(&out.stderr)));
        let verdict: Value = serde_json::from_str(last).unwrap();
        Verdict {
            acknowledged: verdict["acknowledged"].as_u64().unwrap() as usize,
            lost: verdict["lost"].as_array().unwrap().iter().map(|n| n.as_u64().unwrap()).collect(),
            ack_times: self.acknowledged(),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The longest wait between two acknowledged writes that overlaps the event's window (from the
/// first signal to the node's return as a voter).
fn longest_gap(ack_times: &[f64], event: &Event) -> f64 {
    ack_times.windows(2).filter(|w| w[1] >= event.start && w[0] <= event.end).map(|w| w[1] - w[0]).fold(0.0, f64::max)
}

/// Runs `scenarios` on a fresh cluster under `init`; returns the JSON figures.
fn run(init: Pid1, term_delay: Option<&'static str>, scenarios: &[&str]) -> Value {
    let scratch = Scratch::new("cluster-client");
    let mut cluster = Cluster::start(init, term_delay);
    let client = cluster.client(&scratch);
    for scenario in scenarios {
        match *scenario {
            "rolling restart" => {
                // OnDelete, as the chart's upgrade notes say: the standbys first, then the active.
                let mut order = cluster.standbys();
                order.push(cluster.active());
                for index in order {
                    cluster.restart(index, Stop::PreStopThenTerm, &format!("rolling restart: openbao-{index}"));
                }
            }
            "kill standby" => {
                let index = cluster.standbys()[0];
                cluster.restart(index, Stop::Kill, &format!("SIGKILL of a standby: openbao-{index}"));
            }
            "kill active" => {
                let index = cluster.active();
                cluster.restart(index, Stop::Kill, &format!("SIGKILL of the active node: openbao-{index}"));
            }
            "term delay" => {
                // --term-delay in place of the preStop sleep: the active node keeps serving 5 s.
                let index = cluster.active();
                assert!(cluster.nodes[index].term_delay.is_some(), "the cluster runs with --term-delay");
                cluster.restart(
                    index,
                    Stop::Term,
                    &format!("SIGTERM with --term-delay 5s, the active node: openbao-{index}"),
                );
            }
            other => panic!("no scenario {other}"),
        }
        // The cluster takes writes again before the next event: the wait the event caused ends
        // with the first of these.
        let since = now();
        let resumed =
            wait_until(LONG, || (client.acknowledged().iter().filter(|t| **t > since).count() >= 25).then_some(()));
        assert!(resumed.is_some(), "no write acknowledged for {LONG:?} after {scenario}: {:?}", cluster.events.last());
    }
    let verdict = client.finish();
    let events: Vec<Value> = cluster
        .events
        .iter()
        .map(|e| {
            json!({"event": e.name, "stop_status": e.stop_status, "stop_s": e.stop_seconds,
                   "rejoin_s": e.rejoin_seconds, "longest_gap_s": longest_gap(&verdict.ack_times, e)})
        })
        .collect();
    let first = cluster.events.first().map_or(0.0, |e| e.start);
    let waits: Vec<Value> = verdict
        .ack_times
        .windows(2)
        .filter(|w| w[1] - w[0] > 0.5)
        .map(|w| json!({"after_s": w[0] - first, "wait_s": w[1] - w[0]}))
        .collect();
    json!({"init": init.name(), "acknowledged": verdict.acknowledged, "lost": verdict.lost, "events": events, "waits_over_half_a_second": waits})
}

#[test]
fn a_rolling_restart_and_a_kill_of_the_active_node_lose_no_acknowledged_write() {
    if !privileged(true) {
        return;
    }
    let figures = run(Pid1::Hardinit, None, &["rolling restart", "kill active"]);
    eprintln!("{}", serde_json::to_string_pretty(&figures).unwrap());
    assert!(
        figures["acknowledged"].as_u64().unwrap() > 100,
        "the client wrote too little to prove anything: {figures}"
    );
    assert_eq!(figures["lost"], json!([]), "acknowledged writes lost: {figures}");
    for event in figures["events"].as_array().unwrap() {
        let expected = if event["event"].as_str().unwrap().starts_with("SIGKILL") { 137 } else { 0 };
        assert_eq!(event["stop_status"], expected, "{event}");
    }
}

/// Every scenario, under hardinit and each alternative; prints one JSON line per arrangement
/// (scripts/bench.py --cluster makes the table).
#[test]
#[ignore = "the benchmark: python3 scripts/bench.py --cluster"]
fn cluster_benchmark() {
    assert!(privileged(true), "the cluster benchmark needs root and runc");
    let scenarios = ["rolling restart", "kill standby", "kill active", "term delay"];
    for init in [Pid1::Hardinit, Pid1::DumbInit, Pid1::Tini, Pid1::Bare] {
        let hardinit = init == Pid1::Hardinit;
        let scenarios: Vec<&str> = scenarios.iter().copied().filter(|s| *s != "term delay" || hardinit).collect();
        let figures = run(init, hardinit.then_some("5s"), &scenarios);
        println!("CLUSTER {}", serde_json::to_string(&figures).unwrap());
    }
}
