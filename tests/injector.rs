//! The Vault Agent Injector's containers on the shell-less image: each fixture in
//! tests/fixtures/injector/ runs in runc with its exact script, environment, security context
//! (uid 100, gid 1000, read-only root, no capability, no_new_privs) and mounts (in-memory
//! /home/vault and /vault/secrets), against a real OpenBao dev server in a container of the same
//! pod (one network namespace), reached as https://vault.vault.svc:8200 through the pod's
//! /etc/hosts and a CA bundle that trusts the server's certificate.
//!
//! Adapted, as the fixtures' README allows: the Kubernetes auth method (it needs an API server)
//! becomes AppRole, its role and secret ids in the service-account token's mount; and the
//! template's static secrets are re-read every second instead of every five minutes, so that a
//! re-render can be seen.

mod common;

use common::runc::{Container, IMAGE_ENV, Running};
use common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);
const SA: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/injector").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The pod's Vault: an OpenBao dev server (root token `root`) with a TLS listener on
/// 127.0.0.1:8200 for vault.vault.svc, an AppRole `app` allowed to read secret/db, and
/// secret/db = {password: first}.
struct Server {
    running: Running,
    files: Scratch,
    role_id: String,
    secret_id: String,
}

impl Server {
    fn start() -> Server {
        let files = Scratch::new("injector-server");
        self_signed(
            &files.path("cert.pem"),
            &files.path("key.pem"),
            "vault.vault.svc",
            "DNS:vault.vault.svc,IP:127.0.0.1",
        );
        std::fs::write(
            files.path("tls.hcl"),
            "listener \"tcp\" {\n  address = \"127.0.0.1:8200\"\n  tls_cert_file = \"/tls/cert.pem\"\n  tls_key_file = \"/tls/key.pem\"\n}\n",
        )
        .unwrap();
        std::fs::write(files.path("app.hcl"), "path \"secret/data/db\" {\n  capabilities = [\"read\"]\n}\n").unwrap();
        std::fs::write(files.path("hosts"), "127.0.0.1 localhost\n127.0.0.1 vault.vault.svc\n").unwrap();
        let mut container = Container::from_image(
            "inj-server",
            "openbao",
            &["server", "-dev", "-dev-no-store-token", "-config=/tls/tls.hcl"],
        );
        container.env("BAO_DEV_ROOT_TOKEN_ID", "root").env("BAO_DEV_LISTEN_ADDRESS", "127.0.0.1:8300");
        container.own_network().read_only_root().read_only_volume(&files.0, "/tls");
        let mut running = container.start();
        running.wait_for_output("OpenBao server started", LONG);
        let mut server = Server { running, files, role_id: String::new(), secret_id: String::new() };
        server.bao(&["auth", "enable", "approle"]);
        server.bao(&["policy", "write", "app", "/tls/app.hcl"]);
        server.bao(&["write", "auth/approle/role/app", "token_policies=app", "token_ttl=1h"]);
        let role: Value =
            serde_json::from_str(&server.bao(&["read", "-format=json", "auth/approle/role/app/role-id"])).unwrap();
        let secret: Value =
            serde_json::from_str(&server.bao(&["write", "-f", "-format=json", "auth/approle/role/app/secret-id"]))
                .unwrap();
        server.role_id = role["data"]["role_id"].as_str().unwrap().into();
        server.secret_id = secret["data"]["secret_id"].as_str().unwrap().into();
        server.bao(&["kv", "put", "secret/db", "password=first"]);
        server
    }

    /// The `bao` CLI in the server's container, as root's token; its output.
    fn bao(&self, args: &[&str]) -> String {
        let mut argv = vec!["bao"];
        argv.extend_from_slice(args);
        let out = self.running.exec_with(&[("BAO_ADDR", "http://127.0.0.1:8300"), ("BAO_TOKEN", "root")], &argv);
        assert_eq!(code(out.status), 0, "bao {args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Whether `token` is still valid.
    fn token_valid(&self, token: &str) -> bool {
        let out = self.running.exec_with(
            &[("BAO_ADDR", "http://127.0.0.1:8300"), ("BAO_TOKEN", "root")],
            &["bao", "token", "lookup", token],
        );
        code(out.status) == 0
    }

    fn netns_pid(&self) -> i32 {
        self.running.init_pid()
    }
}

/// The fixture's agent configuration with AppRole in place of the Kubernetes method.
fn agent_config(fixture_config: &Value) -> Value {
    let mut config = fixture_config.clone();
    config["auto_auth"]["method"] = json!({
        "type": "approle",
        "mount_path": "auth/approle",
        "config": {
            "role_id_file_path": format!("{SA}/role_id"),
            "secret_id_file_path": format!("{SA}/secret_id"),
            "remove_secret_id_file_after_reading": false
        }
    });
    if config.get("template_config").is_some() {
        config["template_config"]["static_secret_render_interval"] = json!("1s");
    }
    config
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn decode_fixture_config(container: &Value) -> Value {
    let encoded = container["env"].as_array().unwrap().iter().find(|e| e["name"] == "VAULT_CONFIG").unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    let out = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn();
    let mut child = out.unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(encoded.as_bytes()).unwrap();
    serde_json::from_slice(&child.wait_with_output().unwrap().stdout).unwrap()
}

/// The pod's volumes for one agent container.
struct Pod {
    home: Scratch,
    secrets: Scratch,
    accounts: Scratch,
    configs: Scratch,
}

/// An injector container from its fixture: exact command, args, env (VAULT_CONFIG adapted),
/// security context, mounts; in the server's network namespace with the pod's /etc/hosts and a
/// CA bundle that trusts the server.
fn agent_container(name: &str, fixture_name: &str, server: &Server, vault_config: Option<String>) -> (Container, Pod) {
    let spec = fixture(fixture_name);
    let mut argv: Vec<String> = serde_json::from_value(spec["command"].clone()).unwrap();
    argv.extend(serde_json::from_value::<Vec<String>>(spec["args"].clone()).unwrap());
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut container = Container::from_image(name, "vault", &[]);
    container.args(&argv);
    container.config["process"]["env"] = json!(IMAGE_ENV);
    for entry in spec["env"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let value = if name == "VAULT_CONFIG" {
            vault_config
                .clone()
                .unwrap_or_else(|| base64(agent_config(&decode_fixture_config(&spec)).to_string().as_bytes()))
        } else {
            entry["value"].as_str().unwrap().to_string()
        };
        container.env(name, &value);
    }
    let context = &spec["securityContext"];
    assert_eq!((context["runAsUser"].as_u64(), context["runAsGroup"].as_u64()), (Some(100), Some(1000)));
    assert_eq!(context["readOnlyRootFilesystem"], true);
    container.user(100, 1000).no_new_privileges(true).capabilities(&[]).read_only_root();
    container.join_network_of(server.netns_pid());
    let pod = Pod {
        home: Scratch::new("injector-home"),
        secrets: Scratch::new("injector-secrets"),
        accounts: Scratch::new("injector-sa"),
        configs: Scratch::new("injector-configs"),
    };
    std::fs::write(pod.accounts.path("role_id"), &server.role_id).unwrap();
    std::fs::write(pod.accounts.path("secret_id"), &server.secret_id).unwrap();
    container.read_only_volume(&pod.accounts.0, SA);
    // The two emptyDirs, as host folders the test can look into after the container is gone.
    for dir in [&pod.home, &pod.secrets] {
        std::os::unix::fs::chown(&dir.0, Some(100), Some(1000)).unwrap();
    }
    container.volume(&pod.home.0, "/home/vault");
    container.volume(&pod.secrets.0, "/vault/secrets");
    for mount in spec["volumeMounts"].as_array().unwrap() {
        if mount["mountPath"] == "/vault/configs" {
            container.read_only_volume(&pod.configs.0, "/vault/configs");
        }
    }
    container.read_only_volume(&server.files.path("hosts"), "/etc/hosts");
    container.read_only_volume(&server.files.path("cert.pem"), "/etc/ssl/certs/ca-certificates.crt");
    (container, pod)
}

fn rendered(pod: &Pod) -> Option<String> {
    std::fs::read_to_string(pod.secrets.path("db-creds")).ok()
}

/// PID 1 is hardinit and its child the agent (`vault agent` or `vault proxy`), not a shell.
fn assert_hardinit_runs(running: &Running, command: &str) {
    let init = running.init_pid();
    assert!(std::fs::read_link(format!("/proc/{init}/exe")).unwrap().ends_with("usr/local/bin/hardinit"));
    let agent = running.server_pid();
    assert_eq!(std::fs::read_to_string(format!("/proc/{agent}/comm")).unwrap().trim(), "vault");
    let cmdline = common::runc::proc_list(agent, "cmdline");
    assert_eq!(cmdline.get(1).map(String::as_str), Some(command), "{cmdline:?}");
}

#[test]
fn the_injectors_containers_run_on_the_shell_less_image() {
    if !privileged(true) {
        return;
    }
    let server = Server::start();

    // vault-agent-init: renders the template, exits 0 (exit_after_auth).
    let (container, pod) = agent_container("inj-init", "agent-init.json", &server, None);
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert_eq!(rendered(&pod).as_deref(), Some("first"), "{}", running.stderr());

    // vault-agent sidecar: renders, re-renders after the secret changes, revokes its token in
    // the preStop hook, exits 0 on SIGTERM.
    let (container, pod) = agent_container("inj-sidecar", "agent-sidecar.json", &server, None);
    let mut running = container.start();
    running.wait_for_output("rendered", LONG);
    assert_hardinit_runs(&running, "agent");
    assert_eq!(rendered(&pod).as_deref(), Some("first"));
    server.bao(&["kv", "put", "secret/db", "password=second"]);
    let rerendered = wait_until(LONG, || (rendered(&pod).as_deref() == Some("second")).then_some(()));
    assert!(rerendered.is_some(), "never re-rendered: {}", running.stderr());
    let token = std::fs::read_to_string(pod.home.path(".vault-token")).unwrap();
    assert!(server.token_valid(&token));
    let hook: Vec<String> =
        serde_json::from_value(fixture("agent-sidecar.json")["lifecycle"]["preStop"]["exec"]["command"].clone())
            .unwrap();
    let started = Instant::now();
    let out = running.exec(&hook.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(out.status), 0, "preStop: {}{}", text(&out.stdout), text(&out.stderr));
    assert!(started.elapsed() >= Duration::from_secs(5), "the hook's sleep ran");
    assert!(!server.token_valid(&token), "the hook revoked the agent's token");
    running.kill("TERM");
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());

    // The proxy sidecar: runs under hardinit, exits 0 on SIGTERM.
    let mut proxy = decode_fixture_config(&fixture("proxy-sidecar.json"));
    // A proxy has no templates (`vault proxy` refuses the stanza): keep what it serves.
    proxy.as_object_mut().unwrap().remove("template");
    proxy.as_object_mut().unwrap().remove("template_config");
    let (container, _pod) = agent_container(
        "inj-proxy",
        "proxy-sidecar.json",
        &server,
        Some(base64(agent_config(&proxy).to_string().as_bytes())),
    );
    let mut running = container.start();
    running.wait_for_output("authentication successful", LONG);
    assert_hardinit_runs(&running, "proxy");
    running.kill("TERM");
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
}

#[test]
fn the_configmap_variants_and_a_corrupt_config() {
    if !privileged(true) {
        return;
    }
    let server = Server::start();
    let hcl = |exit_after_auth: bool| {
        format!(
            "exit_after_auth = {exit_after_auth}\npid_file = \"/home/vault/.pid\"\nvault {{\n  address = \"https://vault.vault.svc:8200\"\n}}\nauto_auth {{\n  method \"approle\" {{\n    mount_path = \"auth/approle\"\n    config = {{\n      role_id_file_path = \"{SA}/role_id\"\n      secret_id_file_path = \"{SA}/secret_id\"\n      remove_secret_id_file_after_reading = false\n    }}\n  }}\n  sink \"file\" {{\n    config = {{\n      path = \"/home/vault/.vault-token\"\n    }}\n  }}\n}}\ntemplate {{\n  destination = \"/vault/secrets/db-creds\"\n  contents = \"{{{{ with secret \\\"secret/data/db\\\" }}}}{{{{ .Data.data.password }}}}{{{{ end }}}}\"\n}}\n"
        )
    };
    for (fixture_name, file, exits) in
        [("agent-init-configmap.json", "config-init.hcl", true), ("agent-sidecar-configmap.json", "config.hcl", false)]
    {
        let (container, pod) = agent_container("inj-cm", fixture_name, &server, None);
        std::fs::write(pod.configs.path(file), hcl(exits)).unwrap();
        let mut running = container.start();
        if exits {
            assert_eq!(running.wait(LONG), 0, "{fixture_name}: {}", running.stderr());
        } else {
            running.wait_for_output("rendered", LONG);
            assert_hardinit_runs(&running, "agent");
            running.kill("TERM");
            assert_eq!(running.wait(LONG), 0, "{fixture_name}: {}", running.stderr());
        }
        assert_eq!(rendered(&pod).as_deref(), Some("first"), "{fixture_name}");
    }

    // A corrupt VAULT_CONFIG: one line, a non-zero exit, the agent never started; as in sh, the
    // redirection's file was created before base64 ran, and holds what it wrote: nothing.
    let (container, pod) = agent_container("inj-corrupt", "agent-init.json", &server, Some("not*base64!".into()));
    let mut running = container.start();
    assert_eq!(running.wait(LONG), 1, "{}", running.stderr());
    let stderr = running.stderr();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("base64: invalid input"), "{stderr}");
    assert_eq!(std::fs::read(pod.home.path("config.json")).ok().as_deref(), Some(&b""[..]), "an empty config");
    assert_eq!(std::fs::read_dir(&pod.home.0).unwrap().count(), 1, "nothing else written");
}
