//! `cp SRC DST`, `touch FILE`, and the two ways sh writes a file: in place and atomically (`sed
//! -i`), and as a redirection's target (`> FILE`). A file is never written through a symlink, in
//! any component of its path (src/sys/nofollow.rs), a source is read only when it is a regular
//! file, and reads are bounded.

use super::Io;
use crate::sys::nofollow::{self, Parent};
use std::ffi::CString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The largest file `cp` copies and `base64 -d` reads: configuration files, not data.
pub const MAX_FILE: u64 = 16 << 20;

/// Opens `path` for reading, following symlinks (a Kubernetes ConfigMap file is one), without
/// blocking on a FIFO; only a regular file is accepted.
pub fn open_regular(path: &Path) -> Result<File, String> {
    crate::sys::regular_file::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => format!("{}: {e}, not a regular file", path.display()),
        _ => format!("{}: {e}", path.display()),
    })
}

/// The permission bits of an open file.
pub fn mode_of(file: &File) -> u32 {
    file.metadata().map(|m| m.mode() & 0o7777).unwrap_or(0o644)
}

/// A failed write: status 2 where a symlink was met (hardinit refuses), 1 otherwise.
pub struct Failed(pub i32, pub String);

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed(1, message)
    }
}

/// Where only the message is kept (the unit tests), the status is dropped.
impl From<Failed> for String {
    fn from(Failed(_, message): Failed) -> String {
        message
    }
}

fn failed(path: &Path, e: std::io::Error) -> Failed {
    Failed(if nofollow::is_refusal(&e) { 2 } else { 1 }, format!("{}: {e}", path.display()))
}

fn parent_of(path: &Path) -> Result<Parent, Failed> {
    nofollow::parent(path).map_err(|e| failed(path, e))
}

/// Whether an open file may be written as a script's output: a regular file, or /dev/null (a
/// FIFO, a terminal or another device is refused: a FIFO nobody reads would hold the script,
/// PID 1 maybe, forever).
fn writable_target(path: &Path, file: &File) -> Result<(), Failed> {
    let meta = file.metadata().map_err(|e| failed(path, e))?;
    let null = std::fs::metadata("/dev/null").is_ok_and(|n| n.rdev() == meta.rdev() && n.dev() == meta.dev());
    if meta.is_file() || (meta.file_type().is_char_device() && null) {
        return Ok(());
    }
    Err(Failed(2, format!("{}: not a regular file (nor /dev/null): refused", path.display())))
}

/// Opens `path` for writing, created with `mode` (under the umask) if missing, never through a
/// symlink, never blocking (O_NONBLOCK: a FIFO without a reader fails at once, one with a reader
/// is refused), a regular file or /dev/null only; not truncated (the caller decides when).
fn open_for_writing(path: &Path, mode: u32, truncate: bool) -> Result<File, Failed> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_NONBLOCK | if truncate { libc::O_TRUNC } else { 0 };
    // O_TRUNC is applied by open(2) to a FIFO or a device as nothing, so the check after it is
    // in time.
    let file = parent_of(path)?.open(flags, mode).map_err(|e| match e.raw_os_error() {
        Some(libc::ENXIO) => Failed(2, format!("{}: a FIFO (not a regular file): refused", path.display())),
        _ => failed(path, e),
    })?;
    writable_target(path, &file)?;
    Ok(file)
}

/// `> FILE`: opened (created 0600 under the umask, so that a secret decoded into it is the
/// user's alone, and emptied) once, before the command runs, as sh opens it; the command's output
/// is written to this same open file after it, never by opening the path again (`cp a f > f`
/// keeps what cp wrote). Err: (status 2 when hardinit refuses the target, the line).
/// `append`: `>> FILE`, neither emptied nor written but at its end.
pub fn open_redirect(path: &Path, append: bool) -> Result<File, (i32, String)> {
    let opened = if append {
        parent_of(path)
            .and_then(|parent| {
                parent.open(libc::O_WRONLY | libc::O_CREAT | libc::O_NONBLOCK | libc::O_APPEND, 0o600).map_err(|e| {
                    match e.raw_os_error() {
                        Some(libc::ENXIO) => {
                            Failed(2, format!("{}: a FIFO (not a regular file): refused", path.display()))
                        }
                        _ => failed(path, e),
                    }
                })
            })
            .and_then(|file| writable_target(path, &file).map(|()| file))
    } else {
        open_for_writing(path, 0o600, true)
    };
    opened.map_err(|Failed(status, why)| (status, why))
}

/// `> FILE` in one step, for tests: opened as [`open_redirect`] does, `bytes` written.
pub fn write_redirect(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = open_redirect(path, false).map_err(|(_, e)| e)?;
    file.write_all(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Replaces `path` atomically with what `write` writes: a new file beside it (created 0600,
/// given `mode` once written), synced, renamed over it. A reader sees the old text or the new
/// one, never half of it; on an error the new file is removed and `path` is untouched.
pub fn replace_atomically<E: From<String> + From<Failed>>(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), E> {
    // A symlink on the way keeps its status 2 (hardinit refuses, and the script ends there).
    let parent = parent_of(path)?;
    let mut temporary = b".".to_vec();
    temporary.extend_from_slice(parent.name().to_bytes());
    temporary.extend_from_slice(format!(".hardinit-{:016x}", crate::sys::process::random_u64()).as_bytes());
    let temporary = CString::new(temporary).map_err(|_| format!("{}: not a file name", path.display()))?;
    let mut file = parent
        .open_sibling(&temporary, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o600)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let result = write(&mut file).and_then(|()| {
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .and_then(|()| file.sync_all())
            .and_then(|()| parent.rename_over(&temporary))
            .map_err(|e| E::from(format!("{}: {e}", path.display())))
    });
    if result.is_err() {
        let _ = parent.remove_sibling(&temporary);
    }
    result
}

/// `cp [-f] SOURCE TARGET`'s operands, options anywhere (busybox's getopt permutes them), or
/// why not: Err((true, why)) for what hardinit refuses, (false, why) for a usage error busybox
/// has too.
fn cp_operands(args: &[String]) -> Result<(&str, &str), (bool, String)> {
    let mut operands = Vec::new();
    let mut options_end = false;
    for arg in args {
        if !options_end && arg == "--" {
            options_end = true;
        } else if !options_end && arg.len() > 1 && arg.starts_with('-') {
            // -f removes a target it cannot open; hardinit opens it as a file or fails, as cp
            // without -f: the same for a file it may write.
            if let Some(other) = arg[1..].chars().find(|c| *c != 'f') {
                return Err((true, format!("-{other} is not supported (only -f is)")));
            }
        } else {
            operands.push(arg.as_str());
        }
    }
    match operands[..] {
        [source, target] => Ok((source, target)),
        [] | [_] => Err((false, "missing file operand".into())),
        _ => Err((true, "several sources are not supported (cp SOURCE TARGET)".into())),
    }
}

pub fn cp_refusal(args: &[String]) -> Option<String> {
    cp_operands(args).err().filter(|(refused, _)| *refused).map(|(_, why)| why)
}

pub fn cp(args: &[String], io: &mut Io) -> i32 {
    let (source, target) = match cp_operands(args) {
        Ok((source, target)) => (Path::new(source), Path::new(target)),
        Err((refused, why)) => return io.fail("cp", if refused { 2 } else { 1 }, why),
    };
    let copied = (|| {
        let mut from = open_regular(source)?;
        let into_directory =
            nofollow::parent(target).is_ok_and(|p| p.is_dir()) || target.as_os_str().as_encoded_bytes().ends_with(b"/");
        let target: PathBuf =
            if into_directory { target.join(source.file_name().unwrap_or_default()) } else { target.to_path_buf() };
        let source_file = from.metadata().map_err(|e| format!("{}: {e}", source.display()))?;
        if source_file.len() > MAX_FILE {
            return Err(Failed(1, format!("{}: larger than {} MiB", source.display(), MAX_FILE >> 20)));
        }
        let mut to = open_for_writing(&target, source_file.mode() & 0o777, false)?;
        let target_file = to.metadata().map_err(|e| failed(&target, e))?;
        // Truncating the target would empty the source: busybox and GNU refuse too.
        if (source_file.dev(), source_file.ino()) == (target_file.dev(), target_file.ino()) {
            return Err(Failed(1, format!("{} and {} are the same file", source.display(), target.display())));
        }
        // Emptied only once known to be another file; a device (`/dev/null`) has no length to cut.
        if target_file.is_file() {
            to.set_len(0).map_err(|e| failed(&target, e))?;
        }
        let copied = std::io::copy(&mut (&mut from).take(MAX_FILE + 1), &mut to).map_err(|e| failed(&target, e))?;
        if copied > MAX_FILE {
            return Err(Failed(1, format!("{}: larger than {} MiB", source.display(), MAX_FILE >> 20)));
        }
        Ok(())
    })();
    match copied {
        Ok(()) => 0,
        Err(Failed(status, e)) => io.fail("cp", status, e),
    }
}

/// `touch [-c] FILE...`: the files and whether to create them, or why not (as in [`cp_operands`]).
fn touch_operands(args: &[String]) -> Result<(Vec<&str>, bool), (bool, String)> {
    let mut operands = Vec::new();
    let mut create = true;
    let mut options_end = false;
    for arg in args {
        if !options_end && arg == "--" {
            options_end = true;
        } else if !options_end && arg.len() > 1 && arg.starts_with('-') {
            for letter in arg[1..].chars() {
                match letter {
                    'c' => create = false,
                    other => return Err((true, format!("-{other} is not supported (only -c is)"))),
                }
            }
        } else {
            operands.push(arg.as_str());
        }
    }
    if operands.is_empty() {
        return Err((false, "missing file operand".into()));
    }
    Ok((operands, create))
}

pub fn touch_refusal(args: &[String]) -> Option<String> {
    touch_operands(args).err().filter(|(refused, _)| *refused).map(|(_, why)| why)
}

pub fn touch(args: &[String], io: &mut Io) -> i32 {
    let (operands, create) = match touch_operands(args) {
        Ok(parsed) => parsed,
        Err((refused, why)) => return io.fail("touch", if refused { 2 } else { 1 }, why),
    };
    let mut status = 0;
    for path in operands.into_iter().map(Path::new) {
        // -c: a missing file stays missing, silently, as in busybox.
        if !create && std::fs::symlink_metadata(path).is_err() {
            continue;
        }
        let touched = parent_of(path).and_then(|parent| {
            let now = std::time::SystemTime::now();
            parent
                .open(libc::O_WRONLY | libc::O_CREAT | libc::O_NONBLOCK, 0o666)
                // A directory cannot be opened for writing; its times are set all the same.
                .or_else(|e| match e.raw_os_error() {
                    Some(libc::EISDIR) => parent.open(libc::O_RDONLY | libc::O_DIRECTORY, 0),
                    _ => Err(e),
                })
                .and_then(|file| file.set_times(std::fs::FileTimes::new().set_accessed(now).set_modified(now)))
                .map_err(|e| failed(path, e))
        });
        if let Err(Failed(code, e)) = touched {
            status = io.fail("touch", code, e);
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
        assert_eq!(status, 2, "{err}");
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
        replace_atomically(&file, 0o640, |out| out.write_all(b"new").map_err(|e| e.to_string())).unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary file left");
        let failed = replace_atomically(&file, 0o600, |out| {
            out.write_all(b"half").map_err(|e| e.to_string())?;
            Err("the input ended badly".to_string())
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new", "untouched on an error");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "the new file removed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn no_component_of_a_written_path_is_followed() {
        let dir = scratch("components");
        std::fs::create_dir(dir.join("real")).unwrap();
        std::os::unix::fs::symlink(dir.join("real"), dir.join("hop")).unwrap();
        let through = dir.join("hop/out");
        let error = write_redirect(&through, b"x").unwrap_err();
        assert!(error.contains("hop is a symlink"), "{error}");
        assert_eq!(run_builtin("touch", &[through.to_str().unwrap()], b"").0, 2);
        std::fs::write(dir.join("source"), "s").unwrap();
        let source = dir.join("source");
        assert_eq!(run_builtin("cp", &[source.to_str().unwrap(), through.to_str().unwrap()], b"").0, 2);
        assert_eq!(run_builtin("cp", &[source.to_str().unwrap(), dir.join("hop/").to_str().unwrap()], b"").0, 2);
        assert_eq!(std::fs::read_dir(dir.join("real")).unwrap().count(), 0, "nothing written through the link");
        write_redirect(&dir.join("real/../real/./out"), b"x").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("real/out")).unwrap(), "x");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn cp_onto_its_own_source_is_refused_and_the_file_kept() {
        let dir = scratch("same");
        let file = dir.join("f");
        std::fs::write(&file, "keep").unwrap();
        std::os::unix::fs::symlink(&file, dir.join("link")).unwrap();
        for source in [file.clone(), dir.join("link")] {
            let (status, _, err) = run_builtin("cp", &[source.to_str().unwrap(), file.to_str().unwrap()], b"");
            assert_eq!(status, 1, "{err}");
            assert!(err.contains("the same file"), "{err}");
            assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
        }
        let (status, _, err) = run_builtin("cp", &[file.to_str().unwrap(), dir.to_str().unwrap()], b"");
        assert_eq!(status, 1, "{err}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
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
        assert_eq!(run_builtin("touch", &[dir.join("link").to_str().unwrap()], b"").0, 2);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
