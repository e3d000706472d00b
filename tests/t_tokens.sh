#!/bin/sh
# t_tokens.sh: tokens never ride the stick (issue 12, part 1). A host sends
# a proof bound to its request (README "Token proofs"), never the token;
# what the media and the CA directory hold at rest cannot enrol anybody.
. "$(dirname "$0")/lib.sh"

for m in m1 m2 m3 m4 mrogue; do mkdir -p "$W/$m/requests"; done
hc -C ca ca init --name Token-CA >/dev/null 2>&1 || fail "setup: ca init" "failed"
TOK=$(hc -C ca token create --name fleet --max-uses 10 2>/dev/null)
LETTERS=$(printf %s "$TOK" | tr -d '-')

section "the request carries a proof, never the token"
expect_exit 0 "host request --token" -- hc -H h1 host request --media m1 --name one --token "$TOK"
ID1=$(cat h1/hostid)
R1=m1/requests/$ID1.pem
check_grep "the request file has a HOSTCA TOKEN PROOF block" '^-----BEGIN HOSTCA TOKEN PROOF-----$' "$R1"
check "openssl req -verify still accepts the request" openssl req -in "$R1" -verify -noout
openssl req -in "$R1" -noout -text >r1.txt 2>&1
check_nogrep "the CSR has no challengePassword" 'challengePassword' r1.txt
check_nogrep "the token's letters appear nowhere in the file" "$LETTERS" "$R1"
check_nogrep "nor in the CSR's text" "$LETTERS" r1.txt
expect_exit 0 "the CA signs it" -- hc -C ca ca sign --media m1
check_grep "with the token's use" "token 'fleet'" "$W/.err"
P1=$(ls m1/processed/*.pem 2>/dev/null | head -n 1)
check_file "the request moved to processed/" "$P1"
check_nogrep "processed/ keeps no token value" "$LETTERS" "$P1"
check_nogrep "the CA directory keeps no token value" "$LETTERS" ca/journal
grep -rl "$LETTERS" ca >grep.out 2>/dev/null
check_empty "no file under the CA directory holds the letters" "$(cat grep.out)"
expect_exit 0 "the host installs" -- hc -H h1 host install --media m1 --trust-on-first-use

section "a proof is bound to its request"
# A rogue request with its own key, carrying the proof copied from processed/.
fresh_key ec-p256 rogue.key
U=$(newuuid)
mkcsr rogue.key rogue.csr "/CN=$U" "URI:urn:uuid:$U,DNS:one"
{ cat rogue.csr; sed -n '/BEGIN HOSTCA TOKEN PROOF/,/END HOSTCA TOKEN PROOF/p' "$P1"; } >mrogue/requests/0000-first.pem
cst=$(ca_state ca)
expect_exit 1 "a copied proof with another key is refused" -- hc -C ca ca sign --media mrogue
check_grep "it says the proof is for another request" 'proof does not verify' "$W/.err"
check_eq "the refusal changed nothing" "$(ca_state ca)" "$cst"
# The same with the real host's own request rewritten (another name):
# the info changes, the MAC does not verify.
hc -H h2 host request --media m2 --name two --token "$TOK" >/dev/null 2>&1
ID2=$(cat h2/hostid)
fresh_key ec-p256 thief.key
mkcsr thief.key thief.csr "/CN=$ID2" "URI:urn:uuid:$ID2,DNS:two"
{ cat thief.csr; sed -n '/BEGIN HOSTCA TOKEN PROOF/,/END HOSTCA TOKEN PROOF/p' "m2/requests/$ID2.pem"; } >m2/requests/0000-sorts-first.pem
expect_exit 1 "a request copied off the stick with another key, named to sort first: refused" -- hc -C ca ca sign --media m2
check_grep "the real host's request is signed" "$ID2.pem: issued new" "$W/.err"
check_grep "the copy is refused" '0000-sorts-first.pem: refused: .*proof does not verify' "$W/.err"
expect_exit 0 "the real host installs" -- hc -H h2 host install --media m2 --trust-on-first-use

section "reissue tokens: a proof too"
RT=$(hc -C ca token create --reissue --host one 2>/dev/null)
expect_exit 0 "host request --new-key --token (reissue)" -- hc -H h1 host request --media m3 --name one --new-key --token "$RT"
P3=m3/requests/$ID1.pem
cp "$P3" reissue-copy.pem
fresh_key ec-p256 thief3.key
mkcsr thief3.key thief3.csr "/CN=$ID1" "URI:urn:uuid:$ID1,DNS:one"
{ cat thief3.csr; sed -n '/BEGIN HOSTCA TOKEN PROOF/,/END HOSTCA TOKEN PROOF/p' "$P3"; } >m3/requests/0000-aaa.pem
expect_exit 1 "a reissue request's proof on a thief's key: refused, the real one signed" -- hc -C ca ca sign --media m3
check_grep "the real reissue is signed" "$ID1.pem: issued reissue" "$W/.err"
expect_exit 0 "host 1 installs its reissued certificate" -- hc -H h1 host install --media m3

section "plain tokens on the media"
fresh_key ec-p256 plain.key
# attrcsr KEY OUT CN CHALLENGE [SAN]: an OpenSSL CSR with a challengePassword
attrcsr() {
	printf '[req]\ndistinguished_name = dn\nattributes = attrs\nprompt = no\n[dn]\nCN = %s\n[attrs]\nchallengePassword = %s\n' "$3" "$4" >req.cnf
	openssl req -new -key "$1" -config req.cnf ${5:+-addext "subjectAltName=$5"} -out "$2" 2>/dev/null
}
U=$(newuuid)
attrcsr plain.key m4/requests/plain.pem "$U" "$TOK" "URI:urn:uuid:$U,DNS:plain"
if openssl req -in m4/requests/plain.pem -noout -text 2>/dev/null | grep -q challengePassword; then
	cst=$(ca_state ca)
	expect_exit 1 "a token in clear on the media is refused" -- hc -C ca ca sign --media m4
	check_grep "it names the token and says what to do" "token 'fleet' in clear.*token delete fleet" "$W/.err"
	check_eq "nothing changed" "$(ca_state ca)" "$cst"
	expect_exit 0 "the same CSR at the CA with --token-file still works" -- sh -c "printf '%s\n' '$TOK' >tok.txt && '$HOSTCA' -C ca ca sign --csr m4/requests/plain.pem --token-file tok.txt --out plain.pem"
	rm -f m4/requests/plain.pem
	attrcsr plain.key m4/requests/other.pem "$(newuuid)" "not a token"
	expect_exit 1 "high: a challengePassword that is no token is refused" -- hc -C ca ca sign --media m4
	hc -C ca ca config security medium >/dev/null 2>&1
	expect_exit 0 "medium: it is ignored, with a note" -- hc -C ca ca sign --media m4
	check_grep "the note says so" 'no token of this CA: ignored' "$W/.err"
	hc -C ca ca config security high >/dev/null 2>&1
else
	fail "plain tokens: openssl req with a challengePassword attribute" "cannot make the CSR"
fi

section "what the CA directory holds cannot make a proof"
# The journal keeps the token's id and its MAC key wrapped by the CA key:
# the wrapped value, used as a MAC key, makes no proof.
hc -C ca ca init --name Enc-CA >/dev/null 2>&1
printf 'correct horse battery staple\n' >pass
hc -C enc ca init --name Enc-CA --passphrase-file pass >/dev/null 2>&1
T2=$(hc --passphrase-file pass -C enc token create --name t 2>/dev/null)
check_eq "an encrypted CA's token create asks for the key (refused without it)" \
	"$(setsid -w "$HOSTCA" -C enc token create --name u </dev/null >/dev/null 2>&1; echo $?)" 2
WK=$(sed -n 's/.* token name=t .* wk=\([0-9a-f]*\) .*/\1/p' enc/journal)
ID=$(sed -n 's/.* token name=t .*id=\([0-9a-f]*\) .*/\1/p' enc/journal)
check_ne "the journal holds an id and a wrapped key" "$WK" "$ID"
hc -H h5 host request --media m5 --name five >/dev/null 2>&1
mkdir -p m5 && hc -H h5 host request --media m5 --name five >/dev/null 2>&1
ID5=$(cat h5/hostid 2>/dev/null)
"$PY" - "m5/requests/$ID5.pem" "$WK" "$ID" <<'EOF'
import sys, hmac, hashlib, base64, re
path, wk, tid = sys.argv[1], bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])
pem = open(path).read()
b = re.search(r'-----BEGIN CERTIFICATE REQUEST-----\n(.*?)-----END', pem, re.S).group(1)
der = base64.b64decode(b)
def tlv(d, i):
    l = d[i + 1]; h = 2
    if l & 0x80:
        k = l & 0x7f; l = int.from_bytes(d[i + 2:i + 2 + k], 'big'); h = 2 + k
    return h, l
h, l = tlv(der, 0)
hi, li = tlv(der, h)
info = der[h:h + hi + li]
mac = hmac.new(wk, b"hostca token proof v2" + hashlib.sha256(info).digest(), hashlib.sha256).digest()
proof = bytes([0x30, 0x2f, 0x02, 0x01, 0x02, 0x04, 8]) + tid + bytes([0x04, 32]) + mac
with open(path, 'a') as f:
    f.write("-----BEGIN HOSTCA TOKEN PROOF-----\n" + base64.b64encode(proof).decode() + "\n-----END HOSTCA TOKEN PROOF-----\n")
EOF
expect_exit 1 "a proof forged from the journal's wrapped key is refused" -- hc --passphrase-file pass -C enc ca sign --media m5
check_grep "as a proof that does not verify" 'proof does not verify' "$W/.err"
rm -f m5/requests/*.pem
hc -H h5 host request --media m5 --name five --token "$T2" >/dev/null 2>&1
expect_exit 0 "the real token's proof is accepted" -- hc --passphrase-file pass -C enc ca sign --media m5

section "no token on the command line: asked for on the terminal"
mkdir -p mtty
"$PY" - "$HOSTCA" "$W/htty" "$W/mtty" "$TOK" >tty.out 2>&1 <<'PYEOF'
import os, pty, sys, time, select
hostca, hdir, media, tok = sys.argv[1:5]
pid, fd = pty.fork()
if pid == 0:
    os.execv(hostca, [hostca, "-H", hdir, "host", "request", "--media", media, "--name", "tty"])
out = b""
deadline = time.time() + 20
sent = False
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.5)
    if r:
        try:
            d = os.read(fd, 1024)
        except OSError:
            break
        if not d:
            break
        out += d
        if not sent and b"Token" in out:
            os.write(fd, tok.encode() + b"\n")
            sent = True
if time.time() >= deadline:
    os.kill(pid, 9)
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
print("\nEXIT", os.WEXITSTATUS(st), "ECHOED" if tok.encode() in out else "NOECHO")
PYEOF
check_grep "host request asks for the token on a terminal" 'Token \(Enter if none\)' tty.out
check_grep "and does not echo it" 'EXIT 0 NOECHO' tty.out
IDT=$(cat htty/hostid 2>/dev/null)
check_grep "the request carries a proof of the typed token" '^-----BEGIN HOSTCA TOKEN PROOF-----$' "mtty/requests/${IDT:-none}.pem"

finish
