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
bash deployments/stack.sh up
lock_down_state   # what the tests write into the state directory: root only, as in production
log "checkpointing the stand-in template for the test stack"
npx --no-install tsx cli/dmx.ts checkpoint standin >&2

log "typecheck"; npm run --silent typecheck
log "lint"; npm run --silent lint
log "tests"
npx --no-install vitest run "$@"
