#!/bin/sh
# t_crash.sh: crashes at every durable write point (SPEC section 5), with the
# test hook HOSTCA_FAULT=<point>:<n> (SIGKILL at the n-th passage). After each
# crash the CA must be before or after the change, never between: the next
# command recovers, `ca check` and `ca audit --verify` pass, re-running the
# command finishes the job, a token is never spent twice and a serial never
# issued twice.
. "$(dirname "$0")/lib.sh"

# A base CA with a one-use token and a host request on a stick; each case
# works on its own copy.
hc -C base ca init --name Crash-CA >/dev/null 2>&1
TOK=$(hc -C base token create --name once --max-uses 1 2>/dev/null)
mkdir -p stick
hc -H host host request --media stick --name crashhost --token "$TOK" >/dev/null 2>&1
ID=$(cat host/hostid 2>/dev/null)
[ -s "stick/requests/$ID.pem" ] || fail "setup: a request on the stick" "none"
fresh_key ec-p256 other.key
mkcsr other.key other.csr "/CN=other.example" "DNS:other.example"

# valid_count CADIR: how many valid certificates the CA lists for the host
valid_count() {
	hc -C "$1" ca list --status valid 2>/dev/null | grep -c "$ID"
}
killed() { [ "$1" -ge 128 ]; }

section "crashes during ca sign --media (table: point and passage)"
# after_crash WHAT CADIR: the next command notices and recovers; the CA is
# consistent, its history intact, its CRL whole and signed.
after_crash() {
	hc -C "$2" ca list >/dev/null 2>&1
	expect_exit 0 "$1: ca check after the crash" -- hc -C "$2" ca check
	expect_exit 0 "$1: ca audit --verify after the crash" -- hc -C "$2" ca audit --verify
	peer_crl "$1: crl.pem still whole and signed" "$2/ca.pem" "$2/crl.pem"
}

while read -r point n; do
	[ -z "$point" ] && continue
	c=ca-$point-$n m=m-$point-$n
	cp -a base "$c" && cp -a stick "$m"
	HOSTCA_FAULT=$point:$n "$HOSTCA_T" -C "$c" ca sign --media "$m" </dev/null >/dev/null 2>"$W/crash.err"
	rc=$?
	san_check "$W/crash.err" "hostca-test with HOSTCA_FAULT=$point:$n"
	what="$point:$n ($(killed $rc && echo crashed || echo "ran through, exit $rc"))"
	after_crash "$what" "$c"
	# the stick may be yanked: put the request back, as the operator would
	mkdir -p "$m/requests"
	[ -s "$m/requests/$ID.pem" ] || cp "stick/requests/$ID.pem" "$m/requests/$ID.pem"
	expect_exit 0 "$what: ca sign again finishes the job" -- hc -C "$c" ca sign --media "$m"
	if [ -s "$m/responses/$ID.pem" ]; then
		openssl x509 -in "$m/responses/$ID.pem" -out "$W/resp.pem" 2>/dev/null
		peer_openssl "$what: the response verifies" "$c/ca.pem" "$W/resp.pem" "$c/crl.pem"
		check "$W/resp.pem: the response is for the host's key" sh -c \
			"[ \"\$(openssl x509 -in '$W/resp.pem' -noout -pubkey | sha256sum)\" = \"\$(openssl pkey -in host/host.key -pubout | sha256sum)\" ]"
	else
		fail "$what: the response verifies" "no response on the stick"
	fi
	check_eq "$what: exactly one valid certificate for the host" "$(valid_count "$c")" 1
	expect_exit 1 "$what: the one-use token is spent exactly once" -- hc -C "$c" ca sign --csr other.csr --token "$TOK"
done <<'EOF'
journal-append 1
journal-append 2
journal-committed 1
journal-committed 2
atomic-rename 1
atomic-rename 2
atomic-rename 3
atomic-rename 4
media-response 1
EOF

section "crashes during ca revoke"
hc -C base ca sign --media stick >/dev/null 2>&1
S=$(serial_of "stick/responses/$ID.pem")
[ -n "$S" ] || fail "setup: a certificate to revoke" "none"
while read -r point n; do
	[ -z "$point" ] && continue
	c=rv-$point-$n
	cp -a base "$c"
	HOSTCA_FAULT=$point:$n "$HOSTCA_T" -C "$c" ca revoke --serial "$S" --reason keyCompromise </dev/null >/dev/null 2>"$W/crash.err"
	rc=$?
	san_check "$W/crash.err" "hostca-test with HOSTCA_FAULT=$point:$n"
	what="revoke $point:$n ($(killed $rc && echo crashed || echo "ran through, exit $rc"))"
	after_crash "$what" "$c"
	# finish the job: revoke again (may say "already revoked"), then a fresh CRL
	hc -C "$c" ca revoke --serial "$S" --reason keyCompromise >/dev/null 2>&1
	expect_exit 0 "$what: ca crl after recovery" -- hc -C "$c" ca crl
	peer_crl "$what: the serial is revoked once, keyCompromise" "$c/ca.pem" "$c/crl.pem" --revoked "$S:keyCompromise" --count 1
done <<'EOF'
journal-append 1
journal-committed 1
crl-before-pem 1
atomic-rename 1
atomic-rename 2
EOF

finish
