//! The supervisor, proven with hardinit as PID 1 of a real PID namespace (and as a subreaper
//! outside one): exit codes, signal forwarding, reaping, the grace period, inherited state.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

/// Every signal hardinit forwards, as the probe names them. 32 and 33 belong to the C library.
fn forwarded_signals() -> Vec<String> {
    let mut names: Vec<String> = [
        "HUP", "INT", "QUIT", "ABRT", "USR1", "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CONT", "TSTP", "TTIN", "TTOU",
        "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend((0..=30).map(|n| format!("RTMIN+{n}")));
    names
}

/// A shell loop that waits until `path` exists: a leftover process says it has set its traps.
fn until_exists(path: &std::path::Path) -> String {
    format!("while [ ! -e {} ]; do sleep 0.01; done", path.display())
}

fn python_probe() -> Vec<String> {
    vec![PYTHON.into(), probe().to_string_lossy().into_owned()]
}

#[test]
fn exit_codes_pass_through_from_the_server() {
    if !privileged(false) {
        return;
    }
    for expected in [0, 1, 2, 127, 255] {
        let out = run(as_namespace_init(&["--", "sh", "-c", &format!("exit {expected}")]), LONG);
        assert_eq!(code(out.status), expected, "stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn a_server_killed_by_a_signal_gives_128_plus_its_number() {
    if !privileged(false) {
        return;
    }
    for (signal, expected) in [("TERM", 143), ("HUP", 129), ("USR1", 138), ("USR2", 140), ("KILL", 137)] {
        let out = run(as_namespace_init(&["--", "sh", "-c", &format!("kill -{signal} $$")]), LONG);
        assert_eq!(code(out.status), expected, "{signal}: {}", String::from_utf8_lossy(&out.stderr));
    }
    // The OOM killer's signal: at the default level, hardinit still says what ended the server.
    let out = run(as_namespace_init(&["--", "sh", "-c", "kill -KILL $$"]), LONG);
    assert!(String::from_utf8_lossy(&out.stderr).contains("SIGKILL"), "{out:?}");
}

#[test]
fn every_forwarded_signal_reaches_the_server_when_sent_from_inside_the_namespace() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("inside");
    let log = dir.path("log");
    let mut args = vec!["--".to_string()];
    args.extend(python_probe());
    args.extend(["recv".into(), log.to_string_lossy().into_owned(), "--send-to-init".into()]);
    let signals = forwarded_signals();
    args.extend(signals.iter().cloned());
    // Sent by a process of PID 1's own uid: hardinit started as the server's user (Kubernetes
    // runAsUser), where no uid change happens. After a drop from root the server cannot signal
    // PID 1 at all (tests/hardening.rs, the_server_cannot_reach_pid_1_which_still_signals_it).
    let (uid, gid) = TEST_USER.split_once(':').unwrap();
    let mut cmd = command("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", "setpriv"])
        .args([format!("--reuid={uid}"), format!("--regid={gid}"), "--clear-groups".into()])
        .arg(hardinit())
        .args(&args);
    let out = run(cmd, LONG);
    assert_eq!(code(out.status), 0, "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines_of(&log).len(), signals.len() + 1, "one line per signal after 'ready'");
}

#[test]
fn every_forwarded_signal_reaches_the_server_when_sent_from_outside_the_namespace() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("outside");
    let log = dir.path("log");
    let signals = forwarded_signals();
    let mut args = vec!["--".to_string()];
    args.extend(python_probe());
    args.extend(["recv".into(), log.to_string_lossy().into_owned()]);
    args.extend(signals.iter().cloned());
    let child = as_namespace_init(&args.iter().map(String::as_str).collect::<Vec<_>>()).spawn().unwrap();
    let init = forked_child_of(&child);
    wait_until(LONG, || (lines_of(&log).first().map(String::as_str) == Some("ready")).then_some(()))
        .expect("probe ready");
    for (i, signal) in signals.iter().enumerate() {
        let signal = if let Some(n) = signal.strip_prefix("RTMIN+") {
            format!("{}", 34 + n.parse::<i32>().unwrap())
        } else {
            signal.clone()
        };
        send(init, &signal);
        // One at a time: standard signals coalesce while pending, in the kernel, for any receiver.
        wait_until(LONG, || (lines_of(&log).len() > i + 1).then_some(()))
            .unwrap_or_else(|| panic!("{signal} never reached the server"));
    }
    assert_eq!(code(finish(child, LONG)), 0);
}

#[test]
fn ten_thousand_realtime_signals_all_reach_the_server() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("rt");
    let log = dir.path("log");
    // A small pending-signal limit makes the queues overflow: sender and hardinit must both retry
    // on EAGAIN, and a design that coalesces or drops on overflow loses signals here.
    // The pending count is per user: a uid of their own keeps the other tests' signals out of it.
    let mut cmd = command("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", "setpriv", "--reuid=4242", "--regid=4242"])
        .args(["--clear-groups", "prlimit", "--sigpending=64", hardinit(), "--"])
        .args(python_probe())
        .args(["recv", log.to_str().unwrap(), "RTMIN+6x10000"]);
    let child = cmd.spawn().unwrap();
    let init = forked_child_of(&child);
    wait_until(LONG, || (lines_of(&log).first().map(String::as_str) == Some("ready")).then_some(()))
        .expect("probe ready");
    let sender = run(
        {
            let mut c = command(PYTHON);
            c.arg(probe()).args(["sigqueue", &init.to_string(), "RTMIN+6", "10000"]);
            c
        },
        LONG,
    );
    assert!(sender.status.success(), "{}", String::from_utf8_lossy(&sender.stderr));
    assert_eq!(code(finish(child, LONG)), 0, "the probe exits only once all 10,000 have arrived");
    let received = lines_of(&log).iter().filter(|l| *l == "40").count();
    assert_eq!(received, 10_000);
}

#[test]
fn a_thousand_orphans_are_all_reaped() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("orphans");
    let report = dir.path("report");
    let mut args = vec!["--".to_string()];
    args.extend(python_probe());
    args.extend(["orphans".into(), "1000".into(), report.to_string_lossy().into_owned()]);
    let out = run(as_namespace_init(&args.iter().map(String::as_str).collect::<Vec<_>>()), LONG);
    assert_eq!(code(out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(dir.read("report").trim(), "orphans=1000 adopted=1000 zombies=0");
}

#[test]
fn leftover_processes_get_sigterm_and_the_grace_to_finish() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("grace");
    let done = dir.path("done");
    let ready = dir.path("ready");
    let script = format!(
        "(trap 'sleep 0.3; echo graceful > {done}; exit 0' TERM; touch {ready}; while :; do sleep 0.05; done) & {}; exit 7",
        until_exists(&ready),
        done = done.display(),
        ready = ready.display()
    );
    let out = run(as_namespace_init(&["--grace", "5s", "--", "sh", "-c", &script]), LONG);
    assert_eq!(code(out.status), 7, "the server's status, not the leftover's");
    assert_eq!(dir.read("done").trim(), "graceful");
}

#[test]
fn a_leftover_that_ignores_sigterm_is_killed_after_the_grace() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("stubborn");
    let ready = dir.path("ready");
    let script =
        format!("sh -c 'trap \"\" TERM; touch {}; exec sleep 60' & {}; exit 0", ready.display(), until_exists(&ready));
    let started = Instant::now();
    let out = run(as_namespace_init(&["-v", "--grace", "1s", "--", "sh", "-c", &script]), LONG);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(out.status), 0, "{stderr}");
    assert!(started.elapsed() >= Duration::from_secs(1), "SIGKILL came before the grace ended");
    assert!(stderr.contains("sending SIGKILL"), "{stderr}");
    assert!(stderr.contains("killed by SIGKILL"), "the leftover was reaped after SIGKILL: {stderr}");
}

#[test]
fn the_server_gets_exactly_the_signal_mask_and_ignored_signals_hardinit_received() {
    let dir = Scratch::new("sigstate");
    let out_file = dir.path("status");
    // Started from Python with a chosen mask and chosen ignored signals (SIGCHLD among them: hardinit
    // must un-ignore it for itself, or the kernel reaps its children, and restore it for the server).
    let script = format!(
        r#"
import os, signal, subprocess, sys
def setup():
    signal.pthread_sigmask(signal.SIG_SETMASK, {{signal.SIGUSR1, signal.SIGRTMIN + 2}})
    for s in (signal.SIGHUP, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(s, signal.SIG_IGN)
# No shell in between: shells reset the mask and SIGCHLD themselves. The same program started
# directly, with the same setup, gives what hardinit received.
grep = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]
with open("{out}.direct", "w") as out:
    subprocess.check_call(grep, preexec_fn=setup, stdout=out)
with open("{out}", "w") as out:
    sys.exit(subprocess.call({hardinit:?} + ["--"] + grep, preexec_fn=setup, stdout=out))
"#,
        hardinit = supervised_argv(),
        out = out_file.display()
    );
    let out = run(
        {
            let mut c = command(PYTHON);
            c.args(["-c", &script]);
            c
        },
        LONG,
    );
    assert_eq!(code(out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let direct = dir.read("status.direct");
    let blocked = (1u64 << (10 - 1)) | (1u64 << (36 - 1));
    assert!(direct.contains(&format!("SigBlk:\t{blocked:016x}\n")), "the setup took effect: {direct}");
    let ignored = u64::from_str_radix(direct.split("SigIgn:\t").nth(1).unwrap().trim(), 16).unwrap();
    assert_eq!(ignored & 0x11001, 0x11001, "HUP, PIPE and CHLD ignored: {direct}");
    if qemu_refuses_subreaper() {
        // The namespace the emulated hardinit needs is unshare's, which resets SIGCHLD to its
        // default before it starts hardinit; and qemu-user has no number for the host's signals
        // 32 and 33 (glibc's own): an emulated program can neither see nor pass on their state.
        // Every other blocked or ignored signal must reach the server as received.
        let without_chld_32_33 = |status: &str| {
            let ignored = status.split("SigIgn:\t").nth(1).and_then(|v| u64::from_str_radix(v.trim(), 16).ok());
            (status.lines().next().map(str::to_string), ignored.map(|i| i & !0x1_8001_0000))
        };
        assert_eq!(without_chld_32_33(&dir.read("status")), without_chld_32_33(&direct));
        return;
    }
    assert_eq!(dir.read("status"), direct);
}

#[test]
fn inherited_descriptors_are_closed_unless_kept() {
    let dir = Scratch::new("fds");
    for (flag, expect_open) in [(None, false), (Some("--keep-fds"), true)] {
        let list = dir.path("fds");
        let mut args = supervised_argv();
        args.extend(flag.map(String::from));
        args.extend(["--".into(), "sh".into(), "-c".into(), format!("ls /proc/$$/fd > {}", list.display())]);
        let out = run(
            {
                let mut c = command("bash");
                c.args(["-c", "exec 7</dev/null 9</dev/null; exec \"$@\"", "bash"]).args(&args);
                c
            },
            LONG,
        );
        assert_eq!(code(out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let fds = lines_of(&list);
        assert!(fds.contains(&"0".to_string()) && fds.contains(&"2".to_string()), "{fds:?}");
        assert_eq!(fds.contains(&"7".to_string()), expect_open, "{flag:?}: {fds:?}");
        assert_eq!(fds.contains(&"9".to_string()), expect_open, "{flag:?}: {fds:?}");
    }
}

#[test]
fn outside_a_pid_namespace_hardinit_adopts_orphans_as_a_subreaper() {
    if qemu_refuses_subreaper() {
        return refuses_to_start_without_a_subreaper();
    }
    let dir = Scratch::new("subreaper");
    let parent = dir.path("parent");
    // The grandchild outlives the server (SIGTERM ignored), then reports its parent.
    let ready = dir.path("ready");
    let script = format!(
        "sh -c 'trap \"\" TERM; touch {ready}; sleep 0.5; cut -d\" \" -f4 /proc/$$/stat > {parent}' & {}; exit 0",
        until_exists(&ready),
        ready = ready.display(),
        parent = parent.display()
    );
    let child = command(hardinit()).args(["--", "sh", "-c", &script]).spawn().unwrap();
    let pid = child.id();
    assert_eq!(code(finish(child, LONG)), 0);
    assert_eq!(
        dir.read("parent").trim(),
        pid.to_string(),
        "the orphan was re-parented to hardinit, which waited for it"
    );
}

/// Where [`qemu_refuses_subreaper`], what a subreaper test can prove: hardinit outside a PID
/// namespace says so in one line and exits 71, starting nothing.
fn refuses_to_start_without_a_subreaper() {
    let dir = Scratch::new("no-subreaper");
    let started = dir.path("started");
    let out = run(
        {
            let mut c = command(hardinit());
            c.args(["--", "touch", started.to_str().unwrap()]);
            c
        },
        LONG,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(out.status), 71, "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit: error: ")).collect();
    assert_eq!(errors, ["hardinit: error: becoming a child subreaper: Invalid argument (os error 22)"], "{stderr}");
    assert!(!started.exists(), "nothing starts");
}

#[test]
fn ctrl_c_on_a_terminal_reaches_the_server_exactly_once() {
    let dir = Scratch::new("tty");
    let ready = dir.path("ready");
    let mut cmd = command(PYTHON);
    cmd.arg(probe())
        .args(["pty", ready.to_str().unwrap(), "--"])
        .args(supervised_argv())
        .arg("--")
        .args(python_probe())
        .args(["count-sigint", "1", ready.to_str().unwrap()]);
    let out = run(cmd, LONG);
    assert_eq!(code(out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(lines_of(&ready), ["ready", "SIGINT=1 foreground=1"]);
}

#[test]
fn started_in_the_background_of_a_terminal_hardinit_leaves_the_foreground_to_the_shell() {
    let dir = Scratch::new("tty-bg");
    let out = dir.path("out");
    // As PID 1 (of a container, `docker run -it`) hardinit takes the terminal for the server.
    if qemu_refuses_subreaper() {
        return refuses_to_start_without_a_subreaper();
    }
    let mut cmd = command(PYTHON);
    cmd.arg(probe()).args(["background", out.to_str().unwrap(), "--", hardinit(), "--", "sleep", "1"]);
    let status = run(cmd, LONG);
    assert_eq!(code(status.status), 0, "{}", String::from_utf8_lossy(&status.stderr));
    assert_eq!(lines_of(&out), ["during=1 after=1"], "`hardinit ... &` must not take the terminal");
}

#[test]
fn rewrite_maps_and_drops_signals_and_reads_its_environment_variable() {
    let dir = Scratch::new("rewrite");
    let log = dir.path("log");
    let mut cmd = supervised();
    cmd.env("HARDINIT_REWRITE", "USR1:USR2,HUP:0,TERM:QUIT").args(["--"]).args(python_probe()).args([
        "recv",
        log.to_str().unwrap(),
        "USR2",
        "QUIT",
        "INT",
    ]);
    let child = cmd.spawn().unwrap();
    let pid = supervised_pid(&child);
    wait_until(LONG, || (lines_of(&log).first().map(String::as_str) == Some("ready")).then_some(())).expect("ready");
    for signal in ["USR1", "HUP", "TERM", "INT"] {
        let before = lines_of(&log).len();
        send(pid, signal);
        if signal != "HUP" {
            wait_until(LONG, || (lines_of(&log).len() > before).then_some(()))
                .unwrap_or_else(|| panic!("{signal} lost"));
        }
    }
    assert_eq!(code(finish(child, LONG)), 0);
    // USR2, QUIT, INT: the HUP was dropped, so nothing came between.
    assert_eq!(lines_of(&log)[1..], ["12", "3", "2"]);
}

#[test]
fn forward_to_group_reaches_every_process_of_the_servers_group() {
    let dir = Scratch::new("group");
    let (a, b) = (dir.path("a"), dir.path("b"));
    let p = probe();
    let script = format!(
        "{PYTHON} {p} recv {a} USR1 & exec {PYTHON} {p} recv {b} USR1",
        p = p.display(),
        a = a.display(),
        b = b.display()
    );
    let child = supervised().args(["--forward-to", "group", "--", "sh", "-c", &script]).spawn().unwrap();
    let pid = supervised_pid(&child);
    wait_until(LONG, || (!lines_of(&a).is_empty() && !lines_of(&b).is_empty()).then_some(())).expect("both ready");
    send(pid, "USR1");
    assert_eq!(code(finish(child, LONG)), 0);
    assert_eq!(lines_of(&a), ["ready", "10"]);
    assert_eq!(lines_of(&b), ["ready", "10"]);
}

#[test]
fn bad_input_gets_one_line_and_its_exit_code() {
    let dir = Scratch::new("bad");
    let not_executable = dir.path("server");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let not_executable = not_executable.to_str().unwrap();
    let cases: [(&[&str], i32, &str); 5] = [
        (&["--no-such-flag", "true"], 64, "--no-such-flag"),
        (&[], 64, "no server command"),
        (&["--grace", "forever", "true"], 64, "--grace"),
        (&["--", "no-such-server-anywhere"], 127, "PATH="),
        (&["--", not_executable], 126, not_executable),
    ];
    for (args, expected, mentions) in cases {
        let mut cmd = supervised();
        cmd.args(args).env("PATH", "/usr/bin:/bin");
        let out = run(cmd, LONG);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(out.status), expected, "{args:?}: {stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit: error: ")).collect();
        assert_eq!(errors.len(), 1, "{args:?}: {stderr}");
        assert!(errors[0].contains(mentions), "{args:?}: {stderr}");
    }
}

#[test]
fn json_logs_use_vaults_keys() {
    let mut cmd = supervised();
    cmd.args(["-v", "--log-format", "json", "--", "sh", "-c", "exit 3"]);
    let out = run(cmd, LONG);
    assert_eq!(code(out.status), 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.lines().count() >= 2, "{stderr}");
    for line in stderr.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(v["@module"], "hardinit");
        assert!(["debug", "info", "warn", "error"].contains(&v["@level"].as_str().unwrap()));
        assert!(v["@message"].as_str().is_some_and(|m| !m.is_empty()));
        assert!(v["@timestamp"].as_str().is_some_and(|t| t.len() == 27 && t.ends_with('Z')), "{line}");
    }
}

#[test]
fn help_and_version_exit_zero_on_stdout() {
    for flag in ["--help", "--version"] {
        let out = run(
            {
                let mut c = command(hardinit());
                c.arg(flag).stdout(Stdio::piped());
                c
            },
            LONG,
        );
        assert_eq!(code(out.status), 0);
        assert!(String::from_utf8_lossy(&out.stdout).contains("hardinit"));
    }
}

#[test]
fn a_closed_stderr_does_not_make_hardinit_chase_its_own_sigpipe() {
    // Every log line written to a closed pipe raises SIGPIPE in hardinit itself; forwarding or
    // logging it would raise the next one, and SIGCHLD (a higher number) would never be taken.
    let mut child =
        supervised().args(["-v", "--", "sh", "-c", "sleep 5; exit 3"]).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stderr.take());
    // From outside: the server, which no longer shares a uid with hardinit, cannot signal it.
    let init = supervised_pid(&child);
    wait_until(LONG, || children_of(init).first().copied()).expect("the server started");
    // A pid of our own child, never -1, 0 or a group.
    hardinit::sys::signal::kill(init, libc::SIGHUP).expect("SIGHUP sent to hardinit");
    assert_eq!(code(finish(child, LONG)), 129, "SIGHUP forwarded once, server killed by it");
}

#[test]
fn the_server_gets_umask_077_and_history_off_unless_told_otherwise() {
    let cases: [(&[&str], &str); 2] = [
        (&[], "0077\nHISTFILE=/dev/null HISTSIZE=0 HOME=kept\n"),
        (&["--umask", "027", "--keep-env"], "0027\nHISTFILE= HISTSIZE= HOME=kept\n"),
    ];
    for (flags, expected) in cases {
        let mut cmd = supervised();
        cmd.args(flags)
            .args(["--", "sh", "-c", "umask; echo \"HISTFILE=${HISTFILE-} HISTSIZE=${HISTSIZE-} HOME=$HOME\""])
            .env_remove("HISTFILE")
            .env_remove("HISTSIZE")
            .env("HOME", "kept");
        let out = run(cmd, LONG);
        assert_eq!(code(out.status), 0, "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{flags:?}");
    }
}

#[test]
fn an_idle_hardinit_never_wakes_up() {
    // No polling timer: while nothing happens, hardinit sleeps in sigwaitinfo and the kernel
    // counts no context switch for it; also with a --reload-on-change watch and a --term-delay.
    let dir = Scratch::new("idle");
    std::fs::write(dir.path("watched"), "x").unwrap();
    let watched = dir.path("watched");
    for flags in [&[][..], &["--reload-on-change", watched.to_str().unwrap(), "--term-delay", "5s"]] {
        assert_idle(flags);
    }
}

fn assert_idle(flags: &[&str]) {
    let child = supervised().args(flags).args(["--", "sleep", "3"]).spawn().unwrap();
    let pid = supervised_pid(&child).to_string();
    let switches = || {
        let voluntary = status_field(&pid, "voluntary_ctxt_switches").unwrap_or_default();
        let forced = status_field(&pid, "nonvoluntary_ctxt_switches").unwrap_or_default();
        format!("{voluntary}/{forced}")
    };
    wait_until(LONG, || status_field(&pid, "State").filter(|s| s.starts_with('S')).map(|_| ())).expect("asleep");
    std::thread::sleep(Duration::from_millis(300));
    let before = switches();
    std::thread::sleep(Duration::from_millis(1500));
    let after = switches();
    assert_eq!(before, after, "hardinit woke up while idle ({flags:?})");
    assert_eq!(code(finish(child, LONG)), 0);
}

#[test]
fn a_subreaper_forwards_signals_32_to_34_instead_of_dying_of_them() {
    if !privileged(false) {
        return;
    }
    if qemu_refuses_subreaper() {
        return refuses_to_start_without_a_subreaper();
    }
    // musl's sigaddset refuses 32 to 34: unless hardinit sets the mask bits itself, they keep
    // their default action and kill hardinit, leaving the server unsupervised.
    // The test harness's threads may leave 32 and 33 blocked for what it spawns; the server gets
    // hardinit's inherited mask back, so start hardinit with an empty one.
    let clean_start =
        "import os, signal, sys\nsignal.pthread_sigmask(signal.SIG_SETMASK, [])\nos.execv(sys.argv[1], sys.argv[1:])";
    for signal in [32, 33, 34] {
        let mut cmd = command(PYTHON);
        cmd.args(["-c", clean_start, hardinit(), "--", "sleep", "30"]);
        let child = cmd.stdin(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let pid = child.id() as i32;
        wait_until(LONG, || children_of(pid).first().copied()).expect("hardinit started sleep");
        send(pid, &signal.to_string());
        std::thread::sleep(Duration::from_millis(300));
        // A server that blocks the signal (glibc's threads may) does not end of it: TERM then.
        send(pid, "TERM");
        let out = child.wait_with_output().unwrap();
        // hardinit exits with the server's 128+N; it is never killed by the signal itself.
        let status = out.status.code();
        assert!(
            status == Some(128 + signal) || status == Some(143),
            "signal {signal}: {:?}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_leftover_hardinit_cannot_signal_does_not_keep_it_from_exiting() {
    if !privileged(false) {
        return;
    }
    // hardinit has dropped to the test user; a root process left by a `docker exec` cannot be
    // killed by it, and a blocking wait for it would never return.
    let started = Instant::now();
    let child = as_namespace_init(&["--grace", "1s", "--", "sh", "-c", "sleep 2; exit 7"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let init = forked_child_of(&child);
    wait_until(LONG, || (!children_of(init).is_empty()).then_some(())).expect("server started");
    let exec = Command::new("nsenter")
        .args(["-t", &init.to_string(), "-p", "-m", "--", "sh", "-c", "sleep 25 >/dev/null 2>&1 &"])
        .status()
        .unwrap();
    assert!(exec.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(out.status), 7, "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}: {stderr}", started.elapsed());
    assert!(stderr.contains("cannot end processes of another user") && stderr.contains("sleep"), "{stderr}");
}

#[test]
fn sigterm_never_waits_behind_a_realtime_signal_the_server_does_not_take() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("stuck-rt");
    let ready = dir.path("ready");
    let server = format!(
        "import resource, signal, time\nresource.setrlimit(resource.RLIMIT_SIGPENDING, (16, 16))\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN + 5])\nopen({:?}, 'w').write('ready')\ntime.sleep(60)\n",
        ready.display()
    );
    let mut cmd = command("unshare");
    // The server's own small limit fills its queue; hardinit's is the default, so the flood
    // reaches hardinit and waits in its backlog.
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", hardinit(), "--"])
        .args([PYTHON, "-c", &server])
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let init = forked_child_of(&child);
    wait_until(LONG, || ready.exists().then_some(())).expect("server ready");
    let flood = run(
        {
            let mut c = command(PYTHON);
            c.arg(probe()).args(["sigqueue", &init.to_string(), "RTMIN+5", "200"]);
            c
        },
        LONG,
    );
    assert!(flood.status.success(), "{}", String::from_utf8_lossy(&flood.stderr));
    std::thread::sleep(Duration::from_millis(200));
    let sent = Instant::now();
    send(init, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(out.status), 143, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(sent.elapsed() < Duration::from_secs(10), "SIGTERM took {:?}", sent.elapsed());
}

#[test]
fn a_stopped_server_is_continued_after_sigterm_and_stops() {
    if !privileged(false) {
        return;
    }
    let child = as_namespace_init(&["--", "sleep", "60"]).stderr(Stdio::piped()).spawn().unwrap();
    let init = forked_child_of(&child);
    let server = wait_until(LONG, || children_of(init).first().copied()).expect("server started");
    if emulated() {
        // qemu-user takes every signal in a handler of its own and queues it for the emulated
        // program while that blocks it (hardinit's child does until its execve): the kernel
        // never holds it pending, so execve drops it. Stop the server once it is the server.
        wait_until(LONG, || (proc_comm(server)? == "sleep").then_some(())).expect("server exec'd");
    }
    send(server, "STOP");
    wait_until(LONG, || (status_field(&server.to_string(), "State")?.starts_with('T')).then_some(()))
        .expect("server stopped");
    send(init, "TERM");
    let status = finish(child, Duration::from_secs(10));
    assert_eq!(code(status), 143);
}

fn proc_comm(pid: i32) -> Option<String> {
    Some(std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_string())
}

#[test]
fn a_grace_beyond_a_day_is_a_usage_error_not_a_panic() {
    let out = run(
        {
            let mut c = command(hardinit());
            c.args(["--grace", "18446744073709551615", "--", "true"]);
            c
        },
        LONG,
    );
    assert_eq!(code(out.status), 64);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

/// A root newcomer's clone sits under a 0700 $HOME: whatever the tests run as the unprivileged
/// user is staged where every user can reach it, and the staged copy runs as that user.
#[test]
fn what_the_test_user_runs_is_reachable_from_a_clone_under_a_0700_home() {
    use std::os::unix::fs::PermissionsExt;
    for staged in [std::path::PathBuf::from(hardinit()), probe(), std::path::PathBuf::from(common::sh())] {
        for dir in staged.ancestors().skip(1).filter(|d| !d.as_os_str().is_empty()) {
            let mode = std::fs::metadata(dir).unwrap().permissions().mode();
            assert_ne!(mode & 0o001, 0, "{} is not traversable by other users ({mode:o})", dir.display());
        }
    }
    if !privileged(false) {
        return;
    }
    let out = run(
        {
            let mut c = command("setpriv");
            c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups", "--", hardinit(), "--version"]);
            c
        },
        LONG,
    );
    assert_eq!(code(out.status), 0, "{out:?}");
}

/// The probe as the server of a namespace init run with `--term-delay delay`, expecting two
/// SIGTERMs: hardinit's host pid, the probe's log.
fn probe_under_term_delay(delay: &str, dir: &Scratch) -> (std::process::Child, i32, std::path::PathBuf) {
    let log = dir.path("log");
    let mut args = vec!["--term-delay".to_string(), delay.into(), "--".into()];
    args.extend(python_probe());
    args.extend(["recv".into(), log.to_string_lossy().into_owned(), "TERMx2".into()]);
    let child =
        as_namespace_init(&args.iter().map(String::as_str).collect::<Vec<_>>()).stderr(Stdio::piped()).spawn().unwrap();
    let init = forked_child_of(&child);
    wait_until(LONG, || (lines_of(&log).first().map(String::as_str) == Some("ready")).then_some(()))
        .expect("probe ready");
    (child, init, log)
}

#[test]
fn every_sigterm_after_the_first_delayed_one_is_forwarded_at_once() {
    if !privileged(false) {
        return;
    }
    let sigterms = |log: &std::path::Path| lines_of(log).iter().filter(|l| *l == "15").count();
    // The delay cut short by a second SIGTERM, then a third: the third is not held back again.
    let dir = Scratch::new("term-delay-third");
    let (child, init, log) = probe_under_term_delay("60s", &dir);
    send(init, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sigterms(&log), 0, "the first SIGTERM is held back");
    send(init, "TERM");
    wait_until(LONG, || (sigterms(&log) == 1).then_some(())).expect("the second SIGTERM forwards the first");
    send(init, "TERM");
    let third = wait_until(Duration::from_secs(20), || (sigterms(&log) == 2).then_some(()));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(third.is_some(), "the third SIGTERM was held back again: {stderr}");
    assert_eq!(code(out.status), 0, "{stderr}");
    assert_eq!(stderr.matches("keeps serving for").count(), 1, "{stderr}");

    // The delay run out, then a second SIGTERM: forwarded at once, not delayed again.
    let dir = Scratch::new("term-delay-after");
    let (child, init, log) = probe_under_term_delay("1s", &dir);
    send(init, "TERM");
    wait_until(LONG, || (sigterms(&log) == 1).then_some(())).expect("the delayed SIGTERM arrives");
    send(init, "TERM");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(out.status), 0, "{stderr}");
    assert_eq!(stderr.matches("keeps serving for").count(), 1, "only the first SIGTERM is delayed: {stderr}");
}

/// Every option of the README's table, with a value where it takes one.
fn documented_options() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let table = readme.split("## Usage").nth(1).unwrap().split("### Exit codes").next().unwrap();
    let mut options = Vec::new();
    for row in table.lines().filter(|l| l.starts_with("| `-")) {
        let flag_cell = row.trim_start_matches("| ").split(" |").next().unwrap();
        // `-v`, `--verbose`: the long form; `--log-format text\|json`: its first value.
        let long = flag_cell.split('`').find(|f| f.starts_with("--")).unwrap();
        let mut words = long.split(' ');
        let flag = words.next().unwrap().to_string();
        let value = words.next().map(|placeholder| match placeholder {
            "DURATION" => "2s".to_string(),
            "SRC:DST" => "TERM:INT".into(),
            "PATH" => "/etc/hostname".into(),
            "USER" => TEST_USER.into(),
            "OCTAL" => "077".into(),
            "ID" => "tls".into(),
            choices => choices.split("\\|").next().unwrap().to_string(),
        });
        if ["--help", "--version"].contains(&flag.as_str()) {
            continue;
        }
        options.push([flag].into_iter().chain(value).collect());
    }
    options
}

#[test]
fn check_takes_every_documented_option_after_the_subcommand() {
    let options = documented_options();
    assert!(options.len() >= 18, "the README's table was read: {options:?}");
    for option in options {
        let mut cmd = command(hardinit());
        cmd.arg("check").args(&option);
        let out = run(cmd, LONG);
        let stderr = String::from_utf8_lossy(&out.stderr);
        // 0 or 1: the checklist ran (on this host some checks fail); 64 would be a usage error.
        assert!([0, 1].contains(&code(out.status)), "hardinit check {option:?}: {:?} {stderr}", out.status);
        assert!(String::from_utf8_lossy(&out.stdout).contains("signals:"), "{option:?}: {stderr}");
    }
}

#[test]
fn a_link_in_a_directory_hardinit_cannot_watch_is_said_once_at_start() {
    if !privileged(false) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // Search permission without read: the link resolves, but inotify cannot watch where it
    // lives, so a swap of it would go unseen.
    let dir = Scratch::new("unwatchable");
    let sealed = dir.path("sealed");
    std::fs::create_dir_all(sealed.join("v1")).unwrap();
    std::fs::write(sealed.join("v1/tls.crt"), "x").unwrap();
    std::os::unix::fs::symlink("v1", sealed.join("current")).unwrap();
    std::fs::set_permissions(&sealed, std::fs::Permissions::from_mode(0o711)).unwrap();
    let watched = sealed.join("current/tls.crt");
    // As PID 1 of a namespace: no subreaper needed, which qemu-user refuses an emulated hardinit.
    let mut cmd = command("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", "setpriv", "--reuid=4242", "--regid=4242"])
        .args(["--clear-groups", hardinit(), "--reload-on-change"])
        .arg(&watched)
        .args(["--memory-guard", "off", "--", "true"]);
    let out = run(cmd, LONG);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(out.status), 0, "{stderr}");
    let said = format!("cannot watch {}: Permission denied", sealed.display());
    assert_eq!(stderr.matches(&said).count(), 1, "{stderr}");
}

#[test]
fn a_stopped_leftover_is_continued_so_that_it_can_act_on_its_sigterm() {
    if !privileged(false) {
        return;
    }
    // Both as a namespace's init (kill(-1)) and as a subreaper (each child in turn).
    for inside_a_namespace in [true, false] {
        if !inside_a_namespace && qemu_refuses_subreaper() {
            continue;
        }
        let dir = Scratch::new("stopped-leftover");
        let (done, ready) = (dir.path("done"), dir.path("ready"));
        let script = format!(
            "(trap 'echo graceful > {done}; exit 0' TERM; touch {ready}; while :; do sleep 0.05; done) & {}; kill -STOP $!; exit 7",
            until_exists(&ready),
            done = done.display(),
            ready = ready.display()
        );
        let args = ["--grace", "30s", "--", "sh", "-c", &script];
        let cmd = if inside_a_namespace {
            as_namespace_init(&args)
        } else {
            let mut cmd = command(hardinit());
            cmd.args(args);
            cmd
        };
        let out = run(cmd, LONG);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(out.status), 7, "{stderr}");
        assert_eq!(dir.read("done").trim(), "graceful", "in a namespace: {inside_a_namespace}: {stderr}");
        assert!(!stderr.contains("after the grace period"), "{stderr}");
    }
}
