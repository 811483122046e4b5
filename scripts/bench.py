#!/usr/bin/env python3
"""Side-by-side measurements of hardinit and its peers (tini-static, catatonit, dumb-init), in one
run, on this machine. Each init runs as PID 1 of a fresh PID namespace (unshare) supervising the
same child (examples/bench_child.rs), so the figures differ only by the init.

  size        the binary on disk; for a dynamic one, with its shared libraries
  VmHWM       the init's peak resident memory while its child idles (median of 5); most of it is
              the binary's pages, shared through the page cache
  RssAnon     the init's private memory at the same moment: what each container really adds
  start       median wall time of `INIT -- /bin/true` (N runs), beside `/bin/true` alone
  idle        the init's context switches while its child idles
  latency     kill(SIGUSR1) to the init -> the child's sigwaitinfo returns (median, p99)
  throughput  real-time signals queued to the init: how many reach the child, and how fast
  reaping     a child leaves short-lived orphans: time until the init has reaped them all
  shutdown    SIGTERM to the init -> its exit; also with a leftover that ignores SIGTERM
  docker stop under the Docker Engine, an initialised and unsealed raft OpenBao server in the
              image (hardinit as its entrypoint), beside the same server under `docker run
              --init` (tini), as PID 1 itself, and under a busybox sh PID 1 that stays resident
              (it does not exec the server); with each one's exit status

hardinit runs as users run it (root, dropping to an unprivileged user, hardening on) and once with
the hardening reduced to what cannot be turned off. Prints a Markdown table with hardinit's ratio to
the best peer. Needs root and unshare; builds hardinit and the child with cargo; installs nothing
(a missing peer is named and left out). The docker figures need dockerd and the OpenBao server
(HARDINIT_BAO_BIN, or scripts/fetch-openbao.sh); dockerd is started as the tests start it
(tests/common/docker.rs) when none answers, and stopped again by its last user.

  bench.py [--runs N] [--only docker] [HARDINIT]
  bench.py --cluster [HARDINIT]     the raft cluster through restarts and kills (tests/cluster.rs),
                                    under hardinit, dumb-init, tini and the bare server; minutes
                                    N (default 100) scales every count: --runs 3 is a smoke run;
                                    --only docker measures the docker stop figures alone
"""
import ctypes
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

args = sys.argv[1:]
runs = 100
if "--runs" in args:
    i = args.index("--runs")
    runs = int(args[i + 1])
    del args[i : i + 2]
only_docker = "--only" in args
if only_docker:
    i = args.index("--only")
    if args[i + 1] != "docker":
        sys.exit("bench.py: --only takes docker")
    del args[i : i + 2]
repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cluster_benchmark():
    """The three-node raft cluster of tests/cluster.rs under each init, side by side: a rolling
    restart (preStop hook, then SIGTERM; standbys first), a SIGKILL of a standby and of the active
    node, and for hardinit a SIGTERM with --term-delay 5s; a client writes every 20 ms."""
    import json

    env = dict(os.environ, HARDINIT_REQUIRE_PRIVILEGED="1")
    if args:
        env["HARDINIT_STATIC_BIN"] = os.path.abspath(args[0])
    run = subprocess.run(
        ["cargo", "test", "--quiet", "--test", "cluster", "--", "--ignored", "--exact", "cluster_benchmark", "--nocapture"],
        cwd=repo, env=env, capture_output=True, text=True,
    )
    if run.returncode != 0:
        sys.exit(f"bench.py: the cluster benchmark failed:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}")
    arrangements = [json.loads(l[len("CLUSTER "):]) for l in run.stdout.splitlines() if l.startswith("CLUSTER ")]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"Machine: {os.cpu_count()} × {cpu}, Linux {platform.release()}.\n")
    print("| init | writes acknowledged | lost | event | longest wait between writes (s) | stop (s) | exit status | back as a voter (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for figures in arrangements:
        first = True
        for event in figures["events"]:
            head = f"| {figures['init']} | {figures['acknowledged']:,} | {len(figures['lost'])} " if first else "| | | "
            first = False
            print(
                head + f"| {event['event']} | {event['longest_gap_s']:.2f} | {event['stop_s']:.2f} "
                f"| {event['stop_status']} | {event['rejoin_s']:.2f} |"
            )
    return 0


if "--cluster" in args:
    args.remove("--cluster")
    sys.exit(cluster_benchmark())
hardinit = args[0] if args else subprocess.check_output(["bash", "scripts/build-static.sh"], text=True, cwd=repo).strip()
subprocess.run(["cargo", "build", "-q", "--release", "--example", "bench_child"], cwd=repo, check=True)

# The unprivileged user runs the child: stage both binaries where any user can run them.
stage = tempfile.mkdtemp(prefix="hardinit-bench-")
os.chmod(stage, 0o755)
child_bin = os.path.join(stage, "bench_child")
shutil.copy(os.path.join(repo, "target/release/examples/bench_child"), child_bin)
staged_hardinit = os.path.join(stage, "hardinit")
shutil.copy(hardinit, staged_hardinit)
for path in (child_bin, staged_hardinit):
    os.chmod(path, 0o755)

IDLE_SECONDS = max(1.0, 0.3 * runs)
LATENCY_SAMPLES = 10 * runs
RT_SIGNALS = 1000 * runs
ORPHANS = 100 * runs

peers = {
    "tini-static": (["/usr/bin/tini-static", "--"], "tini"),
    "catatonit": (["/usr/bin/catatonit", "--"], "catatonit"),
    "dumb-init": (["/usr/bin/dumb-init"], "dumb-init"),
}
inits = {
    "hardinit": [staged_hardinit, "--user", "65534:65534", "-q", "--"],
    "hardinit, minimal": [staged_hardinit, "--allow-root", "--user", "0:0", "--memory-guard", "off", "--keep-env", "-q", "--"],
}
for name, (argv, package) in peers.items():
    if os.path.exists(argv[0]):
        inits[name] = argv
    else:
        print(f"missing: {name} (Debian package {package}); left out", file=sys.stderr)
env = dict(os.environ, HISTFILE="/dev/null")


def in_namespace(argv):
    return ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] + argv


class Running:
    """An init in its own PID namespace, supervising bench_child with `child_args`."""

    def __init__(self, init, child_args):
        self.process = subprocess.Popen(
            in_namespace(init + [child_bin] + child_args), env=env, stdout=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 10
        self.init = None
        while self.init is None and time.monotonic() < deadline:
            try:
                with open(f"/proc/{self.process.pid}/task/{self.process.pid}/children") as f:
                    self.init = int(f.read().split()[0])
            except (FileNotFoundError, IndexError, ValueError):
                time.sleep(0.001)

    def line(self):
        return self.process.stdout.readline().strip()

    def status(self, field):
        with open(f"/proc/{self.init}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])

    def children(self):
        try:
            with open(f"/proc/{self.init}/task/{self.init}/children") as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def stop(self):
        try:
            os.kill(self.init, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)


def wait_for_child(running):
    deadline = time.monotonic() + 10
    while not running.children() and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.2)


def size_of(path):
    size = os.path.getsize(path)
    out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
    libraries = [part for line in out.splitlines() for part in line.split() if part.startswith("/")]
    return size, size + sum(os.path.getsize(os.path.realpath(lib)) for lib in set(libraries)), not libraries


def memory(init):
    hwm, anon = [], []
    for _ in range(5):
        running = Running(init, ["sleep"])
        wait_for_child(running)
        hwm.append(running.status("VmHWM"))
        anon.append(running.status("RssAnon"))
        running.stop()
    return statistics.median(hwm), statistics.median(anon)


def start_ms(argv):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(in_namespace(argv), env=env, check=True)
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def idle_switches(init):
    running = Running(init, ["sleep"])
    wait_for_child(running)
    before = running.status("voluntary_ctxt_switches") + running.status("nonvoluntary_ctxt_switches")
    time.sleep(IDLE_SECONDS)
    after = running.status("voluntary_ctxt_switches") + running.status("nonvoluntary_ctxt_switches")
    running.stop()
    return after - before


def latency_us(init):
    running = Running(init, ["latency"])
    assert running.line() == "ready"
    samples = []
    for _ in range(LATENCY_SAMPLES):
        sent = time.monotonic_ns()
        os.kill(running.init, signal.SIGUSR1)
        samples.append((int(running.line()) - sent) / 1000)
    running.stop()
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def throughput(init):
    running = Running(init, ["count", str(RT_SIGNALS)])
    assert running.line() == "ready"
    rt = signal.SIGRTMIN + 1
    sent = time.monotonic_ns()
    for _ in range(RT_SIGNALS):
        os.kill(running.init, rt)
    count, last = running.line().split()
    running.stop()
    return int(count), (int(last) - sent) / 1e6 if int(count) else float("nan")


def reaping(init):
    running = Running(init, ["orphans", str(ORPHANS)])
    started = int(running.line())
    assert running.line() == "forked"
    while len(running.children()) > 1:
        time.sleep(0.0005)
    done = time.monotonic_ns()
    hwm = running.status("VmHWM")
    running.stop()
    return (done - started) / 1e6, hwm


def shutdown_ms(init, mode):
    running = Running(init, [mode])
    if mode == "leftover":
        assert running.line() == "ready"
    wait_for_child(running)
    t = time.perf_counter()
    os.kill(running.init, signal.SIGTERM)
    running.process.wait(timeout=60)
    return (time.perf_counter() - t) * 1000


DOCKER_RUNS = max(1, runs // 20)
DOCKERD_DIR = "/tmp/hardinit-dockerd"


def docker_engine():
    """DOCKER_HOST, the system's engine, or the tests' own (started here when it is down); None
    when there is no dockerd. The lock protocol is tests/common/docker.rs's."""
    import fcntl

    def answers(host):
        probe = ["docker", "-H", host, "version", "--format", "{{.Server.Version}}"]
        return subprocess.run(probe, capture_output=True).returncode == 0

    if not shutil.which("docker") or not shutil.which("dockerd"):
        return None, None
    for host in filter(None, [os.environ.get("DOCKER_HOST"), "unix:///var/run/docker.sock"]):
        if answers(host):
            return host, None
    os.makedirs(DOCKERD_DIR, exist_ok=True)
    host = f"unix://{DOCKERD_DIR}/docker.sock"
    # As tests/common/docker.rs: shared for the whole run, exclusive only tried (another user holds
    # its shared lock while it runs), every wait bounded.
    lock = open(f"{DOCKERD_DIR}/lock", "w")
    deadline = time.monotonic() + 180

    def take(how):
        while True:
            try:
                fcntl.flock(lock, how | fcntl.LOCK_NB)
                return True
            except OSError:
                if how == fcntl.LOCK_EX or time.monotonic() > deadline:
                    return False
                time.sleep(0.2)

    if not take(fcntl.LOCK_SH):
        return None, None
    while not answers(host):
        if take(fcntl.LOCK_EX):
            if not answers(host):
                log = open(f"{DOCKERD_DIR}/dockerd.log", "w")
                daemon = ["setsid", "dockerd", "--bridge=none", "--iptables=false", "--ip-masq=false", "--host", host]
                daemon += ["--data-root", f"{DOCKERD_DIR}/data", "--exec-root", f"{DOCKERD_DIR}/exec"]
                subprocess.Popen(daemon + ["--pidfile", f"{DOCKERD_DIR}/dockerd.pid"], stdout=log, stderr=log)
                started = time.monotonic() + 60
                while not answers(host) and time.monotonic() < started:
                    time.sleep(0.1)
            return (host, lock) if take(fcntl.LOCK_SH) and answers(host) else (None, None)
        if time.monotonic() > deadline:
            return None, None
        time.sleep(0.5)
        if not take(fcntl.LOCK_SH):
            return None, None
    return host, lock


def stop_engine_if_last(lock):
    import fcntl

    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another user still has it
    with open(f"{DOCKERD_DIR}/dockerd.pid") as f:
        pid = int(f.read())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)


def dockerfile_settings(target):
    """The final stage's ENTRYPOINT, CMD and ENV lines, as `docker import -c` takes them."""
    text = open(os.path.join(repo, "Dockerfile")).read().replace("\\\n", " ")
    stage, settings = None, []
    for line in (l.strip() for l in text.splitlines()):
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            words = rest.split()
            stage = words[-1].lower() if len(words) > 2 and words[-2].upper() == "AS" else None
        elif stage == target and word.upper() in ("ENTRYPOINT", "CMD", "ENV"):
            settings.append(f"{word.upper()} {' '.join(rest.split())}")
    return settings


def docker_stop_figures(host):
    """docker stop of an initialised raft server, per way of running it: (median ms, statuses)."""
    import json
    import urllib.request

    bao = os.environ.get("HARDINIT_BAO_BIN") or subprocess.check_output(
        ["bash", "scripts/fetch-openbao.sh"], text=True, cwd=repo
    ).strip()
    docker_env = dict(os.environ, DOCKER_HOST=host)

    def docker(*argv, check=True):
        return subprocess.run(["docker", *argv], env=docker_env, check=check, capture_output=True, text=True)

    tree = os.path.join(stage, "rootfs")
    subprocess.run(["bash", "scripts/assemble-rootfs.sh", "openbao", tree, hardinit, bao], cwd=repo, check=True)
    tag = f"hardinit-bench/openbao:{os.getpid()}"
    changes = [arg for setting in dockerfile_settings("openbao") for arg in ("-c", setting)]
    tar = subprocess.Popen(["tar", "--numeric-owner", "-C", tree, "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", *changes, "-", tag], env=docker_env, stdin=tar.stdout, check=True, capture_output=True)
    tar.wait()
    busybox = shutil.which("busybox")
    ways = {
        "hardinit": ([], ["server"]),
        "--init (tini) + bao": (["--init", "--user", "100:1000", "--entrypoint", "/usr/bin/bao"], ["server", "-config=/openbao/config"]),
        "bao as PID 1": (["--user", "100:1000", "--entrypoint", "/usr/bin/bao"], ["server", "-config=/openbao/config"]),
    }
    if busybox and "static" in subprocess.run(["file", "-L", busybox], capture_output=True, text=True).stdout:
        ways["resident busybox sh"] = (
            ["--user", "100:1000", "-v", f"{busybox}:/bin/busybox:ro", "--entrypoint", "/bin/busybox"],
            ["sh", "-c", "/usr/bin/bao server -config=/openbao/config; exit $?"],
        )
    else:
        print("missing: a static busybox (Debian package busybox-static); the resident shell left out", file=sys.stderr)

    def api(port, method, path, body=None):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/{path}", method=method)
        data = json.dumps(body).encode() if body is not None else None
        try:
            with urllib.request.urlopen(request, data=data, timeout=60) as reply:
                return reply.status, json.loads(reply.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, None
        except OSError:
            return 0, None

    def until(check):
        deadline = time.monotonic() + 60
        while not check():
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not get ready")
            time.sleep(0.05)

    figures = {}
    for way, (options, command) in ways.items():
        times, statuses = [], set()
        for run in range(DOCKER_RUNS):
            import socket

            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", 0))
                b.bind(("127.0.0.1", 0))
                port, cluster = a.getsockname()[1], b.getsockname()[1]
            work = tempfile.mkdtemp(prefix="docker-", dir=stage)
            config, data = os.path.join(work, "config"), os.path.join(work, "data")
            os.makedirs(config)
            os.makedirs(data, mode=0o700)
            os.chown(data, 100, 1000)
            with open(os.path.join(config, "server.hcl"), "w") as f:
                f.write(
                    f'storage "raft" {{\n  path = "/openbao/file"\n}}\n'
                    f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  cluster_address = "127.0.0.1:{cluster}"\n  tls_disable = true\n}}\n'
                    f'api_addr = "http://127.0.0.1:{port}"\ncluster_addr = "https://127.0.0.1:{cluster}"\n'
                )
            os.chmod(config, 0o755)
            os.chmod(os.path.join(config, "server.hcl"), 0o644)
            name = f"hardinit-bench-{os.getpid()}-{len(figures)}-{run}"
            docker("run", "-d", "--name", name, "--network", "host", "-v", f"{config}:/openbao/config:ro",
                   "-v", f"{data}:/openbao/file", *options, tag, *command)
            try:
                until(lambda: api(port, "GET", "sys/health")[0] == 501)
                status, init = api(port, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
                if status != 200:
                    raise RuntimeError(f"{way}: sys/init answered {status}: {docker('logs', name).stderr[-2000:]}")
                api(port, "PUT", "sys/unseal", {"key": init["keys_base64"][0]})
                until(lambda: api(port, "GET", "sys/health")[0] == 200)
                t = time.perf_counter()
                docker("stop", name)
                times.append((time.perf_counter() - t) * 1000)
                statuses.add(docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip())
            finally:
                docker("rm", "-f", name, check=False)
        figures[way] = (statistics.median(times), ", ".join(sorted(statuses)))
    docker("rmi", tag, check=False)
    return figures


results = {}
for name, init in ({} if only_docker else inits).items():
    print(f"measuring {name}...", file=sys.stderr)
    size, with_libraries, static = size_of(init[0])
    hwm, anon = memory(init)
    latency_median, latency_p99 = latency_us(init)
    received, rt_ms = throughput(init)
    reap_ms, reap_hwm = reaping(init)
    results[name] = {
        "size (bytes)": size,
        "size with libraries": with_libraries,
        "static": "yes" if static else "no",
        "VmHWM idle (KiB)": hwm,
        "RssAnon idle (KiB)": anon,
        "start (ms)": start_ms(init + ["/bin/true"]),
        f"idle context switches ({IDLE_SECONDS:g} s)": idle_switches(init),
        "forwarding latency median (µs)": latency_median,
        "forwarding latency p99 (µs)": latency_p99,
        f"real-time signals received (of {RT_SIGNALS})": received,
        "time to the last one (ms)": rt_ms,
        f"reaping {ORPHANS} orphans (ms)": reap_ms,
        "VmHWM while reaping (KiB)": reap_hwm,
        "shutdown (ms)": shutdown_ms(init, "sleep"),
        "shutdown with a leftover ignoring SIGTERM (ms)": shutdown_ms(init, "leftover"),
    }
direct = None if only_docker else start_ms(["/bin/true"])

# Lower is better everywhere except the signals received.
higher_is_better = {f"real-time signals received (of {RT_SIGNALS})"}
# A dynamic binary's own size says little: compare sizes with their libraries.
no_ratio = {"size (bytes)", "static"}
names = list(results)
peer_names = [n for n in names if not n.startswith("hardinit")]


def shown(value):
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
if only_docker:
    print(f"Machine: {os.cpu_count()} × {cpu}, Linux {platform.release()}.")
else:
    print(f"Machine: {os.cpu_count()} × {cpu}, Linux {platform.release()}; {runs} runs; `/bin/true` alone starts in {direct:.2f} ms.\n")
    print("| figure | " + " | ".join(names) + " | hardinit ÷ best peer |")
    print("|---|" + "---|" * (len(names) + 1))
    for figure in results["hardinit"]:
        values = [results[n][figure] for n in names]
        ratio = ""
        peers_values = [results[n][figure] for n in peer_names if isinstance(results[n][figure], (int, float))]
        mine = results["hardinit"][figure]
        if peers_values and isinstance(mine, (int, float)) and figure not in no_ratio:
            best = max(peers_values) if figure in higher_is_better else min(peers_values)
            ratio = f"{mine / best:.2f}" if best else ("0 = 0" if mine == 0 else "∞")
        print(f"| {figure} | " + " | ".join(shown(v) for v in values) + f" | {ratio} |")

engine, engine_lock = docker_engine()
if engine is None:
    print("missing: a Docker Engine (Debian package docker.io); the docker stop figures left out", file=sys.stderr)
else:
    print("measuring docker stop...", file=sys.stderr)
    try:
        figures = docker_stop_figures(engine)
    finally:
        if engine_lock:
            stop_engine_if_last(engine_lock)
    ways = list(figures)
    others = [figures[w][0] for w in ways if w != "hardinit"]
    ratio = f"{figures['hardinit'][0] / min(others):.2f}" if others else ""
    print(f"\n`docker stop` of an initialised, unsealed raft OpenBao server (median of {DOCKER_RUNS}; Docker's 10 s before SIGKILL):\n")
    print("| figure | " + " | ".join(ways) + " | hardinit ÷ best other |")
    print("|---|" + "---|" * (len(ways) + 1))
    print("| docker stop (ms) | " + " | ".join(shown(figures[w][0]) for w in ways) + f" | {ratio} |")
    print("| exit status | " + " | ".join(figures[w][1] for w in ways) + " | |")
shutil.rmtree(stage)
