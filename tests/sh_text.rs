//! hardinit's sed, grep, cp, touch, base64 and `> FILE` against the references: each case runs
//! through `dash -c` with busybox's applets first in PATH, and through hardinit as `sh` (the
//! static binary), in a folder of its own set up the same way; stdout, the exit status and every
//! file left behind must agree. A difference is allowed only where hardinit refuses (status 2,
//! one line, nothing written) and the README's sh section says so.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// What a case's folder holds before the script runs.
#[derive(Clone)]
enum Setup {
    File(&'static str, Vec<u8>),
    Mode(&'static str, u32),
    Dir(&'static str),
    Link(&'static str, &'static str),
}

struct Case {
    script: String,
    stdin: Vec<u8>,
    setup: Vec<Setup>,
    /// Compare the permission bits of the files too (cp and sed -i keep them as busybox does).
    modes: bool,
    /// hardinit differs on purpose, and the README's sh section says so in these words.
    differs: Option<Difference>,
}

#[derive(Clone, Copy)]
enum Difference {
    /// Refused: status 2, one line, nothing printed, nothing written.
    Refused(&'static str),
    /// Failed where busybox goes on or prints part of a result: status 1, one line, nothing
    /// printed, nothing written.
    FailsCleanly(&'static str),
}

fn case(script: impl Into<String>) -> Case {
    Case { script: script.into(), stdin: Vec::new(), setup: vec![input_file()], modes: false, differs: None }
}

impl Case {
    fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Case {
        self.stdin = bytes.into();
        self
    }
    fn with(mut self, setup: Setup) -> Case {
        self.setup.push(setup);
        self
    }
    fn modes(mut self) -> Case {
        self.modes = true;
        self
    }
    fn refused(mut self, readme: &'static str) -> Case {
        self.differs = Some(Difference::Refused(readme));
        self
    }
    fn fails_cleanly(mut self, readme: &'static str) -> Case {
        self.differs = Some(Difference::FailsCleanly(readme));
        self
    }
}

/// The text most regex cases read: anchors, brackets, `<` `>`, repetitions, alternations.
const TEXT: &str = "a html b\n<html>\n<x>\na>b<c\n]x^y-z\nab\nabab\naaa\nabcd\nxab\nsealed: true\n  # comment\n\
// c\naddress = \"HOST_IP:8500\" HOST_IP\ntab\there\n(parens) [brackets] {braces}\na.b axb a|b a+b a\\b\n\nzone \
\"VAULT_REDUNDANCY_ZONE\"\n\"autopilot_redundancy_zone\": \"VAULT_REDUNDANCY_ZONE\"\nUPPER lower 123\nlast";

fn input_file() -> Setup {
    Setup::File("input.txt", TEXT.as_bytes().to_vec())
}

/// Patterns inside the documented subset, each run by grep (four ways) and sed.
const PATTERNS: &[&str] = &[
    "a",
    "html",
    "<html>",
    "<x>",
    "<",
    ">",
    "[<>]",
    "[<]x[>]",
    "a>b<c",
    "^a",
    "b$",
    "^$",
    "^ab$",
    "^(ab)+$",
    "^a*$",
    "a|b",
    "ab|abab",
    "^(a|ab)$",
    "(a|ab)(c|bcd)",
    "x?ab",
    "a+",
    "a{2}",
    "a{2,}",
    "a{1,2}b",
    "^a{3}$",
    "(ab){2}",
    "[]x]",
    "[^]a]",
    "[a-]",
    "[-a]",
    "[]-a]",
    "[x^]",
    "[]<>^-]",
    "[^-a]",
    "[^]<>-]+",
    "[--/]",
    "[%--]",
    "[[:alpha:]<>]+",
    "[^[:alnum:][:space:]]",
    "[\\^]",
    "\\^",
    "[^^]",
    "\\]x\\^y",
    "y-z",
    "[a-c]+",
    "[^a-z]",
    "[[:digit:]]+",
    "[[:upper:]]{3,}",
    "[[:space:]]*(#|//)",
    "^[[:space:]]*(#|//)",
    "[[:alpha:]]+:",
    "[[:punct:]]",
    "[[:blank:]]",
    "\\.",
    "a\\.b",
    "a.b",
    "a\\|b",
    "a\\+b",
    "a\\\\b",
    "\\(parens\\)",
    "\\[brackets\\]",
    "\\{braces\\}",
    "[(]",
    "[{]",
    "[.]",
    "[*]",
    "[|]",
    "[$]",
    "a$|^x",
    "^(sealed|zone): ",
    "^sealed: (true|false)",
    "HOST_IP",
    "HOST_IP:[0-9]+",
    "\"?autopilot_redundancy_zone\"?[[:space:]]*[=:][[:space:]]*\"VAULT_REDUNDANCY_ZONE\"",
    "VAULT_REDUNDANCY_ZONE",
    "t.*e",
    "(a|b)*c",
    "(x|y)",
    "(^|[^a])b",
    "b($|c)",
    "x*",
    ".",
    "^.$",
    "last",
    "z$",
    "%",
    "=",
    "&",
    "~",
    "#",
    "/",
    "@",
    ",",
    ";",
    "!",
    "\t",
    "up|UP",
    "(lo|low)(wer|er)",
];

/// Substitutions (applied to TEXT): the replacement syntax, `g`, empty matches, leftmost-longest.
const SUBSTITUTIONS: &[&str] = &[
    "s/a/X/",
    "s/a/X/g",
    "s/<html>/Y/",
    "s/<x>/Y/",
    "s/[<>]/_/g",
    "s/$/!/",
    "s/^/# /",
    "s/^$/EMPTY/",
    "s/a|ab/X/",
    "s/a|ab/X/g",
    "s/ab|a/X/g",
    "s/a?(ab)?/X/",
    "s/(a|ab)(c|bcd)(d*)/[\\1][\\2][\\3]/",
    "s/(a*)+/[\\1]/",
    "s/(a|b)*/[\\1]/",
    "s/x*/-/g",
    "s/a*/-/g",
    "s/b*/-/g",
    "s/[^a]*/-/g",
    "s/.*/[&]/",
    "s/.*/&&/",
    "s/(.)(.)/\\2\\1/",
    "s/(.)(.)/\\2\\1/g",
    "s/(a)(b)/\\2\\1\\0/g",
    "s/a/\\&/g",
    "s/a/\\\\/g",
    "s/a/\\//g",
    "s/b/\\n/",
    "s/b/\\t/",
    "s/ /_/g",
    "s/[[:space:]]+/ /g",
    "s/[[:upper:]]+/\\L/",
    "s|HOST_IP|10.0.0.7|g",
    "s|HOST_IP|10.0.0.7|",
    "s|a|x\\|y|",
    "s|a\\|b|X|g",
    "s,a\\,b,X,",
    "s#a#\\##g",
    "s/(\"?autopilot_redundancy_zone\"?[[:space:]]*[=:][[:space:]]*)\"VAULT_REDUNDANCY_ZONE\"/\\1\"zone-a\"/g",
    "s/^([^ ]*) (.*)$/\\2 \\1/",
    "s/(a|b)+$/<&>/",
    "s/a{2}/X/g",
    "s/(ab){2}/X/",
    "s/[]x]/Y/g",
    "s/[a-]/Y/g",
    "s/\\^/C/",
    "s/^a|b$/_/g",
    "s/(^|[^a])b/\\1_/g",
    "s/b($|c)/_\\1/g",
    "s/./&-/g",
    "s/last/LAST/",
    "s/z$/Z/",
    "s/(x|y)?$/E/",
];

fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    for pattern in PATTERNS {
        for flags in ["-E", "-qE", "-vE", "-E -v -q"] {
            cases.push(case(format!("grep {flags} '{pattern}' input.txt; echo status=$?")));
        }
        cases.push(case(format!("sed -E 's/{}/<&>/g' input.txt", pattern.replace('/', "\\/"))));
    }
    for script in SUBSTITUTIONS {
        if script.contains("\\L") {
            cases.push(case(format!("sed -E '{script}' input.txt")).refused("`\\` followed by a letter"));
            continue;
        }
        cases.push(case(format!("sed -E '{script}' input.txt")));
        cases.push(case(format!("sed -Ei '{script}' input.txt")).modes());
    }
    // Input shapes: no final newline, empty input, empty lines, one line, stdin through a pipe.
    for text in ["", "\n", "\n\n", "a\nb\n", "a\nb", "a", "\u{e9}t\u{e9} \u{ff}\n"] {
        let file = || Setup::File("f", text.as_bytes().to_vec());
        for script in ["s/$/!/", "s/^/#/", "s/a/X/g", "s/.*/[&]/", "s/^$/E/"] {
            cases.push(case(format!("sed -E '{script}' f")).with(file()));
            cases.push(case(format!("sed -Ei '{script}' f")).with(file()).modes());
            cases.push(case(format!("sed -E '{script}'")).stdin(text));
        }
        for pattern in ["a", "^$", "^", "x"] {
            cases.push(case(format!("grep -E '{pattern}' f; echo $?")).with(file()));
            cases.push(case(format!("grep -vE '{pattern}'; echo $?")).stdin(text));
        }
    }
    cases.push(case("sed -Ei 's/^/# /' f").with(Setup::File("f", b"a\nb\n".to_vec())));
    cases
        .push(case("sed -Ei 's/x/y/' f").with(Setup::File("f", b"a\n".to_vec())).with(Setup::Mode("f", 0o640)).modes());
    cases
        .push(case("sed -Ei 's/a/y/' f").with(Setup::File("f", b"a\n".to_vec())).with(Setup::Mode("f", 0o640)).modes());
    cases.push(case("sed -Ei 's/a/b/' missing; echo $?"));
    cases.push(case("grep -E 'a' missing; echo $?"));
    cases.push(case("grep -E 'a' d || echo failed").with(Setup::Dir("d")));
    // A line of 1.1 MB before the placeholder: the chart's raft guard must still see it.
    let mut config = format!("# {}\n", "x".repeat(1_100_000)).into_bytes();
    config.extend_from_slice(b"autopilot_redundancy_zone = \"VAULT_REDUNDANCY_ZONE\"\n");
    cases.push(
        case("grep -vE '^[[:space:]]*(#|//)' cfg | grep -qE 'VAULT_REDUNDANCY_ZONE' && echo ERROR || echo started")
            .with(Setup::File("cfg", config.clone())),
    );
    let mut long = vec![b'a'; 1_100_000];
    long.extend_from_slice(b"\nVAULT_REDUNDANCY_ZONE\n");
    cases.push(case("grep -E 'ZONE' cfg; grep -vE a cfg").with(Setup::File("cfg", long.clone())));
    cases.push(case("sed -Ei 's/a$/b/' cfg").with(Setup::File("cfg", long)));
    cases.push(case("sed -E 's/a/b/' | grep -E 'b'").stdin("a\nc\n"));
    cases.push(case("grep -E 'a' input.txt | grep -vE 'b' | sed -E 's/a/A/g'"));
    cases.push(case("grep -qE '^END' input.txt && echo found || echo none"));
    cases.push(case("grep -E -- '-z' input.txt"));
    cases.push(case("grep -q -E -v 'a' input.txt; echo $?"));
    cases.push(case("sed -i -E 's/a/b/' input.txt").modes());
    cases.push(case("sed -E -i 's/a/b/' input.txt").modes());
    cases.push(case("sed -E -- 's/a/b/' input.txt"));
    for script in ["s.a\\.b.X.g", "s*a\\*b*X*g", "s^a\\^b^X^g", "s&a&[\\&]&g", "s(a\\(b(X(g"] {
        cases.push(case(format!("sed -E '{script}' input.txt")));
    }
    cases.push(
        case("sed -E 's1a\\1b1X1g' input.txt || echo failed").refused("a letter, a digit or `[` as the delimiter"),
    );
    // busybox's sed reads `\n`, `\t`, `\r` inside brackets as the characters they name.
    for script in ["s/[^\\n]/<&>/g", "s/[\\t]/<&>/g", "s/[\\n]/X/g", "s/[a\\n]/X/g", "s/[\\\\n]/X/g", "s/[\\]n]/X/g"] {
        cases.push(case(format!("sed -E '{script}' input.txt")));
    }
    cases.push(case("sed -E 's/[[:alpha:]\\r]+/X/g'").stdin("ab\r\\r\n"));
    // A letter, a digit or `[` as the delimiter: busybox reads `\n`, `\s`, `\b` there as escapes.
    for script in ["sn\\nnXn", "snan\\nn", "ss\\ssXs", "st\\ttXtg", "sba\\bbXb", "sxa\\xbxXxg", "s[a[X[g", "s[\\[[X["] {
        cases.push(case(format!("sed -E '{script}' input.txt")).refused("a letter, a digit or `[` as the delimiter"));
    }
    // busybox takes what follows -i in its argument as a backup suffix.
    for options in ["-iE", "-Eii", "-iEi"] {
        cases.push(
            case(format!("sed {options} 's/a/b/' f"))
                .with(Setup::File("f", b"a\n".to_vec()))
                .refused("`-i` followed by anything in its argument"),
        );
    }
    // What a group inside a repeated group holds after the last repetition: glibc (busybox) and
    // musl differ.
    for script in ["s/((a)|b)+/[\\1\\2]/g", "s/(x(a)*)+/[\\2]/", "s/((a)b){2}/[\\2]/"] {
        cases.push(case(format!("sed -E '{script}' input.txt")).refused("a group inside a repeated group"));
    }
    cases.push(case("sed -E 's/((a)|b)?/[\\1\\2]/g' input.txt"));
    cases.push(case("sed -E 's/((a)|b)+/[\\1]/g' input.txt"));
    // A raw newline in the replacement: busybox and GNU stop; a value must not add lines.
    let injected = "10.0.0.1\"\nui = true\nx = \"";
    cases.push(
        case(format!("POD_IP='{injected}'\nsed -Ei \"s|POD_IP|${{POD_IP?}}|g\" cfg; echo $?"))
            .with(Setup::File("cfg", b"address = \"POD_IP:8200\"\n".to_vec())),
    );
    cases.push(case("sed -E 's/a/x\ny/' input.txt; echo $?"));
    // A backslash before a newline: busybox writes a newline (a value would add lines).
    cases.push(case("sed -E 's/a/x\\\ny/' input.txt").refused("a backslash before a newline in the replacement"));
    // A group the pattern does not have: busybox writes nothing, GNU sed fails.
    cases.push(case("sed -E 's/a/[\\1]/' input.txt").refused("a group the pattern does not have"));
    // Errors in the pattern: both fail (status and stderr aside, nothing printed, nothing written).
    cases.push(case("grep -E 'a{2' input.txt").refused("a `{` that is not a bound"));
    cases.push(case("sed -E 's/a{2/x/' input.txt; echo $?"));
    for bad in ["(a", "[a", "a{3,2}", "[[:foo:]]", "a\\", "[z-a]", "(a|b"] {
        cases.push(case(format!("grep -E '{bad}' input.txt; echo $?")));
        cases.push(case(format!("sed -E 's/{bad}/x/' input.txt; echo $?")));
    }
    base64_cases(&mut cases);
    file_cases(&mut cases);
    refusals(&mut cases);
    cases
}

fn base64_cases(cases: &mut Vec<Case>) {
    let words = "nothing is written (busybox skips a byte outside the alphabet";
    for input in ["eyJhIjogMX0=", "YQ==\n", "YWI=", "YWJj", "YW\nJj\n", "", "  YWJj  \n\n", "AAEC/w==", "++//", "YR=="]
    {
        cases.push(case("base64 -d; echo \" status=$?\"").stdin(input));
        cases.push(case("base64 -d > out; echo $?").stdin(input));
        cases.push(case("base64 -d | grep -E 'a' || echo none").stdin(input));
    }
    for input in ["Y", "YQ=", "YQ===", "Y!==", "====", "a-b_", "YQ==YQ==", "YWJjZA", "YWJj!", "YQ==\nYQ==", "=YQ"] {
        cases.push(case("base64 -d").stdin(input).fails_cleanly(words));
        cases.push(case("base64 -d > out").stdin(input).fails_cleanly(words));
    }
}

fn file_cases(cases: &mut Vec<Case>) {
    let f = || Setup::File("f", b"config\n".to_vec());
    cases.push(case("cp f g; echo $?").with(f()).modes());
    cases.push(case("cp f g; echo $?").with(f()).with(Setup::Mode("f", 0o600)).modes());
    cases.push(case("cp f g; echo $?").with(f()).with(Setup::File("g", b"old old old\n".to_vec())).modes());
    cases.push(case("cp f d; echo $?").with(f()).with(Setup::Dir("d")).modes());
    cases.push(case("cp f d/; echo $?").with(f()).with(Setup::Dir("d")).modes());
    cases.push(case("cp f missing/g; echo $?").with(f()));
    cases.push(case("cp missing g; echo $?"));
    cases.push(case("cp d g; echo $?").with(Setup::Dir("d")));
    cases.push(case("cp f f; echo $?").with(f()));
    cases.push(case("cp ./f f; echo $?").with(f()));
    cases.push(case("cp link f; echo $?").with(f()).with(Setup::Link("link", "f")));
    cases.push(case("cp link g; echo $?").with(f()).with(Setup::Link("link", "f")));
    cases.push(case("touch t; echo $?"));
    cases.push(case("touch t u; echo $?"));
    cases.push(case("touch f; echo $?").with(f()));
    cases.push(case("touch d; echo $?").with(Setup::Dir("d")));
    cases.push(case("touch missing/t; echo $?"));
    cases.push(case("touch d/t; echo $?").with(Setup::Dir("d")));
    cases.push(case("sed -E 's/a/b/' input.txt > out; echo $?"));
    cases.push(case("grep -E 'a' input.txt > out; echo $?"));
    cases.push(case("grep -E 'nothing' input.txt > out; echo $?"));
    cases.push(case("sed -E 's/a/b/' input.txt > d/out; echo $?").with(Setup::Dir("d")));
    cases.push(case("sed -E 's/a/b/' input.txt > missing/out; echo $?"));
    cases.push(case("echo hi > out; echo $?").with(Setup::File("out", b"old content\n".to_vec())));
    cases.push(case("echo hi > /dev/null; echo $?"));
    cases.push(case("sed -E 's/a/b/' input.txt > /dev/null; echo $?"));
    cases.push(case("cp f /dev/null; echo $?").with(f()));
    cases.push(case("touch /dev/null; echo $?"));
}

/// What hardinit refuses on purpose, each with the README's words for it.
fn refusals(cases: &mut Vec<Case>) {
    let f = || Setup::File("f", b"config\n".to_vec());
    let linked_dir = || vec![Setup::Dir("real"), Setup::Link("hop", "real")];
    let mut through = |script: &str| {
        let mut c = case(script).with(f()).refused("never through a symlink, in any component of the path");
        c.setup.extend(linked_dir());
        cases.push(c);
    };
    through("echo x > hop/out");
    through("cp f hop/g");
    through("cp f hop");
    through("touch hop/t");
    through("sed -E 's/a/b/' input.txt > hop/out");
    cases.push(
        case("cp f link")
            .with(f())
            .with(Setup::File("victim", b"keep\n".to_vec()))
            .with(Setup::Link("link", "victim"))
            .refused("never through a symlink, in any component of the path"),
    );
    for pattern in ["(^|$)", "^|$", "b(^|$)", "x|^$|$"] {
        cases.push(
            case(format!("sed -E 's/{pattern}/|/g' input.txt"))
                .refused("two alternatives that can both match the empty string, one with an anchor"),
        );
    }
    cases.push(case("grep -E '(a)\\1' input.txt").refused("back-references"));
    cases.push(case("sed -E 's/(a)\\1/x/' input.txt").refused("back-references"));
    for pattern in ["\\<a", "a\\>", "\\bx", "\\w+", "\\s"] {
        cases.push(
            case(format!("grep -E '{pattern}' input.txt")).refused("GNU extensions (`\\w`, `\\s`, `\\<`, `\\b`)"),
        );
    }
    for pattern in ["*a", "a**", "a+?", "a{2}*", "^*"] {
        cases
            .push(case(format!("grep -E '{pattern}' input.txt")).refused("a repetition of nothing or of a repetition"));
    }
    cases.push(
        case("cp f d")
            .with(f())
            .with(Setup::Dir("d"))
            .with(Setup::Link("d/f", "../f"))
            .refused("never through a symlink, in any component of the path"),
    );
    for pattern in ["a||b", "(|a)", "()", "a|"] {
        cases.push(case(format!("grep -E '{pattern}' input.txt")).refused("an empty alternative or group"));
    }
    cases.push(case("grep -E 'a)' input.txt").refused("an unmatched `)`"));
    cases
        .push(case("grep -E '(.{0,32}){0,32}x' input.txt").refused("more than 512 atoms once its bounds are expanded"));
    cases.push(case("sed -E 's/a/b/2' input.txt").refused("flags other than `g`"));
    cases.push(case("sed -E 's/a/\\q/' input.txt").refused("`\\` followed by a letter"));
    // Once refused, now run as busybox runs them.
    for script in [
        "touch -c t",
        "touch -c f",
        "grep -c a input.txt",
        "grep -i A input.txt",
        "grep a input.txt",
        "grep -E a input.txt input.txt",
        "sed 's/a/b/' input.txt",
        "sed -E -e 's/a/b/' input.txt",
        "sed -Ei 's/a/b/'",
        "sed -E 's/a/b/;s/c/d/' input.txt",
        "sed -n 's/a/b/p' input.txt",
    ] {
        cases.push(case(script).with(Setup::File("f", b"x\n".to_vec())));
    }
    cases.push(case("base64").stdin("a long line of configuration ".repeat(8)));
    for script in
        ["cp -r f g", "cp -p f g", "cp f g h", "grep -o a input.txt", "sed -E 'y/a/b/' input.txt", "base64 -w0"]
    {
        cases.push(
            case(script).with(Setup::File("f", b"x\n".to_vec())).refused("any other option is one line and exit 2"),
        );
    }
}

/// dash, with busybox's applets first in PATH; hardinit's sh with the same PATH (it starts
/// none of them).
fn applets() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hardinit-sh-text-applets-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for applet in ["sed", "grep", "cp", "base64", "touch", "cat"] {
            std::os::unix::fs::symlink("/bin/busybox", dir.join(applet)).unwrap();
        }
        dir
    })
}

#[derive(Debug, PartialEq)]
struct Outcome {
    stdout: String,
    status: i32,
    files: Vec<String>,
}

fn set_up(dir: &Path, setup: &[Setup]) {
    for step in setup {
        match step {
            Setup::File(name, bytes) => std::fs::write(dir.join(name), bytes).unwrap(),
            Setup::Mode(name, mode) => {
                std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(*mode)).unwrap()
            }
            Setup::Dir(name) => std::fs::create_dir(dir.join(name)).unwrap(),
            Setup::Link(name, target) => std::os::unix::fs::symlink(target, dir.join(name)).unwrap(),
        }
    }
}

/// Every entry under `dir`, links as links: kind, name, content (and mode, when asked).
fn files(dir: &Path, modes: bool) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, modes: bool, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(root).unwrap().display().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = if modes { format!(" {:o}", meta.permissions().mode() & 0o777) } else { String::new() };
            if meta.file_type().is_symlink() {
                out.push(format!("link {name} -> {}", std::fs::read_link(&path).unwrap().display()));
            } else if meta.is_dir() {
                out.push(format!("dir {name}{mode}"));
                walk(root, &path, modes, out);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let content = if bytes.len() > 300 {
                    let sum = bytes.iter().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(*b)));
                    format!("{} bytes, checksum {sum:x}", bytes.len())
                } else {
                    format!("{:?}", String::from_utf8_lossy(&bytes))
                };
                out.push(format!("file {name}{mode} {content}"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, modes, &mut out);
    out.sort();
    out
}

fn run(shell: &str, case: &Case, extra_path: Option<&Path>) -> (Outcome, String) {
    let dir = common::Scratch::new("sh-text");
    set_up(&dir.0, &case.setup);
    let mut path = applets().display().to_string();
    if let Some(extra) = extra_path {
        path = format!("{}:{path}", extra.display());
    }
    let program = if shell == "dash" { "/bin/dash".to_string() } else { common::sh().to_string() };
    let mut child = Command::new(program)
        .args(["-c", &case.script])
        .current_dir(&dir.0)
        .env_clear()
        .env("PATH", path)
        .env("LC_ALL", "C")
        .env("HOME", "/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shell}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = case.stdin.clone();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{shell} -c {:?} did not finish", case.script);
        }
    };
    let _ = writer.join();
    let outcome = Outcome {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        status: common::code(out.status),
        files: files(&dir.0, case.modes),
    };
    (outcome, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The statuses agree: exactly for 0 and 1 (grep's "none selected"), or both an error.
fn same_status(reference: i32, ours: i32) -> bool {
    reference == ours || (reference >= 1 && ours >= 2) || (reference >= 2 && ours >= 1)
}

fn readme_sh_section() -> String {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let start = readme.find("## hardinit as /bin/sh").expect("the README's sh section");
    let end = readme[start + 3..].find("\n## ").map_or(readme.len(), |e| start + 3 + e);
    readme[start..end].split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn text_and_file_tools_do_what_dash_with_busybox_does_or_refuse() {
    let cases = corpus();
    let readme = readme_sh_section();
    let mut differences = Vec::new();
    let (mut refused, mut compared) = (0, 0);
    for case in &cases {
        let (ours, stderr) = run("hardinit", case, None);
        if let Some(difference) = case.differs {
            refused += 1;
            let nothing_done = {
                let dir = common::Scratch::new("sh-text-setup");
                set_up(&dir.0, &case.setup);
                // As in sh, a `> out` is created, empty, before the command runs.
                if case.script.ends_with("> out") && matches!(difference, Difference::FailsCleanly(_)) {
                    std::fs::write(dir.0.join("out"), "").unwrap();
                }
                files(&dir.0, case.modes)
            };
            let (words, status_ok, lines_ok) = match difference {
                Difference::Refused(words) => (words, ours.status == 2, stderr.lines().count() == 1),
                Difference::FailsCleanly(words) => (words, ours.status == 1, stderr.lines().count() <= 1),
            };
            if !readme.contains(words) {
                differences.push(format!("{:?}: differs, but the README does not say {words:?}", case.script));
            }
            if !status_ok || !lines_ok || !ours.stdout.is_empty() || ours.files != nothing_done {
                differences.push(format!("{:?}: not a clean refusal: {ours:?} {stderr:?}", case.script));
            }
            continue;
        }
        compared += 1;
        let (reference, _) = run("dash", case, None);
        let mut report = Vec::new();
        if reference.stdout != ours.stdout {
            report.push(format!("stdout {:?} / {:?}", reference.stdout, ours.stdout));
        }
        if !same_status(reference.status, ours.status) {
            report.push(format!("status {} / {}", reference.status, ours.status));
        }
        if reference.files != ours.files {
            let only = |a: &[String], b: &[String]| a.iter().filter(|f| !b.contains(f)).cloned().collect::<Vec<_>>();
            report.push(format!(
                "files {:?} / {:?}",
                only(&reference.files, &ours.files),
                only(&ours.files, &reference.files)
            ));
        }
        if !report.is_empty() {
            differences.push(format!(
                "{:?} (stdin {:?}): dash+busybox / hardinit: {} {stderr:?}",
                case.script,
                String::from_utf8_lossy(&case.stdin),
                report.join("; ")
            ));
        }
    }
    println!("{} cases: {compared} compared with dash and busybox, {refused} documented refusals", cases.len());
    assert!(cases.len() >= 300, "the corpus shrank to {}", cases.len());
    assert!(
        differences.is_empty(),
        "{} of {} cases differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

/// A program's output through `2>&1` into grep: streamed, so that a line after 64 MiB is still
/// seen (it was cut there, silently, and `grep -q` said no).
#[test]
fn a_program_s_output_reaches_grep_whole_past_64_mib() {
    let bin = common::Scratch::new("sh-text-vault");
    let vault = bin.path("vault");
    std::fs::write(
        &vault,
        "#!/bin/sh\n/usr/bin/yes 'a line of the server log' | /usr/bin/head -c 70000000\necho\necho END\n",
    )
    .unwrap();
    std::fs::set_permissions(&vault, std::fs::Permissions::from_mode(0o755)).unwrap();
    let case = case("vault 2>&1 | grep -qE '^END' && echo found || echo missing");
    let (reference, _) = run("dash", &case, Some(&bin.0));
    let (ours, stderr) = run("hardinit", &case, Some(&bin.0));
    assert_eq!(reference.stdout, "found\n");
    assert_eq!(ours.stdout, "found\n", "{stderr}");
}

/// `sed -Ei` with 64 `&` on a 512 KB file: 32 MB of output, memory of one line (busybox's `time`
/// measures the peak: it forks from a process of 1 MB, not from this test).
#[test]
fn sed_in_place_holds_a_line_in_memory_not_the_file() {
    let dir = common::Scratch::new("sh-text-memory");
    let line = format!("{}\n", "a".repeat(99));
    std::fs::write(dir.path("ours"), line.repeat(5_000)).unwrap();
    std::fs::write(dir.path("busybox"), line.repeat(5_000)).unwrap();
    let script = format!("s/a/{}/g", "&".repeat(64));
    let peak = |args: &[&str]| {
        let out =
            Command::new("/bin/busybox").args(["time", "-f", "%M"]).args(args).current_dir(&dir.0).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        stderr.lines().last().and_then(|l| l.trim().parse::<u64>().ok()).expect("busybox time's %M")
    };
    let ours = peak(&[common::sh(), "-c", &format!("sed -Ei '{script}' ours")]);
    let busybox = peak(&["/bin/busybox", "sed", "-Ei", &script, "busybox"]);
    println!("peak resident memory: hardinit {ours} KB, busybox {busybox} KB");
    assert!(ours < 16 << 10, "hardinit's sed peaked at {ours} KB for 32 MB of output");
    assert!(std::fs::read(dir.path("ours")).unwrap() == std::fs::read(dir.path("busybox")).unwrap());
}

/// A pattern refused or invalid is one short line, whatever its length: the offset, never the
/// pattern (a 60 KB pattern was quoted whole).
#[test]
fn a_regex_error_is_one_short_line() {
    for script in [
        format!("grep -E '{}[z-a]' input.txt", "a".repeat(60_000)),
        format!("grep -E '{}[z-a]' input.txt", "a".repeat(3_000)),
        format!("sed -E 's/{}(/x/' input.txt", "a".repeat(3_000)),
    ] {
        let (ours, stderr) = run("hardinit", &case(script.as_str()), None);
        assert_eq!(ours.status, 2, "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.len() < 320, "{} bytes: {}", stderr.len(), &stderr[..320]);
    }
}
