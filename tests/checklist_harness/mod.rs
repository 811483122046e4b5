//! The differential harness of the checklist against the real OpenBao server, shared by the
//! hand-written corpus (tests/checklist_bao.rs) and the generated one
//! (tests/checklist_generated.rs): a case made concrete in a folder of its own, `hardinit
//! check --json` on it, the real `bao` started with the same files, flags and variables as the
//! server's user in a PID namespace of its own, what the server did observed, and the two
//! compared.

use crate::common::runc::bao;
use crate::common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Links made before the start, by case name: the link's name in the case's folder, its target.
pub type Links<'a> = &'a [(&'a str, &'a str, &'a str)];
/// What a check's summary must say and must not, by case name: (case, check, says, never).
pub type Summaries<'a> = &'a [(&'a str, &'a str, &'a str, &'a str)];

/// The server's user, as [`TEST_USER`].
pub const SERVER_UID: u32 = 4242;

/// A directory made before the start: its name in the case's folder, its mode, and whether the
/// server's user owns it (else root does).
pub type Dir = (&'static str, u32, bool);

pub struct Case {
    pub name: &'static str,
    /// The server binary's file name: `bao`, or a copy of it under another name (hardinit tells
    /// the flavours apart by the name).
    pub server: &'static str,
    /// Files of the case's folder: `{dir}` is the folder, `{p1}` `{p2}` listener ports, `{c0}`
    /// `{c1}` `{c2}` cluster ports, `{transit}` the stand-in transit server's port.
    pub files: &'static [(&'static str, &'static str)],
    /// The arguments after `server`.
    pub args: &'static [&'static str],
    pub env: &'static [(&'static str, &'static str)],
    pub dirs: &'static [Dir],
    /// The verdicts the server's behaviour calls for.
    pub expect: &'static [(&'static str, &'static str)],
}

pub const RAFT: &str = "storage \"raft\" {\n  path = \"{dir}/data\"\n}\ncluster_addr = \"http://127.0.0.1:{c0}\"\napi_addr = \"http://127.0.0.1:{p1}\"\n";

/// `{tls}`: a TLS listener on `{p1}`.
pub const TLS_LISTENER: &str = "listener \"tcp\" {\n  address = \"127.0.0.1:{p1}\"\n  cluster_address = \"127.0.0.1:{c1}\"\n  tls_cert_file = \"{dir}/cert.pem\"\n  tls_key_file = \"{dir}/key.pem\"\n}\n";

/// `{transit}` in a seal stanza: the stand-in transit server.
pub const TRANSIT: &str = "  address = \"http://127.0.0.1:{transit}\"\n  key_name = \"k\"\n  mount_path = \"transit/\"\n  disable_renewal = \"true\"\n";

/// `{transit_tls}` in a seal stanza: the stand-in transit server over TLS, with a self-signed
/// certificate the seal is given no CA for.
pub const TRANSIT_TLS: &str = "  address = \"https://127.0.0.1:{transit_tls}\"\n  key_name = \"k\"\n  mount_path = \"transit/\"\n  disable_renewal = \"true\"\n  token = \"s.over-tls\"\n";

/// A case made concrete: its folder, ports and texts.
pub struct Prepared {
    pub dir: Scratch,
    pub ports: BTreeMap<&'static str, u16>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The configuration files' texts as written, to look for a secret the server used.
    pub texts: Vec<String>,
    /// The server binary, as the case names it.
    pub server: PathBuf,
}

impl Prepared {
    pub fn fill(&self, text: &str) -> String {
        let text = text
            .replace("{tls}", TLS_LISTENER)
            .replace("{raft}", RAFT)
            .replace("{transit}", TRANSIT)
            .replace("{transit_tls}", TRANSIT_TLS);
        self.fill_value(&text)
    }

    /// `{dir}` and the ports only: in a variable, `{transit_tls}` is the TLS stand-in's port.
    pub fn fill_value(&self, text: &str) -> String {
        let mut text = text.replace("{dir}", self.dir.0.to_str().unwrap());
        for (name, port) in &self.ports {
            text = text.replace(&format!("{{{name}}}"), &port.to_string());
        }
        text
    }

    pub fn new(case: &Case, links: Links) -> Prepared {
        let scratch = Scratch::new(&format!("bao-{}", case.name));
        let ports = ["p1", "p2", "p3", "c0", "c1", "c2", "transit", "transit_tls"]
            .into_iter()
            .map(|n| (n, free_port()))
            .collect();
        let server = if case.server == "bao" { bao() } else { scratch.path(&format!("bin/{}", case.server)) };
        let mut prepared =
            Prepared { dir: scratch, ports, args: Vec::new(), env: Vec::new(), texts: Vec::new(), server };
        if case.name == "dev-three-node" {
            // The nodes take P, P+1 and P+2.
            let first = loop {
                let (first, _) = free_port_pair();
                if TcpListener::bind(("127.0.0.1", first + 2)).is_ok() {
                    break first;
                }
            };
            prepared.ports.extend([("p1", first), ("p2", first + 1), ("p3", first + 2)]);
        }
        if case.name == "dev-listen-address-empty" {
            prepared.ports.insert("p1", 8200);
        }
        let dir = prepared.dir.0.clone();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        if case.server != "bao" {
            std::fs::create_dir(dir.join("bin")).unwrap();
            install(&bao(), &prepared.server, 0o755);
        }
        self_signed(&dir.join("cert.pem"), &dir.join("key.pem"), "localhost", "IP:127.0.0.1");
        for (name, mode, server_owns) in case.dirs.iter().chain(&[("home", 0o700, true)]) {
            let path = dir.join(name);
            std::fs::create_dir(&path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode)).unwrap();
            if *server_owns {
                std::os::unix::fs::chown(&path, Some(SERVER_UID), Some(SERVER_UID)).unwrap();
            }
        }
        for (_, link, target) in links.iter().filter(|(name, _, _)| *name == case.name) {
            std::os::unix::fs::symlink(prepared.fill(target), dir.join(link)).unwrap();
        }
        for (name, text) in case.files {
            let text = prepared.fill(text);
            std::fs::write(dir.join(name), &text).unwrap();
            if name.ends_with(".hcl") || name.ends_with(".json") {
                prepared.texts.push(text);
            }
        }
        prepared.args = case.args.iter().map(|a| prepared.fill(a)).collect();
        prepared.env = case.env.iter().map(|(k, v)| (k.to_string(), prepared.fill_value(v))).collect();
        prepared
    }

    pub fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }
}

/// What `hardinit --strict check --json -- bao server ...` says, check by check.
pub fn verdicts(prepared: &Prepared) -> BTreeMap<String, (String, String)> {
    let out = command(hardinit())
        .args(["--strict", "check", "--json", "--"])
        .arg(&prepared.server)
        .arg("server")
        .args(&prepared.args)
        .envs(prepared.env.iter().map(|(k, v)| (k, v)))
        // The server's working directory, where its relative paths start.
        .current_dir(&prepared.dir.0)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --json: {e}: {}", String::from_utf8_lossy(&out.stdout)));
    doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let text = |field: &str| c[field].as_str().unwrap_or_default().to_string();
            (text("id"), (text("status"), text("summary")))
        })
        .collect()
}

/// A stand-in transit server: it records the token of every request and refuses it (403), so
/// that the server's seal, configured, stops the start at once.
pub struct TransitStandIn {
    pub tokens: Arc<Mutex<Vec<String>>>,
    pub stop: Arc<AtomicBool>,
    pub thread: Option<std::thread::JoinHandle<()>>,
}

impl TransitStandIn {
    pub fn start(port: u16) -> TransitStandIn {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (tokens.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                stream.set_nonblocking(false).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request).into_owned();
                for line in request.lines() {
                    if let Some((name, value)) = line.split_once(':') {
                        if name.eq_ignore_ascii_case("x-vault-token") {
                            seen.lock().unwrap().push(value.trim().to_string());
                        }
                    }
                }
                let body = "{\"errors\":[\"permission denied\"]}";
                let _ = write!(
                    stream,
                    "HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TransitStandIn { tokens, stop, thread: Some(thread) }
    }

    pub fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }
}

impl Drop for TransitStandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The stand-in transit server over TLS (Python's ssl: the suite has no TLS library), with the
/// case's self-signed certificate, started only for a case that names it.
pub struct TlsStandIn {
    pub child: Option<std::process::Child>,
    pub tokens: PathBuf,
}

pub const TLS_STANDIN: &str = r#"
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        with open(sys.argv[4], "a") as seen:
            seen.write((self.headers.get("X-Vault-Token") or "") + "\n")
        self.send_response(403)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    do_GET = do_PUT = do_POST = answer
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
"#;

impl TlsStandIn {
    pub fn start(prepared: &Prepared) -> TlsStandIn {
        let tokens = prepared.dir.path("tls-standin.tokens");
        let named = |t: &String| t.contains("https://127.0.0.1:");
        if !prepared.texts.iter().any(named) && !prepared.env.iter().any(|(_, v)| named(v)) {
            return TlsStandIn { child: None, tokens };
        }
        let port = prepared.port("transit_tls");
        let child = Command::new(PYTHON)
            .args(["-c", TLS_STANDIN, &port.to_string()])
            .arg(prepared.dir.path("cert.pem"))
            .arg(prepared.dir.path("key.pem"))
            .arg(&tokens)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let up = wait_until(Duration::from_secs(10), || TcpStream::connect(("127.0.0.1", port)).ok());
        assert!(up.is_some(), "the TLS stand-in did not listen");
        TlsStandIn { child: Some(child), tokens }
    }

    pub fn tokens(&self) -> Vec<String> {
        std::fs::read_to_string(&self.tokens).unwrap_or_default().lines().map(str::to_string).collect()
    }
}

impl Drop for TlsStandIn {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How a port answers a plain HTTP request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    ClearText,
    Tls,
    Closed,
    Other,
}

pub fn probe(port: u16) -> Answer {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)) else {
        return Answer::Closed;
    };
    stream.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let _ = stream.write_all(b"GET /v1/sys/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.take(4096).read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    if answer.contains("Client sent an HTTP request to an HTTPS server") {
        Answer::Tls
    } else if answer.starts_with("HTTP/1.") {
        Answer::ClearText
    } else {
        Answer::Other
    }
}

/// What the real server did with the case.
#[derive(Debug)]
pub struct Observed {
    pub started: bool,
    /// Each listener port's answer.
    pub answers: Vec<(u16, Answer)>,
    /// The case's directories where raft wrote its database.
    pub storage: Vec<PathBuf>,
    pub root_token: bool,
    /// The tokens the transit seal sent.
    pub seal_tokens: Vec<String>,
    /// The tokens it sent over TLS to a server whose certificate it had no CA for.
    pub unverified_tokens: Vec<String>,
    /// The listener ports that served their metrics, profiles or in-flight requests to a request
    /// without a token.
    pub open_metrics: Vec<u16>,
    /// The listener ports that serve sys/raw.
    pub raw_endpoint: Vec<u16>,
    /// The audit logs the server wrote, of the case's directories.
    pub audit_logs: Vec<PathBuf>,
    /// Whether it was initialised and unsealed before the endpoints were asked.
    pub unsealed: bool,
    pub log: String,
}

/// The HTTP status `port` answers a request for `path` with (curl: the suite has no TLS
/// library), over TLS when it speaks TLS, with `token` when given.
pub fn status_of(port: u16, answer: Answer, path: &str, token: Option<&str>) -> String {
    let scheme = if answer == Answer::Tls { "https" } else { "http" };
    let mut curl = Command::new("curl");
    curl.args(["-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"]);
    if let Some(token) = token {
        curl.args(["-H", &format!("X-Vault-Token: {token}")]);
    }
    let out = curl.arg(format!("{scheme}://127.0.0.1:{port}{path}")).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether what the case is about shows only on an unsealed server: a declared audit device, a
/// listener's telemetry.
pub fn needs_unseal(prepared: &Prepared) -> bool {
    !prepared.args.iter().any(|a| a.starts_with("-dev"))
        && prepared.texts.iter().any(|t| {
            ["audit \"", "\"audit\"", "telemetry", "profiling", "inflight_requests_logging"]
                .iter()
                .any(|w| t.contains(w))
        })
}

/// `PUT path` with a JSON body, the answer's JSON (curl: the suite has no TLS library).
pub fn put(port: u16, answer: Answer, path: &str, body: &str) -> Value {
    let scheme = if answer == Answer::Tls { "https" } else { "http" };
    let out = Command::new("curl")
        .args(["-sk", "--max-time", "20", "-X", "PUT", "-d", body])
        .arg(format!("{scheme}://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// Whether the server answered unsealed and active.
pub fn initialise_and_unseal(port: u16, answer: Answer) -> bool {
    let init = put(port, answer, "/v1/sys/init", r#"{"secret_shares": 1, "secret_threshold": 1}"#);
    let Some(key) = init["keys_base64"][0].as_str() else { return false };
    put(port, answer, "/v1/sys/unseal", &format!(r#"{{"key": "{key}"}}"#));
    wait_until(Duration::from_secs(15), || (status_of(port, answer, "/v1/sys/health", None) == "200").then_some(()))
        .is_some()
}

/// Whether `port` serves sys/raw: it lists storage to the dev root token, or (recovery mode, no
/// token to be had) it asks for a token there while the rest of the API is gone.
pub fn serves_sys_raw(port: u16, answer: Answer, root_token: Option<&str>) -> bool {
    match root_token {
        Some(token) => status_of(port, answer, "/v1/sys/raw/core?list=true", Some(token)) == "200",
        None => {
            status_of(port, answer, "/v1/sys/raw/core", None) == "403"
                && status_of(port, answer, "/v1/sys/health", None) == "404"
        }
    }
}

pub fn run_bao(prepared: &Prepared) -> Observed {
    let dir = &prepared.dir.0;
    let standin = TransitStandIn::start(prepared.port("transit"));
    let tls_standin = TlsStandIn::start(prepared);
    let log_path = dir.join("bao.log");
    let log = std::fs::File::create(&log_path).unwrap();
    // As the server's user, in a PID namespace of its own that dies with it.
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "setpriv"])
        .args([format!("--reuid={SERVER_UID}"), format!("--regid={SERVER_UID}"), "--clear-groups".into(), "--".into()])
        .arg(&prepared.server)
        .arg("server")
        .args(&prepared.args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("HOME", dir.join("home"))
        .envs(prepared.env.iter().map(|(k, v)| (k, v)))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut started = false;
    while Instant::now() < deadline {
        if std::fs::read_to_string(&log_path).unwrap_or_default().contains("==> OpenBao server started!") {
            started = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Dev mode prints its root token once it has started.
    if started && prepared.args.iter().any(|a| a.starts_with("-dev")) {
        wait_until(Duration::from_secs(5), || {
            std::fs::read_to_string(&log_path).unwrap_or_default().contains("Root Token:").then_some(())
        });
    }
    let answers: Vec<(u16, Answer)> = if started {
        ["p1", "p2", "p3"].iter().map(|p| (prepared.port(p), probe(prepared.port(p)))).collect()
    } else {
        Vec::new()
    };
    let answering = || answers.iter().filter(|(_, answer)| matches!(answer, Answer::ClearText | Answer::Tls));
    // What the server does only once unsealed (the audit devices of its configuration, the
    // metrics of a listener): initialised with one key share and unsealed, then observed.
    let mut unsealed = false;
    if started && needs_unseal(prepared) {
        if let Some((port, answer)) = answering().next() {
            unsealed = initialise_and_unseal(*port, *answer);
        }
    }
    // Metrics, profiles or in-flight requests served without a token.
    let opened = |port: u16, answer: Answer| {
        // Prometheus's format needs a retention time configured (400 without): JSON's too.
        ["/v1/sys/metrics?format=prometheus", "/v1/sys/metrics", "/v1/sys/pprof/cmdline", "/v1/sys/in-flight-req"]
            .iter()
            .any(|path| status_of(port, answer, path, None) == "200")
    };
    let open_metrics = answering().filter(|(port, answer)| opened(*port, *answer)).map(|(port, _)| *port).collect();
    let printed = std::fs::read_to_string(&log_path).unwrap_or_default();
    let root_token = printed.lines().find_map(|l| l.trim().strip_prefix("Root Token: ")).map(str::trim);
    let raw_endpoint = answering()
        .filter(|(port, answer)| serves_sys_raw(*port, *answer, root_token))
        .map(|(port, _)| *port)
        .collect();
    // The namespace's init is bao itself (setpriv's change of user cleared unshare's
    // --kill-child): killing it ends the namespace.
    if let Some(init) = children_of(child.id() as i32).first() {
        let _ = Command::new("kill").args(["-KILL", &init.to_string()]).status();
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    let audit_logs = ["open", "good", "deep/open", "data"]
        .iter()
        .map(|d| dir.join(d).join("audit.log"))
        .filter(|log| log.exists())
        .collect();
    let storage = ["data", "good", "open", "open/data", "data/new/raft", "deep/open", "deep/good"]
        .iter()
        .map(|d| dir.join(d))
        .filter(|d| d.join("vault.db").exists() || d.join("raft").exists())
        .collect();
    Observed {
        started,
        answers,
        storage,
        root_token: log.contains("Root Token:"),
        seal_tokens: standin.tokens(),
        unverified_tokens: tls_standin.tokens(),
        open_metrics,
        raw_endpoint,
        audit_logs,
        unsealed,
        log,
    }
}

/// A directory only the server's user can use: its own, closed to others, in directories no
/// other user can move it out of (none writable by every user without the sticky bit).
pub fn servers_alone(dir: &Path) -> bool {
    let replaceable = dir
        .ancestors()
        .skip(1)
        .any(|up| std::fs::metadata(up).is_ok_and(|m| m.mode() & 0o002 != 0 && m.mode() & libc::S_ISVTX == 0));
    !replaceable && std::fs::metadata(dir).is_ok_and(|m| m.uid() == SERVER_UID && m.mode() & 0o077 == 0)
}

/// The server's behaviour against the verdicts: every contradicted PASS, every missed verdict.
pub fn disagreements(
    case: &Case,
    prepared: &Prepared,
    said: &BTreeMap<String, (String, String)>,
    seen: &Observed,
    summaries: Summaries,
) -> Vec<String> {
    let mut out = Vec::new();
    let status = |id: &str| said.get(id).map_or("absent", |(s, _)| s.as_str());
    let passes = |id: &str| status(id) == "PASS";
    let clear: Vec<u16> = seen.answers.iter().filter(|(_, a)| *a == Answer::ClearText).map(|(p, _)| *p).collect();
    if passes("tls") && !clear.is_empty() {
        out.push(format!("PASS tls, but the server answers in clear text on 127.0.0.1:{clear:?}"));
    }
    for used in seen.storage.iter().filter(|d| !servers_alone(d)) {
        if passes("storage") {
            out.push(format!("PASS storage, but the server keeps its data in {} (not its alone)", used.display()));
        }
    }
    if passes("tls-verify") && !seen.unverified_tokens.is_empty() {
        out.push("PASS tls-verify, but the seal talked to a TLS server it could not have verified".into());
    }
    if passes("metrics") && !seen.open_metrics.is_empty() {
        out.push(format!(
            "PASS metrics, but 127.0.0.1:{:?} served metrics, profiles or in-flight requests without a token",
            seen.open_metrics
        ));
    }
    for written in seen.audit_logs.iter().filter(|log| !log.parent().is_some_and(servers_alone)) {
        if passes("audit") {
            out.push(format!("PASS audit, but the server writes its audit log {} (not its alone)", written.display()));
        }
    }
    for written in seen.audit_logs.iter().filter(|log| std::fs::metadata(log).is_ok_and(|m| m.mode() & 0o022 != 0)) {
        if passes("audit") {
            out.push(format!("PASS audit, but the server made its audit log {} writable by others", written.display()));
        }
    }
    if !seen.started && status_of_refusal(&seen.log) {
        for (id, (verdict, _)) in said {
            if verdict == "PASS" && CONFIGURATION_CHECKS.contains(&id.as_str()) {
                out.push(format!("PASS {id}, but the server refused the configuration"));
            }
        }
    }
    if passes("raw-storage") && !seen.raw_endpoint.is_empty() {
        out.push(format!("PASS raw-storage, but 127.0.0.1:{:?} serves sys/raw", seen.raw_endpoint));
    }
    if passes("root-token") && seen.root_token {
        out.push("PASS root-token, but the server printed a root token".into());
    }
    for token in seen.seal_tokens.iter().filter(|t| !t.is_empty()) {
        if passes("seal-credentials") && prepared.texts.iter().any(|t| t.contains(token.as_str())) {
            out.push(format!("PASS seal-credentials, but the seal sent {token:?}, written in the configuration"));
        }
    }
    for (_, id, says, never) in summaries.iter().filter(|(name, ..)| *name == case.name) {
        let summary = said.get(*id).map_or("", |(_, s)| s.as_str());
        let (says, never) = (prepared.fill_value(says), prepared.fill_value(never));
        if !summary.contains(&says) || summary.contains(&never) {
            out.push(format!("{id} says {summary:?}, where it should say {says:?} and not {never:?}"));
        }
    }
    for (id, want) in case.expect {
        if status(id) != *want {
            out.push(format!("{id}: {} where {want} is due ({})", status(id), said.get(*id).map_or("", |(_, s)| s)));
        }
    }
    out
}

/// The checks that read the configuration: none of them passes one the server refuses.
pub const CONFIGURATION_CHECKS: &[&str] =
    &["tls", "tls-verify", "seal-credentials", "raw-storage", "metrics", "storage", "audit", "plugin-directory"];

/// Whether the server's log says it refused its configuration (or a listener, or its storage).
pub fn status_of_refusal(log: &str) -> bool {
    [
        "error loading configuration",
        "Error initializing listener",
        "unknown storage type",
        "Error parsing listener",
        "Raft cannot be set both as 'storage' and 'ha_storage'",
        "HA storage cannot be declared when Raft is the storage type",
    ]
    .iter()
    .any(|said| log.contains(said))
}

/// What each case's server is expected to have shown, so that a case that no longer exercises
/// what it is about (the server failed early, say) fails rather than agrees vacuously.
pub fn evidence_missing(case: &Case, seen: &Observed) -> Option<String> {
    let wanted = |id: &str| case.expect.iter().any(|(i, _)| *i == id);
    let name = case.name;
    if name.starts_with("unknown") || name.starts_with("vault-only") {
        return (seen.started || !seen.log.contains("flag provided but not defined"))
            .then(|| "the server should refuse the flag".to_string());
    }
    if name.starts_with("refused") {
        return (seen.started || !status_of_refusal(&seen.log))
            .then(|| "the server should refuse the configuration".to_string());
    }
    if wanted("audit") {
        return seen.audit_logs.is_empty().then(|| "the server wrote no audit log".to_string());
    }
    if wanted("tls-verify") {
        let talked = !seen.unverified_tokens.is_empty();
        return match case.expect.contains(&("tls-verify", "WARN")) {
            true => (!talked).then(|| "the seal did not skip verification".to_string()),
            false => {
                (talked || !seen.log.contains("certificate")).then(|| "the seal did not refuse the certificate".into())
            }
        };
    }
    if wanted("seal-credentials") {
        return seen.seal_tokens.is_empty().then(|| "the transit seal sent no request".to_string());
    }
    if wanted("storage") {
        return seen.storage.is_empty().then(|| "raft wrote nowhere".to_string());
    }
    if !seen.started {
        return Some("the server did not start".into());
    }
    // -dev-skip-init leaves the server uninitialised: no root token to print.
    let initialised = !case.args.contains(&"-dev-skip-init");
    if case.expect.contains(&("root-token", "WARN")) && initialised && !seen.root_token {
        return Some("dev mode printed no root token".into());
    }
    if case.expect.contains(&("metrics", "WARN")) && seen.open_metrics.is_empty() {
        return Some("every listener's metrics needed a token".into());
    }
    if case.expect.contains(&("raw-storage", "WARN")) && seen.raw_endpoint.is_empty() {
        return Some("no listener served sys/raw".into());
    }
    if wanted("tls") && seen.answers.iter().all(|(_, a)| *a == Answer::Closed) {
        return Some("no listener answered".into());
    }
    None
}
