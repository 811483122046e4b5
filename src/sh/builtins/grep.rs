//! `grep [-E|-F] [-qvcxsi] [-e PATTERN]... [PATTERN] [FILE|-]...`: selects lines of files or of
//! the standard input (a pipe included) that match a POSIX regular expression (basic without -E,
//! extended with it, a fixed string with -F; `-v`: that do not; `-x`: the whole line). A pattern
//! with newlines is one pattern per line, as in busybox. Prints them (after `FILE:` when several
//! files are read), or counts them (`-c`), or with `-q` prints nothing and stops at the first.
//! Status 0 when a line was selected, 1 when none, 2 on an error. Options may follow the
//! operands, as busybox's getopt takes them; any other option is refused before anything runs.

use super::sed::MAX_LINE;
use super::{Io, ere::Ere, files};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A whole grep invocation, read and checked before any input is.
struct Plan {
    patterns: Vec<Pattern>,
    quiet: bool,
    invert: bool,
    count: bool,
    silent: bool,
    files: Vec<String>,
}

enum Pattern {
    /// The empty pattern, which every line matches.
    Any,
    Regex(Ere),
    /// Invalid in POSIX too: busybox compiles a pattern when it reads the first line, so the
    /// error (status 2) comes then, and not at all for an empty input.
    Invalid(String),
}

/// Why grep does not run: `refused` (outside the subset: hardinit's refusal) or an error
/// busybox has too; status 2 either way.
struct Stop {
    refused: bool,
    message: String,
}

fn refuse(message: impl Into<String>) -> Stop {
    Stop { refused: true, message: message.into() }
}

/// What hardinit refuses in these arguments, found without reading any input.
pub fn refusal(args: &[String]) -> Option<String> {
    match Plan::parse(args) {
        Err(Stop { refused: true, message }) => Some(message),
        _ => None,
    }
}

/// A fixed string as the ERE that matches it and nothing else.
fn fixed(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Plan {
    fn parse(args: &[String]) -> Result<Plan, Stop> {
        let (mut extended, mut fixed_strings, mut whole_line) = (false, false, false);
        let (mut quiet, mut invert, mut count, mut silent) = (false, false, false, false);
        let mut ignore_case = false;
        let mut given: Vec<&str> = Vec::new();
        let mut operands: Vec<&String> = Vec::new();
        let mut index = 0;
        while index < args.len() {
            let arg = &args[index];
            index += 1;
            if arg == "--" {
                operands.extend(&args[index..]);
                break;
            }
            let Some(letters) = arg.strip_prefix('-').filter(|l| !l.is_empty()) else {
                operands.push(arg);
                continue;
            };
            for (at, letter) in letters.char_indices() {
                match letter {
                    'E' => extended = true,
                    'F' => fixed_strings = true,
                    'q' => quiet = true,
                    'v' => invert = true,
                    'c' => count = true,
                    'x' => whole_line = true,
                    'i' => ignore_case = true,
                    's' => silent = true,
                    'e' => {
                        let rest = &letters[at + 1..];
                        if rest.is_empty() {
                            index += 1;
                            match args.get(index - 1) {
                                Some(pattern) => given.push(pattern),
                                None => {
                                    return Err(Stop {
                                        refused: false,
                                        message: "option requires an argument -- 'e'".into(),
                                    });
                                }
                            }
                        } else {
                            given.push(rest);
                        }
                        break;
                    }
                    other => {
                        return Err(refuse(format!(
                            "-{other} is not supported (only -E, -F, -q, -v, -c, -x, -s, -i and -e are)"
                        )));
                    }
                }
            }
        }
        let mut operands = operands.into_iter();
        if given.is_empty() {
            match operands.next() {
                Some(pattern) => given.push(pattern),
                None => {
                    return Err(Stop {
                        refused: false,
                        message: "usage: grep [-EFqvcxs] [-e PATTERN] PATTERN [FILE]...".into(),
                    });
                }
            }
        }
        let mut patterns = Vec::new();
        for pattern in given.iter().flat_map(|p| p.split('\n')) {
            let compiled = if pattern.is_empty() && !whole_line {
                Pattern::Any
            } else {
                let mut text = match (fixed_strings, extended) {
                    (true, _) => fixed(pattern),
                    (false, true) => pattern.to_string(),
                    (false, false) => super::ere::basic_to_extended(pattern)
                        .map_err(|e| Stop { refused: e.refused, message: e.message })?,
                };
                if ignore_case {
                    text = super::ere::ignoring_case(&text)
                        .map_err(|e| Stop { refused: e.refused, message: e.message })?;
                }
                if whole_line {
                    text = if text.is_empty() { "^$".into() } else { format!("^({text})$") };
                }
                match Ere::compile(&text, false) {
                    Ok(regex) => Pattern::Regex(regex),
                    Err(e) if e.refused => return Err(refuse(e.message)),
                    Err(e) => Pattern::Invalid(e.message),
                }
            };
            patterns.push(compiled);
        }
        Ok(Plan { patterns, quiet, invert, count, silent, files: operands.cloned().collect() })
    }

    fn is_selected(&self, text: &[u8]) -> Result<bool, String> {
        let mut matched = false;
        for pattern in &self.patterns {
            matched = match pattern {
                Pattern::Any => true,
                Pattern::Regex(regex) => regex.is_match(&Ere::line(text)?)?,
                Pattern::Invalid(why) => return Err(why.clone()),
            };
            if matched {
                break;
            }
        }
        Ok(matched != self.invert)
    }

    /// Reads one input; returns how many lines were selected (at most one with -q).
    fn read(&self, input: &mut dyn Read, name: Option<&str>, out: &mut dyn std::io::Write) -> Result<u64, String> {
        let mut reader = BufReader::new(input);
        let mut selected = 0;
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader).take(MAX_LINE + 1).read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
            if line.len() as u64 > MAX_LINE {
                return Err(format!("a line longer than {} MiB", MAX_LINE >> 20));
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if !self.is_selected(text)? {
                continue;
            }
            selected += 1;
            if self.quiet {
                break;
            }
            if self.count {
                continue;
            }
            let written = name
                .map_or(Ok(()), |n| write!(out, "{n}:"))
                .and_then(|()| out.write_all(text))
                .and_then(|()| out.write_all(b"\n"));
            written.map_err(|e| e.to_string())?;
        }
        // busybox's -q ends grep at a match before the count is printed, not before.
        if self.count && !(self.quiet && selected > 0) {
            let written = match name {
                Some(n) => writeln!(out, "{n}:{selected}"),
                None => writeln!(out, "{selected}"),
            };
            written.map_err(|e| e.to_string())?;
        }
        Ok(selected)
    }

    fn run(&self, io: &mut Io) -> i32 {
        let named = self.files.len() > 1;
        let mut selected = 0;
        let mut failed = false;
        let inputs: Vec<&str> =
            if self.files.is_empty() { vec!["-"] } else { self.files.iter().map(String::as_str).collect() };
        for file in inputs {
            let name = named.then_some(if file == "-" { "(standard input)" } else { file });
            let read = if file == "-" {
                self.read(&mut *io.stdin, name, &mut *io.out)
            } else {
                match files::open_regular(Path::new(file)) {
                    Ok(mut opened) => self.read(&mut opened, name, &mut *io.out),
                    Err(_) if self.silent => {
                        failed = true;
                        continue;
                    }
                    Err(e) => Err(e),
                }
            };
            match read {
                Ok(n) => selected += n,
                Err(e) => {
                    // An invalid pattern ends grep at once, as busybox's dies at it.
                    let invalid = self.patterns.iter().any(|p| matches!(p, Pattern::Invalid(why) if *why == e));
                    let status = io.fail("grep", 2, e);
                    if invalid {
                        return status;
                    }
                    failed = true;
                }
            }
            if self.quiet && selected > 0 {
                return 0;
            }
        }
        if failed {
            2
        } else if selected > 0 {
            0
        } else {
            1
        }
    }
}

pub fn run(args: &[String], io: &mut Io) -> i32 {
    match Plan::parse(args) {
        Ok(plan) => plan.run(io),
        Err(Stop { message, .. }) => io.fail("grep", 2, message),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::run_builtin;

    #[test]
    fn the_helm_test_and_the_raft_guard() {
        let status = "Key Value\nsealed: false\nversion: 2.7.2\n";
        assert_eq!(
            run_builtin("grep", &["-E", "^sealed: (true|false)"], status.as_bytes()),
            (0, "sealed: false\n".into(), String::new())
        );
        assert_eq!(run_builtin("grep", &["-qE", "^sealed: (true|false)"], status.as_bytes()).1, "");
        assert_eq!(run_builtin("grep", &["-E", "^sealed: (true|false)"], b"Error checking seal status\n").0, 1);
        let config = "# autopilot_redundancy_zone = \"VAULT_REDUNDANCY_ZONE\"\nui = true\n";
        assert_eq!(run_builtin("grep", &["-vE", "^[[:space:]]*(#|//)"], config.as_bytes()).1, "ui = true\n");
        assert_eq!(run_builtin("grep", &["-E", "-v", "-q", "x"], b"x\n").0, 1);
    }

    #[test]
    fn errors_are_status_2_on_one_line() {
        for args in [
            &["-Ei", "[x]"][..],
            &["-Ew", "x"],
            &["-E"],
            &["-E", r"\w"],
            &["-E", "x", "/nonexistent"],
            &["-E", "x", "-o"],
        ] {
            let (status, _, err) = run_builtin("grep", args, b"x\n");
            assert_eq!(status, 2, "{args:?}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }
}
