//! Starting the server: find it, fork, give it its own process group (and the terminal), restore
//! the signal state hardinit received, close inherited descriptors, exec.

use crate::error::{ExitCode, Fatal};
use crate::sys::process::{self, ExecImage, Forked};
use crate::sys::signal::{self, MAX_SIGNAL, SigSet};
use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The signal state hardinit was started with, which the server must get back exactly: blocked
/// signals and SIG_IGN dispositions are inherited over execve, so the server cannot tell it was
/// started by an init.
pub struct Inherited {
    pub mask: SigSet,
    pub ignored: SigSet,
}

impl Inherited {
    pub fn capture() -> Result<Inherited, Fatal> {
        let mask = signal::current_mask().map_err(|e| Fatal::system("reading the signal mask", e))?;
        let mut ignored = SigSet::empty();
        for sig in (1..=MAX_SIGNAL).filter(|s| *s != libc::SIGKILL && *s != libc::SIGSTOP) {
            // 32 and 33 belong to the C library and may be refused (EINVAL): they are then not ignored.
            if signal::is_ignored(sig).unwrap_or(false) {
                ignored.add(sig);
            }
        }
        Ok(Inherited { mask, ignored })
    }
}

/// Where the server's terminal and process group come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Session {
    /// stdin is our controlling terminal (`docker run -it`): the server's own process group becomes
    /// the terminal's foreground group, so Ctrl-C reaches the server once, from the kernel, and
    /// never hardinit (which would forward it a second time).
    Terminal,
    /// No terminal: a session of the server's own.
    Detached,
}

impl Session {
    /// The terminal is taken only when our own group holds it: started in the background of an
    /// interactive shell (`hardinit ... &`), hardinit must not steal the foreground.
    pub fn detect() -> Session {
        match process::terminal_foreground_group(0) {
            Ok(group) if group == process::process_group() => Session::Terminal,
            _ => Session::Detached,
        }
    }
}

pub struct Spawn<'a> {
    pub image: ExecImage,
    pub inherited: &'a Inherited,
    pub session: Session,
    pub keep_fds: bool,
    pub umask: Option<u32>,
}

/// Finds the program the way execvp(3) does, but up front, so that a missing or non-executable
/// server is reported with its path (and the PATH searched) before anything starts.
pub fn resolve(program: &OsStr, search_path: Option<&OsStr>) -> Result<PathBuf, Fatal> {
    let shown = program.to_string_lossy();
    if program.is_empty() {
        return Err(Fatal::new(ExitCode::NotFound, "the server command is empty"));
    }
    if program.as_bytes().contains(&b'/') {
        let path = PathBuf::from(program);
        return match executable(&path) {
            Some(true) => Ok(path),
            Some(false) => Err(Fatal::new(
                ExitCode::NotExecutable,
                format!("{shown}: not an executable file; fix: make it executable (chmod 0755) or correct the image"),
            )),
            None => Err(Fatal::new(
                ExitCode::NotFound,
                format!("{shown}: no such file; fix: correct the path or the image"),
            )),
        };
    }
    let search =
        search_path.map(OsStr::as_bytes).unwrap_or(b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let mut not_executable = None;
    for dir in search.split(|b| *b == b':') {
        let dir = if dir.is_empty() { Path::new(".") } else { Path::new(OsStr::from_bytes(dir)) };
        let candidate = dir.join(program);
        match executable(&candidate) {
            Some(true) => return Ok(candidate),
            Some(false) => not_executable = not_executable.or(Some(candidate)),
            None => {}
        }
    }
    let searched = String::from_utf8_lossy(search);
    match not_executable {
        Some(path) => Err(Fatal::new(
            ExitCode::NotExecutable,
            format!(
                "{}: found but not executable (PATH={searched}); fix: make it executable or name the right file",
                path.display()
            ),
        )),
        None => Err(Fatal::new(
            ExitCode::NotFound,
            format!("{shown}: not found in PATH={searched}; fix: give its full path or correct PATH"),
        )),
    }
}

/// `Some(true)`: a regular file with an execute bit; `Some(false)`: exists but is not that;
/// `None`: does not exist.
fn executable(path: &Path) -> Option<bool> {
    let meta = std::fs::metadata(path).ok()?;
    Some(meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

pub fn to_cstring(text: OsString, what: &str) -> Result<CString, Fatal> {
    CString::new(text.into_vec()).map_err(|_| Fatal::usage(format!("{what} contains a NUL byte")))
}

/// Steps of the child before exec, reported to the parent with errno when one fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChildStep {
    Session = 0,
    Terminal = 1,
    Descriptors = 2,
    IgnoredSignals = 3,
    SignalMask = 4,
    Exec = 5,
}

impl ChildStep {
    const ALL: [ChildStep; 6] = [
        ChildStep::Session,
        ChildStep::Terminal,
        ChildStep::Descriptors,
        ChildStep::IgnoredSignals,
        ChildStep::SignalMask,
        ChildStep::Exec,
    ];

    fn what(self) -> &'static str {
        match self {
            ChildStep::Session => "create its session",
            ChildStep::Terminal => "take the terminal's foreground",
            ChildStep::Descriptors => "close inherited descriptors",
            ChildStep::IgnoredSignals => "restore ignored signals",
            ChildStep::SignalMask => "restore the signal mask",
            ChildStep::Exec => "execute",
        }
    }
}

/// Forks and execs the server; returns its pid once the exec has succeeded. An exec failure is
/// reported through a close-on-exec pipe: end of file means the exec happened.
pub fn start(spawn: &Spawn<'_>) -> Result<i32, Fatal> {
    let (report_read, report_write) =
        process::pipe_cloexec().map_err(|e| Fatal::system("creating the exec report pipe", e))?;
    match process::fork().map_err(|e| Fatal::system("fork", e))? {
        Forked::Child => {
            let (step, err) = prepare_and_exec(spawn, report_write);
            let errno = err.raw_os_error().unwrap_or(0);
            let mut report = [0u8; 8];
            report[..4].copy_from_slice(&(step as u32).to_ne_bytes());
            report[4..].copy_from_slice(&errno.to_ne_bytes());
            // If even the report cannot be written, the exit status still tells the parent.
            let _ = process::write_all(report_write, &report);
            process::exit_now(if errno == libc::ENOENT { 127 } else { 126 });
        }
        Forked::Parent { child } => {
            process::close(report_write).map_err(|e| Fatal::system("closing the report pipe", e))?;
            let mut report = [0u8; 8];
            let got = process::read_full(report_read, &mut report)
                .map_err(|e| Fatal::system("reading the exec report", e))?;
            process::close(report_read).map_err(|e| Fatal::system("closing the report pipe", e))?;
            if got < report.len() {
                return Ok(child);
            }
            let step = ChildStep::ALL.get(u32::from_ne_bytes(report[..4].try_into().expect("4 bytes")) as usize);
            let err = std::io::Error::from_raw_os_error(i32::from_ne_bytes(report[4..].try_into().expect("4 bytes")));
            // Collect this child's status so it does not linger; its SIGCHLD stays pending, unused.
            let _ = process::reap_child(child);
            let path = spawn.image.path().to_string_lossy();
            Err(match (step, err.raw_os_error()) {
                (Some(ChildStep::Exec), errno) => Fatal::new(
                    if errno == Some(libc::ENOENT) { ExitCode::NotFound } else { ExitCode::NotExecutable },
                    format!("cannot execute {path} as the server's user: {err}; fix: check its mode, owner and format"),
                ),
                (step, _) => Fatal::new(
                    ExitCode::System,
                    format!("cannot {} for {path}: {err}", step.map_or("start", |s| s.what())),
                ),
            })
        }
    }
}

/// Runs in the forked child. Returns only on failure: which step, and why.
fn prepare_and_exec(spawn: &Spawn<'_>, report_fd: i32) -> (ChildStep, std::io::Error) {
    let session = match spawn.session {
        Session::Detached => process::new_session(),
        Session::Terminal => process::new_process_group(),
    };
    if let Err(e) = session {
        return (ChildStep::Session, e);
    }
    // SIGTTOU is still blocked here (the mask is restored below), so a background group may take
    // the terminal instead of being stopped.
    if spawn.session == Session::Terminal {
        if let Err(e) = process::become_terminal_foreground(0) {
            return (ChildStep::Terminal, e);
        }
    }
    if !spawn.keep_fds {
        if let Err(e) = process::close_descriptors_from(3, report_fd as u32) {
            return (ChildStep::Descriptors, e);
        }
    }
    for sig in spawn.inherited.ignored.members() {
        if let Err(e) = signal::set_disposition(sig, true) {
            return (ChildStep::IgnoredSignals, e);
        }
    }
    if let Some(mask) = spawn.umask {
        process::set_umask(mask);
    }
    if let Err(e) = signal::set_mask(&spawn.inherited.mask) {
        return (ChildStep::SignalMask, e);
    }
    (ChildStep::Exec, spawn.image.exec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_searches_path_and_names_what_it_searched() {
        let sh = resolve(OsStr::new("sh"), Some(OsStr::new("/nonexistent:/bin"))).unwrap();
        assert_eq!(sh, Path::new("/bin/sh"));
        let e = resolve(OsStr::new("no-such-server"), Some(OsStr::new("/nonexistent:/bin"))).unwrap_err();
        assert_eq!(e.code, ExitCode::NotFound);
        assert!(e.message.contains("PATH=/nonexistent:/bin"), "{}", e.message);
        let e = resolve(OsStr::new("/etc/passwd"), None).unwrap_err();
        assert_eq!(e.code, ExitCode::NotExecutable);
        let e = resolve(OsStr::new("passwd"), Some(OsStr::new("/etc"))).unwrap_err();
        assert_eq!(e.code, ExitCode::NotExecutable, "a directory entry that is not executable");
        let e = resolve(OsStr::new("/nonexistent/bao"), None).unwrap_err();
        assert_eq!(e.code, ExitCode::NotFound);
        let e = resolve(OsStr::new("/etc"), None).unwrap_err();
        assert_eq!(e.code, ExitCode::NotExecutable, "a directory is not executable");
    }
}
