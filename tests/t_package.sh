#!/bin/sh
# t_package.sh: the Debian package (make deb, contrib/mkdeb.sh) and what it
# carries. Builds it with `make deb` in a copy of the tree (the binary under
# test as ./hostca), reads its contents and control fields, installs it into
# a scratch root with dpkg --root (and, as root where no hostca package is
# installed, for real with dpkg -i, then dpkg -r), and checks there: the
# program, the library (tests/example.c links against the installed header
# and archive), the manual page (man -l --warnings), bash completion (the
# completion function called directly, and every command and option of
# hostca --help), the udev rule and the systemd units (systemd-analyze
# verify and security, systemctl --root enable), lintian. Release pass
# only: a package of the sanitizer or arm64 build is no package.
. "$(dirname "$0")/lib.sh"

if [ -n "$T_LABEL" ]; then
	skip "Debian package" "release pass only"
	finish
fi
missing=
for c in dpkg-deb dpkg-shlibdeps dpkg-architecture make cc ar nm readelf strip man bash systemd-analyze systemctl systemd-escape; do
	command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
done
if [ -n "$missing" ]; then
	fail "package tools" "missing:$missing (make deps)"
	finish
fi

VER=$("$HOSTCA" --version | sed -n 's/^hostca //p')
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
DEBVER=$VER-1
MAINT=$(git -C "$T_REPO" log -1 --format='%an <%ae>' 2>/dev/null)
[ -n "$MAINT" ] || MAINT='hostca tests <tests@example.org>'
export SOURCE_DATE_EPOCH=1790000000 DEB_MAINTAINER="$MAINT"
unset MAKEFLAGS MFLAGS MAKELEVEL DEB_REVISION

# ---- build: make deb in a copy of the tree ------------------------------------

section "build"
SRC=$W/src
mkdir -p "$SRC/tests"
cp "$T_REPO/Makefile" "$T_REPO/README.md" "$T_REPO/hostca.c" "$T_REPO/hostca.h" "$T_REPO/hostca.1" "$SRC/"
cp -R "$T_REPO/contrib" "$SRC/contrib"
cp "$T_REPO/tests/deps.sh" "$SRC/tests/"
# the binary under test is ./hostca, newer than its sources; hostca.o is
# the tree's when it is current (make test builds it), else make builds it
touch -d '2000-01-01' "$SRC/hostca.c" "$SRC/hostca.h"
cp "$HOSTCA" "$SRC/hostca"
[ "$T_REPO/hostca.o" -nt "$T_REPO/hostca.c" ] && cp "$T_REPO/hostca.o" "$SRC/hostca.o"
expect_exit 0 "make deb" -- make -C "$SRC" deb
DEB=$SRC/hostca_${DEBVER}_$ARCH.deb
check_file "make deb writes hostca_<version>-1_<arch>.deb ($(basename "$DEB"))" "$DEB"
if [ ! -s "$DEB" ]; then
	errline >&2
	finish
fi
mkdir -p again
expect_exit 0 "mkdeb.sh again, same input" -- sh "$SRC/contrib/mkdeb.sh" "$SRC/hostca" "$SRC/hostca.o" "$W/again"
check_eq "two builds of the same input are the same bytes" "$(sha "$W/again/$(basename "$DEB")")" "$(sha "$DEB")"
printf 'int main(void) { return 0; }\n' >main.c
cc -c -o main.o main.c
expect_exit 1 "mkdeb.sh refuses a library object that defines main" -- sh "$SRC/contrib/mkdeb.sh" "$SRC/hostca" main.o "$W/again"
check_grep "mkdeb.sh says why (HOSTCA_NO_MAIN)" "HOSTCA_NO_MAIN" "$W/.err"
# lintian takes seconds: it runs while the other checks do
LINTPID=
if command -v lintian >/dev/null 2>&1; then
	lintian --display-info --pedantic "$DEB" >lintian.txt 2>&1 &
	LINTPID=$!
	T_BG_PIDS="${T_BG_PIDS:-} $LINTPID"
fi

# ---- a real install on this machine -------------------------------------------

# dpkg -i, the files there, the units verified with their manual page, dpkg
# -r, nothing left. Its dpkg triggers (man-db) take seconds: it runs in the
# background, with its own work files, while the rest is checked;
# its lines are shown at the end.
real_install() {
	if [ "$(id -u)" != 0 ]; then
		skip "dpkg -i / dpkg -r" "not root"
		return
	fi
	if dpkg-query -W -f='${Status}' hostca 2>/dev/null | grep -q 'install ok'; then
		skip "dpkg -i / dpkg -r" "a hostca package is installed already: left alone"
		return
	fi
	exec 8>>/tmp/hostca-t_package.lock
	if ! flock -n 8; then
		skip "dpkg -i / dpkg -r" "another test run is installing it"
		return
	fi
	REAL=
	trap '[ -n "$REAL" ] && dpkg --log=/dev/null -r hostca >/dev/null 2>&1' EXIT
	run dpkg -i "$DEB"
	if [ "$RC" != 0 ] && grep -q 'lock' "$W/.err"; then
		skip "dpkg -i / dpkg -r" "dpkg is locked by another process"
		return
	fi
	REAL=1
	check_eq "dpkg -i installs the package" "$RC" 0
	dpkg-deb -c "$DEB" | awk '$1 ~ /^-/ { print $6 }' | sed 's|^\.||' >"$W/files.txt"
	check_eq "dpkg -i: /usr/bin/hostca --version" "$(/usr/bin/hostca --version 2>&1)" "hostca $VER"
	missing=
	while read -r p; do
		[ -f "$p" ] || missing="$missing $p"
	done <"$W/files.txt"
	check_empty "dpkg -i: every file of the package is there" "$missing"
	run systemd-analyze verify --man=yes hostca-sync@media-hostca.service media-hostca.mount
	check_eq "systemd-analyze verify on the installed units, manual page included" "$RC:$(cat "$W/.out" "$W/.err" | head -n 3)" "0:"
	expect_exit 0 "dpkg -r removes it" -- dpkg -r hostca
	REAL=
	left=
	while read -r p; do
		[ -e "$p" ] && left="$left $p"
	done <"$W/files.txt"
	check_empty "dpkg -r: no file of the package is left" "$left"
	dpkg-query -W -f='${Status}\n' hostca >"$W/st.txt" 2>&1
	check_nogrep "dpkg -r: hostca is not installed" "install ok installed" "$W/st.txt"
}
mkdir -p real
(
	trap - EXIT INT TERM
	W=$W/real
	real_install
) 3>real.out &
REALPID=$!

# ---- contents and control fields ---------------------------------------------

section "contents"
dpkg-deb -c "$DEB" >contents.txt
awk '{ print $6 }' contents.txt | sed 's|^\./|/|; s|/$||' | grep -v '^$' | LC_ALL=C sort >paths.txt
LC_ALL=C sort >want.txt <<EOF
/lib
/lib/systemd
/lib/systemd/system
/lib/systemd/system/hostca-sync@.service
/lib/systemd/system/media-hostca.mount
/lib/udev
/lib/udev/rules.d
/lib/udev/rules.d/99-hostca-sync.rules
/usr
/usr/bin
/usr/bin/hostca
/usr/include
/usr/include/hostca.h
/usr/lib
/usr/lib/$MA
/usr/lib/$MA/libhostca.a
/usr/share
/usr/share/bash-completion
/usr/share/bash-completion/completions
/usr/share/bash-completion/completions/hostca
/usr/share/doc
/usr/share/doc/hostca
/usr/share/doc/hostca/README.md
/usr/share/doc/hostca/changelog.Debian.gz
/usr/share/doc/hostca/copyright
/usr/share/lintian
/usr/share/lintian/overrides
/usr/share/lintian/overrides/hostca
/usr/share/man
/usr/share/man/man1
/usr/share/man/man1/hostca.1.gz
EOF
check_empty "the package holds exactly the expected files (diff: < missing, > extra)" "$(diff want.txt paths.txt | grep '^[<>]' | tr '\n' ' ')"
check_empty "every entry is root/root" "$(awk '$2 != "root/root" { print $6 }' contents.txt)"
check_eq "/usr/bin/hostca is -rwxr-xr-x" "$(awk '$6 == "./usr/bin/hostca" { print $1 }' contents.txt)" "-rwxr-xr-x"
check_empty "every other file is -rw-r--r--, every directory drwxr-xr-x" \
	"$(awk '$6 != "./usr/bin/hostca" && $1 != "-rw-r--r--" && $1 != "drwxr-xr-x" { print $1, $6 }' contents.txt)"

field() { dpkg-deb -f "$DEB" "$1"; }
check_eq "control: Package" "$(field Package)" hostca
check_eq "control: Version is hostca --version and revision 1" "$(field Version)" "$DEBVER"
check_eq "control: Architecture" "$(field Architecture)" "$ARCH"
check_eq "control: Section" "$(field Section)" admin
check_eq "control: Priority" "$(field Priority)" optional
check_eq "control: Maintainer" "$(field Maintainer)" "$MAINT"
field Description >desc.txt
check_eq "control: Description's synopsis" "$(head -n 1 desc.txt)" "offline certificate authority for hosts that never see a network"
check "control: Description has a long text" test "$(wc -l <desc.txt)" -gt 5
# Depends names the package of every shared library the program needs,
# found here independently: the library's path (ldd) and its owner (dpkg -S).
DEPS=$(field Depends)
printf '%s\n' "$DEPS" >deps.txt
readelf -dW "$HOSTCA" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >needed.txt
check "the program needs shared libraries (readelf)" test -s needed.txt
while read -r lib; do
	p=$(ldd "$HOSTCA" | awk -v l="$lib" '$1 == l { print $3 }')
	pkg=$(dpkg -S "$(readlink -f "$p")" 2>/dev/null | head -n 1 | cut -d: -f1)
	[ -n "$pkg" ] || pkg=$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1)
	case ", $DEPS" in
	*", $pkg "* | *", $pkg,"* | *", $pkg") ok "Depends names $pkg (for $lib)" ;;
	*) fail "Depends names the package of $lib" "'$pkg' not in '$DEPS'" ;;
	esac
done <needed.txt
check_grep "Depends: libbearssl's package with a version" "(^|, )libbearssl[0-9a-z.-]* \(>= [0-9]" deps.txt
check_grep "Depends: libc6 with a version" "(^|, )libc6 \(>= 2\.[0-9]+\)" deps.txt
KB=$(awk '{ n += int(($3 + 1023) / 1024) } END { print n }' contents.txt)
ISZ=$(field Installed-Size)
check "control: Installed-Size ($ISZ) is the files' KiB ($KB) and one per directory" \
	test "$ISZ" -ge "$KB" -a "$ISZ" -le $((KB + $(wc -l <contents.txt)))

mkdir ctl
dpkg-deb -e "$DEB" ctl
awk '{ print "/" $2 }' ctl/md5sums | LC_ALL=C sort >md5paths.txt
check_eq "DEBIAN/md5sums lists every file" "$(cat md5paths.txt)" "$(awk '$1 ~ /^-/ { print $6 }' contents.txt | sed 's|^\.||' | LC_ALL=C sort)"

# ---- a scratch root: dpkg --root ----------------------------------------------

section "dpkg --root install"
R=$W/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
NOTROOT=
[ "$(id -u)" = 0 ] || NOTROOT=--force-not-root
dpkgr() { dpkg --root="$R" --log=/dev/null $NOTROOT "$@"; }
# (libc6 and libbearssl0 are not in the scratch root's database)
expect_exit 0 "dpkg --root -i installs the package" -- dpkgr --force-depends -i "$DEB"
dpkgr -s hostca >st.txt 2>&1
check_grep "dpkg --root: hostca is installed" "^Status: install ok installed" st.txt
dpkgr -L hostca >list.txt 2>&1
check_grep "dpkg --root -L lists /usr/bin/hostca" "^/usr/bin/hostca$" list.txt

B=$R/usr/bin/hostca
expect_exit 0 "installed hostca --version" -- "$B" --version
check_eq "installed hostca --version says $VER" "$(out)" "hostca $VER"
expect_exit 0 "installed hostca --help" -- "$B" --help
readelf -SW "$B" >sections.txt 2>&1
check_nogrep "installed program is stripped (no .symtab, no debug info)" '\.symtab|\.debug_' sections.txt
check_grep "installed program keeps its build ID" '\.note\.gnu\.build-id' sections.txt

A=$R/usr/lib/$MA/libhostca.a
check_eq "libhostca.a holds hostca.o" "$(ar t "$A")" "hostca.o"
nm "$A" >nm.txt 2>&1
check_grep "libhostca.a defines the API (hostca_strerror)" ' T hostca_strerror$' nm.txt
check_nogrep "libhostca.a has no main (built with -DHOSTCA_NO_MAIN)" ' T main$' nm.txt
readelf -SW "$A" >asections.txt 2>&1
check_nogrep "libhostca.a carries no debug info" '\.debug_' asections.txt
expect_exit 0 "tests/example.c links against the installed hostca.h and libhostca.a" -- \
	cc -std=c99 -I"$R/usr/include" -o example "$T_REPO/tests/example.c" "$A" -lbearssl -lpthread
mkdir -p dev
expect_exit 0 "that example makes a request" -- ./example request dev dev1.example
expect_exit 0 "the installed hostca reads the library's CSR" -- "$B" show dev/csr.pem

M=$R/usr/share/man/man1/hostca.1.gz
MANWIDTH=80 man -l --warnings "$M" >man.txt 2>man.err
mrc=$?
check_eq "man -l renders the installed page" "$mrc" 0
check_empty "man -l --warnings: no warnings" "$(head -c 300 man.err)"
check_grep "the page has its SYNOPSIS" "^SYNOPSIS" man.txt
check_eq "manual page compressed with gzip -n (no time stamp)" "$(od -An -tx1 -j4 -N4 "$M" | tr -d ' ')" "00000000"
check_eq "changelog.Debian.gz names this version" "$(gzip -dc "$R/usr/share/doc/hostca/changelog.Debian.gz" | head -n 1)" "hostca ($DEBVER) unstable; urgency=medium"
check_grep "copyright file in the machine-readable format" "^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/" "$R/usr/share/doc/hostca/copyright"

# ---- bash completion (the installed file) -------------------------------------

section "bash completion"
COMP=$R/usr/share/bash-completion/completions/hostca
# comp.bash FILE < LINES: for each command line, what completing it offers
# (the function bash would call, called directly), sorted, on one line; one
# bash for all of them.
cat >comp.bash <<'EOF'
. "$1" || exit 3
LC_ALL=C
while IFS= read -r line; do
	read -ra COMP_WORDS <<<"$line"
	[[ $line == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_hostca || echo "(_hostca failed: $?)"
	r=("${COMPREPLY[@]}") # insertion sort, no process per line
	for ((i = 1; i < ${#r[@]}; i++)); do
		for ((j = i; j > 0; j--)); do
			[[ ${r[j - 1]} > ${r[j]} ]] || break
			t=${r[j]} r[j]=${r[j - 1]} r[j - 1]=$t
		done
	done
	echo "${r[*]}"
done
EOF
comp_all() { # QUERIES RESULTS
	bash comp.bash "$COMP" <"$1" >"$2" 2>&1
	check_eq "completion: one answer per command line ($(wc -l <"$1"))" "$(wc -l <"$2")" "$(wc -l <"$1")"
}
bash -c '. "$1" && complete -p hostca' x "$COMP" >cp.txt 2>&1
check_grep "completion: complete -F _hostca hostca" "^complete -F _hostca hostca$" cp.txt
mkdir -p cw/dir1 cw/dir2
: >cw/file1
# command line|what it offers (sorted; empty: nothing)
cat >comptable.txt <<EOF
hostca |ca host show token verify
hostca -|--help --json --passphrase-file --version -C -H -q
hostca ca s|share show sign
hostca -C /x -q ca s|share show sign
hostca ca init --key |ec-p256 ec-p384 ec-p521 rsa-2048 rsa-3072 rsa-4096
hostca host request --key |ec-p256 ec-p384 ec-p521 rsa-2048 rsa-3072 rsa-4096
hostca ca init --key rsa|rsa-2048 rsa-3072 rsa-4096
hostca ca init --security |high medium very-high
hostca ca revoke --reason |affiliationChanged cessationOfOperation keyCompromise superseded unspecified
hostca ca list --status |expired revoked valid
hostca host |clean install renew request status sync trust update
hostca token |cleanup create delete list show
hostca host sync -|--ca-fingerprint --help --json --media --renew-at --token --token-file --trust-on-first-use -q
hostca host status -|--help --json --renew-at -q
hostca ca release -|--help --json --name --reason --yes -q
hostca ca share -|--help --hosts --json --name --remove -q
hostca ca init --name X -|--days --encrypt --help --json --key --passphrase-file --security -q
hostca host request --alt-name a --alt-name b --|--alt-name --help --json --key --media --name --new-key --token --token-file
hostca ca config |backdate cert-days crl-days security token-valid
hostca ca config security |high medium very-high
hostca token create --reason |
hostca ca allow-reissue --key |
hostca ca host |
hostca ca names |
hostca host sync --renew-at |
hostca host sync --media $W/cw/|$W/cw/dir1 $W/cw/dir2
hostca -C $W/cw/d|$W/cw/dir1 $W/cw/dir2
hostca -H $W/cw/|$W/cw/dir1 $W/cw/dir2
hostca ca sign --csr $W/cw/f|$W/cw/file1
hostca ca sign --token-file $W/cw/f|$W/cw/file1
hostca --passphrase-file $W/cw/f|$W/cw/file1
hostca ca sign --csr x.csr --out $W/cw/f|$W/cw/file1
hostca show $W/cw/f|$W/cw/file1
EOF
cut -d'|' -f1 comptable.txt >compq.txt
comp_all compq.txt compr.txt
paste -d'|' comptable.txt compr.txt >compboth.txt
while IFS='|' read -r line want got; do
	if [ -n "$want" ]; then
		check_eq "completion: '$line' offers $want" "$got" "$want"
	else
		check_empty "completion: '$line' offers nothing (free text, a name or a number)" "$got"
	fi
done <compboth.txt
# Every command and option of hostca --help is completed: a command added to
# hostca and not here fails.
"$HOSTCA" --help >help.txt
awk '
/^usage:/ { for (i = 2; i <= NF; i++) if ($i ~ /^\[-/) { o = $i; gsub(/[][]/, "", o); print "global", o } next }
/^  (ca|token|host) [a-z]/ { cmd = $1 " " $2; print "cmd", cmd; s = 3 }
/^  (verify|show)( |$)/ { cmd = "- " $1; print "cmd", cmd; s = 2 }
/^  (ca|token|host|verify|show)( |$)/ || /^          \[/ {
	if ($0 ~ /^          /) s = 1
	for (i = s; i <= NF; i++) if (match($i, /--[a-z-]+/)) print "opt", cmd, substr($i, RSTART, RLENGTH)
}' help.txt | LC_ALL=C sort -u >helpitems.txt
check "hostca --help lists commands (read $(grep -c '^cmd' helpitems.txt) of them)" test "$(grep -c '^cmd' helpitems.txt)" -gt 20
# each item: the command line to complete|the word it must offer
awk '
$1 == "global" { print "hostca -|" $2 }
$1 == "cmd" { print ($2 == "-" ? "hostca " : "hostca " $2 " ") "|" $3 }
$1 == "opt" { print ($2 == "-" ? "hostca " $3 " -" : "hostca " $2 " " $3 " -") "|" $4 }' helpitems.txt >helpq.txt
cut -d'|' -f1 helpq.txt >helpq1.txt
comp_all helpq1.txt helpr.txt
paste -d'|' helpq.txt helpr.txt | while IFS='|' read -r line w got; do
	case " $got " in
	*" $w "*) ;;
	*) echo "'$w' for '$line' (offers: $got)" ;;
	esac
done >helpmiss.txt
check_empty "completion: every command and option of hostca --help ($(wc -l <helpq.txt) items)" "$(head -n 3 helpmiss.txt)"

# ---- udev rule and systemd units ---------------------------------------------

section "udev and systemd"
U=$R/lib/systemd/system/hostca-sync@.service
MNT=$R/lib/systemd/system/media-hostca.mount
RULE=$R/lib/udev/rules.d/99-hostca-sync.rules
uval() { sed -n "s/^$1=//p" "$2"; }
check_eq "service runs hostca host sync on the stick" "$(uval ExecStart "$U")" "/usr/bin/hostca -H /var/lib/hostca host sync --media %f"
check_eq "service is oneshot" "$(uval Type "$U")" oneshot
check_eq "service runs only when the stick has HOSTCA-SYNC at its root" "$(uval ConditionPathExists "$U")" "%f/HOSTCA-SYNC"
for kv in NoNewPrivileges=yes ProtectSystem=strict PrivateNetwork=yes PrivateDevices=yes ProtectHome=yes \
	'ReadWritePaths=/var/lib/hostca %f' 'RestrictAddressFamilies=none' 'CapabilityBoundingSet=CAP_DAC_OVERRIDE'; do
	check "service hardening: $kv" grep -qxF "$kv" "$U"
done
# The names tie the three files together: the rule's symlink is the device
# the service is wanted by; its default instance is the mount unit's path.
check_eq "udev rule names the stick /dev/hostca/stick" "$(sed -n 's/.*SYMLINK+="\([^"]*\)".*/\1/p' "$RULE")" "hostca/stick"
check_eq "service is wanted by that device's unit" "$(uval WantedBy "$U")" "$(systemd-escape --path --suffix=device /dev/hostca/stick)"
check_eq "mount unit mounts that device" "$(uval What "$MNT")" /dev/hostca/stick
check_eq "mount unit's name is its path" "$(systemd-escape --path --suffix=mount "$(uval Where "$MNT")")" "$(basename "$MNT")"
check_eq "default instance is the mount unit's path" "$(uval DefaultInstance "$U").mount" "$(basename "$MNT")"
check_eq "mount unit is unmounted once the sync has run" "$(uval StopWhenUnneeded "$MNT")" yes
# The unit's command as systemd would run it (%f the stick; the program and
# the host directory those of the scratch root), on an enrolled host with a
# newer CRL on the stick: it installs that CRL.
SH=$R/var/lib/hostca
mkdir -p stick
hc -C ca ca init --name Sync-CA --security medium >/dev/null 2>&1
check "a host enrolled into $SH" enroll ca "$SH" sync1.example "" stick
hc -C ca ca crl >/dev/null 2>&1
hc -C ca ca export --media stick >/dev/null 2>&1
: >stick/HOSTCA-SYNC
check_ne "the stick carries a newer CRL than the host's" "$(sha "$SH/crl.pem")" "$(sha stick/crl.pem)"
SYNC=$(uval ExecStart "$U" | sed "s|%f|$W/stick|g; s|^/usr/bin/hostca |$B |; s| /var/lib/hostca | $SH |")
# shellcheck disable=SC2086
expect_exit 0 "the unit's command runs: $(uval ExecStart "$U")" -- $SYNC
check_eq "the unit's command installs the CRL from the stick" "$(sha "$SH/crl.pem")" "$(sha stick/crl.pem)"
# The rule: each line KEY op "value", pairs joined by commas, known keys,
# every GOTO to a LABEL of the file.
awk '
/^[ \t]*(#|$)/ { next }
{
	line = $0
	while (line != "") {
		if (!match(line, /^[ \t]*(ACTION|SUBSYSTEM|KERNEL|ENV\{[A-Z_]+\}|ATTRS?\{[a-z_]+\}|SYMLINK|TAG|GOTO|LABEL)(==|!=|\+=|=)"[^"]*"[ \t]*(,|$)/)) {
			print FILENAME ":" NR ": " line; break
		}
		item = substr(line, 1, RLENGTH); line = substr(line, RLENGTH + 1)
		if (item ~ /^[ \t]*GOTO=/) { split(item, g, "\""); gotos[g[2]] = NR }
		if (item ~ /^[ \t]*LABEL=/) { split(item, l, "\""); labels[l[2]] = 1 }
	}
}
END { for (t in gotos) if (!(t in labels)) print "GOTO " t " without LABEL" }' "$RULE" >rule.txt 2>&1
check_empty "udev rule: every line is KEY op \"value\" pairs, every GOTO has its LABEL" "$(head -n 3 rule.txt)"
check_grep "udev rule: only USB block devices with a filesystem" 'ENV\{ID_BUS\}!="usb"' "$RULE"
check_nogrep "udev rule: udev itself runs nothing and mounts nothing" '^[^#]*(RUN|PROGRAM|IMPORT\{program\})' "$RULE"
if command -v udevadm >/dev/null 2>&1 && udevadm verify --help >/dev/null 2>&1; then
	expect_exit 0 "udevadm verify" -- udevadm verify "$RULE"
else
	skip "udevadm verify" "needs udev from systemd 254 or later"
fi

# systemd-analyze verify against the scratch root: the units as installed,
# /usr/bin/hostca the installed program; the system's own units (targets)
# under the root's /usr/lib. Manual pages are looked up outside the root, so
# --man=no here (the real install checks with them).
mkdir -p "$R/usr/lib/systemd/system" "$R/etc/systemd/system"
cp -R /lib/systemd/system/. "$R/usr/lib/systemd/system/"
run systemd-analyze verify --root="$R" --man=no hostca-sync@media-hostca.service media-hostca.mount
check_eq "systemd-analyze verify: the service (instance media-hostca) and the mount unit" "$RC:$(cat "$W/.out" "$W/.err" | head -n 3)" "0:"
# ... and it does find a unit that cannot run (so the check above can fail)
sed 's|^ExecStart=/usr/bin/hostca |ExecStart=/usr/bin/hostca-missing |' "$U" >"$R/lib/systemd/system/hostca-broken@.service"
run systemd-analyze verify --root="$R" --man=no hostca-broken@media-hostca.service
check "systemd-analyze verify finds a unit whose program is missing" grep -q 'hostca-missing' "$W/.err"
rm -f "$R/lib/systemd/system/hostca-broken@.service"
run systemd-analyze security --offline=yes --root="$R" --threshold=20 hostca-sync@media-hostca.service
check_eq "systemd-analyze security: exposure at most 2.0 (is $(sed -n 's/.*exposure level.*: \([0-9.]* [A-Z]*\).*/\1/p' "$W/.out"))" "$RC" 0
expect_exit 0 "systemctl --root enable hostca-sync@media-hostca.service" -- systemctl --root="$R" enable hostca-sync@media-hostca.service
WANTS=$R/etc/systemd/system/dev-hostca-stick.device.wants/hostca-sync@media-hostca.service
check "enable links it into dev-hostca-stick.device.wants/" test -L "$WANTS"
expect_exit 0 "systemctl --root disable" -- systemctl --root="$R" disable hostca-sync@media-hostca.service
check_nofile "disable removes the link" "$WANTS"
rm -rf "$R/usr/lib/systemd" "$R/etc/systemd"

# ---- lintian --------------------------------------------------------------------

section "lintian"
if [ -n "$LINTPID" ]; then
	wait "$LINTPID"
	lrc=$?
	grep -v 'running with root privileges' lintian.txt | sed 's/^/# lintian: /' >&3
	check_nogrep "lintian: no errors" '^E:' lintian.txt
	check_eq "lintian ran to its end (exit 0)" "$lrc" 0
else
	skip "lintian" "not installed (make deps installs it)"
fi

# ---- removal from the scratch root ---------------------------------------------

expect_exit 0 "dpkg --root -r removes the package" -- dpkgr -r hostca
left=
while read -r p; do
	[ -f "$R$p" ] && left="$left $p"
done <md5paths.txt
check_empty "dpkg --root -r: no file of the package is left" "$left"
dpkgr -s hostca >st.txt 2>&1
check_nogrep "dpkg --root -r: hostca is no longer installed" "^Status: install ok installed" st.txt

# ---- a real install on this machine (its output, from the background) ------------

section "dpkg -i on this machine"
if [ -n "$REALPID" ]; then
	wait "$REALPID"
	cat real.out >&3
fi

finish
