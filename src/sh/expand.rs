//! Words → fields, at run time: parameters, `$((...))` and `$(pidof ...)` are replaced, then what
//! came from an unquoted expansion is split at blanks (space, tab, newline: the default IFS).
//! Values are bytes, as the environment gives them (a value need not be UTF-8).
//!
//! Nothing is globbed. A field with an unquoted `*`, `?` or `[...]` is a pattern to sh; when it
//! matches no file, sh passes it on as it is, and so does hardinit (an IPv6 address such as
//! `[::]:8200` is one). When it would match a file, sh would pass the file names instead:
//! hardinit refuses there ([`Field::matching_file`]), so that the result is sh's or a refusal.

use super::arith;
use super::lexer::{Conditional, Part, Word};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// What expansions read.
pub trait Scope {
    /// A variable, or `1`..`9`, `0`, `?`, `#`, `$`.
    fn lookup(&self, name: &str) -> Option<Vec<u8>>;
    /// `$(pidof NAMES)`: the pids, space-separated (empty when none).
    fn pidof(&self, names: &[String]) -> Vec<u8>;
}

/// Why a word could not be expanded: one line, as sh prints it.
pub type ExpandError = String;

/// One field after splitting: its bytes, and for each byte whether it was quoted (a quoted `*` is
/// never a pattern character).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Field {
    pub bytes: Vec<u8>,
    quoted: Vec<bool>,
}

impl Field {
    fn push(&mut self, bytes: &[u8], quoted: bool) {
        self.bytes.extend_from_slice(bytes);
        self.quoted.extend(std::iter::repeat_n(quoted, bytes.len()));
    }

    pub fn into_os_string(self) -> OsString {
        OsString::from_vec(self.bytes)
    }

    /// When this field is a pattern that matches a file: that file (sh would have passed the
    /// names of the files instead of the field).
    pub fn matching_file(&self) -> Option<PathBuf> {
        matching_file(self, &|dir| {
            let entries = std::fs::read_dir(dir).ok()?;
            Some(entries.flatten().map(|e| e.file_name()).collect())
        })
    }
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

/// All the fields of `words`.
pub fn fields(words: &[Word], scope: &dyn Scope) -> Result<Vec<Field>, ExpandError> {
    let mut out = Vec::new();
    for word in words {
        out.extend(word_fields(word, scope)?);
    }
    Ok(out)
}

/// One word without field splitting or patterns: assignments, redirection targets.
pub fn single(word: &Word, scope: &dyn Scope) -> Result<Vec<u8>, ExpandError> {
    let mut text = Vec::new();
    for part in &word.parts {
        text.extend(part_text(part, scope)?.0);
    }
    Ok(text)
}

/// The text of one part, and whether it is subject to splitting.
fn part_text(part: &Part, scope: &dyn Scope) -> Result<(Vec<u8>, bool), ExpandError> {
    Ok(match part {
        Part::Text { text, .. } => (text.as_bytes().to_vec(), false),
        Part::Param { name, required, quoted } => {
            let value = scope.lookup(name);
            if *required && value.is_none() {
                return Err(format!("{name}: parameter not set"));
            }
            (value.unwrap_or_default(), !quoted)
        }
        Part::Conditional { name, op, colon, word, quoted } => {
            let value = scope.lookup(name);
            let missing = value.as_ref().is_none_or(|v| *colon && v.is_empty());
            let text = match op {
                Conditional::Default if missing => word.as_bytes().to_vec(),
                Conditional::Default => value.unwrap_or_default(),
                Conditional::Alternative if missing => Vec::new(),
                Conditional::Alternative => word.as_bytes().to_vec(),
                Conditional::Required if missing => {
                    let why = if !word.is_empty() {
                        word.clone()
                    } else if *colon {
                        "parameter not set or null".to_string()
                    } else {
                        "parameter not set".to_string()
                    };
                    return Err(format!("{name}: {why}"));
                }
                Conditional::Required => value.unwrap_or_default(),
            };
            (text, !quoted)
        }
        Part::Length { name, quoted } => {
            (scope.lookup(name).unwrap_or_default().len().to_string().into_bytes(), !quoted)
        }
        Part::Arith { expr, quoted } => {
            let value = arith::eval(expr, &|name| scope.lookup(name)).map_err(|e| format!("arithmetic: {e}"))?;
            (value.to_string().into_bytes(), !quoted)
        }
        Part::Pidof { names, quoted } => {
            let names = names.iter().filter_map(Word::literal).collect::<Vec<_>>();
            (scope.pidof(&names), !quoted)
        }
    })
}

/// The fields of one word.
pub fn word_fields(word: &Word, scope: &dyn Scope) -> Result<Vec<Field>, ExpandError> {
    let mut fields = Vec::new();
    let mut current = Field::default();
    // A field exists once anything quoted or any text has gone into it: `""` is one empty field,
    // an unquoted expansion of nothing is none.
    let mut started = false;
    for part in &word.parts {
        let (text, split) = part_text(part, scope)?;
        let quoted = match part {
            Part::Text { quoted, .. }
            | Part::Param { quoted, .. }
            | Part::Conditional { quoted, .. }
            | Part::Length { quoted, .. }
            | Part::Arith { quoted, .. }
            | Part::Pidof { quoted, .. } => *quoted,
        };
        if !split {
            current.push(&text, quoted);
            started |= quoted || !text.is_empty();
            continue;
        }
        for (index, piece) in text.split(|b| is_blank(*b)).enumerate() {
            // From the second piece on, a blank separated this piece from the previous text.
            if index > 0 && started {
                fields.push(std::mem::take(&mut current));
                started = false;
            }
            if !piece.is_empty() {
                current.push(piece, false);
                started = true;
            }
        }
    }
    if started {
        fields.push(current);
    }
    Ok(fields)
}

/// One element of a pattern, as dash's pmatch reads it.
#[derive(Clone, Debug, PartialEq)]
enum Glob {
    Byte(u8),
    AnyByte,
    AnyBytes,
    Bracket { negated: bool, items: Vec<BracketItem> },
}

#[derive(Clone, Debug, PartialEq)]
enum BracketItem {
    Byte(u8),
    Range(u8, u8),
    Class(String),
}

/// The pattern of one path component, None when it has no pattern character (`[` without its
/// `]` is an ordinary character, as in sh).
fn component_pattern(bytes: &[u8], quoted: &[bool]) -> Option<Vec<Glob>> {
    let mut out = Vec::new();
    let mut any = false;
    let mut i = 0;
    while i < bytes.len() {
        let (b, q) = (bytes[i], quoted[i]);
        i += 1;
        match b {
            _ if q => out.push(Glob::Byte(b)),
            b'*' => {
                any = true;
                out.push(Glob::AnyBytes);
            }
            b'?' => {
                any = true;
                out.push(Glob::AnyByte);
            }
            // An unquoted backslash (from an expansion) escapes the next byte, as in dash.
            b'\\' if i < bytes.len() => {
                out.push(Glob::Byte(bytes[i]));
                i += 1;
            }
            b'[' => match bracket(&bytes[i..], &quoted[i..]) {
                Some((glob, length)) => {
                    any = true;
                    out.push(glob);
                    i += length;
                }
                None => out.push(Glob::Byte(b'[')),
            },
            _ => out.push(Glob::Byte(b)),
        }
    }
    any.then_some(out)
}

/// After `[`: the bracket expression up to its unquoted `]`, and how many bytes it took.
fn bracket(bytes: &[u8], quoted: &[bool]) -> Option<(Glob, usize)> {
    let mut i = 0;
    let negated = bytes.first() == Some(&b'!') && !quoted[0];
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let first = i;
    loop {
        let b = *bytes.get(i)?;
        let q = quoted[i];
        // A `]` right after `[` or `[!` is a member, not the end.
        if b == b']' && !q && i > first {
            return Some((Glob::Bracket { negated, items }, i + 1));
        }
        if b == b'[' && !q && bytes.get(i + 1) == Some(&b':') {
            let rest = &bytes[i + 2..];
            if let Some(end) = rest.windows(2).position(|w| w == b":]") {
                items.push(BracketItem::Class(String::from_utf8_lossy(&rest[..end]).into_owned()));
                i += 2 + end + 2;
                continue;
            }
        }
        let (low, step) = if b == b'\\' && !q && i + 1 < bytes.len() { (bytes[i + 1], 2) } else { (b, 1) };
        i += step;
        if bytes.get(i) == Some(&b'-') && bytes.get(i + 1).is_some_and(|b| *b != b']' || quoted[i + 1]) {
            items.push(BracketItem::Range(low, bytes[i + 1]));
            i += 2;
        } else {
            items.push(BracketItem::Byte(low));
        }
    }
}

fn in_class(class: &str, b: u8) -> bool {
    match class {
        "alpha" => b.is_ascii_alphabetic(),
        "digit" => b.is_ascii_digit(),
        "alnum" => b.is_ascii_alphanumeric(),
        "upper" => b.is_ascii_uppercase(),
        "lower" => b.is_ascii_lowercase(),
        "space" => matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'),
        "blank" => matches!(b, b' ' | b'\t'),
        "punct" => b.is_ascii_punctuation(),
        "print" => (0x20..0x7f).contains(&b),
        "graph" => b.is_ascii_graphic(),
        "cntrl" => b.is_ascii_control(),
        "xdigit" => b.is_ascii_hexdigit(),
        // An unknown class: count it as matching, so that the check errs towards a refusal.
        _ => true,
    }
}

fn glob_matches_byte(glob: &Glob, b: u8) -> bool {
    match glob {
        Glob::Byte(c) => *c == b,
        Glob::AnyByte => true,
        Glob::AnyBytes => unreachable!("handled by the caller"),
        Glob::Bracket { negated, items } => {
            let member = items.iter().any(|item| match item {
                BracketItem::Byte(c) => *c == b,
                BracketItem::Range(low, high) => (*low..=*high).contains(&b),
                BracketItem::Class(class) => in_class(class, b),
            });
            member != *negated
        }
    }
}

/// Whether `name` matches `pattern`: `*` with backtracking to the last star only, so the time
/// is bounded by the product of the lengths, never exponential.
fn name_matches(pattern: &[Glob], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(Glob::AnyBytes) => {
                resume = Some((p, n));
                p += 1;
            }
            Some(glob) if glob_matches_byte(glob, name[n]) => {
                p += 1;
                n += 1;
            }
            _ => match resume {
                Some((star, at)) => {
                    p = star + 1;
                    n = at + 1;
                    resume = Some((star, at + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|g| *g == Glob::AnyBytes)
}

/// Whether `text`, unquoted, is a pattern that matches one of `names` (the entries of one
/// directory): the matcher alone, without the file system, for tests and fuzzing.
pub fn pattern_matches_a_name(text: &[u8], names: &[&[u8]]) -> bool {
    let quoted = vec![false; text.len()];
    let Some(pattern) = component_pattern(text, &quoted) else { return false };
    let leading_dot = matches!(pattern.first(), Some(Glob::Byte(b'.')));
    names.iter().any(|name| (leading_dot || name.first() != Some(&b'.')) && name_matches(&pattern, name))
}

/// How many directory entries the check reads at most before it gives up (and refuses).
const MAX_ENTRIES: usize = 100_000;

/// The first file `field` matches as a pattern, component by component as dash's expmeta walks:
/// a component without a pattern character is taken as it is, one with one is matched against
/// the names `list` gives for the directory so far (a leading `.` matched only by a `.`, as in
/// sh). Past [`MAX_ENTRIES`] the field counts as matching: a refusal, never a guess.
fn matching_file(field: &Field, list: &dyn Fn(&Path) -> Option<Vec<OsString>>) -> Option<PathBuf> {
    let bytes = &field.bytes;
    let mut components: Vec<(&[u8], &[bool])> = Vec::new();
    let mut start = 0;
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'/' {
            components.push((&bytes[start..i], &field.quoted[start..i]));
            start = i + 1;
        }
    }
    components.push((&bytes[start..], &field.quoted[start..]));
    let patterns: Vec<Option<Vec<Glob>>> = components.iter().map(|(b, q)| component_pattern(b, q)).collect();
    if patterns.iter().all(Option::is_none) {
        return None;
    }
    let absolute = bytes.first() == Some(&b'/');
    let mut paths: Vec<PathBuf> = vec![PathBuf::from(if absolute { "/" } else { "" })];
    let mut read = 0usize;
    let last = components.len() - 1;
    for (index, ((text, _), pattern)) in components.iter().zip(&patterns).enumerate() {
        if index == 0 && absolute {
            continue;
        }
        let mut next = Vec::new();
        for path in &paths {
            match pattern {
                None => next.push(path.join(std::ffi::OsStr::from_bytes(text))),
                Some(pattern) => {
                    let dir = if path.as_os_str().is_empty() { Path::new(".") } else { path.as_path() };
                    let Some(mut names) = list(dir) else { continue };
                    if matches!(pattern.first(), Some(Glob::Byte(b'.'))) {
                        names.extend([".".into(), "..".into()]);
                    }
                    for name in names {
                        read += 1;
                        if read > MAX_ENTRIES {
                            return Some(path.clone());
                        }
                        let name_bytes = name.as_bytes();
                        let hidden = name_bytes.first() == Some(&b'.');
                        if hidden && !matches!(pattern.first(), Some(Glob::Byte(b'.'))) {
                            continue;
                        }
                        if name_matches(pattern, name_bytes) {
                            next.push(path.join(&name));
                        }
                    }
                }
            }
        }
        // Only directories can hold what the next components name; the end must exist (a
        // dangling symlink counts, as sh's lstat counts it).
        paths = if index == last && pattern.is_none() {
            next.into_iter().filter(|p| std::fs::symlink_metadata(p).is_ok()).collect()
        } else {
            next
        };
        if paths.is_empty() {
            return None;
        }
    }
    paths.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sh::lexer::{Token, tokens};

    struct Fixed;
    impl Scope for Fixed {
        fn lookup(&self, name: &str) -> Option<Vec<u8>> {
            match name {
                "n" => Some(b"3".to_vec()),
                "spaced" => Some(b"  a  b ".to_vec()),
                "empty" => Some(Vec::new()),
                "bytes" => Some(b"\xff\xfe x".to_vec()),
                _ => None,
            }
        }
        fn pidof(&self, names: &[String]) -> Vec<u8> {
            if names == ["vault"] { b"12 7".to_vec() } else { Vec::new() }
        }
    }

    fn expand(script: &str) -> Result<Vec<String>, String> {
        let words: Vec<Word> = tokens(script)
            .unwrap()
            .into_iter()
            .filter_map(|t| if let Token::Word(w) = t { Some(w) } else { None })
            .collect();
        let fields = fields(&words, &Fixed)?;
        Ok(fields.into_iter().map(|f| String::from_utf8_lossy(&f.bytes).into_owned()).collect())
    }

    #[test]
    fn splitting_follows_the_quotes() {
        assert_eq!(expand("$spaced").unwrap(), ["a", "b"]);
        assert_eq!(expand("\"$spaced\"").unwrap(), ["  a  b "]);
        assert_eq!(expand("x$spaced").unwrap(), ["x", "a", "b"]);
        assert_eq!(expand("x${spaced}y").unwrap(), ["x", "a", "b", "y"], "the trailing blank ends `b`");
        assert_eq!(expand("$empty $unset").unwrap(), Vec::<String>::new());
        assert_eq!(expand("\"$empty\" ''").unwrap(), ["", ""]);
        assert_eq!(expand("$n...").unwrap(), ["3..."]);
        assert_eq!(expand("kill -SIGTERM $(pidof vault)").unwrap(), ["kill", "-SIGTERM", "12", "7"]);
        assert_eq!(expand("$(pidof none)").unwrap(), Vec::<String>::new());
        assert_eq!(expand("n=$((n+1))").unwrap(), ["n=4"]);
    }

    #[test]
    fn an_empty_quoted_string_after_an_expansion_makes_a_field() {
        assert_eq!(expand("$empty\"\" x").unwrap(), ["", "x"]);
        assert_eq!(expand("$spaced\"\"").unwrap(), ["a", "b", ""]);
        assert_eq!(expand("$empty''").unwrap(), [""]);
    }

    #[test]
    fn values_are_bytes() {
        let words: Vec<Word> = tokens("\"$bytes\"")
            .unwrap()
            .into_iter()
            .filter_map(|t| if let Token::Word(w) = t { Some(w) } else { None })
            .collect();
        assert_eq!(fields(&words, &Fixed).unwrap()[0].bytes, b"\xff\xfe x");
    }

    #[test]
    fn a_required_parameter_that_is_unset_is_an_error() {
        assert_eq!(expand("${missing?}").unwrap_err(), "missing: parameter not set");
        assert_eq!(expand("${empty?}").unwrap(), Vec::<String>::new(), "set but empty is fine");
    }

    fn field(text: &str, quoted: bool) -> Field {
        let mut f = Field::default();
        f.push(text.as_bytes(), quoted);
        f
    }

    fn matches_in(text: &str, names: &[&str]) -> Option<PathBuf> {
        let names: Vec<OsString> = names.iter().map(OsString::from).collect();
        matching_file(&field(text, false), &|dir| (dir == Path::new(".")).then(|| names.clone()))
    }

    #[test]
    fn patterns_match_as_in_sh() {
        assert_eq!(matches_in("[::]:8200", &["a", "b"]), None, "an IPv6 literal matches no file");
        assert!(matches_in("[::]:8200", &["::8200"]).is_some());
        assert!(matches_in("[fd00::1]:8200", &["f:8200"]).is_some());
        assert!(matches_in("*", &["a"]).is_some());
        assert_eq!(matches_in("*", &[".hidden"]), None);
        assert!(matches_in(".*", &[]).is_some(), ". and .. are there");
        assert!(matches_in("[!a]", &["b"]).is_some());
        assert_eq!(matches_in("[!a]", &["a"]), None);
        assert_eq!(matches_in("[^a]", &["b"]), None, "dash has no `^` negation");
        assert!(matches_in("[^a]", &["a"]).is_some());
        assert!(matches_in("[x]]", &["x]"]).is_some());
        assert_eq!(matches_in("[]x]", &["y"]), None);
        assert!(matches_in("[[:alpha:]]", &["q"]).is_some());
        assert!(matches_in("a*b*c", &["aXbYc"]).is_some());
        assert_eq!(matches_in("a*b*c", &["aXbY"]), None);
        assert_eq!(matches_in("[", &["["]), None, "`[` alone is no pattern");
        assert_eq!(matching_file(&field("*", true), &|_| Some(vec!["a".into()])), None, "quoted");
        assert_eq!(matches_in("https://[fd00::1]:8200", &["https:"]), None, "https: is no directory here");
        assert!(pattern_matches_a_name(b"[::]:8200", &[b"a", b"::8200"]));
        assert!(!pattern_matches_a_name(b"[::]:8200", &[b"[::]:8200"]), "the pattern is not its own text");
        assert!(!pattern_matches_a_name(b"*", &[b".hidden"]));
        assert!(!pattern_matches_a_name(b"plain", &[b"plain"]), "no pattern character: no pattern");
    }

    /// A matcher that backtracked into every star would not finish these.
    #[test]
    fn many_stars_against_a_long_name() {
        let pattern = "*a".repeat(2_000);
        let name = vec![b'a'; 4_000];
        assert!(pattern_matches_a_name(pattern.as_bytes(), &[&name]));
        assert!(!pattern_matches_a_name(format!("{pattern}b").as_bytes(), &[&name]));
    }
}
