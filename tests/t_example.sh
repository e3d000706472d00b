#!/bin/sh
# t_example.sh: tests/example, a device program that uses only hostca.h
# (the library built with -DHOSTCA_NO_MAIN): its CSR is signed by the hostca
# CLI, and it checks the response the way firmware would.
. "$(dirname "$0")/lib.sh"

EX=${T_EXAMPLE:-$T_REPO/tests/example}
if [ ! -x "$EX" ]; then
	skip "tests/example" "not built (make tests/example)"
	finish
fi

hc -C ca ca init --name Example-CA --security medium >/dev/null 2>&1
hc -C other ca init --name Other-CA --security medium >/dev/null 2>&1
mkdir -p dev dev2
expect_exit 0 "example request (library CSR)" -- "$EX" request dev dev1.example 10.0.0.9
ID=$(out | head -n 1)
peer_py "example: host ID is a UUID v4" uuid "$ID"
check "example: openssl req -verify accepts the library's CSR" openssl req -verify -noout -in dev/csr.pem
peer_py "example: CSR carries the host ID" csr dev/csr.pem --hostid "$ID"
expect_exit 0 "hostca ca sign --csr signs the library's CSR" -- hc -C ca ca sign --csr dev/csr.pem --out dev.pem
check_eq "example: host ID kept" "$(hostid_of dev.pem)" "$ID"
peer_host_cert "example device certificate" ca/ca.pem dev.pem ca/crl.pem --hostid "$ID" --dns dev1.example --ip 10.0.0.9
hc -C other ca sign --csr dev/csr.pem --out foreign.pem >/dev/null 2>&1
"$EX" request dev2 dev2.example >/dev/null 2>&1
hc -C ca ca sign --csr dev2/csr.pem --out dev2.pem >/dev/null 2>&1
N=$(now)
while IFS='|' read -r code desc args; do
	# shellcheck disable=SC2086
	expect_exit "$code" "example install: $desc" -- "$EX" install $args
done <<EOF
0|good response with the CRL|dev ca/ca.pem dev.pem ca/crl.pem --now $N
0|a device without a clock (--now 0)|dev ca/ca.pem dev.pem ca/crl.pem --now 0
0|no malloc: the library from a static arena|dev ca/ca.pem dev.pem ca/crl.pem --now $N --pool
nz|certificate from another CA|dev ca/ca.pem foreign.pem --now $N
nz|certificate for another device's key|dev ca/ca.pem dev2.pem --now $N
nz|expired (clock +2 years)|dev ca/ca.pem dev.pem --now $((N + 730 * 86400))
nz|CRL of another CA|dev ca/ca.pem dev.pem other/crl.pem --now $N
EOF
"$EX" install dev ca/ca.pem dev.pem ca/crl.pem --now "$N" --pool >pool.txt 2>&1
check_grep "example: the static arena is all given back" "0 blocks still live" pool.txt

# The CLI on a host whose clock reads 1970: the first install takes its
# time floor from the response and the CA's CRL. The release binary under
# faketime (not in the sanitizer pass: ASan must come first in the preload
# list), and the hooks build with HOSTCA_NOW.
clockless() { # LABEL DIR CMD-PREFIX...
	_l=$1 _d=$2
	shift 2
	mkdir -p "m-$_d"
	"$@" -H "$_d" host request --media "m-$_d" --name "$_d.example" >/dev/null 2>&1
	hc -C ca ca sign --media "m-$_d" >/dev/null 2>&1
	expect_exit 0 "$_l: first install of a fresh certificate" -- "$@" -H "$_d" host install --media "m-$_d" --ca-fingerprint "$(fp_openssl ca/ca.pem)"
	expect_exit 0 "$_l: host status usable (time floor)" -- "$@" -H "$_d" host status
}
case "$T_LABEL" in
*asan*) skip "1970 clock under faketime" "not with ASan" ;;
*)
	if command -v faketime >/dev/null 2>&1; then
		clockless "1970 clock (faketime)" h70 faketime '1970-01-02 00:00:00' "$HOSTCA"
	else
		skip "1970 clock under faketime" "faketime is not installed"
	fi
	;;
esac
clockless "1970 clock (HOSTCA_NOW)" h71 env HOSTCA_NOW=86400 "$HOSTCA_T"

hc -C ca ca revoke --serial "$(serial_of dev.pem)" --reason keyCompromise >/dev/null 2>&1
expect_exit nz "example install: revoked by the CRL" -- "$EX" install dev ca/ca.pem dev.pem ca/crl.pem --now "$N"

finish
