#!/bin/sh
# t_revoke.sh: revocation (by serial and by host, reasons by name and number),
# CRLs judged by openssl and python-cryptography, host update/status, reissue
# with reissue tokens and allow-reissue windows, renewal, host clean, and a
# reinstalled host getting its old host ID back (SPEC sections 2 and 3).
. "$(dirname "$0")/lib.sh"

# Media directories exist before use, as a mounted stick does.
for m in mA mB mC mD mE mF mG mx mold mforeign mr-A mr-A2 mr-D mr-B mr-B2 mr-F mr-G mE2 mr-C; do mkdir -p "$W/$m"; done
hc -C ca ca init --name Revoke-CA >/dev/null 2>&1
[ -s ca/ca.pem ] || fail "setup: ca init" "no ca/ca.pem"
FP=$(fp_openssl ca/ca.pem)
TOK=$(hc -C ca token create --name fleet --max-uses 20 2>/dev/null)
for h in A B C D E F G; do
	if enroll ca "h$h" "host$h" "$TOK" "$W/m$h" --alt-name "host$h.example"; then
		eval "ID$h=\$(cat h$h/hostid)"
		eval "S$h=\$(serial_of h$h/host.pem)"
		cp "h$h/host.pem" "old$h.pem"
	else
		fail "setup: enroll host$h" "request/sign/install failed"
	fi
done
crlnum() { pyget "$1" number; }
N0=$(crlnum ca/crl.pem)

section "revoke by serial, reason by name"
expect_exit 0 "ca revoke --serial (A) --reason keyCompromise" -- hc -C ca ca revoke --serial "${SA:-00}" --reason keyCompromise
check_empty "ca revoke: stdout empty" "$(out)"
peer_crl "CRL after revoking A" ca/ca.pem ca/crl.pem --revoked "${SA:-00}:keyCompromise" --count 1 --number-above "${N0:-0}"
peer_openssl_rejects "A's certificate is revoked" ca/ca.pem oldA.pem ca/crl.pem 'revoked'
peer_openssl "B is still good after A's revocation" ca/ca.pem oldB.pem ca/crl.pem
run certtool --verify --load-ca-certificate ca/ca.pem --load-crl ca/crl.pem --infile oldA.pem
check_grep "certtool: A is revoked" 'verification output: Not verified.*revoked' "$W/.out"
expect_exit 1 "hostca verify: revoked A" -- hc verify --ca ca/ca.pem --crl ca/crl.pem oldA.pem
expect_exit 0 "hostca verify: B good" -- hc verify --ca ca/ca.pem --crl ca/crl.pem oldB.pem

section "revoke by host, reason by number; other reasons"
N1=$(crlnum ca/crl.pem)
expect_exit 0 "ca revoke --host hostC --reason 5" -- hc -C ca ca revoke --host hostC --reason 5
peer_crl "CRL lists C as cessationOfOperation (5)" ca/ca.pem ca/crl.pem --revoked "${SC:-00}:cessationOfOperation" --revoked "${SA:-00}:keyCompromise" --number-above "${N1:-0}"
expect_exit 0 "ca revoke --host <ID of E> --reason affiliationChanged" -- hc -C ca ca revoke --host "${IDE:-x}" --reason affiliationChanged
peer_crl "CRL lists E as affiliationChanged (3)" ca/ca.pem ca/crl.pem --revoked "${SE:-00}:3" --count 3
expect_exit 0 "ca crl" -- hc -C ca ca crl
peer_crl "fresh CRL keeps every entry" ca/ca.pem ca/crl.pem --revoked "${SA:-00}:1" --revoked "${SC:-00}:5" --revoked "${SE:-00}:3" --not-revoked "${SB:-00}"

section "revocation refusals change nothing"
cst=$(ca_state ca)
while IFS='|' read -r code desc args; do
	# shellcheck disable=SC2086
	expect_exit "$code" "$desc" -- hc -C ca ca revoke $args
	check_eq "$desc: CA unchanged" "$(ca_state ca)" "$cst"
done <<'EOF'
nz|revoke an unknown serial|--serial 0123456789ABCDEF0123
nz|revoke an unknown host|--host nosuchhost
2|revoke with an unknown reason|--serial 0123456789ABCDEF --reason sleepy
2|revoke with reason number 7 (unused in RFC 5280)|--serial 0123456789ABCDEF --reason 7
2|revoke with both --host and --serial|--host hostB --serial 0123456789ABCDEF
EOF

section "ca list --status"
expect_exit 0 "ca list --status revoked" -- hc -C ca ca list --status revoked
cp "$W/.out" rev.txt
check_serial_in "revoked list has A" rev.txt "$SA"
check_serial_out "revoked list leaves out B" rev.txt "$SB"
expect_exit 0 "ca list --status valid" -- hc -C ca ca list --status valid
cp "$W/.out" val.txt
check_serial_in "valid list has B" val.txt "$SB"
check_serial_out "valid list leaves out A" val.txt "$SA"
expect_exit 0 "ca list --expiring 400 (every 365-day certificate)" -- hc -C ca ca list --expiring 400
check_serial_in "--expiring 400 lists B" "$W/.out" "$SB"
expect_exit 0 "ca list --expiring 10" -- hc -C ca ca list --expiring 10
check_serial_out "--expiring 10 leaves out B" "$W/.out" "$SB"

section "export, host update, host status"
MX=$W/mx
expect_exit 0 "ca export --media" -- hc -C ca ca export --media "$MX"
check_eq "exported ca.pem" "$(sha "$MX/ca.pem")" "$(sha ca/ca.pem)"
check_eq "exported crl.pem" "$(sha "$MX/crl.pem")" "$(sha ca/crl.pem)"
expect_exit 0 "A: host status before the update (CRL not seen yet)" -- hc -H hA host status
expect_exit 0 "A: host update" -- hc -H hA host update --media "$MX"
check_eq "A: host update took the newer CRL" "$(sha hA/crl.pem)" "$(sha ca/crl.pem)"
expect_exit 1 "A: host status exits 1 once the CRL revokes it" -- hc -H hA host status
cat "$W/.out" "$W/.err" >stA.txt
check_grep "A: host status says revoked" 'revoked' stA.txt
expect_exit 0 "B: host update" -- hc -H hB host update --media "$MX"
expect_exit 0 "B: host status still 0" -- hc -H hB host status
# older and foreign CRLs are not taken
MO=$W/mold
mkdir -p "$MO"
cp "$W/mA/crl.pem" "$MO/crl.pem"
cp ca/ca.pem "$MO/ca.pem"
b=$(sha hB/crl.pem)
run hc -H hB host update --media "$MO"
check_eq "B: an older CRL (lower number) is not taken" "$(sha hB/crl.pem)" "$b"
hc -C foreign ca init --name Foreign >/dev/null 2>&1
MF=$W/mforeign
mkdir -p "$MF" && cp foreign/crl.pem "$MF/crl.pem" && cp ca/ca.pem "$MF/ca.pem"
expect_exit nz "B: a CRL from another CA refused" -- hc -H hB host update --media "$MF"
check_eq "B: foreign CRL not taken" "$(sha hB/crl.pem)" "$b"
"$PY" "$PEER" mangle sig ca/crl.pem "$MF/crl.pem"
cp ca/ca.pem "$MF/ca.pem"
expect_exit nz "B: a CRL with a flipped signature byte refused" -- hc -H hB host update --media "$MF"
check_eq "B: forged CRL not taken" "$(sha hB/crl.pem)" "$b"
expect_exit 1 "B: host status when the certificate has expired (clock +400 days)" -- env HOSTCA_NOW=$(($(now) + 400 * 86400)) "$HOSTCA_T" -H hB host status
san_check "$W/.err" "hostca-test host status"

section "reissue needs a reissue token (or a window)"
mr=$W/mr-A
expect_exit 0 "A (revoked) requests again with a new key, no token" -- hc -H hA host request --media "$mr" --name hostA --new-key
cp "$mr/requests/$IDA.pem" reqA-notoken.pem 2>/dev/null
cst=$(ca_state ca)
expect_exit 1 "reissue without a token refused" -- hc -C ca ca sign --media "$mr"
check_nofile "no response without a token" "$mr/responses/$IDA.pem"
check_eq "refused reissue: CA unchanged" "$(ca_state ca)" "$cst"
expect_exit 1 "an authorization token does not reissue a known host" -- sh -c "
	'$HOSTCA' -H hA host request --media '$W/mr-A2' --name hostA --token '$TOK' </dev/null >/dev/null 2>&1
	exec '$HOSTCA' -C ca ca sign --media '$W/mr-A2' </dev/null"
RTB=$(hc -C ca token create --reissue --host hostB --reason "new disk" 2>/dev/null)
check_eq "reissue token is 16 letters" "$(printf %s "$RTB" | tr -d ' \n-' | tr -dc A-Z | wc -c | tr -d ' ')" 16
expect_exit 0 "token list shows the reissue token" -- hc -C ca token list
# another host may not use B's reissue token
mrd=$W/mr-D
hc -H hD host request --media "$mrd" --name hostD --new-key --token "$RTB" >/dev/null 2>&1
cst=$(ca_state ca)
expect_exit 1 "D cannot use B's reissue token" -- hc -C ca ca sign --media "$mrd"
check_eq "wrong-host reissue: CA unchanged (token not spent)" "$(ca_state ca)" "$cst"
mrb=$W/mr-B
expect_exit 0 "B requests a reissue (new key) with its token" -- hc -H hB host request --media "$mrb" --name hostB --new-key --token "$RTB"
cp "$mrb/requests/$IDB.pem" reqB.pem 2>/dev/null
NB=$(crlnum ca/crl.pem)
expect_exit 0 "B's reissue signed" -- hc -C ca ca sign --media "$mrb"
check_file "B: reissue response" "$mrb/responses/$IDB.pem"
peer_crl "reissue revoked B's earlier certificate as superseded" ca/ca.pem ca/crl.pem --revoked "${SB:-00}:superseded" --number-above "${NB:-0}"
expect_exit 0 "B installs the reissued certificate" -- hc -H hB host install --media "$mrb"
check_eq "B keeps its host ID" "$(hostid_of hB/host.pem)" "$IDB"
check_ne "B has a new serial" "$(serial_of hB/host.pem)" "$SB"
peer_host_cert "B reissued" ca/ca.pem hB/host.pem ca/crl.pem --hostid "$IDB" --key hB/host.key --dns hostB
peer_openssl_rejects "B's superseded certificate" ca/ca.pem oldB.pem ca/crl.pem 'revoked'
expect_exit 0 "B: host status after reissue" -- hc -H hB host status
# the token works once
rm -rf "$mrb/processed" "$mrb/responses"
hc -H hB host request --media "$W/mr-B2" --name hostB --new-key --token "$RTB" >/dev/null 2>&1
expect_exit 1 "B's reissue token works only once" -- hc -C ca ca sign --media "$W/mr-B2"

section "allow-reissue window"
mkdir -p "$mrd/requests"
rm -rf "$mrd/requests/"* "$mrd/processed" "$mrd/responses"
expect_exit 0 "D requests a reissue without a token" -- hc -H hD host request --media "$mrd" --name hostD --new-key
check_grep "host request prints the request's key fingerprint" "the request's key is SHA256:[0-9a-f]{64}" "$W/.err"
KD=$(hc -H hD host status 2>/dev/null | sed -n 's/^new key: *SHA256:\([0-9a-f]*\).*/\1/p')
check_eq "host status shows the pending key's fingerprint, as host request printed it" \
	"$(grep -o 'SHA256:[0-9a-f]*' "$W/.err" | cut -c8-)" "$KD"
expect_exit 0 "ca allow-reissue --host hostD --for 1h (no --key)" -- hc -C ca ca allow-reissue --host hostD --for 1h
cst=$(ca_state ca)
expect_exit 1 "I6: a window without --key does not vouch for a new key" -- hc -C ca ca sign --media "$mrd"
check_grep "the refusal says how to vouch for the key" 'allow-reissue --host [0-9a-f-]+ --key' "$W/.err"
check_eq "I6 refusal: CA unchanged" "$(ca_state ca)" "$cst"
expect_exit 2 "allow-reissue --key with a bad fingerprint is a usage error" -- hc -C ca ca allow-reissue --host hostD --key 12:34
expect_exit 0 "ca allow-reissue --host hostD --for 1h --key SHA256:KD" -- hc -C ca ca allow-reissue --host hostD --for 1h --key "SHA256:$KD"
expect_exit 0 "D's reissue signed inside the window" -- hc -C ca ca sign --media "$mrd"
peer_crl "D's earlier certificate superseded" ca/ca.pem ca/crl.pem --revoked "${SD:-00}:superseded"
expect_exit 0 "D installs" -- hc -H hD host install --media "$mrd"
check_eq "D keeps its host ID" "$(hostid_of hD/host.pem)" "$IDD"
expect_exit 0 "ca allow-reissue --host hostF --for 1h" -- hc -C ca ca allow-reissue --host hostF --for 1h
mf=$W/mr-F
hc -H hF host request --media "$mf" --name hostF --new-key >/dev/null 2>&1
cst=$(ca_state ca)
expect_exit 1 "F's reissue refused once the window closed (clock +2h)" -- env HOSTCA_NOW=$(($(now) + 7200)) "$HOSTCA_T" -C ca ca sign --media "$mf"
san_check "$W/.err" "hostca-test ca sign"
check_eq "closed window: CA unchanged" "$(ca_state ca)" "$cst"
expect_exit nz "allow-reissue longer than 30d refused" -- hc -C ca ca allow-reissue --host hostG --for 31d

section "renewal keeps the old certificate valid"
mg=$W/mr-G
expect_exit 0 "G: host renew" -- hc -H hG host renew --media "$mg"
cp "$mg/requests/$IDG.pem" reqG.pem 2>/dev/null
check "G: openssl req -verify accepts the renewal request" openssl req -verify -noout -in reqG.pem
hc -C ca ca config security very-high >/dev/null 2>&1
cst=$(ca_state ca)
expect_exit 1 "very-high: renewal without a token refused" -- hc -C ca ca sign --media "$mg"
check_eq "very-high refusal: CA unchanged" "$(ca_state ca)" "$cst"
hc -C ca ca config security high >/dev/null 2>&1
rm -rf "$mg/processed" "$mg/responses"
mkdir -p "$mg/requests" && cp reqG.pem "$mg/requests/$IDG.pem"
expect_exit 0 "high: the same renewal signed without a token" -- hc -C ca ca sign --media "$mg"
expect_exit 0 "G installs the renewal" -- hc -H hG host install --media "$mg"
check_ne "G has a new serial" "$(serial_of hG/host.pem)" "$SG"
check_eq "G keeps its host ID" "$(hostid_of hG/host.pem)" "$IDG"
peer_crl "renewal revoked nothing" ca/ca.pem ca/crl.pem --not-revoked "${SG:-00}"
peer_openssl "G's old certificate is still valid after renewal" ca/ca.pem oldG.pem ca/crl.pem
expect_exit 0 "hostca verify: G's old certificate still valid" -- hc verify --ca ca/ca.pem --crl ca/crl.pem oldG.pem
peer_host_cert "G renewed" ca/ca.pem hG/host.pem ca/crl.pem --hostid "$IDG" --key hG/host.key
expect_exit 0 "G: host status after renewal" -- hc -H hG host status

section "a renamed host is a reissue"
mn=$W/mr-rename
mkdir -p "$mn"
hc -H hG host request --media "$mn" --name hostG-renamed >/dev/null 2>&1
cst=$(ca_state ca)
expect_exit 1 "a rename without a reissue token refused (security high)" -- hc -C ca ca sign --media "$mn"
check_eq "refused rename: CA unchanged" "$(ca_state ca)" "$cst"
expect_exit 0 "ca list --status expired (clock +400 days)" -- env HOSTCA_NOW=$(($(now) + 400 * 86400)) "$HOSTCA_T" -C ca ca list --status expired
san_check "$W/.err" "hostca-test ca list"
check_serial_in "G's old certificate is listed as expired at +400 days" "$W/.out" "$SG"

section "host clean"
check "before clean, E has hostid, host.key, host.pem, crl.pem" test -s hE/hostid -a -s hE/host.key -a -s hE/host.pem -a -s hE/crl.pem
expect_exit 0 "host clean --force" -- hc -H hE host clean --force
for f in hostid host.key host.pem crl.pem; do check_nofile "host clean removed $f" "hE/$f"; done
expect_exit nz "host status after clean fails" -- hc -H hE host status
expect_exit 0 "a cleaned host enrolls as a new host: request" -- hc -H hE host request --media "$W/mE2" --name hostE2 --token "$TOK"
check_ne "a cleaned host gets a new host ID" "$(cat hE/hostid 2>/dev/null)" "$IDE"

section "a reinstalled host gets its old host ID back"
rm -rf hC
RTC=$(hc -C ca token create --reissue --host "${IDC:-x}" 2>/dev/null)
mc=$W/mr-C
expect_exit 0 "reinstalled C requests with a reissue token" -- hc -H hC host request --media "$mc" --name hostC --token "$RTC"
NEWID=$(cat hC/hostid 2>/dev/null)
check_ne "the reinstalled host first made up a new host ID" "$NEWID" "$IDC"
expect_exit 0 "the reissue is signed" -- hc -C ca ca sign --media "$mc"
cert=$(ls "$mc"/responses/*.pem 2>/dev/null | head -n 1)
if [ -n "$cert" ]; then
	openssl x509 -in "$cert" -out newC.pem 2>/dev/null
	check_eq "the new certificate carries the old host ID" "$(hostid_of newC.pem)" "$IDC"
else
	fail "the new certificate carries the old host ID" "no response on the media"
fi
expect_exit 0 "reinstalled C installs" -- hc -H hC host install --media "$mc" --ca-fingerprint "$FP"
check_eq "reinstalled C's hostid file is its old host ID" "$(cat hC/hostid 2>/dev/null)" "$IDC"
check_eq "reinstalled C's certificate: old host ID" "$(hostid_of hC/host.pem)" "$IDC"
peer_host_cert "reinstalled C" ca/ca.pem hC/host.pem ca/crl.pem --hostid "$IDC" --key hC/host.key --dns hostC
expect_exit 0 "ca host hostC still maps to the old ID" -- hc -C ca ca host hostC
check_grep "ca host hostC gives the old ID" "$IDC" "$W/.out"

section "the history holds up"
expect_exit 0 "ca audit --verify after revocations and reissues" -- hc -C ca ca audit --verify
expect_exit 0 "ca check after revocations and reissues" -- hc -C ca ca check

finish
