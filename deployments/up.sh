#!/usr/bin/env bash
# THE MAIN COMMAND. Installs what is missing (setup.sh), brings up the dev stack (stack.sh up),
# checkpoints the embedded stand-in template, starts the dmx worker and the HTTP API in the
# background, waits until the warm pool has a ready demo and the API's readiness (which requests a
# probe through Caddy's demo router) passes, and prints where everything is — or exits non-zero
# naming what is wrong and where the logs are. Idempotent, and the way back after any crash: a second
# run restarts what is down and changes nothing else. Stop everything with: bash deployments/stack.sh down
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"
cd "$DMX_ROOT"

bash deployments/setup.sh
bash deployments/stack.sh up
lock_down_state   # the worker's and API's logs and files: root only
npx --no-install tsx cli/dmx.ts checkpoint standin >&2

S=$DMX_STATE_DIR
mkdir -p "$S/run"
start_process() { # NAME ENTRYPOINT READY-CHECK...
  local name=$1 entry=$2; shift 2
  local pidfile="$S/run/$name.pid"
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then ok "dmx $name already running (pid $(cat "$pidfile"))"; return; fi
  log "starting the dmx $name (log: $S/run/$name.log)"
  [ -f "$S/run/$name.log" ] && mv "$S/run/$name.log" "$S/run/$name.log.1"
  # The worker's provisioning (restores, checkpoints, the podman and criu processes it starts) runs at
  # a lower CPU priority than the API: on a small host a pool refill must not slow the claims down.
  local niceness=0; [ "$name" = worker ] && niceness=${DMX_WORKER_NICE:-10}
  [[ "$niceness" =~ ^[0-9]+$ && "$niceness" -le 19 ]] || die "DMX_WORKER_NICE must be 0..19 (got '$niceness')"
  setsid nice -n "$niceness" node --import tsx "$entry" </dev/null >>"$S/run/$name.log" 2>&1 &
  echo $! > "$pidfile"
  wait_for "$name" 90 "$@" || die "the dmx $name did not become ready in 90 s; see $S/run/$name.log"
  ok "dmx $name ready"
}
start_process worker workers/main.ts grep -q '"dmx worker running"' "$S/run/worker.log"
start_process api api/main.ts curl -fsS "http://127.0.0.1:$DMX_API_PORT/healthz"
dmx() { npx --no-install tsx cli/dmx.ts "$@"; }
explain_failure() { # WHAT: the stack is up but does not serve demos; say why and where to look
  cat >&2 <<EOF

  demo-multiplexer is NOT serving demos: $1
    readiness       bash deployments/stack.sh status; npx dmx status (profile $DMX_PROFILE)
    worker log      $S/run/worker.log
    API log         $S/run/api.log
    services        $S/{temporal/server.log,mariadb/error.log,caddy/caddy.log,valkey/valkey.log}
  Fix the cause and run this command again: it restarts what is down and keeps the rest.

EOF
  exit 1
}
# A warm pool for the default template (DMX_POOL_SIZE ready demos; 0 disables it). An existing
# pool keeps its size: resize with `npx dmx pool resize standin N`. The CLI retries transient
# Temporal failures (e.g. an Update that reaches the pool while it continues-as-new).
if [ "${DMX_POOL_SIZE:-3}" -gt 0 ]; then
  dmx pool resize standin "${DMX_POOL_SIZE:-3}" >/dev/null || explain_failure "could not start or resize the warm pool"
  log "waiting for the first ready demo of the warm pool"
  dmx pool wait standin --ready 1 --timeout "${DMX_UP_WAIT_SECONDS:-300}" >&2 \
    || explain_failure "the warm pool could not get a demo ready (its last error is above)"
  ok "warm pool for standin: $(dmx --json pool standin | jq -r '"target \(.target), ready \(.ready)"')"
fi
# The visitor's path end to end (Caddy's demo router, DNS on the edge network, the backends).
if ! dmx status >&2; then explain_failure "the API's readiness check failed (see the table above)"; fi

cat >&2 <<INFO

  demo-multiplexer is serving demos (profile $DMX_PROFILE)
    Try a demo      http://try.$DMX_DEMO_DOMAIN:$DMX_CADDY_HTTP_PORT/try/standin   (open it in a browser and click)
    HTTP API        http://localhost:$DMX_API_PORT      (OpenAPI: /openapi.json)
    demos           http://<id>.$DMX_DEMO_DOMAIN:$DMX_CADDY_HTTP_PORT/  (via Caddy)
    Temporal UI     http://localhost:$DMX_TEMPORAL_UI_PORT
    operator token  $S/operator-token
    logs            $S/run/{worker,api}.log

  Get a demo:   curl -s -X POST http://localhost:$DMX_API_PORT/v1/demos -H 'content-type: application/json' -d '{}'
  Stop all:     bash deployments/stack.sh down

INFO
