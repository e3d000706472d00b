#!/bin/sh
# t_model.sh: the model-based test of the CA's policy (tests/model.py).
# Random, seeded sequences of enrolments, renewals, renames, reinstalls, new,
# old and stolen keys, re-encoded copies of answered requests, revocations
# with every reason (by host and by serial), raised reasons, reissue tokens
# and windows, token expiry, use-up and deletion, level changes and clock
# jumps, checked after every step against a small independent model, the
# issued certificates, crl.pem, `ca list --json` and `openssl verify
# -crl_check` (SPEC 3 and 3a, README "The invariants"). One line per
# invariant; a failure gives the first counterexample, the ops that led to
# it and the seed that replays it.
#
#   MODEL_SEED=N        replay a run (every run prints its seed)
#   MODEL_STEPS=N       steps of the release pass (default 400)
#   MODEL_BURST=N       token-free renewals of one host in a row, once (340)
#   MODEL_STEPS_SLOW=N  steps under the sanitizers (50; no burst there)
#   make model          a long run (MODEL_STEPS=20000)
. "$(dirname "$0")/lib.sh"

case $T_LABEL in
*asan* | *valgrind* | *arm64*)
	steps=${MODEL_STEPS_SLOW:-50}
	burst=${MODEL_BURST_SLOW:-0}
	replay="MODEL_STEPS_SLOW=$steps MODEL_BURST_SLOW=$burst sh tests/run.sh t_model"
	;;
*)
	steps=${MODEL_STEPS:-400}
	burst=${MODEL_BURST:-340}
	replay="MODEL_STEPS=$steps MODEL_BURST=$burst T_NOASAN=1 sh tests/run.sh t_model"
	;;
esac
seed=${MODEL_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
section "model: seed $seed, $steps steps"

"$PY" "$T_SRC/model.py" --bin "$HOSTCA_T" --seed "$seed" --steps "$steps" --burst "$burst" \
	--work "$W/model" --replay-hint "$replay" >"$W/model.out" 2>"$W/model.err"
rc=$?
tab=$(printf '\t')
while IFS="$tab" read -r kind desc why; do
	case $kind in
	ok) ok "$desc" ;;
	FAIL) fail "$desc" "$why" ;;
	"#"*) printf '# %s%s\n' "$T_LABEL" "${kind#\#}" >&3 ;;
	esac
done <"$W/model.out"
if [ "$rc" -gt 1 ] && ! grep -q "^FAIL${tab}model: model.py ran" "$W/model.out"; then
	fail "model: model.py ran to its end (seed $seed)" "exit $rc: $(tail -n 1 "$W/model.err")"
fi
# model.py's own stderr (a traceback, sanitizer reports) goes to the log
cat "$W/model.err" >&2
finish
