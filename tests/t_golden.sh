#!/bin/sh
# Golden vectors: a fixed seed (CA key, serials) and a fixed clock give a
# byte-identical CA certificate, host certificate and CRL -- BearSSL's
# ECDSA is deterministic (RFC 6979). The vectors themselves are judged by
# OpenSSL, and a forged copy must fail. Regenerate with
#   sh tests/t_golden.sh --regenerate   (only after a deliberate change)
. "$(dirname "$0")/lib.sh"
G=$T_SRC/golden
section "golden vectors"

mk() {
	HOSTCA_NOW=1800000000 HOSTCA_TEST_SEED=golden hct -q -C ca ca init --name "Golden CA" --security medium >/dev/null &&
	HOSTCA_NOW=1800000100 HOSTCA_TEST_SEED=golden hct -q -C ca ca sign --csr "$G/request.pem" --out host.pem &&
	HOSTCA_NOW=1800000200 HOSTCA_TEST_SEED=golden hct -q -C ca ca revoke --serial "$(serial_of host.pem)" --reason keyCompromise
}
if [ "${1:-}" = --regenerate ]; then
	mk && cp ca/ca.pem "$G/ca.pem" && cp host.pem "$G/host.pem" && cp ca/crl.pem "$G/crl.pem"
	exit $?
fi
check "golden: the CA, a signature and a revocation run" mk
check "golden: CA certificate is byte-identical" cmp ca/ca.pem "$G/ca.pem"
check "golden: host certificate is byte-identical" cmp host.pem "$G/host.pem"
check "golden: CRL is byte-identical" cmp ca/crl.pem "$G/crl.pem"
# The vectors are right, not just stable: OpenSSL judges them.
check "golden: openssl verifies the host certificate (at its time)" \
	openssl verify -x509_strict -attime 1800000300 -CAfile "$G/ca.pem" "$G/host.pem"
check "golden: openssl accepts the CRL signature" \
	openssl crl -in "$G/crl.pem" -CAfile "$G/ca.pem" -noout
check_not "golden: openssl rejects the revoked host certificate with the CRL" \
	openssl verify -x509_strict -crl_check -attime 1800000300 -CAfile "$G/ca.pem" -CRLfile "$G/crl.pem" "$G/host.pem"
# A forgery: one byte of the signed body changed (the host ID), signature kept.
openssl x509 -in "$G/host.pem" -outform DER -out host.der 2>/dev/null
"$PY" - host.der forged.der <<'PY'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
i = d.find(b'urn:uuid:') + 9
d[i] = ord('f') if d[i] != ord('f') else ord('e')
open(sys.argv[2], 'wb').write(bytes(d))
PY
openssl x509 -inform DER -in forged.der -out forged.pem 2>/dev/null
expect_exit 1 "golden: hostca verify refuses the forged certificate" -- \
	"$HOSTCA" verify --ca "$G/ca.pem" --at 1800000300 forged.pem
check_not "golden: openssl refuses the forged certificate" \
	openssl verify -attime 1800000300 -CAfile "$G/ca.pem" forged.pem
expect_exit 0 "golden: hostca verify accepts the real one at its time" -- \
	"$HOSTCA" verify --ca "$G/ca.pem" --at 1800000300 "$G/host.pem"
expect_exit 1 "golden: hostca verify with the CRL says revoked" -- \
	"$HOSTCA" verify --ca "$G/ca.pem" --crl "$G/crl.pem" --at 1800000300 "$G/host.pem"
check_grep "golden: the refusal names the reason" "keyCompromise" "$W/.err"
finish
