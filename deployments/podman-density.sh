#!/usr/bin/env bash
# podman-density.sh — raise podman's per-host caps for thousands of demos, idempotently.
#
# Why: every container holds one of podman's SHM locks; the default 2,048 caps a host near what its
# memory allows (~10 MB per stand-in demo: ~2,000 in 24 GiB) and below it on a bigger host. Podman
# refuses to start at all once num_locks differs from its lock segment ("failed to open N locks in
# /libpod_lock: numerical result out of range") until `podman system renumber` has run, and renumber
# must run while no container exists or runs. So the setting is written only together with a
# renumber on a host without containers (a fresh machine, or after `stack.sh purge` of every
# profile); otherwise it is left alone with a warning, and podman keeps working with its 2,048.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

# The host's neighbour (ARP/NDP) table holds an entry per demo and bridge it talks to (MariaDB's
# replies on the demo network, Caddy's requests on the edge network): two per live demo, beyond the
# kernel's default hard limit (gc_thresh3 = 1,024) from ~500 demos that are all in use. Raised
# (never lowered), the hard limit first. (The "No route to host" seen between 1,000 and 2,000 live
# demos was not this but the bridge's 1,023 ports: see BRIDGE_PORT_LIMIT in lib/network-pairs.ts.)
for fam in ipv4 ipv6; do
  for kv in gc_thresh3=65536 gc_thresh2=32768 gc_thresh1=8192; do
    k=net.$fam.neigh.default.${kv%%=*} v=${kv#*=}
    cur=$(sysctl -n "$k" 2>/dev/null) || continue
    [ "$cur" -ge "$v" ] || sysctl -qw "$k=$v" || die "could not raise $k to $v (the neighbour table would cap the host near 500 busy demos)"
  done
done
ok "neighbour tables: up to 65,536 entries"

LOCKS=${DMX_PODMAN_NUM_LOCKS:-16384}
CONF=/etc/containers/containers.conf.d/60-dmx-density.conf
want="# Written by demo-multiplexer (deployments/podman-density.sh): one lock per container.
[engine]
num_locks = $LOCKS"
if [ -f "$CONF" ] && [ "$(cat "$CONF")" = "$want" ]; then ok "podman num_locks = $LOCKS"; exit 0; fi

containers=$(podman ps -aq | wc -l)
if [ "$containers" -gt 0 ]; then
  log "warning: podman keeps its default 2,048 locks (one per container): raising num_locks needs 'podman system renumber' on a host without containers, and $containers exist. Rerun this after removing them to allow more than ~2,000 demos."
  exit 0
fi
mkdir -p "$(dirname "$CONF")"
printf '%s\n' "$want" > "$CONF"
# podman 4.3 cannot open a lock segment of another size, not even to renumber ("failed to open N
# locks in /libpod_lock: numerical result out of range"). With no container there is no lock to
# keep: the old segment goes, and podman creates one of the new size.
if ! out=$(podman system renumber 2>&1); then
  if grep -q 'numerical result out of range' <<<"$out" && [ "$(podman ps -aq 2>/dev/null | wc -l)" -eq 0 ]; then
    rm -f /dev/shm/libpod_lock
    out=$(podman system renumber 2>&1) || { rm -f "$CONF"; die "podman system renumber failed ($out); $CONF removed so podman keeps its old lock count"; }
  else
    rm -f "$CONF"; die "podman system renumber failed ($out); $CONF removed so podman keeps its old lock count"
  fi
fi
ok "podman num_locks = $LOCKS (renumbered)"
