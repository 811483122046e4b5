//! Who can change a file the server reads, decided as the kernel decides an access
//! (fs/namei.c generic_permission, fs/posix_acl.c posix_acl_permission), for a process without
//! capabilities (the server holds nothing but IPC_LOCK):
//!
//! - the owner's bits for the owner, else the group's bits for a member of the file's group
//!   (primary or supplementary), else the others' bits; with a POSIX ACL, its entries in the
//!   kernel's order, the mask limiting named users and every group entry;
//! - an owner can always chmod (or setfacl) its file: a 0444 file of the server's is the server's
//!   to write; nothing is writable on a read-only mount;
//! - every directory on the way counts: one the server can write (or owns) lets it rename the
//!   next entry away and put its own in its place, unless the sticky bit keeps it to its own
//!   entries; a `-config` directory it can write lets it add a file the server then loads.
//!
//! Paths are resolved component by component with lstat and readlink, never by opening through
//! a link (root must not follow a link planted in a volume); a symlink is read as the server will
//! read it, so both the link's directory and everything on the way to its target are judged.

use super::accounts::Identity;
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

pub const READ: u32 = 4;
pub const WRITE: u32 = 2;
pub const SEARCH: u32 = 1;

/// The kernel's limit on symlinks followed in one lookup (MAXSYMLINKS).
const MAX_SYMLINKS: usize = 40;

/// One ACL entry's tag (include/uapi/linux/posix_acl.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    UserObj,
    User(u32),
    GroupObj,
    Group(u32),
    Mask,
    Other,
}

/// A POSIX access ACL: entries in the kernel's order (owner, named users, owning group, named
/// groups, mask, others), each with its rwx bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl(Vec<(Tag, u32)>);

impl Acl {
    /// The `system.posix_acl_access` encoding (posix_acl_from_xattr): a little-endian version 2
    /// header, then 8-byte entries (tag u16, perm u16, id u32). None: not an ACL the kernel
    /// would have stored; the caller then judges the mode bits alone.
    pub fn decode(bytes: &[u8]) -> Option<Acl> {
        let (header, body) = bytes.split_at_checked(4)?;
        if u32::from_le_bytes(header.try_into().ok()?) != 2 || body.len() % 8 != 0 {
            return None;
        }
        let entries = body
            .chunks_exact(8)
            .map(|e| {
                let tag = u16::from_le_bytes([e[0], e[1]]);
                let perm = u32::from(u16::from_le_bytes([e[2], e[3]]) & 7);
                let id = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
                let tag = match tag {
                    0x01 => Tag::UserObj,
                    0x02 => Tag::User(id),
                    0x04 => Tag::GroupObj,
                    0x08 => Tag::Group(id),
                    0x10 => Tag::Mask,
                    0x20 => Tag::Other,
                    _ => return None,
                };
                Some((tag, perm))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Acl(entries))
    }

    /// What chmod does to an ACL (posix_acl_chmod): the owner's bits to its entry, the group's to
    /// the mask (to the owning group's entry where there is no mask), the others' to theirs.
    fn chmod(&mut self, mode: u32) {
        let has_mask = self.0.iter().any(|(t, _)| *t == Tag::Mask);
        for (tag, perm) in &mut self.0 {
            match tag {
                Tag::UserObj => *perm = mode >> 6 & 7,
                Tag::Mask => *perm = mode >> 3 & 7,
                Tag::GroupObj if !has_mask => *perm = mode >> 3 & 7,
                Tag::Other => *perm = mode & 7,
                _ => {}
            }
        }
    }

    /// posix_acl_permission: Some(how) when `want` is granted.
    fn permission(&self, who: &Identity, owner: u32, group: u32, want: u32) -> Option<Grant> {
        let mask = self.0.iter().find(|(t, _)| *t == Tag::Mask).map_or(7, |(_, p)| *p);
        let mut in_a_group = false;
        for (tag, perm) in &self.0 {
            match *tag {
                Tag::UserObj if owner == who.uid => return (perm & want == want).then_some(Grant::Owner),
                Tag::User(uid) if uid == who.uid => {
                    return (perm & mask & want == want).then_some(Grant::NamedUser(uid));
                }
                Tag::GroupObj if in_group(who, group) => {
                    in_a_group = true;
                    if perm & mask & want == want {
                        return Some(Grant::Group(group));
                    }
                }
                Tag::Group(gid) if in_group(who, gid) => {
                    in_a_group = true;
                    if perm & mask & want == want {
                        return Some(Grant::NamedGroup(gid));
                    }
                }
                Tag::Other if !in_a_group => return (perm & want == want).then_some(Grant::Others),
                _ => {}
            }
        }
        None
    }
}

fn in_group(who: &Identity, gid: u32) -> bool {
    who.gid == gid || who.groups.contains(&gid)
}

/// Whoever is neither the server's user nor in any of its groups: "every user".
pub fn anyone() -> Identity {
    Identity { name: None, home: None, uid: u32::MAX, gid: u32::MAX, groups: Vec::new() }
}

/// How an access was granted, for the message that names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    Owner,
    NamedUser(u32),
    Group(u32),
    NamedGroup(u32),
    Others,
}

impl Grant {
    fn describe(self) -> String {
        match self {
            Grant::Owner => "as its owner".into(),
            Grant::NamedUser(uid) => format!("by the ACL entry user:{uid}"),
            Grant::Group(gid) => format!("through its group {gid}"),
            Grant::NamedGroup(gid) => format!("by the ACL entry group:{gid}"),
            Grant::Others => "as any user".into(),
        }
    }
}

/// What an access check reads of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    pub uid: u32,
    pub gid: u32,
    /// st_mode: type and permission bits.
    pub mode: u32,
    pub acl: Option<Acl>,
    /// On a read-only mount: nothing in it can be written or chmod'ed.
    pub read_only: bool,
    /// Last modification, seconds and nanoseconds since the epoch.
    pub modified: (i64, i64),
}

impl Node {
    /// lstat, the access ACL and the mount's read-only flag of `path` itself.
    pub fn of(path: &Path) -> std::io::Result<Node> {
        let meta = std::fs::symlink_metadata(path)?;
        let is_link = meta.file_type().is_symlink();
        let acl = if is_link {
            None
        } else {
            crate::sys::xattr::get_nofollow(path, crate::sys::xattr::POSIX_ACL_ACCESS)?.and_then(|b| Acl::decode(&b))
        };
        // statvfs follows a final link; a link's own mount is its directory's, judged there.
        let read_only = !is_link && path.to_str().is_some_and(|p| crate::sys::fs::is_read_only(p).unwrap_or(false));
        Ok(Node {
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode(),
            acl,
            read_only,
            modified: (meta.mtime(), meta.mtime_nsec()),
        })
    }

    pub fn is_dir(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFDIR
    }

    pub fn is_symlink(&self) -> bool {
        self.mode & libc::S_IFMT == libc::S_IFLNK
    }

    fn sticky(&self) -> bool {
        self.mode & libc::S_ISVTX != 0
    }

    /// `mode 0640, owner 0:1000` (and `, an ACL` where one decides too).
    pub fn describe(&self) -> String {
        let acl = if self.acl.is_some() { ", an ACL" } else { "" };
        format!("mode {:04o}, owner {}:{}{acl}", self.mode & 0o7777, self.uid, self.gid)
    }

    /// chmod's effect, the ACL included.
    pub fn chmod(&mut self, mode: u32) {
        self.mode = (self.mode & libc::S_IFMT) | (mode & 0o7777);
        if let Some(acl) = &mut self.acl {
            acl.chmod(mode);
        }
    }

    /// generic_permission without capabilities: Some(how) when `who` may `want` (READ, WRITE,
    /// SEARCH bits) this file.
    pub fn permission(&self, who: &Identity, want: u32) -> Option<Grant> {
        if want & WRITE != 0 && self.read_only {
            return None;
        }
        if let Some(acl) = &self.acl {
            return acl.permission(who, self.uid, self.gid, want);
        }
        let (bits, grant) = if self.uid == who.uid {
            (self.mode >> 6, Grant::Owner)
        } else if in_group(who, self.gid) {
            (self.mode >> 3, Grant::Group(self.gid))
        } else {
            (self.mode, Grant::Others)
        };
        (bits & want == want).then_some(grant)
    }

    /// How `who` can change this file's content (a directory: its entries) or make it
    /// changeable; None: it cannot.
    pub fn changeable_by(&self, who: &Identity) -> Option<String> {
        if self.read_only {
            return None;
        }
        let want = if self.is_dir() { WRITE | SEARCH } else { WRITE };
        match self.permission(who, want) {
            Some(grant) => Some(format!("writable {} ({})", grant.describe(), self.describe())),
            None if self.uid == who.uid => Some(format!("its owner, who can chmod it ({})", self.describe())),
            None => None,
        }
    }

    /// Who else can read this file, beside `who` and root: every user (the others' bits), and the
    /// users and groups an ACL names (through its mask) that `who` is not.
    pub fn other_readers(&self, who: &Identity) -> Vec<String> {
        let mut readers = Vec::new();
        if self.permission(&anyone(), READ).is_some() {
            readers.push("every user".to_string());
        }
        if let Some(acl) = &self.acl {
            let mask = acl.0.iter().find(|(t, _)| *t == Tag::Mask).map_or(7, |(_, p)| *p);
            for (tag, perm) in &acl.0 {
                match *tag {
                    Tag::User(uid) if uid != who.uid && perm & mask & READ != 0 => readers.push(format!("user:{uid}")),
                    Tag::Group(gid) if !in_group(who, gid) && perm & mask & READ != 0 => {
                        readers.push(format!("group:{gid}"))
                    }
                    _ => {}
                }
            }
        }
        readers
    }

    /// Readable (a directory: listable) by `who`, as its own bits say.
    pub fn readable_by(&self, who: &Identity) -> bool {
        self.permission(who, if self.is_dir() { READ | SEARCH } else { READ }).is_some()
    }
}

/// One lookup on the way: `entry` looked up in directory `dir`.
#[derive(Clone, Debug)]
pub struct Step {
    pub dir: PathBuf,
    pub dir_node: Node,
    pub entry: PathBuf,
    pub entry_uid: u32,
}

/// A path as the kernel resolves it: the real file, and every lookup on the way.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub path: PathBuf,
    pub node: Node,
    pub steps: Vec<Step>,
}

/// Resolves `path` as a lookup that follows symlinks would, with `lookup` (lstat, or what a
/// planned change will make of it) for every component and readlink for links: nothing is
/// opened. Relative paths start at the working directory, as the server's do.
pub fn resolve(path: &Path, lookup: &dyn Fn(&Path) -> std::io::Result<Node>) -> Result<Resolved, String> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| format!("the working directory: {e}"))?.join(path)
    };
    let names = |p: &Path| -> Vec<OsString> {
        p.components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_os_string()),
                Component::ParentDir => Some("..".into()),
                _ => None,
            })
            .collect()
    };
    let fail = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let root = PathBuf::from("/");
    let root_node = lookup(&root).map_err(|e| fail(&root, e))?;
    let (mut current, mut current_node) = (root.clone(), root_node.clone());
    let mut pending: VecDeque<OsString> = names(&absolute).into();
    let mut steps = Vec::new();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == ".." {
            // A real directory (no link in `current`), so its parent is the lexical one.
            current.pop();
            current_node = lookup(&current).map_err(|e| fail(&current, e))?;
            continue;
        }
        let entry = current.join(&name);
        let node = lookup(&entry).map_err(|e| fail(&entry, e))?;
        steps.push(Step {
            dir: current.clone(),
            dir_node: current_node.clone(),
            entry: entry.clone(),
            entry_uid: node.uid,
        });
        if node.is_symlink() {
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(format!("{}: too many levels of symbolic links", path.display()));
            }
            let target = std::fs::read_link(&entry).map_err(|e| fail(&entry, e))?;
            if target.is_absolute() {
                (current, current_node) = (root.clone(), root_node.clone());
            }
            for name in names(&target).into_iter().rev() {
                pending.push_front(name);
            }
            continue;
        }
        if pending.is_empty() {
            return Ok(Resolved { path: entry, node, steps });
        }
        if !node.is_dir() {
            return Err(format!("{}: Not a directory", entry.display()));
        }
        (current, current_node) = (entry, node);
    }
    Ok(Resolved { path: current, node: current_node, steps })
}

impl Resolved {
    /// Why `who` cannot read the file (a directory: list it), or None.
    pub fn unreadable_by(&self, who: &Identity) -> Option<String> {
        for step in &self.steps {
            if step.dir_node.permission(who, SEARCH).is_none() {
                return Some(format!("{} cannot be searched ({})", step.dir.display(), step.dir_node.describe()));
            }
        }
        (!self.node.readable_by(who))
            .then(|| format!("{} is not readable ({})", self.path.display(), self.node.describe()))
    }

    /// How `who` can change what this path gives: the file itself (a directory: add an entry),
    /// or a directory on the way whose entry it can replace.
    pub fn changeable_by(&self, who: &Identity) -> Option<String> {
        let mut reachable = true;
        for step in &self.steps {
            let dir = &step.dir_node;
            if !reachable {
                break;
            }
            let owns = dir.uid == who.uid;
            let writes = !dir.read_only && (owns || dir.permission(who, WRITE | SEARCH).is_some());
            let kept_by_sticky = dir.sticky() && !owns && step.entry_uid != who.uid;
            if writes && !kept_by_sticky {
                let how = dir.changeable_by(who).unwrap_or_default();
                return Some(format!("{} can be replaced: {} is {how}", step.entry.display(), step.dir.display()));
            }
            reachable = dir.permission(who, SEARCH).is_some();
        }
        if !reachable {
            return None;
        }
        self.node.changeable_by(who).map(|how| format!("{} is {how}", self.path.display()))
    }
}

/// What the entrypoint will do to a directory tree before the server starts, so that the
/// decision taken before it (the preflight) judges the files as the server will find them.
#[derive(Clone, Debug)]
pub enum Give {
    /// chown to the server's user, as the official script's `chown -R` (the data and the logs).
    Owner { uid: u32, gid: u32 },
    /// Readable by the server, changeable by no one but root (the configuration): each entry
    /// that is not already becomes root's, the server's group's, with group read and no group
    /// or other write.
    ReadOnlyTo(Identity),
}

impl Give {
    /// What `node` becomes (uid, gid, mode, ACL), or None when it is left as it is.
    pub fn apply(&self, node: &Node) -> Option<Node> {
        match self {
            Give::Owner { uid, gid } => {
                if (node.uid, node.gid) == (*uid, *gid) {
                    return None;
                }
                let mut changed = node.clone();
                (changed.uid, changed.gid) = (*uid, *gid);
                // chown clears set-user-ID, and set-group-ID where it means "run as the group".
                if node.mode & libc::S_IFMT == libc::S_IFREG {
                    let clear = libc::S_ISUID | if node.mode & 0o010 != 0 { libc::S_ISGID } else { 0 };
                    changed.mode &= !clear;
                }
                Some(changed)
            }
            Give::ReadOnlyTo(server) => {
                let mut changed = node.clone();
                if node.is_symlink() || !(node.is_dir() || node.mode & libc::S_IFMT == libc::S_IFREG) {
                    // A link's own bits mean nothing; a FIFO or socket is not configuration.
                    // Their owner only counts in a sticky directory: not the server's.
                    if node.uid != server.uid {
                        return None;
                    }
                    changed.uid = 0;
                    return Some(changed);
                }
                let settled = node.uid != server.uid
                    && node.changeable_by(server).is_none()
                    && node.changeable_by(&anyone()).is_none()
                    && node.readable_by(server);
                if settled {
                    return None;
                }
                (changed.uid, changed.gid) = (0, server.gid);
                // A directory keeps set-group-ID (new entries inherit its group); a file loses
                // both set-id bits, as the chown itself clears them.
                let (kept, search) = if node.is_dir() { (0o3755, 0o010) } else { (0o0755, 0) };
                changed.chmod((node.mode & kept & !0o022) | 0o040 | search);
                Some(changed)
            }
        }
    }
}

/// The entrypoint's planned changes: each tree and what it is given.
#[derive(Clone, Debug, Default)]
pub struct Plan(pub Vec<(PathBuf, Give)>);

impl Plan {
    /// The configuration's changes ([`Give::ReadOnlyTo`]), and the rest.
    pub fn split_read_only(&self) -> (Plan, Plan) {
        let (read_only, rest) = self.0.iter().cloned().partition(|(_, give)| matches!(give, Give::ReadOnlyTo(_)));
        (Plan(read_only), Plan(rest))
    }

    /// `path` as it will be once the plan is carried out. `reaches`: whether the walk that
    /// carries out a tree's change reaches `path` (it does not enter other mounts, follow links,
    /// or change hard-linked files).
    pub fn lookup(&self, path: &Path, reaches: &dyn Fn(&Path, &Path) -> bool) -> std::io::Result<Node> {
        let node = Node::of(path)?;
        for (top, give) in &self.0 {
            if path.starts_with(top) && reaches(top, path) {
                return Ok(give.apply(&node).unwrap_or(node));
            }
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(uid: u32, gid: u32, groups: &[u32]) -> Identity {
        Identity { name: None, home: None, uid, gid, groups: groups.to_vec() }
    }

    fn file(uid: u32, gid: u32, mode: u32) -> Node {
        Node { uid, gid, mode: libc::S_IFREG | mode, acl: None, read_only: false, modified: (0, 0) }
    }

    fn acl(entries: &[(u16, u16, u32)]) -> Vec<u8> {
        let mut bytes = 2u32.to_le_bytes().to_vec();
        for (tag, perm, id) in entries {
            bytes.extend_from_slice(&tag.to_le_bytes());
            bytes.extend_from_slice(&perm.to_le_bytes());
            bytes.extend_from_slice(&id.to_le_bytes());
        }
        bytes
    }

    #[test]
    fn mode_bits_as_the_kernel_reads_them() {
        let server = who(100, 1000, &[1000, 2000]);
        // The owner's bits alone for the owner, even where others' would grant more.
        assert_eq!(file(100, 0, 0o066).permission(&server, READ), None);
        assert!(file(100, 0, 0o444).changeable_by(&server).unwrap().contains("can chmod"));
        assert_eq!(file(0, 2000, 0o664).permission(&server, WRITE), Some(Grant::Group(2000)), "a supplementary group");
        // A member of the file's group gets the group's bits, not the others'.
        assert_eq!(file(0, 1000, 0o606).permission(&server, WRITE), None);
        assert_eq!(file(0, 0, 0o646).permission(&server, WRITE), Some(Grant::Others));
        assert_eq!(file(0, 0, 0o644).changeable_by(&server), None);
        let mut read_only = file(100, 1000, 0o644);
        read_only.read_only = true;
        assert_eq!(read_only.changeable_by(&server), None, "a read-only mount: no write, no chmod");
        // OpenShift: group 0 is the kernel's group 0 like any other.
        let openshift = who(1000680000, 0, &[0]);
        assert_eq!(file(0, 0, 0o664).permission(&openshift, WRITE), Some(Grant::Group(0)));
    }

    #[test]
    fn acls_as_posix_acl_permission_reads_them() {
        let server = who(4321, 1000, &[1000]);
        // setfacl -m u:4321:rw on a root 0644 file: the mask (rw) lets it write.
        let named =
            acl(&[(0x01, 6, u32::MAX), (0x02, 6, 4321), (0x04, 4, u32::MAX), (0x10, 6, u32::MAX), (0x20, 4, u32::MAX)]);
        let mut node = file(0, 0, 0o664);
        node.acl = Acl::decode(&named);
        assert_eq!(node.permission(&server, WRITE), Some(Grant::NamedUser(4321)));
        // chmod g-w sets the mask to r: the named entry no longer writes.
        node.chmod(0o644);
        assert_eq!(node.permission(&server, WRITE), None);
        assert_eq!(node.permission(&server, READ), Some(Grant::NamedUser(4321)));
        // A named group grants; a matching group that does not grant denies (no fall to others).
        let groups = acl(&[(0x01, 6, 0), (0x04, 0, 0), (0x08, 6, 1000), (0x10, 7, 0), (0x20, 6, 0)]);
        let mut node = file(0, 0, 0o676);
        node.acl = Acl::decode(&groups);
        assert_eq!(node.permission(&server, WRITE), Some(Grant::NamedGroup(1000)));
        let denies = acl(&[(0x01, 6, 0), (0x04, 0, 0), (0x08, 0, 1000), (0x10, 7, 0), (0x20, 6, 0)]);
        node.acl = Acl::decode(&denies);
        assert_eq!(node.permission(&server, WRITE), None);
        assert_eq!(node.permission(&anyone(), WRITE), Some(Grant::Others));
        assert_eq!(Acl::decode(&[1, 0, 0, 0]), None, "version 1 is not the kernel's");
        assert_eq!(Acl::decode(&named[..11]), None, "a cut entry");
    }

    #[test]
    fn the_config_give_leaves_every_entry_readable_and_unchangeable() {
        let server = who(100, 1000, &[1000]);
        let give = Give::ReadOnlyTo(server.clone());
        let dir = |uid, gid, mode| Node { mode: libc::S_IFDIR | mode, ..file(uid, gid, 0) };
        for node in [
            file(100, 1000, 0o640),
            file(0, 0, 0o600),
            file(0, 1000, 0o660),
            file(5, 5, 0o666),
            dir(100, 1000, 0o750),
            dir(0, 0, 0o700),
        ] {
            let after = give.apply(&node).expect("changed");
            assert!(after.readable_by(&server), "{}", after.describe());
            assert_eq!(after.changeable_by(&server), None, "{}", after.describe());
            assert_eq!(after.changeable_by(&anyone()), None, "{}", after.describe());
            assert_eq!(give.apply(&after), None, "settled once given: {}", after.describe());
        }
        // Already settled: a root-owned ConfigMap, a host user's 0644 file, the image's root:1000 0750.
        for node in [file(0, 0, 0o644), file(1000, 1000, 0o644), dir(0, 1000, 0o750)] {
            assert_eq!(give.apply(&node), None, "{}", node.describe());
        }
    }
}
