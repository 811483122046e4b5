//! Fault injection in runc containers: the kernel refuses what hardinit asks, and hardinit says so
//! in one line with a documented status, never a panic or a hang, and leaves nothing half-done.

mod common;

use common::runc::Container;
use common::*;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const HARDINIT: &str = "/usr/local/bin/hardinit";

fn errors(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("hardinit: error:")).collect()
}

/// A status hardinit documents (its own failures), not a crash (134 SIGABRT, 139 SIGSEGV).
fn documented(status: i32) -> bool {
    [64, 70, 71, 78, 126, 127].contains(&status)
}

#[test]
fn fork_refused_by_the_pids_limit_is_one_line() {
    if !privileged(true) {
        return;
    }
    let mut container = Container::new("pids", &[HARDINIT, "--memory-guard", "off", "--", "/bin/true"]);
    container.config["linux"]["resources"]["pids"] = serde_json::json!({"limit": 1});
    let mut running = container.start();
    let status = running.wait(LONG);
    let stderr = running.stderr();
    assert!(documented(status), "{status}: {stderr}");
    assert_eq!(errors(&stderr).len(), 1, "{stderr}");
    assert!(stderr.contains("Resource temporarily unavailable") || stderr.contains("fork"), "{stderr}");
}

#[test]
fn without_proc_hardinit_says_so_in_one_line() {
    if !privileged(false) {
        return;
    }
    // runc itself needs /proc; a PID namespace whose mount namespace has none is the case.
    let script = format!("umount -l /proc && exec {} --user 65534:65534 --memory-guard off -- /bin/true", hardinit());
    let out = run(
        {
            let mut c = std::process::Command::new("unshare");
            c.args(["--mount", "--propagation", "private", "--pid", "--fork", "--", "sh", "-c", &script]);
            c
        },
        LONG,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(code(out.status), 71, "{stderr}");
    assert_eq!(errors(&stderr).len(), 1, "{stderr}");
    assert!(stderr.contains("/proc is not mounted; fix: mount proc"), "{stderr}");
}

#[test]
fn eight_file_descriptors_are_enough_or_one_line() {
    if !privileged(true) {
        return;
    }
    let mut container = Container::new("nofile", &[HARDINIT, "--memory-guard", "off", "--", "/bin/true"]);
    container.config["process"]["rlimits"] = serde_json::json!([{"type": "RLIMIT_NOFILE", "hard": 8, "soft": 8}]);
    let mut running = container.start();
    let status = running.wait(LONG);
    let stderr = running.stderr();
    assert!(status == 0 || (documented(status) && errors(&stderr).len() == 1), "{status}: {stderr}");
}

#[test]
fn a_full_config_volume_leaves_no_partial_local_json() {
    if !privileged(true) {
        return;
    }
    let mut container = Container::new("enospc", &["/usr/local/bin/docker-entrypoint.sh", "version"]);
    std::os::unix::fs::symlink("hardinit", container.rootfs().join("usr/local/bin/docker-entrypoint.sh")).unwrap();
    std::os::unix::fs::symlink("bao", container.rootfs().join("bin/vault")).unwrap();
    // A 4 KiB volume (a tmpfs mounted on the host, so that it can be looked at afterwards): the
    // first page fits, the rest of a 64 KiB configuration does not.
    let volume = Scratch::new("enospc-volume");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4k,mode=755", "tmpfs"])
        .arg(&volume.0)
        .status()
        .unwrap();
    assert!(mounted.success());
    container.volume(&volume.0, "/vault/config");
    container.env("VAULT_LOCAL_CONFIG", &format!("{{\"ui\": true, \"pad\": \"{}\"}}", "x".repeat(65_536)));
    let mut running = container.start();
    let status = running.wait(LONG);
    let stderr = running.stderr();
    let left: Vec<_> = std::fs::read_dir(&volume.0).unwrap().map(|e| e.unwrap().file_name()).collect();
    let _ = std::process::Command::new("umount").arg(&volume.0).status();
    assert_eq!(status, 78, "{stderr}");
    assert_eq!(errors(&stderr).len(), 1, "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(left.is_empty(), "no partial local.json, no temporary file: {left:?}");
}

#[test]
fn a_server_killed_by_its_memory_cgroup_is_137_and_said() {
    if !privileged(true) {
        return;
    }
    // busybox's sh grows a string until the cgroup's OOM killer ends it.
    let script = "x=a; while true; do x=\"$x$x\"; done";
    let mut container = Container::new(
        "oom",
        &[HARDINIT, "--memory-guard", "off", "--user", "0:0", "--allow-root", "--", "/bin/sh", "-c", script],
    );
    container.config["linux"]["resources"] = serde_json::json!({"memory": {"limit": 64 << 20, "swap": 64 << 20}});
    let mut running = container.start();
    let status = running.wait(LONG);
    let stderr = running.stderr();
    assert_eq!(status, 137, "{stderr}");
    assert!(stderr.contains("killed by SIGKILL"), "{stderr}");
}

/// TERM, HUP and CHLD sent in a tight loop from the moment hardinit exists, through every phase
/// of its start (parsing, hardening, spawn, supervision): it ends with a status sh would explain
/// (the server's, or 128+N), never a crash or a hang.
#[test]
fn a_signal_storm_during_start_up_never_crashes_or_hangs_it() {
    if !privileged(false) {
        return;
    }
    for round in 0..20 {
        let child = as_namespace_init(&["--memory-guard", "off", "--", "sleep", "0.2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let unshare = child.id().to_string();
        // The storm starts after a different delay each round, so that it hits each phase.
        std::thread::sleep(Duration::from_micros(250 * round));
        let storm = std::process::Command::new(PYTHON).arg(probe()).args(["storm", &unshare]).output().unwrap();
        let sent = String::from_utf8_lossy(&storm.stdout).trim().to_string();
        let status = finish(child, LONG);
        let code = code(status);
        assert!([0, 129, 143].contains(&code), "round {round}: status {code} after {sent} signals");
    }
}

/// Every error path ends in one line and a documented status: none in SIGABRT or SIGSEGV.
#[test]
fn error_paths_end_in_a_documented_status_never_a_crash() {
    let dir = Scratch::new("error-paths");
    std::fs::write(dir.path("not-executable"), "#!/bin/sh\n").unwrap();
    std::fs::write(dir.path("bad.hcl"), "storage \"raft\" {\n").unwrap();
    let not_executable = dir.path("not-executable");
    let bad = format!("-config={}", dir.path("bad.hcl").display());
    let cases: Vec<Vec<&str>> = vec![
        vec!["--bogus"],
        vec!["--grace", "99999999999999999999s", "--", "true"],
        vec!["--user", "", "--", "true"],
        vec!["--rewrite", "TERM", "--", "true"],
        vec!["--umask", "9", "--", "true"],
        vec!["--", "/nonexistent/server"],
        vec!["--", not_executable.to_str().unwrap()],
        vec!["--user", "0:0", "--", "true"],
        vec!["check", "--config", "/nonexistent"],
        vec!["--reload-on-change", "/nonexistent/dir/file", "--", "true"],
        vec!["--", "vault", "server", &bad],
    ];
    for args in cases {
        let out = run(
            {
                let mut c = command(hardinit());
                c.args(&args);
                c
            },
            LONG,
        );
        let status = code(out.status);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(![134, 139].contains(&status) && !stderr.contains("internal error"), "{args:?}: {status} {stderr}");
        assert!(documented(status) || status == 1, "{args:?}: {status} {stderr}");
        assert!(errors(&stderr).len() <= 1, "{args:?}: {stderr}");
    }
}

/// An exec that fails after every check passed (the file is executable, its filesystem is not:
/// what a binary losing its exec bit at the last moment gives) is one line and 126.
#[test]
fn an_exec_refused_at_the_last_moment_is_126_in_one_line() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("noexec");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "noexec,mode=755", "tmpfs"])
        .arg(&dir.0)
        .status()
        .unwrap();
    assert!(mounted.success());
    install(std::path::Path::new("/bin/true"), &dir.path("server"), 0o755);
    let out = run(as_namespace_init(&["--memory-guard", "off", "--", dir.path("server").to_str().unwrap()]), LONG);
    let _ = std::process::Command::new("umount").arg(&dir.0).status();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(out.status), 126, "{stderr}");
    assert_eq!(errors(&stderr).len(), 1, "{stderr}");
    assert!(stderr.contains("Permission denied"), "{stderr}");
}

/// A thousand grandchildren that setsid() and are orphaned are all adopted and reaped.
#[test]
fn a_thousand_setsid_orphans_are_all_reaped() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("setsid-orphans");
    let report = dir.path("report");
    let out = run(
        as_namespace_init(&[
            "--memory-guard",
            "off",
            "--",
            PYTHON,
            probe().to_str().unwrap(),
            "orphans",
            "1000",
            report.to_str().unwrap(),
            "--setsid",
        ]),
        LONG,
    );
    assert_eq!(code(out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(dir.read("report").trim(), "orphans=1000 adopted=1000 zombies=0");
}

/// Fast PID churn under a pids limit: thousands of short-lived children, all reaped, exit 0.
#[test]
fn fast_pid_churn_under_a_pids_limit_is_reaped() {
    if !privileged(true) {
        return;
    }
    let script = "i=0; while [ $i -lt 2000 ]; do /bin/true & i=$((i+1)); wait; done; echo done";
    let mut container = Container::new("churn", &[HARDINIT, "--memory-guard", "off", "--", "/bin/sh", "-c", script]);
    container.config["linux"]["resources"]["pids"] = serde_json::json!({"limit": 32});
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert!(running.stdout().contains("done"), "{}", running.stdout());
}

/// hardinit as PID 1 of a new PID and mount namespace in which `source` is bound over `target`.
fn with_bound_over(source: &std::path::Path, target: &str, args: &[&str]) -> std::process::Output {
    // An address-space limit: a reader that never stops fails its allocation instead of taking
    // the machine's memory.
    let script =
        format!("mount --bind {} {target} && exec prlimit --as=1073741824 {} \"$@\"", source.display(), hardinit());
    let mut cmd = command("unshare");
    cmd.args(["--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--", "sh", "-c", &script])
        .arg("sh")
        .args(args);
    run(cmd, Duration::from_secs(20))
}

#[test]
fn account_files_that_are_a_fifo_or_a_device_are_refused_in_one_line() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("accounts");
    let fifo = dir.path("group");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let cases = [
        (fifo.as_path(), "/etc/group", "cannot read /etc/group: a FIFO"),
        (std::path::Path::new("/dev/zero"), "/etc/passwd", "cannot read /etc/passwd: a device"),
    ];
    for (source, target, said) in cases {
        let out = with_bound_over(source, target, &["--memory-guard", "off", "--", "/bin/true"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(out.status), 78, "{target}: {stderr}");
        assert_eq!(errors(&stderr), [format!("hardinit: error: {said}; fix: repair the image's {target}")]);
        // `check` says the same as its `user` finding.
        let out = with_bound_over(source, target, &["check"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(code(out.status), 1, "{target}: {stdout} {}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains(&format!("FAIL user: {said} (why: ")), "{stdout}");
    }
}

#[test]
fn a_newline_in_a_path_is_escaped_in_the_one_error_line() {
    let dir = Scratch::new("newline");
    let odd = dir.path("a\nhardinit: forged");
    std::fs::create_dir(&odd).unwrap();
    std::fs::write(odd.join("server"), "#!/bin/sh\n").unwrap();
    let (odd, not_executable) = (odd.to_str().unwrap(), odd.join("server"));
    let watched = format!("{odd}/missing/tls.crt");
    let cases: [(&[&str], i32); 5] = [
        (&["--", "/nonexistent\n/server"], 127),
        (&["--", not_executable.to_str().unwrap()], 126),
        (&["check", "--", "/nonexistent\n/server"], 127),
        (&["--reload-on-change", &watched, "--memory-guard", "off", "--", "true"], 78),
        (&["--reload-on-change", "relative\npath", "--", "true"], 64),
    ];
    for (args, status) in cases {
        let mut cmd = command(hardinit());
        cmd.args(args);
        let out = run(cmd, LONG);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(out.status), status, "{args:?}: {stderr}");
        // Warnings of the checklist may come first; the error is one line, and nothing else.
        assert!(stderr.lines().all(|l| l.starts_with("hardinit: ") && !l.starts_with("hardinit: forged")), "{stderr}");
        let errors = errors(&stderr);
        assert!(errors.len() == 1 && errors[0].contains("\\n"), "{args:?}: {stderr}");
    }
}
