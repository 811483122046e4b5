//! `[ EXPR ]` and `test EXPR`: strings (`-n`, `-z`, `=`, `!=`, a lone string), integers (`-eq`,
//! `-ne`, `-lt`, `-le`, `-gt`, `-ge`), files (`-e`, `-f`, `-d`, `-s`), `!`. At most four arguments,
//! as POSIX defines them; `-a`, `-o` and parentheses are refused. Status 0 true, 1 false, 2 error.

use super::Io;

pub fn run(name: &str, args: &[String], io: &mut Io) -> i32 {
    let args = if name == "[" {
        match args.split_last() {
            Some((last, rest)) if last == "]" => rest,
            _ => return io.fail(name, 2, "missing `]`"),
        }
    } else {
        args
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match evaluate(&args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => io.fail(name, 2, e),
    }
}

fn evaluate(args: &[&str]) -> Result<bool, String> {
    match args {
        [] => Ok(false),
        [one] => Ok(!one.is_empty()),
        ["!", rest @ ..] if args.len() <= 4 => evaluate(rest).map(|b| !b),
        [op, operand] => unary(op, operand),
        [left, op, right] => binary(left, op, right),
        _ => Err("more than one test (-a, -o, parentheses) is not supported".into()),
    }
}

fn unary(op: &str, operand: &str) -> Result<bool, String> {
    let meta = || std::fs::metadata(operand);
    Ok(match op {
        "-n" => !operand.is_empty(),
        "-z" => operand.is_empty(),
        "-e" => meta().is_ok(),
        "-f" => meta().is_ok_and(|m| m.is_file()),
        "-d" => meta().is_ok_and(|m| m.is_dir()),
        "-s" => meta().is_ok_and(|m| m.len() > 0),
        _ => return Err(format!("{op}: unknown unary operator")),
    })
}

fn integer(text: &str) -> Result<i64, String> {
    text.trim().parse::<i64>().map_err(|_| format!("{text}: bad number"))
}

fn binary(left: &str, op: &str, right: &str) -> Result<bool, String> {
    Ok(match op {
        "=" => left == right,
        "!=" => left != right,
        "-eq" => integer(left)? == integer(right)?,
        "-ne" => integer(left)? != integer(right)?,
        "-lt" => integer(left)? < integer(right)?,
        "-le" => integer(left)? <= integer(right)?,
        "-gt" => integer(left)? > integer(right)?,
        "-ge" => integer(left)? >= integer(right)?,
        "-a" | "-o" => return Err(format!("{op} is not supported")),
        _ => return Err(format!("{op}: unknown binary operator")),
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
    }

    #[test]
    fn errors_are_status_2() {
        assert_eq!(status(&["x", "-ge", "1"]), 2);
        assert_eq!(status(&["a", "-a", "b"]), 2);
        assert_eq!(status(&["a", "=", "b", "-o", "c", "=", "c"]), 2);
        assert_eq!(status(&["-q", "x"]), 2);
        assert_eq!(run_builtin("[", &["-n", "x"], b"").0, 2, "missing ]");
    }
}
