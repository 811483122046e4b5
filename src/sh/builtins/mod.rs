//! The commands hardinit's sh runs itself, natively, with the options the charts' and the
//! injector's scripts use; any other option is one line on stderr and exit status 2.

pub mod base64;
pub mod ere;
mod files;
mod grep;
mod process;
pub mod sed;
mod test;

pub use files::{open_redirect, write_redirect};
pub use process::pidof;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
pub use test::{UNSUPPORTED as TEST_UNSUPPORTED, integer as dash_integer};

/// Every built-in, as a script names it.
pub const NAMES: [&str; 17] = [
    "echo", "true", "false", ":", "[", "test", "cp", "sed", "grep", "sleep", "kill", "pidof", "base64", "touch",
    "exit", "break", "export",
];

/// A built-in's standard streams, as the runner wired them (a pipe, a capture, a redirection).
pub struct Io<'a> {
    pub stdin: &'a mut dyn Read,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

impl Io<'_> {
    /// `NAME: message` on stderr; returns `status`, so that a built-in can `return io.fail(...)`.
    pub fn fail(&mut self, name: &str, status: i32, message: impl std::fmt::Display) -> i32 {
        let _ = writeln!(self.err, "{name}: {}", super::one_line(&message.to_string()));
        status
    }
}

/// What hardinit refuses in built-in `name`'s arguments (an option or an operand outside the
/// subset, a sed program or a grep pattern it does not run), found without running anything:
/// the parser asks it of literal arguments before the script starts, the runner of expanded
/// ones before the command runs (a refusal there ends the whole script). None: the command runs,
/// and may still fail as busybox's would.
pub fn refusal(name: &str, args: &[OsString]) -> Option<String> {
    if matches!(name, "echo" | "true" | "false" | ":" | "[" | "test" | "exit" | "break") {
        return None;
    }
    let Some(args) = args.iter().map(|a| a.to_str().map(str::to_string)).collect::<Option<Vec<_>>>() else {
        return Some(format!("{name}: an argument that is not UTF-8 text"));
    };
    let why = match name {
        "export" => export_refusal(&args),
        // busybox lists the signals; the parser refuses it written out, here from a value.
        "kill" if args.first().is_some_and(|a| a == "-l" || a == "-L") => Some("`kill -l` (listing signals)".into()),
        "sed" => sed::refusal(&args),
        "grep" => grep::refusal(&args),
        "cp" => files::cp_refusal(&args),
        "touch" => files::touch_refusal(&args),
        "base64" => base64::refusal(&args),
        _ => None,
    };
    why.map(|why| format!("{name}: {why}"))
}

/// `export NAME[=VALUE]...`: a name as sh takes it; IFS is the shell's own (refused as its
/// assignment is); no option.
fn export_refusal(args: &[String]) -> Option<String> {
    if args.is_empty() {
        return Some("`export` without a name (listing) is not supported".into());
    }
    for arg in args {
        let name = arg.split_once('=').map_or(arg.as_str(), |(name, _)| name);
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Some(format!("{arg}: not a name to export (no option is supported)"));
        }
        if name == "IFS" {
            return Some("an assignment to IFS".into());
        }
    }
    None
}

/// Runs built-in `name` (one of [`NAMES`] other than `exit` and `break`, which the runner owns).
/// Arguments are bytes, as the expansions gave them.
pub fn run(name: &str, args: &[OsString], io: &mut Io) -> i32 {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    match name {
        "echo" => echo(&bytes, io),
        "true" | ":" => 0,
        "false" => 1,
        "[" | "test" => test::run(name, &bytes, io),
        _ => {
            // The other built-ins read text: an argument that is not UTF-8 is an error for them.
            let Some(args) = args.iter().map(|a| a.to_str().map(str::to_string)).collect::<Option<Vec<_>>>() else {
                return io.fail(name, 2, "an argument that is not UTF-8 text");
            };
            match name {
                "cp" => files::cp(&args, io),
                "touch" => files::touch(&args, io),
                "sed" => sed::run(&args, io),
                "grep" => grep::run(&args, io),
                "sleep" => process::sleep(&args, io),
                "kill" => process::kill(&args, io),
                "pidof" => process::pidof_command(&args, io),
                "base64" => base64::run(&args, io),
                _ => io.fail(name, 2, "not a built-in"),
            }
        }
    }
}

/// `echo [-n] ARGS...`, as dash's: only a first argument of exactly `-n` is an option, and the
/// backslash escapes of dash's echo are read (`\n`, `\t`, `\0NNN`, `\c` ending the output...).
fn echo(args: &[&[u8]], io: &mut Io) -> i32 {
    let (newline, args) = match args.first().copied() {
        Some(b"-n") => (false, &args[1..]),
        _ => (true, args),
    };
    let mut text = Vec::new();
    let mut stopped = false;
    for (index, arg) in args.iter().enumerate() {
        if index > 0 {
            text.push(b' ');
        }
        if echo_escapes(arg, &mut text) {
            stopped = true;
            break;
        }
    }
    if newline && !stopped {
        text.push(b'\n');
    }
    match io.out.write_all(&text).and_then(|()| io.out.flush()) {
        Ok(()) => 0,
        Err(e) => io.fail("echo", 1, e),
    }
}

/// One argument of dash's echo with its escapes read, appended to `out`; true at `\c`, which
/// ends all output (the newline included).
fn echo_escapes(arg: &[u8], out: &mut Vec<u8>) -> bool {
    let is_octal = |b: Option<&u8>| b.is_some_and(|b| (b'0'..=b'7').contains(b));
    let mut i = 0;
    while i < arg.len() {
        let b = arg[i];
        i += 1;
        if b != b'\\' || i == arg.len() {
            out.push(b);
            continue;
        }
        let escaped = arg[i];
        i += 1;
        let value = match escaped {
            b'c' => return true,
            b'\\' => b'\\',
            b'a' => 0x07,
            b'b' => 0x08,
            b'e' => 0x1b,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'0'..=b'7' => {
                // `\0` before octal digits introduces up to three of them; `\1`..`\7` start them.
                if escaped != b'0' || !is_octal(arg.get(i)) {
                    i -= 1;
                }
                let mut value: u32 = 0;
                for _ in 0..3 {
                    if !is_octal(arg.get(i)) {
                        break;
                    }
                    value = value * 8 + u32::from(arg[i] - b'0');
                    i += 1;
                }
                value as u8
            }
            _ => {
                out.push(b'\\');
                i -= 1;
                continue;
            }
        };
        out.push(value);
    }
    false
}

/// Splits leading single-letter options (`-Ei`, `-E -i`) from the operands; `--` ends them.
/// Returns the letters in order, or the first option that is not in `allowed`.
pub fn options<'a>(args: &'a [String], allowed: &str) -> Result<(Vec<char>, &'a [String]), String> {
    let mut letters = Vec::new();
    for (index, arg) in args.iter().enumerate() {
        if arg == "--" {
            return Ok((letters, &args[index + 1..]));
        }
        let Some(flags) = arg.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Ok((letters, &args[index..]));
        };
        for letter in flags.chars() {
            if !allowed.contains(letter) {
                return Err(format!("-{letter} is not supported (only -{allowed} are)"));
            }
            letters.push(letter);
        }
    }
    Ok((letters, &[]))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Runs a built-in on `stdin`; returns (status, stdout, stderr).
    pub fn run_builtin(name: &str, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let (mut input, mut out, mut err) = (stdin, Vec::new(), Vec::new());
        let status = run(name, &args, &mut Io { stdin: &mut input, out: &mut out, err: &mut err });
        (status, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::run_builtin;

    #[test]
    fn echo_is_dashs() {
        assert_eq!(run_builtin("echo", &["Attempt", "3..."], b""), (0, "Attempt 3...\n".into(), String::new()));
        assert_eq!(run_builtin("echo", &["-n", "a\\nb"], b"").1, "a\nb");
        assert_eq!(run_builtin("echo", &["-e", "x"], b"").1, "-e x\n", "dash's echo has no -e");
        assert_eq!(run_builtin("echo", &["-n", "-n", "x"], b"").1, "-n x");
        assert_eq!(run_builtin("echo", &[], b"").1, "\n");
        for (arg, printed) in [
            ("\\101", "A"),
            ("\\0101", "A"),
            ("\\08", "\0\x38"),
            ("\\00007", "\x007"),
            ("\\1234", "S4"),
            ("\\8", "\\8"),
            ("a\\", "a\\"),
            ("\\q", "\\q"),
            ("\\e|\\t", "\x1b|\t"),
        ] {
            assert_eq!(run_builtin("echo", &["-n", arg], b"").1, printed, "{arg:?}");
        }
        assert_eq!(run_builtin("echo", &["a\\cb", "c"], b"").1, "a", "\\c ends the output");
    }
}
