//! `chown -R` of the server's directories, done so that a hostile volume cannot redirect it: no
//! symlink is followed (the link itself changes owner, never its target), no other filesystem is
//! entered, a file with more than one hard link is left alone (it may be a file outside the
//! volume, /etc/shadow on the same filesystem), and the walk stops at a depth limit. Each file is
//! opened first and changed through its descriptor, so what is checked is what is changed.

use crate::sys::fs::{Dir, Entry, name_text};
use std::ffi::{CStr, CString};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Deeper than this, the walk reports and does not descend (one open directory per level).
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Default)]
pub struct Report {
    pub changed: usize,
    /// One line per path that was not changed, and why. Paths are quoted: names may hold newlines.
    pub problems: Vec<String>,
}

/// Gives `top` and everything below it to `uid:gid`.
pub fn chown_tree(top: &Path, uid: u32, gid: u32) -> Report {
    let mut report = Report::default();
    let Ok(top_c) = CString::new(top.as_os_str().as_encoded_bytes()) else {
        report.problems.push(format!("{top:?}: bad path"));
        return report;
    };
    let dir = match Dir::open(&top_c) {
        Ok(d) => d,
        Err(e) => {
            report.problems.push(format!("{top:?}: not changed: {e} (a symlink is never followed)"));
            return report;
        }
    };
    let dev = match dir.stat() {
        Ok(st) => st.dev,
        Err(e) => {
            report.problems.push(format!("{top:?}: {e}"));
            return report;
        }
    };
    change_dir(&dir, top, uid, gid, &mut report);
    walk(&dir, top, dev, 1, uid, gid, &mut report);
    report
}

fn change_dir(dir: &Dir, path: &Path, uid: u32, gid: u32, report: &mut Report) {
    match dir
        .stat()
        .and_then(|st| if (st.uid, st.gid) == (uid, gid) { Ok(false) } else { dir.chown(uid, gid).map(|()| true) })
    {
        Ok(true) => report.changed += 1,
        Ok(false) => {}
        Err(e) => report.problems.push(format!("{path:?}: {e}")),
    }
}

fn walk(dir: &Dir, path: &Path, dev: u64, depth: usize, uid: u32, gid: u32, report: &mut Report) {
    let names = match dir.names() {
        Ok(n) => n,
        Err(e) => {
            report.problems.push(format!("{path:?}: cannot list: {e}"));
            return;
        }
    };
    for name in names {
        let full = path.join(name_text(&name));
        let entry = match dir.stat_child(&name) {
            Ok(e) => e,
            Err(e) => {
                report.problems.push(format!("{full:?}: {e}"));
                continue;
            }
        };
        if entry.dev != dev {
            report.problems.push(format!("{full:?}: on another filesystem: not entered"));
        } else if entry.is_dir() {
            if depth >= MAX_DEPTH {
                report.problems.push(format!("{full:?}: deeper than {MAX_DEPTH} levels: not entered"));
                continue;
            }
            match dir.open_child(&name) {
                Ok(child) if child.stat().is_ok_and(|st| st.dev == dev) => {
                    change_dir(&child, &full, uid, gid, report);
                    walk(&child, &full, dev, depth + 1, uid, gid, report);
                }
                Ok(_) => report.problems.push(format!("{full:?}: changed while walking: not entered")),
                Err(e) => report.problems.push(format!("{full:?}: {e}")),
            }
        } else if entry.is_symlink() || entry.mode & libc::S_IFMT != libc::S_IFREG {
            change_entry(dir, &name, &full, entry, uid, gid, report);
        } else {
            change_file(dir, &name, &full, dev, uid, gid, report);
        }
    }
}

/// Symlinks (the link itself) and special files, by name, never followed.
fn change_entry(dir: &Dir, name: &CStr, full: &Path, entry: Entry, uid: u32, gid: u32, report: &mut Report) {
    if !entry.is_symlink() && entry.links > 1 {
        report.problems.push(format!("{full:?}: {} hard links: not changed", entry.links));
        return;
    }
    if (entry.uid, entry.gid) == (uid, gid) {
        return;
    }
    match dir.chown_child(name, uid, gid) {
        Ok(()) => report.changed += 1,
        Err(e) => report.problems.push(format!("{full:?}: {e}")),
    }
}

/// Regular files: opened without following, checked and changed through the descriptor.
fn change_file(dir: &Dir, name: &CStr, full: &Path, dev: u64, uid: u32, gid: u32, report: &mut Report) {
    let file = match dir.open_child_file(name) {
        Ok(f) => f,
        Err(e) => {
            report.problems.push(format!("{full:?}: {e}"));
            return;
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            report.problems.push(format!("{full:?}: {e}"));
            return;
        }
    };
    if meta.nlink() > 1 {
        report.problems.push(format!("{full:?}: {} hard links: not changed", meta.nlink()));
    } else if meta.dev() != dev || !meta.is_file() {
        report.problems.push(format!("{full:?}: changed while walking: not changed"));
    } else if (meta.uid(), meta.gid()) != (uid, gid) {
        match std::os::unix::fs::fchown(&file, Some(uid), Some(gid)) {
            Ok(()) => report.changed += 1,
            Err(e) => report.problems.push(format!("{full:?}: {e}")),
        }
    }
}

/// The owner uid of a path, not following a final symlink.
pub fn owner_of(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path).ok().map(|m| m.uid())
}
