//! The production checklist beyond the hardening itself: the checks on the configuration (offline
//! with `check --config`, without the server binary), the checks on the container (in runc, where
//! the kernel decides), and `--strict` / `--allow`.

mod common;

use common::runc::Container;
use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

fn offline(args: &[&str]) -> (i32, String) {
    let out = Command::new(hardinit()).args(args).env_clear().output().unwrap();
    (code(out.status), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn line<'a>(report: &'a str, id: &str) -> &'a str {
    report.lines().find(|l| l.split_whitespace().nth(1) == Some(&format!("{id}:"))).unwrap_or("")
}

#[test]
fn check_config_lints_a_configuration_offline() {
    let dir = Scratch::new("offline");
    let chart = repo().join("tests/fixtures/charts/vault-helm/ha-raft/config.hcl");
    let chart = chart.to_str().unwrap();
    // The chart's default: TLS off on [::]:8200, a warning; the rest of the config is fine.
    let (status, report) = offline(&["check", "--config", chart]);
    assert_eq!(status, 0, "{report}");
    assert!(
        line(&report, "tls").starts_with("WARN tls:")
            && line(&report, "tls")
                .contains("config.hcl:4: the listener on [::]:8200 (reachable from the network) has TLS disabled"),
        "{report}"
    );
    for id in ["tls-verify", "seal-credentials", "raw-storage", "metrics", "umask", "signals"] {
        assert!(line(&report, id).starts_with("PASS"), "{id}: {report}");
    }
    for id in [
        "core-dumps",
        "user",
        "capabilities",
        "memory",
        "history",
        "root-filesystem",
        "seccomp",
        "open-files",
        "pid-namespace",
    ] {
        assert!(line(&report, id).starts_with("SKIP"), "{id}: {report}");
    }
    // --strict: the warning fails the check; --allow accepts it.
    assert_eq!(offline(&["--strict", "check", "--config", chart]).0, 1);
    assert_eq!(offline(&["--strict", "--allow", "tls", "check", "--config", chart]).0, 0);
    // A config with every problem: each named with file and line; JSON still one document.
    std::fs::write(
        dir.path("bad.hcl"),
        "listener \"tcp\" {\n  address = \"0.0.0.0:8200\"\n  tls_min_version = \"tls10\"\n  telemetry {\n    unauthenticated_metrics_access = true\n  }\n}\nseal \"transit\" {\n  token = \"s.secret\"\n  tls_skip_verify = true\n}\nraw_storage_endpoint = true\n",
    )
    .unwrap();
    let bad = dir.path("bad.hcl");
    let (status, json) = offline(&["check", "--json", "--config", bad.to_str().unwrap()]);
    assert_eq!(status, 0, "warnings only: {json}");
    let doc: Value = serde_json::from_str(&json).unwrap();
    let summary = |id: &str| {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| (c["status"].as_str().unwrap().to_string(), c["summary"].as_str().unwrap().to_string()))
            .unwrap()
    };
    assert_eq!(summary("tls").0, "WARN");
    assert!(summary("tls").1.contains("bad.hcl:3: tls_min_version tls10"), "{doc}");
    assert!(summary("seal-credentials").1.contains("bad.hcl:9: token written in the seal \"transit\" stanza"), "{doc}");
    assert!(summary("tls-verify").1.contains("bad.hcl:10: tls_skip_verify in seal \"transit\""), "{doc}");
    assert!(summary("raw-storage").1.contains("bad.hcl:12"), "{doc}");
    assert!(summary("metrics").1.contains("bad.hcl:5"), "{doc}");
    // An unparsable configuration is a FAIL with file and line, exit 1.
    std::fs::write(dir.path("broken.hcl"), "storage \"raft\" {\n").unwrap();
    let (status, report) = offline(&["check", "--config", dir.path("broken.hcl").to_str().unwrap()]);
    assert_eq!(status, 1, "{report}");
    assert!(line(&report, "memory").starts_with("FAIL") && report.contains("broken.hcl:1"), "{report}");
}

/// Every check hardinit has, as `hardinit check` reports them in the container.
const EVERY_CHECK: [&str; 23] = [
    "core-dumps",
    "user",
    "capabilities",
    "memory",
    "tls",
    "tls-verify",
    "seal-credentials",
    "raw-storage",
    "metrics",
    "root-token",
    "config-files",
    "tls-files",
    "storage",
    "audit",
    "plugin-directory",
    "history",
    "umask",
    "lsm",
    "root-filesystem",
    "seccomp",
    "open-files",
    "pid-namespace",
    "signals",
];

#[test]
fn check_config_lists_every_check_once_whether_or_not_the_configuration_reads() {
    let dir = Scratch::new("offline-ids");
    std::fs::write(dir.path("good.hcl"), "storage \"raft\" {\n  path = \"/x\"\n}\n").unwrap();
    std::fs::write(dir.path("broken.hcl"), "storage \"raft\" {\n").unwrap();
    let mut expected = EVERY_CHECK.to_vec();
    expected.sort_unstable();
    for name in ["good.hcl", "broken.hcl"] {
        let (_, json) = offline(&["check", "--json", "--config", dir.path(name).to_str().unwrap()]);
        let doc: Value = serde_json::from_str(&json).unwrap();
        let mut ids: Vec<&str> = doc["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(ids, expected, "{name}: {json}");
    }
}

/// `hardinit check` in a runc container set up by `setup`: the lines of the given ids.
fn container_check(name: &str, setup: fn(&mut Container)) -> String {
    let mut container =
        Container::new(name, &["/usr/local/bin/hardinit", "check", "--memory-guard", "off", "--", "/bin/id"]);
    setup(&mut container);
    let mut running = container.start();
    running.wait(LONG);
    format!("{}{}", running.stdout(), running.stderr())
}

#[test]
fn the_containers_own_protections_are_checked_where_the_kernel_decides() {
    if !privileged(true) {
        return;
    }
    // runc's defaults here: writable root, no seccomp filter, RLIMIT_NOFILE 1024, own PID namespace.
    let loose = container_check("loose", |_| {});
    for id in ["root-filesystem", "seccomp", "open-files"] {
        assert!(line(&loose, id).starts_with("WARN"), "{id}: {loose}");
    }
    assert!(line(&loose, "pid-namespace").starts_with("PASS"), "{loose}");
    let tight = container_check("tight", |c| {
        c.read_only_root();
        c.config["linux"]["seccomp"] = serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}]
        });
    });
    // (RLIMIT_NOFILE cannot be raised to 65,536 without CAP_SYS_RESOURCE on this host: its PASS
    // is a unit test.)
    for id in ["root-filesystem", "seccomp", "pid-namespace"] {
        assert!(line(&tight, id).starts_with("PASS"), "{id}: {tight}");
    }
    // Sharing the host's PID namespace (no pid namespace of its own): other processes are seen.
    let shared = container_check("shared-pid", |c| {
        c.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "pid");
    });
    assert!(line(&shared, "pid-namespace").starts_with("WARN") && shared.contains("shared PID namespace"), "{shared}");
}

#[test]
fn strict_refuses_a_start_with_a_warning_and_allow_accepts_it() {
    if !privileged(true) {
        return;
    }
    let start = |flags: &[&str]| {
        let mut args = vec!["/usr/local/bin/hardinit", "--memory-guard", "off"];
        args.extend_from_slice(flags);
        args.extend(["--", "/bin/true"]);
        let mut running = Container::new("strict", &args).start();
        (running.wait(LONG), running.stderr())
    };
    let (status, stderr) = start(&[]);
    assert_eq!(status, 0, "warnings alone do not refuse: {stderr}");
    let (status, stderr) = start(&["--strict"]);
    assert_eq!(status, 78, "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit: error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("memory: --memory-guard off"), "the first WARN refuses: {stderr}");
    let allow = "memory,root-filesystem,seccomp,open-files,history,lsm";
    let (status, stderr) = start(&["--strict", "--allow", allow]);
    assert_eq!(status, 0, "{stderr}");
    assert!(stderr.contains("memory: accepted by --allow memory"), "logged once: {stderr}");
}

#[test]
fn a_configuration_that_passes_every_check_also_starts_the_real_server() {
    if !privileged(true) {
        return;
    }
    let port = common::free_port();
    let cluster = common::free_port();
    let config = format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  tls_cert_file = \"/tls/cert.pem\"\n  tls_key_file = \"/tls/key.pem\"\n  tls_min_version = \"tls12\"\n}}\nstorage \"raft\" {{\n  path = \"/vault/data\"\n}}\napi_addr = \"https://127.0.0.1:{port}\"\ncluster_addr = \"https://127.0.0.1:{cluster}\"\ndisable_mlock = true\n"
    );
    let setup = |args: &[&str]| {
        let mut container = Container::new("valid", args);
        let rootfs = container.rootfs();
        container.file("/vault/config/server.hcl", &config, 0, 0);
        std::fs::create_dir_all(rootfs.join("tls")).unwrap();
        self_signed(&rootfs.join("tls/cert.pem"), &rootfs.join("tls/key.pem"), "valid", "IP:127.0.0.1");
        std::os::unix::fs::chown(rootfs.join("tls/key.pem"), Some(100), Some(1000)).unwrap();
        std::fs::set_permissions(rootfs.join("tls/key.pem"), std::os::unix::fs::PermissionsExt::from_mode(0o400))
            .unwrap();
        std::fs::create_dir_all(rootfs.join("vault/data")).unwrap();
        std::os::unix::fs::chown(rootfs.join("vault/data"), Some(100), Some(1000)).unwrap();
        std::fs::set_permissions(rootfs.join("vault/data"), std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        container
    };
    let server = ["/bin/bao", "server", "-config=/vault/config/server.hcl"];
    let mut check_args = vec!["/usr/local/bin/hardinit", "check", "--"];
    check_args.extend(server);
    let mut running = setup(&check_args).start();
    running.wait(LONG);
    let report = running.stdout();
    for id in [
        "tls",
        "tls-verify",
        "seal-credentials",
        "raw-storage",
        "metrics",
        "root-token",
        "config-files",
        "tls-files",
        "storage",
    ] {
        assert!(line(&report, id).starts_with("PASS"), "{id}: {report}");
    }
    let mut run_args = vec!["/usr/local/bin/hardinit", "--"];
    run_args.extend(server);
    let mut running = setup(&run_args).start();
    running.wait_for_output("OpenBao server started", LONG);
    running.stop_cleanly();
}

/// The `pid-namespace` line of a `hardinit check` run by `command`.
fn pid_namespace_line(command: std::process::Command) -> String {
    let out = run(command, LONG);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let found = line(&stdout, "pid-namespace").to_string();
    assert!(!found.is_empty(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    found
}

const CHECK: [&str; 5] = ["check", "--memory-guard", "off", "--", "/bin/true"];

#[test]
fn an_init_above_hardinit_and_a_check_entered_from_outside_are_not_a_shared_pid_namespace() {
    if !privileged(true) {
        return;
    }
    // `docker run --init`: tini is PID 1 of the namespace and hardinit's parent.
    let mut under_tini = command("unshare");
    under_tini.args(["--pid", "--fork", "--mount-proc", "--kill-child", "/usr/bin/tini", "--", hardinit()]).args(CHECK);
    let found = pid_namespace_line(under_tini);
    assert!(found.starts_with("PASS pid-namespace:"), "{found}");

    // `check` entered with nsenter into a running hardinit container (its PID 1, the server, and
    // a parent the namespace cannot see), and with `runc exec` (docker exec, kubectl exec).
    let args = ["/usr/local/bin/hardinit", "--memory-guard", "off", "--", "/bin/sleep", "300"];
    let running = Container::new("pidns-init", &args).start();
    running.server_pid();
    let init = running.init_pid();
    let mut entered = command("nsenter");
    entered.arg("-t").arg(init.to_string()).args(["-p", "-m", "--", "/usr/local/bin/hardinit"]).args(CHECK);
    let found = pid_namespace_line(entered);
    assert!(found.starts_with("PASS pid-namespace:"), "{found}");
    let mut args = vec!["/usr/local/bin/hardinit"];
    args.extend(CHECK);
    let out = running.exec(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(line(&stdout, "pid-namespace").starts_with("PASS pid-namespace:"), "{stdout}");

    // A sidecar in the same PID namespace (Kubernetes shareProcessNamespace): another container's
    // process, in its own cgroup, is seen from both sides.
    let mut sidecar = Container::new("pidns-sidecar", &["/bin/sleep", "300"]);
    let namespaces = sidecar.config["linux"]["namespaces"].as_array_mut().unwrap();
    namespaces.retain(|n| n["type"] != "pid");
    namespaces.push(serde_json::json!({"type": "pid", "path": format!("/proc/{init}/ns/pid")}));
    let sidecar = sidecar.start();
    sidecar.init_pid();
    let out = running.exec(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let shared = line(&stdout, "pid-namespace");
    assert!(shared.starts_with("WARN pid-namespace: 1 processes outside this container's cgroup"), "{stdout}");
    let mut entered = command("nsenter");
    entered.arg("-t").arg(init.to_string()).args(["-p", "-m", "--", "/usr/local/bin/hardinit"]).args(CHECK);
    let found = pid_namespace_line(entered);
    assert!(found.starts_with("WARN pid-namespace:"), "{found}");
    drop(sidecar);
}

/// The servers' own configuration files, as the kernel judges them: `hardinit check` (as root)
/// and the start (dropped to vault, 100:1000) in the same container; the start under --strict
/// with every other finding allowed, so that it refuses exactly where a file check warns.
fn file_verdicts(name: &str, setup: &dyn Fn(&mut Container)) -> (String, i32, String) {
    const SERVER: [&str; 3] = ["--", "/bin/bao", "server"];
    let config = "-config=/vault/config";
    let mut check = vec!["/usr/local/bin/hardinit", "check", "--memory-guard", "off"];
    check.extend(SERVER);
    check.push(config);
    let mut container = Container::new(name, &check);
    setup(&mut container);
    let mut running = container.start();
    running.wait(LONG);
    let report = running.stdout();
    let others = "memory,history,lsm,root-filesystem,seccomp,open-files,tls,storage,audit,root-token";
    let mut start = vec!["/usr/local/bin/hardinit", "--strict", "--allow", others, "--memory-guard", "off"];
    start.extend(SERVER);
    start.push(config);
    let mut container = Container::new(name, &start);
    setup(&mut container);
    let mut running = container.start();
    let status = wait_until(LONG, || {
        if running.stderr().contains("hardinit: hardened:") {
            return Some(0);
        }
        running.try_wait()
    })
    .unwrap_or_else(|| panic!("neither started nor refused: {}", running.stderr()));
    let stderr = running.stderr();
    (format!("{}\n{}", line(&report, "config-files"), line(&report, "tls-files")), status, stderr)
}

const LISTENER: &str = "listener \"tcp\" {\n  address = \"127.0.0.1:1\"\n  tls_cert_file = \"/tls/cert.pem\"\n  tls_key_file = \"/tls/key.pem\"\n}\nstorage \"inmem\" {}\n";

/// A root 0755 /vault/config holding a root 0644 server.hcl, and a certificate and key the server
/// can read (the key its own, 0400).
fn tidy(c: &mut Container) {
    use std::os::unix::fs::PermissionsExt;
    let rootfs = c.rootfs();
    c.file("/vault/config/server.hcl", LISTENER, 0, 0);
    c.file("/tls/cert.pem", "c", 0, 0);
    c.file("/tls/key.pem", "k", 100, 1000);
    std::fs::set_permissions(rootfs.join("tls/key.pem"), std::fs::Permissions::from_mode(0o400)).unwrap();
    std::os::unix::fs::chown(rootfs.join("vault/config"), Some(0), Some(0)).unwrap();
}

fn setfacl(path: &std::path::Path, spec: &str) {
    let out = Command::new("setfacl").args(["-m", spec]).arg(path).output().expect("setfacl (acl)");
    assert!(out.status.success(), "setfacl: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn config_and_key_files_are_judged_as_the_kernel_decides_in_check_and_at_start_alike() {
    if !privileged(true) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (report, status, stderr) = file_verdicts("files-tidy", &tidy);
    assert!(report.lines().all(|l| l.starts_with("PASS")), "{report}");
    assert_eq!(status, 0, "{stderr}");
    type Setup = fn(&mut Container);
    let cases: [(&str, Setup, &str, &str); 6] = [
        (
            "owner-0444",
            |c| {
                tidy(c);
                std::os::unix::fs::chown(c.rootfs().join("vault/config/server.hcl"), Some(100), Some(1000)).unwrap();
                std::fs::set_permissions(
                    c.rootfs().join("vault/config/server.hcl"),
                    std::fs::Permissions::from_mode(0o444),
                )
                .unwrap();
            },
            "config-files",
            "its owner, who can chmod it",
        ),
        (
            "acl-user",
            |c| {
                tidy(c);
                setfacl(&c.rootfs().join("vault/config/server.hcl"), "u:100:rw");
            },
            "config-files",
            "by the ACL entry user:100",
        ),
        (
            "acl-group",
            |c| {
                tidy(c);
                setfacl(&c.rootfs().join("vault/config/server.hcl"), "g:1000:rw");
            },
            "config-files",
            "by the ACL entry group:1000",
        ),
        (
            "dir-owner",
            |c| {
                tidy(c);
                std::os::unix::fs::chown(c.rootfs().join("vault/config"), Some(100), Some(1000)).unwrap();
            },
            "config-files",
            "/vault/config is writable as its owner",
        ),
        (
            "root-only-dir",
            |c| {
                tidy(c);
                std::fs::set_permissions(c.rootfs().join("tls"), std::fs::Permissions::from_mode(0o700)).unwrap();
            },
            "tls-files",
            "not readable by the server's user",
        ),
        (
            "acl-key",
            |c| {
                tidy(c);
                setfacl(&c.rootfs().join("tls/key.pem"), "u:4444:r");
            },
            "tls-files",
            "readable by user:4444",
        ),
    ];
    for (name, setup, id, words) in cases {
        let (report, status, stderr) = file_verdicts(name, &setup);
        let found = report.lines().find(|l| l.contains(&format!(" {id}:"))).unwrap_or_default();
        // A TLS file the server cannot read would stop it: a FAIL, not a WARN.
        let expected = if name == "root-only-dir" { "FAIL" } else { "WARN" };
        assert!(found.starts_with(expected) && found.contains(words), "{name}: check says {report}");
        assert_eq!(status, 78, "{name}: the start refuses as check warns: {stderr}");
        assert!(stderr.contains(&format!("hardinit: error: {id}:")) && stderr.contains(words), "{name}: {stderr}");
    }
}
