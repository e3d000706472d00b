#!/bin/sh
# t_messages.sh: refusals name what they refuse (issue 14, part 4): curves
# and signature algorithms by name (OpenSSL makes the requests), why SHA-1
# is refused, removeFromCRL, a pending new key of another type, a foreign
# CSR that renews without its host ID, a SHA-1 CA fingerprint, and a
# request asking for an unknown critical extension (signed without it).
. "$(dirname "$0")/lib.sh"
section "messages: refusals that say what and why"

hct -C ca ca init --name Msg-CA --security medium >/dev/null 2>&1
req() { # KEYFILE OUT [openssl req options...]
	_k=$1 _o=$2
	shift 2
	openssl req -new -key "$_k" -subj /CN=m.example -addext subjectAltName=DNS:m.example "$@" -out "$_o" 2>/dev/null
}
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-224 -out p224.key 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:brainpoolP256r1 -out bp.key 2>/dev/null
req p224.key p224.csr
req bp.key bp.csr
req "$(fixkey rsa-2048)" pss.csr -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
req "$(fixkey ec-p256)" sha1.csr -sha1
expect_exit 1 "messages: a P-224 key is refused" -- "$HOSTCA_T" -C ca ca sign --csr p224.csr --out o.pem
check_grep "messages: ... by name: P-224" "curve P-224 \(1\.3\.132\.0\.33\)" "$W/.err"
expect_exit 1 "messages: a brainpool key is refused" -- "$HOSTCA_T" -C ca ca sign --csr bp.csr --out o.pem
check_grep "messages: ... by name: brainpoolP256r1" "curve brainpoolP256r1" "$W/.err"
expect_exit 1 "messages: an RSA-PSS signature is refused" -- "$HOSTCA_T" -C ca ca sign --csr pss.csr --out o.pem
check_grep "messages: ... by name: RSASSA-PSS, with what is taken" "RSASSA-PSS .*not supported \(ECDSA or PKCS#1" "$W/.err"
expect_exit 1 "messages: a SHA-1 signature is refused" -- "$HOSTCA_T" -C ca ca sign --csr sha1.csr --out o.pem
check_grep "messages: ... by name, and why" "ecdsa-with-SHA1 .*can be forged" "$W/.err"

# removeFromCRL (8): a delta-CRL reason
expect_exit 2 "messages: --reason removeFromCRL is refused" -- "$HOSTCA_T" -C ca ca revoke --serial 01 --reason removeFromCRL
check_grep "messages: ... saying it belongs to delta CRLs" "delta CRLs" "$W/.err"
expect_exit 2 "messages: --reason 7 (unused) is refused" -- "$HOSTCA_T" -C ca ca revoke --serial 01 --reason 7
check_grep "messages: ... with the right range" "0-6, 9 or 10" "$W/.err"

# a pending host.key.new of another type
mkdir -p m
hct -H h host request --media m --name h.example >/dev/null 2>&1
hct -C ca ca sign --media m >/dev/null 2>&1
hct -H h host install --media m --trust-on-first-use >/dev/null 2>&1
hct -H h host request --media m --name h.example --new-key --key rsa-2048 >/dev/null 2>&1
expect_exit 1 "messages: --new-key --key ec-p384 with an RSA host.key.new pending" -- \
	"$HOSTCA_T" -H h host request --media m --name h.example --new-key --key ec-p384
check_grep "messages: ... says which key is pending" "host.key.new .* is rsa-2048, not ec-p384" "$W/.err"

# a foreign CSR that renews without its host ID
fk=$(fixkey ec-p384)
openssl req -new -key "$fk" -subj /CN=f.example -addext subjectAltName=DNS:f.example -out f1.csr 2>/dev/null
expect_exit 0 "messages: a foreign CSR enrols" -- "$HOSTCA_T" -C ca ca sign --csr f1.csr --out f1.pem
FID=$(openssl x509 -in f1.pem -noout -ext subjectAltName 2>/dev/null | grep -o 'urn:uuid:[0-9a-f-]*' | cut -d: -f3)
openssl req -new -key "$fk" -subj "/CN=f.example/O=Plant" -addext subjectAltName=DNS:f.example -out f2.csr 2>/dev/null
expect_exit 1 "messages: its renewal without the host ID is refused" -- "$HOSTCA_T" -C ca ca sign --csr f2.csr --out f2.pem
check_grep "messages: ... and the refusal says how to renew" "repeat the host ID .*urn:uuid:$FID" "$W/.err"
openssl req -new -key "$fk" -subj "/CN=f.example/O=Plant" -addext "subjectAltName=DNS:f.example,URI:urn:uuid:$FID" -out f3.csr 2>/dev/null
expect_exit 0 "messages: ... which works" -- "$HOSTCA_T" -C ca ca sign --csr f3.csr --out f3.pem
check_grep "messages: ... as a renewal" "renewal" "$W/.err"

# the SHA-1 fingerprint that ca show prints is not a pin
FP1=$("$HOSTCA_T" -C ca ca show 2>/dev/null | awk '/^SHA-1:/ { print $2 }')
mkdir -p m2
hct -H h2 host request --media m2 --name h2.example >/dev/null 2>&1
hct -C ca ca sign --media m2 >/dev/null 2>&1
expect_exit 2 "messages: --ca-fingerprint with the SHA-1 form" -- "$HOSTCA_T" -H h2 host install --media m2 --ca-fingerprint "$FP1"
check_grep "messages: ... says pins are SHA-256" "SHA-1 fingerprint; a CA is pinned by its SHA-256" "$W/.err"

# an unknown critical extension asked for: signed without it, and said
openssl req -new -key "$(fixkey ec-p256)" -subj /CN=c.example -addext subjectAltName=DNS:c.example \
	-addext "1.2.3.4=critical,ASN1:NULL" -out crit.csr 2>/dev/null
expect_exit 0 "messages: a request with an unknown critical extension is signed" -- \
	"$HOSTCA_T" -C ca ca sign --csr crit.csr --out crit.pem
check_grep "messages: ... the verdict says it was left out" "critical extension 1\.2\.3\.4.*signed without it" "$W/.err"
check "messages: ... and the certificate does not carry it (openssl)" sh -c "! openssl x509 -in crit.pem -noout -text | grep -q '1\.2\.3\.4'"
peer_openssl "messages: openssl accepts that certificate" ca/ca.pem crit.pem ca/crl.pem
finish
