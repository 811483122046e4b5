//! `chown -R` of the server's directories, done so that a hostile volume cannot redirect it: no
//! symlink is followed (the link itself changes owner, never its target), no other mount is
//! entered (a bind mount from the same filesystem included: the mount id tells, st_dev does not),
//! device nodes are left alone, an entry with more than one hard link is left alone (it may be a
//! file outside the volume, /etc/shadow on the same filesystem), and the walk stops at a depth
//! limit. Each entry's name is looked up once, into an O_PATH|O_NOFOLLOW descriptor; the check
//! and the change both go through it, so what is checked is what is changed, whatever a user
//! who can rename entries does meanwhile (sys::fs).

use crate::harden::permissions::{Give, Node};
use crate::sys::fs::{Dir, Entry, Handle, name_text};
use crate::sys::xattr;
use std::ffi::CString;
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

/// What stays fixed during one walk: what to give and the mount not to leave.
struct Walk<'a> {
    give: &'a Give,
    mount_id: u64,
    /// The mount is read-only: nothing in it can change (a ConfigMap), so nothing is tried.
    read_only: bool,
    /// Asked between entries: true ends the walk early (a stop signal arrived).
    stop: &'a dyn Fn() -> bool,
}

/// Gives `top` and everything below it, on the same mount, what `give` says; `stop` ends it
/// early.
pub fn give_tree(top: &Path, give: &Give, stop: &dyn Fn() -> bool) -> Report {
    let mut report = Report::default();
    let dir = match Dir::open_nofollow(top) {
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
    let read_only = dir.is_read_only().unwrap_or(false);
    let walk = Walk { give, mount_id, read_only, stop };
    walk.change_dir(&dir, top, &mut report);
    walk.walk(&dir, top, 1, &mut report);
    report
}

/// Whether [`give_tree`] of `top` reaches `path` (a path below `top` with no symlink in it):
/// every directory on the way on `top`'s mount and not too deep, and the entry itself one the
/// walk changes (not a mount point, a device node, or a file with several hard links). The
/// decision before the walk uses it to judge the files as the walk will leave them.
pub fn walk_reaches(top: &Path, path: &Path) -> bool {
    let Ok(relative) = path.strip_prefix(top) else {
        return false;
    };
    let Ok(dir) = Dir::open_nofollow(top) else {
        return false;
    };
    let Ok(mount_id) = dir.stat().map(|st| st.mount_id) else {
        return false;
    };
    let names: Vec<CString> =
        relative.iter().filter_map(|n| CString::new(n.as_encoded_bytes()).ok()).collect::<Vec<_>>();
    let mut dir = dir;
    for (depth, name) in names.iter().enumerate().map(|(i, n)| (i + 1, n)) {
        let Ok(entry) = dir.stat_child(name) else {
            return false;
        };
        if entry.mount_id != mount_id || entry.mount_root || entry.is_device() {
            return false;
        }
        if depth == names.len() {
            return if entry.is_dir() { depth < MAX_DEPTH } else { entry.is_symlink() || entry.links <= 1 };
        }
        match dir.open_child(name) {
            Ok(child) if entry.is_dir() && depth < MAX_DEPTH => dir = child,
            _ => return false,
        }
    }
    true
}

fn node_of(entry: &Entry, acl: Option<Vec<u8>>, read_only: bool) -> Node {
    let acl = acl.and_then(|bytes| crate::harden::permissions::Acl::decode(&bytes));
    Node { uid: entry.uid, gid: entry.gid, mode: entry.mode, acl, read_only, modified: (0, 0) }
}

impl Walk<'_> {
    /// A directory, through the descriptor it was judged by.
    fn change_dir(&self, dir: &Dir, path: &Path, report: &mut Report) {
        let result = dir.stat().and_then(|st| {
            let node = node_of(&st, xattr::get_open(dir, xattr::POSIX_ACL_ACCESS)?, self.read_only);
            let Some(given) = self.give.apply(&node) else {
                return Ok(false);
            };
            if (given.uid, given.gid) != (node.uid, node.gid) {
                dir.chown(given.uid, given.gid)?;
            }
            if given.mode != node.mode {
                dir.chmod(given.mode & 0o7777)?;
            }
            Ok(true)
        });
        match result {
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
            // The name is looked up once, here: from now on the walk holds the inode itself, and a
            // name exchanged behind it (renameat2 RENAME_EXCHANGE) changes nothing it does.
            let (handle, entry) = match dir.open_entry(&name).and_then(|h| h.stat().map(|e| (h, e))) {
                Ok(found) => found,
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
                match handle.open_dir() {
                    Ok(child) if child.stat().is_ok_and(|st| st.identity == entry.identity) => {
                        self.change_dir(&child, &full, report);
                        self.walk(&child, &full, depth + 1, report);
                    }
                    Ok(_) => report.leave(Kind::Moved, &full, "changed while walking: not entered"),
                    Err(e) => report.leave(Kind::Failed, &full, e),
                }
            } else if entry.links > 1 {
                // Another name of the same inode may be outside the volume (/etc/shadow on the
                // same filesystem); a symlink's too (a hard link to a link is one).
                report.leave(Kind::HardLinked, &full, format!("{} hard links: not changed", entry.links));
            } else {
                self.change_entry(&handle, &entry, &full, report);
            }
        }
    }

    /// Regular files, symlinks (the link itself), FIFOs and sockets: through the O_PATH
    /// descriptor they were judged by.
    fn change_entry(&self, handle: &Handle, entry: &Entry, full: &Path, report: &mut Report) {
        let result = (|| -> std::io::Result<bool> {
            // A link's or a FIFO's own mode and ACL mean nothing to a reader: only the owner is
            // given. A regular file's ACL only counts where the server is to read, not write.
            let acl = match self.give {
                Give::ReadOnlyTo(_) if entry.is_regular() => handle.xattr(xattr::POSIX_ACL_ACCESS)?,
                _ => None,
            };
            let node = node_of(entry, acl, self.read_only);
            let Some(given) = self.give.apply(&node) else {
                return Ok(false);
            };
            if (given.uid, given.gid) != (node.uid, node.gid) {
                handle.chown(given.uid, given.gid)?;
            }
            if entry.is_regular() {
                // After the chown, which clears set-id bits itself: read back what it left.
                let now = handle.stat()?.mode;
                if given.mode & 0o7777 != now & 0o7777 {
                    handle.chmod(given.mode & 0o7777)?;
                }
            }
            Ok(true)
        })();
        match result {
            Ok(true) => report.changed += 1,
            Ok(false) => {}
            Err(e) => report.leave(Kind::Failed, full, e),
        }
    }
}

/// The owner uid of a path, not following a final symlink.
pub fn owner_of(path: &Path) -> Option<u32> {
    std::fs::symlink_metadata(path).ok().map(|m| std::os::unix::fs::MetadataExt::uid(&m))
}
