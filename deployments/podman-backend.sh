#!/usr/bin/env bash
# podman-backend.sh — make podman use the netavark network backend, idempotently.
#
# Why: dmx's networks, checkpoints and firewall are made and tested on netavark (CNI is deprecated
# in podman 4 and gone in 5). Podman remembers the backend it chose on first use
# (/var/lib/containers/storage/defaultNetworkBackend), so a machine where podman ran before netavark
# was installed stays on CNI until containers.conf says otherwise.
#
# What it does, each step only when needed:
#   1. writes /etc/containers/containers.conf.d/50-dmx.conf: network_backend = "netavark";
#   2. when podman was on CNI: removes dmx's own containers and CNI networks first (they would be
#      invisible to netavark and keep their bridges), and leaves anything else alone with a warning;
#   3. keeps podman's remembered choice (the marker) on netavark, written without a newline;
#   4. checks that podman now reports netavark.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

CONF_DIR=/etc/containers/containers.conf.d
CONF=$CONF_DIR/50-dmx.conf
MARKER=/var/lib/containers/storage/defaultNetworkBackend

backend() { podman info --format '{{.Host.NetworkBackend}}' 2>/dev/null || echo unknown; }

# podman 4.3 reads this file byte for byte: "netavark\n" is an unknown backend to it.
marker_ok() { [ -f "$MARKER" ] || return 0; [ "$(wc -c <"$MARKER")" -eq 8 ] && [ "$(cat "$MARKER")" = netavark ]; }

current=$(backend)
if [ "$current" = netavark ] && [ -f "$CONF" ] && marker_ok; then ok "podman network backend: netavark"; exit 0; fi

if [ "$current" = cni ]; then
  log "podman is on the CNI network backend (no DNS on its networks); moving it to netavark"
  # dmx's containers and networks under CNI: remove them while CNI can still tear them down.
  ids=$(podman ps -a -q --filter label=dmx.profile; podman ps -a -q --filter name=^dmx-)
  if [ -n "$ids" ]; then
    log "removing dmx containers created under CNI: $(echo "$ids" | sort -u | wc -l)"
    echo "$ids" | sort -u | xargs podman rm -f -t 0 >/dev/null
  fi
  for n in $(podman network ls --format '{{.Name}}' | grep -E '^dmx-' || true); do
    log "removing CNI network $n (dmx recreates it under netavark)"
    podman network rm -f "$n" >/dev/null
  done
  others=$(podman ps -a -q | wc -l)
  [ "$others" -gt 0 ] && log "warning: $others non-dmx container(s) were created under CNI; they keep their CNI networks, which netavark does not manage (recreate them to move them)"
fi

mkdir -p "$CONF_DIR"
cat > "$CONF" <<CONF
# Written by demo-multiplexer (deployments/podman-backend.sh). dmx's networks, checkpoints and
# firewall are made and tested on netavark.
[network]
network_backend = "netavark"
CONF
# The remembered first choice is only a default; keep it consistent with the configuration.
[ -f "$MARKER" ] && printf netavark > "$MARKER"

now=$(backend)
[ "$now" = netavark ] || die "podman still reports the '$now' network backend after writing $CONF; check 'podman info' and /etc/containers/containers.conf"
ok "podman network backend: netavark (was: $current)"
