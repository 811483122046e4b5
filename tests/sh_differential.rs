//! hardinit's sh against dash, the reference: every script of the corpus runs through `dash -c`
//! (with busybox's applets first in PATH, as an image with a shell would have them) and through
//! the static hardinit invoked as `sh`, each in a fresh folder, and the two must agree on the
//! standard output, the exit status and the files left behind. `vault`, `bao` and
//! `docker-entrypoint.sh` are stand-ins that print their arguments one per line as `[arg]`, so
//! that the splitting of every word is visible.
//!
//! A difference is allowed in one case only: hardinit refused (status 2, one line on stderr,
//! nothing printed, no file touched), the case is listed in [`DOCUMENTED`], and the README
//! says so in the words listed there. Anything else fails the test.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// How a documented difference shows.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Refused when the script is read: status 2, one line, nothing run.
    Before,
    /// Refused at the word that sh would have replaced by file names (pathname expansion):
    /// status 2, the refusal the last line, the output until then the same as dash's.
    AtPattern,
    /// dash itself dies of a signal; hardinit ends with status 2 and one line instead.
    DashCrashes,
    /// An absolute path to the server or a built-in that the image does not have (the
    /// injector's `/bin/sleep`, `/bin/vault`) stands for it in hardinit; dash finds no file.
    StandsFor,
}

/// Every case where hardinit differs from dash on purpose: (case name, how, words of the
/// README that document it).
const DOCUMENTED: &[(&str, Kind, &str)] = &[
    ("tilde-in-assignment", Kind::Before, "`~` in an assignment"),
    ("tilde-after-colon", Kind::Before, "`~` in an assignment"),
    ("tilde-word", Kind::Before, "`~` at the start of a word"),
    ("ifs-assignment", Kind::Before, "an assignment to `IFS`"),
    ("entrypoint-other-program", Kind::Before, "the entrypoint only with the server"),
    ("entrypoint-expanded-argument", Kind::Before, "the entrypoint only with the server"),
    ("syntax-error-after-output", Kind::Before, "a syntax error anywhere"),
    ("arith-syntax-error-after-output", Kind::Before, "an arithmetic syntax error"),
    ("arith-dollar-inside", Kind::Before, "`$` inside `$((...))`"),
    ("arith-comparison", Kind::Before, "comparisons, bit operators"),
    ("arith-min-div-minus-one", Kind::DashCrashes, "the smallest integer by -1"),
    ("test-access", Kind::Before, "`-r`, `-w`, `-x`, `-t`, `-O`, `-G`"),
    ("redirect-alone", Kind::Before, "a redirection without a command"),
    ("program-not-allowed", Kind::Before, "Any other program is refused"),
    ("pattern-matches-file", Kind::AtPattern, "where it would match a file"),
    ("pattern-from-variable-matches-file", Kind::AtPattern, "where it would match a file"),
    ("ipv6-matches-file", Kind::AtPattern, "where it would match a file"),
    ("program-absolute-missing", Kind::StandsFor, "that the image does not have stands for"),
    ("item10-ifs", Kind::Before, "an assignment to `IFS`"),
    ("item4-entrypoint-id", Kind::Before, "the entrypoint only with the server"),
    ("continuation-after-dollar", Kind::Before, "a line continuation right after `$` or inside a name"),
    ("continuation-after-dollar-quoted", Kind::Before, "a line continuation right after `$` or inside a name"),
    ("continuation-inside-name", Kind::Before, "a line continuation right after `$` or inside a name"),
    ("length-of-status", Kind::Before, "`${#?}` too: dash reads it as the length of `$?`"),
];

/// One script and what it starts with.
#[derive(Clone, Default)]
struct Case {
    name: String,
    script: String,
    errexit: bool,
    /// `$0` and the positional parameters.
    args: Vec<OsString>,
    env: Vec<(String, OsString)>,
    /// Files in the case's folder before it runs.
    files: Vec<(String, Vec<u8>)>,
}

fn case(name: &str, script: &str) -> Case {
    Case { name: name.into(), script: script.into(), ..Case::default() }
}

impl Case {
    fn env(mut self, name: &str, value: impl Into<OsString>) -> Case {
        self.env.push((name.into(), value.into()));
        self
    }
    fn file(mut self, name: &str, content: &[u8]) -> Case {
        self.files.push((name.into(), content.to_vec()));
        self
    }
    fn errexit(mut self) -> Case {
        self.errexit = true;
        self
    }
    fn args(mut self, args: &[&str]) -> Case {
        self.args = args.iter().map(OsString::from).collect();
        self
    }
}

#[derive(Debug, PartialEq, Clone)]
struct Outcome {
    /// None: killed by a signal.
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    files: BTreeMap<String, Vec<u8>>,
}

use common::dash;

/// A folder with busybox's applets and the stand-ins: the PATH of both shells.
fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The stand-ins exit with $STANDIN_STATUS, so that a failing server can be a case too.
        let standin =
            format!("#!{}\nfor a in \"$@\"; do printf '[%s]\\n' \"$a\"; done\nexit ${{STANDIN_STATUS:-0}}\n", dash());
        common::busybox_path(
            "sh-differential",
            &["sed", "grep", "cp", "base64", "touch", "sleep", "kill", "pidof"],
            &[("vault", &standin), ("bao", &standin), ("docker-entrypoint.sh", &standin)],
        )
    })
}

/// Every file under `dir`, by relative name: contents, or `-> target` for a link.
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(at) = pending.pop() {
        for entry in std::fs::read_dir(&at).unwrap().flatten() {
            let path = entry.path();
            let name = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            let kind = entry.file_type().unwrap();
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(name, [b"-> ", target.as_os_str().as_bytes()].concat());
            } else if kind.is_dir() {
                out.insert(format!("{name}/"), Vec::new());
                pending.push(path);
            } else {
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn run(shell: &str, case: &Case) -> Outcome {
    let dir = common::Scratch::new("sh-differential");
    for (name, content) in &case.files {
        let path = dir.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    let mut command = Command::new(shell);
    // kill is busybox's: the charts' preStop hook (`kill -SIGTERM PID`) is written for busybox's
    // shell, and dash's own kill refuses `-SIGTERM`. A function takes precedence over dash's
    // built-in.
    let script = if shell == dash() {
        format!("kill() {{ {}/kill \"$@\"; }}\n{}", bin_dir().display(), case.script)
    } else {
        case.script.clone()
    };
    command
        .arg0("sh")
        .arg(if case.errexit { "-ec" } else { "-c" })
        .arg(&script)
        .args(&case.args)
        .current_dir(&dir.0)
        .env_clear()
        .env("PATH", bin_dir())
        .env("HOME", "/home/differential")
        .env("LC_ALL", "C")
        .envs(case.env.iter().map(|(k, v)| (k, v)));
    let out = common::run(command, Duration::from_secs(30));
    Outcome { status: out.status.code(), stdout: out.stdout, stderr: out.stderr, files: files_under(&dir.0) }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Values that a deployment controls (pod IPs, hostnames, zones, tokens) and that a careless
/// shell would split, glob, read as options or as operators.
fn hostile_values() -> Vec<(&'static str, OsString)> {
    let mut values: Vec<(&'static str, OsString)> = [
        ("empty", ""),
        ("plain", "vault-0"),
        ("space", "a b"),
        ("spaces-around", "  a  b  "),
        ("tab", "a\tb"),
        ("newline", "10.0.0.1\"\nui = true\nx = \""),
        ("trailing-newline", "a\n"),
        ("single-quote", "it's"),
        ("double-quote", "say \"hi\""),
        ("backslash", "a\\b"),
        ("backslash-n", "a\\nb"),
        ("backslash-c", "a\\cb"),
        ("dash-e", "-e"),
        ("dash-n", "-n"),
        ("dash-dash", "--"),
        ("bang", "!"),
        ("equals", "="),
        ("paren", "("),
        ("dash-a", "-a"),
        ("dollar", "$HOME"),
        ("backtick", "`id`"),
        ("semicolon", "a; id"),
        ("ipv6-any", "[::]:8200"),
        ("ipv6-url", "https://[fd00::1]:8200"),
        ("ipv4", "10.0.0.1"),
        ("star", "*"),
        ("question", "?"),
        ("bracket", "[a]"),
        ("tilde", "~/x"),
        ("octal", "010"),
        ("bad-octal", "08"),
        ("hex", "0x10"),
        ("negative", "-3"),
        ("padded-number", " 7 "),
        ("huge", "99999999999999999999"),
        ("pipe", "a|b"),
        ("ampersand", "a&b"),
    ]
    .into_iter()
    .map(|(name, value)| (name, OsString::from(value)))
    .collect();
    values.push(("not-utf8", OsString::from_vec(b"caf\xe9 \xff".to_vec())));
    values.push(("not-utf8-alone", OsString::from_vec(b"\xff\xfe".to_vec())));
    values
}

/// Scripts that read `$X`, the hostile value, in every way the subset allows.
const TEMPLATES: &[(&str, &str)] = &[
    ("argv-unquoted", "vault $X"),
    ("argv-quoted", "vault \"$X\""),
    ("argv-braced-required", "vault \"${X?}\""),
    ("argv-concatenated", "vault a$X\"b\"'c'"),
    ("argv-empty-quotes-after", "vault $X\"\" end"),
    ("echo-unquoted", "echo $X"),
    ("echo-quoted", "echo \"$X\""),
    ("echo-n", "echo -n \"$X\"; echo"),
    ("test-equal", "[ \"$X\" = y ]; echo $?"),
    ("test-equal-self", "[ \"$X\" = \"$X\" ]; echo $?"),
    ("test-not-equal-bang", "[ \"$X\" != ! ]; echo $?"),
    ("test-n", "[ -n \"$X\" ]; echo $?"),
    ("test-z", "test -z \"$X\"; echo $?"),
    ("test-alone", "[ \"$X\" ]; echo $?"),
    ("test-bang", "[ ! \"$X\" ]; echo $?"),
    ("test-number", "[ \"$X\" -ge 3 ]; echo $?"),
    ("assign-copy", "Y=$X; vault \"$Y\" $Y"),
    ("assign-concatenated", "Y=\"<$X>\"; echo \"$Y\""),
    ("arith", "echo $((X + 1))"),
    ("errexit-test", "[ -n \"$X\" ] && echo set; echo after"),
    ("redirect-content", "echo \"$X\" > out; echo $?"),
    ("pipeline-grep", "echo \"$X\" | grep -qE '^a'; echo $?"),
    ("positional", "vault \"$1\" $1"),
];

fn generated() -> Vec<Case> {
    let mut cases = Vec::new();
    for (value_name, value) in hostile_values() {
        for (template_name, script) in TEMPLATES {
            let mut c = case(&format!("{template_name}/{value_name}"), script).env("X", value.clone());
            c.args = vec![OsString::from("name"), value.clone()];
            cases.push(c);
        }
    }
    cases
}

/// The corpus written out: quoting, splitting, `-e`, `$?`, test, arithmetic, every built-in and
/// its options, assignments, redirections, lists and pipelines, and each defect of issue 26.
fn written() -> Vec<Case> {
    let mut cases = vec![
        // Quoting and splitting.
        case("quotes-single", "vault 'a b' 'c\"d' ''"),
        case("quotes-double", "vault \"a b\" \"c'd\" \"\" \"\\$x\" \"\\\\\" \"\\q\""),
        case("quotes-concatenated", "vault a'b'\"c\"d"),
        case("backslash-outside", "vault a\\ b \\' \\\" \\\\"),
        case("continuation", "vault a\\\nb"),
        case("continuation-after-dollar", "echo $\\\nX").env("X", "x"),
        case("continuation-after-dollar-quoted", "echo \"$\\\n{X}\"").env("X", "x"),
        case("continuation-inside-name", "echo $X\\\nY").env("X", "x").env("XY", "xy"),
        case("continuation-after-name", "echo $X\\\n.$1\\\n2").env("X", "x").args(&["n", "one"]),
        case("comment", "vault a # b c\n# whole line\nvault d#e"),
        case("lone-dollar", "vault $ a$ \"$\""),
        case("empty-unquoted-vanishes", "E=; vault $E x $E"),
        case("empty-quoted-stays", "E=; vault \"$E\" x ''"),
        case("item9-empty-then-quotes", "V=''; vault $V\"\" x").env("V", ""),
        case("item9-trailing-blank-then-quotes", "V='a '; vault $V\"\""),
        case("split-leading-blanks", "V='  a  b  '; vault $V"),
        case("split-tabs-newlines", "V='a\tb\nc'; vault $V"),
        case("split-joined", "V='a b'; vault x${V}y"),
        case("no-split-quoted", "V='a b'; vault \"x${V}y\""),
        case("no-split-assignment", "V='a b'; W=$V; vault \"$W\""),
        case("positional-count", "echo $# $0 $1 $2").args(&["name", "a b", "c"]),
        case("positional-none", "echo $# $0"),
        case("positional-unset-digit", "echo \"[$3]\"").args(&["name", "a"]),
        case("braced-name-then-text", "V=a; echo ${V}b $Vb."),
        case("special-status", "false; echo $?; true; echo $?"),
        // -e.
        case("e-stops", "echo a; false; echo b").errexit(),
        case("e-condition", "if false; then echo x; fi; echo after").errexit(),
        case("e-and-left", "false && echo x; echo after").errexit(),
        case("e-or-right", "false || false; echo after").errexit(),
        case("e-negated", "! true; echo after").errexit(),
        case("e-while-condition", "while false; do echo x; done; echo after").errexit(),
        case("e-until", "n=0; until [ $n -ge 2 ]; do n=$((n+1)); done; echo $n").errexit(),
        case("e-last-of-and", "true && false; echo after").errexit(),
        case("e-pipeline", "echo a | grep -qE b; echo after").errexit(),
        case("e-compound-status", "if true; then false; fi; echo after").errexit(),
        case("e-option-after-c", "echo $0; false; echo after").args(&["-e", "name"]),
        case("item20-c-then-e", "echo $0 $1; false; echo after"),
        // Status.
        case("status-exit-n", "exit 7"),
        case("status-exit-last", "false; exit"),
        case("status-exit-256", "exit 256"),
        case("status-exit-padded", "exit ' 3'"),
        case("status-exit-plus", "exit +4"),
        case("status-exit-bad", "echo a; exit x; echo b"),
        case("status-exit-negative", "exit -1"),
        case("status-exit-extra", "exit 3 4"),
        case("status-negation", "! false; echo $?; ! true; echo $?"),
        case("status-and-or", "false && true || echo $?"),
        case("status-not-found", "PATH=/nonexistent; vault; echo $?"),
        case("item20-path-nonexistent", "PATH=/nonexistent; vault"),
        case("status-program", "vault status; echo $?").env("STANDIN_STATUS", "2"),
        case("status-program-last", "vault status").env("STANDIN_STATUS", "3"),
        case("status-pipeline-last", "vault | grep -qE .; echo $?").env("STANDIN_STATUS", "5"),
        case("status-break", "while true; do break; done; echo $?"),
        // test and [.
        case("item7-bang-equals-x", "[ ! = x ]; echo $?"),
        case("item7-bang-equals-bang", "[ ! = ! ]; echo $?"),
        case("item7-bang-data", "x='!'; [ \"$x\" = y ]; echo $?"),
        case("item7-bang-data-errexit", "x='!'; [ \"$x\" = y ] || echo no; echo after").errexit(),
        case("test-missing-bracket", "[ a = a; echo $?"),
        case("test-and", "[ a -a b ]; echo $?; [ a -a '' ]; echo $?"),
        case("test-or", "[ '' -o b ]; echo $?; [ '' -o '' ]; echo $?"),
        case("test-paren", "[ '(' a ')' ]; echo $?; [ '(' '' ')' ]; echo $?"),
        case("test-long", "[ a = a -a b = b -o c = d ]; echo $?"),
        case("test-long-negated", "[ ! a = a -o ! b ]; echo $?"),
        case("test-numbers", "[ 1 -lt 2 ]; echo $?; [ 2 -le 2 ]; echo $?; [ 3 -gt 4 ]; echo $?; [ 5 -ne 5 ]; echo $?; [ -1 -eq -1 ]; echo $?"),
        case("test-number-octal-is-decimal", "[ 010 -eq 10 ]; echo $?"),
        case("test-number-bad", "[ x -eq 1 ]; echo $?"),
        case("test-number-empty", "[ '' -eq 0 ]; echo $?"),
        case("test-strings-order", "[ a '<' b ]; echo $?; [ b '>' a ]; echo $?"),
        case("test-files", "[ -e f ]; echo $?; [ -f f ]; echo $?; [ -d d ]; echo $?; [ -s f ]; echo $?; [ -s e ]; echo $?; [ -e none ]; echo $?")
            .file("f", b"x")
            .file("e", b"")
            .file("d/x", b""),
        case("test-links", "[ -h f ]; echo $?; [ -L none ]; echo $?; [ -p f ]; echo $?; [ -S f ]; echo $?; [ -b f ]; echo $?; [ -c /dev/null ]; echo $?").file("f", b"x"),
        case("test-modes", "[ -u f ]; echo $?; [ -g f ]; echo $?; [ -k f ]; echo $?").file("f", b"x"),
        case("test-ef", "[ f -ef f ]; echo $?; [ f -ef g ]; echo $?; [ f -nt none ]; echo $?; [ none -ot f ]; echo $?").file("f", b"x").file("g", b"y"),
        case("test-unknown-unary", "[ -q x ]; echo $?"),
        case("test-too-many", "[ a b c ]; echo $?"),
        case("test-empty", "[ ]; echo $?; test; echo $?"),
        case("test-one-dash", "[ -n ]; echo $?; [ -z ]; echo $?; [ = ]; echo $?"),
        case("test-access", "[ -r f ]; echo $?").file("f", b"x"),
        // Arithmetic.
        case("item8-octal-variable", "x=010; echo $((x))"),
        case("item8-bad-octal-variable", "echo a; x=08; echo $((x)); echo b"),
        case("item8-octal-literal", "echo $((010)) $((0x1f)) $((0X10))"),
        case("arith-basic", "n=3; echo $((n+1)) $((n*2)) $((7/2)) $((7%3)) $((-n)) $((+n)) $((2+3*4)) $(((2+3)*4))"),
        case("arith-signs", "echo $((1++1)) $((1--1)) $((- -1)) $((-+1))"),
        case("arith-unset", "echo $((unset_name + 1))"),
        case("arith-variable-padded", "x=' 12 '; echo $((x))"),
        case("arith-variable-expression", "echo a; x='1+2'; echo $((x)); echo b"),
        case("arith-wraps", "echo $((9223372036854775807 + 1)) $((-9223372036854775807 - 2))"),
        case("arith-literal-saturates", "echo $((99999999999999999999))"),
        case("arith-division-by-zero", "echo a; echo $((1/0)); echo b"),
        case("arith-modulo-by-zero", "echo a; n=0; echo $((1%n)); echo b"),
        case("arith-in-loop", "n=0; while [ $n -lt 5 ]; do n=$((n+1)); done; echo $n"),
        case("arith-syntax-error-after-output", "echo a\necho $((1+))"),
        case("arith-dollar-inside", "n=1; echo $(($n+1))"),
        case("arith-comparison", "echo $((1<2))"),
        case("arith-power", "echo $((2**3))"),
        case("arith-min-div-minus-one", "x=-9223372036854775807; echo $(( (x-1) / -1 ))"),
        case("item15-many-terms", &format!("echo $(({}))", vec!["1"; 65_000].join("+"))),
        case("arith-deep-parentheses", &format!("echo $(({}1{}))", "(".repeat(60), ")".repeat(60))),
        // echo.
        case("echo-plain", "echo a b  c"),
        case("echo-no-args", "echo"),
        case("echo-n", "echo -n a; echo b"),
        case("echo-n-twice", "echo -n -n a; echo"),
        case("echo-e-is-text", "echo -e a; echo -E b; echo -- c; echo -nx d"),
        case("item20-e-from-variable", "X=-e; echo $X"),
        case("echo-escapes", "echo 'a\\nb' 'c\\td' '\\\\' '\\q' 'x\\'"),
        case("echo-octal", "echo '\\0101' '\\101' '\\08' '\\1234' '\\8'"),
        case("echo-stop", "echo 'a\\cb' c; echo next"),
        // Other built-ins.
        case("true-false-colon", "true; echo $?; false; echo $?; :; echo $?; : ignored args; echo $?"),
        case("sleep", "sleep 0; echo $?; sleep 0.01; echo $?"),
        case("sleep-busybox-forms", "sleep 0s 0m .01 0.; echo $?; sleep 0h 0d; echo $?"),
        case("sleep-bad", "sleep 1x; echo $?; sleep -1; echo $?; sleep 1e3; echo $?; sleep; echo $?"),
        case("pidof-no-name", "pidof; echo $?; pidof -s vault; echo $?; pidof -- no-such-program-here; echo $?"),
        case("kill-usage", "kill; echo $?; kill -SIGTERM; echo $?; kill -BOGUS 1; echo $?; kill abc; echo $?"),
        case("kill-lowercase", "kill -term 999999999; echo $?; kill -s SIGTERM 999999999; echo $?; kill -- 999999999; echo $?"),
        case("redirect-target-pattern", "echo x > a*").file("ab", b""),
        case("redirect-exit", "exit 3 > f"),
        case("pidof-none", "pidof no-such-program-here; echo $?"),
        case("item12-pidof-status-in-assignment", "X=$(pidof no-such-program-here); echo $?"),
        case("item12-pidof-errexit", "X=$(pidof no-such-program-here); echo after").errexit(),
        case("pidof-empty-field", "vault $(pidof no-such-program-here) x"),
        case("pidof-echo-status", "echo $(pidof no-such-program-here); echo $?"),
        case("kill-nothing", "kill -0 999999999; echo $?"),
        case("kill-pid-with-sign", "kill -0 +1; echo $?; kill -0 ' 1'; echo $?; kill -0 '  1'; echo $?; kill -0 '1 '; echo $?"),
        case("pidof-empty-name", "pidof ''; echo $?; vault $(pidof '') x"),
        case("base64-decode", "echo aGVsbG8K | base64 -d"),
        case("base64-to-file", "echo aGVsbG8K | base64 -d > out; echo $?"),
        case("touch", "touch a b; echo $?"),
        case("cp", "cp src dst; echo $?").file("src", b"config\n"),
        case("grep-q", "echo 'sealed: true' | grep -qE '^sealed: (true|false)'; echo $?"),
        case("grep-v", "echo a | grep -vE b; echo $?"),
        case("sed-copy", "sed -E 's|a|b|g' f").file("f", b"aaa\n"),
        case("sed-in-place", "sed -Ei 's|HOST|10.0.0.1|g' f; echo $?").file("f", b"address = \"HOST:8200\"\n"),
        // Assignments.
        case("assign-several", "A=1 B=2; echo $A $B"),
        case("assign-quoted", "A='x y' B=\"$A z\"; vault \"$B\""),
        case("assign-exported-to-program", "X=changed; vault \"$X\"").env("X", "original"),
        case("item10-ifs", "IFS=:; V=a:b; vault $V"),
        case("ifs-assignment", "IFS=:"),
        case("ifs-from-environment-ignored", "V=a:b; vault $V").env("IFS", ":"),
        case("tilde-in-assignment", "X=~/a; echo $X"),
        case("tilde-after-colon", "X=a:~/b; echo $X"),
        case("tilde-word", "echo ~"),
        case("tilde-inside-word", "echo a~b a=~/c"),
        case("tilde-quoted", "X=\"~/a\"; echo $X '~'"),
        // Redirections.
        case("redirect-stderr", "echo out; echo err >&2; echo both 1>&2"),
        case("redirect-to-file", "echo a > f; echo $?"),
        case("redirect-truncates", "echo new > f").file("f", b"old old old\n"),
        case("item20-two-files", "echo a > f > g"),
        case("redirect-read-own-target", "grep -E a f > f; echo $?").file("f", b"a\n"),
        case("redirect-failing-builtin", "echo a | grep -E b > out; echo $?"),
        case("redirect-bad-directory", "echo a > none/f; echo $?"),
        case("redirect-bad-directory-colon", ": > none/f; echo after"),
        case("redirect-2-to-1-pipeline", "vault x 2>&1 | grep -E x"),
        case("redirect-alone", "echo a\n> f"),
        // Lists and pipelines.
        case("list-semicolons", "echo a; echo b\necho c;"),
        case("item19-lone-semicolon", ";"),
        case("item19-double-semicolon", "echo a; ;"),
        case("item19-empty-else", "if true; then true; else fi"),
        case("item19-empty-then", "if true; then fi"),
        case("item19-empty-loop", "while true; do done"),
        case("syntax-error-after-output", "echo a\nif true; then fi"),
        case("syntax-double-bang", "! ! true"),
        case("and-or-chain", "true && echo a || echo b; false && echo c || echo d"),
        case("and-newline", "true &&\necho a"),
        case("pipe-newline", "echo a |\ngrep -E a"),
        case("pipeline-builtins", "echo 'a\nb\nc' | grep -E b"),
        case("pipeline-program-first", "vault a b | grep -E b"),
        case("pipeline-negated", "! echo a | grep -qE b; echo $?"),
        case("item13-required-in-stage", "echo ${X?} | grep -qE a; echo $?"),
        case("item13-required-in-last-stage", "echo a | grep -E ${X?}; echo $?"),
        case("required-unset", "echo a; echo ${X?}; echo b"),
        case("required-set-empty", "X=; echo \"[${X?}]\""),
        case("length-of-status", "echo ${#?}").args(&["name", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]),
        case("count-braced", "echo ${#} ${#}x \"${#}\" ${??} ${0?}").args(&["name", "a"]),
        case("if-elif-else", "if false; then echo a; elif true; then echo b; else echo c; fi"),
        case("if-else", "if false; then echo a; else echo c; fi"),
        case("while-loop", "n=0; while [ $n -lt 3 ]; do echo $n; n=$((n+1)); done"),
        case("until-loop-break", "n=0; until false; do n=$((n+1)); [ $n -ge 3 ] && break; done; echo $n"),
        case("nested-loops", "i=0; while [ $i -lt 2 ]; do j=0; while [ $j -lt 2 ]; do echo $i$j; j=$((j+1)); done; i=$((i+1)); done"),
        // Programs.
        case("program-args", "vault read -format=json secret/x"),
        case("program-absolute-missing", "/bin/vault status").env("UNUSED", "1"),
        case("program-not-allowed", "echo a\nid"),
        case("entrypoint-server", "docker-entrypoint.sh vault server -config=/tmp/x.hcl"),
        case("entrypoint-subcommand", "docker-entrypoint.sh server -dev"),
        case("entrypoint-flag", "docker-entrypoint.sh -version"),
        case("entrypoint-other-program", "echo a\ndocker-entrypoint.sh /usr/bin/id"),
        case("entrypoint-expanded-argument", "P=vault; docker-entrypoint.sh $P server"),
        case("item4-entrypoint-id", "docker-entrypoint.sh id -u"),
        // Patterns: never globbed; a pattern that matches nothing is the word itself.
        case("item21-ipv6-url", "vault token revoke -address=https://[fd00::1]:8200 -self"),
        case("item21-ipv6-any", "vault server -dev-listen-address=[::]:8200"),
        case("item21-ipv6-variable", "vault -address=$A").env("A", "https://[fd00::1]:8200"),
        case("pattern-no-match", "vault nomatch* ?? x[yz]"),
        case("pattern-quoted", "vault '*' \"?\" \\[a]").file("a", b""),
        case("pattern-bracket-unclosed", "vault [ a[ ]"),
        case("pattern-hidden-not-matched", "vault *").file(".hidden", b""),
        case("pattern-matches-file", "echo a\nvault *").file("f", b""),
        case("pattern-from-variable-matches-file", "vault $P").env("P", "[f]").file("f", b""),
        case("ipv6-matches-file", "vault [::]:8200").file("::8200", b""),
        case("pattern-directory-missing", "vault none/*"),
    ];
    for (name, script) in fixture_scripts() {
        cases.push(case(&format!("fixture/{name}"), &script));
    }
    cases
}

/// The charts' and the injector's scripts, with their paths made relative (each case runs in a
/// folder of its own) and their sleeps shortened; run with hostile values in their variables.
fn fixture_scripts() -> Vec<(String, String)> {
    let root = common::repo().join("tests/fixtures");
    let mut scripts = Vec::new();
    let mut jsons: Vec<PathBuf> = Vec::new();
    for chart in ["vault-helm", "openbao-helm"] {
        for mode in std::fs::read_dir(root.join("charts").join(chart)).unwrap().flatten() {
            let path = mode.path();
            if path.is_dir() {
                for name in ["args.json", "prestop.json", "readiness.json"] {
                    jsons.push(path.join(name));
                }
            } else {
                jsons.push(path);
            }
        }
    }
    jsons.extend(std::fs::read_dir(root.join("injector")).unwrap().flatten().map(|e| e.path()));
    jsons.sort();
    for json in jsons {
        if json.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let Ok(body) = std::fs::read_to_string(&json) else { continue };
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        let mut strings = Vec::new();
        collect_scripts(&value, &mut strings);
        for (index, script) in strings.into_iter().enumerate() {
            let script = script
                .replace("/vault/config/extraconfig-from-values.hcl", "extraconfig-from-values.hcl")
                .replace("/openbao/config/extraconfig-from-values.hcl", "extraconfig-from-values.hcl")
                .replace("/tmp/storageconfig.hcl", "storageconfig.hcl")
                .replace("/usr/local/bin/docker-entrypoint.sh", "docker-entrypoint.sh")
                .replace("/home/vault/", "")
                .replace("/bin/sleep 5", "sleep 0")
                .replace("sleep 5", "sleep 0")
                .replace("/bin/vault", "vault")
                // Never signal a server of this machine: the preStop hook's pidof finds none here.
                .replace("$(pidof vault)", "$(pidof no-such-server-here)")
                .replace("$(pidof bao)", "$(pidof no-such-server-here)");
            let name = json.strip_prefix(&root).unwrap().to_string_lossy().replace('/', "-");
            scripts.push((format!("{name}-{index}"), script));
        }
    }
    scripts
}

/// The scripts in a fixture: a chart's args.json (one string), the string after `-c`/`-ec` in a
/// command, and a container's `args` when its command ends with `-c`/`-ec`.
fn collect_scripts(value: &serde_json::Value, out: &mut Vec<String>) {
    if let Some([serde_json::Value::String(only)]) = value.as_array().map(Vec::as_slice) {
        out.push(only.clone());
        return;
    }
    scripts_inside(value, out);
}

fn scripts_inside(value: &serde_json::Value, out: &mut Vec<String>) {
    let is_c = |v: &serde_json::Value| matches!(v.as_str(), Some("-c" | "-ec"));
    match value {
        serde_json::Value::Array(items) => {
            if let Some(at) = items.iter().position(is_c) {
                out.extend(items.get(at + 1).and_then(|v| v.as_str()).map(str::to_string));
            }
            items.iter().for_each(|v| scripts_inside(v, out));
        }
        serde_json::Value::Object(map) => {
            let command_ends_with_c =
                map.get("command").and_then(|c| c.as_array()).is_some_and(|c| c.last().is_some_and(is_c));
            if command_ends_with_c {
                out.extend(
                    map.get("args")
                        .and_then(|a| a.as_array())
                        .and_then(|a| a.first())
                        .and_then(|a| a.as_str())
                        .map(str::to_string),
                );
            }
            map.values().for_each(|v| scripts_inside(v, out));
        }
        _ => {}
    }
}

/// Values that reach sed as part of a replacement and that hardinit's sed does not take as
/// busybox's does, on purpose and said in its README row (tests/sh_text.rs compares them): a
/// backslash before a letter is refused while it runs (status 2, where busybox drops the
/// backslash), and sed takes its arguments as text (bytes that are not UTF-8 are an error). Left
/// out of the charts' sed scripts here; every other script of the corpus runs with them.
const SED_VALUES_REFUSED: [&str; 4] = ["backslash", "backslash-c", "not-utf8", "not-utf8-alone"];

/// `bytes` in base64, as the injector hands the agent's configuration over.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// The fixture scripts once per hostile value, in every variable they read.
fn fixtures_with_hostile_values() -> Vec<Case> {
    let config = b"storage \"raft\" {\n  path = \"/vault/data\"\n  node_id = \"HOSTNAME\"\n  retry_join { leader_api_addr = \"http://POD_IP:8200\" }\n}\nlistener \"tcp\" { address = \"[::]:8200\" }\napi_addr = \"API_ADDR\"\nautopilot_redundancy_zone = \"VAULT_REDUNDANCY_ZONE\"\n";
    let mut cases = Vec::new();
    let scripts = fixture_scripts();
    for (value_name, value) in hostile_values() {
        for (name, script) in &scripts {
            if !script.contains('$') || (script.contains("sed ") && SED_VALUES_REFUSED.contains(&value_name)) {
                continue;
            }
            let mut c =
                case(&format!("fixture/{name}/{value_name}"), script).file("extraconfig-from-values.hcl", config);
            for var in
                ["HOST_IP", "POD_IP", "HOSTNAME", "API_ADDR", "TRANSIT_ADDR", "RAFT_ADDR", "VAULT_REDUNDANCY_ZONE"]
            {
                c = c.env(var, value.clone());
            }
            c = c.env("VAULT_CONFIG", base64(value.as_bytes()));
            cases.push(c);
        }
    }
    cases
}

/// Whether hardinit's outcome is the documented difference `kind` from dash's.
fn documented_difference(kind: Kind, dash: &Outcome, hardinit: &Outcome, before: &BTreeMap<String, Vec<u8>>) -> bool {
    let stderr = text(&hardinit.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    match kind {
        Kind::Before => {
            hardinit.status == Some(2)
                && lines.len() == 1
                && lines[0].contains("refused")
                && hardinit.stdout.is_empty()
                && hardinit.files == *before
        }
        Kind::AtPattern => {
            hardinit.status == Some(2)
                && lines.last().is_some_and(|l| l.contains("refused") && l.contains("pathname expansion"))
                && dash.stdout.starts_with(&hardinit.stdout)
        }
        Kind::DashCrashes => dash.status.is_none() && hardinit.status == Some(2) && lines.len() == 1,
        Kind::StandsFor => dash.status == Some(127) && dash.stdout.is_empty(),
    }
}

fn report(case: &Case, dash: &Outcome, hardinit: &Outcome) -> String {
    format!(
        "{}: {:?}\n  dash:     status {:?}, stdout {:?}, stderr {:?}, files {:?}\n  hardinit: status {:?}, stdout {:?}, stderr {:?}, files {:?}",
        case.name,
        if case.script.len() > 200 { format!("{}...", &case.script[..200]) } else { case.script.clone() },
        dash.status,
        text(&dash.stdout),
        text(&dash.stderr),
        dash.files.keys().collect::<Vec<_>>(),
        hardinit.status,
        text(&hardinit.stdout),
        text(&hardinit.stderr),
        hardinit.files.keys().collect::<Vec<_>>(),
    )
}

#[test]
fn hardinit_sh_does_what_dash_does_or_refuses_as_documented() {
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let unsaid: Vec<&str> =
        DOCUMENTED.iter().filter(|(_, _, words)| !readme.contains(words)).map(|(_, _, words)| *words).collect();
    let sh = common::sh();
    let mut cases = written();
    cases.extend(generated());
    cases.extend(fixtures_with_hostile_values());
    let mut names = std::collections::HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name.clone()), "two cases named {}", c.name);
    }
    let mut undocumented = Vec::new();
    let mut documented_seen = std::collections::HashSet::new();
    let mut agreed = 0;
    for case in &cases {
        let before: BTreeMap<String, Vec<u8>> = case.files.iter().cloned().collect();
        let reference = run(dash(), case);
        let ours = run(sh, case);
        let same = reference.status == ours.status && reference.stdout == ours.stdout && reference.files == ours.files;
        if same {
            agreed += 1;
            continue;
        }
        match DOCUMENTED.iter().find(|(name, _, _)| *name == case.name) {
            Some((name, kind, _)) if documented_difference(*kind, &reference, &ours, &before) => {
                documented_seen.insert(*name);
            }
            _ => undocumented.push(report(case, &reference, &ours)),
        }
    }
    println!(
        "sh differential: {} cases, {agreed} the same as dash, {} documented refusals, {} undocumented differences",
        cases.len(),
        documented_seen.len(),
        undocumented.len()
    );
    let unused: Vec<&str> =
        DOCUMENTED.iter().map(|(name, _, _)| *name).filter(|name| !documented_seen.contains(name)).collect();
    assert!(
        undocumented.is_empty() && unused.is_empty() && unsaid.is_empty(),
        "{} undocumented differences:\n{}\ndocumented refusals that no longer differ (remove them): {unused:?}\nrefusals the README does not state: {unsaid:?}",
        undocumented.len(),
        undocumented.join("\n")
    );
}
