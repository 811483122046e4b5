//! Reproducible builds: the same commit, built from two clones in other folders, with other
//! CARGO_HOMEs, time zones and umasks, gives the same hardinit and the same root filesystem (as
//! the tar scripts/assemble-rootfs.sh --tar writes), byte for byte; and no absolute path of the
//! build is left in the binary.
//!
//! Two release builds each (musl x86_64, glibc armv7): scripts/test.sh runs this file beside the
//! rest of the suite. The binary
//! scripts/test.sh built (HARDINIT_STATIC_BIN) stands for the first clone when it says it is a
//! clean build of this commit (`hardinit --version`), as it is in CI's fresh clone.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git").args(args).current_dir(dir).output().expect("git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A clone of this repository at `commit`, in `dir`.
fn clone_at(commit: &str, dir: &Path) {
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let out = Command::new("git")
        .args(["clone", "--quiet", "--no-checkout"])
        .arg(repo())
        .arg(dir)
        .output()
        .expect("git clone");
    assert!(out.status.success(), "git clone: {}", String::from_utf8_lossy(&out.stderr));
    git(dir, &["-c", "advice.detachedHead=false", "checkout", "--quiet", commit]);
}

fn default_cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cargo"))
}

fn rustup_home() -> PathBuf {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".rustup"))
}

/// One way of building: a folder, a CARGO_HOME, a time zone and a umask.
struct Build {
    clone: PathBuf,
    cargo_home: PathBuf,
    tz: &'static str,
    umask: &'static str,
}

impl Build {
    /// Another machine: another folder (with a space), another CARGO_HOME whose registry holds
    /// the same crates as `first`'s (copied: the build is offline), the other side of the date
    /// line, umask 077.
    fn elsewhere(dir: &Scratch, first: &Build) -> Build {
        let build = Build {
            clone: dir.path("elsewhere/other name"),
            cargo_home: dir.path("cargo home"),
            tz: "Pacific/Kiritimati",
            umask: "077",
        };
        copy_registry(&first.cargo_home, &build.cargo_home);
        build
    }

    /// `bash -c 'umask U; exec bash scripts/SCRIPT ARGS'` in the clone, with nothing of this
    /// process's environment but what finds the toolchain; offline: the registry is local.
    fn command(&self, script: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("umask {}; exec bash \"$0\" \"$@\"", self.umask))
            .arg(self.clone.join("scripts").join(script))
            .args(args)
            .current_dir(&self.clone)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", std::env::var_os("HOME").unwrap())
            .env("LC_ALL", "C")
            .env("TZ", self.tz)
            .env("CARGO_HOME", &self.cargo_home)
            .env("CARGO_NET_OFFLINE", "true");
        for name in ["RUSTUP_HOME", "RUSTUP_TOOLCHAIN"] {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd
    }

    fn start_static_build(&self) -> Child {
        self.start_static_build_of(&[])
    }

    fn start_static_build_of(&self, target: &[&str]) -> Child {
        self.command("build-static.sh", target).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
    }

    /// The root filesystem of the openbao flavour around `hardinit`, as a tar.
    fn rootfs_tar(&self, hardinit: &Path, into: &Path) -> PathBuf {
        let tar = into.with_extension("tar");
        let out = self
            .command(
                "assemble-rootfs.sh",
                &[
                    "--tar",
                    tar.to_str().unwrap(),
                    "openbao",
                    into.to_str().unwrap(),
                    hardinit.to_str().unwrap(),
                    common::runc::bao().to_str().unwrap(),
                ],
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "assemble-rootfs.sh in {}: {}",
            self.clone.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        tar
    }
}

/// Another CARGO_HOME whose registry holds the same crates as `from`'s (the builds are offline).
fn copy_registry(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("registry")).unwrap();
    for part in ["index", "cache"] {
        let out = Command::new("cp")
            .arg("-a")
            .arg(from.join("registry").join(part))
            .arg(to.join("registry"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn built(child: Child, build: &Build) -> PathBuf {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "build-static.sh in {}: {}",
        build.clone.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// `strings` of the binary that name a place of the build machine.
fn build_paths_in(binary: &Path, places: &[&Path]) -> Vec<String> {
    let out = Command::new("strings").args(["-n", "6"]).arg(binary).output().expect("strings");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|line| {
            places.iter().any(|p| line.contains(p.to_str().unwrap()))
                || line.contains("/registry/src/") && !line.starts_with("/cargo/registry/src/")
        })
        .map(String::from)
        .collect()
}

#[test]
fn two_clones_with_other_folders_cargo_homes_and_time_zones_build_the_same_hardinit_and_root_filesystem() {
    // The root filesystem's owners (100:1000) need root.
    if !privileged(false) {
        return;
    }
    let head = git(&repo(), &["rev-parse", "HEAD"]);
    let dir = Scratch::new("reproducible");
    let first = Build { clone: dir.path("a/hardinit"), cargo_home: default_cargo_home(), tz: "UTC", umask: "022" };
    let second = Build::elsewhere(&dir, &first);
    clone_at(&head, &second.clone);
    let second_build = second.start_static_build();

    let made = static_hardinit();
    let version = Command::new(&made).arg("--version").output().unwrap();
    let reusable = String::from_utf8_lossy(&version.stdout).contains(&format!("(commit {head}, "));
    let first_binary = if reusable {
        eprintln!("the first build: {} ({})", made.display(), String::from_utf8_lossy(&version.stdout).trim());
        made
    } else {
        clone_at(&head, &first.clone);
        built(first.start_static_build(), &first)
    };
    let second_binary = built(second_build, &second);

    let (first_sum, second_sum) = (sha256_hex(&first_binary), sha256_hex(&second_binary));
    assert_eq!(first_sum, second_sum, "hardinit differs: {} and {}", first_binary.display(), second_binary.display());
    let places = [
        second.clone.as_path(),
        second.cargo_home.as_path(),
        first.cargo_home.as_path(),
        dir.0.as_path(),
        &rustup_home(),
    ];
    assert_eq!(build_paths_in(&second_binary, &places), Vec::<String>::new(), "absolute paths of the build");
    let version = Command::new(&second_binary).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout).trim().to_string();
    let date = Command::new("git")
        .args(["log", "-1", "--format=%cd", "--date=format-local:%Y-%m-%dT%H:%M:%SZ"])
        .current_dir(repo())
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let date = String::from_utf8_lossy(&date.stdout).trim().to_string();
    assert_eq!(
        version,
        format!(
            "hardinit {} (commit {head}, target x86_64-unknown-linux-musl, built {date})",
            env!("CARGO_PKG_VERSION")
        )
    );

    // The root filesystem, each from its own clone's scripts.
    let first_tar = if reusable { Build { clone: repo(), ..first } } else { first }
        .rootfs_tar(&first_binary, &dir.path("rootfs-a"));
    let second_tar = second.rootfs_tar(&second_binary, &dir.path("rootfs-b"));
    assert_eq!(sha256_hex(&first_tar), sha256_hex(&second_tar), "the root filesystem differs");
    assert_eq!(
        std::fs::read(dir.path("rootfs-a.sbom.cdx.json")).unwrap(),
        std::fs::read(dir.path("rootfs-b.sbom.cdx.json")).unwrap(),
        "the SBOM differs"
    );
    eprintln!("hardinit {first_sum}, root filesystem {}", sha256_hex(&first_tar));
}

/// The static glibc builds (scripts/build-static.sh) are reproducible too, the cross gcc's C
/// library being an input like the toolchain: armv7's, the quickest, from another clone, against
/// this repository's build of the same commit (built here first when it is not one). Its name
/// starts as the musl test's does, so that scripts/test.sh's native run skips it as it does that
/// one: both run in the job of this file alone.
#[test]
fn two_clones_with_other_folders_build_the_same_static_glibc_hardinit() {
    const TARGET: &str = "armv7-unknown-linux-gnueabihf";
    let head = git(&repo(), &["rev-parse", "HEAD"]);
    let dir = Scratch::new("reproducible-glibc");
    let first = Build { clone: repo(), cargo_home: default_cargo_home(), tz: "UTC", umask: "022" };
    let second = Build::elsewhere(&dir, &first);
    clone_at(&head, &second.clone);
    let second_build = second.start_static_build_of(&[TARGET]);
    let mut first_binary = built(first.start_static_build_of(&[TARGET]), &first);
    let version = Command::new(&first_binary).arg("--version").output().unwrap();
    if !String::from_utf8_lossy(&version.stdout).contains(&format!("(commit {head}, ")) {
        // Uncommitted changes here: the first build comes from a clone of the commit too.
        let first = Build { clone: dir.path("a/hardinit"), ..first };
        clone_at(&head, &first.clone);
        first_binary = built(first.start_static_build_of(&[TARGET]), &first);
    }
    let second_binary = built(second_build, &second);
    assert_eq!(
        sha256_hex(&first_binary),
        sha256_hex(&second_binary),
        "{TARGET} differs: {} and {}",
        first_binary.display(),
        second_binary.display()
    );
    let places = [second.clone.as_path(), second.cargo_home.as_path(), dir.0.as_path(), &rustup_home()];
    assert_eq!(build_paths_in(&second_binary, &places), Vec::<String>::new(), "absolute paths of the build");
}

#[test]
fn the_dockerfile_pins_every_base_image_by_digest_or_marks_it_unpinned() {
    let dir = Scratch::new("pins");
    let check = |text: &str| check_dockerfile(&dir, text);
    let original = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let (code, out) = check(&original);
    assert_eq!(code, Some(0), "{out}");
    // Every FROM goes through a pinned build argument.
    for line in original.lines().filter(|l| l.starts_with("FROM ") && !l.starts_with("FROM scratch")) {
        let image = line.split_whitespace().skip(1).find(|w| !w.starts_with("--")).unwrap();
        assert!(image.starts_with("${") || image == "build", "{line}");
    }
    let pinned: Vec<&str> = original.lines().filter(|l| l.starts_with("ARG ") && l.contains("_IMAGE=")).collect();
    assert_eq!(pinned.len(), 3, "{pinned:?}");
    for arg in pinned {
        let digest = arg.split_once("@sha256:").map(|(_, d)| d).unwrap_or_else(|| panic!("{arg}"));
        let real = digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        assert!(real || digest.starts_with("UNPINNED"), "{arg}");
    }
    // A tag alone, in the argument or in a FROM, is refused.
    let tag_only = original.replace("@sha256:f4e2687b72858a9e2160c344c9fa1ef74c07f21a89a8c00534ab64d3f187b927", "");
    let (code, out) = check(&tag_only);
    assert_eq!(code, Some(1));
    assert!(out.contains("stage vault-server is FROM hashicorp/vault:1.21.1: not pinned by digest"), "{out}");
    let (code, out) = check(&original.replace("FROM build AS assemble-vault", "FROM debian:12 AS assemble-vault"));
    assert_eq!(code, Some(1));
    assert!(out.contains("stage assemble-vault is FROM debian:12: not pinned"), "{out}");
}
