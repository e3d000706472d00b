#!/bin/sh
# t_verify.sh: `hostca verify` (chain, validity, revocation), `hostca show`,
# and a mutual TLS handshake between hostca certificates (openssl s_server/s_client).
. "$(dirname "$0")/lib.sh"

# Two CAs at security medium; host certificates from openssl CSRs.
hc -C A ca init --name Verify-A --security medium >/dev/null 2>&1
hc -C B ca init --name Verify-B --security medium >/dev/null 2>&1
hc -C R ca init --name Verify-RSA --key rsa-2048 --security medium >/dev/null 2>&1
for d in A B R; do [ -s $d/ca.pem ] || fail "setup: ca init $d" "no $d/ca.pem"; done
mkhost() { # CA NAME KEYTYPE IP
	fresh_key "$3" "$2.key"
	u=$(newuuid)
	mkcsr "$2.key" "$2.csr" "/CN=$u" "DNS:$2.example,IP:$4" &&
		hc -C "$1" ca sign --csr "$2.csr" --out "$2.pem" >/dev/null 2>&1
	echo "$u" >"$2.id"
}
mkhost A h1 ec-p256 127.0.0.1
mkhost A h2 ec-p256 127.0.0.2
mkhost A h3 ec-p384 127.0.0.3
mkhost B other ec-p256 127.0.0.4
mkhost R r1 rsa-2048 127.0.0.5
mkhost R r2 rsa-2048 127.0.0.6
for h in h1 h2 h3 other r1 r2; do check_file "setup: $h certificate issued" $h.pem; done

section "hostca verify (table: exit code per case)"
hc -C A ca revoke --serial "$(serial_of h3.pem)" --reason keyCompromise >/dev/null 2>&1
FUTURE=2200-01-01T00:00:00Z
PAST=2000-01-01T00:00:00Z
while IFS='|' read -r code desc args; do
	# shellcheck disable=SC2086
	expect_exit "$code" "verify: $desc" -- hc verify $args
done <<EOF
0|good certificate|--ca A/ca.pem h1.pem
0|good certificate with the CRL|--ca A/ca.pem --crl A/crl.pem h1.pem
0|second host with the CRL|--ca A/ca.pem --crl A/crl.pem h2.pem
0|RSA CA and host|--ca R/ca.pem --crl R/crl.pem r1.pem
1|certificate from another CA|--ca A/ca.pem other.pem
1|certificate from another CA, with a CRL|--ca A/ca.pem --crl A/crl.pem other.pem
1|revoked certificate|--ca A/ca.pem --crl A/crl.pem h3.pem
1|expired (--at far future)|--ca A/ca.pem --at $FUTURE h1.pem
1|not yet valid (--at far past)|--ca A/ca.pem --at $PAST h1.pem
1|CRL of another CA|--ca A/ca.pem --crl B/crl.pem h1.pem
2|missing certificate file|--ca A/ca.pem nonexistent.pem
EOF
"$PY" "$PEER" mangle sig h1.pem h1-forged.pem
expect_exit 1 "verify: certificate with a flipped signature byte" -- hc verify --ca A/ca.pem h1-forged.pem
"$PY" "$PEER" mangle body h1.pem h1-body.pem "$(cat h1.id)"
expect_exit 1 "verify: certificate with a changed subject byte" -- hc verify --ca A/ca.pem h1-body.pem
peer_openssl_rejects "revoked h3 (cross-check of hostca verify)" A/ca.pem h3.pem A/crl.pem 'revoked'
peer_openssl "h1 with the CRL (cross-check of hostca verify)" A/ca.pem h1.pem A/crl.pem

section "hostca show"
expect_exit 0 "show a certificate" -- hc show h1.pem
check_grep "show: certificate mentions the host ID" "$(cat h1.id)" "$W/.out"
check_grep "show: certificate mentions its DNS name" 'h1\.example' "$W/.out"
tr -d ': ' <"$W/.out" | tr a-f A-F >show.txt
check_grep "show: certificate mentions its serial" "$(serial_of h1.pem | sed 's/^0*//')" show.txt
expect_exit 0 "show a CSR" -- hc show h2.csr
check_grep "show: CSR mentions the host ID" "$(cat h2.id)" "$W/.out"
expect_exit 0 "show a CRL" -- hc show A/crl.pem
tr -d ': ' <"$W/.out" | tr a-f A-F >show.txt
check_grep "show: CRL lists the revoked serial" "$(serial_of h3.pem | sed 's/^0*//')" show.txt
expect_exit 0 "show the CA certificate" -- hc show A/ca.pem
check_grep "show: CA certificate names the CA" 'Verify-A' "$W/.out"
head -c 300 /dev/urandom >junk.bin
expect_exit nz "show refuses garbage" -- hc show junk.bin
expect_exit 0 "--json show a certificate" -- hc --json show h1.pem
cp "$W/.out" show.json
check "show --json is valid JSON: one document, the certificate under \"objects\"" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "show" and d["ok"] is True, d
assert [o["type"] for o in d["objects"]] == ["certificate"], d["objects"]' show.json
check_eq "show --json carries the host ID" "$(pyget show.json objects.0.host_id)" "$(cat h1.id)"

section "mutual TLS between two hostca certificates"
tls_pair "EC hosts h1 (server) <-> h2 (client), hostname checked" A/ca.pem h1.pem h1.key h2.pem h2.key h1.example ok
tls_pair "EC hosts h2 (server) <-> h1 (client)" A/ca.pem h2.pem h2.key h1.pem h1.key h2.example ok
tls_pair "RSA hosts r1 <-> r2" R/ca.pem r1.pem r1.key r2.pem r2.key r1.example ok
tls_pair "client from another CA is rejected" A/ca.pem h1.pem h1.key other.pem other.key h1.example reject
tls_pair "wrong hostname is rejected" A/ca.pem h1.pem h1.key h2.pem h2.key h2.example reject

finish
