#!/bin/sh
# t_policy.sh: one scenario for each way the policy was once walked around
# (issue 11's findings), each checked against the invariant it broke
# (README "The invariants"), with OpenSSL and python-cryptography judging
# the artifacts. The random sequences are t_model.sh's; these are the
# known counterexamples, kept as fixed regressions.
. "$(dirname "$0")/lib.sh"

for m in m1 m2 m3 m4 m5 mlist mold mren; do mkdir -p "$W/$m/requests"; done
T0=$(now)

# csr KEY OUT HOSTID NAME [EXTRA-SUBJECT]: an OpenSSL request that names its
# host ID the way hostca's own do (CN and urn:uuid SAN); EXTRA varies the
# request's content (a renewal is a new request for the same key).
csr() {
	_san="URI:urn:uuid:$3"
	case $4 in *:*|[0-9]*.[0-9]*) _san="$_san,IP:$4" ;; ?*) _san="$_san,DNS:$4" ;; esac
	mkcsr "$1" "$2" "/CN=$3${5:+/OU=$5}" "$_san"
}
sign() { hct -C "$1" ca sign --csr "$2" "$3" "$4" --out "$5"; }
valid_count() { # CADIR HOSTID
	hc -C "$1" ca list --host "$2" --status valid 2>/dev/null | grep -cE '^[0-9A-F]{16,}'
}
keyfp() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1; }

hc -C ca ca init --name Policy-CA >/dev/null 2>&1 || fail "setup: ca init" "failed"
TOK=$(hc -C ca token create --name fleet --max-uses 50 2>/dev/null)
echo "$TOK" >tok.txt

section "I1: a key revoked as compromised stays dead"
fresh_key ec-p256 k1.key
U1=$(newuuid)
csr k1.key r1.csr "$U1" one.example
expect_exit 0 "I1: host 1 enrols" -- hc -C ca ca sign --csr r1.csr --token-file tok.txt --out c1.pem
expect_exit 0 "I1: its certificate revoked as keyCompromise" -- hc -C ca ca revoke --serial "$(serial_of c1.pem)" --reason keyCompromise
csr k1.key r1b.csr "$(newuuid)" one.example
cst=$(ca_state ca)
expect_exit 1 "I1: the same key under a new host ID, with a token, same name: refused" -- hc -C ca ca sign --csr r1b.csr --token-file tok.txt --out x.pem
check_grep "I1: the refusal says the key was revoked as compromised" 'compromised' "$W/.err"
hc -C ca ca config security medium >/dev/null 2>&1
csr k1.key r1c.csr "$(newuuid)" other.example
expect_exit 1 "I1: at medium, with no token, under another name: refused" -- hc -C ca ca sign --csr r1c.csr --out x.pem
hc -C ca ca config security high >/dev/null 2>&1
check_eq "I1: nothing issued" "$(ca_state ca)" "$cst"

section "I2: a superseded certificate's reason can be raised"
fresh_key ec-p256 k2.key
fresh_key ec-p256 k2b.key
U2=$(newuuid)
csr k2.key r2.csr "$U2" two.example
hc -C ca ca sign --csr r2.csr --token-file tok.txt --out c2.pem >/dev/null 2>&1
S2=$(serial_of c2.pem)
RT=$(hc -C ca token create --reissue --host "$U2" 2>/dev/null)
csr k2b.key r2b.csr "$U2" two.example
expect_exit 0 "I2: host 2 reissued with a new key" -- hc -C ca ca sign --csr r2b.csr --token "$RT" --out c2b.pem
peer_crl "I2: the first certificate is superseded" ca/ca.pem ca/crl.pem --revoked "${S2:-00}:superseded"
expect_exit 0 "I2: ca revoke --serial S --reason keyCompromise on a superseded certificate" -- hc -C ca ca revoke --serial "${S2:-00}" --reason keyCompromise
check_grep "I2: it says the reason was raised" 'becomes keyCompromise' "$W/.err"
peer_crl "I2: the next CRL carries keyCompromise" ca/ca.pem ca/crl.pem --revoked "${S2:-00}:keyCompromise"
csr k2.key r2c.csr "$(newuuid)" two-again.example
expect_exit 1 "I2+I1: the raised key is never certified again" -- hc -C ca ca sign --csr r2c.csr --token-file tok.txt --out x.pem
expect_exit 0 "I2: any other reason leaves a revoked certificate alone" -- hc -C ca ca revoke --serial "${S2:-00}" --reason affiliationChanged
peer_crl "I2: still keyCompromise" ca/ca.pem ca/crl.pem --revoked "${S2:-00}:keyCompromise"

section "I3, I4, I5: renewal from the newest certificate only; two valid at most; names"
fresh_key ec-p256 k3.key
U3=$(newuuid)
csr k3.key r3.csr "$U3" three.example
hc -C ca ca sign --csr r3.csr --token-file tok.txt --out c3a.pem >/dev/null 2>&1
csr k3.key r3r.csr "$U3" three.example renew1
expect_exit 0 "I3: a token-free renewal" -- hc -C ca ca sign --csr r3r.csr --out c3b.pem
check_eq "I3: it is a renewal" "$(grep -c 'issued renewal' "$W/.err")" 1
expect_exit 0 "I3: the newest certificate revoked" -- hc -C ca ca revoke --serial "$(serial_of c3b.pem)" --reason cessationOfOperation
csr k3.key r3r2.csr "$U3" three.example renew2
cst=$(ca_state ca)
expect_exit 1 "I3: no renewal from the older, still valid certificate" -- hc -C ca ca sign --csr r3r2.csr --out x.pem
check_grep "I3: the refusal says a reissue is needed" 'newest certificate was revoked.*reissue' "$W/.err"
fresh_key ec-p256 k3x.key
csr k3x.key r3x.csr "$(newuuid)" three.example
expect_exit 1 "I5: another host cannot take the name the older certificate still carries" -- hc -C ca ca sign --csr r3x.csr --token-file tok.txt --out x.pem
check_grep "I5: the refusal names the holder" "held by host $U3" "$W/.err"
check_eq "I3/I5 refusals: CA unchanged" "$(ca_state ca)" "$cst"
expect_exit 0 "I5: the way out the refusal names works (ca revoke --host)" -- hc -C ca ca revoke --host "$U3" --reason cessationOfOperation
peer_crl "I4: both certificates of host 3 revoked" ca/ca.pem ca/crl.pem --revoked "$(serial_of c3a.pem)" --revoked "$(serial_of c3b.pem)"
expect_exit 0 "I5: then the name is free for another host" -- hc -C ca ca sign --csr r3x.csr --token-file tok.txt --out c3x.pem
peer_host_cert "I5: the new holder's certificate" ca/ca.pem c3x.pem ca/crl.pem --dns three.example

fresh_key ec-p256 k4.key
U4=$(newuuid)
csr k4.key r4.csr "$U4" four.example
hc -C ca ca sign --csr r4.csr --token-file tok.txt --out c4.pem >/dev/null 2>&1
i=1
while [ $i -le 40 ]; do
	csr k4.key "m4/requests/r$(printf %03d $i).pem" "$U4" four.example "renew$i"
	i=$((i + 1))
done
expect_exit 0 "I4: 40 renewals in one batch" -- hc -C ca ca sign --media m4
check_eq "I4: 40 renewals signed" "$(grep -c 'issued renewal' "$W/.err")" 40
check_eq "I4: at most two valid certificates remain" "$(valid_count ca "$U4")" 2
expect_exit 0 "I4: ca revoke --host succeeds" -- hc -C ca ca revoke --host "$U4" --reason cessationOfOperation
check_eq "I4: nothing of host 4 is valid" "$(valid_count ca "$U4")" 0
peer_openssl_rejects "I4: the last renewal is revoked (OpenSSL)" ca/ca.pem "$(ls -t m4/responses/*.pem 2>/dev/null | head -n 1)" ca/crl.pem revoked

section "I5: an IPv4-mapped IPv6 address is the IPv4 address; expired holds nothing"
fresh_key ec-p256 k5.key
fresh_key ec-p256 k5b.key
csr k5.key r5.csr "$(newuuid)" 198.51.100.7
expect_exit 0 "I5: host 5 gets 198.51.100.7" -- hc -C ca ca sign --csr r5.csr --token-file tok.txt --out c5.pem
rm -f x.pem
csr k5b.key r5b.csr "$(newuuid)" ::ffff:198.51.100.7
expect_exit 1 "I5: ::ffff:198.51.100.7 for another host: refused" -- hc -C ca ca sign --csr r5b.csr --token-file tok.txt --out x.pem
check_grep "I5: named as the IPv4 address it is" "198.51.100.7' is held" "$W/.err"
hc -C ca ca config security medium >/dev/null 2>&1
csr k5b.key r5c.csr "$(newuuid)" ::ffff:203.0.113.9
expect_exit 0 "I5: an unheld IPv4-mapped address is certified" -- hc -C ca ca sign --csr r5c.csr --out c5c.pem
peer_py "I5: ... as the IPv4 address" cert c5c.pem --ca ca/ca.pem --ip 203.0.113.9
hc -C ca ca config security high >/dev/null 2>&1
# host 5's certificate expires (cert-days 365, the clock a year and two days on)
LATER=$((T0 + 367 * 86400))
hc -C ca ca config security medium >/dev/null 2>&1
csr k5b.key r5d.csr "$(newuuid)" 198.51.100.7
expect_exit 0 "I5: once host 5's certificate expired, the name is free" -- env HOSTCA_NOW=$LATER "$HOSTCA_T" -C ca ca sign --csr r5d.csr --out c5d.pem
hc -C ca ca config security high >/dev/null 2>&1

section "I6: a window vouches for a key, not for the stick"
fresh_key ec-p256 k6.key
fresh_key ec-p256 k6x.key
fresh_key ec-p256 k6n.key
U6=$(newuuid)
csr k6.key r6.csr "$U6" six.example
hc -C ca ca sign --csr r6.csr --token-file tok.txt --out c6.pem >/dev/null 2>&1
expect_exit 0 "I6: a window for host 6 (no --key)" -- hc -C ca ca allow-reissue --host "$U6"
csr k6x.key r6x.csr "$U6" six.example
cst=$(ca_state ca)
expect_exit 1 "I6: a fresh key claiming host 6 gets nothing" -- hc -C ca ca sign --csr r6x.csr --out x.pem
csr k6x.key r6y.csr "$(newuuid)" six.example
expect_exit 1 "I6: nor under a new host ID" -- hc -C ca ca sign --csr r6y.csr --out x.pem
check_eq "I6 refusals: CA unchanged" "$(ca_state ca)" "$cst"
csr k6.key r6r.csr "$U6" six-renamed.example
expect_exit 0 "I6: a rename signed by the newest certificate's key is reissued" -- hc -C ca ca sign --csr r6r.csr --out c6r.pem
peer_crl "I6: the old certificate superseded" ca/ca.pem ca/crl.pem --revoked "$(serial_of c6.pem):superseded"
expect_exit 0 "I6: a window with --key (a reinstall)" -- hc -C ca ca allow-reissue --host "$U6" --key "$(keyfp k6n.key)"
csr k6n.key r6n.csr "$(newuuid)" six-renamed.example
expect_exit 0 "I6: the reinstalled host's request (new host ID, that key) is reissued" -- hc -C ca ca sign --csr r6n.csr --out c6n.pem
check_eq "I6: under host 6's ID" "$(hostid_of c6n.pem)" "$U6"
hc -C ca ca config security very-high >/dev/null 2>&1
expect_exit 1 "I6: no window opens at very-high" -- hc -C ca ca allow-reissue --host "$U6"
hc -C ca ca config security high >/dev/null 2>&1
expect_exit 0 "I6: a window opened at high" -- hc -C ca ca allow-reissue --host "$U6"
hc -C ca ca config security very-high >/dev/null 2>&1
csr k6n.key r6v.csr "$U6" six-v.example
expect_exit 1 "I6: authorizes nothing while the level is very-high" -- hc -C ca ca sign --csr r6v.csr --out x.pem
hc -C ca ca config security high >/dev/null 2>&1

section "I7: one reissue, one authorization"
fresh_key ec-p256 k7.key
fresh_key ec-p256 k7b.key
fresh_key ec-p256 k7c.key
U7=$(newuuid)
csr k7.key r7.csr "$U7" seven.example
hc -C ca ca sign --csr r7.csr --token-file tok.txt --out c7.pem >/dev/null 2>&1
RA=$(hc -C ca token create --reissue --host "$U7" --name r7a 2>/dev/null)
RB=$(hc -C ca token create --reissue --host "$U7" --name r7b 2>/dev/null)
csr k7b.key r7b.csr "$U7" seven.example
expect_exit 0 "I7: reissue with the first token" -- hc -C ca ca sign --csr r7b.csr --token "$RA" --out c7b.pem
csr k7c.key r7c.csr "$(newuuid)" seven.example
cst=$(ca_state ca)
expect_exit 1 "I7: the second token cannot re-take the host" -- hc -C ca ca sign --csr r7c.csr --token "$RB" --out x.pem
check_grep "I7: it was consumed" 'consumed' "$W/.err"
check_eq "I7 refusal: CA unchanged" "$(ca_state ca)" "$cst"
check_grep "I7: token list shows it consumed" 'r7b.*consumed' "$(hc -C ca token list >"$W/tl" 2>&1; echo "$W/tl")"

section "I8: an expired CA issues nothing"
hc -C short ca init --name Short-CA --days 2 >/dev/null 2>&1
ST=$(hc -C short token create --name t --max-uses 3 2>/dev/null)
fresh_key ec-p256 k8.key
csr k8.key r8.csr "$(newuuid)" eight.example
before=$(hc -C short token list 2>/dev/null)
rm -f x.pem
expect_exit 1 "I8: the CA certificate expired: refused" -- env HOSTCA_NOW=$((T0 + 3 * 86400)) "$HOSTCA_T" -C short ca sign --csr r8.csr --token "$ST" --out x.pem
check_grep "I8: the refusal says the CA expired" 'CA certificate expired' "$W/.err"
check_nofile "I8: no certificate written" x.pem
check_eq "I8: no token use spent" "$(hc -C short token list 2>/dev/null)" "$before"

section "I9: a request is its signed content"
fresh_key ec-p256 k9.key
csr k9.key r9.csr "$(newuuid)" nine.example
hc -C ca token create --name once --max-uses 1 >tok9.txt 2>/dev/null
openssl req -in r9.csr -outform DER -out r9.der 2>/dev/null
expect_exit 0 "I9: signed once, token 'once' spent" -- hc -C ca ca sign --csr r9.csr --token-file tok9.txt --out c9.pem
"$PY" - r9.der r9neg.der r9ber.der <<'EOF'
import sys
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
d = open(sys.argv[1], 'rb').read()
n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
# CertificationRequest: SEQ { info, alg, BIT STRING }; the signature is the tail.
def tlv(b, i):
    l = b[i + 1]; h = 2
    if l & 0x80:
        k = l & 0x7f; l = int.from_bytes(b[i + 2:i + 2 + k], 'big'); h = 2 + k
    return h, l
h, l = tlv(d, 0)
i = h
hi, li = tlv(d, i); info = d[i:i + hi + li]; i += hi + li
ha, la = tlv(d, i); alg = d[i:i + ha + la]; i += ha + la
hb, lb = tlv(d, i); sig = d[i + hb + 1:i + hb + lb]
r, s = decode_dss_signature(sig)
def wrap(tag, body):
    n_ = len(body)
    if n_ < 128: return bytes([tag, n_]) + body
    lb_ = n_.to_bytes((n_.bit_length() + 7) // 8, 'big')
    return bytes([tag, 0x80 | len(lb_)]) + lb_ + body
def csr(sigder):
    return wrap(0x30, info + alg + wrap(0x03, b'\0' + sigder))
open(sys.argv[2], 'wb').write(csr(encode_dss_signature(r, n - s)))
# the same signature with a needless zero byte before r
rb = r.to_bytes(33, 'big')
sb = s.to_bytes((s.bit_length() + 8) // 8, 'big')
open(sys.argv[3], 'wb').write(csr(wrap(0x30, wrap(0x02, b'\0' + rb) + wrap(0x02, sb))))
EOF
for f in r9neg r9ber; do openssl req -inform DER -in $f.der -out $f.csr 2>/dev/null; done
check "I9: OpenSSL accepts the s -> n-s copy's signature" openssl req -in r9neg.csr -verify -noout
ncert=$(hc -C ca ca list 2>/dev/null | wc -l)
expect_exit 0 "I9: the s -> n-s copy is handed the same certificate back" -- hc -C ca ca sign --csr r9neg.csr --out c9neg.pem
check_eq "I9: the same certificate" "$(serial_of c9neg.pem)" "$(serial_of c9.pem)"
expect_exit 1 "I9: a copy with non-strict DER in its signature is refused" -- hc -C ca ca sign --csr r9ber.csr --out x.pem
check_eq "I9: no new certificate" "$(hc -C ca ca list 2>/dev/null | wc -l)" "$ncert"
check_grep "I9: the token's one use is spent once" 'once.*used-up|once.*1 of 1|once.*1/1' "$(hc -C ca token list >"$W/tl" 2>&1; echo "$W/tl")"

section "I10: the preview is the run"
hc -C ca token create --name single --max-uses 1 >tok10.txt 2>/dev/null
for i in 1 2 3; do
	hc -H "h10$i" host request --media mlist --name "ten$i.example" --token-file tok10.txt >/dev/null 2>&1
done
expect_exit 1 "I10: --list: one token use for three requests, exit 1" -- hc -C ca ca sign --media mlist --list
check_grep "I10: --list says 1 to issue, 2 refused" '3 requests: 1 to issue, 0 issued already, 2 refused' "$W/.err"
grep -c REFUSED "$W/.out" >list.n
expect_exit 1 "I10: the run: exit 1 as well" -- hc -C ca ca sign --media mlist
check_grep "I10: the run issued 1 and refused 2" '1 issued, 0 handed back again, 2 refused' "$W/.err"
check_eq "I10: --list printed two refusals" "$(cat list.n)" 2

section "I11: hosts never step back; nobody accepts an expired CRL"
FP=$(fp_openssl ca/ca.pem)
enroll ca h11 eleven "$TOK" "$W/mold" || fail "I11: setup: enrol" "failed"
cp -R mold old-stick
expect_exit 0 "I11: host renews" -- hc -H h11 host renew --media mren
env HOSTCA_NOW=$((T0 + 120)) "$HOSTCA_T" -C ca ca sign --media mren >/dev/null 2>&1
expect_exit 0 "I11: installs the renewed certificate" -- hc -H h11 host install --media mren
expect_exit 1 "I11: the old stick does not roll it back" -- hc -H h11 host install --media old-stick
check_grep "I11: the refusal says it is older" 'older' "$W/.err"
expect_exit 0 "I11: --force does" -- hc -H h11 host install --media old-stick --force
expect_exit 0 "I11: the older certificate revoked" -- hc -C ca ca revoke --serial "$(serial_of h11/host.pem)" --reason superseded
hc -H h11 host install --media mren >/dev/null 2>&1
hc -C ca ca export --media old-stick >/dev/null 2>&1
expect_exit 1 "I11: not even --force installs a certificate the media's CRL revokes" -- hc -H h11 host install --media old-stick --force
check_grep "I11: the refusal says revoked" 'revoked' "$W/.err"
cp ca/crl.pem crl-now.pem
LATE=$((T0 + 30 * 86400))
expect_exit 1 "I11: hostca verify refuses a CRL past its nextUpdate" -- env HOSTCA_NOW=$LATE "$HOSTCA_T" verify --ca ca/ca.pem --crl crl-now.pem --at "$LATE" c3x.pem
check_grep "I11: and says so" 'CRL expired' "$W/.err"
check_not "I11: as OpenSSL does" openssl verify -attime "$LATE" -crl_check -CAfile ca/ca.pem -CRLfile crl-now.pem c3x.pem
mkdir -p mexp
hc -C exp ca init --name Export-CA >/dev/null 2>&1
expect_exit 0 "I11: ca export after the CRL expired" -- env HOSTCA_NOW=$LATE "$HOSTCA_T" -C exp ca export --media mexp
nu=$(numget mexp/crl.pem nextupdate)
if [ "${nu:-0}" -gt "$LATE" ]; then ok "I11: ca export wrote a fresh CRL"; else fail "I11: ca export wrote a fresh CRL" "nextUpdate $nu <= $LATE"; fi

section "CRL: thisUpdate backdated; entries stay past expiry for one CRL"
check "CRL: a peer ten minutes behind accepts a fresh CRL" openssl verify -attime $(($(now) - 600)) -crl_check -CAfile ca/ca.pem -CRLfile ca/crl.pem c5c.pem
SR=$(serial_of c3a.pem)
# (thisUpdate is backdated an hour: +2h makes the first CRL one whose thisUpdate is past notAfter)
AFTER=$(($(numget c3a.pem notafter) + 7200))
hct -C ca ca crl >/dev/null 2>&1
env HOSTCA_NOW=$AFTER "$HOSTCA_T" -C ca ca crl >/dev/null 2>&1
peer_crl "CRL: the first CRL after the certificate's expiry still lists it" ca/ca.pem ca/crl.pem --revoked "${SR:-00}"
env HOSTCA_NOW=$((AFTER + 60)) "$HOSTCA_T" -C ca ca crl >/dev/null 2>&1
peer_crl "CRL: the one after that drops it" ca/ca.pem ca/crl.pem --not-revoked "${SR:-00}"

finish
