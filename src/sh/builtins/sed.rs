//! `sed -E [-i] 's|REGEX|REPLACEMENT|[g]' [FILE]`: one substitution, POSIX ERE, any delimiter.
//! In the replacement `\1`..`\9` and `&` insert the match, `\n` a newline, `\&`, `\\` and `\`
//! followed by punctuation the character itself. `-i` replaces the file atomically. Anything else
//! (another command, a BRE without -E, flags other than g) is refused with status 2.

use super::{Io, ere, files, options};
use regex_lite::{Captures, Regex};
use std::path::Path;

#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Group(usize),
}

struct Substitution {
    regex: Regex,
    replacement: Vec<Piece>,
    global: bool,
}

pub fn run(args: &[String], io: &mut Io) -> i32 {
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
    let substitution = match parse(script) {
        Ok(s) => s,
        Err(e) => return io.fail("sed", 2, e),
    };
    let (input, mode) = match file {
        Some(path) => match files::read_regular(path) {
            Ok(read) => read,
            Err(e) => return io.fail("sed", 2, e),
        },
        None => match crate::sys::regular_file::read_bounded(&mut *io.stdin, files::MAX_FILE) {
            Ok(bytes) => (bytes, 0),
            Err(e) => return io.fail("sed", 2, format!("the input: {e}")),
        },
    };
    let Ok(text) = String::from_utf8(input) else {
        return io.fail("sed", 2, "the input is not UTF-8 text");
    };
    let output = substitution.apply(&text);
    let written = match (in_place, file) {
        (true, Some(_)) if output == text => Ok(()),
        (true, Some(path)) => files::replace_atomically(path, output.as_bytes(), mode),
        _ => io.out.write_all(output.as_bytes()).map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => 0,
        Err(e) => io.fail("sed", 4, e),
    }
}

fn parse(script: &str) -> Result<Substitution, String> {
    let mut chars = script.chars();
    if chars.next() != Some('s') {
        return Err(format!("{script:?}: only one `s` command is supported"));
    }
    let delimiter = chars.next().filter(|d| *d != '\\' && *d != '\n').ok_or("`s` needs a delimiter")?;
    let rest: Vec<char> = chars.collect();
    let (pattern, after) = split_at_delimiter(&rest, delimiter)?;
    let (replacement, after) = split_at_delimiter(after, delimiter)?;
    let flags: String = after.iter().collect();
    let global = match flags.as_str() {
        "" => false,
        "g" => true,
        other => return Err(format!("flags {other:?}: only g is supported")),
    };
    let regex = ere::compile(&pattern)?;
    let replacement = parse_replacement(&replacement, delimiter, regex.captures_len() - 1)?;
    Ok(Substitution { regex, replacement, global })
}

/// The text up to the next unescaped `delimiter` (`\DELIM` stands for the delimiter itself),
/// and what follows it.
fn split_at_delimiter(chars: &[char], delimiter: char) -> Result<(String, &[char]), String> {
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if chars.get(i + 1) == Some(&delimiter) => {
                if "|.[]()*+?{}^$\\".contains(delimiter) {
                    return Err(format!("\\{delimiter}: an escaped delimiter that is also a regex operator"));
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

fn parse_replacement(text: &str, delimiter: char, groups: usize) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars();
    let flush = |literal: &mut String, pieces: &mut Vec<Piece>| {
        if !literal.is_empty() {
            pieces.push(Piece::Text(std::mem::take(literal)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '&' => {
                flush(&mut literal, &mut pieces);
                pieces.push(Piece::Group(0));
            }
            '\\' => match chars.next() {
                Some(d @ '0'..='9') => {
                    let group = d as usize - '0' as usize;
                    if group > groups {
                        return Err(format!("\\{group}: the pattern has {groups} group(s)"));
                    }
                    flush(&mut literal, &mut pieces);
                    pieces.push(Piece::Group(group));
                }
                Some('n') => literal.push('\n'),
                Some(c) if c.is_ascii_punctuation() || c == delimiter => literal.push(c),
                Some(c) => return Err(format!("\\{c} in the replacement is not supported")),
                None => return Err("a trailing backslash in the replacement".into()),
            },
            c => literal.push(c),
        }
    }
    flush(&mut literal, &mut pieces);
    Ok(pieces)
}

impl Substitution {
    fn apply(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                out.push('\n');
            }
            out.push_str(&self.apply_line(line));
        }
        out
    }

    fn apply_line(&self, line: &str) -> String {
        let expand = |captures: &Captures, out: &mut String| {
            for piece in &self.replacement {
                match piece {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Group(g) => out.push_str(captures.get(*g).map_or("", |m| m.as_str())),
                }
            }
        };
        let mut out = String::new();
        let mut last = 0;
        for captures in self.regex.captures_iter(line) {
            let whole = captures.get(0).expect("group 0 always matches");
            out.push_str(&line[last..whole.start()]);
            expand(&captures, &mut out);
            last = whole.end();
            if !self.global {
                break;
            }
        }
        out.push_str(&line[last..]);
        out
    }
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
        assert_eq!(sed("s/$/!/", "a\nb\n"), "a!\nb!\n!");
    }

    #[test]
    fn an_input_over_the_bound_is_an_error_not_a_truncation() {
        let big = vec![b'a'; (files::MAX_FILE + 1) as usize];
        let (status, out, err) = run_builtin("sed", &["-E", "s/a/b/"], &big);
        assert_eq!((status, out.len()), (2, 0), "{err}");
        assert!(err.contains("larger than 16 MiB"), "{err}");
    }

    #[test]
    fn refusals_are_status_2() {
        for args in [
            &["s/a/b/"][..],
            &["-E", "s/a/b/p"],
            &["-E", "s/a/b/;s/c/d/"],
            &["-E", "y/a/b/"],
            &["-E", r"s/a/\2/"],
            &["-E", r"s/(a)/\t/"],
            &["-E", "-n", "s/a/b/"],
            &["-E", "s/a/b"],
            &["-Ei", "s/a/b/"],
            &["-E", r"s|a\|b|c|"],
        ] {
            let (status, _, err) = run_builtin("sed", args, b"a");
            assert_eq!(status, 2, "{args:?}: {err}");
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
        let (status, _, err) = run_builtin("sed", &["-Ei", "s|a|b|", dir.join("missing").to_str().unwrap()], b"");
        assert_eq!(status, 2, "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
