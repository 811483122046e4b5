//! The server's configuration, read by hardinit as the server reads it.
//!
//! 1. A differential test against the real OpenBao server: for a corpus of tricky files (every
//!    case of the HCL v1 rules hardinit follows, and mutants of them), whenever `bao` accepts a
//!    file, the setting hardinit reads is the one `bao` reports, or hardinit refuses the file.
//!    `log_level` is the visible stand-in (bao prints its sanitized configuration), and
//!    `disable_mlock = false`, which bao refuses by name, checks the setting itself.
//! 2. The static binary's `check`: each case that once flipped the memory rule now picks the rule
//!    the server's reading calls for; special files, unreadable directories and hostile nesting
//!    are one FAIL line, never a hang or a crash.

mod common;

// The reader itself, compiled into this test as it is into hardinit.
#[allow(dead_code)]
#[path = "../src/harden/hcl.rs"]
mod hcl;
#[allow(dead_code)]
#[path = "../src/harden/server_config.rs"]
mod server_config;
#[allow(dead_code)]
#[path = "../src/harden/server_flags.rs"]
mod server_flags;

#[path = "../src/sys/regular_file.rs"]
pub mod regular_file;

/// server_config reads through `crate::sys::regular_file`.
mod sys {
    pub use super::regular_file;
}

use common::runc::bao;
use common::*;
use server_config::ConfigFile;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

/// The cases of the HCL v1 behaviours, as (file name, text) with `log_level` set to "trace".
const CASES: &[(&str, &str)] = &[
    ("keys-ignore-case.hcl", "LOG_LEVEL = \"trace\"\n"),
    ("simple-folding.hcl", "\"Lo\u{17F}_level\" = \"trace\"\n"),
    ("comma-on-one-line.hcl", "ui = false, log_level = \"trace\"\n"),
    ("no-comma-on-one-line.hcl", "ui = false log_level = \"trace\"\n"),
    ("escaped-key.hcl", "\"log\\u005flevel\" = \"trace\"\n"),
    ("escaped-key.json", "{\"log\\u005flevel\": \"trace\"}\n"),
    ("json-quote-inside-interpolation.json", "{\"a\": \"${\", \"log_level\": \"trace\", \"b\": \"}\"}\n"),
    ("hcl-quote-inside-interpolation.hcl", "a = \"${\" log_level = \"trace\" \"}\"\n"),
    ("percent-brace.hcl", "a = \"%{\" # \"\nlog_level = \"trace\"\n"),
    (".hcl", "log_level = \"trace\"\n"),
    (".json", "{\"log_level\": \"trace\"}\n"),
    ("heredoc-vertical-tab.hcl", "a = <<EOF\nx\n\u{b}EOF\nlog_level = \"trace\"\n"),
    ("heredoc-hides-it.hcl", "a = <<EOF\nlog_level = \"trace\"\nEOF\n"),
    ("indented-heredoc-short-close.hcl", "a = <<-EOF\nx\nEOF\nlog_level = \"trace\"\n"),
    ("json-in-hcl-name.hcl", "  {\"log_level\": \"trace\"}\n"),
    ("hcl-in-json-name.json", "log_level = \"trace\"\n"),
    ("json-escaped-slash.json", "{\"log_level\": \"trace\", \"a\": \"http:\\/\\/x\"}\n"),
    ("hex-escape.hcl", "log_level = \"\\x74race\"\n"),
    ("octal-escape.hcl", "log_level = \"\\164race\"\n"),
    ("duplicates-last-wins.hcl", "log_level = \"debug\"\nLOG_LEVEL = \"trace\"\n"),
    ("json-missing-comma-ends.json", "{\"ui\": true \"log_level\": \"trace\"}\n"),
    ("json-missing-comma-after.json", "{\"log_level\": \"trace\" \"ui\": true}\n"),
    ("json-trailing-garbage.json", "{\"log_level\": \"trace\"} x\n"),
    ("value-missing-at-end.hcl", "log_level = \"trace\"\nui =\n"),
    ("in-a-block.hcl", "telemetry {\n log_level = \"trace\"\n}\n"),
    ("in-a-comment.hcl", "/* log_level = \"trace\" */\n# log_level = \"trace\"\n"),
    ("heredoc-value.hcl", "log_level = <<EOF\ntrace\nEOF\n"),
    ("crlf.hcl", "ui = true\r\nlog_level = \"trace\"\r\n"),
    ("json-null.json", "{\"log_level\": null}\n"),
    ("nested-list.hcl", "a = [1, [2, 3] 4]\nlog_level = \"trace\"\n"),
];

/// The seeds the mutants grow from.
const SEEDS: &[&str] = &[
    "ui = true\nlog_level = \"trace\"\nlistener \"tcp\" { address = \"127.0.0.1:0\" }\n",
    "{\"ui\": true, \"log_level\": \"trace\", \"a\": [1, 2]}\n",
    "a = <<EOF\nb\nEOF\nlog_level = \"${x}trace\"\n",
];

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 as usize
    }
}

fn mutants(count: usize) -> Vec<(String, String)> {
    const ALPHABET: &[u8] = b"{}[]\"\\:=,#/*<-$% \n\t0aEOFlog_levtrac";
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    (0..count)
        .map(|n| {
            let mut text = SEEDS[n % SEEDS.len()].as_bytes().to_vec();
            for _ in 0..=rng.next() % 3 {
                let at = rng.next() % (text.len() + 1);
                let byte = ALPHABET[rng.next() % ALPHABET.len()];
                match rng.next() % 3 {
                    0 if at < text.len() => text[at] = byte,
                    1 if at < text.len() => {
                        text.remove(at);
                    }
                    _ => text.insert(at, byte),
                }
            }
            let name = if n % 2 == 0 { format!("mutant-{n}.hcl") } else { format!("mutant-{n}.json") };
            (name, String::from_utf8_lossy(&text).into_owned())
        })
        .collect()
}

/// What `bao server -test-verify-only` makes of a directory with a base file and the case.
#[derive(Debug, PartialEq)]
enum BaoVerdict {
    /// Accepted; the log level of its sanitized configuration ("" when unset).
    Accepted(String),
    RefusedMlock,
    Refused,
}

fn bao_reads(dir: &Path) -> BaoVerdict {
    let out = run(
        {
            let mut cmd = Command::new(bao());
            cmd.arg("server").arg(format!("-config={}", dir.display())).arg("-test-verify-only");
            cmd.env_clear().env("HOME", dir);
            cmd
        },
        LONG,
    );
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if text.contains("OpenBao has dropped support for mlock") {
        return BaoVerdict::RefusedMlock;
    }
    if !out.status.success() {
        return BaoVerdict::Refused;
    }
    // The banner's "Log Level: X" line ("" when the configuration sets none).
    let level = text.lines().find_map(|l| l.trim_start().strip_prefix("Log Level:")).map(str::trim);
    BaoVerdict::Accepted(level.expect("bao printed its configuration banner").to_string())
}

/// A config directory: a base file bao needs (storage, listener) and the case.
fn config_dir(scratch: &Scratch, index: usize, name: &str, text: &str) -> std::path::PathBuf {
    let dir = scratch.path(&format!("case-{index}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("base.hcl"),
        "storage \"inmem\" {}\nlistener \"tcp\" {\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join(name), text).unwrap();
    dir
}

fn hardinit_reads(dir: &Path) -> Result<Vec<ConfigFile>, String> {
    let raw = server_config::gather(&[dir.to_path_buf()]).map_err(|e| e.message)?;
    server_config::parse_all(raw).map_err(|e| e.message)
}

#[test]
fn hardinit_reads_what_the_real_server_reads_or_refuses() {
    if !privileged(false) {
        return;
    }
    let scratch = Scratch::new("differential");
    let mut corpus: Vec<(String, String)> = CASES.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    corpus.extend(mutants(120));
    let mut compared = 0;
    let mut refused_by_hardinit = 0;
    let mut mismatches = Vec::new();
    for (index, (name, text)) in corpus.iter().enumerate() {
        // The value, through log_level.
        let dir = config_dir(&scratch, index * 2, name, text);
        let ours = hardinit_reads(&dir).and_then(|files| {
            let mut level = String::new();
            for file in &files {
                if let Some((literal, _)) = server_config::top_level(file, "log_level").map_err(|e| e.message)? {
                    // The banner shows the level as the server normalises it.
                    level = literal.as_text().ok_or("not text")?.trim().to_lowercase();
                }
            }
            Ok(level)
        });
        match (bao_reads(&dir), &ours) {
            (BaoVerdict::Accepted(level), Ok(read)) => {
                compared += 1;
                if &level != read {
                    mismatches.push(format!("{name} {text:?}: bao reads log_level {level:?}, hardinit {read:?}"));
                }
            }
            (BaoVerdict::Accepted(_), Err(_)) => refused_by_hardinit += 1,
            _ => {}
        }
        // The setting itself: bao refuses disable_mlock = false by name.
        let mlock_text = text.replace("log_level", "disable_mlock").replace("trace", "false");
        let dir = config_dir(&scratch, index * 2 + 1, name, &mlock_text);
        let ours =
            hardinit_reads(&dir).and_then(|files| server_config::mlock_setting(&files, None).map_err(|e| e.message));
        let reads_false = ours.as_ref().is_ok_and(|s| !s.disabled && s.source.is_some());
        match bao_reads(&dir) {
            BaoVerdict::RefusedMlock if ours.is_ok() && !reads_false => {
                mismatches.push(format!("{name} {mlock_text:?}: bao reads disable_mlock = false, hardinit {ours:?}"))
            }
            BaoVerdict::Accepted(_) if reads_false => {
                mismatches.push(format!("{name} {mlock_text:?}: bao accepts it, hardinit reads disable_mlock = false"))
            }
            _ => {}
        }
    }
    eprintln!("{} files, {compared} compared value for value, {refused_by_hardinit} refused by hardinit", corpus.len());
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(compared >= CASES.len() / 2, "too few files were accepted by bao to compare: {compared}");
}

/// `hardinit check FLAGS -- vault ARGS` (a stand-in `vault` in `scratch`), as root dropping to
/// the test user.
fn run_check(scratch: &Scratch, flags: &[&str], args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let vault = scratch.path("vault");
    if !vault.exists() {
        std::fs::write(&vault, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&vault, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let mut cmd = command(static_hardinit());
    cmd.env_remove("VAULT_DISABLE_MLOCK").arg("check").args(flags).arg("--").arg(&vault).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(cmd, LONG)
}

/// `hardinit check` as text: its status and stdout followed by stderr.
fn check(scratch: &Scratch, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = run_check(scratch, &[], args, env);
    (code(out.status), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
}

/// A directory `name` in `scratch` holding `files`; returns the `-config=DIR` argument.
fn config_arg(scratch: &Scratch, name: &str, files: &[(&str, &str)]) -> String {
    let dir = scratch.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    format!("-config={}", dir.display())
}

fn memory_line(report: &str) -> &str {
    report.lines().find(|l| l.contains(" memory: ")).unwrap_or_else(|| panic!("no memory check in {report}"))
}

#[test]
fn the_static_binary_picks_the_memory_rule_the_servers_reading_calls_for() {
    if !privileged(false) {
        return;
    }
    let scratch = Scratch::new("mlock-rule");
    for (index, (name, text)) in [
        ("a.hcl", "DISABLE_MLOCK = true\n"),
        ("a.hcl", "ui = false, disable_mlock = true\n"),
        ("a.hcl", "ui = false disable_mlock = true\n"),
        ("a.hcl", "\"disable\\u005fmlock\" = true\n"),
        ("a.json", "{\"disable\\u005fmlock\": true}\n"),
        ("a.json", "{\"a\": \"${\", \"disable_mlock\": true, \"b\": \"}\"}\n"),
        ("a.hcl", "a = \"%{\" # \"\ndisable_mlock = true\n"),
        (".hcl", "disable_mlock = true\n"),
        (".json", "{\"disable_mlock\": true}\n"),
        ("a.hcl", "a = <<EOF\nx\n\u{b}EOF\ndisable_mlock = true\n"),
        ("a.hcl", "{\"disable_mlock\": true}\n"),
        ("a.json", "disable_mlock = true\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let config = config_arg(&scratch, &format!("c{index}"), &[(name, text)]);
        let (_, report) = check(&scratch, &["server", &config], &[]);
        assert!(memory_line(&report).contains("swap rule"), "{name} {text:?}: {report}");
    }
    // The environment wins over the files; empty is unset.
    let config = config_arg(&scratch, "env", &[("a.hcl", "disable_mlock = true\n")]);
    let (_, report) = check(&scratch, &["server", &config], &[("VAULT_DISABLE_MLOCK", "false")]);
    assert!(memory_line(&report).contains("mlock rule"), "{report}");
    let (_, report) = check(&scratch, &["server", &config], &[("VAULT_DISABLE_MLOCK", "")]);
    assert!(memory_line(&report).contains("swap rule"), "{report}");
    // Every dev mode only warns; -dev=false is not dev.
    for dev in ["-dev", "-dev-tls", "-dev-ha", "-dev-three-node"] {
        let (status, report) = check(&scratch, &["server", dev], &[]);
        assert!(memory_line(&report).starts_with("WARN memory: a dev-mode server"), "{dev}: {report}");
        assert_ne!(status, 2, "{report}");
    }
    let empty = config_arg(&scratch, "empty", &[]);
    let (_, report) = check(&scratch, &["server", "-dev=false", &empty], &[]);
    assert!(memory_line(&report).contains("mlock rule"), "{report}");
}

#[test]
fn an_unreadable_or_hostile_config_is_one_fail_line_with_file_and_line_and_json_still_prints() {
    if !privileged(false) {
        return;
    }
    let scratch = Scratch::new("config-fail");
    let config = config_arg(&scratch, "bad", &[("a.hcl", "ui = true\ndisable_mlock = \"yes\"\n")]);
    let (status, report) = check(&scratch, &["server", &config], &[]);
    assert_eq!(status, 1, "{report}");
    assert!(memory_line(&report).starts_with("FAIL memory:") && memory_line(&report).contains("a.hcl:2"), "{report}");
    let out = run_check(&scratch, &["--json"], &["server", &config], &[]);
    assert_eq!(code(out.status), 1);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("check --json prints its document");
    assert_eq!(doc["ok"], false);

    // Special files: never read without end, never blocking.
    let fifo = scratch.path("fifo.hcl");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let pagemap = scratch.path("links");
    std::fs::create_dir_all(&pagemap).unwrap();
    std::os::unix::fs::symlink("/proc/self/pagemap", pagemap.join("zz.hcl")).unwrap();
    // /proc/self/pagemap reports a size of 0 and is readable only by its own (root) process.
    let as_root = [("HARDINIT_USER", "0:0"), ("HARDINIT_ALLOW_ROOT", "1")];
    for (path, expected, env) in [
        ("/dev/zero".to_string(), "a device", &[][..]),
        (fifo.display().to_string(), "FIFO", &[]),
        (pagemap.display().to_string(), "zz.hcl", &as_root),
    ] {
        let (status, report) = check(&scratch, &["server", &format!("-config={path}")], env);
        assert_eq!(status, 1, "{path}: {report}");
        assert!(memory_line(&report).contains(expected), "{path}: {report}");
    }

    // Nested 100,000 deep: one line, no crash.
    let templates = format!("a = \"{}\"\n", "${\"".repeat(100_000));
    let lists = format!("b = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    let deep = config_arg(&scratch, "deep", &[("a.hcl", &templates), ("b.hcl", &lists)]);
    let (status, report) = check(&scratch, &["server", &deep], &[]);
    assert_eq!(status, 1, "{report}");
    assert!(memory_line(&report).starts_with("FAIL memory:"), "{report}");
}

#[test]
fn check_reads_the_config_with_the_servers_credentials_not_roots() {
    if !privileged(false) {
        return;
    }
    let scratch = Scratch::new("config-access");
    let config = config_arg(&scratch, "private", &[("a.hcl", "disable_mlock = true\n")]);
    std::fs::set_permissions(scratch.path("private"), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let (status, report) = check(&scratch, &["server", &config], &[("SKIP_CHOWN", "1")]);
    assert_eq!(status, 1, "{report}");
    assert!(memory_line(&report).contains("Permission denied"), "{report}");
}
