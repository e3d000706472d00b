#!/bin/sh
# t_history.sh: a history nobody can rewrite without the CA key (issue 12,
# part 2). journal.head carries the CA key's signature over the number and
# chain hash of the last acknowledged entry; every command checks it with
# ca.pem before it trusts the journal. Entries after it were never
# acknowledged: readers leave them out, the next writer removes them.
. "$(dirname "$0")/lib.sh"

hc -C base ca init --name History-CA >/dev/null 2>&1 || fail "setup: ca init" "failed"
T=$(hc -C base token create --name real --max-uses 5 2>/dev/null)
mkdir -p m
hc -H h host request --media m --name one --token "$T" >/dev/null 2>&1
hc -C base ca sign --media m >/dev/null 2>&1
SER=$(hc -C base ca list 2>/dev/null | grep -oE '^[0-9A-F]{16,}' | head -n 1)
hc -C base ca revoke --serial "${SER:-00}" --reason keyCompromise >/dev/null 2>&1

# rechain FILE [drop-event]: recompute every chain hash (as someone without
# the CA key can), optionally dropping every line of one event first; then
# append the given extra line (stdin) and write a head for the new end.
cat >rechain.py <<'EOF'
import hashlib, sys
path, drop, head, mode = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
extra = sys.stdin.read().strip()
lines = [l for l in open(path).read().split("\n") if l]
bodies = [l[:l.rindex(" h=")] for l in lines]
if drop:
    bodies = [b for b in bodies if b.split(" ")[2] != drop]
if extra:
    bodies.append(extra)
prev, out = bytes(32), []
for i, b in enumerate(bodies):
    parts = b.split(" ", 1)
    b = "%d %s" % (i + 1, parts[1])
    h = hashlib.sha256(prev + b.encode()).digest()
    out.append("%s h=%s" % (b, h.hex()))
    prev = h
open(path, "w").write("\n".join(out) + "\n")
if mode == "unsigned":
    open(head, "w").write("%d %s\n" % (len(out), prev.hex()))
elif mode == "oldsig":
    old = open(head).read().split()
    open(head, "w").write("%d %s %s\n" % (len(out), prev.hex(), old[2]))
EOF
forged_token_line() { # the token event of another CA's token, renamed
	grep ' token name=' "$1/journal" | head -n 1 | sed 's/ h=.*//; s/name=[^ ]*/name=forged/'
}
hc -C other ca init --name Other-CA >/dev/null 2>&1
FT=$(hc -C other token create --name x --max-uses 9 2>/dev/null)

section "re-chained history: refused everywhere"
for mode in unsigned oldsig; do
	c=ca-add-$mode
	cp -a base $c
	forged_token_line other | "$PY" rechain.py $c/journal "" $c/journal.head $mode
	expect_exit 1 "$mode head: ca audit --verify refuses a token line added and re-chained" -- hc -C $c ca audit --verify
	expect_exit nz "$mode head: ca check refuses it" -- hc -C $c ca check
	hc -H hf$mode host request --media mf$mode --name forged$mode --token "$FT" >/dev/null 2>&1 || mkdir -p mf$mode
	mkdir -p mf$mode
	hc -H hf$mode host request --media mf$mode --name forged$mode --token "$FT" >/dev/null 2>&1
	expect_exit 2 "$mode head: ca sign refuses to work from it" -- hc -C $c ca sign --media mf$mode
	check_grep "$mode head: and says why" 'not signed|signature does not verify' "$W/.err"
	check_nofile "$mode head: no certificate for the forged token" "mf$mode/responses/$(cat hf$mode/hostid 2>/dev/null).pem"
done
c=ca-drop
cp -a base $c
: | "$PY" rechain.py $c/journal revoke $c/journal.head oldsig
expect_exit 2 "a revoke line removed and re-chained: ca crl refuses" -- hc -C $c ca crl
expect_exit 1 "ca audit --verify finds it" -- hc -C $c ca audit --verify
peer_crl "the CRL on disk still lists the revocation" $c/ca.pem $c/crl.pem --revoked "${SER:-00}:keyCompromise"
c=ca-othersig
cp -a base $c
cp other/journal.head $c/journal.head
expect_exit 2 "a head signed by another CA's key: refused" -- hc -C $c ca list
expect_exit 2 "no head at all: refused" -- sh -c "rm -f $c/journal.head && '$HOSTCA' -C $c ca list"

section "entries after the signed head: left out, then removed"
c=ca-tail
cp -a base $c
lines=$(wc -l <$c/journal)
forged_token_line other | "$PY" -c '
import hashlib, sys
path = sys.argv[1]
last = open(path).read().split("\n")[-2]
prev = bytes.fromhex(last[last.rindex(" h=") + 3:])
n = int(last.split(" ")[0]) + 1
body = sys.stdin.read().strip().split(" ", 1)[1]
b = "%d %s" % (n, body)
h = hashlib.sha256(prev + b.encode()).digest()
open(path, "a").write("%s h=%s\n" % (b, h.hex()))
' $c/journal
expect_exit 0 "a reader works, leaving out the appended entry" -- hc -C $c token list
check_nogrep "the appended token is not listed" 'forged' "$W/.out"
check_grep "the reader says so" 'never acknowledged' "$W/.err"
mkdir -p mtail
hc -H htail host request --media mtail --name tail --token "$FT" >/dev/null 2>&1
expect_exit 1 "its token authorizes nothing" -- hc -C $c ca sign --media mtail
check_grep "the writer removed it, saying so" 'recovered: removed entries after entry' "$W/.err"
expect_exit 0 "ca audit --verify is clean again" -- hc -C $c ca audit --verify

section "a torn append (a page lost mid-write) is cut, not called tampering"
c=ca-torn
cp -a base $c
"$PY" - $c/journal <<'EOF'
import hashlib, sys
path = sys.argv[1]
last = open(path).read().split("\n")[-2]
prev = bytes.fromhex(last[last.rindex(" h=") + 3:])
n = int(last.split(" ")[0])
out = []
for i in range(3):
    b = "%d 1800000000 note text=unacknowledged-%d" % (n + 1 + i, i)
    h = hashlib.sha256(prev + b.encode()).digest()
    out.append("%s h=%s" % (b, h.hex()))
    prev = h
out[1] = "\0" * len(out[1])          # the lost page: zeros in the middle
open(path, "a").write("\n".join(out) + "\n")
EOF
expect_exit 0 "the next writer cuts the unacknowledged tail and works" -- hc -C $c ca crl
check_grep "saying what it cut" 'recovered: removed' "$W/.err"
expect_exit 0 "ca audit --verify is clean" -- hc -C $c ca audit --verify
c=ca-damaged
cp -a base $c
sed -i '3s/kind=auth/kind=AUTH/' $c/journal
expect_exit 2 "damage before the signed head is tampering: refused" -- hc -C $c ca crl
expect_exit 1 "and ca audit --verify says so" -- hc -C $c ca audit --verify

section "what ca audit --verify proves"
expect_exit 0 "ca audit --verify on the real CA" -- hc -C base ca audit --verify
check_grep "it says the end is signed by the CA key" 'signed by the CA key' "$W/.out"

section "ca repair"
c=ca-rep
cp -a base $c
"$PY" - $c/journal <<'EOF2'
import hashlib, sys
path = sys.argv[1]
last = open(path).read().split("\n")[-2]
prev = bytes.fromhex(last[last.rindex(" h=") + 3:])
n = int(last.split(" ")[0])
b = "%d 1800000000 note text=unacknowledged" % (n + 1)
open(path, "a").write("%s h=%s\n" % (b, hashlib.sha256(prev + b.encode()).hexdigest()) + "torn")
EOF2
expect_exit 0 "ca repair cuts an unacknowledged, torn tail" -- hc -C $c ca repair
check_grep "and says what it cut" 'recovered: removed entries after entry' "$W/.err"
check_grep "and that the journal is whole" 'the journal is whole' "$W/.err"
sed -i '2s/security=2/security=1/' ca-damaged/journal 2>/dev/null
expect_exit 2 "ca repair refuses damage before the signed head" -- hc -C ca-damaged ca repair
check_grep "saying it is not an unacknowledged tail" 'not an unacknowledged tail' "$W/.err"
c=ca-legacy
cp -a base $c
cut -d' ' -f1,2 $c/journal.head >$c/head.tmp && mv $c/head.tmp $c/journal.head
expect_exit 2 "an unsigned (older hostca) head is refused" -- hc -C $c ca list
check_grep "with the way out" 'ca repair --sign-head' "$W/.err"
expect_exit 0 "ca repair --sign-head signs its end" -- hc -C $c ca repair --sign-head
expect_exit 0 "then the CA works" -- hc -C $c ca list
expect_exit 0 "and ca audit --verify is clean" -- hc -C $c ca audit --verify

section "ca check compares crl.pem with the state"
expect_exit 0 "ca check on the real CA" -- hc -C base ca check
c=ca-crl
cp -a base $c
"$PY" - $c/ca.key $c/ca.pem $c/crl.pem <<'EOF2'
import sys, datetime
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
key = serialization.load_pem_private_key(open(sys.argv[1], "rb").read(), None)
ca = x509.load_pem_x509_certificate(open(sys.argv[2], "rb").read())
old = x509.load_pem_x509_crl(open(sys.argv[3], "rb").read())
b = x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
b = b.last_update(old.last_update).next_update(old.next_update)
for e in old.extensions:
    b = b.add_extension(e.value, e.critical)
# the same number, signed by the CA key -- and no entries
open(sys.argv[3], "wb").write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
EOF2
expect_exit 1 "a CRL of the right number that leaves a revocation out: ca check says so" -- hc -C $c ca check
check_grep "naming what is missing" 'revocation was left out' "$W/.err"

section "the index is the CA's too (review findings)"
export HOSTCA_INDEX_EVERY=2
hct -C ix ca init --name Index-CA >/dev/null 2>&1
T1=$(hct -C ix token create --name t1 2>/dev/null)
mkdir -p mix1 mix2
hct -H hix1 host request --media mix1 --name ix-one --token "$T1" >/dev/null 2>&1
hct -C ix ca sign --media mix1 >/dev/null 2>&1
hct -C ix token create --name t2 >/dev/null 2>&1
check_grep "an index was written, with t1 used" 't1 .*uses=1' ix/index/state
sed -i '/name=t1 /s/uses=1/uses=0/' ix/index/state
hct -H hix2 host request --media mix2 --name ix-two --token "$T1" >/dev/null 2>&1
expect_exit 1 "an index/state edited without the key (t1 unused again) is not believed" -- hct -C ix ca sign --media mix2
check_grep "t1 stays used up" "used up" "$W/.err"
hct -H hix1 host renew --media mix3 >/dev/null 2>&1 || { mkdir -p mix3 && hct -H hix1 host renew --media mix3 >/dev/null 2>&1; }
hct -C ix ca sign --media mix3 >/dev/null 2>&1
hct -C ix token create --name t3 >/dev/null 2>&1
expect_exit 0 "ca revoke --host with two valid certificates loaded through the index" -- hct -C ix ca revoke --host ix-one --reason superseded
check_eq "both revoked" "$(hct -C ix ca list --host ix-one --status valid 2>/dev/null | grep -cE '^[0-9A-F]{16,}')" 0
unset HOSTCA_INDEX_EVERY
c=ca-lastedit
cp -a base $c
sed -i '$s/ next=/ nExt=/' $c/journal
size=$(wc -c <$c/journal)
expect_exit 2 "an edit of the last acknowledged entry: a writer refuses" -- hc -C $c token create --name after
check_eq "and removes nothing" "$(wc -c <$c/journal)" "$size"

finish
