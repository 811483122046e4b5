//! HCL v1, as Vault and OpenBao read their configuration (hashicorp/hcl v1.0.1-vault-7: the
//! scanner, parser and JSON parser in hcl/ and json/, and the token values of hcl/token). The
//! result is the same tree the server decodes: items with one or more keys and a value that is a
//! literal, an object or a list.
//!
//! The rule is to read what the server reads, or refuse with a line number; never to read
//! "absent" for "not understood". So the scanner follows the server's quirks where they decide
//! what a file says (no newline is significant, items may share a line with or without a comma,
//! `${` hides quotes in HCL strings but not in JSON ones, `%{` is nothing special, a heredoc's
//! closing line may start with any of `[[:space:]]`, an item left without a value at the end of
//! the file is dropped, a JSON object ends at the first item not followed by a comma), and it
//! refuses, on purpose, what it cannot decide the same way for certain:
//! - a non-ASCII character outside strings, comments and heredoc bodies (the server's Unicode
//!   letter and digit classes are not reproduced here);
//! - nesting deeper than [`MAX_DEPTH`] (the server has no limit; a recursive reader must);
//! - a number or escape the server would refuse or panic on.
//!
//! The table of behaviours, each with its test, is in the tests at the end of this file.

/// Objects and lists nested deeper than this are refused: the parser recurses once per level.
pub const MAX_DEPTH: usize = 64;

/// A literal as the server's token: its type decides how it decodes.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Bool(bool),
    /// An integer token's text (`-5`, `0x1F`, `017`), converted only when asked.
    Number(String),
    /// A float token's text.
    Float(String),
    /// A quoted string, unquoted as the server does (HCL's rules, or Go's for JSON).
    Str(String),
    /// A heredoc's value, indentation removed as the server does for `<<-`.
    Heredoc(String),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Literal(Literal),
    Object(Vec<Item>),
    List(Vec<Value>),
}

/// `key = value`, `key "label" { ... }` (several keys), or in JSON `"key": value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// The keys, unquoted.
    pub keys: Vec<String>,
    pub value: Value,
    /// The line of the first key.
    pub line: usize,
}

/// A syntax error: the line and what is wrong there.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

type Result<T> = std::result::Result<T, SyntaxError>;

fn error<T>(line: usize, message: impl Into<String>) -> Result<T> {
    Err(SyntaxError { line, message: message.into() })
}

/// Parses a configuration file's bytes into its top-level items. As the server decides: a file
/// whose first character that is not white space is `{` is JSON, anything else HCL, whatever
/// its name.
pub fn parse(bytes: &[u8]) -> Result<Vec<Item>> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let valid = bytes.utf8_chunks().next().map_or(0, |c| c.valid().len());
        return error(line_at(bytes, valid), "not UTF-8 (the server refuses such a file)");
    };
    if let Some(at) = text.find(['\0', '\u{E123}']) {
        return error(line_at(bytes, at), "a NUL or U+E123 character (the server refuses such a file)");
    }
    if text.trim_start().starts_with('{') {
        let items = JsonParser { tokens: Tokens::new(text, Mode::Json) }.document()?;
        Ok(flatten(items))
    } else {
        // The server's HCL parser turns CRLF into LF before it scans.
        let normalized = text.replace("\r\n", "\n");
        HclParser { tokens: Tokens::new(&normalized, Mode::Hcl) }.object_list(false, 0)
    }
}

/// The line of byte offset `at`.
fn line_at(bytes: &[u8], at: usize) -> usize {
    1 + bytes[..at].iter().filter(|b| **b == b'\n').count()
}

/// Go's strings.EqualFold for a key against an ASCII name: simple case folding, under which
/// `ſ` (U+017F) is an `s` and the Kelvin sign (U+212A) a `k`, as the server matches keys.
pub fn key_matches(key: &str, name: &str) -> bool {
    let mut key_chars = key.chars();
    for expected in name.chars() {
        let Some(c) = key_chars.next() else { return false };
        let folded = match c {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        };
        if folded != expected.to_ascii_lowercase() {
            return false;
        }
    }
    key_chars.next().is_none()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Ident,
    Bool,
    Number,
    Float,
    Str,
    Heredoc,
    Null,
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Comma,
    Assign,
    Colon,
    Other,
    Eof,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Kind,
    text: String,
    line: usize,
}

impl Token {
    fn eof(line: usize) -> Token {
        Token { kind: Kind::Eof, text: String::new(), line }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Hcl,
    Json,
}

/// The server's scanner, one rune at a time with a one-rune unread, as in hcl/scanner.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    /// Position and line before the last `next`, for `unread`.
    previous: (usize, usize),
    mode: Mode,
    /// The line of the token being scanned, for its errors.
    token_line: usize,
}

const EOF: char = '\0';

impl<'a> Scanner<'a> {
    fn new(text: &'a str, mode: Mode) -> Scanner<'a> {
        Scanner { text, pos: 0, line: 1, previous: (0, 1), mode, token_line: 1 }
    }

    fn next(&mut self) -> char {
        self.previous = (self.pos, self.line);
        let Some(c) = self.text[self.pos..].chars().next() else { return EOF };
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
        }
        c
    }

    fn unread(&mut self) {
        (self.pos, self.line) = self.previous;
    }

    fn peek(&self) -> char {
        self.text[self.pos..].chars().next().unwrap_or(EOF)
    }

    fn fail<T>(&self, message: &str) -> Result<T> {
        error(self.token_line, message)
    }

    fn scan(&mut self) -> Result<Token> {
        loop {
            let mut c = self.next();
            while matches!(c, ' ' | '\t' | '\n' | '\r') {
                c = self.next();
            }
            let line = self.line;
            self.token_line = line;
            if c == EOF {
                return Ok(Token::eof(line));
            }
            let start = self.pos - c.len_utf8();
            let kind = match c {
                c if c.is_ascii_alphabetic() || c == '_' => {
                    self.identifier();
                    match &self.text[start..self.pos] {
                        "true" | "false" => Kind::Bool,
                        "null" if self.mode == Mode::Json => Kind::Null,
                        _ if self.mode == Mode::Json => return self.fail("illegal character"),
                        _ => Kind::Ident,
                    }
                }
                c if c.is_ascii_digit() => self.number(c)?,
                '"' => {
                    self.string(line)?;
                    Kind::Str
                }
                '#' | '/' if self.mode == Mode::Hcl => {
                    // Comments are skipped here; the server's parser skips them too.
                    self.comment(c)?;
                    continue;
                }
                '.' => {
                    if self.peek().is_ascii_digit() {
                        let c = self.mantissa(self.peek());
                        self.exponent(c);
                        Kind::Float
                    } else {
                        Kind::Other
                    }
                }
                '<' if self.mode == Mode::Hcl => {
                    self.heredoc(line)?;
                    Kind::Heredoc
                }
                '[' => Kind::LBrack,
                ']' => Kind::RBrack,
                '{' => Kind::LBrace,
                '}' => Kind::RBrace,
                ',' => Kind::Comma,
                '=' if self.mode == Mode::Hcl => Kind::Assign,
                ':' if self.mode == Mode::Json => Kind::Colon,
                '+' if self.mode == Mode::Hcl => Kind::Other,
                '-' if self.peek().is_ascii_digit() => {
                    let c = self.next();
                    self.number(c)?
                }
                '-' if self.mode == Mode::Hcl => Kind::Other,
                c if !c.is_ascii() => {
                    return self.fail("a non-ASCII character outside a string or comment (not read by hardinit)");
                }
                _ => return self.fail("illegal character"),
            };
            return Ok(Token { kind, text: self.text[start..self.pos].to_string(), line });
        }
    }

    fn identifier(&mut self) {
        loop {
            let c = self.next();
            let more = c.is_ascii_alphanumeric() || c == '_' || c == '-' || (c == '.' && self.mode == Mode::Hcl);
            if !more {
                if c != EOF {
                    self.unread();
                }
                return;
            }
        }
    }

    fn number(&mut self, first: char) -> Result<Kind> {
        if self.mode == Mode::Json {
            return self.json_number(first);
        }
        if first != '0' {
            self.mantissa(first);
            let c = self.next();
            return Ok(self.float_tail(c).unwrap_or(Kind::Number));
        }
        let mut c = self.next();
        if c == 'x' || c == 'X' {
            c = self.next();
            let mut found = false;
            while c.is_ascii_hexdigit() {
                c = self.next();
                found = true;
            }
            if !found {
                return self.fail("illegal hexadecimal number");
            }
            if c != EOF {
                self.unread();
            }
            return Ok(Kind::Number);
        }
        // As the server: the digit after each digit is what makes an octal illegal, so `09`
        // scans as a number (which the server then cannot decode).
        let mut illegal_octal = false;
        while c.is_ascii_digit() {
            c = self.next();
            if c == '8' || c == '9' {
                illegal_octal = true;
            }
        }
        if let Some(float) = self.float_tail(c) {
            return Ok(float);
        }
        if illegal_octal {
            return self.fail("illegal octal number");
        }
        Ok(Kind::Number)
    }

    fn json_number(&mut self, first: char) -> Result<Kind> {
        let start = self.pos;
        self.mantissa(first);
        let c = self.next();
        if let Some(float) = self.float_tail(c) {
            return Ok(float);
        }
        if first == '0' && start != self.pos {
            return self.fail("numbers cannot start with 0");
        }
        Ok(Kind::Number)
    }

    /// After a number's digits, `c` (already read): an exponent or a fraction makes it a float;
    /// otherwise `c` is unread and the number is an integer (`None`).
    fn float_tail(&mut self, c: char) -> Option<Kind> {
        if c == 'e' || c == 'E' {
            self.exponent(c);
            return Some(Kind::Float);
        }
        if c == '.' {
            let mut c = self.fraction(c);
            if c == 'e' || c == 'E' {
                c = self.next();
                self.exponent(c);
            }
            return Some(Kind::Float);
        }
        if c != EOF {
            self.unread();
        }
        None
    }

    /// Consumes decimal digits from `c` on; returns the first rune that is not one (unread
    /// again when digits were taken, as the server's scanMantissa does).
    fn mantissa(&mut self, mut c: char) -> char {
        let mut scanned = false;
        while c.is_ascii_digit() {
            c = self.next();
            scanned = true;
        }
        if scanned && c != EOF {
            self.unread();
        }
        c
    }

    fn fraction(&mut self, c: char) -> char {
        if c == '.' { self.mantissa(self.peek()) } else { c }
    }

    fn exponent(&mut self, mut c: char) -> char {
        if c == 'e' || c == 'E' {
            c = self.next();
            if c == '-' || c == '+' {
                c = self.next();
            }
            c = self.mantissa(c);
        }
        c
    }

    fn comment(&mut self, first: char) -> Result<()> {
        if first == '#' || (first == '/' && self.peek() != '*') {
            if first == '/' && self.peek() != '/' {
                return self.fail("expected '/' for comment");
            }
            let mut c = self.next();
            while c != '\n' && c != EOF {
                c = self.next();
            }
            if c != EOF {
                self.unread();
            }
            return Ok(());
        }
        let start = self.line;
        self.next();
        let mut c = self.next();
        loop {
            if c == EOF {
                return error(start, "comment not terminated");
            }
            let before = c;
            c = self.next();
            if before == '*' && c == '/' {
                return Ok(());
            }
        }
    }

    /// A quoted string. In HCL, quotes inside `${ }` do not end it and neither does a newline;
    /// in JSON a quote always ends it.
    fn string(&mut self, start: usize) -> Result<()> {
        let mut braces = 0usize;
        loop {
            let c = self.next();
            if (c == '\n' && (braces == 0 || self.mode == Mode::Json)) || c == EOF {
                return error(start, "string not terminated");
            }
            if c == '"' && (braces == 0 || self.mode == Mode::Json) {
                return Ok(());
            }
            if braces == 0 && c == '$' && self.peek() == '{' {
                braces += 1;
                self.next();
            } else if braces > 0 && c == '{' {
                braces += 1;
            }
            if braces > 0 && c == '}' {
                braces -= 1;
            }
            if c == '\\' {
                self.escape()?;
            }
        }
    }

    fn escape(&mut self) -> Result<()> {
        let c = self.next();
        match c {
            'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' | '"' => Ok(()),
            '0'..='7' => self.digits(c, 8, 3),
            'x' => {
                let c = self.next();
                self.digits(c, 16, 2)
            }
            'u' => {
                let c = self.next();
                self.digits(c, 16, 4)
            }
            'U' => {
                let c = self.next();
                self.digits(c, 16, 8)
            }
            _ => self.fail("illegal escape in a string"),
        }
    }

    fn digits(&mut self, mut c: char, base: u32, count: usize) -> Result<()> {
        let mut left = count;
        while left > 0 && c.to_digit(16).is_some_and(|d| d < base) {
            c = self.next();
            if c == EOF && self.mode == Mode::Hcl {
                break;
            }
            left -= 1;
        }
        if left > 0 {
            return self.fail("illegal escape in a string");
        }
        if self.mode == Mode::Json || c != EOF {
            self.unread();
        }
        Ok(())
    }

    /// `<<EOF` or `<<-EOF`, up to a line that is the anchor after optional `[[:space:]]`
    /// (space, tab, newline, vertical tab, form feed, carriage return) and before optional `\r`s.
    fn heredoc(&mut self, start: usize) -> Result<()> {
        if self.next() != '<' {
            return error(start, "heredoc expected a second '<'");
        }
        let anchor_start = self.pos;
        let mut c = self.next();
        if c == '-' {
            c = self.next();
        }
        while c.is_ascii_alphanumeric() || c == '_' {
            c = self.next();
        }
        if !c.is_ascii() {
            return error(start, "a non-ASCII heredoc anchor (not read by hardinit)");
        }
        if c == EOF {
            return error(start, "heredoc not terminated");
        }
        // CRLF is normalised before scanning, so the anchor ends at `\n` or is invalid.
        if c != '\n' {
            return error(start, "invalid characters in the heredoc anchor");
        }
        let anchor = &self.text[anchor_start..self.pos - 1];
        if anchor.is_empty() || anchor == "-" {
            return error(start, "zero-length heredoc anchor");
        }
        let word = anchor.strip_prefix('-').unwrap_or(anchor);
        let mut line_start = self.pos;
        loop {
            let c = self.next();
            if c == '\n' {
                let line = &self.text[line_start..self.pos - 1];
                if line.len() >= anchor.len() && is_anchor_line(line, word) {
                    return Ok(());
                }
                line_start = self.pos;
            }
            if c == EOF {
                return error(start, "heredoc not terminated");
            }
        }
    }
}

/// `^[[:space:]]*WORD\r*\z`.
fn is_anchor_line(line: &str, word: &str) -> bool {
    let rest = line.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    rest.strip_prefix(word).is_some_and(|tail| tail.chars().all(|c| c == '\r'))
}

/// The value of a heredoc token, as hcl/token's unindentHeredoc computes it.
fn heredoc_value(text: &str, line: usize) -> Result<String> {
    let Some(newline) = text.find('\n') else { return error(line, "heredoc without a newline") };
    let indented = text.as_bytes().get(2) == Some(&b'-');
    let end = (text.len() + 1 + usize::from(indented)).checked_sub(newline);
    let body = end.filter(|e| *e > newline).and_then(|e| text.get(newline + 1..e));
    let Some(body) = body else { return error(line, "heredoc too short for its anchor") };
    if !indented {
        return Ok(body.to_string());
    }
    let lines: Vec<&str> = body.split('\n').collect();
    let prefix = lines.last().copied().unwrap_or("");
    if !lines.iter().all(|l| l.starts_with(prefix)) {
        let plain = text.get(newline + 1..(text.len() + 1).saturating_sub(newline)).unwrap_or("");
        return Ok(plain.trim_end_matches([' ', '\t']).to_string());
    }
    let mut out: Vec<&str> = lines[..lines.len() - 1].iter().map(|l| &l[prefix.len()..]).collect();
    out.push("");
    Ok(out.join("\n"))
}

/// hcl/strconv's Unquote (HCL strings): `${...}` passes through untouched.
fn unquote_hcl(text: &str, line: usize) -> Result<String> {
    let bad = || error(line, "a string the server cannot unquote");
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else { return bad() };
    if !inner.contains(['$', '{']) && inner.contains('\n') {
        return bad();
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut s = inner;
    while !s.is_empty() {
        if let Some(rest) = s.strip_prefix("${") {
            out.extend_from_slice(b"${");
            s = rest;
            let mut braces = 1usize;
            let mut consumed = s.len();
            for (i, c) in s.char_indices() {
                match c {
                    '{' => braces += 1,
                    '}' => braces -= 1,
                    // Go decodes U+FFFD as RuneError and refuses it there.
                    '\u{FFFD}' => return bad(),
                    _ => {}
                }
                if braces == 0 {
                    consumed = i + 1;
                    break;
                }
            }
            if braces != 0 {
                return bad();
            }
            out.extend_from_slice(&s.as_bytes()[..consumed]);
            s = &s[consumed..];
            continue;
        }
        if s.starts_with('\n') {
            return bad();
        }
        s = match unquote_char(s, &mut out, Mode::Hcl) {
            Some(rest) => rest,
            None => return bad(),
        };
    }
    String::from_utf8(out).or_else(|_| error(line, "a string whose escapes are not UTF-8 (not read by hardinit)"))
}

/// Go's strconv.Unquote (JSON strings).
fn unquote_json(text: &str, line: usize) -> Result<String> {
    let bad = || error(line, "a string the server cannot unquote");
    let Some(mut s) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else { return bad() };
    if s.contains('\n') {
        return bad();
    }
    let mut out = Vec::with_capacity(s.len());
    while !s.is_empty() {
        s = match unquote_char(s, &mut out, Mode::Json) {
            Some(rest) => rest,
            None => return bad(),
        };
    }
    String::from_utf8(out).or_else(|_| error(line, "a string whose escapes are not UTF-8 (not read by hardinit)"))
}

/// One character or escape of a double-quoted string, appended to `out`; the rest, or `None`
/// where the server's unquote fails.
fn unquote_char<'s>(s: &'s str, out: &mut Vec<u8>, mode: Mode) -> Option<&'s str> {
    let c = s.chars().next()?;
    if c == '"' {
        return None;
    }
    if c != '\\' {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        return Some(&s[c.len_utf8()..]);
    }
    let bytes = s.as_bytes();
    let escape = *bytes.get(1)?;
    let rest = &s[2..];
    let simple = match escape {
        b'a' => Some(0x07),
        b'b' => Some(0x08),
        b'f' => Some(0x0c),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(0x0b),
        b'\\' => Some(b'\\'),
        b'"' => Some(b'"'),
        _ => None,
    };
    if let Some(b) = simple {
        out.push(b);
        return Some(rest);
    }
    match escape {
        b'x' | b'u' | b'U' => {
            let n = match escape {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            let v = u32::from_str_radix(digits, 16).ok()?;
            if escape == b'x' {
                out.push(v as u8);
            } else {
                let c = match char::from_u32(v) {
                    Some(c) => c,
                    // Go's Unquote refuses surrogates; HCL's writes U+FFFD for them.
                    None if mode == Mode::Hcl && v <= 0x10FFFF => '\u{FFFD}',
                    None => return None,
                };
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            Some(&rest[n..])
        }
        b'0'..=b'7' => {
            let more = rest.get(..2)?;
            if !more.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
                return None;
            }
            let v = u32::from(escape - b'0') * 64 + u32::from_str_radix(more, 8).ok()?;
            if v > 255 {
                return None;
            }
            out.push(v as u8);
            Some(&rest[2..])
        }
        _ => None,
    }
}

fn literal_of(token: &Token, mode: Mode) -> Result<Literal> {
    Ok(match token.kind {
        Kind::Bool => Literal::Bool(token.text == "true"),
        Kind::Number => Literal::Number(token.text.clone()),
        Kind::Float => Literal::Float(token.text.clone()),
        // JSON null decodes as the empty string.
        Kind::Null => Literal::Str(String::new()),
        Kind::Str if mode == Mode::Json => Literal::Str(unquote_json(&token.text, token.line)?),
        Kind::Str => Literal::Str(unquote_hcl(&token.text, token.line)?),
        Kind::Heredoc => Literal::Heredoc(heredoc_value(&token.text, token.line)?),
        _ => return error(token.line, "expected a literal"),
    })
}

fn key_of(token: &Token, mode: Mode) -> Result<String> {
    match token.kind {
        Kind::Ident => Ok(token.text.clone()),
        Kind::Str if mode == Mode::Json => unquote_json(&token.text, token.line),
        _ => unquote_hcl(&token.text, token.line),
    }
}

/// The scanner's tokens with the one-token push-back both of the server's parsers use.
struct Tokens<'a> {
    scanner: Scanner<'a>,
    /// The last token scanned.
    token: Token,
    unread: bool,
    /// Whether the scanner has failed: the server's JSON parser swallows some parse errors on
    /// `}`, never a scanner error.
    scanner_failed: bool,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str, mode: Mode) -> Tokens<'a> {
        Tokens { scanner: Scanner::new(text, mode), token: Token::eof(1), unread: false, scanner_failed: false }
    }

    fn scan(&mut self) -> Result<Token> {
        if self.unread {
            self.unread = false;
        } else {
            self.token = self.scanner.scan().inspect_err(|_| self.scanner_failed = true)?;
        }
        Ok(self.token.clone())
    }

    fn unscan(&mut self) {
        self.unread = true;
    }
}

fn too_deep<T>(line: usize) -> Result<T> {
    error(line, format!("nested deeper than {MAX_DEPTH} levels (not read by hardinit)"))
}

/// hcl/parser, without its duplicate-key error (OpenBao parses with
/// ParseDontErrorOnDuplicateKeys; where Vault refuses duplicates, reading them changes nothing).
struct HclParser<'a> {
    tokens: Tokens<'a>,
}

/// Why an item ended the list: the server treats an end of file where a key or a value should
/// start as the end of the list, not as an error.
enum ItemOutcome {
    Item(Item),
    EndOfFile,
}

impl HclParser<'_> {
    fn object_list(&mut self, in_object: bool, depth: usize) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            if in_object {
                let token = self.tokens.scan()?;
                self.tokens.unscan();
                if token.kind == Kind::RBrace {
                    break;
                }
            }
            match self.object_item(depth)? {
                ItemOutcome::EndOfFile => break,
                ItemOutcome::Item(item) => items.push(item),
            }
            if self.tokens.scan()?.kind != Kind::Comma {
                self.tokens.unscan();
            }
        }
        Ok(items)
    }

    fn object_item(&mut self, depth: usize) -> Result<ItemOutcome> {
        let mut keys = Vec::new();
        let mut line = 0;
        let opener = loop {
            let token = self.tokens.scan()?;
            match token.kind {
                Kind::Eof if keys.is_empty() => return Ok(ItemOutcome::EndOfFile),
                Kind::Ident | Kind::Str => {
                    if keys.is_empty() {
                        line = token.line;
                    }
                    keys.push(key_of(&token, Mode::Hcl)?);
                }
                Kind::Assign if keys.len() == 1 => break Kind::Assign,
                Kind::Assign if keys.is_empty() => return error(token.line, "no key before `=`"),
                Kind::Assign => return error(token.line, "several keys before `=` (a block needs `{`)"),
                Kind::LBrace if !keys.is_empty() => break Kind::LBrace,
                _ => {
                    return error(token.line, format!("expected a key, `=` or `{{`, found {}", describe(&token)));
                }
            }
        };
        let value = if opener == Kind::Assign {
            match self.value(depth)? {
                Some(v) => v,
                None => return Ok(ItemOutcome::EndOfFile),
            }
        } else {
            self.object_type(depth)?
        };
        Ok(ItemOutcome::Item(Item { keys, value, line }))
    }

    /// A value after `=`; `None` at the end of the file.
    fn value(&mut self, depth: usize) -> Result<Option<Value>> {
        let token = self.tokens.scan()?;
        match token.kind {
            Kind::Number | Kind::Float | Kind::Bool | Kind::Str | Kind::Heredoc => {
                Ok(Some(Value::Literal(literal_of(&token, Mode::Hcl)?)))
            }
            Kind::LBrace => Ok(Some(self.object_type(depth)?)),
            Kind::LBrack => Ok(Some(self.list_type(depth)?)),
            Kind::Eof => Ok(None),
            _ => error(token.line, format!("expected a value, found {}", describe(&token))),
        }
    }

    fn object_type(&mut self, depth: usize) -> Result<Value> {
        let line = self.tokens.token.line;
        if depth >= MAX_DEPTH {
            return too_deep(line);
        }
        let items = self.object_list(true, depth + 1)?;
        let token = self.tokens.scan()?;
        if token.kind != Kind::RBrace {
            return error(line, format!("the object opened here is not closed (found {})", describe(&token)));
        }
        Ok(Value::Object(items))
    }

    fn list_type(&mut self, depth: usize) -> Result<Value> {
        let line = self.tokens.token.line;
        if depth >= MAX_DEPTH {
            return too_deep(line);
        }
        let mut list = Vec::new();
        let mut need_comma = false;
        loop {
            let token = self.tokens.scan()?;
            if need_comma && !matches!(token.kind, Kind::Comma | Kind::RBrack) {
                return error(token.line, format!("expected `,` or `]` in a list, found {}", describe(&token)));
            }
            match token.kind {
                Kind::Bool | Kind::Number | Kind::Float | Kind::Str | Kind::Heredoc => {
                    list.push(Value::Literal(literal_of(&token, Mode::Hcl)?));
                    need_comma = true;
                }
                Kind::Comma => need_comma = false,
                Kind::LBrace => {
                    list.push(self.object_type(depth + 1)?);
                    need_comma = true;
                }
                // As the server: no comma is needed after a nested list.
                Kind::LBrack => list.push(self.list_type(depth + 1)?),
                Kind::RBrack => return Ok(Value::List(list)),
                _ => return error(token.line, format!("unexpected {} in a list", describe(&token))),
            }
        }
    }
}

fn describe(token: &Token) -> String {
    match token.kind {
        Kind::Eof => "the end of the file".into(),
        _ => format!("{:?}", token.text),
    }
}

/// hcl's json/parser: as lenient as the server's (an object ends at the first item not followed
/// by a comma; what follows the top-level object is never read).
struct JsonParser<'a> {
    tokens: Tokens<'a>,
}

impl JsonParser<'_> {
    fn document(&mut self) -> Result<Vec<Item>> {
        let token = self.tokens.scan()?;
        if token.kind != Kind::LBrace {
            return error(token.line, "a JSON configuration must be an object");
        }
        self.object_members(0)
    }

    fn object_list(&mut self, depth: usize) -> Result<Vec<Item>> {
        let mut items = Vec::new();
        loop {
            match self.object_item(depth) {
                Ok(Some(item)) => items.push(item),
                Ok(None) => break,
                // `{}` and `{..., }`: the server's objectType accepts an error on `}`.
                Err(_) if self.tokens.token.kind == Kind::RBrace && !self.tokens.scanner_failed => break,
                Err(e) => return Err(e),
            }
            if self.tokens.scan()?.kind != Kind::Comma {
                break;
            }
        }
        Ok(items)
    }

    /// `None`: the end of the file where a key or value should start (the server stops there).
    fn object_item(&mut self, depth: usize) -> Result<Option<Item>> {
        let mut keys = Vec::new();
        let mut line = 0;
        loop {
            let token = self.tokens.scan()?;
            match token.kind {
                Kind::Eof => return Ok(None),
                Kind::Str => {
                    if keys.is_empty() {
                        line = token.line;
                    }
                    keys.push(key_of(&token, Mode::Json)?);
                }
                Kind::Colon if !keys.is_empty() => break,
                _ => return error(token.line, format!("expected a \"key\", found {}", describe(&token))),
            }
        }
        let token = self.tokens.scan()?;
        let value = match token.kind {
            Kind::Number | Kind::Float | Kind::Bool | Kind::Null | Kind::Str => {
                Value::Literal(literal_of(&token, Mode::Json)?)
            }
            Kind::LBrace => Value::Object(self.object_members(depth)?),
            Kind::LBrack => self.list_type(depth)?,
            Kind::Eof => return Ok(None),
            _ => return error(token.line, format!("expected a value, found {}", describe(&token))),
        };
        Ok(Some(Item { keys, value, line }))
    }

    fn object_members(&mut self, depth: usize) -> Result<Vec<Item>> {
        if depth >= MAX_DEPTH {
            return too_deep(self.tokens.token.line);
        }
        self.object_list(depth + 1)
    }

    fn list_type(&mut self, depth: usize) -> Result<Value> {
        let line = self.tokens.token.line;
        if depth >= MAX_DEPTH {
            return too_deep(line);
        }
        let mut list = Vec::new();
        loop {
            let token = self.tokens.scan()?;
            match token.kind {
                Kind::Number | Kind::Float | Kind::Str => list.push(Value::Literal(literal_of(&token, Mode::Json)?)),
                Kind::Comma => {}
                Kind::LBrace => list.push(Value::Object(self.object_members(depth + 1)?)),
                // The server's JSON parser skips booleans and `[` inside lists; what it then
                // reads is not what the file says.
                Kind::Bool | Kind::LBrack => {
                    return error(
                        token.line,
                        "a boolean or a list inside a JSON list (the server drops it; not read by hardinit)",
                    );
                }
                Kind::RBrack => return Ok(Value::List(list)),
                _ => return error(token.line, format!("unexpected {} in a list", describe(&token))),
            }
        }
    }
}

/// The server flattens JSON objects whose members are all objects into items with several keys
/// (`{"listener": {"tcp": {...}}}` becomes `listener "tcp" {...}`), and lists of objects into
/// one item per element.
fn flatten(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut frontier: Vec<Item> = items.into_iter().rev().collect();
    while let Some(Item { keys, value, line }) = frontier.pop() {
        match value {
            Value::Object(members)
                if !members.is_empty() && members.iter().all(|m| matches!(m.value, Value::Object(_))) =>
            {
                for member in members.into_iter().rev() {
                    let mut member_keys = keys.clone();
                    member_keys.extend(member.keys);
                    frontier.push(Item { keys: member_keys, value: member.value, line });
                }
            }
            Value::List(elements) if !elements.is_empty() && elements.iter().all(|e| matches!(e, Value::Object(_))) => {
                for element in elements.into_iter().rev() {
                    frontier.push(Item { keys: keys.clone(), value: element, line });
                }
            }
            value => out.push(Item { keys, value: flatten_value(value), line }),
        }
    }
    out
}

fn flatten_value(value: Value) -> Value {
    match value {
        Value::Object(items) => Value::Object(flatten(items)),
        Value::List(values) => Value::List(values.into_iter().map(flatten_value).collect()),
        literal => literal,
    }
}

impl Literal {
    /// What the server's parseutil.ParseBool (mapstructure's weak decoding) makes of it:
    /// booleans as they are, numbers not zero, strings by Go's strconv.ParseBool, the empty
    /// string false. `Err` when the server refuses the value.
    pub fn weak_bool(&self) -> std::result::Result<bool, String> {
        match self {
            Literal::Bool(b) => Ok(*b),
            Literal::Number(text) => {
                go_parse_int(text).map(|n| n != 0).ok_or_else(|| format!("{text:?} is not a number the server reads"))
            }
            Literal::Float(text) => go_parse_float(text)
                .map(|f| f != 0.0)
                .ok_or_else(|| format!("{text:?} is not a number the server reads")),
            Literal::Str(text) | Literal::Heredoc(text) if text.is_empty() => Ok(false),
            Literal::Str(text) | Literal::Heredoc(text) => {
                parse_go_bool(text).ok_or_else(|| format!("{text:?} is not true or false"))
            }
        }
    }

    /// What the server decodes into a string setting: strings and heredocs, and an integer's
    /// text; `None` for what it refuses (booleans, floats).
    #[allow(dead_code)] // For string settings: the differential test's log_level.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Literal::Str(t) | Literal::Heredoc(t) | Literal::Number(t) => Some(t),
            Literal::Bool(_) | Literal::Float(_) => None,
        }
    }

    /// The literal's type as the server's decoder tells them apart.
    pub fn kind(&self) -> &'static str {
        match self {
            Literal::Bool(_) => "a boolean",
            Literal::Number(_) => "an integer",
            Literal::Float(_) => "a float",
            Literal::Str(_) | Literal::Heredoc(_) => "a string",
        }
    }
}

/// Go's strconv.ParseBool.
pub fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's strconv.ParseInt(text, 0, 64) for the texts the scanner makes: a sign, then `0x` hex,
/// a leading `0` for octal, or decimal.
fn go_parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

fn go_parse_float(text: &str) -> Option<f64> {
    let valid = text.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) && !text.is_empty();
    if !valid {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(text: &str, name: &str) -> Vec<Value> {
        parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .into_iter()
            .filter(|i| i.keys.len() == 1 && key_matches(&i.keys[0], name))
            .map(|i| i.value)
            .collect()
    }

    fn str_value(s: &str) -> Value {
        Value::Literal(Literal::Str(s.into()))
    }

    fn bool_value(b: bool) -> Value {
        Value::Literal(Literal::Bool(b))
    }

    // The HCL v1 behaviours hardinit reproduces, one test each (README: "How hardinit reads the
    // server's configuration").

    #[test]
    fn keys_match_ignoring_case_with_go_simple_folding() {
        assert_eq!(top("DISABLE_MLOCK = true", "disable_mlock"), [bool_value(true)]);
        assert_eq!(top("\"Di\u{17F}able_mloc\u{212A}\" = true", "disable_mlock"), [bool_value(true)]);
        assert!(!key_matches("disable_mlockx", "disable_mlock"));
        assert!(!key_matches("d\u{130}sable_mlock", "disable_mlock"), "dotted capital I is not i in simple folding");
    }

    #[test]
    fn several_items_share_a_line_with_or_without_commas() {
        assert_eq!(top("ui = false, disable_mlock = true", "disable_mlock"), [bool_value(true)]);
        assert_eq!(top("ui = false disable_mlock = true", "disable_mlock"), [bool_value(true)]);
        assert_eq!(top("storage \"file\" { path = \"/x\" } disable_mlock = true", "disable_mlock"), [bool_value(true)]);
    }

    #[test]
    fn escapes_in_keys_and_values_are_decoded() {
        assert_eq!(top("\"disable\\u005fmlock\" = true", "disable_mlock"), [bool_value(true)]);
        assert_eq!(top("{\"disable\\u005fmlock\": true}", "disable_mlock"), [bool_value(true)]);
        assert_eq!(top("log_level = \"\\x74race\"", "log_level"), [str_value("trace")]);
        assert_eq!(top("log_level = \"\\164race\"", "log_level"), [str_value("trace")]);
        assert_eq!(top("log_level = \"\\U00000074race\"", "log_level"), [str_value("trace")]);
    }

    #[test]
    fn in_json_a_quote_ends_a_string_even_inside_an_interpolation() {
        let text = r#"{"a": "${", "disable_mlock": true, "b": "}"}"#;
        assert_eq!(top(text, "disable_mlock"), [bool_value(true)]);
        // In HCL the same quote is inside the interpolation.
        assert_eq!(top("a = \"${\" disable_mlock = true \"}\"", "disable_mlock"), []);
    }

    #[test]
    fn percent_brace_is_not_special_so_a_hash_after_it_is_a_comment() {
        assert_eq!(top("a = \"%{\" # \"\ndisable_mlock = true\n", "disable_mlock"), [bool_value(true)]);
    }

    #[test]
    fn a_heredoc_closing_line_may_start_with_any_posix_space() {
        let text = "a = <<EOF\nx\n\u{b}EOF\ndisable_mlock = true\n";
        assert_eq!(top(text, "disable_mlock"), [bool_value(true)]);
        assert_eq!(top("a = <<EOF\nx\n \u{c}\tEOF\r\ndisable_mlock = true\n", "disable_mlock"), [bool_value(true)]);
        // Until the closing line, everything is the heredoc's body.
        assert_eq!(top("a = <<EOF\ndisable_mlock = true\nEOF\n", "disable_mlock"), []);
        // `<<-EOF` needs a closing line at least as long as `-EOF`.
        assert!(parse(b"a = <<-EOF\nx\nEOF\n").is_err());
        assert_eq!(top("a = <<-EOF\n  x\n  EOF\n", "a"), [Value::Literal(Literal::Heredoc("x\n".into()))]);
    }

    #[test]
    fn json_or_hcl_is_decided_by_the_first_character_not_the_name() {
        assert_eq!(top(" \n{\"disable_mlock\": true}", "disable_mlock"), [bool_value(true)]);
        assert_eq!(top("disable_mlock = true", "disable_mlock"), [bool_value(true)]);
    }

    #[test]
    fn a_json_object_ends_at_the_first_item_without_a_comma() {
        assert_eq!(top(r#"{"log_level": "trace" "ui": true}"#, "log_level"), [str_value("trace")]);
        assert_eq!(top(r#"{"ui": true "log_level": "trace"}"#, "log_level"), []);
        assert_eq!(top(r#"{"log_level": "trace"} garbage"#, "log_level"), [str_value("trace")]);
        assert_eq!(top(r#"{"ui": true,}"#, "ui"), [bool_value(true)]);
        assert_eq!(top("{}", "ui"), []);
    }

    #[test]
    fn json_null_is_the_empty_string() {
        assert_eq!(top(r#"{"log_level": null}"#, "log_level"), [str_value("")]);
    }

    #[test]
    fn an_item_without_a_value_at_the_end_of_the_file_is_dropped() {
        assert_eq!(top("ui = true\ndisable_mlock =", "disable_mlock"), []);
        assert_eq!(top("ui = true\ndisable_mlock =", "ui"), [bool_value(true)]);
        assert!(parse(b"storage \"x\" { a =").is_err(), "inside an object it is an error");
    }

    #[test]
    fn duplicate_keys_are_all_kept_in_order() {
        assert_eq!(
            top("log_level = \"debug\"\nLOG_LEVEL = \"trace\"", "log_level"),
            [str_value("debug"), str_value("trace")]
        );
    }

    #[test]
    fn blocks_labels_comments_and_nesting_are_not_top_level_settings() {
        let decoys = "# disable_mlock = true\n// disable_mlock = true\n/* disable_mlock = true\n*/\nstorage \"raft\" {\n  disable_mlock = true\n  retry_join { leader_api_addr = \"https://${HOSTNAME}:8200\" }\n}\nlistener \"tcp\" { address = \"[::]:8200\", tls_disable = 1 }\napi_addr = \"http://${format(\"%s\", \"disable_mlock = true\")}\"\nseal \"transit\" {\n  token = <<EOF\ndisable_mlock = true\nEOF\n}\nports = [8200, 8201, [1, 2] 3]\n";
        assert_eq!(top(decoys, "disable_mlock"), []);
        let items = parse(decoys.as_bytes()).unwrap();
        let storage = items.iter().find(|i| i.keys == ["storage", "raft"]).unwrap();
        assert_eq!(storage.line, 5);
        assert!(matches!(&storage.value, Value::Object(members) if members[0].keys == ["disable_mlock"]));
    }

    #[test]
    fn json_nested_objects_flatten_into_blocks() {
        let items =
            parse(br#"{"listener": {"tcp": {"address": "x"}}, "storage": [{"raft": {"path": "/p"}}]}"#).unwrap();
        assert_eq!(items[0].keys, ["listener", "tcp"]);
        assert_eq!(items[1].keys, ["storage", "raft"]);
    }

    #[test]
    fn numbers_decode_as_go_does() {
        assert_eq!(go_parse_int("0x1F"), Some(31));
        assert_eq!(go_parse_int("017"), Some(15));
        assert_eq!(go_parse_int("-5"), Some(-5));
        assert_eq!(go_parse_int("99999999999999999999"), None);
        assert_eq!(Literal::Number("0".into()).weak_bool(), Ok(false));
        assert_eq!(Literal::Number("2".into()).weak_bool(), Ok(true));
        assert_eq!(Literal::Float("0.0".into()).weak_bool(), Ok(false));
        assert_eq!(Literal::Str("".into()).weak_bool(), Ok(false));
        assert_eq!(Literal::Str("T".into()).weak_bool(), Ok(true));
        assert!(Literal::Str("yes".into()).weak_bool().is_err());
    }

    #[test]
    fn what_the_server_refuses_is_an_error_with_its_line() {
        for (text, line) in [
            ("a = 1\nb = \"\\/\"\n", 2),
            ("{\"a\": \"http:\\/\\/x\"}", 1),
            ("a = 1\nb = \"\\q\"", 2),
            ("a = 1\n\nb = 098\n", 3),
            ("a = \"open\n", 1),
            ("a = 1\n/* open", 2),
            ("x = <<EOF\nno end\n", 1),
            ("a = var.x", 1),
            ("a b = 1", 1),
            ("just_a_word\n", 2),
            ("a = 1 ]\n", 1),
            ("a = `x`", 1),
            ("storage \"f\" {\n path = 1\n", 1),
            ("a = 1\n\u{e9} = 2", 2),
            ("{\"a\": [true]}", 1),
        ] {
            let e = parse(text.as_bytes()).expect_err(text);
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(!e.message.contains('\n'));
        }
        assert_eq!(parse(b"a = 1\n\xff").unwrap_err().line, 2);
    }

    #[test]
    fn nesting_is_bounded_and_deep_strings_do_not_recurse() {
        let deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(deep.as_bytes()).unwrap_err().message.contains("nested deeper"));
        let deep = format!("a {}{}", "{ b ".repeat(100_000), "}".repeat(100_000));
        assert!(parse(deep.as_bytes()).unwrap_err().message.contains("nested deeper"));
        let deep_json = format!("{}{}", "{\"a\": ".repeat(100_000), "}".repeat(100_000));
        assert!(parse(deep_json.as_bytes()).unwrap_err().message.contains("nested deeper"));
        let templates = format!("a = \"{}\"", "${\"".repeat(100_000));
        assert!(parse(templates.as_bytes()).is_err());
    }
}
