#!/usr/bin/env bash
# preflight.sh — checks every assumption the stack makes before `stack.sh up` starts anything, and
# stops with one line per problem naming the cause and the fix, instead of a stack that starts and
# silently serves nothing. `stack.sh up` runs it; it can also run alone (exit 0: all good).
#
#   podman present and on the netavark network backend (the backend dmx's networks, checkpoints and
#   firewall are made and tested with), runc present, CRIU passes `criu check`, dnsmasq present (the
#   demo names server), the profile's ports free (or held by this profile's own services), and enough
#   free disk for state and container storage.
#
# The names server's answer itself is checked once it runs (stack.sh, router probe).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

S=$DMX_STATE_DIR
MIN_FREE_MB=${DMX_MIN_FREE_DISK_MB:-2048}
problems=()
problem() { problems+=("$1"); }

# podman and its network backend
if ! command -v podman >/dev/null 2>&1; then
  problem "podman is not installed. Fix: bash deployments/setup.sh"
else
  if ! backend=$(podman info --format '{{.Host.NetworkBackend}}' 2>&1); then
    # e.g. "failed to open 2048 locks in /libpod_lock": num_locks changed without `podman system renumber`
    problem "podman info failed: $(echo "$backend" | tail -1). Fix: make \`podman info\` work (a changed num_locks needs \`podman system renumber\`: deployments/podman-density.sh)"
  elif [ "$backend" != netavark ]; then
    problem "podman uses the '$backend' network backend; dmx needs netavark. Fix: bash deployments/setup.sh (installs netavark and sets network_backend = \"netavark\")"
  fi
fi
command -v dnsmasq >/dev/null 2>&1 || problem "dnsmasq is not installed (the demo names server Caddy finds demos with). Fix: bash deployments/setup.sh (or apt-get install dnsmasq-base)"

command -v runc >/dev/null 2>&1 || problem "runc is not installed (podman runs dmx containers with --runtime runc; bookworm's crun cannot checkpoint). Fix: bash deployments/setup.sh"

# CRIU: the private wrapper the stack puts first on PATH
criu=$DMX_CRIU_BIN_DIR/criu
if [ ! -x "$criu" ]; then
  problem "CRIU is missing at $criu (checkpoint/restore of demos needs CRIU >= 4.2 on this kernel). Fix: bash deployments/setup.sh (or deployments/install-criu.sh)"
elif ! out=$("$criu" check 2>&1) || ! grep -q 'Looks good' <<<"$out"; then
  problem "'$criu check' fails: $(tail -1 <<<"$out" | cut -c1-200). Fix: DMX_CRIU_FORCE=1 bash deployments/install-criu.sh"
fi

# Ports: free, or held by this profile's own running service (a second `up` is fine).
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
check_port() { # NAME PORT PIDFILE...
  local name=$1 port=$2; shift 2
  local f; for f in "$@"; do pid_alive "$f" && return 0; done
  port_free "$port" && return 0
  problem "port $port ($name) is already in use by another process: $(ss -Htlnp "( sport = :$port )" 2>/dev/null | head -1 | sed 's/.*users:/users:/'). Fix: stop it, or set DMX_${name}_PORT to a free port"
}
check_port MARIADB "$DMX_MARIADB_PORT" "$S/mariadb/mariadb.pid"
check_port VALKEY "$DMX_VALKEY_PORT" "$S/valkey/valkey.pid"
check_port CADDY_HTTP "$DMX_CADDY_HTTP_PORT" "$S/caddy/caddy.pid"
check_port TEMPORAL "$DMX_TEMPORAL_PORT" "$S/temporal/temporal.pid"
check_port TEMPORAL_UI "$DMX_TEMPORAL_UI_PORT" "$S/temporal/temporal.pid"
check_port API "$DMX_API_PORT" "$S/run/api.pid"
check_port NAMES "$DMX_NAMES_PORT" "$S/names/dnsmasq.pid"

# Disk: state (MariaDB, Temporal, checkpoints) and container storage (images, restored demos).
free_mb() { local d=$1; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -Pm "$d" | awk 'NR==2 {print $4}'; }
mount_of() { local d=$1; while [ ! -d "$d" ]; do d=$(dirname "$d"); done; df -P "$d" | awk 'NR==2 {print $6}'; }
declare -A seen_mounts=()
for d in "$S" /var/lib/containers "$DMX_CACHE_DIR"; do
  m=$(mount_of "$d"); [ -n "${seen_mounts[$m]:-}" ] && continue; seen_mounts[$m]=1
  mb=$(free_mb "$d")
  [ "$mb" -ge "$MIN_FREE_MB" ] || problem "only ${mb} MB free on the file system of $d (at least $MIN_FREE_MB MB needed for checkpoints, databases and demos). Fix: free disk space, or set DMX_MIN_FREE_DISK_MB"
done

if [ ${#problems[@]} -gt 0 ]; then
  printf '\033[1;31m[dmx preflight]\033[0m %s\n' "the '$DMX_PROFILE' stack cannot start:" >&2
  for p in "${problems[@]}"; do printf '  - %s\n' "$p" >&2; done
  exit 1
fi
ok "preflight: podman on netavark, runc, CRIU, dnsmasq, ports and disk OK"
