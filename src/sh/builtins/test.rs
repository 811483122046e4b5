//! `[ EXPR ]` and `test EXPR`, as dash's test reads them (laid out as its src/bltin/test.c, with
//! its names): POSIX's rules by argument count first, then `oexpr`/`aexpr`/`nexpr`/`primary`
//! with dash's look-ahead, so that data such as `x='!'; [ "$x" = y ]` is compared, not parsed.
//! Strings (`-n`, `-z`, `=`, `!=`, `<`, `>`, a lone string), integers (`-eq` ... `-ge`), files
//! (`-e`, `-f`, `-d`, `-s`, `-h`/`-L`, `-p`, `-S`, `-b`, `-c`, `-u`, `-g`, `-k`, `-nt`, `-ot`,
//! `-ef`), `!`, `-a`, `-o`, parentheses. Status 0 true, 1 false, 2 error.
//!
//! Not here: `-r`, `-w`, `-x`, `-t`, `-O`, `-G` (they ask the kernel about the caller's access,
//! terminal or ids); a script that writes one is refused when it is read.

use super::Io;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

/// The operators dash knows and hardinit does not.
pub const UNSUPPORTED: [&str; 6] = ["-r", "-w", "-x", "-t", "-O", "-G"];

/// How deep `!` and `(` may nest before the expression is an error: dash's parser recurses there.
const MAX_NESTING: usize = 256;

#[derive(Clone, Copy, PartialEq, Debug)]
enum OpType {
    Unop,
    Binop,
    Bunop,
    Bbinop,
    Paren,
}

fn getop(s: &[u8]) -> Option<OpType> {
    Some(match s {
        b"-e" | b"-f" | b"-d" | b"-c" | b"-b" | b"-p" | b"-u" | b"-g" | b"-k" | b"-s" | b"-z" | b"-n" | b"-h"
        | b"-L" | b"-S" | b"-r" | b"-w" | b"-x" | b"-t" | b"-O" | b"-G" => OpType::Unop,
        b"=" | b"!=" | b"<" | b">" | b"-eq" | b"-ne" | b"-ge" | b"-gt" | b"-le" | b"-lt" | b"-nt" | b"-ot" | b"-ef" => {
            OpType::Binop
        }
        b"!" => OpType::Bunop,
        b"-a" | b"-o" => OpType::Bbinop,
        b"(" | b")" => OpType::Paren,
        _ => return None,
    })
}

/// A token: an operator (its text) or an operand; `Eoi` past the last argument.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Token<'a> {
    Eoi,
    Op(&'a [u8], OpType),
    Operand,
}

struct Test<'a> {
    argv: Vec<&'a [u8]>,
    /// dash's `t_wp`: the argument being read.
    wp: usize,
    depth: usize,
}

pub fn run(name: &str, args: &[&[u8]], io: &mut Io) -> i32 {
    let args = if name == "[" {
        match args.split_last() {
            Some((last, rest)) if *last == b"]" => rest,
            _ => return io.fail(name, 2, "missing ]"),
        }
    } else {
        args
    };
    match testcmd(args) {
        Ok(status) => status,
        Err(e) => io.fail(name, 2, e),
    }
}

fn shown(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn syntax(op: Option<&[u8]>, message: &str) -> String {
    match op {
        Some(op) if !op.is_empty() => format!("{}: {message}", shown(op)),
        _ => message.to_string(),
    }
}

/// dash's testcmd: the status (0 true, 1 false) or the error.
fn testcmd(args: &[&[u8]]) -> Result<i32, String> {
    let mut argv: Vec<&[u8]> = args.to_vec();
    let mut res = 1;
    loop {
        if argv.is_empty() {
            return Ok(res);
        }
        let argc = argv.len();
        if argc == 3 && getop(argv[1]) == Some(OpType::Binop) {
            let mut test = Test { argv, wp: 0, depth: 0 };
            return test.finish(res, Token::Operand);
        }
        if argc == 3 || argc == 4 {
            if argv[0] == b"(" && argv[argc - 1] == b")" {
                argv = argv[1..argc - 1].to_vec();
            } else if argv[0] == b"!" {
                res = 0;
                argv.remove(0);
                continue;
            }
        }
        let mut test = Test { argv, wp: 0, depth: 0 };
        let n = test.t_lex(0);
        return test.finish(res, n);
    }
}

impl<'a> Test<'a> {
    fn arg(&self, at: usize) -> Option<&'a [u8]> {
        self.argv.get(at).copied()
    }

    fn finish(&mut self, res: i32, n: Token<'a>) -> Result<i32, String> {
        let value = self.oexpr(n)?;
        if self.arg(self.wp).is_some() && self.arg(self.wp + 1).is_some() {
            return Err(syntax(self.arg(self.wp), "unexpected operator"));
        }
        Ok(res ^ i32::from(value))
    }

    fn t_lex(&self, at: usize) -> Token<'a> {
        let Some(s) = self.arg(at) else { return Token::Eoi };
        match getop(s) {
            Some(OpType::Unop) if self.isoperand(at) => Token::Operand,
            Some(OpType::Paren) if s == b"(" && self.arg(at + 1).is_none() => Token::Operand,
            Some(op) => Token::Op(s, op),
            None => Token::Operand,
        }
    }

    fn isoperand(&self, at: usize) -> bool {
        let Some(next) = self.arg(at + 1) else { return true };
        if self.arg(at + 2).is_none() {
            return false;
        }
        getop(next) == Some(OpType::Binop)
    }

    fn nest(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("expression nested deeper than {MAX_NESTING} levels"));
        }
        Ok(())
    }

    fn oexpr(&mut self, mut n: Token<'a>) -> Result<bool, String> {
        let mut res = false;
        loop {
            res |= self.aexpr(n)?;
            n = self.t_lex(self.wp + 1);
            if n != Token::Op(b"-o", OpType::Bbinop) {
                return Ok(res);
            }
            self.wp += 2;
            n = self.t_lex(self.wp);
        }
    }

    fn aexpr(&mut self, mut n: Token<'a>) -> Result<bool, String> {
        let mut res = true;
        loop {
            if !self.nexpr(n)? {
                res = false;
            }
            n = self.t_lex(self.wp + 1);
            if n != Token::Op(b"-a", OpType::Bbinop) {
                return Ok(res);
            }
            self.wp += 2;
            n = self.t_lex(self.wp);
        }
    }

    /// `! ! ... primary`, counted rather than recursed.
    fn nexpr(&mut self, mut n: Token<'a>) -> Result<bool, String> {
        let mut negations = 0usize;
        while matches!(n, Token::Op(b"!", _)) {
            n = self.t_lex(self.wp + 1);
            if n != Token::Eoi {
                self.wp += 1;
            }
            negations += 1;
        }
        Ok(self.primary(n)? ^ (negations % 2 == 1))
    }

    fn primary(&mut self, n: Token<'a>) -> Result<bool, String> {
        match n {
            Token::Eoi => return Ok(false),
            Token::Op(b"(", _) => {
                self.wp += 1;
                let nn = self.t_lex(self.wp);
                if matches!(nn, Token::Op(b")", _)) {
                    return Ok(false);
                }
                self.nest()?;
                let res = self.oexpr(nn)?;
                self.depth -= 1;
                self.wp += 1;
                if !matches!(self.t_lex(self.wp), Token::Op(b")", _)) {
                    return Err(syntax(None, "closing paren expected"));
                }
                return Ok(res);
            }
            Token::Op(op, OpType::Unop) => {
                self.wp += 1;
                let Some(operand) = self.arg(self.wp) else {
                    return Err(syntax(Some(op), "argument expected"));
                };
                return unary(op, operand);
            }
            _ => {}
        }
        let current = self.arg(self.wp).unwrap_or_default();
        if let Token::Op(op, OpType::Binop) = self.t_lex(self.wp + 1) {
            self.wp += 2;
            let Some(right) = self.arg(self.wp) else {
                return Err(syntax(Some(op), "argument expected"));
            };
            return binary(current, op, right);
        }
        Ok(!current.is_empty())
    }
}

fn unary(op: &[u8], operand: &[u8]) -> Result<bool, String> {
    let path = OsStr::from_bytes(operand);
    let meta = || std::fs::metadata(path);
    Ok(match op {
        b"-n" => !operand.is_empty(),
        b"-z" => operand.is_empty(),
        b"-e" => meta().is_ok(),
        b"-f" => meta().is_ok_and(|m| m.is_file()),
        b"-d" => meta().is_ok_and(|m| m.is_dir()),
        b"-s" => meta().is_ok_and(|m| m.len() > 0),
        b"-h" | b"-L" => std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()),
        b"-p" => meta().is_ok_and(|m| m.file_type().is_fifo()),
        b"-S" => meta().is_ok_and(|m| m.file_type().is_socket()),
        b"-b" => meta().is_ok_and(|m| m.file_type().is_block_device()),
        b"-c" => meta().is_ok_and(|m| m.file_type().is_char_device()),
        b"-u" => meta().is_ok_and(|m| m.mode() & 0o4000 != 0),
        b"-g" => meta().is_ok_and(|m| m.mode() & 0o2000 != 0),
        b"-k" => meta().is_ok_and(|m| m.mode() & 0o1000 != 0),
        _ => return Err(format!("{}: not supported by hardinit's test", shown(op))),
    })
}

/// What the C library's isspace(3) is in the C locale, which dash's strtoimax skips before a
/// number and dash itself after it: `\r` from a Windows line end, `\v`, `\f` included.
pub const C_SPACE: [char; 6] = [' ', '\t', '\n', '\u{b}', '\u{c}', '\r'];

/// An integer operand as dash reads it: C spaces around, an optional sign, decimal digits, in
/// the range of a 64-bit integer.
pub fn integer(text: &[u8]) -> Result<i64, String> {
    let bad = || format!("Illegal number: {}", shown(text));
    let trimmed = std::str::from_utf8(text).map_err(|_| bad())?.trim_matches(C_SPACE);
    let digits = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    trimmed.strip_prefix('+').unwrap_or(trimmed).parse::<i64>().map_err(|_| bad())
}

fn binary(left: &[u8], op: &[u8], right: &[u8]) -> Result<bool, String> {
    let times = |path: &[u8]| std::fs::metadata(OsStr::from_bytes(path)).ok().map(|m| (m.mtime(), m.mtime_nsec()));
    Ok(match op {
        b"=" => left == right,
        b"!=" => left != right,
        b"<" => left < right,
        b">" => left > right,
        b"-eq" => integer(left)? == integer(right)?,
        b"-ne" => integer(left)? != integer(right)?,
        b"-lt" => integer(left)? < integer(right)?,
        b"-le" => integer(left)? <= integer(right)?,
        b"-gt" => integer(left)? > integer(right)?,
        b"-ge" => integer(left)? >= integer(right)?,
        // As dash 0.5.12 (Debian 12): both files must exist.
        b"-nt" => matches!((times(left), times(right)), (Some(a), Some(b)) if a > b),
        b"-ot" => matches!((times(left), times(right)), (Some(a), Some(b)) if a < b),
        _ => {
            let id = |path: &[u8]| std::fs::metadata(OsStr::from_bytes(path)).ok().map(|m| (m.dev(), m.ino()));
            id(left).is_some_and(|a| Some(a) == id(right))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::testing::run_builtin;

    fn status(args: &[&str]) -> i32 {
        let mut with_bracket = args.to_vec();
        with_bracket.push("]");
        let bracket = run_builtin("[", &with_bracket, b"").0;
        assert_eq!(bracket, run_builtin("test", args, b"").0, "{args:?}");
        bracket
    }

    #[test]
    fn the_operators_the_scripts_use() {
        assert_eq!(status(&["-n", "10.0.0.1"]), 0);
        assert_eq!(status(&["-n", ""]), 1);
        assert_eq!(status(&["-z", ""]), 0);
        assert_eq!(status(&["3", "-ge", "10"]), 1);
        assert_eq!(status(&["10", "-ge", "10"]), 0);
        assert_eq!(status(&["1", "-lt", "2"]), 0);
        assert_eq!(status(&["a", "=", "a"]), 0);
        assert_eq!(status(&["a", "!=", "a"]), 1);
        assert_eq!(status(&["!", "-n", ""]), 0);
        assert_eq!(status(&["x"]), 0);
        assert_eq!(status(&[]), 1);
        assert_eq!(status(&["-d", "/"]), 0);
        assert_eq!(status(&["-f", "/"]), 1);
        assert_eq!(status(&[" 1", "-eq", "+1 "]), 0, "blanks and a sign, as dash reads them");
        assert_eq!(status(&["010", "-eq", "10"]), 0, "decimal, not octal");
    }

    #[test]
    fn a_bang_or_an_equals_sign_that_is_data_is_compared() {
        assert_eq!(status(&["!", "=", "x"]), 1);
        assert_eq!(status(&["!", "=", "!"]), 0);
        assert_eq!(status(&["!", "!=", "!"]), 1);
        assert_eq!(status(&["!"]), 0, "one non-empty string");
        assert_eq!(status(&["="]), 0);
        assert_eq!(status(&["!", "!"]), 1);
        assert_eq!(status(&["-n"]), 0);
        assert_eq!(status(&["!", "a", "=", "b"]), 0);
        assert_eq!(status(&["(", "x", ")"]), 0);
    }

    #[test]
    fn errors_are_status_2() {
        assert_eq!(status(&["x", "-ge", "1"]), 2);
        assert_eq!(status(&["a", "=", "b", "-o", "c", "=", "c"]), 0, "-o as dash reads it");
        assert_eq!(status(&["-q", "x"]), 2);
        assert_eq!(status(&["a", "b", "c"]), 2);
        assert_eq!(status(&["(", "x"]), 2);
        assert_eq!(run_builtin("[", &["-n", "x"], b"").0, 2, "missing ]");
    }
}
