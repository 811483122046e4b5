//! POSIX extended regular expressions (ERE), as `grep -E` and `sed -E` read them: checked here
//! against the subset hardinit documents, then compiled and run by the C library (src/sys/regex.rs:
//! musl's regcomp/regexec in the static binary, leftmost-longest as POSIX and busybox). A pattern
//! passes to the C library unchanged, so `<`, `>` and every other character mean what POSIX says.
//!
//! Refused rather than read one way or another: back-references (they make a matcher backtrack),
//! GNU escapes (`\w`, `\<`, `\b`...), what POSIX leaves undefined (a repetition of nothing, two
//! repetitions in a row, an empty alternative, an unmatched `)`, a `{` that is no bound), and a
//! pattern too big to run in reasonable time on a long line: the matcher's cost grows with the
//! pattern once its bounds are expanded (`(a{0,30}){0,30}` is 900 copies of `a`), so that size
//! is bounded. Errors name the offset in the pattern, never the pattern itself (it may be long).

use crate::sys::regex::Regex;
use std::ffi::{CStr, CString};
use std::ops::Range;

/// RE_DUP_MAX: the largest bound in `{m,n}`.
const MAX_REPEAT: u32 = 255;
/// The most atoms a pattern may have once `{m,n}` copies are counted. The matcher's time per
/// input byte grows with it; at this size a hostile pattern still runs at about 50 KB/s.
const MAX_ATOMS: u64 = 512;
/// Parentheses nested deeper than this are refused.
const MAX_DEPTH: usize = 32;
/// The longest pattern accepted.
const MAX_PATTERN: usize = 4096;

const CLASSES: [&str; 12] =
    ["alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph", "cntrl", "xdigit"];

/// Why a pattern is not run: `refused` when it is outside the subset (what busybox would run
/// another way), otherwise invalid in POSIX too (busybox fails as well).
#[derive(Debug)]
pub struct PatternError {
    pub refused: bool,
    pub message: String,
}

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn refused(message: String) -> PatternError {
    PatternError { refused: true, message }
}

fn invalid(message: String) -> PatternError {
    PatternError { refused: false, message }
}

/// A pattern checked and compiled.
pub struct Ere {
    regex: Regex,
    /// The number of parenthesised groups.
    pub groups: usize,
    /// The groups inside a group that repeats (`2` in `((a)|b)+`): what such a group holds after
    /// the last repetition differs between C libraries (musl: nothing when the last one did not
    /// reach it, as POSIX says; glibc, which busybox's sed uses: what an earlier one matched).
    pub inside_repetition: Vec<usize>,
}

impl Ere {
    /// Checks `pattern` against the documented subset and compiles it; `spans`: the caller needs
    /// the positions of matches (sed), not only whether a line matches (grep).
    pub fn compile(pattern: &str, spans: bool) -> Result<Ere, PatternError> {
        let Structure { groups, inside_repetition } = structure(pattern)?;
        let c_pattern =
            CString::new(pattern).map_err(|_| refused("a NUL byte in the regular expression".to_string()))?;
        let regex = Regex::compile(&c_pattern, spans).map_err(|e| invalid(format!("the regular expression: {e}")))?;
        Ok(Ere { regex, groups, inside_repetition })
    }

    /// A line (without its newline) as the matcher reads it.
    pub fn line(text: &[u8]) -> Result<CString, String> {
        CString::new(text).map_err(|_| "a NUL byte in the input (not text)".to_string())
    }

    /// The leftmost-longest match in `line` from byte `from` on, with the span of each group.
    pub fn find(&self, line: &CStr, from: usize) -> Result<Option<Vec<Option<Range<usize>>>>, String> {
        let mut spans = vec![None; self.groups + 1];
        match self.regex.find(line, from, &mut spans) {
            Ok(true) => Ok(Some(spans)),
            Ok(false) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn is_match(&self, line: &CStr) -> Result<bool, String> {
        self.regex.find(line, 0, &mut []).map_err(|e| e.to_string())
    }
}

/// A POSIX basic regular expression (BRE: `grep` and `sed` without -E) written as the ERE that
/// means the same to the C library, so that one check and one matcher serve both: `\(`, `\)`,
/// `\{`, `\}` are the operators and `(`, `)`, `{`, `}`, `|`, `+`, `?` ordinary characters;
/// `*` first (of the pattern or of a group) is ordinary; `^` is an anchor only first and `$`
/// only last. `\|`, `\+`, `\?` are GNU's alternation and repetitions, which busybox's C
/// library (glibc) reads as such: so are they here. Everything else (back-references, `\w`...)
/// passes on as an escape for the ERE check to refuse.
pub fn basic_to_extended(pattern: &str) -> Result<String, PatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    // At the start of the pattern, of a group or of an alternative: `*` is ordinary there.
    let mut at_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let starts = at_start;
        at_start = false;
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err(invalid(format!(
                        "the regular expression, at character {}: a trailing backslash",
                        i + 1
                    )));
                };
                match next {
                    '(' | '|' => {
                        out.push(next);
                        at_start = true;
                    }
                    ')' | '{' | '}' | '+' | '?' => out.push(next),
                    _ => {
                        out.push('\\');
                        out.push(next);
                    }
                }
                i += 2;
                continue;
            }
            '[' => {
                let end = bracket(&chars, i).unwrap_or(chars.len());
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            '*' if starts => out.push_str("\\*"),
            '^' if starts => {
                out.push('^');
                // `^*`: the star is ordinary after a leading anchor too.
                at_start = true;
            }
            '$' if i + 1 == chars.len() || matches!(chars.get(i + 1..i + 3), Some(['\\', ')' | '|'])) => out.push('$'),
            '^' | '$' | '(' | ')' | '{' | '}' | '|' | '+' | '?' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

/// An ERE that matches what `pattern` matches with ASCII case ignored, as the C library's
/// REG_ICASE in the C locale (busybox's `grep -i`, sed's `I`): each letter outside brackets
/// becomes `[xX]`. A bracket expression with a letter in it (other than a class name such as
/// `[:alpha:]`) is refused: its ranges fold in ways that differ between C libraries.
pub fn ignoring_case(pattern: &str) -> Result<String, PatternError> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                out.extend(chars.get(i..i + 2).unwrap_or(&chars[i..]));
                i += 2;
            }
            '[' => {
                let end = bracket(&chars, i).unwrap_or(chars.len());
                let inside: String = chars[i..end].iter().collect();
                let mut without_classes = inside.clone();
                // `[:upper:]` and `[:lower:]` match both cases under REG_ICASE: left in, refused.
                for class in CLASSES.iter().filter(|c| !matches!(**c, "upper" | "lower")) {
                    without_classes = without_classes.replace(&format!("[:{class}:]"), "");
                }
                if without_classes.chars().any(|c| c.is_ascii_alphabetic()) {
                    return Err(refused(format!(
                        "the regular expression, at character {}: a letter in a bracket expression, with case ignored",
                        i + 1
                    )));
                }
                out.push_str(&inside);
                i = end;
            }
            c if c.is_ascii_alphabetic() => {
                out.push('[');
                out.push(c.to_ascii_lowercase());
                out.push(c.to_ascii_uppercase());
                out.push(']');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Whether `pattern` matches `text`, and where: the pure boundary of the regex layer (a fuzz
/// target's entry point). Err: the pattern is refused or invalid.
pub fn first_match(pattern: &str, text: &[u8]) -> Result<Option<Vec<Option<Range<usize>>>>, String> {
    Ere::compile(pattern, true).map_err(|e| e.message)?.find(&Ere::line(text)?, 0)
}

/// What a pattern is built of, as far as the check needs to know.
#[derive(Clone, Copy, PartialEq)]
enum Last {
    /// The start of the pattern, of a group or of an alternative: nothing to repeat yet.
    Nothing,
    /// `^` or `$`: an anchor, which POSIX leaves undefined to repeat.
    Anchor,
    /// An atom (a character, `.`, a bracket expression, a group) of this many atoms.
    Atom(u64),
    /// A repetition just ended: another one right after it is undefined.
    Repeated,
}

/// One open group (or the whole pattern): atoms so far, what came last, and what the check of
/// empty alternatives needs.
struct Level {
    atoms: u64,
    last: Last,
    /// When the last atom is a group: the numbers of the groups inside it.
    last_inner_groups: Option<std::ops::RangeInclusive<usize>>,
    /// The number this group has (0 for the whole pattern).
    number: usize,
    /// Where the group opened, for messages.
    start: usize,
    /// The current alternative can match the empty string, and could before its last atom.
    nullable: bool,
    nullable_before_last: bool,
    /// The current alternative holds `^` or `$` (here or in a group inside it).
    anchored: bool,
    /// How many finished alternatives can match the empty string; whether one of those has an anchor.
    nullable_alternatives: u32,
    nullable_anchored: bool,
    /// Some anchor anywhere in the group.
    any_anchor: bool,
}

impl Level {
    fn new(start: usize, number: usize) -> Level {
        Level {
            atoms: 0,
            last: Last::Nothing,
            last_inner_groups: None,
            number,
            start,
            nullable: true,
            nullable_before_last: true,
            anchored: false,
            nullable_alternatives: 0,
            nullable_anchored: false,
            any_anchor: false,
        }
    }

    fn atom(&mut self, size: u64, nullable: bool, anchored: bool) {
        self.atoms += size;
        self.last = Last::Atom(size);
        self.last_inner_groups = None;
        self.nullable_before_last = self.nullable;
        self.nullable &= nullable;
        self.anchored |= anchored;
        self.any_anchor |= anchored;
    }

    fn end_alternative(&mut self) {
        if self.nullable {
            self.nullable_alternatives += 1;
            self.nullable_anchored |= self.anchored;
        }
        (self.nullable, self.nullable_before_last, self.anchored) = (true, true, false);
    }

    /// musl's matcher (TRE) misses matches when two alternatives of one group can both match the
    /// empty string and one has an anchor: `(^|$)`, `^|x*$` (`b(^|$)` does not match `b`).
    fn check_alternatives(&self) -> Result<(), &'static str> {
        if self.nullable_alternatives >= 2 && self.nullable_anchored {
            return Err("two alternatives that can match nothing, one with an anchor (`^|$`)");
        }
        Ok(())
    }
}

/// What the check learns of a pattern's groups.
struct Structure {
    groups: usize,
    inside_repetition: Vec<usize>,
}

/// Checks `pattern` against the subset; returns its number of groups.
pub fn check(pattern: &str) -> Result<usize, PatternError> {
    structure(pattern).map(|s| s.groups)
}

fn structure(pattern: &str) -> Result<Structure, PatternError> {
    if pattern.len() > MAX_PATTERN {
        return Err(refused(format!("a regular expression longer than {MAX_PATTERN} bytes")));
    }
    let chars: Vec<char> = pattern.chars().collect();
    let at = |i: usize, what: &str| format!("the regular expression, at character {}: {what}", i + 1);
    let mut levels = vec![Level::new(0, 0)];
    let mut groups = 0;
    let mut inside_repetition = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let level = levels.last_mut().expect("the outermost level is never closed");
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else { return Err(invalid(at(i, "a trailing backslash"))) };
                if next.is_ascii_digit() {
                    return Err(refused(at(i, &format!("\\{next}: a back-reference is not supported"))));
                }
                if next.is_ascii_alphanumeric() || "<>`'".contains(next) {
                    return Err(refused(at(i, &format!("\\{next} is not POSIX (a GNU extension)"))));
                }
                if next == '\n' {
                    return Err(refused(at(i, "a backslash before a newline")));
                }
                level.atom(1, false, false);
                i += 2;
                continue;
            }
            '[' => {
                i = bracket(&chars, i).map_err(
                    |(is_invalid, e)| {
                        if is_invalid { invalid(at(i, &e)) } else { refused(at(i, &e)) }
                    },
                )?;
                level.atom(1, false, false);
                continue;
            }
            '(' => {
                if levels.len() > MAX_DEPTH {
                    return Err(refused(at(i, &format!("groups nested deeper than {MAX_DEPTH}"))));
                }
                groups += 1;
                levels.push(Level::new(i, groups));
            }
            ')' => {
                if levels.len() == 1 {
                    return Err(refused(at(i, "`)` without `(`")));
                }
                let mut group = levels.pop().expect("checked above");
                if group.last == Last::Nothing {
                    return Err(refused(at(i, "an empty group or alternative")));
                }
                group.end_alternative();
                group.check_alternatives().map_err(|e| refused(at(group.start, e)))?;
                let parent = levels.last_mut().expect("the outermost level");
                parent.atom(group.atoms.max(1), group.nullable_alternatives > 0, group.any_anchor);
                parent.last_inner_groups = Some(group.number + 1..=groups);
            }
            '|' => {
                if level.last == Last::Nothing {
                    return Err(refused(at(i, "an empty alternative")));
                }
                level.end_alternative();
                level.last = Last::Nothing;
            }
            '^' | '$' => {
                level.anchored = true;
                level.any_anchor = true;
                level.last = Last::Anchor;
            }
            '*' | '+' | '?' | '{' => {
                let size = match level.last {
                    Last::Atom(size) => size,
                    Last::Repeated => return Err(refused(at(i, &format!("`{c}` right after another repetition")))),
                    Last::Nothing | Last::Anchor => {
                        return Err(refused(at(i, &format!("`{c}` with nothing to repeat"))));
                    }
                };
                let mut optional = c != '+';
                if c == '{' {
                    let close =
                        chars[i..].iter().position(|&c| c == '}').ok_or_else(|| invalid(at(i, "`{` not closed")))?;
                    let bound: String = chars[i + 1..i + close].iter().collect();
                    let (low, copies) = copies(&bound).map_err(|is_invalid| {
                        let e = at(i, &format!("a bound must be {{m}}, {{m,}} or {{m,n}} with m <= n <= {MAX_REPEAT}"));
                        if is_invalid { invalid(e) } else { refused(e) }
                    })?;
                    // The matcher holds a copy of the atom for each repetition the bound allows.
                    level.atoms += size * (copies.max(1) - 1);
                    optional = low == 0;
                    i += close;
                }
                if optional {
                    level.nullable = level.nullable_before_last;
                }
                if c != '?' {
                    inside_repetition.extend(level.last_inner_groups.take().into_iter().flatten());
                }
                level.last = Last::Repeated;
            }
            _ => level.atom(1, false, false),
        }
        if levels.iter().map(|l| l.atoms).sum::<u64>() > MAX_ATOMS {
            let too_big = format!("more than {MAX_ATOMS} atoms once its bounds are expanded (too slow to run)");
            return Err(refused(at(i, &too_big)));
        }
        i += 1;
    }
    if let Some(open) = levels.get(1) {
        return Err(invalid(at(open.start, "`(` not closed")));
    }
    if levels[0].last == Last::Nothing && !chars.is_empty() {
        return Err(refused(at(chars.len() - 1, "an empty alternative")));
    }
    levels[0].end_alternative();
    levels[0].check_alternatives().map_err(|e| refused(at(0, e)))?;
    Ok(Structure { groups, inside_repetition })
}

/// `m`, `m,` or `m,n` (no blanks, m <= n <= RE_DUP_MAX): how many copies of the atom the
/// matcher holds (`m,` is m copies and a star), with m. Err(true): invalid in POSIX too (n < m);
/// Err(false): outside the subset.
fn copies(bound: &str) -> Result<(u32, u64), bool> {
    let number = |t: &str| {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit())).then(|| t.parse::<u32>().ok()).flatten().ok_or(false)
    };
    let (low, high) = match bound.split_once(',') {
        Some((low, "")) => (number(low)?, None),
        Some((low, high)) => (number(low)?, Some(number(high)?)),
        None => (number(bound)?, None),
    };
    if high.is_some_and(|h| h < low) {
        return Err(true);
    }
    if low > MAX_REPEAT || high.is_some_and(|h| h > MAX_REPEAT) {
        return Err(false);
    }
    let copies = match (bound.contains(','), high) {
        (true, None) => u64::from(low) + 1,
        (_, Some(high)) => u64::from(high),
        (false, None) => u64::from(low),
    };
    Ok((low, copies))
}

/// A bracket expression starting at `chars[start]` (`[`); returns the index after its `]`.
/// Err: (invalid in POSIX too, why).
pub(super) fn bracket(chars: &[char], start: usize) -> Result<usize, (bool, String)> {
    let mut i = start + 1;
    if chars.get(i) == Some(&'^') {
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else { return Err((true, "`[` not closed".into())) };
        match c {
            ']' if !first => return Ok(i + 1),
            '[' if chars.get(i + 1) == Some(&':') => {
                let rest: String = chars[i + 2..].iter().collect();
                let end = rest.find(":]").ok_or((false, "`[:` not closed by `:]`".to_string()))?;
                let class = &rest[..end];
                if !CLASSES.contains(&class) {
                    return Err((true, format!("[:{class}:] is not a character class")));
                }
                i += 2 + class.chars().count() + 2;
            }
            '[' if matches!(chars.get(i + 1), Some('=' | '.')) => {
                return Err((false, "equivalence classes and collating symbols are not supported".into()));
            }
            // Inside brackets a backslash is an ordinary character in POSIX.
            _ => i += 1,
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        first_match(pattern, text.as_bytes()).unwrap_or_else(|e| panic!("{pattern}: {e}")).is_some()
    }

    fn whole(pattern: &str, text: &str) -> Option<Range<usize>> {
        first_match(pattern, text.as_bytes()).unwrap().and_then(|spans| spans[0].clone())
    }

    #[test]
    fn the_patterns_of_the_charts() {
        assert!(matches("^sealed: (true|false)", "sealed: true"));
        assert!(!matches("^sealed: (true|false)", "  sealed: true"));
        assert!(matches(r"^[[:space:]]*(#|//)", "   # comment"));
        assert!(matches(r"^[[:space:]]*(#|//)", "// comment"));
        let zone = r#"\"?autopilot_redundancy_zone\"?[[:space:]]*[=:][[:space:]]*\"VAULT_REDUNDANCY_ZONE\""#;
        assert!(matches(zone, r#"    autopilot_redundancy_zone = "VAULT_REDUNDANCY_ZONE""#));
        assert!(matches(zone, r#""autopilot_redundancy_zone": "VAULT_REDUNDANCY_ZONE""#));
        assert!(!matches(zone, r#"autopilot_redundancy_zone = "zone-a""#));
        assert!(matches("HOST_IP", "address = \"HOST_IP:8500\""));
    }

    #[test]
    fn posix_rules_not_perl_ones() {
        assert!(matches(r"a\.b", "a.b") && !matches(r"a\.b", "axb"));
        assert!(matches(r"[\d]", "\\"), "a backslash in brackets is literal");
        assert!(matches("[]a]", "]"));
        assert!(matches("[^]a]", "b") && !matches("[^]a]", "]"));
        assert!(matches("[a-c]x", "bx"));
        assert!(matches("[a-]", "-"));
        assert!(matches("a{2,3}", "aa") && !matches("^a{2,3}$", "aaaa"));
        assert!(matches("x&&y~~z", "x&&y~~z"));
        assert!(matches("#", "#"));
        assert!(matches("<html>", "<html>") && !matches("<html>", "a html b"), "< and > are literal");
        assert!(matches("[<>]", ">"));
        assert_eq!(whole("a|ab", "ab"), Some(0..2), "leftmost-longest, not leftmost-first");
        assert_eq!(whole("a?(ab)?", "ab"), Some(0..2));
        assert_eq!(whole("x*", "abc"), Some(0..0));
    }

    #[test]
    fn outside_the_subset_is_refused_on_one_short_line() {
        for refused in [
            r"\w",
            r"(a)\1",
            r"\<a",
            r"a\>",
            r"\b",
            "*a",
            "a{2",
            "a{3,2}",
            "a{999}",
            "a{,2}",
            "a{ 2}",
            "a**",
            "a+{2}",
            "^*",
            "[[:foo:]]",
            "[[=a=]]",
            "(a",
            "a)",
            "()",
            "a||b",
            "|a",
            "a|",
            "(|a)",
            "[a",
            "a\\",
            "(.{0,32}){0,32}",
            "(a{255}){255}",
            "^|$",
            "$|^",
            "b(^|$)",
            "^|x*$",
            "^$|$",
            "x|^|$",
            "((^)|a{0,2}$)",
        ] {
            let error = check(refused).err().unwrap_or_else(|| panic!("{refused:?} accepted")).message;
            assert_eq!(error.lines().count(), 1, "{error}");
        }
        let long = format!("{}(", "a".repeat(60_000));
        let error = Ere::compile(&long, false).err().unwrap().message;
        assert!(error.len() < 120, "{error}");
        assert!(check(&"(".repeat(40)).is_err(), "nesting bound");
        assert!(check("(a|b){0,255}x").is_ok(), "510 atoms");
        assert!(check("").is_ok());
        for accepted in ["(^|[^a])b", "a*|b*", "(^|x)", "^(a|b)*$", "(a|)x".replace("|)", "|b)").as_str()] {
            assert!(check(accepted).is_ok(), "{accepted:?}");
        }
    }

    #[test]
    fn input_with_a_nul_byte_is_an_error() {
        assert!(first_match("a", b"a\0b").is_err());
    }
}
