#!/usr/bin/env bash
# Installs everything dmx needs on a fresh Debian 12 machine, as root. Idempotent: each step checks
# first and installs only what is missing, so a second run takes a few seconds.
#   - Debian packages: podman with netavark, runc, caddy, dnsmasq-base (the demo names server),
#     mariadb-server, redis-server (bookworm has no valkey), iptables, debootstrap, busybox-static, ...
#   - podman set to the netavark backend, also on a machine where it had chosen CNI before
#   - CRIU >= 4.2 in a private folder when the system's `criu check` fails (deployments/install-criu.sh)
#   - the `temporal` CLI (dev server + Web UI), built from the Go module proxy into $DMX_CACHE_DIR
#   - the Temporal time-skipping test server (Java, from Maven Central) for the fast workflow tests
#   - npm dependencies from the lockfile
set -euo pipefail
source "$(dirname "$0")/lib.sh"
require_root "$@"

# --no-install-recommends keeps the machine lean, so everything dmx relies on is named here; podman
# alone would pull CNI plugins and not netavark. aardvark-dns: podman's own networks' DNS (dmx's
# networks have none), named so podman works as it would with its recommends.
APT_PACKAGES=(podman netavark aardvark-dns conmon runc caddy dnsmasq-base mariadb-server mariadb-client redis-server
  debootstrap busybox-static iptables iproute2 procps curl jq ca-certificates uidmap slirp4netns dnsutils)
# The visitor's journey is tested in a real browser: Debian's chromium, driven by playwright-core.
APT_PACKAGES+=(chromium fonts-liberation)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  # policy-rc.d keeps the packages' own system services from starting: dmx runs its own instances
  # on its own ports with its data in $DMX_STATE_DIR.
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >&2
else
  ok "Debian packages present"
fi
# The packages start system-wide services on install; dmx never uses them. Stop them so they do not
# hold memory or ports (best effort: the machine may have no systemd).
for svc in mariadb redis-server caddy; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    log "stopping the system $svc service (dmx runs its own)"; systemctl stop "$svc" || true
  fi
done

bash "$DMX_ROOT/deployments/podman-backend.sh"
bash "$DMX_ROOT/deployments/podman-density.sh"
bash "$DMX_ROOT/deployments/install-criu.sh"
bash "$DMX_ROOT/deployments/install-test-server.sh"
bash "$DMX_ROOT/deployments/install-schemathesis.sh"
bash "$DMX_ROOT/deployments/setup-security.sh"

if [ -x "$DMX_TEMPORAL_BIN" ] && "$DMX_TEMPORAL_BIN" --version >/dev/null 2>&1; then
  ok "temporal CLI present: $("$DMX_TEMPORAL_BIN" --version)"
else
  command -v go >/dev/null || die "Go is required to build the temporal CLI (go >= 1.21; newer toolchains come from the Go module proxy)"
  log "building the temporal CLI $DMX_TEMPORAL_CLI_VERSION from the Go module proxy (a few minutes, once)"
  mkdir -p "$DMX_CACHE_DIR/go-bin"
  # v1.6+ carry a replace directive that `go install pkg@version` refuses; v1.5.1 needs go >= 1.25,
  # which GOTOOLCHAIN=auto fetches through the module proxy when the local Go is older.
  GOTOOLCHAIN=auto GOBIN="$DMX_CACHE_DIR/go-bin" CGO_ENABLED=0 \
    go install "github.com/temporalio/cli/cmd/temporal@$DMX_TEMPORAL_CLI_VERSION" >&2
  DMX_TEMPORAL_BIN="$DMX_CACHE_DIR/go-bin/temporal"
  ok "temporal CLI built: $("$DMX_TEMPORAL_BIN" --version)"
fi

cd "$DMX_ROOT"
stamp=node_modules/.dmx-lock-hash
want=$(sha256sum package-lock.json | cut -c1-64)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  ok "npm dependencies match the lockfile"
else
  log "installing npm dependencies from the lockfile"
  # Not `npm ci`: the registry reachable here serves no darwin/win32 builds of @swc/core, so the
  # lockfile lacks those optional entries and `npm ci` refuses it as out of sync. `npm install`
  # with --no-save installs the locked versions and leaves the lockfile alone.
  npm install --no-save --no-fund --no-audit --loglevel=error >&2
  echo "$want" > "$stamp"
fi
ok "setup complete"
