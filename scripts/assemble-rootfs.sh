#!/usr/bin/env bash
# Assembles the shell-less root filesystem of the hardinit image into a folder: the single source
# of truth that the Dockerfile's build stage runs and that the tests run under runc.
#
#   assemble-rootfs.sh [--tar FILE] vault|openbao DEST HARDINIT SERVER_BINARY [CA_BUNDLE]
#
# DEST ends up holding exactly the entries of image/manifest.<flavour>.txt (checked at the end),
# with the image's SBOM at usr/share/doc/hardinit/sbom.cdx.json (scripts/sbom.py), also written
# beside it as DEST.sbom.cdx.json. Reproducible: every mtime is SOURCE_DATE_EPOCH (the commit's
# time by default), and --tar FILE writes the tree as a tar in a fixed order with numeric owners,
# the same bytes for the same inputs on any machine. With HARDINIT_EXPECT_SERVER_VERSION set, a
# server binary of another version is refused (the Dockerfile: an image and its version disagree).
set -euo pipefail
tar_file=
if [ "${1:-}" = --tar ]; then
    [ $# -ge 2 ] || { echo "usage: $0 [--tar FILE] vault|openbao DEST HARDINIT SERVER_BINARY [CA_BUNDLE]" >&2; exit 64; }
    tar_file=$(realpath -m "$2")
    shift 2
fi
[ $# -ge 4 ] || { echo "usage: $0 [--tar FILE] vault|openbao DEST HARDINIT SERVER_BINARY [CA_BUNDLE]" >&2; exit 64; }
flavour=$1 dest=$(realpath -m "$2")
hardinit=$(realpath "$3") server=$(realpath "$4") ca=$(realpath "${5:-/etc/ssl/certs/ca-certificates.crt}")
here=$(cd "$(dirname "$0")/.." && pwd)
case "$flavour" in
    vault) user=vault root=/vault bin=/bin/vault ;;
    openbao) user=openbao root=/openbao bin=/usr/bin/bao ;;
    *) echo "unknown flavour $flavour (vault or openbao)" >&2; exit 64 ;;
esac
[ -e "$dest" ] && [ -n "$(ls -A "$dest")" ] && { echo "$dest is not empty" >&2; exit 73; }

mkdir -p "$dest"
cd "$dest"
# Mount points the runtime fills, and the server's own directories.
install -d -m 0755 proc dev sys etc etc/ssl etc/ssl/certs usr usr/local usr/local/bin usr/bin bin home
install -d -m 1777 tmp
install -d -m 0755 "${root#/}"
# The configuration is root's, readable by the server's group; the data the server's alone (0700,
# what the storage check asks): a fresh named volume copies these modes.
install -d -m 0750 -o 0 -g 1000 "${root#/}/config"
install -d -m 0700 -o 100 -g 1000 "${root#/}/file"
install -d -m 0750 -o 100 -g 1000 "${root#/}/logs"
install -d -m 0700 -o 100 -g 1000 "home/$user"
install -m 0755 "$hardinit" usr/local/bin/hardinit
ln -s hardinit usr/local/bin/docker-entrypoint.sh
# The Helm charts and the Agent Injector run `/bin/sh -ec SCRIPT`: hardinit understands exactly
# their scripts (README, "hardinit as /bin/sh"), so the image still has no shell.
ln -s ../usr/local/bin/hardinit bin/sh
install -m 0755 "$server" "${bin#/}"
if [ "$flavour" = openbao ]; then
    ln -s bao usr/bin/vault  # as OpenBao's own image does
fi
install -m 0644 "$ca" etc/ssl/certs/ca-certificates.crt
printf 'root:x:0:0:root:/root:/sbin/nologin\n%s:x:100:1000:%s:/home/%s:/sbin/nologin\n' "$user" "$user" "$user" >etc/passwd
printf 'root:x:0:\n%s:x:1000:%s\n' "$user" "$user" >etc/group
chmod 0644 etc/passwd etc/group

# The SBOM of what went in, read from the tree itself.
if [ -z "${SOURCE_DATE_EPOCH:-}" ] && [ "$(git -C "$here" rev-parse --show-toplevel 2>/dev/null)" = "$here" ]; then
    SOURCE_DATE_EPOCH=$(git -C "$here" log -1 --format=%ct)
fi
export SOURCE_DATE_EPOCH
install -d -m 0755 usr/share usr/share/doc usr/share/doc/hardinit
python3 "$here/scripts/sbom.py" "$flavour" . "$ca" >usr/share/doc/hardinit/sbom.cdx.json
chmod 0644 usr/share/doc/hardinit/sbom.cdx.json
find . -exec touch -h -d "@${SOURCE_DATE_EPOCH:-0}" {} +

# What was made must be exactly what the manifest lists: type, mode, owner, path.
actual=$(find . -mindepth 1 -printf '%y %m %U:%G %P\n' | LC_ALL=C sort)
expected=$(LC_ALL=C sort "$here/image/manifest.$flavour.txt")
if [ "$actual" != "$expected" ]; then
    echo "the assembled root filesystem differs from image/manifest.$flavour.txt:" >&2
    diff <(echo "$expected") <(echo "$actual") >&2 || true
    exit 70
fi
cp usr/share/doc/hardinit/sbom.cdx.json "${dest%/}.sbom.cdx.json"
if [ -n "$tar_file" ]; then
    # As reproducible-builds.org advises: names sorted, owners numeric, no atime or ctime.
    LC_ALL=C tar --create --file "$tar_file" --format=posix --sort=name --numeric-owner \
        --mtime="@${SOURCE_DATE_EPOCH:-0}" --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
        $(LC_ALL=C ls -A)
fi
