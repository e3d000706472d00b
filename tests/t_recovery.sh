#!/bin/sh
# t_recovery.sh: crashes and races on the host side, leftovers of
# interrupted commands, refusals recorded once, no core dumps (issue 12,
# part 3). HOSTCA_FAULT=<point>:<n> kills the test build at the n-th
# passage through a durable write point: atomic-rename (every file
# replaced), key-link (a key published).
. "$(dirname "$0")/lib.sh"

killed() { [ "$1" -ge 128 ]; }
# Every write point in the release pass; a sample under the sanitizers.
case $T_LABEL in
*asan*) P_REQ="key-link:1 atomic-rename:2" P_INST="1 3" P_ADOPT="1 3" ;;
*) P_REQ="key-link:1 atomic-rename:1 atomic-rename:2 atomic-rename:3" P_INST="1 2 3 4" P_ADOPT="1 2 3 4 5" ;;
esac
# Media directories exist before use, as a mounted stick does.
for m in mbase mold mre mren1 mren2 mup; do mkdir -p "$W/$m"; done
hc -C ca ca init --name Recovery-CA --security medium >/dev/null 2>&1 || fail "setup: ca init" "failed"
FP=$(fp_openssl ca/ca.pem)

section "host request: a crash at each write point, then a re-run"
for point in $P_REQ; do
	d=hr-${point%%:*}-${point##*:}
	mkdir -p "m$d"
	HOSTCA_FAULT=$point "$HOSTCA_T" -H "$d" host request --media "m$d" --name "$d" </dev/null >/dev/null 2>"$W/crash.err"
	rc=$?
	san_check "$W/crash.err" "host request with HOSTCA_FAULT=$point"
	what="host request $point ($(killed $rc && echo crashed || echo "ran through, exit $rc"))"
	expect_exit 0 "$what: the re-run works" -- hc -H "$d" host request --media "m$d" --name "$d"
	n=$(ls -a "$d" | grep -c '\.tmp-')
	check_eq "$what: no temporary file (no stray key) is left" "$n" 0
	expect_exit 0 "$what: the CA signs its request" -- hc -C ca ca sign --media "m$d"
	expect_exit 0 "$what: the host installs" -- hc -H "$d" host install --media "m$d" --ca-fingerprint "$FP"
	expect_exit 0 "$what: host status is good" -- hc -H "$d" host status
	peer_openssl "$what: its certificate" ca/ca.pem "$d/host.pem" ca/crl.pem
done

section "host install: a crash at each write point, then a re-run"
hc -H base host request --media mbase --name base >/dev/null 2>&1
hc -C ca ca sign --media mbase >/dev/null 2>&1
for n in $P_INST; do
	d=hi-$n
	cp -a base "$d" && cp -a mbase "m$d"
	HOSTCA_FAULT=atomic-rename:$n "$HOSTCA_T" -H "$d" host install --media "m$d" --ca-fingerprint "$FP" </dev/null >/dev/null 2>"$W/crash.err"
	rc=$?
	what="host install atomic-rename:$n ($(killed $rc && echo crashed || echo "ran through, exit $rc"))"
	expect_exit 0 "$what: the re-run installs" -- hc -H "$d" host install --media "m$d" --ca-fingerprint "$FP"
	expect_exit 0 "$what: host status is good" -- hc -H "$d" host status
	check_eq "$what: the installed certificate is the response's" "$(serial_of "$d/host.pem")" "$(serial_of "m$d/responses/$(cat base/hostid).pem")"
done

section "reinstall (host ID adopted): a crash at each write point, then a re-run"
ENR=$(hc -C ca token create --name enrol 2>/dev/null)
enroll ca old oldhost "$ENR" "$W/mold" || fail "setup: enrol" "failed"
OLDID=$(cat old/hostid)
RT=$(hc -C ca token create --reissue --host "$OLDID" 2>/dev/null)
cp -a old wiped
hc -H wiped host clean --force >/dev/null 2>&1
hc -H wiped host request --media mre --name oldhost --token "$RT" >/dev/null 2>&1
expect_exit 0 "the reinstalled host's request is signed (a reissue)" -- hc -C ca ca sign --media mre
for n in $P_ADOPT; do
	d=re-$n
	cp -a wiped "$d" && cp -a mre "m$d"
	HOSTCA_FAULT=atomic-rename:$n "$HOSTCA_T" -H "$d" host install --media "m$d" </dev/null >/dev/null 2>"$W/crash.err"
	rc=$?
	what="adoption atomic-rename:$n ($(killed $rc && echo crashed || echo "ran through, exit $rc"))"
	# (once it ran through, the host has its old ID and nothing is left to do)
	if killed $rc; then
		expect_exit 0 "$what: the re-run installs" -- hc -H "$d" host install --media "m$d"
	else
		check_eq "$what: it installed" "$rc" 0
	fi
	check_eq "$what: the host has its old ID back" "$(cat "$d/hostid")" "$OLDID"
	expect_exit 0 "$what: host status is good" -- hc -H "$d" host status
done

section "host renew, update and clean: a crash, then a re-run"
cp -a base hu && cp -a mbase mhu
hc -H hu host install --media mhu --ca-fingerprint "$FP" >/dev/null 2>&1
for n in 1 2; do
	HOSTCA_FAULT=atomic-rename:$n "$HOSTCA_T" -H hu host renew --media mren$n </dev/null >/dev/null 2>&1
	expect_exit 0 "host renew atomic-rename:$n: the re-run writes the request" -- hc -H hu host renew --media mren$n
done
hc -C ca ca crl >/dev/null 2>&1
hc -C ca ca export --media mup >/dev/null 2>&1
HOSTCA_FAULT=atomic-rename:1 "$HOSTCA_T" -H hu host update --media mup </dev/null >/dev/null 2>&1
expect_exit 0 "host update atomic-rename:1: the re-run takes the CRL" -- hc -H hu host update --media mup
check_eq "host update: the host has the newest CRL" "$(sha mup/crl.pem)" "$(sha hu/crl.pem)"
cp -a hu hc1
printf 'leftover key material\n' >hc1/.host.key.tmp-Abc123
HOSTCA_FAULT=atomic-rename:1 "$HOSTCA_T" -H hc1 host clean --force </dev/null >/dev/null 2>&1
expect_exit 0 "host clean --force after an interrupted one" -- hc -H hc1 host clean --force
check_nofile "host clean: no host ID left" hc1/hostid
check_nofile "host clean: no key left" hc1/host.key
check_nofile "host clean: the leftover temporary key is gone" hc1/.host.key.tmp-Abc123
check_file "host clean: the pinned CA stays" hc1/ca.pem

section "leftovers: a key file an interrupted writer left"
cp -a hu hl
printf -- '-----BEGIN PRIVATE KEY-----\nleft\n-----END PRIVATE KEY-----\n' >hl/.host.key.tmp-Zz9Zz9
expect_exit 0 "the next host command runs" -- hc -H hl host status
check_nofile "and removes the leftover key" hl/.host.key.tmp-Zz9Zz9
check_grep "saying so" 'removed: left by an interrupted command' "$W/.err"
HOSTCA_FAULT=key-link:1 "$HOSTCA_T" -C ci ca init --name Interrupted </dev/null >/dev/null 2>&1
n=$(ls -d ci.init-* 2>/dev/null | wc -l)
check_eq "an interrupted ca init leaves its directory (with a key)" "$n" 1
expect_exit 0 "the next ca init for that directory" -- hc -C ci ca init --name Interrupted
check_eq "removes it" "$(ls -d ci.init-* 2>/dev/null | wc -l)" 0
check_grep "saying so" 'interrupted .ca init. left it' "$W/.err"

section "host commands take a lock: one at a time"
hold_lock hu 2
t0=$(date +%s%N)
expect_exit 0 "host update while another host command holds the host directory: waits, then runs" -- hc -H hu host update --media mup
t1=$(date +%s%N)
wait "$LPID" 2>/dev/null
ms=$(((t1 - t0) / 1000000))
if [ "$ms" -ge 1000 ]; then ok "host update waited for the lock (${ms} ms)"; else fail "host update waited for the lock" "returned after ${ms} ms"; fi

section "no core dumps"
hold_lock ca 4
HOSTCA_LOCK_WAIT=3 "$HOSTCA" -C ca token create --name waiting >/dev/null 2>&1 &
HPID=$!
sleep 1
grep 'Max core file size' "/proc/$HPID/limits" >limits.txt 2>/dev/null
check_grep "a running hostca has a core size limit of 0" 'Max core file size +0 +0' limits.txt
wait "$HPID" 2>/dev/null
wait "$LPID" 2>/dev/null

section "a refusal is recorded once per request"
mkdir -p mjunk/requests
printf -- '-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----\n' >junk.pem
i=0
while [ $i -lt 50 ]; do cp junk.pem "mjunk/requests/junk$i.pem"; i=$((i + 1)); done
before=$(grep -c ' refuse ' ca/journal)
expect_exit 1 "50 copies of one junk request: refused" -- hc -C ca ca sign --media mjunk
after1=$(grep -c ' refuse ' ca/journal)
check_eq "recorded once" "$((after1 - before))" 1
expect_exit 1 "the same stick again: refused again" -- hc -C ca ca sign --media mjunk
check_eq "and not recorded again" "$(grep -c ' refuse ' ca/journal)" "$after1"
expect_exit 0 "ca check is clean" -- hc -C ca ca check

section "ca passphrase: change, add, remove; atomic"
printf 'old passphrase\n' >old.pass
printf 'new passphrase\n' >new.pass
hc --passphrase-file old.pass -C enc ca init --name Enc-CA >/dev/null 2>&1
expect_exit 0 "ca passphrase --new-passphrase-file" -- hc --passphrase-file old.pass -C enc ca passphrase --new-passphrase-file new.pass
check "openssl reads ca.key with the new passphrase" openssl pkey -in enc/ca.key -passin file:new.pass -noout
check_not "not with the old one" openssl pkey -in enc/ca.key -passin file:old.pass -noout
expect_exit 2 "hostca refuses the old passphrase now" -- hc --passphrase-file old.pass -C enc ca crl
expect_exit 0 "and works with the new one" -- hc --passphrase-file new.pass -C enc ca crl
check_eq "no other file holds a key" "$(ls -a enc | grep -c 'key')" 1
HOSTCA_FAULT=atomic-rename:1 "$HOSTCA_T" --passphrase-file new.pass -C enc ca passphrase --new-passphrase-file old.pass </dev/null >/dev/null 2>&1
rc=$?
if killed $rc; then ok "a kill while ca.key is replaced"; else fail "a kill while ca.key is replaced" "exit $rc"; fi
check "after the kill, ca.key is the old file, whole" openssl pkey -in enc/ca.key -passin file:new.pass -noout
expect_exit 0 "the next command works" -- hc --passphrase-file new.pass -C enc ca crl
check_eq "and the interrupted copy of the key is gone" "$(ls -a enc | grep -c 'key')" 1
expect_exit 0 "ca passphrase --remove" -- hc --passphrase-file new.pass -C enc ca passphrase --remove
check "openssl reads ca.key without a passphrase" openssl pkey -in enc/ca.key -noout
check_grep "ca.key is PKCS#8 PRIVATE KEY now" '^-----BEGIN PRIVATE KEY-----$' enc/ca.key
expect_exit 0 "encryption added again (from a file)" -- hc -C enc ca passphrase --new-passphrase-file old.pass
check "openssl reads it with that passphrase" openssl pkey -in enc/ca.key -passin file:old.pass -noout
expect_exit 0 "the history is whole" -- hc -C enc ca audit --verify

finish
