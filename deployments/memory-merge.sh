#!/usr/bin/env bash
# memory-merge.sh on|off — the kernel's same-page merging (KSM) for the demos of the stack in
# $DMX_STATE_DIR (adapters/memory-merge.ts: only processes that opted in, the demos' restores, are
# scanned). ksmd is host-wide and several stacks may share a host, so each stack that asks for it
# leaves a mark in $DMX_KSM_USERS_DIR; `off` takes this stack's mark away and stops ksmd only when
# no mark is left and ksmd was off before dmx started it — a stack that is down leaves the host's
# setting as it found it. Merged pages stay merged until their processes end.
# Settings: DMX_KSM_SCAN_SECONDS (a full scan about this often, >= 10; default 60) and
# DMX_KSM_MAX_CPU (at most this % of a core, 1..100; default 25). DMX_KSM_DIR and
# DMX_KSM_USERS_DIR exist for the tests.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
k=${DMX_KSM_DIR:-/sys/kernel/mm/ksm}
users=${DMX_KSM_USERS_DIR:-/run/dmx-ksm}
mark="$users/$(printf %s "$DMX_STATE_DIR" | sha256sum | cut -c1-16)"

merge_on() {
  local scan=${DMX_KSM_SCAN_SECONDS:-60} cpu=${DMX_KSM_MAX_CPU:-25}
  [[ "$scan" =~ ^[0-9]+$ && "$scan" -ge 10 ]] || die "DMX_KSM_SCAN_SECONDS must be a whole number of seconds >= 10 (got '$scan')"
  [[ "$cpu" =~ ^[0-9]+$ && "$cpu" -ge 1 && "$cpu" -le 100 ]] || die "DMX_KSM_MAX_CPU must be 1..100 (got '$cpu')"
  [ -w "$k/run" ] || die "DMX_DEMO_MEMORY_MERGE is on but $k/run is missing or read-only (KSM; merging by prctl needs Linux >= 6.4)"
  mkdir -p "$users"
  # The first user notes whether ksmd was off, so the last one knows to turn it off again.
  if [ -z "$(ls -A "$users")" ] && [ "$(cat "$k/run")" = 0 ]; then touch "$users/.was-off"; fi
  echo "$DMX_STATE_DIR" > "$mark"
  if [ -w "$k/advisor_mode" ]; then
    echo scan-time > "$k/advisor_mode"; echo "$scan" > "$k/advisor_target_scan_time"; echo "$cpu" > "$k/advisor_max_cpu"
  fi
  echo 1 > "$k/run"
  ok "ksmd merges demo memory (full scan ~${scan} s, at most ${cpu}% of a core)"
}

merge_off() {
  [ -e "$mark" ] || return 0
  rm -f "$mark"
  if [ -e "$users/.was-off" ] && [ -z "$(find "$users" -mindepth 1 -maxdepth 1 ! -name '.was-off' -print -quit)" ]; then
    echo 0 > "$k/run"
    rm -f "$users/.was-off"
    ok "ksmd stopped (no dmx stack on this host asks for memory merging; it was off before)"
  fi
}

case "${1:-}" in
  on) merge_on ;;
  off) merge_off ;;
  *) echo "usage: $0 on|off" >&2; exit 2 ;;
esac
