#!/usr/bin/env python3
"""Side-by-side measurements of hardinit and its peers (tini, dumb-init, catatonit) in one run.

For each init, as PID 1 of a new PID namespace (unshare), supervising the same child:
  size      the binary's size on disk (and whether it is static)
  VmHWM     peak resident memory of the init while it supervises `sleep`
  start     median wall time of `INIT -- true` from fork to exit (N runs)
Ratios are against hardinit. Needs root, unshare, and the peers installed (Debian packages
tini, dumb-init, catatonit). Usage: bench.py [HARDINIT] [--runs N]
"""
import os
import statistics
import subprocess
import sys
import time

runs = 100
args = sys.argv[1:]
if "--runs" in args:
    i = args.index("--runs")
    runs = int(args[i + 1])
    del args[i : i + 2]
hardinit = args[0] if args else subprocess.check_output(["bash", "scripts/build-static.sh"], text=True).strip()

# hardinit always drops to an unprivileged user; nobody stands in for vault here.
inits = {
    "hardinit": [hardinit, "--user", "65534:65534", "-q", "--"],
    "tini-static": ["/usr/bin/tini-static", "--"],
    "catatonit": ["/usr/bin/catatonit", "--"],
    "dumb-init": ["/usr/bin/dumb-init"],
}
inits = {name: argv for name, argv in inits.items() if os.path.exists(argv[0])}
env = dict(os.environ, HISTFILE="/dev/null")


def in_namespace(argv):
    return ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] + argv


def peak_rss_kib(argv):
    child = subprocess.Popen(in_namespace(argv + ["sleep", "2"]), env=env)
    try:
        deadline = time.monotonic() + 5
        init = None
        while time.monotonic() < deadline and init is None:
            try:
                with open(f"/proc/{child.pid}/task/{child.pid}/children") as f:
                    init = int(f.read().split()[0])
            except (FileNotFoundError, IndexError, ValueError):
                time.sleep(0.01)
        time.sleep(1)
        with open(f"/proc/{init}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["VmHWM"].split()[0])
    finally:
        child.wait()


def start_time_ms(argv):
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(in_namespace(argv + ["true"]), env=env, check=True)
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def is_static(path):
    out = subprocess.run(["ldd", path], capture_output=True, text=True)
    return "not a dynamic executable" in out.stdout + out.stderr or "statically linked" in out.stdout


results = {}
for name, argv in inits.items():
    results[name] = {
        "size": os.path.getsize(argv[0]),
        "static": is_static(argv[0]),
        "vmhwm": peak_rss_kib(argv),
        "start": start_time_ms(argv),
    }

base = results["hardinit"]
print(f"{'init':<12} {'size (bytes)':>12} {'static':>6} {'ratio':>6} {'VmHWM (KiB)':>11} {'ratio':>6} {'start (ms)':>10} {'ratio':>6}")
for name, r in results.items():
    print(
        f"{name:<12} {r['size']:>12} {('yes' if r['static'] else 'no'):>6} {r['size'] / base['size']:>6.2f}"
        f" {r['vmhwm']:>11} {r['vmhwm'] / base['vmhwm']:>6.2f} {r['start']:>10.2f} {r['start'] / base['start']:>6.2f}"
    )
print(f"(ratio: the peer's value divided by hardinit's; start: median of {runs} runs of `INIT -- true` in a new PID namespace)")
