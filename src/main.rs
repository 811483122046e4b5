//! hardinit: a PID 1 for Vault and OpenBao containers.
//!
//! The life of the process, in order: parse → prepare → harden → spawn → supervise → exit.

#![no_main]

use cli::{Invocation, Options};
use error::Fatal;
use hardinit::{check, cli, entrypoint, error, harden, log, reload, sh, signals, spawn, supervise, sys};
use hardinit::{debug, info, warn};
use spawn::{Inherited, Session, Spawn};
use std::ffi::OsString;
use sys::process::Ended;

hardinit::c_entry_point!(main_with_args);

/// Called by the C entry point; returns the process exit status.
fn main_with_args(args: Vec<OsString>) -> i32 {
    // A bug must still end in one line and a documented status, not an abort with a core dump.
    std::panic::set_hook(Box::new(|panic| {
        error!("internal error, please report it: {panic}");
        sys::process::exit_now(error::ExitCode::Internal as i32);
    }));
    // Installed as /bin/sh: run the script; its last command may hand over to hardinit itself.
    let mut script_began = None;
    let args = if sh::is_called_as_sh(&args) {
        // The file system's clock (coarse): a file the script writes is never older than this.
        let began = sys::process::coarse_realtime().ok();
        match sh::main(args) {
            sh::Outcome::Exit(status) => return status,
            sh::Outcome::Become(argv) => {
                script_began = began;
                argv
            }
        }
    } else {
        args
    };
    match run(args, script_began) {
        Ok(status) => status,
        Err(fatal) => {
            error!("{fatal}");
            fatal.code as i32
        }
    }
}

/// `script_began`: when the script that handed over to hardinit (as /bin/sh) began.
fn run(args: Vec<OsString>, script_began: Option<(i64, i64)>) -> Result<i32, Fatal> {
    // What we received must be read before we change anything.
    let inherited = Inherited::capture()?;
    // Errors in the arguments themselves follow the log format the environment asks for.
    log::configure(log::Level::Info, std::env::var("HARDINIT_LOG_FORMAT").is_ok_and(|f| f == "json"));

    // Parse.
    let mut options = match cli::parse(cli::multi_call(args))? {
        Invocation::Run(options) => options,
        Invocation::Done(status) => return Ok(status),
        Invocation::Check { options, json, offline } => return run_check(&options, json, &offline),
    };
    log::configure(options.log_level, options.log_json);
    take_over_signals(&inherited)?;
    let is_namespace_init = sys::process::getpid() == 1;
    if !is_namespace_init {
        // Without this, orphans of the server would escape to the real init (shareProcessNamespace,
        // `docker run --init`).
        sys::process::become_child_subreaper().map_err(|e| Fatal::system("becoming a child subreaper", e))?;
    }

    // Prepare: the official entrypoint's contract, when asked for.
    let (exports, plan) = match options.entrypoint {
        Some(choice) => apply_entrypoint(&mut options, choice)?,
        None => (Vec::new(), harden::permissions::Plan::default()),
    };
    let server_path = spawn::resolve(&options.command[0], std::env::var_os("PATH").as_deref())?;

    let signals = check::signals_finding(&options.rewrites);
    if options.hardening.refuses(&signals) {
        return Err(signals.refusal());
    }

    // Decide, then change: a start the checklist refuses leaves the volumes as they were. The
    // decision judges the files as the planned change will leave them.
    let context = harden::Context { plan, script_began };
    let args = &options.command[1..];
    if !context.plan.0.is_empty() {
        let stop = || stop_requested().ok().flatten().is_some();
        let mut preflight = harden::run(&options.hardening, &server_path, args, harden::Mode::Preflight, &context)?;
        let mut remaining = context.plan.clone();
        // The configuration is read as the server's user. Where that user may not read it yet
        // (a root-only file in a volume), the configuration's own change comes first, since it
        // only takes write access away and lets the server's group read; then it is judged.
        if harden::unreadable_by_server(preflight.configuration.as_ref()) {
            let (configuration, rest) = remaining.split_read_only();
            if !configuration.0.is_empty() {
                info!("the server's user cannot read its configuration as it is: its directory is made readable first");
                entrypoint::give_volumes(&configuration, &stop);
                remaining = rest;
                preflight = harden::run(&options.hardening, &server_path, args, harden::Mode::Preflight, &context)?;
            }
        }
        // Decided as the start itself will decide: --strict, --allow and the memory guard included.
        let refused: Vec<&harden::Finding> =
            preflight.findings.iter().filter(|f| options.hardening.refuses(f)).collect();
        if !refused.is_empty() {
            return Err(harden::refusal_of(&refused));
        }
        entrypoint::give_volumes(&remaining, &stop);
    }

    // Harden: everything is dropped and verified before the server exists.
    let hardened = harden::run(&options.hardening, &server_path, args, harden::Mode::Apply, &context)?;
    let mut findings = hardened.findings;
    findings.push(signals);
    check::log_startup(&findings, &hardened.unreported, &options.hardening.allow);
    let mut environment = exports;
    environment.extend(hardened.environment);
    let configuration = hardened.configuration;

    // A `docker stop` during the preparation (a long chown, which it cuts short) means: do not
    // start the server.
    if let Some(signal) = stop_requested()? {
        error!("{} arrived before the server started: not starting it", signals::name(signal));
        return Ok(128 + signal);
    }

    // Live operations: what to watch, read before the server starts.
    let reloader = watch_for_reload(&options, configuration.as_ref())?;
    if !options.term_delay.is_zero() {
        info!("a SIGTERM reaches the server {:?} after it arrives (--term-delay)", options.term_delay);
    }

    // Spawn, supervise, exit with the server's status.
    let session = Session::detect();
    let server = spawn_server(&options, server_path, &environment, &inherited, session)?;
    debug!("started {:?} as pid {server} ({session:?})", options.command);
    let supervisor = supervise::Supervisor {
        server,
        forward_to: options.forward_to,
        rewrites: &options.rewrites,
        grace: options.grace,
        session,
        is_namespace_init,
        own_pid: sys::process::getpid(),
        term_delay: options.term_delay,
        sender: sys::signal::Sender::current(),
    };
    Ok(match supervisor.run(reloader)? {
        Ended::Exited(code) => code,
        Ended::Killed(signal) => 128 + signal,
    })
}

/// `--reload-on-change`: the files named, `auto` standing for the listeners' TLS files in the
/// configuration the hardening read (as the server's user).
fn watch_for_reload(
    options: &Options,
    configuration: Option<&Result<Vec<harden::server_config::ConfigFile>, harden::server_config::ConfigError>>,
) -> Result<Option<reload::Reloader>, Fatal> {
    if options.reload_on_change.is_empty() {
        return Ok(None);
    }
    let mut paths = Vec::new();
    for spec in &options.reload_on_change {
        if spec == "auto" {
            let found = reload::tls_files_of(configuration)?;
            if found.is_empty() {
                warn!("--reload-on-change auto: the server's listeners name no TLS file; nothing to watch for them");
            }
            paths.extend(found);
        } else {
            paths.push(std::path::PathBuf::from(spec));
        }
    }
    paths.dedup();
    if paths.is_empty() {
        return Ok(None);
    }
    let reloader = reload::Reloader::new(paths, options.reload_debounce)?;
    let shown: Vec<String> = reloader.paths().map(|p| p.display().to_string()).collect();
    info!("watching {}: SIGHUP to the server {:?} after a change settles", shown.join(", "), options.reload_debounce);
    Ok(Some(reloader))
}

/// A terminating signal already waiting (they are blocked since `take_over_signals`).
fn stop_requested() -> Result<Option<i32>, Fatal> {
    let pending = sys::signal::pending().map_err(|e| Fatal::system("reading pending signals", e))?;
    Ok([libc::SIGTERM, libc::SIGINT, libc::SIGQUIT].into_iter().find(|s| pending.contains(*s)))
}

/// `hardinit check`: the same checklist, nothing changed, nothing started; with `--config`, the
/// configuration alone, offline.
fn run_check(options: &Options, json: bool, offline: &[std::path::PathBuf]) -> Result<i32, Fatal> {
    log::configure(options.log_level, options.log_json);
    // As the image's entrypoint (`docker run IMAGE check`): the command the container would run,
    // rewritten as the entrypoint rewrites it; the image's `server` when none is given and the
    // image's server is there.
    let mut command = options.command.clone();
    if let Some(choice) = options.entrypoint {
        let flavour = match choice {
            cli::Entrypoint::Vault => entrypoint::Flavour::Vault,
            cli::Entrypoint::OpenBao => entrypoint::Flavour::OpenBao,
            cli::Entrypoint::Auto => entrypoint::Flavour::detect(|p| std::path::Path::new(p).exists()),
        };
        // Where the image's server is not there (hardinit alone on a host), nothing to judge.
        let path = std::env::var_os("PATH");
        if command.is_empty() && spawn::resolve(std::ffi::OsStr::new(flavour.binary()), path.as_deref()).is_ok() {
            command.push("server".into());
        }
        if !command.is_empty() {
            command = entrypoint::rewrite(flavour, &command, &entrypoint::process_env).0;
        }
    }
    let mut findings = if offline.is_empty() {
        let server = match command.first() {
            Some(program) => spawn::resolve(program, std::env::var_os("PATH").as_deref())?,
            None => std::path::PathBuf::new(),
        };
        let args = command.get(1..).unwrap_or_default();
        harden::run(&options.hardening, &server, args, harden::Mode::Check, &harden::Context::default())?.findings
    } else {
        harden::offline(&options.hardening, offline)
    };
    findings.push(check::signals_finding(&options.rewrites));
    let refused = findings.iter().any(|f| options.hardening.refuses(f));
    Ok(check::print_report(&findings, json, refused))
}

/// Blocks every signal we forward (plus SIGCHLD) before the fork, so that nothing arrives before
/// we wait for it: a child that exits at once still leaves its SIGCHLD pending (dumb-init #104),
/// and signals sent to a namespace's PID 1 are queued instead of dropped (the kernel drops
/// signals with the default disposition sent to a namespace init, but never blocked ones).
fn take_over_signals(inherited: &Inherited) -> Result<(), Fatal> {
    sys::signal::set_mask(&signals::waited_set()).map_err(|e| Fatal::system("blocking signals", e))?;
    // An ignored SIGCHLD makes the kernel reap children itself and lose the server's status.
    if inherited.ignored.contains(libc::SIGCHLD) {
        sys::signal::set_disposition(libc::SIGCHLD, false).map_err(|e| Fatal::system("resetting SIGCHLD", e))?;
    }
    Ok(())
}

/// The official entrypoint's contract: rewrites the command, writes local.json; returns the
/// variables it exports to the server, and what to give the server's directories once the start
/// is decided.
fn apply_entrypoint(
    options: &mut Options,
    choice: cli::Entrypoint,
) -> Result<(entrypoint::Exports, harden::permissions::Plan), Fatal> {
    let flavour = match choice {
        cli::Entrypoint::Vault => entrypoint::Flavour::Vault,
        cli::Entrypoint::OpenBao => entrypoint::Flavour::OpenBao,
        cli::Entrypoint::Auto => entrypoint::Flavour::detect(|p| std::path::Path::new(p).exists()),
    };
    let root = sys::privilege::effective_uid() == 0;
    // OpenBao's BAO_SKIP_DROP_ROOT keeps the server root: that is --allow-root with the root user.
    if entrypoint::process_env("BAO_SKIP_DROP_ROOT").is_some_and(|v| !v.is_empty()) {
        options.hardening.allow_root = true;
        options.hardening.user.get_or_insert_with(|| "0:0".into());
    }
    if root {
        options.hardening.user.get_or_insert_with(|| flavour.user().into());
    }
    let owner = if root { Some(harden::target_identity(&options.hardening)?) } else { None };
    let prepared = entrypoint::prepare(flavour, &options.command, owner.as_ref())?;
    debug!("entrypoint ({flavour:?}): {:?}", prepared.command);
    options.command = prepared.command;
    Ok((prepared.exports, prepared.plan))
}

fn spawn_server(
    options: &Options,
    path: std::path::PathBuf,
    overrides: &[(String, String)],
    inherited: &Inherited,
    session: Session,
) -> Result<i32, Fatal> {
    let argv =
        options.command.iter().map(|a| spawn::to_cstring(a.clone(), "an argument")).collect::<Result<Vec<_>, _>>()?;
    let envp = std::env::vars_os()
        .filter(|(k, _)| !overrides.iter().any(|(name, _)| k.as_os_str() == name.as_str()))
        .chain(overrides.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))))
        .map(|(k, v)| {
            let mut pair = k;
            pair.push("=");
            pair.push(v);
            spawn::to_cstring(pair, "the environment")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut image =
        sys::process::ExecImage::new(spawn::to_cstring(path.into_os_string(), "the server path")?, argv, envp);
    // After a drop from root, PID 1's real and saved uid are its own and its effective uid the
    // server's: the server takes that one as all three, and so shares no uid with PID 1.
    let (real, effective, saved) = sys::privilege::uids().map_err(|e| Fatal::system("getresuid", e))?;
    if (real, saved) != (effective, effective) {
        image = image.as_uid(effective);
    }
    spawn::start(&Spawn { image, inherited, session, keep_fds: options.keep_fds, umask: Some(options.hardening.umask) })
}
