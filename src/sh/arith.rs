//! `$((...))`: integer arithmetic as the scripts use it (`n=$((n+1))`): decimal numbers,
//! variables by name or as `$NAME`, `+ - * / %`, unary `+ -`, parentheses. Checked: an overflow or a
//! division by zero is an error, never a wrapped number or a crash.

/// Deeper nesting than this is refused, so that no input can exhaust the stack.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Number(i64),
    Variable(String),
    Negate(Box<Expr>),
    Binary(Box<Expr>, char, Box<Expr>),
}

pub fn parse(text: &str) -> Result<Expr, String> {
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, at: 0 };
    let expr = parser.sum(0)?;
    match parser.tokens.get(parser.at) {
        None => Ok(expr),
        Some(t) => Err(format!("unexpected {t:?}")),
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Number(i64),
    Name(String),
    Op(char),
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            if digits.len() > 1 && digits.starts_with('0') {
                return Err(format!("{digits}: only decimal numbers are understood"));
            }
            out.push(Tok::Number(digits.parse().map_err(|_| format!("{digits}: not a decimal number in range"))?));
        } else if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            // `$n` and `${n}` name the same variable as `n`.
            let braced = c == '$' && chars.get(i + 1) == Some(&'{');
            i += if braced {
                2
            } else if c == '$' {
                1
            } else {
                0
            };
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[start..i].iter().collect();
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                return Err("a variable name was expected after `$`".into());
            }
            if braced {
                if chars.get(i) != Some(&'}') {
                    return Err(format!("${{{name}: not closed by `}}`"));
                }
                i += 1;
            }
            out.push(Tok::Name(name));
        } else if "+-*/%()".contains(c) {
            // `++`, `--` and `**` are operators of their own in shells that know them: refuse.
            if (c == '+' || c == '-' || c == '*') && chars.get(i + 1) == Some(&c) {
                return Err(format!("`{c}{c}` is not understood"));
            }
            out.push(Tok::Op(c));
            i += 1;
        } else {
            return Err(format!("`{c}` is not understood (only + - * / % and parentheses are)"));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek_op(&self) -> Option<char> {
        match self.tokens.get(self.at) {
            Some(Tok::Op(c)) => Some(*c),
            _ => None,
        }
    }

    fn sum(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.product(depth)?;
        while let Some(op @ ('+' | '-')) = self.peek_op() {
            self.at += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.product(depth)?));
        }
        Ok(left)
    }

    fn product(&mut self, depth: usize) -> Result<Expr, String> {
        let mut left = self.unary(depth)?;
        while let Some(op @ ('*' | '/' | '%')) = self.peek_op() {
            self.at += 1;
            left = Expr::Binary(Box::new(left), op, Box::new(self.unary(depth)?));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH} levels"));
        }
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        match token {
            Some(Tok::Number(n)) => Ok(Expr::Number(n)),
            Some(Tok::Name(name)) => Ok(Expr::Variable(name)),
            Some(Tok::Op('-')) => Ok(Expr::Negate(Box::new(self.unary(depth + 1)?))),
            Some(Tok::Op('+')) => self.unary(depth + 1),
            Some(Tok::Op('(')) => {
                let inner = self.sum(depth + 1)?;
                if self.peek_op() != Some(')') {
                    return Err("`(` not closed".into());
                }
                self.at += 1;
                Ok(inner)
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("an operand is missing".into()),
        }
    }
}

/// Evaluates with `lookup` giving a variable's text (unset or empty is 0, as in sh).
pub fn eval(expr: &Expr, lookup: &dyn Fn(&str) -> Option<String>) -> Result<i64, String> {
    match expr {
        Expr::Number(n) => Ok(*n),
        Expr::Variable(name) => {
            let text = lookup(name).unwrap_or_default();
            let text = text.trim();
            if text.is_empty() {
                return Ok(0);
            }
            text.parse::<i64>().map_err(|_| format!("{name}={text:?} is not a decimal integer"))
        }
        Expr::Negate(inner) => eval(inner, lookup)?.checked_neg().ok_or_else(|| "overflow".to_string()),
        Expr::Binary(left, op, right) => {
            let (a, b) = (eval(left, lookup)?, eval(right, lookup)?);
            let result = match op {
                '+' => a.checked_add(b),
                '-' => a.checked_sub(b),
                '*' => a.checked_mul(b),
                '/' if b == 0 => return Err("division by zero".into()),
                '/' => a.checked_div(b),
                '%' if b == 0 => return Err("division by zero".into()),
                _ => a.checked_rem(b),
            };
            result.ok_or_else(|| "overflow".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Result<i64, String> {
        eval(&parse(text)?, &|name| match name {
            "n" => Some("4".into()),
            "word" => Some("x".into()),
            _ => None,
        })
    }

    #[test]
    fn arithmetic_as_the_scripts_use_it() {
        assert_eq!(value("n+1"), Ok(5));
        assert_eq!(value("$n + 1"), Ok(5));
        assert_eq!(value("${n}*2"), Ok(8));
        assert_eq!(value("unset+1"), Ok(1));
        assert_eq!(value("-(2+3)*2 % 4"), Ok(-2));
        assert_eq!(value("7/2"), Ok(3));
    }

    #[test]
    fn errors_instead_of_wrong_numbers() {
        for bad in ["1/0", "1%0", "9223372036854775807+1", "word+1", "n++", "010", "0x10", "1 < 2", "(1", "", "1 2"] {
            assert!(value(bad).is_err(), "{bad:?} gave {:?}", value(bad));
        }
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(value(&deep).unwrap_err().contains("deeper"));
        assert!(value(&"-".repeat(10_000)).is_err());
    }
}
