//! Runs the parsed script: `-e` as POSIX defines it, pipelines, redirections, built-ins in
//! process, the server and the entrypoint as programs. The script's last command, when it is the
//! server or the entrypoint, is not run under the shell: as PID 1 hardinit continues as the
//! entrypoint and supervisor itself; otherwise it execs the program in place, as `sh -c` does.

use super::builtins::{self, Io};
use super::expand::{self, Scope};
use super::parser::{AndOr, Command, List, Pipeline, Program, Redirect, Simple};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;

/// The most a pipeline stage may hand to the next one, or a built-in write to `> FILE`.
const MAX_CAPTURE: usize = 64 << 20;

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
    value: String,
    exported: bool,
}

pub struct Shell {
    vars: BTreeMap<String, Var>,
    /// `$0`, `$1`...
    positional: Vec<String>,
    last_status: i32,
    errexit: bool,
    pid1: bool,
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

impl Scope for Shell {
    fn lookup(&self, name: &str) -> Option<String> {
        match name {
            "?" => Some(self.last_status.to_string()),
            "#" => Some(self.positional.len().saturating_sub(1).to_string()),
            "$" => Some(crate::sys::process::getpid().to_string()),
            _ if name.bytes().all(|b| b.is_ascii_digit()) => {
                name.parse::<usize>().ok().and_then(|i| self.positional.get(i).cloned())
            }
            _ => self.vars.get(name).map(|v| v.value.clone()),
        }
    }

    fn pidof(&self, names: &[String]) -> String {
        builtins::pidof(names).iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
    }
}

fn status_of(status: std::process::ExitStatus) -> i32 {
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}

use super::say as complain;

impl Shell {
    pub fn new(positional: Vec<String>, errexit: bool) -> Shell {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, Var { value: v.into_string().ok()?, exported: true })))
            .collect();
        Shell { vars, positional, last_status: 0, errexit, pid1: crate::sys::process::getpid() == 1 }
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
                Err(flow) => flow,
            },
            Command::Assign(assignments) => {
                for (name, word) in assignments {
                    match expand::single(word, self) {
                        Ok(value) => self.assign(name, value),
                        Err(e) => return self.shell_error(e),
                    }
                }
                Flow::Normal(0)
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

    fn assign(&mut self, name: &str, value: String) {
        let exported = self.vars.get(name).is_some_and(|v| v.exported);
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
                Err(flow) => return flow,
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

    /// One simple command. `piped`: its standard output feeds the next stage. Err carries a flow
    /// that ends the script (an expansion error).
    fn simple(&mut self, simple: &Simple, input: Input, piped: bool, tail: bool) -> Result<(Flow, Produced), Flow> {
        let args = expand::fields(&simple.args, self).map_err(|e| self.shell_error(e))?;
        let (mut out, mut err) = (if piped { Dest::Capture } else { Dest::Stdout }, Dest::Stderr);
        let mut to_file: Option<String> = None;
        for redirect in &simple.redirects {
            match redirect {
                Redirect::Duplicate { from: 1, to: 2 } => out = err,
                Redirect::Duplicate { from: 2, to: 1 } => err = out,
                Redirect::Duplicate { .. } => {}
                Redirect::ToFile(word) => {
                    to_file = Some(expand::single(word, self).map_err(|e| self.shell_error(e))?);
                    out = Dest::Capture;
                }
            }
        }
        match &simple.program {
            Program::Exit => Ok((self.exit(&args), Produced::Nothing)),
            Program::Builtin(name) => Ok(self.builtin(name, &args, input, (out, err), to_file.as_deref())),
            Program::External { path, name, entrypoint } => {
                let Some(path) = path else {
                    complain(format!("{name}: not found"));
                    return Ok((Flow::Normal(127), Produced::Nothing));
                };
                if tail && simple.redirects.is_empty() && matches!(input, Input::Inherited) {
                    return Ok((self.replace_shell(path, &args, *entrypoint), Produced::Nothing));
                }
                Ok(self.spawn(path, name, &args, (out, err)))
            }
        }
    }

    fn exit(&mut self, args: &[String]) -> Flow {
        match args {
            [] => Flow::Exit(self.last_status),
            [n] => match n.parse::<u8>() {
                Ok(n) => Flow::Exit(i32::from(n)),
                Err(_) => {
                    complain(format!("exit: {n}: a number from 0 to 255 was expected"));
                    Flow::Exit(2)
                }
            },
            _ => {
                complain("exit: too many arguments");
                Flow::Exit(2)
            }
        }
    }

    fn builtin(
        &mut self,
        name: &str,
        args: &[String],
        input: Input,
        (out, err): (Dest, Dest),
        to_file: Option<&str>,
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
        let captured = capture.into_inner();
        if let Some(path) = to_file {
            // Written only once the producer has succeeded: a failed decode leaves no file.
            if status != 0 {
                return (Flow::Normal(status), Produced::Nothing);
            }
            return match builtins::write_redirect(std::path::Path::new(path), &captured) {
                Ok(()) => (Flow::Normal(0), Produced::Nothing),
                // A redirection that cannot be made is status 2, as in dash.
                Err(e) => {
                    complain(e);
                    (Flow::Normal(2), Produced::Nothing)
                }
            };
        }
        (Flow::Normal(status), Produced::Bytes(captured))
    }

    fn environment(&self) -> impl Iterator<Item = (&String, &String)> {
        self.vars.iter().filter(|(_, v)| v.exported).map(|(k, v)| (k, &v.value))
    }

    /// The server or the entrypoint as a child: the shell waits for it (or, in a pipeline, the
    /// next stage reads its output).
    fn spawn(
        &mut self,
        path: &std::path::Path,
        name: &str,
        args: &[String],
        (out, err): (Dest, Dest),
    ) -> (Flow, Produced) {
        let stdio = |dest: Dest| -> std::io::Result<Stdio> {
            Ok(match dest {
                Dest::Stdout => Stdio::from(std::io::stdout().as_fd().try_clone_to_owned()?),
                Dest::Stderr => Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?),
                Dest::Capture => Stdio::piped(),
            })
        };
        let mut command = std::process::Command::new(path);
        command.arg0(name).args(args).env_clear().envs(self.environment());
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
    fn replace_shell(&mut self, path: &std::path::Path, args: &[String], entrypoint: bool) -> Flow {
        if self.pid1 {
            for (name, value) in self.environment().filter(|(k, v)| std::env::var(k).ok().as_ref() != Some(*v)) {
                crate::sys::env::set(name, value);
            }
            let mut argv: Vec<OsString> = if entrypoint {
                vec!["docker-entrypoint.sh".into()]
            } else {
                vec!["hardinit".into(), "--".into(), path.as_os_str().to_owned()]
            };
            argv.extend(args.iter().map(OsString::from));
            return Flow::Become(argv);
        }
        let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let error = std::process::Command::new(path).arg0(name).args(args).env_clear().envs(self.environment()).exec();
        complain(format!("{}: {error}", path.display()));
        Flow::Exit(if error.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 })
    }
}
