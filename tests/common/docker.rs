//! The real Docker Engine: a dockerd the tests start themselves when none answers, the image made
//! with `docker import` of scripts/assemble-rootfs.sh's tree and the Dockerfile's own final-stage
//! settings, and the README's recipes read from its code blocks.

use super::{free_port_pair, repo, run, static_hardinit};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);

/// The label of the images the tests import, for pruning them.
const IMAGE_LABEL: &str = "hardinit-test";

/// The final stage of the Dockerfile named `target`: its instructions (continuations joined,
/// comments dropped) as (INSTRUCTION, rest) pairs.
pub fn dockerfile_stage(target: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let mut stage: Option<String> = None;
    let mut lines = Vec::new();
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.split_whitespace().collect::<Vec<_>>().join(" ");
        if word.eq_ignore_ascii_case("FROM") {
            let words: Vec<&str> = rest.split(' ').filter(|w| !w.starts_with("--")).collect();
            stage = words.iter().position(|w| w.eq_ignore_ascii_case("AS")).map(|i| words[i + 1].to_lowercase());
        } else if stage.as_deref() == Some(target) {
            lines.push((word.to_uppercase(), rest));
        }
    }
    assert!(!lines.is_empty(), "the Dockerfile has no stage {target}");
    lines
}

/// The exec-form JSON array of the final stage's CMD (or ENTRYPOINT).
pub fn dockerfile_exec_form(target: &str, instruction: &str) -> Vec<String> {
    let stage = dockerfile_stage(target);
    let (_, rest) = stage.iter().rev().find(|(w, _)| w == instruction).expect("no such instruction");
    serde_json::from_str(rest).unwrap_or_else(|e| panic!("{instruction} {rest} is not exec form: {e}"))
}

/// A Docker Engine to talk to: `DOCKER_HOST`, the system's, or one of our own.
pub struct Engine {
    pub host: String,
}

/// The engine, or None (after saying why) when there is none and HARDINIT_REQUIRE_PRIVILEGED is
/// not 1; with it, a missing engine fails the test.
pub fn engine() -> Option<&'static Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    match ENGINE.get_or_init(find_or_start) {
        Ok(engine) => Some(engine),
        Err(why) => {
            if std::env::var("HARDINIT_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
                panic!("HARDINIT_REQUIRE_PRIVILEGED=1 but the Docker Engine cannot be used: {why}");
            }
            eprintln!("SKIPPED: no Docker Engine: {why} (set HARDINIT_REQUIRE_PRIVILEGED=1 to make this a failure)");
            None
        }
    }
}

fn answers(host: &str) -> bool {
    Command::new("docker")
        .args(["-H", host, "version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where our own dockerd lives: one per machine, shared by every test process (a test binary, a
/// second `cargo test`, another clone), under a lock (below). Short paths: unix sockets are
/// limited to 108 bytes.
fn own_dir() -> PathBuf {
    PathBuf::from("/tmp/hardinit-dockerd")
}

fn find_or_start() -> Result<Engine, String> {
    if !Path::new("/proc/self").exists() || super::status_field("self", "Uid").is_none_or(|u| !u.starts_with("0")) {
        return Err("not root".into());
    }
    if Command::new("docker").arg("--version").output().is_err() {
        return Err("no docker client (scripts/setup.sh installs docker.io)".into());
    }
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        return if answers(&host) { Ok(Engine { host }) } else { Err(format!("DOCKER_HOST={host} does not answer")) };
    }
    let system = "unix:///var/run/docker.sock".to_string();
    if answers(&system) {
        return Ok(Engine { host: system });
    }
    let dir = own_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let host = format!("unix://{}", dir.join("docker.sock").display());
    // Every process that uses our dockerd holds the lock shared for its whole life; the one that
    // finds it down starts it holding the lock exclusively, so two never start it at once, and it
    // is stopped at exit only by a process that can take the lock exclusively: the last user.
    // The exclusive lock is only tried, never waited for: another user keeps its shared lock for
    // as long as it runs, and a daemon that died under it would leave this one waiting until then.
    let lock = std::fs::File::create(dir.join("lock")).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(180);
    let held_elsewhere = || format!("{host} does not answer, and another process holds {}", dir.join("lock").display());
    let share = || {
        while !flock(&lock, libc::LOCK_SH | libc::LOCK_NB) {
            if Instant::now() > deadline {
                return Err(held_elsewhere());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(())
    };
    share()?;
    while !answers(&host) {
        // A conversion is not atomic: a refused one has dropped the shared lock too.
        if flock(&lock, libc::LOCK_EX | libc::LOCK_NB) {
            let started = if answers(&host) { Ok(()) } else { start_dockerd(&dir, &host) };
            share()?;
            started?;
            break;
        }
        if Instant::now() > deadline {
            return Err(held_elsewhere());
        }
        std::thread::sleep(Duration::from_millis(500));
        share()?;
    }
    LOCK.set(lock).unwrap();
    // SAFETY: registers a plain extern "C" function with no arguments, run once at exit.
    unsafe { libc::atexit(stop_if_last_user) };
    Ok(Engine { host })
}

static LOCK: OnceLock<std::fs::File> = OnceLock::new();

fn flock(file: &std::fs::File, how: libc::c_int) -> bool {
    // SAFETY: flock on a descriptor this File owns.
    unsafe { libc::flock(file.as_raw_fd(), how) == 0 }
}

fn start_dockerd(dir: &Path, host: &str) -> Result<(), String> {
    let which = Command::new("sh").args(["-c", "command -v dockerd"]).output().map_err(|e| e.to_string())?;
    if !which.status.success() {
        return Err("no dockerd (scripts/setup.sh installs docker.io)".into());
    }
    let _ = std::fs::remove_file(dir.join("docker.sock"));
    let log = std::fs::File::create(dir.join("dockerd.log")).map_err(|e| e.to_string())?;
    // No bridge and no iptables: containers run with --network host and listen on 127.0.0.1.
    // setsid: the daemon is not in the test's process group, so a Ctrl-C of the tests leaves it
    // for the next run instead of killing it half-way.
    let mut daemon = Command::new("setsid")
        .args(["dockerd", "--bridge=none", "--iptables=false", "--ip-masq=false", "--host", host])
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("dockerd: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while !answers(host) {
        if let Ok(Some(status)) = daemon.try_wait() {
            let log = std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            return Err(format!("dockerd exited with {status}: {}", tail.join(" | ")));
        }
        if Instant::now() > deadline {
            return Err(format!("dockerd did not answer on {host} within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The daemon runs on after this process (setsid above); reaped by whoever is PID 1 then.
    std::mem::forget(daemon);
    Ok(())
}

extern "C" fn stop_if_last_user() {
    let Some(lock) = LOCK.get() else { return };
    if !flock(lock, libc::LOCK_EX | libc::LOCK_NB) {
        return; // another test process still uses it: it stops it
    }
    let dir = own_dir();
    let Some(pid) = std::fs::read_to_string(dir.join("dockerd.pid")).ok().and_then(|p| p.trim().parse::<i32>().ok())
    else {
        return;
    };
    // SAFETY: kill(2) with a pid read from dockerd's own pidfile and a valid signal.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Engine {
    /// `docker ARGS...` against this engine.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.host);
        cmd
    }

    /// Runs `docker ARGS...` and returns its output, whatever its status.
    pub fn output(&self, args: &[&str]) -> Output {
        let mut cmd = self.command();
        cmd.args(args);
        run(cmd, DOCKER_TIMEOUT)
    }

    /// Runs `docker ARGS...`, fails the test unless it succeeds, returns its stdout trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(out.status.success(), "docker {args:?}: {}{}", stdout(&out), stderr(&out));
        stdout(&out).trim().to_string()
    }

    /// `docker inspect -f FORMAT NAME`.
    pub fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "-f", format, name])
    }

    /// What the container wrote so far (stdout, stderr).
    pub fn logs(&self, name: &str) -> (String, String) {
        let out = self.output(&["logs", name]);
        (stdout(&out), stderr(&out))
    }

    /// The image of `flavour` (vault or openbao): the tree scripts/assemble-rootfs.sh makes (what
    /// the Dockerfile's build stage runs), with the real OpenBao server as the server binary,
    /// imported with the final stage's ENTRYPOINT, CMD, ENV, USER, WORKDIR and EXPOSE read from
    /// the Dockerfile. Tagged by a digest of what went in, so that clones sharing the engine never
    /// run each other's hardinit and an unchanged image is imported once.
    pub fn image(&self, flavour: &str) -> String {
        static IMAGES: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());
        let mut images = IMAGES.lock().unwrap();
        if let Some((_, tag)) = images.iter().find(|(f, _)| f == flavour) {
            return tag.clone();
        }
        let changes: Vec<String> = dockerfile_stage(flavour)
            .into_iter()
            .filter(|(w, _)| ["ENTRYPOINT", "CMD", "ENV", "USER", "WORKDIR", "EXPOSE"].contains(&w.as_str()))
            .map(|(w, r)| format!("{w} {r}"))
            .collect();
        let server = super::runc::bao();
        let mut digest = DefaultHasher::new();
        for file in [
            static_hardinit(),
            repo().join("scripts/assemble-rootfs.sh"),
            repo().join(format!("image/manifest.{flavour}.txt")),
        ] {
            std::fs::read(&file).unwrap().hash(&mut digest);
        }
        let meta = std::fs::metadata(&server).unwrap();
        (meta.len(), meta.modified().unwrap(), &changes).hash(&mut digest);
        let tag = format!("hardinit-test/{flavour}:{:016x}", digest.finish());
        if !self.output(&["image", "inspect", &tag]).status.success() {
            let tree = repo().join(format!("target/docker-images/{flavour}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tree);
            std::fs::create_dir_all(tree.parent().unwrap()).unwrap();
            let out = Command::new("bash")
                .arg(repo().join("scripts/assemble-rootfs.sh"))
                .args([flavour, tree.to_str().unwrap(), static_hardinit().to_str().unwrap(), server.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(out.status.success(), "assemble-rootfs.sh: {}", String::from_utf8_lossy(&out.stderr));
            let mut labelled = changes.clone();
            labelled.push(format!("LABEL {IMAGE_LABEL}=1"));
            self.import(&tree, &tag, &labelled);
            let _ = std::fs::remove_dir_all(&tree);
            // Each hardinit built makes a new image: those of earlier builds that no container
            // uses go once they are a day old (a clone's tests use theirs within minutes).
            let _ = self.output(&[
                "image",
                "prune",
                "-a",
                "-f",
                "--filter",
                &format!("label={IMAGE_LABEL}"),
                "--filter",
                "until=24h",
            ]);
        }
        images.push((flavour.to_string(), tag.clone()));
        tag
    }
}

pub fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A name no other test, process or clone sharing the engine uses.
pub fn unique(name: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!("hardinit-{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Containers and volumes a test made, removed when it ends (passed or failed).
pub struct Cleanup<'a> {
    pub engine: &'a Engine,
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub compose: Vec<(PathBuf, String)>,
}

impl<'a> Cleanup<'a> {
    pub fn new(engine: &'a Engine) -> Cleanup<'a> {
        Cleanup { engine, containers: Vec::new(), volumes: Vec::new(), compose: Vec::new() }
    }
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for (dir, project) in &self.compose {
            let mut cmd = Command::new("docker-compose");
            cmd.args(["-p", project, "down", "-v", "-t", "1"]).current_dir(dir).env("DOCKER_HOST", &self.engine.host);
            let _ = cmd.stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
        for name in &self.containers {
            let _ = self
                .engine
                .command()
                .args(["rm", "-f", "-v", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        for name in &self.volumes {
            let _ = self
                .engine
                .command()
                .args(["volume", "rm", "-f", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The fenced code block of README.md that follows the line `<!-- recipe: NAME -->`.
pub fn readme_recipe(name: &str) -> String {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let marker = format!("<!-- recipe: {name} -->");
    let after = readme.split_once(&marker).unwrap_or_else(|| panic!("README.md has no {marker}")).1;
    let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
    let fence = lines.next().unwrap_or_default();
    assert!(fence.starts_with("```"), "{marker} is not followed by a code block");
    lines.take_while(|l| !l.starts_with("```")).map(|l| format!("{l}\n")).collect()
}

/// The commands of a shell block: continuations joined, comments dropped, words split as sh
/// splits them (single and double quotes; `$PWD` expanded to `pwd`). Anything else a recipe
/// could contain (other expansions, globs, redirections) is refused, so a README change the
/// test cannot run exactly fails here instead of running differently.
pub fn shell_commands(block: &str, pwd: &Path) -> Vec<Vec<String>> {
    let joined = block.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let mut words = Vec::new();
        let mut word: Option<String> = None;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' => {
                    if let Some(w) = word.take() {
                        words.push(w);
                    }
                }
                '#' if word.is_none() => break,
                '\'' => {
                    let w = word.get_or_insert_with(String::new);
                    for c in chars.by_ref() {
                        if c == '\'' {
                            break;
                        }
                        w.push(c);
                    }
                }
                '"' => {
                    let w = word.get_or_insert_with(String::new);
                    loop {
                        match chars.next() {
                            Some('"') => break,
                            Some('$') => w.push_str(&expand(&mut chars, pwd)),
                            Some('\\' | '`') => panic!("a recipe line the test cannot run exactly: {line}"),
                            Some(c) => w.push(c),
                            None => panic!("unterminated quote: {line}"),
                        }
                    }
                }
                '$' => word.get_or_insert_with(String::new).push_str(&expand(&mut chars, pwd)),
                '*' | '?' | '[' | '<' | '>' | '|' | '&' | ';' | '`' | '\\' | '(' | ')' | '~' => {
                    panic!("a recipe line the test cannot run exactly ({c:?}): {line}")
                }
                c => word.get_or_insert_with(String::new).push(c),
            }
        }
        if let Some(w) = word.take() {
            words.push(w);
        }
        if !words.is_empty() {
            commands.push(words);
        }
    }
    commands
}

fn expand(chars: &mut std::iter::Peekable<std::str::Chars>, pwd: &Path) -> String {
    let name: String = std::iter::from_fn(|| chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_')).collect();
    assert_eq!(name, "PWD", "a recipe may expand only $PWD, not ${name}");
    pwd.display().to_string()
}

/// How a README recipe meets this machine: the engine has no bridge, so `-p HOST:PORT` becomes
/// `--network host` with the server on 127.0.0.1 and free ports; names (containers, volumes,
/// images) become names of this test alone, as the engine may be shared.
pub struct Adapt {
    pub port: u16,
    pub cluster_port: u16,
    pub images: Vec<(String, String)>,
    pub names: Vec<(String, String)>,
}

impl Adapt {
    pub fn new(images: &[(&str, String)]) -> Adapt {
        let (port, cluster_port) = free_port_pair();
        Adapt {
            port,
            cluster_port,
            images: images.iter().map(|(a, b)| (a.to_string(), b.clone())).collect(),
            names: Vec::new(),
        }
    }

    /// The addresses of a text (a config, an environment value) moved to 127.0.0.1 and the free
    /// ports.
    pub fn addresses(&self, text: &str) -> String {
        let (api, cluster) = (format!("127.0.0.1:{}", self.port), format!("127.0.0.1:{}", self.cluster_port));
        text.replace("0.0.0.0:8200", &api)
            .replace("127.0.0.1:8200", &api)
            .replace("[::]:8200", &api)
            .replace("0.0.0.0:8201", &cluster)
            .replace("127.0.0.1:8201", &cluster)
    }

    /// A `docker ...` command of a recipe, adapted; the container and volume names it creates are
    /// recorded in `cleanup`.
    pub fn docker(&mut self, words: &[String], cleanup: &mut Cleanup) -> Vec<String> {
        assert_eq!(words[0], "docker", "a recipe line that is not a docker command: {words:?}");
        let mut out = Vec::new();
        let mut i = 1;
        let subcommand = words[1].clone();
        let mut positional = 0;
        while i < words.len() {
            let word = &words[i];
            let next = words.get(i + 1).cloned().unwrap_or_default();
            match word.as_str() {
                "-p" | "--publish" => {
                    out.extend(["--network".to_string(), "host".to_string()]);
                    if subcommand == "run" || subcommand == "create" {
                        // The dev listener's address, which -p would have published.
                        for flavour in ["BAO", "VAULT"] {
                            out.push("-e".into());
                            out.push(format!("{flavour}_DEV_LISTEN_ADDRESS=127.0.0.1:{}", self.port));
                        }
                    }
                    i += 2;
                    continue;
                }
                "--name" => {
                    let new = unique(&next);
                    self.names.push((next.clone(), new.clone()));
                    cleanup.containers.push(new.clone());
                    out.extend([word.clone(), new]);
                    i += 2;
                    continue;
                }
                "-v" | "--volume" => {
                    let (source, rest) = next.split_once(':').expect("-v SOURCE:DEST");
                    let source = if source.starts_with('/') {
                        source.to_string()
                    } else {
                        self.rename(source).unwrap_or_else(|| {
                            let new = unique(source);
                            self.names.push((source.to_string(), new.clone()));
                            cleanup.volumes.push(new.clone());
                            new
                        })
                    };
                    out.extend([word.clone(), format!("{source}:{rest}")]);
                    i += 2;
                    continue;
                }
                _ => {}
            }
            let option_value = i > 1 && VALUED_OPTIONS.contains(&words[i - 1].as_str());
            if !word.starts_with('-') && !option_value && i > 1 {
                positional += 1;
            }
            let adapted = if let Some((_, image)) = self.images.iter().find(|(a, _)| a == word) {
                image.clone()
            } else if (positional == 1 || subcommand == "cp")
                && subcommand != "run"
                && subcommand != "create"
                && !word.starts_with('-')
            {
                // The container a command acts on (`docker exec NAME ...`, `docker cp NAME:PATH`).
                match word.split_once(':') {
                    Some((name, path)) => format!("{}:{path}", self.rename(name).unwrap_or_else(|| name.to_string())),
                    None => self.rename(word).unwrap_or_else(|| word.clone()),
                }
            } else {
                self.addresses(word)
            };
            out.push(adapted);
            i += 1;
        }
        out
    }

    fn rename(&self, name: &str) -> Option<String> {
        self.names.iter().find(|(a, _)| a == name).map(|(_, b)| b.clone())
    }

    /// The name a recipe's container got.
    pub fn name(&self, recipe_name: &str) -> String {
        self.rename(recipe_name).unwrap_or_else(|| panic!("the recipe names no container {recipe_name}"))
    }
}

/// The docker options of the recipes' commands that take a value.
const VALUED_OPTIONS: [&str; 10] = ["-e", "--env", "-u", "--user", "-w", "--workdir", "-s", "--signal", "-t", "--time"];

/// The images the Dockerfile's stages start FROM, with its ARG defaults substituted (scratch and
/// its own stages left out).
pub fn dockerfile_from_images() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let mut args: Vec<(String, String)> = Vec::new();
    let mut stages: Vec<String> = Vec::new();
    let mut images = Vec::new();
    for line in text.replace("\\\n", " ").lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.first().map(|w| w.to_uppercase()).as_deref() {
            Some("ARG") if stages.is_empty() => {
                if let Some((name, default)) = words.get(1).and_then(|w| w.split_once('=')) {
                    args.push((name.to_string(), default.to_string()));
                }
            }
            Some("FROM") => {
                let words: Vec<&str> = words[1..].iter().copied().filter(|w| !w.starts_with("--")).collect();
                let mut image = words[0].to_string();
                for (name, value) in &args {
                    image = image.replace(&format!("${{{name}}}"), value).replace(&format!("${name}"), value);
                }
                if image != "scratch" && !stages.contains(&image) && !images.contains(&image) {
                    images.push(image);
                }
                if let Some(i) = words.iter().position(|w| w.eq_ignore_ascii_case("AS")) {
                    stages.push(words[i + 1].to_string());
                }
            }
            _ => {}
        }
    }
    images
}

impl Engine {
    /// Whether the engine is the one the tests started (not a system or DOCKER_HOST engine,
    /// whose images a test must not retag).
    pub fn is_own(&self) -> bool {
        self.host == format!("unix://{}", own_dir().join("docker.sock").display())
    }

    /// An exclusive lock on the engine's FROM-name stand-ins, held while it lives.
    pub fn stand_in_lock(&self) -> std::fs::File {
        let lock = std::fs::File::create(own_dir().join("stand-ins.lock")).unwrap();
        flock(&lock, libc::LOCK_EX);
        lock
    }

    /// Imports the folder `tree` as image `tag`, with these Dockerfile settings.
    pub fn import(&self, tree: &Path, tag: &str, changes: &[String]) {
        let mut script =
            format!("tar --numeric-owner -C {} -c . | docker import", shell_quote(&tree.display().to_string()));
        for change in changes {
            script.push_str(&format!(" -c {}", shell_quote(change)));
        }
        script.push_str(&format!(" - {}", shell_quote(tag)));
        let mut import = Command::new("bash");
        import.args(["-o", "pipefail", "-c", &script]).env("DOCKER_HOST", &self.host);
        let out = run(import, DOCKER_TIMEOUT);
        assert!(out.status.success(), "docker import {tag}: {}", stderr(&out));
    }
}
