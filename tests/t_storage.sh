#!/bin/sh
# t_storage.sh: storage that cannot lose or corrupt (SPEC §5): many writers
# at once, kill -9 at random instants, a full disk, read-only media.
. "$(dirname "$0")/lib.sh"

section "many writers at once: none lost"
hc -C ca ca init --name Storage-CA --security medium >/dev/null 2>&1
i=1
while [ $i -le 6 ]; do
	fresh_key ec-p256 k$i.pem
	mkcsr k$i.pem r$i.csr "/CN=$(newuuid)" "DNS:par$i.example"
	i=$((i + 1))
done
mkdir -p s1/requests s2/requests
for n in 1 2 3 4; do hc -H hs1-$n host request --media s1 --name s1-$n.example >/dev/null 2>&1; done
for n in 1 2 3 4; do hc -H hs2-$n host request --media s2 --name s2-$n.example >/dev/null 2>&1; done
pids=
for n in 1 2 3 4 5 6 7 8; do
	HOSTCA_LOCK_WAIT=60 "$HOSTCA" -q -C ca token create --name par-$n >tok$n.out 2>tok$n.err &
	pids="$pids $!"
done
for n in 1 2 3 4 5 6; do
	HOSTCA_LOCK_WAIT=60 "$HOSTCA" -q -C ca ca sign --csr r$n.csr --out c$n.pem 2>sign$n.err &
	pids="$pids $!"
done
HOSTCA_LOCK_WAIT=60 "$HOSTCA" -q -C ca ca sign --media s1 2>m1.err &
pids="$pids $!"
HOSTCA_LOCK_WAIT=60 "$HOSTCA" -q -C ca ca sign --media s2 2>m2.err &
pids="$pids $!"
bad=0
for p in $pids; do wait "$p" || bad=$((bad + 1)); done
check_eq "16 concurrent writers all succeeded" "$bad" "0"
check_eq "all 8 tokens recorded" "$(hc -C ca token list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["tokens"]))')" "8"
check_eq "all 14 certificates recorded" "$(hc -C ca ca list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')" "14"
check_eq "serials unique" "$(hc -C ca ca list --json | "$PY" -c 'import json,sys; l=json.load(sys.stdin)["certificates"]; print(len(set(c["serial"] for c in l)))')" "14"
check "each token value printed once, 16 letters" sh -c 'for f in tok*.out; do grep -qE "^[A-Z]{4}-[A-Z]{4}-[A-Z]{4}-[A-Z]{4}$" $f || exit 1; done'
expect_exit 0 "ca audit --verify after concurrent writers" -- hc -C ca ca audit --verify
expect_exit 0 "ca check after concurrent writers" -- hc -C ca ca check

section "kill -9 at random instants during ca sign --media: issued exactly once"
hc -C kc ca init --name Kill-CA >/dev/null 2>&1
TOKEN=$(hc -C kc token create --name kill-batch --max-uses 24 2>/dev/null)
mkdir -p km/requests
n=1
while [ $n -le 24 ]; do
	hc -H kh$n host request --media km --name k$n.example --token "$TOKEN" >/dev/null 2>&1
	n=$((n + 1))
done
trial=1
allok=1
while [ $trial -le 12 ]; do
	"$HOSTCA" -q -C kc ca sign --media km >/dev/null 2>&1 &
	kp=$!
	# a random instant within the first ~60 ms
	"$PY" -c 'import random, time; time.sleep(random.random() * 0.06)'
	kill -9 "$kp" 2>/dev/null
	wait "$kp" 2>/dev/null
	hc -C kc ca check >check.out 2>&1 || { allok=0; fail "kill trial $trial: ca check after the kill" "$(head -n 2 check.out | tr '\n' ' ')"; }
	trial=$((trial + 1))
done
[ $allok = 1 ] && ok "ca check clean after each of 12 kills"
expect_exit 0 "the re-run completes" -- hc -C kc ca sign --media km
LIST=$(hc -C kc ca list --json)
check_eq "24 requests, 24 certificates (none twice)" "$(printf %s "$LIST" | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')" "24"
check_eq "24 distinct host IDs" "$(printf %s "$LIST" | "$PY" -c 'import json,sys; print(len(set(c["host_id"] for c in json.load(sys.stdin)["certificates"])))')" "24"
check_eq "the token used 24 times of 24, not more" "$(hc -C kc token list --json | "$PY" -c 'import json,sys; t=json.load(sys.stdin)["tokens"][0]; print(t["uses"], t["max_uses"])')" "24 24"
check_eq "24 responses on the media" "$(ls km/responses | wc -l | tr -d ' ')" "24"
expect_exit 0 "ca audit --verify after the kills" -- hc -C kc ca audit --verify

section "a crash at each durable write point of token create"
hct -C tc ca init --name Token-Crash-CA >/dev/null 2>&1
for point in journal-append:1 journal-committed:1 atomic-rename:1; do
	n=tok-$(echo "$point" | tr -dc 'a-z')
	HOSTCA_FAULT=$point "$HOSTCA_T" -q -C tc token create --name "$n" >/dev/null 2>&1
	expect_exit 0 "token create killed at $point: ca check clean" -- hct -C tc ca check
	c=$(hct -C tc token list --json 2>/dev/null | "$PY" -c 'import json,sys; print(sum(1 for t in json.load(sys.stdin)["tokens"] if t["name"] == sys.argv[1]))' "$n")
	# at most once: before the commit there is no token, after it there is one
	check "token create killed at $point: the token exists at most once ($c)" test "${c:-9}" -le 1
	run "$HOSTCA_T" -q -C tc token create --name "$n"
	if [ "$c" = 1 ]; then
		check_eq "token create killed at $point: the re-run says it exists" "$RC" 1
	else
		check_eq "token create killed at $point: the re-run creates it" "$RC" 0
	fi
done
expect_exit 0 "token create crashes: audit --verify" -- hct -C tc ca audit --verify

section "a full disk and read-only media (mounts need root)"
if mkdir -p small && mount -t tmpfs -o size=160k tmpfs small 2>/dev/null; then
	hc -C small/ca ca init --name Full-CA --security medium >/dev/null 2>&1
	# fill what is left
	dd if=/dev/zero of=small/fill bs=4k count=1000 2>/dev/null
	jbefore=$(sha small/ca/journal)
	fresh_key ec-p256 fk.pem
	mkcsr fk.pem f.csr "/CN=$(newuuid)" "DNS:full.example"
	expect_exit 2 "disk full: ca sign --csr fails (exit 2)" -- "$HOSTCA" -C small/ca ca sign --csr f.csr --out small/out.pem
	check_grep "disk full: the message says why" "space" "$W/.err"
	# Either nothing was recorded, or the certificate was (whole) and only
	# its output is missing: never half of it.
	if [ "$(sha small/ca/journal)" = "$jbefore" ]; then
		ok "disk full: nothing was recorded"
	else
		check_grep "disk full: recorded, and the message says how to get it" "run the same command again|recorded|not acknowledged" "$W/.err"
	fi
	rm -f small/fill
	expect_exit 0 "disk full: ca check clean once there is room" -- hc -C small/ca ca check
	expect_exit 0 "disk full: the same request now completes" -- hc -C small/ca ca sign --csr f.csr --out small/out.pem
	check_eq "disk full: one certificate, not two" "$(hc -C small/ca ca list --json | "$PY" -c 'import json,sys; print(len(json.load(sys.stdin)["certificates"]))')" "1"
	umount small
else
	skip "full disk" "cannot mount a tmpfs here"
fi
mkdir -p ro/requests
hc -H hro host request --media ro --name ro.example >/dev/null 2>&1
if mount --bind ro ro 2>/dev/null && mount -o remount,bind,ro ro 2>/dev/null; then
	jbefore=$(sha ca/journal)
	expect_exit 2 "read-only media: ca sign --media fails (exit 2)" -- "$HOSTCA" -C ca ca sign --media ro
	check_grep "read-only media: the message says why" "read-only" "$W/.err"
	umount ro
	expect_exit 0 "read-only media: once writable, the same stick completes" -- hc -C ca ca sign --media ro
	check "read-only media: the response is there" test -s ro/responses/"$(cat hro/hostid)".pem
else
	skip "read-only media" "cannot remount read-only here"
fi
finish
