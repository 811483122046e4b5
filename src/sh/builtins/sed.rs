//! `sed -E [-i] 's|REGEX|REPLACEMENT|[g]' [FILE]`: one substitution, POSIX ERE, punctuation as the delimiter.
//! In the replacement `\1`..`\9` and `&` insert the match, `\n` a newline, `\t` a tab, `\&`,
//! `\\`, `\DELIMITER` and `\` followed by punctuation the character itself; a raw newline is an
//! error, as in busybox and GNU sed. The input is read line by line (memory is bounded by the
//! longest line, [`MAX_LINE`]); `-i` writes a new file beside the old one and renames it over it.
//! An error busybox has too (an invalid pattern, a missing file) is status 1, as in busybox;
//! anything outside the subset (another command, a BRE without -E, flags other than g) is refused
//! with status 2.

use super::{Io, ere, ere::Ere, files, options};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// The longest line sed and grep read, newline included: memory for one line, whatever the
/// size of the input. A longer line is an error, never a truncation.
pub const MAX_LINE: u64 = 16 << 20;

#[derive(Debug, PartialEq)]
enum Piece {
    Text(Vec<u8>),
    Group(usize),
}

pub struct Substitution {
    regex: Ere,
    replacement: Vec<Piece>,
    global: bool,
}

/// Why sed stopped: its status and the line to print.
pub struct Failure(pub i32, pub String);

/// Writing the output failed: status 1, as busybox.
impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure(1, message)
    }
}

pub fn run(args: &[String], io: &mut Io) -> i32 {
    // busybox reads what follows `-i` in its argument as a backup suffix: `-iE` keeps the old
    // file as FILEE and reads a BRE, `-ii` keeps FILEi.
    let options_end = args.iter().position(|a| a == "--" || !a.starts_with('-') || a == "-").unwrap_or(args.len());
    if let Some(suffixed) = args[..options_end].iter().find(|a| a.find('i').is_some_and(|at| at + 1 != a.len())) {
        return io.fail("sed", 2, format!("{suffixed}: -i followed by a backup suffix is not supported (write -Ei)"));
    }
    let (letters, operands) = match options(args, "Ei") {
        Ok(parsed) => parsed,
        Err(e) => return io.fail("sed", 2, e),
    };
    if !letters.contains(&'E') {
        return io.fail("sed", 2, "only extended regular expressions (-E) are supported");
    }
    let in_place = letters.contains(&'i');
    let (script, file) = match operands {
        [script] if !in_place => (script, None),
        [script, file] => (script, Some(Path::new(file))),
        _ => return io.fail("sed", 2, "usage: sed -E [-i] 's|REGEX|REPLACEMENT|[g]' [FILE]"),
    };
    let substitution = match Substitution::parse(script) {
        Ok(s) => s,
        Err(Failure(status, e)) => return io.fail("sed", status, e),
    };
    let done = match (in_place, file) {
        (true, Some(path)) => substitution.in_place(path),
        (_, Some(path)) => match files::open_regular(path) {
            Ok(input) => substitution.stream(input, &mut *io.out).map(drop),
            Err(e) => Err(Failure(1, e)),
        },
        (_, None) => substitution.stream(&mut *io.stdin, &mut *io.out).map(drop),
    };
    match done {
        Ok(()) => 0,
        Err(Failure(status, message)) => io.fail("sed", status, message),
    }
}

/// `script` run on `input`, all in memory: the pure boundary of sed (a fuzz target's entry point).
pub fn substitute(script: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    Substitution::parse(script).map_err(|Failure(_, e)| e)?.stream(input, &mut out).map_err(|Failure(_, e)| e)?;
    Ok(out)
}

impl Substitution {
    /// Err: status 2 for what hardinit refuses, 1 for what busybox fails on too.
    pub fn parse(script: &str) -> Result<Substitution, Failure> {
        let refuse = |e: String| Failure(2, e);
        let mut chars = script.chars();
        if chars.next() != Some('s') {
            return Err(refuse("only one `s` command is supported".into()));
        }
        let delimiter = chars.next().filter(|d| *d != '\\' && *d != '\n');
        let delimiter = delimiter.ok_or_else(|| refuse("`s` needs a delimiter".into()))?;
        // busybox reads `\n`, `\t`, `\r` as control characters and keeps `\b`, `\s`, `\w`, `\1` as
        // escapes before it splits at an alphanumeric delimiter (`sn\nnXn` looks for a newline),
        // and finds no end for `[`.
        if delimiter.is_ascii_alphanumeric() || delimiter == '[' {
            return Err(refuse(format!("{delimiter:?} as the delimiter of `s` is not supported")));
        }
        let rest: Vec<char> = chars.collect();
        let (pattern, after) = split_at_delimiter(&rest, delimiter).map_err(|e| Failure(1, e))?;
        let (replacement, after) = split_at_delimiter(after, delimiter).map_err(|e| Failure(1, e))?;
        let flags: String = after.iter().collect();
        let global = match flags.as_str() {
            "" => false,
            "g" => true,
            _ => return Err(refuse("flags after `s`: only g is supported".into())),
        };
        if pattern.is_empty() {
            return Err(refuse("an empty regular expression (the previous one) is not supported".into()));
        }
        let pattern = control_escapes_in_brackets(&pattern);
        let regex = Ere::compile(&pattern, true).map_err(|e| Failure(if e.refused { 2 } else { 1 }, e.message))?;
        let replacement = parse_replacement(&replacement, delimiter, regex.groups)?;
        if let Some(group) = replacement.iter().find_map(|piece| match piece {
            Piece::Group(g) if regex.inside_repetition.contains(g) => Some(g),
            _ => None,
        }) {
            return Err(refuse(format!(
                "\\{group}: a group inside a repeated group (what it holds after the last repetition differs between sed implementations)"
            )));
        }
        Ok(Substitution { regex, replacement, global })
    }

    /// Reads `input` line by line and writes each line substituted; returns whether any line
    /// changed. A final line without a newline stays without one; nothing follows the last
    /// newline.
    fn stream(&self, input: impl Read, out: &mut dyn Write) -> Result<bool, Failure> {
        let mut reader = BufReader::new(input);
        let mut out = BufWriter::new(out);
        let mut line = Vec::new();
        let mut changed = false;
        let write_error = |e: std::io::Error| Failure(1, e.to_string());
        loop {
            line.clear();
            match (&mut reader).take(MAX_LINE + 1).read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return Err(Failure(1, format!("the input: {e}"))),
            }
            if line.len() as u64 > MAX_LINE {
                return Err(Failure(1, format!("a line longer than {} MiB", MAX_LINE >> 20)));
            }
            let newline = line.last() == Some(&b'\n');
            let text = &line[..line.len() - usize::from(newline)];
            changed |= self.line(text, &mut out).map_err(|e| match e {
                LineError::Input(e) => Failure(1, e),
                LineError::Output(e) => write_error(e),
            })?;
            if newline {
                out.write_all(b"\n").map_err(write_error)?;
            }
        }
        out.flush().map_err(write_error)?;
        Ok(changed)
    }

    /// `-i`: the substituted text in a new file beside `path`, renamed over it; a file in which
    /// nothing changes is left as it is.
    fn in_place(&self, path: &Path) -> Result<(), Failure> {
        let mut input = files::open_regular(path).map_err(|e| Failure(1, e))?;
        let input_error = |e: String| Failure(1, format!("{}: {e}", path.display()));
        if !self.any_line_matches(&input).map_err(input_error)? {
            return Ok(());
        }
        std::io::Seek::rewind(&mut input).map_err(|e| input_error(e.to_string()))?;
        files::replace_atomically(path, files::mode_of(&input), |out| self.stream(&input, out).map(drop))
    }

    fn any_line_matches(&self, input: &std::fs::File) -> Result<bool, String> {
        let mut reader = BufReader::new(input);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader).take(MAX_LINE + 1).read_until(b'\n', &mut line) {
                Ok(0) => return Ok(false),
                Ok(_) if line.len() as u64 > MAX_LINE => {
                    return Err(format!("a line longer than {} MiB", MAX_LINE >> 20));
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            if self.regex.is_match(&Ere::line(text)?)? {
                return Ok(true);
            }
        }
    }

    /// One line (without its newline), substituted, to `out`; whether a match was replaced.
    fn line(&self, text: &[u8], out: &mut impl Write) -> Result<bool, LineError> {
        let line = Ere::line(text).map_err(LineError::Input)?;
        let mut start = 0;
        let mut previous_end = None;
        let mut changed = false;
        while start <= text.len() {
            let Some(spans) = self.regex.find(&line, start).map_err(LineError::Input)? else { break };
            let whole = spans[0].clone().expect("a match has a span");
            // An empty match right where the previous match ended is no match (POSIX, busybox,
            // GNU: `s/x*/-/g` on `xab` gives `-a-b-`).
            if whole.is_empty() && previous_end == Some(whole.start) {
                out.write_all(&text[start..(whole.start + 1).min(text.len())])?;
                start = whole.start + 1;
                continue;
            }
            out.write_all(&text[start..whole.start])?;
            for piece in &self.replacement {
                match piece {
                    Piece::Text(t) => out.write_all(t)?,
                    Piece::Group(g) => {
                        if let Some(span) = &spans[*g] {
                            out.write_all(&text[span.clone()])?;
                        }
                    }
                }
            }
            changed = true;
            previous_end = Some(whole.end);
            start = whole.end;
            if !self.global {
                break;
            }
            if whole.is_empty() {
                out.write_all(&text[start..(start + 1).min(text.len())])?;
                start += 1;
            }
        }
        out.write_all(&text[start.min(text.len())..])?;
        Ok(changed)
    }
}

enum LineError {
    Input(String),
    Output(std::io::Error),
}

impl From<std::io::Error> for LineError {
    fn from(e: std::io::Error) -> LineError {
        LineError::Output(e)
    }
}

/// The text up to the next unescaped `delimiter`, and what follows it. `\DELIMITER` stands for
/// the delimiter as a literal character (escaped for the regex when it is punctuation, so that
/// `s|a\|b|X|` looks for `a|b`, as busybox does).
fn split_at_delimiter(chars: &[char], delimiter: char) -> Result<(String, &[char]), String> {
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if chars.get(i + 1) == Some(&delimiter) => {
                // A letter stands for itself; a digit stays `\1` (a back-reference, refused,
                // where busybox fails too).
                if !delimiter.is_alphabetic() {
                    text.push('\\');
                }
                text.push(delimiter);
                i += 2;
            }
            '\\' => {
                text.push('\\');
                if let Some(&next) = chars.get(i + 1) {
                    text.push(next);
                }
                i += 2;
            }
            c if c == delimiter => return Ok((text, &chars[i + 1..])),
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(format!("`s` is not closed by {delimiter:?}"))
}

/// `\n`, `\t` and `\r` inside a bracket expression as the characters they name: busybox's sed
/// (and GNU's) reads `[^\n]` as "not a newline" and `[\t]` as a tab, where in POSIX the backslash
/// would be one more member of the set. Outside brackets the check refuses `\` and a letter.
fn control_escapes_in_brackets(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                out.extend(chars.get(i..i + 2).unwrap_or(&chars[i..]));
                i += 2;
            }
            '[' => {
                // A bracket that does not close is left to the check, which says so.
                let end = ere::bracket(&chars, i).unwrap_or(chars.len());
                let mut j = i;
                while j < end {
                    let control = match (chars[j], chars.get(j + 1)) {
                        ('\\', Some('n')) if j + 1 < end => Some('\n'),
                        ('\\', Some('t')) if j + 1 < end => Some('\t'),
                        ('\\', Some('r')) if j + 1 < end => Some('\r'),
                        _ => None,
                    };
                    match control {
                        Some(c) => {
                            out.push(c);
                            j += 2;
                        }
                        None if chars[j] == '\\' && j + 1 < end => {
                            out.extend(&chars[j..j + 2]);
                            j += 2;
                        }
                        None => {
                            out.push(chars[j]);
                            j += 1;
                        }
                    }
                }
                i = end;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// Err: status 1 for what busybox fails on too (a raw newline), 2 for what hardinit refuses (`\`
/// and a letter other than n and t, a backslash before a newline, a group the pattern lacks).
fn parse_replacement(text: &str, delimiter: char, groups: usize) -> Result<Vec<Piece>, Failure> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars();
    let flush = |literal: &mut String, pieces: &mut Vec<Piece>| {
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(literal).into_bytes()));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '&' => {
                flush(&mut literal, &mut pieces);
                pieces.push(Piece::Group(0));
            }
            // busybox and GNU sed end the command at a raw newline: a value with a newline in it
            // must never become new lines of a configuration.
            '\n' => return Err(Failure(1, "a newline in the replacement (write \\n)".into())),
            '\\' => match chars.next() {
                Some(d @ '0'..='9') => {
                    let group = d as usize - '0' as usize;
                    if group > groups {
                        // busybox writes nothing for it, GNU sed fails: refused.
                        return Err(Failure(2, format!("\\{group}: the pattern has {groups} group(s)")));
                    }
                    flush(&mut literal, &mut pieces);
                    pieces.push(Piece::Group(group));
                }
                Some('n') => literal.push('\n'),
                Some('t') => literal.push('\t'),
                // busybox writes a newline for it, as POSIX says: refused, so that a value never
                // adds lines to a configuration.
                Some('\n') => {
                    return Err(Failure(2, "a backslash and a newline in the replacement (write \\n)".into()));
                }
                Some(c) if c.is_ascii_punctuation() || c == delimiter => literal.push(c),
                Some(c) => return Err(Failure(2, format!("\\{c} in the replacement is not supported"))),
                None => return Err(Failure(1, "a trailing backslash in the replacement".into())),
            },
            c => literal.push(c),
        }
    }
    flush(&mut literal, &mut pieces);
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::super::testing::run_builtin;
    use super::*;

    fn sed(script: &str, input: &str) -> String {
        let (status, out, err) = run_builtin("sed", &["-E", script], input.as_bytes());
        assert_eq!(status, 0, "{script}: {err}");
        out
    }

    #[test]
    fn the_charts_substitutions() {
        let config = "address = \"HOST_IP:8500\"\nx = \"HOST_IP\"\n";
        assert_eq!(sed("s|HOST_IP|10.0.0.7|g", config), "address = \"10.0.0.7:8500\"\nx = \"10.0.0.7\"\n");
        // The raft-zones script, after the shell has removed its quotes.
        let zones = r#"s|(\"?autopilot_redundancy_zone\"?[[:space:]]*[=:][[:space:]]*)\"VAULT_REDUNDANCY_ZONE\"|\1\"zone-a\"|g"#;
        assert_eq!(
            sed(zones, "  autopilot_redundancy_zone = \"VAULT_REDUNDANCY_ZONE\"\n"),
            "  autopilot_redundancy_zone = \"zone-a\"\n"
        );
        assert_eq!(
            sed(zones, "{\"autopilot_redundancy_zone\":\"VAULT_REDUNDANCY_ZONE\"}"),
            "{\"autopilot_redundancy_zone\":\"zone-a\"}"
        );
    }

    #[test]
    fn sed_semantics() {
        assert_eq!(sed("s/a/b/", "aaa\naa"), "baa\nba", "without g: the first match of each line");
        assert_eq!(sed("s/a/<&>/g", "xa"), "x<a>");
        assert_eq!(sed(r"s/a/\&\\/", "a"), "&\\");
        assert_eq!(sed("s/x*/-/g", "abc"), "-a-b-c-");
        assert_eq!(sed(r"s,a\,b,X,", "a,b"), "X", "an escaped delimiter is literal");
        assert_eq!(sed("s/$/!/", "a\nb\n"), "a!\nb!\n", "nothing after the final newline");
        assert_eq!(sed("s/^/#/", ""), "");
        assert_eq!(sed("s/$/!/", "a\nb"), "a!\nb!", "a final line without a newline keeps none");
        assert_eq!(sed("s/x*/-/g", "xab"), "-a-b-", "no empty match right after a match");
        assert_eq!(sed("s/a|ab/X/", "ab"), "X", "leftmost-longest");
        assert_eq!(sed("s/a?(ab)?/X/", "ab"), "X");
        assert_eq!(sed("s/<x>/Y/", "<x>"), "Y");
        assert_eq!(sed(r"s|a|x\|y|", "a"), "x|y");
        assert_eq!(sed(r"s|a\|b|X|g", "a|b ab"), "X ab", "an escaped delimiter is literal in the pattern");
        assert_eq!(sed(r"s/(a)(b)/\2\1\0/", "ab"), "baab");
        assert_eq!(sed(r"s/b/\t/", "ab"), "a\t");
        assert_eq!(sed(r"s/[^\n]/X/g", "a\\n"), "XXX", "in brackets \\n is a newline, as busybox reads it");
        assert_eq!(sed(r"s/[\t\\]/X/g", "\t\\t"), "XXt");
        assert_eq!(sed(r"s/[\]n]/X/g", "\\n] n]"), "X n]", "`[\\]` ends before `n]`");
        assert_eq!(substitute("s/b/X/g", b"\xffb\n").unwrap(), b"\xffX\n", "bytes, not UTF-8");
    }

    #[test]
    fn a_raw_newline_in_the_replacement_is_an_error() {
        for (script, expected) in [("s|POD_IP|10.0.0.1\"\nui = true\nx = \"|g", 1), ("s/a/x\\\ny/", 2)] {
            let (status, out, err) = run_builtin("sed", &["-E", script], b"POD_IP a\n");
            assert_eq!((status, out.as_str()), (expected, ""), "{script:?}");
            assert!(err.contains("newline in the replacement"), "{err}");
        }
    }

    #[test]
    fn every_line_is_substituted_and_a_line_too_long_is_an_error() {
        let replacement = format!("s/a/{}/g", "&".repeat(64));
        let input = ("a".repeat(1000) + "\n").repeat(64);
        let out = substitute(&replacement, input.as_bytes()).unwrap();
        assert_eq!(out.len(), 64 * (64 * 1000 + 1));
        let (status, _, err) = run_builtin("sed", &["-E", "s/a/b/"], &vec![b'a'; (MAX_LINE + 1) as usize]);
        assert_eq!(status, 1, "{err}");
        assert!(err.contains("a line longer than 16 MiB"), "{err}");
    }

    #[test]
    fn a_line_over_the_bound_is_an_error_not_a_truncation() {
        let mut big = b"a\n".to_vec();
        big.resize(big.len() + MAX_LINE as usize + 1, b'a');
        let (status, out, err) = run_builtin("sed", &["-E", "s/a/b/"], &big);
        assert_eq!((status, out.as_str()), (1, "b\n"), "{err}");
        assert!(err.contains("a line longer than 16 MiB"), "{err}");
        let mut long_ok = vec![b'a'; (MAX_LINE - 1) as usize];
        long_ok.push(b'\n');
        assert_eq!(run_builtin("sed", &["-E", "s/a/b/"], &long_ok).0, 0, "a line of 16 MiB is read");
    }

    #[test]
    fn refusals_are_status_2_and_what_busybox_fails_on_too_is_1() {
        for (args, expected) in [
            (&["s/a/b/"][..], 2),
            (&["-E", "s/a/b/p"], 2),
            (&["-E", "s/a/b/;s/c/d/"], 2),
            (&["-E", "y/a/b/"], 2),
            (&["-E", r"s/(a)/\q/"], 2),
            (&["-E", "-n", "s/a/b/"], 2),
            (&["-Ei", "s/a/b/"], 2),
            (&["-E", "s//b/"], 2),
            (&["-E", "s/a**/b/"], 2),
            (&["-E", r"sn\nnXn"], 2),
            (&["-E", "s[a[b["], 2),
            (&["-iE", "s/a/b/"], 2),
            (&["-E", r"s/((a)|b)+/\2/"], 2),
            (&["-E", r"s/a/\2/"], 2),
            (&["-E", "s/a/b"], 1),
            (&["-E", "s/[a/b/"], 1),
            (&["-E", "s/(a/b/"], 1),
            (&["-E", "s/a{3,2}/b/"], 1),
        ] {
            let (status, out, err) = run_builtin("sed", args, b"a");
            assert_eq!((status, out.as_str()), (expected, ""), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }

    #[test]
    fn in_place_is_atomic_and_a_link_is_refused() {
        let dir = std::env::temp_dir().join(format!("hardinit-sh-sed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("storageconfig.hcl");
        std::fs::write(&file, "a = \"POD_IP\"\n").unwrap();
        let path = file.to_str().unwrap();
        assert_eq!(run_builtin("sed", &["-Ei", "s|POD_IP|10.1.1.1|g", path], b"").0, 0);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "a = \"10.1.1.1\"\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::write(&file, "a\nb\n").unwrap();
        assert_eq!(run_builtin("sed", &["-Ei", "s/^/# /", path], b"").0, 0);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "# a\n# b\n", "no stray `# ` at the end");
        std::fs::write(&file, "a\0\n").unwrap();
        assert_eq!(run_builtin("sed", &["-Ei", "s/a/b/", path], b"").0, 1, "a NUL byte");
        assert_eq!(std::fs::read(&file).unwrap(), b"a\0\n", "untouched");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        let (status, _, err) = run_builtin("sed", &["-Ei", "s|a|b|", dir.join("missing").to_str().unwrap()], b"");
        assert_eq!(status, 1, "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
