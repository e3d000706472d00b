#!/bin/sh
# t_backup.sh: ca backup and ca restore (issue 13) -- under a backup
# passphrase, or split k-of-n (Shamir over GF(2^8)) across sticks; a
# restored CA signs a stick the hosts accept (OpenSSL judges); K-1 shares,
# a changed byte anywhere or a wrong passphrase restore nothing; a restore
# from an old backup continues CRL numbers above what hosts have seen.
. "$(dirname "$0")/lib.sh"
section "backup: under a passphrase, and k-of-n"

printf 'ca key words\n' >kp.txt
hct -C ca --passphrase-file kp.txt ca init --name Backup-CA --security medium >/dev/null 2>&1
FP=$(fp_openssl ca/ca.pem)
mkdir -p m
hct -H a host request --media m --name a.example >/dev/null 2>&1
hct -C ca --passphrase-file kp.txt ca sign --media m >/dev/null 2>&1
hct -H a host install --media m --ca-fingerprint "$FP" >/dev/null 2>&1
printf 'backup words\n' >bp.txt
printf 'other words\n' >wp.txt
mkdir -p b s1 s2 s3
expect_exit 0 "backup: under a backup passphrase" -- "$HOSTCA_T" -C ca ca backup --media b --backup-passphrase-file bp.txt
check_file "backup: ... one file on the stick" b/hostca-backup.hcb
check "backup: ... that does not hold the journal in clear" sh -c "! grep -q 'a.example' b/hostca-backup.hcb"
expect_exit 2 "backup: --shares needs one --media per share" -- "$HOSTCA_T" -C ca ca backup --shares 2-of-3 --media s1
expect_exit 2 "backup: --shares 1-of-2 is not a split" -- "$HOSTCA_T" -C ca ca backup --shares 1-of-2 --media s1 --media s2
expect_exit 0 "backup: 2-of-3 shares on three sticks" -- "$HOSTCA_T" -C ca ca backup --shares 2-of-3 --media s1 --media s2 --media s3
check "backup: ... each stick has its own share" sh -c "test -f s1/hostca-share-1-of-3.txt && test -f s2/hostca-share-2-of-3.txt && test -f s3/hostca-share-3-of-3.txt"
check_grep "backup: ... a share says what a person checks: index, K, N, checksum" "^threshold 2$" s2/hostca-share-2-of-3.txt
check_grep "backup: ... and its checksum" "^check [0-9a-f]{8}$" s2/hostca-share-2-of-3.txt
check "backup: the three shares differ" sh -c "[ \$(grep -h '^share ' s1/*.txt s2/*.txt s3/*.txt | sort -u | wc -l) = 3 ]"

section "restore"
expect_exit 0 "restore: from the passphrase backup" -- "$HOSTCA_T" -C r0 ca restore --from b --backup-passphrase-file bp.txt
check_grep "restore: ... says what it restored" "restored r0 from a backup of .*journal entries, CRL #" "$W/.err"
check_grep "restore: ... and ca check ran" "consistent" "$W/.out"
check "restore: ... the journal is the CA's" cmp r0/journal ca/journal
check "restore: ... the key is as it was stored (still under its passphrase)" cmp r0/ca.key ca/ca.key
expect_exit 0 "restore: from 2 of the 3 shares (sticks 1 and 3)" -- "$HOSTCA_T" -C r1 ca restore --from s1 --from s3
check "restore: ... the same journal" cmp r1/journal ca/journal
expect_exit 0 "restore: from sticks 2 and 3" -- "$HOSTCA_T" -C r2 ca restore --from s2 --from s3
check "restore: ... the same key file" cmp r2/ca.key ca/ca.key
expect_exit 1 "restore: one share is not enough" -- "$HOSTCA_T" -C rx ca restore --from s2
check_grep "restore: ... it says how many are needed" "1 share of this backup found, 2 needed" "$W/.err"
check "restore: ... and nothing was written" test ! -e rx
cp -r s3 s3bad
sed -i 's/^share \(.\)/share X\1/; s/^share X0/share 1/; s/^share X\(.\)/share 0/' s3bad/hostca-share-3-of-3.txt
expect_exit 1 "restore: a share with a changed character (and one good share)" -- "$HOSTCA_T" -C rx ca restore --from s1 --from s3bad
check_grep "restore: ... names the damaged share" "hostca-share-3-of-3.txt: damaged: its checksum" "$W/.err"
check "restore: ... nothing was written" test ! -e rx
expect_exit 1 "restore: a wrong backup passphrase" -- "$HOSTCA_T" -C rx ca restore --from b --backup-passphrase-file wp.txt
check_grep "restore: ... refused, nothing restored" "does not check.*nothing was restored" "$W/.err"
check "restore: ... nothing was written" test ! -e rx
mkdir -p bflip
"$PY" - b/hostca-backup.hcb bflip/hostca-backup.hcb <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[len(d) - 100] ^= 0x01
open(sys.argv[2], "wb").write(bytes(d))
PY
expect_exit 1 "restore: one flipped bit in the backup" -- "$HOSTCA_T" -C rx ca restore --from bflip --backup-passphrase-file bp.txt
check "restore: ... nothing was written" test ! -e rx
head -c 300 b/hostca-backup.hcb >bflip/hostca-backup.hcb
expect_exit nz "restore: a truncated backup" -- "$HOSTCA_T" -C rx ca restore --from bflip --backup-passphrase-file bp.txt
check "restore: ... nothing was written" test ! -e rx
expect_exit 2 "restore: never over an existing CA" -- "$HOSTCA_T" -C ca ca restore --from b --backup-passphrase-file bp.txt
check "restore: ... the CA is untouched" cmp r0/journal ca/journal

section "a restored CA at work"
mkdir -p m2
hct -H c host request --media m2 --name c.example >/dev/null 2>&1
expect_exit 0 "restored: the CA restored from shares signs a stick" -- "$HOSTCA_T" -C r1 --passphrase-file kp.txt ca sign --media m2
expect_exit 0 "restored: the host installs, pinned by the CA's fingerprint" -- "$HOSTCA_T" -H c host install --media m2 --ca-fingerprint "$FP"
peer_openssl "restored: openssl accepts the new host certificate" r1/ca.pem c/host.pem r1/crl.pem
peer_openssl "restored: ... and the one issued before the backup" r1/ca.pem a/host.pem r1/crl.pem

section "rollback: a restore from an old backup"
# after the backup, the CA revoked a and carried CRL #2 and #3 out
hct -C ca --passphrase-file kp.txt ca revoke --host a.example --reason keyCompromise >/dev/null 2>&1
hct -C ca --passphrase-file kp.txt ca crl >/dev/null 2>&1
mkdir -p seen
hct -C ca ca export --media seen >/dev/null 2>&1
SEEN=$(pyget seen/crl.pem number)
expect_exit 0 "rollback: restore the old backup, given the hosts' newest CRL" -- \
	"$HOSTCA_T" -C r3 --passphrase-file kp.txt ca restore --from b --backup-passphrase-file bp.txt --media seen
check_grep "rollback: ... it says what is missing" "the hosts have seen CRL #$SEEN; the backup ends at CRL #1" "$W/.err"
check "rollback: ... the restored CA's CRL number is above what the hosts have seen" \
	test "$(pyget r3/crl.pem number)" -gt "$SEEN"
hct -C r3 ca export --media seen >/dev/null 2>&1
expect_exit 0 "rollback: a host takes the restored CA's CRL (a higher number)" -- "$HOSTCA_T" -H c host update --media seen
check "rollback: ... it is the restored CA's" cmp c/crl.pem r3/crl.pem

section "crash points"
mkdir -p k1 k2 k3
HOSTCA_FAULT=backup-written:1 "$HOSTCA_T" -C ca ca backup --shares 2-of-3 --media k1 --media k2 --media k3 >/dev/null 2>&1
expect_exit 0 "crash: killed inside ca backup: the CA is as it was (ca check)" -- "$HOSTCA_T" -C ca ca check
expect_exit 1 "crash: ... the partial backup does not restore" -- "$HOSTCA_T" -C rk ca restore --from k1 --from k2 --from k3
HOSTCA_FAULT=restore-before-rename:1 "$HOSTCA_T" -C rk ca restore --from b --backup-passphrase-file bp.txt >/dev/null 2>&1
check "crash: killed inside ca restore: no CA directory appeared" test ! -e rk
expect_exit 0 "crash: the restore again works (and clears the leftover)" -- "$HOSTCA_T" -C rk ca restore --from b --backup-passphrase-file bp.txt
check "crash: ... no leftover directory" sh -c "! ls -d rk.init-* >/dev/null 2>&1"
finish
