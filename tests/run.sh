#!/bin/sh
# run.sh: the hostca test suite (`make test`, or `sh tests/run.sh` from the repo root).
#
# Runs every tests/t_*.sh against ./hostca (hooks from ./hostca-test), then the
# whole suite again against ./hostca-asan (ASan+UBSan; any sanitizer report is
# a failure); tests/t_example.sh runs ./tests/example. Prints one line per check
# and ends with "N passed, N failed"; exits 1 if anything failed.
#
#   sh tests/run.sh [t_core t_enroll ...]     only the named test files
#   T_NOASAN=1 sh tests/run.sh                skip the sanitizer pass
#   T_VERBOSE=1 sh tests/run.sh               show hostca's stderr as it runs
set -u
cd "$(dirname "$0")/.." || exit 2
REPO=$(pwd)

ROOT=$(mktemp -d /tmp/hostca-run.XXXXXX) || exit 2
cleanup() {
	cd /
	rm -rf "$ROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export T_RESULTS="$ROOT/results" T_FIX="$ROOT/fix"
: >"$T_RESULTS"
mkdir -p "$T_FIX"

FILES=
if [ $# -gt 0 ]; then
	for n in "$@"; do FILES="$FILES tests/${n%.sh}.sh"; done
else
	FILES=$(ls tests/t_*.sh 2>/dev/null)
fi

# Test a snapshot of the binaries, so that a rebuild during the run cannot
# swap them under the tests.
BIN=$ROOT/bin
mkdir -p "$BIN"
for b in hostca hostca-test hostca-asan tests/example tests/p256check tests/p256check-asan; do
	[ -x "$REPO/$b" ] && cp "$REPO/$b" "$BIN/$(basename "$b")"
done
[ -x "$BIN/example" ] && export T_EXAMPLE="$BIN/example"
[ -x "$BIN/p256check" ] && export T_P256CHECK="$BIN/p256check"
[ -x "$BIN/p256check-asan" ] && export T_P256CHECK_ASAN="$BIN/p256check-asan"

record() { # ok|FAIL line
	echo "$1" >>"$T_RESULTS"
}

# pass LABEL HOSTCA HOSTCA_T
pass() {
	label=$1
	if [ ! -x "$2" ]; then
		echo "FAIL - ${label}binary $2 is missing (make hostca hostca-test hostca-asan)"
		record FAIL
		return
	fi
	[ -x "$3" ] || {
		echo "# ${label}note: $3 is missing; tests that need test hooks will fail"
	}
	for t in $FILES; do
		name=$(basename "$t" .sh)
		case " ${SKIP:-} " in *" $name "*)
			echo "# ${label}$name: not in this pass"
			continue ;;
		esac
		echo "# ${label}$name"
		t0=$(date +%s)
		log=$ROOT/$name.$(echo "$label" | tr -dc a-z).stderr
		if [ "${T_VERBOSE:-}" = 1 ]; then
			HOSTCA=$2 HOSTCA_T=$3 T_LABEL=$label timeout 600 sh "$t"
		else
			HOSTCA=$2 HOSTCA_T=$3 T_LABEL=$label timeout 600 sh "$t" 2>"$log"
		fi
		rc=$?
		if [ "$rc" != 0 ]; then
			echo "FAIL - ${label}$name ran to its end: exit $rc$([ "$rc" = 124 ] && echo ' (timeout)')"
			record FAIL
			[ -f "$log" ] && tail -n 5 "$log" | sed 's/^/#   /'
		fi
		# A sanitizer report that escaped the per-command checks (hooks, peers).
		if [ -f "$log" ] && grep -qE 'runtime error|AddressSanitizer|LeakSanitizer' "$log"; then
			n=$(grep -cE 'runtime error|AddressSanitizer|LeakSanitizer' "$log")
			echo "FAIL - ${label}$name: no sanitizer report on stderr: $n line(s), first: $(grep -m1 -E 'runtime error|AddressSanitizer|LeakSanitizer' "$log" | cut -c1-160)"
			record FAIL
		fi
		echo "# ${label}$name: $(($(date +%s) - t0))s"
	done
}

# The arm64 build of tests/p256check under qemu-user, for t_p256.sh in the
# arm64 pass (the P-256 verifier on a second architecture).
qemu_p256check() {
	[ -x "$REPO/tests/p256check-arm64" ] && [ "$REPO/tests/p256check-arm64" -nt "$REPO/hostca.c" ] || return 1
	cp "$REPO/tests/p256check-arm64" "$BIN/p256check-arm64"
	printf '#!/bin/sh\nexec qemu-aarch64 -L / "%s" "$@"\n' "$BIN/p256check-arm64" >"$BIN/q-p256check-arm64"
	chmod +x "$BIN/q-p256check-arm64"
	export T_P256CHECK_ARM64="$BIN/q-p256check-arm64"
}

start=$(date +%s)
if [ "${T_CROSS:-}" = 1 ]; then
	# The arm64 build under qemu-user (make cross-test): one pass. The
	# arm64 libraries are Debian's multiarch ones (libbearssl-dev:arm64
	# brings libc6:arm64), so the root is / -- not the cross sysroot, whose
	# own libc would meet another libc in libbearssl's dependencies.
	for b in hostca-arm64 hostca-test-arm64; do
		[ -x "$REPO/$b" ] || { echo "FAIL - [arm64] $b is missing"; record FAIL; }
		cp "$REPO/$b" "$BIN/$b" 2>/dev/null
		printf '#!/bin/sh\nexec qemu-aarch64 -L / "%s" "$@"\n' "$BIN/$b" >"$BIN/q-$b"
		chmod +x "$BIN/q-$b"
	done
	qemu_p256check
	T_SLOW=0 pass "[arm64] " "$BIN/q-hostca-arm64" "$BIN/q-hostca-test-arm64"
	p=$(grep -c '^ok$' "$T_RESULTS")
	f=$(grep -c '^FAIL$' "$T_RESULTS")
	echo "# $(($(date +%s) - start))s"
	echo "$p passed, $f failed"
	[ "$f" = 0 ]
	exit
fi
# Two lanes, one per core: the release pass, the arm64 pass and valgrind
# in the foreground; the sanitizer pass and the fuzz smoke run in the
# background, their output shown when the first lane is done. Each lane
# works in its own temporary directories; results are appended to one file.
lane_release() {
	FILES=$ALLFILES
	T_SLOW=1 pass "" "$BIN/hostca" "$BIN/hostca-test"

	# The whole run (no test files named): the arm64 build under qemu-user
	# when it was built (make test builds it where the packages install), and
	# a short smoke run of every fuzz harness when clang is there.
	if [ "$NARGS" -eq 0 ] && [ "${T_NOCROSS:-}" != 1 ] && [ -x "$REPO/hostca-arm64" ] \
		&& [ "$REPO/hostca-arm64" -nt "$REPO/hostca.c" ] && command -v qemu-aarch64 >/dev/null 2>&1; then
		for b in hostca-arm64 hostca-test-arm64; do
			cp "$REPO/$b" "$BIN/$b" 2>/dev/null
			printf '#!/bin/sh\nexec qemu-aarch64 -L / "%s" "$@"\n' "$BIN/$b" >"$BIN/q-$b"
			chmod +x "$BIN/q-$b"
		done
		FILES="tests/t_core.sh tests/t_csr.sh tests/t_golden.sh tests/t_index.sh"
		qemu_p256check && FILES="$FILES tests/t_p256.sh"
		T_SLOW=0 pass "[arm64] " "$BIN/q-hostca-arm64" "$BIN/q-hostca-test-arm64"
	elif [ "$NARGS" -eq 0 ]; then
		echo "# arm64 pass skipped (no current ./hostca-arm64 or no qemu-aarch64)"
	fi

	# A representative subset under valgrind (memcheck): any error or definite
	# leak is exit 99, which no test accepts.
	if [ "$NARGS" -eq 0 ] && [ "${T_NOVALGRIND:-}" != 1 ] && command -v valgrind >/dev/null 2>&1; then
		for b in hostca hostca-test; do
			printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "%s" "$@"\n' "$BIN/$b" >"$BIN/vg-$b"
			chmod +x "$BIN/vg-$b"
		done
		FILES="tests/t_golden.sh tests/t_example.sh tests/t_verify.sh"
		T_SLOW=0 pass "[valgrind] " "$BIN/vg-hostca" "$BIN/vg-hostca-test"
	fi
}

lane_checked() {
	FILES=$ALLFILES
	if [ "${T_NOASAN:-}" != 1 ] && [ -x "$BIN/hostca-asan" ]; then
		# halt on the first report; a non-standard exit code so it cannot pass as 0/1/2
		ASAN_OPTIONS=halt_on_error=1:abort_on_error=0:exitcode=86:detect_leaks=1:detect_stack_use_after_return=1
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87
		export ASAN_OPTIONS UBSAN_OPTIONS
		# t_options walks every option through the peers (python start-up
		# dominates); the code it reaches runs under ASan in the other files,
		# and the release pass runs it whole. SKIP="" runs it here too.
		SKIP=${SKIP-t_options} T_SLOW=0 pass "[asan] " "$BIN/hostca-asan" "$BIN/hostca-asan"
		unset ASAN_OPTIONS UBSAN_OPTIONS
	else
		echo "# sanitizer pass skipped (no ./hostca-asan or T_NOASAN=1)"
	fi

	if [ "$NARGS" -eq 0 ] && [ -f tests/fuzz/run.sh ]; then
		sh tests/fuzz/run.sh smoke 2>&1 | while IFS= read -r line; do
			echo "$line"
			case $line in
			"ok - "*) record ok ;;
			"FAIL - "*) record FAIL ;;
			esac
		done
	fi
}

NARGS=$#
ALLFILES=$FILES
if [ "${T_LANES:-2}" = 1 ]; then
	lane_release
	lane_checked
else
	lane_checked >"$ROOT/lane2.out" 2>&1 &
	lane2=$!
	lane_release
	echo "# waiting for the sanitizer/fuzz lane"
	wait "$lane2"
	cat "$ROOT/lane2.out"
fi
p=$(grep -c '^ok$' "$T_RESULTS")
f=$(grep -c '^FAIL$' "$T_RESULTS")
echo "# $(($(date +%s) - start))s"
echo "$p passed, $f failed"
[ "$f" = 0 ]
