//! The README's podman recipes, run as written under podman (Debian's 4.3) with the real OpenBao
//! server: rootful, and rootless as a user of its own with subuid and subgid ranges. The image is
//! scripts/assemble-rootfs.sh's tar imported with the README's `podman import` recipe. What
//! differs from the README, and only that: `-p 8200:8200` is `--network host` with the server
//! on 127.0.0.1 and free ports (slirp4netns needs /dev/net/tun, which a CI container may not
//! give); names are the test's own; rootful podman keeps its storage in a folder of its own; and
//! where this machine cannot raise podman's default limits of open files and processes (no
//! CAP_SYS_RESOURCE), a containers.conf of the test's own lowers them to what it can give.

mod common;

use common::docker::{Adapt, readme_recipe, shell_commands, unique};
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(180);
/// The rootless user the tests create (with subuid and subgid ranges, a home not under a 0700
/// folder).
const ROOTLESS_USER: &str = "hardinit-podman";

/// A podman to run: rootful with storage of its own, or rootless as [`ROOTLESS_USER`].
struct Podman {
    rootless: bool,
    /// Where this podman's files for the test live (readable by its user).
    dir: PathBuf,
}

fn skip_or_fail(why: &str) -> Option<Podman> {
    if std::env::var("HARDINIT_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("HARDINIT_REQUIRE_PRIVILEGED=1 but podman cannot be used: {why}");
    }
    eprintln!("SKIPPED: {why} (set HARDINIT_REQUIRE_PRIVILEGED=1 to make this a failure)");
    None
}

fn usable() -> Result<(), String> {
    if status_field("self", "Uid").is_none_or(|u| !u.starts_with('0')) {
        return Err("not root".into());
    }
    for tool in ["podman", "newuidmap", "slirp4netns", "fuse-overlayfs", "setpriv", "useradd"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output();
        if !found.is_ok_and(|o| o.status.success()) {
            return Err(format!("no {tool} (scripts/setup.sh installs podman, uidmap, slirp4netns, fuse-overlayfs)"));
        }
    }
    Ok(())
}

/// The rootless user's uid, created (with subordinate ranges) when missing.
fn rootless_user() -> u32 {
    static UID: OnceLock<u32> = OnceLock::new();
    *UID.get_or_init(|| {
        let home = format!("/home/{ROOTLESS_USER}");
        if !Command::new("id").arg(ROOTLESS_USER).output().unwrap().status.success() {
            let out = Command::new("useradd")
                .args(["--create-home", "--home-dir", &home, "--shell", "/bin/sh", ROOTLESS_USER])
                .output()
                .unwrap();
            assert!(out.status.success(), "useradd: {}", String::from_utf8_lossy(&out.stderr));
        }
        for file in ["/etc/subuid", "/etc/subgid"] {
            let ranges = std::fs::read_to_string(file).unwrap_or_default();
            if !ranges.lines().any(|l| l.starts_with(&format!("{ROOTLESS_USER}:"))) {
                let flag = if file.ends_with("uid") { "--add-subuids" } else { "--add-subgids" };
                let out = Command::new("usermod").args([flag, "300000-365535", ROOTLESS_USER]).output().unwrap();
                assert!(out.status.success(), "usermod: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
        let id = Command::new("id").args(["-u", ROOTLESS_USER]).output().unwrap();
        String::from_utf8_lossy(&id.stdout).trim().parse().unwrap()
    })
}

fn runtime_dir(uid: u32) -> PathBuf {
    PathBuf::from(format!("/tmp/hardinit-podman-run-{uid}"))
}

/// Whether this process may raise a resource limit above its own hard limit.
fn can_raise_limits() -> bool {
    let effective = status_field("self", "CapEff").and_then(|c| u64::from_str_radix(c.trim(), 16).ok());
    effective.is_some_and(|caps| caps & (1 << 24) != 0) // CAP_SYS_RESOURCE
}

fn hard_limit(name: &str) -> u64 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
    let hard = line[name.len()..].split_whitespace().nth(1).unwrap();
    hard.parse().unwrap_or(u64::MAX)
}

impl Podman {
    fn rootful() -> Option<Podman> {
        if let Err(why) = usable() {
            return skip_or_fail(&why);
        }
        let dir = PathBuf::from(format!("/tmp/hardinit-podman-rootful-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let podman = Podman { rootless: false, dir };
        podman.write_limits();
        Some(podman)
    }

    fn rootless() -> Option<Podman> {
        if let Err(why) = usable() {
            return skip_or_fail(&why);
        }
        let uid = rootless_user();
        let dir = PathBuf::from(format!("/home/{ROOTLESS_USER}/test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // One runtime folder per user, whatever the process: podman's database records it.
        let runtime = runtime_dir(uid);
        std::fs::create_dir_all(&runtime).unwrap();
        let chown = Command::new("chown").args([&format!("{uid}:{uid}")]).arg(&dir).arg(&runtime).status().unwrap();
        assert!(chown.success());
        std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
        let podman = Podman { rootless: true, dir };
        podman.write_limits();
        Some(podman)
    }

    /// podman's defaults (1,048,576 open files; rootful: 4,194,304 processes) need
    /// CAP_SYS_RESOURCE where the hard limits are lower: runc then refuses to create the
    /// container. A containers.conf of the test's own asks for what this machine has.
    fn write_limits(&self) {
        let conf = self.dir.join("containers.conf");
        let text = if can_raise_limits() {
            String::new()
        } else {
            let files = hard_limit("Max open files");
            format!("[containers]\ndefault_ulimits = [\"nofile={files}:{files}\", \"nproc=4096:4096\"]\n")
        };
        std::fs::write(&conf, text).unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).unwrap();
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = if self.rootless {
            let uid = rootless_user().to_string();
            let mut cmd = Command::new("setpriv");
            cmd.args(["--reuid", &uid, "--regid", &uid, "--init-groups", "env", "-i"])
                .arg(format!("HOME=/home/{ROOTLESS_USER}"))
                .arg(format!("USER={ROOTLESS_USER}"))
                .arg("PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
                .arg(format!("XDG_RUNTIME_DIR={}", runtime_dir(rootless_user()).display()))
                .arg(format!("CONTAINERS_CONF={}", self.dir.join("containers.conf").display()))
                .arg(program);
            cmd
        } else {
            let mut cmd = Command::new(program);
            cmd.env("CONTAINERS_CONF", self.dir.join("containers.conf"));
            if program == "podman" {
                cmd.arg("--root").arg(self.dir.join("storage")).arg("--runroot").arg(self.dir.join("runroot"));
            }
            cmd
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        let mut cmd = self.command("podman");
        cmd.args(args);
        run(cmd, TIMEOUT)
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "podman {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    /// The image tar, made by scripts/assemble-rootfs.sh where this podman's user can read it.
    fn tar(&self) -> PathBuf {
        let tar = self.dir.join("openbao-hardinit.tar");
        let tree = self.dir.join("rootfs");
        let out = Command::new("bash")
            .arg(repo().join("scripts/assemble-rootfs.sh"))
            .arg("--tar")
            .arg(&tar)
            .args(["openbao", tree.to_str().unwrap(), static_hardinit().to_str().unwrap()])
            .arg(common::runc::bao())
            .output()
            .unwrap();
        assert!(out.status.success(), "assemble-rootfs.sh: {}", text(&out.stderr));
        let _ = std::fs::remove_dir_all(&tree);
        std::fs::set_permissions(&tar, std::fs::Permissions::from_mode(0o644)).unwrap();
        tar
    }

    /// Runs the README's `podman import` recipe on the tar; returns the image's name.
    fn import_recipe(&self) -> String {
        let tar = self.tar();
        let image = format!("localhost/{}", unique("openbao"));
        let recipe = shell_commands(&readme_recipe("podman-import"), &self.dir);
        assert_eq!(recipe.len(), 1, "{recipe:?}");
        let words: Vec<String> = recipe[0]
            .iter()
            .map(|w| match w.as_str() {
                "target/openbao-hardinit.tar" => tar.display().to_string(),
                "openbao-hardinit" => image.clone(),
                _ => w.clone(),
            })
            .collect();
        assert_eq!(words[0], "podman");
        self.ok(&words[1..].iter().map(String::as_str).collect::<Vec<_>>());
        image
    }

    /// A `podman ...` command of a README recipe, adapted (module comment).
    fn recipe_command(&self, words: &[String], adapt: &mut Adapt, image: &str, made: &mut Made) -> Vec<String> {
        let docker: Vec<String> = std::iter::once("docker".to_string()).chain(words[1..].iter().cloned()).collect();
        let mut cleanup = common::docker::Cleanup::new(no_engine());
        let mut args = adapt.docker(&docker, &mut cleanup);
        made.containers.append(&mut cleanup.containers);
        made.volumes.append(&mut cleanup.volumes);
        std::mem::forget(cleanup);
        for arg in &mut args {
            if arg == "openbao-hardinit" {
                *arg = image.to_string();
            }
        }
        args
    }

    /// Waits until the server answers its health endpoint with one of `statuses`.
    fn wait_ready(&self, name: &str, base: &str, ca: Option<&Path>, statuses: &[u16]) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (status, _) = http("GET", &format!("{base}/v1/sys/health"), None, None, ca);
            if statuses.contains(&status) {
                return;
            }
            let state = self.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name]);
            if !state.starts_with("running") || Instant::now() > deadline {
                let logs = self.output(&["logs", name]);
                panic!("{name} is not ready ({state}, health {status}):\n{}{}", text(&logs.stderr), text(&logs.stdout));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn logs(&self, name: &str) -> String {
        let out = self.output(&["logs", name]);
        format!("{}{}", text(&out.stdout), text(&out.stderr))
    }

    /// `podman kill -s HUP`: exactly one reload; `podman stop`: exit 0, on SIGTERM.
    fn reloads_once_and_stops_with_0(&self, name: &str) {
        let count = || self.logs(name).matches("reload triggered").count();
        let before = count();
        self.ok(&["kill", "-s", "HUP", name]);
        assert!(
            wait_until(Duration::from_secs(60), || (count() > before).then_some(())).is_some(),
            "{}",
            self.logs(name)
        );
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(count(), before + 1, "exactly one reload: {}", self.logs(name));
        self.ok(&["stop", name]);
        assert_eq!(self.ok(&["inspect", "-f", "{{.State.ExitCode}}", name]), "0", "{}", self.logs(name));
    }
}

/// Containers and volumes a test made, removed when it ends.
struct Made<'a> {
    podman: &'a Podman,
    containers: Vec<String>,
    volumes: Vec<String>,
    images: Vec<String>,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        for name in &self.containers {
            let _ = self.podman.output(&["rm", "-f", "-v", name]);
        }
        for name in &self.volumes {
            let _ = self.podman.output(&["volume", "rm", "-f", name]);
        }
        for name in &self.images {
            let _ = self.podman.output(&["rmi", "-f", name]);
        }
        if !self.podman.rootless {
            // The rootful storage is the test's own: nothing in it outlives the test.
            let _ = self.podman.output(&["system", "reset", "-f"]);
        }
        let _ = std::fs::remove_dir_all(&self.podman.dir);
    }
}

/// Adapt's bookkeeping wants an engine it never calls here.
fn no_engine() -> &'static common::docker::Engine {
    static NONE: OnceLock<common::docker::Engine> = OnceLock::new();
    NONE.get_or_init(|| common::docker::Engine { host: "unix:///nonexistent".into() })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The README's import recipe gives every variable and port its own instruction, and the dev
/// recipe then starts, reloads once on HUP and stops with 0.
fn import_and_dev(podman: &Podman, made: &mut Made) -> String {
    let image = podman.import_recipe();
    made.images.push(image.clone());
    let env = podman.ok(&["image", "inspect", "-f", "{{json .Config.Env}}", &image]);
    let env: Vec<String> = serde_json::from_str(&env).unwrap();
    for variable in ["PATH=/usr/local/bin:/usr/bin:/bin", "HISTFILE=/dev/null", "HISTSIZE=0", "LESSHISTFILE=/dev/null"]
    {
        assert!(env.iter().any(|e| e == variable), "{variable} in {env:?}");
    }
    let ports = podman.ok(&["image", "inspect", "-f", "{{json .Config.ExposedPorts}}", &image]);
    assert!(ports.contains("8200/tcp") && ports.contains("8201/tcp"), "{ports}");
    let mut adapt = Adapt::new(&[]);
    let mut name = String::new();
    for words in shell_commands(&readme_recipe("dev"), &podman.dir) {
        let words: Vec<String> = std::iter::once("podman".to_string()).chain(words[1..].iter().cloned()).collect();
        let args = podman.recipe_command(&words, &mut adapt, &image, made);
        podman.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        if args[0] == "run" {
            name = args[args.iter().position(|a| a == "--name").unwrap() + 1].clone();
            podman.wait_ready(&name, &format!("http://127.0.0.1:{}", adapt.port), None, &[200]);
        }
    }
    podman.reloads_once_and_stops_with_0(&name);
    image
}

#[test]
fn rootful_podman_runs_the_import_dev_and_check_recipes() {
    let Some(podman) = Podman::rootful() else { return };
    let mut made = Made { podman: &podman, containers: Vec::new(), volumes: Vec::new(), images: Vec::new() };
    let image = import_and_dev(&podman, &mut made);
    let check = shell_commands(&readme_recipe("check"), &podman.dir);
    let mut args: Vec<String> = check[0][1..].to_vec();
    args.iter_mut().filter(|a| *a == "openbao-hardinit").for_each(|a| *a = image.clone());
    let out = podman.output(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}{}", text(&out.stderr));
    assert!(report.contains("PASS memory: swap rule"), "{report}");
    // Every WARN names podman's fix, not Docker's; the one for the writable root, run, passes.
    for line in report.lines().filter(|l| l.starts_with("WARN")) {
        assert!(!line.contains("docker run"), "a Docker fix under podman: {line}");
    }
    let warned = report.lines().find(|l| l.starts_with("WARN root-filesystem:")).expect("the root is writable");
    assert!(warned.contains("fix: podman run --read-only --tmpfs /tmp"), "{warned}");
    let fixed = podman.output(&["run", "--rm", "--network", "host", "--read-only", "--tmpfs", "/tmp", &image, "check"]);
    assert!(text(&fixed.stdout).contains("PASS root-filesystem:"), "{}{}", text(&fixed.stdout), text(&fixed.stderr));
}

#[test]
fn rootless_podman_runs_the_import_dev_and_production_recipes_and_is_told_what_works_there() {
    let Some(podman) = Podman::rootless() else { return };
    let uid = rootless_user();
    let mut made = Made { podman: &podman, containers: Vec::new(), volumes: Vec::new(), images: Vec::new() };
    let image = import_and_dev(&podman, &mut made);

    // Without disable_mlock (the mlock rule asked for), the refusal names what works rootless,
    // and what it says does not work indeed fails: the user's hard RLIMIT_MEMLOCK stays.
    let refused = podman.output(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-e",
        "HARDINIT_MEMORY_GUARD=mlock",
        &image,
        "server",
        "-dev",
    ]);
    let err = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(78), "{err}");
    let refusal = err.lines().find(|l| l.contains("memory:")).unwrap_or_else(|| panic!("{err}"));
    let fix = refusal.split_once("; fix: ").map(|(_, f)| f).unwrap_or_default();
    assert!(fix.starts_with("set disable_mlock = true"), "{refusal}");
    assert!(!fix.contains("docker run"), "a Docker fix under podman: {refusal}");
    let raised = podman.output(&["run", "--rm", "--network", "host", "--ulimit", "memlock=-1", &image, "version"]);
    if hard_limit("Max locked memory") != u64::MAX {
        assert!(!raised.status.success(), "--ulimit memlock=-1 works here: say so in the fix");
    }

    // The production recipe for rootless podman: the user's own config/, the key 0:1000 as the
    // container sees it, disable_mlock = true.
    let mut adapt = Adapt::new(&[]);
    let config = podman.dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let hcl = adapt.addresses(&readme_recipe("server.hcl")).replace("/vault/", "/openbao/") + "disable_mlock = true\n";
    std::fs::write(config.join("server.hcl"), hcl).unwrap();
    self_signed(&config.join("tls.crt"), &config.join("tls.key"), "localhost", "IP:127.0.0.1");
    std::fs::set_permissions(config.join("tls.key"), std::fs::Permissions::from_mode(0o640)).unwrap();
    // The Docker recipe's ownership (the key root:1000 on the host): rootless podman shows it as
    // 65534, which the server could not read. Refused, with the podman fix.
    std::os::unix::fs::chown(config.join("tls.key"), Some(0), Some(1000)).unwrap();
    let mount = format!("{}:/openbao/config:ro", config.display());
    let refused = podman.output(&["run", "--rm", "--network", "host", "-v", &mount, &image, "server"]);
    let err = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(78), "{err}");
    let refusal = err.lines().find(|l| l.starts_with("hardinit: error:")).unwrap_or_else(|| panic!("{err}"));
    assert!(refusal.contains("tls-files: ") && refusal.contains("podman unshare chown 0:1000"), "{refusal}");
    let chown = Command::new("chown").args(["-R", &format!("{uid}:{uid}")]).arg(&config).status().unwrap();
    assert!(chown.success());
    let mut name = String::new();
    for words in shell_commands(&readme_recipe("podman-rootless"), &podman.dir) {
        assert_eq!(words[0], "podman", "{words:?}");
        let args = if words[1] == "run" {
            podman.recipe_command(&words, &mut adapt, &image, &mut made)
        } else {
            words[1..].to_vec()
        };
        podman.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        if args[0] == "run" {
            name = args[args.iter().position(|a| a == "--name").unwrap() + 1].clone();
        }
    }
    let base = format!("https://127.0.0.1:{}", adapt.port);
    podman.wait_ready(&name, &base, Some(&config.join("tls.crt")), &[501]);
    let logs = podman.logs(&name);
    for warning in ["warning: chown", "warning: tls-files", "warning: memory"] {
        assert!(!logs.contains(warning), "{warning}: {logs}");
    }
    podman.reloads_once_and_stops_with_0(&name);
}
