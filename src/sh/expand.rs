//! Words → fields, at run time: parameters, `$((...))` and `$(pidof ...)` are replaced, then what
//! came from an unquoted expansion is split at blanks (space, tab, newline: the default IFS).
//! Nothing is globbed: the lexer refuses unquoted `*`, `?` and `[`, and expansion results are
//! never matched against file names.

use super::arith;
use super::lexer::{Part, Word};

/// What expansions read.
pub trait Scope {
    /// A variable, or `1`..`9`, `0`, `?`, `#`, `$`.
    fn lookup(&self, name: &str) -> Option<String>;
    /// `$(pidof NAMES)`: the pids, space-separated (empty when none).
    fn pidof(&self, names: &[String]) -> String;
}

/// Why a word could not be expanded: one line, as sh prints it.
pub type ExpandError = String;

fn is_blank(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n')
}

/// All the fields of `words`.
pub fn fields(words: &[Word], scope: &dyn Scope) -> Result<Vec<String>, ExpandError> {
    let mut out = Vec::new();
    for word in words {
        out.extend(word_fields(word, scope)?);
    }
    Ok(out)
}

/// One word without field splitting: assignments, redirection targets.
pub fn single(word: &Word, scope: &dyn Scope) -> Result<String, ExpandError> {
    let mut text = String::new();
    for part in &word.parts {
        text.push_str(&part_text(part, scope)?.0);
    }
    Ok(text)
}

/// The text of one part, and whether it is subject to splitting.
fn part_text(part: &Part, scope: &dyn Scope) -> Result<(String, bool), ExpandError> {
    Ok(match part {
        Part::Text { text, .. } => (text.clone(), false),
        Part::Param { name, required, quoted } => {
            let value = scope.lookup(name);
            if *required && value.is_none() {
                return Err(format!("{name}: parameter not set"));
            }
            (value.unwrap_or_default(), !quoted)
        }
        Part::Arith { expr, quoted } => {
            let value = arith::eval(expr, &|name| scope.lookup(name)).map_err(|e| format!("arithmetic: {e}"))?;
            (value.to_string(), !quoted)
        }
        Part::Pidof { names, quoted } => {
            let names = names.iter().filter_map(Word::literal).collect::<Vec<_>>();
            (scope.pidof(&names), !quoted)
        }
    })
}

fn word_fields(word: &Word, scope: &dyn Scope) -> Result<Vec<String>, ExpandError> {
    let mut fields = Vec::new();
    let mut current = String::new();
    // A field exists once anything quoted or any text has gone into it: `""` is one empty field,
    // an unquoted expansion of nothing is none.
    let mut started = false;
    for part in &word.parts {
        let (text, split) = part_text(part, scope)?;
        let quoted_literal =
            matches!(part, Part::Text { quoted: true, .. }) || (!split && !matches!(part, Part::Text { .. }));
        if !split {
            current.push_str(&text);
            started |= quoted_literal || !text.is_empty();
            continue;
        }
        for (index, piece) in text.split(is_blank).enumerate() {
            // From the second piece on, a blank separated this piece from the previous text.
            if index > 0 && started {
                fields.push(std::mem::take(&mut current));
                started = false;
            }
            if !piece.is_empty() {
                current.push_str(piece);
                started = true;
            }
        }
    }
    if started {
        fields.push(current);
    }
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sh::lexer::{Token, tokens};

    struct Fixed;
    impl Scope for Fixed {
        fn lookup(&self, name: &str) -> Option<String> {
            match name {
                "n" => Some("3".into()),
                "spaced" => Some("  a  b ".into()),
                "empty" => Some(String::new()),
                _ => None,
            }
        }
        fn pidof(&self, names: &[String]) -> String {
            if names == ["vault"] { "12 7".into() } else { String::new() }
        }
    }

    fn expand(script: &str) -> Result<Vec<String>, String> {
        let words: Vec<Word> = tokens(script)
            .unwrap()
            .into_iter()
            .filter_map(|t| if let Token::Word(w) = t { Some(w) } else { None })
            .collect();
        fields(&words, &Fixed)
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
    fn a_required_parameter_that_is_unset_is_an_error() {
        assert_eq!(expand("${missing?}").unwrap_err(), "missing: parameter not set");
        assert_eq!(expand("${empty?}").unwrap(), Vec::<String>::new(), "set but empty is fine");
    }
}
