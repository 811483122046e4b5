//! The contract of hardinit's sh, case by case: do what dash with busybox's applets does, or
//! refuse before anything runs (status 2, one line, nothing printed, no file touched), or, for
//! what only an expansion shows, end the whole script at that command with status 2. Each case
//! is a difference found between the two (a script a user would write for the charts); each
//! runs through `dash -c` (busybox's applets first in PATH) and the static hardinit as `sh`.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::dash;

fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The server's stand-in shows its arguments and the variables a customisation exports.
        let standin = format!("#!{}\necho \"[$VAULT_ADDR][$X]\" \"$@\"\n", dash());
        common::busybox_path(
            "sh-contract",
            &["sed", "grep", "cp", "base64", "touch", "sleep", "kill", "pidof"],
            &[("vault", &standin)],
        )
    })
}

#[derive(Debug, PartialEq)]
struct Outcome {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    files: BTreeMap<String, (Vec<u8>, u32)>,
}

const CONFIG: &str = "storage \"raft\" {\n  node_id = \"HOSTNAME\"\n}\n# retry_join\nlistener \"tcp\" { address = \"POD_IP:8200\" }\nui = true\n";

fn run(shell: &str, script: &str, env: &[(&str, &str)]) -> Outcome {
    use std::os::unix::fs::PermissionsExt;
    let dir = common::Scratch::new("sh-contract");
    std::fs::write(dir.path("f"), CONFIG).unwrap();
    std::fs::write(dir.path("g"), "a\nbb\n").unwrap();
    let mut command = Command::new(shell);
    command
        .arg0("sh")
        .arg("-c")
        .arg(script)
        .current_dir(&dir.0)
        .env_clear()
        .env("PATH", bin_dir())
        .env("LC_ALL", "C")
        .envs(env.iter().copied());
    let out = common::run(command, Duration::from_secs(30));
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(&dir.0).unwrap().flatten() {
        let meta = entry.metadata().unwrap();
        let content = if meta.is_file() { std::fs::read(entry.path()).unwrap() } else { Vec::new() };
        files.insert(entry.file_name().to_string_lossy().into_owned(), (content, meta.permissions().mode() & 0o7777));
    }
    Outcome {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        files,
    }
}

/// The script runs in both, and hardinit's outcome is dash's (stdout, status, files and the
/// modes of those it did not create: `> FILE` creates 0600 on purpose).
fn same_as_dash(script: &str, env: &[(&str, &str)]) {
    let reference = run(dash(), script, env);
    let mut ours = run(common::sh(), script, env);
    for (name, (_, mode)) in ours.files.iter_mut() {
        if !["f", "g"].contains(&name.as_str()) {
            *mode = reference.files.get(name).map_or(*mode, |(_, m)| *m);
        }
    }
    assert_eq!(
        (&ours.stdout, ours.status, &ours.files),
        (&reference.stdout, reference.status, &reference.files),
        "{script:?} {env:?}: hardinit's stderr {:?}, dash's {:?}",
        ours.stderr,
        reference.stderr
    );
}

/// hardinit refuses the script before anything runs: status 2, one line naming `words`, no
/// output, no file touched; dash runs it.
fn refused_before(script: &str, env: &[(&str, &str)], words: &str) {
    let untouched = run(dash(), ":", &[]).files;
    let ours = run(common::sh(), script, env);
    assert_eq!(ours.status, Some(2), "{script:?}: {}", ours.stderr);
    assert_eq!(ours.stderr.lines().count(), 1, "{script:?}: {}", ours.stderr);
    assert!(ours.stderr.contains("refused") && ours.stderr.contains(words), "{script:?}: {}", ours.stderr);
    assert_eq!((ours.stdout.as_str(), &ours.files), ("", &untouched), "{script:?}: something ran");
}

#[test]
fn sed_without_e_reads_a_basic_regular_expression_as_busybox() {
    // The most common edit of the charts' scripts: it failed at run time and the server started
    // on a configuration with POD_IP unreplaced.
    same_as_dash("sed -i \"s|POD_IP|${POD_IP?}|g\" f; echo $?", &[("POD_IP", "10.0.0.7")]);
    for script in [
        "sed 's/a\\+/X/g' g",
        "sed 's/\\(b\\)b*/[\\1]/' g",
        "sed 's/b\\{2\\}/X/' g",
        "sed 's/(b)/X/; s/a|b/Y/' g",
        "sed 's/^*a/X/; s/a$/Y/' g",
        "sed 's/a\\|b/X/g' g",
        "sed -e 's/a/X/' -e 's/b/Y/' g",
        "sed -Ei 's|HOSTNAME|vault-0|g; s|POD_IP|10.0.0.7|g' f",
        "sed '/^#/d' f",
        "sed '/ui/s/true/false/' f",
        "sed 's/\\t/X/' g f",
        "sed s/a/X/ f g",
        "echo abc | sed s/b/X/ -",
        "sed -E 's/[^/]*$//' f",
        "sed 's|[|]|-|' f",
        "sed -E 's/ui/C:\\ Program Files/' f",
        "sed 's/ui/\\é/' f",
        "sed -n 2p f g; sed -n '/ui/p; 7p' f g; sed -n 's/ui/UI/p' f; sed '1d; 3p' g",
        "sed -E 's/POD_IP/x/' f -i; echo $?",
        "grep -E a f -q; echo $?",
    ] {
        same_as_dash(script, &[]);
    }
    // A value with the delimiter in it: busybox fails (1), the script goes on.
    same_as_dash("sed \"s|POD_IP|${V}|\" f; echo $?", &[("V", "a|b")]);
    same_as_dash("sed 's|a|b|G' g; echo $?", &[]);
}

#[test]
fn grep_reads_its_options_and_a_pattern_per_line_as_busybox() {
    for (script, env) in [
        ("grep -c a g; grep -x a g; grep -F . f; grep -s a missing; echo $?", &[][..]),
        ("grep -e a -e ui f g; grep '' g", &[]),
        ("grep 'a\\|bb' g; grep -v '^#' f", &[]),
        ("echo abc | grep -qE \"$P\"; echo $?", &[("P", "zzz\nb")]),
        ("grep -i UI f; grep -ic 'STORAGE\\|Listener' f; sed 's/RAFT/x/I; s/UI/y/i' f", &[]),
        ("echo abc | grep \"$P\" - g; echo $?", &[("P", "zzz\nb")]),
        ("sed -E \"s/$P/X/\" g; echo $?", &[("P", "zzz\nb")]),
    ] {
        same_as_dash(script, env);
    }
}

#[test]
fn what_is_refused_is_refused_before_the_first_command() {
    for (script, words) in [
        ("cp g h; sed -n '1,2p' f", "a range"),
        ("cp g h; sed 's/a/b/2' f", "the flag '2'"),
        ("cp g h; grep -i '[a-z]' f", "a letter in a bracket expression"),
        ("cp g h; sed 's/\\bui/x/' f", "GNU extension"),
        ("cp g h; sed -i.bak 's/a/b/' f", "backup suffix"),
        ("cp g h; sed -i \"s/a/$V/w x\" f", "the flag 'w'"),
        ("cp g h; cp -p f k", "cp: -p is not supported"),
        ("cp g h; cp -r f k", "cp: -r is not supported"),
        ("cp g h; touch -a k", "touch: -a is not supported"),
        ("cp g h; grep -l a f", "grep: -l is not supported"),
        ("cp g h; grep -o a f", "grep: -o is not supported"),
        ("cp g h; base64 -w0", "base64: -w is not supported"),
        ("cp g h; echo [$(pidof x #)]", "a comment inside $(...)"),
        ("cp g h; /nonexistent/dir/echo hi", "no such file"),
    ] {
        refused_before(script, &[("V", "x")], words);
    }
}

#[test]
fn a_refusal_that_only_an_expansion_shows_ends_the_script_at_once() {
    let ours = run(common::sh(), "echo before; sed \"$P\" f > out; echo after; touch marker", &[("P", "s/a/b/w x")]);
    assert_eq!(ours.status, Some(2), "{}", ours.stderr);
    assert_eq!(ours.stdout, "before\n");
    assert!(ours.stderr.contains("refused") && ours.stderr.lines().count() == 1, "{}", ours.stderr);
    assert!(!ours.files.contains_key("out") && !ours.files.contains_key("marker"), "{:?}", ours.files.keys());
    // busybox's kill lists the signals for `-l`: from a value, refused there.
    let ours = run(common::sh(), "echo before; kill -$S 999999999; echo after", &[("S", "l")]);
    assert_eq!((ours.status, ours.stdout.as_str()), (Some(2), "before\n"), "{}", ours.stderr);
    assert!(ours.stderr.contains("refused: kill: `kill -l`"), "{}", ours.stderr);
}

#[test]
fn numbers_padded_with_any_c_space_are_numbers_as_in_dash() {
    for value in ["5\r", "\u{b}5", "5\u{c}", " 5 ", "-0", "+3", "3\r"] {
        same_as_dash("if [ \"$R\" -ge 3 ]; then echo big; else echo small; fi", &[("R", value)]);
        same_as_dash("exit \"$R\"", &[("R", value)]);
    }
    same_as_dash("exit -0", &[]);
    same_as_dash("exit -1", &[]);
}

#[test]
fn the_variables_sh_sets_itself_are_set() {
    same_as_dash("echo \"[$IFS][$OPTIND][$PS2][$PS4]\"", &[]);
    same_as_dash("cp \"$PWD/g\" copied; [ \"$PPID\" -gt 0 ] && echo ppid", &[]);
    same_as_dash("unset_path=1; echo \"$PATH\"", &[("PWD", "/nonexistent")]);
    let ours = run(common::sh(), "echo \"$PWD\"", &[("PWD", "/nonexistent")]);
    assert_ne!(ours.stdout, "/nonexistent\n", "an inherited PWD that is not the directory");
}

#[test]
fn sleep_infinity_sleeps() {
    // Beyond 31 years is forever too: busybox sleeps `sleep 2147483647` (a common keep-alive),
    // where hardinit failed at once with status 1.
    for script in ["sleep infinity", "sleep inf", "sleep 2147483647", "sleep 365000d", "sleep 600000000 600000000"] {
        let mut command = Command::new(common::sh());
        command.arg("-c").arg(script);
        let mut child = command.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        assert!(child.try_wait().unwrap().is_none(), "{script} ended at once");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}

#[test]
fn the_standard_streams_by_name_are_the_streams() {
    same_as_dash("echo to-stdout > /dev/stdout; echo fd > /proc/self/fd/1; echo $?", &[]);
    let ours = run(common::sh(), "echo \"POD_IP missing\" > /dev/stderr; exit 1", &[]);
    assert_eq!((ours.status, ours.stderr.as_str()), (Some(1), "POD_IP missing\n"));
}

#[test]
fn a_redirection_is_opened_once_before_the_command() {
    same_as_dash("cp g f > f; echo $?", &[]);
    same_as_dash("sed s/a/b/ g > g2; echo x > /dev/null; echo $?", &[]);
}

#[test]
fn a_fifo_as_a_target_is_refused_never_waited_on() {
    let dir = common::Scratch::new("sh-contract-fifo");
    let fifo = dir.path("storageconfig.hcl");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo = fifo.to_str().unwrap();
    for script in
        [format!("echo x > {fifo}; touch {fifo}.after"), format!("cp /etc/hostname {fifo}; touch {fifo}.after")]
    {
        let mut command = Command::new(common::sh());
        command.arg("-c").arg(&script);
        let out = common::run(command, Duration::from_secs(10));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{script}: {stderr}");
        assert!(stderr.contains("refused"), "{stderr}");
        assert!(!Path::new(&format!("{fifo}.after")).exists(), "{script}: the script went on");
    }
}

#[test]
fn sed_in_place_drops_setuid_as_busybox() {
    same_as_dash("sed -i s/a/b/ g; echo $?", &[]);
    let dir = common::Scratch::new("sh-contract-setuid");
    let file = dir.path("tool");
    std::fs::write(&file, "a\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let mut command = Command::new(common::sh());
    command.arg("-c").arg(format!("sed -i s/a/b/ {}", file.display()));
    assert_eq!(common::run(command, Duration::from_secs(10)).status.code(), Some(0));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o7777, 0o755);
}

#[test]
fn statuses_match_where_both_fail() {
    // An argument over 128 KiB: dash cannot start sed (E2BIG, 126).
    let long = "x".repeat(70 << 10);
    same_as_dash("sed \"s/a/$L$L/\" g; echo $?", &[("L", long.as_str())]);
    same_as_dash("echo \"$L$L\" | grep -c x", &[("L", long.as_str())]);
}

#[test]
fn what_chart_customisations_write_most_runs_as_in_dash() {
    for (script, env) in [
        (
            "echo \"${X:-default}\" \"${Y:-d}\" ${#Y} \"${Y:+set}\" \"${E-unset}\" \"${E:-empty}\"",
            &[("Y", "abc"), ("E", "")][..],
        ),
        ("echo ${Z:-a  b} x", &[]),
        (": \"${POD_IP?POD_IP is required}\"; echo ok", &[("POD_IP", "10.0.0.7")]),
        (": \"${POD_IP?POD_IP is required}\"; echo ok", &[]),
        (": \"${POD_IP:?}\"; echo ok", &[("POD_IP", "")]),
        ("echo a >> out; echo b >> out; sed s/a/x/ g >> out", &[]),
        ("grep x missing 2>/dev/null; echo $?; cp missing h 2>/dev/null || echo failed", &[]),
        ("export VAULT_ADDR=http://127.0.0.1:8200; vault status", &[]),
        ("export X; X=1; vault status", &[]),
        ("X=\"a b\"; export X; vault status", &[]),
        ("exec vault server -config=/tmp; echo never", &[]),
        ("if true; then exec vault a; fi; echo never", &[]),
        ("vault status 2>/dev/null; echo $?", &[]),
        ("VAULT_ADDR=http://x:8200 X=\"a b\" vault status; vault status; echo \"[$X]\"", &[]),
        ("X=1 exec vault server", &[]),
    ] {
        same_as_dash(script, env);
    }
    refused_before("cp g h; echo ${X:=a}", &[], "parameter expansion");
    refused_before("cp g h; export X=$Y", &[], "unquoted expansion");
    refused_before("cp g h; echo x 2> err", &[], "`2>` to a file other than /dev/null");
    refused_before("cp g h; exec echo x", &[], "`exec` of a built-in");
}

#[test]
fn a_server_no_one_may_execute_is_not_found_as_in_dash() {
    let dir = common::Scratch::new("sh-contract-nonexec");
    std::fs::write(dir.path("vault"), "#!/bin/sh\necho ran\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path("vault"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let script = format!("PATH={}; vault status; echo $?", dir.0.display());
    same_as_dash(&script, &[]);
}

#[test]
fn sed_i_through_a_symlinked_directory_ends_the_script_as_cp_does() {
    // A ConfigMap's layout (conf.hcl -> ..data/conf.hcl, ..data -> ..2026_12_07): busybox edits
    // through the link; hardinit writes through none, and a refusal found only when it runs ends
    // the script (it returned 1 and the script went on to start the server on the placeholders).
    let dir = common::Scratch::new("sh-contract-sed-link");
    std::fs::create_dir(dir.path("..2026_12_07")).unwrap();
    std::fs::write(dir.path("..2026_12_07/conf.hcl"), "api_addr = \"http://POD_IP:8200\"\n").unwrap();
    std::os::unix::fs::symlink("..2026_12_07", dir.path("..data")).unwrap();
    let mut command = Command::new(common::sh());
    command
        .arg0("sh")
        .arg("-c")
        .arg("sed -i \"s|POD_IP|${POD_IP?}|g\" ..data/conf.hcl || true; echo started")
        .current_dir(&dir.0)
        .env_clear()
        .env("PATH", bin_dir())
        .env("POD_IP", "10.0.0.7");
    let out = common::run(command, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "", "the script went on: {stderr}");
    assert!(stderr.contains("..data is a symlink"), "{stderr}");
    let kept = std::fs::read_to_string(dir.path("..2026_12_07/conf.hcl")).unwrap();
    assert!(kept.contains("POD_IP"), "{kept}");
}
