//! hardinit's sh against dash with busybox's applets, on scripts generated the way users edit the
//! charts' scripts: a seeded grammar of the accepted language (lists, `&&`, `||`, `!`, `if`,
//! pipelines, redirections, assignments) and of every built-in's options and operands (sed
//! programs and grep patterns among them), with values from the environment such as Kubernetes
//! hands over (`\r` line ends, newlines, `|`, `&`, `\`, IPv6, unicode, very long ones).
//!
//! Each script runs through `dash -c` (busybox's applets first in PATH) and through the static
//! hardinit as `sh`, each in a fresh folder with the same files, and the two must agree on the
//! standard output, the exit status and the files left. The contract allows one difference only,
//! a clean refusal: either before anything ran (status 2, one line on stderr that says
//! `refused`, nothing printed, no file touched), or, for what only an expansion shows, at that
//! command (status 2, the refusal the last line on stderr, the output until then dash's).
//!
//! The words of the applets' error lines differ on purpose; where `2>&1` puts them in the output
//! only what comes before their `NAME:` is compared.
//!
//! The seed and the count are printed; `HARDINIT_SH_SEED=N` replays a run,
//! `HARDINIT_SH_COUNT=N` sets how many scripts it generates.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// How many scripts a run generates by default: about a minute on two cores beside other work
/// (6,000 in 25 to 47 s measured), two at most in CI beside the other suites.
const DEFAULT_COUNT: usize = 12000;

/// xorshift64*: small, seeded, the same sequence on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Values a deployment hands a script through the environment.
fn value(rng: &mut Rng) -> Vec<u8> {
    let short: &[&str] = &[
        "10.0.0.7",
        "5\r",
        "3\r",
        "2",
        " 7 ",
        "\u{b}4",
        "\u{c}9",
        "-0",
        "08",
        "a|b",
        "a&b",
        "a\\b",
        "C:\\ Program Files",
        "fd00::1",
        "[fd00::1]:8200",
        "https://[fd00::1]:8200",
        "zone-é",
        "日本",
        "",
        "x\ny",
        "zzz\nb",
        "10.0.0.7\r",
        "-n",
        "-e",
        "ui",
        "a/b",
        "$HOME",
        "it's",
        "say \"hi\"",
        "*",
        "#",
    ];
    match rng.below(30) {
        0 => "a".repeat(3000).into_bytes(),
        // Twice in one word, over the 128 KiB the kernel takes for one argument.
        1 => "x".repeat(70 * 1024).into_bytes(),
        _ => rng.pick(short).as_bytes().to_vec(),
    }
}

/// The files of every case's folder before it runs.
fn initial_files() -> Vec<(&'static str, &'static [u8])> {
    vec![
        ("f", b"storage \"raft\" {\n  path = \"/vault/data\"\n  node_id = \"HOSTNAME\"\n}\n# retry_join\nlistener \"tcp\" { address = \"POD_IP:8200\" }\nui = true\n"),
        ("g", b"a\nbb\n#c\naa b\n\tx\n"),
    ]
}

/// A word that reads a variable, in one of the ways scripts write it.
fn reference(rng: &mut Rng) -> String {
    let var = rng.pick(&["V1", "V2", "V3"]);
    match rng.below(12) {
        0 => format!("${var}"),
        1 => format!("\"${{{var}?}}\""),
        2 => format!("\"${{{var}:-d}}\""),
        3 => format!("\"x${var}y\""),
        4 => format!("\"${var}${var}\""),
        _ => format!("\"${var}\""),
    }
}

fn word(rng: &mut Rng) -> String {
    match rng.below(5) {
        0 => rng.pick(&["a", "'a b'", "\"q\"", "-n", "x\\ty", "'[x]'"]).to_string(),
        _ => reference(rng),
    }
}

/// A sed program: one or two commands, with a delimiter, pattern, replacement and flags as
/// customisations write them. `quoted`: single quotes (nothing expands), else double quotes
/// with a variable inside.
fn sed_program(rng: &mut Rng) -> String {
    let var = rng.pick(&["V1", "V2", "V3"]);
    let mut commands = Vec::new();
    for _ in 0..1 + rng.below(2) {
        if rng.chance(12) {
            commands
                .push(rng.pick(&["/^#/d", "/ui/d", "/^$/d", "/a/s/a/X/", "/^#/p", "$d", "1d", "y/a/b/"]).to_string());
            continue;
        }
        let delimiter = rng.pick(&["|", "/", "|", "#", ","]);
        let pattern = rng.pick(&[
            "POD_IP",
            "HOSTNAME",
            "a",
            "^#",
            "[^/]*$",
            "a\\+",
            "b*",
            "\\(a\\)",
            "(a)",
            "[[:space:]]*",
            "\\t",
            "\\bui",
            "VAR",
            "[|]",
            "x\\{2\\}",
            "b\\{2\\}",
            ".",
            "^",
            "$",
            "a\\|b",
            "a|b",
            "\\.",
            "[0-9][0-9]*",
            "\\w",
        ]);
        let pattern = if pattern == "VAR" { format!("${var}") } else { pattern.to_string() };
        // A value (70 KiB at times) written at every position of a line makes a line of
        // gigabytes: busybox and hardinit fail there each their own way, after long.
        let matches_empty = ["b*", "[[:space:]]*", "^", "$"].contains(&pattern.as_str());
        let replacement = match rng.below(10) {
            0..=3 if !matches_empty => format!("${{{var}}}"),
            _ => rng.pick(&["x", "\\1", "&", "[&]", "\\ y", "\\n", "<\\&>", "", "\\q", "\\é"]).to_string(),
        };
        let flags = rng.pick(&["", "g", "g", "", "g", "", "I", "G", "p", "2", "gg"]);
        commands.push(format!("s{delimiter}{pattern}{delimiter}{replacement}{delimiter}{flags}"));
    }
    let joined = commands.join(if rng.chance(20) { "\n" } else { "; " });
    format!("\"{}\"", joined.replace('\\', "\\\\").replace('"', "\\\"").replace("\\\\$", "\\$").replace('`', "\\`"))
}

fn file_operand(rng: &mut Rng) -> &'static str {
    rng.pick(&["f", "f", "g", "f g", "missing", "-", ""])
}

fn redirect(rng: &mut Rng) -> &'static str {
    if !rng.chance(25) {
        return "";
    }
    rng.pick(&[
        " > out",
        " > f",
        " > /dev/stderr",
        " > /dev/stdout",
        " 2>&1",
        " > /dev/null",
        " >> out",
        " 2>/dev/null",
    ])
}

/// One command of the grammar.
fn command(rng: &mut Rng) -> String {
    match rng.below(16) {
        0 | 1 => {
            let n = if rng.chance(20) { "-n " } else { "" };
            format!("echo {n}{} {}{}", word(rng), word(rng), redirect(rng))
        }
        2..=4 => {
            let options = rng.pick(&[
                "", "-E ", "-i ", "-Ei ", "-i -E ", "-r ", "", "-E ", "-i ", "-n ", "-i.bak ", "-e ", "-E -e ",
            ]);
            let program = sed_program(rng);
            let file = file_operand(rng);
            let after = if rng.chance(10) { " -i" } else { "" };
            let line = format!("sed {options}{program} {file}{after}{}", redirect(rng));
            if file.is_empty() || file == "-" { format!("echo {} | {line}", word(rng)) } else { line }
        }
        5 | 6 => {
            let options = rng
                .pick(&["", "-q ", "-v ", "-E ", "-qE ", "-c ", "-x ", "-i ", "-o ", "-F ", "-s ", "-w ", "-e a -e "]);
            let pattern = match rng.below(3) {
                0 => reference(rng),
                _ => rng
                    .pick(&["ui", "^#", "'a\\|b'", "POD_IP", "'[0-9]'", "'b\\{2\\}'", "'a|b'", "''", "'('", "'\\t'"])
                    .to_string(),
            };
            let file = file_operand(rng);
            let after = if rng.chance(10) { " -q" } else { "" };
            let line = format!("grep {options}{pattern} {file}{after}{}", redirect(rng));
            if file.is_empty() || file == "-" { format!("echo {} | {line}", word(rng)) } else { line }
        }
        7 => rng
            .pick(&[
                "cp f h",
                "cp -f f h",
                "cp -p f h",
                "cp -r f h",
                "cp f",
                "cp f g h",
                "cp g f > f",
                "cp g h > h",
                "cp missing h",
            ])
            .to_string(),
        8 => rng.pick(&["touch t", "touch -c t", "touch -c f", "touch -a t", "touch"]).to_string(),
        9 => format!(
            "{}{}",
            rng.pick(&["echo aGk= | base64 -d", "echo hi | base64", "base64 -w0", "echo \"$V1\" | base64"]),
            redirect(rng)
        ),
        10 | 11 => {
            let a = reference(rng);
            match rng.below(7) {
                0 => format!("[ {a} -ge 3 ]"),
                1 => format!("[ {a} -eq 5 ]"),
                2 => format!("[ {a} = x ]"),
                3 => format!("test -n {a}"),
                4 => "[ -f f ]".to_string(),
                5 => "[ -x f ]".to_string(),
                _ => format!("[ {a} -lt 10 ]"),
            }
        }
        12 => format!("X={}; echo \"[$X]\"", reference(rng)),
        13 => rng.pick(&["true", "false", ":", "sleep 0", "echo \"[$IFS]\"", "echo [$(pidof x #)]"]).to_string(),
        14 => format!("vault {}", word(rng)),
        _ => format!(
            "{}{}",
            rng.pick(&[
                "export V1; vault x",
                "export X=\"$V2\"; vault \"$X\"",
                "V2=z vault x",
                "set -x",
                ": \"${V1?}\"",
                ": \"${V1:?V1 is required}\"",
                "echo ${#V1}",
                "echo \"${V1:+set}\" ${V9-unset}",
                "exec vault x",
                "vault x 2>/dev/null",
            ]),
            redirect(rng)
        ),
    }
}

/// A statement: a command, negated, in an `if`, or joined with `&&` / `||`.
fn statement(rng: &mut Rng, depth: usize) -> String {
    match rng.below(10) {
        0 if depth < 2 => format!(
            "if {}; then {}; else {}; fi",
            statement(rng, depth + 1),
            statement(rng, depth + 1),
            statement(rng, depth + 1)
        ),
        1 => format!("! {}", command(rng)),
        2 => format!("{} && {}", command(rng), command(rng)),
        3 => format!("{} || {}", command(rng), command(rng)),
        _ => command(rng),
    }
}

fn script(rng: &mut Rng) -> String {
    let mut parts = Vec::new();
    for _ in 0..1 + rng.below(4) {
        parts.push(statement(rng, 0));
        if rng.chance(30) {
            parts.push("echo \"s=$?\"".to_string());
        }
    }
    if rng.chance(15) {
        parts.push(format!("exit {}", rng.pick(&["\"$V1\"", "3", "-0", "\"$V2\""])));
    }
    parts.push("cat_files=done".to_string());
    parts.join(if rng.chance(50) { "\n" } else { "; " })
}

struct Case {
    script: String,
    errexit: bool,
    env: Vec<(&'static str, OsString)>,
}

#[derive(Debug, PartialEq)]
struct Outcome {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    files: BTreeMap<String, Vec<u8>>,
}

use common::dash;

/// busybox's applets and the stand-ins for the server and the entrypoint.
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let standin = format!("#!{}\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\n", dash());
        common::busybox_path(
            "sh-generated",
            &["sed", "grep", "cp", "base64", "touch", "sleep", "kill", "pidof", "cat"],
            &[("vault", &standin), ("bao", &standin), ("docker-entrypoint.sh", &standin)],
        )
    })
}

fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().unwrap();
        let content = if kind.is_file() { std::fs::read(entry.path()).unwrap() } else { b"(not a file)".to_vec() };
        out.insert(name, content);
    }
    out
}

fn run(shell: &str, case: &Case) -> Outcome {
    let dir = common::Scratch::new("sh-generated");
    for (name, content) in initial_files() {
        std::fs::write(dir.path(name), content).unwrap();
    }
    let mut command = Command::new(shell);
    command
        .arg0("sh")
        .arg(if case.errexit { "-ec" } else { "-c" })
        .arg(&case.script)
        .current_dir(&dir.0)
        .env_clear()
        .env("PATH", bin_dir())
        .env("HOME", "/home/generated")
        .env("LC_ALL", "C")
        .envs(case.env.iter().map(|(k, v)| (k, v)));
    let out = common::run(command, Duration::from_secs(30));
    Outcome { status: out.status.code(), stdout: out.stdout, stderr: out.stderr, files: files_under(&dir.0) }
}

/// The outcome with the texts of the applets' error lines left out (`sed: ...` becomes `sed:`)
/// where `2>&1` put them in the output or a file: their words differ on purpose (README).
fn normalised(mut outcome: Outcome) -> Outcome {
    let cut = |bytes: &[u8]| -> Vec<u8> {
        let mut out = Vec::with_capacity(bytes.len());
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            // Where an error line begins, even after output without a newline (`printf hi; sed
            // ... 2>&1` gives `hised: ...`).
            let at = ["sed: ", "grep: ", "cp: ", "touch: ", "base64: ", "sleep: "]
                .into_iter()
                .filter_map(|a| line.windows(a.len()).position(|w| w == a.as_bytes()).map(|at| at + a.len() - 1))
                .min();
            match at {
                Some(end) => {
                    out.extend_from_slice(&line[..end]);
                    if line.ends_with(b"\n") {
                        out.push(b'\n');
                    }
                }
                None => out.extend_from_slice(line),
            }
        }
        out
    };
    outcome.stdout = cut(&outcome.stdout);
    for content in outcome.files.values_mut() {
        *content = cut(content);
    }
    outcome
}

/// How hardinit's outcome differs from dash's, when it differs as the contract allows.
fn clean_refusal(dash: &Outcome, ours: &Outcome, before: &BTreeMap<String, Vec<u8>>) -> Option<&'static str> {
    let stderr = String::from_utf8_lossy(&ours.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    if ours.status != Some(2) || !lines.last().is_some_and(|l| l.contains("refused")) {
        return None;
    }
    if lines.len() == 1 && ours.stdout.is_empty() && ours.files == *before {
        return Some("before");
    }
    // The commands before the refusal ran: the files are as they left them, which neither the
    // start nor dash's end need show; the output until then is dash's.
    dash.stdout.starts_with(&ours.stdout).then_some("at-expansion")
}

/// What a refusal was about, for the tally: its text after `refused: `, cut short.
fn refusal_reason(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().last().unwrap_or_default();
    let reason = line.split_once("refused: ").map_or(line, |(_, r)| r);
    reason.chars().take(60).collect()
}

fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() > 300 {
        format!("{}... ({} bytes)", text.chars().take(300).collect::<String>(), text.len())
    } else {
        text.into_owned()
    }
}

fn report(index: usize, case: &Case, dash: &Outcome, ours: &Outcome) -> String {
    let env: Vec<String> = case.env.iter().map(|(k, v)| format!("{k}={:?}", shown(v.as_bytes()))).collect();
    let changed: Vec<&String> =
        dash.files.keys().chain(ours.files.keys()).filter(|k| dash.files.get(*k) != ours.files.get(*k)).collect();
    format!(
        "#{index} ({}) {:?} {}\n  dash:     status {:?}, stdout {:?}, stderr {:?}\n  hardinit: status {:?}, stdout {:?}, stderr {:?}\n  files that differ: {changed:?}",
        if case.errexit { "-ec" } else { "-c" },
        case.script,
        env.join(" "),
        dash.status,
        shown(&dash.stdout),
        shown(&dash.stderr),
        ours.status,
        shown(&ours.stdout),
        shown(&ours.stderr),
    )
}

/// How one script came out: the same or refused (how, why), or the report of a difference.
type Verdict = Result<(&'static str, String), String>;

fn generate(seed: u64, count: usize) -> Vec<Case> {
    // Mixed first, so that neighbouring seeds give unrelated runs (xorshift must not start at 0).
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..count)
        .map(|_| {
            let env =
                ["V1", "V2", "V3"].into_iter().map(|k| (k, OsString::from_vec_lossless(value(&mut rng)))).collect();
            let errexit = rng.chance(30);
            Case { script: script(&mut rng), errexit, env }
        })
        .collect()
}

trait FromBytes {
    fn from_vec_lossless(bytes: Vec<u8>) -> OsString;
}

impl FromBytes for OsString {
    fn from_vec_lossless(bytes: Vec<u8>) -> OsString {
        std::os::unix::ffi::OsStringExt::from_vec(bytes)
    }
}

#[test]
fn generated_scripts_do_what_dash_does_or_are_refused_cleanly() {
    let seed = std::env::var("HARDINIT_SH_SEED").ok().map_or_else(
        || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64,
        |s| s.parse().expect("HARDINIT_SH_SEED is a number"),
    );
    let count = std::env::var("HARDINIT_SH_COUNT")
        .ok()
        .map_or(DEFAULT_COUNT, |c| c.parse().expect("HARDINIT_SH_COUNT is a number"));
    println!("sh generated: seed {seed}, count {count} (replay: HARDINIT_SH_SEED={seed} HARDINIT_SH_COUNT={count})");
    let sh = common::sh();
    bin_dir();
    let cases = generate(seed, count);
    let before: BTreeMap<String, Vec<u8>> =
        initial_files().into_iter().map(|(k, v)| (k.to_string(), v.to_vec())).collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, Verdict)>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(case) = cases.get(index) else { break };
                    let reference = normalised(run(dash(), case));
                    let ours = normalised(run(sh, case));
                    let same = reference.status == ours.status
                        && reference.stdout == ours.stdout
                        && reference.files == ours.files;
                    let verdict = if same {
                        Ok(("same", String::new()))
                    } else {
                        clean_refusal(&reference, &ours, &before)
                            .map(|kind| (kind, refusal_reason(&ours.stderr)))
                            .ok_or_else(|| report(index, case, &reference, &ours))
                    };
                    results.lock().unwrap().push((index, verdict));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(index, _)| *index);
    let mut tally: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut differences = Vec::new();
    for (_, verdict) in results {
        match verdict {
            Ok((kind, reason)) => {
                *tally.entry(kind).or_default() += 1;
                if !reason.is_empty() {
                    *reasons.entry(reason).or_default() += 1;
                }
            }
            Err(report) => differences.push(report),
        }
    }
    println!(
        "sh generated: {count} scripts, {} the same as dash, {} refused before running, {} refused at an expansion, {} differences",
        tally.get("same").unwrap_or(&0),
        tally.get("before").unwrap_or(&0),
        tally.get("at-expansion").unwrap_or(&0),
        differences.len()
    );
    let mut reasons: Vec<(usize, String)> = reasons.into_iter().map(|(r, n)| (n, r)).collect();
    reasons.sort_by(|a, b| b.cmp(a));
    for (n, reason) in reasons.iter().take(12) {
        println!("  refused {n:5}: {reason}");
    }
    assert!(
        differences.is_empty(),
        "seed {seed}: {} differences that are no clean refusal:\n{}",
        differences.len(),
        differences.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
