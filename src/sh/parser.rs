//! Tokens → the script's tree. The grammar is a subset of POSIX sh: lists (`;`, newline), `&&`,
//! `||`, `!`, pipelines, `if/then/elif/else/fi`, `while`/`until ... do ... done`, `break`,
//! assignments, simple commands with `>&2`, `2>&1` and `> FILE`. Every program a command names is
//! resolved here, so that a script naming anything else is refused before its first command runs.

use super::Refusal;
use super::lexer::{Op, Part, Pos, Token, Word};

pub type List = Vec<AndOr>;

#[derive(Debug)]
pub struct AndOr {
    pub first: Pipeline,
    /// `true` for `&&`, `false` for `||`.
    pub rest: Vec<(bool, Pipeline)>,
}

#[derive(Debug)]
pub struct Pipeline {
    pub negated: bool,
    pub commands: Vec<Command>,
}

#[derive(Debug)]
pub enum Command {
    Simple(Simple),
    /// `NAME=value ...` alone on its command.
    Assign(Vec<(String, Word)>),
    If {
        branches: Vec<(List, List)>,
        otherwise: Option<List>,
    },
    Loop {
        until: bool,
        condition: List,
        body: List,
    },
    Break,
}

#[derive(Debug)]
pub struct Simple {
    pub program: Program,
    /// The arguments, the command name excluded.
    pub args: Vec<Word>,
    pub redirects: Vec<Redirect>,
    pub pos: Pos,
    /// `exec PROGRAM ...`: the program replaces the shell wherever the command is.
    pub exec: bool,
    /// `NAME=value PROGRAM ...`: variables in the program's environment only.
    pub assignments: Vec<(String, Word)>,
}

#[derive(Debug, PartialEq)]
pub enum Redirect {
    Duplicate {
        from: u8,
        to: u8,
    },
    ToFile(Word),
    /// `>> FILE`.
    AppendToFile(Word),
    /// `2>/dev/null`: the standard error discarded.
    ErrorToNull,
}

/// What a command name stands for.
#[derive(Clone, Debug, PartialEq)]
pub enum Program {
    /// Run in hardinit itself.
    Builtin(&'static str),
    /// `exit [N]`.
    Exit,
    /// The server binary or the entrypoint: at this absolute path, or (None) found in the PATH
    /// the script has when it runs (not found: status 127); `entrypoint` for docker-entrypoint.sh.
    External { path: Option<std::path::PathBuf>, name: String, entrypoint: bool },
}

/// Decides what a command name is, given its arguments as written: a built-in, the server, the
/// entrypoint, or a refusal (why).
pub type Resolver<'a> = &'a dyn Fn(&str, &[Word]) -> Result<Program, String>;

/// Compound commands nested deeper than this are refused: the parser recurses once per level.
const MAX_NESTING: usize = 32;

const RESERVED: [&str; 10] = ["if", "then", "elif", "else", "fi", "while", "until", "do", "done", "!"];
const REFUSED_WORDS: [&str; 6] = ["case", "for", "function", "select", "eval", "source"];

pub fn parse(tokens: Vec<Token>, resolve: Resolver) -> Result<List, Refusal> {
    let mut parser = Parser { tokens, at: 0, resolve, loops: 0, nesting: 0 };
    let list = parser.list(&[])?;
    match parser.peek() {
        Token::End(_) => Ok(list),
        other => Err(unexpected(other)),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    resolve: Resolver<'a>,
    /// How many loops enclose the current command (`break` needs one).
    loops: usize,
    /// How many compound commands enclose the current one.
    nesting: usize,
}

/// Whether an expansion is inside double quotes.
fn is_quoted(part: &Part) -> bool {
    match part {
        Part::Text { quoted, .. }
        | Part::Param { quoted, .. }
        | Part::Conditional { quoted, .. }
        | Part::Length { quoted, .. }
        | Part::Arith { quoted, .. }
        | Part::Pidof { quoted, .. } => *quoted,
    }
}

fn pos_of(token: &Token) -> Pos {
    match token {
        Token::Word(w) => w.pos,
        Token::Op(_, pos) | Token::End(pos) => *pos,
    }
}

fn unexpected(token: &Token) -> Refusal {
    let what = match token {
        Token::Word(w) => format!("`{}`", w.literal().unwrap_or_else(|| "a word".into())),
        Token::Op(op, _) => format!("{op:?}"),
        Token::End(_) => "the end of the script".into(),
    };
    Refusal { pos: pos_of(token), message: format!("a syntax error: unexpected {what}") }
}

fn refuse<T>(pos: Pos, message: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal { pos, message: message.into() })
}

/// `NAME=` at the start of an unquoted word.
fn assignment(word: &Word) -> Option<(String, Word)> {
    let Some(Part::Text { text, quoted: false }) = word.parts.first() else { return None };
    let (name, rest) = text.split_once('=')?;
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return None;
    }
    let mut parts = Vec::new();
    if !rest.is_empty() {
        parts.push(Part::Text { text: rest.to_string(), quoted: false });
    }
    parts.extend(word.parts[1..].iter().cloned());
    Some((name.to_string(), Word { parts, pos: word.pos }))
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.at.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.at < self.tokens.len() - 1 {
            self.at += 1;
        }
        token
    }

    fn skip_newlines(&mut self) {
        while matches!(self.peek(), Token::Op(Op::Newline, _)) {
            self.next();
        }
    }

    /// A reserved word in command position.
    fn at_reserved(&self, words: &[&str]) -> bool {
        matches!(self.peek(), Token::Word(w) if words.iter().any(|r| w.is_bare(r)))
    }

    fn expect_reserved(&mut self, word: &str) -> Result<(), Refusal> {
        if self.at_reserved(&[word]) {
            self.next();
            Ok(())
        } else {
            let token = self.peek().clone();
            Err(Refusal { pos: pos_of(&token), message: format!("`{word}` expected, {}", unexpected(&token).message) })
        }
    }

    /// And-or lists separated by `;` or newlines, up to one of `until` (reserved words) or the end.
    /// A `;` must end a command: `;` alone or `a; ;` is a syntax error, as in sh.
    fn list(&mut self, until: &[&str]) -> Result<List, Refusal> {
        let mut list = Vec::new();
        loop {
            self.skip_newlines();
            if matches!(self.peek(), Token::End(_)) || self.at_reserved(until) {
                return Ok(list);
            }
            list.push(self.and_or()?);
            match self.peek() {
                Token::Op(Op::Newline, _) | Token::End(_) => {}
                Token::Op(Op::Semicolon, _) => {
                    self.next();
                }
                _ if self.at_reserved(until) => {}
                other => return Err(unexpected(other)),
            }
        }
    }

    fn and_or(&mut self) -> Result<AndOr, Refusal> {
        let first = self.pipeline()?;
        let mut rest = Vec::new();
        loop {
            let and = match self.peek() {
                Token::Op(Op::And, _) => true,
                Token::Op(Op::Or, _) => false,
                _ => return Ok(AndOr { first, rest }),
            };
            self.next();
            self.skip_newlines();
            rest.push((and, self.pipeline()?));
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, Refusal> {
        let negated = self.at_reserved(&["!"]);
        if negated {
            self.next();
        }
        let start = pos_of(self.peek());
        let mut commands = vec![self.command()?];
        while matches!(self.peek(), Token::Op(Op::Pipe, _)) {
            self.next();
            self.skip_newlines();
            commands.push(self.command()?);
        }
        if commands.len() > 1 {
            for (index, command) in commands.iter().enumerate() {
                match command {
                    Command::Simple(Simple { program: Program::External { .. }, pos, .. }) if index > 0 => {
                        return refuse(*pos, "a program reading a pipe (only built-ins read one)");
                    }
                    Command::Simple(Simple { program: Program::Exit, pos, .. }) => {
                        return refuse(*pos, "`exit` inside a pipeline");
                    }
                    Command::Simple(Simple { exec: true, pos, .. }) => {
                        return refuse(*pos, "`exec` inside a pipeline");
                    }
                    Command::Simple(_) => {}
                    _ => return refuse(start, "a compound command, assignment or `break` inside a pipeline"),
                }
            }
        }
        Ok(Pipeline { negated, commands })
    }

    fn command(&mut self) -> Result<Command, Refusal> {
        let token = self.peek().clone();
        let Token::Word(word) = &token else { return Err(unexpected(&token)) };
        let compound = ["if", "while", "until"].iter().any(|r| word.is_bare(r));
        if compound && self.nesting >= MAX_NESTING {
            return refuse(word.pos, format!("compound commands nested deeper than {MAX_NESTING} levels"));
        }
        self.nesting += usize::from(compound);
        let command = self.command_at(&token, word);
        self.nesting -= usize::from(compound);
        command
    }

    fn command_at(&mut self, token: &Token, word: &Word) -> Result<Command, Refusal> {
        if word.is_bare("if") {
            self.next();
            return self.if_clause();
        }
        if word.is_bare("while") || word.is_bare("until") {
            self.next();
            let condition = self.list(&["do"])?;
            self.expect_reserved("do")?;
            self.loops += 1;
            let body = self.list(&["done"])?;
            self.loops -= 1;
            self.expect_reserved("done")?;
            if condition.is_empty() || body.is_empty() {
                return Err(unexpected(self.peek()));
            }
            return Ok(Command::Loop { until: word.is_bare("until"), condition, body });
        }
        if RESERVED.iter().any(|r| word.is_bare(r)) {
            return Err(unexpected(token));
        }
        if let Some(refused) = REFUSED_WORDS.iter().find(|r| word.is_bare(r)) {
            return refuse(word.pos, format!("`{refused}`"));
        }
        if word.is_bare("break") {
            self.next();
            if self.loops == 0 {
                return refuse(word.pos, "`break` outside a loop");
            }
            if matches!(self.peek(), Token::Word(_)) {
                return refuse(word.pos, "`break N` (only a plain `break`)");
            }
            return Ok(Command::Break);
        }
        if assignment(word).is_some() {
            let mut assignments = Vec::new();
            while let Token::Word(w) = self.peek() {
                let Some((name, value)) = assignment(w) else {
                    // `NAME=value PROGRAM ...`: for the server or the entrypoint only (before a
                    // built-in, dash keeps some assignments and not others).
                    let mut command = self.simple()?;
                    match &mut command {
                        Command::Simple(simple) if matches!(simple.program, Program::External { .. }) => {
                            simple.assignments = assignments;
                            return Ok(command);
                        }
                        _ => {
                            return refuse(
                                word.pos,
                                "an assignment before a command other than the server or the entrypoint (`NAME=value command`)",
                            );
                        }
                    }
                };
                if name == "IFS" {
                    return refuse(w.pos, "an assignment to IFS (fields are split at blanks only)");
                }
                // sh expands `~` at the start of the value and after each `:`.
                if value.parts.iter().any(|p| matches!(p, Part::Text { text, quoted: false } if text.contains('~'))) {
                    return refuse(w.pos, "`~` in an assignment (tilde expansion)");
                }
                assignments.push((name, value));
                self.next();
            }
            if matches!(
                self.peek(),
                Token::Op(Op::Duplicate { .. } | Op::ToFile | Op::AppendToFile | Op::ErrorToFile, _)
            ) {
                return refuse(pos_of(self.peek()), "a redirection of an assignment");
            }
            return Ok(Command::Assign(assignments));
        }
        self.simple()
    }

    fn if_clause(&mut self) -> Result<Command, Refusal> {
        let mut branches = Vec::new();
        let mut otherwise = None;
        loop {
            let condition = self.list(&["then"])?;
            self.expect_reserved("then")?;
            let body = self.list(&["elif", "else", "fi"])?;
            if condition.is_empty() || body.is_empty() {
                return Err(unexpected(self.peek()));
            }
            branches.push((condition, body));
            if self.at_reserved(&["elif"]) {
                self.next();
                continue;
            }
            if self.at_reserved(&["else"]) {
                self.next();
                let body = self.list(&["fi"])?;
                if body.is_empty() {
                    return Err(unexpected(self.peek()));
                }
                otherwise = Some(body);
            }
            self.expect_reserved("fi")?;
            return Ok(Command::If { branches, otherwise });
        }
    }

    fn simple(&mut self) -> Result<Command, Refusal> {
        let mut words: Vec<Word> = Vec::new();
        let mut redirects = Vec::new();
        loop {
            match self.peek().clone() {
                Token::Word(w) => {
                    self.next();
                    words.push(w);
                }
                Token::Op(Op::Duplicate { from, to }, _) => {
                    self.next();
                    redirects.push(Redirect::Duplicate { from, to });
                }
                Token::Op(Op::ToFile, pos) => {
                    self.next();
                    match self.next() {
                        Token::Word(file) => redirects.push(Redirect::ToFile(file)),
                        _ => return refuse(pos, "`>` without a file name"),
                    }
                }
                Token::Op(Op::AppendToFile, pos) => {
                    self.next();
                    match self.next() {
                        Token::Word(file) => redirects.push(Redirect::AppendToFile(file)),
                        _ => return refuse(pos, "`>>` without a file name"),
                    }
                }
                Token::Op(Op::ErrorToFile, pos) => {
                    self.next();
                    match self.next() {
                        Token::Word(file) if file.literal().as_deref() == Some("/dev/null") => {
                            redirects.push(Redirect::ErrorToNull);
                        }
                        _ => return refuse(pos, "`2>` to a file other than /dev/null"),
                    }
                }
                _ => break,
            }
        }
        let Some(name_word) = words.first() else {
            return refuse(pos_of(self.peek()), "a redirection without a command");
        };
        let pos = name_word.pos;
        // `exec PROGRAM ARGS...`: the server or the entrypoint in place of the shell; nothing
        // else (a built-in, redirections of the shell itself) is taken.
        let exec = name_word.is_bare("exec");
        if exec {
            words.remove(0);
            if words.is_empty() || !redirects.is_empty() {
                return refuse(pos, "`exec` without a program, or with redirections");
            }
        }
        let name_word = &words[0];
        let Some(name) = name_word.literal() else {
            return refuse(pos, "a command name that comes from an expansion");
        };
        let program = (self.resolve)(&name, &words[1..]).map_err(|why| Refusal { pos, message: why })?;
        if program == Program::Builtin("kill")
            && words.get(1).and_then(Word::literal).is_some_and(|w| w == "-l" || w == "-L")
        {
            return refuse(pos, "`kill -l` (listing signals)");
        }
        // Everything knowable before the script runs is judged before it runs: a built-in's
        // options, operands, sed program and grep pattern, as written (an expansion inside a
        // word stands for one plain character; a word that is all expansion leaves the command
        // to be judged when it runs).
        if let Program::Builtin(builtin) = program {
            let literal: Option<Vec<std::ffi::OsString>> =
                words[1..].iter().map(|w| w.sketch().map(std::ffi::OsString::from)).collect();
            if let Some(why) = literal.and_then(|args| super::builtins::refusal(builtin, &args)) {
                return refuse(pos, why);
            }
        }
        if matches!(program, Program::Builtin("[" | "test")) {
            let unsupported = words[1..]
                .iter()
                .filter_map(Word::literal)
                .find(|w| super::builtins::TEST_UNSUPPORTED.contains(&w.as_str()));
            if let Some(op) = unsupported {
                return refuse(pos, format!("`{name} {op}` (access and terminal tests are not supported)"));
            }
        }
        if matches!(program, Program::External { .. })
            && redirects.iter().any(|r| matches!(r, Redirect::ToFile(_) | Redirect::AppendToFile(_)))
        {
            return refuse(pos, "a redirection of a program's output to a file (only a built-in's)");
        }
        if exec && !matches!(program, Program::External { .. }) {
            return refuse(pos, "`exec` of a built-in (only the server or the entrypoint)");
        }
        if program == Program::Builtin("export") {
            for word in &words[1..] {
                let unquoted = word.parts.iter().any(|p| !matches!(p, Part::Text { .. }) && !is_quoted(p));
                if unquoted {
                    return refuse(
                        word.pos,
                        "an unquoted expansion in `export`'s argument (write `export NAME=\"$VALUE\"`)",
                    );
                }
            }
        }
        Ok(Command::Simple(Simple { program, args: words.split_off(1), redirects, pos, exec, assignments: Vec::new() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sh::lexer::tokens;

    fn resolve(name: &str, _: &[Word]) -> Result<Program, String> {
        match name {
            "exit" => Ok(Program::Exit),
            "echo" | "[" | "grep" | "sed" | "cp" | "sleep" | "kill" | "true" | "false" => {
                Ok(Program::Builtin(crate::sh::builtins::NAMES.iter().find(|n| **n == name).copied().unwrap_or("true")))
            }
            "vault" => {
                Ok(Program::External { path: Some("/bin/vault".into()), name: "vault".into(), entrypoint: false })
            }
            _ => Err(format!("`{name}` is not allowed")),
        }
    }

    fn parse_text(script: &str) -> Result<List, Refusal> {
        parse(tokens(script)?, &resolve)
    }

    #[test]
    fn the_charts_shapes_parse() {
        let list = parse_text("[ -n \"${X}\" ] && sed -Ei \"s|a|${X?}|g\" f;\nif grep -q a f | grep -q b; then\n  echo e >&2;\n  exit 1;\nfi;\nvault server \n").unwrap();
        assert_eq!(list.len(), 3);
        let list =
            parse_text("n=0\nuntil [ \"$n\" -ge 3 ]\ndo\n  vault status | grep -E x && break\n  n=$((n+1))\ndone\n")
                .unwrap();
        assert!(matches!(list[1].first.commands[0], Command::Loop { until: true, .. }));
        assert!(parse_text("if a; then b; elif c; then d; else e; fi").is_err(), "a, b... are not allowed programs");
        assert!(parse_text("if true; then true; elif false; then true; else ! false; fi").is_ok());
    }

    #[test]
    fn refusals() {
        for (script, words) in [
            ("id", "`id` is not allowed"),
            ("echo | vault x", "a program reading a pipe"),
            ("X=1 echo", "an assignment before a command"),
            ("$X a", "from an expansion"),
            ("break", "outside a loop"),
            ("vault > f", "a program's output to a file"),
            ("eval x", "`eval`"),
            ("for x in a; do true; done", "`for`"),
            ("if true; then true", "`fi` expected"),
            ("then", "unexpected `then`"),
            ("true &&", "unexpected the end"),
            ("echo a | if true; then true; fi", "compound command"),
        ] {
            let refusal = parse_text(script).unwrap_err();
            assert!(refusal.message.contains(words), "{script:?}: {}", refusal.message);
        }
    }
}
