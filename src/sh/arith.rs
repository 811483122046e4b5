//! `$((...))`: the part of dash's arithmetic the scripts use (`n=$((n+1))`): numbers (decimal,
//! octal with a leading 0, hexadecimal with 0x), variables by name, `+ - * / %`, unary `+ -`,
//! parentheses. As in dash, the arithmetic is that of a 64-bit integer that wraps, a number too
//! large for it is the largest one, and a variable's value is read as one number (never as an
//! expression). Division by zero is an error. Anything else dash's arithmetic knows (comparisons,
//! bit operators, assignments, `$` inside) is refused when the script is read.
//!
//! The expression is parsed into postfix order and evaluated with a stack: no recursion per term
//! or per level, so a long or deep expression cannot exhaust the stack.

/// Parentheses nested deeper than this are refused.
pub const MAX_DEPTH: usize = 64;

/// One step of the expression in postfix order.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Number(i64),
    Variable(String),
    Negate,
    Binary(char),
}

/// A parsed expression, in postfix order.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr(pub Vec<Step>);

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Number(i64),
    Name(String),
    Op(char),
}

/// The digits of a number in `base` at the start of `text`, saturating as strtoimax does; how
/// many bytes were read.
fn digits(text: &[u8], base: u32) -> (i64, usize) {
    let mut value: i64 = 0;
    let mut length = 0;
    while let Some(digit) = text.get(length).and_then(|b| (*b as char).to_digit(base)) {
        value = value.saturating_mul(i64::from(base)).saturating_add(i64::from(digit));
        length += 1;
    }
    (value, length)
}

/// A number written in the expression, as dash's lexer reads it (strtoimax with base 0): what it
/// stands for and how many bytes it takes.
fn literal(text: &[u8]) -> (i64, usize) {
    match text {
        [b'0', b'x' | b'X', rest @ ..] if rest.first().is_some_and(u8::is_ascii_hexdigit) => {
            let (value, length) = digits(rest, 16);
            (value, length + 2)
        }
        [b'0', ..] => digits(text, 8),
        _ => digits(text, 10),
    }
}

/// A variable's value as dash reads it in arithmetic: blanks around, an optional sign, then a
/// decimal, octal (0...) or hexadecimal (0x...) number in range; empty or blank is 0.
pub fn number(text: &[u8]) -> Option<i64> {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r');
    let start = text.iter().position(|b| !is_space(b)).unwrap_or(text.len());
    let end = text.iter().rposition(|b| !is_space(b)).map_or(start, |e| e + 1);
    let core = &text[start..end.max(start)];
    if core.is_empty() {
        return Some(0);
    }
    let (negative, unsigned) = match core {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, core),
    };
    let (base, body) = match unsigned {
        [b'0', b'x' | b'X', rest @ ..] if !rest.is_empty() => (16, rest),
        [b'0', rest @ ..] if !rest.is_empty() => (8, rest),
        _ => (10, unsigned),
    };
    if body.is_empty() || !body.iter().all(|b| (*b as char).is_digit(base)) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let magnitude = i128::from_str_radix(text, base).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let (value, length) = literal(&bytes[i..]);
            out.push(Tok::Number(value));
            i += length.max(1);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Name(text[start..i].to_string()));
        } else if c == b'$' {
            return Err("`$` inside $((...)) (dash expands it as text first: write the name alone, $((n+1)))".into());
        } else if b"+-*/%()".contains(&c) {
            // dash has no `**`: it is `*` followed by `*`, a syntax error either way.
            if c == b'*' && bytes.get(i + 1) == Some(&b'*') {
                return Err("`**` is not understood".into());
            }
            out.push(Tok::Op(c as char));
            i += 1;
        } else {
            let shown = text[i..].chars().next().unwrap_or('?');
            return Err(format!("`{shown}` is not understood (only + - * / % and parentheses are)"));
        }
    }
    Ok(out)
}

fn precedence(op: char) -> u8 {
    match op {
        '+' | '-' => 1,
        '*' | '/' | '%' => 2,
        // Unary minus and plus, kept on the operator stack as `~` and `#`.
        _ => 3,
    }
}

/// Parses `text` (what is between `$((` and `))`).
pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = lex(text)?;
    let mut output = Vec::new();
    // Operators waiting for their right operand: `(`, binary operators, `~` (unary minus), `#`
    // (unary plus).
    let mut operators: Vec<char> = Vec::new();
    let mut depth = 0usize;
    let mut expect_operand = true;
    let pop = |op: char, output: &mut Vec<Step>| match op {
        '~' => output.push(Step::Negate),
        '#' => {}
        _ => output.push(Step::Binary(op)),
    };
    for token in tokens {
        match (token, expect_operand) {
            (Tok::Number(n), true) => {
                output.push(Step::Number(n));
                expect_operand = false;
            }
            (Tok::Name(name), true) => {
                output.push(Step::Variable(name));
                expect_operand = false;
            }
            (Tok::Op('-'), true) => operators.push('~'),
            (Tok::Op('+'), true) => operators.push('#'),
            (Tok::Op('('), true) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(format!("parentheses nested deeper than {MAX_DEPTH} levels"));
                }
                operators.push('(');
            }
            (Tok::Op(')'), false) => {
                loop {
                    match operators.pop() {
                        Some('(') => break,
                        Some(op) => pop(op, &mut output),
                        None => return Err("`)` without `(`".into()),
                    }
                }
                depth -= 1;
            }
            (Tok::Op(op @ ('+' | '-' | '*' | '/' | '%')), false) => {
                // Left-associative: pop what binds at least as tightly.
                while let Some(&top) = operators.last() {
                    if top == '(' || precedence(top) < precedence(op) {
                        break;
                    }
                    operators.pop();
                    pop(top, &mut output);
                }
                operators.push(op);
                expect_operand = true;
            }
            (token, true) => return Err(format!("an operand was expected, not {}", shown(&token))),
            (token, false) => return Err(format!("an operator was expected, not {}", shown(&token))),
        }
    }
    if expect_operand {
        return Err("an operand is missing".into());
    }
    while let Some(op) = operators.pop() {
        if op == '(' {
            return Err("`(` not closed".into());
        }
        pop(op, &mut output);
    }
    Ok(Expr(output))
}

fn shown(token: &Tok) -> String {
    match token {
        Tok::Number(n) => n.to_string(),
        Tok::Name(name) => format!("`{name}`"),
        Tok::Op(c) => format!("`{c}`"),
    }
}

/// Evaluates with `lookup` giving a variable's value (unset or empty is 0, as in sh).
pub fn eval(expr: &Expr, lookup: &dyn Fn(&str) -> Option<Vec<u8>>) -> Result<i64, String> {
    let mut stack: Vec<i64> = Vec::new();
    let broken = || "a malformed expression".to_string();
    for step in &expr.0 {
        match step {
            Step::Number(n) => stack.push(*n),
            Step::Variable(name) => {
                let text = lookup(name).unwrap_or_default();
                let value =
                    number(&text).ok_or_else(|| format!("Illegal number: {}", String::from_utf8_lossy(&text)))?;
                stack.push(value);
            }
            Step::Negate => {
                let value = stack.pop().ok_or_else(broken)?;
                stack.push(value.wrapping_neg());
            }
            Step::Binary(op) => {
                let b = stack.pop().ok_or_else(broken)?;
                let a = stack.pop().ok_or_else(broken)?;
                let value = match op {
                    '+' => a.wrapping_add(b),
                    '-' => a.wrapping_sub(b),
                    '*' => a.wrapping_mul(b),
                    '/' | '%' if b == 0 => return Err("division by zero".into()),
                    // dash dies of SIGFPE here; an error is the one clean outcome.
                    '/' | '%' if a == i64::MIN && b == -1 => {
                        return Err(format!("{a} {op} -1 does not fit in 64 bits"));
                    }
                    '/' => a / b,
                    _ => a % b,
                };
                stack.push(value);
            }
        }
    }
    match stack.as_slice() {
        [value] => Ok(*value),
        _ => Err(broken()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Result<i64, String> {
        eval(&parse(text)?, &|name| match name {
            "n" => Some(b"4".to_vec()),
            "octal" => Some(b"010".to_vec()),
            "hex" => Some(b" 0x1f ".to_vec()),
            "word" => Some(b"x".to_vec()),
            "bad_octal" => Some(b"08".to_vec()),
            _ => None,
        })
    }

    #[test]
    fn arithmetic_as_dash_does_it() {
        assert_eq!(value("n+1"), Ok(5));
        assert_eq!(value("unset+1"), Ok(1));
        assert_eq!(value("-(2+3)*2 % 4"), Ok(-2));
        assert_eq!(value("7/2"), Ok(3));
        assert_eq!(value("1 - 2 - 3"), Ok(-4), "left-associative");
        assert_eq!(value("2 + 3 * 4"), Ok(14));
        assert_eq!(value("010 + octal"), Ok(16), "a leading 0 is octal");
        assert_eq!(value("0x10 + hex"), Ok(47));
        assert_eq!(value("1++1"), Ok(2), "dash reads `++` as two signs");
        assert_eq!(value("1--1"), Ok(2));
        assert_eq!(value("9223372036854775807+1"), Ok(i64::MIN), "wraps as dash does");
        assert_eq!(value("99999999999999999999"), Ok(i64::MAX), "a literal saturates as dash's");
    }

    #[test]
    fn errors_where_dash_has_errors() {
        for bad in ["1/0", "1%0", "word+1", "bad_octal", "08", "0x", "1a", "1 < 2", "(1", "", "1 2", "$n", "2**3"] {
            assert!(value(bad).is_err(), "{bad:?} gave {:?}", value(bad));
        }
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(value(&deep).unwrap_err().contains("deeper"));
        assert!(value(&"-".repeat(10_000)).is_err());
    }

    #[test]
    fn a_long_expression_is_no_deeper_than_a_short_one() {
        let long = vec!["1"; 200_000].join("+");
        assert_eq!(value(&long), Ok(200_000));
        assert_eq!(value(&format!("{}1", "-".repeat(100_001))), Ok(-1));
    }

    #[test]
    fn variables_are_numbers_as_dash_reads_them() {
        for (text, expected) in [
            ("12 ", Some(12)),
            (" 12", Some(12)),
            ("0x1f", Some(31)),
            ("-5", Some(-5)),
            ("+5", Some(5)),
            ("08", None),
            ("", Some(0)),
            ("  ", Some(0)),
            ("1 2", None),
            ("- 5", None),
            ("012a", None),
            ("99999999999999999999", None),
            ("0x", None),
            ("-9223372036854775808", Some(i64::MIN)),
        ] {
            assert_eq!(number(text.as_bytes()), expected, "{text:?}");
        }
    }
}
