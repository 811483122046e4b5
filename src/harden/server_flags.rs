//! The server's command line, read as the server reads it: Go's flag package (`flag.FlagSet`,
//! ContinueOnError) over the flag set that `server` registers, for each flavour.
//!
//! The tables are the flag sets of the server's own source:
//! - OpenBao: openbao/openbao df6ce2cebaa823979215c116a16820aa913fe3b1, internal/command/server.go
//!   `Flags()`, the HTTP options of internal/command/base.go `flagSet(FlagSetHTTP)` and
//!   internal/command/log_flags.go `addLogFlags`; tests/checklist_bao.rs checks the table against
//!   `bao server -h` of the OpenBao the suite runs (2.7.2), flag by flag and kind by kind.
//! - Vault: hashicorp/vault 0004b3d9611af98949171fd0f59f1146c7fa9850 command/server.go `Flags()`,
//!   7c3e52379456f8f60134c3aee7837a5ebed703e2 command/base.go `flagSet(FlagSetHTTP)`, and the log
//!   flags of command/log_flags.go (`combine-logs`, `disable-gated-logs`, `log-*`); plus
//!   `-dev-three-node` and `-dev-four-cluster`, dev-mode flags of earlier Vault releases.
//!
//! A flag outside the table is a refusal, never a guess at its arity: the server itself stops
//! with "flag provided but not defined", and whether `-x y` is one flag or a flag and the first
//! argument decides everything after it.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// What a flag takes. Go's flag package never gives a boolean flag the next argument
/// (`-dev -config=x` is two flags), and always gives it to any other (`-log-level -dev` sets
/// the log level to "-dev").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Value,
}

/// One flag of `server`.
#[derive(Clone, Copy, Debug)]
pub struct Flag {
    pub name: &'static str,
    pub kind: Kind,
    /// Set to true, it turns dev mode on (the server sets `-dev` for it).
    pub dev_mode: bool,
}

const fn value(name: &'static str) -> Flag {
    Flag { name, kind: Kind::Value, dev_mode: false }
}
const fn boolean(name: &'static str) -> Flag {
    Flag { name, kind: Kind::Bool, dev_mode: false }
}
const fn dev_mode(name: &'static str) -> Flag {
    Flag { name, kind: Kind::Bool, dev_mode: true }
}

/// The HTTP options every command of both flavours registers (base.go).
const HTTP_OPTIONS: &[Flag] = &[
    value("address"),
    value("agent-address"),
    value("ca-cert"),
    value("ca-path"),
    value("client-cert"),
    value("client-key"),
    value("namespace"),
    value("ns"),
    value("tls-server-name"),
    boolean("tls-skip-verify"),
    boolean("disable-redirects"),
    boolean("policy-override"),
    value("wrap-ttl"),
    value("mfa"),
    boolean("output-curl-string"),
    boolean("output-policy"),
    value("unlock-key"),
    value("header"),
    boolean("non-interactive"),
];

/// The `server` flags both flavours register: the log flags (log_flags.go), the command
/// options and the dev options. OpenBao's `server` has these and the HTTP options, no more.
const SERVER_OPTIONS: &[Flag] = &[
    boolean("combine-logs"),
    value("log-level"),
    value("log-format"),
    value("log-file"),
    value("log-rotate-bytes"),
    value("log-rotate-duration"),
    value("log-rotate-max-files"),
    value("config"),
    boolean("exit-on-core-shutdown"),
    boolean("recovery"),
    dev_mode("dev"),
    dev_mode("dev-tls"),
    value("dev-tls-cert-dir"),
    value("dev-root-token-id"),
    value("dev-listen-address"),
    boolean("dev-no-store-token"),
    value("dev-plugin-dir"),
    boolean("dev-plugin-init"),
    dev_mode("dev-ha"),
    value("dev-latency"),
    value("dev-latency-jitter"),
    dev_mode("dev-leased-kv"),
    dev_mode("dev-kv-v1"),
    dev_mode("dev-auto-seal"),
    boolean("dev-skip-init"),
    // Vault's since removed, OpenBao's still.
    dev_mode("dev-three-node"),
    value("dev-cluster-json"),
    boolean("test-verify-only"),
    boolean("test-server-config"),
];

/// Vault's own: `tpm-*` of its HTTP options, `disable-gated-logs` of its log flags, and its
/// other command and dev options (`-dev-four-cluster`: earlier releases').
const VAULT_ONLY: &[Flag] = &[
    value("tpm-state-dir"),
    value("tpm-device-path"),
    boolean("disable-gated-logs"),
    value("experiment"),
    value("pprof-dump-dir"),
    value("dev-tls-san"),
    dev_mode("dev-transactional"),
    dev_mode("dev-no-kv"),
    dev_mode("dev-consul"),
    dev_mode("dev-four-cluster"),
];

/// What one flavour of the server reads: its flags, and how it names its environment variables.
#[derive(Debug)]
pub struct ServerRules {
    pub name: &'static str,
    flags: &'static [&'static [Flag]],
    /// OpenBao reads `BAO_X`, and `VAULT_X` when `BAO_X` is not set at all (api.ReadBaoVariable);
    /// Vault reads `VAULT_X`.
    prefix: &'static str,
    /// `-config`'s EnvVar: OpenBao starts its list of configurations from BAO_CONFIG_PATH.
    config_variable: Option<&'static str>,
    /// The file storage: OpenBao removed it in 2.7.0 (2.6 warned of it); Vault has it.
    pub has_file_storage: bool,
}

pub const OPENBAO: ServerRules = ServerRules {
    name: "bao",
    flags: &[HTTP_OPTIONS, SERVER_OPTIONS],
    prefix: "BAO_",
    config_variable: Some("CONFIG_PATH"),
    has_file_storage: false,
};

/// OpenBao before 2.7.0, where an image's tag says so (hardinit-lint): the file storage is there.
pub const OPENBAO_BEFORE_2_7: ServerRules = ServerRules { has_file_storage: true, ..OPENBAO };

pub const VAULT: ServerRules = ServerRules {
    name: "vault",
    flags: &[HTTP_OPTIONS, SERVER_OPTIONS, VAULT_ONLY],
    prefix: "VAULT_",
    config_variable: None,
    has_file_storage: true,
};

/// The environment the server will have, by name.
pub type Environment<'a> = &'a dyn Fn(&str) -> Option<String>;

impl ServerRules {
    pub fn flag(&self, name: &str) -> Option<&'static Flag> {
        self.flags.iter().flat_map(|set| set.iter()).find(|f| f.name == name)
    }

    /// Every flag of `server`, for the check against the server's own help.
    #[cfg(test)]
    pub fn all(&self) -> impl Iterator<Item = &'static Flag> {
        self.flags.iter().flat_map(|set| set.iter())
    }

    /// Whether this is OpenBao's reading (by the binary's name).
    pub fn is_openbao(&self) -> bool {
        self.reads_bao_variables()
    }

    /// Whether this flavour reads `BAO_X` variables: Vault never does.
    fn reads_bao_variables(&self) -> bool {
        self.prefix == "BAO_"
    }

    /// The flavours whose readings of the variables `suffixes` are judged: this one's, and
    /// OpenBao's as well when this one does not read `BAO_X` and one of them is set. The flavour
    /// is told by the binary's file name, and OpenBao copied under Vault's name reads them; a
    /// Vault without them is judged as Vault alone.
    pub fn readings(&self, env: Environment, suffixes: &[&str]) -> Vec<&ServerRules> {
        let mut readings = vec![self];
        if !self.reads_bao_variables() && suffixes.iter().any(|suffix| env(&format!("BAO_{suffix}")).is_some()) {
            readings.push(&OPENBAO);
        }
        readings
    }

    /// The variable `suffix` (`RAFT_PATH`) as this flavour reads it, with the name it came from.
    /// OpenBao takes `BAO_X` when it is set, even to "", and only then `VAULT_X`.
    pub fn variable(&self, env: Environment, suffix: &str) -> Option<(String, String)> {
        let own = format!("{}{suffix}", self.prefix);
        if let Some(value) = env(&own) {
            return Some((own, value));
        }
        if self.prefix != "VAULT_" {
            let upstream = format!("VAULT_{suffix}");
            return env(&upstream).map(|value| (upstream, value));
        }
        None
    }
}

/// Where a dev server listens when nothing else says.
pub const DEV_LISTEN_ADDRESS: &str = "127.0.0.1:8200";

/// What a `server` command line asks for, read as Go's flag package reads it: flags up to the
/// first argument that is not one (`-` included) or `--`; `-name` and `--name`; `-name=value`;
/// `-name value` unless the flag is boolean; a boolean's value by strconv.ParseBool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerCommand {
    pub is_server: bool,
    pub configs: Vec<PathBuf>,
    /// `-dev` or one of the dev-mode flags set true (`-dev=false` is not dev), and no
    /// `-recovery` (the server enters recovery mode before it looks at the dev flags).
    pub dev: bool,
    /// `-dev-tls`: the dev listener serves TLS.
    pub dev_tls: bool,
    /// `-dev-three-node`: three test-cluster nodes serve TLS in the listener's place, on the
    /// dev listen address's port and the two after it (random ports without one).
    pub dev_three_node: bool,
    /// `-dev-skip-init`: the dev server is left uninitialised (no root token printed).
    pub dev_skip_init: bool,
    /// `-dev-listen-address` as given, before its default: the three nodes' base.
    pub dev_listen_given: bool,
    /// `-recovery`: the server starts in recovery mode (sys/raw and generate-root only).
    pub recovery: bool,
    /// Where the dev listener binds: `-dev-listen-address`, its variable, or 127.0.0.1:8200;
    /// for a server judged Vault with BAO_DEV_LISTEN_ADDRESS set and no flag, where OpenBao
    /// copied under Vault's name would bind it as well (see [`ServerRules::readings`]).
    pub dev_listen_addresses: Vec<String>,
    /// A command line the server refuses, or that hardinit does not know: why. Nothing else in
    /// this value is to be trusted then.
    pub refused: Option<String>,
}

impl ServerCommand {
    pub fn parse(rules: &ServerRules, args: &[OsString], env: Environment) -> ServerCommand {
        let mut command = ServerCommand::default();
        if args.first().is_none_or(|a| a != "server") {
            return command;
        }
        command.is_server = true;
        // A StringSliceVar's EnvVar is its initial value, split at commas and trimmed; the
        // flags append to it.
        if let Some((_, paths)) = rules.config_variable.and_then(|suffix| rules.variable(env, suffix)) {
            command.configs.extend(paths.split(',').map(|p| PathBuf::from(p.trim())));
        }
        // OpenBao copied under Vault's name would add the files BAO_CONFIG_PATH names, Vault
        // does not: which configuration the server reads is unknown.
        if rules.config_variable.is_none() && env("BAO_CONFIG_PATH").is_some() {
            command.refused = Some(format!(
                "{} server: BAO_CONFIG_PATH is set, which OpenBao reads and Vault does not, and the server is judged Vault by its file name (OpenBao copied under that name would read the files it names); keep OpenBao's name bao or link to it, or unset BAO_CONFIG_PATH",
                rules.name
            ));
            return command;
        }
        for rules in rules.readings(env, &["DEV_LISTEN_ADDRESS"]) {
            // An empty address is no address: the server keeps its listener's 127.0.0.1:8200.
            let address =
                rules.variable(env, "DEV_LISTEN_ADDRESS").map(|(_, address)| address).filter(|a| !a.is_empty());
            command.dev_listen_given |= address.is_some();
            let address = address.unwrap_or_else(|| DEV_LISTEN_ADDRESS.to_string());
            if !command.dev_listen_addresses.contains(&address) {
                command.dev_listen_addresses.push(address);
            }
        }
        let mut switches: Vec<(&'static str, bool)> = Vec::new();
        let refuse = |why: String| format!("{} server: {why}", rules.name);
        let mut rest = args[1..].iter();
        while let Some(arg) = rest.next() {
            let bytes = arg.as_bytes();
            if bytes.len() < 2 || bytes[0] != b'-' {
                break;
            }
            if bytes == b"--" {
                break;
            }
            let name_and_value = bytes.strip_prefix(b"--").unwrap_or(&bytes[1..]);
            if name_and_value.is_empty() || name_and_value[0] == b'-' || name_and_value[0] == b'=' {
                command.refused = Some(refuse(format!("bad flag syntax: {}", arg.to_string_lossy())));
                return command;
            }
            // `=` cannot be the name's first byte: that was refused above.
            let (name, inline) = match name_and_value.iter().position(|b| *b == b'=') {
                Some(at) => (&name_and_value[..at], Some(&name_and_value[at + 1..])),
                None => (name_and_value, None),
            };
            let shown = String::from_utf8_lossy(name);
            let Some(flag) = std::str::from_utf8(name).ok().and_then(|n| rules.flag(n)) else {
                command.refused = Some(refuse(format!(
                    "-{shown} is not one of the server's flags (the server refuses it; hardinit cannot tell whether it takes the next argument)"
                )));
                return command;
            };
            let value: OsString = match (flag.kind, inline) {
                (Kind::Bool, None) => "true".into(),
                (_, Some(v)) => OsStr::from_bytes(v).to_os_string(),
                (Kind::Value, None) => match rest.next() {
                    Some(next) => next.clone(),
                    None => {
                        command.refused = Some(refuse(format!("flag needs an argument: -{shown}")));
                        return command;
                    }
                },
            };
            if flag.kind == Kind::Bool {
                let Some(on) = value.to_str().and_then(super::hcl::parse_go_bool) else {
                    command.refused = Some(refuse(format!(
                        "invalid boolean value {:?} for -{shown} (the server refuses it)",
                        value.to_string_lossy()
                    )));
                    return command;
                };
                // Each flag keeps its last value; the server then turns dev mode on for any mode
                // flag left true (`-dev-ha -dev=false` is dev, `-dev -dev=false` is not).
                switches.retain(|(name, _)| *name != flag.name);
                switches.push((flag.name, on));
                continue;
            }
            match flag.name {
                // The server trims each value (its string-slice flag does).
                "config" => command.configs.push(PathBuf::from(trim(&value))),
                "dev-listen-address" => {
                    let given = value.to_string_lossy().into_owned();
                    command.dev_listen_given = !given.is_empty();
                    let address = if given.is_empty() { DEV_LISTEN_ADDRESS.to_string() } else { given };
                    command.dev_listen_addresses = vec![address];
                }
                _ => {}
            }
        }
        let set = |name: &str| switches.iter().any(|(n, on)| *n == name && *on);
        command.dev_tls = set("dev-tls");
        command.dev_three_node = set("dev-three-node");
        command.dev_skip_init = set("dev-skip-init");
        let dev = switches.iter().any(|(name, on)| *on && rules.flag(name).is_some_and(|f| f.dev_mode));
        command.recovery = set("recovery");
        command.dev = dev && !command.recovery;
        command
    }
}

fn trim(value: &OsStr) -> OsString {
    match value.to_str() {
        Some(text) => OsString::from(text.trim()),
        None => value.to_os_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(rules: &ServerRules, args: &[&str], env: &[(&str, &str)]) -> ServerCommand {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        ServerCommand::parse(rules, &args, &lookup)
    }

    fn parse(args: &[&str]) -> ServerCommand {
        parse_with(&OPENBAO, args, &[])
    }

    #[test]
    fn flags_as_go_reads_them() {
        let c = parse(&["server", "-config=/a.hcl", "-config", "/b", "--config= /c.json ", "-dev"]);
        assert_eq!(c.configs, ["/a.hcl", "/b", "/c.json"].map(PathBuf::from));
        assert!(c.is_server && c.dev && c.refused.is_none());
        for dev in ["-dev-tls", "-dev-ha", "--dev-three-node", "-dev=true", "-dev=1", "-dev=T", "-dev-kv-v1"] {
            assert!(parse(&["server", dev]).dev, "{dev}");
        }
        for not_dev in ["-dev=false", "-dev-root-token-id=x", "-dev-listen-address=0.0.0.0:8200", "-dev-no-store-token"]
        {
            assert!(!parse(&["server", not_dev]).dev, "{not_dev}");
        }
        // A value flag takes the next argument, even one that looks like a flag.
        assert!(!parse(&["server", "-dev-root-token-id", "-dev"]).dev);
        // Go stops at the first argument that is not a flag (`-` is one), and at `--`.
        let c = parse(&["server", "-config=/a", "extra", "-dev", "-config=/b"]);
        assert_eq!((c.configs.len(), c.dev), (1, false));
        assert!(!parse(&["server", "--", "-dev"]).dev);
        assert!(!parse(&["server", "-", "-dev"]).dev);
        assert!(!parse(&["status", "-dev"]).is_server);
    }

    #[test]
    fn the_http_options_are_flags_of_server_too() {
        // The boolean ones never take the next argument: -config is still read, -dev still seen.
        for flag in
            ["-disable-redirects", "-output-curl-string", "-output-policy", "-tls-skip-verify", "-non-interactive"]
        {
            let c = parse(&["server", flag, "-config=/c.hcl"]);
            assert_eq!(c.configs, [PathBuf::from("/c.hcl")], "{flag}");
            assert!(parse(&["server", flag, "-dev"]).dev, "{flag}");
        }
        // A value option takes it.
        assert!(!parse(&["server", "-address", "-dev"]).dev);
        assert!(parse(&["server", "-address", "x", "-dev"]).dev);
    }

    #[test]
    fn what_the_server_refuses_is_a_refusal_not_a_guess() {
        for (args, words) in [
            (&["server", "-no-such-flag", "-config=/c"][..], "-no-such-flag is not one of the server's flags"),
            (&["server", "-h"], "-h is not one"),
            (&["server", "-dev=maybe"], "invalid boolean value \"maybe\" for -dev"),
            (&["server", "-dev="], "invalid boolean value \"\""),
            (&["server", "-config"], "flag needs an argument: -config"),
            (&["server", "---dev"], "bad flag syntax: ---dev"),
            (&["server", "-=x"], "bad flag syntax"),
            // Vault's flags are not OpenBao's.
            (&["server", "-experiment", "x"], "-experiment is not one"),
        ] {
            let refused = parse(args).refused.unwrap_or_default();
            assert!(refused.starts_with("bao server: ") && refused.contains(words), "{args:?}: {refused}");
        }
        assert!(parse_with(&VAULT, &["server", "-experiment", "x", "-dev"], &[]).dev);
        assert!(parse_with(&VAULT, &["server", "-dev-no-kv"], &[]).dev);
        assert!(parse_with(&OPENBAO, &["server", "-dev-no-kv"], &[]).refused.is_some());
    }

    #[test]
    fn each_flag_keeps_its_last_value_and_recovery_wins() {
        assert!(!parse(&["server", "-dev", "-dev=false"]).dev);
        assert!(parse(&["server", "-dev-ha", "-dev=false"]).dev);
        assert!(!parse(&["server", "-dev-ha", "-dev-ha=0"]).dev);
        assert!(!parse(&["server", "-recovery", "-dev", "-config=/c"]).dev);
        assert!(parse(&["server", "-recovery", "-config=/c"]).recovery);
        assert!(!parse(&["server", "-recovery", "-recovery=false", "-config=/c"]).recovery);
        let c = parse(&["server", "-dev-tls", "-dev-listen-address", "0.0.0.0:1"]);
        assert!(c.dev && c.dev_tls);
        assert_eq!(c.dev_listen_addresses, ["0.0.0.0:1"]);
    }

    #[test]
    fn openbao_reads_its_configuration_and_dev_address_from_the_environment() {
        let c = parse_with(&OPENBAO, &["server", "-config=/b"], &[("BAO_CONFIG_PATH", "/a.hcl, /d")]);
        assert_eq!(c.configs, ["/a.hcl", "/d", "/b"].map(PathBuf::from));
        // VAULT_ only when BAO_ is not set at all.
        let c = parse_with(&OPENBAO, &["server"], &[("VAULT_CONFIG_PATH", "/v")]);
        assert_eq!(c.configs, [PathBuf::from("/v")]);
        let c = parse_with(&OPENBAO, &["server"], &[("BAO_CONFIG_PATH", ""), ("VAULT_CONFIG_PATH", "/v")]);
        assert_eq!(c.configs, [PathBuf::from("")]);
        // Vault's -config has no variable.
        assert!(parse_with(&VAULT, &["server"], &[("VAULT_CONFIG_PATH", "/v")]).configs.is_empty());
        let c = parse_with(&OPENBAO, &["server", "-dev"], &[("VAULT_DEV_LISTEN_ADDRESS", "0.0.0.0:8200")]);
        assert_eq!(c.dev_listen_addresses, ["0.0.0.0:8200"]);
        assert_eq!(parse(&["server", "-dev"]).dev_listen_addresses, ["127.0.0.1:8200"]);
    }

    #[test]
    fn a_server_judged_vault_with_bao_config_path_set_is_refused() {
        // OpenBao copied under Vault's name adds BAO_CONFIG_PATH's files, Vault does not.
        let c = parse_with(&VAULT, &["server", "-config=/c"], &[("BAO_CONFIG_PATH", "/p.hcl")]);
        let refused = c.refused.unwrap_or_default();
        assert!(refused.starts_with("vault server: BAO_CONFIG_PATH is set"), "{refused}");
        assert!(parse_with(&VAULT, &["server", "-config=/c"], &[("BAO_CONFIG_PATH", "")]).refused.is_some());
        // Not for another command, nor for Vault without it, nor for OpenBao.
        assert!(parse_with(&VAULT, &["version"], &[("BAO_CONFIG_PATH", "/p")]).refused.is_none());
        assert!(parse_with(&VAULT, &["server", "-config=/c"], &[("VAULT_CONFIG_PATH", "/p")]).refused.is_none());
        assert!(parse_with(&OPENBAO, &["server"], &[("BAO_CONFIG_PATH", "/p")]).refused.is_none());
    }

    #[test]
    fn openbaos_reading_is_added_only_for_vault_with_a_bao_variable_set() {
        let names = |rules: &ServerRules, env: &[(&str, &str)]| -> Vec<&str> {
            let lookup = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
            rules.readings(&lookup, &["SKIP_VERIFY", "SEAL_TYPE"]).iter().map(|r| r.name).collect()
        };
        assert_eq!(names(&VAULT, &[]), ["vault"]);
        assert_eq!(names(&VAULT, &[("VAULT_SKIP_VERIFY", "1"), ("BAO_RAFT_PATH", "/r")]), ["vault"]);
        // Set, even to "": OpenBao then reads it and not VAULT_X.
        assert_eq!(names(&VAULT, &[("BAO_SEAL_TYPE", "")]), ["vault", "bao"]);
        assert_eq!(names(&OPENBAO, &[("BAO_SKIP_VERIFY", "1")]), ["bao"]);
    }
}
