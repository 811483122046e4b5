#!/usr/bin/env bash
# Builds the static, stripped hardinit for x86_64 Linux (musl, static-pie: no library, ASLR kept)
# and prints its path. Installs the musl target with rustup when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-musl
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target" >&2
fi
# musl targets link statically by default; static-pie keeps address space layout randomisation.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=pie" \
    cargo build --quiet --release --locked --target "$target"
echo "$PWD/target/$target/release/hardinit"
