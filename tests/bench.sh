#!/bin/sh
# make bench: hostca beside OpenSSL (and GnuTLS certtool) on the same work,
# in one run, printing times and ratios. Not a test: these machines are
# shared and noisy, so nothing here passes or fails.
#
#   sh tests/bench.sh [sign] [batch] [crl] [scale] [footprint]   (default: all)
#
# Each measurement runs twice: on the disk (where fsync costs what it costs)
# and on tmpfs (/dev/shm: fsync is free, so the CPU work shows).
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
H=$REPO/hostca
HT=$REPO/hostca-test
SECTIONS=${*:-sign batch crl scale footprint}
B=$(mktemp -d /tmp/hostca-bench.XXXXXX)
SHM=$(mktemp -d /dev/shm/hostca-bench.XXXXXX 2>/dev/null || echo "")
trap 'rm -rf "$B" ${SHM:+"$SHM"}' EXIT
[ -x "$H" ] || { echo "bench: build ./hostca first (make)"; exit 2; }
[ -x "$HT" ] || make -C "$REPO" hostca-test >/dev/null

ns() { date +%s%N; }
ms() { awk -v a="$1" -v b="$2" -v n="${3:-1}" 'BEGIN { printf "%.2f", (b - a) / 1e6 / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.2fx", b / a; else print "-" }'; }
line() { printf '  %-46s %10s %s\n' "$1" "$2" "${3:-}"; }

# An OpenSSL CA over hostca's own CA key and certificate, so that both
# sign the same CSRs with the same key.
openssl_ca_setup() { # DIR CADIR
	d=$1
	mkdir -p "$d/new"
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	cat >"$d/ca.cnf" <<EOF
[ca]
default_ca = c
[c]
dir = $d
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
certificate = $2/ca.pem
private_key = $2/ca.key
default_md = sha256
default_days = 365
default_crl_days = 7
policy = p
copy_extensions = copy
unique_subject = no
x509_extensions = x
[p]
commonName = supplied
[x]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
}

csrs() { # DIR N
	mkdir -p "$1"
	i=1
	while [ $i -le "$2" ]; do
		[ -f "$1/r$i.pem" ] || openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout /dev/null -subj "/CN=$(cat /proc/sys/kernel/random/uuid)" \
			-addext "subjectAltName=DNS:n$i.example" -out "$1/r$i.pem" 2>/dev/null
		i=$((i + 1))
	done
}

bench_sign() { # ROOT LABEL
	R=$1/sign
	mkdir -p "$R"
	N=50
	csrs "$B/csr" $N
	"$H" -q -C "$R/ca" ca init --name Bench --security medium >/dev/null
	openssl_ca_setup "$R/o" "$R/ca"
	cat >"$R/tmpl" <<EOF
expiration_days = 365
tls_www_server
tls_www_client
signing_key
EOF
	s=$(ns)
	i=1; while [ $i -le $N ]; do "$H" -q -C "$R/ca" ca sign --csr "$B/csr/r$i.pem" --out "$R/h$i.pem" || echo "hostca failed"; i=$((i + 1)); done
	e=$(ns); th=$(ms "$s" "$e" $N)
	s=$(ns)
	i=1; while [ $i -le $N ]; do openssl ca -config "$R/o/ca.cnf" -batch -notext -in "$B/csr/r$i.pem" -out "$R/o$i.pem" 2>/dev/null || echo "openssl failed"; i=$((i + 1)); done
	e=$(ns); to=$(ms "$s" "$e" $N)
	s=$(ns)
	i=1; while [ $i -le $N ]; do certtool --generate-certificate --load-request "$B/csr/r$i.pem" --load-ca-certificate "$R/ca/ca.pem" --load-ca-privkey "$R/ca/ca.key" --template "$R/tmpl" --outfile "$R/g$i.pem" >/dev/null 2>&1 || echo "certtool failed"; i=$((i + 1)); done
	e=$(ns); tg=$(ms "$s" "$e" $N)
	echo "sign one CSR, whole process, ms per certificate ($2, $N CSRs)"
	line "hostca ca sign --csr (journal fsync, output)" "$th"
	line "openssl ca -batch (no fsync)" "$to" "hostca is $(ratio "$th" "$to") faster"
	line "certtool --generate-certificate (no fsync)" "$tg" "hostca is $(ratio "$th" "$tg") faster"
}

bench_batch() { # ROOT LABEL
	R=$1/batch
	mkdir -p "$R/m/requests"
	N=${BATCH_N:-1000}
	csrs "$B/pool" "$N"
	"$H" -q -C "$R/ca" ca init --name Bench --security medium >/dev/null
	cp "$B"/pool/r*.pem "$R/m/requests/"
	sync
	s=$(ns)
	"$H" -q -C "$R/ca" ca sign --media "$R/m" || echo "hostca batch failed"
	e=$(ns); th=$(ms "$s" "$e")
	openssl_ca_setup "$R/o" "$R/ca"
	s=$(ns)
	i=1; while [ $i -le "$N" ]; do openssl ca -config "$R/o/ca.cnf" -batch -notext -in "$B/pool/r$i.pem" -out "$R/o$i.pem" 2>/dev/null; i=$((i + 1)); done
	e=$(ns); to=$(ms "$s" "$e")
	openssl_ca_setup "$R/o2" "$R/ca"
	s=$(ns)
	# shellcheck disable=SC2046
	openssl ca -config "$R/o2/ca.cnf" -batch -notext -out "$R/all.pem" -infiles $(i=1; while [ $i -le "$N" ]; do echo "$B/pool/r$i.pem"; i=$((i + 1)); done) 2>/dev/null
	e=$(ns); ti=$(ms "$s" "$e")
	echo "batch: $N P-256 requests from media ($2), certificates per second"
	rate() { awk -v n="$N" -v t="$1" 'BEGIN { printf "%.0f/s", n / (t / 1000) }'; }
	line "hostca ca sign --media (one process)" "$(rate "$th")"
	line "openssl ca -batch, one process per request" "$(rate "$to")" "hostca is $(ratio "$th" "$to") faster"
	line "openssl ca -infiles (one process)" "$(rate "$ti")" "hostca is $(ratio "$th" "$ti") faster"
}

bench_crl() { # ROOT LABEL
	R=$1/crl
	mkdir -p "$R"
	N=${CRL_N:-100000}
	"$H" -q -C "$R/ca" ca init --name Bench --security medium >/dev/null
	"$HT" -q -C "$R/ca" ca test-fill --issued "$N" --revoked "$N" || { echo "fill failed"; return; }
	# one run to warm the page cache (the fill just wrote the index), then five
	"$H" -q -C "$R/ca" ca crl
	s=$(ns)
	i=0; while [ $i -lt 5 ]; do "$H" -q -C "$R/ca" ca crl; i=$((i + 1)); done
	e=$(ns); th=$(ms "$s" "$e" 5)
	# The same set for openssl: an index of N revoked entries.
	openssl_ca_setup "$R/o" "$R/ca"
	"$H" -C "$R/ca" ca list --status revoked --json | /usr/bin/python3 -c '
import json, sys
for c in json.load(sys.stdin)["certificates"]:
    print("R\t291231000000Z\t261101000000Z,keyCompromise\t%s\tunknown\t/CN=%s" % (c["serial"], c["host_id"]))
' >"$R/o/index.txt"
	s=$(ns)
	openssl ca -config "$R/o/ca.cnf" -gencrl -out "$R/o.crl" 2>/dev/null
	e=$(ns); to=$(ms "$s" "$e")
	echo "CRL with $N revoked entries ($2), whole process, ms (hostca: mean of 5 after one warm-up)"
	line "hostca ca crl" "$th" "$(wc -c <"$R/ca/crl.pem") bytes PEM"
	line "openssl ca -gencrl" "$to" "hostca is $(ratio "$th" "$to") faster"
}

bench_scale() { # ROOT LABEL
	R=$1/scale
	mkdir -p "$R"
	for N in ${SCALE_N:-100000 1000000}; do
		REV=$((N / 10))
		rm -rf "$R/ca"
		"$H" -q -C "$R/ca" ca init --name Bench --security medium >/dev/null
		"$HT" -q -C "$R/ca" ca test-fill --issued "$N" --revoked "$REV" || { echo "fill failed"; return; }
		csrs "$B/csr" 20
		"$H" -q -C "$R/ca" ca sign --csr "$B/csr/r1.pem" --out "$R/warm.pem"
		s=$(ns)
		i=2; while [ $i -le 11 ]; do "$H" -q -C "$R/ca" ca sign --csr "$B/csr/r$i.pem" --out "$R/s$i.pem"; i=$((i + 1)); done
		e=$(ns); ts=$(ms "$s" "$e" 10)
		rss=$( { /usr/bin/time -f %M "$H" -q -C "$R/ca" ca sign --csr "$B/csr/r12.pem" --out "$R/s12.pem"; } 2>&1 | tail -n 1)
		ser=$("$H" -C "$R/ca" ca list --json --status valid | /usr/bin/python3 -c 'import json,sys; l=json.load(sys.stdin)["certificates"]; print(l[len(l)//2]["serial"])')
		s=$(ns)
		"$H" -q -C "$R/ca" ca revoke --serial "$ser"
		e=$(ns); tr=$(ms "$s" "$e")
		s=$(ns)
		"$H" -q -C "$R/ca" token create --name "t$N" >/dev/null
		e=$(ns); tt=$(ms "$s" "$e")
		du=$(du -sk "$R/ca" | cut -f1)
		echo "scale: $N issued, $REV revoked ($2)"
		line "ca sign --csr, ms" "$ts"
		line "ca sign --csr, peak RSS KB" "$rss"
		line "ca revoke --serial (with the CRL), ms" "$tr"
		line "token create, ms" "$tt"
		line "CA directory, bytes per certificate" "$(awk -v k="$du" -v n="$N" 'BEGIN { printf "%.0f", k * 1024 / n }')"
	done
}

bench_footprint() {
	R=$B/fp
	mkdir -p "$R/m"
	cp "$H" "$R/hostca" && strip "$R/hostca"
	echo "footprint"
	line "hostca, dynamic, stripped, bytes" "$(wc -c <"$R/hostca")"
	if make -C "$REPO" -s hostca-static >/dev/null 2>&1; then
		cp "$REPO/hostca-static" "$R/hs" && strip "$R/hs"
		line "hostca, static, stripped, bytes" "$(wc -c <"$R/hs")"
	fi
	make -C "$REPO" -s hostca.o >/dev/null 2>&1 && line "hostca.o (library) text, bytes" "$(size "$REPO/hostca.o" | awk 'NR==2 { print $1 }')"
	ob=$(command -v openssl)
	lc=$(ldd "$ob" | awk '/libcrypto/ { print $3 }')
	line "openssl binary + libcrypto, bytes" "$(( $(wc -c <"$ob") + $(wc -c <"$lc") ))"
	rss() { /usr/bin/time -f %M -o "$R/rss.txt" "$@" >/dev/null 2>&1; cat "$R/rss.txt"; }
	"$H" -q -C "$R/ca" ca init --name FP --security medium >/dev/null
	line "peak RSS KB: hostca host request" "$(rss "$H" -q -H "$R/h" host request --media "$R/m" --name fp.example)"
	"$H" -q -C "$R/ca" ca sign --media "$R/m"
	line "peak RSS KB: hostca host install" "$(rss "$H" -q -H "$R/h" host install --media "$R/m" --trust-on-first-use)"
	line "peak RSS KB: openssl genpkey (P-256)" "$(rss openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$R/k.pem")"
	line "peak RSS KB: openssl req -new" "$(rss openssl req -new -key "$R/k.pem" -subj /CN=x -out "$R/r.pem")"
	for where in disk tmpfs; do
		D=$R/t
		[ $where = tmpfs ] && { [ -n "$SHM" ] || continue; D=$SHM/fpt; }
		mkdir -p "$D"
		"$H" -q -C "$D/ca" ca init --name FP --security medium >/dev/null
		# 20 new hosts: request (new host ID and key, CSR, 7 fsyncs), then
		# install (first install: verify, pin the CA, take the CRL)
		i=0; while [ $i -lt 20 ]; do mkdir -p "$D/m$i"; i=$((i + 1)); done
		s=$(ns); i=0; while [ $i -lt 20 ]; do "$H" -q -H "$D/h$i" host request --media "$D/m$i" --name fp$i.example; i=$((i + 1)); done; e=$(ns)
		tr=$(ms "$s" "$e" 20)
		i=0; while [ $i -lt 20 ]; do "$H" -q -C "$D/ca" ca sign --media "$D/m$i" >/dev/null 2>&1; i=$((i + 1)); done
		s=$(ns); i=0; while [ $i -lt 20 ]; do "$H" -q -H "$D/h$i" host install --media "$D/m$i" --trust-on-first-use; i=$((i + 1)); done; e=$(ns)
		ti=$(ms "$s" "$e" 20)
		s=$(ns); i=0; while [ $i -lt 20 ]; do openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$D/k$i.pem" 2>/dev/null; openssl req -new -key "$D/k$i.pem" -subj /CN=x -out "$D/r$i.pem"; i=$((i + 1)); done; e=$(ns)
		to=$(ms "$s" "$e" 20)
		line "host request (new ID, key, CSR; $where), ms" "$tr"
		line "openssl genpkey + req ($where), ms" "$to" "hostca is $(ratio "$tr" "$to") faster"
		line "host install (first; $where), ms" "$ti"
	done
}

for sec in $SECTIONS; do
	case $sec in
	footprint) bench_footprint ;;
	sign|batch|crl|scale)
		bench_$sec "$B" "disk"
		[ -n "$SHM" ] && bench_$sec "$SHM" "tmpfs"
		;;
	*) echo "bench: unknown section $sec"; exit 2 ;;
	esac
	echo
done
