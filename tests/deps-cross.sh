#!/bin/sh
# Packages for the arm64 cross build and its test run under qemu-user:
# installed if missing (root, Debian). Exit 0 when all are there.
need=
for p in gcc-aarch64-linux-gnu libc6-dev-arm64-cross libbearssl-dev:arm64 libc6:arm64 qemu-user; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
[ -z "$need" ] && exit 0
[ "$(id -u)" = 0 ] || { echo "deps-cross: missing$need (not root)" >&2; exit 2; }
export DEBIAN_FRONTEND=noninteractive
echo "deps: installing$need (arm64 cross build)" >&2
dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64 || exit 2
apt-get install -y -q $need >/dev/null 2>&1 || {
	apt-get update -q >/dev/null 2>&1
	apt-get install -y -q $need >/dev/null 2>&1 || { echo "deps-cross: cannot install$need" >&2; exit 2; }
}
