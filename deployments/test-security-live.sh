#!/usr/bin/env bash
# The attacker suite (test/security/) against a RUNNING stack built by up.sh — the dev profile by
# default, or DMX_PROFILE=<p> DMX_PROFILE_SLOT=<n> — where the host's rules came about in up.sh's
# order. Nothing is brought up or purged. The suite starts its own demos on its own task queues and
# cleans up after itself, but for a few seconds it deletes the profile's firewall table (negative
# control) and puts an ACCEPT for the profile's bridges on top of FORWARD: never run it against a
# stack that serves real visitors. Extra arguments go to vitest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
cd "$DMX_ROOT"
[ -s "$DMX_STATE_DIR/stack.env" ] || die "no running '$DMX_PROFILE' stack ($DMX_STATE_DIR/stack.env missing): run deployments/up.sh first"
bash deployments/stack.sh status >&2
npx --no-install vitest run test/security "$@"
