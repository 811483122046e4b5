//! hardinit as `sh`, outside a container: the subset it runs, what it refuses (before anything
//! runs, in one line, exit 2), and the exit statuses sh gives.

mod common;

use common::*;
use std::process::{Command, Output};

fn sh(args: &[&str]) -> Output {
    let mut command = Command::new(common::sh());
    command.args(args).env("PATH", "/nonexistent");
    run(command, std::time::Duration::from_secs(30))
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn scripts_just_outside_the_subset_are_refused_before_anything_runs() {
    let dir = Scratch::new("sh-refusals");
    let marker = dir.path("ran");
    let marker = marker.to_str().unwrap();
    for (script, line, column, words) in [
        ("echo x | sh", 1, 10, "`sh`: not a built-in"),
        ("echo `id`", 1, 6, "backtick"),
        ("eval \"echo hi\"", 1, 1, "`eval`"),
        ("source /etc/profile", 1, 1, "`source`"),
        (". /etc/profile", 1, 1, "`.`: not a built-in"),
        ("vault status > /tmp/status", 1, 1, "a program's output to a file"),
        ("echo x 2>> /tmp/log", 1, 8, "`>>` of a descriptor"),
        ("cat < /etc/passwd", 1, 5, "input redirection"),
        ("echo $(id -u)", 1, 6, "$(...) other than $(pidof NAME)"),
        ("if true; then\n  curl http://example.com\nfi", 2, 3, "`curl`: not a built-in"),
        ("/bin/busybox sh", 1, 1, "not a built-in"),
        ("sleep 1 &", 1, 9, "background"),
        ("for i in 1 2; do echo $i; done", 1, 1, "`for`"),
        ("echo ${X:=default}", 1, 6, "parameter expansion"),
        ("ls /*", 1, 1, "`ls`: not a built-in"),
        ("echo a; ;", 1, 9, "a syntax error"),
        ("if true; then true; else fi", 1, 26, "a syntax error"),
        ("X=~/a", 1, 1, "`~` in an assignment"),
        ("IFS=:", 1, 1, "an assignment to IFS"),
        ("docker-entrypoint.sh /usr/bin/id", 1, 1, "starts only the server"),
        ("echo $(($n+1))", 1, 6, "`$` inside $((...))"),
        ("X=1 echo hi", 1, 1, "an assignment before a command"),
    ] {
        // The refused construct comes after a command that would leave a trace: nothing runs.
        let full = format!("touch {marker}\n{script}");
        let out = sh(&["-ec", &full]);
        let stderr = stderr_of(&out);
        assert_eq!(code(out.status), 2, "{script:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{script:?}: {stderr}");
        let place = format!("line {}, column {}: refused: ", line + 1, column);
        assert!(
            stderr.starts_with("sh: ") && stderr.contains(&place) && stderr.contains(words),
            "{script:?}: {stderr}"
        );
        assert!(!std::path::Path::new(marker).exists(), "{script:?}: the first command ran");
    }
}

#[test]
fn an_interactive_start_says_the_image_has_no_shell() {
    for args in [&[][..], &["-i"], &["-s"], &["/tmp/script.sh"], &["-c"]] {
        let out = sh(args);
        let stderr = stderr_of(&out);
        assert_eq!(code(out.status), 2, "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    }
    let stderr = stderr_of(&sh(&[]));
    assert!(
        stderr.contains("this image has no shell") && stderr.contains("kubectl exec POD -- vault status"),
        "{stderr}"
    );
}

#[test]
fn exit_statuses_are_those_of_sh() {
    for (args, status) in [
        (&["-c", "true"][..], 0),
        (&["-c", "false"], 1),
        (&["-c", "exit 7"], 7),
        (&["-c", "false; true"], 0),
        (&["-ec", "false; true"], 1),
        (&["-ec", "false && true; exit 3"], 3),
        (&["-ec", "if false; then true; fi; exit 4"], 4),
        (&["-ec", "! true; exit 5"], 5),
        (&["-ec", "false || exit 6"], 6),
        (&["-ec", "echo ${UNSET?}; exit 0"], 2),
        (&["-c", "vault status"], 127),
        (&["-c", "[ 1 -ge x ]"], 2),
        (&["-c", "exit 256"], 0),
        (&["-c", "exit x"], 2),
        (&["-c", "X=$(pidof no-such-program-here)"], 1),
        (&["-c", "-e", "X=$(pidof no-such-program-here); exit 0"], 1),
        (&["-c", "echo ${UNSET?} | true; exit 3"], 3),
        (&["-c", "[ ! = x ]"], 1),
        (&["-c", "[ ! = ! ]"], 0),
        (&["-c", "x=010; exit $((x))"], 8),
        (&["-c", "n=0; while [ $n -lt 3 ]; do n=$((n+1)); done; exit $n"], 3),
        (&["-c", "until false; do break; done"], 0),
        (&["-c", "exit $#", "name", "a", "b"], 2),
        (&["-c", "[ \"$0\" = name ]", "name"], 0),
    ] {
        let out = sh(args);
        assert_eq!(code(out.status), status, "{args:?}: {}", stderr_of(&out));
    }
}

#[test]
fn output_goes_where_the_redirections_say() {
    let out = sh(&["-c", "echo out; echo err >&2; echo both 1>&2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(stderr_of(&out), "err\nboth\n");
    let out = sh(&["-c", "echo \"Attempt\" $N... | grep -E 'Attempt 4'"]);
    assert_eq!(code(out.status), 1, "N is unset: {:?}", out);
    let out = Command::new(common::sh()).args(["-c", "echo \"Attempt\" $N..."]).env("N", "4").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attempt 4...\n");
}

#[test]
fn the_charts_sed_lines_rewrite_a_copy_of_the_config() {
    let dir = Scratch::new("sh-sed");
    std::fs::write(dir.path("config.hcl"), "address = \"HOST_IP:8500\"\nnode = \"HOSTNAME\"\n").unwrap();
    let script = format!(
        "cp {0}/config.hcl {0}/storage.hcl;\n[ -n \"${{HOST_IP}}\" ] && sed -Ei \"s|HOST_IP|${{HOST_IP?}}|g\" {0}/storage.hcl;\n[ -n \"${{POD_IP}}\" ] && sed -Ei \"s|POD_IP|${{POD_IP?}}|g\" {0}/storage.hcl;\n[ -n \"${{HOSTNAME}}\" ] && sed -Ei \"s|HOSTNAME|${{HOSTNAME?}}|g\" {0}/storage.hcl;\nexit 0\n",
        dir.0.display()
    );
    let out = Command::new(common::sh())
        .args(["-ec", &script])
        .env_clear()
        .env("HOST_IP", "192.0.2.10")
        .env("HOSTNAME", "vault-0")
        .output()
        .unwrap();
    assert_eq!(code(out.status), 0, "{}", stderr_of(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path("storage.hcl")).unwrap(),
        "address = \"192.0.2.10:8500\"\nnode = \"vault-0\"\n",
        "POD_IP unset: its line is skipped, and -e does not end the script there"
    );
}

#[test]
fn values_that_are_not_utf8_pass_through_as_bytes() {
    use std::os::unix::ffi::OsStrExt;
    let value = std::ffi::OsStr::from_bytes(b"caf\xe9 \xff");
    let out = Command::new(common::sh()).args(["-c", "echo \"${X?}\" $X"]).env("X", value).output().unwrap();
    assert_eq!(code(out.status), 0, "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"caf\xe9 \xff caf\xe9 \xff\n");
}

#[test]
fn a_long_arithmetic_expression_is_computed_without_recursion() {
    let script = format!("exit $(({}))", vec!["1"; 65_000].join("+") + "-64990");
    let out = sh(&["-c", &script]);
    assert_eq!(code(out.status), 10, "{}", stderr_of(&out));
}

#[test]
fn a_pattern_is_passed_on_unless_it_would_match_a_file() {
    let dir = Scratch::new("sh-patterns");
    let run_in = |script: &str| {
        let mut command = Command::new(common::sh());
        command.args(["-c", script]).current_dir(&dir.0).env("PATH", "/nonexistent");
        run(command, std::time::Duration::from_secs(30))
    };
    let out = run_in("echo -address=https://[fd00::1]:8200 [::]:8200 x*");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-address=https://[fd00::1]:8200 [::]:8200 x*\n");
    std::fs::write(dir.path("::8200"), "").unwrap();
    let out = run_in("echo before; echo [::]:8200; echo after");
    assert_eq!(code(out.status), 2);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before\n", "refused at the word");
    let stderr = stderr_of(&out);
    assert!(stderr.contains("would match") && stderr.contains("::8200") && stderr.lines().count() == 1, "{stderr}");
    let out = run_in("echo '[::]:8200' \\[::]:8200");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[::]:8200 [::]:8200\n", "quoted: no pattern");
}
