#!/bin/sh
# t_hostile.sh: a stick that someone tampered with. Every crafted request is
# refused with a message, the batch goes on, nothing outside the media is
# touched, the CA is unchanged (but for the recorded refusals) and ca check
# stays clean. Then the host side: a foreign CA, another key, an older CRL.
. "$(dirname "$0")/lib.sh"
section "hostile requests on the media (table: file -> refused)"

hc -C ca ca init --name Hostile-CA --security medium >/dev/null 2>&1
FP=$(fp_openssl ca/ca.pem)
mkdir -p m/requests
# One honest host first, whose host ID a forger will claim.
hc -H honest host request --media m --name honest.example >/dev/null 2>&1
hc -C ca ca sign --media m >/dev/null 2>&1
hc -H honest host install --media m --ca-fingerprint "$FP" >/dev/null 2>&1
HID=$(cat honest/hostid)

# Crafted requests, made with python-cryptography (valid signatures) and by
# hand (broken DER).
"$PY" - "$HID" <<'PY'
import sys, os, uuid
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
hid = sys.argv[1]
key = ec.generate_private_key(ec.SECP256R1())
def csr(path, cn, sans):
    b = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    open(path, "wb").write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
u = lambda: str(uuid.uuid4())
r = "m/requests/"
csr(r + "many-sans.pem", u(), [x509.DNSName("n%d.example" % i) for i in range(2000)])
csr(r + "forty-sans.pem", u(), [x509.DNSName("f%d.example" % i) for i in range(40)])
csr(r + "slash-cn.pem", "../../etc/cron.d/x", [x509.DNSName("slash-cn.example")])
csr(r + "newline-san.pem", u(), [x509.DNSName("evil\nname.example")])
csr(r + "nul-san.pem", u(), [x509.DNSName("evil\x00name.example")])
csr(r + "slash-san.pem", u(), [x509.DNSName("../../etc/passwd")])
csr(r + "ctrl-cn.pem", "host\x1b[31mred", [x509.DNSName("ctrl.example")])
csr(r + "email-san.pem", u(), [x509.RFC822Name("a@example.com")])
csr(r + "uri-san.pem", u(), [x509.UniformResourceIdentifier("http://example.com/")])
csr(r + "claims-honest.pem", hid, [x509.DNSName("forger.example")])
csr(r + "steals-name.pem", u(), [x509.DNSName("honest.example")])
def pem(path, der):
    import base64
    b = base64.encodebytes(der).decode().replace("\n", "")
    open(path, "w").write("-----BEGIN CERTIFICATE REQUEST-----\n" +
        "\n".join(b[i:i+64] for i in range(0, len(b), 64)) + "\n-----END CERTIFICATE REQUEST-----\n")
pem(r + "deep.pem", b"\x30\x82\x0f\xa0" + b"\x30\x82\x0f\x9c" + b"\x30\x03" * 1 + b"\x02\x01\x00" + b"\x00" * (0xf9c - 5))
d = b"\x02\x01\x00"
for i in range(200):
    d = bytes([0x30, 0x81 if len(d) < 256 else 0x82]) + (bytes([len(d)]) if len(d) < 256 else len(d).to_bytes(2, "big")) + d
pem(r + "nested.pem", d[:4000])
pem(r + "absurd-length.pem", b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 64)
pem(r + "indefinite.pem", b"\x30\x80" + b"\x02\x01\x00" + b"\x00\x00")
open(r + "random.pem", "wb").write(os.urandom(3000))
open(r + "empty.pem", "wb").write(b"")
open(r + "big.pem", "wb").write(b"A" * (3 * 1024 * 1024))
PY
mkfifo m/requests/fifo.pem 2>/dev/null
mknod m/requests/device.pem c 1 3 2>/dev/null
ln -s /etc/passwd m/requests/passwd-link.pem
mkdir m/requests/a-directory.pem
BEFORE=$(ca_state ca)
N0=$(hc -C ca ca list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')
# exit 1: some refused (none may be issued); and it must not hang on the FIFO
expect_exit 1 "hostile batch: refused requests, exit 1" -- timeout 60 "$HOSTCA" -C ca ca sign --media m
cp "$W/.err" batch.err
while IFS='|' read -r file pattern; do
	check_grep "refused: $file ($pattern)" "requests/$file.*($pattern)" batch.err
done <<EOF
many-sans.pem|more than 32 names|larger than
forty-sans.pem|more than 32 names
slash-cn.pem|path separator
newline-san.pem|not a valid host name|control
nul-san.pem|not a valid host name|control
slash-san.pem|not a valid host name
ctrl-cn.pem|control characters
email-san.pem|not supported
uri-san.pem|not supported
claims-honest.pem|is known|reissue
steals-name.pem|held by host
deep.pem|malformed|not a certificate request|DER
nested.pem|malformed|not a certificate request|DER
absurd-length.pem|malformed|not a certificate request|DER|PEM
indefinite.pem|malformed|not a certificate request|DER
random.pem|PEM
empty.pem|empty
big.pem|too large
fifo.pem|not a regular file
device.pem|not a regular file
passwd-link.pem|symbolic link
a-directory.pem|directory
EOF
check_eq "hostile batch: no certificate issued" "$(hc -C ca ca list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')" "$N0"
check_eq "hostile batch: the CA is unchanged" "$(ca_state ca)" "$BEFORE"
check "hostile batch: no response written for any of them" test "$(ls m/responses | wc -l)" -eq 1
check "hostile batch: /etc/passwd untouched (still a file with root)" grep -q '^root:' /etc/passwd
check_nogrep "hostile batch: no raw control character reaches the terminal" "$(printf '\033')" batch.err
expect_exit 0 "hostile batch: ca check clean" -- hc -C ca ca check

section "the host side: what a forged stick brings back"
hc -C other ca init --name Other-CA --security medium >/dev/null 2>&1
mkdir -p f
# A response from a foreign CA (for this host's own key!).
hc -H honest host request --media f --name honest.example >/dev/null 2>&1
hc -C other ca sign --media f >/dev/null 2>&1
expect_exit 1 "host install: response from a foreign CA refused" -- hc -H honest host install --media f
check_grep "host install: says why" "trusted CA|not issued" "$W/.err"
# A CRL from a foreign CA, and an older CRL of our own CA.
mkdir -p g
cp other/crl.pem g/crl.pem
expect_exit 1 "host update: foreign CRL refused" -- hc -H honest host update --media g
cp ca/crl.pem old-crl.pem
hc -C ca ca crl >/dev/null 2>&1
hc -C ca ca export --media g >/dev/null 2>&1
expect_exit 0 "host update: the newer CRL taken" -- hc -H honest host update --media g
# (the plain name and the CA's own copy, crl-KEYID.pem, which hosts read first)
for f in g/crl.pem g/crl-*.pem; do cp old-crl.pem "$f"; done
expect_exit 1 "host update: an older CRL refused (lower number)" -- hc -H honest host update --media g
check_grep "host update: says it is older" "older|lower" "$W/.err"
# A response for another host's key, planted under this host's name.
hc -H other-host host request --media f --name other-host.example >/dev/null 2>&1
hc -C ca ca sign --media f >/dev/null 2>&1
cp f/responses/"$(cat other-host/hostid)".pem f/responses/"$HID".pem
expect_exit 1 "host install: a response for another key refused" -- hc -H honest host install --media f
check_grep "host install: says another key" "another key" "$W/.err"
expect_exit 0 "host status: the honest host is untouched and usable" -- hc -H honest host status
# The same response, with this host's key file edited so that the public
# point stored next to its scalar is the other host's: the point is never
# taken on the media's word, so the key still does not match.
cp -r honest edited
"$PY" - edited/host.key other-host/host.key <<'PYEOF'
import sys
from cryptography.hazmat.primitives import serialization as s
def load(p):
    return s.load_pem_private_key(open(p, "rb").read(), None)
def point(k):
    return k.public_key().public_bytes(s.Encoding.X962, s.PublicFormat.UncompressedPoint)
mine, other = load(sys.argv[1]), load(sys.argv[2])
der = open(sys.argv[1], "rb").read()
import base64
body = b"".join(l for l in der.split(b"\n") if l and not l.startswith(b"-----"))
raw = base64.b64decode(body)
assert raw.count(point(mine)) == 1
raw = raw.replace(point(mine), point(other))
b = base64.b64encode(raw)
with open(sys.argv[1], "wb") as f:
    f.write(b"-----BEGIN PRIVATE KEY-----\n")
    for i in range(0, len(b), 64):
        f.write(b[i:i + 64] + b"\n")
    f.write(b"-----END PRIVATE KEY-----\n")
PYEOF
expect_exit 1 "host install: a key file claiming the other host's point is still refused" -- hc -H edited host install --media f
check_grep "host install: says another key (edited key file)" "another key" "$W/.err"
check_eq "host install: the edited host kept its own host ID" "$(cat edited/hostid)" "$HID"
finish
