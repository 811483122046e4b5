//! `grep -E [-q] [-v] PATTERN [FILE]`: selects lines of a file or of the standard input (a pipe
//! included) that match a POSIX ERE (`-v`: that do not). Prints them, or with `-q` prints nothing
//! and stops at the first. Status 0 when a line was selected, 1 when none, 2 on an error.

use super::sed::MAX_LINE;
use super::{Io, ere::Ere, files, options};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub fn run(args: &[String], io: &mut Io) -> i32 {
    let (letters, operands) = match options(args, "Eqv") {
        Ok(parsed) => parsed,
        Err(e) => return io.fail("grep", 2, e),
    };
    if !letters.contains(&'E') {
        return io.fail("grep", 2, "only extended regular expressions (-E) are supported");
    }
    let (quiet, invert) = (letters.contains(&'q'), letters.contains(&'v'));
    let (pattern, file) = match operands {
        [pattern] => (pattern, None),
        [pattern, file] => (pattern, Some(Path::new(file))),
        _ => return io.fail("grep", 2, "usage: grep -E [-q] [-v] PATTERN [FILE]"),
    };
    let regex = match Ere::compile(pattern, false) {
        Ok(r) => r,
        Err(e) => return io.fail("grep", 2, e.message),
    };
    let mut opened;
    let input: &mut dyn Read = match file {
        Some(path) => match files::open_regular(path) {
            Ok(f) => {
                opened = f;
                &mut opened
            }
            Err(e) => return io.fail("grep", 2, e),
        },
        None => io.stdin,
    };
    let mut reader = BufReader::new(input);
    let mut selected = false;
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader).take(MAX_LINE + 1).read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return io.fail("grep", 2, e),
        }
        if line.len() as u64 > MAX_LINE {
            return io.fail("grep", 2, format!("a line longer than {} MiB", MAX_LINE >> 20));
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let matched = Ere::line(text).and_then(|text| regex.is_match(&text));
        match matched {
            Ok(matched) if matched == invert => continue,
            Ok(_) => {}
            Err(e) => return io.fail("grep", 2, e),
        }
        selected = true;
        if quiet {
            break;
        }
        let written = io.out.write_all(text).and_then(|()| io.out.write_all(b"\n"));
        if let Err(e) = written {
            return io.fail("grep", 2, e);
        }
    }
    if selected { 0 } else { 1 }
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
        for args in
            [&["x"][..], &["-Ec", "x"], &["-E"], &["-E", r"\w"], &["-E", "x", "/nonexistent"], &["-E", "x", "a", "b"]]
        {
            let (status, _, err) = run_builtin("grep", args, b"x\n");
            assert_eq!(status, 2, "{args:?}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        }
    }
}
