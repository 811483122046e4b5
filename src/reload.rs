//! `--reload-on-change`: the server reloads its TLS certificates on SIGHUP, so hardinit watches
//! the files and sends one SIGHUP once changes have settled, and only when a file's content really
//! changed. It watches directories, never the file: the kubelet replaces a Secret's files by
//! swapping a `..data` symlink, a release by re-pointing `current -> v2`, editors by renaming a
//! new file over the old one, and a watch on the old inode would see none of them. The directories
//! are those that decide what each path names: where each symlink on the way lives, where the
//! file lives, and, where the path breaks off, the deepest one that exists. They are found again
//! at once after every event, so that a new target, or a directory removed and created again, is
//! watched before its next change. No file is held open: each is read, digested and closed.

use crate::error::{ExitCode, Fatal};
use crate::harden::server_config;
use crate::sys::inotify::Inotify;
use crate::sys::signal::SigInfo;
use crate::{debug, warn};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::ffi::{CString, OsString};
use std::hash::Hasher;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

/// The signal the kernel raises when watch events are queued (distinguished from a SIGIO someone
/// sends by its si_code, POLL_IN and above, which only the kernel sets).
pub const NOTIFICATION: i32 = libc::SIGIO;

struct Watched {
    path: PathBuf,
    /// The content's digest when last read; None while the file could not be read.
    digest: Option<u64>,
}

pub struct Reloader {
    inotify: Inotify,
    files: Vec<Watched>,
    /// The directories watched now, and their watch descriptors.
    watches: BTreeMap<PathBuf, i32>,
    /// Directories that could not be watched and were said so: said once each.
    unwatchable: BTreeSet<PathBuf>,
    debounce: Duration,
    /// When the changes seen so far have settled.
    due: Option<Instant>,
}

/// How many symlinks one path may pass through, as the kernel allows (ELOOP beyond).
const MAX_LINKS: usize = 40;

/// One step of a path still to resolve.
enum Step {
    Name(OsString),
    Parent,
}

fn steps(path: &Path) -> impl DoubleEndedIterator<Item = Step> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(Step::Name(name.to_os_string())),
        Component::ParentDir => Some(Step::Parent),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

/// The directories whose entries decide what `path` names, resolved the way the kernel resolves
/// it, one symlink at a time: the directory holding each symlink on the way (the link can be
/// swapped), the directory holding the file, or the deepest existing directory where the path
/// breaks off (what is missing can appear there). In the order met, without repeats. A relative
/// path (a listener's `tls_cert_file = "tls/cert.pem"`) starts where the server starts: in our
/// working directory, which it inherits.
fn deciding_directories(path: &Path) -> Vec<PathBuf> {
    let path = match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let mut dirs: Vec<PathBuf> = Vec::new();
    let keep = |dirs: &mut Vec<PathBuf>, dir: &Path| {
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_path_buf());
        }
    };
    // `current` never holds a symlink: every one met is replaced by its target.
    let mut current = PathBuf::from("/");
    let mut pending: VecDeque<Step> = steps(&path).collect();
    let mut links = 0;
    while let Some(step) = pending.pop_front() {
        let name = match step {
            Step::Parent => {
                current.pop();
                continue;
            }
            Step::Name(name) => name,
        };
        let candidate = current.join(&name);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                keep(&mut dirs, &current);
                links += 1;
                let Ok(target) = std::fs::read_link(&candidate) else { break };
                if links > MAX_LINKS {
                    break;
                }
                if target.is_absolute() {
                    current = PathBuf::from("/");
                }
                for step in steps(&target).rev() {
                    pending.push_front(step);
                }
            }
            Ok(meta) if meta.is_dir() && !pending.is_empty() => current = candidate,
            // The file itself, or where the path breaks off (missing, or not a directory).
            _ => {
                keep(&mut dirs, &current);
                break;
            }
        }
    }
    dirs
}

/// A 64-bit SipHash of the file's content, None when it cannot be read (gone, mid-replacement).
fn digest(path: &Path) -> Option<u64> {
    let bytes = server_config::read_regular(path).ok()?;
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(&bytes);
    Some(hasher.finish())
}

/// `auto`: the TLS files of the listeners in the server's configuration, as the hardening read it
/// (None: not a `server` command, so no listener).
pub fn tls_files_of(
    configuration: Option<&Result<Vec<server_config::ConfigFile>, server_config::ConfigError>>,
) -> Result<Vec<PathBuf>, Fatal> {
    match configuration {
        None => Ok(Vec::new()),
        Some(Ok(files)) => Ok(server_config::listener_tls_files(files)),
        Some(Err(e)) => Err(Fatal::new(
            ExitCode::Refused,
            format!("--reload-on-change auto: {e}; fix: correct the file, or name the files to watch"),
        )),
    }
}

impl Reloader {
    pub fn new(paths: Vec<PathBuf>, debounce: Duration) -> Result<Reloader, Fatal> {
        let inotify = Inotify::signalling(NOTIFICATION).map_err(|e| Fatal::system("--reload-on-change: inotify", e))?;
        let mut reloader = Reloader {
            inotify,
            files: Vec::new(),
            watches: BTreeMap::new(),
            unwatchable: BTreeSet::new(),
            debounce,
            due: None,
        };
        for path in paths {
            if path.parent().is_none_or(|dir| !dir.is_dir()) {
                return Err(Fatal::new(
                    ExitCode::Refused,
                    format!(
                        "--reload-on-change {}: its directory does not exist; fix: name a file in an existing directory (a mounted volume)",
                        path.display()
                    ),
                ));
            }
            let digest = digest(&path);
            if digest.is_none() {
                warn!("--reload-on-change {}: not readable now; watched until it is", path.display());
            }
            reloader.files.push(Watched { path, digest });
        }
        reloader.watch_directories()?;
        Ok(reloader)
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|w| w.path.as_path())
    }

    /// Watches the directories that decide what each path names (and only those: a watch on a
    /// directory a link has left is ended). Fails when the directory holding a file cannot be
    /// watched (inotify's max_user_watches, no permission); another that cannot (a directory with
    /// search but no read permission, where a link lives) is a warning, once: a swap of that link
    /// goes unseen. One that vanishes meanwhile is found again at the next event.
    fn watch_directories(&mut self) -> Result<(), Fatal> {
        let mut wanted = BTreeMap::new();
        let mut failed = None;
        for file in &self.files {
            let dirs = deciding_directories(&file.path);
            let holding = dirs.last().cloned();
            for dir in dirs {
                if wanted.contains_key(&dir) {
                    continue;
                }
                let Ok(c_dir) = CString::new(dir.as_os_str().as_bytes()) else { continue };
                match self.inotify.watch(&c_dir) {
                    Ok(wd) => {
                        wanted.insert(dir, wd);
                    }
                    Err(e) if Some(&dir) == holding.as_ref() && failed.is_none() => {
                        failed = Some(Fatal::system(&format!("--reload-on-change: watching {}", dir.display()), e));
                    }
                    Err(e) if [Some(libc::ENOENT), Some(libc::ENOTDIR)].contains(&e.raw_os_error()) => {
                        debug!("watching {}: {e}", dir.display())
                    }
                    Err(e) => {
                        if self.unwatchable.insert(dir.clone()) {
                            warn!(
                                "--reload-on-change: cannot watch {}: {e}; a change of the links there goes unseen",
                                dir.display()
                            );
                        }
                    }
                }
            }
        }
        for (dir, wd) in &self.watches {
            if !wanted.values().any(|w| w == wd) {
                debug!("no longer watching {}", dir.display());
                if let Err(e) = self.inotify.unwatch(*wd) {
                    debug!("ending the watch of {}: {e}", dir.display());
                }
            }
        }
        self.watches = wanted;
        failed.map_or(Ok(()), Err)
    }

    /// Whether `info` is the kernel telling that watch events are queued.
    pub fn is_notification(info: &SigInfo) -> bool {
        info.signal == NOTIFICATION && info.code > 0
    }

    /// Events are queued: read them all, watch what the paths name now, and (re)start the
    /// debounce.
    pub fn on_notification(&mut self) {
        match self.inotify.drain() {
            Ok(0) => {}
            Ok(events) => {
                debug!("{events} change(s) in watched directories");
                if let Err(e) = self.watch_directories() {
                    warn!("{e}");
                }
                self.due = Some(Instant::now() + self.debounce);
            }
            Err(e) => warn!("--reload-on-change: reading events: {e}"),
        }
    }

    /// How long until the changes have settled, if a change is waiting.
    pub fn time_left(&self) -> Option<Duration> {
        self.due.map(|due| due.saturating_duration_since(Instant::now()))
    }

    /// Once the debounce has passed: the files whose content changed (their new digest kept), or
    /// nothing. A file that is missing keeps its old digest: it is reloaded when it is back with
    /// other content.
    pub fn settle(&mut self) -> Vec<PathBuf> {
        if self.time_left() != Some(Duration::ZERO) {
            return Vec::new();
        }
        self.due = None;
        let mut changed = Vec::new();
        for file in &mut self.files {
            match digest(&file.path) {
                Some(now) if Some(now) != file.digest => {
                    file.digest = Some(now);
                    changed.push(file.path.clone());
                }
                Some(_) => {}
                None => debug!("{} is not readable now; keeping its last content", file.path.display()),
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn the_deciding_directories_follow_each_link_from_where_it_lives() {
        let base = std::env::temp_dir().join(format!("hardinit-reload-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        for dir in ["v1", "v2", "k/..2026_12_01/tls", "plain"] {
            std::fs::create_dir_all(base.join(dir)).unwrap();
        }
        symlink("v1", base.join("current")).unwrap();
        symlink("..2026_12_01", base.join("k/..data")).unwrap();
        symlink("..data/tls", base.join("k/tls")).unwrap();
        symlink(base.join("v2"), base.join("absolute")).unwrap();
        symlink("loop", base.join("loop")).unwrap();
        let dirs = |path: &str| deciding_directories(&base.join(path));
        // A directory link: where it lives, then its target.
        assert_eq!(dirs("current/tls.crt"), [base.clone(), base.join("v1")]);
        // A Secret's item with a nested path: `tls -> ..data/tls`, `..data -> ..<timestamp>`.
        assert_eq!(dirs("k/tls/tls.crt"), [base.join("k"), base.join("k/..2026_12_01/tls")]);
        assert_eq!(dirs("absolute/../plain/x"), [base.clone(), base.join("plain")]);
        // Broken off: the deepest directory that exists.
        assert_eq!(dirs("gone/deeper/tls.crt"), [base.as_path()]);
        assert_eq!(dirs("plain/tls.crt"), [base.join("plain")]);
        assert_eq!(dirs("loop/x"), [base.as_path()], "a link loop ends");
        // Relative: from the working directory (cargo runs the tests in the package's).
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(deciding_directories(Path::new("src/reload.rs")), [cwd.join("src")]);
        std::fs::remove_dir_all(&base).unwrap();
    }
}
