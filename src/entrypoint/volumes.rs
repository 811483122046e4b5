//! `chown -R` of the server's directories, done so that a hostile volume cannot redirect it: no
//! symlink is followed (the link itself changes owner, never its target), no other mount is
//! entered (a bind mount from the same filesystem included: the mount id tells, st_dev does not),
//! device nodes are left alone, a file with more than one hard link is left alone (it may be a
//! file outside the volume, /etc/shadow on the same filesystem), and the walk stops at a depth
//! limit. Each file is opened first and changed through its descriptor, so what is checked is what
//! is changed.

use crate::sys::fs::{Dir, Entry, name_text, stat_file};
use std::ffi::{CStr, CString};
use std::path::Path;

/// Deeper than this, the walk reports and does not descend (one open directory per level).
pub const MAX_DEPTH: usize = 128;

/// Of each kind of entry left unchanged, at most this many are named one per line; the rest are
/// counted in the summary (a thousand hard-linked pairs must not bury the other reasons).
pub const MAX_LISTED_PER_KIND: usize = 5;

/// Why an entry was left unchanged, as the summary counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    HardLinked,
    MountPoint,
    Device,
    TooDeep,
    Moved,
    Failed,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Kind::HardLinked => "with more than one hard link",
            Kind::MountPoint => "mount points",
            Kind::Device => "device nodes",
            Kind::TooDeep => "too deep",
            Kind::Moved => "changed while walking",
            Kind::Failed => "errors",
        }
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub changed: usize,
    /// Entries left unchanged, by kind.
    pub unchanged: std::collections::BTreeMap<Kind, usize>,
    /// The first [`MAX_LISTED_PER_KIND`] of each kind, and why. Paths are quoted: names may hold
    /// newlines.
    pub listed: Vec<String>,
}

impl Report {
    fn leave(&mut self, kind: Kind, path: &Path, why: impl std::fmt::Display) {
        let count = self.unchanged.entry(kind).or_default();
        *count += 1;
        if *count <= MAX_LISTED_PER_KIND {
            self.listed.push(format!("{path:?}: {why}"));
        }
    }

    /// `2000 with more than one hard link, 1 mount point`, or None when nothing was left.
    pub fn unchanged_summary(&self) -> Option<String> {
        let parts: Vec<String> = self.unchanged.iter().map(|(kind, n)| format!("{n} {}", kind.plural())).collect();
        let total: usize = self.unchanged.values().sum();
        (total > 0).then(|| {
            let unlisted = total - self.listed.len();
            let listing = if unlisted == 0 { "all listed above".to_string() } else { format!("{unlisted} not listed") };
            format!("{total} left unchanged: {} ({listing})", parts.join(", "))
        })
    }
}

/// What stays fixed during one walk: the owner to give and the mount not to leave.
struct Walk<'a> {
    uid: u32,
    gid: u32,
    mount_id: u64,
    /// Asked between entries: true ends the walk early (a stop signal arrived).
    stop: &'a dyn Fn() -> bool,
}

/// Gives `top` and everything below it, on the same mount, to `uid:gid`; `stop` ends it early.
pub fn chown_tree(top: &Path, uid: u32, gid: u32, stop: &dyn Fn() -> bool) -> Report {
    let mut report = Report::default();
    let Ok(top_c) = CString::new(top.as_os_str().as_encoded_bytes()) else {
        report.leave(Kind::Failed, top, "bad path");
        return report;
    };
    let dir = match Dir::open(&top_c) {
        Ok(d) => d,
        Err(e) => {
            report.leave(Kind::Failed, top, format!("not changed: {e} (a symlink is never followed)"));
            return report;
        }
    };
    let mount_id = match dir.stat() {
        Ok(st) => st.mount_id,
        Err(e) => {
            report.leave(Kind::Failed, top, e);
            return report;
        }
    };
    let walk = Walk { uid, gid, mount_id, stop };
    walk.change_dir(&dir, top, &mut report);
    walk.walk(&dir, top, 1, &mut report);
    report
}

impl Walk<'_> {
    fn change_dir(&self, dir: &Dir, path: &Path, report: &mut Report) {
        match dir.stat().and_then(|st| {
            if (st.uid, st.gid) == (self.uid, self.gid) {
                Ok(false)
            } else {
                dir.chown(self.uid, self.gid).map(|()| true)
            }
        }) {
            Ok(true) => report.changed += 1,
            Ok(false) => {}
            Err(e) => report.leave(Kind::Failed, path, e),
        }
    }

    fn walk(&self, dir: &Dir, path: &Path, depth: usize, report: &mut Report) {
        let names = match dir.names() {
            Ok(n) => n,
            Err(e) => {
                report.leave(Kind::Failed, path, format!("cannot list: {e}"));
                return;
            }
        };
        for name in names {
            if (self.stop)() {
                return;
            }
            let full = path.join(name_text(&name));
            let entry = match dir.stat_child(&name) {
                Ok(e) => e,
                Err(e) => {
                    report.leave(Kind::Failed, &full, e);
                    continue;
                }
            };
            if entry.mount_id != self.mount_id || entry.mount_root {
                report.leave(Kind::MountPoint, &full, "a mount point: not entered");
            } else if entry.is_device() {
                report.leave(Kind::Device, &full, "a device node: not changed");
            } else if entry.is_dir() {
                if depth >= MAX_DEPTH {
                    report.leave(Kind::TooDeep, &full, format!("deeper than {MAX_DEPTH} levels: not entered"));
                    continue;
                }
                match dir.open_child(&name) {
                    Ok(child) if child.stat().is_ok_and(|st| st.mount_id == self.mount_id && !st.mount_root) => {
                        self.change_dir(&child, &full, report);
                        self.walk(&child, &full, depth + 1, report);
                    }
                    Ok(_) => report.leave(Kind::Moved, &full, "changed while walking: not entered"),
                    Err(e) => report.leave(Kind::Failed, &full, e),
                }
            } else if entry.is_regular() {
                self.change_file(dir, &name, &full, report);
            } else {
                self.change_entry(dir, &name, &full, entry, report);
            }
        }
    }

    /// Symlinks (the link itself), FIFOs and sockets, by name, never followed.
    fn change_entry(&self, dir: &Dir, name: &CStr, full: &Path, entry: Entry, report: &mut Report) {
        if !entry.is_symlink() && entry.links > 1 {
            report.leave(Kind::HardLinked, full, format!("{} hard links: not changed", entry.links));
            return;
        }
        if (entry.uid, entry.gid) == (self.uid, self.gid) {
            return;
        }
        match dir.chown_child(name, self.uid, self.gid) {
            Ok(()) => report.changed += 1,
            Err(e) => report.leave(Kind::Failed, full, e),
        }
    }

    /// Regular files: opened without following, checked and changed through the descriptor.
    fn change_file(&self, dir: &Dir, name: &CStr, full: &Path, report: &mut Report) {
        let file = match dir.open_child_file(name) {
            Ok(f) => f,
            Err(e) => {
                report.leave(Kind::Failed, full, e);
                return;
            }
        };
        let entry = match stat_file(&file) {
            Ok(m) => m,
            Err(e) => {
                report.leave(Kind::Failed, full, e);
                return;
            }
        };
        if entry.links > 1 {
            report.leave(Kind::HardLinked, full, format!("{} hard links: not changed", entry.links));
        } else if entry.mount_id != self.mount_id || entry.mount_root || !entry.is_regular() {
            report.leave(Kind::Moved, full, "changed while walking: not changed");
        } else if (entry.uid, entry.gid) != (self.uid, self.gid) {
            match std::os::unix::fs::fchown(&file, Some(self.uid), Some(self.gid)) {
                Ok(()) => report.changed += 1,
                Err(e) => report.leave(Kind::Failed, full, e),
            }
        }
    }
}

/// The owner uid of a path, not following a final symlink.
pub fn owner_of(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path).ok().map(|m| std::os::unix::fs::MetadataExt::uid(&m))
}
