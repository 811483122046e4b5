#!/usr/bin/env bash
# Builds the static, stripped hardinit for one Linux target (musl: no library) and prints its path.
#   bash scripts/build-static.sh [TARGET]    TARGET defaults to x86_64-unknown-linux-musl
# Any Rust musl target of the platforms in README (Platforms) builds on an x86_64 host without a C
# cross toolchain: Rust's own lld links against the target's self-contained musl (crt objects and
# libc.a ship with its rust-std). Installs the target with rustup when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-x86_64-unknown-linux-musl}
case "$target" in
    *-linux-musl*) ;;
    *) echo "build-static.sh: $target is not a Linux musl target (README: Platforms)" >&2; exit 2 ;;
esac
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target" >&2
fi
# musl targets link statically by default; static-pie keeps address space layout randomisation
# where Rust's target supports it (x86_64; elsewhere a static executable at a fixed address).
rustflags="-C target-feature=+crt-static -C relocation-model=pie"
# The host's cc links the host's own target; every other one links with rust-lld.
[ "$target" = "$(uname -m)-unknown-linux-musl" ] || rustflags+=" -C linker=rust-lld"
RUSTFLAGS="${RUSTFLAGS:-} $rustflags" cargo build --quiet --release --locked --target "$target"
echo "$PWD/target/$target/release/hardinit"
