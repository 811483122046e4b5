//! The race harness: for each check-then-act pair in hardinit's privileged code, the window
//! between the check and the act is widened (strace's syscall fault injection delays the return
//! of every statx and openat) while a racer exchanges names in the volume with renameat2
//! RENAME_EXCHANGE, and nothing outside the volume may change.
//!
//! The static hardinit runs as the image's docker-entrypoint.sh, as root, in a PID and mount
//! namespace chrooted into a root filesystem laid out as the image (vault 100:1000). Each pair the
//! racer exchanges is a symlink and a hard link to a file outside the volume (same filesystem):
//! judged by the link's name and then changed by the same name, the outside file would change
//! owner (to vault in /vault/file; to root in /vault/config, taking the server's own file away).

// The racer calls renameat2 itself: the library wraps no exchange, since hardinit never makes one.
#![allow(unsafe_code)]

mod common;

use common::runc::{GROUP, PASSWD};
use common::*;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Symlink/hard-link pairs in each of the two walked trees.
const PAIRS: usize = 25;
/// Device node/symlink pairs in /vault/file.
const DEVICES: usize = 10;
/// How long strace holds every statx and openat of the walk before it returns, in microseconds.
const DELAY_US: u64 = 20_000;

fn c_path(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

/// renameat2(RENAME_EXCHANGE): both names stay, their inodes trade places atomically.
fn exchange(a: &CString, b: &CString) -> bool {
    // SAFETY: both paths are NUL-terminated and live for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    rc == 0
}

fn ownership(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid(), m.mode() & 0o7777)
}

/// `count` pairs in `dir`: `link-N`, a symlink (owner `link_owner`), and `hard-N`, a hard link to
/// `outside`.
fn plant_pairs(dir: &Path, outside: &Path, link_owner: (u32, u32), count: usize) -> Vec<(CString, CString)> {
    std::fs::create_dir(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    (0..count)
        .map(|n| {
            let (link, hard) = (dir.join(format!("link-{n}")), dir.join(format!("hard-{n}")));
            std::os::unix::fs::symlink("/etc/target", &link).unwrap();
            std::os::unix::fs::lchown(&link, Some(link_owner.0), Some(link_owner.1)).unwrap();
            std::fs::hard_link(outside, &hard).unwrap();
            (c_path(&link), c_path(&hard))
        })
        .collect()
}

fn write_file(path: &Path, text: &str, owner: (u32, u32), mode: u32) {
    std::fs::write(path, text).unwrap();
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1)).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Whether the race harness can run here: root, unshare and strace (a skip, or with
/// HARDINIT_REQUIRE_PRIVILEGED=1 a failure, otherwise).
fn can_run() -> bool {
    if !privileged(false) {
        return false;
    }
    if Command::new("strace").arg("-V").stdout(Stdio::null()).status().is_err() {
        assert_ne!(std::env::var("HARDINIT_REQUIRE_PRIVILEGED").as_deref(), Ok("1"), "strace is missing");
        eprintln!("SKIPPED: strace is missing (scripts/setup.sh installs it)");
        return false;
    }
    true
}

/// A root filesystem laid out as the image: the static hardinit as docker-entrypoint.sh and
/// /bin/sh, a `vault` that exits at once, vault 100:1000, root's /vault/{config,file,logs}.
fn image_root(scratch: &Scratch) -> PathBuf {
    let root = scratch.path("rootfs");
    for dir in ["bin", "usr/local/bin", "etc", "proc", "home/vault", "vault/config", "vault/file", "vault/logs"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    install(&static_hardinit(), &root.join("usr/local/bin/hardinit"), 0o755);
    std::os::unix::fs::symlink("hardinit", root.join("usr/local/bin/docker-entrypoint.sh")).unwrap();
    std::os::unix::fs::symlink("/usr/local/bin/hardinit", root.join("bin/sh")).unwrap();
    write_file(&root.join("bin/vault"), "#!/bin/sh\nexit 0\n", (0, 0), 0o755);
    write_file(&root.join("etc/passwd"), PASSWD, (0, 0), 0o644);
    write_file(&root.join("etc/group"), GROUP, (0, 0), 0o644);
    root
}

/// `docker-entrypoint.sh version` as root in a PID and mount namespace chrooted into `root`,
/// started through `wrapper` (strace and its options, say); its output and how long it took.
fn run_entrypoint(root: &Path, wrapper: &[&str]) -> (std::process::Output, Duration) {
    let proc_mount = format!("--mount-proc={}", root.join("proc").display());
    let began = Instant::now();
    let out = command(wrapper[0])
        .env_remove("HARDINIT_USER")
        .args(&wrapper[1..])
        .args(["unshare", "--pid", "--fork", "--kill-child", &proc_mount])
        .args(["/usr/bin/env", "PATH=/bin:/usr/local/bin", "/usr/sbin/chroot"])
        .arg(root)
        .args(["/usr/local/bin/docker-entrypoint.sh", "version"])
        .output()
        .unwrap();
    (out, began.elapsed())
}

#[test]
fn a_name_exchanged_between_check_and_act_changes_nothing_outside_the_volume() {
    if !can_run() {
        return;
    }
    let scratch = Scratch::new("race");
    let root = image_root(&scratch);
    // Outside the volumes: root's file, and the server's own (a file the configuration walk would
    // hand to root through a swapped name).
    let target = root.join("etc/target");
    write_file(&target, "root's", (0, 0), 0o644);
    let own = root.join("home/vault/own");
    write_file(&own, "vault's", (100, 1000), 0o600);
    let mut pairs = plant_pairs(&root.join("vault/file/race"), &target, (0, 0), PAIRS);
    pairs.extend(plant_pairs(&root.join("vault/config/race"), &own, (100, 1000), PAIRS));
    // Device nodes in the volume (a root-made one a user can rename) are left alone: a device
    // swapped in for a judged symlink must not be chowned either.
    let devices = root.join("vault/file/devices");
    std::fs::create_dir(&devices).unwrap();
    std::fs::set_permissions(&devices, std::fs::Permissions::from_mode(0o777)).unwrap();
    for n in 0..DEVICES {
        let (link, device) = (devices.join(format!("link-{n}")), devices.join(format!("device-{n}")));
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let made = Command::new("mknod").args(["-m", "0644"]).arg(&device).args(["c", "1", "3"]).status();
        assert!(made.unwrap().success(), "mknod {}", device.display());
        pairs.push((c_path(&link), c_path(&device)));
    }
    let outside: Vec<(PathBuf, (u32, u32, u32))> =
        [target.clone(), own.clone(), root.join("etc"), root.join("home/vault")]
            .map(|p| (p.clone(), ownership(&p)))
            .into();

    let stop = Arc::new(AtomicBool::new(false));
    let exchanges = Arc::new(AtomicU64::new(0));
    let racer = {
        let (stop, exchanges) = (stop.clone(), exchanges.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for (link, hard) in &pairs {
                    if exchange(link, hard) {
                        exchanges.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let delay = format!("inject=statx,openat:delay_exit={DELAY_US}");
    let strace = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=statx,openat", "-e", &delay, "--"];
    let (out, elapsed) = run_entrypoint(&root, &strace);
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let exchanged = exchanges.load(Ordering::Relaxed);
    eprintln!(
        "race: {PAIRS} pairs in each of 2 trees and {DEVICES} device pairs, statx and openat held {DELAY_US} us each, {exchanged} exchanges in {elapsed:?}"
    );
    for line in stderr.lines().filter(|l| l.contains("/vault/file: ") || l.contains("/vault/config: ")) {
        eprintln!("race: {line}");
    }
    assert!(stderr.contains("/vault/file: ") && stderr.contains("given to 100:1000"), "the walk ran: {stderr}");
    // Every entry of the race's two directories was looked at with the window held open.
    let windows = Duration::from_micros(DELAY_US) * (4 * PAIRS + 2 * DEVICES) as u32;
    assert!(elapsed >= windows, "the windows were widened ({elapsed:?} < {windows:?}): {stderr}");
    assert!(exchanged > 1000, "the racer ran ({exchanged} exchanges)");
    for (path, was) in &outside {
        assert_eq!(
            &ownership(path),
            was,
            "{}: outside the volume, changed through a swapped name: {stderr}",
            path.display()
        );
    }
    // Whichever name a device ends up under, it is still root's.
    for entry in std::fs::read_dir(&devices).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().file_type().is_char_device() {
            assert_eq!(
                ownership(&path),
                (0, 0, 0o644),
                "{}: a device node changed through a swapped name",
                path.display()
            );
        }
    }
}

/// Runs its arguments under a seccomp filter that answers fchmodat2 (452 on x86_64) ENOSYS, as a
/// kernel before 6.6 does (Debian 12's strace does not know the call by number or name).
const WITHOUT_FCHMODAT2: &str = r#"
import ctypes, os, struct, sys
ALLOW, ENOSYS = 0x7FFF0000, 0x00050000 | 38
program = [
    (0x20, 0, 0, 4), (0x15, 0, 3, 0xC000003E),   # arch != x86_64: allow
    (0x20, 0, 0, 0), (0x15, 0, 1, 452),          # nr == fchmodat2: ENOSYS
    (0x06, 0, 0, ENOSYS), (0x06, 0, 0, ALLOW),
]
code = b"".join(struct.pack("HBBI", *op) for op in program)
buffer = ctypes.create_string_buffer(code)
fprog = struct.pack("HxxxxxxQ", len(program), ctypes.addressof(buffer))
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) != 0:
    sys.exit("seccomp: " + os.strerror(ctypes.get_errno()))
os.execvp(sys.argv[1], sys.argv[1:])
"#;

/// Where the kernel has no fchmodat2 (before Linux 6.6), a regular file's mode is changed
/// through the inode reopened by /proc/self/fd, the one that was judged: the configuration's
/// root-only file still becomes readable by the server's group.
#[test]
fn without_fchmodat2_the_mode_is_changed_through_the_judged_descriptor() {
    if !privileged(false) || std::env::consts::ARCH != "x86_64" || emulated() {
        return;
    }
    let scratch = Scratch::new("race-chmod");
    let root = image_root(&scratch);
    let file = root.join("vault/config/server.hcl");
    write_file(&file, "ui = true\n", (0, 0), 0o600);
    let (out, _) = run_entrypoint(&root, &[PYTHON, "-c", WITHOUT_FCHMODAT2]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(ownership(&file), (0, 1000, 0o640), "{stderr}");
    assert!(stderr.contains("/vault/config: 1 entry made readable"), "{stderr}");
}
