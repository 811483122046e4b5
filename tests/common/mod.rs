//! The test harness every integration test uses: the built binaries, the probe, scratch folders,
//! PID namespaces, and the rule that a privileged test fails (never skips) in CI.
#![allow(dead_code)]
// The harness calls libc directly where the library has no wrapper for a test's need (flock,
// atexit); the product's rule (unsafe only in src/sys) is for the product.
#![allow(unsafe_code)]

pub mod docker;
pub mod runc;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The hardinit under test: the static musl binary the image ships (musl and glibc differ where
/// the kernel and the C library meet: signal sets, for one), staged where any user can run it.
pub fn hardinit() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| stage(&static_hardinit(), "hardinit", 0o755).to_string_lossy().into_owned())
}

/// examples/mlock_standin.rs, built static (musl) so that it runs in a container, staged where
/// any user can run it.
pub fn mlock_standin() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = Command::new("cargo")
            .args(["build", "-q", "--release", "--target", "x86_64-unknown-linux-musl", "--example", "mlock_standin"])
            .current_dir(repo())
            .output()
            .expect("cargo build --example mlock_standin");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let built = repo().join("target/x86_64-unknown-linux-musl/release/examples/mlock_standin");
        stage(&built, "mlock_standin", 0o755).to_string_lossy().into_owned()
    })
}

/// hardinit as `sh`: a link named sh to the staged binary, as the image's /bin/sh is.
pub fn sh() -> &'static str {
    static PATH: OnceLock<String> = OnceLock::new();
    PATH.get_or_init(|| {
        let link = Path::new(hardinit()).with_file_name("sh");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink("hardinit", &link).unwrap();
        link.to_string_lossy().into_owned()
    })
}

/// A self-signed EC certificate (`cert`) and its key (`key`, mode 0644: the servers under test
/// run as another user) for subject CN `name` and `san` (`IP:127.0.0.1`, `DNS:...`); also a CA,
/// so that a bundle holding it alone trusts it.
pub fn self_signed(cert: &Path, key: &Path, name: &str, san: &str) {
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", &format!("/CN={name}"), "-addext", &format!("subjectAltName={san}")])
        .args(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=digitalSignature,keyCertSign"])
        .arg("-keyout")
        .arg(key)
        .arg("-out")
        .arg(cert)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::set_permissions(key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
}

/// A copy of `source`, mode `mode`, in a folder of this test run that every user can traverse:
/// the tests run servers (and hardinit itself, in places) as an unprivileged user, and a clone in
/// a root newcomer's $HOME (mode 0700) is out of that user's reach.
fn stage(source: &Path, name: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("hardinit-stage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let staged = dir.join(name);
    install(source, &staged, mode);
    staged
}

/// Copies an executable with install(1), in a child process: a copy written by this process
/// would hold a write descriptor that the children other test threads fork at that moment
/// inherit until their exec, and executing the copy then fails with ETXTBSY ("Text file busy").
/// dash: the reference shell of the sh tests.
pub fn dash() -> &'static str {
    ["/usr/bin/dash", "/bin/dash"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("dash (scripts/setup.sh installs it)")
}

/// A new folder `hardinit-NAME-bin-PID` under the temporary directory: busybox's `applets` as
/// links to it, and each `(name, script)` of `standins` installed 0755. The PATH of dash and of
/// hardinit's sh in the sh tests, so that both run the same applets.
pub fn busybox_path(name: &str, applets: &[&str], standins: &[(&str, &str)]) -> PathBuf {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (scripts/setup.sh installs busybox-static)");
    let dir = std::env::temp_dir().join(format!("hardinit-{name}-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for applet in applets {
        std::os::unix::fs::symlink(busybox, dir.join(applet)).unwrap();
    }
    for (standin, script) in standins {
        let staged = dir.join(format!(".{standin}"));
        std::fs::write(&staged, script).unwrap();
        install(&staged, &dir.join(standin), 0o755);
        std::fs::remove_file(&staged).unwrap();
    }
    dir
}

pub fn install(source: &Path, target: &Path, mode: u32) {
    let out = Command::new("install")
        .arg("-m")
        .arg(format!("{mode:o}"))
        .arg(source)
        .arg(target)
        .output()
        .expect("install(1)");
    assert!(out.status.success(), "install {}: {}", source.display(), String::from_utf8_lossy(&out.stderr));
}

/// The static hardinit for container root filesystems: `HARDINIT_STATIC_BIN`, or built now.
pub fn static_hardinit() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // A suite started under nohup (or anything else that ignores SIGHUP) passes the ignored
        // SIGHUP on to all it starts, and hardinit hands the server the dispositions it received
        // (by design): every SIGHUP test would then see nothing happen. The servers under test
        // start from the default, as a container's processes do.
        // SAFETY: signal(2) with a valid signal and SIG_DFL; no handler runs.
        assert_ne!(unsafe { libc::signal(libc::SIGHUP, libc::SIG_DFL) }, libc::SIG_ERR);
        if let Some(path) = std::env::var_os("HARDINIT_STATIC_BIN") {
            return PathBuf::from(path);
        }
        let out = Command::new("bash")
            .arg(repo().join("scripts/build-static.sh"))
            .arg(target())
            .output()
            .expect("run build-static.sh");
        assert!(out.status.success(), "build-static.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

/// The Rust target of the hardinit under test: `HARDINIT_TARGET` (set beside a
/// `HARDINIT_STATIC_BIN` built for another platform), or x86_64 musl.
pub fn target() -> &'static str {
    static TARGET: OnceLock<String> = OnceLock::new();
    TARGET.get_or_init(|| std::env::var("HARDINIT_TARGET").unwrap_or_else(|_| "x86_64-unknown-linux-musl".into()))
}

/// Whether the hardinit under test runs under qemu-user (through binfmt_misc) rather than on the
/// kernel itself: its architecture is not the host's. i686 runs on x86_64's own 32-bit system
/// call layer, a kernel's, not an emulator's.
pub fn emulated() -> bool {
    let arch = target().split('-').next().unwrap_or_default();
    let host = std::env::consts::ARCH;
    !(arch == host || (host == "x86_64" && arch == "i686"))
}

/// qemu-user (7.2, Debian 12's) answers prctl(PR_SET_CHILD_SUBREAPER) with EINVAL, where a
/// kernel grants it: an emulated hardinit that is not PID 1 refuses to start ("becoming a child
/// subreaper", exit 71). In a container hardinit is PID 1 and needs no subreaper.
pub fn qemu_refuses_subreaper() -> bool {
    emulated()
}

/// binfmt_misc gives an emulated program the credentials of its interpreter (qemu) unless the
/// registration carries the C flag, which Debian's qemu-user-static does not set (flags: PF):
/// file capabilities on the emulated hardinit itself then grant nothing.
pub fn emulated_file_capabilities_ignored() -> bool {
    if !emulated() {
        return false;
    }
    // qemu-user's names for the Rust targets' architectures that differ.
    let arch = match target().split('-').next().unwrap_or_default() {
        "armv7" => "arm",
        "powerpc64le" => "ppc64le",
        "riscv64gc" => "riscv64",
        arch => arch,
    };
    let registration = std::fs::read_to_string(format!("/proc/sys/fs/binfmt_misc/qemu-{arch}")).unwrap_or_default();
    !registration.lines().any(|l| l.strip_prefix("flags: ").is_some_and(|f| f.contains('C')))
}

/// `hardinit` as the tests of everything but the subreaper start it: directly (a subreaper), or,
/// where [`qemu_refuses_subreaper`], as PID 1 of a PID namespace of its own. Arguments follow.
pub fn supervised() -> Command {
    if qemu_refuses_subreaper() {
        return as_namespace_init(&[]);
    }
    command(hardinit())
}

/// The pid of the hardinit that a [`supervised`] command started.
pub fn supervised_pid(child: &Child) -> i32 {
    if qemu_refuses_subreaper() { forked_child_of(child) } else { child.id() as i32 }
}

/// [`supervised`]'s argv, for tests that start hardinit from another program.
pub fn supervised_argv() -> Vec<String> {
    let cmd = supervised();
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(|a| a.to_string_lossy().into_owned()).collect()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The probe (tests/helpers/probe.py), staged where the unprivileged test user can read it.
pub fn probe() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| stage(&repo().join("tests/helpers/probe.py"), "probe.py", 0o644)).clone()
}

/// Whether a test that needs root, namespaces or runc can run. With
/// HARDINIT_REQUIRE_PRIVILEGED=1 (CI), a missing privilege is a failure, not a skip.
pub fn privileged(needs_runc: bool) -> bool {
    let mut missing = Vec::new();
    // The effective uid, second in /proc/self/status.
    if status_field("self", "Uid").is_none_or(|u| u.split_whitespace().nth(1) != Some("0")) {
        missing.push("root");
    }
    if !Command::new("unshare").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        missing.push("unshare");
    }
    if needs_runc && !Command::new("runc").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()) {
        missing.push("runc");
    }
    if missing.is_empty() {
        return true;
    }
    if std::env::var("HARDINIT_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("HARDINIT_REQUIRE_PRIVILEGED=1 but this test cannot run: missing {missing:?}");
    }
    eprintln!("SKIPPED: missing {missing:?} (set HARDINIT_REQUIRE_PRIVILEGED=1 to make this a failure)");
    false
}

/// One field of /proc/<pid>/status.
pub fn status_field(pid: &str, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':').map(|v| v.trim().to_string()))
}

/// scripts/check-dockerfile.py on `text` (written into `dir`): its exit status and its report.
pub fn check_dockerfile(dir: &Scratch, text: &str) -> (Option<i32>, String) {
    std::fs::write(dir.path("Dockerfile"), text).unwrap();
    let out = Command::new(PYTHON)
        .arg(repo().join("scripts/check-dockerfile.py"))
        .arg(dir.path("Dockerfile"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The system Python: the servers run as [`TEST_USER`], who cannot reach a Python under /root.
pub const PYTHON: &str = "/usr/bin/python3";

/// The unprivileged user the supervisor tests run their servers as: hardinit always drops to a
/// user, and the host has no `vault`.
pub const TEST_USER: &str = "4242:4242";

/// A command whose environment makes any hardinit it starts (directly or through wrappers) drop
/// to [`TEST_USER`].
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = Command::new(program);
    // Nothing of the caller's environment (HISTFILE, a PATH of its own, a locale, HARDINIT_*
    // settings) reaches what the tests start: a fixed one, the same on every machine.
    cmd.env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .env("HOME", "/")
        .env("HARDINIT_USER", TEST_USER);
    cmd
}

/// A folder of its own under the temp dir, writable by the test user, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hardinit-{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `unshare --pid --fork --mount-proc hardinit ARGS...`: hardinit as PID 1 of a new PID namespace.
pub fn as_namespace_init(args: &[&str]) -> Command {
    let mut cmd = command("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", hardinit()]).args(args);
    cmd
}

/// The children of `pid` (its main thread's), from /proc.
pub fn children_of(pid: i32) -> Vec<i32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The host pid of the process that unshare forked (hardinit, PID 1 inside).
pub fn forked_child_of(unshare: &Child) -> i32 {
    wait_until(Duration::from_secs(10), || children_of(unshare.id() as i32).first().copied())
        .expect("unshare forked no child")
}

/// Polls `check` until it returns Some or `timeout` passes.
pub fn wait_until<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits for `child` at most `timeout`; kills it and fails the test when it hangs.
pub fn finish(mut child: Child, timeout: Duration) -> ExitStatus {
    match wait_until(timeout, || child.try_wait().unwrap()) {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("process {} did not finish within {timeout:?}", child.id());
        }
    }
}

/// Runs `cmd` to completion with a timeout, capturing stdout and stderr.
pub fn run(mut cmd: Command, timeout: Duration) -> Output {
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait"),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}

/// `curl` to the server's API: (HTTP status, JSON body); `ca` to trust for HTTPS.
pub fn http(
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&serde_json::Value>,
    ca: Option<&Path>,
) -> (u16, serde_json::Value) {
    let mut cmd = Command::new("curl");
    // Bounded: a server that never answers fails the call (status 0), it does not hang the suite
    // (seen once under qemu-user).
    cmd.args(["-sS", "--max-time", "120", "-o", "-", "-w", "\n%{http_code}", "-X", method, url]);
    if let Some(ca) = ca {
        cmd.arg("--cacert").arg(ca);
    }
    if let Some(token) = token {
        cmd.args(["-H", &format!("X-Vault-Token: {token}")]);
    }
    if let Some(body) = body {
        cmd.args(["-d", &body.to_string()]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (payload, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), serde_json::from_str(payload).unwrap_or(serde_json::Value::Null))
}

/// Unseals the server at `base` with its one key and waits until it is the active node: the last
/// health reply if it is not within 150 s (beyond OpenBao's own one-minute retry of a
/// read-enabled standby whose setup stalled, ha.go waitForLeadership).
pub fn unseal_until_active(base: &str, key: &str, ca: Option<&Path>) -> Result<(), (u16, serde_json::Value)> {
    let body = serde_json::json!({ "key": key });
    let (status, reply) = http("PUT", &format!("{base}/v1/sys/unseal"), None, Some(&body), ca);
    assert_eq!((status, &reply["sealed"]), (200, &serde_json::Value::Bool(false)), "{reply}");
    let mut health = (0, serde_json::Value::Null);
    wait_until(Duration::from_secs(150), || {
        health = http("GET", &format!("{base}/v1/sys/health"), None, None, ca);
        (health.0 == 200).then_some(())
    })
    .ok_or(health)
}

/// Writes `secret` to `url` in a KV v2 mount made a moment ago: a new mount answers 400
/// ("Upgrading from non-versioned to versioned data") until its first upgrade is done, seconds on
/// a loaded machine.
pub fn write_to_new_kv2(url: &str, token: &str, secret: &serde_json::Value, ca: Option<&Path>) {
    let mut last = (0, serde_json::Value::Null);
    wait_until(Duration::from_secs(60), || {
        last = http("POST", url, Some(token), Some(secret), ca);
        (last.0 == 200).then_some(())
    })
    .unwrap_or_else(|| panic!("the secret was never written to {url}: {last:?}"));
}

pub fn send(pid: i32, signal: &str) {
    let status = Command::new("kill").args(["-s", signal, &pid.to_string()]).status().unwrap();
    assert!(status.success(), "kill -s {signal} {pid}");
}

/// Exit code, or 128+N for a signal death, as a shell reports it.
pub fn code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

pub fn lines_of(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// A swap file, active on the host while this lives.
pub struct SwapFile(PathBuf);

impl SwapFile {
    pub fn on() -> SwapFile {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = repo().join(format!(
            "target/hardinit-test-swap-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let script = format!(
            "dd if=/dev/zero of={0} bs=1M count=64 status=none && chmod 600 {0} && mkswap -q {0} && swapon {0}",
            path.display()
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        SwapFile(path)
    }
}

impl Drop for SwapFile {
    fn drop(&mut self) {
        let _ = Command::new("swapoff").arg(&self.0).status();
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The SHA-256 of a file, in hex, as sha256sum(1) prints it.
pub fn sha256_hex(path: &Path) -> String {
    let out = Command::new("sha256sum").arg(path).output().expect("sha256sum");
    assert!(out.status.success(), "sha256sum {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or_default().to_string()
}

/// Ports for servers on the host's 127.0.0.1 are taken below the kernel's ephemeral range
/// (/proc/sys/net/ipv4/ip_local_port_range, 32768 and up by default), where no client connection
/// takes its source port: a port found free by binding port 0 is an ephemeral one, and one of the
/// suite's thousands of curl connections could take it before the server binds it (a cluster
/// listener binds only at unseal, seconds later; seen once under qemu-user in CI). Each port is
/// claimed by an abstract Unix socket named after it, held until the test process ends (the kernel
/// frees it with the process), so the native, emulated and Docker suites running side by side
/// never hand out the same one.
const TEST_PORTS: std::ops::Range<u16> = 20000..32000;

/// A free TCP port on 127.0.0.1 for a server in the host's network namespace. The next port is
/// claimed with it: a dev server's cluster listener binds the API port plus one.
pub fn free_port() -> u16 {
    free_port_pair().0
}

/// Two free consecutive ports P and P+1 on 127.0.0.1 (the dev server's cluster listener takes the
/// next port).
pub fn free_port_pair() -> (u16, u16) {
    let first = free_ports(2);
    (first, first + 1)
}

/// The first of `count` consecutive ports, each claimed for this process and free to bind now.
fn free_ports(count: u16) -> u16 {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixListener};
    static CLAIMED: std::sync::Mutex<Vec<UnixListener>> = std::sync::Mutex::new(Vec::new());
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(TEST_PORTS.end - TEST_PORTS.start - count);
    // Each process starts where the others are unlikely to be.
    let start = std::process::id().wrapping_mul(2654435761) % span;
    let mut claimed = CLAIMED.lock().unwrap();
    for _ in 0..span {
        let first = TEST_PORTS.start + ((start + NEXT.fetch_add(count.into(), Ordering::Relaxed)) % span) as u16;
        let mut claims = Vec::new();
        for port in first..first + count {
            let name = SocketAddr::from_abstract_name(format!("hardinit-test-port-{port}")).unwrap();
            match UnixListener::bind_addr(&name) {
                Ok(claim) if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() => claims.push(claim),
                _ => break,
            }
        }
        if claims.len() == usize::from(count) {
            claimed.extend(claims);
            return first;
        }
    }
    panic!("no {count} free consecutive ports in {TEST_PORTS:?}");
}
