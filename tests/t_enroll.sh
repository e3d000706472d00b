#!/bin/sh
# t_enroll.sh: enrollment over removable media (SPEC sections 2 and 3):
# tokens, host request, ca sign --media (--list, --only), host install with a
# pinned CA, host status, two hosts on one stick, token refusals, name theft,
# hostile media, and ca hosts / ca host / ca list.
. "$(dirname "$0")/lib.sh"

# Media directories exist before use, as a mounted stick does.
for m in media media3 m-theft m-theft2 m-batch m-only m-yank m-med; do mkdir -p "$W/$m"; done
hc -C ca ca init --name Enroll-CA >fp.txt 2>/dev/null
[ -s ca/ca.pem ] || fail "setup: ca init" "no ca/ca.pem"
FP=$(cat fp.txt)
letters() { tr -d ' \n-'; }

section "tokens: create, list, show, never shown again"
expect_exit 0 "token create --max-uses 2" -- hc -C ca token create --name stick --max-uses 2 --reason "two hosts on one stick"
TOK=$(out | head -n 1)
check_eq "token create prints one line" "$(out | wc -l | tr -d ' ')" 1
v=$(printf %s "$TOK" | letters)
case $v in
[A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z][A-Z]) ok "token value is 16 letters A-Z ($TOK)" ;;
*) fail "token value is 16 letters A-Z" "got '$TOK'" ;;
esac
expect_exit 0 "-q token create" -- hc -q -C ca token create --name other
TOK2=$(out)
check_empty "-q: nothing on stderr" "$(cat "$W/.err")"
check_ne "two tokens differ" "$(printf %s "$TOK2" | letters)" "$v"
lower=$(printf %s "$v" | tr A-Z a-z)
found=
for pat in "$TOK" "$v" "$lower" "$(printf %s "$v" | cut -c1-8)"; do
	[ -n "$pat" ] && grep -rqiF -- "$pat" ca && found="$found $pat"
done
if [ -n "$v" ] && [ -z "$found" ]; then ok "token value appears nowhere under the CA dir"; else fail "token value appears nowhere under the CA dir" "found:$found"; fi
expect_exit 0 "token list" -- hc -C ca token list
check_grep "token list names the token" 'stick' "$W/.out"
check_nogrep "token list never prints the value" "$(printf %s "$v" | cut -c1-8)" "$W/.out"
expect_exit 0 "token show stick" -- hc -C ca token show stick
check_nogrep "token show never prints the value" "$(printf %s "$v" | cut -c1-8)" "$W/.out"
expect_exit 0 "--json token list" -- hc -C ca --json token list
cp "$W/.out" tl.json
check "token list --json: one JSON document, the tokens under \"tokens\" (stick among them)" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "token list" and d["ok"] is True, d
assert "stick" in [t["name"] for t in d["tokens"]], d["tokens"]' tl.json
check_nogrep "token list --json never prints the value" "$(printf %s "$v" | cut -c1-8)" tl.json
expect_exit nz "token create refuses a duplicate name" -- hc -C ca token create --name stick
check_empty "duplicate refused: nothing on stdout" "$(out)"
expect_exit nz "token show of an unknown name" -- hc -C ca token show nosuchtoken

section "two hosts request onto one stick"
M=$W/media
mkdir -p "$M"
# host1: the token lowercase with spaces; host2: --token-file, with dashes
spaced=$(printf %s "$lower" | sed 's/\(....\)/\1 /g')
expect_exit 0 "host1: host request (token lowercase, with spaces)" -- \
	hc -H h1 host request --media "$M" --name host1 --alt-name host1.example --alt-name 10.9.0.1 --token "$spaced"
check_empty "host request: stdout empty (messages go to stderr)" "$(out)"
ID1=$(cat h1/hostid 2>/dev/null)
peer_py "host1: hostid is a UUID v4" uuid "$ID1"
check_eq "host1: hostid file is the UUID and a newline" "$(wc -c <h1/hostid 2>/dev/null | tr -d ' ')" 37
check_eq "host1: host.key is mode 0600" "$(stat -c %a h1/host.key 2>/dev/null)" 600
check "host1: openssl pkey reads host.key" openssl pkey -in h1/host.key -noout
check_file "host1: request written as requests/<hostid>.pem" "$M/requests/$ID1.pem"
check "host1: openssl req -verify accepts the request" openssl req -verify -noout -in "$M/requests/$ID1.pem"
peer_py "host1: request carries the host ID" csr "$M/requests/$ID1.pem" --hostid "$ID1"
dashed=$(printf %s "$v" | sed 's/\(....\)/\1-/g; s/-$//')
printf '%s\n' "$dashed" >tok.txt
expect_exit 0 "host2: host request --token-file (with dashes)" -- \
	hc -H h2 host request --media "$M" --name host2 --alt-name 10.9.0.2 --token-file tok.txt
ID2=$(cat h2/hostid 2>/dev/null)
check_ne "two hosts get two host IDs" "$ID1" "$ID2"
check_file "host2: request on the same stick" "$M/requests/$ID2.pem"
if [ ! -s h1/host.key ] || [ ! -s h2/host.key ]; then
	fail "host dirs keep no copy of the token" "host dirs not made"
elif grep -rqiF -- "$(printf %s "$v" | cut -c1-8)" h1 h2 2>/dev/null; then
	fail "host dirs keep no copy of the token" "$(grep -rliF -- "$(printf %s "$v" | cut -c1-8)" h1 h2 | head -n 1)"
else
	ok "host dirs keep no copy of the token"
fi

cp "$M/requests/$ID1.pem" "$W/saved-1.pem" 2>/dev/null
cp "$M/requests/$ID2.pem" "$W/saved-2.pem" 2>/dev/null

section "operator review: ca sign --media --list changes nothing"
mstate=$(tree_state "$M")
cstate=$(ca_state ca)
expect_exit 0 "ca sign --media --list" -- hc -C ca ca sign --media "$M" --list
check_grep "review lists host1's ID" "$ID1" "$W/.out"
check_grep "review lists host2's ID" "$ID2" "$W/.out"
check_grep "review lists host1's name" 'host1' "$W/.out"
check_eq "--list left the media unchanged" "$(tree_state "$M")" "$mstate"
check_eq "--list left the CA unchanged" "$(ca_state ca)" "$cstate"

section "ca sign --media"
expect_exit 0 "ca sign --media signs both requests" -- hc -C ca ca sign --media "$M"
check_empty "ca sign --media: stdout empty" "$(out)"
found=
for pat in "$v" "$lower" "$(printf %s "$v" | cut -c1-8)"; do
	[ -n "$pat" ] && grep -rqiF -- "$pat" ca && found="$found $pat"
done
if [ -n "$v" ] && [ -z "$found" ]; then ok "after signing, the token value is still nowhere under the CA dir"; else fail "after signing, the token value is still nowhere under the CA dir" "found:$found"; fi
for i in 1 2; do
	eval "id=\$ID$i"
	check_file "host$i: response responses/<hostid>.pem" "$M/responses/$id.pem"
	if [ -n "$id" ] && [ -s "$W/saved-$i.pem" ] && [ ! -e "$M/requests/$id.pem" ]; then
		ok "host$i: request moved out of requests/"
	else
		fail "host$i: request moved out of requests/" "still there (or never written)"
	fi
done
check_file "ca sign put ca.pem on the media" "$M/ca.pem"
check_file "ca sign put crl.pem on the media" "$M/crl.pem"
check_eq "media ca.pem is the CA certificate" "$(sha "$M/ca.pem")" "$(sha ca/ca.pem)"
check_eq "media crl.pem is the current CRL" "$(sha "$M/crl.pem")" "$(sha ca/crl.pem)"
if [ -d "$M/processed" ] && [ -n "$(ls "$M/processed")" ]; then ok "handled requests kept in processed/"; else fail "handled requests kept in processed/" "processed/ empty or missing"; fi
openssl x509 -in "$M/responses/$ID1.pem" -out r1.pem 2>/dev/null
openssl x509 -in "$M/responses/$ID2.pem" -out r2.pem 2>/dev/null
check_eq "response holds host cert then CA cert" "$(grep -c 'BEGIN CERTIFICATE' "$M/responses/$ID1.pem")" 2
peer_host_cert "host1 response" ca/ca.pem r1.pem ca/crl.pem --hostid "$ID1" --dns host1 --dns host1.example --ip 10.9.0.1 --key h1/host.key
peer_host_cert "host2 response" ca/ca.pem r2.pem ca/crl.pem --hostid "$ID2" --dns host2 --ip 10.9.0.2 --key h2/host.key

section "host install pins the CA"
expect_exit 1 "install with a wrong fingerprint refused" -- \
	hc -H h1 host install --media "$M" --ca-fingerprint "$(printf %s "$FP" | tr 0-9A-F 1-9A-F0)"
check_nofile "wrong fingerprint: no host.pem" h1/host.pem
expect_exit nz "install without a fingerprint or --trust-on-first-use refused" -- hc -H h1 host install --media "$M"
check_nofile "unpinned: no host.pem" h1/host.pem
expect_exit 0 "host1: install --ca-fingerprint (as printed)" -- hc -H h1 host install --media "$M" --ca-fingerprint "$FP"
check_empty "host install: stdout empty" "$(out)"
for f in host.pem ca.pem crl.pem; do check_file "host1: $f installed" "h1/$f"; done
check_eq "host1: host.pem is the signed certificate" "$(serial_of h1/host.pem)" "$(serial_of r1.pem)"
check_eq "host1: ca.pem is the CA certificate" "$(fp_openssl h1/ca.pem)" "$(fp_openssl ca/ca.pem)"
peer_host_cert "host1 installed" h1/ca.pem h1/host.pem h1/crl.pem --hostid "$ID1" --key h1/host.key
expect_exit 0 "host2: install --trust-on-first-use" -- hc -H h2 host install --media "$M" --trust-on-first-use
check_file "host2: host.pem installed" h2/host.pem
expect_exit 0 "host1: host status" -- hc -H h1 host status
check_grep "status shows the host ID" "$ID1" "$W/.out"
check_grep "status shows the name" 'host1' "$W/.out"
tr -d ':' <"$W/.out" | tr a-f A-F >st.txt
check_grep "status shows the serial" "$(serial_of h1/host.pem | sed 's/^0*//')" st.txt
expect_exit 0 "host2: host status" -- hc -H h2 host status
expect_exit 0 "--json host status" -- hc -H h1 --json host status
cp "$W/.out" st.json
check "host status --json: one JSON document, the host under \"host\"" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "host status" and d["ok"] is True, d
assert d["host"]["host_id"] == sys.argv[2] and d["host"]["usable"] is True, d["host"]' st.json "$ID1"
expect_exit 0 "no real-time clock (clock at 1970-01-02): the time floor keeps host1 usable" -- env HOSTCA_NOW=86400 "$HOSTCA_T" -H h1 host status
san_check "$W/.err" "hostca-test host status"
tls_pair "host1 (server) <-> host2 (client) over mutual TLS" h1/ca.pem h1/host.pem h1/host.key h2/host.pem h2/host.key host1.example ok

section "max-uses: the stick token signed 2 and refuses a third"
M3=$W/media3
expect_exit 0 "host3: request with the used-up token" -- hc -H h3 host request --media "$M3" --name host3 --token "$TOK"
ID3=$(cat h3/hostid 2>/dev/null)
cstate=$(ca_state ca)
expect_exit 1 "a third use of a 2-use token refused" -- hc -C ca ca sign --media "$M3"
check_nofile "no response for the third use" "$M3/responses/$ID3.pem"
check_eq "refusal left the CA unchanged" "$(ca_state ca)" "$cstate"

section "token refusals (table; each on its own stick; exit 1, no response, CA unchanged)"
NOW=$(now)
EXP=$(hc -C ca token create --name shortlived --valid 1h 2>/dev/null)
DEL=$(hc -C ca token create --name todelete 2>/dev/null)
expect_exit 0 "token delete --reason" -- hc -C ca token delete todelete --reason "lost the paper"
OK1=$(hc -C ca token create --name spare --max-uses 5 2>/dev/null)
okv=$(printf %s "$OK1" | letters)
# mistype: change one letter
c1=$(printf %s "$okv" | cut -c1)
[ "$c1" = Q ] && r=X || r=Q
MIS="$r$(printf %s "$okv" | cut -c2-)"
UNK=ZZZZYYYYXXXXWWWW
[ "$okv" = $UNK ] && UNK=YYYYZZZZXXXXWWWW
while IFS='|' read -r name tok clock desc; do
	eval "tok=$tok"
	m=$W/m-$name
	mkdir -p "$m"
	hc -H "h-$name" host request --media "$m" --name "host-$name" ${tok:+--token "$tok"} >/dev/null 2>&1
	id=$(cat "h-$name/hostid" 2>/dev/null)
	cp "$m/requests/$id.pem" "$W/req-$name.pem" 2>/dev/null
	cstate=$(ca_state ca)
	if [ "$clock" = now ]; then
		expect_exit 1 "$desc" -- hc -C ca ca sign --media "$m"
	else
		expect_exit 1 "$desc" -- env HOSTCA_NOW=$((NOW + clock)) "$HOSTCA_T" -C ca ca sign --media "$m"
		san_check "$W/.err" "hostca-test ca sign"
	fi
	check_nofile "$desc: no response" "$m/responses/$id.pem"
	check_eq "$desc: CA unchanged" "$(ca_state ca)" "$cstate"
done <<'EOF'
expired|"$EXP"|7200|expired token (validity 1h, clock +2h) refused
unknown|"$UNK"|now|unknown token refused
mistyped|"$MIS"|now|mistyped token (one letter changed) refused
deleted|"$DEL"|now|deleted token refused
none|""|now|no token at security high refused
EOF
# the expired token's request is fine before expiry: the refusal was the clock
IDX=$(cat h-expired/hostid 2>/dev/null)
rm -rf "$W/m-expired/processed" "$W/m-expired/requests"
mkdir -p "$W/m-expired/requests" && cp "$W/req-expired.pem" "$W/m-expired/requests/$IDX.pem"
expect_exit 0 "the same token is accepted inside its validity" -- hc -C ca ca sign --media "$W/m-expired"
check_file "inside its validity: response written" "$W/m-expired/responses/$IDX.pem"

hc -C ca token list >tl0.txt 2>/dev/null
check_grep "a used-up token stays listed until cleanup" '(^|[^a-z-])stick([^a-z-]|$)' tl0.txt

section "token cleanup"
expect_exit 0 "token cleanup" -- hc -C ca token cleanup
hc -C ca token list >tl.txt 2>/dev/null
check_nogrep "cleanup removed the used-up token" '(^|[^a-z-])stick([^a-z-]|$)' tl.txt
check_grep "cleanup kept the usable token" 'spare' tl.txt
check_nogrep "token list never prints a value" "$(printf %s "$okv" | cut -c1-8)" tl.txt

section "name theft: a name held by another host ID"
mt=$W/m-theft
expect_exit 0 "thief: request for the name host1" -- hc -H thief host request --media "$mt" --name host1 --token "$OK1"
IDT=$(cat thief/hostid 2>/dev/null)
cstate=$(ca_state ca)
run hc -C ca ca sign --media "$mt"
if [ "$RC" = 1 ]; then ok "name theft refused (exit 1)"; else fail "name theft refused (exit 1)" "exit $RC"; fi
cat "$W/.out" "$W/.err" >theft.txt
check_grep "the refusal names the holder's host ID" "$ID1" theft.txt
check_nofile "name theft: no response" "$mt/responses/$IDT.pem"
check_eq "name theft: CA unchanged" "$(ca_state ca)" "$cstate"
expect_exit 0 "--alt-name theft is refused too: request" -- hc -H thief2 host request --media "$W/m-theft2" --name thief2 --alt-name host2 --token "$OK1"
expect_exit 1 "--alt-name theft refused" -- hc -C ca ca sign --media "$W/m-theft2"

section "a batch: bad entries are skipped, good ones signed (exit 1)"
mb=$W/m-batch
expect_exit 0 "batch: good request" -- hc -H h5 host request --media "$mb" --name host5 --token "$OK1"
ID5=$(cat h5/hostid 2>/dev/null)
head -c 500 /dev/urandom >"$mb/requests/junk.pem"
"$PY" "$PEER" mangle sig "$mb/requests/$ID5.pem" "$mb/requests/00000000-0000-4000-8000-000000000000.pem"
printf 'secret\n' >secret.txt
ln -s "$W/secret.txt" "$mb/requests/link.pem"
mkdir "$mb/requests/adir"
expect_exit 1 "batch with garbage, a forged request, a symlink and a directory: exit 1" -- hc -C ca ca sign --media "$mb"
check_file "batch: the good request was still signed" "$mb/responses/$ID5.pem"
check_eq "batch: only one response written" "$(ls "$mb/responses" 2>/dev/null | wc -l | tr -d ' ')" 1
check_eq "batch: symlink target untouched" "$(cat secret.txt)" secret

section "--only HOSTID"
mo=$W/m-only
hc -H h6 host request --media "$mo" --name host6 --token "$OK1" >/dev/null 2>&1
hc -H h7 host request --media "$mo" --name host7 --token "$OK1" >/dev/null 2>&1
ID6=$(cat h6/hostid 2>/dev/null) ID7=$(cat h7/hostid 2>/dev/null)
expect_exit 0 "ca sign --media --only host6" -- hc -C ca ca sign --media "$mo" --only "$ID6"
check_file "--only: host6 answered" "$mo/responses/$ID6.pem"
check_nofile "--only: host7 not answered" "$mo/responses/$ID7.pem"
check_file "--only: host7's request still waiting" "$mo/requests/$ID7.pem"

section "a yanked stick: signing the same request again hands back the same certificate"
my=$W/m-yank
ONE=$(hc -C ca token create --name once --max-uses 1 2>/dev/null)
hc -H h8 host request --media "$my" --name host8 --token "$ONE" >/dev/null 2>&1
ID8=$(cat h8/hostid 2>/dev/null)
cp "$my/requests/$ID8.pem" req8.pem
expect_exit 0 "host8 signed with a one-use token" -- hc -C ca ca sign --media "$my"
s8=$(serial_of "$my/responses/$ID8.pem")
rm -rf "$my/responses" "$my/processed"
mkdir -p "$my/requests" && cp req8.pem "$my/requests/$ID8.pem"
expect_exit 0 "the same request signed again (token already spent)" -- hc -C ca ca sign --media "$my"
check_eq "the same certificate is handed back" "$(serial_of "$my/responses/$ID8.pem")" "$s8"
expect_exit 0 "host8 installs (fingerprint lowercase, no colons)" -- \
	hc -H h8 host install --media "$my" --ca-fingerprint "$(printf %s "$FP" | tr -d : | tr A-F a-f)"

section "host install checks what the media hands it"
mi=$W/m-install
mkdir -p "$mi"
hc -H h9 host request --media "$mi" --name host9 --token "$OK1" >/dev/null 2>&1
ID9=$(cat h9/hostid 2>/dev/null)
cp "$M/ca.pem" "$M/crl.pem" "$mi/" 2>/dev/null
mkdir -p "$mi/responses"
cp "$M/responses/$ID1.pem" "$mi/responses/$ID9.pem" 2>/dev/null
expect_exit 1 "install refuses a response for another host's key and ID" -- hc -H h9 host install --media "$mi" --ca-fingerprint "$FP"
check_nofile "foreign response: no host.pem" h9/host.pem
rm -f "$mi/responses/$ID9.pem"
cp "$mi/requests/$ID9.pem" req9.pem 2>/dev/null
hc -C ca ca sign --media "$mi" >/dev/null 2>&1
if [ -s "$mi/responses/$ID9.pem" ]; then
	mv "$mi/responses/$ID9.pem" "$W/resp9.pem"
	ln -s "$W/resp9.pem" "$mi/responses/$ID9.pem"
	expect_exit nz "install does not follow a symlinked response" -- hc -H h9 host install --media "$mi" --ca-fingerprint "$FP"
	check_nofile "symlinked response: no host.pem" h9/host.pem
	rm -f "$mi/responses/$ID9.pem"
	"$PY" "$PEER" mangle sig "$W/resp9.pem" "$mi/responses/$ID9.pem"
	expect_exit 1 "install refuses a response with a flipped signature byte" -- hc -H h9 host install --media "$mi" --ca-fingerprint "$FP"
	check_nofile "forged response: no host.pem" h9/host.pem
	# a rogue CA with the same name answers for host9's own key
	hc -C rogue ca init --name Enroll-CA --security medium >/dev/null 2>&1
	hc -C rogue ca sign --csr req9.pem --out rogue9.pem >/dev/null 2>&1
	rm -f "$mi/responses/$ID9.pem"
	cat rogue9.pem rogue/ca.pem >"$mi/responses/$ID9.pem"
	expect_exit 1 "install refuses a response from a rogue CA (pinned fingerprint)" -- hc -H h9 host install --media "$mi" --ca-fingerprint "$FP"
	check_nofile "rogue response: no host.pem" h9/host.pem
	rm -f "$mi/responses/$ID9.pem"
	cp "$W/resp9.pem" "$mi/responses/$ID9.pem"
	expect_exit 0 "install of the genuine response" -- hc -H h9 host install --media "$mi" --ca-fingerprint "$FP"
else
	fail "host9 signed for the install checks" "no response"
fi

section "media limits: an oversized request is refused, the batch goes on"
mz=$W/m-size
mkdir -p "$mz"
hc -H h10 host request --media "$mz" --name host10 --token "$OK1" >/dev/null 2>&1
ID10=$(cat h10/hostid 2>/dev/null)
{
	echo '-----BEGIN CERTIFICATE REQUEST-----'
	head -c 3000000 /dev/zero | base64
	echo '-----END CERTIFICATE REQUEST-----'
} >"$mz/requests/big.pem"
expect_exit 1 "a 4 MB request refused (exit 1)" -- hc -C ca ca sign --media "$mz"
check_file "oversized neighbour: host10 still signed" "$mz/responses/$ID10.pem"

section "ca hosts, ca host, ca list"
expect_exit 0 "ca hosts" -- hc -C ca ca hosts
cp "$W/.out" hosts.txt
check_grep "ca hosts maps host1's ID" "$ID1" hosts.txt
check_grep "ca hosts maps host2's ID" "$ID2" hosts.txt
check_grep "ca hosts shows the name host1" 'host1' hosts.txt
check_nogrep "ca hosts has no refused host (thief)" "${IDT:-nothief}" hosts.txt
expect_exit 0 "ca host host1 (by name)" -- hc -C ca ca host host1
check_grep "ca host host1 gives its ID" "$ID1" "$W/.out"
expect_exit 0 "ca host <ID> (by host ID)" -- hc -C ca ca host "$ID2"
check_grep "ca host <ID> gives its name" 'host2' "$W/.out"
expect_exit nz "ca host of an unknown name" -- hc -C ca ca host nosuchhost
expect_exit 0 "ca list" -- hc -C ca ca list
cp "$W/.out" list.txt
check_serial_in "ca list shows host1's serial" list.txt "$(serial_of r1.pem)"
check_serial_in "ca list shows host2's serial" list.txt "$(serial_of r2.pem)"
expect_exit 0 "ca list --host host1" -- hc -C ca ca list --host host1
cp "$W/.out" list1.txt
check_serial_in "ca list --host host1 shows its serial" list1.txt "$(serial_of r1.pem)"
check_serial_out "ca list --host host1 leaves out host2" list1.txt "$(serial_of r2.pem)"
expect_exit 0 "--json ca hosts" -- hc -C ca --json ca hosts
cp "$W/.out" hosts.json
check "ca hosts --json: one JSON document, the hosts under \"hosts\" (host1 and host2)" "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "ca hosts" and d["ok"] is True, d
ids = [h["host_id"] for h in d["hosts"]]
assert sys.argv[2] in ids and sys.argv[3] in ids, ids' hosts.json "$ID1" "$ID2"
expect_exit 0 "ca audit --verify after enrollment" -- hc -C ca ca audit --verify
expect_exit 0 "ca check after enrollment" -- hc -C ca ca check

section "security medium: a new host needs no token"
hc -C med ca init --name Med-CA --security medium >/dev/null 2>&1
if enroll med hm hostm "" "$W/m-med"; then ok "medium: enrolled without a token"; else fail "medium: enrolled without a token" "request/sign/install failed"; fi
expect_exit 0 "medium: host status" -- hc -H hm host status

finish
