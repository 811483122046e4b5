//! Live operations with the real OpenBao server in runc: `--reload-on-change` (the server serves a
//! rotated certificate after one SIGHUP, rotated the way the kubelet updates a Secret volume) and
//! `--term-delay` (the server keeps answering for the delay after SIGTERM).

mod common;

use common::runc::{Container, Running};
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(60);
const HARDINIT: &str = "/usr/local/bin/hardinit";
const DEBOUNCE: Duration = Duration::from_secs(1);

/// A self-signed certificate and key for 127.0.0.1 named `name`.
fn certificate(dir: &Path, name: &str) {
    std::fs::create_dir_all(dir).unwrap();
    self_signed(&dir.join("tls.crt"), &dir.join("tls.key"), name, "IP:127.0.0.1");
}

/// A Secret volume as the kubelet lays it out: `..<timestamp>/` holds the files, `..data` links to
/// it, and each file is a link through `..data`.
struct SecretVolume {
    dir: Scratch,
    generation: u32,
}

impl SecretVolume {
    fn new(first: &str) -> SecretVolume {
        let mut volume = SecretVolume { dir: Scratch::new("secret-volume"), generation: 0 };
        volume.update(first);
        for file in ["tls.crt", "tls.key"] {
            std::os::unix::fs::symlink(format!("..data/{file}"), volume.dir.path(file)).unwrap();
        }
        volume
    }

    /// The kubelet's atomic update: a new timestamped directory, a new `..data_tmp` link to it
    /// renamed over `..data`, the old directory removed. The files themselves are never written.
    fn update(&mut self, name: &str) {
        let made = Scratch::new("certificate");
        certificate(&made.0, name);
        self.update_from(&made.0);
    }

    /// [`SecretVolume::update`] with a certificate made beforehand (a burst must be quick).
    fn update_from(&mut self, made: &Path) {
        self.generation += 1;
        let new = format!("..2026_11_27_{:04}", self.generation);
        std::fs::create_dir(self.dir.path(&new)).unwrap();
        for file in ["tls.crt", "tls.key"] {
            std::fs::copy(made.join(file), self.dir.path(&new).join(file)).unwrap();
        }
        let _ = std::fs::remove_file(self.dir.path("..data_tmp"));
        std::os::unix::fs::symlink(&new, self.dir.path("..data_tmp")).unwrap();
        std::fs::rename(self.dir.path("..data_tmp"), self.dir.path("..data")).unwrap();
        if self.generation > 1 {
            let old = format!("..2026_11_27_{:04}", self.generation - 1);
            std::fs::remove_dir_all(self.dir.path(&old)).unwrap();
        }
    }

    /// The same content under a new timestamp: events, but nothing to reload.
    fn update_same(&mut self) {
        let current = format!("..2026_11_27_{:04}", self.generation);
        self.generation += 1;
        let new = format!("..2026_11_27_{:04}", self.generation);
        std::fs::create_dir(self.dir.path(&new)).unwrap();
        for file in ["tls.crt", "tls.key"] {
            std::fs::copy(self.dir.path(&current).join(file), self.dir.path(&new).join(file)).unwrap();
        }
        std::os::unix::fs::symlink(&new, self.dir.path("..data_tmp")).unwrap();
        std::fs::rename(self.dir.path("..data_tmp"), self.dir.path("..data")).unwrap();
        std::fs::remove_dir_all(self.dir.path(&current)).unwrap();
    }
}

/// The CN of the certificate the server presents on 127.0.0.1:`port`.
fn served_name(port: u16) -> String {
    let client = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    x509.stdin.take().unwrap().write_all(&client.stdout).unwrap();
    let subject = String::from_utf8_lossy(&x509.wait_with_output().unwrap().stdout).into_owned();
    subject.trim().rsplit('=').next().unwrap_or_default().trim().to_string()
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// OpenBao in dev mode with a TLS listener on `port` using the Secret volume's files.
fn tls_server(name: &str, volume: &SecretVolume, port: u16, hardinit_flags: &[&str]) -> (Running, Scratch) {
    let config = Scratch::new("live-config");
    std::fs::write(
        config.path("tls.hcl"),
        format!("listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_cert_file = \"/certs/tls.crt\"\n  tls_key_file = \"/certs/tls.key\"\n}}\n"),
    )
    .unwrap();
    let mut args = vec![HARDINIT];
    args.extend_from_slice(hardinit_flags);
    let dev = format!("-dev-listen-address=127.0.0.1:{}", free_port());
    args.extend(["--", "/bin/bao", "server", "-dev", "-dev-no-store-token", &dev, "-config=/config/tls.hcl"]);
    let mut container = Container::new(name, &args);
    container.read_only_volume(&volume.dir.0, "/certs").read_only_volume(&config.0, "/config");
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    (running, config)
}

#[test]
fn a_rotated_certificate_is_served_after_one_reload() {
    if !privileged(true) {
        return;
    }
    let mut volume = SecretVolume::new("first");
    let port = free_port();
    let (running, _config) =
        tls_server("reload", &volume, port, &["--reload-on-change", "auto", "--reload-debounce", "1s"]);
    let stderr = running.stderr();
    assert!(stderr.contains("watching /certs/tls.crt, /certs/tls.key"), "auto read the listener's files: {stderr}");
    assert_eq!(served_name(port), "first");
    let reloads =
        |running: &Running| (count(&running.stderr(), "sent SIGHUP"), count(&running.stdout(), "reload triggered"));
    let settle = || std::thread::sleep(DEBOUNCE + Duration::from_secs(2));

    // The kubelet's rotation: one reload, the new certificate served.
    volume.update("second");
    let served = wait_until(LONG, || (served_name(port) == "second").then_some(()));
    assert!(served.is_some(), "the new certificate is served: {}", running.stderr());
    settle();
    assert_eq!(reloads(&running), (1, 1), "exactly one SIGHUP, one reload by the server");

    // A burst of 20 changes, well inside the debounce: one reload.
    let made: Vec<Scratch> = (0..20)
        .map(|n| {
            let dir = Scratch::new("burst");
            certificate(&dir.0, &format!("burst-{n}"));
            dir
        })
        .collect();
    for dir in &made {
        volume.update_from(&dir.0);
    }
    settle();
    assert_eq!(served_name(port), "burst-19");
    assert_eq!(reloads(&running), (2, 2), "a burst is one reload");

    // New timestamps, same content: nothing to reload.
    volume.update_same();
    settle();
    assert_eq!(reloads(&running), (2, 2), "no content change, no reload");

    // The file vanishes (no reload: the server would fail to read it), then comes back changed.
    std::fs::rename(volume.dir.path("tls.crt"), volume.dir.path("tls.crt.away")).unwrap();
    settle();
    assert_eq!(reloads(&running), (2, 2), "a missing file is not reloaded");
    std::fs::rename(volume.dir.path("tls.crt.away"), volume.dir.path("tls.crt")).unwrap();
    volume.update("back");
    settle();
    assert_eq!(served_name(port), "back");
    assert_eq!(reloads(&running), (3, 3), "still watched after it came back");
    running.stop_cleanly();
}

#[test]
fn a_delayed_sigterm_keeps_the_server_answering_then_it_exits_0() {
    if !privileged(true) {
        return;
    }
    let volume = SecretVolume::new("delay");
    let port = free_port();
    let (mut running, _config) = tls_server("term-delay", &volume, port, &["--term-delay", "3s"]);
    let started = Instant::now();
    running.kill("TERM");
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(served_name(port), "delay", "still serving during the delay");
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert!(started.elapsed() >= Duration::from_secs(3), "stopped after {:?}", started.elapsed());
    assert!(running.stderr().contains("keeps serving for 3s"), "{}", running.stderr());

    // A second SIGTERM cuts the delay short.
    let (mut running, _config) = tls_server("term-delay-twice", &volume, port, &["--term-delay", "30s"]);
    let started = Instant::now();
    running.kill("TERM");
    std::thread::sleep(Duration::from_millis(500));
    running.kill("TERM");
    assert_eq!(running.wait(LONG), 0, "{}", running.stderr());
    assert!(started.elapsed() < Duration::from_secs(10), "cut short: {:?}", started.elapsed());
    assert!(running.stderr().contains("SIGTERM during --term-delay: forwarding SIGTERM now"), "{}", running.stderr());
}

/// The `signals` check's verdict on `--rewrite rewrite`, as `hardinit check --json` gives it.
fn signals_verdict(rewrite: &str) -> String {
    let mut cmd = command(hardinit());
    cmd.args(["--rewrite", rewrite, "check", "--json"]);
    let out = run(cmd, LONG);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{rewrite}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    let checks = report["checks"].as_array().unwrap();
    let signals = checks.iter().find(|c| c["id"] == "signals").unwrap_or_else(|| panic!("no signals check: {report}"));
    signals["status"].as_str().unwrap().to_string()
}

#[test]
fn the_signals_check_passes_exactly_the_rewrites_on_which_the_server_stops_cleanly() {
    if !privileged(true) {
        return;
    }
    // What the real server did 3 s after a container stop's SIGTERM went through the rewrite:
    // None, still running; Some(status), exited.
    let cases: [(&str, &str, Option<i32>); 8] = [
        ("TERM:WINCH", "WARN", None),
        ("TERM:HUP", "WARN", None),
        ("TERM:USR1", "WARN", None),
        ("TERM:USR2", "WARN", None),
        ("TERM:RTMIN+1", "WARN", None),
        // The Go runtime's stack dump and status 2: stopped, but as after a crash.
        ("TERM:QUIT", "WARN", Some(2)),
        ("TERM:INT", "PASS", Some(0)),
        ("USR1:HUP", "PASS", Some(0)),
    ];
    for (rewrite, verdict, outcome) in cases {
        assert_eq!(signals_verdict(rewrite), verdict, "hardinit check --rewrite {rewrite}");
        let dev = format!("-dev-listen-address=127.0.0.1:{}", free_port());
        let args = [HARDINIT, "--rewrite", rewrite, "--", "/bin/bao", "server", "-dev", "-dev-no-store-token", &dev];
        let mut running = Container::new("rewrite", &args).start();
        running.wait_for_output("OpenBao server started", LONG);
        running.kill("TERM");
        std::thread::sleep(Duration::from_secs(3));
        let seen = running.try_wait();
        assert_eq!(seen, outcome, "--rewrite {rewrite}, then SIGTERM: {}", running.stderr());
        // A PASS is a clean stop, and only a clean stop is a PASS.
        assert_eq!(verdict == "PASS", seen == Some(0), "{rewrite}");
    }
}

/// Swaps the symlink `dir/link` to `target` atomically, as `ln -sfn` and the kubelet do: a new
/// link under a temporary name renamed over the old one.
fn swap_link(dir: &Path, link: &str, target: &str) {
    let temporary = dir.join(format!("{link}_tmp"));
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(target, &temporary).unwrap();
    std::fs::rename(&temporary, dir.join(link)).unwrap();
}

#[test]
fn a_swapped_directory_link_and_a_recreated_directory_are_each_one_reload() {
    if !privileged(true) {
        return;
    }
    // Three volumes, one listener each:
    // /release: `current -> v1`, re-pointed to v2 with v1 kept (a release layout);
    // /secret: a Secret whose item has a nested path: `tls -> ..data/tls`, `..data -> ..<time>`;
    // /plain: `live/` removed, then made again with new files.
    let (release, secret, plain) = (Scratch::new("release"), Scratch::new("nested-secret"), Scratch::new("plain"));
    certificate(&release.path("v1"), "release-1");
    std::os::unix::fs::symlink("v1", release.path("current")).unwrap();
    certificate(&secret.path("..2026_12_01_0001/tls"), "secret-1");
    std::os::unix::fs::symlink("..2026_12_01_0001", secret.path("..data")).unwrap();
    std::os::unix::fs::symlink("..data/tls", secret.path("tls")).unwrap();
    certificate(&plain.path("live"), "plain-1");
    let ports = [free_port(), free_port(), free_port()];
    let listeners: String = ports
        .iter()
        .zip(["/release/current", "/secret/tls", "/plain/live"])
        .map(|(port, dir)| {
            format!("listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_cert_file = \"{dir}/tls.crt\"\n  tls_key_file = \"{dir}/tls.key\"\n}}\n")
        })
        .collect();
    let config = Scratch::new("live-config");
    std::fs::write(config.path("tls.hcl"), listeners).unwrap();
    let dev = format!("-dev-listen-address=127.0.0.1:{}", free_port());
    let args = [HARDINIT, "--reload-on-change", "auto", "--reload-debounce", "1s", "--", "/bin/bao", "server", "-dev"];
    let mut container = Container::new(
        "reload-links",
        &[&args[..], &["-dev-no-store-token", &dev, "-config=/config/tls.hcl"]].concat(),
    );
    container
        .read_only_volume(&release.0, "/release")
        .read_only_volume(&secret.0, "/secret")
        .read_only_volume(&plain.0, "/plain")
        .read_only_volume(&config.0, "/config");
    let mut running = container.start();
    running.wait_for_output("OpenBao server started", LONG);
    assert_eq!(ports.map(served_name), ["release-1", "secret-1", "plain-1"]);
    let sighups = |running: &Running| count(&running.stderr(), "sent SIGHUP");
    let settle = || std::thread::sleep(DEBOUNCE + Duration::from_secs(2));
    let served = |port: u16, name: &str, running: &Running| {
        let seen = wait_until(Duration::from_secs(20), || (served_name(port) == name).then_some(()));
        assert!(seen.is_some(), "{name} is served: {}", running.stderr());
    };

    // `current -> v1` re-pointed to v2; v1 stays as it was.
    certificate(&release.path("v2"), "release-2");
    swap_link(&release.0, "current", "v2");
    served(ports[0], "release-2", &running);
    settle();
    assert_eq!(sighups(&running), 1, "{}", running.stderr());

    // The kubelet's swap of `..data` under a nested item: one reload; the removal of the old
    // timestamped directory afterwards changes no content, so no second one.
    certificate(&secret.path("..2026_12_01_0002/tls"), "secret-2");
    swap_link(&secret.0, "..data", "..2026_12_01_0002");
    served(ports[1], "secret-2", &running);
    settle();
    assert_eq!(sighups(&running), 2, "{}", running.stderr());
    std::fs::remove_dir_all(secret.path("..2026_12_01_0001")).unwrap();
    settle();
    assert_eq!(sighups(&running), 2, "{}", running.stderr());

    // A watched directory removed (nothing to reload while it is missing), then made again.
    std::fs::remove_dir_all(plain.path("live")).unwrap();
    settle();
    assert_eq!(sighups(&running), 2, "no reload while the files are missing: {}", running.stderr());
    certificate(&plain.path("live"), "plain-2");
    served(ports[2], "plain-2", &running);
    settle();
    assert_eq!(sighups(&running), 3, "{}", running.stderr());
    // And watched again: a change inside it is the next reload.
    certificate(&plain.path("live"), "plain-3");
    served(ports[2], "plain-3", &running);
    settle();
    assert_eq!(sighups(&running), 4, "{}", running.stderr());
    assert_eq!(count(&running.stdout(), "reload triggered"), 4, "the server reloaded as often");
    running.stop_cleanly();
}
