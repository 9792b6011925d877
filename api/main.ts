/**
 * The dmx HTTP API process. Listens on DMX_API_HOST:DMX_API_PORT, and for Caddy on
 * DMX_API_EDGE_SOCKET; on SIGTERM/SIGINT stops
 * accepting connections, reports not-ready, lets in-flight requests finish (at most
 * DMX_API_SHUTDOWN_GRACE_SECONDS), then closes its clients and exits.
 */
import { loadConfig, ConfigError, type Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createApp } from './app';
import { createApiDeps } from './deps';
import { createApiServer, edgeFetch, listenOnUnixSocket } from './http-server';

process.env.DMX_API_STARTING = '1';
let config: Config;
try {
  config = loadConfig();
} catch (err) {
  process.stderr.write(`dmx-api: ${err instanceof ConfigError ? err.message : String(err)}\n`);
  process.exit(2);
}

const log = createLogger('dmx-api', config.logLevel);
let draining = false;
const deps = createApiDeps(config, { log, isDraining: () => draining, servesEdge: Boolean(config.api.edgeSocket) });
const app = createApp(deps);

const server = createApiServer(app.fetch);
server.listen(config.api.port, config.api.host, () => {
  log.info({ address: config.api.host, port: config.api.port, queuePrefix: config.temporal.queuePrefix || undefined }, 'dmx api listening');
});
// Caddy's way in (the launcher and the demo bar on the demos' site), whose requests carry the visitor's address.
const edgeServer = config.api.edgeSocket ? createApiServer(edgeFetch(app.fetch)) : undefined;
if (edgeServer) {
  listenOnUnixSocket(edgeServer, config.api.edgeSocket).then(
    () => log.info({ socket: config.api.edgeSocket }, 'dmx api listening for Caddy'),
    (err) => {
      log.fatal({ err, socket: config.api.edgeSocket }, 'dmx api cannot listen for Caddy');
      process.exit(1);
    },
  );
}
const servers = [server, ...(edgeServer ? [edgeServer] : [])];
for (const s of servers) {
  // Slow clients cannot hold a connection open for ever.
  s.headersTimeout = 15_000;
  s.requestTimeout = (config.api.acquireTimeoutSeconds + 30) * 1000;
}
server.on('error', (err) => {
  log.fatal({ err }, 'dmx api cannot listen');
  process.exit(1);
});

async function shutdown(signal: string): Promise<void> {
  if (draining) return;
  draining = true;
  const graceMs = config.api.shutdownGraceSeconds * 1000;
  log.info({ signal, graceMs }, 'shutting down: no new connections, waiting for in-flight requests');
  const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  const closeIdle = () => servers.forEach((s) => s.closeIdleConnections());
  closeIdle();
  // Keep-alive connections whose in-flight request finishes become idle later: close them as soon
  // as they do, rather than after the keep-alive timeout.
  const idleSweep = setInterval(closeIdle, 100);
  idleSweep.unref();
  const timer = setTimeout(() => {
    log.warn('grace period over: closing remaining connections');
    servers.forEach((s) => s.closeAllConnections());
  }, graceMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
  clearInterval(idleSweep);
  await deps.close();
  log.info('dmx api stopped');
  process.exit(0);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    shutdown(sig).catch((err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  });
}
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
