#!/usr/bin/env bash
# Security prerequisites of dmx (called by setup.sh; idempotent):
#   - nftables: the demo firewall is an nftables table per profile (lib/firewall.ts explains why)
#   - br_netfilter loaded with bridge-nf-call-ip(6)tables=1, so bridged IPv4/IPv6 traffic also
#     passes the inet tables (the bridge-family table drops demo-to-demo frames without it)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

if ! command -v nft >/dev/null; then
  log "installing nftables (the demo firewall)"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends nftables >&2
fi
[ -d /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null || log "warning: br_netfilter is not available; demo isolation relies on the bridge-family table only"
for k in net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables; do
  [ "$(sysctl -n "$k" 2>/dev/null)" = 1 ] || sysctl -qw "$k=1" || log "warning: could not set $k=1"
done
ok "security prerequisites present (nft $(nft --version | awk '{print $2}'))"

# gVisor is only evaluated (README, "What could not be done here"): DMX_INSTALL_RUNSC=1 installs it.
if [ "${DMX_INSTALL_RUNSC:-0}" = 1 ] && ! command -v runsc >/dev/null; then
  log "installing runsc (gVisor) for evaluation"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends runsc >&2
fi
