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
nz|certificate from another CA|dev ca/ca.pem foreign.pem --now $N
nz|certificate for another device's key|dev ca/ca.pem dev2.pem --now $N
nz|expired (clock +2 years)|dev ca/ca.pem dev.pem --now $((N + 730 * 86400))
nz|CRL of another CA|dev ca/ca.pem dev.pem other/crl.pem --now $N
EOF
hc -C ca ca revoke --serial "$(serial_of dev.pem)" --reason keyCompromise >/dev/null 2>&1
expect_exit nz "example install: revoked by the CRL" -- "$EX" install dev ca/ca.pem dev.pem ca/crl.pem --now "$N"

finish
