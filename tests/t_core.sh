#!/bin/sh
# t_core.sh: command line, ca init per key type, CA files judged by peers,
# ca show (--json), passphrase-protected CA key, ca config, audit, hooks.
. "$(dirname "$0")/lib.sh"

section "command line (table: args -> exit code)"
# A CA for the usage cases that need one.
hc -C cli ca init --name CLI-CA >/dev/null 2>&1
while IFS='|' read -r code desc args; do
	[ -z "$code" ] && continue
	# shellcheck disable=SC2086
	expect_exit "$code" "usage: $desc" -- hc -C cli $args
done <<'EOF'
0|--version|--version
0|--help|--help
0|ca init --help|ca init --help
0|token create --help|token create --help
2|no command|
2|unknown command|frobnicate
2|unknown ca verb|ca frobnicate
2|ca init without --name|ca init
2|ca init with an unknown key type|ca init --name X --key ed25519
2|ca init with an unknown option|ca init --name X --frob
2|ca init with a repeated option|ca init --name X --name Y
2|token create with a bad duration|token create --name d1 --valid 5x
2|ca revoke without host or serial|ca revoke --reason keyCompromise
2|ca revoke with an unknown reason|ca revoke --serial 01 --reason nope
2|ca sign without --csr or --media|ca sign
2|ca sign --csr on a missing file|ca sign --csr /nonexistent/x.csr
2|ca config with an unknown key|ca config frobnication
2|ca config security with a bad value|ca config security extreme
2|ca list with a bad status|ca list --status shiny
2|verify without --ca|verify x.pem
EOF
expect_exit 2 "usage: -C on a missing directory" -- hc -C "$W/nonexistent" ca show
check_grep "errors are written 'hostca: <what>: <why>'" '^hostca: [^:]+: ' "$W/.err"
run hc -C cli --version
check_grep "--version prints a version" '[0-9]+\.[0-9]+' "$W/.out"
check_eq "usage errors created no token" "$(hc -C cli token list 2>/dev/null | grep -cE 'd1|d2')" 0

section "ca init for every key type"
TYPES="ec-p256 ec-p384 ec-p521 rsa-2048 rsa-3072"
# (rsa-4096, slow to generate, goes end to end in t_options.sh)
for kt in $TYPES; do
	d=ca-$kt
	expect_exit 0 "ca init --key $kt" -- hc -C $d ca init --name "Test CA $kt" --key $kt || continue
	fp=$(out)
	check_eq "$kt: stdout is one line" "$(out | wc -l | tr -d ' ')" 1
	case $fp in
	[0-9A-F][0-9A-F]:*) ok "$kt: fingerprint is uppercase hex with colons" ;;
	*) fail "$kt: fingerprint is uppercase hex with colons" "got '$fp'" ;;
	esac
	check_eq "$kt: printed fingerprint == openssl x509 -fingerprint -sha256" \
		"$(printf %s "$fp" | norm_hex)" "$(fp_openssl $d/ca.pem)"
	check_eq "$kt: ca.key is mode 0600" "$(stat -c %a $d/ca.key 2>/dev/null)" 600
	check "$kt: openssl pkey reads ca.key" openssl pkey -in $d/ca.key -noout
	check_eq "$kt: ca.key matches the public key in ca.pem" \
		"$(openssl pkey -in $d/ca.key -pubout 2>/dev/null | sha)" \
		"$(openssl x509 -in $d/ca.pem -noout -pubkey 2>/dev/null | sha)"
	case $kt in
	ec-p256) pat='prime256v1|P-256' ;;
	ec-p384) pat='secp384r1|P-384' ;;
	ec-p521) pat='secp521r1|P-521' ;;
	rsa-*) pat="\(${kt#rsa-} bit" ;;
	esac
	openssl pkey -in $d/ca.key -noout -text >key.txt 2>&1
	check_grep "$kt: the key is really $kt" "$pat" key.txt
	check "$kt: ca.key is PKCS#8 PEM" grep -qE '^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----$' $d/ca.key
	peer_py "$kt: CA certificate" ca $d/ca.pem --name "Test CA $kt"
	peer_openssl "$kt: self-signed CA certificate" $d/ca.pem $d/ca.pem
	peer_certtool "$kt: self-signed CA certificate" $d/ca.pem $d/ca.pem
	peer_crl "$kt: first CRL is empty and signed" $d/ca.pem $d/crl.pem --count 0
	openssl x509 -in $d/ca.pem -noout -text >ca.txt 2>&1
	check_grep "$kt: openssl shows CA:TRUE, pathlen:0" 'CA:TRUE, pathlen:0' ca.txt
	expect_exit 0 "$kt: ca show" -- hc -C $d ca show
	check_grep "$kt: ca show names the CA" "Test CA $kt" "$W/.out"
done

section "ca init refuses an existing CA"
before=$(ca_state ca-ec-p256)
expect_exit 2 "ca init on an existing CA directory" -- hc -C ca-ec-p256 ca init --name Again --key ec-p384
check_eq "existing CA untouched by a second ca init" "$(ca_state ca-ec-p256)" "$before"
check_empty "no output on stdout when refused" "$(out)"

section "defaults: ec-p256, 20 years, security high; --days"
expect_exit 0 "ca init with defaults" -- hc -C def ca init --name Default-CA
openssl pkey -in def/ca.key -noout -text >key.txt 2>&1
check_grep "default key type is ec-p256" 'prime256v1|P-256' key.txt
nb=$(numget def/ca.pem notbefore)
na=$(numget def/ca.pem notafter)
days=$(((na - nb) / 86400))
if [ "$days" -ge 7290 ] && [ "$days" -le 7320 ]; then ok "default CA validity is 20 years ($days days)"; else fail "default CA validity is 20 years" "$days days"; fi
n=$(now)
if [ "${nb:-0}" -le "$n" ] && [ "${na:-0}" -gt "$n" ]; then ok "CA certificate is valid now"; else fail "CA certificate is valid now" "nb=$nb na=$na now=$n"; fi
check_eq "ca config security defaults to high" "$(hc -C def ca config security 2>/dev/null | tr -d ' \n' | sed 's/.*[=:]//')" high
expect_exit 0 "ca init --days 30" -- hc -C d30 ca init --name D30 --days 30
days=$((($(numget d30/ca.pem notafter) - $(numget d30/ca.pem notbefore)) / 86400))
if [ "$days" -ge 29 ] && [ "$days" -le 31 ]; then ok "--days 30 gives a 30-day CA ($days)"; else fail "--days 30 gives a 30-day CA" "$days days"; fi
expect_exit 0 "ca init --security medium" -- hc -C med ca init --name Med --security medium
check_eq "ca config security reads medium" "$(hc -C med ca config security 2>/dev/null | tr -d ' \n' | sed 's/.*[=:]//')" medium
expect_exit 0 "HOSTCA_CA_DIR selects the CA directory" -- env HOSTCA_CA_DIR="$W/def" "$HOSTCA" ca show
check_grep "HOSTCA_CA_DIR: ca show names Default-CA" 'Default-CA' "$W/.out"
mkdir -p dflt && (cd dflt && hc ca init --name InDefault >/dev/null 2>&1)
check_file "ca init without -C creates ./ca/ca.pem" dflt/ca/ca.pem

section "ca show and ca show --json"
fp=$(fp_openssl def/ca.pem)
expect_exit 0 "ca show" -- hc -C def ca show
check_grep "ca show prints the security level" 'high' "$W/.out"
tr -d ':' <"$W/.out" | tr a-f A-F >show.txt
check_grep "ca show prints the SHA-256 fingerprint" "$fp" show.txt
expect_exit 0 "--json ca show" -- hc -C def --json ca show
cp "$W/.out" show.json
peer_py "ca show --json is one document, the CA under \"ca\" with the documented keys" json show.json \
	schema_version command ok exit messages ca.subject ca.key_type ca.not_before ca.not_after \
	ca.sha256 ca.sha1 ca.security ca.certificates ca.revoked ca.hosts ca.tokens ca.crl_number \
	ca.crl_next_update ca.warnings
check_eq "json command is \"ca show\"" "$(pyget show.json command)" "ca show"
check_eq "json ok is true, exit 0" "$(pyget show.json ok) $(pyget show.json exit)" "true 0"
check_eq "json sha256 == openssl fingerprint" "$(pyget show.json ca.sha256 | norm_hex)" "$fp"
check_eq "json sha1 == openssl SHA-1 fingerprint" "$(pyget show.json ca.sha1 | norm_hex)" \
	"$(openssl x509 -noout -fingerprint -sha1 -in def/ca.pem | sed 's/^.*=//' | norm_hex)"
check_eq "json key_type" "$(pyget show.json ca.key_type)" ec-p256
check_eq "json security" "$(pyget show.json ca.security)" high
check_eq "json certificates is 0 on a new CA" "$(pyget show.json ca.certificates)" 0
check_eq "json crl_number == the CRL's number" "$(pyget show.json ca.crl_number)" "$(pyget def/crl.pem number)"
check_eq "json warnings is an array" "$(pyget show.json ca.warnings | cut -c1)" "["
check_grep "json subject names the CA" 'Default-CA' show.json

section "passphrase-protected CA key (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC)"
printf 'correct horse battery staple\n' >pass.txt
printf 'wrong passphrase\n' >wrong.txt
expect_exit 0 "ca init --passphrase-file" -- hc -C enc ca init --name Enc-CA --passphrase-file pass.txt
check "encrypted ca.key is 'ENCRYPTED PRIVATE KEY'" grep -q '^-----BEGIN ENCRYPTED PRIVATE KEY-----' enc/ca.key
check "openssl pkey -passin reads the encrypted ca.key" openssl pkey -in enc/ca.key -passin file:pass.txt -noout
check_not "openssl pkey with the wrong passphrase fails" openssl pkey -in enc/ca.key -passin file:wrong.txt -noout
openssl asn1parse -in enc/ca.key >asn.txt 2>&1
check_grep "ca.key uses PBES2" 'PBES2' asn.txt
check_grep "ca.key uses PBKDF2" 'PBKDF2' asn.txt
check_grep "ca.key uses HMAC-SHA256" 'hmacWithSHA256' asn.txt
check_grep "ca.key uses AES-256-CBC" 'aes-256-cbc' asn.txt
if grep -rq 'horse battery' enc; then fail "the passphrase is stored nowhere in the CA" "$(grep -rl 'horse battery' enc)"; else ok "the passphrase is stored nowhere in the CA"; fi
crl0=$(sha enc/crl.pem)
expect_exit 0 "ca crl with --passphrase-file" -- hc -C enc --passphrase-file pass.txt ca crl
expect_exit 0 "ca crl with HOSTCA_PASSPHRASE_FILE" -- env HOSTCA_PASSPHRASE_FILE="$W/pass.txt" "$HOSTCA" -C enc ca crl
crl1=$(sha enc/crl.pem)
check_ne "ca crl wrote a new CRL" "$crl0" "$crl1"
peer_crl "CRL signed with the encrypted key" enc/ca.pem enc/crl.pem
expect_exit nz "wrong passphrase refused" -- hc -C enc --passphrase-file wrong.txt ca crl
check_eq "wrong passphrase: CRL unchanged" "$(sha enc/crl.pem)" "$crl1"
run setsid -w sh -c "exec '$HOSTCA' -C enc ca crl </dev/null"
if [ "$RC" != 0 ]; then ok "no passphrase and no terminal: refused"; else fail "no passphrase and no terminal: refused" "exit 0"; fi
check_eq "no passphrase: CRL unchanged" "$(sha enc/crl.pem)" "$crl1"

section "ca config"
expect_exit 0 "ca config (all keys)" -- hc -C def ca config
for k in security cert-days crl-days token-valid backdate; do
	check_grep "ca config lists $k" "$k" "$W/.out"
done
check_eq "cert-days defaults to 365" "$(hc -C def ca config cert-days 2>/dev/null | tr -d ' \n' | sed 's/.*[=:]//')" 365
check_eq "crl-days defaults to 7" "$(hc -C def ca config crl-days 2>/dev/null | tr -d ' \n' | sed 's/.*[=:]//')" 7
expect_exit 0 "ca config cert-days 30" -- hc -C def ca config cert-days 30
check_eq "ca config cert-days reads 30" "$(hc -C def ca config cert-days 2>/dev/null | tr -d ' \n' | sed 's/.*[=:]//')" 30
expect_exit 0 "ca config security very-high" -- hc -C def ca config security very-high
check_eq "ca config security reads very-high" "$(hc -C def ca config security 2>/dev/null | tr -d ' \n' | sed 's/.*[=:]//')" very-high
expect_exit 2 "ca config cert-days with a non-number" -- hc -C def ca config cert-days many
check_eq "bad value left cert-days alone" "$(hc -C def ca config cert-days 2>/dev/null | tr -d ' \n' | sed 's/.*[=:]//')" 30

section "ca crl"
n0=$(pyget def/crl.pem number)
expect_exit 0 "ca crl --days 2" -- hc -C def ca crl --days 2
peer_crl "fresh CRL after ca crl" def/ca.pem def/crl.pem --number-above "${n0:-0}"
"$PY" - def/crl.pem >crldays.txt 2>&1 <<'EOF'
import sys
from cryptography import x509
c = x509.load_pem_x509_crl(open(sys.argv[1], "rb").read())
print(round((c.next_update - c.last_update).total_seconds() / 86400))
EOF
check_eq "ca crl --days 2: nextUpdate two days after thisUpdate" "$(cat crldays.txt)" 2

expect_exit 0 "ca show --json when the CRL is hours from its nextUpdate" -- env HOSTCA_NOW=$(($(now) + 2 * 86400 - 3600)) "$HOSTCA_T" -C def --json ca show
san_check "$W/.err" "hostca-test ca show"
cp "$W/.out" late.json
check_ne "ca show warns when the CRL is close to expiry" "$(pyget late.json ca.warnings)" "[]"

section "ca audit, ca check"
expect_exit 0 "ca audit" -- hc -C def ca audit
check "ca audit prints the history" test -s "$W/.out"
expect_exit 0 "ca audit --verify on an untouched CA" -- hc -C def ca audit --verify
expect_exit 0 "ca check on an untouched CA" -- hc -C def ca check
if [ -f def/journal ] && [ "$(wc -l <def/journal)" -ge 3 ]; then
	# edited, removed and reordered entries must each be found
	cp -a def tamper-edit && cp -a def tamper-drop && cp -a def tamper-swap
	"$PY" - tamper-edit/journal tamper-drop/journal tamper-swap/journal <<'EOF'
import sys
def rw(p, f):
    ls = open(p, "rb").read().split(b"\n")
    ls = f(ls)
    open(p, "wb").write(b"\n".join(ls))
def edit(ls):
    l = bytearray(ls[1])
    for i, c in enumerate(l):            # change one digit or letter in the middle
        if i >= len(l) // 3 and chr(c).isalnum():
            l[i] = ord("7") if c != ord("7") else ord("8")
            break
    ls[1] = bytes(l)
    return ls
rw(sys.argv[1], edit)
rw(sys.argv[2], lambda ls: ls[:1] + ls[2:])
rw(sys.argv[3], lambda ls: [ls[0], ls[2], ls[1]] + ls[3:])
EOF
	expect_exit nz "ca audit --verify finds an edited entry" -- hc -C tamper-edit ca audit --verify
	expect_exit nz "ca audit --verify finds a removed entry" -- hc -C tamper-drop ca audit --verify
	expect_exit nz "ca audit --verify finds reordered entries" -- hc -C tamper-swap ca audit --verify
else
	fail "CA directory has a journal with the history" "def/journal missing or under 3 lines"
fi

section "one command at a time: a second one waits for the lock"
# The lock is flock() on the CA directory itself (a file could be deleted
# under a running writer, and a second writer would lock a new one).
hold_lock def 2
t0=$(date +%s%N)
expect_exit 0 "token create while another process holds the CA lock: waits, then runs" -- hc -C def token create --name after-lock
t1=$(date +%s%N)
wait "$LPID" 2>/dev/null
ms=$(((t1 - t0) / 1000000))
if [ "$ms" -ge 1000 ]; then ok "the second command waited for the lock (${ms} ms)"; else fail "the second command waited for the lock" "returned after ${ms} ms"; fi
cst=$(ca_state def)
hold_lock def 3
rm -f def/lock
expect_exit 2 "a deleted 'lock' file does not let a second writer in" -- env HOSTCA_LOCK_WAIT=1 "$HOSTCA" -C def token create --name while-locked
check_grep "the message says a lock is never stale" 'never stale' "$W/.err"
wait "$LPID" 2>/dev/null
check_eq "the refused writer changed nothing" "$(ca_state def)" "$cst"

section "test hooks: fixed clock and seeded RNG give identical output"
N=1700000000
for i in 1 2; do
	HOSTCA_NOW=$N HOSTCA_TEST_SEED=golden hct -C gold$i ca init --name Golden --security medium >gold$i.fp 2>/dev/null
done
mkcsr "$(fixkey ec-p256)" gold.csr "/CN=12345678-1234-4123-8123-123456789abc" "DNS:gold.example"
for i in 1 2; do
	HOSTCA_NOW=$((N + 60)) HOSTCA_TEST_SEED=golden hct -C gold$i ca sign --csr gold.csr --out gold$i.pem 2>/dev/null
done
check_file "hooked ca sign --csr wrote a certificate" gold1.pem
check_eq "same seed, clock and CSR: byte-identical certificate" "$(sha gold1.pem)" "$(sha gold2.pem)"
check_eq "same seed, clock and CSR: byte-identical CRL after signing" "$(sha gold1/crl.pem)" "$(sha gold2/crl.pem)"
HOSTCA_NOW=$N HOSTCA_TEST_SEED=other hct -C gold3 ca init --name Golden --security medium >/dev/null 2>&1
check_file "hooked ca init wrote ca.pem" gold1/ca.pem
check_eq "same seed and clock: byte-identical ca.pem" "$(sha gold1/ca.pem)" "$(sha gold2/ca.pem)"
check_eq "same seed and clock: byte-identical crl.pem" "$(sha gold1/crl.pem)" "$(sha gold2/crl.pem)"
check_ne "another seed: another CA key" "$(sha gold1/ca.pem)" "$(sha gold3/ca.pem)"
nb=$(numget gold1/ca.pem notbefore)
if [ -n "$nb" ] && [ "$nb" -le $N ] && [ "$nb" -ge $((N - 2 * 86400)) ]; then ok "HOSTCA_NOW sets the clock (notBefore $nb)"; else fail "HOSTCA_NOW sets the clock" "notBefore '$nb', now $N"; fi
if [ "$HOSTCA" != "$HOSTCA_T" ]; then
	HOSTCA_NOW=$N hc -C rel ca init --name Rel >/dev/null 2>&1
	nb=$(numget rel/ca.pem notbefore)
	if [ -n "$nb" ] && [ "$nb" -gt $((N + 86400)) ]; then ok "release build ignores HOSTCA_NOW"; else fail "release build ignores HOSTCA_NOW" "notBefore '$nb'"; fi
fi

finish
