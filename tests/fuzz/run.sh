#!/bin/sh
# Fuzz harnesses for hostca's parsers (libFuzzer + ASan + UBSan).
#
#   sh tests/fuzz/run.sh smoke           build all; each over its seeds + 2000 runs
#   sh tests/fuzz/run.sh long [SECONDS]  each for SECONDS (600) from a fresh corpus
#   sh tests/fuzz/run.sh repro           each reproducer in crashers/ (exit 1 if any fails)
#
# One harness per parser: fuzz_NAME.c includes hostca.c itself (its parsers
# are static), seeds/NAME/ holds real objects. Builds go to out/ (git-ignored);
# a harness is rebuilt only when it, fixture.h, hostca.c or hostca.h changed.
# CLANG=clang-15 sh tests/fuzz/run.sh smoke   picks another compiler.

set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$here/out
mode=${1:-smoke}
secs=${2:-600}
CLANG=${CLANG:-clang}
# The smoke run (make test) builds at -O0: a third of the compile time for
# each of the harnesses, each of which compiles all of hostca.c, and 2000
# runs do not need speed. Long runs and reproducers build at -O1.
case $mode in
smoke) OPT=-O0 SUF=.O0 ;;
*) OPT=-O1 SUF= ;;
esac
FLAGS="-g $OPT -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

case $mode in
smoke|long|repro) ;;
*) echo "usage: sh $0 smoke | long [SECONDS] | repro" >&2; exit 2 ;;
esac
case $secs in
''|*[!0-9]*) echo "run.sh: SECONDS must be a number" >&2; exit 2 ;;
esac

mkdir -p "$out" || exit 2
# clang and its fuzzer runtime, or nothing to do.
if ! command -v "$CLANG" >/dev/null 2>&1 \
	|| ! printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n)\n{ (void)d; (void)n; return 0; }\n' \
		> "$out/.probe.c" \
	|| ! "$CLANG" -fsanitize=fuzzer -o "$out/.probe" "$out/.probe.c" >/dev/null 2>&1
then
	echo "skip - fuzz (no clang)"
	exit 0
fi
rm -f "$out/.probe" "$out/.probe.c"

names=
for f in "$here"/fuzz_*.c; do
	n=${f##*/fuzz_}
	names="$names ${n%.c}"
done

# Builds out/fuzz_NAME when older than its sources; prints errors to out/NAME.build.log.
build() {
	bin=$out/fuzz_$1$SUF
	src=$here/fuzz_$1.c
	if [ -x "$bin" ] && [ "$bin" -nt "$src" ] && [ "$bin" -nt "$here/fixture.h" ] \
		&& [ "$bin" -nt "$top/hostca.c" ] && [ "$bin" -nt "$top/hostca.h" ]; then
		return 0
	fi
	# shellcheck disable=SC2086
	"$CLANG" $FLAGS -I"$top" -o "$bin.tmp" "$src" -lbearssl -lpthread \
		>"$out/$1.build.log" 2>&1 && mv "$bin.tmp" "$bin"
}

# Two builds at a time (each compiles all of hostca.c).
pids= failed_build=
for n in $names; do
	build "$n" &
	pids="$pids $!:$n"
	set -- $pids
	if [ $# -ge 2 ]; then
		for p in $pids; do
			wait "${p%%:*}" || failed_build="$failed_build ${p#*:}"
		done
		pids=
	fi
done
for p in $pids; do
	wait "${p%%:*}" || failed_build="$failed_build ${p#*:}"
done

# The last line of a libFuzzer log that says what went wrong.
why() {
	grep -E '^SUMMARY|ERROR: libFuzzer|runtime error|Test unit written' "$1" \
		| head -n 2 | tr '\n' ' ' | cut -c1-240
}

rc=0
for n in $names; do
	bin=$out/fuzz_$n$SUF
	case " $failed_build " in *" $n "*)
		echo "FAIL - fuzz $n: build failed (see tests/fuzz/out/$n.build.log)"
		rc=1
		continue ;;
	esac
	seeds=$here/seeds/$n
	log=$out/$n.$mode.log
	mkdir -p "$out/artifacts"
	case $mode in
	smoke)
		# New inputs go to a scratch dir; seeds/ is only read.
		rm -rf "$out/smoke/$n" && mkdir -p "$out/smoke/$n"
		if "$bin" -runs=2000 -seed=1 -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$out/artifacts/$n-" \
			"$out/smoke/$n" "$seeds" >"$log" 2>&1; then
			echo "ok - fuzz $n smoke"
		else
			echo "FAIL - fuzz $n smoke: $(why "$log") (log: tests/fuzz/out/$n.smoke.log)"
			rc=1
		fi ;;
	long)
		corpus=$out/corpus/$n
		rm -rf "$corpus" && mkdir -p "$corpus" && cp "$seeds"/* "$corpus"/
		if "$bin" -max_total_time="$secs" -max_len=65536 -timeout=25 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="$out/artifacts/$n-" "$corpus" >"$log" 2>&1; then
			execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
			cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
			echo "ok - fuzz $n long (${secs}s, ${execs:-?} runs, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l))"
		else
			echo "FAIL - fuzz $n long: $(why "$log") (log: tests/fuzz/out/$n.long.log)"
			rc=1
		fi ;;
	repro)
		for c in "$here"/crashers/"$n"-*; do
			[ -f "$c" ] || continue
			if "$bin" -timeout=25 -rss_limit_mb=2048 "$c" >"$log" 2>&1; then
				echo "ok - fuzz $n repro ${c##*/}"
			else
				echo "FAIL - fuzz $n repro ${c##*/}: $(why "$log")"
				rc=1
			fi
		done ;;
	esac
done
exit $rc
