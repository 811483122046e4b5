//! Command line and `HARDINIT_*` environment: every option can come from either; the flag wins.

use crate::error::Fatal;
use crate::harden::{MemoryGuard, Settings};
use crate::log::Level;
use crate::signals::Rewrites;
use clap::builder::BoolishValueParser;
use clap::{Arg, ArgAction, Command, value_parser};
use std::ffi::OsString;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardTo {
    /// The server process only.
    Server,
    /// The server's whole process group.
    Group,
}

/// Everything the supervisor needs to know.
#[derive(Debug)]
pub struct Options {
    pub command: Vec<OsString>,
    pub log_level: Level,
    pub log_json: bool,
    pub forward_to: ForwardTo,
    pub rewrites: Rewrites,
    pub grace: Duration,
    pub keep_fds: bool,
    /// `--reload-on-change`: files (or `auto`) whose change sends the server SIGHUP.
    pub reload_on_change: Vec<String>,
    pub reload_debounce: Duration,
    /// `--term-delay`: how long a SIGTERM waits before it is forwarded.
    pub term_delay: Duration,
    pub hardening: Settings,
    /// `--entrypoint`: apply the official docker-entrypoint.sh contract first.
    pub entrypoint: Option<Entrypoint>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entrypoint {
    /// Vault or OpenBao, from what the image contains.
    Auto,
    Vault,
    OpenBao,
}

/// The name under which hardinit stands in for the official entrypoint script.
pub const ENTRYPOINT_NAME: &str = "docker-entrypoint.sh";

/// Invoked as `docker-entrypoint.sh ARGS...` (a link to hardinit in the image), every argument is
/// the container's command; hardinit's own options then come from HARDINIT_* variables only.
pub fn multi_call(args: Vec<OsString>) -> Vec<OsString> {
    let called_as = args.first().map(std::path::Path::new).and_then(|p| p.file_name()).map(|n| n == ENTRYPOINT_NAME);
    if called_as != Some(true) {
        return args;
    }
    // `docker run IMAGE check ...` (or `IMAGE hardinit check ...`): hardinit's own checklist, as
    // PID 1 with the container's credentials, judging the command the container runs; not a
    // program `check` run as the server's user.
    let word = |i: usize| args.get(i).map(|a| a.as_os_str());
    let check_at = match (word(1), word(2)) {
        (Some(a), _) if a == "check" => Some(1),
        (Some(a), Some(b)) if (a == "hardinit" || a == "/usr/local/bin/hardinit") && b == "check" => Some(2),
        _ => None,
    };
    let mut rewritten: Vec<OsString> = vec![args[0].clone(), "--entrypoint".into(), "auto".into()];
    match check_at {
        Some(at) => rewritten.extend(args.into_iter().skip(at)),
        None => {
            rewritten.push("--".into());
            rewritten.extend(args.into_iter().skip(1));
        }
    }
    rewritten
}

pub enum Invocation {
    Run(Options),
    /// `hardinit check [--json] [--] [COMMAND...]`: `options.command` may be empty.
    Check {
        options: Options,
        json: bool,
        /// `check --config PATH...`: the configuration alone, offline.
        offline: Vec<std::path::PathBuf>,
    },
    /// `--help` or `--version` was printed; exit with this status.
    Done(i32),
}

fn command() -> Command {
    Command::new("hardinit")
        .version(env!("HARDINIT_LONG_VERSION"))
        .about("A PID 1 for Vault and OpenBao containers: forwards every signal, reaps every orphan, exits with the server's status.")
        .override_usage("hardinit [OPTIONS] [--] COMMAND [ARGS...]")
        .after_help("Every option can also be set with an environment variable HARDINIT_<NAME>; a flag on the command line wins.\nExit status: the server's, or 128+N when signal N killed it; hardinit's own failures: 64 usage, 70/71 internal, 78 refused (hardening or entrypoint), 126 not executable, 127 not found.")
        .arg(Arg::new("verbose").short('v').long("verbose").env("HARDINIT_VERBOSE").action(ArgAction::SetTrue).value_parser(BoolishValueParser::new()).global(true).help("Log every signal forwarded and every process reaped"))
        .arg(Arg::new("quiet").short('q').long("quiet").env("HARDINIT_QUIET").action(ArgAction::SetTrue).value_parser(BoolishValueParser::new()).conflicts_with("verbose").global(true).help("Log errors only"))
        .arg(Arg::new("log-format").long("log-format").env("HARDINIT_LOG_FORMAT").value_name("FORMAT").value_parser(["text", "json"]).default_value("text").global(true).help("text: `hardinit: ...` lines; json: Vault's JSON log keys"))
        .arg(Arg::new("forward-to").long("forward-to").env("HARDINIT_FORWARD_TO").value_name("TARGET").value_parser(["server", "group"]).default_value("server").global(true).help("Send signals to the server process, or to its whole process group"))
        .arg(Arg::new("rewrite").long("rewrite").env("HARDINIT_REWRITE").value_name("SRC:DST").action(ArgAction::Append).value_delimiter(',').global(true).help("Deliver signal SRC as DST (DST 0 drops it); repeatable, comma-separated in the environment"))
        .arg(Arg::new("grace").long("grace").env("HARDINIT_GRACE").value_name("DURATION").default_value("5s").global(true).help("After the server exits, how long leftover processes get between SIGTERM and SIGKILL (e.g. 5s, 500ms)"))
        .arg(Arg::new("reload-on-change").long("reload-on-change").env("HARDINIT_RELOAD_ON_CHANGE").value_name("PATH").action(ArgAction::Append).value_delimiter(',').global(true).help("Send the server SIGHUP when this file's content changes (repeatable; `auto`: the listeners' TLS files from the server's config)"))
        .arg(Arg::new("reload-debounce").long("reload-debounce").env("HARDINIT_RELOAD_DEBOUNCE").value_name("DURATION").default_value("2s").global(true).help("How long changes must settle before the SIGHUP"))
        .arg(Arg::new("term-delay").long("term-delay").env("HARDINIT_TERM_DELAY").value_name("DURATION").default_value("0s").global(true).help("Keep the server serving this long after SIGTERM before forwarding it (a second SIGTERM or a SIGINT forwards at once)"))
        .arg(Arg::new("keep-fds").long("keep-fds").env("HARDINIT_KEEP_FDS").action(ArgAction::SetTrue).value_parser(BoolishValueParser::new()).global(true).help("Pass inherited file descriptors 3 and up to the server (closed by default)"))
        .arg(Arg::new("user").long("user").env("HARDINIT_USER").value_name("USER").global(true).help("Run the server as NAME, UID, NAME:GROUP or UID:GID from /etc/passwd and /etc/group [default: vault, or openbao]"))
        .arg(Arg::new("allow-root").long("allow-root").env("HARDINIT_ALLOW_ROOT").action(ArgAction::SetTrue).value_parser(BoolishValueParser::new()).global(true).help("Allow the server to run as uid 0 or gid 0 (refused by default)"))
        .arg(Arg::new("memory-guard").long("memory-guard").env("HARDINIT_MEMORY_GUARD").value_name("RULE").value_parser(["auto", "mlock", "swap", "off"]).default_value("auto").global(true).help("How to prove the server's memory cannot reach disk"))
        .arg(Arg::new("keep-env").long("keep-env").env("HARDINIT_KEEP_ENV").action(ArgAction::SetTrue).value_parser(BoolishValueParser::new()).global(true).help("Pass the environment unchanged (history variables are not set)"))
        .arg(Arg::new("entrypoint").long("entrypoint").env("HARDINIT_ENTRYPOINT").value_name("FLAVOUR").value_parser(["auto", "vault", "openbao"]).global(true).help("Apply the official docker-entrypoint.sh contract (what hardinit does when called as docker-entrypoint.sh)"))
        .arg(Arg::new("strict").long("strict").env("HARDINIT_STRICT").action(ArgAction::SetTrue).value_parser(BoolishValueParser::new()).global(true).help("Every WARN refuses the start (exit 78), and makes `check` exit 1"))
        .arg(Arg::new("allow").long("allow").env("HARDINIT_ALLOW").value_name("ID").action(ArgAction::Append).value_delimiter(',').global(true).help("Accept the finding ID (a check's id) whatever its status; logged once at start; repeatable"))
        .arg(Arg::new("umask").long("umask").env("HARDINIT_UMASK").value_name("OCTAL").default_value("077").global(true).help("The server's umask"))
        .subcommand(
            Command::new("check")
                .about("Run every hardening check without changing anything or starting anything; exit 0 when nothing fails, 1 otherwise")
                .override_usage("hardinit check [--json] [OPTIONS] [--] [COMMAND [ARGS...]]")
                .arg(Arg::new("json").long("json").action(ArgAction::SetTrue).help("One JSON document instead of one line per check"))
                .arg(Arg::new("config").long("config").value_name("PATH").action(ArgAction::Append).value_parser(value_parser!(OsString)).help("Check this configuration (file or directory, as -config) offline: no server binary, no container; the checks that need the running kernel say SKIP"))
                .arg(Arg::new("command").value_name("COMMAND").num_args(1..).trailing_var_arg(true).value_parser(value_parser!(OsString)).help("The server command whose configuration the memory check reads")),
        )
        .subcommand_precedence_over_arg(true)
        .disable_help_subcommand(true)
        .arg(Arg::new("command").value_name("COMMAND").num_args(1..).trailing_var_arg(true).value_parser(value_parser!(OsString)).help("The server and its arguments"))
}

/// Parses the process arguments (argv[0] included).
pub fn parse(args: Vec<OsString>) -> Result<Invocation, Fatal> {
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            // Nothing useful can be done if stdout is closed.
            let _ = e.print();
            return Ok(Invocation::Done(0));
        }
        Err(e) => return Err(Fatal::usage(one_line(&e.render().to_string()))),
    };
    let check = matches.subcommand_matches("check").cloned();
    let command_source = check.as_ref().unwrap_or(&matches);
    let command: Vec<OsString> =
        command_source.get_many::<OsString>("command").map(|v| v.cloned().collect()).unwrap_or_default();
    let entrypoint = match matches.get_one::<String>("entrypoint").map(String::as_str) {
        Some("vault") => Some(Entrypoint::Vault),
        Some("openbao") => Some(Entrypoint::OpenBao),
        Some(_) => Some(Entrypoint::Auto),
        None => None,
    };
    if command.is_empty() && check.is_none() && entrypoint.is_none() {
        return Err(Fatal::usage(
            "no server command given: hardinit [OPTIONS] [--] COMMAND [ARGS...]; see hardinit --help",
        ));
    }
    let mut rewrites = Rewrites::default();
    for spec in matches.get_many::<String>("rewrite").into_iter().flatten() {
        rewrites.add(spec).map_err(Fatal::usage)?;
    }
    // Every duration flag: parsed the same way, bounded so that no deadline computed from it can
    // overflow the clock.
    let duration = |name: &str, limit: Duration| -> Result<Duration, Fatal> {
        let text = matches.get_one::<String>(name).expect("has a default");
        let parsed = parse_duration(text)
            .ok_or_else(|| Fatal::usage(format!("--{name} {text:?}: expected a duration such as 5s, 500ms or 2m")))?;
        if parsed > limit {
            let hours = limit.as_secs() / 3600;
            return Err(Fatal::usage(format!("--{name} {text:?}: longer than the limit of {hours}h")));
        }
        Ok(parsed)
    };
    let grace = duration("grace", MAX_GRACE)?;
    let reload_debounce = duration("reload-debounce", Duration::from_secs(3600))?;
    let term_delay = duration("term-delay", MAX_GRACE)?;
    let reload_on_change: Vec<String> = matches
        .get_many::<String>("reload-on-change")
        .into_iter()
        .flatten()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect();
    if let Some(relative) = reload_on_change.iter().find(|p| *p != "auto" && !p.starts_with('/')) {
        return Err(Fatal::usage(format!("--reload-on-change {relative:?}: an absolute path, or auto")));
    }
    let log_level = if matches.get_flag("quiet") {
        Level::Error
    } else if matches.get_flag("verbose") {
        Level::Debug
    } else {
        Level::Info
    };
    let umask_text = matches.get_one::<String>("umask").expect("has a default");
    let umask = u32::from_str_radix(umask_text, 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| Fatal::usage(format!("--umask {umask_text:?}: expected an octal mode such as 077 or 027")))?;
    let user = matches.get_one::<String>("user").cloned();
    if let Some(spec) = &user {
        check_user_syntax(spec).map_err(Fatal::usage)?;
    }
    let hardening = Settings {
        user,
        allow_root: matches.get_flag("allow-root"),
        memory_guard: match matches.get_one::<String>("memory-guard").map(String::as_str) {
            Some("mlock") => MemoryGuard::Mlock,
            Some("swap") => MemoryGuard::Swap,
            Some("off") => MemoryGuard::Off,
            _ => MemoryGuard::Auto,
        },
        keep_env: matches.get_flag("keep-env"),
        umask,
        strict: matches.get_flag("strict"),
        allow: matches.get_many::<String>("allow").into_iter().flatten().filter(|a| !a.is_empty()).cloned().collect(),
    };
    let options = Options {
        command,
        log_level,
        log_json: matches.get_one::<String>("log-format").is_some_and(|f| f == "json"),
        forward_to: if matches.get_one::<String>("forward-to").is_some_and(|f| f == "group") {
            ForwardTo::Group
        } else {
            ForwardTo::Server
        },
        rewrites,
        grace,
        keep_fds: matches.get_flag("keep-fds"),
        reload_on_change,
        reload_debounce,
        term_delay,
        hardening,
        entrypoint,
    };
    Ok(match check {
        Some(check) => Invocation::Check {
            options,
            json: check.get_flag("json"),
            offline: check.get_many::<OsString>("config").into_iter().flatten().map(std::path::PathBuf::from).collect(),
        },
        None => Invocation::Run(options),
    })
}

/// clap's message is several lines (error, tip, usage); we promise one.
fn one_line(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    format!("{}; see hardinit --help", first.trim_start_matches("error: "))
}

/// The longest `--grace` accepted: a day. Longer is a mistake, and every deadline computed from
/// it must stay far from the clock's limits.
pub const MAX_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// `--user` as written, before any account file is read: `NAME`, `UID`, `NAME:GROUP` or
/// `UID:GID`, neither part empty, a number below 4294967295 ((uid_t)-1 is "unchanged" to the kernel).
fn check_user_syntax(spec: &str) -> Result<(), String> {
    for part in spec.splitn(2, ':') {
        if part.is_empty() {
            return Err(format!("--user {spec:?}: expected NAME, UID, NAME:GROUP or UID:GID"));
        }
        if part.bytes().all(|b| b.is_ascii_digit()) && part.parse::<u32>().map_or(true, |id| id == u32::MAX) {
            return Err(format!(
                "--user {spec:?}: {part} is not a usable id (4294967295 means \"unchanged\" to the kernel); fix: an id below 4294967295"
            ));
        }
    }
    Ok(())
}

/// `5`, `5s`, `500ms`, `2m`: seconds when no unit is given.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    match unit {
        "" | "s" => Some(Duration::from_secs(n)),
        "ms" => Some(Duration::from_millis(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Options, Fatal> {
        match parse(args.iter().map(OsString::from).collect())? {
            Invocation::Run(o) => Ok(o),
            Invocation::Done(_) | Invocation::Check { .. } => panic!("not a run"),
        }
    }

    #[test]
    fn command_and_its_flags_are_kept_verbatim() {
        let o = run(&["hardinit", "-v", "--grace", "2s", "bao", "server", "-dev", "--x"]).unwrap();
        assert_eq!(o.command, ["bao", "server", "-dev", "--x"]);
        assert_eq!(o.grace, Duration::from_secs(2));
        assert_eq!(o.log_level, Level::Debug);
        let o = run(&["hardinit", "--", "--weird", "-v"]).unwrap();
        assert_eq!(o.command, ["--weird", "-v"]);
        assert_eq!(o.log_level, Level::Info);
    }

    #[test]
    fn bad_input_is_a_usage_error_on_one_line() {
        for args in [
            &["hardinit"][..],
            &["hardinit", "--bogus", "x"],
            &["hardinit", "--grace", "soon", "x"],
            &["hardinit", "--grace", "18446744073709551615", "x"],
            &["hardinit", "--grace", "1441m", "x"],
            &["hardinit", "--rewrite", "TERM", "x"],
            &["hardinit", "--forward-to", "all", "x"],
        ] {
            let e = run(args).expect_err("must fail");
            assert_eq!(e.code, crate::error::ExitCode::Usage, "{args:?}");
            assert!(!e.message.contains('\n'), "{:?}", e.message);
        }
    }

    #[test]
    fn check_is_a_subcommand_with_global_options() {
        let parsed = parse(
            ["hardinit", "--user", "vault", "check", "--json", "--memory-guard", "swap", "--", "bao", "server"]
                .map(OsString::from)
                .to_vec(),
        );
        let Ok(Invocation::Check { options, json, .. }) = parsed else { panic!("not a check") };
        assert!(json);
        assert_eq!(options.command, ["bao", "server"]);
        assert_eq!(options.hardening.user.as_deref(), Some("vault"));
        assert_eq!(options.hardening.memory_guard, MemoryGuard::Swap);
        // After `--`, `check` is a command like any other.
        let o = run(&["hardinit", "--", "check", "x"]).unwrap();
        assert_eq!(o.command, ["check", "x"]);
        assert_eq!(o.hardening.umask, 0o077);
        for bad in ["4294967295:4294967295", "4294967295", "1:4294967295", "99999999999", ":1", "1:", ""] {
            let e = run(&["hardinit", "--user", bad, "x"]).err().unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(e.code, crate::error::ExitCode::Usage, "{bad:?}");
        }
        for good in ["vault", "100:1000", "vault:vault", "4294967294:1"] {
            assert!(run(&["hardinit", "--user", good, "x"]).is_ok(), "{good:?}");
        }
        assert!(run(&["hardinit", "--umask", "888", "x"]).is_err());
    }

    #[test]
    fn called_as_docker_entrypoint_every_argument_is_the_command() {
        let args = multi_call(
            ["/usr/local/bin/docker-entrypoint.sh", "server", "--grace", "-dev"].map(OsString::from).to_vec(),
        );
        let o = run(&args.iter().map(|a| a.to_str().unwrap()).collect::<Vec<_>>()).unwrap();
        assert_eq!(o.entrypoint, Some(Entrypoint::Auto));
        assert_eq!(o.command, ["server", "--grace", "-dev"]);
        let plain = multi_call(["hardinit", "x"].map(OsString::from).to_vec());
        assert_eq!(plain, ["hardinit", "x"]);
        let o = run(&["hardinit", "--entrypoint", "openbao"]).unwrap();
        assert_eq!((o.entrypoint, o.command.len()), (Some(Entrypoint::OpenBao), 0));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("1h"), None);
        assert_eq!(parse_duration(""), None);
    }
}
