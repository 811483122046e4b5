//! `--reload-on-change`: the server reloads its TLS certificates on SIGHUP, so hardinit watches
//! the files and sends one SIGHUP once changes have settled, and only when a file's content really
//! changed. It watches the directories that hold each file (the file's own, and its final target's
//! when it is a symlink), never the file: the kubelet replaces a Secret's files by swapping a
//! `..data` symlink, editors by renaming a new file over the old one, and a watch on the old inode
//! would see neither. No file is held open: each is read, digested and closed.

use crate::error::{ExitCode, Fatal};
use crate::harden::server_config;
use crate::sys::inotify::Inotify;
use crate::sys::signal::SigInfo;
use crate::{debug, warn};
use std::ffi::CString;
use std::hash::Hasher;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
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
    debounce: Duration,
    /// When the changes seen so far have settled.
    due: Option<Instant>,
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
        let mut reloader = Reloader { inotify, files: Vec::new(), debounce, due: None };
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

    /// Watches the directory of each file and of its final target: after a `..data` swap the
    /// target is a new directory, so this runs again after every change.
    fn watch_directories(&self) -> Result<(), Fatal> {
        for file in &self.files {
            let resolved = std::fs::canonicalize(&file.path).ok();
            let dirs =
                [file.path.parent().map(Path::to_path_buf), resolved.and_then(|r| r.parent().map(Path::to_path_buf))];
            for dir in dirs.into_iter().flatten() {
                let Ok(c_dir) = CString::new(dir.as_os_str().as_bytes()) else { continue };
                if let Err(e) = self.inotify.watch(&c_dir) {
                    // inotify's limit (max_user_watches), or a directory that just vanished.
                    if file.path.parent() == Some(dir.as_path()) {
                        return Err(Fatal::system(&format!("--reload-on-change: watching {}", dir.display()), e));
                    }
                    debug!("watching {}: {e}", dir.display());
                }
            }
        }
        Ok(())
    }

    /// Whether `info` is the kernel telling that watch events are queued.
    pub fn is_notification(info: &SigInfo) -> bool {
        info.signal == NOTIFICATION && info.code > 0
    }

    /// Events are queued: read them all, and (re)start the debounce.
    pub fn on_notification(&mut self) {
        match self.inotify.drain() {
            Ok(0) => {}
            Ok(events) => {
                debug!("{events} change(s) in watched directories");
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
        if let Err(e) = self.watch_directories() {
            warn!("{e}");
        }
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
