//! Command line and `HARDINIT_*` environment: every option can come from either; the flag wins.

use crate::error::Fatal;
use crate::log::Level;
use crate::signals::Rewrites;
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
}

pub enum Invocation {
    Run(Options),
    /// `--help` or `--version` was printed; exit with this status.
    Done(i32),
}

fn command() -> Command {
    Command::new("hardinit")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A PID 1 for Vault and OpenBao containers: forwards every signal, reaps every orphan, exits with the server's status.")
        .override_usage("hardinit [OPTIONS] [--] COMMAND [ARGS...]")
        .after_help("Every option can also be set with an environment variable HARDINIT_<NAME>; a flag on the command line wins.\nExit status: the server's, or 128+N when signal N killed it; hardinit's own failures: 64 usage, 70/71 internal, 78 hardening refusal, 126 not executable, 127 not found.")
        .arg(Arg::new("verbose").short('v').long("verbose").env("HARDINIT_VERBOSE").action(ArgAction::SetTrue).help("Log every signal forwarded and every process reaped"))
        .arg(Arg::new("quiet").short('q').long("quiet").env("HARDINIT_QUIET").action(ArgAction::SetTrue).conflicts_with("verbose").help("Log errors only"))
        .arg(Arg::new("log-format").long("log-format").env("HARDINIT_LOG_FORMAT").value_name("FORMAT").value_parser(["text", "json"]).default_value("text").help("text: `hardinit: ...` lines; json: Vault's JSON log keys"))
        .arg(Arg::new("forward-to").long("forward-to").env("HARDINIT_FORWARD_TO").value_name("TARGET").value_parser(["server", "group"]).default_value("server").help("Send signals to the server process, or to its whole process group"))
        .arg(Arg::new("rewrite").long("rewrite").env("HARDINIT_REWRITE").value_name("SRC:DST").action(ArgAction::Append).value_delimiter(',').help("Deliver signal SRC as DST (DST 0 drops it); repeatable, comma-separated in the environment"))
        .arg(Arg::new("grace").long("grace").env("HARDINIT_GRACE").value_name("DURATION").default_value("5s").help("After the server exits, how long leftover processes get between SIGTERM and SIGKILL (e.g. 5s, 500ms)"))
        .arg(Arg::new("keep-fds").long("keep-fds").env("HARDINIT_KEEP_FDS").action(ArgAction::SetTrue).help("Pass inherited file descriptors 3 and up to the server (closed by default)"))
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
    let command: Vec<OsString> =
        matches.get_many::<OsString>("command").map(|v| v.cloned().collect()).unwrap_or_default();
    if command.is_empty() {
        return Err(Fatal::usage(
            "no server command given: hardinit [OPTIONS] [--] COMMAND [ARGS...]; see hardinit --help",
        ));
    }
    let mut rewrites = Rewrites::default();
    for spec in matches.get_many::<String>("rewrite").into_iter().flatten() {
        rewrites.add(spec).map_err(Fatal::usage)?;
    }
    let grace_text = matches.get_one::<String>("grace").expect("has a default");
    let grace = parse_duration(grace_text)
        .ok_or_else(|| Fatal::usage(format!("--grace {grace_text:?}: expected a duration such as 5s, 500ms or 2m")))?;
    let log_level = if matches.get_flag("quiet") {
        Level::Error
    } else if matches.get_flag("verbose") {
        Level::Debug
    } else {
        Level::Info
    };
    Ok(Invocation::Run(Options {
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
    }))
}

/// clap's message is several lines (error, tip, usage); we promise one.
fn one_line(rendered: &str) -> String {
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    format!("{}; see hardinit --help", first.trim_start_matches("error: "))
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
            Invocation::Done(_) => panic!("help printed"),
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
            &["hardinit", "--rewrite", "TERM", "x"],
            &["hardinit", "--forward-to", "all", "x"],
        ] {
            let e = run(args).expect_err("must fail");
            assert_eq!(e.code, crate::error::ExitCode::Usage, "{args:?}");
            assert!(!e.message.contains('\n'), "{:?}", e.message);
        }
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
