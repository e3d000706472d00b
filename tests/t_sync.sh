#!/bin/sh
# t_sync.sh: host sync -- what a host does when a stick arrives (issue 14):
# install its response, take a newer CRL, write a renewal request once the
# certificate is past --renew-at percent of its life, and say how it stands.
# Time moves with HOSTCA_NOW (test builds); OpenSSL judges the certificates.
. "$(dirname "$0")/lib.sh"
section "host sync: a host that keeps itself current from a stick"

NOW=$(date +%s)
at() { HOSTCA_NOW=$((NOW + $1 * 86400)) "$@"; }
hct -C ca ca init --name Sync-CA --security medium >/dev/null 2>&1
FP=$(fp_openssl ca/ca.pem)
mkdir -p m
hct -H h host request --media m --name sync1.example >/dev/null 2>&1
ID=$(cat h/hostid)
hct -C ca ca sign --media m >/dev/null 2>&1

# 1. A first sync installs the response (the pin given as at first install).
expect_exit 0 "sync: first sync installs the response and is healthy" -- \
	"$HOSTCA_T" -H h host sync --media m --ca-fingerprint "$FP"
check_grep "sync: ... says it installed it" "installed the certificate from responses/$ID.pem" "$W/.out"
check_file "sync: ... host.pem is there" h/host.pem
peer_openssl "sync: openssl accepts the installed certificate with the CRL" ca/ca.pem h/host.pem ca/crl.pem
S1=$(serial_of h/host.pem)
expect_exit 0 "sync: a second sync has nothing to install" -- "$HOSTCA_T" -H h host sync --media m
check_grep "sync: ... and says so" "installed already" "$W/.out"
check "sync: ... and writes no request" test ! -e "m/requests/$ID.pem"

# 2. Before half of its life: nothing to renew; after it: a renewal request.
#    (The operator brings a current CRL each time: ca export.)
HOSTCA_NOW=$((NOW + 100 * 86400)) hct -C ca ca export --media m >/dev/null 2>&1
HOSTCA_NOW=$((NOW + 100 * 86400)) expect_exit 0 "sync: at day 100 of 365 nothing is due" -- \
	"$HOSTCA_T" -H h host sync --media m
check "sync: ... no request written" test ! -e "m/requests/$ID.pem"
HOSTCA_NOW=$((NOW + 200 * 86400)) hct -C ca ca export --media m >/dev/null 2>&1
HOSTCA_NOW=$((NOW + 200 * 86400)) expect_exit 0 "sync: --renew-at 90 at day 200: not due" -- \
	"$HOSTCA_T" -H h host sync --media m --renew-at 90
check "sync: ... no request written" test ! -e "m/requests/$ID.pem"
HOSTCA_NOW=$((NOW + 200 * 86400)) expect_exit 0 "sync: at day 200 the renewal is due and written" -- \
	"$HOSTCA_T" --json -H h host sync --media m
check_file "sync: ... the renewal request is on the stick" "m/requests/$ID.pem"
check "sync: ... openssl accepts the request's signature" openssl req -verify -noout -in "m/requests/$ID.pem"
cp "$W/.out" sync.json
check "sync: ... its JSON lists the action and the next step" "$PY" -c '
import json, sys
d = json.load(open("sync.json"))
s = d["sync"]
assert d["ok"] and d["exit"] == 0 and s["healthy"], d
assert any("renewal request" in a for a in s["actions"]), s
assert any("ca sign" in n for n in s["next"]), s
assert d["host"]["renewal_due"] is True, d["host"]
'
HOSTCA_NOW=$((NOW + 200 * 86400)) expect_exit 0 "sync: again before the CA signed: the request waits" -- \
	"$HOSTCA_T" -H h host sync --media m
check_grep "sync: ... and says it is on the stick already" "on the stick already" "$W/.out"

# 3. The CA renews it (no token: the current certificate proves it); the
#    next sync installs the new certificate.
HOSTCA_NOW=$((NOW + 201 * 86400)) expect_exit 0 "sync: the CA signs the renewal" -- \
	"$HOSTCA_T" -C ca ca sign --media m
HOSTCA_NOW=$((NOW + 201 * 86400)) expect_exit 0 "sync: the next sync installs the renewed certificate" -- \
	"$HOSTCA_T" -H h host sync --media m
check_ne "sync: ... a new serial" "$(serial_of h/host.pem)" "$S1"
check "sync: ... and no renewal is due any more" test ! -e "m/requests/$ID.pem"
HOSTCA_NOW=$((NOW + 201 * 86400)) expect_exit 0 "sync: host status healthy after it" -- "$HOSTCA_T" -H h host status

# 4. A CRL past its nextUpdate: peers refuse every certificate, so neither
#    host status nor host sync calls the host healthy; a fresh CRL on the
#    stick cures it.
HOSTCA_NOW=$((NOW + 230 * 86400)) expect_exit 1 "sync: host status exits 1 on an expired CRL" -- \
	"$HOSTCA_T" -H h host status
check_grep "sync: ... and says why" "CRL .*expired" "$W/.err"
HOSTCA_NOW=$((NOW + 230 * 86400)) expect_exit 1 "sync: host sync is not healthy either (old CRL on the stick)" -- \
	"$HOSTCA_T" -H h host sync --media m
HOSTCA_NOW=$((NOW + 230 * 86400)) expect_exit 0 "sync: the CA exports a fresh CRL" -- \
	"$HOSTCA_T" -C ca ca export --media m
HOSTCA_NOW=$((NOW + 230 * 86400)) expect_exit 0 "sync: the next sync takes it and is healthy" -- \
	"$HOSTCA_T" -H h host sync --media m
check "sync: openssl accepts the host's certificate with the host's CRL (at that time)" \
	openssl verify -x509_strict -crl_check -attime $((NOW + 230 * 86400 + 60)) \
	-CAfile ca/ca.pem -CRLfile h/crl.pem h/host.pem

# 4b. No CRL at all: peers that check CRLs refuse the certificate too.
mv h/crl.pem crl.saved
HOSTCA_NOW=$((NOW + 230 * 86400)) expect_exit 1 "sync: host status exits 1 without a CRL" -- \
	"$HOSTCA_T" -H h host status
mv crl.saved h/crl.pem

# 5. Usage and a host that is not there.
expect_exit 2 "sync: --media is required" -- "$HOSTCA_T" -H h host sync
expect_exit 2 "sync: --renew-at takes 1..99" -- "$HOSTCA_T" -H h host sync --media m --renew-at 100
expect_exit 2 "sync: no host identity: a clear refusal" -- "$HOSTCA_T" -H nohost host sync --media m
check_grep "sync: ... that says to run host request" "host request" "$W/.err"
finish
