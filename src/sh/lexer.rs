//! Script text → tokens: words (with their quoting and expansions kept apart, so that what was
//! quoted is never split nor read as a pattern) and operators. Everything outside the documented subset is refused here
//! or in the parser, with its line and column, before anything runs.

use super::Refusal;
use super::arith::{self, Expr};

/// Where a token starts, 1-based, for refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One piece of a word.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    /// Text from the script, quoted or not (quotes removed, escapes applied).
    Text { text: String, quoted: bool },
    /// `$NAME`, `${NAME}`, `${NAME?}` (`required`), `$1`, `$?`, `$#`, `$$`.
    Param { name: String, required: bool, quoted: bool },
    /// `${NAME:-WORD}`, `${NAME-WORD}`, `${NAME:+WORD}`, `${NAME+WORD}`, `${NAME:?WORD}`,
    /// `${NAME?WORD}`: WORD is plain text (no quote, expansion or backslash in it).
    Conditional { name: String, op: Conditional, colon: bool, word: String, quoted: bool },
    /// `${#NAME}`: the length of the value, in bytes (dash counts bytes).
    Length { name: String, quoted: bool },
    /// `$((...))`.
    Arith { expr: Expr, quoted: bool },
    /// `$(pidof NAME...)`: the only command substitution understood.
    Pidof { names: Vec<Word>, quoted: bool },
}

/// What a conditional parameter expansion does when the parameter is unset (or, with `:`, empty).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Conditional {
    /// `-`: the word instead.
    Default,
    /// `+`: the word when set, else nothing.
    Alternative,
    /// `?`: an error naming the parameter, with the word as its message.
    Required,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Word {
    pub parts: Vec<Part>,
    pub pos: Pos,
}

impl Word {
    /// The word's text when it holds no expansion (quoted or not).
    pub fn literal(&self) -> Option<String> {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The word as the parser's check of a built-in reads it: its text, each expansion as `x`
    /// (one plain character: a value that reshapes a sed program or a pattern is judged again
    /// when it runs). None for a word without text of its own (`"$PROG"`: anything).
    pub fn sketch(&self) -> Option<String> {
        let all_text = self.parts.iter().all(|p| matches!(p, Part::Text { .. }));
        let has_text = all_text || self.parts.iter().any(|p| matches!(p, Part::Text { text, .. } if !text.is_empty()));
        has_text.then(|| {
            self.parts
                .iter()
                .map(|p| match p {
                    Part::Text { text, .. } => text.as_str(),
                    _ => "x",
                })
                .collect()
        })
    }

    /// True for a word written exactly `text`, without quotes: how reserved words are recognised.
    pub fn is_bare(&self, text: &str) -> bool {
        matches!(self.parts.as_slice(), [Part::Text { text: t, quoted: false }] if t == text)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Semicolon,
    Newline,
    And,
    Or,
    Pipe,
    /// `N>&M` (N defaults to 1): N and M are 1 or 2.
    Duplicate {
        from: u8,
        to: u8,
    },
    /// `> FILE`: the next token is the file.
    ToFile,
    /// `>>`: appending.
    AppendToFile,
    /// `2>`: the standard error to a file (the parser takes /dev/null only).
    ErrorToFile,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    Word(Word),
    Op(Op, Pos),
    End(Pos),
}

pub fn tokens(script: &str) -> Result<Vec<Token>, Refusal> {
    let mut lexer = Lexer { chars: script.chars().collect(), at: 0, line: 1, column: 1 };
    let mut out = Vec::new();
    loop {
        let token = lexer.next_token()?;
        let end = matches!(token, Token::End(_));
        out.push(token);
        if end {
            return Ok(out);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
}

fn refuse<T>(pos: Pos, what: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal { pos, message: what.into() })
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Characters that end an unquoted word.
fn is_delimiter(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')')
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.column }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn next_token(&mut self) -> Result<Token, Refusal> {
        // Blanks, comments and line continuations between tokens.
        loop {
            match self.peek() {
                Some(' ' | '\t') => {
                    self.bump();
                }
                Some('\\') if self.peek_at(1) == Some('\n') => {
                    self.bump();
                    self.bump();
                }
                Some('#') => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                _ => break,
            }
        }
        let pos = self.pos();
        let Some(c) = self.peek() else { return Ok(Token::End(pos)) };
        let op = |lexer: &mut Lexer, op: Op, length: usize| {
            for _ in 0..length {
                lexer.bump();
            }
            Ok(Token::Op(op, pos))
        };
        match (c, self.peek_at(1)) {
            ('\n', _) => op(self, Op::Newline, 1),
            (';', Some(';')) => refuse(pos, "`;;` (case)"),
            (';', _) => op(self, Op::Semicolon, 1),
            ('&', Some('&')) => op(self, Op::And, 2),
            ('&', _) => refuse(pos, "`&` (a command in the background)"),
            ('|', Some('|')) => op(self, Op::Or, 2),
            ('|', _) => op(self, Op::Pipe, 1),
            ('(' | ')', _) => refuse(pos, "`(` `)` (a subshell)"),
            ('>' | '<', _) => self.redirection(None, pos),
            _ => self.word(pos),
        }
    }

    /// After an optional descriptor number: `>&2`, `2>&1`, `> FILE`; nothing else.
    fn redirection(&mut self, from: Option<u32>, pos: Pos) -> Result<Token, Refusal> {
        let c = self.bump();
        if c == Some('<') {
            return refuse(pos, "an input redirection (`<`, `<<`)");
        }
        match self.peek() {
            Some('>') if from.is_none_or(|f| f == 1) => {
                self.bump();
                Ok(Token::Op(Op::AppendToFile, pos))
            }
            Some('>') => refuse(pos, "`>>` of a descriptor other than 1"),
            Some('|') => refuse(pos, "`>|`"),
            Some('&') => {
                self.bump();
                let to = self.bump();
                let from = from.unwrap_or(1);
                match (from, to) {
                    (1 | 2, Some(to @ ('1' | '2'))) if self.peek().is_none_or(is_delimiter) => {
                        Ok(Token::Op(Op::Duplicate { from: from as u8, to: to as u8 - b'0' }, pos))
                    }
                    _ => refuse(pos, "a redirection other than `>&2`, `1>&2` or `2>&1`"),
                }
            }
            _ if from.is_none_or(|f| f == 1) => Ok(Token::Op(Op::ToFile, pos)),
            _ if from == Some(2) => Ok(Token::Op(Op::ErrorToFile, pos)),
            _ => refuse(pos, "a redirection of a descriptor other than 1 to a file"),
        }
    }

    fn word(&mut self, pos: Pos) -> Result<Token, Refusal> {
        let mut parts: Vec<Part> = Vec::new();
        let mut text = String::new();
        let flush = |text: &mut String, parts: &mut Vec<Part>| {
            if !text.is_empty() {
                parts.push(Part::Text { text: std::mem::take(text), quoted: false });
            }
        };
        while let Some(c) = self.peek() {
            let here = self.pos();
            match c {
                _ if is_delimiter(c) => break,
                '\'' => {
                    flush(&mut text, &mut parts);
                    self.bump();
                    let mut quoted = String::new();
                    loop {
                        match self.bump() {
                            Some('\'') => break,
                            Some(c) => quoted.push(c),
                            None => return refuse(here, "an unterminated single quote"),
                        }
                    }
                    parts.push(Part::Text { text: quoted, quoted: true });
                }
                '"' => {
                    flush(&mut text, &mut parts);
                    self.bump();
                    self.double_quoted(here, &mut parts)?;
                }
                '\\' => {
                    self.bump();
                    match self.bump() {
                        Some('\n') => {}
                        Some(c) => {
                            // An escaped character is quoted: flush so that it is never split or globbed.
                            flush(&mut text, &mut parts);
                            parts.push(Part::Text { text: c.to_string(), quoted: true });
                        }
                        None => return refuse(here, "a backslash at the end of the script"),
                    }
                }
                '$' => {
                    flush(&mut text, &mut parts);
                    parts.push(self.dollar(false)?);
                }
                '`' => return refuse(here, "a backtick command substitution"),
                '~' if parts.is_empty() && text.is_empty() => return refuse(here, "`~` (tilde expansion)"),
                '{' | '}' if parts.is_empty() && text.is_empty() && self.peek_at(1).is_none_or(is_delimiter) => {
                    return refuse(here, format!("`{c}` (a brace group)"));
                }
                _ => {
                    self.bump();
                    text.push(c);
                }
            }
            // `2>&1`: a word of digits right before `>` is a descriptor number.
            if matches!(self.peek(), Some('>' | '<'))
                && parts.is_empty()
                && !text.is_empty()
                && text.bytes().all(|b| b.is_ascii_digit())
            {
                let from = text.parse::<u32>().ok();
                return self.redirection(from.filter(|f| *f <= 9).or(Some(u32::MAX)), pos);
            }
        }
        flush(&mut text, &mut parts);
        Ok(Token::Word(Word { parts, pos }))
    }

    /// After the opening `"`: text, `$` expansions, and the backslash escapes POSIX keeps inside
    /// double quotes (`\$`, `` \` ``, `\"`, `\\`, backslash-newline); any other backslash is literal.
    fn double_quoted(&mut self, start: Pos, parts: &mut Vec<Part>) -> Result<(), Refusal> {
        let mut text = String::new();
        let before = parts.len();
        loop {
            let here = self.pos();
            match self.peek() {
                None => return refuse(start, "an unterminated double quote"),
                Some('"') => {
                    self.bump();
                    break;
                }
                Some('\\') => {
                    self.bump();
                    match self.peek() {
                        Some('\n') => {
                            self.bump();
                        }
                        Some(c @ ('$' | '`' | '"' | '\\')) => {
                            self.bump();
                            text.push(c);
                        }
                        _ => text.push('\\'),
                    }
                }
                Some('$') => {
                    if !text.is_empty() {
                        parts.push(Part::Text { text: std::mem::take(&mut text), quoted: true });
                    }
                    parts.push(self.dollar(true)?);
                }
                Some('`') => return refuse(here, "a backtick command substitution"),
                Some(c) => {
                    self.bump();
                    text.push(c);
                }
            }
        }
        // `""` is an empty field, not nothing, even after an expansion (`$V""`): keep an empty
        // quoted part.
        if !text.is_empty() || parts.len() == before {
            parts.push(Part::Text { text, quoted: true });
        }
        Ok(())
    }

    /// At a `$`.
    fn dollar(&mut self, quoted: bool) -> Result<Part, Refusal> {
        let pos = self.pos();
        self.bump();
        // dash removes a line continuation before it reads what follows `$` (`$\<newline>X` is
        // `$X`); here `$` would be literal.
        if self.peek() == Some('\\') && self.peek_at(1) == Some('\n') {
            return refuse(pos, "a line continuation right after `$`");
        }
        match self.peek() {
            Some('{') => {
                self.bump();
                if self.peek() == Some('#') && self.peek_at(1).is_some_and(|c| is_name_start(c) || c.is_ascii_digit()) {
                    self.bump();
                    let name = self.name_or_special(pos)?;
                    if self.bump() != Some('}') {
                        return refuse(
                            pos,
                            "a parameter expansion other than ${NAME}, ${#NAME}, ${NAME:-WORD}, ${NAME:+WORD}, ${NAME:?WORD}",
                        );
                    }
                    return Ok(Part::Length { name, quoted });
                }
                let name = self.name_or_special(pos)?;
                let colon = self.peek() == Some(':');
                if colon {
                    self.bump();
                }
                let op = match self.bump() {
                    Some('}') if !colon => None,
                    Some('-') => Some(Conditional::Default),
                    Some('+') => Some(Conditional::Alternative),
                    Some('?') => Some(Conditional::Required),
                    _ => {
                        return refuse(
                            pos,
                            "a parameter expansion other than ${NAME}, ${#NAME}, ${NAME:-WORD}, ${NAME:+WORD}, ${NAME:?WORD}",
                        );
                    }
                };
                let required = match op {
                    None => false,
                    Some(op) => {
                        let mut word = String::new();
                        loop {
                            match self.bump() {
                                Some('}') => break,
                                Some(c @ ('$' | '`' | '\\' | '"' | '\'' | '{' | '\n')) => {
                                    return refuse(
                                        pos,
                                        format!("{c:?} inside ${{NAME:-WORD}} (its WORD is plain text)"),
                                    );
                                }
                                Some(c) => word.push(c),
                                None => return refuse(pos, "an unterminated ${"),
                            }
                        }
                        if op == Conditional::Required && !colon && word.is_empty() {
                            true
                        } else {
                            // `~` first in WORD is the home directory to dash.
                            if word.starts_with('~') && op != Conditional::Required {
                                return refuse(pos, "`~` at the start of ${NAME:-WORD}'s WORD");
                            }
                            if name == "#" {
                                return refuse(pos, "`${#...}` with an operator");
                            }
                            return Ok(Part::Conditional { name, op, colon, word, quoted });
                        }
                    }
                };
                // dash reads `${#?}` as the length of `$?`, not as `${#}` required.
                if name == "#" && required {
                    return refuse(pos, "`${#?}` (the length of `$?` in dash)");
                }
                Ok(Part::Param { name, required, quoted })
            }
            Some('(') if self.peek_at(1) == Some('(') => {
                self.bump();
                self.bump();
                let text = self.arithmetic_text(pos)?;
                let expr = arith::parse(&text).map_err(|why| Refusal { pos, message: format!("$((...)): {why}") })?;
                Ok(Part::Arith { expr, quoted })
            }
            Some('(') => {
                self.bump();
                self.pidof(pos, quoted)
            }
            Some(c) if is_name_start(c) || c.is_ascii_digit() || matches!(c, '?' | '#' | '$') => {
                Ok(Part::Param { name: self.name_or_special(pos)?, required: false, quoted })
            }
            Some(c @ ('@' | '*' | '!' | '-')) => refuse(pos, format!("`${c}`")),
            // A lone `$` is literal, as in sh.
            _ => Ok(Part::Text { text: "$".into(), quoted }),
        }
    }

    /// A variable name, one digit, or `?`, `#`, `$`.
    fn name_or_special(&mut self, pos: Pos) -> Result<String, Refusal> {
        match self.peek() {
            Some(c) if c.is_ascii_digit() || matches!(c, '?' | '#' | '$') => {
                self.bump();
                Ok(c.to_string())
            }
            Some(c) if is_name_start(c) => {
                let mut name = String::new();
                while let Some(c) = self.peek().filter(|c| is_name_char(*c)) {
                    self.bump();
                    name.push(c);
                }
                // dash joins the lines first: `$X\<newline>Y` is `$XY`.
                if self.peek() == Some('\\')
                    && self.peek_at(1) == Some('\n')
                    && self.peek_at(2).is_some_and(is_name_char)
                {
                    return refuse(pos, "a line continuation inside a name");
                }
                Ok(name)
            }
            _ => refuse(pos, "a parameter expansion without a name"),
        }
    }

    /// The text of `$((...))` up to the matching `))`.
    fn arithmetic_text(&mut self, pos: Pos) -> Result<String, Refusal> {
        let mut depth = 0usize;
        let mut text = String::new();
        loop {
            match self.bump() {
                None => return refuse(pos, "an unterminated $(("),
                Some('(') => {
                    depth += 1;
                    text.push('(');
                }
                Some(')') if depth == 0 => {
                    return if self.bump() == Some(')') {
                        Ok(text)
                    } else {
                        refuse(pos, "$((...)) not closed by `))`")
                    };
                }
                Some(')') => {
                    depth -= 1;
                    text.push(')');
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// After `$(`: `pidof` and plain words, up to `)`.
    fn pidof(&mut self, pos: Pos, quoted: bool) -> Result<Part, Refusal> {
        let mut words = Vec::new();
        loop {
            while matches!(self.peek(), Some(' ' | '\t')) {
                self.bump();
            }
            match self.peek() {
                Some(')') => {
                    self.bump();
                    break;
                }
                None => return refuse(pos, "an unterminated $("),
                // A comment inside runs to the end of the line, `)` included: sh finds no end.
                Some('#') => return refuse(pos, "a comment inside $(...) (sh reads the `)` as part of it)"),
                Some(c) if is_delimiter(c) => return refuse(pos, "$(...) other than $(pidof NAME)"),
                Some(_) => match self.word(self.pos())? {
                    Token::Word(w) if w.literal().is_some_and(|t| !t.contains(['*', '?', '['])) => words.push(w),
                    _ => return refuse(pos, "$(...) other than $(pidof NAME)"),
                },
            }
        }
        match words.split_first() {
            Some((first, names)) if first.is_bare("pidof") && !names.is_empty() => {
                Ok(Part::Pidof { names: names.to_vec(), quoted })
            }
            _ => refuse(pos, "$(...) other than $(pidof NAME)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(script: &str) -> Vec<Vec<Part>> {
        tokens(script)
            .unwrap()
            .into_iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(w.parts),
                _ => None,
            })
            .collect()
    }

    fn text(t: &str, quoted: bool) -> Part {
        Part::Text { text: t.into(), quoted }
    }

    #[test]
    fn quotes_concatenate_and_keep_what_was_quoted() {
        let w = words(r#"'s|a'"${V}"'\1|g'"#);
        assert_eq!(
            w[0],
            [text("s|a", true), Part::Param { name: "V".into(), required: false, quoted: true }, text("\\1|g", true)]
        );
        // Inside double quotes only \$ \` \" \\ and backslash-newline are escapes.
        assert_eq!(words(r#""a\"b\$c\1\\""#)[0], [text("a\"b$c\\1\\", true)]);
        assert_eq!(words(r#""""#)[0], [text("", true)]);
        assert_eq!(words(r"a\ b")[0], [text("a", false), text(" ", true), text("b", false)]);
    }

    #[test]
    fn expansions() {
        assert_eq!(words("${X?}")[0], [Part::Param { name: "X".into(), required: true, quoted: false }]);
        assert_eq!(
            words("$n...")[0],
            [Part::Param { name: "n".into(), required: false, quoted: false }, text("...", false)]
        );
        assert!(matches!(&words("$(pidof vault)")[0][0], Part::Pidof { names, .. } if names.len() == 1));
        assert!(matches!(&words("$((n+1))")[0][0], Part::Arith { .. }));
        assert_eq!(words("a$")[0], [text("a", false), text("$", false)]);
    }

    #[test]
    fn operators_and_redirections() {
        let ops: Vec<Op> = tokens("a && b || c | d; e\n>&2 2>&1 1>&2 > f")
            .unwrap()
            .into_iter()
            .filter_map(|t| match t {
                Token::Op(op, _) => Some(op),
                _ => None,
            })
            .collect();
        assert_eq!(
            ops,
            [
                Op::And,
                Op::Or,
                Op::Pipe,
                Op::Semicolon,
                Op::Newline,
                Op::Duplicate { from: 1, to: 2 },
                Op::Duplicate { from: 2, to: 1 },
                Op::Duplicate { from: 1, to: 2 },
                Op::ToFile
            ]
        );
    }

    #[test]
    fn refusals_name_the_construct_and_where() {
        for (script, words, line, column) in [
            ("echo `id`", "backtick", 1, 6),
            ("a &", "background", 1, 3),
            ("echo\n  $(id)", "pidof", 2, 3),
            ("cat < f", "input redirection", 1, 5),
            ("echo a 2>> f", ">>` of a descriptor", 1, 8),
            ("(a)", "subshell", 1, 1),
            ("echo ${A:=b}", "parameter expansion", 1, 6),
            ("echo ${A:-$B}", "inside ${NAME:-WORD}", 1, 6),
            ("echo 'x", "unterminated single quote", 1, 6),
            ("echo $@", "`$@`", 1, 6),
            ("x 2>&3", "redirection other than", 1, 3),
            ("x 3> f", "other than 1 to a file", 1, 3),
            ("{ a; }", "brace group", 1, 1),
        ] {
            let refusal = tokens(script).unwrap_err();
            assert!(refusal.message.contains(words), "{script:?}: {}", refusal.message);
            assert_eq!((refusal.pos.line, refusal.pos.column), (line, column), "{script:?}");
        }
    }
}
