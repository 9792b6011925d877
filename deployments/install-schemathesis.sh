#!/usr/bin/env bash
# install-schemathesis.sh — the schema-driven API fuzzer (PyPI `schemathesis`) that
# test/api/schemathesis.test.ts runs against the test stack's /openapi.json.
#
# Result: $DMX_SCHEMATHESIS_BIN, the `schemathesis` command of a Python venv of its own under
# $DMX_CACHE_DIR (beside the other tools setup.sh installs, so no profile's purge removes it), at
# the pinned version $DMX_SCHEMATHESIS_VERSION. Debian's python3 with python3-venv (installed when
# missing). Idempotent: a venv already at the pinned version is left alone (~0.3 s).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VERSION=$DMX_SCHEMATHESIS_VERSION
VENV=${DMX_SCHEMATHESIS_BIN%/bin/schemathesis}

if [ -x "$DMX_SCHEMATHESIS_BIN" ] && [ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" = "$VERSION" ]; then
  ok "schemathesis $VERSION present"
  exit 0
fi

# Debian's own interpreter, not whatever python3 is first on PATH: the venv must outlive shells.
PYTHON=/usr/bin/python3
if ! { [ -x "$PYTHON" ] && "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null; }; then
  log "installing python3 and python3-venv for schemathesis"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends python3 python3-venv >&2
fi

log "installing schemathesis $VERSION from PyPI into $VENV (once)"
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
"$DMX_SCHEMATHESIS_BIN" --version >/dev/null || die "schemathesis $VERSION installed into $VENV but does not run"
ok "schemathesis $VERSION installed: $DMX_SCHEMATHESIS_BIN"
