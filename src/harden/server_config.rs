//! The server's configuration, found and read as the server finds and reads it: every `-config`
//! of its command line (a file, or a directory's `*.hcl` and `*.json` files), parsed by the HCL
//! v1 reader in [`super::hcl`], and the settings hardinit depends on taken from the result with
//! the server's precedence (VAULT_DISABLE_MLOCK over the files).
//!
//! Files are read without blocking and only when regular (a FIFO, a device or a directory is
//! refused), counting the bytes really read: /proc files report a size of 0.

use super::hcl::{self, Item, Literal, Value};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// A configuration file larger than this is refused.
pub const MAX_FILE: u64 = 16 * 1024 * 1024;
/// All configuration files together: a directory of many large files is refused too.
pub const MAX_TOTAL: u64 = 64 * 1024 * 1024;

/// Boolean flags of `vault server` and `bao server`: they never take the next argument as their
/// value. Every other flag of theirs does (`-config X`).
#[rustfmt::skip]
const BOOL_FLAGS: [&str; 21] = [
    "dev", "dev-tls", "dev-ha", "dev-transactional", "dev-leased-kv", "dev-three-node", "dev-four-cluster",
    "dev-auto-seal", "dev-kv-v1", "dev-no-kv", "dev-consul", "dev-no-store-token", "dev-plugin-init",
    "dev-skip-init", "recovery", "exit-on-core-shutdown", "test-verify-only", "test-server-config",
    "tls-skip-verify", "policy-override", "non-interactive",
];
/// The flags that turn on dev mode by themselves (the server sets `-dev` for each of them).
#[rustfmt::skip]
const DEV_MODE_FLAGS: [&str; 11] = [
    "dev", "dev-tls", "dev-ha", "dev-transactional", "dev-leased-kv", "dev-three-node", "dev-four-cluster",
    "dev-auto-seal", "dev-kv-v1", "dev-no-kv", "dev-consul",
];

/// What a `server` command line asks for, read as Go's flag package reads it: flags up to the
/// first argument that is not one (or `--`), `-name`, `--name`, `-name=value`, `-name value`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerCommand {
    pub is_server: bool,
    pub configs: Vec<PathBuf>,
    /// `-dev` or one of the dev-mode flags, true by Go's ParseBool (`-dev=false` is not dev).
    pub dev: bool,
}

impl ServerCommand {
    pub fn parse(args: &[OsString]) -> ServerCommand {
        let mut command = ServerCommand::default();
        if args.first().is_none_or(|a| a != "server") {
            return command;
        }
        command.is_server = true;
        let mut rest = args[1..].iter();
        while let Some(arg) = rest.next() {
            let bytes = arg.as_bytes();
            if bytes == b"--" || bytes.len() < 2 || bytes[0] != b'-' {
                break;
            }
            let flag = bytes.strip_prefix(b"--").unwrap_or(&bytes[1..]);
            let (name, value) = match flag.iter().position(|b| *b == b'=') {
                Some(at) => (&flag[..at], Some(&flag[at + 1..])),
                None => (flag, None),
            };
            let name = String::from_utf8_lossy(name);
            if BOOL_FLAGS.contains(&name.as_ref()) {
                let on = match value {
                    None => true,
                    Some(v) => std::str::from_utf8(v).ok().and_then(hcl::parse_go_bool).unwrap_or(false),
                };
                if on && DEV_MODE_FLAGS.contains(&name.as_ref()) {
                    command.dev = true;
                }
                continue;
            }
            let value: Option<OsString> = match value {
                Some(v) => Some(std::ffi::OsStr::from_bytes(v).to_os_string()),
                None => rest.next().cloned(),
            };
            if name == "config" {
                if let Some(v) = value {
                    // The server trims the value (its string-slice flag does).
                    command.configs.push(PathBuf::from(trim_os(&v)));
                }
            }
        }
        command
    }
}

fn trim_os(value: &OsString) -> OsString {
    match value.to_str() {
        Some(text) => OsString::from(text.trim()),
        None => value.clone(),
    }
}

/// One configuration file, parsed.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub items: Vec<Item>,
}

/// A configuration the server would read differently, or not at all: where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn at(path: &Path, message: impl std::fmt::Display) -> ConfigError {
    ConfigError { message: format!("{}: {message}", path.display()) }
}

/// A stanza such as `listener "tcp" { ... }`, in HCL or in its JSON form.
pub struct Block<'a> {
    pub path: &'a Path,
    pub label: Option<String>,
    pub body: Vec<&'a Item>,
}

/// Whether an item is the setting `name` (its last key, matched as the server does).
pub fn key_is(item: &Item, name: &str) -> bool {
    item.keys.last().is_some_and(|k| hcl::key_matches(k, name))
}

/// Every `name` stanza of every file: `name "label" { }`, `name { }`, and JSON's
/// `"name": {"label": {}}` or `"name": [{"label": {}}]`.
pub fn blocks<'a>(files: &'a [ConfigFile], name: &str) -> Vec<Block<'a>> {
    fn body_of(value: &Value) -> Option<Vec<&Item>> {
        match value {
            Value::Object(items) => Some(items.iter().collect()),
            _ => None,
        }
    }
    fn labelled<'a>(path: &'a Path, value: &'a Value, out: &mut Vec<Block<'a>>) {
        match value {
            Value::List(values) => values.iter().for_each(|v| labelled(path, v, out)),
            Value::Object(items)
                if !items.is_empty() && items.iter().all(|i| matches!(i.value, Value::Object(_) | Value::List(_))) =>
            {
                for item in items {
                    match &item.value {
                        Value::Object(_) => out.push(Block {
                            path,
                            label: item.keys.first().cloned(),
                            body: body_of(&item.value).unwrap_or_default(),
                        }),
                        Value::List(values) => {
                            for v in values {
                                out.push(Block {
                                    path,
                                    label: item.keys.first().cloned(),
                                    body: body_of(v).unwrap_or_default(),
                                });
                            }
                        }
                        Value::Literal(_) => {}
                    }
                }
            }
            Value::Object(_) => out.push(Block { path, label: None, body: body_of(value).unwrap_or_default() }),
            Value::Literal(_) => {}
        }
    }
    let mut out = Vec::new();
    for file in files {
        for item in file.items.iter().filter(|i| i.keys.first().is_some_and(|k| hcl::key_matches(k, name))) {
            match item.keys.get(1) {
                Some(label) => out.push(Block {
                    path: &file.path,
                    label: Some(label.clone()),
                    body: body_of(&item.value).unwrap_or_default(),
                }),
                None => labelled(&file.path, &item.value, &mut out),
            }
        }
    }
    out
}

/// The last setting `name` of a body (the server takes the last), with its line.
pub fn setting<'a>(body: &[&'a Item], name: &str) -> Option<(&'a Literal, usize)> {
    body.iter().rev().find(|i| key_is(i, name)).and_then(|i| match &i.value {
        Value::Literal(l) => Some((l, i.line)),
        _ => None,
    })
}

/// The settings of a listener that name its TLS files.
pub const LISTENER_TLS_KEYS: [&str; 3] = ["tls_cert_file", "tls_key_file", "tls_client_ca_file"];

/// The TLS files the listeners name, each once, listener by listener: what a certificate
/// rotation replaces, and the server reloads on SIGHUP.
pub fn listener_tls_files(files: &[ConfigFile]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for listener in blocks(files, "listener") {
        for name in LISTENER_TLS_KEYS {
            if let Some((Literal::Str(path) | Literal::Heredoc(path), _)) = setting(&listener.body, name) {
                let path = PathBuf::from(path);
                if !path.as_os_str().is_empty() && !found.contains(&path) {
                    found.push(path);
                }
            }
        }
    }
    found
}

/// Files a `-config` path stands for, as the server lists them: the file itself, or the
/// directory's entries that are not directories (a symlink is read through), whose name ends in
/// `.hcl` or `.json` (`.hcl` itself included), and that are not editor leftovers (`*~`, `.#*`,
/// `#*#`), in the directory's own order, as the server takes them.
pub fn config_files(path: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| at(path, e))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(|e| at(path, e))? {
        let entry = entry.map_err(|e| at(path, e))?;
        let name = entry.file_name();
        let name = name.as_bytes();
        if entry.file_type().map_err(|e| at(&entry.path(), e))?.is_dir() {
            continue;
        }
        let wanted = name.ends_with(b".hcl") || name.ends_with(b".json");
        let editor_leftover =
            name.ends_with(b"~") || name.starts_with(b".#") || (name.starts_with(b"#") && name.ends_with(b"#"));
        if wanted && !editor_leftover {
            files.push(entry.path());
        }
    }
    Ok(files)
}

/// The bytes of a regular file, at most [`MAX_FILE`]: opened without blocking (a FIFO) and
/// without becoming a controlling terminal, refused unless regular, and counted as read.
pub fn read_regular(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let read =
        crate::sys::regular_file::open(path).and_then(|file| crate::sys::regular_file::read_bounded(file, MAX_FILE));
    read.map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => at(path, format!("{e}, not a configuration file")),
        _ => at(path, e),
    })
}

/// Every file the `-config` paths stand for, with its bytes.
pub fn gather(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>, ConfigError> {
    let mut out = Vec::new();
    let mut total = 0u64;
    for path in paths {
        for file in config_files(path)? {
            let bytes = read_regular(&file)?;
            total += bytes.len() as u64;
            if total > MAX_TOTAL {
                return Err(at(
                    &file,
                    format!("the configuration files are larger than {} MiB together", MAX_TOTAL >> 20),
                ));
            }
            out.push((file, bytes));
        }
    }
    Ok(out)
}

/// [`gather`]'s result as bytes, to cross from a child that read the files as the server's user.
pub fn encode(result: &Result<Vec<(PathBuf, Vec<u8>)>, ConfigError>) -> Vec<u8> {
    let mut out = Vec::new();
    let field = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    match result {
        Ok(files) => {
            out.push(0);
            for (path, bytes) in files {
                field(&mut out, path.as_os_str().as_bytes());
                field(&mut out, bytes);
            }
        }
        Err(e) => {
            out.push(1);
            field(&mut out, e.message.as_bytes());
        }
    }
    out
}

/// The inverse of [`encode`].
pub fn decode(mut bytes: &[u8]) -> Result<Vec<(PathBuf, Vec<u8>)>, ConfigError> {
    let broken = || ConfigError { message: "the configuration reader's report is damaged".into() };
    let field = |bytes: &mut &[u8]| -> Option<Vec<u8>> {
        let length = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
        let value = bytes.get(8..8usize.checked_add(length)?)?.to_vec();
        *bytes = &bytes[8 + length..];
        Some(value)
    };
    let (&tag, rest) = bytes.split_first().ok_or_else(broken)?;
    bytes = rest;
    if tag == 1 {
        let message = field(&mut bytes).ok_or_else(broken)?;
        return Err(ConfigError { message: String::from_utf8_lossy(&message).into_owned() });
    }
    let mut files = Vec::new();
    while !bytes.is_empty() {
        let path = field(&mut bytes).ok_or_else(broken)?;
        let data = field(&mut bytes).ok_or_else(broken)?;
        files.push((PathBuf::from(std::ffi::OsStr::from_bytes(&path)), data));
    }
    Ok(files)
}

/// Parses what [`gather`] read.
pub fn parse_all(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<ConfigFile>, ConfigError> {
    files
        .into_iter()
        .map(|(path, bytes)| match hcl::parse(&bytes) {
            Ok(items) => Ok(ConfigFile { path, items }),
            Err(e) => Err(ConfigError { message: format!("{}:{}: {}", path.display(), e.line, e.message) }),
        })
        .collect()
}

/// A top-level setting of one file: every item whose single key matches `name` ignoring case,
/// decoded as the server does (the last one wins, all of one type). `Err` for what the server
/// would not read as a plain value (a block, an object, a list, mixed types).
pub fn top_level<'a>(file: &'a ConfigFile, name: &str) -> Result<Option<(&'a Literal, usize)>, ConfigError> {
    let mut found: Option<(&Literal, usize)> = None;
    for item in file.items.iter().filter(|i| hcl::key_matches(&i.keys[0], name)) {
        let where_ = |m: &str| ConfigError { message: format!("{}:{}: {name} {m}", file.path.display(), item.line) };
        if item.keys.len() > 1 {
            return Err(where_("is written as a block (not read by hardinit)"));
        }
        let Value::Literal(literal) = &item.value else {
            return Err(where_("is not a plain value (not read by hardinit)"));
        };
        if let Some((previous, line)) = found {
            if previous.kind() != literal.kind() {
                return Err(where_(&format!(
                    "is set as {} here and as {} on line {line}: the server refuses that",
                    literal.kind(),
                    previous.kind()
                )));
            }
        }
        found = Some((literal, item.line));
    }
    Ok(found)
}

/// What decides whether Vault locks its memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MlockSetting {
    /// Whether mlock is disabled.
    pub disabled: bool,
    /// Where that was decided (`VAULT_DISABLE_MLOCK=false`, `/vault/config/a.hcl:3`), if anywhere.
    pub source: Option<String>,
}

/// Vault's precedence: a non-empty VAULT_DISABLE_MLOCK (Go's ParseBool) wins over the files;
/// among the files, any that disables mlock disables it (the server's merge keeps a true).
pub fn mlock_setting(files: &[ConfigFile], environment: Option<&str>) -> Result<MlockSetting, ConfigError> {
    let mut setting = MlockSetting::default();
    if let Some(value) = environment.filter(|v| !v.is_empty()) {
        let disabled = hcl::parse_go_bool(value).ok_or_else(|| ConfigError {
            message: format!("VAULT_DISABLE_MLOCK={value:?} is not true or false (the server refuses to start)"),
        })?;
        setting.disabled = disabled;
        setting.source = Some(format!("VAULT_DISABLE_MLOCK={value}"));
        // The files are still read: the server refuses a file it cannot parse either way.
        for file in files {
            top_level(file, "disable_mlock")?;
        }
        return Ok(setting);
    }
    for file in files {
        if let Some((literal, line)) = top_level(file, "disable_mlock")? {
            let disabled = literal.weak_bool().map_err(|e| ConfigError {
                message: format!("{}:{line}: disable_mlock: {e} (the server refuses to start)", file.path.display()),
            })?;
            let location = format!("{}:{line}", file.path.display());
            if disabled && !setting.disabled {
                setting.disabled = true;
                setting.source = Some(location);
            } else if setting.source.is_none() {
                setting.source = Some(location);
            }
        }
    }
    Ok(setting)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn file(text: &str) -> ConfigFile {
        ConfigFile { path: "/c/a.hcl".into(), items: hcl::parse(text.as_bytes()).unwrap() }
    }

    #[test]
    fn the_listeners_tls_files_in_hcl_and_json() {
        let hcl = file(
            "listener \"tcp\" {\n  address = \"[::]:8200\"\n  tls_cert_file = \"/tls/tls.crt\"\n  TLS_KEY_FILE = \"/tls/tls.key\"\n}\nlistener \"tcp\" {\n  tls_client_ca_file = \"/tls/ca.crt\"\n  tls_cert_file = \"/tls/tls.crt\"\n}\nseal \"x\" {\n  tls_cert_file = \"/not/a/listener\"\n}\n",
        );
        assert_eq!(listener_tls_files(&[hcl]), ["/tls/tls.crt", "/tls/tls.key", "/tls/ca.crt"].map(PathBuf::from));
        let json = file(r#"{"listener": [{"tcp": {"tls_cert_file": "/j/c.pem", "tls_key_file": "/j/k.pem"}}]}"#);
        assert_eq!(listener_tls_files(&[json]), ["/j/c.pem", "/j/k.pem"].map(PathBuf::from));
        assert_eq!(listener_tls_files(&[file("listener \"tcp\" { tls_disable = 1 }")]), Vec::<PathBuf>::new());
    }

    #[test]
    fn server_flags_as_go_reads_them() {
        let c = ServerCommand::parse(&os(&["server", "-config=/a.hcl", "-config", "/b", "--config= /c.json ", "-dev"]));
        assert_eq!(c.configs, ["/a.hcl", "/b", "/c.json"].map(PathBuf::from));
        assert!(c.is_server && c.dev);
        for dev in ["-dev-tls", "-dev-ha", "--dev-three-node", "-dev=true", "-dev=1", "-dev-kv-v1"] {
            assert!(ServerCommand::parse(&os(&["server", dev])).dev, "{dev}");
        }
        for not_dev in ["-dev=false", "-dev-root-token-id=x", "-dev-listen-address=0.0.0.0:8200", "-dev-no-store-token"]
        {
            assert!(!ServerCommand::parse(&os(&["server", not_dev])).dev, "{not_dev}");
        }
        // A value flag takes the next argument, even one that looks like a flag.
        assert!(!ServerCommand::parse(&os(&["server", "-dev-root-token-id", "-dev"])).dev);
        // Go stops at the first argument that is not a flag, and at `--`.
        let c = ServerCommand::parse(&os(&["server", "-config=/a", "extra", "-dev", "-config=/b"]));
        assert_eq!((c.configs.len(), c.dev), (1, false));
        assert!(!ServerCommand::parse(&os(&["server", "--", "-dev"])).dev);
        assert!(!ServerCommand::parse(&os(&["status", "-dev"])).is_server);
    }

    #[test]
    fn the_environment_wins_over_the_files_and_empty_is_unset() {
        let disables = [file("disable_mlock = true")];
        assert!(!mlock_setting(&disables, Some("false")).unwrap().disabled);
        assert!(mlock_setting(&disables, Some("")).unwrap().disabled);
        assert!(mlock_setting(&[], Some("T")).unwrap().disabled);
        let e = mlock_setting(&[], Some("maybe")).unwrap_err();
        assert!(e.message.contains("VAULT_DISABLE_MLOCK"), "{e}");
    }

    #[test]
    fn any_file_that_disables_mlock_disables_it() {
        let s = mlock_setting(&[file("disable_mlock = false"), file("DISABLE_MLOCK = \"true\"")], None).unwrap();
        assert!(s.disabled);
        assert_eq!(s.source.as_deref(), Some("/c/a.hcl:1"));
        assert!(!mlock_setting(&[file("disable_mlock = 0")], None).unwrap().disabled);
        assert!(mlock_setting(&[file("disable_mlock = \"\"")], None).is_ok_and(|s| !s.disabled));
    }

    #[test]
    fn what_the_server_would_refuse_or_decode_otherwise_is_refused_with_file_and_line() {
        for (text, expected) in [
            ("ui = 1\ndisable_mlock = \"yes\"", "/c/a.hcl:2: disable_mlock"),
            ("disable_mlock \"x\" {}", "block"),
            ("disable_mlock = { a = 1 }", "not a plain value"),
            ("disable_mlock = [true]", "not a plain value"),
            ("disable_mlock = true\nDisable_Mlock = \"false\"", "on line 1"),
        ] {
            let e = mlock_setting(&[file(text)], None).unwrap_err();
            assert!(e.message.contains(expected), "{text:?}: {e}");
        }
        // The last of several of one type wins, as in the server.
        assert!(!mlock_setting(&[file("disable_mlock = true\nDISABLE_MLOCK = false")], None).unwrap().disabled);
    }

    #[test]
    fn directories_list_what_the_server_loads() {
        let dir = std::env::temp_dir().join(format!("hardinit-config-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub.hcl")).unwrap();
        for name in [".hcl", "a.json", "b.hcl", "b.hcl~", ".#c.hcl", "#d.hcl#", "e.txt", "f.hcl.bak"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let mut names: Vec<String> =
            config_files(&dir).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        names.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(names, [".hcl", "a.json", "b.hcl"]);
    }

    #[test]
    fn only_regular_files_are_read_and_bytes_are_counted() {
        for special in ["/dev/zero", "/dev/null", "/"] {
            assert!(read_regular(Path::new(special)).is_err(), "{special}");
        }
        // A /proc file reports size 0 but is read and counted.
        assert!(read_regular(Path::new("/proc/self/status")).is_ok_and(|b| !b.is_empty()));
        let fifo = std::env::temp_dir().join(format!("hardinit-fifo-{}.hcl", std::process::id()));
        let _ = std::fs::remove_file(&fifo);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read_regular(&fifo).unwrap_err();
        std::fs::remove_file(&fifo).unwrap();
        assert!(e.message.contains("FIFO"), "{e}");
    }
}
