#!/bin/sh
# t_rollseq.sh: generated sequences of CA key rollovers (tests/rollseq.py):
# enrolments, revocations, ca rollover with every key type, --finish with and
# without --force, and stick rounds in which every host syncs, checked after
# every step against a small model and against the artifacts with
# openssl verify as the judge (invariants R1-R6 in rollseq.py).
#
#   ROLLSEQ_SEED=N   replay a run (every run prints its seed)
#   ROLLSEQ_STEPS=N  steps of the release pass (default 40; 8 under the sanitizers)
#   make model       a long run (600 steps) after the policy model's
. "$(dirname "$0")/lib.sh"

case $T_LABEL in
*asan* | *valgrind* | *arm64*) steps=${ROLLSEQ_STEPS_SLOW:-8} ;;
*) steps=${ROLLSEQ_STEPS:-40} ;;
esac
seed=${ROLLSEQ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
section "rollseq: seed $seed, $steps steps"
"$PY" "$T_SRC/rollseq.py" --bin "$HOSTCA_T" --seed "$seed" --steps "$steps" --work "$W/rs" \
	--replay-hint "ROLLSEQ_STEPS=$steps sh tests/run.sh t_rollseq" >"$W/rs.out" 2>"$W/rs.err"
rc=$?
tab=$(printf '\t')
n=0
while IFS="$tab" read -r kind desc why; do
	case $kind in
	ok) ok "$desc"; n=$((n + 1)) ;;
	FAIL) fail "$desc" "$why"; n=$((n + 1)) ;;
	esac
done <"$W/rs.out"
[ "$n" -gt 0 ] || fail "rollseq: rollseq.py ran (seed $seed)" "exit $rc: $(tail -n 1 "$W/rs.err")"
cat "$W/rs.err" >&2
finish
