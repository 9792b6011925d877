#!/usr/bin/env bash
# THE MAIN COMMAND. Installs what is missing (setup.sh), brings up the dev stack (stack.sh up),
# checkpoints the embedded stand-in template, starts the dmx worker and the HTTP API in the
# background, and prints where everything is. Idempotent: a second run changes nothing.
# Stop everything with: bash deployments/stack.sh down
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
cd "$DMX_ROOT"

bash deployments/setup.sh
bash deployments/stack.sh up
npx --no-install tsx cli/dmx.ts checkpoint standin >&2

S=$DMX_STATE_DIR
mkdir -p "$S/run"
start_process() { # NAME ENTRYPOINT READY-CHECK...
  local name=$1 entry=$2; shift 2
  local pidfile="$S/run/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then ok "dmx $name already running (pid $(cat "$pidfile"))"; return; fi
  log "starting the dmx $name (log: $S/run/$name.log)"
  [ -f "$S/run/$name.log" ] && mv "$S/run/$name.log" "$S/run/$name.log.1"
  setsid node --import tsx "$entry" </dev/null >>"$S/run/$name.log" 2>&1 &
  echo $! > "$pidfile"
  wait_for "$name" 90 "$@" || die "the dmx $name did not become ready in 90 s; see $S/run/$name.log"
  ok "dmx $name ready"
}
start_process worker workers/main.ts grep -q '"dmx worker running"' "$S/run/worker.log"
start_process api api/main.ts curl -fsS "http://127.0.0.1:$DMX_API_PORT/healthz"
# A warm pool for the default template (DMX_POOL_SIZE ready demos; 0 disables it). An existing
# pool keeps its size: resize with `npx dmx pool resize standin N`.
if [ "${DMX_POOL_SIZE:-3}" -gt 0 ]; then
  npx --no-install tsx cli/dmx.ts pool resize standin "${DMX_POOL_SIZE:-3}" >/dev/null
  ok "warm pool for standin: $(npx --no-install tsx cli/dmx.ts --json pool standin | jq -r '"target \(.target), ready \(.ready)"')"
fi

cat >&2 <<INFO

  demo-multiplexer is serving demos (profile $DMX_PROFILE)
    HTTP API        http://localhost:$DMX_API_PORT      (OpenAPI: /openapi.json)
    demos           http://<id>.$DMX_DEMO_DOMAIN:$DMX_CADDY_HTTP_PORT/  (via Caddy)
    Temporal UI     http://localhost:$DMX_TEMPORAL_UI_PORT
    operator token  $S/operator-token
    logs            $S/run/{worker,api}.log

  Get a demo:   curl -s -X POST http://localhost:$DMX_API_PORT/v1/demos -H 'content-type: application/json' -d '{}'
  Stop all:     bash deployments/stack.sh down

INFO
