//! The commands hardinit's sh runs itself, natively, with the options the charts' and the
//! injector's scripts use; any other option is one line on stderr and exit status 2.

pub mod base64;
pub mod ere;
mod files;
mod grep;
mod process;
pub mod sed;
mod test;

pub use files::write_redirect;
pub use process::pidof;
use std::io::{Read, Write};

/// Every built-in, as a script names it.
pub const NAMES: [&str; 16] = [
    "echo", "true", "false", ":", "[", "test", "cp", "sed", "grep", "sleep", "kill", "pidof", "base64", "touch",
    "exit", "break",
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

/// Runs built-in `name` (one of [`NAMES`] other than `exit` and `break`, which the runner owns).
pub fn run(name: &str, args: &[String], io: &mut Io) -> i32 {
    match name {
        "echo" => echo(args, io),
        "true" | ":" => 0,
        "false" => 1,
        "[" | "test" => test::run(name, args, io),
        "cp" => files::cp(args, io),
        "touch" => files::touch(args, io),
        "sed" => sed::run(args, io),
        "grep" => grep::run(args, io),
        "sleep" => process::sleep(args, io),
        "kill" => process::kill(args, io),
        "pidof" => process::pidof_command(args, io),
        "base64" => base64::run(args, io),
        _ => io.fail(name, 2, "not a built-in"),
    }
}

/// `echo [-n] ARGS...`, as busybox's: the arguments as they are, space-separated. A backslash is
/// printed as it is (dash would read `\n` as a newline): the scripts hardinit runs print none.
fn echo(args: &[String], io: &mut Io) -> i32 {
    let (newline, args) = match args.first().map(String::as_str) {
        Some("-n") => (false, &args[1..]),
        Some("-e" | "-E") => return io.fail("echo", 2, "-e and -E are not supported"),
        _ => (true, args),
    };
    let mut text = args.join(" ");
    if newline {
        text.push('\n');
    }
    match io.out.write_all(text.as_bytes()).and_then(|()| io.out.flush()) {
        Ok(()) => 0,
        Err(e) => io.fail("echo", 1, e),
    }
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
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let (mut input, mut out, mut err) = (stdin, Vec::new(), Vec::new());
        let status = run(name, &args, &mut Io { stdin: &mut input, out: &mut out, err: &mut err });
        (status, String::from_utf8_lossy(&out).into_owned(), String::from_utf8_lossy(&err).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::testing::run_builtin;

    #[test]
    fn echo_prints_its_arguments_as_they_are() {
        assert_eq!(run_builtin("echo", &["Attempt", "3..."], b""), (0, "Attempt 3...\n".into(), String::new()));
        assert_eq!(run_builtin("echo", &["-n", "a\\nb"], b"").1, "a\\nb");
        assert_eq!(run_builtin("echo", &["-e", "x"], b"").0, 2);
        assert_eq!(run_builtin("echo", &[], b"").1, "\n");
    }
}
