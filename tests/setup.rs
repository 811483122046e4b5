//! scripts/setup.sh finds what is missing, installs only that, and installs nothing when all is
//! there. Run with tools hidden from PATH and apt-get replaced by a recorder.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// A PATH that has every program of the real one except `hidden`, and an `apt-get` that only
/// records that it ran.
fn path_without(dir: &Scratch, hidden: &[&str]) -> String {
    let bin = dir.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let real = std::env::var("PATH").unwrap();
    for folder in std::env::split_paths(&real) {
        let Ok(entries) = std::fs::read_dir(&folder) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let target = bin.join(&name);
            if hidden.iter().any(|h| name == **h) || name == "apt-get" || target.exists() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(entry.path(), target);
        }
    }
    let recorder = format!("#!/bin/sh\necho \"$@\" >> {}\n", dir.path("apt-get-ran").display());
    std::fs::write(dir.path("recorder"), recorder).unwrap();
    install(&dir.path("recorder"), &bin.join("apt-get"), 0o755);
    bin.to_string_lossy().into_owned()
}

fn setup(path: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("bash")
        .arg(repo().join("scripts/setup.sh"))
        .args(args)
        .env("PATH", path)
        .env_remove("HARDINIT_SKIP_SETUP")
        .output()
        .unwrap();
    (code(out.status), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_missing_tool_is_found_and_nothing_is_installed_when_all_is_there() {
    let dir = Scratch::new("setup");
    let all = path_without(&dir, &[]);
    assert_eq!(setup(&all, &["--dry-run"]), (0, "setup: nothing to install\n".into()), "the machine has everything");
    assert_eq!(setup(&all, &[]), (0, "setup: nothing to install\n".into()));
    assert!(!dir.path("apt-get-ran").exists(), "nothing installed when all is there");

    for (hidden, package) in
        [("runc", "runc"), ("busybox", "busybox-static"), ("catatonit", "catatonit"), ("setpriv", "util-linux")]
    {
        let dir = Scratch::new("setup-hidden");
        let path = path_without(&dir, &[hidden]);
        let (status, output) = setup(&path, &["--dry-run"]);
        assert_eq!(status, 0, "{output}");
        assert_eq!(output, format!("setup: would install: {package}\n"), "{hidden} hidden");
        assert!(!dir.path("apt-get-ran").exists(), "a dry run installs nothing");
        // For real: one update, one install of exactly the missing package.
        let (status, output) = setup(&path, &[]);
        assert_eq!(status, 0, "{output}");
        let ran = std::fs::read_to_string(dir.path("apt-get-ran")).unwrap();
        assert_eq!(ran, format!("update -qq\ninstall -y -qq --no-install-recommends {package}\n"), "{hidden}");
    }
}

#[test]
fn without_apt_get_one_line_says_what_to_install() {
    let dir = Scratch::new("setup-no-apt");
    let path = path_without(&dir, &["runc", "curl"]);
    std::fs::remove_file(Path::new(&path).join("apt-get")).unwrap();
    let (status, output) = setup(&path, &[]);
    assert_eq!(status, 1, "{output}");
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(output.contains("runc curl") && output.contains("HARDINIT_SKIP_SETUP=1"), "{output}");
}

#[test]
fn the_demo_installs_what_the_demo_uses_and_nothing_of_the_tests() {
    // What only the tests use, hidden: the demo's setup wants none of it.
    let tests_only = ["busybox", "dockerd", "podman", "newuidmap", "qemu-aarch64-static", "tini", "g++"];
    let dir = Scratch::new("setup-demo");
    let path = path_without(&dir, &tests_only);
    assert_eq!(setup(&path, &["--demo", "--dry-run"]), (0, "setup: nothing to install\n".into()));
    assert_eq!(setup(&path, &["--demo"]), (0, "setup: nothing to install\n".into()));
    assert!(!dir.path("apt-get-ran").exists(), "the demo installed a test's tool");
    let (status, output) = setup(&path, &["--dry-run"]);
    assert_eq!(status, 0, "{output}");
    for package in ["busybox-static", "docker.io", "podman", "uidmap", "qemu-user-static"] {
        assert!(output.contains(package), "the tests' setup installs {package}: {output}");
    }
    // What the demo uses is still installed for it.
    let dir = Scratch::new("setup-demo-runc");
    let path = path_without(&dir, &["runc", "busybox"]);
    assert_eq!(setup(&path, &["--demo", "--dry-run"]), (0, "setup: would install: runc\n".into()));
    // And the demo script asks for exactly that.
    let demo = std::fs::read_to_string(repo().join("scripts/demo.sh")).unwrap();
    assert!(demo.contains("bash scripts/setup.sh --demo ||"), "scripts/demo.sh runs the demo's setup");
}
