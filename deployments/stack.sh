#!/usr/bin/env bash
# The dmx dev stack: Temporal dev server (+ Web UI), MariaDB, Valkey (redis-server 7 on bookworm),
# Caddy (admin API) and the podman networks, each on the profile's own ports with its data under
# $DMX_STATE_DIR. Never the system services' ports or data.
#   stack.sh up       start what is not running, wait until healthy, print where each one is
#   stack.sh down     stop the services (state is kept; `up` resumes it)
#   stack.sh purge    down + remove the profile's containers, networks and state folder
#   stack.sh status   one line per service
#   stack.sh env      print the resolved configuration as KEY=VALUE lines
set -euo pipefail
source "$(dirname "$0")/lib.sh"

S=$DMX_STATE_DIR
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

check_port() { # NAME PORT PIDFILE: fail clearly when another process holds a port we need
  if ! pid_alive "$3" && ! port_free "$2"; then
    die "port $2 ($1) is already in use by another process: $(ss -Htlnp "( sport = :$2 )" | head -1 | sed 's/.*users:/users:/'). Stop it or set DMX_${1}_PORT to a free port."
  fi
}

mariadb_sql() { mariadb --no-defaults --socket="$S/mariadb/mariadb.sock" -uroot "$@"; }

# The profile's network pairs, one line each: index network subnet gateway edge-network edge-subnet
# edge-gateway. lib/network-pairs.ts derives them (the one place that does); read once per run.
PAIRS=()
load_pairs() {
  local plan; plan=$(cd "$DMX_ROOT" && npx --no-install tsx cli/network-plan.ts) || die "no network plan (see the message above)"
  mapfile -t PAIRS <<<"$plan"
}
network_pairs() {
  [ ${#PAIRS[@]} -gt 0 ] || load_pairs
  printf '%s\n' "${PAIRS[@]}"
}
demo_gateways() { network_pairs | awk '{ print $4 }'; }

# netavark creates a demo bridge (and its gateway address) with the first container and deletes it
# with the last, but MariaDB can only bind an address that exists. So each pair's bridge is created
# here when missing, as netavark would (it adopts an existing bridge of its name). A listening socket
# keeps working when netavark later deletes and re-creates the bridge with the same address.
ensure_demo_gateways() {
  local _i network subnet gateway _rest br
  while read -r _i network subnet gateway _rest; do
    br=$(podman network inspect "$network" --format '{{.NetworkInterface}}')
    ip -4 addr show dev "$br" 2>/dev/null | grep -q "inet $gateway/" && continue
    log "creating the demo bridge $br with the gateway $gateway (MariaDB listens there)"
    ip link show "$br" >/dev/null 2>&1 || ip link add name "$br" type bridge
    ip addr add "$gateway/${subnet#*/}" dev "$br"
    ip link set "$br" up
  done < <(network_pairs)
}

# Whether the running MariaDB listens on every pair's gateway (pairs added since it started: no).
mariadb_binds_all() {
  local listening gw; listening=$(ss -Htln "( sport = :$DMX_MARIADB_PORT )" | awk '{ print $4 }')
  for gw in $(demo_gateways); do grep -qx "$gw:$DMX_MARIADB_PORT" <<<"$listening" || return 1; done
}

up_mariadb() {
  local d=$S/mariadb; mkdir -p "$d"
  if pid_alive "$d/mariadb.pid" && mariadb-admin --no-defaults --socket="$d/mariadb.sock" -uroot ping >/dev/null 2>&1; then
    if mariadb_binds_all; then ok "MariaDB already running"; return; fi
    log "MariaDB does not listen on every network pair's gateway (pairs were added): restarting it"
    stop_pidfile MariaDB "$d/mariadb.pid"
  fi
  check_port MARIADB "$DMX_MARIADB_PORT" "$d/mariadb.pid"
  if [ ! -d "$d/data/mysql" ]; then
    log "initialising MariaDB data in $d/data"
    mariadb-install-db --no-defaults --datadir="$d/data" --user=root \
      --auth-root-authentication-method=socket --skip-test-db >"$d/install.log" 2>&1 \
      || die "mariadb-install-db failed; see $d/install.log"
  fi
  ensure_demo_gateways
  local binds; binds=$(demo_gateways | paste -sd,)
  log "starting MariaDB on port $DMX_MARIADB_PORT (127.0.0.1 and the demo gateways $binds)"
  # Loopback (dmx itself) and the demo networks' gateways (demos) only: nothing on the host's other
  # interfaces. Accounts are host-restricted too (admin: loopback only, demo accounts: the demo
  # range only) and root authenticates by unix socket only.
  # Demo data is disposable, so durability is traded for speed (no binlog, lazy flush).
  setsid mariadbd --no-defaults --datadir="$d/data" --socket="$d/mariadb.sock" --port="$DMX_MARIADB_PORT" \
    --bind-address="127.0.0.1,$binds" --pid-file="$d/mariadb.pid" --user=root --skip-name-resolve \
    --log-error="$d/error.log" --innodb-buffer-pool-size=512M --innodb-flush-log-at-trx-commit=2 \
    --skip-log-bin --max-connections=2000 --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
    </dev/null >/dev/null 2>&1 &
  wait_for MariaDB 60 mariadb-admin --no-defaults --socket="$d/mariadb.sock" -uroot ping \
    || die "MariaDB did not become ready in 60 s; see $d/error.log"
  if [ ! -s "$d/admin-password" ]; then
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$d/admin-password"; chmod 600 "$d/admin-password"
  fi
  local pw; pw=$(cat "$d/admin-password")
  mariadb_sql -e "CREATE USER IF NOT EXISTS 'dmx_admin'@'127.0.0.1' IDENTIFIED BY '$pw';
    ALTER USER 'dmx_admin'@'127.0.0.1' IDENTIFIED BY '$pw';
    GRANT ALL PRIVILEGES ON *.* TO 'dmx_admin'@'127.0.0.1' WITH GRANT OPTION;"
  ok "MariaDB ready"
}

# podman's REST API for the worker (adapters/podman.ts): inspect, disconnect and remove over a unix
# socket cost ~10-50 ms where each CLI process costs 65-140 ms. The worker falls back to the CLI
# when the socket does not answer, so this service is a speed-up, not a dependency.
up_podman_api() {
  local d=$S/podman; mkdir -p "$d"
  if pid_alive "$d/podman-api.pid" && [ -S "$d/podman.sock" ]; then ok "podman API service already running"; return; fi
  rm -f "$d/podman.sock"
  log "starting the podman API service on $d/podman.sock"
  # Its own process group, so the worker's restarts never stop it; CRIU first on PATH for runc.
  PATH="$DMX_CRIU_BIN_DIR:$PATH" setsid podman --runtime runc system service --time=0 "unix://$d/podman.sock" \
    >"$d/podman-api.log" 2>&1 < /dev/null &
  echo $! > "$d/podman-api.pid"
  wait_for "podman API" 20 bash -c "curl -sf --unix-socket '$d/podman.sock' http://podman/v4.0.0/libpod/_ping >/dev/null" \
    || die "the podman API service did not answer in 20 s; see $d/podman-api.log"
  ok "podman API service ready"
}

# The kernel's same-page merging for demo containers, only when asked (deployments/memory-merge.sh:
# ksmd is host-wide; `down` gives the host back its own setting once no stack asks for it).
up_memory_merge() {
  case "${DMX_DEMO_MEMORY_MERGE:-0}" in
    1|true) bash "$DMX_ROOT/deployments/memory-merge.sh" on ;;
    0|false) bash "$DMX_ROOT/deployments/memory-merge.sh" off ;;
    *) die "DMX_DEMO_MEMORY_MERGE must be 1/true or 0/false (got '$DMX_DEMO_MEMORY_MERGE')" ;;
  esac
}

up_valkey() {
  local d=$S/valkey; mkdir -p "$d"
  if pid_alive "$d/valkey.pid"; then ok "Valkey already running"; return; fi
  check_port VALKEY "$DMX_VALKEY_PORT" "$d/valkey.pid"
  local bin; bin=$(command -v valkey-server || command -v redis-server) || die "no valkey-server or redis-server on PATH; run deployments/setup.sh"
  log "starting $(basename "$bin") on port $DMX_VALKEY_PORT"
  "$bin" --port "$DMX_VALKEY_PORT" --bind 127.0.0.1 --dir "$d" --daemonize yes --pidfile "$d/valkey.pid" \
    --logfile "$d/valkey.log" --appendonly yes --save "" >/dev/null
  wait_for Valkey 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$DMX_VALKEY_PORT && printf 'PING\r\n' >&3 && head -c5 <&3 | grep -q PONG" \
    || die "Valkey did not answer PING in 20 s; see $d/valkey.log"
  ok "Valkey ready"
}

up_caddy() {
  local d=$S/caddy; mkdir -p "$d"
  if pid_alive "$d/caddy.pid"; then ok "Caddy already running"; return; fi
  check_port CADDY_HTTP "$DMX_CADDY_HTTP_PORT" "$d/caddy.pid"
  # Base config only: the demo router route is owned by the TypeScript Caddy adapter
  # (ensureDemoRouter), which the worker and the reconciler re-apply whenever it is missing; until
  # then every demo host gets a 503 (an empty 200, Caddy's answer without routes, would mislead).
  cat > "$d/caddy.json" <<JSON
{"admin": {"listen": "unix/$d/admin.sock"},
 "logging": {"logs": {"default": {"level": "WARN"}}},
 "apps": {"http": {"servers": {"dmx": {"listen": [":$DMX_CADDY_HTTP_PORT"],
   "automatic_https": {"disable": true},
   "routes": [{"@id": "dmx-router-missing", "handle": [{"handler": "static_response", "status_code": 503,
     "headers": {"Retry-After": ["5"]}, "body": "Demo routing is being restored; try again in a few seconds.\n"}]}]}}}}}
JSON
  log "starting Caddy (HTTP :$DMX_CADDY_HTTP_PORT, admin unix:$d/admin.sock)"
  XDG_DATA_HOME="$d/data" XDG_CONFIG_HOME="$d/config" setsid caddy run --config "$d/caddy.json" \
    --pidfile "$d/caddy.pid" </dev/null >>"$d/caddy.log" 2>&1 &
  wait_for Caddy 20 caddy_admin /config/ \
    || die "Caddy admin API did not answer in 20 s; see $d/caddy.log"
  ok "Caddy ready"
}

# The demo names server (deployments/names-server.sh: a dnsmasq on 127.0.0.1 only) of the profile.
# It answers `<container>.dmx` from one file per demo in $DMX_NAMES_DIR (dmx writes and removes
# them) and NXDOMAIN for any other .dmx name. Caddy's demo router dials demos by these names. It
# runs as nobody; the folder is nobody's alone.
up_names() {
  local d=$S/names; mkdir -p "$d"
  install -d -m 0711 "$(dirname "$DMX_NAMES_DIR")"
  install -d -m 0700 -o nobody -g nogroup "$DMX_NAMES_DIR"
  if pid_alive "$d/dnsmasq.pid"; then ok "names server already running"; return; fi
  check_port NAMES "$DMX_NAMES_PORT" "$d/dnsmasq.pid"
  command -v dnsmasq >/dev/null || die "dnsmasq is missing; run deployments/setup.sh"
  log "starting the demo names server (dnsmasq on 127.0.0.1:$DMX_NAMES_PORT, names in $DMX_NAMES_DIR)"
  setsid bash "$DMX_ROOT/deployments/names-server.sh" "$DMX_NAMES_DIR" "$DMX_NAMES_PORT" "$d/dnsmasq.pid" \
    </dev/null >>"$d/dnsmasq.log" 2>&1 &
  wait_for "names server" 10 bash -c "dig +time=1 +tries=1 -p $DMX_NAMES_PORT @127.0.0.1 dmx-check.dmx A | grep -q NXDOMAIN" \
    || die "the names server did not answer on 127.0.0.1:$DMX_NAMES_PORT in 10 s; see $d/dnsmasq.log"
  ok "names server ready"
}
# publish_name NAME ADDRESS: as the TypeScript adapter does (adapters/demo-names.ts): written aside, renamed in.
publish_name() {
  local tmp="$DMX_NAMES_DIR/.$1.tmp"
  printf '%s %s.dmx\n' "$2" "$1" > "$tmp" && chmod 644 "$tmp" && mv -f "$tmp" "$DMX_NAMES_DIR/$1"
}

temporal_healthy() { "$DMX_TEMPORAL_BIN" operator cluster health --address "$DMX_TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING; }

up_temporal() {
  local d=$S/temporal; mkdir -p "$d"
  if pid_alive "$d/temporal.pid" && temporal_healthy; then ok "Temporal already running"; return; fi
  [ -x "$DMX_TEMPORAL_BIN" ] || die "temporal CLI not found at $DMX_TEMPORAL_BIN; run deployments/setup.sh"
  check_port TEMPORAL "$DMX_TEMPORAL_PORT" "$d/temporal.pid"
  check_port TEMPORAL_UI "$DMX_TEMPORAL_UI_PORT" "$d/temporal.pid"
  # Claims are Updates on one pool workflow; the server admits 10 in flight per workflow by
  # default and makes the rest retry with backoff, which a burst of claims turns into seconds.
  # Eager activity execution: an activity on the workflow's own queue (a demo's data step, its
  # index) is handed to the worker in the answer to the workflow task that scheduled it, without
  # a trip through matching (~8-12 ms per step on this host). SQLite in WAL mode: no journal file
  # per transaction (each RPC that writes history took 10-11 ms here, 5-6 with WAL); with
  # synchronous=normal a killed server loses nothing, only a power cut could lose the last writes.
  local args=() sa
  for sa in "${DMX_SEARCH_ATTRIBUTES[@]}"; do args+=(--search-attribute "$sa"); done
  log "starting the Temporal dev server (gRPC $DMX_TEMPORAL_ADDRESS, Web UI :$DMX_TEMPORAL_UI_PORT)"
  setsid "$DMX_TEMPORAL_BIN" server start-dev --ip 127.0.0.1 --port "$DMX_TEMPORAL_PORT" \
    --ui-port "$DMX_TEMPORAL_UI_PORT" --http-port "$((DMX_TEMPORAL_PORT + 10))" \
    --metrics-port "$((DMX_TEMPORAL_PORT + 11))" --db-filename "$d/temporal.db" \
    --log-level warn "${args[@]}" \
    --dynamic-config-value history.maxInFlightUpdates=500 \
    --dynamic-config-value system.enableActivityEagerExecution=true \
    --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal \
    </dev/null >>"$d/server.log" 2>&1 &
  echo $! > "$d/temporal.pid"
  wait_for Temporal 60 temporal_healthy || die "Temporal did not become healthy in 60 s; see $d/server.log"
  ok "Temporal ready"
}

up_networks() {
  local _i network subnet gateway edge edge_subnet edge_gateway n
  while read -r _i network subnet gateway edge edge_subnet edge_gateway; do
    for n in "$network|$subnet|$gateway|" "$edge|$edge_subnet|$edge_gateway|--internal"; do
      IFS='|' read -r name subnet gateway extra <<<"$n"
      if podman network exists "$name"; then
        local have; have=$(podman network inspect "$name" --format '{{range .Subnets}}{{.Subnet}}{{end}}')
        [ "$have" = "$subnet" ] || die "podman network $name exists with subnet $have, expected $subnet (made by an older dmx, or other DMX_NETWORK_SUBNET/DMX_EDGE_SUBNET: \`DMX_PROFILE=$DMX_PROFILE bash deployments/stack.sh purge\` re-creates the profile)"
      else
        log "creating podman network $name ($subnet${extra:+, internal}, no DNS)"
        # No DNS: demos reach MariaDB by address and Caddy finds them through dmx's names server, so
        # aardvark-dns would only be reloaded on every demo start and stop, for nothing. The gateway is
        # explicit: an internal network without DNS gets none otherwise, and the host (Caddy) could
        # not reach its demos. The label lets `purge` find every pair's networks.
        # shellcheck disable=SC2086
        podman network create --subnet "$subnet" --gateway "$gateway" --disable-dns --label "dmx.profile=$DMX_PROFILE" $extra "$name" >/dev/null
      fi
      if [ "$(podman network inspect "$name" --format '{{.DNSEnabled}}')" = true ]; then
        log "podman network $name has DNS on (made by an older dmx): harmless, but aardvark-dns is reloaded on every demo start and stop; \`stack.sh purge\` re-creates it without"
      fi
    done
  done < <(network_pairs)
  ok "podman networks ready: ${#PAIRS[@]} pairs of a demo network (demos <-> MariaDB) and an edge network (Caddy -> demos), from $DMX_NETWORK and $DMX_EDGE_NETWORK"
}

# The demo firewall (lib/firewall.ts: why an nftables table, and what a demo may reach) needs the
# networks' bridge names and MariaDB's port, so it is applied once stack.env exists, before any demo.
apply_firewall() {
  npx --no-install tsx "$DMX_ROOT/cli/dmx.ts" firewall apply >/dev/null || die "could not apply the demo firewall"
  ok "demo firewall applied (nft list table inet dmx_$DMX_PROFILE)"
}

# The router probe: a tiny busybox httpd on the edge network under a random demo-shaped alias. It
# proves the path a visitor takes — Caddy's demo router, the names server, a real upstream on the
# edge network — without needing a demo: the API's /readyz and `stack.sh status` request it through
# Caddy, and `up` checks that the names server resolves it.
PROBE_CONTAINER="dmx-$DMX_PROFILE-router-probe"
probe_id() {
  if [ ! -s "$S/router-probe-id" ]; then
    mkdir -p "$S"; (umask 077; tr -dc 'a-z0-9' </dev/urandom | head -c 16 > "$S/router-probe-id")
  fi
  cat "$S/router-probe-id"
}
probe_image() { # prints the image reference, building it from busybox-static when missing
  local bb=/bin/busybox ver ref tmp
  [ -x "$bb" ] || die "busybox-static is missing ($bb); run deployments/setup.sh"
  ver=$(sha256sum "$bb" | cut -c1-12)
  ref="localhost/dmx-router-probe:$ver"
  if ! podman image exists "$ref"; then
    tmp=$(mktemp -d); mkdir -p "$tmp/bin" "$tmp/tmp"; cp "$bb" "$tmp/bin/busybox"; ln -s busybox "$tmp/bin/sh"
    tar -C "$tmp" -c . | podman import -q - "$ref" >/dev/null; rm -rf "$tmp"
  fi
  echo "$ref"
}
up_router_probe() {
  local id; id=$(probe_id)
  local state; state=$(podman inspect "$PROBE_CONTAINER" --format '{{.State.Status}}' 2>/dev/null || echo missing)
  # A probe from before Caddy dialled demos by container name lacks the dmx-<profile>-<id> alias.
  if [ "$state" = running ] && ! podman inspect "$PROBE_CONTAINER" --format '{{json .NetworkSettings.Networks}}' | grep -q "\"dmx-$DMX_PROFILE-$id\""; then
    podman rm -f -t 0 "$PROBE_CONTAINER" >/dev/null; state=missing
  fi
  if [ "$state" = running ]; then
    ok "router probe already running"
  else
    [ "$state" = missing ] || podman rm -f -t 0 "$PROBE_CONTAINER" >/dev/null
    log "starting the router probe ($PROBE_CONTAINER) on $DMX_EDGE_NETWORK"
    podman_cmd run -d --name "$PROBE_CONTAINER" --label "dmx.profile=$DMX_PROFILE" --label dmx.role=probe \
      --network "$DMX_EDGE_NETWORK" --network-alias "dmx-$DMX_PROFILE-$id" --read-only --tmpfs /tmp:size=1m \
      --cap-drop all --cap-add NET_BIND_SERVICE --memory 16m --pids-limit 16 \
      --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 -e "PROBE_ID=$id" "$(probe_image)" \
      /bin/busybox sh -c 'mkdir -p /tmp/www && echo "dmx-router-probe $PROBE_ID" > /tmp/www/index.html && exec /bin/busybox httpd -f -p 80 -h /tmp/www' \
      >/dev/null || die "could not start the router probe container $PROBE_CONTAINER"
  fi
  local ip; ip=$(podman inspect "$PROBE_CONTAINER" --format "{{(index .NetworkSettings.Networks \"$DMX_EDGE_NETWORK\").IPAddress}}")
  [ -n "$ip" ] || die "the router probe $PROBE_CONTAINER has no address on $DMX_EDGE_NETWORK"
  publish_name "dmx-$DMX_PROFILE-$id" "$ip"
  check_names || die "the names server (127.0.0.1:$DMX_NAMES_PORT) does not resolve dmx-$DMX_PROFILE-$id.dmx, so Caddy's demo router cannot find any demo; see $S/names/dnsmasq.log and $DMX_NAMES_DIR"
  ok "the names server resolves the router probe"
}
check_names() {
  local id; id=$(probe_id)
  wait_for "names server" 10 bash -c "dig +short +time=1 +tries=1 -p $DMX_NAMES_PORT @127.0.0.1 dmx-$DMX_PROFILE-$id.dmx A | grep -q '^[0-9]'"
}
# GET through Caddy's demo router: 200 with the probe's own body, or a reason.
router_probe_answer() {
  local id body; id=$(probe_id)
  body=$(curl -sS -m 3 -H "Host: $id.$DMX_DEMO_DOMAIN" -w ' [%{http_code}]' "http://127.0.0.1:$DMX_CADDY_HTTP_PORT/" 2>&1 | tr '\n' ' ') || true
  if [ "$body" = "dmx-router-probe $id  [200]" ]; then echo ok; else echo "no: $(head -c 120 <<<"$body")"; fi
}

write_env() {
  mkdir -p "$S"
  if [ ! -s "$S/operator-token" ]; then
    head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$S/operator-token"; chmod 600 "$S/operator-token"
  fi
  {
    echo "DMX_OPERATOR_TOKEN=${DMX_OPERATOR_TOKEN:-$(cat "$S/operator-token")}"
    env | grep -E '^DMX_' | sort
    echo "DMX_MARIADB_ADMIN_PASSWORD_FILE=$S/mariadb/admin-password"
    echo "DMX_ROUTER_PROBE_ID=$(probe_id)"
  } > "$S/stack.env"
  chmod 600 "$S/stack.env"
}

status() {
  local s
  pid_alive "$S/temporal/temporal.pid" && temporal_healthy && s=up || s=down; echo "temporal  $s  $DMX_TEMPORAL_ADDRESS  ui http://localhost:$DMX_TEMPORAL_UI_PORT"
  pid_alive "$S/mariadb/mariadb.pid" && s=up || s=down; echo "mariadb   $s  127.0.0.1:$DMX_MARIADB_PORT"
  pid_alive "$S/valkey/valkey.pid" && s=up || s=down; echo "valkey    $s  127.0.0.1:$DMX_VALKEY_PORT"
  pid_alive "$S/names/dnsmasq.pid" && s=up || s=down; echo "names     $s  udp 127.0.0.1:$DMX_NAMES_PORT  $DMX_NAMES_DIR"
  pid_alive "$S/caddy/caddy.pid" && s=up || s=down; echo "caddy     $s  http://*.$DMX_DEMO_DOMAIN:$DMX_CADDY_HTTP_PORT  admin unix:$S/caddy/admin.sock"
  # The visitor's path: Caddy's demo router -> the names server -> a container on the edge network.
  # Until the worker has installed the router, Caddy answers 503 here.
  s=$(router_probe_answer)
  case "$s" in
    ok) s=up ;;
    *"being restored"*) s="pending (Caddy has no demo router yet: the dmx worker installs it when it starts)" ;;
    *) s="down ($s)" ;;
  esac
  echo "router    $s  through Caddy to $PROBE_CONTAINER"
}

stop_pidfile() { # NAME PIDFILE
  if pid_alive "$2"; then
    local pid; pid=$(cat "$2"); log "stopping $1 (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "$1 did not stop in 10 s; killing"; kill -9 "$pid" 2>/dev/null || true; }
  fi
  rm -f "$2"
}

down() {
  stop_pidfile "dmx api" "$S/run/api.pid"
  stop_pidfile "dmx worker" "$S/run/worker.pid"
  stop_pidfile Caddy "$S/caddy/caddy.pid"
  stop_pidfile "names server" "$S/names/dnsmasq.pid"
  stop_pidfile Temporal "$S/temporal/temporal.pid"
  stop_pidfile Valkey "$S/valkey/valkey.pid"
  stop_pidfile MariaDB "$S/mariadb/mariadb.pid"
  stop_pidfile "podman API" "$S/podman/podman-api.pid"
  bash "$DMX_ROOT/deployments/memory-merge.sh" off
  ok "stack '$DMX_PROFILE' stopped (state kept in $S)"
}

purge() {
  down
  local ids; ids=$(podman ps -a --filter "label=dmx.profile=$DMX_PROFILE" -q; podman ps -a --filter "name=^dmx-$DMX_PROFILE-" -q)
  if [ -n "$ids" ]; then log "removing the profile's containers"; echo "$ids" | sort -u | xargs podman rm -f -t 0 >/dev/null; fi
  nft delete table inet "dmx_$DMX_PROFILE" 2>/dev/null || true
  # iptables rules of the design before the nftables table, if this profile still has any.
  local legacy
  while legacy=$(iptables -S FORWARD 2>/dev/null | grep -m1 -F -- "--comment \"dmx-$DMX_PROFILE: no demo-to-demo traffic\""); do
    eval "iptables ${legacy/#-A/-D}" || break
  done
  local n br
  # Every pair's networks (labelled), and those named like pair 0's from before the labels.
  for n in $(podman network ls -q --filter "label=dmx.profile=$DMX_PROFILE") "$DMX_EDGE_NETWORK" "$DMX_NETWORK"; do
    podman network exists "$n" || continue
    br=$(podman network inspect "$n" --format '{{.NetworkInterface}}')
    podman network rm -f "$n" >/dev/null
    # A bridge whose MAC dmx pinned can outlive its network; the next network of that name would
    # inherit its old address.
    [ -n "$br" ] && ip link show "$br" >/dev/null 2>&1 && ip link del "$br" 2>/dev/null
  done
  rm -rf "$S" "$DMX_NAMES_DIR"
  rmdir "$(dirname "$DMX_NAMES_DIR")" 2>/dev/null || true
  ok "stack '$DMX_PROFILE' purged"
}

case "${1:-}" in
  up)
    require_root "$@"
    lock_down_state
    bash "$(dirname "$0")/preflight.sh"
    load_pairs; up_networks; up_podman_api; up_memory_merge; up_mariadb; up_valkey; up_names; up_caddy; up_temporal; up_router_probe; write_env; apply_firewall
    ok "stack '$DMX_PROFILE' is up:"; status >&2 ;;
  down) down ;;
  purge) require_root "$@"; purge ;;
  status) status ;;
  check-dns) check_names || die "the names server (127.0.0.1:$DMX_NAMES_PORT) does not resolve the router probe" ; ok "the names server answers" ;;
  env) write_env; cat "$S/stack.env" ;;
  *) echo "usage: $0 up|down|purge|status|env|check-dns" >&2; exit 2 ;;
esac
