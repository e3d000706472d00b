#!/bin/sh
# mkdeb.sh BINARY OBJECT OUTDIR: the Debian package of hostca (make deb).
#
# BINARY is the hostca program, OBJECT the library object (hostca.c built
# with -DHOSTCA_NO_MAIN, the Makefile's hostca.o). Writes
# OUTDIR/hostca_<version>-<revision>_<arch>.deb from a staging tree in
# OUTDIR/build-deb (kept, for a look; make clean removes both):
#   /usr/bin/hostca                       stripped
#   /usr/share/man/man1/hostca.1.gz       gzip -9n
#   /usr/include/hostca.h
#   /usr/lib/<multiarch>/libhostca.a      the object, debug info stripped
#   /usr/share/bash-completion/completions/hostca
#   /usr/share/doc/hostca/                copyright, changelog.Debian.gz, README.md
#   /lib/udev/rules.d/99-hostca-sync.rules
#   /lib/systemd/system/hostca-sync@.service, media-hostca.mount
#   /usr/share/lintian/overrides/hostca
# The version is the program's (hostca --version), with the Debian revision
# DEB_REVISION (1) after a dash; the architecture is dpkg's. Depends comes
# from dpkg-shlibdeps, which finds the package of each library the program
# needs (libbearssl0, libc6) and the lowest version with the symbols used.
# Maintainer is DEB_MAINTAINER, else the last commit's author. Dates and
# file times are SOURCE_DATE_EPOCH (else the last commit's time): two builds
# of the same input are the same bytes.
#
# Needs dpkg-dev (dpkg-shlibdeps, dpkg-architecture) and binutils.
#
# lintian (bookworm, 2.116.3, --pedantic --display-info) on the result:
# no errors, no warnings beyond the two overridden in contrib/lintian-overrides
# (initial-upload-closes-no-bugs: not for the Debian archive;
# systemd-service-file-refers-to-unusual-wantedby-target: the unit is
# wanted by the stick's device, by design). What it still says, and why:
#   I: hardening-no-bindnow -- the Makefile links with -fno-plt instead:
#      every import is bound at start-up through the GOT, which is in the
#      RELRO segment, so the effect is that of -z now; only the flag is
#      absent
#   I: hardening-no-fortify-functions -- the Makefile does not build with
#      -D_FORTIFY_SOURCE; the package carries the project's binary as the
#      Makefile builds it, not a rebuild with dpkg-buildflags
set -eu
umask 022
export LC_ALL=C

if [ $# -ne 3 ]; then
	echo "usage: mkdeb.sh BINARY OBJECT OUTDIR" >&2
	exit 2
fi
bin=$1 obj=$2
src=$(cd "$(dirname "$0")/.." && pwd)
die() {
	echo "mkdeb: $*" >&2
	exit 1
}
mkdir -p "$3"
out=$(cd "$3" && pwd)

for t in dpkg-deb dpkg-shlibdeps dpkg-architecture strip ar nm gzip; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing (apt-get install dpkg-dev binutils)"
done
[ -x "$bin" ] || die "$bin: not an executable"
[ -s "$obj" ] || die "$obj: missing"
# The library object, not the program: no main().
if nm "$obj" | grep -qE ' T main$'; then
	die "$obj defines main (build it with -DHOSTCA_NO_MAIN: make hostca.o)"
fi

upstream=$("$bin" --version | sed -n 's/^hostca \([0-9][0-9A-Za-z.+~]*\)$/\1/p')
[ -n "$upstream" ] || die "$bin --version: no version"
rev=${DEB_REVISION-1}
version=$upstream${rev:+-$rev}
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
maint=${DEB_MAINTAINER:-$(git -C "$src" log -1 --format='%an <%ae>' 2>/dev/null || true)}
[ -n "$maint" ] || die "set DEB_MAINTAINER (Name <address>): no git history to take it from"
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || stat -c %Y "$src/hostca.c")
fi
export SOURCE_DATE_EPOCH

stage=$out/build-deb
root=$stage/root
rm -rf "$stage"
mkdir -p "$root/DEBIAN" "$stage/src/debian"
doc=$root/usr/share/doc/hostca
for d in usr/bin usr/share/man/man1 usr/include "usr/lib/$multiarch" \
	usr/share/bash-completion/completions usr/share/doc/hostca \
	usr/share/lintian/overrides lib/udev/rules.d lib/systemd/system; do
	mkdir -p "$root/$d"
done

# The program and the library, stripped as dh_strip does.
install -m 0755 "$bin" "$root/usr/bin/hostca"
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/hostca"
cp "$obj" "$stage/hostca.o"
strip --strip-debug --remove-section=.comment --remove-section=.note "$stage/hostca.o"
(cd "$stage" && ar rcsD "$root/usr/lib/$multiarch/libhostca.a" hostca.o)
chmod 0644 "$root/usr/lib/$multiarch/libhostca.a"
install -m 0644 "$src/hostca.h" "$root/usr/include/hostca.h"
gzip -9n <"$src/hostca.1" >"$root/usr/share/man/man1/hostca.1.gz"

install -m 0644 "$src/contrib/hostca.bash-completion" "$root/usr/share/bash-completion/completions/hostca"
install -m 0644 "$src/contrib/99-hostca-sync.rules" "$root/lib/udev/rules.d/99-hostca-sync.rules"
install -m 0644 "$src/contrib/hostca-sync@.service" "$src/contrib/media-hostca.mount" "$root/lib/systemd/system/"

install -m 0644 "$src/contrib/lintian-overrides" "$root/usr/share/lintian/overrides/hostca"
install -m 0644 "$src/contrib/copyright" "$doc/copyright"
install -m 0644 "$src/README.md" "$doc/README.md"
{
	printf 'hostca (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built from the hostca source tree (make deb).\n\n'
	printf ' -- %s  %s\n' "$maint" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"

# Depends: the packages of the shared libraries the program needs.
printf 'Source: hostca\n\nPackage: hostca\nArchitecture: any\n' >"$stage/src/debian/control"
deps=$(cd "$stage/src" && dpkg-shlibdeps -O "$root/usr/bin/hostca" 2>"$stage/shlibdeps.err") ||
	die "dpkg-shlibdeps: $(cat "$stage/shlibdeps.err")"
deps=${deps#shlibs:Depends=}
case $deps in *libbearssl*) ;; *) die "dpkg-shlibdeps found no BearSSL package (got '$deps')" ;; esac

# Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up,
# and one per directory.
size=$(cd "$root" && find . -path ./DEBIAN -prune -o \( -type f -printf '%s\n' \) -o \( -type d -printf '1024\n' \) |
	awk '{ n += int(($1 + 1023) / 1024) } END { print n }')

cat >"$root/DEBIAN/control" <<CONTROL
Package: hostca
Version: $version
Architecture: $arch
Maintainer: $maint
Installed-Size: $size
Depends: $deps
Suggests: libbearssl-dev
Section: admin
Priority: optional
Description: offline certificate authority for hosts that never see a network
 hostca issues host ID-based X.509 certificates: each host's identity is a
 random UUID that survives renames. The only channel between the CA machine
 and its hosts is removable media carried by a person; every exchange is a
 file on the stick.
 .
 This package holds the hostca command with its manual page and bash
 completion; the library for devices (hostca.h and libhostca.a, linked
 with -lbearssl from libbearssl-dev); and a udev rule with systemd units
 that sync a host when a marked USB stick is plugged in, which do nothing
 until the administrator enables them.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
	xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
deb=$out/hostca_${version}_$arch.deb
dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
echo "$deb"
