#!/usr/bin/env bash
# THE TEST COMMAND. Installs what is missing (setup.sh), brings up a separate `test` stack (its own
# ports, state and podman networks, so a running dev stack is untouched), checkpoints the stand-in
# template, runs the typecheck, the lint and the whole test suite against the real services, and
# purges the test stack again, whatever the outcome. Extra arguments go to vitest.
set -euo pipefail
# DMX_TEST_PROFILE (with DMX_PROFILE_SLOT) runs a second test stack beside this one.
export DMX_PROFILE=${DMX_TEST_PROFILE:-test}
source "$(dirname "$0")/lib.sh"
require_root "$@"
cd "$DMX_ROOT"

bash deployments/setup.sh
# A run that was killed may have left its stack behind: start from nothing, end with nothing.
bash deployments/stack.sh purge
trap 'bash deployments/stack.sh purge' EXIT
# The typecheck and the lint need no stack: they run while it comes up.
logs=$(mktemp -d)
( log "typecheck"; npm run --silent typecheck && log "lint" && npm run --silent lint ) > "$logs/static.log" 2>&1 &
static_pid=$!
bash deployments/stack.sh up
lock_down_state   # what the tests write into the state directory: root only, as in production
log "checkpointing the stand-in template for the test stack"
npx --no-install tsx cli/dmx.ts checkpoint standin >&2

# First the workflows on the time-skipping server, alone on a quiet machine (vitest.config.ts: why),
# once the typecheck and the lint are done. Then two vitest processes at once: the fast suites (no
# real service: units, activities in a mock context) beside the real-stack suites. The outputs of
# the fast suites and of the static checks follow the stack output.
static_rc=0; wait "$static_pid" || static_rc=$?
log "tests: the workflows on the time-skipping server, alone"
time_rc=0; npx --no-install vitest run --project time-skipping --passWithNoTests "$@" || time_rc=$?
log "tests: the real-stack suites, and the fast suites beside them"
npx --no-install vitest run --project fast --passWithNoTests "$@" > "$logs/fast.log" 2>&1 &
fast_pid=$!
# One vitest process for both stack projects: `stack` (two files at a time), then `stack-exclusive`
# (the suites that restart or break a shared service, alone), by their groupOrder.
stack_rc=0; npx --no-install vitest run --project stack --project stack-exclusive --passWithNoTests "$@" || stack_rc=$?
fast_rc=0; wait "$fast_pid" || fast_rc=$?
log "the fast suites (ran beside the real-stack suites):"
cat "$logs/fast.log"
log "the typecheck and the lint (ran while the stack came up):"
cat "$logs/static.log"
rm -rf "$logs"
[ "$static_rc" = 0 ] || die "typecheck or lint failed"
[ "$fast_rc" = 0 ] && [ "$stack_rc" = 0 ] && [ "$time_rc" = 0 ] \
  || die "tests failed (real-stack suites: exit $stack_rc, fast suites: exit $fast_rc, time-skipping: exit $time_rc)"
