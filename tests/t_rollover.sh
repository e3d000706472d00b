#!/bin/sh
# t_rollover.sh: a CA key rollover (issue 13). ca rollover makes a new key,
# its certificate and a link certificate signed by the old key; the CA
# issues with the new key and publishes a CRL per key; hosts follow the
# link over the stick, renew onto the new key with no token and keep both
# CAs until ca rollover --finish. OpenSSL and GnuTLS judge every artifact;
# a host that renewed does mutual TLS with one enrolled on the new key and
# one still on the old, each with both CAs in its trust file. A host that
# slept through two rollovers follows the chain of links. Kills at each
# durable write of ca rollover and --finish leave the old state or the new.
. "$(dirname "$0")/lib.sh"
section "rollover: start"

# (the passphrase cases run on a CA of their own at the end: every
# command would otherwise open two keys under PBKDF2)
hct -C ca ca init --name Roll-CA --security medium >/dev/null 2>&1
FP0=$(fp_openssl ca/ca.pem)
cp ca/ca.pem ca0.pem
mkdir -p m
for h in a b d; do
	hct -H $h host request --media m --name $h.example >/dev/null 2>&1
done
hct -C ca ca sign --media m >/dev/null 2>&1
for h in a b d; do
	hct -H $h host install --media m --ca-fingerprint "$FP0" >/dev/null 2>&1
done
check "start: three hosts on the first key" test -s a/host.pem -a -s b/host.pem -a -s d/host.pem
# a token made before the rollover: its wrap key is carried to the new key
TOK=$(hct -C ca token create --name before 2>/dev/null | head -n 1)
K0=$(openssl x509 -in ca0.pem -noout -pubkey | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -c1-16)

expect_exit 2 "rollover: --key is required" -- "$HOSTCA_T" -C ca ca rollover
expect_exit 2 "rollover: an unknown key type" -- "$HOSTCA_T" -C ca ca rollover --key dsa-1024
expect_exit 2 "rollover: --force without --finish" -- "$HOSTCA_T" -C ca ca rollover --key ec-p384 --force
expect_exit 2 "rollover: --finish takes no --key" -- "$HOSTCA_T" -C ca ca rollover --finish --key ec-p384
expect_exit 1 "rollover: --finish with none in progress" -- "$HOSTCA_T" -C ca ca rollover --finish
check "rollover: ... nothing changed" cmp ca/ca.pem ca0.pem
cp -r ca ca-before
expect_exit 0 "rollover: ca rollover --key rsa-2048 --name Roll-CA-2" -- "$HOSTCA_T" -C ca ca rollover --key rsa-2048 --name Roll-CA-2 --days 3000
FP1=$(fp_openssl ca/ca.pem)
check_ne "rollover: ca.pem is a new certificate" "$FP1" "$FP0"
check_eq "rollover: ... printing its fingerprint" "$(head -n 1 "$W/.out" | norm_hex)" "$FP1"
check_grep "rollover: ... for an RSA key" "rsaEncryption" "$(openssl x509 -in ca/ca.pem -noout -text >tx1 2>&1; echo tx1)"
check_eq "rollover: ... named by --name" "$(openssl x509 -in ca/ca.pem -noout -subject)" "subject=CN = Roll-CA-2"
check "rollover: the old certificate stays as prev.pem" cmp ca/prev.pem ca0.pem
check_file "rollover: the old key's CRL (crl-prev.pem)" ca/crl-prev.pem
expect_exit 0 "rollover: ca check is consistent" -- "$HOSTCA_T" -C ca ca check
expect_exit 0 "rollover: ca audit --verify" -- "$HOSTCA_T" -C ca ca audit --verify
expect_exit 1 "rollover: a second rollover is refused while one is in progress" -- "$HOSTCA_T" -C ca ca rollover --key ec-p256
check_grep "rollover: ... saying to finish first" "finish it" "$W/.err"
# journal.head signed by the old key (which may be why the key changes): refused
rm -rf cf && cp -r ca cf
openssl pkey -in ca/prev.key -out oldkey.pem 2>/dev/null
read -r hseq hhash hsig <cf/journal.head
printf 'hostca journal head v2 %s %s' "$hseq" "$hhash" >head.msg
printf '%s %s %s\n' "$hseq" "$hhash" "$(openssl dgst -sha256 -sign oldkey.pem head.msg | od -An -v -tx1 | tr -d ' \n')" >cf/journal.head
expect_exit 2 "rollover: a journal head signed by the old key is refused" -- "$HOSTCA_T" -C cf ca list
check_grep "rollover: ... it does not verify with ca.pem" "does not verify with ca.pem" "$W/.err"
expect_exit 0 "rollover: ca show" -- "$HOSTCA_T" -C ca ca show
check_grep "rollover: ... says it is in progress" "^rollover: +in progress" "$W/.out"
check_grep "rollover: ... and shows the old CA" "^old CA: +$(openssl x509 -in ca0.pem -noout -fingerprint -sha256 | sed 's/.*=//')" "$W/.out"
check_grep "rollover: ... with the 3 hosts still on it" "3 hosts still on it" "$W/.out"
expect_exit 0 "rollover: ca show --json" -- "$HOSTCA_T" -C ca --json ca show
check_eq "rollover: ... rollover.state" "$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["ca"]["rollover"]["state"])' <"$W/.out")" "in-progress"

section "rollover: peers judge the artifacts"
mkdir -p s
expect_exit 0 "peers: ca export writes the stick" -- "$HOSTCA_T" -C ca ca export --media s
check_nogrep "peers: ... without calling the old key another CA's" "another CA" "$W/.err"
check "peers: the stick carries the old CA (ca-$K0.pem)" cmp s/ca-$K0.pem ca0.pem
check "peers: ... its CRL" cmp s/crl-$K0.pem ca/crl-prev.pem
check "peers: ... the link signed by it (link-$K0.pem)" test -s s/link-$K0.pem
check "peers: ... and the new CA as the plain names" sh -c "cmp -s s/ca.pem ca/ca.pem && cmp -s s/crl.pem ca/crl.pem"
peer_openssl "the link certificate verifies with the old CA certificate" ca0.pem s/link-$K0.pem
peer_certtool "the link certificate verifies with the old CA certificate" ca0.pem s/link-$K0.pem
peer_openssl "an old-key host certificate with the old CA and its CRL" ca0.pem b/host.pem ca/crl-prev.pem
peer_certtool "an old-key host certificate with the old CA and its CRL" ca0.pem b/host.pem ca/crl-prev.pem
peer_crl "the old key's CRL" ca0.pem ca/crl-prev.pem
peer_crl "the new key's CRL" ca/ca.pem ca/crl.pem
peer_openssl_rejects "an old-key host certificate under the new CA" ca/ca.pem b/host.pem ca/crl.pem "unable to get local issuer|unable to get issuer"
# a host enrolled after the rollover, with the token made before it
mkdir -p mc
hct -H c host request --media mc --name c.example --token "$TOK" >/dev/null 2>&1
expect_exit 0 "new key: the token made before the rollover still authorizes" -- "$HOSTCA_T" -C ca ca sign --media mc
check_grep "new key: ... 1 issued" "1 issued" "$W/.err"
expect_exit 0 "new key: host c installs (the new CA's fingerprint)" -- "$HOSTCA_T" -H c host install --media mc --ca-fingerprint "$FP1"
peer_openssl "a new-key host certificate with the new CA and its CRL" ca/ca.pem c/host.pem ca/crl.pem
peer_certtool "a new-key host certificate with the new CA and its CRL" ca/ca.pem c/host.pem ca/crl.pem
peer_openssl_rejects "a new-key host certificate under the old CA" ca0.pem c/host.pem ca/crl-prev.pem "unable to get local issuer|unable to get issuer"

section "rollover: a pinned host follows"
cp s/link-$K0.pem link-good.pem
# a forged link (signed by another key) is refused, nothing taken
hct -C evil ca init --name Roll-CA --security medium >/dev/null 2>&1
mkdir -p bad
cp s/*.pem bad/
cp evil/ca.pem bad/link-$K0.pem
cp -r a a-saved
expect_exit 1 "follow: a link the pinned key did not sign is refused" -- "$HOSTCA_T" -H a host update --media bad
check "follow: ... nothing taken" sh -c "! ls a/next-*.pem >/dev/null 2>&1"
# a CA certificate file that holds something else (this once freed twice)
mkdir -p bad2
cp s/*.pem bad2/
cp ca/crl.pem bad2/ca-$K0.pem
expect_exit 1 "follow: a ca-KEYID.pem that holds a CRL is refused" -- "$HOSTCA_T" -H a host update --media bad2
check_grep "follow: ... saying what it holds" "holds a 'X509 CRL', not a CERTIFICATE" "$W/.err"
expect_exit 0 "follow: host a updates from the stick" -- "$HOSTCA_T" -H a host update --media s
K1=$(openssl x509 -in ca/ca.pem -noout -pubkey | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -c1-16)
check "follow: ... takes the new CA through the link (next-$K1.pem)" cmp a/next-$K1.pem ca/ca.pem
check "follow: ... and its CRL" cmp a/crl-$K1.pem ca/crl.pem
check "follow: ... keeps its pin" cmp a/ca.pem ca0.pem
check_eq "follow: trust.pem holds both CA certificates" "$(grep -c 'BEGIN CERTIFICATE' a/trust.pem)" "2"
check_eq "follow: crls.pem holds both CRLs" "$(grep -c 'BEGIN X509 CRL' a/crls.pem)" "2"
expect_exit 0 "follow: host status" -- "$HOSTCA_T" -H a host status
check_grep "follow: ... shows the next CA" "^next CA: " "$W/.out"
check_grep "follow: ... and says to renew onto it" "rolling over" "$W/.err"
expect_exit 0 "follow: host sync writes a renewal (no token, not due by age)" -- "$HOSTCA_T" -H a host sync --media s
check_grep "follow: ... a renewal request" "wrote a renewal request" "$W/.out"
expect_exit 0 "follow: the CA signs it with the new key" -- "$HOSTCA_T" -C ca ca sign --media s
check_grep "follow: ... 1 issued" "1 issued" "$W/.err"
expect_exit 0 "follow: host sync installs it" -- "$HOSTCA_T" -H a host sync --media s
check "follow: ... the pin moves to the new CA" cmp a/ca.pem ca/ca.pem
check "follow: ... the old CA stays as old-$K0.pem" cmp a/old-$K0.pem ca0.pem
check "follow: ... next-$K1.pem is gone (it is the pin)" test ! -e a/next-$K1.pem
check_eq "follow: ... trust.pem still holds both" "$(grep -c 'BEGIN CERTIFICATE' a/trust.pem)" "2"
# a stick that lost the old CA's files (tampered, or half-copied) changes
# nothing: a host drops a key only on that key's own signed word
mkdir -p lost
cp s/*.pem lost/
rm -f lost/ca-$K0.pem lost/crl-$K0.pem
expect_exit 0 "follow: a stick without the old CA's files" -- "$HOSTCA_T" -H a host update --media lost
check "follow: ... host a keeps the old CA" cmp a/old-$K0.pem ca0.pem
# an install killed after the pin moved, before next-KEYID.pem went
cp -r a a-crash
cp a-crash/ca.pem a-crash/next-$K1.pem
cp a-crash/crl.pem a-crash/crl-$K1.pem
cp a-crash/crl-$K0.pem a-crash/crl.pem
expect_exit 0 "follow: the next host command after an install killed mid-switch" -- "$HOSTCA_T" -H a-crash host status
check_grep "follow: ... completes it" "completed an interrupted install" "$W/.err"
check_nofile "follow: ... next-$K1.pem is gone" a-crash/next-$K1.pem
check "follow: ... crl.pem is the pinned key's CRL again" sh -c "openssl crl -in a-crash/crl.pem -CAfile a-crash/ca.pem -noout 2>&1 | grep -q 'verify OK'"
peer_openssl "the renewed host a under the new CA and its CRL" ca/ca.pem a/host.pem ca/crl.pem
peer_certtool "the renewed host a under the new CA" ca/ca.pem a/host.pem ca/crl.pem
peer_openssl "host a's trust and CRL files accept host b (old key)" a/trust.pem b/host.pem a/crls.pem
peer_openssl "... and host c (new key)" a/trust.pem c/host.pem a/crls.pem
expect_exit 0 "follow: host a is healthy" -- "$HOSTCA_T" -H a host status --json
check_eq "follow: ... its CAs: pinned and old" "$("$PY" -c 'import json,sys; print(" ".join(c["role"] for c in json.load(sys.stdin)["host"]["cas"]))' <"$W/.out")" "pinned old"
tls_pair "host a (renewed onto the new key) and host c (enrolled on it), a's trust file" a/trust.pem a/host.pem a/host.key c/host.pem c/host.key a.example ok
tls_pair "host c and host a the other way" a/trust.pem c/host.pem c/host.key a/host.pem a/host.key c.example ok
tls_pair "host a and host b (still on the old key), both CAs trusted" a/trust.pem a/host.pem a/host.key b/host.pem b/host.key a.example ok
tls_pair "only the new CA trusted: host b (old key) is refused" ca/ca.pem a/host.pem a/host.key b/host.pem b/host.key a.example reject
# a revocation during the rollover reaches hosts of either key
hct -C ca ca revoke --host c.example --reason keyCompromise >/dev/null 2>&1
hct -C ca ca export --media s >/dev/null 2>&1
expect_exit 0 "follow: host b takes both CRLs" -- "$HOSTCA_T" -H b host update --media s
check "follow: ... the old key's (its pin's) crl.pem" cmp b/crl.pem ca/crl-prev.pem
check "follow: ... and the new key's" cmp b/crl-$K1.pem ca/crl.pem
peer_openssl_rejects "host c, revoked, in b's trust and CRL files" b/trust.pem c/host.pem b/crls.pem revoked

section "rollover: finish"
expect_exit 1 "finish: refused while hosts are on the old key" -- "$HOSTCA_T" -C ca ca rollover --finish
check_grep "finish: ... saying how many" "2 hosts are still on a certificate of the old key" "$W/.err"
check "finish: ... prev.key stays" test -s ca/prev.key
SB=$(serial_of b/host.pem)
SA0=$(serial_of a-saved/host.pem)
expect_exit 0 "finish: --force" -- "$HOSTCA_T" -C ca ca rollover --finish --force
check_grep "finish: ... revokes the superseded certificate of a" "1 certificate of the old key that renewals" "$W/.err"
check_grep "finish: ... and the 2 left (b, d)" "revoked 2 certificates of the old key" "$W/.err"
check_nofile "finish: prev.key is removed" ca/prev.key
check_nofile "finish: ... prev.pem" ca/prev.pem
check_nofile "finish: ... crl-prev.pem" ca/crl-prev.pem
expect_exit 0 "finish: ca check" -- "$HOSTCA_T" -C ca ca check
expect_exit 0 "finish: ca show" -- "$HOSTCA_T" -C ca ca show
check_grep "finish: ... 1 finished" "none in progress \(1 finished" "$W/.out"
expect_exit 0 "finish: ca export" -- "$HOSTCA_T" -C ca ca export --media s
check_nofile "finish: the retired CA certificate leaves the stick" s/ca-$K0.pem
check "finish: ... its last CRL stays (from the journal)" test -s s/crl-$K0.pem
check "finish: ... and the link" test -s s/link-$K0.pem
openssl crl -in s/crl-$K0.pem -noout -text >retired.txt 2>&1
check_serial_in "finish: the old key's last CRL carries b's revocation" retired.txt "$SB"
check_serial_in "finish: ... and a's superseded certificate" retired.txt "$SA0"
check_serial_in "finish: ... and the old CA certificate itself (its retirement)" retired.txt "$(serial_of ca0.pem)"
peer_crl "the old key's last CRL" ca0.pem s/crl-$K0.pem
peer_openssl_rejects "host b after --finish --force" ca0.pem b/host.pem s/crl-$K0.pem revoked
peer_openssl_rejects "host a's superseded old certificate" ca0.pem a-saved/host.pem s/crl-$K0.pem revoked
expect_exit 0 "finish: host a updates" -- "$HOSTCA_T" -H a host update --media s
check_grep "finish: ... drops the old CA on its last CRL" "dropped the CA key $K0: the CA retired it" "$W/.err"
check_nofile "finish: ... old-$K0.pem is gone" a/old-$K0.pem
check_eq "finish: ... trust.pem holds the new CA only" "$(grep -c 'BEGIN CERTIFICATE' a/trust.pem)" "1"
expect_exit 1 "finish: host b takes the last CRL of its key: revoked" -- "$HOSTCA_T" -H b host sync --media s
check "finish: ... b's CRL is that last one" cmp b/crl.pem s/crl-$K0.pem

section "rollover: a host that slept through two rollovers"
expect_exit 0 "twice: a second rollover (ec-p384)" -- "$HOSTCA_T" -C ca ca rollover --key ec-p384
K2=$(openssl x509 -in ca/ca.pem -noout -pubkey | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -c1-16)
mkdir -p s2
hct -C ca ca export --media s2 >/dev/null 2>&1
check "twice: the stick carries both links" test -s s2/link-$K0.pem -a -s s2/link-$K1.pem
expect_exit 0 "twice: host d (pinned to the first key) updates" -- "$HOSTCA_T" -H d host update --media s2
check "twice: ... follows to the second key" cmp d/next-$K1.pem ca/prev.pem
check "twice: ... and to the third" cmp d/next-$K2.pem ca/ca.pem
check_eq "twice: ... trusting three CA certificates" "$(grep -c 'BEGIN CERTIFICATE' d/trust.pem)" "3"
expect_exit 0 "twice: host a (on the second key) updates" -- "$HOSTCA_T" -H a host update --media s2
check "twice: ... takes the third" cmp a/next-$K2.pem ca/ca.pem
hct -H a host sync --media s2 >/dev/null 2>&1
hct -C ca ca sign --media s2 >/dev/null 2>&1
expect_exit 0 "twice: host a renews onto the third key" -- "$HOSTCA_T" -H a host sync --media s2
check "twice: ... pinned to it" cmp a/ca.pem ca/ca.pem
peer_openssl "host a under the third CA" ca/ca.pem a/host.pem ca/crl.pem
expect_exit 0 "twice: finish (no host left on the second key but a's superseded one)" -- "$HOSTCA_T" -C ca ca rollover --finish
expect_exit 0 "twice: ca check" -- "$HOSTCA_T" -C ca ca check
hct -C ca ca export --media s2 >/dev/null 2>&1
expect_exit 0 "twice: host d updates again" -- "$HOSTCA_T" -H d host update --media s2
check_nofile "twice: ... drops the retired second key" d/next-$K1.pem
check "twice: ... keeps the third" test -s d/next-$K2.pem

section "rollover: the index and a backup"
rm -rf ci && cp -r ca-before ci
hct -C ci ca rollover --key ec-p256 >/dev/null 2>&1
HOSTCA_INDEX_EVERY=1 hct -C ci ca crl >/dev/null 2>&1
check_grep "index: index/state carries the rollover" "^event 0 0 ca-rollover rseq=" ci/index/state
check_grep "index: ... and the link" "^event 0 0 ca-link link=" ci/index/state
expect_exit 0 "index: a writer through the index" -- "$HOSTCA_T" -C ci ca crl
check "index: ... still writes the old key's CRL" sh -c "openssl crl -in ci/crl-prev.pem -CAfile ci/prev.pem -noout 2>&1 | grep -q 'verify OK'"
mkdir -p bk
printf 'backup words\n' >bpass
expect_exit 0 "backup: during a rollover" -- "$HOSTCA_T" -C ci ca backup --media bk --backup-passphrase-file bpass
expect_exit 0 "backup: restored" -- "$HOSTCA_T" -C cr ca restore --from bk --backup-passphrase-file bpass
check "backup: ... with the old key (prev.key)" cmp cr/prev.key ci/prev.key
expect_exit 0 "backup: the restored CA signs both CRLs" -- "$HOSTCA_T" -C cr ca crl
check "backup: ... the old key's verifies with the old CA" sh -c "openssl crl -in cr/crl-prev.pem -CAfile cr/prev.pem -noout 2>&1 | grep -q 'verify OK'"

section "rollover: kills at each durable write"
# kill_at POINT: ca rollover killed there, in a copy of the CA before it
kill_at() {
	rm -rf ck && cp -r ca-before ck
	HOSTCA_FAULT=$1:1 "$HOSTCA_T" -C ck ca rollover --key ec-p256 >/dev/null 2>&1
}
kill_at journal-append
check "kill before the entry: ca.pem is the old one" cmp ck/ca.pem ca0.pem
expect_exit 0 "kill before the entry: the next writer" -- "$HOSTCA_T" -C ck ca crl
check_nofile "kill before the entry: ... removes the unused new key" ck/next.key
check "kill before the entry: ... and the CA keeps its key" cmp ck/ca.pem ca0.pem
expect_exit 0 "kill before the entry: ca check" -- "$HOSTCA_T" -C ck ca check
# (every point in the release pass; two under the sanitizers, for time)
pts="rollover-committed rollover-head-both rollover-prev-written rollover-pem-switched rollover-switched"
[ "$T_SLOW" = 1 ] || pts="rollover-committed rollover-pem-switched"
for pt in $pts; do
	kill_at $pt
	expect_exit 0 "kill at $pt: a reader (ca list)" -- "$HOSTCA_T" -C ck ca list
	rm -rf kx && mkdir kx
	expect_exit 0 "kill at $pt: the next writer (ca export) completes the rollover" -- "$HOSTCA_T" -C ck ca export --media kx
	check "kill at $pt: ... and the stick has both CRLs" sh -c "openssl crl -in kx/crl.pem -CAfile ck/ca.pem -noout 2>&1 | grep -q 'verify OK' && openssl crl -in kx/crl-$K0.pem -CAfile ca0.pem -noout 2>&1 | grep -q 'verify OK'"
	check_ne "kill at $pt: ... ca.pem is the new key's" "$(fp_openssl ck/ca.pem)" "$FP0"
	check "kill at $pt: ... prev.pem the old one" cmp ck/prev.pem ca0.pem
	check_nofile "kill at $pt: ... no next.key left" ck/next.key
	expect_exit 0 "kill at $pt: ca check" -- "$HOSTCA_T" -C ck ca check
	expect_exit 0 "kill at $pt: ca audit --verify" -- "$HOSTCA_T" -C ck ca audit --verify
	peer_crl "kill at $pt: the old key's CRL" ca0.pem ck/crl-prev.pem
	peer_crl "kill at $pt: the new key's CRL" ck/ca.pem ck/crl.pem
done
rm -rf ck && cp -r ci ck
HOSTCA_FAULT=retire-committed:1 "$HOSTCA_T" -C ck ca rollover --finish --force >/dev/null 2>&1
check "kill after --finish's entry: prev.key is still there" test -s ck/prev.key
expect_exit 0 "kill after --finish's entry: the next writer" -- "$HOSTCA_T" -C ck ca crl
check_nofile "kill after --finish's entry: ... removes prev.key" ck/prev.key
mkdir -p sk
expect_exit 0 "kill after --finish's entry: ca export" -- "$HOSTCA_T" -C ck ca export --media sk
check "kill after --finish's entry: ... the stick has the old key's last CRL" test -s sk/crl-$K0.pem
check "kill after --finish's entry: ... and crl.pem of the new key" sh -c "openssl crl -in sk/crl.pem -CAfile ck/ca.pem -noout 2>&1 | grep -q 'verify OK'"
expect_exit 0 "kill after --finish's entry: ca check" -- "$HOSTCA_T" -C ck ca check
section "rollover: a CA key under a passphrase"
printf 'roll over, roll over\n' >pass
export HOSTCA_PASSPHRASE_FILE="$W/pass"
hct -C ce ca init --name Pass-CA --security medium --encrypt >/dev/null 2>&1
cp -r ce ce-before
printf 'not it\n' >wrong
expect_exit nz "passphrase: a mistyped passphrase for the new key is refused" -- env HOSTCA_PASSPHRASE_FILE="$W/wrong" "$HOSTCA_T" -C ce ca rollover --key ec-p256
check_grep "passphrase: ... saying so" "wrong passphrase" "$W/.err"
check "passphrase: ... nothing changed" sh -c "cmp -s ce/ca.pem ce-before/ca.pem && cmp -s ce/journal ce-before/journal && test ! -e ce/next.key"
expect_exit 0 "passphrase: the rollover with the right one" -- "$HOSTCA_T" -C ce ca rollover --key ec-p384
check_grep "passphrase: the new key is under it too" "ENCRYPTED PRIVATE KEY" ce/ca.key
check "passphrase: ... and the old one stays so (prev.key)" grep -q "ENCRYPTED PRIVATE KEY" ce/prev.key
check "passphrase: ... the same passphrase opens the new key" sh -c "openssl pkey -in ce/ca.key -passin file:pass -noout 2>/dev/null"
printf 'other words\n' >newpass
HOSTCA_FAULT=passphrase-prev-written:1 "$HOSTCA_T" -C ce ca passphrase --new-passphrase-file newpass >/dev/null 2>&1
check "passphrase: killed between the two keys: ca.key still opens with the old one" sh -c "openssl pkey -in ce/ca.key -passin file:pass -noout 2>/dev/null"
expect_exit 0 "passphrase: ca passphrase during a rollover (the same command again)" -- "$HOSTCA_T" -C ce ca passphrase --new-passphrase-file newpass
expect_exit 0 "passphrase: ... both keys open under the new one (ca crl signs both CRLs)" -- env HOSTCA_PASSPHRASE_FILE="$W/newpass" "$HOSTCA_T" -C ce ca crl
check "passphrase: ... the old key's CRL verifies" sh -c "openssl crl -in ce/crl-prev.pem -CAfile ce/prev.pem -noout 2>&1 | grep -q 'verify OK'"
expect_exit nz "passphrase: ... and not under the old one" -- "$HOSTCA_T" -C ce ca crl
finish
