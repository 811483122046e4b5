#!/usr/bin/env bash
# Builds the static, stripped hardinit for one Linux target (no shared library) and prints its path.
#   bash scripts/build-static.sh [TARGET]    TARGET defaults to x86_64-unknown-linux-musl
# Any Rust musl target of the platforms in README (Platforms) builds on an x86_64 host without a C
# cross toolchain: Rust's own lld links against the target's self-contained musl (crt objects and
# libc.a ship with its rust-std). Installs the target with rustup when it is missing.
# Where rustup serves no musl rust-std (armv7, ppc64le, riscv64, s390x), the glibc target is built
# static instead, linked by Debian's cross gcc against its libc6-dev-*-cross (scripts/setup.sh).
#
# Reproducible: the same commit gives the same bytes whatever the folder, CARGO_HOME, time zone or
# clock (README, "Building"). `cargo auditable` embeds the crates it links (.dep-v0).
# HARDINIT_COMMIT and SOURCE_DATE_EPOCH (the commit's time by default) go into `hardinit --version`;
# set them where there is no .git (the Dockerfile's build arguments).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-x86_64-unknown-linux-musl}
# The glibc targets, each with its cross gcc: only where no musl build can be had (README: Platforms).
cross_gcc=
case "$target" in
    *-linux-musl*) ;;
    armv7-unknown-linux-gnueabihf) cross_gcc=arm-linux-gnueabihf-gcc ;;
    powerpc64le-unknown-linux-gnu) cross_gcc=powerpc64le-linux-gnu-gcc ;;
    riscv64gc-unknown-linux-gnu) cross_gcc=riscv64-linux-gnu-gcc ;;
    s390x-unknown-linux-gnu) cross_gcc=s390x-linux-gnu-gcc ;;
    *) echo "build-static.sh: $target is not a Linux musl target, nor a glibc one without a musl build (README: Platforms)" >&2; exit 2 ;;
esac
if [ -n "$cross_gcc" ] && ! command -v "$cross_gcc" >/dev/null 2>&1; then
    echo "build-static.sh: $cross_gcc is missing: bash scripts/setup.sh (Debian: gcc-${cross_gcc%-gcc} and its libc6-dev cross package)" >&2
    exit 69
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target" >&2
fi
if ! cargo auditable --version >/dev/null 2>&1; then
    echo "cargo-auditable is missing: bash scripts/setup.sh (cargo install --locked cargo-auditable --version 0.7.7)" >&2
    exit 69
fi
# The commit and its time, from git when this is a clone of its own (a tree with uncommitted
# changes says so: <commit>-dirty).
if [ -z "${HARDINIT_COMMIT:-}" ] && [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$PWD" ]; then
    HARDINIT_COMMIT=$(git rev-parse HEAD)
    [ -z "$(git status --porcelain --untracked-files=no)" ] || HARDINIT_COMMIT+=-dirty
    SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
fi
export HARDINIT_COMMIT SOURCE_DATE_EPOCH
if [ -z "$cross_gcc" ]; then
    # musl targets link statically by default; static-pie keeps address space layout randomisation
    # where Rust's target supports it (x86_64; elsewhere a static executable at a fixed address).
    flags=(-C target-feature=+crt-static -C relocation-model=pie)
    # The host's cc links the host's own target; every other one links with rust-lld.
    [ "$target" = "$(uname -m)-unknown-linux-musl" ] || flags+=(-C linker=rust-lld)
else
    # glibc static: Debian's cross glibc has no rcrt1.o, so no static-pie: the executable sits at a
    # fixed address. Measured, no further flag pays (README, "Building"): relocation-model=static,
    # --build-id=none, -z noseparate-code and force-unwind-tables=no each change the size by under
    # 1.5 % one way or the other.
    flags=(-C target-feature=+crt-static -C "linker=$cross_gcc")
fi
# Every absolute path rustc would embed (panic locations in the registry's crates, the standard
# library's sources, build scripts' output) is remapped, the last matching prefix winning. The
# standard library's go back to /rustc/<commit>, as rustup ships them: rustc resolves them to the
# local copy when the rust-src component is installed.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
sysroot=$(rustc --print sysroot)
rustc_commit=$(rustc -vV | sed -n 's/^commit-hash: //p')
flags+=("--remap-path-prefix=$PWD=/hardinit"
    "--remap-path-prefix=${CARGO_TARGET_DIR:-$PWD/target}=/hardinit/target"
    "--remap-path-prefix=${cargo_home%/}=/cargo"
    "--remap-path-prefix=$sysroot=/rustup/toolchain"
    "--remap-path-prefix=$sysroot/lib/rustlib/src/rust=/rustc/$rustc_commit")
if [ -n "${RUSTFLAGS:-}" ]; then
    read -ra user_flags <<<"$RUSTFLAGS"
    flags=("${user_flags[@]}" "${flags[@]}")
fi
# Encoded (separated by 0x1f), so that a folder with a space in its name stays one argument.
CARGO_ENCODED_RUSTFLAGS=$(IFS=$'\x1f'; echo "${flags[*]}") RUSTFLAGS='' \
    cargo auditable build --quiet --release --locked --target "$target"
echo "$PWD/target/$target/release/hardinit"
