#!/bin/sh
# t_json.sh: --json everywhere, one schema (issue 14, part 1). Every command
# given the global --json prints exactly one JSON document on stdout --
# refusals, not-found and usage errors too -- that validates against
# schema/hostca.schema.json, names its command, and whose "exit" is the
# status the process exited with. Exit statuses follow one rule: 0 done,
# 1 refused or not found, 2 usage error, unreadable input or I/O error.
# The schema is tested first: a document that breaks each of its rules
# must fail it, so that a pass below means something.
. "$(dirname "$0")/lib.sh"

JC=$T_SRC/jsoncheck.py
TAB=$(printf '\t')
mkdir -p "$W/j"
: >"$W/j/queue"

if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
	fail "python3-jsonschema is installed (make deps)" "import jsonschema failed"
	finish
fi

# jflush: jsoncheck every queued capture (one python start-up for all);
# one check per capture.
jflush() {
	[ -s "$W/j/queue" ] || return 0
	"$PY" "$JC" --batch "$W/j/queue" >"$W/j/result" 2>&1
	while IFS="$TAB" read -r _st _d _why; do
		case $_st in
		ok) ok "json: $_d" ;;
		FAIL) fail "json: $_d" "$_why" ;;
		*) fail "jsoncheck.py runs" "$_st $_d $_why" ;;
		esac
	done <"$W/j/result"
	_q=$(wc -l <"$W/j/queue")
	_r=$(grep -cE '^(ok|FAIL)	' "$W/j/result")
	[ "$_q" = "$_r" ] || fail "jsoncheck.py answered every capture" "$_r answers for $_q captures"
	: >"$W/j/queue"
}

# jrun WANT COMMAND DESC -- ARGS...: hostca --json ARGS (global options
# first, as a script would write them). WANT is the exit status the contract
# asks for (0, 1, 2; "any": the document's own "exit" is still checked).
# stdout is kept in $J and queued for jsoncheck with the real exit status
# and COMMAND; stderr is in $W/.err.
JN=0
jrun() {
	_jw=$1 _jc=$2 _jd=$3
	shift 3
	[ "$1" = "--" ] && shift
	JN=$((JN + 1))
	J=$W/j/$JN.json
	hc --json "$@" >"$J" 2>"$W/.err"
	RC=$?
	printf '%s\t%s\t%s\t%s\n' "$_jc: $_jd" "$RC" "$_jc" "$J" >>"$W/j/queue"
	printf '%s\n' "$_jc" >>"$W/j/commands"
	case $_jw in
	any) ;;
	"$RC") ok "exit $RC: $_jc: $_jd" ;;
	*) fail "exit $_jw: $_jc: $_jd" "exit $RC; $(errline)" ;;
	esac
	return 0
}

# jget FILE PATH: a value of a JSON document (PATH like certificates.0.serial),
# empty when it is not there. Strings bare, the rest as JSON.
jget() {
	"$PY" - "$1" "$2" 2>/dev/null <<'EOF'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
    for k in sys.argv[2].split("."):
        v = v[int(k)] if isinstance(v, list) else v[k]
except Exception:
    sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v))
EOF
}
nz() { sed 's/^0*//'; } # a hex serial without leading zeros (peer.py prints none)

section "the schema: valid draft 2020-12, and it bites"
# Each line: good|bad, what, what the complaint names, a document. The good
# ones are shaped as the contract says; each bad one breaks one rule, and
# jsoncheck must say so (not fail it for some other reason).
U=85541ff5-6322-427d-a01f-3d74f463256c
FP=7F:40:C4:0F:3C:19:5E:D8:B4:01:FD:46:3F:9E:AE:74:62:1E:F6:3C:EF:AD:41:1B:4A:20:5A:FD:08:58:35:18
F1=D1:72:0E:D2:C1:53:C8:FE:0B:93:B2:FA:51:8D:89:05:A6:9A:59:18
T=2026-12-02T12:10:49Z
S=1B7AB78AF7698180AD9994EBECCF8263
E='"schema_version":1'
CA="{\"subject\":\"CN=J\",\"name\":\"J\",\"key_type\":\"ec-p256\",\"not_before\":\"$T\",\"not_after\":\"$T\",\"sha256\":\"$FP\",\"sha1\":\"$F1\",\"security\":\"high\",\"cert_days\":365,\"crl_days\":7,\"certificates\":0,\"valid\":0,\"revoked\":0,\"hosts\":0,\"tokens\":0,\"crl_number\":1,\"crl_next_update\":\"$T\",\"warnings\":[],\"rollover\":{\"state\":\"none\",\"links\":0,\"previous\":null}}"
CERT="{\"serial\":\"$S\",\"host_id\":\"$U\",\"names\":[\"one\",\"10.0.0.1\"],\"status\":\"valid\",\"not_before\":\"$T\",\"not_after\":\"$T\",\"revoked_at\":null,\"reason\":null}"
TOKEN="\"name\":\"t1\",\"kind\":\"auth\",\"state\":\"usable\",\"uses\":0,\"max_uses\":5,\"created\":\"$T\",\"expires\":\"$T\""
n=0
while IFS='|' read -r want desc says doc; do
	[ -z "$want" ] && continue
	n=$((n + 1))
	printf '%s\n' "$doc" >"$W/j/s$n.json"
	if [ "$want" = good ]; then
		printf '%s\t-\t-\t%s\n' "the schema accepts $desc" "$W/j/s$n.json" >>"$W/j/queue"
	else
		printf '%s@@%s\t-\t-\t%s\n' "$desc" "$says" "$W/j/s$n.json" >>"$W/j/schema-bad"
	fi
done <<EOF
good|ca show|-|{$E,"command":"ca show","ok":true,"exit":0,"ca":$CA}
good|a usage error, no payload|-|{$E,"command":"ca sign","ok":false,"exit":2,"error":{"message":"give --csr or --media"}}
good|ca list|-|{$E,"command":"ca list","ok":true,"exit":0,"certificates":[$CERT]}
good|a refused request|-|{$E,"command":"ca sign","ok":false,"exit":1,"error":{"message":"1 refused"},"requests":[{"file":"x.pem","host_id":null,"names":[],"verdict":"refused","reason":"needs a token","serial":null,"notes":[]}],"issued":0,"refused":1,"preview":false}
good|token create|-|{$E,"command":"token create","ok":true,"exit":0,"token":{$TOKEN,"host_id":null,"reason":null,"value":"ABCD-EFGH-IJKL-MNOP"}}
good|ca audit|-|{$E,"command":"ca audit","ok":true,"exit":0,"entries":[{"seq":1,"time":"$T","event":"allow-reissue","fields":{"cert_days":"365"}}]}
good|an open object (ca host)|-|{$E,"command":"ca host","ok":true,"exit":0,"host":{"host_id":"$U","names":["one"],"window_until":null,"certificates":[$CERT]}}
good|ca check on damage|-|{$E,"command":"ca check","ok":false,"exit":1,"error":{"message":"damaged"},"check":{"consistent":false,"entries":3,"certificates":0,"revoked":0,"hosts":0,"tokens":0,"crl_number":1,"problems":["entry 3"]}}
bad|not JSON|not JSON|ca show: 1 certificate
bad|two documents|more than one document|{$E,"command":"ca hosts","ok":true,"exit":0,"hosts":[]} {$E,"command":"ca hosts","ok":true,"exit":0,"hosts":[]}
bad|a JSON array|not an object|[]
bad|a key twice|twice|{$E,"command":"ca hosts","ok":true,"exit":0,"hosts":[],"hosts":[]}
bad|no schema_version|'schema_version' is a required|{"command":"ca hosts","ok":true,"exit":0,"hosts":[]}
bad|an unknown command|command:|{$E,"command":"ca frob","ok":true,"exit":0}
bad|ok true, exit 1|exit: 0 was expected|{$E,"command":"ca hosts","ok":true,"exit":1,"hosts":[]}
bad|ok false without an error|'error' is a required|{$E,"command":"ca hosts","ok":false,"exit":2}
bad|ok true with an error|'error' must not be present|{$E,"command":"ca hosts","ok":true,"exit":0,"hosts":[],"error":{"message":"x"}}
bad|exit 3|exit:|{$E,"command":"ca hosts","ok":false,"exit":3,"error":{"message":"x"}}
bad|a payload key of another command|'tokens' was unexpected|{$E,"command":"ca hosts","ok":true,"exit":0,"hosts":[],"tokens":[]}
bad|done without its payload|'ca' is a required|{$E,"command":"ca show","ok":true,"exit":0}
bad|a hyphenated key|cert-days|{$E,"command":"ca config","ok":true,"exit":0,"config":{"security":"high","cert-days":365,"crl_days":7,"token_valid":604800,"backdate":3600}}
bad|a number as a string|config.cert_days:|{$E,"command":"ca config","ok":true,"exit":0,"config":{"security":"high","cert_days":"365","crl_days":7,"token_valid":604800,"backdate":3600}}
bad|a duration as text|config.token_valid:|{$E,"command":"ca config","ok":true,"exit":0,"config":{"security":"high","cert_days":365,"crl_days":7,"token_valid":"7d","backdate":3600}}
bad|names as a comma string|certificates[0].names:|{$E,"command":"ca list","ok":true,"exit":0,"certificates":[{"serial":"$S","host_id":"$U","names":"one,10.0.0.1","status":"valid","not_before":"$T","not_after":"$T","revoked_at":null,"reason":null}]}
bad|a lower-case serial|revoked[0].serial:|{$E,"command":"ca revoke","ok":true,"exit":0,"revoked":[{"serial":"1b7a","host_id":"$U","reason":"superseded"}]}
bad|a serial with colons|revoked[0].serial:|{$E,"command":"ca revoke","ok":true,"exit":0,"revoked":[{"serial":"1B:7A","host_id":"$U","reason":"superseded"}]}
bad|a fingerprint without colons|window.key_sha256:|{$E,"command":"ca allow-reissue","ok":true,"exit":0,"window":{"host_id":"$U","until":"$T","key_sha256":"7F40C40F3C195ED8B401FD463F9EAE74621EF63CEFAD411B4A205AFD08583518"}}
bad|a lower-case fingerprint in an open object|host.key_sha256:|{$E,"command":"host status","ok":true,"exit":0,"host":{"host_id":"$U","key_sha256":"fe:9c:4b:e4:98:73:b8:53:c6:21:65:e1:d5:6a:30:11:5a:99:58:38:78:d5:1d:78:23:cc:69:6d:9c:90:5e:4f"}}
bad|an empty string for no fingerprint|host.new_key_sha256:|{$E,"command":"host status","ok":true,"exit":0,"host":{"host_id":"$U","new_key_sha256":""}}
bad|an upper-case host ID|host.host_id:|{$E,"command":"host status","ok":true,"exit":0,"host":{"host_id":"85541FF5-6322-427D-A01F-3D74F463256C"}}
bad|a host ID under 'host'|host.host:|{$E,"command":"ca host","ok":true,"exit":0,"host":{"host":"$U","names":["one"]}}
bad|a time with an offset|crl.this_update:|{$E,"command":"ca crl","ok":true,"exit":0,"crl":{"number":2,"this_update":"2026-12-02T12:10:49+00:00","next_update":"$T","entries":0}}
bad|a hyphenated key deep in an open object|not-after|{$E,"command":"ca host","ok":true,"exit":0,"host":{"host_id":"$U","certificates":[{"not-after":"$T"}]}}
bad|audit fields as one string|entries[0].fields:|{$E,"command":"ca audit","ok":true,"exit":0,"entries":[{"seq":1,"time":"$T","event":"init","fields":"name=J key=ec-p256"}]}
bad|an audit field with a hyphen|cert-days|{$E,"command":"ca audit","ok":true,"exit":0,"entries":[{"seq":1,"time":"$T","event":"init","fields":{"cert-days":"365"}}]}
bad|a token value in token list|'value' was unexpected|{$E,"command":"token list","ok":true,"exit":0,"tokens":[{$TOKEN,"host_id":null,"reason":null,"value":"ABCD-EFGH-IJKL-MNOP"}]}
bad|token create without the value|'value' is a required|{$E,"command":"token create","ok":true,"exit":0,"token":{$TOKEN,"host_id":null,"reason":null}}
bad|a refused request at exit 0|exit: 1 was expected|{$E,"command":"ca sign","ok":true,"exit":0,"requests":[],"issued":0,"refused":1,"preview":true}
bad|a refused verdict without its reason|requests[0].reason:|{$E,"command":"ca sign","ok":false,"exit":1,"error":{"message":"x"},"requests":[{"file":"x.pem","host_id":null,"names":[],"verdict":"refused","reason":null,"serial":null,"notes":[]}],"issued":0,"refused":1,"preview":false}
bad|ca revoke done with nothing revoked|revoked: [] is too short|{$E,"command":"ca revoke","ok":true,"exit":0,"revoked":[]}
bad|ca check inconsistent at exit 0|exit: 1 was expected|{$E,"command":"ca check","ok":true,"exit":0,"check":{"consistent":false,"entries":3,"certificates":0,"revoked":0,"hosts":0,"tokens":0,"crl_number":1,"problems":["x"]}}
bad|ca check refusing without its verdict|'check' is a required|{$E,"command":"ca check","ok":false,"exit":1,"error":{"message":"damaged"}}
bad|verify: valid, at exit 1|exit: 0 was expected|{$E,"command":"verify","ok":false,"exit":1,"error":{"message":"x"},"verify":{"valid":true,"reason":null}}
bad|a CRL number as hex text|objects[0].number:|{$E,"command":"show","ok":true,"exit":0,"objects":[{"type":"crl","number":"03","this_update":"$T"}]}
EOF
jflush
"$PY" "$JC" --all --batch "$W/j/schema-bad" >"$W/j/result" 2>&1
while IFS="$TAB" read -r st d why; do
	says=${d##*@@}
	d=${d%@@*}
	case $st in
	FAIL)
		case $why in
		*"$says"*) ok "the schema rejects $d" ;;
		*) fail "the schema rejects $d" "for another reason: $why" ;;
		esac
		;;
	ok) fail "the schema rejects $d" "accepted" ;;
	*) fail "jsoncheck.py runs" "$st $d $why" ;;
	esac
done <"$W/j/result"
check_eq "jsoncheck.py: exit 1 and one line on a bad document" \
	"$("$PY" "$JC" "$W/j/s9.json" | wc -l | tr -d ' ')/$("$PY" "$JC" "$W/j/s9.json" >/dev/null; echo $?)" 1/1
check_eq "jsoncheck.py: --exit and --command are checked" \
	"$("$PY" "$JC" --exit 1 --command "ca list" "$W/j/s1.json" >/dev/null; echo $?)" 1

section "the CA"
jrun 0 "ca init" "a new CA" -- -C ca ca init --name JSON-CA
check_eq "ca init: ca.sha256 is the CA certificate's fingerprint" "$(jget "$J" ca.sha256 | norm_hex)" "$(fp_openssl ca/ca.pem)"
FPR=$(fp_openssl ca/ca.pem)
jrun 2 "ca init" "an existing CA directory" -- -C ca ca init --name Again
jrun 0 "ca show" "the CA" -- -C ca ca show
jrun 2 "ca show" "-C on a missing directory" -- -C "$W/nonexistent" ca show
jrun 0 "ca config" "every key" -- -C ca ca config
jrun 0 "ca config" "one key" -- -C ca ca config crl-days
jrun 0 "ca config" "a key set" -- -C ca ca config cert-days 200
check_eq "ca config cert-days 200: config.cert_days is the number 200" "$(jget "$J" config.cert_days)" 200
jrun 2 "ca config" "a bad value (usage)" -- -C ca ca config security extreme
jflush

section "tokens"
jrun 0 "token create" "an authorization token" -- -C ca token create --name fleet --max-uses 5
TOK=$(jget "$J" token.value)
# (so that the rest runs on a binary whose token create has no JSON yet)
[ -n "$TOK" ] || TOK=$(grep -Eo '^[A-Z]{4}-[A-Z]{4}-[A-Z]{4}-[A-Z]{4}$' "$J" | head -n 1)
jrun 0 "token create" "a second one" -- -C ca token create --name spare --valid 1h
jrun 2 "token create" "a bad duration (usage)" -- -C ca token create --name bad --valid 5x
jrun 0 "token list" "two tokens" -- -C ca token list
jrun 0 "token show" "a token" -- -C ca token show fleet
jrun 1 "token show" "an unknown token (not found)" -- -C ca token show nosuch
jrun 0 "token delete" "a token" -- -C ca token delete spare --reason "not needed"
jrun 1 "token delete" "an unknown token (not found)" -- -C ca token delete nosuch
jrun 0 "token cleanup" "the deleted token" -- -C ca token cleanup
jflush

section "enrolment"
mkdir -p m1 mr m2 m3 m4
jrun 0 "host request" "with a token" -- -H h1 host request --media m1 --name one --alt-name 10.0.0.1 --token "$TOK"
ID1=$(cat h1/hostid 2>/dev/null)
check_eq "host request: request.host_id is the new host's ID" "$(jget "$J" request.host_id)" "$ID1"
jrun 0 "ca sign" "--list" -- -C ca ca sign --media m1 --list
check_eq "ca sign --list: preview is true" "$(jget "$J" preview)" true
jrun 0 "ca sign" "--media" -- -C ca ca sign --media m1
check_eq "ca sign --media: the request's serial is the certificate's" \
	"$(jget "$J" requests.0.serial | nz)" "$(serial_of "m1/responses/$ID1.pem" | norm_hex | nz)"
jrun 1 "host install" "a wrong CA fingerprint (refused)" -- -H h1 host install --media m1 \
	--ca-fingerprint 00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00
jrun 0 "host install" "the response" -- -H h1 host install --media m1 --ca-fingerprint "$FPR"
jrun 0 "host status" "an enrolled host" -- -H h1 host status
check_eq "host status: host.host_id is the host's ID" "$(jget "$J" host.host_id)" "$ID1"
jrun 0 "host request" "without a token" -- -H h2 host request --media mr --name two
jrun 1 "host status" "a host without a certificate (not usable)" -- -H h2 host status
jrun 1 "ca sign" "--list, a request without a token" -- -C ca ca sign --media mr --list
jrun 1 "ca sign" "--media, a request without a token (refused)" -- -C ca ca sign --media mr
check_eq "ca sign: the refused request's verdict is 'refused'" "$(jget "$J" requests.0.verdict)" refused
jrun 2 "ca sign" "no --csr or --media (usage)" -- -C ca ca sign
jrun 2 "ca sign" "--csr on a missing file" -- -C ca ca sign --csr "$W/nonexistent.csr"
mkcsr "$(fixkey ec-p256)" c.csr /CN=csr.example DNS:csr.example
printf '%s\n' "$TOK" >tok.txt
jrun 0 "ca sign" "--csr" -- -C ca ca sign --csr c.csr --token-file tok.txt --out c.pem
SC=$(serial_of c.pem | norm_hex)
jflush

section "renewal, CRL and updates"
jrun 0 "host renew" "a valid certificate" -- -H h1 host renew --media m2
hc -C ca ca sign --media m2 >/dev/null 2>&1
jrun 0 "host sync" "installs the renewal and takes the CRL" -- -H h1 host sync --media m2
jrun 2 "host sync" "no --media (usage)" -- -H h1 host sync
jrun 0 "ca crl" "a fresh CRL" -- -C ca ca crl
check_eq "ca crl: crl.number is the CRL's number" "$(jget "$J" crl.number)" "$(pyget ca/crl.pem number)"
jrun 0 "ca export" "CA certificate and CRL" -- -C ca ca export --media m3
jrun 0 "host update" "the newer CRL" -- -H h1 host update --media m3
jrun 2 "host update" "a missing media directory" -- -H h1 host update --media "$W/nonexistent"
jrun 2 "host trust" "no --ca-fingerprint (usage)" -- -H h1 host trust --media m3
jrun 1 "host trust" "a fingerprint on no certificate of the stick" -- -H h1 host trust --media m3 --ca-fingerprint "$(printf '%064d' 0)"
jflush

section "listings"
jrun 0 "ca list" "every certificate" -- -C ca ca list
jrun 0 "ca list" "--status valid" -- -C ca ca list --status valid
jrun 2 "ca list" "a bad status (usage)" -- -C ca ca list --status shiny
jrun 1 "ca list" "an unknown host (not found)" -- -C ca ca list --host nosuch
jrun 0 "ca hosts" "two hosts" -- -C ca ca hosts
jrun 0 "ca host" "a host by name" -- -C ca ca host one
jrun 1 "ca host" "an unknown host (not found)" -- -C ca ca host nosuch
jrun 0 "ca allow-reissue" "a window" -- -C ca ca allow-reissue --host one --for 1h
check_eq "ca allow-reissue: window.host_id is host one's" "$(jget "$J" window.host_id)" "$ID1"
jrun 1 "ca allow-reissue" "an unknown host (not found)" -- -C ca ca allow-reissue --host nosuch
jrun 0 "ca renew" "a longer CA certificate" -- -C ca ca renew --days 9000
check_eq "ca renew: ca.sha256 is the new ca.pem's" "$(jget "$J" ca.sha256 | norm_hex)" "$(fp_openssl ca/ca.pem | norm_hex)"
mkdir -p bk1 bk2
printf 'backup words\n' >bp.txt
jrun 0 "ca backup" "under a passphrase" -- -C ca ca backup --media bk1 --backup-passphrase-file bp.txt
jrun 2 "ca backup" "--shares without a stick per share (usage)" -- -C ca ca backup --shares 2-of-3 --media bk2
jrun 0 "ca restore" "into a new directory" -- -C ca-restored ca restore --from bk1 --backup-passphrase-file bp.txt
check_eq "ca restore: restored.crl_number is the CA's" "$(jget "$J" restored.crl_number)" "$(pyget ca/crl.pem number)"
check_eq "ca restore: check.consistent (ca check ran on it)" "$(jget "$J" check.consistent)" true
jrun 2 "ca restore" "over an existing CA (usage)" -- -C ca ca restore --from bk1 --backup-passphrase-file bp.txt
jrun 1 "ca renew" "one that would end sooner (refused)" -- -C ca ca renew --days 10
cp -r ca ca-roll
jrun 0 "ca rollover" "to a new key (a copy of the CA)" -- -C ca-roll ca rollover --key ec-p384
check_eq "ca rollover: ca.sha256 is the new ca.pem's" "$(jget "$J" ca.sha256 | norm_hex)" "$(fp_openssl ca-roll/ca.pem | norm_hex)"
check_eq "ca rollover: ca.rollover.state" "$(jget "$J" ca.rollover.state)" "in-progress"
check_eq "ca rollover: ca.rollover.previous.sha256 is the old ca.pem's" "$(jget "$J" ca.rollover.previous.sha256 | norm_hex)" "$(fp_openssl ca/ca.pem | norm_hex)"
jrun 1 "ca rollover" "a second one while it is in progress (refused)" -- -C ca-roll ca rollover --key ec-p256
jrun 1 "ca rollover" "--finish while hosts are on the old key (refused)" -- -C ca-roll ca rollover --finish
jrun 0 "ca rollover" "--finish --force" -- -C ca-roll ca rollover --finish --force
check_eq "ca rollover --finish: ca.rollover.state" "$(jget "$J" ca.rollover.state)" "finished"
jflush

section "names"
jrun 0 "ca names" "every name" -- -C ca ca names
jrun 0 "ca names" "one name" -- -C ca ca names one
check_eq "ca names one: names.0.host_id is host one's ID" "$(jget "$J" names.0.host_id)" "$ID1"
jrun 1 "ca names" "a name nobody holds (not found)" -- -C ca ca names nobody.example
jrun 2 "ca names" "a name that is not UTF-8 (usage; the message stays valid JSON)" -- -C ca ca names "$(printf 'x\377y')"
jrun 2 "hostca" "a group without a command (usage)" -- ca
jrun 0 "ca share" "a service name for two hosts" -- -C ca ca share --name svc.example --hosts "one,csr.example"
jrun 2 "ca share" "one host only (usage)" -- -C ca ca share --name svc.example --hosts one
jrun 0 "ca share" "--remove" -- -C ca ca share --name svc.example --remove
mkcsr "$(fixkey ec-p384)" g.csr /CN=gone.example DNS:gone.example
hc -C ca ca sign --csr g.csr --token-file tok.txt --out g.pem >/dev/null 2>&1
jrun 1 "ca release" "not confirmed (refused)" -- -C ca ca release --name gone.example --reason gone
jrun 2 "ca release" "no --name (usage)" -- -C ca ca release --reason x
jrun 0 "ca release" "confirmed" -- -C ca ca release --name gone.example --reason gone --yes
check_eq "ca release: released.serials.0 is the certificate's serial" "$(jget "$J" released.serials.0 | nz)" "$(serial_of g.pem | norm_hex | nz)"
jflush

section "verify and show"
jrun 0 "verify" "a valid certificate" -- verify --ca ca/ca.pem --crl ca/crl.pem h1/host.pem
jrun 2 "verify" "no --ca (usage)" -- verify h1/host.pem
jrun 2 "verify" "a missing certificate file" -- verify --ca ca/ca.pem "$W/nonexistent.pem"
jrun 0 "show" "a certificate" -- show h1/host.pem
jrun 0 "show" "a request" -- show c.csr
jrun 2 "show" "a missing file" -- show /nonexistent
jrun 1 "show" "a file with nothing to show (refused)" -- show tok.txt
jflush

section "revocation"
jrun 1 "ca revoke" "--serial 00 (not found)" -- -C ca ca revoke --serial 00
jrun 2 "ca revoke" "an unknown reason (usage)" -- -C ca ca revoke --serial 01 --reason nope
jrun 0 "ca revoke" "--serial" -- -C ca ca revoke --serial "$SC" --reason superseded
check_eq "ca revoke --serial: revoked.0.serial is that serial" "$(jget "$J" revoked.0.serial | nz)" "$(echo "$SC" | nz)"
jrun 0 "ca revoke" "--host: its two valid certificates" -- -C ca ca revoke --host one --reason keyCompromise
jrun 1 "ca revoke" "--host with nothing left to revoke" -- -C ca ca revoke --host one
jrun 0 "ca export" "the CRL with the revocations" -- -C ca ca export --media m4
jrun 0 "host update" "the CRL that revokes it" -- -H h1 host update --media m4
jrun 1 "host status" "a revoked certificate (not usable)" -- -H h1 host status
jrun 1 "verify" "a revoked certificate" -- verify --ca ca/ca.pem --crl ca/crl.pem h1/host.pem
check_eq "verify: verify.valid is false" "$(jget "$J" verify.valid)" false
jrun 0 "show" "a CRL with entries" -- show ca/crl.pem
check_eq "show: objects.0.number is the CRL's number" "$(jget "$J" objects.0.number)" "$(pyget ca/crl.pem number)"
jflush

section "history and maintenance"
jrun 0 "ca audit" "the history" -- -C ca ca audit
jrun 0 "ca audit" "--verify" -- -C ca ca audit --verify
check_eq "ca audit --verify: verified is true" "$(jget "$J" verified)" true
jrun 0 "ca check" "a whole CA" -- -C ca ca check
jrun any "ca repair" "nothing to repair" -- -C ca ca repair
jrun 1 "ca repair" "--sign-head on a signed head (refused)" -- -C ca ca repair --sign-head
printf 'correct horse battery staple\n' >pass.txt
printf 'wrong\n' >wrong.txt
jrun 0 "ca passphrase" "encrypt the key" -- -C ca ca passphrase --new-passphrase-file pass.txt
check_eq "ca passphrase: passphrase.encrypted is true" "$(jget "$J" passphrase.encrypted)" true
jrun any "ca passphrase" "the wrong passphrase" -- --passphrase-file wrong.txt -C ca ca passphrase --remove
jrun 0 "ca passphrase" "decrypt the key" -- --passphrase-file pass.txt -C ca ca passphrase --remove
jflush

section "a damaged journal"
cp -a ca dmg
sed -i '2s/ number=1 / number=9 /' dmg/journal
check_ne "the copy's journal is edited" "$(sha dmg/journal)" "$(sha ca/journal)"
jrun 1 "ca check" "an edited entry" -- -C dmg ca check
check_eq "ca check: check.consistent is false" "$(jget "$J" check.consistent)" false
jrun 1 "ca audit" "--verify finds the edit" -- -C dmg ca audit --verify
jrun any "ca audit" "the history of a damaged journal" -- -C dmg ca audit
jrun 2 "ca crl" "a writer refuses the damaged journal" -- -C dmg ca crl
jrun 2 "ca list" "a reader refuses the damaged journal" -- -C dmg ca list
jflush

section "host clean"
jrun 0 "host clean" "wipe the host" -- -H h1 host clean --force
jrun any "host status" "after host clean" -- -H h1 host status
jflush

section "every command"
# Every command in --help ran above, and the schema knows each one.
{
	hc --help 2>/dev/null | sed -n 's/^  \(ca\|token\|host\) \([a-z-]*\).*/\1 \2/p; s/^  \(verify\|show\) .*/\1/p' |
		grep -vx 'ca test-fill'
} | LC_ALL=C sort -u >"$W/j/all"
check "--help lists the commands" test "$(wc -l <"$W/j/all")" -ge 28
LC_ALL=C sort -u "$W/j/commands" >"$W/j/ran"
check_empty "every command ran with --json here" "$(LC_ALL=C comm -23 "$W/j/all" "$W/j/ran" | tr '\n' ',')"
"$PY" -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))["properties"]["command"]["enum"]))' \
	"$T_REPO/schema/hostca.schema.json" | LC_ALL=C sort -u >"$W/j/enum"
check_empty "the schema names every command" "$(LC_ALL=C comm -23 "$W/j/all" "$W/j/enum" | tr '\n' ',')"
check_empty "and no command that hostca lacks" "$(LC_ALL=C comm -13 "$W/j/all" "$W/j/enum" | grep -vx hostca | tr '\n' ',')"

finish
