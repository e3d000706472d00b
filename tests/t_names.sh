#!/bin/sh
# t_names.sh: the names the operator manages (issue 14): ca names (who
# holds each name, since when, by which certificate), ca share (a service
# name an HA pair may hold at once; every other name stays exclusive, I5)
# and ca release (frees a name whose holder is gone, revoking what carries
# it once confirmed). OpenSSL reads the CRLs.
. "$(dirname "$0")/lib.sh"
section "names: ca names, ca share, ca release"

hct -C ca ca init --name Names-CA --security medium >/dev/null 2>&1
mkdir -p m
hct -H a host request --media m --name a.example --alt-name svc.example >/dev/null 2>&1
hct -H b host request --media m --name b.example >/dev/null 2>&1
hct -C ca ca sign --media m >/dev/null 2>&1
hct -H a host install --media m --trust-on-first-use >/dev/null 2>&1
hct -H b host install --media m --trust-on-first-use >/dev/null 2>&1
IDA=$(cat a/hostid) IDB=$(cat b/hostid)
SA=$(serial_of a/host.pem)

# ca names
expect_exit 0 "names: ca names lists every name" -- "$HOSTCA_T" -C ca ca names
check_grep "names: ... svc.example held by host a, by a's certificate" "^svc\.example +$IDA .* 0*$SA" "$W/.out"
check_grep "names: ... b.example held by host b" "^b\.example +$IDB" "$W/.out"
expect_exit 0 "names: ca names --json NAME" -- "$HOSTCA_T" --json -C ca ca names svc.example
cp "$W/.out" names.json
check "names: ... one row: a's host ID, a's serial, its issue time, not shared" "$PY" - "$IDA" "$SA" <<'PY'
import json, sys
d = json.load(open("names.json"))
rows = d["names"]
assert len(rows) == 1, rows
r = rows[0]
assert r["name"] == "svc.example" and r["host_id"] == sys.argv[1], r
assert r["serial"].lstrip("0") == sys.argv[2].lstrip("0") and r["shared"] is False, r
assert r["since"].endswith("Z"), r
PY
expect_exit 1 "names: a name nobody holds: not found (exit 1)" -- "$HOSTCA_T" -C ca ca names nobody.example
expect_exit 0 "names: NAME in any case is the canonical name" -- "$HOSTCA_T" -C ca ca names SVC.Example
check_grep "names: ... found" "^svc\.example +$IDA" "$W/.out"

# b renames to carry svc.example too (a window vouches for its key): I5
# refuses while the name is exclusive, and allows it once shared.
hct -C ca ca allow-reissue --host "$IDB" --for 1h >/dev/null 2>&1
mkdir -p m2
hct -H b host request --media m2 --name b.example --alt-name svc.example >/dev/null 2>&1
expect_exit 1 "names: b may not take a's svc.example (I5)" -- "$HOSTCA_T" -C ca ca sign --media m2
check_grep "names: ... the refusal names the holder" "held by host $IDA" "$W/.err"
expect_exit 2 "share: one host is not a share" -- "$HOSTCA_T" -C ca ca share --name svc.example --hosts a.example
expect_exit 1 "share: an unknown host is refused" -- "$HOSTCA_T" -C ca ca share --name svc.example --hosts a.example,nosuch.example
expect_exit 0 "share: svc.example shared by a and b" -- "$HOSTCA_T" -C ca ca share --name svc.example --hosts "a.example,$IDB"
rm -f m2/processed/* 2>/dev/null
hct -H b host request --media m2 --name b.example --alt-name svc.example >/dev/null 2>&1
expect_exit 0 "share: now b is certified for svc.example too" -- "$HOSTCA_T" -C ca ca sign --media m2
hct -H b host install --media m2 >/dev/null 2>&1
check "share: b's certificate carries svc.example (openssl)" sh -c "openssl x509 -in b/host.pem -noout -ext subjectAltName | grep -q 'DNS:svc.example'"
peer_openssl "share: openssl accepts b's certificate" ca/ca.pem b/host.pem ca/crl.pem
expect_exit 0 "share: ca names shows two holders of svc.example, both shared" -- "$HOSTCA_T" -C ca ca names svc.example
check_eq "share: ... two rows marked shared" "$(grep -c '(shared)' "$W/.out")" 2
# a third host is still refused: shared with a and b, not with everyone
mkdir -p m3
hct -H c host request --media m3 --name c.example --alt-name svc.example >/dev/null 2>&1
expect_exit 1 "share: a third host may not take svc.example" -- "$HOSTCA_T" -C ca ca sign --media m3
# a host outside the share may not take the name even when nobody holds it
# (and a share may not leave out a host that holds the name now)
# the share survives the index (index/state) and a fold alike
HOSTCA_INDEX_EVERY=1 hct -C ca ca crl >/dev/null 2>&1
check_grep "share: index/state carries the share" "share name=svc\.example hosts=" ca/index/state
expect_exit 0 "share: ca check agrees (fold and index)" -- "$HOSTCA_T" -C ca ca check
expect_exit 0 "share: --remove ends it" -- "$HOSTCA_T" -C ca ca share --name svc.example --remove
expect_exit 1 "share: --remove of a name that is not shared" -- "$HOSTCA_T" -C ca ca share --name svc.example --remove

# ca release: what it affects, a confirmation, then the revocations
expect_exit 1 "release: without --yes (no terminal) nothing is changed" -- "$HOSTCA_T" -C ca ca release --name svc.example --reason "cluster decommissioned"
check_grep "release: ... it lists what would be revoked" "$SA.*will be revoked" "$W/.err"
check_grep "release: ... and says how to confirm" "give --yes" "$W/.err"
check "release: ... the CRL is unchanged" sh -c "! openssl crl -in ca/crl.pem -noout -text | grep -q $SA"
expect_exit 2 "release: --reason is required" -- "$HOSTCA_T" -C ca ca release --name svc.example --yes
expect_exit 0 "release: --yes revokes both holders' certificates" -- "$HOSTCA_T" -C ca ca release --name svc.example --reason "cluster decommissioned" --yes
openssl crl -in ca/crl.pem -noout -text >crl.txt 2>/dev/null
check_serial_in "release: the CRL lists a's certificate" crl.txt "$SA"
check_serial_in "release: the CRL lists b's certificate" crl.txt "$(serial_of b/host.pem)"
check_grep "release: ... as cessationOfOperation" "Cessation Of Operation" crl.txt
peer_openssl_rejects "release: openssl rejects a's certificate now" ca/ca.pem a/host.pem ca/crl.pem revoked
expect_exit 0 "release: the audit log has the name and the reason" -- "$HOSTCA_T" -C ca ca audit
check_grep "release: ... in the revoke entry" "revoke .*release=svc\.example text=cluster%20decommissioned" "$W/.out"
expect_exit 1 "release: a name nobody holds: nothing to release" -- "$HOSTCA_T" -C ca ca release --name svc.example --reason again --yes
rm -f m3/processed/* 2>/dev/null
expect_exit 0 "release: the freed name goes to a new host" -- "$HOSTCA_T" -C ca ca sign --media m3
IDC=$(cat c/hostid)
expect_exit 1 "share: a share that leaves out the current holder (c) is refused" -- "$HOSTCA_T" -C ca ca share --name svc.example --hosts "$IDA,$IDB"
check_grep "share: ... naming the holder left out" "host $IDC holds 'svc.example' now and is not in --hosts" "$W/.err"
# a shared name that nobody holds is still not for hosts outside the share
hct -H d host request --media m4 --name d.example --alt-name pair.example >/dev/null 2>&1 || { mkdir -p m4; hct -H d host request --media m4 --name d.example --alt-name pair.example >/dev/null 2>&1; }
expect_exit 0 "share: a name nobody holds yet, shared by a and b" -- "$HOSTCA_T" -C ca ca share --name pair.example --hosts "$IDA,$IDB"
expect_exit 1 "share: a host outside the share may not take it (nobody holds it)" -- "$HOSTCA_T" -C ca ca sign --media m4
check_grep "share: ... the refusal says who shares it" "shared by hosts .*only they may carry it" "$W/.err"
expect_exit 0 "release: ca check after it all" -- "$HOSTCA_T" -C ca ca check
finish
