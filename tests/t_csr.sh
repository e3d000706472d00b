#!/bin/sh
# t_csr.sh: ca sign --csr with CSRs made by openssl (every supported key type),
# host IDs kept or assigned, token policy at high security, and a table of
# CSRs that must be refused with exit 1 and no change to the CA.
. "$(dirname "$0")/lib.sh"

section "CSRs from openssl req, signed at security medium"
hc -C med ca init --name CSR-Medium --security medium >/dev/null 2>&1
[ -s med/ca.pem ] || fail "setup: ca init --security medium" "no med/ca.pem"

U1=$(newuuid) U2=$(newuuid) U4=$(newuuid) U6=$(newuuid)
# key | subject | SAN ("-" none) | host ID expected ("new" = CA assigns) | names (DNS... IP:...)
# RSA-4096 appears once (a cached openssl key), the other types each once.
cat >cases.txt <<EOF
ec-p256|/CN=$U1|DNS:a1.example,IP:10.1.0.1|$U1|a1.example IP:10.1.0.1
ec-p384|/CN=b1.example|DNS:b1.example,URI:urn:uuid:$U2|$U2|b1.example
ec-p521|/CN=c1.example|DNS:c1.example,DNS:c2.example,IP:fd00::1|new|c1.example c2.example IP:fd00::1
rsa-2048|/CN=$U4|-|$U4|
rsa-3072|/O=Acme/CN=d1.example|-|new|d1.example
rsa-4096|/CN=$U6|DNS:e1.example,IP:192.0.2.7|$U6|e1.example IP:192.0.2.7
EOF
NEWIDS=
while IFS='|' read -r kt subj san want names; do
	key=$(fixkey "$kt") || { fail "$kt: openssl made a key" "genpkey failed"; continue; }
	[ "$san" = - ] && san=
	mkcsr "$key" "$kt.csr" "$subj" "$san" || { fail "$kt: openssl req made a CSR" "req failed"; continue; }
	expect_exit 0 "$kt CSR ($subj${san:+ SAN $san}) signed" -- hc -C med ca sign --csr "$kt.csr" --out "$kt.pem" || continue
	check_eq "$kt: --out wrote the certificate, stdout empty" "$(out | wc -c | tr -d ' ')" 0
	id=$(hostid_of "$kt.pem")
	if [ "$want" = new ]; then
		peer_py "$kt: assigned host ID is a UUID v4" uuid "$id"
		case " $U1 $U2 $U4 $U6 $NEWIDS " in
		*" $id "*) fail "$kt: assigned host ID is new" "$id reused" ;;
		*) ok "$kt: assigned host ID is new" ;;
		esac
		NEWIDS="$NEWIDS $id"
	else
		check_eq "$kt: host ID from the CSR is kept" "$id" "$want"
	fi
	set --
	for n in $names; do
		case $n in IP:*) set -- "$@" --ip "${n#IP:}" ;; *) set -- "$@" --dns "$n" ;; esac
	done
	peer_host_cert "$kt host certificate" med/ca.pem "$kt.pem" med/crl.pem --key "$key" "$@"
	check_eq "$kt: certificate is for the CSR's key" \
		"$(openssl x509 -in "$kt.pem" -noout -pubkey 2>/dev/null | sha)" "$(openssl pkey -in "$key" -pubout 2>/dev/null | sha)"
done <cases.txt

fresh_key ec-p256 so.key
mkcsr so.key so.csr "/CN=stdout.example" "DNS:stdout.example"
expect_exit 0 "ca sign --csr without --out writes the certificate on stdout" -- hc -C med ca sign --csr so.csr
out >stdout.pem
check_grep "stdout carries a PEM certificate" '^-----BEGIN CERTIFICATE-----' stdout.pem
peer_openssl "certificate from stdout" med/ca.pem stdout.pem med/crl.pem

section "certificates carry what the contract says"
if [ -s ec-p256.pem ]; then
	openssl x509 -in ec-p256.pem -noout -text >c.txt 2>&1
	check_grep "X.509 v3" 'Version: 3' c.txt
	check_grep "basicConstraints critical CA:FALSE" 'Basic Constraints: critical' c.txt
	check_grep "CA:FALSE" 'CA:FALSE' c.txt
	check_grep "keyUsage critical" 'Key Usage: critical' c.txt
	check_grep "EKU serverAuth + clientAuth" 'TLS Web Server Authentication, TLS Web Client Authentication|TLS Web Client Authentication, TLS Web Server Authentication' c.txt
	check_grep "SAN URI urn:uuid" "URI:urn:uuid:$U1" c.txt
	check_grep "signed ecdsa-with-SHA256 by the P-256 CA" 'ecdsa-with-SHA256' c.txt
	nb=$(numget ec-p256.pem notbefore) na=$(numget ec-p256.pem notafter)
	d=$(((na - nb) / 86400))
	if [ "$d" -ge 364 ] && [ "$d" -le 367 ]; then ok "host certificate lasts cert-days (365, got $d)"; else fail "host certificate lasts cert-days (365)" "$d days"; fi
fi
if [ -s rsa-2048.pem ]; then
	openssl x509 -in rsa-2048.pem -noout -text >r.txt 2>&1
	check_grep "RSA host certificate has keyEncipherment" 'Key Encipherment' r.txt
fi
all=$(for f in ec-p256 ec-p384 ec-p521 rsa-2048 rsa-3072 rsa-4096 stdout; do serial_of $f.pem; done | sort)
check_eq "every certificate has its own serial (7 of 7)" "$(printf '%s\n' "$all" | grep -c . | tr -d ' '):$(printf '%s\n' "$all" | uniq | grep -c .)" "7:7"

section "RSA and P-384 CAs sign with the hash the SPEC names"
for kt in rsa-2048 ec-p384; do
	hc -C "ca-$kt" ca init --name "CA $kt" --key $kt --security medium >/dev/null 2>&1
	expect_exit 0 "$kt CA signs a P-256 CSR" -- hc -C "ca-$kt" ca sign --csr ec-p256.csr --out "by-$kt.pem"
	peer_host_cert "host certificate from the $kt CA" "ca-$kt/ca.pem" "by-$kt.pem" "ca-$kt/crl.pem" --hostid "$U1"
done

section "security high: a CSR needs a token (flag or challengePassword)"
hc -C high ca init --name CSR-High >/dev/null 2>&1
key=$W/h1.key
fresh_key ec-p256 "$key"
mkcsr "$key" h1.csr "/CN=h1.example" "DNS:h1.example"
before=$(ca_state high)
expect_exit 1 "high: CSR without a token refused" -- hc -C high ca sign --csr h1.csr --out h1.pem
check_nofile "high: refused CSR wrote no certificate" h1.pem
check_eq "high: refusal left the CA unchanged" "$(ca_state high)" "$before"
TOK=$(hc -C high token create --name csr-tok --max-uses 3 2>/dev/null)
expect_exit 0 "high: CSR with --token signed" -- hc -C high ca sign --csr h1.csr --token "$TOK" --out h1.pem
peer_host_cert "token-authorized certificate" high/ca.pem h1.pem high/crl.pem --dns h1.example
key2=$W/h2.key
fresh_key ec-p256 "$key2"
cat >cp.cnf <<EOF
[req]
distinguished_name = dn
attributes = attrs
prompt = no
req_extensions = ext
[dn]
CN = h2.example
[attrs]
challengePassword = $TOK
[ext]
subjectAltName = DNS:h2.example
EOF
openssl req -new -key "$key2" -config cp.cnf -out h2.csr 2>/dev/null
expect_exit 0 "high: token in the CSR's challengePassword accepted" -- hc -C high ca sign --csr h2.csr --out h2.pem
peer_host_cert "challengePassword-authorized certificate" high/ca.pem h2.pem high/crl.pem --dns h2.example
mkcsr "$key2" h3.csr "/CN=h3.example"
expect_exit 1 "high: a wrong --token refused" -- hc -C high ca sign --csr h3.csr --token ABCDEFGHIJKLMNOP --out h3.pem
check_nofile "high: wrong token wrote no certificate" h3.pem

section "refusals: bad CSRs (exit 1, nothing written, CA unchanged)"
good=$W/good.key
fresh_key ec-p256 "$good"
UG=$(newuuid)
mkcsr "$good" good.csr "/CN=$UG" "DNS:good.example"
P="$PY $PEER"
$P mangle sig good.csr forged-sig.csr
$P mangle body good.csr forged-body.csr "$UG"
$P mangle ber good.csr ber.csr
$P mangle trailing good.csr trailing.csr
$P mangle truncate good.csr truncated.csr
$P mangle pemcut good.csr pemcut.csr
: >empty.csr
head -c 600 /dev/urandom | base64 >garbage.csr
printf -- '-----BEGIN CERTIFICATE REQUEST-----\nnot base64 at all!\n-----END CERTIFICATE REQUEST-----\n' >badb64.csr
i=0
for kt in ed25519 dsa rsa-1024 secp256k1; do
	i=$((i + 1))
	k=$(fixkey $kt) && mkcsr "$k" "unsup$i.csr" "/CN=$(newuuid)" "DNS:host$i.example"
done
# file ; what stderr must name ("-" nothing particular) ; description
# (neutral file names, so that a message naming the file cannot match by accident)
while IFS=';' read -r f pat desc; do
	if [ ! -s "$f" ] && [ "$f" != empty.csr ]; then
		skip "$desc" "openssl could not make $f"
		continue
	fi
	before=$(ca_state med)
	o=out-$(printf %s "$f" | tr / _).pem
	expect_exit 1 "refused: $desc" -- hc -C med ca sign --csr "$f" --out "$o"
	[ "$pat" != - ] && check_grep "refusal names the key type: $desc" "$pat" "$W/.err"
	check_nofile "nothing written: $desc" "$o"
	check_eq "CA unchanged: $desc" "$(ca_state med)" "$before"
done <<'EOF'
unsup1.csr;ed25519;Ed25519 CSR
unsup2.csr;(^|[^c])dsa;DSA CSR
unsup3.csr;rsa;RSA-1024 CSR
unsup4.csr;-;secp256k1 CSR
forged-sig.csr;-;CSR with a flipped signature byte
forged-body.csr;-;CSR with a changed subject byte
ber.csr;-;CSR with a BER (non-minimal) length
trailing.csr;-;CSR with trailing bytes after the DER
truncated.csr;-;truncated CSR
pemcut.csr;-;PEM cut off halfway
med/ca.pem;-;a certificate where a CSR belongs
empty.csr;-;empty file
garbage.csr;-;random garbage
badb64.csr;-;PEM with invalid base64
EOF

finish
