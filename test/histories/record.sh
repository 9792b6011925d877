#!/usr/bin/env bash
# Exports real workflow histories for the replay test: record.sh NAME WORKFLOW_ID [NAME WORKFLOW_ID ...]
# Run against a stack where those workflows ran (default profile dev). Re-record only when a
# workflow change is meant to be incompatible AND no run of the old code can still be open;
# otherwise keep the old histories and use workflow.patched() for the change.
set -euo pipefail
source "$(dirname "$0")/../../deployments/lib.sh"
cd "$(dirname "$0")"
while [ $# -ge 2 ]; do
  "$DMX_TEMPORAL_BIN" workflow show --address "$DMX_TEMPORAL_ADDRESS" -w "$2" -o json > "$1.json"
  echo "wrote $1.json ($(jq '.events | length' "$1.json") events)"
  shift 2
done
