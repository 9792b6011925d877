#!/usr/bin/env bash
# Builds the stand-in shop image localhost/dmx-standin:<recipe-hash> from Debian packages.
# Idempotent: does nothing when the image for the current recipe already exists.
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

HASH="$(recipe_hash)"
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

BASE_KEY="$(printf '%s|%s|%s|%s' "$SUITE" "$MIRROR" "$PACKAGES" "$BASE_CLEANUP_VERSION" | sha256sum | cut -c1-12)"
BASE_TAR="$CACHE_DIR/base-$BASE_KEY.tar"

WORK="$(mktemp -d "$CACHE_DIR/work.XXXXXX")"
cleanup() { rm -rf --one-file-system "$WORK"; }
trap cleanup EXIT

if [ ! -s "$BASE_TAR" ]; then
  log "debootstrap $SUITE ($PACKAGES) -> $BASE_TAR (takes 1-2 minutes)"
  t0=$(date +%s)
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$WORK/base" "$MIRROR" >&2
  log "debootstrap took $(( $(date +%s) - t0 )) s"
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
