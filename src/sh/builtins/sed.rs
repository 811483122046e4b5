//! `sed [-E|-r] [-i] [-e SCRIPT]... [SCRIPT] [FILE|-]...`, as busybox's reads the subset the
//! charts and their customisations use: commands separated by `;` or newlines, each `s` (flags
//! `g`), `/REGEX/d` or `/REGEX/s...`; a POSIX basic regular expression (BRE) without -E, an
//! extended one (ERE) with it; options anywhere among the operands, as busybox's getopt takes
//! them. In the replacement `\1`..`\9` and `&` insert the match, `\n`, `\t`, `\r` a control
//! character, `\&`, `\\`, `\DELIMITER` and `\` before any other character but a letter the
//! character itself; a raw newline is an error, as in busybox. The input is read line by line
//! (memory is bounded by the longest line, [`MAX_LINE`]); `-i` writes a new file beside the old
//! one and renames it over it, with the old permission bits less setuid and setgid, as busybox.
//! An error busybox has too (an invalid pattern, a missing file) is status 1, as in busybox;
//! anything outside the subset is refused with status 2, and [`refusal`] finds it without running.

use super::{Io, ere, ere::Ere, files};
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
    /// The flag `p`: the line is printed when a substitution was made.
    print: bool,
}

enum Action {
    Substitute(Substitution),
    Delete,
    Print,
}

/// Which lines a command acts on.
enum Address {
    Matching(Ere),
    /// The Nth line of all the input, counted across the files as busybox counts (0: none).
    Line(u64),
}

/// One command: on the lines its address matches (all without one), its action.
struct Command {
    address: Option<Address>,
    action: Action,
}

/// A whole sed invocation, read and checked before any input is.
pub struct Plan {
    commands: Vec<Command>,
    in_place: bool,
    /// `-n`: no line is printed but by `p`.
    quiet: bool,
    /// The lines read so far, across the files.
    line_number: std::cell::Cell<u64>,
    /// The last text written ended without a newline (a last line without one): busybox writes
    /// that newline before anything more.
    newline_owed: std::cell::Cell<bool>,
    /// `-` is the standard input.
    files: Vec<String>,
}

/// Why sed stopped: its status and the line to print. Status 2 is hardinit's refusal (busybox
/// never exits 2), anything else an error busybox has too.
pub struct Failure(pub i32, pub String);

/// A file not written: status 2 where hardinit refuses (a symlink on the way), else 1.
impl From<files::Failed> for Failure {
    fn from(files::Failed(status, message): files::Failed) -> Failure {
        Failure(status, message)
    }
}

/// Writing the output failed: status 1, as busybox.
impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure(1, message)
    }
}

fn refuse(message: impl Into<String>) -> Failure {
    Failure(2, message.into())
}

/// What hardinit refuses in these arguments, found without reading any input: the check that
/// runs before the script (literal arguments) or before the command (expanded ones).
pub fn refusal(args: &[String]) -> Option<String> {
    match Plan::parse(args) {
        Err(Failure(2, message)) => Some(message),
        _ => None,
    }
}

impl Plan {
    pub fn parse(args: &[String]) -> Result<Plan, Failure> {
        let mut extended = false;
        let mut in_place = false;
        let mut quiet = false;
        let mut scripts: Vec<&str> = Vec::new();
        let mut operands: Vec<&String> = Vec::new();
        let mut index = 0;
        // busybox's getopt permutes: an option may follow the operands, until `--`.
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
                let rest = &letters[at + letter.len_utf8()..];
                match letter {
                    'E' | 'r' => extended = true,
                    'n' => quiet = true,
                    'i' if rest.is_empty() => in_place = true,
                    'i' => return Err(refuse(format!("-i{rest}: a backup suffix is not supported"))),
                    'e' => {
                        let script = if rest.is_empty() {
                            index += 1;
                            match args.get(index - 1) {
                                Some(script) => script.as_str(),
                                None => return Err(Failure(1, "option requires an argument -- 'e'".into())),
                            }
                        } else {
                            rest
                        };
                        scripts.push(script);
                        break;
                    }
                    other => {
                        return Err(refuse(format!("-{other} is not supported (only -E, -r, -n, -i and -e are)")));
                    }
                }
            }
        }
        let mut operands = operands.into_iter();
        let joined;
        let script = if scripts.is_empty() {
            match operands.next() {
                Some(script) => script.as_str(),
                None => return Err(Failure(1, "usage: sed [-E] [-i] [-e SCRIPT]... [SCRIPT] [FILE]...".into())),
            }
        } else {
            joined = scripts.join("\n");
            joined.as_str()
        };
        let files: Vec<String> = operands.cloned().collect();
        // The script first, as busybox reads it before it looks at the files.
        let commands = parse_commands(script, extended)?;
        if in_place && files.is_empty() {
            return Err(Failure(1, "-i requires an argument".into()));
        }
        if in_place && files.iter().any(|f| f == "-") {
            return Err(refuse("-i on the standard input (`-`) is not supported"));
        }
        if in_place && commands.iter().any(|c| matches!(c.address, Some(Address::Line(_)))) {
            return Err(refuse("a line number with -i (whether it counts per file differs between seds)"));
        }
        Ok(Plan {
            commands,
            in_place,
            quiet,
            line_number: std::cell::Cell::new(0),
            newline_owed: std::cell::Cell::new(false),
            files,
        })
    }

    fn run(&self, io: &mut Io) -> Result<(), Failure> {
        if self.files.is_empty() {
            return self.stream(&mut *io.stdin, &mut *io.out);
        }
        // As busybox: a file that cannot be read is an error line and status 1, and the others
        // are read all the same.
        let mut failed = None;
        for file in &self.files {
            let path = Path::new(file);
            let done = if self.in_place {
                self.in_place(path)
            } else if file == "-" {
                self.stream(&mut *io.stdin, &mut *io.out)
            } else {
                match files::open_regular(path) {
                    Ok(input) => self.stream(input, &mut *io.out),
                    Err(e) => Err(Failure(1, e)),
                }
            };
            if let Err(Failure(status, message)) = done {
                let _ = writeln!(io.err, "sed: {}", super::super::one_line(&message));
                failed = Some(status);
            }
        }
        match failed {
            Some(status) => Err(Failure(status, String::new())),
            None => Ok(()),
        }
    }

    /// Reads `input` line by line and writes each line as the commands leave it. A final line
    /// without a newline stays without one; nothing follows the last newline.
    fn stream(&self, input: impl Read, out: &mut dyn Write) -> Result<(), Failure> {
        let mut reader = BufReader::new(input);
        let mut out = BufWriter::new(out);
        let mut line = Vec::new();
        let write_error = |e: std::io::Error| Failure(1, e.to_string());
        'lines: loop {
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
            let mut text = line[..line.len() - usize::from(newline)].to_vec();
            let number = self.line_number.get() + 1;
            self.line_number.set(number);
            for command in &self.commands {
                let selected = match &command.address {
                    None => true,
                    Some(Address::Matching(regex)) => regex.is_match(&Ere::line(&text)?)?,
                    Some(Address::Line(n)) => *n == number,
                };
                if !selected {
                    continue;
                }
                match &command.action {
                    Action::Delete => continue 'lines,
                    // busybox ends what `p` prints with a newline, even on a last line without.
                    Action::Print => self.emit(&mut out, &text, true).map_err(write_error)?,
                    Action::Substitute(substitution) => {
                        // Bounded while it grows: a replacement written at every position of a
                        // long line would otherwise take gigabytes before the check.
                        let mut next = BoundedLine(Vec::with_capacity(text.len()));
                        let changed = substitution.line(&text, &mut next).map_err(|e| match e {
                            LineError::Input(e) => Failure(1, e),
                            LineError::Output(e) => write_error(e),
                        })?;
                        text = next.0;
                        if changed && substitution.print {
                            self.emit(&mut out, &text, newline).map_err(write_error)?;
                        }
                    }
                }
            }
            if !self.quiet {
                self.emit(&mut out, &text, newline).map_err(write_error)?;
            }
        }
        out.flush().map_err(write_error)?;
        Ok(())
    }

    /// Writes a line, after the newline an earlier one without it owes.
    fn emit(&self, out: &mut impl Write, text: &[u8], newline: bool) -> std::io::Result<()> {
        if self.newline_owed.replace(!newline) {
            out.write_all(b"\n")?;
        }
        out.write_all(text)?;
        if newline { out.write_all(b"\n") } else { Ok(()) }
    }

    /// `-i`: the new text in a new file beside `path`, renamed over it, with the old permission
    /// bits less setuid and setgid (busybox's too: an edited program is no longer privileged).
    fn in_place(&self, path: &Path) -> Result<(), Failure> {
        let input = files::open_regular(path).map_err(|e| Failure(1, e))?;
        let mode = files::mode_of(&input) & 0o1777;
        // Each file is its own output.
        self.newline_owed.set(false);
        files::replace_atomically(path, mode, |out| self.stream(&input, out))
    }
}

pub fn run(args: &[String], io: &mut Io) -> i32 {
    let done = Plan::parse(args).and_then(|plan| plan.run(io));
    match done {
        Ok(()) => 0,
        Err(Failure(status, message)) if message.is_empty() => status,
        Err(Failure(status, message)) => io.fail("sed", status, message),
    }
}

/// `script` (with -E) run on `input`, all in memory: the pure boundary of sed (a fuzz target's
/// entry point).
pub fn substitute(script: &str, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let commands = parse_commands(script, true).map_err(|Failure(_, e)| e)?;
    let cells = (std::cell::Cell::new(0), std::cell::Cell::new(false));
    Plan { commands, in_place: false, quiet: false, line_number: cells.0, newline_owed: cells.1, files: Vec::new() }
        .stream(input, &mut out)
        .map_err(|Failure(_, e)| e)?;
    Ok(out)
}

/// The commands of a script: `;` and newlines between them, blanks around them.
fn parse_commands(script: &str, extended: bool) -> Result<Vec<Command>, Failure> {
    let chars: Vec<char> = script.chars().collect();
    let mut commands = Vec::new();
    let mut i = 0;
    loop {
        while chars.get(i).is_some_and(|c| matches!(c, ' ' | '\t' | '\n' | ';')) {
            i += 1;
        }
        let Some(&c) = chars.get(i) else { break };
        if c == '#' {
            // A comment, to the end of the line.
            while chars.get(i).is_some_and(|c| *c != '\n') {
                i += 1;
            }
            continue;
        }
        let address = if c == '/' {
            let (pattern, after) = split_at_delimiter(&chars[i + 1..], '/', true)
                .map_err(|_| Failure(1, "unterminated address regex".into()))?;
            i = chars.len() - after.len();
            while chars.get(i).is_some_and(|c| matches!(c, ' ' | '\t')) {
                i += 1;
            }
            if pattern.is_empty() {
                return Err(refuse("an empty regular expression (the previous one) is not supported"));
            }
            Some(Address::Matching(compile(&pattern, extended, false, false)?))
        } else if c.is_ascii_digit() {
            let start = i;
            while chars.get(i).is_some_and(char::is_ascii_digit) {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let n = digits.parse::<u64>().map_err(|_| refuse(format!("{digits}: a line number too large")))?;
            while chars.get(i).is_some_and(|c| matches!(c, ' ' | '\t')) {
                i += 1;
            }
            Some(Address::Line(n))
        } else {
            None
        };
        if matches!(chars.get(i), Some(',' | '!')) {
            return Err(refuse("a range or a negated address is not supported"));
        }
        match chars.get(i) {
            Some('s') => {
                let (substitution, used) = Substitution::parse_at(&chars[i..], extended)?;
                commands.push(Command { address, action: Action::Substitute(substitution) });
                i += used;
            }
            Some('d') => {
                commands.push(Command { address, action: Action::Delete });
                i += 1;
            }
            Some('p') => {
                commands.push(Command { address, action: Action::Print });
                i += 1;
            }
            Some(c) => {
                return Err(refuse(format!("the sed command {c:?} is not supported (only s, d and p are)")));
            }
            None => return Err(Failure(1, "missing command".into())),
        }
        while chars.get(i).is_some_and(|c| matches!(c, ' ' | '\t')) {
            i += 1;
        }
        match chars.get(i) {
            None | Some(';' | '\n') => {}
            Some(c) => return Err(Failure(1, format!("extra characters after command: {c:?}"))),
        }
    }
    if commands.is_empty() {
        return Err(refuse("a script without a command"));
    }
    Ok(commands)
}

/// A pattern as sed reads it: control escapes read, then BRE or ERE, checked and compiled.
/// `ignore_case`: the flag `I`, as REG_ICASE in the C locale ([`ere::ignoring_case`]).
fn compile(pattern: &str, extended: bool, ignore_case: bool, spans: bool) -> Result<Ere, Failure> {
    let failure = |e: ere::PatternError| Failure(if e.refused { 2 } else { 1 }, e.message);
    let pattern = control_escapes(pattern);
    let pattern = if extended { pattern } else { ere::basic_to_extended(&pattern).map_err(failure)? };
    let pattern = if ignore_case { ere::ignoring_case(&pattern).map_err(failure)? } else { pattern };
    Ere::compile(&pattern, spans).map_err(failure)
}

impl Substitution {
    /// The `s` command at the start of `chars`; returns it and how many characters it took.
    /// Err: status 2 for what hardinit refuses, 1 for what busybox fails on too.
    fn parse_at(chars: &[char], extended: bool) -> Result<(Substitution, usize), Failure> {
        let delimiter = chars.get(1).copied().filter(|d| *d != '\\' && *d != '\n');
        let delimiter = delimiter.ok_or_else(|| refuse("`s` needs a delimiter"))?;
        // busybox reads `\n`, `\t`, `\r` as control characters and keeps `\b`, `\s`, `\w`, `\1` as
        // escapes before it splits at an alphanumeric delimiter (`sn\nnXn` looks for a newline),
        // and finds no end for `[`.
        if delimiter.is_ascii_alphanumeric() || delimiter == '[' {
            return Err(refuse(format!("{delimiter:?} as the delimiter of `s` is not supported")));
        }
        let rest = &chars[2..];
        let (pattern, after) = split_at_delimiter(rest, delimiter, true).map_err(|e| Failure(1, e))?;
        let (replacement, after) = split_at_delimiter(after, delimiter, false).map_err(|e| Failure(1, e))?;
        // The flags run to the end of the command; busybox fails on a letter it does not know
        // (status 1) before it reads any input, and runs those it knows, which hardinit refuses.
        let mut global = false;
        let mut ignore_case = false;
        let mut print = false;
        let mut used = chars.len() - after.len();
        let mut comment = false;
        for &flag in after {
            if comment {
                if flag == '\n' {
                    break;
                }
                used += 1;
                continue;
            }
            match flag {
                ';' | '\n' => break,
                // busybox: a comment runs to the end of the line.
                '#' => comment = true,
                'g' => global = true,
                // Every C space, as busybox's isspace() skips them.
                ' ' | '\t' | '\u{b}' | '\u{c}' | '\r' => {}
                'I' | 'i' => ignore_case = true,
                'p' => print = true,
                'w' | '0'..='9' => {
                    return Err(refuse(format!("the flag {flag:?} of `s` is not supported (only g, I and p are)")));
                }
                _ => return Err(Failure(1, "bad option in substitution expression".into())),
            }
            used += 1;
        }
        if pattern.is_empty() {
            return Err(refuse("an empty regular expression (the previous one) is not supported"));
        }
        let regex = compile(&pattern, extended, ignore_case, true)?;
        let replacement = parse_replacement(&replacement, delimiter, regex.groups)?;
        if let Some(group) = replacement.iter().find_map(|piece| match piece {
            Piece::Group(g) if regex.inside_repetition.contains(g) => Some(g),
            _ => None,
        }) {
            return Err(refuse(format!(
                "\\{group}: a group inside a repeated group (what it holds after the last repetition differs between sed implementations)"
            )));
        }
        Ok((Substitution { regex, replacement, global, print }, used))
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

/// A line being built, refused past [`MAX_LINE`].
struct BoundedLine(Vec<u8>);

impl Write for BoundedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if (self.0.len() + bytes.len()) as u64 > MAX_LINE {
            return Err(std::io::Error::other(format!("a line longer than {} MiB", MAX_LINE >> 20)));
        }
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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

/// The text up to the next unescaped `delimiter`, and what follows it. `\DELIMITER` stays as it
/// is, as busybox keeps it (`s|a\|b|X|` looks for `a|b` in an ERE, for `a` or `b` in a BRE).
/// In a pattern (`brackets`), a delimiter inside a bracket expression is a member of the set, as
/// busybox reads it (`s/[^/]*$//`): a `[` opens one, and the first `]` that is not its first
/// member closes it. A raw newline ends the command first, as in busybox.
fn split_at_delimiter(chars: &[char], delimiter: char, brackets: bool) -> Result<(String, &[char]), String> {
    let mut text = String::new();
    let mut i = 0;
    let mut bracket: Option<usize> = None;
    while i < chars.len() {
        let c = chars[i];
        if let Some(start) = bracket {
            let first_member = i == start + 1 || (i == start + 2 && chars[start + 1] == '^');
            if c == ']' && !first_member {
                bracket = None;
            }
            text.push(c);
            i += 1;
            continue;
        }
        match c {
            '\\' if chars.get(i + 1) == Some(&delimiter) => {
                // A letter stands for itself; punctuation keeps its backslash; a digit stays
                // `\1` (a back-reference, refused, where busybox fails too).
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
            '[' if brackets => {
                bracket = Some(i);
                text.push(c);
                i += 1;
            }
            c if c == delimiter => return Ok((text, &chars[i + 1..])),
            '\n' => break,
            c => {
                text.push(c);
                i += 1;
            }
        }
    }
    Err(format!("`s` is not closed by {delimiter:?}"))
}

/// `\n`, `\t` and `\r` as the characters they name, in brackets and out: busybox's sed reads
/// `[^\n]` as "not a newline" and `\t` as a tab before its C library sees the pattern, where in
/// POSIX a backslash in brackets would be one more member of the set.
fn control_escapes(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    let control = |c: Option<&char>| match c {
        Some('n') => Some('\n'),
        Some('t') => Some('\t'),
        Some('r') => Some('\r'),
        _ => None,
    };
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                match control(chars.get(i + 1)) {
                    Some(c) => out.push(c),
                    None => out.extend(chars.get(i..i + 2).unwrap_or(&chars[i..])),
                }
                i += 2;
            }
            '[' => {
                // A bracket that does not close is left to the check, which says so.
                let end = ere::bracket(&chars, i).unwrap_or(chars.len());
                let mut j = i;
                while j < end {
                    match control(chars.get(j + 1)) {
                        Some(c) if chars[j] == '\\' && j + 1 < end => {
                            out.push(c);
                            j += 2;
                        }
                        _ if chars[j] == '\\' && j + 1 < end => {
                            out.extend(&chars[j..j + 2]);
                            j += 2;
                        }
                        _ => {
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
                Some('r') => literal.push('\r'),
                // busybox writes a newline for it, as POSIX says: refused, so that a value never
                // adds lines to a configuration.
                Some('\n') => {
                    return Err(Failure(2, "a backslash and a newline in the replacement (write \\n)".into()));
                }
                // busybox writes any other character as itself (`C:\ Program Files`); a letter
                // is refused, as GNU sed gives some (`\L`, `\u`) other meanings.
                Some(c) if !c.is_ascii_alphabetic() || c == delimiter => literal.push(c),
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
        for (script, expected, says) in [
            ("s|POD_IP|10.0.0.1\"\nui = true\nx = \"|g", 1, "not closed"),
            ("s/a/x\\\ny/", 2, "newline in the replacement"),
        ] {
            let (status, out, err) = run_builtin("sed", &["-E", script], b"POD_IP a\n");
            assert_eq!((status, out.as_str()), (expected, ""), "{script:?}");
            assert!(err.contains(says), "{err}");
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
            (&["-E", "s/a/b/w f"][..], 2),
            (&["-E", "y/a/b/"], 2),
            (&["$p"], 2),
            (&["-i.bak", "s/a/b/", "f"], 2),
            (&["1,2p"], 2),
            (&["s/a/b/G"], 1),
            (&["s|a|b|c|"], 1),
            (&["-E", r"s/(a)/\q/"], 2),
            (&["-E", "-f", "s/a/b/"], 2),
            (&["-Ei", "s/a/b/"], 1),
            (&["-E", "s//b/"], 2),
            (&["-E", "s/a**/b/"], 2),
            (&["-E", r"sn\nnXn"], 2),
            (&["-E", "s[a[b["], 2),
            (&["-iE", "s/a/b/", "f"], 2),
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
