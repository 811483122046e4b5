#!/usr/bin/env bash
# Assembles the shell-less root filesystem of the hardinit image into a folder: the single source
# of truth that the Dockerfile's build stage runs and that the tests run under runc.
#
#   assemble-rootfs.sh vault|openbao DEST HARDINIT SERVER_BINARY [CA_BUNDLE]
#
# DEST ends up holding exactly the entries of image/manifest.<flavour>.txt (checked at the end).
set -euo pipefail
[ $# -ge 4 ] || { echo "usage: $0 vault|openbao DEST HARDINIT SERVER_BINARY [CA_BUNDLE]" >&2; exit 64; }
flavour=$1 dest=$2
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
install -d -m 0750 -o 100 -g 1000 "${root#/}/config" "${root#/}/file" "${root#/}/logs"
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

# What was made must be exactly what the manifest lists: type, mode, owner, path.
actual=$(find . -mindepth 1 -printf '%y %m %U:%G %P\n' | LC_ALL=C sort)
expected=$(LC_ALL=C sort "$here/image/manifest.$flavour.txt")
if [ "$actual" != "$expected" ]; then
    echo "the assembled root filesystem differs from image/manifest.$flavour.txt:" >&2
    diff <(echo "$expected") <(echo "$actual") >&2 || true
    exit 70
fi
