//! Reads the server's configuration the way the server will, for the one setting the memory guard
//! depends on: `disable_mlock`. Every `-config` file or directory on the command line (HCL, or JSON
//! by the `.json` extension, as Vault decides), plus VAULT_DISABLE_MLOCK / BAO_DISABLE_MLOCK.
//!
//! The HCL reader is a real tokenizer and a structural parser (attributes, blocks, strings with
//! template interpolation, heredocs, the three comment forms, nested lists and objects): a
//! `disable_mlock` inside a block, a string or a comment is not the top-level attribute. It is
//! small because it only has to understand structure; values other than literals are refused.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Number(String),
    Punct(char),
    Newline,
}

struct Lexer<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
}

impl Lexer<'_> {
    fn error(&self, what: &str) -> String {
        format!("line {}: {what}", self.line)
    }

    fn peek(&self, offset: usize) -> Option<u8> {
        self.text.get(self.pos + offset).copied()
    }

    fn tokens(mut self) -> Result<Vec<(Token, usize)>, String> {
        let mut out = Vec::new();
        while let Some(c) = self.peek(0) {
            let line = self.line;
            match c {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    out.push((Token::Newline, line));
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                b'#' => self.skip_line(),
                b'/' if self.peek(1) == Some(b'/') => self.skip_line(),
                b'/' if self.peek(1) == Some(b'*') => self.skip_block_comment()?,
                b'"' => out.push((Token::Str(self.string()?), line)),
                b'<' if self.peek(1) == Some(b'<')
                    && self.peek(2).is_some_and(|c| c == b'-' || c.is_ascii_alphabetic()) =>
                {
                    out.push((Token::Str(self.heredoc()?), line))
                }
                c if c.is_ascii_digit() => {
                    let start = self.pos;
                    while self.peek(0).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_') {
                        self.pos += 1;
                    }
                    out.push((Token::Number(String::from_utf8_lossy(&self.text[start..self.pos]).into()), line));
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                    let start = self.pos;
                    while self.peek(0).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c >= 0x80)
                    {
                        self.pos += 1;
                    }
                    out.push((Token::Ident(String::from_utf8_lossy(&self.text[start..self.pos]).into()), line));
                }
                c if b"={}[](),:?!+-*/%<>&|.=~".contains(&c) => {
                    self.pos += 1;
                    out.push((Token::Punct(c as char), line));
                }
                _ => return Err(self.error("unexpected character")),
            }
        }
        Ok(out)
    }

    fn skip_line(&mut self) {
        while self.peek(0).is_some_and(|c| c != b'\n') {
            self.pos += 1;
        }
    }

    fn skip_block_comment(&mut self) -> Result<(), String> {
        let start = self.line;
        self.pos += 2;
        loop {
            match self.peek(0) {
                None => return Err(format!("line {start}: unterminated /* comment")),
                Some(b'*') if self.peek(1) == Some(b'/') => {
                    self.pos += 2;
                    return Ok(());
                }
                Some(c) => {
                    self.line += usize::from(c == b'\n');
                    self.pos += 1;
                }
            }
        }
    }

    /// A quoted string; `${...}` and `%{...}` templates are kept verbatim, their nested strings
    /// and braces skipped correctly.
    fn string(&mut self) -> Result<String, String> {
        let start = self.line;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek(0) {
                None | Some(b'\n') => return Err(format!("line {start}: unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).map_err(|_| format!("line {start}: string is not UTF-8"));
                }
                Some(b'\\') => {
                    let escaped = match self.peek(1) {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'u' | b'U') => b'?',
                        _ => return Err(format!("line {start}: bad escape in string")),
                    };
                    out.push(escaped);
                    self.pos += 2;
                }
                Some(b'$' | b'%') if self.peek(1) == Some(b'{') => {
                    let from = self.pos;
                    self.pos += 2;
                    let mut depth = 1;
                    while depth > 0 {
                        match self.peek(0) {
                            None => return Err(format!("line {start}: unterminated template")),
                            Some(b'{') => depth += 1,
                            Some(b'}') => depth -= 1,
                            Some(b'"') => {
                                self.string()?;
                                continue;
                            }
                            Some(b'\n') => self.line += 1,
                            _ => {}
                        }
                        self.pos += 1;
                    }
                    out.extend_from_slice(&self.text[from..self.pos]);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// `<<EOF` or `<<-EOF` up to a line that is only the marker.
    fn heredoc(&mut self) -> Result<String, String> {
        let start = self.line;
        self.pos += 2;
        if self.peek(0) == Some(b'-') {
            self.pos += 1;
        }
        let marker_start = self.pos;
        while self.peek(0).is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_') {
            self.pos += 1;
        }
        let marker = self.text[marker_start..self.pos].to_vec();
        self.skip_line();
        let mut body = Vec::new();
        while self.peek(0).is_some() {
            self.pos += 1;
            self.line += 1;
            let line_start = self.pos;
            self.skip_line();
            let line = &self.text[line_start..self.pos];
            if line.trim_ascii() == marker.as_slice() {
                return Ok(String::from_utf8_lossy(&body).into());
            }
            body.extend_from_slice(line);
            body.push(b'\n');
        }
        Err(format!("line {start}: unterminated heredoc"))
    }
}

/// The top-level attributes of an HCL body, each with the tokens of its value.
fn hcl_top_level(tokens: &[(Token, usize)]) -> Result<Vec<(String, Vec<Token>)>, String> {
    let mut attributes = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    let line_of = |i: usize| tokens.get(i).or(tokens.last()).map_or(1, |t| t.1);
    while i < tokens.len() {
        match &tokens[i].0 {
            Token::Newline => i += 1,
            Token::Punct('}') if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            Token::Ident(name) | Token::Str(name) => {
                // An attribute `name = value`, or a block `name "label"... {`.
                let mut j = i + 1;
                if matches!(tokens.get(j), Some((Token::Punct('='), _))) {
                    let value_start = j + 1;
                    let mut nesting = 0usize;
                    j = value_start;
                    while let Some((t, _)) = tokens.get(j) {
                        match t {
                            Token::Punct('(' | '[' | '{') => nesting += 1,
                            Token::Punct(')' | ']') if nesting > 0 => nesting -= 1,
                            Token::Punct('}') if nesting > 0 => nesting -= 1,
                            Token::Punct('}') => break,
                            Token::Newline if nesting == 0 => break,
                            Token::Punct(')' | ']') => return Err(format!("line {}: unbalanced bracket", line_of(j))),
                            _ => {}
                        }
                        j += 1;
                    }
                    if j == value_start {
                        return Err(format!("line {}: attribute {name} has no value", line_of(i)));
                    }
                    if depth == 0 {
                        attributes.push((name.clone(), tokens[value_start..j].iter().map(|t| t.0.clone()).collect()));
                    }
                    i = j;
                    continue;
                }
                while matches!(tokens.get(j), Some((Token::Str(_) | Token::Ident(_), _))) {
                    j += 1;
                }
                if !matches!(tokens.get(j), Some((Token::Punct('{'), _))) {
                    return Err(format!("line {}: expected `=` or a block after {name}", line_of(i)));
                }
                depth += 1;
                i = j + 1;
            }
            _ => return Err(format!("line {}: expected an attribute or a block", line_of(i))),
        }
    }
    if depth > 0 {
        return Err(format!("line {}: a block is not closed", line_of(tokens.len())));
    }
    Ok(attributes)
}

/// The top-level keys of a JSON object, each with the tokens of its value.
fn json_top_level(tokens: &[(Token, usize)]) -> Result<Vec<(String, Vec<Token>)>, String> {
    let tokens: Vec<&(Token, usize)> = tokens.iter().filter(|t| t.0 != Token::Newline).collect();
    let line_of = |i: usize| tokens.get(i).or(tokens.last()).map_or(1, |t| t.1);
    if !matches!(tokens.first(), Some((Token::Punct('{'), _))) {
        return Err("line 1: a JSON configuration must be an object".into());
    }
    let mut keys = Vec::new();
    let mut i = 1;
    loop {
        match tokens.get(i) {
            Some((Token::Punct('}'), _)) if keys.is_empty() => {
                i += 1;
                break;
            }
            Some((Token::Str(key), _)) if matches!(tokens.get(i + 1), Some((Token::Punct(':'), _))) => {
                let start = i + 2;
                let mut j = start;
                let mut nesting = 0usize;
                while let Some((t, _)) = tokens.get(j) {
                    match t {
                        Token::Punct('[' | '{') => nesting += 1,
                        Token::Punct(']' | '}') if nesting > 0 => nesting -= 1,
                        Token::Punct(',' | '}') if nesting == 0 => break,
                        _ => {}
                    }
                    j += 1;
                }
                if j == start {
                    return Err(format!("line {}: key {key:?} has no value", line_of(i)));
                }
                keys.push((key.clone(), tokens[start..j].iter().map(|t| t.0.clone()).collect()));
                i = j + 1;
                match tokens.get(j) {
                    Some((Token::Punct(','), _)) => continue,
                    Some((Token::Punct('}'), _)) => break,
                    _ => return Err(format!("line {}: unterminated object", line_of(j))),
                }
            }
            _ => return Err(format!("line {}: expected a \"key\": value", line_of(i))),
        }
    }
    if i < tokens.len() {
        return Err(format!("line {}: text after the object", line_of(i)));
    }
    Ok(keys)
}

/// Go's strconv.ParseBool, which Vault applies to `disable_mlock` and VAULT_DISABLE_MLOCK.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

fn literal_bool(value: &[Token]) -> Option<bool> {
    match value {
        [Token::Ident(v)] | [Token::Str(v)] | [Token::Number(v)] => parse_bool(v),
        _ => None,
    }
}

/// What one file says about `disable_mlock`: `None` when it does not set it.
pub fn disable_mlock_in(text: &[u8], json: bool) -> Result<Option<bool>, String> {
    let tokens = Lexer { text, pos: 0, line: 1 }.tokens()?;
    let attributes = if json { json_top_level(&tokens)? } else { hcl_top_level(&tokens)? };
    let mut result = None;
    for (name, value) in attributes.iter().filter(|(n, _)| n == "disable_mlock") {
        let value = literal_bool(value).ok_or_else(|| format!("{name} is not a literal true or false"))?;
        result = Some(value);
    }
    Ok(result)
}

/// The `-config` paths of a server command line (`-config=X`, `-config X`, and `--` forms).
pub fn config_paths(args: &[OsString]) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else { continue };
        let flag = text.strip_prefix("--").or_else(|| text.strip_prefix('-'));
        match flag {
            Some("config") => paths.extend(iter.next().map(PathBuf::from)),
            Some(f) if f.starts_with("config=") => paths.push(PathBuf::from(&f["config=".len()..])),
            _ => {}
        }
    }
    paths
}

/// Files a `-config` path stands for: the file itself, or a directory's `.hcl` and `.json` files
/// in name order, as Vault loads them.
fn config_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "hcl" || x == "json") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// What the server's configuration says about mlock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MlockSetting {
    /// Any file or the variable saying true disables it; `None`: nothing says anything.
    pub disabled: Option<bool>,
    /// How many configuration files the server will load.
    pub files: usize,
}

pub fn mlock_disabled(paths: &[PathBuf], env: &[(&str, Option<String>)]) -> Result<MlockSetting, String> {
    let mut disabled = None;
    let mut files = 0;
    for (name, value) in env {
        if let Some(value) = value {
            let v = parse_bool(value).ok_or_else(|| format!("{name}={value:?} is not true or false"))?;
            disabled = Some(disabled.unwrap_or(false) || v);
        }
    }
    for path in paths {
        for file in config_files(path)? {
            files += 1;
            let meta = std::fs::metadata(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            if meta.len() > 16 * 1024 * 1024 {
                return Err(format!("{}: larger than 16 MiB", file.display()));
            }
            let text = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let json = file.extension().is_some_and(|x| x == "json");
            if let Some(v) = disable_mlock_in(&text, json).map_err(|e| format!("{}: {e}", file.display()))? {
                disabled = Some(disabled.unwrap_or(false) || v);
            }
        }
    }
    Ok(MlockSetting { disabled, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hcl(text: &str) -> Result<Option<bool>, String> {
        disable_mlock_in(text.as_bytes(), false)
    }

    #[test]
    fn reads_the_top_level_attribute_only() {
        assert_eq!(hcl("disable_mlock = true\n"), Ok(Some(true)));
        assert_eq!(hcl("disable_mlock = false"), Ok(Some(false)));
        assert_eq!(hcl("disable_mlock = \"true\""), Ok(Some(true)));
        assert_eq!(hcl("disable_mlock = 1"), Ok(Some(true)));
        assert_eq!(hcl("ui = true\n"), Ok(None));
        // Inside a block, a string, a heredoc or a comment it is not the setting.
        let decoys = r#"
# disable_mlock = true
// disable_mlock = true
/* disable_mlock = true
   still a comment */
storage "raft" {
  path = "/vault/data"
  disable_mlock = true
  retry_join { leader_api_addr = "https://${HOSTNAME}:8200" }
}
listener "tcp" { address = "[::]:8200", tls_disable = 1 }
api_addr = "http://${format("%s", "disable_mlock = true")}"
seal "transit" {
  token = <<EOF
disable_mlock = true
EOF
}
ports = [
  8200,
  8201,
]
"#;
        assert_eq!(hcl(decoys), Ok(None));
        assert_eq!(hcl(&format!("{decoys}\ndisable_mlock = true\n")), Ok(Some(true)));
    }

    #[test]
    fn the_helm_charts_configs_disable_mlock() {
        let chart = "disable_mlock = true\nui = true\n\nlistener \"tcp\" {\n  tls_disable = 1\n  address = \"[::]:8200\"\n  cluster_address = \"[::]:8201\"\n}\nstorage \"file\" {\n  path = \"/vault/data\"\n}\n";
        assert_eq!(hcl(chart), Ok(Some(true)));
    }

    #[test]
    fn the_official_charts_rendered_configs_parse() {
        // The charts' exact configs (shared fixtures): vault-helm appends disable_mlock, openbao-helm not.
        let fixtures = [
            (include_str!("../../tests/fixtures/helm/vault-helm-standalone.hcl"), Some(true)),
            (include_str!("../../tests/fixtures/helm/vault-helm-ha.hcl"), Some(true)),
            (include_str!("../../tests/fixtures/helm/vault-helm-ha-raft.hcl"), Some(true)),
            (include_str!("../../tests/fixtures/helm/vault-helm-ha-raft-zones.hcl"), Some(true)),
            (include_str!("../../tests/fixtures/helm/openbao-helm-standalone.hcl"), None),
            (include_str!("../../tests/fixtures/helm/openbao-helm-ha.hcl"), None),
            (include_str!("../../tests/fixtures/helm/openbao-helm-ha-raft.hcl"), None),
        ];
        for (text, expected) in fixtures {
            assert_eq!(hcl(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn json_configs() {
        let json = |t: &str| disable_mlock_in(t.as_bytes(), true);
        assert_eq!(
            json(r#"{"disable_mlock": true, "storage": {"file": {"path": "/x", "disable_mlock": false}}}"#),
            Ok(Some(true))
        );
        assert_eq!(json(r#"{"storage": {"raft": {"disable_mlock": true}}, "ui": true}"#), Ok(None));
        assert_eq!(json(r#"{"disable_mlock": "false"}"#), Ok(Some(false)));
        assert_eq!(json("{}"), Ok(None));
        assert!(json("[1]").is_err());
        assert!(json(r#"{"a": 1"#).is_err());
        assert!(json(r#"{"a": 1} x"#).is_err());
    }

    #[test]
    fn unparsable_configs_are_errors_with_a_line() {
        for (text, expected) in [
            ("storage \"file\" {\n path = \"/x\"\n", "not closed"),
            ("disable_mlock = \"true\n", "line 1: unterminated string"),
            ("a = 1\n/* open", "line 2: unterminated /* comment"),
            ("x = <<EOF\nno end\n", "unterminated heredoc"),
            ("disable_mlock = var.x", "not a literal"),
            ("disable_mlock =\n", "has no value"),
            ("just_a_word\n", "expected `=` or a block"),
            ("a = 1 ]\n", "unbalanced"),
            ("a = \"\\q\"", "bad escape"),
            ("a = `x`", "unexpected character"),
        ] {
            let e = hcl(text).unwrap_err();
            assert!(e.contains(expected), "{text:?}: {e}");
        }
    }

    #[test]
    fn config_paths_from_the_command_line() {
        let args: Vec<OsString> =
            ["server", "-config=/a.hcl", "-config", "/b", "--config=/c.json", "-dev", "--config", "/d"]
                .map(OsString::from)
                .to_vec();
        assert_eq!(config_paths(&args), ["/a.hcl", "/b", "/c.json", "/d"].map(PathBuf::from));
    }

    #[test]
    fn environment_and_files_combine_any_true_wins() {
        let setting = |disabled| Ok(MlockSetting { disabled, files: 0 });
        assert_eq!(mlock_disabled(&[], &[("VAULT_DISABLE_MLOCK", Some("true".into()))]), setting(Some(true)));
        assert_eq!(mlock_disabled(&[], &[("VAULT_DISABLE_MLOCK", None)]), setting(None));
        assert!(mlock_disabled(&[], &[("BAO_DISABLE_MLOCK", Some("maybe".into()))]).is_err());
        let e = mlock_disabled(&[PathBuf::from("/nonexistent/config.hcl")], &[]).unwrap_err();
        assert!(e.contains("/nonexistent/config.hcl"), "{e}");
    }
}
