//! `cp SRC DST`, `touch FILE`, and the two ways sh writes a file: in place and atomically (`sed
//! -i`), and as a redirection's target (`> FILE`). A file is never written through a symlink
//! (O_NOFOLLOW on its last component), a source is read only when it is a regular file, and reads
//! are bounded.

use super::Io;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The largest file `cp`, `sed` and `grep` read: configuration files, not data.
pub const MAX_FILE: u64 = 16 << 20;

/// Opens `path` for reading, following symlinks (a Kubernetes ConfigMap file is one), without
/// blocking on a FIFO; only a regular file is accepted.
pub fn open_regular(path: &Path) -> Result<File, String> {
    crate::sys::regular_file::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => format!("{}: {e}, not a regular file", path.display()),
        _ => format!("{}: {e}", path.display()),
    })
}

/// The whole of a regular file, at most [`MAX_FILE`] bytes; also its mode.
pub fn read_regular(path: &Path) -> Result<(Vec<u8>, u32), String> {
    let file = open_regular(path)?;
    let mode = file.metadata().map(|m| m.mode() & 0o7777).unwrap_or(0o644);
    let bytes =
        crate::sys::regular_file::read_bounded(file, MAX_FILE).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((bytes, mode))
}

/// Opens `path` for writing, created with `mode` (under the umask) or truncated, never through a
/// symlink.
fn create_or_truncate(path: &Path, mode: u32) -> Result<File, String> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => format!("{}: a symlink: not written through", path.display()),
            _ => format!("{}: {e}", path.display()),
        })
}

/// `> FILE`: the producer's whole output, written once it has succeeded; created 0600 (under the
/// umask), so that a secret decoded into it is the user's alone.
pub fn write_redirect(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = create_or_truncate(path, 0o600)?;
    file.write_all(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Replaces `path` with `bytes` atomically: a new file beside it (same mode), synced, renamed
/// over it. A reader sees the old text or the new one, never half of it.
pub fn replace_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let name = path.file_name().ok_or_else(|| format!("{}: not a file name", path.display()))?;
    let mut temporary_name = std::ffi::OsString::from(".");
    temporary_name.push(name);
    temporary_name.push(format!(".hardinit-{:016x}", crate::sys::process::random_u64()));
    let temporary = path.with_file_name(temporary_name);
    let result = (|| -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        format!("{}: {e}", path.display())
    })
}

pub fn cp(args: &[String], io: &mut Io) -> i32 {
    let (source, target) = match args {
        [source, target] if !source.starts_with('-') && !target.starts_with('-') => {
            (Path::new(source), Path::new(target))
        }
        _ => return io.fail("cp", 2, "usage: cp SOURCE TARGET (no option, one source)"),
    };
    let target: PathBuf = match std::fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => target.join(source.file_name().unwrap_or_default()),
        _ => target.to_path_buf(),
    };
    let copied = (|| {
        let mut from = open_regular(source)?;
        let mode = from.metadata().map(|m| m.mode() & 0o777).unwrap_or(0o644);
        let mut to = create_or_truncate(&target, mode)?;
        std::io::copy(&mut (&mut from).take(MAX_FILE + 1), &mut to).map_err(|e| format!("{}: {e}", target.display()))
    })();
    match copied {
        Ok(n) if n > MAX_FILE => io.fail("cp", 1, format!("{}: larger than {} MiB", source.display(), MAX_FILE >> 20)),
        Ok(_) => 0,
        Err(e) => io.fail("cp", 1, e),
    }
}

pub fn touch(args: &[String], io: &mut Io) -> i32 {
    if args.is_empty() || args.iter().any(|a| a.starts_with('-')) {
        return io.fail("touch", 2, "usage: touch FILE... (no option)");
    }
    let mut status = 0;
    for path in args.iter().map(Path::new) {
        let touched = OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(path)
            .and_then(|file| file.set_modified(std::time::SystemTime::now()));
        if let Err(e) = touched {
            status = io.fail("touch", 1, format!("{}: {e}", path.display()));
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::super::testing::run_builtin;
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hardinit-sh-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn cp_copies_through_a_source_link_never_onto_a_target_link() {
        let dir = scratch("cp");
        std::fs::write(dir.join("real"), "config").unwrap();
        std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
        let (from, to) = (dir.join("link"), dir.join("copy"));
        assert_eq!(run_builtin("cp", &[from.to_str().unwrap(), to.to_str().unwrap()], b"").0, 0);
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "config");
        std::fs::write(dir.join("victim"), "keep").unwrap();
        std::os::unix::fs::symlink(dir.join("victim"), dir.join("trap")).unwrap();
        let (status, _, err) = run_builtin("cp", &[from.to_str().unwrap(), dir.join("trap").to_str().unwrap()], b"");
        assert_eq!(status, 1, "{err}");
        assert!(err.contains("a symlink"), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join("victim")).unwrap(), "keep");
        assert_eq!(run_builtin("cp", &["-r", "a", "b"], b"").0, 2);
        assert_eq!(run_builtin("cp", &["/dev/null", to.to_str().unwrap()], b"").0, 1, "not a regular file");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn replace_is_atomic_and_keeps_the_mode() {
        let dir = scratch("replace");
        let file = dir.join("f");
        std::fs::write(&file, "old").unwrap();
        replace_atomically(&file, b"new", 0o640).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn redirect_and_touch_create_without_following() {
        let dir = scratch("redirect");
        write_redirect(&dir.join("out"), b"secret").unwrap();
        assert_eq!(std::fs::metadata(dir.join("out")).unwrap().mode() & 0o077, 0, "private");
        std::os::unix::fs::symlink(dir.join("elsewhere"), dir.join("link")).unwrap();
        assert!(write_redirect(&dir.join("link"), b"x").is_err());
        assert!(!dir.join("elsewhere").exists());
        assert_eq!(run_builtin("touch", &[dir.join("t").to_str().unwrap()], b"").0, 0);
        assert!(dir.join("t").exists());
        assert_eq!(run_builtin("touch", &[dir.join("link").to_str().unwrap()], b"").0, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
