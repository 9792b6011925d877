# shellcheck shell=bash
# Shared settings and helpers for the dmx shell scripts. Sourced, never run.
# Every value can be overridden from the environment; the TypeScript side reads the same
# variables (lib/config.ts), and `stack.sh up` writes the resolved set to $DMX_STATE_DIR/stack.env.

DMX_ROOT=${DMX_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export DMX_ROOT

# A profile is one complete, independent stack: its own ports, state folder, podman networks.
# `dev` is what the main command serves; `test` is what the test command brings up and tears down,
# so tests never touch a running dev stack.
# Further profiles (parallel work on one machine) need a free slot 3-7: DMX_PROFILE=h3 DMX_PROFILE_SLOT=3.
export DMX_PROFILE=${DMX_PROFILE:-dev}
case "$DMX_PROFILE" in
  dev)  _slot=1 ;;
  test) _slot=2 ;;
  *)
    if [[ ! "$DMX_PROFILE" =~ ^[a-z][a-z0-9]{0,11}$ || ! "${DMX_PROFILE_SLOT:-}" =~ ^[3-7]$ ]]; then
      echo "dmx: DMX_PROFILE must be 'dev', 'test', or a short lower-case name with DMX_PROFILE_SLOT=3..7 (got '$DMX_PROFILE', slot '${DMX_PROFILE_SLOT:-}')" >&2
      return 2
    fi
    _slot=$DMX_PROFILE_SLOT ;;
esac
# Ports of slots 1-5 start with N (17233, 27233, ...); slots 6-7 (N6xxx would pass 65535) use
# 30N00-30N70. Subnets are 10.(88+2N).0.0/16 and the next.
_net=$((88 + 2 * _slot))
_port() { # SERVICE-SUFFIX (7233 8233 3306 6379 2019 8080 8000 5353) -> the slot's port
  if [ "$_slot" -le 5 ]; then echo "$_slot$1"; return; fi
  local off; case $1 in 7233) off=0 ;; 8233) off=20 ;; 3306) off=30 ;; 6379) off=40 ;; 2019) off=50 ;; 8080) off=60 ;; 8000) off=70 ;; 5353) off=80 ;; esac
  echo $((30000 + 100 * _slot + off))
}

export DMX_CACHE_DIR=${DMX_CACHE_DIR:-/var/cache/dmx}
export DMX_STATE_DIR=${DMX_STATE_DIR:-$DMX_ROOT/.state/$DMX_PROFILE}
export DMX_TEMPORAL_PORT=${DMX_TEMPORAL_PORT:-$(_port 7233)}
export DMX_TEMPORAL_UI_PORT=${DMX_TEMPORAL_UI_PORT:-$(_port 8233)}
export DMX_TEMPORAL_ADDRESS=${DMX_TEMPORAL_ADDRESS:-127.0.0.1:$DMX_TEMPORAL_PORT}
export DMX_TEMPORAL_NAMESPACE=${DMX_TEMPORAL_NAMESPACE:-default}
export DMX_MARIADB_PORT=${DMX_MARIADB_PORT:-$(_port 3306)}
export DMX_VALKEY_PORT=${DMX_VALKEY_PORT:-$(_port 6379)}
export DMX_CADDY_HTTP_PORT=${DMX_CADDY_HTTP_PORT:-$(_port 8080)}
export DMX_API_PORT=${DMX_API_PORT:-$(_port 8000)}
# The demo names server (dnsmasq on 127.0.0.1, udp+tcp): Caddy's demo router looks demos up there.
export DMX_NAMES_PORT=${DMX_NAMES_PORT:-$(_port 5353)}
# One file per routable demo (`<address> <name>`), written by dmx, read by the names server. Under
# /run: after a reboot no demo container exists, and neither does its name.
export DMX_NAMES_DIR=${DMX_NAMES_DIR:-/run/dmx-$DMX_PROFILE/names}
export DMX_DEMO_DOMAIN=${DMX_DEMO_DOMAIN:-demo.localhost}
# The profile's demo and edge ranges, cut into network pairs of /21s (lib/network-pairs.ts): one
# Linux bridge takes 1,023 containers, so a host full of demos needs several. Pair 0 is named
# $DMX_NETWORK and $DMX_EDGE_NETWORK, pair k adds -k. Each demo network's gateway (the .1 of its /21)
# is where MariaDB listens for that pair's demos; the host reaches demos at the edge gateways.
export DMX_NETWORK=${DMX_NETWORK:-dmx-$DMX_PROFILE}
export DMX_NETWORK_SUBNET=${DMX_NETWORK_SUBNET:-10.$_net.0.0/16}
export DMX_EDGE_NETWORK=${DMX_EDGE_NETWORK:-dmx-$DMX_PROFILE-edge}
export DMX_EDGE_SUBNET=${DMX_EDGE_SUBNET:-10.$((_net + 1)).0.0/16}
# 3 pairs: room for ~3,000 demos, more than the memory of a 24 GiB host holds (~2,000 stand-ins).
export DMX_NETWORK_PAIRS=${DMX_NETWORK_PAIRS:-3}
export DMX_CRIU_BIN_DIR=${DMX_CRIU_BIN_DIR:-$DMX_CACHE_DIR/criu/bin}
export DMX_TEMPORAL_BIN=${DMX_TEMPORAL_BIN:-$(command -v temporal 2>/dev/null || echo "$DMX_CACHE_DIR/go-bin/temporal")}
export DMX_TEMPORAL_CLI_VERSION=${DMX_TEMPORAL_CLI_VERSION:-v1.5.1}
# The Java SDK's time-skipping test server (Maven Central) for the fast workflow tests.
export DMX_TEMPORAL_TEST_SERVER_VERSION=${DMX_TEMPORAL_TEST_SERVER_VERSION:-1.35.0}
export DMX_TEMPORAL_TEST_SERVER_BIN=${DMX_TEMPORAL_TEST_SERVER_BIN:-$DMX_CACHE_DIR/temporal-test-server/$DMX_TEMPORAL_TEST_SERVER_VERSION/bin/temporal-test-server}
# The schema-driven API fuzzer (PyPI) that the suite runs against the test stack's /openapi.json.
export DMX_SCHEMATHESIS_VERSION=${DMX_SCHEMATHESIS_VERSION:-4.32.5}
export DMX_SCHEMATHESIS_BIN=${DMX_SCHEMATHESIS_BIN:-$DMX_CACHE_DIR/schemathesis/$DMX_SCHEMATHESIS_VERSION/bin/schemathesis}
unset _slot _net; unset -f _port

# Custom search attributes, registered with the dev server at start (name=type).
DMX_SEARCH_ATTRIBUTES=(DmxStatus=Keyword DmxTemplate=Keyword DmxExpiresAt=Datetime DmxHost=Keyword DmxKind=Keyword)

log()  { printf '\033[1;34m[dmx %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
ok()   { printf '\033[1;32m[dmx %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf '\033[1;31m[dmx error]\033[0m %s\n' "$*" >&2; exit 1; }

require_root() {
  [ "$(id -u)" = 0 ] && return 0
  local how="run it as root"
  command -v sudo >/dev/null 2>&1 && how="try: sudo bash $0 $*"
  die "this must run as root (rootful Podman is required for CRIU checkpoints); $how"
}

# port_free PORT: true when nothing listens on 127.0.0.1/0.0.0.0:PORT
port_free() { ! ss -Htln "( sport = :$1 )" 2>/dev/null | grep -q .; }

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.2 s
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

# Caddy's admin API (a unix socket in the 0700 state directory; Caddy wants an empty Host there).
caddy_admin() { curl -fsS --unix-socket "$DMX_STATE_DIR/caddy/admin.sock" -H 'Host;' "http://localhost$1"; }

# The state directory holds the operator token, the master key, the MariaDB admin password, the
# Temporal database (workflow payloads) and logs: root only. New files get 0600 (umask), existing
# ones are tightened on every start.
lock_down_state() {
  umask 077
  mkdir -p "$DMX_STATE_DIR"
  chmod 700 "$DMX_STATE_DIR"
  find "$DMX_STATE_DIR" -maxdepth 3 \( -name stack.env -o -name operator-token -o -name secret.key -o -name admin-password \
    -o -name codec.key -o -name '*.log' -o -name '*.log.1' -o -name 'temporal.db*' -o -name router-probe-id \) -type f -exec chmod 600 {} + 2>/dev/null || true
  find "$DMX_STATE_DIR" -mindepth 1 -maxdepth 1 -type d -exec chmod 700 {} + 2>/dev/null || true
}

podman_cmd() { PATH="$DMX_CRIU_BIN_DIR:$PATH" podman --runtime runc "$@"; }
