//! /etc/passwd and /etc/group, parsed by hardinit itself: the binary is static and the image has
//! no C library, so there is no NSS to ask. Strict: a malformed line anywhere is an error, because
//! a file we cannot fully read is a file we cannot trust to say who `vault` is.

use std::collections::HashMap;
use std::path::Path;

/// Longest line accepted: far beyond any real entry, short of a file built to exhaust memory.
const MAX_LINE: usize = 64 * 1024;
/// Largest file accepted.
pub const MAX_FILE: u64 = 4 * 1024 * 1024;

/// The bytes of /etc/passwd or /etc/group, read as every file hardinit reads: a regular file
/// only (a FIFO would block the start, with every signal blocked), at most [`MAX_FILE`] bytes
/// counted as read (the size a device such as /dev/zero reports is 0, and it never ends).
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    use crate::sys::regular_file;
    regular_file::open(path).and_then(|file| regular_file::read_bounded(file, MAX_FILE))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// Who the server runs as: uid, primary gid, supplementary groups (sorted, primary included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub name: Option<String>,
    /// The home directory /etc/passwd gives, for HOME after a change of user.
    pub home: Option<String>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

fn lines<'a>(file: &str, text: &'a [u8], fields: usize) -> Result<Vec<(usize, Vec<&'a str>)>, String> {
    let mut out = Vec::new();
    for (index, raw) in text.split(|b| *b == b'\n').enumerate() {
        let number = index + 1;
        if raw.len() > MAX_LINE {
            return Err(format!("{file} line {number} is longer than {MAX_LINE} bytes"));
        }
        if raw.contains(&0) {
            return Err(format!("{file} line {number} contains a NUL byte"));
        }
        let line = std::str::from_utf8(raw).map_err(|_| format!("{file} line {number} is not UTF-8"))?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split(':').collect();
        if parts.len() != fields {
            return Err(format!("{file} line {number} has {} fields, not {fields}", parts.len()));
        }
        if parts[0].is_empty() || parts[0].starts_with(['+', '-']) {
            return Err(format!("{file} line {number}: bad name {:?}", parts[0]));
        }
        out.push((number, parts));
    }
    Ok(out)
}

/// A user or group id: decimal, below 2^32 - 1 ((uid_t)-1 means "unchanged" to the kernel).
fn id(file: &str, number: usize, text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(v) if v != u32::MAX && !text.starts_with('+') => Ok(v),
        _ => Err(format!("{file} line {number}: bad id {text:?}")),
    }
}

pub fn parse_passwd(text: &[u8]) -> Result<Vec<User>, String> {
    let mut seen = HashMap::new();
    let mut users = Vec::new();
    for (number, f) in lines("/etc/passwd", text, 7)? {
        if let Some(first) = seen.insert(f[0], number) {
            return Err(format!("/etc/passwd lists user {} twice (lines {first} and {number})", f[0]));
        }
        users.push(User {
            name: f[0].to_string(),
            uid: id("/etc/passwd", number, f[2])?,
            gid: id("/etc/passwd", number, f[3])?,
            home: f[5].to_string(),
        });
    }
    Ok(users)
}

pub fn parse_group(text: &[u8]) -> Result<Vec<Group>, String> {
    let mut seen = HashMap::new();
    let mut groups = Vec::new();
    for (number, f) in lines("/etc/group", text, 4)? {
        if let Some(first) = seen.insert(f[0], number) {
            return Err(format!("/etc/group lists group {} twice (lines {first} and {number})", f[0]));
        }
        let members = f[3].split(',').filter(|m| !m.is_empty()).map(str::to_string).collect();
        groups.push(Group { name: f[0].to_string(), gid: id("/etc/group", number, f[2])?, members });
    }
    Ok(groups)
}

/// Resolves `--user`: `NAME`, `UID`, `NAME:GROUP`, `UID:GID` (a group by name or number).
/// A uid that /etc/passwd does not list needs an explicit group: never a silent gid 0.
pub fn resolve(spec: &str, users: &[User], groups: &[Group]) -> Result<Identity, String> {
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = match user_part.parse::<u32>() {
        Ok(uid) => users.iter().find(|u| u.uid == uid),
        Err(_) => Some(users.iter().find(|u| u.name == user_part).ok_or_else(|| {
            format!("user {user_part:?} is not in /etc/passwd; fix: add it to the image or give --user UID:GID")
        })?),
    };
    let uid = match (entry, user_part.parse::<u32>()) {
        (Some(u), _) => u.uid,
        (None, Ok(uid)) if uid != u32::MAX => uid,
        _ => return Err(format!("--user {spec:?}: bad user id")),
    };
    let gid = match group_part {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) if gid != u32::MAX => gid,
            _ => groups.iter().find(|gr| gr.name == g).map(|gr| gr.gid).ok_or_else(|| {
                format!("group {g:?} is not in /etc/group; fix: add it to the image or give a numeric gid")
            })?,
        },
        None => match entry {
            Some(u) => {
                if !groups.iter().any(|g| g.gid == u.gid) {
                    return Err(format!(
                        "user {} has primary group {}, which /etc/group does not list; fix: add the group to the image",
                        u.name, u.gid
                    ));
                }
                u.gid
            }
            None => {
                return Err(format!(
                    "uid {uid} is not in /etc/passwd, so its group is unknown; fix: give it as --user {uid}:GID"
                ));
            }
        },
    };
    let name = entry.map(|u| u.name.clone());
    let mut ids: Vec<u32> = groups
        .iter()
        .filter(|g| name.as_ref().is_some_and(|n| g.members.iter().any(|m| m == n)))
        .map(|g| g.gid)
        .chain([gid])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let home = entry.map(|u| u.home.clone()).filter(|h| !h.is_empty());
    Ok(Identity { name, home, uid, gid, groups: ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &[u8] = b"root:x:0:0:root:/root:/bin/sh\nvault:x:100:1000:Vault:/home/vault:/sbin/nologin\n\n# comment\nops:x:200:2000::/:/bin/false\n";
    const GROUP: &[u8] = b"root:x:0:\nvault:x:1000:vault\naudit:x:3000:ops,vault\nops:x:2000:\n";

    fn parsed() -> (Vec<User>, Vec<Group>) {
        (parse_passwd(PASSWD).unwrap(), parse_group(GROUP).unwrap())
    }

    #[test]
    fn resolves_names_and_membership() {
        let (u, g) = parsed();
        let vault = resolve("vault", &u, &g).unwrap();
        let home = Some("/home/vault".to_string());
        assert_eq!(vault, Identity { name: Some("vault".into()), home, uid: 100, gid: 1000, groups: vec![1000, 3000] });
        assert_eq!(resolve("100", &u, &g).unwrap(), vault);
        let explicit = resolve("100:2000", &u, &g).unwrap();
        assert_eq!((explicit.uid, explicit.gid, explicit.groups), (100, 2000, vec![1000, 2000, 3000]));
        assert_eq!(resolve("vault:ops", &u, &g).unwrap().gid, 2000);
        let unknown = resolve("4242:4242", &u, &g).unwrap();
        assert_eq!(unknown, Identity { name: None, home: None, uid: 4242, gid: 4242, groups: vec![4242] });
    }

    #[test]
    fn never_falls_back_to_group_zero() {
        let (u, g) = parsed();
        let e = resolve("4242", &u, &g).unwrap_err();
        assert!(e.contains("--user 4242:GID"), "{e}");
        assert!(resolve("nobody", &u, &g).unwrap_err().contains("not in /etc/passwd"));
        assert!(resolve("vault:nogroup", &u, &g).unwrap_err().contains("not in /etc/group"));
        assert!(resolve("4294967295:1", &u, &g).is_err());
        let orphan = parse_passwd(b"lonely:x:300:3333::/:/x\n").unwrap();
        assert!(resolve("lonely", &orphan, &g).unwrap_err().contains("primary group 3333"));
    }

    #[test]
    fn hostile_files_are_refused_with_the_line() {
        let cases: [(&[u8], &str); 9] = [
            (b"vault:x:100:1000:/home:/bin/sh\n", "line 1 has 6 fields"),
            (b"vault:x:100:1000::/:/bin/sh:extra\n", "8 fields"),
            (b"ok:x:1:1::/:/x\nvault:x:99999999999:1::/:/x\n", "line 2: bad id"),
            (b"vault:x:-1:1::/:/x\n", "bad id"),
            (b"vault:x:4294967295:1::/:/x\n", "bad id"),
            (b"vault:x:100:1000::/:/x\nvault:x:0:0::/:/x\n", "twice (lines 1 and 2)"),
            (b"vault:x:100:1000::/:/x\0\n", "NUL byte"),
            (b"+vault:x:100:1000::/:/x\n", "bad name"),
            (b"\xff:x:1:1::/:/x\n", "not UTF-8"),
        ];
        for (text, expected) in cases {
            let e = parse_passwd(text).unwrap_err();
            assert!(e.contains(expected), "{:?}: {e}", String::from_utf8_lossy(text));
            assert!(!e.contains('\n'));
        }
        let mut huge = b"vault:x:100:1000::/:".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 1 << 20));
        assert!(parse_passwd(&huge).unwrap_err().contains("longer than"));
        assert!(parse_group(b"vault:x:1000\n").unwrap_err().contains("3 fields"));
        assert!(parse_group(b"a:x:1:\na:x:2:\n").unwrap_err().contains("twice"));
        assert!(parse_group(b":x:1:\n").unwrap_err().contains("bad name"));
    }

    #[test]
    fn only_a_bounded_regular_file_is_read() {
        let dir = std::env::temp_dir().join(format!("hardinit-accounts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("group");
        let _ = std::fs::remove_file(&fifo);
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read(&fifo).unwrap_err();
        assert!(e.to_string().contains("a FIFO"), "{e}");
        assert!(read(Path::new("/dev/zero")).unwrap_err().to_string().contains("a device"));
        let big = dir.join("passwd");
        std::fs::write(&big, vec![b'\n'; MAX_FILE as usize + 1]).unwrap();
        assert!(read(&big).unwrap_err().to_string().contains("larger than 4 MiB"));
        std::fs::write(&big, PASSWD).unwrap();
        assert_eq!(read(&big).unwrap(), PASSWD);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
