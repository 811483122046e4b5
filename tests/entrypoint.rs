//! hardinit as the image's docker-entrypoint.sh, in runc containers with the real OpenBao server
//! (also installed as `vault`, as OpenBao's image does). Expected argv and environment are written
//! from the official script's rules, never by running the script.

mod common;

use common::runc::{Container, DOCKER_DEFAULT_CAPS, ProcessView, proc_list};
use common::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const ENTRYPOINT: &str = "/usr/local/bin/docker-entrypoint.sh";

/// An image laid out as the official Vault image: /vault/{config,file,logs} (root-owned, as a
/// fresh volume is), `vault` on the PATH, docker-entrypoint.sh a link to hardinit.
fn vault_image(name: &str, args: &[&str]) -> Container {
    let mut full = vec![ENTRYPOINT];
    full.extend_from_slice(args);
    let mut container = Container::new(name, &full);
    let rootfs = container.rootfs();
    std::os::unix::fs::symlink("hardinit", rootfs.join("usr/local/bin/docker-entrypoint.sh")).unwrap();
    std::os::unix::fs::symlink("bao", rootfs.join("bin/vault")).unwrap();
    container.env("HOME", "/home/vault").env("HISTFILE", "/dev/null").env("HARDINIT_VERBOSE", "1");
    std::os::unix::fs::chown(rootfs.join("home/vault"), Some(100), Some(1000)).unwrap();
    container
}

/// The same for OpenBao: /openbao, user openbao.
fn openbao_image(name: &str, args: &[&str]) -> Container {
    let mut container = vault_image(name, args);
    let rootfs = container.rootfs();
    std::fs::remove_dir_all(rootfs.join("vault")).unwrap();
    for dir in ["config", "file", "logs"] {
        std::fs::create_dir_all(rootfs.join("openbao").join(dir)).unwrap();
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nopenbao:x:100:1000::/home/vault:/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nopenbao:x:1000:openbao\n").unwrap();
    container.env("HARDINIT_VERBOSE", "1");
    container
}

fn server_of(running: &mut common::runc::Running) -> ProcessView {
    running.wait_for_output("OpenBao server started", LONG);
    ProcessView { pid: running.server_pid() }
}

#[test]
fn server_gets_the_scripts_flags_before_the_users_and_runs_as_vault() {
    if !privileged(true) {
        return;
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let mut container = vault_image("ep-server", &["server", "-dev", "-dev-no-store-token"]);
    container.env("VAULT_DEV_LISTEN_ADDRESS", &listen).env("VAULT_DEV_ROOT_TOKEN_ID", "s3cret");
    let mut running = container.start();
    let server = server_of(&mut running);
    let expected = [
        "vault",
        "server",
        "-config=/vault/config",
        "-dev-root-token-id=s3cret",
        &format!("-dev-listen-address={listen}"),
        "-dev",
        "-dev-no-store-token",
    ];
    assert_eq!(proc_list(server.pid, "cmdline"), expected);
    assert_eq!(server.ids("Uid"), [100; 4]);
    let environ = proc_list(server.pid, "environ");
    for pair in ["HISTFILE=/dev/null", "HISTSIZE=0", "VAULT_DEV_ROOT_TOKEN_ID=s3cret"] {
        assert!(environ.iter().any(|e| e == pair), "{pair} missing: {environ:?}");
    }
    running.stop_cleanly();
}

#[test]
fn openbao_images_use_bao_names_and_paths() {
    if !privileged(true) {
        return;
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let mut container = openbao_image("ep-bao", &["server", "-dev", "-dev-no-store-token"]);
    // BAO_ variables first; OpenBao falls back to VAULT_ ones.
    container.env("BAO_DEV_LISTEN_ADDRESS", &listen).env("VAULT_CLUSTER_INTERFACE", "lo");
    let mut running = container.start();
    let server = server_of(&mut running);
    let expected = [
        "bao",
        "server",
        "-config=/openbao/config",
        "-dev-root-token-id=",
        &format!("-dev-listen-address={listen}"),
        "-dev",
        "-dev-no-store-token",
    ];
    assert_eq!(proc_list(server.pid, "cmdline"), expected);
    let environ = proc_list(server.pid, "environ");
    assert!(environ.iter().any(|e| e == "BAO_CLUSTER_ADDR=https://127.0.0.1:8201"), "{environ:?}");
    let rootfs = running.container.rootfs();
    assert_eq!(std::fs::metadata(rootfs.join("openbao/file")).unwrap().uid(), 100, "chowned to openbao");
    running.stop_cleanly();
}

#[test]
fn version_flags_subcommands_and_other_programs_are_rewritten_as_the_script_does() {
    if !privileged(true) {
        return;
    }
    // (container args, the command hardinit logs, what the output proves, exit status)
    let cases: [(&[&str], &str, &str, i32); 4] = [
        (&["version"], r#"["vault", "version"]"#, "OpenBao v2.7.2", 0),
        (&["-version"], r#"["vault", "-version"]"#, "OpenBao v2.7.2", 0),
        (
            &["status", "-address=http://127.0.0.1:1"],
            r#"["vault", "status", "-address=http://127.0.0.1:1"]"#,
            "connection refused",
            1,
        ),
        (&["id", "-u"], r#"["id", "-u"]"#, "100", 0),
    ];
    for (args, logged, shows, status) in cases {
        let mut running = vault_image("ep-rewrite", args).start();
        let code = running.wait(LONG);
        let (out, err) = (running.stdout(), running.stderr());
        assert!(err.contains(&format!("entrypoint (Vault): {logged}")), "{args:?}: {err}");
        assert!(out.contains(shows) || err.contains(shows), "{args:?}: {out}\n{err}");
        assert_eq!(code, status, "{args:?}: {out}\n{err}");
    }
}

#[test]
fn local_config_is_written_atomically_readable_not_writable_by_vault_and_used_by_the_server() {
    if !privileged(true) {
        return;
    }
    let port = free_port();
    let config = format!(
        r#"{{"storage": {{"inmem": {{}}}}, "listener": [{{"tcp": {{"address": "127.0.0.1:{port}", "tls_disable": true}}}}], "disable_mlock": true}}"#
    );
    let mut container = vault_image("ep-local", &["server"]);
    container.env("VAULT_LOCAL_CONFIG", &config);
    let mut running = container.start();
    let server = server_of(&mut running);
    let local = running.container.rootfs().join("vault/config/local.json");
    assert_eq!(std::fs::read_to_string(&local).unwrap(), format!("{config}\n"), "the text and echo's newline");
    let meta = std::fs::metadata(&local).unwrap();
    // Root's, readable by the server's group: the server cannot change what it is configured with.
    assert_eq!((meta.uid(), meta.gid(), meta.permissions().mode() & 0o777), (0, 1000, 0o640));
    let leftovers: Vec<_> =
        std::fs::read_dir(local.parent().unwrap()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["local.json"], "no temporary file left");
    assert_eq!(proc_list(server.pid, "cmdline")[2], "-config=/vault/config");
    running.stop_cleanly();
}

#[test]
fn a_read_only_config_directory_is_one_clear_line() {
    if !privileged(true) {
        return;
    }
    let mut container = vault_image("ep-readonly", &["server"]);
    container.env("VAULT_LOCAL_CONFIG", "{}");
    container.config["root"]["readonly"] = serde_json::json!(true);
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78);
    let errors: Vec<String> =
        running.stderr().lines().filter(|l| l.starts_with("hardinit: error:")).map(String::from).collect();
    assert_eq!(errors.len(), 1, "{}", running.stderr());
    assert!(
        errors[0].contains("/vault/config/local.json") && errors[0].contains("Read-only file system"),
        "{errors:?}"
    );
}

#[test]
fn interfaces_become_addresses_keeping_scheme_and_port() {
    if !privileged(true) {
        return;
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let mut container = vault_image("ep-iface", &["server", "-dev", "-dev-no-store-token"]);
    container
        .env("VAULT_DEV_LISTEN_ADDRESS", &listen)
        .env("VAULT_REDIRECT_INTERFACE", "lo")
        .env("VAULT_REDIRECT_ADDR", "https://vault.example:9200");
    container.env("VAULT_CLUSTER_INTERFACE", "lo");
    let mut running = container.start();
    let server = server_of(&mut running);
    let environ = proc_list(server.pid, "environ");
    assert!(environ.iter().any(|e| e == "VAULT_REDIRECT_ADDR=https://127.0.0.1:9200"), "{environ:?}");
    assert!(environ.iter().any(|e| e == "VAULT_CLUSTER_ADDR=https://127.0.0.1:8201"), "{environ:?}");
    running.stop_cleanly();

    let mut container = vault_image("ep-iface-bad", &["server", "-dev"]);
    container.env("VAULT_CLUSTER_INTERFACE", "nosuch0");
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78);
    assert!(
        running.stderr().contains("VAULT_CLUSTER_INTERFACE=\"nosuch0\": no such interface"),
        "{}",
        running.stderr()
    );
}

fn owner(path: &Path) -> (u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.uid(), m.gid())
}

#[test]
fn a_hostile_volume_cannot_make_the_chown_touch_anything_outside_it() {
    if !privileged(true) {
        return;
    }
    let mut container = vault_image("ep-hostile", &["version"]);
    container.capabilities(&DOCKER_DEFAULT_CAPS);
    let rootfs = container.rootfs();
    let volume = rootfs.join("vault/file");
    std::fs::write(rootfs.join("etc/secret"), "outside").unwrap();
    std::fs::write(rootfs.join("etc/hardtarget"), "outside").unwrap();
    std::fs::write(volume.join("plain"), "").unwrap();
    std::fs::create_dir_all(volume.join("sub/dir")).unwrap();
    std::fs::write(volume.join("sub/dir/deep"), "").unwrap();
    std::fs::write(volume.join("new\nline"), "").unwrap();
    std::os::unix::fs::symlink("/etc/secret", volume.join("to-secret")).unwrap();
    std::os::unix::fs::symlink("/", volume.join("to-root")).unwrap();
    std::os::unix::fs::symlink("/etc", volume.join("sub/to-etc")).unwrap();
    std::fs::hard_link(rootfs.join("etc/hardtarget"), volume.join("hard")).unwrap();
    let mut deep = volume.join("deep");
    for _ in 0..140 {
        deep = deep.join("d");
    }
    std::fs::create_dir_all(&deep).unwrap();
    // A host file and a host directory bind-mounted into the volume (same filesystem: st_dev
    // cannot tell), device nodes, and a thousand hard-linked pairs.
    let host = Scratch::new("ep-host");
    std::fs::write(host.path("bound-file"), "host").unwrap();
    std::fs::create_dir(host.path("bound-dir")).unwrap();
    std::fs::write(host.path("bound-dir/inside"), "host").unwrap();
    for path in ["bound-file", "bound-dir", "bound-dir/inside"] {
        std::os::unix::fs::chown(host.path(path), Some(0), Some(0)).unwrap();
    }
    container.volume(&host.path("bound-file"), "/vault/file/bound-file");
    container.volume(&host.path("bound-dir"), "/vault/file/bound-dir");
    for (name, kind) in [("disk", "b"), ("null", "c")] {
        let made = std::process::Command::new("mknod").arg(volume.join(name)).args([kind, "7", "200"]).status();
        assert!(made.unwrap().success(), "mknod {name}");
    }
    std::fs::create_dir(volume.join("pairs")).unwrap();
    for n in 0..1000 {
        std::fs::write(volume.join(format!("pairs/a{n}")), "").unwrap();
        std::fs::hard_link(volume.join(format!("pairs/a{n}")), volume.join(format!("pairs/b{n}"))).unwrap();
    }
    // /vault/logs itself a symlink to /etc: never followed.
    std::fs::remove_dir(rootfs.join("vault/logs")).unwrap();
    std::os::unix::fs::symlink("/etc", rootfs.join("vault/logs")).unwrap();
    let before_etc: Vec<_> =
        ["etc", "etc/passwd", "etc/group", "etc/secret", "etc/hardtarget", "bin", "", "usr/local/bin/hardinit"]
            .iter()
            .map(|p| (p.to_string(), owner(&rootfs.join(p))))
            .collect();

    let mut running = container.start();
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    let stderr = running.stderr();
    for path in ["plain", "sub", "sub/dir", "sub/dir/deep", "new\nline", "to-secret", "to-root", "sub/to-etc", "deep"] {
        assert_eq!(owner(&volume.join(path)), (100, 1000), "{path:?} was given to vault");
    }
    for (path, was) in &before_etc {
        assert_eq!(&owner(&rootfs.join(path)), was, "{path:?} outside the volume is untouched");
    }
    assert_eq!(owner(&volume.join("hard")), (0, 0), "a hard link is not changed");
    assert!(stderr.contains("hard links: not changed"), "{stderr}");
    assert!(stderr.contains("levels: not entered"), "{stderr}");
    assert_eq!(owner(&deep), (0, 0), "beyond the depth limit nothing is changed");
    assert!(stderr.contains("\"/vault/logs\": not changed"), "{stderr}");
    assert!(stderr.contains("new\\nline") || !stderr.contains("new\nline"), "names are quoted on one line");
    for path in ["bound-file", "bound-dir", "bound-dir/inside"] {
        assert_eq!(owner(&host.path(path)), (0, 0), "{path}: a bind mount is never entered or changed");
    }
    assert!(stderr.contains("bound-dir\": a mount point: not entered"), "{stderr}");
    assert!(stderr.contains("bound-file\": a mount point: not entered"), "{stderr}");
    for name in ["disk", "null"] {
        assert_eq!(owner(&volume.join(name)), (0, 0), "{name}: a device node is left alone");
    }
    assert!(stderr.contains("a device node: not changed"), "{stderr}");
    let listed = stderr.lines().filter(|l| l.contains("chown: ")).count();
    assert!(listed <= 20, "at most 5 lines per kind, then a count: {listed} lines");
    assert!(
        stderr.contains("2001 with more than one hard link, 2 mount points, 2 device nodes, 1 too deep")
            && stderr.contains("not listed"),
        "the summary counts every kind: {stderr}"
    );

    // SKIP_CHOWN: nothing is walked.
    let mut container = vault_image("ep-skip", &["version"]);
    container.env("SKIP_CHOWN", "true");
    let file = container.rootfs().join("vault/file/x");
    std::fs::write(&file, "").unwrap();
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert_eq!(owner(&file), (0, 0));
}

#[test]
fn a_refused_start_changes_no_owner_on_any_volume() {
    if !privileged(true) {
        return;
    }
    // The mlock rule in a container without IPC_LOCK; the user rule with root asked for.
    for (variable, value, refusal) in
        [("HARDINIT_MEMORY_GUARD", "mlock", "CAP_IPC_LOCK"), ("HARDINIT_USER", "root", "the server would run as uid 0")]
    {
        let mut container = vault_image("ep-refused", &["server"]);
        container.env(variable, value);
        let port = free_port();
        let config = format!(
            "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = 1\n}}\n"
        );
        container.file("/vault/config/server.hcl", &config, 0, 0);
        container.file("/vault/file/data", "x", 0, 0);
        let rootfs = container.rootfs();
        let mut running = container.start();
        assert_eq!(running.wait(LONG), 78, "{variable}: {}", running.stderr());
        assert!(running.stderr().contains(refusal), "{variable}: {}", running.stderr());
        for path in ["vault/file", "vault/file/data", "vault/config", "vault/config/server.hcl", "vault/logs"] {
            assert_eq!(owner(&rootfs.join(path)), (0, 0), "{variable}: {path}: decided first, so nothing was chowned");
        }
    }
}

#[test]
fn the_decision_before_the_chown_is_the_starts_own_strict_and_allow_included() {
    if !privileged(true) {
        return;
    }
    let config = |port: u16| {
        format!(
            "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = 1\n}}\n"
        )
    };
    // --strict: the tls warning refuses, before any owner changed.
    let mut container = vault_image("ep-strict", &["server"]);
    container.env("HARDINIT_STRICT", "true");
    container.file("/vault/config/server.hcl", &config(free_port()), 0, 0);
    container.file("/vault/file/data", "x", 0, 0);
    let rootfs = container.rootfs();
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78, "{}", running.stderr());
    assert!(running.stderr().contains("hardinit: error: "), "{}", running.stderr());
    for path in ["vault/file", "vault/file/data", "vault/config", "vault/config/server.hcl", "vault/logs"] {
        assert_eq!(owner(&rootfs.join(path)), (0, 0), "{path}: refused under --strict, so nothing was chowned");
    }
    // --allow memory accepts the mlock rule's refusal with and without the chown alike.
    for skip_chown in ["", "1"] {
        let mut container = vault_image("ep-allow", &["server"]);
        container.env("HARDINIT_ALLOW", "memory").env("HARDINIT_MEMORY_GUARD", "mlock").env("SKIP_CHOWN", skip_chown);
        container.file("/vault/config/server.hcl", &config(free_port()), 0, 0);
        let mut running = container.start();
        running.wait_for_output("OpenBao server started", LONG);
        assert!(running.stderr().contains("accepted by --allow memory"), "{}", running.stderr());
        running.stop_cleanly();
    }
}

#[test]
fn a_stop_during_the_chown_cuts_it_short_and_starts_nothing() {
    if !privileged(true) {
        return;
    }
    let listen = format!("127.0.0.1:{}", free_port());
    let mut container = vault_image("ep-stop-chown", &["server", "-dev"]);
    container.env("VAULT_DEV_LISTEN_ADDRESS", &listen);
    let volume = container.rootfs().join("vault/file");
    const FILES: usize = 100_000;
    for d in 0..100 {
        std::fs::create_dir(volume.join(format!("d{d}"))).unwrap();
        for f in 0..FILES / 100 {
            std::fs::write(volume.join(format!("d{d}/f{f}")), "").unwrap();
        }
    }
    let mut running = container.start();
    // SIGTERM only once hardinit blocks it: before that, PID 1 of a namespace never sees it.
    let init = running.init_pid();
    let term_blocked = || {
        let blocked = ProcessView { pid: init }.field("SigBlk");
        (u64::from_str_radix(&blocked, 16).unwrap_or(0) & (1 << (libc::SIGTERM - 1)) != 0).then_some(())
    };
    wait_until(LONG, term_blocked).expect("hardinit blocks SIGTERM");
    running.kill("TERM");
    assert_eq!(running.wait(LONG), 143, "{}", running.stderr());
    let stderr = running.stderr();
    assert!(stderr.contains("SIGTERM arrived before the server started"), "{stderr}");
    assert!(!running.stdout().contains("OpenBao server started"), "the server never started");
    let untouched = (0..100)
        .flat_map(|d| (0..FILES / 100).map(move |f| format!("d{d}/f{f}")))
        .filter(|p| owner(&volume.join(p)).0 == 0)
        .count();
    assert!(untouched > 0, "the chown stopped when SIGTERM arrived, not after {FILES} files: {stderr}");
}

#[test]
fn a_leftover_temporary_local_json_does_not_block_the_next_start() {
    if !privileged(true) {
        return;
    }
    let mut container = vault_image("ep-stale", &["version"]);
    container.env("VAULT_LOCAL_CONFIG", "{\"disable_mlock\": true}");
    let config = container.rootfs().join("vault/config");
    // What a start killed between create and rename leaves, and what an older release left.
    std::fs::write(config.join(".local.json.hardinit-00000000deadbeef"), "half").unwrap();
    std::fs::write(config.join(".local.json.1"), "half").unwrap();
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert!(!config.join(".local.json.hardinit-00000000deadbeef").exists(), "hardinit clears its own leftovers");
    assert_eq!(std::fs::read_to_string(config.join("local.json")).unwrap(), "{\"disable_mlock\": true}\n");
}

#[test]
fn interface_messages_name_the_variable_that_was_set_and_a_template_must_be_a_url() {
    if !privileged(true) {
        return;
    }
    let mut container = openbao_image("ep-iface-name", &["server", "-dev"]);
    container.env("VAULT_REDIRECT_INTERFACE", "nosuch0");
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78);
    let stderr = running.stderr();
    assert!(stderr.contains("VAULT_REDIRECT_INTERFACE=\"nosuch0\""), "{stderr}");
    assert!(!stderr.contains("BAO_REDIRECT_INTERFACE"), "{stderr}");

    let mut container = vault_image("ep-iface-url", &["server", "-dev"]);
    container.env("VAULT_REDIRECT_INTERFACE", "lo").env("VAULT_REDIRECT_ADDR", "not a url");
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78);
    let stderr = running.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit: error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].contains("VAULT_REDIRECT_ADDR=\"not a url\" is not a URL") && errors[0].contains("fix:"),
        "{stderr}"
    );
    assert!(!running.stdout().contains("OpenBao"), "the server never started");
}

#[test]
fn an_invalid_local_config_names_the_variable_not_the_file() {
    if !privileged(true) {
        return;
    }
    let mut container = vault_image("ep-bad-local", &["server"]);
    container.env("VAULT_LOCAL_CONFIG", "{\"storage\": {\"inmem\": {}}, \"disable_mlock\": tru}");
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78, "{}", running.stderr());
    let stderr = running.stderr();
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hardinit: error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("/vault/config/local.json:1"), "{stderr}");
    assert!(errors[0].contains("fix: correct VAULT_LOCAL_CONFIG"), "{stderr}");
}

/// Every finding but `config-files` allowed under --strict: the start refuses exactly where the
/// configuration's files are the server's to change.
const ALL_BUT_CONFIG_FILES: &str =
    "memory,history,lsm,root-filesystem,seccomp,open-files,tls,root-token,audit,storage,pid-namespace";

fn mode_and_owner(path: &Path) -> (u32, u32, u32) {
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.permissions().mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn the_configuration_is_left_readable_not_writable_by_the_server_and_decided_before_any_change() {
    if !privileged(true) {
        return;
    }
    let listener = |port: u16| {
        format!(
            "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = 1\n}}\n"
        )
    };
    let strict_start = |name: &str, setup: &dyn Fn(&mut Container)| {
        let mut container = vault_image(name, &["server"]);
        container.env("HARDINIT_STRICT", "true").env("HARDINIT_ALLOW", ALL_BUT_CONFIG_FILES);
        setup(&mut container);
        let mut running = container.start();
        running.wait_for_output("OpenBao server started", LONG);
        let stderr = running.stderr();
        assert!(!stderr.contains("warning: config-files") && stderr.contains("PASS config-files"), "{stderr}");
        running
    };
    // Compose's `./config` bind mount, a host user's (1000:1000, 0755 and 0644): readable, not
    // the server's to change (vault is 100): nothing on the host changes owner.
    let host = Scratch::new("ep-compose-config");
    let dir = host.path("config");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(dir.join("server.hcl"), listener(free_port())).unwrap();
    for path in [dir.clone(), dir.join("server.hcl")] {
        std::os::unix::fs::chown(&path, Some(1000), Some(1000)).unwrap();
    }
    let running = strict_start("ep-compose", &|c| {
        c.volume(&dir, "/vault/config");
    });
    assert_eq!(mode_and_owner(&dir), (0o755, 1000, 1000), "the host's directory is as it was");
    assert_eq!(mode_and_owner(&dir.join("server.hcl")), (0o644, 1000, 1000));
    running.stop_cleanly();

    // A volume the official entrypoint chowned to vault, and a root-only file: both become
    // root's, readable by vault's group, writable by no one else.
    let port = free_port();
    let running = strict_start("ep-given", &|c| {
        c.file("/vault/config/server.hcl", &listener(port), 100, 1000);
        c.file("/vault/config/extra.hcl", "ui = false\n", 0, 0);
        let config = c.rootfs().join("vault/config");
        std::fs::set_permissions(config.join("server.hcl"), std::fs::Permissions::from_mode(0o664)).unwrap();
        std::fs::set_permissions(config.join("extra.hcl"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&config, Some(100), Some(1000)).unwrap();
        std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o750)).unwrap();
    });
    let config = running.container.rootfs().join("vault/config");
    assert_eq!(mode_and_owner(&config), (0o750, 0, 1000));
    assert_eq!(mode_and_owner(&config.join("server.hcl")), (0o644, 0, 1000));
    assert_eq!(mode_and_owner(&config.join("extra.hcl")), (0o640, 0, 1000));
    assert!(running.stderr().contains("/vault/config: 3 entries made readable, not writable"), "{}", running.stderr());
    running.stop_cleanly();

    // A ConfigMap (a read-only mount, root's files): readable already, so nothing is tried (a
    // chown there could only fail with EROFS).
    let configmap = Scratch::new("ep-configmap");
    std::fs::set_permissions(&configmap.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(configmap.path("server.hcl"), listener(free_port())).unwrap();
    let running = strict_start("ep-configmap", &|c| {
        c.read_only_volume(&configmap.0, "/vault/config");
    });
    let stderr = running.stderr();
    assert!(!stderr.contains("chown:") && !stderr.contains("/vault/config:"), "{stderr}");
    running.stop_cleanly();

    // VAULT_LOCAL_CONFIG: the local.json hardinit writes satisfies its own check.
    let port = free_port();
    let running = strict_start("ep-local-strict", &|c| {
        let local = format!(
            r#"{{"storage": {{"inmem": {{}}}}, "listener": [{{"tcp": {{"address": "127.0.0.1:{port}", "tls_disable": true}}}}]}}"#
        );
        c.env("VAULT_LOCAL_CONFIG", &local);
    });
    running.stop_cleanly();
}

#[test]
fn the_decision_before_the_chown_reads_the_configuration_as_the_server_and_quotes_nothing_it_cannot_read() {
    if !privileged(true) {
        return;
    }
    // /vault/config the server's, as the official image's `chown -R vault:vault` leaves it: the
    // server's user plants a link to a root-only file among the configuration files.
    const TOKEN: &str = "hvs.CAESIJ-only-root-reads-this";
    let mut container = vault_image("ep-preflight-reader", &["server"]);
    let port = free_port();
    let config = format!(
        "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = 1\n}}\n"
    );
    container.file("/vault/config/server.hcl", &config, 100, 1000);
    container.file("/run/secrets/app.env", &format!("VAULT_TOKEN={TOKEN}\n"), 0, 0);
    let rootfs = container.rootfs();
    std::fs::set_permissions(rootfs.join("run/secrets/app.env"), std::fs::Permissions::from_mode(0o600)).unwrap();
    std::os::unix::fs::symlink("/run/secrets/app.env", rootfs.join("vault/config/zz.hcl")).unwrap();
    std::os::unix::fs::lchown(rootfs.join("vault/config/zz.hcl"), Some(100), Some(1000)).unwrap();
    std::os::unix::fs::chown(rootfs.join("vault/config"), Some(100), Some(1000)).unwrap();
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 78, "{}", running.stderr());
    let stderr = running.stderr();
    assert!(!stderr.contains("hvs.CAESIJ"), "a byte of a file the server cannot read was quoted: {stderr}");
    assert!(stderr.contains("/vault/config/zz.hcl: Permission denied"), "{stderr}");
    assert_eq!(mode_and_owner(&rootfs.join("run/secrets/app.env")), (0o600, 0, 0), "the secret is as it was");
}
