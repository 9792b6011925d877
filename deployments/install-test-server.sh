#!/usr/bin/env bash
# install-test-server.sh — the Temporal time-skipping test server for the fast workflow tests.
#
# Result: $DMX_CACHE_DIR/temporal-test-server/<version>/bin/temporal-test-server, an executable that
# runs the Java SDK's test server (Maven artifact io.temporal:temporal-test-server, main class
# io.temporal.testserver.TestServer) with its jars from lib/ beside it. @temporalio/testing's
# TestWorkflowEnvironment.createTimeSkipping starts it as `<path> <port> --enable-time-skipping`
# (`server.executable: { type: 'existing-path', path }`): the SDK's own download of a native build
# is unreachable here.
#
# Needs Java >= 11 and Maven (both on these machines; installed from Debian when missing).
# Idempotent: an existing, complete install is left alone (~0.1 s).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

VERSION=$DMX_TEMPORAL_TEST_SERVER_VERSION
ROOT="$DMX_CACHE_DIR/temporal-test-server/$VERSION"
BIN="$ROOT/bin/temporal-test-server"

if [ -x "$BIN" ] && [ -f "$ROOT/lib/temporal-test-server-$VERSION.jar" ]; then
  ok "Temporal test server $VERSION present"
  exit 0
fi

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]} for the Temporal test server"
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

log "fetching the Temporal test server $VERSION and its dependencies from Maven Central (once)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A throwaway project whose only dependency is the test server: copy-dependencies resolves the
# whole runtime classpath (gRPC, protobuf, the Java SDK) into one folder.
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dmx.local</groupId><artifactId>temporal-test-server-classpath</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>io.temporal</groupId><artifactId>temporal-test-server</artifactId><version>$VERSION</version></dependency>
  </dependencies>
</project>
POM
mvn -q -B -f "$work/pom.xml" dependency:copy-dependencies \
  -DoutputDirectory="$work/lib" -Dmaven.repo.local="$DMX_CACHE_DIR/m2" >&2
rm -rf "$ROOT.tmp" && mkdir -p "$ROOT.tmp/bin"
mv "$work/lib" "$ROOT.tmp/lib"
cat > "$ROOT.tmp/bin/temporal-test-server" <<'SH'
#!/bin/sh
# Runs the Java SDK's Temporal test server; arguments: PORT [--enable-time-skipping].
here=$(cd "$(dirname "$0")/.." && pwd)
exec java -XX:+UseSerialGC -cp "$here/lib/*" io.temporal.testserver.TestServer "$@"
SH
chmod +x "$ROOT.tmp/bin/temporal-test-server"
rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
ok "Temporal test server $VERSION installed: $BIN"
