//! The platforms besides x86_64: scripts/build-static.sh builds each Rust target the official
//! images' platforms map to (README: Platforms) into a static binary, musl where rustup serves its
//! standard library and glibc elsewhere, and each one runs as PID 1 of a real PID namespace (under
//! qemu-user through binfmt_misc where the architecture is not the host's): it forwards a signal,
//! reaps orphans, passes on the exit status. The whole suites run against the aarch64 and glibc
//! builds too (scripts/test.sh); this file is the smoke test of every platform, of what a static
//! glibc must not link (NSS), and of the memory probe where mlock2 is missing.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(120);

/// The targets CI builds and runs here: their rust-std is installed by scripts/setup.sh.
const CI_TARGETS: [(&str, &str); 7] = [
    ("x86_64-unknown-linux-musl", "x86-64"),
    ("aarch64-unknown-linux-musl", "ARM aarch64"),
    ("i686-unknown-linux-musl", "Intel 80386"),
    ("armv7-unknown-linux-gnueabihf", "ARM, EABI5"),
    ("powerpc64le-unknown-linux-gnu", "64-bit PowerPC"),
    ("riscv64gc-unknown-linux-gnu", "UCB RISC-V"),
    ("s390x-unknown-linux-gnu", "IBM S/390"),
];

/// The glibc builds of [`CI_TARGETS`] (no musl rust-std can be had for their platforms here),
/// each with the cross gcc that links it (scripts/build-static.sh).
const GLIBC_TARGETS: [(&str, &str); 4] = [
    ("armv7-unknown-linux-gnueabihf", "arm-linux-gnueabihf-gcc"),
    ("powerpc64le-unknown-linux-gnu", "powerpc64le-linux-gnu-gcc"),
    ("riscv64gc-unknown-linux-gnu", "riscv64-linux-gnu-gcc"),
    ("s390x-unknown-linux-gnu", "s390x-linux-gnu-gcc"),
];

/// The musl targets of the platforms built with glibc here (and of arm/v6, which has neither).
/// Where rustup serves their rust-std they build and run the same smoke test.
const OTHER_TARGETS: [(&str, &str); 4] = [
    ("armv7-unknown-linux-musleabihf", "ARM, EABI5"),
    ("arm-unknown-linux-musleabihf", "ARM, EABI5"),
    ("powerpc64le-unknown-linux-musl", "64-bit PowerPC"),
    ("riscv64gc-unknown-linux-musl", "UCB RISC-V"),
];

fn build(target: &str) -> PathBuf {
    let out = Command::new("bash").arg(repo().join("scripts/build-static.sh")).arg(target).output().unwrap();
    assert!(out.status.success(), "build-static.sh {target}: {}", String::from_utf8_lossy(&out.stderr));
    let path = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert_eq!(path, repo().join(format!("target/{target}/release/hardinit")), "the printed path");
    path
}

fn installed_targets() -> String {
    let out = Command::new("rustup").args(["target", "list", "--installed"]).output().expect("rustup");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `file`'s verdict: a statically linked ELF of the target's machine.
fn assert_static_for(binary: &Path, machine: &str) {
    let out = Command::new("file").arg("-b").arg(binary).output().expect("file(1)");
    let description = String::from_utf8_lossy(&out.stdout);
    assert!(description.contains(machine), "{}: {description}", binary.display());
    assert!(description.contains("statically linked") || description.contains("static-pie linked"), "{description}");
}

/// `binary` as PID 1 of a new PID namespace (binfmt_misc runs a foreign one under qemu-user):
/// the exit status passes through, a signal from outside reaches the server, orphans are reaped.
fn smoke(target: &str, binary: &Path) {
    let staged = std::env::temp_dir().join(format!("hardinit-platform-{}-{target}", std::process::id()));
    install(binary, &staged, 0o755);
    let init = |args: &[&str]| {
        let mut cmd = command("unshare");
        cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child"]).arg(&staged).args(args);
        cmd
    };
    let out = run(init(&["--", "sh", "-c", "exit 7"]), LONG);
    assert_eq!(code(out.status), 7, "{target}: {}", String::from_utf8_lossy(&out.stderr));

    let dir = Scratch::new(&format!("platform-{target}"));
    let log = dir.path("log");
    let mut recv = init(&["--", PYTHON, probe().to_str().unwrap(), "recv", log.to_str().unwrap(), "USR1", "TERM"]);
    let child = recv.spawn().unwrap();
    let pid1 = forked_child_of(&child);
    wait_until(LONG, || (lines_of(&log).first().map(String::as_str) == Some("ready")).then_some(()))
        .unwrap_or_else(|| panic!("{target}: the probe never started"));
    for signal in ["USR1", "TERM"] {
        let before = lines_of(&log).len();
        send(pid1, signal);
        wait_until(LONG, || (lines_of(&log).len() > before).then_some(()))
            .unwrap_or_else(|| panic!("{target}: {signal} never reached the server"));
    }
    assert_eq!(code(finish(child, LONG)), 0, "{target}");
    assert_eq!(lines_of(&log), ["ready", "10", "15"], "{target}");

    let report = dir.path("report");
    let out = run(init(&["--", PYTHON, probe().to_str().unwrap(), "orphans", "20", report.to_str().unwrap()]), LONG);
    assert_eq!(code(out.status), 0, "{target}: {}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(dir.read("report").trim(), "orphans=20 adopted=20 zombies=0", "{target}");

    let out = run(init(&["--", "sh", "-c", "kill -TERM $$"]), LONG);
    assert_eq!(code(out.status), 143, "{target}: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&staged);
}

#[test]
fn build_static_builds_every_ci_target_static_and_it_runs_as_pid_1() {
    if !privileged(false) {
        return;
    }
    for (target, machine) in CI_TARGETS {
        let binary = build(target);
        assert_static_for(&binary, machine);
        smoke(target, &binary);
    }
}

#[test]
fn the_other_platforms_build_and_run_as_pid_1_where_their_rust_std_is_installed() {
    if !privileged(false) {
        return;
    }
    let installed = installed_targets();
    for (target, machine) in OTHER_TARGETS {
        if !installed.lines().any(|l| l == target) {
            eprintln!("NOT BUILT: {target}: rustup has no rust-std for it on this machine (README: Platforms)");
            continue;
        }
        let binary = build(target);
        assert_static_for(&binary, machine);
        smoke(target, &binary);
    }
}

/// The names glibc's NSS leaves in a binary that links it (getpwnam and friends load their
/// modules as /etc/nsswitch.conf says): hardinit reads /etc/passwd and /etc/group itself.
const NSS_MARKERS: [&[u8]; 3] = [b"nsswitch.conf", b"libnss_", b"_nss_files_"];

fn nss_markers_in(binary: &Path) -> Vec<String> {
    let bytes = std::fs::read(binary).unwrap();
    NSS_MARKERS
        .iter()
        .filter(|m| bytes.windows(m.len()).any(|w| w == **m))
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect()
}

/// Each glibc build links no NSS, and lists its crates as the musl ones do (cargo auditable's
/// `.dep-v0` section).
#[test]
fn the_glibc_builds_link_no_name_service_switch_and_list_their_crates() {
    let dir = Scratch::new("nss");
    let source = dir.path("getpwnam.c");
    std::fs::write(&source, "#include <pwd.h>\nint main(int argc, char **argv) { return getpwnam(argv[0]) != 0; }\n")
        .unwrap();
    for (target, gcc) in GLIBC_TARGETS {
        // The markers are found where NSS is linked: a static getpwnam caller of the same C library.
        let control = dir.path(&format!("getpwnam-{target}"));
        let out = Command::new(gcc).arg("-static").arg("-o").arg(&control).arg(&source).output().expect(gcc);
        assert!(out.status.success(), "{gcc}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(nss_markers_in(&control).len(), NSS_MARKERS.len(), "{target}: the control links NSS");
        let binary = build(target);
        assert_eq!(nss_markers_in(&binary), Vec::<String>::new(), "{target}: glibc's NSS is linked in");
        let sections = Command::new("readelf").arg("-SW").arg(&binary).output().expect("readelf");
        assert!(String::from_utf8_lossy(&sections.stdout).contains(" .dep-v0 "), "{target}: no .dep-v0 section");
    }
}

/// glibc keeps signals 32 and 33 for its threads (SIGCANCEL, SIGSETXID), and qemu-user cannot
/// deliver them to an emulated program at all: a static glibc hardinit built for this host, on
/// the kernel, shows what the glibc builds do with them. hardinit blocks them with the raw
/// rt_sigprocmask and takes them with sigwaitinfo, which glibc does not filter: it forwards them
/// to the server, as with musl. (x86_64 glibc is no platform of its own, musl is: this build
/// exists for this test only.)
#[test]
fn a_static_glibc_hardinit_forwards_signals_32_and_33_to_the_server() {
    if !privileged(false) {
        return;
    }
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let out = Command::new("cargo")
        .args(["build", "--quiet", "--release", "--locked", "--target", TARGET])
        .env("CARGO_ENCODED_RUSTFLAGS", "-Ctarget-feature=+crt-static")
        .current_dir(repo())
        .output()
        .expect("cargo build");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let built = repo().join(format!("target/{TARGET}/release/hardinit"));
    assert_static_for(&built, "x86-64");
    let staged = std::env::temp_dir().join(format!("hardinit-platform-{}-{TARGET}", std::process::id()));
    install(&built, &staged, 0o755);
    let dir = Scratch::new("glibc-32-33");
    for signal in [32, 33] {
        let log = dir.path(&format!("stderr-{signal}"));
        let read_log = || std::fs::read_to_string(&log).unwrap_or_default();
        let mut init = command("unshare");
        init.args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            .arg(&staged)
            .args(["-v", "--", "busybox", "sleep", "60"]);
        init.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
        let mut child = init.spawn().unwrap();
        let pid1 = forked_child_of(&child);
        wait_until(LONG, || children_of(pid1).first().copied()).expect("the server never started");
        send(pid1, &signal.to_string());
        // Unchanged, to the server (pid 2 in the namespace; the sender, outside it, is pid 0).
        let forwarded = format!("forwarded signal {signal} (from pid 0 uid 0) as signal {signal} to 2\n");
        wait_until(LONG, || read_log().contains(&forwarded).then_some(()))
            .unwrap_or_else(|| panic!("{signal} was not forwarded: {}", read_log()));
        // The server dies of it, unless it was started with the signal blocked: the test harness's
        // threads may block 32 and 33 for what they spawn, and hardinit passes its mask on.
        let status = match wait_until(Duration::from_secs(2), || child.try_wait().unwrap()) {
            Some(status) => status,
            None => {
                send(pid1, "TERM");
                let status = finish(child, LONG);
                assert_eq!(code(status), 143, "{}", read_log());
                continue;
            }
        };
        assert_eq!(code(status), 128 + signal, "{}", read_log());
        assert!(read_log().contains(&format!("killed by signal {signal}")), "{}", read_log());
    }
    let _ = std::fs::remove_file(&staged);
}

#[test]
fn build_static_refuses_what_is_not_a_musl_target() {
    for target in ["x86_64-unknown-linux-gnu", "arm-unknown-linux-gnueabihf", "s390x", "--release"] {
        let out = Command::new("bash").arg(repo().join("scripts/build-static.sh")).arg(target).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{target}");
        assert!(out.stdout.is_empty(), "{target}: no path printed");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a Linux musl target"), "{target}");
    }
}

/// Whether mlock2 answers ENOSYS to a program run under `emulator`: Python's own call, outside
/// hardinit, so that this test knows it tests the fallback.
fn mlock2_is_missing_under(emulator: &str) -> bool {
    let script = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nprint(libc.syscall(325, 0, 4096, 1), ctypes.get_errno())";
    let out = Command::new(emulator).args([PYTHON, "-c", script]).output().expect("qemu-x86_64-static");
    String::from_utf8_lossy(&out.stdout).trim() == "-1 38"
}

#[test]
fn where_mlock2_is_missing_the_memory_probe_falls_back_to_mlock() {
    if !privileged(false) {
        return;
    }
    // qemu-user implements no mlock2 (ENOSYS), as some sandboxes and kernels before 4.4 do:
    // the x86_64 build under qemu-x86_64-static meets the missing call on this very kernel.
    const QEMU: &str = "qemu-x86_64-static";
    assert!(mlock2_is_missing_under(QEMU), "{QEMU} now implements mlock2: this test no longer tests the fallback");
    let binary = build("x86_64-unknown-linux-musl");
    let check = |wrapper: &[&str]| {
        let mut cmd = command(wrapper[0]);
        cmd.args(&wrapper[1..]).args(["--", QEMU]).arg(&binary);
        cmd.args(["check", "--memory-guard", "mlock", "--", "/bin/true"]);
        let out = run(cmd, LONG);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        stdout
            .lines()
            .find(|l| l.contains(" memory: "))
            .unwrap_or_else(|| panic!("no memory line: {stdout}"))
            .to_string()
    };
    // Root with IPC_LOCK: the lock beyond RLIMIT_MEMLOCK works through plain mlock.
    let granted = check(&["env"]);
    assert!(granted.starts_with("PASS memory:") && granted.contains("beyond RLIMIT_MEMLOCK works"), "{granted}");
    // Root of a user namespace holds IPC_LOCK there, which never lifts the host's limit: the same
    // probe is refused by the limit, not by a missing system call.
    let refused = check(&["unshare", "--user", "--map-root-user"]);
    assert!(refused.contains("locking beyond RLIMIT_MEMLOCK fails (Out of memory (os error 12))"), "{refused}");
}

/// The Dockerfile cannot be built here (no registry): scripts/check-dockerfile.py stands for the
/// build, and it must catch each way the per-platform build stage can go wrong.
#[test]
fn check_dockerfile_catches_a_wrong_platform_mapping() {
    let dir = Scratch::new("dockerfile-platforms");
    let original = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let check = |text: &str| check_dockerfile(&dir, text);
    let (code, out) = check(&original);
    assert_eq!(code, Some(0), "the real Dockerfile passes: {out}");
    // Nothing but notices (the unpinned placeholder's, which tests/reproducible.rs asks for).
    assert!(out.lines().all(|l| l.starts_with("Dockerfile: notice: ")), "{out}");
    let broken = [
        ("arm64/*) target=aarch64", "arm64/*) target=armv7", "maps linux/arm64 to armv7-unknown-linux-musl,"),
        ("        386/*) target=i686-unknown-linux-musl ;; \\\n", "", "maps linux/386 to None"),
        (
            "arm/v6) echo",
            "arm/v6) target=arm-unknown-linux-gnueabihf; echo",
            "maps linux/arm/v6 to arm-unknown-linux-gnueabihf",
        ),
        ("arm/v7 | arm/)", "arm/v7)", "maps linux/arm to None"),
        (
            "s390x/*) target=s390x-unknown-linux-gnu",
            "s390x/*) target=s390x-unknown-linux-musl",
            "maps linux/s390x to s390x-unknown-linux-musl",
        ),
        ("libc6-dev-ppc64el-cross=2.36-8cross1", "libc6-dev-ppc64el-cross", "pinned (PKG=VERSION), for linux/ppc64le"),
        ("gcc-riscv64-linux-gnu=4:12.2.0-5 ", "", "does not install gcc-riscv64-linux-gnu"),
        ("apt-get install -y -qq --no-install-recommends $cross", "true", "does not install the $cross packages"),
        (
            "FROM --platform=${BUILDPLATFORM:-linux/amd64} ${RUST_IMAGE}",
            "FROM ${RUST_IMAGE}",
            "would compile under emulation",
        ),
        ("\"$target\" > /hardinit.path", "> /hardinit.path", "with scripts/build-static.sh"),
        (
            "FROM ${OPENBAO_IMAGE}",
            "FROM --platform=linux/amd64 ${OPENBAO_IMAGE}",
            "stage openbao-server names a platform",
        ),
    ];
    for (from, to, says) in broken {
        assert!(original.contains(from), "the Dockerfile no longer has {from:?}");
        let (code, out) = check(&original.replacen(from, to, 1));
        assert_eq!(code, Some(1), "{to:?}: {out}");
        assert!(out.contains(says), "{to:?}: {out}");
    }
}
