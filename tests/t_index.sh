#!/bin/sh
# t_index.sh: the index (index/, a cache of the fold of the journal for
# large CAs). With HOSTCA_INDEX_EVERY=4 (test builds) it is renewed every
# four journal entries, so every command below runs through it: hosts and
# certificates are loaded from it on demand, revocations merge into it.
# Whatever the index says must agree with a fold of the whole journal.
. "$(dirname "$0")/lib.sh"
HOSTCA_INDEX_EVERY=4
export HOSTCA_INDEX_EVERY
section "index: a CA whose state is read through index/"

hct -C ca ca init --name Index-CA --security medium >/dev/null 2>&1
FP=$(fp_openssl ca/ca.pem)
mkdir -p m
i=1
while [ $i -le 12 ]; do
	hct -H h$i host request --media m --name host$i.example >/dev/null 2>&1
	[ $((i % 3)) = 0 ] && hct -C ca ca sign --media m >/dev/null 2>&1
	i=$((i + 1))
done
i=1
while [ $i -le 12 ]; do
	hct -H h$i host install --media m --ca-fingerprint "$FP" >/dev/null 2>&1
	i=$((i + 1))
done
check_file "index: index/state written" ca/index/state
check "index: twelve hosts enrolled through it" test "$(ls m/processed | wc -l)" = 12
expect_exit 0 "index: ca check (journal, index and fold agree)" -- "$HOSTCA_T" -C ca ca check

# The same request again: found through the index, handed back.
cp m/processed/"$(ls m/processed | head -n 1)" m/requests/again.pem
expect_exit 0 "index: a request signed before is handed back" -- "$HOSTCA_T" -C ca ca sign --media m
check_grep "index: ... and nothing is spent" "handed back" "$W/.err"

# A name held by a host that lives in the index.
fresh_key ec-p256 thief.key
mkcsr thief.key thief.csr "/CN=$(newuuid)" "DNS:host2.example"
expect_exit 1 "index: name theft refused" -- "$HOSTCA_T" -C ca ca sign --csr thief.csr
check_grep "index: the refusal names the holder" "$(cat h2/hostid)" "$W/.err"

# Revocations of certificates and hosts that are only in the index.
S1=$(serial_of h1/host.pem)
expect_exit 0 "index: revoke --serial of an indexed certificate" -- "$HOSTCA_T" -C ca ca revoke --serial "$S1" --reason keyCompromise
expect_exit 0 "index: revoke --host by name" -- "$HOSTCA_T" -C ca ca revoke --host host3.example
openssl crl -in ca/crl.pem -noout -text >crl.txt 2>/dev/null
check_serial_in "index: the CRL lists the serial" crl.txt "$S1"
check_serial_in "index: the CRL lists the host's certificate" crl.txt "$(serial_of h3/host.pem)"
peer_openssl_rejects "index: openssl rejects the revoked h1" ca/ca.pem h1/host.pem ca/crl.pem revoked
peer_openssl "index: openssl accepts h4 with the CRL" ca/ca.pem h4/host.pem ca/crl.pem

# Reissue (revoked host, token) and renewal (indexed host, same key).
T=$(hct -C ca token create --reissue --host host3.example 2>/dev/null)
check "index: reissue token for an indexed host" test -n "$T"
hct -H h3 host request --media m --name host3.example --token "$T" >/dev/null 2>&1
hct -H h5 host renew --media m >/dev/null 2>&1
OLD5=$(serial_of h5/host.pem)
expect_exit 0 "index: reissue and renewal signed" -- "$HOSTCA_T" -C ca ca sign --media m
hct -H h3 host install --media m >/dev/null 2>&1
hct -H h5 host install --media m >/dev/null 2>&1
check_ne "index: renewal gave h5 a new certificate" "$(serial_of h5/host.pem)" "$OLD5"
expect_exit 0 "index: h3 usable again" -- "$HOSTCA_T" -H h3 host status
openssl crl -in ca/crl.pem -noout -text >crl.txt 2>/dev/null
check_serial_out "index: the renewed h5 certificate is not revoked" crl.txt "$OLD5"

# The fold of the whole journal and the index agree.
expect_exit 0 "index: ca check after the changes" -- "$HOSTCA_T" -C ca ca check
hct -C ca ca list --json >with-index.json 2>/dev/null
hct -C ca token list --json >tokens-with.json 2>/dev/null
cp -r ca ca-copy
rm -rf ca-copy/index
hct -C ca-copy ca list --json >without-index.json 2>/dev/null
hct -C ca-copy token list --json >tokens-without.json 2>/dev/null
# same_payload KEY A B: both runs succeeded and list the same, non-empty KEY
same_payload() {
	"$PY" -c '
import json, sys
k, a, b = sys.argv[1], json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
assert a["ok"] is True and b["ok"] is True, (a.get("error"), b.get("error"))
assert a[k], "no %s listed" % k
assert a[k] == b[k], "%s differ" % k' "$@"
}
check "index: ca list is the same without the index" same_payload certificates with-index.json without-index.json
check "index: token list is the same without the index" same_payload tokens tokens-with.json tokens-without.json
expect_exit 0 "index: a writer without index rebuilds it" -- "$HOSTCA_T" -C ca-copy ca crl
check_file "index: rebuilt" ca-copy/index/state

# Entries read through the index are checked like a fold checks them
# (issue 12): a same-length edit of an indexed issue entry's key
# fingerprint, to a key the attacker holds, is not used for a renewal.
cp ca/journal journal.saved
cp -r h6 h6x
mkdir -p mx
hct -H h6x host request --media mx --name host6.example --new-key >/dev/null 2>&1
OLDFP=$(openssl pkey -in h6/host.key -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-64)
NEWFP=$(openssl pkey -in h6x/host.key.new -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-64)
sed -i "s/keyfp=$OLDFP/keyfp=$NEWFP/" ca/journal
check "index: the journal entry now names the attacker's key" grep -q "keyfp=$NEWFP" ca/journal
cp ca/journal journal.forged
expect_exit 2 "index: a renewal against the edited entry is not signed" -- "$HOSTCA_T" -C ca ca sign --media mx
check_grep "index: ... the message says the entry is not the indexed one" "not the one index/serial" "$W/.err"
check "index: ... and no certificate went to the stick" test -z "$(ls mx/responses 2>/dev/null)"
expect_exit 1 "index: ca check finds the edit" -- "$HOSTCA_T" -C ca ca check
cp journal.saved ca/journal
expect_exit 0 "index: with the real journal, ca check agrees again" -- "$HOSTCA_T" -C ca ca check

# Index files are vouched for block by block by the signed index/state:
# an edited record (host6's name record pointed at host7) is not used.
expect_exit 0 "index: a writer rebuilds the dropped index" -- "$HOSTCA_T" -C ca ca crl
check_file "index: ... index/state is back" ca/index/state
NF=ca/index/name.$(awk '$1 == "at" { print $2 }' ca/index/state)
cp "$NF" name.saved
H6=$(cat h6/hostid) H7=$(cat h7/hostid)
sed -i "s/$H6/$H7/" "$NF"
check "index: the name record was edited" test -n "$(cmp "$NF" name.saved 2>&1)"
expect_exit 1 "index: ca check reports the edited block" -- "$HOSTCA_T" -C ca ca check
check_grep "index: ... naming the file and block" "name\.[0-9]*: block 1 is not what the signed index/state says" "$W/.err"
expect_exit 2 "index: a command that searches the edited file stops" -- "$HOSTCA_T" -C ca ca revoke --host host6.example
check_grep "index: ... and says the index is dropped" "index is dropped" "$W/.err"
check "index: ... index/state is gone" test ! -e ca/index/state
expect_exit 0 "index: run again, it folds the journal: host6 revoked" -- "$HOSTCA_T" -C ca ca revoke --host host6.example
openssl crl -in ca/crl.pem -noout -text >crl.txt 2>/dev/null
check_serial_in "index: ... the CRL has host6's certificate" crl.txt "$(serial_of h6/host.pem)"
check_serial_out "index: ... and not host7's" crl.txt "$(serial_of h7/host.pem)"
expect_exit 0 "index: ca check after the rebuild" -- "$HOSTCA_T" -C ca ca check

# A damaged index is not trusted: commands fold the journal instead.
for f in ca/index/serial.*; do : >"$f"; done
expect_exit 0 "index: damaged index: revoke still works" -- "$HOSTCA_T" -C ca ca revoke --host host4.example
openssl crl -in ca/crl.pem -noout -text >crl.txt 2>/dev/null
check_serial_in "index: ... and the CRL has it" crl.txt "$(serial_of h4/host.pem)"
expect_exit 0 "index: ca check after the rebuild" -- "$HOSTCA_T" -C ca ca check
# A stale one (the journal it names is not this journal) likewise.
cp ca/index/state state.saved
sed 's/^at \([0-9]*\) \([0-9]*\) ./at \1 \2 0/' state.saved >ca/index/state
expect_exit 0 "index: stale index ignored" -- "$HOSTCA_T" -C ca ca list
check_grep "index: ... the listing is complete" "host12.example" "$W/.out"
finish
