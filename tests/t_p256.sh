#!/bin/sh
# t_p256.sh: hostca verifies P-256 signatures with its own variable-time
# code (hostca.c, "P-256 verification in variable time"). Judged here
# against BearSSL's constant-time verifier on the same input
# (tests/p256check.c: random keys, small and large private keys, damaged
# signatures, keys and hashes, r and s at and around 0 and n, hash
# lengths from 1 to 64 bytes), and against OpenSSL's signatures.
. "$(dirname "$0")/lib.sh"

case "$T_LABEL" in
*asan*) P=${T_P256CHECK_ASAN:-} ROUNDS=150 ;;
*arm64*) P=${T_P256CHECK_ARM64:-} ROUNDS=100 ;;
*) P=${T_P256CHECK:-} ROUNDS=1000 ;;
esac
if [ -n "$P" ] && [ -x "$P" ]; then
	expect_exit 0 "p256check: hostca and BearSSL agree ($ROUNDS rounds)" -- "$P" "$ROUNDS"
	check_grep "p256check: every case compared" "cases agree" "$W/.out"
else
	fail "p256check" "not built (make tests/p256check)"
fi

# OpenSSL's P-256 signatures, over each hash hostca takes: a CSR passes
# with its signature and fails with one bit of it changed.
flip_last() { # IN OUT: the same PEM with the last DER byte (in s) changed
	"$PY" - "$1" "$2" <<'PYEOF'
import base64, sys
lines = open(sys.argv[1]).read().split("\n")
body = "".join(l for l in lines if l and not l.startswith("-----"))
der = bytearray(base64.b64decode(body))
der[-1] ^= 1
b = base64.b64encode(bytes(der)).decode()
with open(sys.argv[2], "w") as f:
    f.write("-----BEGIN CERTIFICATE REQUEST-----\n")
    for i in range(0, len(b), 64):
        f.write(b[i:i + 64] + "\n")
    f.write("-----END CERTIFICATE REQUEST-----\n")
PYEOF
}
for md in sha256 sha384 sha512; do
	good=0 bad=0 i=0
	while [ $i -lt 8 ]; do
		openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
			-"$md" -subj "/CN=n$i.example" -out "r-$md-$i.pem" 2>/dev/null
		flip_last "r-$md-$i.pem" "f-$md-$i.pem"
		hc show "r-$md-$i.pem" >/dev/null 2>&1 && good=$((good + 1))
		hc show "f-$md-$i.pem" >/dev/null 2>&1 || bad=$((bad + 1))
		i=$((i + 1))
	done
	check_eq "openssl P-256/$md CSRs: every signature verifies" "$good" 8
	check_eq "openssl P-256/$md CSRs: every changed signature is refused" "$bad" 8
done
expect_exit nz "hostca show refuses a changed OpenSSL signature" -- hc show f-sha256-0.pem
check_grep "a changed signature is named as such" "signature" "$W/.err"

# Malformed signature values that BearSSL's DER-to-raw conversion lengthens
# (it pads r and s to the longer one): refused, never written past a buffer.
"$PY" - r-sha256-0.pem <<'PYEOF'
import base64, sys
def rd(b, i):
    t, l = b[i], b[i + 1]
    i += 2
    if l & 0x80:
        k = l & 0x7f
        l = int.from_bytes(b[i:i + k], "big")
        i += k
    return t, i, l
def tlv(t, body):
    n = len(body)
    h = bytes([n]) if n < 128 else bytes([0x81, n]) if n < 256 else bytes([0x82, n >> 8, n & 255])
    return bytes([t]) + h + body
pem = open(sys.argv[1]).read().split("\n")
der = base64.b64decode("".join(l for l in pem if l and not l.startswith("-----")))
_, i, _ = rd(der, 0)
parts = []
for _ in range(2):
    _, j, l = rd(der, i)
    parts.append(der[i:j + l])
    i = j + l
for name, sig in (("empty-r", b"\x30\x81\x81\x02\x00\x02\x7d" + b"A" * 125),
                  ("long-s", b"\x30\x47\x02\x00\x02\x43" + b"\x41" * 67),
                  ("huge", b"\x30\x82\x01\x04\x02\x00\x02\x82\x01\x00" + b"\x41" * 256)):
    out = tlv(0x30, parts[0] + parts[1] + tlv(0x03, b"\x00" + sig))
    b = base64.b64encode(out).decode()
    with open("ovr-%s.pem" % name, "w") as f:
        f.write("-----BEGIN CERTIFICATE REQUEST-----\n")
        for k in range(0, len(b), 64):
            f.write(b[k:k + 64] + "\n")
        f.write("-----END CERTIFICATE REQUEST-----\n")
PYEOF
for v in empty-r long-s huge; do
	expect_exit 1 "a malformed signature value ($v) is refused cleanly" -- hc show "ovr-$v.pem"
done
check_grep "the refusal names the signature" "signature" "$W/.err"
finish
