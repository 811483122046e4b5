//! hardinit as the image's `/bin/sh`: just enough of a shell for the scripts the official Vault
//! and OpenBao Helm charts and the Vault Agent Injector run (`sh -c SCRIPT`, `sh -ec SCRIPT`), and
//! nothing more. A real lexer and parser read a documented subset of POSIX sh; anything outside
//! it is refused, with its line and column, before the first command runs. Built-ins run in
//! process; the only programs a script can start are the server (`vault`, `bao`) and the
//! entrypoint (`docker-entrypoint.sh`). When PID 1 runs the script and its last command is one of
//! them, hardinit goes on as the entrypoint and supervisor itself: no shell stays as PID 1.
//!
//! lexer → parser (with every program resolved) → runner; built-ins in `builtins/`.

pub mod arith;
pub mod builtins;
pub mod expand;
pub mod lexer;
pub mod parser;
mod runner;

use parser::Program;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The exit status of a refused script, an unknown option or an interactive start, as sh gives
/// for a syntax error.
pub const REFUSED: i32 = 2;

/// What follows the shell.
pub enum Outcome {
    Exit(i32),
    /// Go on as hardinit with these arguments (argv[0] first).
    Become(Vec<OsString>),
}

/// Something outside the subset, where it starts.
#[derive(Debug)]
pub struct Refusal {
    pub pos: lexer::Pos,
    pub message: String,
}

const NO_SHELL: &str = "this image has no shell: /bin/sh is hardinit, which runs only `sh -c SCRIPT` for the Helm charts and the Agent Injector; run the server's commands directly, e.g. `kubectl exec POD -- vault status` (or `bao status`)";

/// A message on one line whatever it quotes: control characters (a newline in a file name or a
/// script's word) are written as escapes.
pub fn one_line(message: &str) -> String {
    message.chars().map(|c| if c.is_control() { c.escape_debug().to_string() } else { c.to_string() }).collect()
}

/// `sh: message` on stderr.
pub fn say(message: impl std::fmt::Display) {
    let line = one_line(&message.to_string());
    let _ = crate::sys::process::write_all(2, format!("sh: {line}\n").as_bytes());
}

/// Whether argv[0] asks for this personality.
pub fn is_called_as_sh(args: &[OsString]) -> bool {
    args.first().and_then(|a| Path::new(a).file_name()).is_some_and(|name| name == "sh")
}

/// `sh [-e] -c [-e] [--] SCRIPT [NAME [ARGS...]]`: as in sh, the options come first (`-c` among
/// them, in any order), and the script is the first argument that is not one.
pub fn main(args: Vec<OsString>) -> Outcome {
    let mut rest = args.into_iter().peekable();
    // `$0` without a NAME is the shell's own argv[0], as in sh.
    let argv0 = rest.next().unwrap_or_else(|| "sh".into());
    let mut errexit = false;
    let mut command_string = false;
    while let Some(letters) = rest.peek().and_then(|a| a.to_str()).and_then(|a| a.strip_prefix('-')) {
        if letters == "-" {
            rest.next();
            break;
        }
        if letters.is_empty() || !letters.chars().all(|c| c == 'e' || c == 'c') {
            say(format!("-{letters}: not supported (hardinit's sh takes -c SCRIPT and -e only)"));
            return Outcome::Exit(REFUSED);
        }
        errexit |= letters.contains('e');
        command_string |= letters.contains('c');
        rest.next();
    }
    let Some(script) = rest.next() else {
        say(if command_string { "-c: a script is required".to_string() } else { NO_SHELL.to_string() });
        return Outcome::Exit(REFUSED);
    };
    if !command_string {
        say(format!("{}: script files are not run (hardinit's sh takes -c SCRIPT only)", script.to_string_lossy()));
        return Outcome::Exit(REFUSED);
    }
    let Ok(script) = script.into_string() else {
        say("the script is not UTF-8 text");
        return Outcome::Exit(REFUSED);
    };
    let mut positional: Vec<OsString> = rest.collect();
    if positional.is_empty() {
        positional.push(argv0);
    }
    let tree = match parse(&script) {
        Ok(tree) => tree,
        Err(refusal) => {
            say(format!(
                "line {}, column {}: refused: {} (hardinit's sh runs a documented subset of sh: see its README)",
                refusal.pos.line, refusal.pos.column, refusal.message
            ));
            return Outcome::Exit(REFUSED);
        }
    };
    match runner::Shell::new(positional, errexit).run(&tree) {
        runner::Flow::Become(argv) => Outcome::Become(argv),
        runner::Flow::Exit(status) | runner::Flow::Normal(status) => Outcome::Exit(status),
        runner::Flow::Break => Outcome::Exit(0),
    }
}

/// Lexes and parses `script` as `sh -c` would, resolving every command name (which reads PATH
/// and the file system, nothing else), running nothing.
pub fn parse(script: &str) -> Result<parser::List, Refusal> {
    lexer::tokens(script).and_then(|tokens| parser::parse(tokens, &resolve))
}

/// [`parse`], its refusal as the one line sh prints.
pub fn check_script(script: &str) -> Result<(), String> {
    parse(script).map(drop).map_err(|refusal| one_line(&refusal.message))
}

/// The contract's invariant, for fuzzing: a script the parser accepts holds no built-in whose
/// written-out arguments hardinit would refuse when it runs (what is knowable before the script
/// runs is judged before it runs). Returns the refusal left for run time, if any.
pub fn refusal_left_for_run_time(script: &str) -> Option<String> {
    fn list(items: &parser::List) -> Option<String> {
        items.iter().find_map(|and_or| {
            std::iter::once(&and_or.first)
                .chain(and_or.rest.iter().map(|(_, p)| p))
                .flat_map(|pipeline| &pipeline.commands)
                .find_map(command)
        })
    }
    fn command(command: &parser::Command) -> Option<String> {
        match command {
            parser::Command::Simple(simple) => {
                let parser::Program::Builtin(name) = simple.program else { return None };
                let args: Option<Vec<OsString>> = simple.args.iter().map(|w| w.literal().map(OsString::from)).collect();
                args.and_then(|args| builtins::refusal(name, &args))
            }
            parser::Command::If { branches, otherwise } => branches
                .iter()
                .find_map(|(condition, body)| list(condition).or_else(|| list(body)))
                .or_else(|| otherwise.as_ref().and_then(list)),
            parser::Command::Loop { condition, body, .. } => list(condition).or_else(|| list(body)),
            parser::Command::Assign(_) | parser::Command::Break => None,
        }
    }
    parse(script).ok().and_then(|tree| list(&tree))
}

/// The fields one word of `text` expands to, with `vars` as the only variables (no process is
/// looked up: `$(pidof ...)` finds none). Pure: for tests and fuzzing.
pub fn expand_text(text: &str, vars: &std::collections::BTreeMap<String, Vec<u8>>) -> Result<Vec<Vec<u8>>, String> {
    struct Vars<'a>(&'a std::collections::BTreeMap<String, Vec<u8>>);
    impl expand::Scope for Vars<'_> {
        fn lookup(&self, name: &str) -> Option<Vec<u8>> {
            self.0.get(name).cloned()
        }
        fn pidof(&self, _: &[String]) -> Vec<u8> {
            Vec::new()
        }
    }
    let tokens = lexer::tokens(text).map_err(|refusal| one_line(&refusal.message))?;
    let mut fields = Vec::new();
    for token in tokens {
        if let lexer::Token::Word(word) = token {
            fields.extend(expand::word_fields(&word, &Vars(vars))?.into_iter().map(|f| f.bytes));
        }
    }
    Ok(fields)
}

/// The programs a script may start, by the name it uses.
const PROGRAMS: [&str; 3] = ["vault", "bao", "docker-entrypoint.sh"];

/// Where an absolute path to a missing program stands for the built-in or the server of its name.
const STANDS_FOR_FOLDERS: [&str; 5] = ["/bin", "/usr/bin", "/sbin", "/usr/sbin", "/usr/local/bin"];

/// The PATH sh uses when none is set.
pub(crate) const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `name` looked up in `path` (the default PATH when it is unset), as sh looks a command up.
pub fn in_path_of(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let path = path.unwrap_or(DEFAULT_PATH.as_ref());
    // As sh: a file that no one may execute is passed over (and not found: 127).
    let executable = |candidate: &PathBuf| {
        std::fs::metadata(candidate)
            .is_ok_and(|m| m.is_file() && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0)
    };
    std::env::split_paths(path).map(|dir| dir.join(name)).find(executable)
}

/// `name` looked up in the PATH hardinit was started with.
fn in_path(name: &str) -> Option<PathBuf> {
    in_path_of(name, std::env::var_os("PATH").as_deref())
}

/// In a script, the entrypoint may only start the server: its first argument, written out in the
/// script, must be one that the entrypoint's contract hands to the server binary (`vault server
/// ...`, `server`, a subcommand, a flag), never another program.
fn entrypoint_runs_the_server(args: &[lexer::Word]) -> Result<(), String> {
    let first = match args.first() {
        None => None,
        Some(word) => match word.literal() {
            Some(text) => Some(text),
            None => {
                return Err(
                    "the entrypoint's first argument comes from an expansion (write the server's command out)".into()
                );
            }
        },
    };
    // `vault ...` and `bao ...` name the server as a script's own command would (both are
    // allowed there): the entrypoint then runs that program from PATH.
    if first.as_deref().is_some_and(|f| PROGRAMS[..2].contains(&f)) {
        return Ok(());
    }
    let flavour = crate::entrypoint::Flavour::detect(|p| Path::new(p).exists());
    let given: Vec<OsString> = first.iter().map(OsString::from).collect();
    let (command, runs_server) = crate::entrypoint::rewrite(flavour, &given, &|_| None);
    if runs_server {
        return Ok(());
    }
    Err(format!(
        "the entrypoint given `{}`: in a script it starts only the server ({} ..., server, a {} subcommand)",
        command[0].to_string_lossy(),
        flavour.binary(),
        flavour.binary()
    ))
}

/// What a command name stands for; a refusal says why not.
fn resolve(name: &str, args: &[lexer::Word]) -> Result<Program, String> {
    let program = resolve_name(name)?;
    if let Program::External { entrypoint: true, .. } = program {
        entrypoint_runs_the_server(args)?;
    }
    Ok(program)
}

fn resolve_name(name: &str) -> Result<Program, String> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let builtin = || builtins::NAMES.iter().find(|n| **n == base).copied();
    let refused = || {
        format!(
            "`{name}`: not a built-in, the server (vault, bao) or the entrypoint (docker-entrypoint.sh): hardinit's sh starts no other program"
        )
    };
    if name == "exit" {
        return Ok(Program::Exit);
    }
    if !name.contains('/') {
        if let Some(builtin) = builtin() {
            return Ok(Program::Builtin(builtin));
        }
        if PROGRAMS.contains(&name) {
            return Ok(Program::External { path: None, name: name.into(), entrypoint: name == PROGRAMS[2] });
        }
        return Err(refused());
    }
    if !name.starts_with('/') {
        return Err(format!("`{name}`: a relative path (only names and absolute paths)"));
    }
    let named_program = PROGRAMS.contains(&base);
    match std::fs::symlink_metadata(name) {
        // The file exists: it must be the very program its name stands for.
        Ok(_) if named_program => {
            let found = in_path(base);
            let same = found.as_ref().and_then(|f| f.canonicalize().ok()) == Path::new(name).canonicalize().ok();
            if same {
                Ok(Program::External {
                    path: Some(PathBuf::from(name)),
                    name: base.into(),
                    entrypoint: base == PROGRAMS[2],
                })
            } else {
                Err(format!("`{name}` is not the {base} found in PATH"))
            }
        }
        Ok(_) => Err(refused()),
        // An absolute path that the image does not have, in a folder where a distribution keeps
        // programs, naming a built-in or the server (the injector's preStop runs /bin/sleep and
        // /bin/vault): what the name stands for. Anywhere else it is no program (sh: 127).
        Err(_) if !STANDS_FOR_FOLDERS.iter().any(|dir| Path::new(name).parent() == Some(Path::new(dir))) => {
            Err(format!(
                "`{name}`: no such file, outside the folders where a missing program stands for a built-in ({})",
                STANDS_FOR_FOLDERS.join(", ")
            ))
        }
        Err(_) => match builtin().filter(|b| !matches!(*b, "exit" | "break")) {
            Some(builtin) => Ok(Program::Builtin(builtin)),
            None if named_program => {
                Ok(Program::External { path: None, name: base.into(), entrypoint: base == PROGRAMS[2] })
            }
            None => Err(refused()),
        },
    }
}
