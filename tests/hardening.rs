//! The hardening, proven in runc containers with the real OpenBao server: what the server's
//! process really holds is read from /proc/<pid> on the host.

mod common;

use common::runc::{Container, DOCKER_DEFAULT_CAPS, ProcessView};
use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const HARDINIT: &str = "/usr/local/bin/hardinit";
const CONFIG: &str = "/vault/config/extraconfig-from-values.hcl";

/// The vault-helm standalone config as the chart renders it (disable_mlock = true appended), with
/// only what OpenBao 2.7 cannot run swapped: file storage becomes inmem, the listener a free port.
fn chart_config(port: u16) -> String {
    include_str!("fixtures/charts/vault-helm/standalone/config.hcl")
        .replace("storage \"file\" {\n  path = \"/vault/data\"\n}", "storage \"inmem\" {}")
        .replace("address = \"[::]:8200\"", &format!("address = \"127.0.0.1:{port}\""))
        .replace("cluster_address = \"[::]:8201\"", &format!("cluster_address = \"127.0.0.1:{}\"", free_port()))
}

fn bao_container(name: &str, hardinit_flags: &[&str]) -> Container {
    let mut args = vec![HARDINIT];
    args.extend_from_slice(hardinit_flags);
    args.extend(["--", "/bin/bao", "server", "-config=/vault/config/extraconfig-from-values.hcl"]);
    let mut container = Container::new(name, &args);
    container.file(CONFIG, &chart_config(free_port()), 100, 1000);
    container
}

fn with_ipc_lock() -> Vec<&'static str> {
    let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
    caps.push("CAP_IPC_LOCK");
    caps
}

#[test]
fn started_as_root_with_ipc_lock_the_server_holds_exactly_ipc_lock_as_uid_100() {
    if !privileged(true) {
        return;
    }
    let _core_pattern = CORE_PATTERN.lock().unwrap_or_else(|e| e.into_inner());
    let mut container = bao_container("root-ipc-lock", &["--memory-guard", "mlock"]);
    container.capabilities(&with_ipc_lock());
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    let server = ProcessView { pid: running.server_pid() };
    assert_eq!(server.field("Name"), "bao");
    assert_eq!(server.ids("Uid"), [100; 4]);
    assert_eq!(server.ids("Gid"), [1000; 4]);
    assert_eq!(server.field("Groups"), "1000");
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(server.field(set), "0000000000004000", "{set}");
    }
    assert_eq!(server.field("NoNewPrivs"), "1");
    let core = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let expected = if core.starts_with('|') { "1" } else { "0" };
    assert_eq!(server.limit("Max core file size"), (expected.into(), expected.into()));
    assert_eq!(server.coredump_filter(), "00000000");
    let init = ProcessView { pid: running.init_pid() };
    // Effective uid the server's (to signal it), real and saved uid its own (beyond its reach).
    assert_eq!(init.ids("Uid"), [65533, 100, 65533, 100], "hardinit itself does not stay root");
    for set in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(init.field(set), "0000000000004000", "hardinit's {set}");
    }
    assert!(running.stderr().contains("memory PASS"), "{}", running.stderr());
    running.stop_cleanly();
}

#[test]
fn without_ipc_lock_the_mlock_rule_refuses_with_the_fix_and_starts_nothing() {
    if !privileged(true) {
        return;
    }
    let container = bao_container("root-no-ipc-lock", &["--memory-guard", "mlock"]);
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78, "{}", running.stderr());
    let stderr = running.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit: error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("CAP_IPC_LOCK") && errors[0].contains("docker run --cap-add IPC_LOCK"), "{stderr}");
    assert!(!running.stdout().contains("OpenBao"), "the server never started: {}", running.stdout());
}

#[test]
fn the_vault_helm_defaults_run_unprivileged_from_the_start() {
    if !privileged(true) {
        return;
    }
    // Kubernetes: runAsUser 100, runAsGroup 1000, allowPrivilegeEscalation false, no added
    // capability (the runtime's default set is in the bounding set only once uid 100 execs).
    let mut container = bao_container("helm", &[]);
    container.user(100, 1000).no_new_privileges(true).capabilities(&DOCKER_DEFAULT_CAPS);
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    let server = ProcessView { pid: running.server_pid() };
    assert_eq!(server.ids("Uid"), [100; 4]);
    assert_eq!(server.ids("Gid"), [1000; 4]);
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(server.field(set), "0000000000000000", "{set}");
    }
    assert_eq!(server.field("NoNewPrivs"), "1");
    assert_eq!(server.coredump_filter(), "00000000");
    running.stop_cleanly();
}

/// Tests that read or change the host's /proc/sys/kernel/core_pattern take turns.
static CORE_PATTERN: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The host's core_pattern set to something else while this lives.
struct CorePattern(String);

impl CorePattern {
    fn set(pattern: &str) -> CorePattern {
        let old = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
        std::fs::write("/proc/sys/kernel/core_pattern", pattern).unwrap();
        CorePattern(old.trim_end().to_string())
    }
}

impl Drop for CorePattern {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/kernel/core_pattern", &self.0);
    }
}

#[test]
fn where_the_host_pipes_core_dumps_the_limit_is_1_and_the_helper_never_runs() {
    if !privileged(true) {
        return;
    }
    let _lock = CORE_PATTERN.lock().unwrap_or_else(|e| e.into_inner());
    let marker = repo().join(format!("target/hardinit-core-helper-ran-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    let _pattern = CorePattern::set(&format!("|/usr/bin/touch {}", marker.display()));

    // The control: `ulimit -c 0`, as the official script does. In pipe mode the kernel ignores 0
    // and hands the whole memory image to the helper.
    let _ = Command::new("sh").args(["-c", "ulimit -c 0; kill -SEGV $$"]).status();
    wait_until(Duration::from_secs(10), || marker.exists().then_some(())).expect("with RLIMIT_CORE 0 the helper ran");
    std::fs::remove_file(&marker).unwrap();

    // Under hardinit: RLIMIT_CORE 1, which makes the kernel abort the dump before the helper.
    let container = Container::new("core-pipe", &[HARDINIT, "--", "/bin/sh", "-c", "sleep 1; kill -SEGV $$"]);
    let mut running = container.start();
    let server = ProcessView { pid: running.server_pid() };
    assert_eq!(server.limit("Max core file size"), ("1".into(), "1".into()));
    assert_eq!(server.coredump_filter(), "00000000");
    assert_eq!(running.wait(LONG), 128 + 11, "{}", running.stderr());
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "the core dump helper ran for the server");
}

#[test]
fn with_swap_on_the_host_the_server_runs_only_where_the_cgroup_allows_no_swap() {
    if !privileged(true) {
        return;
    }
    let _swap = SwapFile::on();
    let swaps = std::fs::read_to_string("/proc/swaps").unwrap();
    assert!(swaps.lines().count() > 1, "swapon took effect: {swaps}");

    // Memory limit without a swap limit: the container may swap.
    let mut container = bao_container("swap-allowed", &[]);
    container.user(100, 1000).no_new_privileges(true);
    container.config["linux"]["resources"] = serde_json::json!({});
    let mut refused = container.start();
    assert_eq!(refused.wait(LONG), 78, "{}", refused.stderr());
    let stderr = refused.stderr();
    assert!(stderr.contains("swap rule") && stderr.contains("--memory-swap"), "{stderr}");

    // memory.memsw.limit_in_bytes equal to memory.limit_in_bytes: 0 bytes of swap.
    let mut container = bao_container("swap-limited", &[]);
    container.user(100, 1000).no_new_privileges(true);
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    assert!(running.stderr().contains("memory PASS"), "{}", running.stderr());
    running.stop_cleanly();
}

#[test]
fn a_proc_swaps_the_servers_user_cannot_read_is_unknown_swap_not_no_swap() {
    if !privileged(true) {
        return;
    }
    // As LXCFS does for /proc/swaps, a file bound over it: here root's alone (mode 0400), so the
    // server's user reads EACCES. No swap limit: only /proc/swaps could prove the rule.
    let scratch = Scratch::new("swaps");
    let swaps = scratch.path("swaps");
    std::fs::write(&swaps, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n").unwrap();
    std::fs::set_permissions(&swaps, std::os::unix::fs::PermissionsExt::from_mode(0o400)).unwrap();
    let start = |name: &str| {
        let mut container = Container::new(name, &[HARDINIT, "--memory-guard", "swap", "--", "/bin/true"]);
        container.config["linux"]["resources"] = serde_json::json!({});
        let bound = serde_json::json!({"destination": "/proc/swaps", "type": "bind", "source": swaps, "options": ["bind", "ro"]});
        container.config["mounts"].as_array_mut().unwrap().push(bound);
        container.start()
    };
    let mut refused = start("swaps-unreadable");
    assert_eq!(refused.wait(LONG), 78, "{}", refused.stderr());
    let stderr = refused.stderr();
    assert!(
        stderr.contains("whether the host swaps is unknown (cannot read /proc/swaps: Permission denied"),
        "{stderr}"
    );
    // The same file readable: no active swap, the rule passes.
    std::fs::set_permissions(&swaps, std::os::unix::fs::PermissionsExt::from_mode(0o444)).unwrap();
    let mut running = start("swaps-readable");
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
}

/// The schema README.md documents for `hardinit check --json`.
fn validate_check_schema(doc: &Value) -> Result<(), String> {
    let top = doc.as_object().ok_or("not an object")?;
    let mut keys: Vec<&str> = top.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["checks", "hardinit", "ok"] {
        return Err(format!("top-level keys {keys:?}"));
    }
    doc["hardinit"].as_str().filter(|v| !v.is_empty()).ok_or("hardinit is not a version string")?;
    let ok = doc["ok"].as_bool().ok_or("ok is not a boolean")?;
    let checks = doc["checks"].as_array().ok_or("checks is not an array")?;
    let mut ids = Vec::new();
    for check in checks {
        let obj = check.as_object().ok_or("a check is not an object")?;
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys != ["fix", "id", "status", "summary", "why"] {
            return Err(format!("check keys {keys:?}"));
        }
        if obj.values().any(|v| !v.is_string()) {
            return Err(format!("a field is not a string: {check}"));
        }
        if !["PASS", "WARN", "FAIL", "SKIP"].contains(&check["status"].as_str().unwrap()) {
            return Err(format!("bad status in {check}"));
        }
        ids.push(check["id"].as_str().unwrap().to_string());
    }
    for id in ["core-dumps", "user", "capabilities", "memory", "history", "umask"] {
        if !ids.iter().any(|i| i == id) {
            return Err(format!("check {id} missing: {ids:?}"));
        }
    }
    if ok == checks.iter().any(|c| c["status"] == "FAIL") {
        return Err("ok disagrees with the statuses".into());
    }
    Ok(())
}

#[test]
fn check_json_follows_its_documented_schema_and_exit_status() {
    if !privileged(true) {
        return;
    }
    for (caps, expect_ok) in [(with_ipc_lock(), true), (DOCKER_DEFAULT_CAPS.to_vec(), false)] {
        let args = [
            HARDINIT,
            "check",
            "--json",
            "--memory-guard",
            "mlock",
            "--",
            "/bin/bao",
            "server",
            &format!("-config={CONFIG}"),
        ];
        let mut container = Container::new("check", &args);
        container.file(CONFIG, &chart_config(free_port()), 100, 1000);
        container.capabilities(&caps);
        let mut running = container.start();
        let status = running.wait(LONG);
        let doc: Value =
            serde_json::from_str(&running.stdout()).unwrap_or_else(|e| panic!("{e}: {}", running.stdout()));
        validate_check_schema(&doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
        assert_eq!(doc["ok"], expect_ok, "{doc}");
        assert_eq!(status, if expect_ok { 0 } else { 1 });
        let memory = doc["checks"].as_array().unwrap().iter().find(|c| c["id"] == "memory").unwrap();
        assert_eq!(memory["status"], if expect_ok { "PASS" } else { "FAIL" }, "{memory}");
    }
}

#[test]
fn the_schema_validator_rejects_what_the_schema_forbids() {
    let checks: Vec<Value> = ["core-dumps", "user", "capabilities", "memory", "history", "umask"]
        .map(|id| serde_json::json!({"id": id, "status": "PASS", "summary": "s", "why": "w", "fix": "f"}))
        .to_vec();
    let good = serde_json::json!({"hardinit": "0.1.0", "ok": true, "checks": checks});
    assert_eq!(validate_check_schema(&good), Ok(()));
    let mut bad = good.clone();
    bad["ok"] = Value::Bool(false);
    assert!(validate_check_schema(&bad).is_err());
    let mut bad = good.clone();
    bad["checks"][0]["status"] = "MAYBE".into();
    assert!(validate_check_schema(&bad).is_err());
    let mut bad = good;
    bad["extra"] = 1.into();
    assert!(validate_check_schema(&bad).is_err());
}

#[test]
fn started_as_uid_100_hardinit_passes_its_file_capability_to_the_server_as_ambient() {
    if !privileged(true) {
        return;
    }
    // `docker run --user 100:1000 --cap-add IPC_LOCK` with hardinit carrying cap_ipc_lock=p (the
    // permitted bit only: +ep would make exec fail where IPC_LOCK is not in the bounding set).
    let mut container = bao_container("filecap", &["--memory-guard", "mlock"]);
    container.user(100, 1000).capabilities(&with_ipc_lock());
    let status =
        Command::new("setcap").arg("cap_ipc_lock=p").arg(container.rootfs().join("usr/local/bin/hardinit")).status();
    assert!(status.is_ok_and(|s| s.success()), "setcap (libcap2-bin) failed");
    let mut running = container.start();
    if emulated_file_capabilities_ignored() {
        // The capability on the emulated binary grants nothing: hardinit sees it does not hold
        // IPC_LOCK and refuses, as it must wherever a file capability is lost.
        assert_eq!(running.wait(LONG), 78, "{}", running.stderr());
        assert!(running.stderr().contains("the server cannot get CAP_IPC_LOCK"), "{}", running.stderr());
        return;
    }
    running.wait_for_output("OpenBao server started", LONG);
    let server = ProcessView { pid: running.server_pid() };
    assert_eq!(server.ids("Uid"), [100; 4]);
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(server.field(set), "0000000000004000", "{set}");
    }
    assert_eq!(server.field("NoNewPrivs"), "1");
    assert!(running.stderr().contains("memory PASS"), "{}", running.stderr());
    running.stop_cleanly();
}

#[test]
fn started_as_uid_100_without_the_capability_the_mlock_rule_refuses() {
    if !privileged(true) {
        return;
    }
    let mut container = bao_container("nocap", &["--memory-guard", "mlock"]);
    container.user(100, 1000).no_new_privileges(true);
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78, "{}", running.stderr());
    assert!(running.stderr().contains("would not hold CAP_IPC_LOCK"), "{}", running.stderr());
}

#[test]
fn bad_input_is_one_line_exit_78_and_nothing_starts() {
    if !privileged(true) {
        return;
    }
    // (what is wrong, how to make it so, what the line must name)
    type Setup = fn(&mut Container);
    let cases: [(&str, Setup, &str); 4] = [
        (
            "an unparsable config",
            |c| {
                c.file(CONFIG, "storage \"raft\" {\n  path = \"/x\"\n", 100, 1000);
            },
            "extraconfig-from-values.hcl:1: the object opened here is not closed",
        ),
        (
            "an unknown user",
            |c| {
                c.args(&[HARDINIT, "--user", "nosuch", "--", "/bin/bao", "server", "-config=/vault/config"]);
            },
            "user \"nosuch\" is not in /etc/passwd",
        ),
        (
            "a malformed /etc/passwd",
            |c| {
                c.file("/etc/passwd", "root:x:0:0::/:/x\nvault:x:100\n", 0, 0);
            },
            "/etc/passwd line 2 has 3 fields",
        ),
        (
            "a user without a group",
            |c| {
                c.file("/etc/group", "root:x:0:\n", 0, 0);
            },
            "primary group 1000, which /etc/group does not list",
        ),
    ];
    for (what, setup, names) in cases {
        let mut container = bao_container("bad-input", &[]);
        setup(&mut container);
        let mut running = container.start();
        assert_eq!(running.wait(LONG), 78, "{what}: {}", running.stderr());
        let stderr = running.stderr();
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit: error:")).collect();
        assert_eq!(errors.len(), 1, "{what}: {stderr}");
        assert!(errors[0].contains(names) && errors[0].contains("fix:"), "{what}: {stderr}");
        assert!(!running.stdout().contains("OpenBao"), "{what}: the server never started");
    }
}

/// The `id` line of `hardinit check` for a container set up by `setup`, and the start's status
/// and output for the same container running `id -G`.
fn decision(name: &str, flags: &[&str], id: &str, setup: fn(&mut Container)) -> (String, i32, String) {
    let mut check_args = vec![HARDINIT];
    check_args.extend_from_slice(flags);
    check_args.extend(["check", "--memory-guard", "off", "--", "/bin/id"]);
    let mut container = Container::new(name, &check_args);
    setup(&mut container);
    let mut running = container.start();
    running.wait(LONG);
    let line = running.stdout().lines().find(|l| l.contains(&format!(" {id}: "))).unwrap_or_default().to_string();
    let mut run_args = vec![HARDINIT, "--memory-guard", "off"];
    run_args.extend_from_slice(flags);
    run_args.extend(["--", "/bin/id", "-G"]);
    let mut container = Container::new(name, &run_args);
    setup(&mut container);
    let mut running = container.start();
    let status = running.wait(LONG);
    (line, status, format!("{}{}", running.stdout(), running.stderr()))
}

#[test]
fn group_zero_held_by_a_non_root_start_is_a_warning_with_or_without_user() {
    if !privileged(true) {
        return;
    }
    // setpriv --reuid=65534 --regid=65534 --groups=0: the kernel's supplementary groups hold 0.
    let nobody_with_group_zero: fn(&mut Container) = |c| {
        c.config["process"]["user"] = serde_json::json!({"uid": 65534, "gid": 65534, "additionalGids": [0]});
        c.file("/etc/passwd", "root:x:0:0::/:/x\nvault:x:100:1000::/home/vault:/x\nnobody:x:65534:65534::/:/x\n", 0, 0);
        c.file("/etc/group", "root:x:0:\nvault:x:1000:\nnogroup:x:65534:\n", 0, 0);
    };
    for flags in [&[][..], &["--user", "nobody"][..]] {
        let (check, status, output) = decision("group0", flags, "user", nobody_with_group_zero);
        assert!(check.starts_with("WARN user:") && check.contains("group 0"), "{flags:?}: {check}");
        assert_eq!(status, 0, "{flags:?}: the same decision with and without --user: {output}");
        assert!(output.contains("warning: user:") && output.contains("group 0"), "{flags:?}: {output}");
        assert!(output.lines().any(|l| l.split_whitespace().any(|g| g == "0")), "{flags:?}: id -G: {output}");
    }
}

#[test]
fn without_setuid_and_setgid_check_fails_the_user_as_the_start_refuses_it() {
    if !privileged(true) {
        return;
    }
    // docker run --cap-drop SETUID --cap-drop SETGID: root, but setgroups and setresuid fail.
    let no_setid: fn(&mut Container) = |c| {
        let caps: Vec<&str> =
            DOCKER_DEFAULT_CAPS.iter().copied().filter(|c| !matches!(*c, "CAP_SETUID" | "CAP_SETGID")).collect();
        c.capabilities(&caps);
    };
    let (check, status, output) = decision("no-setid", &[], "user", no_setid);
    assert!(check.starts_with("FAIL user:") && check.contains("CAP_SETGID"), "{check}");
    assert_eq!(status, 78, "{output}");
    assert!(output.contains("setgroups") && output.contains("CAP_SETUID and CAP_SETGID"), "{output}");
}

#[test]
fn openshift_arbitrary_uid_with_gid_0_runs_with_a_warning_naming_the_convention() {
    if !privileged(true) {
        return;
    }
    // The restricted SCC: a uid from the namespace's range, gid 0, no passwd entry.
    let openshift: fn(&mut Container) = |c| {
        c.user(1000680000, 0).no_new_privileges(true);
    };
    let (check, status, output) = decision("openshift", &[], "user", openshift);
    assert!(check.starts_with("WARN user:") && check.contains("OpenShift"), "{check}");
    assert_eq!(status, 0, "{output}");
    assert!(output.contains("OpenShift"), "{output}");
    // Root itself stays refused, whatever the platform.
    let (check, status, output) = decision("openshift-root", &["--user", "0:0"], "user", |_| {});
    assert!(check.starts_with("FAIL user:"), "{check}");
    assert_eq!(status, 78, "{output}");
}

#[test]
fn settings_that_give_something_up_are_warnings_not_passes() {
    if !privileged(true) {
        return;
    }
    for (flags, id, words) in [
        (&["--umask", "000"][..], "umask", "writable by every user"),
        (&["--umask", "777"][..], "umask", "cannot use the files"),
        (&["--rewrite", "TERM:0"][..], "signals", "SIGTERM is dropped"),
        (&["--rewrite", "TERM:KILL"][..], "signals", "SIGTERM becomes SIGKILL"),
        (&["--rewrite", "HUP:STOP"][..], "signals", "freezes"),
        (&["--rewrite", "TERM:SEGV"][..], "signals", "as if it had crashed"),
        (&["--allow-root", "--user", "root"][..], "user", "root or group 0 allowed"),
    ] {
        let (line, status, output) = decision("give-up", flags, id, |_| {});
        assert!(line.starts_with(&format!("WARN {id}:")) && line.contains(words), "{flags:?}: {line}");
        assert_eq!(status, 0, "{flags:?}: a warning, not a refusal: {output}");
        assert!(output.contains(words), "{flags:?}: the start-up log says it too: {output}");
    }
    // BAO_SKIP_DROP_ROOT keeps the server root: reported, never as PASS.
    let mut container = Container::new("skip-drop", &[HARDINIT, "--entrypoint", "openbao", "version"]);
    container.env("BAO_SKIP_DROP_ROOT", "1");
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert!(running.stderr().contains("warning: user: the server runs as root"), "{}", running.stderr());
}

#[test]
fn an_unusable_numeric_user_is_a_usage_error() {
    if !privileged(false) {
        return;
    }
    let out = Command::new(hardinit()).args(["--user", "4294967295:4294967295", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("fix:"), "{stderr}");
}

#[test]
fn in_a_user_namespace_the_mlock_fix_is_not_a_capability() {
    if !privileged(false) {
        return;
    }
    // Root of a user namespace holds IPC_LOCK there, which never lifts the host's RLIMIT_MEMLOCK.
    let out = Command::new("unshare")
        .args(["--user", "--map-root-user", "--", hardinit(), "check", "--user", "nobody:nogroup"])
        .args(["--memory-guard", "mlock", "--", "/bin/true"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let memory = stdout.lines().find(|l| l.contains(" memory: ")).unwrap_or_default();
    assert!(memory.starts_with("FAIL memory:") && memory.contains("user namespace"), "{stdout}");
    let fix = memory.split("fix: ").nth(1).unwrap_or_default();
    assert!(fix.starts_with("raise the limit") && !fix.contains("--cap-add"), "{memory}");
}

/// The memory rule predicts the server: where hardinit's mlock rule passes, a stand-in that
/// locks its memory as Vault does at start succeeds; where the rule refuses, the lock fails too.
#[test]
fn the_mlock_rule_predicts_the_servers_own_mlockall() {
    if !privileged(true) {
        return;
    }
    let standin_in = |container: &mut Container| {
        let target = container.rootfs().join("usr/local/bin/mlock-standin");
        install(std::path::Path::new(mlock_standin()), &target, 0o755);
    };
    let run = |caps: &[&str], guard: &str| {
        // -v: a one-off command's summary is shown only when asked for.
        let args = [HARDINIT, "-v", "--memory-guard", guard, "--", "/usr/local/bin/mlock-standin"];
        let mut container = Container::new("mlock-standin", &args);
        standin_in(&mut container);
        container.capabilities(caps);
        let mut running = container.start();
        let status = running.wait(LONG);
        (status, format!("{}{}", running.stdout(), running.stderr()))
    };
    // Root start with IPC_LOCK: the rule passes and the lock works.
    let (status, output) = run(&with_ipc_lock(), "mlock");
    assert_eq!(status, 0, "{output}");
    assert!(output.contains("memory PASS") && output.contains("locked 67108864 bytes"), "{output}");
    // Without IPC_LOCK: the rule refuses, and the stand-in, started anyway, cannot lock.
    let (status, output) = run(&DOCKER_DEFAULT_CAPS, "mlock");
    assert_eq!(status, 78, "{output}");
    let (status, output) = run(&DOCKER_DEFAULT_CAPS, "off");
    assert_eq!(status, 1, "{output}");
    assert!(output.contains("mlockall: "), "{output}");
    // A non-root start without the capability: RLIMIT_MEMLOCK (8 MiB here) is too small.
    let unprivileged = |guard: &str| {
        // -v: a one-off command's summary is shown only when asked for.
        let args = [HARDINIT, "-v", "--memory-guard", guard, "--", "/usr/local/bin/mlock-standin"];
        let mut container = Container::new("mlock-standin-100", &args);
        standin_in(&mut container);
        container.user(100, 1000).no_new_privileges(true);
        let mut running = container.start();
        (running.wait(LONG), format!("{}{}", running.stdout(), running.stderr()))
    };
    assert_eq!(unprivileged("mlock").0, 78);
    let (status, output) = unprivileged("off");
    assert_eq!(status, 1, "{output}");
    // A user namespace: root there holds IPC_LOCK, which never lifts the host's limit.
    let userns = |guard: &str| {
        // -v: a one-off command's summary is shown only when asked for.
        let args = [HARDINIT, "-v", "--memory-guard", guard, "--", "/usr/local/bin/mlock-standin"];
        let mut container = Container::new("mlock-standin-userns", &args);
        standin_in(&mut container);
        container.capabilities(&with_ipc_lock());
        let map = serde_json::json!([{"containerID": 0, "hostID": 200_000, "size": 65_536}]);
        container.config["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "user"}));
        container.config["linux"]["uidMappings"] = map.clone();
        container.config["linux"]["gidMappings"] = map;
        // sysfs and cgroup mounts need namespaces the new user namespace owns: not needed here.
        container.config["mounts"].as_array_mut().unwrap().retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
        let mut running = container.start();
        (running.wait(LONG), format!("{}{}", running.stdout(), running.stderr()))
    };
    let (status, output) = userns("mlock");
    assert_eq!(status, 78, "{output}");
    assert!(output.contains("user namespace"), "{output}");
    let (status, output) = userns("off");
    assert_eq!(status, 1, "the lock fails there too: {output}");
}

/// A stand-in server, started by hardinit as PID 1 of a real PID namespace (root, dropping to
/// the test user), tries every way a process of the same user reaches another: prlimit (the
/// kernel SIGKILLs an init past RLIMIT_CPU), kill, ptrace-guarded /proc reads and /proc writes.
#[test]
fn the_server_cannot_reach_pid_1_which_still_signals_it() {
    if !privileged(false) {
        return;
    }
    let scratch = Scratch::new("reach-pid-1");
    let report = scratch.path("report");
    let script = format!(
        r#"try() {{ what=$1; shift; if "$@" >/dev/null 2>&1; then echo "$what reached"; else echo "$what denied"; fi; }}
{{
try prlimit prlimit --pid 1 --core=0:0
try kill kill -0 1
try oom_score_adj sh -c 'echo 1000 > /proc/1/oom_score_adj'
try comm sh -c 'echo x > /proc/1/comm'
try environ cat /proc/1/environ
try mem sh -c 'head -c 1 /proc/1/mem'
echo ready
}} > {report}
exec sleep 60"#,
        report = report.display()
    );
    let mut cmd = as_namespace_init(&["--memory-guard", "off", "--", "sh", "-c", &script]);
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let init = forked_child_of(&child);
    wait_until(LONG, || scratch.read("report").contains("ready").then_some(())).expect("the stand-in server reports");
    let lines = scratch.read("report");
    let uids = ProcessView { pid: init }.ids("Uid");
    // PID 1 can still signal the server: the SIGTERM it forwards ends the server's sleep.
    assert!(Command::new("kill").args(["-TERM", &init.to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM), "the forwarded SIGTERM ended the server: {stderr}");
    for what in ["prlimit", "kill", "oom_score_adj", "comm", "environ", "mem"] {
        assert!(lines.contains(&format!("{what} denied")), "{what}: PID 1 reachable by the server: {lines}");
    }
    assert_eq!(uids, [65533, 4242, 65533, 4242], "PID 1's real and saved uid are its own: {stderr}");
}
