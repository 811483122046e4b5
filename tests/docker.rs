//! The README's Docker and Compose recipes, run as written under the real Docker Engine with the
//! real OpenBao server, on the image `docker import` makes of scripts/assemble-rootfs.sh's tree
//! with the Dockerfile's own final-stage settings (tests/common/docker.rs). What differs from
//! the README, and only that: the test engine has no bridge, so `-p 8200:8200` is `--network host`
//! with the server on 127.0.0.1 and free ports; the engine may be shared, so containers, volumes
//! and images get names of the test's own; and limits this machine cannot give (an LSM, a
//! RLIMIT_NOFILE of 65,536 without CAP_SYS_RESOURCE) are accepted with `HARDINIT_ALLOW`, named.

mod common;

use common::docker::{Adapt, Cleanup, Engine, engine, readme_recipe, shell_commands, stderr, stdout};
use common::*;
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);

/// Both images, as the README names them.
fn images(engine: &Engine) -> [(&'static str, String); 2] {
    [("openbao-hardinit", engine.image("openbao")), ("vault-hardinit", engine.image("vault"))]
}

/// Runs every command of the README block `recipe`, adapted (module comment), as a user would:
/// each command once the one before took effect (a started server is ready, as `health` says);
/// returns the adaptation, which knows the names and ports it gave.
fn run_recipe<'a>(engine: &'a Engine, recipe: &str, dir: &Path, cleanup: &mut Cleanup<'a>, health: Health) -> Adapt {
    let mut adapt = Adapt::new(&images(engine));
    for words in shell_commands(&readme_recipe(recipe), dir) {
        let args = adapt.docker(&words, cleanup);
        engine.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        if args[0] == "run" {
            let name = &args[args.iter().position(|a| a == "--name").expect("the recipe names its container") + 1];
            wait_ready(engine, name, &format!("{}://127.0.0.1:{}", health.0, adapt.port), health.2, health.1);
        }
    }
    adapt
}

/// How a started server shows it is ready: scheme, the health statuses that count, CA file.
type Health<'a> = (&'a str, &'a [u16], Option<&'a Path>);
const DEV: Health = ("http", &[200], None);
const UNINITIALISED_HTTP: Health = ("http", &[501], None);

/// Waits until the server answers its health endpoint with one of `statuses` (200 active, 501
/// not initialised, 503 sealed); fails with the container's log when it stops or never does.
fn wait_ready(engine: &Engine, name: &str, base: &str, ca: Option<&Path>, statuses: &[u16]) {
    let deadline = Instant::now() + LONG;
    loop {
        let (status, _) = http("GET", &format!("{base}/v1/sys/health"), None, None, ca);
        if statuses.contains(&status) {
            return;
        }
        let state = engine.inspect(name, "{{.State.Status}} {{.State.ExitCode}}");
        if !state.starts_with("running") || Instant::now() > deadline {
            let (out, err) = engine.logs(name);
            panic!("{name} is not ready ({state}, health {status}):\n{err}\n{out}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// hardinit's own lines in a container's log.
fn hardinit_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.starts_with("hardinit:")).collect()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// `docker kill -s HUP`: the server logs exactly one reload.
fn hup_reloads_once(engine: &Engine, name: &str) {
    let before = count(&engine.logs(name).0, "reload triggered");
    engine.ok(&["kill", "-s", "HUP", name]);
    let reloaded = wait_until(LONG, || (count(&engine.logs(name).0, "reload triggered") > before).then_some(()));
    assert!(reloaded.is_some(), "no reload after SIGHUP: {:?}", engine.logs(name));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count(&engine.logs(name).0, "reload triggered"), before + 1, "exactly one reload");
}

/// `docker stop`: the server ends on SIGTERM with 0, long before Docker's 10 s SIGKILL (which
/// would be 137), and hardinit logs nothing of it.
fn stops_cleanly(engine: &Engine, name: &str) {
    let before = hardinit_lines(&engine.logs(name).1).len();
    engine.ok(&["stop", name]);
    assert_eq!(engine.inspect(name, "{{.State.ExitCode}} {{.State.OOMKilled}}"), "0 false");
    let (_, err) = engine.logs(name);
    let after = hardinit_lines(&err);
    assert_eq!(&after[before..], &[] as &[&str], "a clean stop logs no hardinit line");
}

/// The README's `config/` for the production recipes: server.hcl from the README (its addresses
/// on 127.0.0.1 and the test's ports, its paths the flavour's), a certificate for 127.0.0.1 and
/// its key, all owned by root, the key 0640 group 1000 as the README says.
fn config_dir(dir: &Path, adapt: &Adapt, root: &str) -> std::path::PathBuf {
    // The README's own commands make the certificate and give the key its owner and mode.
    for words in shell_commands(&readme_recipe("tls"), dir) {
        let mut cmd = Command::new(&words[0]);
        cmd.args(&words[1..]).current_dir(dir);
        let out = run(cmd, LONG);
        assert!(out.status.success(), "{words:?}: {}", stderr(&out));
    }
    let config = dir.join("config");
    let text = adapt.addresses(&readme_recipe("server.hcl")).replace("/vault/", &format!("{root}/"));
    std::fs::write(config.join("server.hcl"), text).unwrap();
    let key = std::fs::metadata(config.join("tls.key")).unwrap();
    assert_eq!((key.uid(), key.gid(), key.mode() & 0o7777), (0, 1000, 0o640), "the README's key owner and mode");
    config
}

fn owners(dir: &Path) -> Vec<(String, u32, u32, u32)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .chain([dir.to_path_buf()])
        .map(|p| {
            let m = std::fs::symlink_metadata(&p).unwrap();
            (p.display().to_string(), m.uid(), m.gid(), m.mode() & 0o7777)
        })
        .collect();
    all.sort();
    all
}

/// The machine's limits that a strict start cannot meet here, accepted by name.
fn machine_allowances() -> Vec<&'static str> {
    let mut allow = Vec::new();
    let lsm = std::fs::read_to_string("/sys/kernel/security/lsm").unwrap_or_default();
    if !lsm.contains("apparmor") && !lsm.contains("selinux") {
        allow.push("lsm");
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let hard = limits.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(4));
    if hard.and_then(|h| h.parse::<u64>().ok()).is_some_and(|h| h < 65536) {
        allow.push("open-files");
    }
    allow
}

/// Initialises and unseals the server, mounts kv v2 at secret/ and writes one secret; returns
/// the unseal key and the root token.
fn initialise(base: &str, ca: Option<&Path>) -> (String, String) {
    let (status, init) = http(
        "PUT",
        &format!("{base}/v1/sys/init"),
        None,
        Some(&json!({"secret_shares": 1, "secret_threshold": 1})),
        ca,
    );
    assert_eq!(status, 200, "{init}");
    let key = init["keys_base64"][0].as_str().unwrap().to_string();
    let token = init["root_token"].as_str().unwrap().to_string();
    unseal(base, &key, ca);
    let mount = json!({"type": "kv", "options": {"version": "2"}});
    assert_eq!(http("POST", &format!("{base}/v1/sys/mounts/secret"), Some(&token), Some(&mount), ca).0, 204);
    let secret = json!({"data": {"password": "correct horse battery staple"}});
    write_to_new_kv2(&format!("{base}/v1/secret/data/app"), &token, &secret, ca);
    (key, token)
}

fn unseal(base: &str, key: &str, ca: Option<&Path>) {
    unseal_until_active(base, key, ca).unwrap_or_else(|health| panic!("not active 150 s after the unseal: {health:?}"));
}

fn secret_is_there(base: &str, token: &str, ca: Option<&Path>) {
    let (status, read) = http("GET", &format!("{base}/v1/secret/data/app"), Some(token), None, ca);
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["data"]["data"]["password"], "correct horse battery staple");
}

#[test]
fn the_dev_recipe_starts_answers_docker_exec_reloads_once_on_hup_and_stops_with_0() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-dev");
    let mut cleanup = Cleanup::new(engine);
    let adapt = run_recipe(engine, "dev", &dir.0, &mut cleanup, DEV);
    let name = adapt.name("openbao");
    // The recipe's `docker exec -e BAO_ADDR=... bao status` ran (and succeeded) inside
    // run_recipe; with bao's default scheme, it speaks HTTPS to the dev server's HTTP listener.
    let https = format!("BAO_ADDR=https://127.0.0.1:{}", adapt.port);
    let plain = engine.output(&["exec", "-e", &https, &name, "bao", "status"]);
    assert!(!plain.status.success() && stderr(&plain).contains("HTTP response to HTTPS client"), "{}", stderr(&plain));
    hup_reloads_once(engine, &name);
    let (_, err) = engine.logs(&name);
    assert!(err.contains("hardinit: hardened:"), "{err}");
    stops_cleanly(engine, &name);
}

#[test]
fn the_vault_dev_image_runs_on_a_read_only_root() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-ro");
    let mut cleanup = Cleanup::new(engine);
    let adapt = run_recipe(engine, "read-only", &dir.0, &mut cleanup, DEV);
    let name = adapt.name("vault");
    assert_eq!(engine.inspect(&name, "{{.HostConfig.ReadonlyRootfs}}"), "true");
    let (_, err) = engine.logs(&name);
    assert!(err.contains("root-filesystem PASS"), "{err}");
    stops_cleanly(engine, &name);
}

#[test]
fn the_dev_image_runs_as_user_100_1000() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-user");
    let mut cleanup = Cleanup::new(engine);
    let adapt = run_recipe(engine, "user", &dir.0, &mut cleanup, DEV);
    let name = adapt.name("openbao");
    let pid = engine.inspect(&name, "{{.State.Pid}}");
    assert_eq!(status_field(&pid, "Uid").unwrap().split_whitespace().collect::<Vec<_>>(), ["100"; 4]);
    let server = children_of(pid.parse().unwrap());
    assert_eq!(server.len(), 1, "hardinit has the server as its one child");
    let ids = status_field(&server[0].to_string(), "Gid").unwrap();
    assert_eq!(ids.split_whitespace().collect::<Vec<_>>(), ["1000"; 4]);
    stops_cleanly(engine, &name);
}

#[test]
fn under_docker_run_init_hardinit_runs_as_the_child_of_the_runtimes_init_and_warns_of_nothing_outside_its_tree() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-init");
    let mut cleanup = Cleanup::new(engine);
    let adapt = run_recipe(engine, "init", &dir.0, &mut cleanup, DEV);
    let name = adapt.name("openbao");
    let init = engine.inspect(&name, "{{.State.Pid}}");
    let children = children_of(init.parse().unwrap());
    assert_eq!(children.len(), 1, "docker-init has one child, hardinit");
    let comm = std::fs::read_to_string(format!("/proc/{}/comm", children[0])).unwrap();
    assert_eq!(comm.trim(), "docker-entrypoi", "hardinit (as docker-entrypoint.sh) under the runtime's init");
    let (_, err) = engine.logs(&name);
    // The one process outside hardinit's tree is its own parent, the runtime's init.
    assert!(!err.contains("warning: pid-namespace"), "{err}");
    stops_cleanly(engine, &name);
}

#[test]
fn a_one_off_command_prints_its_output_and_no_checklist() {
    let Some(engine) = engine() else { return };
    let image = engine.image("openbao");
    let out = engine.output(&["run", "--rm", "--network", "host", &image, "version"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("OpenBao v"), "{}", stdout(&out));
    assert_eq!(hardinit_lines(&stderr(&out)), [] as [&str; 0], "a one-off command is quiet");
}

#[test]
fn the_production_recipe_initialises_keeps_its_data_over_docker_restart_and_reloads_once() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-prod");
    let mut cleanup = Cleanup::new(engine);
    let mut adapt = Adapt::new(&images(engine));
    let config = config_dir(&dir.0, &adapt, "/vault");
    let before = owners(&config);
    for words in shell_commands(&readme_recipe("production"), &dir.0) {
        let args = adapt.docker(&words, &mut cleanup);
        engine.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let name = adapt.name("vault");
    let base = format!("https://127.0.0.1:{}", adapt.port);
    let ca = config.join("tls.crt");
    wait_ready(engine, &name, &base, Some(&ca), &[501]);
    let (key, token) = initialise(&base, Some(&ca));
    hup_reloads_once(engine, &name);
    engine.ok(&["restart", &name]);
    assert_eq!(engine.inspect(&name, "{{.RestartCount}} {{.State.Status}}"), "0 running");
    wait_ready(engine, &name, &base, Some(&ca), &[503]);
    unseal(&base, &key, Some(&ca));
    secret_is_there(&base, &token, Some(&ca));
    stops_cleanly(engine, &name);
    assert_eq!(owners(&config), before, "the host's configuration keeps its owners and modes");
}

#[test]
fn the_strict_production_recipe_starts_with_the_images_defaults_and_leaves_the_hosts_owners() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-strict");
    let mut cleanup = Cleanup::new(engine);
    let mut adapt = Adapt::new(&images(engine));
    let config = config_dir(&dir.0, &adapt, "/vault");
    let before = owners(&config);
    let allow = machine_allowances();
    for words in shell_commands(&readme_recipe("strict"), &dir.0) {
        let mut args = adapt.docker(&words, &mut cleanup);
        if args[0] == "run" {
            if allow.contains(&"open-files") {
                // This machine's hard RLIMIT_NOFILE is below 65,536 and raising it needs
                // CAP_SYS_RESOURCE: runc would refuse to create the container at all.
                let at = args.iter().position(|a| a == "--ulimit").expect("the recipe sets --ulimit");
                args.drain(at..at + 2);
            }
            if !allow.is_empty() {
                args.splice(1..1, ["-e".to_string(), format!("HARDINIT_ALLOW={}", allow.join(","))]);
            }
        }
        engine.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let name = adapt.name("vault");
    let base = format!("https://127.0.0.1:{}", adapt.port);
    let ca = config.join("tls.crt");
    wait_ready(engine, &name, &base, Some(&ca), &[501]);
    assert_eq!(owners(&config), before, "the host's configuration keeps its owners and modes");
    let (_, err) = engine.logs(&name);
    // Nothing but the summary and the findings accepted for this machine, each once, as accepted.
    for line in hardinit_lines(&err) {
        let accepted = allow.iter().any(|id| line.starts_with(&format!("hardinit: {id}: accepted by --allow {id}")));
        assert!(accepted || line.starts_with("hardinit: hardened: "), "{line}\n{err}");
    }
    stops_cleanly(engine, &name);
    assert_eq!(owners(&config), before);
}

#[test]
fn the_local_config_recipe_starts_a_raft_server_and_does_not_warn_about_the_file_hardinit_wrote() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-local");
    let mut cleanup = Cleanup::new(engine);
    let adapt = run_recipe(engine, "local-config", &dir.0, &mut cleanup, UNINITIALISED_HTTP);
    let name = adapt.name("vault");
    let (_, err) = engine.logs(&name);
    assert!(!err.contains("warning: config-files"), "hardinit warns about its own local.json: {err}");
    stops_cleanly(engine, &name);
}

#[test]
fn the_compose_recipe_is_the_example_file_and_runs_up_stop_start_keeping_its_data() {
    let Some(engine) = engine() else { return };
    let file = std::fs::read_to_string(repo().join("examples/compose.yaml")).unwrap();
    assert_eq!(readme_recipe("compose"), file, "the README shows examples/compose.yaml as it is");
    let dir = Scratch::new("docker-compose");
    let mut cleanup = Cleanup::new(engine);
    let adapt = Adapt::new(&images(engine));
    let config = config_dir(&dir.0, &adapt, "/openbao");
    let before = owners(&config);
    // The engine has no bridge: the host's network instead of the published port.
    let ports = file.lines().find(|l| l.trim_start().starts_with("ports:")).expect("the recipe publishes a port");
    let indent = &ports[..ports.len() - ports.trim_start().len()];
    let adapted = file
        .replace(ports, &format!("{indent}network_mode: host"))
        .replace("image: openbao-hardinit", &format!("image: {}", engine.image("openbao")));
    std::fs::write(dir.path("compose.yaml"), adapted).unwrap();
    let project = common::docker::unique("compose").replace('-', "");
    cleanup.compose.push((dir.0.clone(), project.clone()));
    let compose = |args: &[&str]| {
        let mut cmd = Command::new("docker-compose");
        cmd.args(["-p", &project]).args(args).current_dir(&dir.0).env("DOCKER_HOST", &engine.host);
        let out = run(cmd, LONG);
        assert!(out.status.success(), "docker-compose {args:?}: {}", stderr(&out));
    };
    compose(&["up", "-d"]);
    let name = format!("{project}_openbao_1");
    let base = format!("https://127.0.0.1:{}", adapt.port);
    let ca = config.join("tls.crt");
    wait_ready(engine, &name, &base, Some(&ca), &[501]);
    let (key, token) = initialise(&base, Some(&ca));
    compose(&["stop"]);
    assert_eq!(engine.inspect(&name, "{{.State.ExitCode}}"), "0", "stop_signal SIGTERM: OpenBao exits 0");
    compose(&["start"]);
    wait_ready(engine, &name, &base, Some(&ca), &[503]);
    unseal(&base, &key, Some(&ca));
    secret_is_there(&base, &token, Some(&ca));
    let (_, err) = engine.logs(&name);
    assert!(!err.contains("warning: config-files") && !err.contains("warning: chown"), "{err}");
    assert_eq!(owners(&config), before, "the host's ./config keeps its owners and modes");
}

/// A stand-in for the Dockerfile's `rust` build image: the host's bash, Python and the tools the
/// build stage and scripts/assemble-rootfs.sh run, with their libraries, the CA bundle, and
/// `rustup`, `rustc` and `cargo` scripts that hand over the static hardinit built on the host
/// (compiling inside would need the crates from a registry; what is tested here is the
/// Dockerfile's stages).
fn rust_stand_in(tree: &Path) {
    let tools = [
        "bash",
        "sh",
        "cat",
        "cp",
        "mkdir",
        "install",
        "ln",
        "chmod",
        "realpath",
        "dirname",
        "ls",
        "find",
        "sort",
        "diff",
        "grep",
        "rm",
        "sed",
        "uname",
        "touch",
        "tar",
        "/usr/bin/python3",
    ];
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let with_libraries = |path: std::path::PathBuf, files: &mut Vec<std::path::PathBuf>| {
        let ldd = Command::new("ldd").arg(&path).output().unwrap();
        for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace().filter(|w| w.starts_with('/')) {
            files.push(word.into());
        }
        files.push(path);
    };
    for tool in tools {
        let out = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
        let path = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        assert!(path.is_absolute(), "no {tool} on this host");
        with_libraries(path, &mut files);
    }
    // The Python standard library scripts/sbom.py imports, and the libraries of its C modules.
    let stdlib = Path::new("/usr/lib/python3.11");
    std::fs::create_dir_all(tree).unwrap();
    let mut pack = Command::new("tar")
        .args([
            "-C",
            "/",
            "-c",
            "--exclude=dist-packages",
            "--exclude=test",
            "--exclude=__pycache__",
            "usr/lib/python3.11",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let unpacked =
        Command::new("tar").arg("-C").arg(tree).arg("-x").stdin(pack.stdout.take().unwrap()).status().unwrap();
    assert!(pack.wait().unwrap().success() && unpacked.success(), "the host's Python 3.11 standard library");
    for module in std::fs::read_dir(stdlib.join("lib-dynload")).unwrap() {
        with_libraries(module.unwrap().path(), &mut files);
    }
    files.push("/etc/ssl/certs/ca-certificates.crt".into());
    for file in files {
        let real = std::fs::canonicalize(&file).unwrap();
        for path in [file.clone(), real.clone()] {
            let target = tree.join(path.strip_prefix("/").unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            if path == real {
                if !target.exists() {
                    install(&real, &target, 0o755);
                }
            } else if std::fs::symlink_metadata(&target).is_err() {
                std::os::unix::fs::symlink(&real, &target).unwrap();
            }
        }
    }
    for dir in ["tmp", "usr/local/bin", "stand-in"] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
    }
    // Merged /usr, as Debian's images have it: #!/bin/bash and /bin/sh resolve.
    std::os::unix::fs::symlink("usr/bin", tree.join("bin")).unwrap();
    let sh = tree.join("usr/bin/sh");
    if std::fs::symlink_metadata(&sh).is_err() {
        std::os::unix::fs::symlink(std::fs::canonicalize("/bin/sh").unwrap(), &sh).unwrap();
    }
    install(&static_hardinit(), &tree.join("stand-in/hardinit"), 0o755);
    // The crates of Cargo.lock, where the image's SBOM reads their licences (the build stage's
    // `cargo` would have fetched them there).
    let home = std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap()));
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).unwrap();
    let mut crates: Vec<String> = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take()) {
            crates.push(format!("{n}-{}.crate", v.trim_matches('"')));
        }
    }
    for index in std::fs::read_dir(Path::new(&home).join("registry/cache")).unwrap() {
        let index = index.unwrap().path();
        for file in &crates {
            if index.join(file).exists() {
                let target = tree.join(".cargo/registry/cache").join(index.file_name().unwrap()).join(file);
                std::fs::create_dir_all(target.parent().unwrap()).unwrap();
                std::fs::copy(index.join(file), target).unwrap();
            }
        }
    }
    let scripts = [
        (
            "rustup",
            "#!/bin/bash\n[ \"$1 $2 $3\" = 'target list --installed' ] && echo x86_64-unknown-linux-musl\nexit 0\n",
        ),
        (
            "rustc",
            "#!/bin/bash\ncase \"$*\" in '--print sysroot') echo /stand-in ;; -vV) echo commit-hash: stand-in ;; esac\n",
        ),
        (
            "cargo",
            "#!/bin/bash\n[ \"$1 $2\" = 'auditable build' ] || exit 0\ntarget=x86_64-unknown-linux-musl\nwhile [ $# -gt 0 ]; do [ \"$1\" = --target ] && target=$2; shift; done\nmkdir -p target/$target/release && cp /stand-in/hardinit target/$target/release/hardinit\n",
        ),
    ];
    for (name, text) in scripts {
        let path = tree.join("usr/local/bin").join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
}

/// A stand-in for both server images: the real OpenBao server at /usr/bin/bao and, the same
/// file, at /bin/vault (assemble-rootfs.sh reads the server's own build information and version
/// for the image's SBOM).
fn server_stand_in(tree: &Path) {
    for dir in ["usr/bin", "bin"] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
    }
    install(&common::runc::bao(), &tree.join("usr/bin/bao"), 0o755);
    std::fs::hard_link(tree.join("usr/bin/bao"), tree.join("bin/vault")).unwrap();
}

#[test]
fn the_dockerfile_builds_offline_with_both_builders_and_the_openbao_target_needs_no_vault_image() {
    let Some(engine) = engine() else { return };
    if !engine.is_own() {
        eprintln!("SKIPPED: the build test retags the Dockerfile's FROM images, only on the engine the tests started");
        return;
    }
    let _lock = engine.stand_in_lock();
    // The FROM images are pinned by digest, which no local stand-in can have: the stand-ins are
    // tagged with their names and passed as the *_IMAGE build arguments, as an air-gapped build
    // passes its mirror's.
    let from = common::docker::dockerfile_from_images();
    let named = |prefix: &str| {
        let image = from.iter().find(|i| i.starts_with(prefix)).unwrap_or_else(|| panic!("no FROM {prefix}"));
        image.split('@').next().unwrap().to_string()
    };
    let (rust, openbao, vault) = (&named("rust:"), &named("openbao/openbao:"), &named("hashicorp/vault:"));
    assert_eq!(from.len(), 3, "stand-ins for every FROM image: {from:?}");
    let dir = Scratch::new("docker-build");
    rust_stand_in(&dir.path("rust"));
    server_stand_in(&dir.path("server"));
    let path = ["ENV PATH=/usr/local/bin:/usr/bin:/bin".to_string()];
    engine.import(&dir.path("rust"), rust, &path);
    engine.import(&dir.path("server"), openbao, &[]);
    let _ = engine.output(&["rmi", vault]);
    let client = if Path::new("/usr/bin/docker").exists() { "/usr/bin/docker" } else { "docker" };
    let build = |buildkit: &str, target: &str| {
        let tag = common::docker::unique(&format!("build-{target}-{buildkit}"));
        let mut cmd = Command::new(client);
        cmd.args(["build", "--network", "none", "--target", target, "-t", &tag])
            .args(["--build-arg", &format!("RUST_IMAGE={rust}"), "--build-arg", &format!("OPENBAO_IMAGE={openbao}")])
            .args(["--build-arg", &format!("VAULT_IMAGE={vault}")])
            // The stand-in for Vault is OpenBao: the version the assembly expects is its own.
            .args(["--build-arg", &format!("VAULT_VERSION={}", openbao.rsplit(':').next().unwrap()), "."])
            .current_dir(repo())
            .env("DOCKER_HOST", &engine.host)
            .env("DOCKER_BUILDKIT", buildkit);
        let out = run(cmd, Duration::from_secs(300));
        assert!(
            out.status.success(),
            "DOCKER_BUILDKIT={buildkit} --target {target}:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        let config = engine.inspect(&tag, "{{json .Config.Entrypoint}} {{json .Config.Cmd}}");
        let expected = format!(
            "{} {}",
            serde_json::to_string(&common::docker::dockerfile_exec_form(target, "ENTRYPOINT")).unwrap(),
            serde_json::to_string(&common::docker::dockerfile_exec_form(target, "CMD")).unwrap()
        );
        assert_eq!(config, expected, "{target}");
        engine.ok(&["rmi", &tag]);
    };
    // No hashicorp/vault image at all: both builders build the openbao target from its own.
    build("1", "openbao");
    build("0", "openbao");
    engine.ok(&["tag", openbao, vault]);
    build("0", "vault");
    build("1", "vault");
    for image in [rust, openbao, vault] {
        let _ = engine.output(&["rmi", image]);
    }
}

/// `docker run IMAGE ARGS...` (no -d) on the host's network: its output, whatever its status.
fn run_once(engine: &Engine, args: &[&str]) -> std::process::Output {
    let mut all = vec!["run", "--rm", "--network", "host"];
    all.extend_from_slice(args);
    engine.output(&all)
}

#[test]
fn the_check_recipe_runs_hardinits_checklist_as_the_container_would_start() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-check");
    let mut cleanup = Cleanup::new(engine);
    let mut adapt = Adapt::new(&images(engine));
    let recipe = shell_commands(&readme_recipe("check"), &dir.0);
    assert_eq!(recipe.len(), 1, "{recipe:?}");
    let args = adapt.docker(&recipe[0], &mut cleanup);
    let out = engine.output(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}{}", stderr(&out));
    // The image's server command was judged, as root (hardinit reads the configuration as openbao).
    assert!(report.contains("PASS user:") && report.contains("PASS memory: swap rule"), "{report}");
    assert!(!report.contains("FAIL"), "{report}");
    // `hardinit check` typed after the image name is the same checklist, not a program run as
    // the server's user.
    let image = engine.image("openbao");
    let typed = run_once(engine, &[&image, "hardinit", "check", "--json"]);
    let json: serde_json::Value =
        serde_json::from_slice(&typed.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&typed), stderr(&typed)));
    assert_eq!(json["ok"], true, "{json}");
    let statuses = |text: &str| -> Vec<String> {
        text.lines().map(|l| l.split(':').next().unwrap_or_default().to_string()).collect()
    };
    let from_json: Vec<String> = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["status"].as_str().unwrap(), c["id"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses(&report), from_json);
}

#[test]
fn a_non_root_start_with_cap_add_ipc_lock_is_told_to_start_as_root_and_that_start_works() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-nonroot-ipc");
    let mut cleanup = Cleanup::new(engine);
    let adapt = Adapt::new(&images(engine));
    config_dir(&dir.0, &adapt, "/vault");
    let volume = format!("{}:/vault/config:ro", dir.path("config").display());
    let image = engine.image("vault");
    for user in ["100:1000", "1234:0"] {
        let out = run_once(engine, &["--user", user, "--cap-add", "IPC_LOCK", "-v", &volume, &image, "server"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(78), "--user {user}: {err}");
        let refusal = err.lines().find(|l| l.contains("memory:")).unwrap_or_else(|| panic!("{err}"));
        let fix = refusal.split_once("; fix: ").map(|(_, f)| f).unwrap_or_default();
        assert!(!fix.contains("--cap-add IPC_LOCK"), "the fix repeats what the user did: {refusal}");
        assert!(fix.contains("start the container as root") && fix.contains("disable_mlock = true"), "{refusal}");
        assert!(fix.contains("--memory-swap equal to --memory"), "Docker's own swap fix: {refusal}");
    }
    // The fix, as named: the same start as root.
    let name = common::docker::unique("nonroot-fixed");
    cleanup.containers.push(name.clone());
    engine.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "--cap-add",
        "IPC_LOCK",
        "-v",
        &volume,
        &image,
        "server",
    ]);
    let base = format!("https://127.0.0.1:{}", adapt.port);
    wait_ready(engine, &name, &base, Some(&dir.path("config/tls.crt")), &[501]);
    stops_cleanly(engine, &name);
}

#[test]
fn a_strict_start_names_every_refusing_finding_at_once_and_the_allow_it_names_starts_it() {
    let Some(engine) = engine() else { return };
    let mut cleanup = Cleanup::new(engine);
    let adapt = Adapt::new(&images(engine));
    let image = engine.image("openbao");
    let listen = format!("BAO_DEV_LISTEN_ADDRESS=127.0.0.1:{}", adapt.port);
    // The dev server on a writable root with a umask that shares its files: several WARNs.
    let strict = ["-e", "HARDINIT_STRICT=true", "-e", "HARDINIT_UMASK=022", "-e", &listen];
    let mut args = strict.to_vec();
    args.push(&image);
    let out = run_once(engine, &args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    let refusals: Vec<&str> = err.lines().filter(|l| l.starts_with("hardinit: error:")).collect();
    assert_eq!(refusals.len(), 1, "one refusal: {err}");
    for id in ["umask", "root-filesystem", "memory"] {
        assert!(refusals[0].contains(&format!("{id}: ")), "{id} is named: {}", refusals[0]);
    }
    let allow = refusals[0]
        .split("HARDINIT_ALLOW=")
        .nth(1)
        .and_then(|rest| rest.split([';', ')', ' ']).next())
        .unwrap_or_else(|| panic!("the refusal says how to accept: {}", refusals[0]))
        .to_string();
    // The fix, as named: the same start, every finding accepted in one variable.
    let name = common::docker::unique("strict-allowed");
    cleanup.containers.push(name.clone());
    let allowed = format!("HARDINIT_ALLOW={allow}");
    let mut run = vec!["run", "-d", "--name", &name, "--network", "host", "-e", &allowed];
    run.extend_from_slice(&strict);
    run.push(&image);
    engine.ok(&run);
    wait_ready(engine, &name, &format!("http://127.0.0.1:{}", adapt.port), None, &[200]);
    let (_, err) = engine.logs(&name);
    for id in allow.split(',') {
        let lines: Vec<&str> = hardinit_lines(&err).into_iter().filter(|l| l.contains(&format!(" {id}: "))).collect();
        assert_eq!(lines.len(), 1, "{id} is logged once, as accepted: {err}");
        assert!(lines[0].contains(&format!("accepted by --allow {id}")), "{err}");
    }
    stops_cleanly(engine, &name);
}

#[test]
fn check_without_setuid_points_at_the_user_not_at_a_configuration_that_is_fine() {
    let Some(engine) = engine() else { return };
    let image = engine.image("openbao");
    // The form that runs hardinit's check whatever the image's entrypoint does with `check`.
    let out = run_once(
        engine,
        &["--cap-drop", "ALL", "--entrypoint", "/usr/local/bin/hardinit", &image, "check", "--", "bao", "server"],
    );
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}{}", stderr(&out));
    let fails: Vec<&str> = report.lines().filter(|l| l.starts_with("FAIL ")).collect();
    assert!(fails.iter().any(|l| l.starts_with("FAIL user:")), "{report}");
    for line in fails.iter().filter(|l| !l.starts_with("FAIL user:")) {
        let fix = line.split("; fix: ").nth(1).unwrap_or_default();
        assert!(fix.contains("see the user FAIL") && !fix.starts_with("correct"), "{line}");
    }
    // The fix the user FAIL names: Docker's default capabilities; then nothing fails.
    let fixed = run_once(engine, &["--entrypoint", "/usr/local/bin/hardinit", &image, "check", "--", "bao", "server"]);
    assert_eq!(fixed.status.code(), Some(0), "{}", stdout(&fixed));
}

#[test]
fn an_arbitrary_uid_with_group_0_is_refused_with_the_cause_and_the_group_0_fix_starts_it() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-openshift");
    let mut cleanup = Cleanup::new(engine);
    let adapt = Adapt::new(&images(engine));
    let config = config_dir(&dir.0, &adapt, "/openbao");
    let image = engine.image("openbao");
    let volume = common::docker::unique("openshift-data");
    cleanup.volumes.push(volume.clone());
    let config_mount = format!("{}:/openbao/config:ro", config.display());
    // OpenShift's restricted SCC: an arbitrary uid, group 0, on the README's production layout.
    let out = run_once(
        engine,
        &["--user", "1234:0", "-v", &config_mount, "-v", &format!("{volume}:/openbao/file"), &image, "server"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "hardinit refuses, not the server's own exit 1: {err}");
    let refusal = err.lines().find(|l| l.starts_with("hardinit: error:")).unwrap_or_else(|| panic!("{err}"));
    for cause in ["tls-files: ", "tls.key is not readable", "storage: ", "/openbao/file is not writable"] {
        assert!(refusal.contains(cause), "{cause}: {refusal}");
    }
    assert!(
        refusal.matches("writable by group 0").count() + refusal.matches("readable by group 0").count() >= 2,
        "{refusal}"
    );
    // The fix, as named: the key readable by group 0, the data directory writable by group 0.
    std::os::unix::fs::chown(config.join("tls.key"), Some(0), Some(0)).unwrap();
    let data = dir.path("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o770)).unwrap();
    let name = common::docker::unique("openshift");
    cleanup.containers.push(name.clone());
    let data_mount = format!("{}:/openbao/file", data.display());
    engine.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "--user",
        "1234:0",
        "-v",
        &config_mount,
        "-v",
        &data_mount,
        &image,
        "server",
    ]);
    let base = format!("https://127.0.0.1:{}", adapt.port);
    wait_ready(engine, &name, &base, Some(&config.join("tls.crt")), &[501]);
    stops_cleanly(engine, &name);
}

#[test]
fn a_server_binary_with_file_capabilities_is_refused_with_why_and_runs_once_they_are_removed() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-filecaps");
    let mut cleanup = Cleanup::new(engine);
    let adapt = Adapt::new(&images(engine));
    let config = config_dir(&dir.0, &adapt, "/vault");
    // Vault 2.0.2's advice, which leaves the swap rule to prove the memory stays in RAM.
    let hcl = std::fs::read_to_string(config.join("server.hcl")).unwrap() + "disable_mlock = true\n";
    std::fs::write(config.join("server.hcl"), hcl).unwrap();
    // Vault 2.0.1's binary: cap_ipc_lock=ep baked in.
    let server = dir.path("vault");
    install(&common::runc::bao(), &server, 0o755);
    let setcap = Command::new("setcap").arg("cap_ipc_lock=ep").arg(&server).output().unwrap();
    assert!(setcap.status.success(), "setcap: {}", stderr(&setcap));
    let image = engine.image("vault");
    let mounts = [
        "-v".to_string(),
        format!("{}:/vault/config:ro", config.display()),
        "-v".to_string(),
        format!("{}:/bin/vault:ro", server.display()),
    ];
    let mut args: Vec<&str> = mounts.iter().map(String::as_str).collect();
    args.extend([image.as_str(), "server"]);
    let out = run_once(engine, &args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(78), "{err}");
    let refusal = err.lines().find(|l| l.starts_with("hardinit: error:")).unwrap_or_else(|| panic!("{err}"));
    assert!(refusal.contains("carries file capabilities") && refusal.contains("Vault 2.0.2"), "{refusal}");
    // The fix, as named: the capability removed from the binary.
    let removed = Command::new("setcap").arg("-r").arg(&server).output().unwrap();
    assert!(removed.status.success(), "setcap -r: {}", stderr(&removed));
    let name = common::docker::unique("filecaps");
    cleanup.containers.push(name.clone());
    let mut run = vec!["run", "-d", "--name", &name, "--network", "host"];
    run.extend(args);
    engine.ok(&run);
    wait_ready(engine, &name, &format!("https://127.0.0.1:{}", adapt.port), Some(&config.join("tls.crt")), &[501]);
    stops_cleanly(engine, &name);
}

#[test]
fn each_runtime_is_told_its_own_fix_for_ipc_lock() {
    let Some(engine) = engine() else { return };
    let dir = Scratch::new("docker-runtime-fix");
    let adapt = Adapt::new(&images(engine));
    let config = config_dir(&dir.0, &adapt, "/vault");
    let mount = format!("{}:/vault/config:ro", config.display());
    let image = engine.image("vault");
    let fix_of = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend(["-v", &mount, &image, "server"]);
        let out = run_once(engine, &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(78), "{err}");
        let refusal = err.lines().find(|l| l.contains("memory:")).unwrap_or_else(|| panic!("{err}")).to_string();
        refusal.split_once("; fix: ").map(|(_, f)| f.to_string()).unwrap_or_default()
    };
    // Docker (/.dockerenv): Docker's flags only.
    let docker = fix_of(&[]);
    assert!(docker.starts_with("docker run --cap-add IPC_LOCK") && !docker.contains("securityContext"), "{docker}");
    // The kubelet's variable: the pod spec's fields, no docker flag.
    let kubernetes = fix_of(&["-e", "KUBERNETES_SERVICE_HOST=10.96.0.1"]);
    assert!(
        kubernetes.starts_with("securityContext.capabilities.add") && !kubernetes.contains("docker run"),
        "{kubernetes}"
    );
    // Docker's fix, run: the production recipe's --cap-add IPC_LOCK starts it (tested above too).
    let name = common::docker::unique("runtime-fix");
    let mut cleanup = Cleanup::new(engine);
    cleanup.containers.push(name.clone());
    engine.ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "--cap-add",
        "IPC_LOCK",
        "-v",
        &mount,
        &image,
        "server",
    ]);
    wait_ready(engine, &name, &format!("https://127.0.0.1:{}", adapt.port), Some(&config.join("tls.crt")), &[501]);
    stops_cleanly(engine, &name);
}
