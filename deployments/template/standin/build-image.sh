#!/usr/bin/env bash
# Builds the stand-in shop image localhost/dmx-standin:<hash> from Debian packages, bookworm with its
# security and updates suites (apt-get upgrade inside). <hash> covers the recipe (this folder) AND the
# state of the security/updates suites when they were last read, so fixed packages make a new image.
# The suites are read on the first build and again with --refresh (`dmx checkpoint standin
# --rebuild`); otherwise the last state read is reused (no rebuild, nor network, on every up.sh).
# Images stay tagged by hash: stacks checkpointed from an older one keep working.
# Idempotent: does nothing when the image for the current recipe and suite state exists.
# Progress goes to stderr; the last line on stdout is the image reference.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SUITE="bookworm"
MIRROR="${DMX_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="nginx-light,php8.2-fpm,php8.2-mysql,php8.2-cli,procps"
BASE_CLEANUP_VERSION=1          # bump when the base cleanup below changes
CACHE_DIR="${DMX_CACHE_DIR:-/var/cache/dmx}/standin"
IMAGE_NAME="localhost/dmx-standin"

log() { printf '[standin] %s\n' "$*" >&2; }

# Recipe hash: every file of this folder except README.md (paths + contents + exec bit).
recipe_hash() {
  (cd "$HERE" && find . -type f ! -name README.md ! -name '.*' -print0 | LC_ALL=C sort -z |
    while IFS= read -r -d '' f; do
      printf '%s %s %s\n' "$f" "$([ -x "$f" ] && echo x || echo -)" "$(sha256sum < "$f" | cut -c1-64)"
    done) | sha256sum | cut -c1-12
}

SECURITY_MIRROR="${DMX_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SUITE_STATE="$CACHE_DIR/suite-state"   # sha256 of the security + updates InRelease files last read
mkdir -p "$CACHE_DIR"
if [ "${1:-}" = --refresh ] || [ ! -s "$SUITE_STATE" ]; then
  log "reading the state of $SUITE-security and $SUITE-updates"
  state=$( { curl -fsS -m 30 "$SECURITY_MIRROR/dists/$SUITE-security/InRelease" && curl -fsS -m 30 "$MIRROR/dists/$SUITE-updates/InRelease"; } | sha256sum | cut -c1-12) \
    || { log "cannot read the security suite from $SECURITY_MIRROR"; exit 1; }
  echo "$state" > "$SUITE_STATE.tmp" && mv "$SUITE_STATE.tmp" "$SUITE_STATE"
fi
SUITES_KEY="$(cat "$SUITE_STATE")"

HASH="$(printf '%s|%s' "$(recipe_hash)" "$SUITES_KEY" | sha256sum | cut -c1-12)"
REF="${IMAGE_NAME}:${HASH}"

if podman image exists "$REF"; then
  log "image $REF already exists"
  echo "$REF"
  exit 0
fi

command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y debootstrap >&2; }
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.lock"
flock 9
if podman image exists "$REF"; then echo "$REF"; exit 0; fi   # built by a concurrent run

BASE_KEY="$(printf '%s|%s|%s|%s|%s|%s' "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "$PACKAGES" "$BASE_CLEANUP_VERSION" "$SUITES_KEY" | sha256sum | cut -c1-12)"
BASE_TAR="$CACHE_DIR/base-$BASE_KEY.tar"

WORK="$(mktemp -d "$CACHE_DIR/work.XXXXXX")"
cleanup() { rm -rf --one-file-system "$WORK"; }
trap cleanup EXIT

if [ ! -s "$BASE_TAR" ]; then
  log "debootstrap $SUITE ($PACKAGES) -> $BASE_TAR (takes 1-2 minutes)"
  t0=$(date +%s)
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$WORK/base" "$MIRROR" >&2
  log "debootstrap took $(( $(date +%s) - t0 )) s"
  # The security and updates suites, then an upgrade: debootstrap alone installs the release's
  # original versions (php8.2, nginx, openssl older than their security fixes).
  cat > "$WORK/base/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
SOURCES
  rm -f "$WORK/base/etc/resolv.conf"; cp /etc/resolv.conf "$WORK/base/etc/resolv.conf"
  # No service may start inside the chroot (php8.2-fpm's postinst would try).
  printf '#!/bin/sh\nexit 101\n' > "$WORK/base/usr/sbin/policy-rc.d"; chmod 755 "$WORK/base/usr/sbin/policy-rc.d"
  chroot "$WORK/base" apt-get -qq update >&2
  DEBIAN_FRONTEND=noninteractive chroot "$WORK/base" apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade >&2
  chroot "$WORK/base" dpkg-query -W -f='${Package} ${Version}\n' | sort > "$WORK/base/usr/share/dmx-packages.txt"
  log "upgraded from the security suite: $(grep -E '^(php8.2-fpm|nginx-light|libssl3|openssl) ' "$WORK/base/usr/share/dmx-packages.txt" | tr '\n' ' ')"
  : > "$WORK/base/etc/resolv.conf"
  rm -f "$WORK/base/usr/sbin/policy-rc.d"
  # Slim down: package caches, docs, man pages, the distro's default site and page.
  rm -rf "$WORK/base/var/cache/apt/archives/"*.deb "$WORK/base/var/lib/apt/lists/"* \
         "$WORK/base/usr/share/doc/"* "$WORK/base/usr/share/man/"* "$WORK/base/usr/share/info/"* \
         "$WORK/base/var/log/"*.log "$WORK/base/var/www/html/"*
  rm -f "$WORK/base/etc/nginx/sites-enabled/default"      # an absolute symlink: rm removes the link only
  tar -C "$WORK/base" --numeric-owner -cf "$BASE_TAR.tmp" .
  mv "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf --one-file-system "$WORK/base"
else
  log "using cached base $BASE_TAR"
fi

ROOT="$WORK/root"
mkdir -p "$ROOT"
tar -C "$ROOT" --numeric-owner -xpf "$BASE_TAR"

# Copy rootfs/ into the image. A path inside ROOT must never resolve outside ROOT
# (absolute symlinks in the rootfs point at host paths when followed from outside).
(cd "$HERE/rootfs" && find . -type d -print0 && find . -type f -print0) |
while IFS= read -r -d '' rel; do
  rel="${rel#./}"; [ -n "$rel" ] && [ "$rel" != "." ] || continue
  dest="$ROOT/$rel"
  parent="$(readlink -f "$(dirname "$dest")" 2>/dev/null || true)"
  if [ -e "$(dirname "$dest")" ] && [[ "$parent" != "$ROOT" && "$parent" != "$ROOT"/* ]]; then
    log "refusing to write $rel: its folder resolves outside the rootfs ($parent)"; exit 1
  fi
  if [ -d "$HERE/rootfs/$rel" ]; then
    [ -L "$dest" ] && { log "refusing: $rel is a symlink in the rootfs"; exit 1; }
    mkdir -p "$dest"
  else
    rm -f "$dest"                       # replace, never write through, an existing symlink
    cp "$HERE/rootfs/$rel" "$dest"
    chmod 0644 "$dest"
  fi
done
chmod 0755 "$ROOT/usr/local/bin/dmx-shop-start"
mkdir -p "$ROOT/var/www/html/var/cache/prod" "$ROOT/var/www/html/var/cache/smarty" "$ROOT/run/php"
chown -R 0:0 "$ROOT/var/www/html"

log "importing $REF"
t0=$(date +%s)
tar -C "$ROOT" --numeric-owner -c . |
  podman import --change 'CMD ["/usr/local/bin/dmx-shop-start"]' --change 'EXPOSE 80' \
    --change 'WORKDIR /var/www/html' --message "dmx stand-in shop $HASH" - "$REF" >&2
log "import took $(( $(date +%s) - t0 )) s"
echo "$REF"
