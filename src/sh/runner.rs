//! Runs the parsed script: `-e` as POSIX defines it, pipelines, redirections, built-ins in
//! process, the server and the entrypoint as programs. The script's last command, when it is the
//! server or the entrypoint, is not run under the shell: as PID 1 hardinit continues as the
//! entrypoint and supervisor itself; otherwise it execs the program in place, as `sh -c` does.

use super::builtins::{self, Io};
use super::expand::{self, Scope};
use super::parser::{AndOr, Command, List, Pipeline, Program, Redirect, Simple};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The most a pipeline stage may hand to the next one, or a built-in write to `> FILE`.
const MAX_CAPTURE: usize = 64 << 20;

/// The longest argument the kernel passes to a program, its NUL included (MAX_ARG_STRLEN).
const MAX_ARGUMENT: usize = 128 << 10;

/// How a command ended, and what comes next.
#[derive(Debug, PartialEq)]
pub enum Flow {
    Normal(i32),
    Break,
    Exit(i32),
    /// Continue as hardinit itself with these arguments (argv[0] first).
    Become(Vec<OsString>),
}

struct Var {
    /// Bytes, as the environment gives them: a value need not be UTF-8.
    value: Vec<u8>,
    exported: bool,
}

pub struct Shell {
    vars: BTreeMap<String, Var>,
    /// `$0`, `$1`...
    positional: Vec<Vec<u8>>,
    last_status: i32,
    errexit: bool,
    pid1: bool,
    /// Names `export`ed before they were set.
    exported_unset: std::collections::BTreeSet<String>,
    /// The status of the last `$(pidof ...)` expanded: an assignment's status, as in sh.
    substitution_status: Cell<Option<i32>>,
}

/// Why a simple command did not run.
enum Stop {
    /// An expansion failed: sh exits with 2, or in a pipeline only that stage fails (each stage
    /// is a subshell in sh).
    Expansion(String),
    /// The script ends here with this flow (a refusal).
    End(Flow),
}

/// Where a command is: under a condition (`-e` does not apply), and whether it is the last
/// command the script runs.
#[derive(Clone, Copy)]
struct Context {
    condition: bool,
    tail: bool,
}

/// Where a stage's standard output or error goes.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Dest {
    Stdout,
    Stderr,
    /// Into the buffer handed to the next stage or written to `> FILE`.
    Capture,
    /// `2>/dev/null`: nowhere.
    Null,
}

/// A built-in's output stream.
struct Sink<'a> {
    dest: Dest,
    capture: &'a RefCell<Vec<u8>>,
}

impl Write for Sink<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        match self.dest {
            Dest::Stdout => crate::sys::process::write_all(1, bytes)?,
            Dest::Stderr => crate::sys::process::write_all(2, bytes)?,
            Dest::Null => {}
            Dest::Capture => {
                let mut capture = self.capture.borrow_mut();
                if capture.len() + bytes.len() > MAX_CAPTURE {
                    return Err(std::io::Error::other(format!("output larger than {} MiB", MAX_CAPTURE >> 20)));
                }
                capture.extend_from_slice(bytes);
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a stage reads.
enum Input {
    Inherited,
    Bytes(Vec<u8>),
    Pipe(std::process::ChildStdout),
}

/// What a stage left for the next one.
enum Produced {
    Nothing,
    Bytes(Vec<u8>),
    Child(std::process::Child),
}

/// The variables dash sets itself at its start, as it sets them: PWD (exported) the real
/// directory, unless the inherited one names it; IFS always the default (an inherited one only
/// keeps it exported); PPID; OPTIND 1; PS1, PS2, PS4 and PATH their defaults when not inherited
/// (not exported then).
fn set_own_variables(vars: &mut BTreeMap<String, Var>) {
    let here = std::fs::metadata(".")
        .ok()
        .map(|m| (std::os::unix::fs::MetadataExt::dev(&m), std::os::unix::fs::MetadataExt::ino(&m)));
    let names_here = |value: &[u8]| {
        value.first() == Some(&b'/')
            && std::fs::metadata(OsStr::from_bytes(value))
                .ok()
                .map(|m| (std::os::unix::fs::MetadataExt::dev(&m), std::os::unix::fs::MetadataExt::ino(&m)))
                == here
    };
    if !vars.get("PWD").is_some_and(|v| names_here(&v.value)) {
        if let Ok(cwd) = std::env::current_dir() {
            vars.insert("PWD".into(), Var { value: cwd.into_os_string().into_vec(), exported: true });
        }
    }
    let exported = vars.get("IFS").is_some_and(|v| v.exported);
    vars.insert("IFS".into(), Var { value: b" \t\n".to_vec(), exported });
    vars.insert(
        "PPID".into(),
        Var { value: std::os::unix::process::parent_id().to_string().into_bytes(), exported: false },
    );
    vars.insert("OPTIND".into(), Var { value: b"1".to_vec(), exported: false });
    let prompt = if crate::sys::privilege::effective_uid() == 0 { "# " } else { "$ " };
    for (name, value) in [("PS1", prompt), ("PS2", "> "), ("PS4", "+ "), ("PATH", super::DEFAULT_PATH)] {
        vars.entry(name.into()).or_insert(Var { value: value.as_bytes().to_vec(), exported: false });
    }
}

impl Scope for Shell {
    fn lookup(&self, name: &str) -> Option<Vec<u8>> {
        match name {
            "?" => Some(self.last_status.to_string().into_bytes()),
            "#" => Some(self.positional.len().saturating_sub(1).to_string().into_bytes()),
            "$" => Some(crate::sys::process::getpid().to_string().into_bytes()),
            _ if name.bytes().all(|b| b.is_ascii_digit()) => {
                name.parse::<usize>().ok().and_then(|i| self.positional.get(i).cloned())
            }
            _ => self.vars.get(name).map(|v| v.value.clone()),
        }
    }

    fn pidof(&self, names: &[String]) -> Vec<u8> {
        let pids = builtins::pidof(names);
        // pidof's own status: 1 when it found none.
        self.substitution_status.set(Some(i32::from(pids.is_empty())));
        pids.iter().map(i32::to_string).collect::<Vec<_>>().join(" ").into_bytes()
    }
}

fn status_of(status: std::process::ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}

use super::say as complain;

impl Shell {
    pub fn new(positional: Vec<OsString>, errexit: bool) -> Shell {
        // A variable whose name is not UTF-8 cannot be named by a script; its value may be anything.
        let mut vars: BTreeMap<String, Var> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, Var { value: v.into_vec(), exported: true })))
            .collect();
        set_own_variables(&mut vars);
        Shell {
            vars,
            positional: positional.into_iter().map(OsString::into_vec).collect(),
            last_status: 0,
            errexit,
            pid1: crate::sys::process::getpid() == 1,
            substitution_status: Cell::new(None),
            exported_unset: std::collections::BTreeSet::new(),
        }
    }

    pub fn run(&mut self, script: &List) -> Flow {
        match self.list(script, Context { condition: false, tail: true }) {
            Flow::Normal(status) => Flow::Exit(status),
            Flow::Break => Flow::Exit(self.last_status),
            other => other,
        }
    }

    fn list(&mut self, list: &List, context: Context) -> Flow {
        let mut status = 0;
        for (index, item) in list.iter().enumerate() {
            let last = index + 1 == list.len();
            match self.and_or(item, Context { tail: context.tail && last, ..context }) {
                Flow::Normal(s) => status = s,
                other => return other,
            }
        }
        Flow::Normal(status)
    }

    fn and_or(&mut self, and_or: &AndOr, context: Context) -> Flow {
        let alone = and_or.rest.is_empty();
        let mut flow = self
            .pipeline(&and_or.first, Context { condition: context.condition || !alone, tail: context.tail && alone });
        for (index, (and, pipeline)) in and_or.rest.iter().enumerate() {
            let Flow::Normal(status) = flow else { return flow };
            if (status == 0) != *and {
                continue;
            }
            let last = index + 1 == and_or.rest.len();
            flow =
                self.pipeline(pipeline, Context { condition: context.condition || !last, tail: context.tail && last });
        }
        flow
    }

    fn pipeline(&mut self, pipeline: &Pipeline, context: Context) -> Flow {
        let inner = if pipeline.negated { Context { condition: true, tail: false } } else { context };
        let flow = if pipeline.commands.len() == 1 {
            self.command(&pipeline.commands[0], inner)
        } else {
            self.stages(&pipeline.commands)
        };
        let flow = match flow {
            Flow::Normal(status) if pipeline.negated => Flow::Normal(i32::from(status == 0)),
            other => other,
        };
        if let Flow::Normal(status) = flow {
            self.last_status = status;
            // -e: a failing simple command or pipeline ends the script; a compound command's
            // status never does (its own commands were checked where they ran).
            let simple = matches!(pipeline.commands.last(), Some(Command::Simple(_) | Command::Assign(_)));
            if status != 0 && self.errexit && !context.condition && !pipeline.negated && simple {
                return Flow::Exit(status);
            }
        }
        flow
    }

    fn command(&mut self, command: &Command, context: Context) -> Flow {
        match command {
            Command::Simple(simple) => match self.simple(simple, Input::Inherited, false, context.tail) {
                Ok((flow, _)) => flow,
                Err(Stop::Expansion(message)) => self.shell_error(message),
                Err(Stop::End(flow)) => flow,
            },
            Command::Assign(assignments) => {
                // The status of an assignment is that of its last command substitution, else 0.
                self.substitution_status.set(None);
                for (name, word) in assignments {
                    match expand::single(word, self) {
                        Ok(value) => self.assign(name, value),
                        Err(e) => return self.shell_error(e),
                    }
                }
                Flow::Normal(self.substitution_status.get().unwrap_or(0))
            }
            Command::If { branches, otherwise } => {
                for (condition, body) in branches {
                    match self.list(condition, Context { condition: true, tail: false }) {
                        Flow::Normal(0) => return self.list(body, context),
                        Flow::Normal(_) => {}
                        other => return other,
                    }
                }
                match otherwise {
                    Some(body) => self.list(body, context),
                    None => Flow::Normal(0),
                }
            }
            Command::Loop { until, condition, body } => {
                let mut status = 0;
                loop {
                    match self.list(condition, Context { condition: true, tail: false }) {
                        Flow::Normal(s) if (s == 0) == *until => return Flow::Normal(status),
                        Flow::Normal(_) => {}
                        Flow::Break => return Flow::Normal(0),
                        other => return other,
                    }
                    match self.list(body, Context { condition: context.condition, tail: false }) {
                        Flow::Normal(s) => status = s,
                        Flow::Break => return Flow::Normal(0),
                        other => return other,
                    }
                }
            }
            Command::Break => Flow::Break,
        }
    }

    fn assign(&mut self, name: &str, value: Vec<u8>) {
        let exported = self.vars.get(name).is_some_and(|v| v.exported) || self.exported_unset.remove(name);
        self.vars.insert(name.to_string(), Var { value, exported });
    }

    /// An expansion error: sh prints it and a non-interactive shell exits with 2.
    fn shell_error(&mut self, message: String) -> Flow {
        complain(message);
        Flow::Exit(2)
    }

    /// A pipeline of several commands: the first may be the server (its output read through a
    /// pipe), the others are built-ins reading what the previous one left.
    fn stages(&mut self, commands: &[Command]) -> Flow {
        let mut input = Input::Inherited;
        let mut children = Vec::new();
        let mut status = 0;
        for (index, command) in commands.iter().enumerate() {
            let Command::Simple(simple) = command else { unreachable!("the parser allows simple commands only") };
            let last = index + 1 == commands.len();
            let (flow, produced) = match self.simple(simple, input, !last, false) {
                Ok(done) => done,
                // Only this stage fails, as a subshell of sh would; the next one reads nothing.
                Err(Stop::Expansion(message)) => {
                    complain(message);
                    (Flow::Normal(2), Produced::Nothing)
                }
                Err(Stop::End(flow)) => return flow,
            };
            match flow {
                Flow::Normal(s) => status = s,
                other => return other,
            }
            input = match produced {
                Produced::Nothing => Input::Bytes(Vec::new()),
                Produced::Bytes(bytes) => Input::Bytes(bytes),
                Produced::Child(mut child) => {
                    let out = child.stdout.take();
                    children.push(child);
                    out.map_or(Input::Bytes(Vec::new()), Input::Pipe)
                }
            };
        }
        drop(input);
        for mut child in children {
            let _ = child.wait();
        }
        Flow::Normal(status)
    }

    /// The fields of a command's arguments. A field that sh would replace by the names of the
    /// files it matches as a pattern ends the script here: hardinit never globs, and never passes
    /// on a pattern where sh would pass file names.
    fn arguments(&self, simple: &Simple) -> Result<Vec<OsString>, Stop> {
        let fields = expand::fields(&simple.args, self).map_err(Stop::Expansion)?;
        for field in &fields {
            if let Some(file) = field.matching_file() {
                complain(format!(
                    "line {}: refused: {} would match {} as a pattern (pathname expansion: hardinit's sh never globs; quote the word)",
                    simple.pos.line,
                    String::from_utf8_lossy(&field.bytes),
                    file.display()
                ));
                return Err(Stop::End(Flow::Exit(super::REFUSED)));
            }
        }
        Ok(fields.into_iter().map(expand::Field::into_os_string).collect())
    }

    /// One simple command. `piped`: its standard output feeds the next stage.
    fn simple(&mut self, simple: &Simple, input: Input, piped: bool, tail: bool) -> Result<(Flow, Produced), Stop> {
        let args = self.arguments(simple)?;
        // The arguments an expansion gave are judged as the parser judged the literal ones: what
        // hardinit refuses ends the script here, before the command or its redirections touch
        // anything.
        if let Program::Builtin(name) = simple.program {
            if let Some(why) = builtins::refusal(name, &args) {
                complain(format!("line {}: refused: {why}", simple.pos.line));
                return Err(Stop::End(Flow::Exit(super::REFUSED)));
            }
        }
        let (mut out, mut err) = (if piped { Dest::Capture } else { Dest::Stdout }, Dest::Stderr);
        // Each target, and whether it is appended to (`>>`).
        let mut targets: Vec<(PathBuf, bool)> = Vec::new();
        // Which of `targets` the standard output goes to (the last `> FILE`, unless a later
        // redirection moved it).
        let mut output_file: Option<usize> = None;
        for redirect in &simple.redirects {
            match redirect {
                Redirect::Duplicate { from: 1, to: 2 } => out = err,
                Redirect::Duplicate { from: 2, to: 1 } => err = out,
                Redirect::Duplicate { .. } => {}
                Redirect::ErrorToNull => err = Dest::Null,
                Redirect::ToFile(word) | Redirect::AppendToFile(word) => {
                    let append = matches!(redirect, Redirect::AppendToFile(_));
                    let target =
                        PathBuf::from(OsString::from_vec(expand::single(word, self).map_err(Stop::Expansion)?));
                    // The streams by their names: what the standard output or error is now.
                    match target.as_os_str().as_bytes() {
                        b"/dev/stdout" | b"/proc/self/fd/1" | b"/dev/fd/1" => {}
                        b"/dev/stderr" | b"/proc/self/fd/2" | b"/dev/fd/2" => out = err,
                        _ => {
                            targets.push((target, append));
                            output_file = Some(targets.len() - 1);
                            out = Dest::Capture;
                        }
                    }
                }
            }
        }
        let special = matches!(simple.program, Program::Exit | Program::Builtin(":"));
        // sh opens (creating or emptying) every `> FILE` in order before the command runs; the
        // output goes to the last one, through the file opened here.
        let mut opened = None;
        for (index, (path, append)) in targets.iter().enumerate() {
            match builtins::open_redirect(path, *append) {
                Ok(file) => {
                    if output_file == Some(index) {
                        opened = Some(file);
                    }
                }
                Err((status, e)) => {
                    complain(e);
                    if status == super::REFUSED {
                        return Err(Stop::End(Flow::Exit(super::REFUSED)));
                    }
                    // A redirection that fails ends the script for a special built-in, as in sh.
                    return Ok((if special { Flow::Exit(2) } else { Flow::Normal(2) }, Produced::Nothing));
                }
            }
        }
        // In sh these are programs, started with execve(2): an argument longer than the kernel
        // takes for one (MAX_ARG_STRLEN, 128 KiB with its NUL) fails there with E2BIG, status
        // 126, before anything runs; so here.
        if let Program::Builtin(name) = simple.program {
            if !matches!(name, "echo" | "true" | "false" | ":" | "[" | "test" | "break")
                && args.iter().any(|a| a.len() >= MAX_ARGUMENT)
            {
                complain(format!("{name}: Argument list too long"));
                return Ok((Flow::Normal(126), Produced::Nothing));
            }
        }
        if out != Dest::Capture || piped && output_file.is_none() {
            opened = None;
        }
        match &simple.program {
            Program::Exit => Ok((self.exit(&args), Produced::Nothing)),
            Program::Builtin("export") => {
                for arg in &args {
                    let arg = arg.as_bytes();
                    match arg.iter().position(|b| *b == b'=') {
                        Some(at) => {
                            let name = String::from_utf8_lossy(&arg[..at]).into_owned();
                            self.vars.insert(name, Var { value: arg[at + 1..].to_vec(), exported: true });
                        }
                        None => {
                            let name = String::from_utf8_lossy(arg).into_owned();
                            match self.vars.get_mut(&name) {
                                Some(var) => var.exported = true,
                                // Unset: exported once it is assigned, as in sh.
                                None => {
                                    self.exported_unset.insert(name);
                                }
                            }
                        }
                    }
                }
                Ok((Flow::Normal(0), Produced::Nothing))
            }
            Program::Builtin(name) => Ok(self.builtin(name, &args, input, (out, err), opened)),
            Program::External { path, name, entrypoint } => {
                let found = match path {
                    Some(path) => Some(path.clone()),
                    None => super::in_path_of(name, self.vars.get("PATH").map(|v| OsStr::from_bytes(&v.value))),
                };
                let Some(path) = found else {
                    complain(format!("{name}: not found"));
                    return Ok((Flow::Normal(127), Produced::Nothing));
                };
                let mut extra = Vec::new();
                for (variable, word) in &simple.assignments {
                    extra.push((
                        variable.clone(),
                        OsString::from_vec(expand::single(word, self).map_err(Stop::Expansion)?),
                    ));
                }
                if simple.exec || tail && simple.redirects.is_empty() && matches!(input, Input::Inherited) {
                    return Ok((self.replace_shell(&path, &args, *entrypoint, &extra), Produced::Nothing));
                }
                Ok(self.spawn(&path, name, &args, (out, err), &extra))
            }
        }
    }

    /// `exit [N]`: N as dash reads it (C spaces around, a sign, decimal, 0 to 2^31-1: `-0` is 0,
    /// `3\r` is 3), taken modulo 256; arguments after the first are ignored, as dash ignores them.
    fn exit(&mut self, args: &[OsString]) -> Flow {
        let Some(n) = args.first() else { return Flow::Exit(self.last_status) };
        match builtins::dash_integer(n.as_bytes()) {
            Ok(n) if (0..=i64::from(i32::MAX)).contains(&n) => Flow::Exit((n & 0xff) as i32),
            _ => {
                complain(format!("exit: Illegal number: {}", String::from_utf8_lossy(n.as_bytes())));
                Flow::Exit(2)
            }
        }
    }

    fn builtin(
        &mut self,
        name: &str,
        args: &[OsString],
        input: Input,
        (out, err): (Dest, Dest),
        to_file: Option<std::fs::File>,
    ) -> (Flow, Produced) {
        let capture = RefCell::new(Vec::new());
        let mut stdout_sink = Sink { dest: out, capture: &capture };
        let mut stderr_sink = Sink { dest: err, capture: &capture };
        let mut inherited;
        let mut bytes;
        let mut pipe;
        let stdin: &mut dyn Read = match input {
            Input::Inherited => {
                inherited = std::io::stdin();
                &mut inherited
            }
            Input::Bytes(b) => {
                bytes = std::io::Cursor::new(b);
                &mut bytes
            }
            Input::Pipe(p) => {
                pipe = p;
                &mut pipe
            }
        };
        let status = builtins::run(name, args, &mut Io { stdin, out: &mut stdout_sink, err: &mut stderr_sink });
        let to_file_given = to_file.is_some();
        let captured = capture.into_inner();
        // A built-in whose status 2 is never busybox's (theirs fail with 1) refused at run time
        // what it found only then (a symlink or a FIFO to write): the script ends here.
        let refused = status == super::REFUSED && matches!(name, "cp" | "touch" | "sed" | "base64");
        if let Some(mut file) = to_file {
            // What the built-in wrote, even when it failed: sh's file holds that too.
            if let Err(e) = file.write_all(&captured) {
                complain(format!("write error: {e}"));
                return (Flow::Normal(2), Produced::Nothing);
            }
        }
        if refused {
            return (Flow::Exit(super::REFUSED), Produced::Nothing);
        }
        if to_file_given {
            return (Flow::Normal(status), Produced::Nothing);
        }
        (Flow::Normal(status), Produced::Bytes(captured))
    }

    /// The program's environment: the exported variables, then `extra` (`NAME=value PROGRAM`)
    /// over them.
    fn environment<'a>(&'a self, extra: &'a [(String, OsString)]) -> Vec<(&'a String, &'a OsStr)> {
        let mut environment: BTreeMap<&String, &OsStr> =
            self.vars.iter().filter(|(_, v)| v.exported).map(|(k, v)| (k, OsStr::from_bytes(&v.value))).collect();
        environment.extend(extra.iter().map(|(k, v)| (k, v.as_os_str())));
        environment.into_iter().collect()
    }

    /// The server or the entrypoint as a child: the shell waits for it (or, in a pipeline, the
    /// next stage reads its output).
    fn spawn(
        &mut self,
        path: &Path,
        name: &str,
        args: &[OsString],
        (out, err): (Dest, Dest),
        extra: &[(String, OsString)],
    ) -> (Flow, Produced) {
        let stdio = |dest: Dest| -> std::io::Result<Stdio> {
            Ok(match dest {
                Dest::Stdout => Stdio::from(std::io::stdout().as_fd().try_clone_to_owned()?),
                Dest::Stderr => Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?),
                Dest::Capture => Stdio::piped(),
                Dest::Null => Stdio::null(),
            })
        };
        let mut command = std::process::Command::new(path);
        command.arg0(name).args(args).env_clear().envs(self.environment(extra));
        let spawned = (|| {
            // Both streams into the same pipe (`2>&1` in a pipeline): one pipe, two ends.
            if out == Dest::Capture && err == Dest::Capture {
                let (reader, writer) = std::io::pipe()?;
                command.stdout(writer.try_clone()?).stderr(writer);
                let child = command.spawn()?;
                // The Command holds our copies of the pipe's write end: without dropping it, the
                // reader would never see the end of the output.
                drop(command);
                return Ok((child, Some(reader)));
            }
            command.stdout(stdio(out)?).stderr(stdio(err)?);
            Ok::<_, std::io::Error>((command.spawn()?, None))
        })();
        match spawned {
            Ok((mut child, Some(reader))) => {
                // The next stage reads the shared pipe as it reads a child's stdout: streamed,
                // never cut at a size.
                child.stdout = Some(std::process::ChildStdout::from(std::os::fd::OwnedFd::from(reader)));
                (Flow::Normal(0), Produced::Child(child))
            }
            Ok((child, None)) if out == Dest::Capture => (Flow::Normal(0), Produced::Child(child)),
            Ok((mut child, None)) => match child.wait() {
                Ok(status) => (Flow::Normal(status_of(status)), Produced::Nothing),
                Err(e) => {
                    complain(format!("{name}: {e}"));
                    (Flow::Normal(1), Produced::Nothing)
                }
            },
            Err(e) => {
                complain(format!("{name}: {e}"));
                let status = if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
                (Flow::Normal(status), Produced::Nothing)
            }
        }
    }

    /// The script's last command is the server or the entrypoint: as PID 1, continue as hardinit
    /// (entrypoint, hardening, supervision); otherwise exec it in place of the shell.
    fn replace_shell(
        &mut self,
        path: &Path,
        args: &[OsString],
        entrypoint: bool,
        extra: &[(String, OsString)],
    ) -> Flow {
        if self.pid1 {
            let environment = self.environment(extra);
            for (name, value) in environment.into_iter().filter(|(k, v)| std::env::var_os(k).as_deref() != Some(*v)) {
                crate::sys::env::set(name, value);
            }
            let mut argv: Vec<OsString> = if entrypoint {
                vec!["docker-entrypoint.sh".into()]
            } else {
                vec!["hardinit".into(), "--".into(), path.as_os_str().to_owned()]
            };
            argv.extend(args.iter().cloned());
            return Flow::Become(argv);
        }
        let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let error =
            std::process::Command::new(path).arg0(name).args(args).env_clear().envs(self.environment(extra)).exec();
        complain(format!("{}: {error}", path.display()));
        Flow::Exit(if error.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 })
    }
}
