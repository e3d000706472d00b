#!/bin/sh
# t_operator.sh: what an operator meets when something is off -- each case
# a clear message that says what to do, the right exit code, no damage.
. "$(dirname "$0")/lib.sh"
section "operator mistakes and the messages they get"

hc -C ca ca init --name Operator-CA --security medium >/dev/null 2>&1
FP=$(fp_openssl ca/ca.pem)

# host request on a stick that is not mounted: refused before any identity
expect_exit 2 "host request: media missing" -- hc -H h0 host request --media /nonexistent/stick --name h0.example
check_grep "host request: asks whether the stick is mounted" "mounted" "$W/.err"
check_nofile "host request: no host ID made for nothing" h0/hostid

# first install without a fingerprint: no fingerprint from the untrusted media in the hint
mkdir -p m
hc -H h1 host request --media m --name h1.example >/dev/null 2>&1
hc -C ca ca sign --media m >/dev/null 2>&1
expect_exit 2 "first install without --ca-fingerprint refused" -- hc -H h1 host install --media m
check_nogrep "the hint does not repeat the media's fingerprint" "$(printf %s "$FP" | cut -c1-11)" "$W/.err"
check_grep "the hint says where the fingerprint comes from" "ca show" "$W/.err"
expect_exit 0 "install with the fingerprint" -- hc -H h1 host install --media m --ca-fingerprint "$FP"

# a refused request: the host is told its request is still waiting or refused
hc -C ca ca config security high >/dev/null 2>&1
hc -H h2 host request --media m --name h2.example >/dev/null 2>&1
expect_exit 1 "CA refuses a request without a token" -- hc -C ca ca sign --media m
expect_exit 2 "host install after a refusal" -- hc -H h2 host install --media m --ca-fingerprint "$FP"
check_grep "host install: says the request was not signed or was refused" "not signed it yet or refused" "$W/.err"
hc -C ca ca config security medium >/dev/null 2>&1

# a key revoked as compromised is never certified again
hc -C ca ca revoke --host h1.example --reason keyCompromise >/dev/null 2>&1
T=$(hc -C ca token create --reissue --host h1.example 2>/dev/null)
hc -H h1 host request --media m --name h1.example --token "$T" >/dev/null 2>&1
expect_exit 1 "reissue with the compromised key refused" -- hc -C ca ca sign --media m
check_grep "the refusal says a new key is needed" "compromised.*new-key" "$W/.err"
hc -H h1 host request --media m --name h1.example --token "$T" --new-key >/dev/null 2>&1
expect_exit 0 "reissue with a new key signed" -- hc -C ca ca sign --media m
expect_exit 0 "host install adopts the new key" -- hc -H h1 host install --media m
expect_exit 0 "h1 usable again" -- hc -H h1 host status

# wildcard names, as a common name too
fresh_key ec-p256 w.key
mkcsr w.key w.csr "/CN=*.plant.example"
expect_exit 1 "wildcard common name refused" -- hc -C ca ca sign --csr w.csr
check_grep "says wildcards are not issued" "wildcard" "$W/.err"

# show: a request hostca refuses is not shown as if it were fine
openssl req -new -newkey rsa:1024 -nodes -keyout /dev/null -subj /CN=small -out small.csr 2>/dev/null
expect_exit 1 "show of an unsupported request exits 1" -- hc show small.csr
check_grep "show says why" "1024 bits" "$W/.err"
expect_exit 1 "show --json of it exits 1" -- hc --json show small.csr
check "show --json output is still one JSON document: not ok, exit 1, the reason as its error" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "show" and d["ok"] is False and d["exit"] == 1, d
assert "1024 bits" in d["error"]["message"], d["error"]
assert not any(o.get("type") == "request" for o in d.get("objects", [])), d["objects"]' "$W/.out"

# an expired CRL never goes out on a stick, and a host with one is told
mkdir -p m2
hc -H h3 host request --media m2 --name h3.example >/dev/null 2>&1
LATER=$(($(now) + 9 * 86400))
expect_exit 0 "sign --media with the CRL expired (clock +9 days)" -- env HOSTCA_NOW=$LATER "$HOSTCA_T" -C ca ca sign --media m2
check_grep "sign --media renewed the expired CRL" "had expired: published CRL" "$W/.err"
check "the CRL on the stick is current at that time" "$PY" -c '
import sys, datetime
from cryptography import x509
c = x509.load_pem_x509_crl(open("m2/crl.pem", "rb").read())
assert c.next_update.replace(tzinfo=datetime.timezone.utc).timestamp() > int(sys.argv[1])
' "$LATER"
hc -H h1 host update --media m >/dev/null 2>&1
expect_exit 1 "host status with an expired CRL exits 1 (peers refuse every certificate)" -- env HOSTCA_NOW=$LATER "$HOSTCA_T" -H h1 host status
check_grep "host status flags the expired CRL" "CRL.*expired" "$W/.out"
expect_exit 1 "--json host status with an expired CRL exits 1" -- env HOSTCA_NOW=$LATER "$HOSTCA_T" -H h1 --json host status
check "host status --json: the certificate is still usable, the CRL expired" "$PY" -c '
import json, sys
h = json.load(open(sys.argv[1]))["host"]
assert h["usable"] is True and h["crl_expired"] is True, h' "$W/.out"

# commands: a group alone lists its commands; unknown commands say so once
expect_exit 0 "hostca token --help lists the token commands" -- hc token --help
check_grep "... token create among them" "token create" "$W/.out"
expect_exit 2 "unknown command" -- hc bogus
check_nogrep "no doubled prefix" "hostca: hostca:" "$W/.err"
expect_exit 0 "ca check --json" -- hc -C ca ca check --json
check "ca check --json is JSON and says consistent" "$PY" -c '
import json, sys
c = json.load(open(sys.argv[1]))["check"]
assert c["consistent"] is True and c["problems"] == [], c' "$W/.out"
finish
