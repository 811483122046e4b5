#!/usr/bin/env bash
# Assembles the shell-less root filesystem hardinit ships in: hardinit, the server binary,
# /etc/passwd and /etc/group with vault 100:1000, the server's directories. Usage:
#   assemble-rootfs.sh DEST HARDINIT SERVER
set -euo pipefail
[ $# = 3 ] || { echo "usage: $0 DEST HARDINIT SERVER" >&2; exit 64; }
dest=$1 hardinit=$2 server=$3
mkdir -p "$dest"/{usr/local/bin,bin,etc,proc,dev,sys,tmp,home/vault} "$dest"/vault/{config,file,logs}
install -m 0755 "$hardinit" "$dest/usr/local/bin/hardinit"
install -m 0755 "$server" "$dest/bin/bao"
printf 'root:x:0:0:root:/root:/sbin/nologin\nvault:x:100:1000:vault:/home/vault:/sbin/nologin\n' >"$dest/etc/passwd"
printf 'root:x:0:\nvault:x:1000:vault\n' >"$dest/etc/group"
chmod 1777 "$dest/tmp"
chown -R 100:1000 "$dest/vault" "$dest/home/vault"
chmod 0750 "$dest/vault/config" "$dest/vault/file" "$dest/vault/logs"
