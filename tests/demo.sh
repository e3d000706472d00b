#!/bin/sh
# demo.sh: the whole offline lifecycle of hostca, narrated (`make demo`).
#
#   sh tests/demo.sh ./hostca
#
# A CA machine, two hosts (web1, db1) and one USB stick (a directory), all in
# a temporary directory. Each step says what it does, shows the command, runs
# it, and the demo stops with exit 1 if a step does not end as expected.
set -u
BIN=${1:-./hostca}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
[ -x "$BIN" ] || { echo "demo: $BIN not found (make hostca)" >&2; exit 2; }

DEMO=$(mktemp -d /tmp/hostca-demo.XXXXXX) || exit 2
SRV=
cleanup() {
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	cd /
	rm -rf "$DEMO"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$DEMO" || exit 2

hostca() { "$BIN" "$@"; }
n=0
say() {
	n=$((n + 1))
	printf '\n%d. %s\n' "$n" "$*"
}
# step [EXPECTED_EXIT] 'command line': show it, run it, check its exit code
step() {
	want=0
	if [ $# -gt 1 ]; then want=$1; shift; fi
	printf '   $ %s\n' "$1"
	eval "$1" >"$DEMO/.step" 2>"$DEMO/.steperr"
	rc=$?
	sed 's/^/     /' "$DEMO/.step" "$DEMO/.steperr"
	if [ "$rc" != "$want" ]; then
		printf '\ndemo: step %d exited %s, expected %s -- stopping\n' "$n" "$rc" "$want" >&2
		exit 1
	fi
	[ "$want" != 0 ] && printf '     (exit %s, as expected)\n' "$rc"
	return 0
}

echo "hostca demo: an offline CA, two hosts and one USB stick (in $DEMO)"

say "The CA admin creates the CA on the offline machine. It prints the CA's SHA-256 fingerprint: read it out to whoever installs hosts."
step 'hostca -C ca ca init --name "Demo Plant CA" --key ec-p256'
FP=$(sed -n 1p "$DEMO/.step")
step 'hostca -C ca ca show'

say "The admin creates an authorization token for two hosts, valid one day. Its value is printed once; the CA keeps only a hash."
step 'hostca -C ca token create --name line-1 --max-uses 2 --valid 24h --reason "commissioning line 1"'
TOKEN=$(sed -n 1p "$DEMO/.step")
step 'hostca -C ca token list'

say "A USB stick is mounted; here it is simply the directory stick/."
step 'mkdir stick'

say "On each host, the operator types the token (case and dashes do not matter) and writes a request to the stick."
lower=$(printf %s "$TOKEN" | tr A-Z a-z)
step "hostca -H web1 host request --media stick --name web1 --alt-name web1.plant.example --alt-name 127.0.0.1 --token '$TOKEN'"
step "hostca -H db1 host request --media stick --name db1 --alt-name db1.plant.example --token '$lower'"
step 'ls stick/requests'

say "Back at the CA, the admin first reviews what is on the stick (this changes nothing) ..."
step 'hostca -C ca ca sign --media stick --list'
say "... then signs every request. Answers, the CA certificate and the CRL go onto the stick."
step 'hostca -C ca ca sign --media stick'
step 'ls stick stick/responses'

say "Each host syncs from the stick: installs its certificate (pinning the CA by the fingerprint read out in step 1), takes the CRL, says how it stands."
step "hostca -H web1 host sync --media stick --ca-fingerprint $FP"
step "hostca -H db1 host sync --media stick --ca-fingerprint $FP"
step 'hostca -H web1 host status'
step 'hostca -H db1 host status'
step 'hostca -C ca ca hosts'

say "The two hosts talk mutual TLS with their hostca certificates (plain openssl, loopback only)."
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 18443)
timeout 30 openssl s_server -accept "127.0.0.1:$PORT" -cert web1/host.pem -key web1/host.key -CAfile web1/ca.pem \
	-Verify 1 -verify_return_error -www -quiet >/dev/null 2>&1 &
SRV=$!
printf '   (web1: openssl s_server -accept 127.0.0.1:%s -cert web1/host.pem -key web1/host.key -CAfile web1/ca.pem -Verify 1 -verify_return_error -www)\n' "$PORT"
i=0
while [ $i -lt 40 ]; do
	printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -cert db1/host.pem -key db1/host.key \
		-CAfile db1/ca.pem -verify_return_error -verify_hostname web1.plant.example -ign_eof >tls.out 2>&1
	grep -q CONNECTED tls.out && break
	i=$((i + 1))
	sleep 0.25
done
step "grep -E '^(subject|issuer)=|^Verify return code|^HTTP/1.0' tls.out"
step "grep -q 'Verify return code: 0 (ok)' tls.out && grep -q 'HTTP/1.0 200 ok' tls.out && echo 'mutual TLS handshake: OK'"
kill "$SRV" 2>/dev/null
wait "$SRV" 2>/dev/null
SRV=

say "db1's key is feared stolen: the admin revokes db1 and carries the new CRL out."
step 'hostca -C ca ca revoke --host db1 --reason keyCompromise'
step 'hostca -C ca ca export --media stick'
step 'openssl crl -in ca/crl.pem -noout -text | grep -E "CRL Number|Serial Number|Reason Code" -A1'
say "db1 syncs: it takes the newer CRL from the stick and reports itself revoked (exit 1)."
step 1 'hostca -H db1 host sync --media stick'

say "db1 gets a fresh key and certificate with a reissue token: single use, bound to db1's host ID."
step 'hostca -C ca token create --reissue --host db1 --reason "key compromise, new key"'
RT=$(sed -n 1p "$DEMO/.step")
step "hostca -H db1 host request --media stick --name db1 --alt-name db1.plant.example --new-key --token '$RT'"
step 'hostca -C ca ca sign --media stick'
step 'hostca -H db1 host sync --media stick'
step 'hostca -C ca ca list'

say "Anyone can check the certificates with standard tools, and the CA's history is tamper-evident."
step 'openssl verify -x509_strict -crl_check -CAfile ca/ca.pem -CRLfile ca/crl.pem web1/host.pem db1/host.pem'
step 'hostca -C ca ca audit --verify'

printf '\n--- Act two: the lifecycle of the CA itself ---\n'
say "Years later the CA certificate nears its end: the admin renews it (same key, same subject)."
step 'hostca -C ca ca renew --days 9125'
step 'openssl x509 -in ca/ca.pem -noout -enddate -ext subjectKeyIdentifier'
say "The stick carries it; web1 syncs and takes it, since the key it pinned signed it."
step 'hostca -C ca ca export --media stick'
step 'hostca -H web1 host sync --media stick'
step 'cmp web1/ca.pem ca/ca.pem'
say "Certificates issued before the renewal still verify under the renewed CA certificate."
step 'openssl verify -x509_strict -crl_check -CAfile ca/ca.pem -CRLfile ca/crl.pem web1/host.pem'
say "The site moves the CA to a P-384 key: a rollover. The old key signs a link certificate for the new one."
step 'hostca -C ca ca rollover --key ec-p384'
step 'hostca -C ca ca show'
say "The stick carries both CAs, both CRLs and the link. Each host follows the link (checked with the key it pins) and asks to renew onto the new key -- no token."
step 'hostca -C ca ca export --media stick'
step 'hostca -H web1 host sync --media stick'
step 'hostca -H db1 host sync --media stick'
step 'hostca -C ca ca sign --media stick'
step 'hostca -H web1 host sync --media stick'
step 'hostca -H db1 host sync --media stick'
step 'openssl verify -x509_strict -crl_check -CAfile ca/ca.pem -CRLfile ca/crl.pem web1/host.pem db1/host.pem'
say "Every host is on the new key: the admin retires the old one, and hosts drop it at their next sync."
step 'hostca -C ca ca rollover --finish'
step 'hostca -C ca ca export --media stick'
step 'hostca -H web1 host sync --media stick'
step 'grep -c "BEGIN CERTIFICATE" web1/trust.pem'
say "A backup split 2-of-3 across three sticks: any two restore the CA, one does not."
step 'mkdir -p s1 s2 s3 && hostca -C ca ca backup --shares 2-of-3 --media s1 --media s2 --media s3'
step 1 'hostca -C restored ca restore --from s2'
step 'hostca -C restored ca restore --from s1 --from s3'

printf '\ndemo: all %d steps done.\n' "$n"
