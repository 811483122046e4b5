//! POSIX extended regular expressions (ERE), as `grep -E` and `sed -E` read them, translated into
//! the syntax of regex-lite (a small engine that runs in time linear in the input: no pattern can
//! make it hang). Only what ERE defines is accepted: a GNU extension (`\w`, `\s`, `\b`, `\<`) or a
//! back-reference inside a pattern is refused rather than read differently.
//!
//! regex-lite picks the leftmost-first match where POSIX picks the leftmost-longest; the two can
//! differ only with alternation, which `sed` here cannot contain (`|` is its delimiter in the
//! scripts hardinit runs) and which changes nothing for `grep` (a line matches or it does not).

use regex_lite::Regex;

/// RE_DUP_MAX: the largest bound in `{m,n}`.
const MAX_REPEAT: u32 = 255;

/// Compiles an ERE; the error is one line.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    let translated = translate(pattern)?;
    Regex::new(&translated).map_err(|e| format!("{pattern:?}: {}", e.to_string().lines().last().unwrap_or("invalid")))
}

const CLASSES: [&str; 12] =
    ["alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "print", "graph", "cntrl", "xdigit"];

/// Escapes a literal character for regex-lite (any ASCII punctuation may be escaped there).
fn literal(c: char, out: &mut String) {
    if c.is_ascii_punctuation() {
        out.push('\\');
    }
    out.push(c);
}

pub fn translate(pattern: &str) -> Result<String, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    // Whether the last thing written can take a quantifier (an atom, not `(`, `|`, `^` or a start).
    let mut atom = false;
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else { return Err("a trailing backslash".into()) };
                if next.is_ascii_digit() {
                    return Err(format!("\\{next}: a back-reference inside a pattern is not supported"));
                }
                if next.is_ascii_alphanumeric() || "<>`'".contains(next) {
                    return Err(format!("\\{next} is not POSIX (a GNU extension)"));
                }
                literal(next, &mut out);
                i += 2;
                atom = true;
                continue;
            }
            '[' => {
                i = bracket(&chars, i, &mut out)?;
                atom = true;
                continue;
            }
            '(' => {
                depth += 1;
                out.push('(');
                atom = false;
            }
            ')' if depth > 0 => {
                depth -= 1;
                out.push(')');
                atom = true;
            }
            '|' => {
                out.push('|');
                atom = false;
            }
            '^' | '$' => {
                out.push(c);
                atom = false;
            }
            '.' => {
                out.push('.');
                atom = true;
            }
            '*' | '+' | '?' => {
                if !atom {
                    return Err(format!("`{c}` with nothing to repeat"));
                }
                out.push(c);
                // POSIX leaves adjacent repetitions (`a**`, `a+{2}`) undefined: refuse them.
                if matches!(chars.get(i + 1), Some('*' | '+' | '?' | '{')) {
                    return Err(format!("`{c}` followed by another repetition"));
                }
                atom = false;
            }
            '{' => {
                if !atom {
                    return Err("`{` with nothing to repeat".into());
                }
                let close = chars[i..].iter().position(|&c| c == '}').ok_or("`{` not closed")?;
                let bound: String = chars[i + 1..i + close].iter().collect();
                let (low, high) = match bound.split_once(',') {
                    Some((low, high)) => (low, Some(high)),
                    None => (bound.as_str(), None),
                };
                let number = |t: &str| t.parse::<u32>().ok().filter(|n| *n <= MAX_REPEAT);
                let valid = number(low).is_some()
                    && high.is_none_or(|h| h.is_empty() || number(h).is_some_and(|h| Some(h) >= number(low)));
                if !valid {
                    return Err(format!(
                        "{{{bound}}}: a bound must be {{m}}, {{m,}} or {{m,n}} with m <= n <= {MAX_REPEAT}"
                    ));
                }
                out.push('{');
                out.push_str(&bound);
                out.push('}');
                i += close + 1;
                if matches!(chars.get(i), Some('*' | '+' | '?' | '{')) {
                    return Err(format!("{{{bound}}} followed by another repetition"));
                }
                atom = false;
                continue;
            }
            _ => {
                literal(c, &mut out);
                atom = true;
            }
        }
        i += 1;
    }
    if depth > 0 {
        return Err("`(` not closed".into());
    }
    Ok(out)
}

/// A bracket expression starting at `chars[start]` (`[`); returns the index after its `]`.
fn bracket(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else { return Err("`[` not closed".into()) };
        match c {
            ']' if !first => {
                out.push(']');
                return Ok(i + 1);
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                let rest: String = chars[i + 2..].iter().collect();
                let end = rest.find(":]").ok_or("`[:` not closed by `:]`")?;
                let class = &rest[..end];
                if !CLASSES.contains(&class) {
                    return Err(format!("[:{class}:] is not a character class"));
                }
                out.push_str(&format!("[:{class}:]"));
                i += 2 + end + 2;
            }
            '[' if matches!(chars.get(i + 1), Some('=' | '.')) => {
                return Err("equivalence classes and collating symbols are not supported".into());
            }
            // A range: both ends literal.
            '-' if !first && chars.get(i + 1).is_some_and(|n| *n != ']') => {
                out.push('-');
                i += 1;
            }
            _ => {
                // Inside brackets a backslash is an ordinary character in POSIX.
                literal(c, out);
                i += 1;
            }
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        compile(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}")).is_match(text)
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
        assert!(matches("x&&y~~z", "x&&y~~z"), "class-set operators are literal");
        assert!(matches("#", "#"));
        for refused in [
            r"\w",
            r"(a)\1",
            r"\<a",
            "*a",
            "a{2",
            "a{3,2}",
            "a{999}",
            "a**",
            "a+{2}",
            "[[:foo:]]",
            "[[=a=]]",
            "(a",
            "[a",
            "a\\",
        ] {
            assert!(compile(refused).is_err(), "{refused:?} accepted");
        }
    }
}
