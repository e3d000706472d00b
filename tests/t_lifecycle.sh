#!/bin/sh
# t_lifecycle.sh: the CA's own lifecycle (issue 13): ca renew -- a new CA
# certificate for the same key and subject. OpenSSL and GnuTLS judge that
# certificates issued before and after validate under the renewed one;
# hosts take it over the stick; a kill between the journal and ca.pem is
# recovered by the next writer.
. "$(dirname "$0")/lib.sh"
section "lifecycle: ca renew"

hct -C ca ca init --name Life-CA --security medium --days 400 >/dev/null 2>&1
FP0=$(fp_openssl ca/ca.pem)
mkdir -p m
hct -H a host request --media m --name a.example >/dev/null 2>&1
hct -C ca ca sign --media m >/dev/null 2>&1
hct -H a host install --media m --ca-fingerprint "$FP0" >/dev/null 2>&1
cp ca/ca.pem ca-old.pem
ski() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier 2>/dev/null | tail -n 1 | tr -d ' '; }
spki() { openssl x509 -in "$1" -noout -pubkey 2>/dev/null; }

expect_exit 1 "renew: --days that would end it sooner is refused" -- "$HOSTCA_T" -C ca ca renew --days 30
check "renew: ... ca.pem unchanged" cmp ca/ca.pem ca-old.pem
expect_exit 0 "renew: ca renew --days 3650" -- "$HOSTCA_T" -C ca ca renew --days 3650
check_ne "renew: ca.pem is a new certificate" "$(fp_openssl ca/ca.pem)" "$FP0"
check_eq "renew: ... printing its fingerprint" "$(head -n 1 "$W/.out" | tr -d ':' | tr 'a-f' 'A-F')" "$(fp_openssl ca/ca.pem | tr -d ':' | tr 'a-f' 'A-F')"
check_eq "renew: same subject (openssl)" "$(openssl x509 -in ca/ca.pem -noout -subject)" "$(openssl x509 -in ca-old.pem -noout -subject)"
check_eq "renew: same subject key identifier" "$(ski ca/ca.pem)" "$(ski ca-old.pem)"
check_eq "renew: same key" "$(spki ca/ca.pem)" "$(spki ca-old.pem)"
check "renew: later notAfter" sh -c "[ \$(date -d \"\$(openssl x509 -in ca/ca.pem -noout -enddate | cut -d= -f2)\" +%s) -gt \$(date -d \"\$(openssl x509 -in ca-old.pem -noout -enddate | cut -d= -f2)\" +%s) ]"
expect_exit 0 "renew: ca check is consistent" -- "$HOSTCA_T" -C ca ca check
# a certificate issued after the renewal
hct -H b host request --media m --name b.example >/dev/null 2>&1
hct -C ca ca sign --media m >/dev/null 2>&1
hct -H b host install --media m --ca-fingerprint "$(fp_openssl ca/ca.pem)" >/dev/null 2>&1
peer_openssl "renew: openssl -x509_strict -crl_check accepts the old host certificate under the renewed CA" ca/ca.pem a/host.pem ca/crl.pem
peer_openssl "renew: ... and the new one" ca/ca.pem b/host.pem ca/crl.pem
peer_openssl "renew: ... and the new one under the old CA certificate too" ca-old.pem b/host.pem ca/crl.pem
check "renew: GnuTLS accepts the old host certificate under the renewed CA" \
	sh -c "certtool --verify --load-ca-certificate ca/ca.pem --infile a/host.pem >/dev/null 2>&1"
check "renew: ... and the new one" \
	sh -c "certtool --verify --load-ca-certificate ca/ca.pem --infile b/host.pem >/dev/null 2>&1"
# the host pinned to the old certificate takes the renewed one
expect_exit 0 "renew: the stick carries it (ca export)" -- "$HOSTCA_T" -C ca ca export --media m
check "renew: ... m/ca.pem is the renewed one" cmp m/ca.pem ca/ca.pem
expect_exit 0 "renew: host a syncs" -- "$HOSTCA_T" -H a host sync --media m
check "renew: ... and pins the renewed CA certificate" cmp a/ca.pem ca/ca.pem
# a CA certificate for another key is not taken
hct -C other ca init --name Life-CA --security medium >/dev/null 2>&1
mkdir -p mo
cp other/ca.pem mo/ca.pem
cp other/crl.pem mo/crl.pem
expect_exit 1 "renew: host update refuses a CA certificate of another key" -- "$HOSTCA_T" -H a host update --media mo
check "renew: ... and keeps its pin" cmp a/ca.pem ca/ca.pem

section "lifecycle: a kill inside ca renew"
cp ca/ca.pem ca-before.pem
HOSTCA_FAULT=ca-renew-before-pem:1 "$HOSTCA_T" -C ca ca renew --days 3700 >/dev/null 2>&1
check "renew: killed after the journal, before ca.pem: ca.pem is the old one" cmp ca/ca.pem ca-before.pem
expect_exit 0 "renew: ca check says what is pending (still consistent)" -- "$HOSTCA_T" -C ca ca check
check_grep "renew: ... pending recovery" "pending recovery: the certificate before the last 'ca renew'" "$W/.err"
expect_exit 0 "renew: a reader still works with the old certificate (same key)" -- "$HOSTCA_T" -C ca ca list
expect_exit 0 "renew: the next writer completes it" -- "$HOSTCA_T" -C ca ca crl
check_grep "renew: ... and says so" "recovered: wrote the renewed CA certificate" "$W/.err"
check "renew: ... ca.pem is now the renewed one" sh -c "! cmp -s ca/ca.pem ca-before.pem"
check_eq "renew: ... the one the journal records" "$("$HOSTCA_T" -C ca ca audit 2>/dev/null | awk '/ca-renew/ { sub(/.*fp=/, ""); print $1 }' | tail -n 1 | tr 'a-f' 'A-F')" "$(fp_openssl ca/ca.pem | tr -d ':' | tr 'a-f' 'A-F')"
expect_exit 0 "renew: ca check consistent after the recovery" -- "$HOSTCA_T" -C ca ca check
peer_openssl "renew: openssl accepts host a under the recovered CA certificate" ca/ca.pem a/host.pem ca/crl.pem
# the same kill, then ca export first: the stick gets the renewed certificate
cp ca/ca.pem ca-before2.pem
HOSTCA_FAULT=ca-renew-before-pem:1 "$HOSTCA_T" -C ca ca renew --days 3750 >/dev/null 2>&1
check "renew: killed again: ca.pem is the old one" cmp ca/ca.pem ca-before2.pem
mkdir -p mk
expect_exit 0 "renew: ca export after it" -- "$HOSTCA_T" -C ca ca export --media mk
check "renew: ... completes the renewal first" sh -c "! cmp -s ca/ca.pem ca-before2.pem"
check "renew: ... and carries the renewed certificate" cmp mk/ca.pem ca/ca.pem
# with an index written after the renewal, a rolled-back ca.pem is still recovered
HOSTCA_INDEX_EVERY=1 hct -C ca ca crl >/dev/null 2>&1
check_grep "renew: index/state carries the renewed certificate" "^event 0 0 ca-renew fp=" ca/index/state
cp ca/ca.pem ca-renewed.pem
cp ca-before2.pem ca/ca.pem
expect_exit 0 "renew: ca.pem put back to the old one; the next writer (through the index)" -- "$HOSTCA_T" -C ca ca crl
check "renew: ... writes the renewed certificate again" cmp ca/ca.pem ca-renewed.pem
# a ca.pem that is neither: refused by ca check
cp other/ca.pem ca/ca.pem
expect_exit nz "renew: a foreign ca.pem is reported" -- "$HOSTCA_T" -C ca ca check

section "lifecycle: one stick for two CAs"
hct -C ca1 ca init --name Plant-1 --security medium >/dev/null 2>&1
hct -C ca2 ca init --name Plant-2 --security medium >/dev/null 2>&1
mkdir -p two
hct -H h1 host request --media two --name one.example >/dev/null 2>&1
hct -C ca1 ca sign --media two >/dev/null 2>&1
hct -H h2 host request --media two --name two.example >/dev/null 2>&1
expect_exit 0 "two CAs: the second CA signs the same stick" -- "$HOSTCA_T" -C ca2 ca sign --media two
check_grep "two CAs: ... and says the plain names were another CA's" "were another CA's" "$W/.err"
K1=$(ls two/ca-*.pem | while read -r f; do cmp -s "$f" ca1/ca.pem && basename "$f" .pem | cut -c4-; done)
K2=$(ls two/ca-*.pem | while read -r f; do cmp -s "$f" ca2/ca.pem && basename "$f" .pem | cut -c4-; done)
check "two CAs: each CA's certificate has its own copy" test -n "$K1" -a -n "$K2" -a "$K1" != "$K2"
check "two CAs: ... and each its CRL" sh -c "cmp -s two/crl-$K1.pem ca1/crl.pem && cmp -s two/crl-$K2.pem ca2/crl.pem"
check "two CAs: the plain names are the second CA's" cmp two/ca.pem ca2/ca.pem
expect_exit 0 "two CAs: host 1 installs (CA 1)" -- "$HOSTCA_T" -H h1 host install --media two --ca-fingerprint "$(fp_openssl ca1/ca.pem)"
check "two CAs: ... with CA 1's CRL, not CA 2's" cmp h1/crl.pem ca1/crl.pem
expect_exit 0 "two CAs: host 2 installs (CA 2)" -- "$HOSTCA_T" -H h2 host install --media two --ca-fingerprint "$(fp_openssl ca2/ca.pem)"
check "two CAs: ... with CA 2's CRL" cmp h2/crl.pem ca2/crl.pem
hct -C ca1 ca revoke --host one.example --reason keyCompromise >/dev/null 2>&1
expect_exit 0 "two CAs: CA 1 exports its new CRL to the stick" -- "$HOSTCA_T" -C ca1 ca export --media two
check "two CAs: ... CA 2's copies stay" sh -c "cmp -s two/crl-$K2.pem ca2/crl.pem && cmp -s two/ca-$K2.pem ca2/ca.pem"
expect_exit 1 "two CAs: host 1 takes CA 1's new CRL: it is revoked now" -- "$HOSTCA_T" -H h1 host sync --media two
check "two CAs: ... its CRL is CA 1's newest" cmp h1/crl.pem ca1/crl.pem
expect_exit 0 "two CAs: host 2 is untouched by CA 1's files" -- "$HOSTCA_T" -H h2 host sync --media two
check "two CAs: ... still CA 2's CRL and CA certificate" sh -c "cmp -s h2/crl.pem ca2/crl.pem && cmp -s h2/ca.pem ca2/ca.pem"
peer_openssl_rejects "two CAs: openssl rejects host 1 with CA 1's CRL" ca1/ca.pem h1/host.pem h1/crl.pem revoked
peer_openssl "two CAs: openssl accepts host 2 with CA 2's CRL" ca2/ca.pem h2/host.pem h2/crl.pem

section "lifecycle: host trust -- moving a host to another CA"
mkdir -p mv
cp ca1/ca.pem ca1/crl.pem mv/ 2>/dev/null
TOK=$(hct -C ca1 token create --name move 2>/dev/null | head -n 1)
hct -H h2 host request --media mv --name two.example --token "$TOK" >/dev/null 2>&1
hct -C ca1 ca sign --media mv >/dev/null 2>&1
expect_exit 1 "trust: host 2 (pinned to CA 2) refuses CA 1's response" -- "$HOSTCA_T" -H h2 host install --media mv
check "trust: ... and keeps CA 2's pin" cmp h2/ca.pem ca2/ca.pem
expect_exit 1 "trust: a fingerprint that is on no certificate of the stick" -- \
	"$HOSTCA_T" -H h2 host trust --media mv --ca-fingerprint "$(fp_openssl ca/ca.pem)"
expect_exit 2 "trust: --ca-fingerprint is required" -- "$HOSTCA_T" -H h2 host trust --media mv
cp h2/crl.pem h2-crl.saved
mkdir -p same
cp ca2/ca.pem same/ca.pem
expect_exit 0 "trust: the CA certificate the host pinned: nothing to do" -- \
	"$HOSTCA_T" -H h2 host trust --media same --ca-fingerprint "$(fp_openssl ca2/ca.pem)"
hct -C ca2 ca renew --days 9000 >/dev/null 2>&1
cp ca2/ca.pem same/ca.pem
expect_exit 1 "trust: nor its renewed certificate (host update takes that)" -- \
	"$HOSTCA_T" -H h2 host trust --media same --ca-fingerprint "$(fp_openssl ca2/ca.pem)"
check "trust: ... the CRL stays" cmp h2/crl.pem h2-crl.saved
expect_exit 0 "trust: the operator moves host 2 to CA 1" -- \
	"$HOSTCA_T" -H h2 host trust --media mv --ca-fingerprint "$(fp_openssl ca1/ca.pem)"
check "trust: ... the pin is CA 1's certificate" cmp h2/ca.pem ca1/ca.pem
check "trust: ... CA 2's CRL is gone" test ! -e h2/crl.pem
expect_exit 1 "trust: host status: the old certificate is not usable under the new pin" -- "$HOSTCA_T" -H h2 host status
expect_exit 0 "trust: host 2 installs CA 1's certificate now" -- "$HOSTCA_T" -H h2 host install --media mv
expect_exit 0 "trust: ... and is healthy" -- "$HOSTCA_T" -H h2 host status
peer_openssl "trust: openssl accepts host 2 under CA 1" ca1/ca.pem h2/host.pem ca1/crl.pem
finish
