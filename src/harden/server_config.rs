//! The server's configuration, found and read as the server finds and reads it: every `-config`
//! of its command line (a file, or a directory's `*.hcl` and `*.json` files), parsed by the HCL
//! v1 reader in [`super::hcl`], and the settings hardinit depends on taken from the result with
//! the server's precedence (VAULT_DISABLE_MLOCK over the files).
//!
//! Files are read without blocking and only when regular (a FIFO, a device or a directory is
//! refused), counting the bytes really read: /proc files report a size of 0.

use super::hcl::{self, Item, Literal, Value};
use super::server_flags::{Environment, ServerRules};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

/// A configuration file larger than this is refused.
pub const MAX_FILE: u64 = 16 * 1024 * 1024;
/// All configuration files together: a directory of many large files is refused too.
pub const MAX_TOTAL: u64 = 64 * 1024 * 1024;

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

/// The stanzas the checks read, each selected and decoded as the server does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stanza {
    /// `listener` (configutil's ParseListeners): decoded into a struct, so its keys match
    /// ignoring case; its kind is its `type` setting, else its one label.
    Listener,
    /// `storage`, or `backend` in a file without `storage` (ParseStorage): one per file,
    /// decoded into a map, so its keys match exactly (`PATH` is not raft's `path`).
    Storage,
    /// `ha_storage`, or `ha_backend`: as storage.
    HaStorage,
    /// `hsm`, `seal` and `kms` (configutil's parseKMS): each one a seal, decoded into a map.
    Seal,
    /// `service_registration`: one per file, a map.
    ServiceRegistration,
}

impl Stanza {
    /// The names the server filters the file's items by, and whether only the first name that
    /// has items counts (`backend` only where no `storage` is).
    fn names(self) -> (&'static [&'static str], bool) {
        match self {
            Stanza::Listener => (&["listener"], false),
            Stanza::Storage => (&["storage", "backend"], true),
            Stanza::HaStorage => (&["ha_storage", "ha_backend"], true),
            Stanza::Seal => (&["hsm", "seal", "kms"], false),
            Stanza::ServiceRegistration => (&["service_registration"], false),
        }
    }

    /// Whether the server decodes the body into a map (keys exact) rather than a struct.
    fn exact_keys(self) -> bool {
        self != Stanza::Listener
    }

    /// How many the server accepts in one file.
    fn most_per_file(self) -> usize {
        match self {
            Stanza::Listener => usize::MAX,
            Stanza::Seal => 3,
            Stanza::Storage | Stanza::HaStorage | Stanza::ServiceRegistration => 1,
        }
    }
}

/// A stanza such as `listener "tcp" { ... }`, in HCL or in its JSON form, as the server sees it.
pub struct Block<'a> {
    pub path: &'a Path,
    pub line: usize,
    /// Its name as the file writes it (`kms`, `backend`, `Listener`).
    pub name: &'a str,
    /// What the server takes it for, lower-cased as the server lower-cases it: a listener's
    /// `type` setting or its one label (None: neither, which the server refuses); a storage's
    /// or a seal's label, or the stanza's name where it has none.
    pub kind: Option<String>,
    pub body: Vec<&'a Item>,
    exact_keys: bool,
}

impl<'a> Block<'a> {
    /// The setting `name` of the body as the server decodes it: the last item of that key,
    /// matched ignoring case in a listener, exactly in a map-decoded stanza.
    pub fn setting(&self, name: &str) -> Option<(&'a Literal, usize)> {
        if self.exact_keys {
            let found = self.body.iter().rev().find(|i| i.keys.len() == 1 && i.keys[0] == name);
            found.and_then(|i| match &i.value {
                Value::Literal(l) => Some((l, i.line)),
                _ => None,
            })
        } else {
            setting(&self.body, name)
        }
    }

    /// The kind, or `?`, for messages.
    pub fn kind_or_unknown(&self) -> &str {
        self.kind.as_deref().unwrap_or("?")
    }
}

/// Whether an item is the setting `name`: its first key, matched as the server's
/// ObjectList.Filter matches it (ignoring case).
pub fn key_is(item: &Item, name: &str) -> bool {
    item.keys.first().is_some_and(|k| hcl::key_matches(k, name))
}

/// The items of one file that stand for `stanza`, with the name they were found under.
fn stanza_items(file: &ConfigFile, stanza: Stanza) -> Vec<(&'static str, &Item)> {
    let (names, first_only) = stanza.names();
    let mut found = Vec::new();
    for name in names {
        let before = found.len();
        found.extend(file.items.iter().filter(|i| key_is(i, name)).map(|i| (*name, i)));
        if first_only && found.len() > before {
            break;
        }
    }
    found
}

fn block_of<'a>(file: &'a ConfigFile, stanza: Stanza, name: &'static str, item: &'a Item) -> Block<'a> {
    let body: Vec<&Item> = match &item.value {
        Value::Object(items) => items.iter().collect(),
        _ => Vec::new(),
    };
    let labels = &item.keys[1..];
    let kind = match stanza {
        Stanza::Listener => {
            let typed = setting(&body, "type").and_then(|(l, _)| l.as_text()).filter(|t| !t.is_empty());
            match (typed, labels) {
                (Some(t), _) => Some(go_to_lower(t)),
                (None, [label]) => Some(go_to_lower(label)),
                (None, _) => None,
            }
        }
        _ => Some(labels.first().map_or(name.to_string(), |l| go_to_lower(l))),
    };
    Block { path: &file.path, line: item.line, name: &item.keys[0], kind, body, exact_keys: stanza.exact_keys() }
}

/// Go's strings.ToLower, as the server lower-cases a stanza's type: each character's simple
/// lower case, so that `İ` (U+0130) is an `i` (`seal "TRANSİT"` is a transit seal), where
/// Rust's full mapping makes it `i` and a combining dot.
pub fn go_to_lower(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '\u{130}' => ['i'].into_iter().collect::<Vec<_>>(),
            c => c.to_lowercase().collect(),
        })
        .collect()
}

/// Every `stanza` of every file, in the order the server reads them: `name "label" { }`,
/// `name { }`, and JSON's `"name": {"label": {}}` or `"name": [{"label": {}}]` (the HCL
/// reader flattens those as the server does). Only the first key after the name is a label;
/// objects nested in the body are not (`storage { raft { } }` is a storage of type "storage").
pub fn blocks(files: &[ConfigFile], stanza: Stanza) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    for file in files {
        for (name, item) in stanza_items(file, stanza) {
            out.push(block_of(file, stanza, name, item));
        }
    }
    out
}

/// The one storage (or HA storage) the server uses: the last file's that has one, as the
/// server's merge keeps the later file's.
pub fn effective(files: &[ConfigFile], stanza: Stanza) -> Option<Block<'_>> {
    files.iter().rev().find_map(|file| {
        stanza_items(file, stanza).into_iter().next().map(|(name, item)| block_of(file, stanza, name, item))
    })
}

/// What the server refuses in the stanzas the checks read, so that no check reads a stanza the
/// server would not start with: a stanza that is not a block, a listener without a type or of
/// a type the server does not have, more of one stanza than a file may hold.
fn refused_stanza(file: &ConfigFile) -> Option<ConfigError> {
    let refuse = |line: usize, what: String| {
        Some(ConfigError { message: format!("{}:{line}: {what} (the server refuses it)", file.path.display()) })
    };
    for stanza in [Stanza::Listener, Stanza::Storage, Stanza::HaStorage, Stanza::Seal, Stanza::ServiceRegistration] {
        let items = stanza_items(file, stanza);
        for (name, item) in &items {
            if !matches!(item.value, Value::Object(_)) {
                return refuse(item.line, format!("{name} is not a block"));
            }
            // configutil's parseKMS: two `hsm`, three `seal` and three `kms` per file.
            let most = if *name == "hsm" { 2 } else { stanza.most_per_file() };
            if items.iter().filter(|(n, _)| n == name).count() > most {
                return refuse(item.line, format!("more {name} blocks than the server permits in one file"));
            }
            if stanza == Stanza::Listener {
                match block_of(file, stanza, name, item).kind.as_deref() {
                    None => return refuse(item.line, "a listener with neither a type nor one label".into()),
                    Some("tcp" | "unix") => {}
                    Some(other) => return refuse(item.line, format!("listener type {other:?}")),
                }
            }
        }
    }
    None
}

/// The last setting `name` of a body decoded into a struct (the server takes the last, keys
/// ignoring case), with its line.
pub fn setting<'a>(body: &[&'a Item], name: &str) -> Option<(&'a Literal, usize)> {
    body.iter().rev().find(|i| key_is(i, name)).and_then(|i| match &i.value {
        Value::Literal(l) => Some((l, i.line)),
        _ => None,
    })
}

/// The directory the server keeps its data in, for the storages that keep it in one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoragePath {
    pub path: PathBuf,
    /// Where the path comes from: `file:line`, or the variable's name.
    pub source: String,
}

/// The directories the server will keep its data in: the effective storage's, when it is
/// `raft` (its RAFT_PATH variable, when set and not empty, wins over `path`: physical/raft's
/// NewRaftBackend) or `file` (`path` only), and the effective HA storage's when it is `raft`
/// (the same NewRaftBackend: `storage "inmem"` with `ha_storage "raft"` writes raft's files
/// there). `Err` for one without a path: the server refuses it.
///
/// A server judged Vault by its name may be OpenBao copied under Vault's name, which reads
/// BAO_RAFT_PATH first: with it set, that reading's directory is judged as well
/// ([`ServerRules::readings`]).
pub fn storage_paths(files: &[ConfigFile], rules: &ServerRules, env: Environment) -> Vec<Result<StoragePath, String>> {
    let mut found: Vec<Result<StoragePath, String>> = Vec::new();
    let storage = effective(files, Stanza::Storage);
    let ha_storage = effective(files, Stanza::HaStorage).filter(|b| b.kind.as_deref() == Some("raft"));
    let readings = rules.readings(env, &["RAFT_PATH"]);
    for block in storage.iter().chain(ha_storage.iter()) {
        for reader in &readings {
            let Some(selected) = data_directory(block, reader, env) else { continue };
            if !found.contains(&selected) {
                found.push(selected);
            }
        }
    }
    found
}

fn data_directory(storage: &Block, rules: &ServerRules, env: Environment) -> Option<Result<StoragePath, String>> {
    let kind = storage.kind.as_deref()?;
    if kind == "raft" {
        if let Some((name, path)) = rules.variable(env, "RAFT_PATH").filter(|(_, p)| !p.is_empty()) {
            return Some(Ok(StoragePath { path: go_clean(&path), source: name }));
        }
    } else if kind != "file" {
        return None;
    }
    let place = format!("{}:{}", storage.path.display(), storage.line);
    let stanza = storage.name;
    Some(match storage.setting("path") {
        Some((literal, line)) => match literal.as_text() {
            Some(path) => {
                Ok(StoragePath { path: go_clean(path), source: format!("{}:{line}", storage.path.display()) })
            }
            None => Err(format!("{place}: the {stanza} {kind:?}'s path is not a string")),
        },
        None => Err(format!("{place}: the {stanza} {kind:?} has no path (the server refuses to start)")),
    })
}

/// Go's filepath.Clean: the shortest path lexically equal to `path` (`.` dropped, `dir/..`
/// dropped with its dir, repeated slashes joined), no link followed. Raft keeps its files at
/// filepath.Join(path, ...), which cleans: with `lnk -> deep/sub`, `lnk/../open` is `open` to
/// the server, where the kernel would go to `deep/open`. The kernel then resolves what is left.
pub fn go_clean(path: &str) -> PathBuf {
    go_clean_bytes(path.as_bytes())
}

/// [`go_clean`] of a path that need not be UTF-8.
pub fn go_clean_bytes(path: &[u8]) -> PathBuf {
    let rooted = path.starts_with(b"/");
    let mut kept: Vec<&[u8]> = Vec::new();
    // Leading `..` of a relative path that cannot be dropped.
    let mut fixed = 0;
    for element in path.split(|b| *b == b'/') {
        match element {
            b"" | b"." => {}
            b".." if kept.len() > fixed => {
                kept.pop();
            }
            b".." if rooted => {}
            b".." => {
                kept.push(b"..");
                fixed += 1;
            }
            name => kept.push(name),
        }
    }
    let joined = kept.join(&b'/');
    let cleaned = match (rooted, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    };
    PathBuf::from(std::ffi::OsString::from_vec(cleaned))
}

/// A file audit device the configuration declares (OpenBao 2.x enables `audit "file" "path/"
/// { options { file_path = ... } }` at start): where its log goes, and where that is said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditFile {
    /// As written: the file backend opens it as the kernel resolves it (os.OpenFile), after
    /// making filepath.Dir of it (which cleans).
    pub path: String,
    pub source: String,
    /// The `mode` option as the backend parses it (strconv.ParseUint, octal, 32 bits), with
    /// where it is set: the backend chmods its log to it after opening, 0 leaving the mode as
    /// it is. `None` without the option, or with one the backend refuses.
    pub mode: Option<(u32, String)>,
}

/// The file audit devices of every file (server/config.go's parseAuditDevices: the type is
/// `type` or the first of two labels; the backend takes options' `file_path`, else `path`;
/// `stdout` and `discard` write no file).
pub fn audit_files(files: &[ConfigFile]) -> Vec<AuditFile> {
    let mut found = Vec::new();
    for file in files {
        for item in file.items.iter().filter(|i| key_is(i, "audit")) {
            let Value::Object(body) = &item.value else { continue };
            let body: Vec<&Item> = body.iter().collect();
            let typed = setting(&body, "type").and_then(|(l, _)| l.as_text().map(str::to_string));
            let kind = typed.filter(|t| !t.is_empty()).or_else(|| (item.keys.len() == 3).then(|| item.keys[1].clone()));
            if kind.as_deref() != Some("file") {
                continue;
            }
            // `options` decodes into a map of strings: keys exact, the last block's last item.
            let options: Vec<&Item> = body
                .iter()
                .filter(|i| i.keys.len() == 1 && key_is(i, "options"))
                .flat_map(|i| match &i.value {
                    Value::Object(items) => items.iter().collect::<Vec<_>>(),
                    _ => Vec::new(),
                })
                .collect();
            let option = |name: &str| {
                options.iter().rev().find(|i| i.keys.len() == 1 && i.keys[0] == name).and_then(|i| match &i.value {
                    Value::Literal(l) => l.as_text().map(|t| (t.to_string(), i.line)),
                    _ => None,
                })
            };
            let Some((path, line)) = option("file_path").or_else(|| option("path")) else { continue };
            if path.eq_ignore_ascii_case("stdout") || path.eq_ignore_ascii_case("discard") || path.is_empty() {
                continue;
            }
            let mode = option("mode").and_then(|(text, line)| {
                let octal = !text.is_empty() && text.bytes().all(|b| (b'0'..=b'7').contains(&b));
                let mode = u32::from_str_radix(&text, 8).ok().filter(|_| octal)?;
                Some((mode, format!("{}:{line}", file.path.display())))
            });
            found.push(AuditFile { path, source: format!("{}:{line}", file.path.display()), mode });
        }
    }
    found
}

/// The `plugin_directory` the server uses (the last file's that sets one, as its merge keeps
/// it), made absolute and cleaned as core.go's filepath.Abs makes it, with where it is set.
pub fn plugin_directory(files: &[ConfigFile]) -> Result<Option<(PathBuf, String)>, ConfigError> {
    let mut found = None;
    for file in files {
        if let Some((literal, line)) = top_level(file, "plugin_directory")? {
            if let Some(path) = literal.as_text().filter(|p| !p.is_empty()) {
                found = Some((path.to_string(), format!("{}:{line}", file.path.display())));
            }
        }
    }
    let Some((path, source)) = found else { return Ok(None) };
    let absolute = if path.starts_with('/') {
        go_clean(&path)
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| ConfigError { message: format!("the working directory, for plugin_directory: {e}") })?;
        go_clean(&format!("{}/{path}", cwd.display()))
    };
    Ok(Some((absolute, source)))
}

/// The storage types OpenBao 2.7 has (command/commands.go's physicalBackends, the file storage
/// removed): any other is "unknown storage type", and the server stops.
const OPENBAO_STORAGES: [&str; 4] = ["inmem", "inmem_ha", "raft", "postgresql"];

/// The TLS versions a listener may name (tlsutil.TLSLookup: exactly these spellings).
const TLS_VERSIONS: [&str; 4] = ["tls10", "tls11", "tls12", "tls13"];

/// What the server refuses to start with, beyond the stanzas [`parse_all`] refuses: a TCP
/// listener serving TLS with a tls_min_version or tls_max_version its lookup does not have (or
/// a maximum below the minimum); and for OpenBao, a `disable_mlock` that does not read true
/// (OpenBao dropped mlock and refuses the line) and a storage type it does not have.
pub fn refused(files: &[ConfigFile], configs: &[PathBuf], rules: &ServerRules) -> Option<ConfigError> {
    let refuse = |path: &Path, line: usize, what: String| {
        Some(ConfigError { message: format!("{}:{line}: {what} (the server refuses to start)", path.display()) })
    };
    // configutil's ParseListeners reads every listener's tls_disable with parseutil.ParseBool.
    for listener in blocks(files, Stanza::Listener) {
        let last = listener.body.iter().rev().find(|i| key_is(i, "tls_disable"));
        match last.map(|i| (&i.value, i.line)) {
            Some((Value::Literal(literal), line)) => {
                if let Err(e) = literal.weak_bool() {
                    return refuse(listener.path, line, format!("tls_disable: {e}"));
                }
            }
            Some((_, line)) => {
                return refuse(listener.path, line, "tls_disable is a list or a block, not a boolean".into());
            }
            None => {}
        }
    }
    for listener in blocks(files, Stanza::Listener).into_iter().filter(|b| b.kind.as_deref() == Some("tcp")) {
        let disabled = listener.setting("tls_disable").is_some_and(|(l, _)| l.weak_bool() == Ok(true));
        if disabled {
            continue;
        }
        let mut versions = Vec::new();
        for (name, default) in [("tls_min_version", "tls12"), ("tls_max_version", "tls13")] {
            // A string field: an integer's text is decoded into it, a boolean or a float is not.
            let (text, line) = match listener.setting(name) {
                None => (default.to_string(), listener.line),
                Some((literal, line)) => match literal.as_text() {
                    Some("") => (default.to_string(), line),
                    Some(text) => (text.to_string(), line),
                    None => return refuse(listener.path, line, format!("{name} is {}, not a string", literal.kind())),
                },
            };
            match TLS_VERSIONS.iter().position(|v| *v == text) {
                Some(rank) => versions.push(rank),
                None => {
                    return refuse(
                        listener.path,
                        line,
                        format!("{name} {text:?} is not one of {}", TLS_VERSIONS.join(", ")),
                    );
                }
            }
        }
        if versions[1] < versions[0] {
            return refuse(listener.path, listener.line, "tls_max_version is below tls_min_version".into());
        }
    }
    // server/config.go's CheckConfig, for each -config path (a directory's files merged): two
    // seals are a migration, one of them disabled.
    for group in config_groups(files, configs) {
        let seals = blocks(&group, Stanza::Seal);
        if let [first, second] = seals.as_slice() {
            let disabled = |b: &Block| b.setting("disabled").is_some_and(|(l, _)| l.weak_bool() == Ok(true));
            if disabled(first) == disabled(second) {
                let which = if disabled(first) { "both are disabled" } else { "neither is disabled" };
                return refuse(second.path, second.line, format!("two seals, and {which}"));
            }
        }
    }
    // command/server.go's initHaBackend: raft as the storage is its own HA storage, and any
    // other is refused ("HA storage cannot be declared when Raft is the storage type").
    if let (Some(storage), Some(ha_storage)) = (effective(files, Stanza::Storage), effective(files, Stanza::HaStorage))
    {
        if storage.kind.as_deref() == Some("raft") {
            let what = match ha_storage.kind.as_deref() {
                Some("raft") => "raft is both the storage and the ha_storage".to_string(),
                _ => format!("an ha_storage ({}) with raft as the storage", ha_storage.kind_or_unknown()),
            };
            return refuse(ha_storage.path, ha_storage.line, what);
        }
    }
    if !rules.is_openbao() {
        return None;
    }
    // parseAuditDevices: the type is `type` or the first of exactly two labels, the path `path`
    // or the second (JSON's nested objects become labels: `{"file": {"x/": {"options": {}}}}`
    // has three).
    for file in files {
        for item in file.items.iter().filter(|i| key_is(i, "audit")) {
            let Value::Object(body) = &item.value else {
                return refuse(&file.path, item.line, "audit is not a block".into());
            };
            let body: Vec<&Item> = body.iter().collect();
            let named = |name: &str| setting(&body, name).and_then(|(l, _)| l.as_text()).is_some_and(|t| !t.is_empty());
            let two_labels = item.keys.len() == 3;
            if !named("type") && !two_labels {
                return refuse(
                    &file.path,
                    item.line,
                    "an audit device without a type (`type`, or the first of two labels)".into(),
                );
            }
            if !named("path") && !two_labels {
                return refuse(
                    &file.path,
                    item.line,
                    "an audit device without a path (`path`, or the second of two labels)".into(),
                );
            }
        }
    }
    for file in files {
        if let Ok(Some((literal, line))) = top_level(file, "disable_mlock") {
            if literal.weak_bool() != Ok(true) {
                return refuse(
                    &file.path,
                    line,
                    "disable_mlock is not true: OpenBao has no mlock and refuses the line".into(),
                );
            }
        }
    }
    if let Some(storage) = effective(files, Stanza::Storage) {
        let kind = storage.kind_or_unknown();
        let kept_file_storage = kind == "file" && rules.has_file_storage;
        if !OPENBAO_STORAGES.contains(&kind) && !kept_file_storage {
            return refuse(
                storage.path,
                storage.line,
                format!("storage type {kind:?} is not one of OpenBao's ({})", OPENBAO_STORAGES.join(", ")),
            );
        }
    }
    None
}

/// The files of each `-config` path (a file, or a directory's files, which [`config_files`]
/// names inside it), as the server loads and checks them one path at a time; each file alone
/// when the paths are not known (`check --config`).
fn config_groups(files: &[ConfigFile], configs: &[PathBuf]) -> Vec<Vec<ConfigFile>> {
    if configs.is_empty() {
        return files.iter().map(|f| vec![f.clone()]).collect();
    }
    configs
        .iter()
        .map(|config| {
            // A directory's files are named as config_files names them: cleaned.
            let named_in = go_clean_bytes(&[config.as_os_str().as_bytes(), b"/x"].concat());
            let directory = named_in.parent();
            let from = |f: &&ConfigFile| f.path == *config || f.path.parent() == directory;
            files.iter().filter(from).cloned().collect()
        })
        .collect()
}

/// The settings of a listener that name its TLS files.
pub const LISTENER_TLS_KEYS: [&str; 3] = ["tls_cert_file", "tls_key_file", "tls_client_ca_file"];

/// The TLS files the listeners name, each once, listener by listener: what a certificate
/// rotation replaces, and the server reloads on SIGHUP.
pub fn listener_tls_files(files: &[ConfigFile]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for listener in blocks(files, Stanza::Listener) {
        for name in LISTENER_TLS_KEYS {
            if let Some((Literal::Str(path) | Literal::Heredoc(path), _)) = listener.setting(name) {
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
///
/// The server (config.LoadConfigDir) lists the directory the kernel resolves, but reads each
/// entry at filepath.Join(dir, name), which cleans lexically: with `lnk -> deep/sub`, the
/// entries of `lnk/../conf` are those of `deep/conf`, read as `conf/NAME`. So is each file
/// named here, and read.
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
            files.push(go_clean_bytes(&[path.as_os_str().as_bytes(), b"/", name].concat()));
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

/// `path` made absolute from `cwd` and cleaned lexically (`.`, `..` and repeated slashes), as
/// Go's filepath.Abs makes it: no link is followed.
fn lexical_absolute(path: &Path, cwd: &Path) -> PathBuf {
    let mut clean = PathBuf::from("/");
    for component in cwd.join(path).components() {
        match component {
            Component::ParentDir => {
                clean.pop();
            }
            Component::Normal(name) => clean.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    clean
}

/// Whether the server leaves out `path` of its `-config` list `all` (checkSkipPaths): a path
/// ending in `.hcl` or `.json` whose directory is, lexically, another entry of the list is read
/// with that directory, at the directory's place in the list, and not at its own (so that
/// `-config=d -config=b.hcl -config=d/z.hcl` ends with b.hcl's storage).
fn loaded_with_its_directory(path: &Path, all: &[PathBuf], cwd: &Path) -> bool {
    let bytes = path.as_os_str().as_bytes();
    if !(bytes.ends_with(b".hcl") || bytes.ends_with(b".json")) {
        return false;
    }
    let absolute = lexical_absolute(path, cwd);
    let directory = absolute.parent().unwrap_or(Path::new("/"));
    all.iter().filter(|other| other.as_path() != path).any(|other| lexical_absolute(other, cwd) == directory)
}

/// Every file the `-config` paths stand for, with its bytes, in the order the server merges
/// them.
pub fn gather(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Vec<u8>)>, ConfigError> {
    let mut out = Vec::new();
    let mut total = 0u64;
    let cwd = std::env::current_dir()
        .map_err(|e| ConfigError { message: format!("the working directory, for the -config paths: {e}") })?;
    for path in paths {
        if loaded_with_its_directory(path, paths, &cwd) {
            continue;
        }
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

/// Parses what [`gather`] read, and refuses the stanzas the server would refuse.
pub fn parse_all(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<ConfigFile>, ConfigError> {
    files
        .into_iter()
        .map(|(path, bytes)| match hcl::parse(&bytes) {
            Ok(items) => {
                let file = ConfigFile { path, items };
                refused_stanza(&file).map_or(Ok(file), Err)
            }
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
    use super::super::server_flags::{OPENBAO, VAULT};
    use super::*;

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
    fn stanzas_are_selected_as_the_server_selects_them() {
        let kinds = |text: &str, stanza| -> Vec<String> {
            let files = [file(text)];
            blocks(&files, stanza).iter().map(|b| b.kind_or_unknown().to_string()).collect()
        };
        // Labels lower-cased; a listener's `type` wins over its label.
        assert_eq!(
            kinds("listener \"TCP\" {}\nLISTENER \"unix\" { Type = \"Tcp\" }", Stanza::Listener),
            ["tcp", "tcp"]
        );
        assert_eq!(kinds(r#"{"listener": {"Tcp": {"address": "x"}}}"#, Stanza::Listener), ["tcp"]);
        assert_eq!(kinds("listener { type = \"unix\" }", Stanza::Listener), ["unix"]);
        // hsm, seal and kms are all seals; a storage without a label is of type "storage".
        assert_eq!(
            kinds("kms \"Transit\" {}\nseal \"awskms\" {}\nhsm \"pkcs11\" {}", Stanza::Seal),
            ["pkcs11", "awskms", "transit"]
        );
        assert_eq!(kinds("storage { raft { path = \"/d\" } }", Stanza::Storage), ["storage"]);
        // `backend` only where no `storage` is.
        assert_eq!(kinds("backend \"file\" {}", Stanza::Storage), ["file"]);
        assert_eq!(kinds("backend \"file\" {}\nstorage \"raft\" {}", Stanza::Storage), ["raft"]);
        // Map-decoded stanzas match keys exactly, listeners ignoring case.
        let files = [file("storage \"raft\" {\n  PATH = \"/upper\"\n}\nlistener \"tcp\" {\n  TLS_DISABLE = 1\n}")];
        assert!(blocks(&files, Stanza::Storage)[0].setting("path").is_none());
        assert_eq!(blocks(&files, Stanza::Listener)[0].setting("tls_disable").map(|(_, line)| line), Some(5));
    }

    #[test]
    fn the_storage_the_server_uses_and_its_directory() {
        let raft =
            [file("storage \"raft\" {\n  path = \"/first\"\n}"), file("storage \"Raft\" {\n  path = \"/last\"\n}")];
        let none = |_: &str| None;
        let path = |files: &[ConfigFile], rules, env: Environment| {
            let found = storage_paths(files, rules, env);
            assert_eq!(found.len(), 1, "{found:?}");
            found[0].clone().unwrap()
        };
        assert_eq!(path(&raft, &OPENBAO, &none).path, PathBuf::from("/last"));
        let bao_env = |n: &str| (n == "BAO_RAFT_PATH").then(|| "/env".to_string());
        let vault_env = |n: &str| (n == "VAULT_RAFT_PATH").then(|| "/vault-env".to_string());
        let found = path(&raft, &OPENBAO, &bao_env);
        assert_eq!((found.path, found.source), (PathBuf::from("/env"), "BAO_RAFT_PATH".to_string()));
        assert_eq!(path(&raft, &OPENBAO, &vault_env).path, PathBuf::from("/vault-env"));
        assert_eq!(path(&raft, &VAULT, &vault_env).path, PathBuf::from("/vault-env"));
        // Vault never reads BAO_RAFT_PATH, but OpenBao copied under Vault's name does: both.
        let judged_vault: Vec<PathBuf> =
            storage_paths(&raft, &VAULT, &bao_env).into_iter().map(|p| p.unwrap().path).collect();
        assert_eq!(judged_vault, ["/last", "/env"].map(PathBuf::from));
        // BAO_RAFT_PATH set but empty: the configuration's path, not VAULT_RAFT_PATH.
        let empty = |n: &str| match n {
            "BAO_RAFT_PATH" => Some(String::new()),
            "VAULT_RAFT_PATH" => Some("/v".to_string()),
            _ => None,
        };
        assert_eq!(path(&raft, &OPENBAO, &empty).path, PathBuf::from("/last"));
        // The file storage has no variable; others keep no directory hardinit checks.
        let file_storage = [file("storage \"file\" {\n  path = \"/f\"\n}")];
        assert_eq!(path(&file_storage, &OPENBAO, &bao_env).path, PathBuf::from("/f"));
        assert!(storage_paths(&[file("storage \"consul\" {}")], &OPENBAO, &none).is_empty());
        let missing = storage_paths(&[file("storage \"raft\" {\n  PATH = \"/x\"\n}")], &OPENBAO, &none);
        assert!(missing[0].clone().unwrap_err().contains("has no path"));
        // Raft as the HA storage only keeps its files in its own path, BAO_RAFT_PATH first.
        let ha = [file("storage \"inmem\" {}\nha_storage \"Raft\" {\n  path = \"/ha\"\n}")];
        assert_eq!(path(&ha, &OPENBAO, &none).path, PathBuf::from("/ha"));
        assert_eq!(path(&ha, &OPENBAO, &bao_env).path, PathBuf::from("/env"));
        let both = [file("storage \"file\" {\n  path = \"/f\"\n}\nha_backend \"raft\" {\n  path = \"/ha\"\n}")];
        let found: Vec<PathBuf> = storage_paths(&both, &OPENBAO, &none).into_iter().map(|p| p.unwrap().path).collect();
        assert_eq!(found, ["/f", "/ha"].map(PathBuf::from));
    }

    #[test]
    fn paths_are_cleaned_as_go_cleans_them() {
        for (path, clean) in [
            ("/d/lnk/../open", "/d/open"),
            ("/d//a/./b/", "/d/a/b"),
            ("/../x", "/x"),
            ("a/../../b", "../b"),
            ("", "."),
            ("./", "."),
            ("a/..", "."),
        ] {
            assert_eq!(go_clean(path), PathBuf::from(clean), "{path}");
        }
        let files = [file("storage \"raft\" {\n  path = \"/d/lnk/../open\"\n}")];
        assert_eq!(storage_paths(&files, &OPENBAO, &|_| None)[0].clone().unwrap().path, PathBuf::from("/d/open"));
    }

    #[test]
    fn what_openbao_refuses_to_start_with() {
        let refused = |text: &str, rules| super::refused(&[file(text)], &[], rules).map(|e| e.message);
        for (text, words) in [
            ("listener \"tcp\" {\n  tls_min_version = \"TLS10\"\n}", "tls_min_version \"TLS10\""),
            ("listener \"tcp\" {\n  tls_min_version = <<EOT\ntls10\nEOT\n}", "tls_min_version \"tls10\\n\""),
            ("listener \"tcp\" {\n  tls_min_version = \"tls13\"\n  tls_max_version = \"tls12\"\n}", "below"),
            ("listener \"tcp\" {\n  tls_max_version = true\n}", "a boolean, not a string"),
            ("listener \"unix\" {\n  tls_disable = \"maybe\"\n}", "tls_disable"),
            ("disable_mlock = \"false\"", "disable_mlock is not true"),
            ("storage \"file\" {}", "storage type \"file\""),
            ("seal \"a\" {\n  disabled = true\n}\nseal \"b\" {\n  disabled = \"true\"\n}", "both are disabled"),
            ("seal \"a\" {}\nkms \"b\" {}", "neither is disabled"),
            ("storage \"raft\" {}\nha_storage \"Raft\" {}", "raft is both the storage and the ha_storage"),
            ("storage \"raft\" {}\nha_storage \"postgresql\" {}", "an ha_storage (postgresql) with raft"),
            (r#"{"audit": [{"file": {"x/": {"options": {"file_path": "/l"}}}}]}"#, "without a type"),
        ] {
            let said = refused(text, &OPENBAO);
            assert!(said.as_ref().is_some_and(|m| m.contains(words) && m.contains("/c/a.hcl:")), "{text}: {said:?}");
        }
        for text in [
            "listener \"tcp\" {\n  tls_disable = 1\n  tls_min_version = \"TLS10\"\n}",
            "listener \"tcp\" {\n  tls_min_version = \"tls10\"\n}",
            "disable_mlock = 1",
            "storage \"Raft\" {}",
            "seal \"a\" {\n  disabled = true\n}\nseal \"b\" {}",
            "audit \"file\" \"x/\" {\n  options {\n    file_path = \"/l\"\n  }\n}",
            "storage \"inmem\" {}\nha_storage \"raft\" {}",
        ] {
            assert_eq!(refused(text, &OPENBAO), None, "{text}");
        }
        // Vault has mlock and its own storages.
        assert_eq!(refused("disable_mlock = false\nstorage \"consul\" {}", &VAULT), None);
        // A third hsm stanza is refused as it is read.
        let e = parse_all(vec![("/c/a.hcl".into(), b"hsm \"a\" {}\nhsm \"b\" {}\nhsm \"c\" {}".to_vec())]).unwrap_err();
        assert!(e.message.contains("more hsm blocks"), "{e}");
    }

    #[test]
    fn declared_audit_files_and_the_plugin_directory() {
        let files = [file(
            "audit \"file\" \"a/\" {\n  options {\n    file_path = \"/l/a.log\"\n  }\n}\naudit \"x\" {\n  type = \"file\"\n  options {\n    path = \"/l/b.log\"\n  }\n}\naudit \"file\" \"s/\" {\n  options {\n    file_path = \"STDOUT\"\n  }\n}\naudit \"socket\" \"k/\" {}\n",
        )];
        let found: Vec<String> = audit_files(&files).into_iter().map(|a| a.path).collect();
        assert_eq!(found, ["/l/a.log", "/l/b.log"]);
        let modes = |text: &str| audit_files(&[file(text)]).into_iter().map(|a| a.mode).collect::<Vec<_>>();
        let device = |mode: &str| {
            format!("audit \"file\" \"a/\" {{\n  options {{\n    file_path = \"/l\"\n    mode = {mode}\n  }}\n}}")
        };
        assert_eq!(modes(&device("\"0666\"")), [Some((0o666, "/c/a.hcl:4".to_string()))]);
        assert_eq!(modes(&device("\"640\"")), [Some((0o640, "/c/a.hcl:4".to_string()))]);
        assert_eq!(modes(&device("\"0000\"")), [Some((0, "/c/a.hcl:4".to_string()))]);
        // Not octal, signed, or wider than 32 bits: the backend refuses the device.
        for refused in ["\"0668\"", "\"-1\"", "\"+666\"", "\"0o666\"", "\"\"", "\"77777777777777\""] {
            assert_eq!(modes(&device(refused)), [None], "{refused}");
        }
        let files = [file("plugin_directory = \"/p/lnk/../x/\""), file("PLUGIN_DIRECTORY = \"/q\"")];
        assert_eq!(plugin_directory(&files).unwrap().map(|(p, _)| p), Some(PathBuf::from("/q")));
        assert_eq!(plugin_directory(&files[..1]).unwrap().map(|(p, _)| p), Some(PathBuf::from("/p/x")));
    }

    #[test]
    fn stanzas_the_server_refuses_are_refused_with_file_and_line() {
        for (text, words) in [
            ("listener \"tcp\" \"x\" {}", "neither a type nor one label"),
            ("listener {}", "neither a type nor one label"),
            ("listener \"udp\" {}", "listener type \"udp\""),
            ("ui = true\nlistener = \"tcp\"", ":2: listener is not a block"),
            ("storage \"raft\" {}\nstorage \"file\" {}", "more storage blocks"),
            (r#"{"listener": []}"#, "listener is not a block"),
        ] {
            let e = parse_all(vec![("/c/a.hcl".into(), text.as_bytes().to_vec())])
                .err()
                .unwrap_or_else(|| panic!("{text}"));
            assert!(e.message.starts_with("/c/a.hcl:") && e.message.contains(words), "{text}: {e}");
        }
        assert!(parse_all(vec![("/c/a.hcl".into(), b"listener \"tcp\" {}\nlistener \"unix\" {}".to_vec())]).is_ok());
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
    fn a_file_of_a_listed_directory_is_read_with_the_directory() {
        let cwd = Path::new("/work");
        let all: Vec<PathBuf> =
            ["/c/d/", "b.hcl", "/c/d/../d/z.hcl", "/c/d/z.conf", "d/y.json", "d"].map(PathBuf::from).into();
        let skipped: Vec<bool> = all.iter().map(|p| loaded_with_its_directory(p, &all, cwd)).collect();
        assert_eq!(skipped, [false, false, true, false, true, false]);
        assert_eq!(lexical_absolute(Path::new("../../x//y/."), Path::new("/a")), PathBuf::from("/x/y"));
        // Only another entry: a path is not its own directory.
        assert!(!loaded_with_its_directory(Path::new("/c/a.hcl"), &[PathBuf::from("/c/a.hcl")], cwd));
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
