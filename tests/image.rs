//! The image users run: the root filesystem scripts/assemble-rootfs.sh makes (what the Dockerfile
//! ships), under runc, in the scenarios of the README's recipes, with the real OpenBao server.

mod common;

use common::runc::{Container, DOCKER_DEFAULT_CAPS, ProcessView, Running};
use common::*;
use serde_json::{Value, json};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);

#[test]
fn the_image_has_no_shell_but_hardinit_as_sh_no_interpreter_no_setid_file_and_only_its_manifest() {
    if !privileged(false) {
        return;
    }
    let dir = Scratch::new("manifest");
    for flavour in ["vault", "openbao"] {
        // A fresh tree: the shared test image is a container's writable root in other tests.
        let root = dir.path(flavour);
        let out = Command::new("bash")
            .arg(repo().join("scripts/assemble-rootfs.sh"))
            .args([
                flavour,
                root.to_str().unwrap(),
                static_hardinit().to_str().unwrap(),
                common::runc::bao().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut listed = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let meta = std::fs::symlink_metadata(&path).unwrap();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                // /bin/sh is hardinit itself (for the Helm charts' scripts), nothing else.
                if name == "sh" {
                    assert_eq!(std::fs::read_link(&path).unwrap(), Path::new("../usr/local/bin/hardinit"), "{flavour}");
                    listed.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
                    continue;
                }
                for forbidden in [
                    "bash", "ash", "dash", "zsh", "busybox", "python", "python3", "perl", "apt", "dpkg", "apk", "su",
                    "sudo",
                ] {
                    assert_ne!(name, forbidden, "{} in the {flavour} image", path.display());
                }
                assert_eq!(meta.permissions().mode() & 0o6000, 0, "{} is setuid/setgid", path.display());
                assert!(!name.starts_with("python") && !name.starts_with("perl"), "{}", path.display());
                listed.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
                if meta.is_dir() {
                    stack.push(path);
                }
            }
        }
        listed.sort();
        let manifest = std::fs::read_to_string(repo().join(format!("image/manifest.{flavour}.txt"))).unwrap();
        let mut expected: Vec<String> =
            manifest.lines().map(|l| l.splitn(4, ' ').nth(3).unwrap().to_string()).collect();
        expected.sort();
        assert_eq!(listed, expected, "{flavour}: exactly the manifest's entries");
    }
}

#[test]
fn the_dockerfile_check_rejects_a_final_stage_that_gains_a_shell() {
    let dir = Scratch::new("dockerfile");
    let original = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let check = |text: &str| check_dockerfile(&dir, text);
    assert_eq!(check(&original).0, Some(0), "the real Dockerfile passes");
    let with_run =
        original.replace("FROM scratch AS vault\n", "FROM scratch AS vault\nRUN [\"/bin/sh\", \"-c\", \"true\"]\n");
    let (code, out) = check(&with_run);
    assert_eq!(code, Some(1));
    assert!(out.contains("stage vault has RUN"), "{out}");
    let (code, out) = check(&original.replace("FROM scratch AS openbao", "FROM debian:12 AS openbao"));
    assert_eq!(code, Some(1));
    assert!(out.contains("not scratch"), "{out}");
}

/// A production config volume: raft on /<root>/file, a listener on a free port.
fn config_volume(dir: &Scratch, root: &str, port: u16, extra: &str) -> std::path::PathBuf {
    let config = dir.path("config");
    std::fs::create_dir_all(&config).unwrap();
    let cluster = free_port();
    let text = format!(
        "api_addr = \"http://127.0.0.1:{port}\"\ncluster_addr = \"https://127.0.0.1:{cluster}\"\n{extra}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  cluster_address = \"127.0.0.1:{cluster}\"\n  tls_disable = true\n}}\nstorage \"raft\" {{\n  path = \"{root}/file\"\n  node_id = \"node1\"\n}}\n"
    );
    std::fs::write(config.join("server.hcl"), text).unwrap();
    let data = dir.path("data");
    std::fs::create_dir_all(&data).unwrap();
    config
}

#[test]
fn a_strict_production_start_with_the_images_own_modes_and_a_root_owned_config_changes_no_owner() {
    if !privileged(true) {
        return;
    }
    for flavour in ["openbao", "vault"] {
        let root = format!("/{flavour}");
        let dir = Scratch::new("img-strict");
        let config = config_volume(&dir, &root, free_port(), "disable_mlock = true");
        for path in [config.clone(), config.join("server.hcl")] {
            std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
        }
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A fresh named volume: Docker copies the image directory's owner and mode into it.
        let image_data = std::fs::metadata(common::runc::image(flavour).join(&root[1..]).join("file")).unwrap();
        let data = dir.path("data");
        std::os::unix::fs::chown(&data, Some(image_data.uid()), Some(image_data.gid())).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(image_data.mode() & 0o7777)).unwrap();
        let mut container = Container::from_image("img-strict", flavour, &["server"]);
        container.volume(&config, &format!("{root}/config")).volume(&data, &format!("{root}/file")).read_only_root();
        // What runc cannot give here (a seccomp filter, an LSM, 65,536 files) and the loopback
        // listener in clear text are accepted; everything else must hold.
        container.env("HARDINIT_STRICT", "true").env("HARDINIT_ALLOW", "tls,lsm,seccomp,open-files");
        let mut running = container.start();
        running.wait_for_output("OpenBao server started", LONG);
        for path in [config.clone(), config.join("server.hcl")] {
            assert_eq!(std::fs::metadata(&path).map(|m| (m.uid(), m.gid())).unwrap(), (0, 0), "{flavour}: {path:?}");
        }
        assert_eq!(image_data.mode() & 0o777, 0o700, "{flavour}: the image's data directory is the server's alone");
        running.stop_cleanly();
    }
}

#[test]
fn docker_run_defaults_start_the_dev_server_as_vault() {
    if !privileged(true) {
        return;
    }
    // Docker's defaults: no memory limit, so the container may swap where the host has swap.
    let _swap = SwapFile::on();
    for flavour in ["openbao", "vault"] {
        let mut container = Container::from_image("img-defaults", flavour, &[]);
        container.own_network().no_memory_limit();
        let mut running = container.start();
        running.wait_for_output("OpenBao server started", LONG);
        assert!(running.stderr().contains("hardinit: warning: memory: a dev-mode server"), "{}", running.stderr());
        let server = ProcessView { pid: running.server_pid() };
        assert_eq!(server.ids("Uid"), [100; 4], "{flavour}");
        assert_eq!(server.field("CapEff"), "0000000000000000");
        running.stop_cleanly();
    }
}

#[test]
fn one_off_commands_print_their_own_output_not_the_servers_checklist() {
    if !privileged(true) {
        return;
    }
    // `docker run IMAGE version` and `... status`: what the server binary prints, nothing of the
    // container's checklist (it is about the server) unless -v asks for it.
    for (args, verbose) in [(&["version"][..], "false"), (&["status"][..], "false"), (&["version"][..], "true")] {
        let mut container = Container::from_image("img-one-off", "openbao", args);
        container.env("HARDINIT_VERBOSE", verbose).env("BAO_ADDR", &format!("http://127.0.0.1:{}", free_port()));
        let mut running = container.start();
        let status = running.wait(LONG);
        let stderr = running.stderr();
        if args == ["version"] {
            assert_eq!(status, 0, "{stderr}");
            assert!(running.stdout().contains("OpenBao v"), "{}", running.stdout());
        }
        let hardinit_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit:")).collect();
        if verbose == "false" {
            assert!(hardinit_lines.is_empty(), "{args:?}: {stderr}");
        } else {
            assert!(stderr.contains("WARN root-filesystem:") && stderr.contains("not enforced"), "{stderr}");
            assert!(!stderr.contains("hardinit: warning:"), "{stderr}");
        }
    }
    // The server itself still reports the container's checklist.
    let mut container = Container::from_image("img-server-reports", "openbao", &[]);
    container.own_network();
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    assert!(running.stderr().contains("hardinit: warning: root-filesystem:"), "{}", running.stderr());
    running.stop_cleanly();
}

#[test]
fn docker_run_without_ipc_lock_refuses_a_vault_config_that_needs_mlock_and_cap_add_fixes_it() {
    if !privileged(true) {
        return;
    }
    let dir = Scratch::new("img-mlock");
    let config = config_volume(&dir, "/vault", free_port(), "");
    let mut refused = Container::from_image("img-mlock", "vault", &["server"]);
    refused.volume(&config, "/vault/config").volume(&dir.path("data"), "/vault/file");
    let mut refused = refused.start();
    assert_eq!(refused.wait(LONG), 78);
    let errors: Vec<String> =
        refused.stderr().lines().filter(|l| l.starts_with("hardinit: error:")).map(String::from).collect();
    assert_eq!(errors.len(), 1, "{}", refused.stderr());
    assert!(errors[0].contains("--cap-add IPC_LOCK"), "{errors:?}");

    // docker run --cap-add IPC_LOCK
    let mut container = Container::from_image("img-ipc-lock", "vault", &["server"]);
    container.volume(&config, "/vault/config").volume(&dir.path("data"), "/vault/file");
    let mut caps = DOCKER_DEFAULT_CAPS.to_vec();
    caps.push("CAP_IPC_LOCK");
    container.capabilities(&caps);
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    let server = ProcessView { pid: running.server_pid() };
    assert_eq!(server.field("CapAmb"), "0000000000004000");
    assert!(running.stderr().contains("memory PASS"), "{}", running.stderr());
    running.stop_cleanly();
}

#[test]
fn docker_run_user_100_and_read_only_root() {
    if !privileged(true) {
        return;
    }
    // docker run --user 100:1000
    let mut container = Container::from_image("img-user", "openbao", &[]);
    container.user(100, 1000).own_network();
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    assert_eq!(ProcessView { pid: running.server_pid() }.ids("Uid"), [100; 4]);
    running.stop_cleanly();

    // docker run --read-only --tmpfs /tmp
    let mut container = Container::from_image("img-readonly", "openbao", &[]);
    container.own_network().read_only_root();
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    running.stop_cleanly();
}

#[test]
fn kubernetes_restricted_profile() {
    if !privileged(true) {
        return;
    }
    // The README's Kubernetes recipe: runAsNonRoot (100:1000), allowPrivilegeEscalation false,
    // capabilities drop ALL, seccomp, read-only root, config from a ConfigMap with disable_mlock.
    let dir = Scratch::new("img-k8s");
    let config = config_volume(&dir, "/openbao", free_port(), "disable_mlock = true");
    std::os::unix::fs::chown(&config, Some(100), Some(1000)).unwrap();
    std::os::unix::fs::chown(config.join("server.hcl"), Some(100), Some(1000)).unwrap();
    std::os::unix::fs::chown(dir.path("data"), Some(100), Some(1000)).unwrap();
    let mut container = Container::from_image("img-k8s", "openbao", &["server"]);
    container.volume(&config, "/openbao/config").volume(&dir.path("data"), "/openbao/file");
    container.user(100, 1000).no_new_privileges(true).capabilities(&[]);
    // readOnlyRootFilesystem: true, with an emptyDir on /tmp.
    container.read_only_root();
    container.env("SKIP_CHOWN", "true").env("SKIP_SETCAP", "true");
    let denied =
        ["keyctl", "add_key", "request_key", "unshare", "mount", "umount2", "ptrace", "bpf", "perf_event_open"];
    container.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": denied, "action": "SCMP_ACT_ERRNO"}]
    });
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    let server = ProcessView { pid: running.server_pid() };
    assert_eq!(server.ids("Uid"), [100; 4]);
    assert_eq!(server.field("Seccomp"), "2");
    assert_eq!(server.field("NoNewPrivs"), "1");
    assert_eq!(server.field("CapBnd"), "0000000000000000");
    running.stop_cleanly();
}

fn http(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    common::http(method, url, token, body, None)
}

/// The README's Compose recipe: `command: ["server"]`, config and data volumes, `read_only` with a
/// tmpfs on /tmp, memory and memory+swap limits equal (Container's default).
fn start_server(dir: &Scratch, config: &Path, name: &str) -> Running {
    let mut container = Container::from_image(name, "openbao", &["server"]);
    container.volume(config, "/openbao/config").volume(&dir.path("data"), "/openbao/file").read_only_root();
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    running
}

fn unseal(running: &Running, base: &str, key: &str) {
    if let Err(health) = unseal_until_active(base, key, None) {
        panic!("not active 150 s after the unseal: {health:?}\n{}", running.stderr());
    }
}

#[test]
fn a_secret_written_before_sigterm_is_there_after_a_restart_on_the_same_volume() {
    if !privileged(true) {
        return;
    }
    let dir = Scratch::new("img-persist");
    let port = free_port();
    // OpenBao 2.7.2 unseals a node as a read-enabled standby first; when raft's first election
    // at unseal comes after the core's first try for the lock (under qemu-user on a loaded
    // machine), that standby's setup stalled for over a minute (its own retry is one minute,
    // ha.go waitForLeadership). One node has nothing to read from: without standby reads it
    // simply takes the lock when raft has elected it.
    let config = config_volume(&dir, "/openbao", port, "disable_standby_reads = true");
    let base = format!("http://127.0.0.1:{port}");

    let running = start_server(&dir, &config, "img-persist-1");
    let (status, init) =
        http("PUT", &format!("{base}/v1/sys/init"), None, Some(&json!({"secret_shares": 1, "secret_threshold": 1})));
    assert_eq!(status, 200, "{init}");
    let key = init["keys_base64"][0].as_str().unwrap().to_string();
    let token = init["root_token"].as_str().unwrap().to_string();
    unseal(&running, &base, &key);
    let mount = json!({"type": "kv", "options": {"version": "2"}});
    assert_eq!(http("POST", &format!("{base}/v1/sys/mounts/secret"), Some(&token), Some(&mount)).0, 204);
    let secret = json!({"data": {"password": "correct horse battery staple"}});
    write_to_new_kv2(&format!("{base}/v1/secret/data/app"), &token, &secret, None);
    running.stop_cleanly();
    let data = std::fs::metadata(dir.path("data")).unwrap();
    assert_eq!((data.uid(), data.gid()), (100, 1000), "the volume was given to openbao");

    let running = start_server(&dir, &config, "img-persist-2");
    unseal(&running, &base, &key);
    let (status, read) = http("GET", &format!("{base}/v1/secret/data/app"), Some(&token), None);
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["data"]["data"]["password"], "correct horse battery staple");
    running.stop_cleanly();
}
