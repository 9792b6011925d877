#!/usr/bin/env bash
# names-server.sh DIR PORT PIDFILE — runs a demo names server in the foreground: a dnsmasq on
# 127.0.0.1:PORT alone that answers `<name>.dmx` from one file per name in DIR (each new, changed or
# removed file is read by inotify within milliseconds) and NXDOMAIN for any other .dmx name. It
# runs as nobody, so DIR must be readable by nobody. Started by stack.sh (the profile's names
# server) and by the bench (a throwaway one, to time publishing at many names): one set of flags.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 DIR PORT PIDFILE" >&2; exit 2; }
command -v dnsmasq >/dev/null || { echo "dnsmasq is missing; run deployments/setup.sh" >&2; exit 1; }
exec dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
  --listen-address=127.0.0.1 --bind-interfaces --port="$2" --local=/dmx/ \
  --hostsdir="$1" --user=nobody --group=nogroup --pid-file="$3" --log-facility=-
