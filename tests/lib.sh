# lib.sh: helpers for the hostca tests (POSIX sh; sourced by tests/t_*.sh).
#
# Environment (set by tests/run.sh; defaults let a t_*.sh file run alone):
#   HOSTCA      the binary under test (./hostca or ./hostca-asan)
#   HOSTCA_T    the same program with test hooks (HOSTCA_NOW, HOSTCA_TEST_SEED)
#   T_RESULTS   file that collects one "ok"/"FAIL" line per check (summed by run.sh)
#   T_FIX       directory of cached openssl keys, shared by all passes
#   T_LABEL     prefix of every description ("[asan] " in the sanitizer pass)
#   T_SLOW      1 (default) allows the RSA-4096 keygens (t_options.sh)
#
# Every check prints one line on the original stdout (fd 3):
#   ok - description       or       FAIL - description: reason

T_SRC=$(cd "$(dirname "$0")" && pwd)
T_REPO=$(cd "$T_SRC/.." && pwd)
PY=/usr/bin/python3
PEER="$T_SRC/peer.py"

abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$T_REPO/${1#./}" ;; esac; }
HOSTCA=$(abspath "${HOSTCA:-./hostca}")
HOSTCA_T=$(abspath "${HOSTCA_T:-./hostca-test}")
T_LABEL=${T_LABEL:-}
T_SLOW=${T_SLOW:-1}

T_ROOT_OWN=
if [ -z "${T_RESULTS:-}" ]; then
	T_ROOT_OWN=$(mktemp -d /tmp/hostca-t.XXXXXX)
	T_RESULTS=$T_ROOT_OWN/results
	: >"$T_RESULTS"
fi
T_FIX=${T_FIX:-${T_ROOT_OWN:-/tmp}/fix}
mkdir -p "$T_FIX"

# Work directory of this test file; removed at exit.
W=$(mktemp -d /tmp/hostca-w.XXXXXX)
t_cleanup() {
	[ -n "${T_BG_PIDS:-}" ] && for p in $T_BG_PIDS; do kill "$p" 2>/dev/null; done
	cd /
	rm -rf "$W"
	[ -n "$T_ROOT_OWN" ] && rm -rf "$T_ROOT_OWN"
}
trap t_cleanup EXIT
trap 'exit 130' INT TERM
cd "$W" || exit 2
exec 3>&1

ok() {
	printf 'ok - %s%s\n' "$T_LABEL" "$1" >&3
	echo ok >>"$T_RESULTS"
}
fail() {
	printf 'FAIL - %s%s: %s\n' "$T_LABEL" "$1" "${2:-failed}" >&3
	echo FAIL >>"$T_RESULTS"
}
skip() { printf '# skip - %s%s: %s\n' "$T_LABEL" "$1" "$2" >&3; }
section() { printf '# %s%s\n' "$T_LABEL" "$*" >&3; }

# Standalone run: print the totals.
finish() {
	if [ -n "$T_ROOT_OWN" ]; then
		p=$(grep -c '^ok$' "$T_RESULTS")
		f=$(grep -c '^FAIL$' "$T_RESULTS")
		echo "$p passed, $f failed" >&3
		[ "$f" = 0 ] || exit 1
	fi
	exit 0
}

# A sanitizer report on stderr is a failure even when the exit code looks right.
SAN_RE='runtime error|AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|MemorySanitizer'
san_check() { # FILE WHAT
	if grep -qE "$SAN_RE" "$1"; then
		fail "no sanitizer report: $2" "$(grep -m1 -E "$SAN_RE" "$1")"
	fi
}

# hc/hct run hostca (release, or with hooks); stderr passes through, is checked.
hc_run() {
	_bin=$1
	shift
	_e=$(mktemp "$W/.stderr.XXXXXX")
	"$_bin" "$@" 2>"$_e" </dev/null
	_rc=$?
	cat "$_e" >&2
	san_check "$_e" "hostca $*"
	rm -f "$_e"
	return $_rc
}
hc() { hc_run "$HOSTCA" "$@"; }
hct() { hc_run "$HOSTCA_T" "$@"; }

# run CMD...: stdout in $W/.out, stderr in $W/.err, exit code in $RC.
run() {
	"$@" </dev/null >"$W/.out" 2>"$W/.err"
	RC=$?
	case $1 in hc | hct) ;; *) san_check "$W/.err" "$*" ;; esac # hc checks its own
	return 0
}
out() { cat "$W/.out"; }
errline() { # first stderr line, for reasons
	grep -v '^$' "$W/.err" | head -n 1 | cut -c1-160
}

# expect_exit CODE DESC -- CMD...   CODE is 0, 1, 2 or "nz" (any non-zero)
expect_exit() {
	_want=$1
	_desc=$2
	shift 2
	[ "$1" = "--" ] && shift
	run "$@"
	case $_want in
	nz) [ "$RC" != 0 ] ;;
	*) [ "$RC" = "$_want" ] ;;
	esac
	if [ $? = 0 ]; then
		ok "$_desc"
		return 0
	fi
	fail "$_desc" "exit $RC, want $_want${_want:+; }$(errline)"
	return 1
}

# check DESC CMD...: ok when CMD succeeds.  check_not: ok when it fails.
check() {
	_desc=$1
	shift
	if "$@" >"$W/.cout" 2>&1; then ok "$_desc"; return 0; fi
	fail "$_desc" "$(grep -v '^$' "$W/.cout" | tail -n 1 | cut -c1-200)"
	return 1
}
check_not() {
	_desc=$1
	shift
	if "$@" >"$W/.cout" 2>&1; then fail "$_desc" "succeeded, should not"; return 1; fi
	ok "$_desc"
	return 0
}
check_eq() { # DESC GOT WANT (an empty WANT is a failure: nothing was compared)
	if [ -z "$3" ]; then fail "$1" "nothing to compare (got '$(printf %s "$2" | head -c 80)', want is empty)"; return 1; fi
	if [ "$2" = "$3" ]; then ok "$1"; return 0; fi
	fail "$1" "got '$(printf %s "$2" | head -c 120)', want '$(printf %s "$3" | head -c 120)'"
	return 1
}
check_empty() { # DESC VALUE
	if [ -z "$2" ]; then ok "$1"; return 0; fi
	fail "$1" "got '$(printf %s "$2" | head -c 120)'"
	return 1
}
check_ne() { # DESC A B (either empty is a failure)
	if [ -z "$2" ] || [ -z "$3" ]; then fail "$1" "nothing to compare ('$2' vs '$3')"; return 1; fi
	if [ "$2" != "$3" ]; then ok "$1"; return 0; fi
	fail "$1" "both are '$(printf %s "$2" | head -c 120)'"
	return 1
}
check_grep() { # DESC PATTERN FILE (extended regex, case-insensitive)
	if [ -z "$2" ]; then fail "$1" "empty pattern (nothing to look for)"; return 1; fi
	if grep -qiE -- "$2" "$3" 2>/dev/null; then ok "$1"; return 0; fi
	fail "$1" "no /$2/ in $(basename "$3"): $(head -c 160 "$3" 2>/dev/null | tr '\n' ' ')"
	return 1
}
check_nogrep() { # DESC PATTERN FILE
	if [ -z "$2" ]; then fail "$1" "empty pattern (nothing to look for)"; return 1; fi
	if grep -qiE -- "$2" "$3" 2>/dev/null; then
		fail "$1" "found /$2/: $(grep -m1 -iE -- "$2" "$3" | cut -c1-160)"
		return 1
	fi
	ok "$1"
	return 0
}
check_file() { # DESC FILE: exists and is not empty
	if [ -s "$2" ]; then ok "$1"; return 0; fi
	fail "$1" "$2 missing or empty"
	return 1
}
check_nofile() { # DESC FILE
	if [ -e "$2" ]; then fail "$1" "$2 exists"; return 1; fi
	ok "$1"
	return 0
}

# ---- independent peers -------------------------------------------------------

# (sh has no local variables: each function keeps its own prefix)
# peer_openssl DESC CA CERT [CRL] [extra openssl verify options...]
peer_openssl() {
	_po_d=$1 _po_ca=$2 _po_c=$3
	shift 3
	_po_crl=
	if [ $# -gt 0 ] && [ -n "$1" ]; then _po_crl=$1; fi
	[ $# -gt 0 ] && shift
	if [ -n "$_po_crl" ]; then
		run openssl verify -x509_strict -crl_check -CAfile "$_po_ca" -CRLfile "$_po_crl" "$@" "$_po_c"
	else
		run openssl verify -x509_strict -CAfile "$_po_ca" "$@" "$_po_c"
	fi
	if [ "$RC" = 0 ] && grep -q ': OK$' "$W/.out"; then ok "openssl verify: $_po_d"; return 0; fi
	fail "openssl verify: $_po_d" "$(cat "$W/.out" "$W/.err" | grep -iE 'error|fail' | head -n 1 | cut -c1-160)"
	return 1
}
# peer_openssl_rejects DESC CA CERT CRL PATTERN: openssl verify must refuse, saying PATTERN
peer_openssl_rejects() {
	run openssl verify -x509_strict -crl_check -CAfile "$2" -CRLfile "$4" "$3"
	if [ "$RC" != 0 ] && cat "$W/.out" "$W/.err" | grep -qiE "$5"; then ok "openssl verify rejects: $1"; return 0; fi
	fail "openssl verify rejects: $1" "exit $RC: $(cat "$W/.out" "$W/.err" | tr '\n' ' ' | cut -c1-160)"
	return 1
}
# peer_certtool DESC CA CERT [CRL]
peer_certtool() {
	if [ -n "${4:-}" ]; then
		run certtool --verify --verify-profile medium --load-ca-certificate "$2" --load-crl "$4" --infile "$3"
	else
		run certtool --verify --verify-profile medium --load-ca-certificate "$2" --infile "$3"
	fi
	if [ "$RC" = 0 ] && grep -q 'Chain verification output: Verified' "$W/.out"; then
		ok "certtool verify: $1"
		return 0
	fi
	fail "certtool verify: $1" "exit $RC: $(grep -h 'verification output' "$W/.out" "$W/.err" | head -n 1 | cut -c1-160)"
	return 1
}
# peer_py DESC ARGS...: tests/peer.py under python-cryptography
peer_py() {
	_pp_d=$1
	shift
	run "$PY" "$PEER" "$@"
	if [ "$RC" = 0 ]; then ok "python-cryptography: $_pp_d"; return 0; fi
	fail "python-cryptography: $_pp_d" "$(cat "$W/.out" "$W/.err" | tail -n 1 | cut -c1-200)"
	return 1
}
# peer_crl DESC CA CRL [peer.py crl options...]: openssl crl signature + peer.py
peer_crl() {
	_pc_d=$1 _pc_ca=$2 _pc_crl=$3
	shift 3
	run openssl crl -CAfile "$_pc_ca" -in "$_pc_crl" -noout
	if [ "$RC" = 0 ] && grep -qi 'verify OK' "$W/.out" "$W/.err"; then
		ok "openssl crl: $_pc_d"
	else
		fail "openssl crl: $_pc_d" "exit $RC: $(cat "$W/.out" "$W/.err" | head -n 1)"
	fi
	peer_py "$_pc_d" crl "$_pc_crl" --ca "$_pc_ca" "$@"
}
# peer_host_cert DESC CA CERT CRL [peer.py cert options...]: all three peers
peer_host_cert() {
	_ph_d=$1 _ph_ca=$2 _ph_c=$3 _ph_crl=$4
	shift 4
	peer_openssl "$_ph_d" "$_ph_ca" "$_ph_c" "$_ph_crl" -purpose sslserver
	peer_openssl "$_ph_d (clientAuth)" "$_ph_ca" "$_ph_c" "$_ph_crl" -purpose sslclient
	peer_certtool "$_ph_d" "$_ph_ca" "$_ph_c" "$_ph_crl"
	peer_py "$_ph_d" cert "$_ph_c" --ca "$_ph_ca" ${_ph_crl:+--crl "$_ph_crl"} "$@"
}

pyget() { "$PY" "$PEER" get "$@" 2>/dev/null; } # FILE FIELD
numget() { # FILE FIELD: a number, 0 when the field cannot be read
	_v=$(pyget "$@")
	case $_v in '' | *[!0-9]*) echo 0 ;; *) echo "$_v" ;; esac
}
serial_of() { pyget "$1" serial; }
hostid_of() { pyget "$1" hostid; }
newuuid() { "$PY" -c 'import uuid; print(uuid.uuid4())'; }
now() { date +%s; }
norm_hex() { tr -d ': \n' | tr 'a-f' 'A-F'; }
fp_openssl() { openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/^.*=//' | norm_hex; }
sha() { sha256sum "$@" 2>/dev/null | cut -d' ' -f1; }
# serial_in FILE SERIAL: the hex serial appears (colons, case and leading zeros ignored)
serial_in() {
	_s=$(printf %s "$2" | norm_hex | sed 's/^0*//')
	[ -n "$_s" ] && tr -d ': ' <"$1" | tr 'a-f' 'A-F' | grep -q "$_s"
}
# check_serial_in / check_serial_out DESC FILE SERIAL (an empty SERIAL fails both)
check_serial_in() {
	if [ -z "$3" ]; then fail "$1" "no serial to look for"; return 1; fi
	if serial_in "$2" "$3"; then ok "$1"; return 0; fi
	fail "$1" "serial $3 not in $(basename "$2")"
	return 1
}
check_serial_out() {
	if [ -z "$3" ]; then fail "$1" "no serial to look for"; return 1; fi
	if serial_in "$2" "$3"; then fail "$1" "serial $3 listed"; return 1; fi
	ok "$1"
	return 0
}

# ---- fixtures ------------------------------------------------------------------

# fixkey TYPE: path of a cached openssl key (shared by all passes of run.sh).
# TYPE: ec-p256 ec-p384 ec-p521 rsa-1024 rsa-2048 rsa-3072 rsa-4096 ed25519 dsa secp256k1
fixkey() {
	_k=$T_FIX/$1.key
	if [ ! -s "$_k" ]; then
		case $1 in
		ec-p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$_k.tmp.$$" ;;
		ec-p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$_k.tmp.$$" ;;
		ec-p521) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out "$_k.tmp.$$" ;;
		secp256k1) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out "$_k.tmp.$$" ;;
		rsa-*) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:"${1#rsa-}" -out "$_k.tmp.$$" ;;
		ed25519) openssl genpkey -algorithm ED25519 -out "$_k.tmp.$$" ;;
		dsa)
			openssl genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:2048 -out "$_k.param.$$" &&
				openssl genpkey -paramfile "$_k.param.$$" -out "$_k.tmp.$$"; rm -f "$_k.param.$$"
			;;
		*) echo "fixkey: unknown $1" >&2; return 2 ;;
		esac >/dev/null 2>&1 || { rm -f "$_k.tmp.$$"; return 1; }
		# per-process temporary: the two lanes of run.sh may make one at once
		mv "$_k.tmp.$$" "$_k"
	fi
	printf '%s\n' "$_k"
}
# fresh_key TYPE FILE: a new key (for hosts that must not share a key)
fresh_key() {
	case $1 in
	ec-p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" ;;
	ec-p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$2" ;;
	rsa-2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$2" ;;
	esac >/dev/null 2>&1
}
# mkcsr KEY OUT SUBJ [SAN]: an openssl CSR (SAN like "DNS:a,IP:10.0.0.1")
mkcsr() {
	if [ -n "${4:-}" ]; then
		openssl req -new -key "$1" -out "$2" -subj "$3" -addext "subjectAltName=$4" 2>/dev/null
	else
		openssl req -new -key "$1" -out "$2" -subj "$3" 2>/dev/null
	fi
}

# ca_state DIR: a fingerprint of everything a refusal must leave alone
# (keys, certificates, CRL, the CA's listings); the journal may grow.
ca_state() {
	(
		cd "$1" 2>/dev/null || exit 0
		sha256sum ca.key ca.pem crl.pem 2>/dev/null
		ls -la . | awk '{print $1, $NF}' | grep -vE ' (journal|lock|index|\.|\.\.)$' | grep -v '^total'
	)
	hc -C "$1" ca list 2>/dev/null
	hc -C "$1" ca hosts 2>/dev/null
	hc -C "$1" token list 2>/dev/null
}
# tree_state DIR: names, sizes and checksums of every file under DIR
tree_state() {
	(cd "$1" 2>/dev/null && find . -type f -o -type l | LC_ALL=C sort | while read -r f; do
		printf '%s %s\n' "$f" "$(sha256sum "$f" 2>/dev/null | cut -d' ' -f1)"
	done)
}

# hold_lock DIR SECONDS: another process holds hostca's lock on DIR (flock
# on the directory itself, as hostca takes it) for SECONDS, in the
# background; returns once it is held. LPID is that process.
hold_lock() {
	rm -f "$W/.locked"
	"$PY" -c '
import fcntl, os, sys, time
fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
' "$1" "$W/.locked" "$2" &
	LPID=$!
	T_BG_PIDS="${T_BG_PIDS:-} $LPID"
	_hl=0
	while [ ! -e "$W/.locked" ] && [ $_hl -lt 50 ]; do sleep 0.1; _hl=$((_hl + 1)); done
}

# free_port: an unused loopback TCP port
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# tls_pair DESC CA SRV_CERT SRV_KEY CLI_CERT CLI_KEY SRV_NAME EXPECT(ok|reject)
# Mutual TLS between openssl s_server and s_client, loopback only, bounded.
tls_pair() {
	_d=$1 _ca=$2 _sc=$3 _sk=$4 _cc=$5 _ck=$6 _sn=$7 _want=$8
	for _f in "$_ca" "$_sc" "$_sk" "$_cc" "$_ck"; do
		[ -s "$_f" ] || { fail "TLS: $_d" "$_f missing"; return 1; }
	done
	_port=$(free_port)
	timeout 30 openssl s_server -accept "127.0.0.1:$_port" -cert "$_sc" -key "$_sk" -CAfile "$_ca" \
		-Verify 1 -verify_return_error -www -quiet >"$W/.srv" 2>&1 &
	_spid=$!
	T_BG_PIDS="${T_BG_PIDS:-} $_spid"
	_i=0
	_got=
	while [ $_i -lt 40 ]; do
		printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$_port" \
			-cert "$_cc" -key "$_ck" -CAfile "$_ca" -verify_return_error \
			${_sn:+-verify_hostname "$_sn"} -ign_eof >"$W/.cli" 2>&1
		if grep -q CONNECTED "$W/.cli"; then _got=1; break; fi
		kill -0 "$_spid" 2>/dev/null || break
		_i=$((_i + 1))
		sleep 0.25
	done
	kill "$_spid" 2>/dev/null
	wait "$_spid" 2>/dev/null
	if [ -z "$_got" ]; then
		fail "TLS: $_d" "no connection to s_server on port $_port: $(grep -iE 'error' "$W/.srv" | head -n 1 | cut -c1-120)"
		return 1
	fi
	if grep -q 'Verify return code: 0 (ok)' "$W/.cli" && grep -q 'HTTP/1.0 200 ok' "$W/.cli"; then
		_res=ok
	else
		_res=reject
	fi
	if [ "$_res" = "$_want" ]; then ok "TLS: $_d"; return 0; fi
	fail "TLS: $_d" "handshake $_res, want $_want: $(grep -iE 'verify return|error|alert' "$W/.cli" "$W/.srv" | head -n 2 | tr '\n' ' ' | cut -c1-200)"
	return 1
}

# enroll CADIR HOSTDIR NAME TOKEN MEDIA [more host request options...]
# The whole media round trip; 0 when the host ends up with a certificate.
enroll() {
	_ca=$1 _h=$2 _n=$3 _t=$4 _m=$5
	shift 5
	mkdir -p "$_m"
	hc -H "$_h" host request --media "$_m" --name "$_n" ${_t:+--token "$_t"} "$@" >/dev/null 2>&1 || return 1
	hc -C "$_ca" ca sign --media "$_m" >/dev/null 2>&1 || return 1
	hc -H "$_h" host install --media "$_m" --ca-fingerprint "$(fp_openssl "$_ca/ca.pem")" >/dev/null 2>&1 || return 1
	[ -s "$_h/host.pem" ]
}
