/**
 * Real dependencies of the API process: a lazily connecting Temporal client (the API starts even
 * when Temporal is down, and gRPC reconnects by itself), Valkey for the limits, and the clients the
 * readiness checks use (MariaDB, Caddy admin).
 */
import { Client } from '@temporalio/client';
import { join } from 'node:path';
import { createCaddy } from '../adapters/caddy';
import { createMariaDb, createMariaDbPool } from '../adapters/mariadb';
import { createValkey } from '../adapters/valkey';
import { createClaimer, startRedelivery, temporalConnection, type Claimer } from '../client';
import { reconcilerFindingsKey } from '../contract';
import type { Config } from '../lib/config';
import { payloadCodec, temporalClient } from '../client';
import { createLogger, type Logger } from '../lib/logger';
import { checkDemoRouter, checkLauncher } from '../adapters/router-probe';
import { createSecretDeriver, loadOrCreateMasterKey } from '../lib/secrets';
import { createAccessTokens, type AccessTokens } from './access-tokens';
import type { AppDeps } from './app-deps';
import { parseLandings } from './visitor/landing';
import { createLoginLinks } from './visitor/login';
import { createFreshDemoSource, createTemporalDemoService, type DemoService, type DemoSource } from './demo-service';
import { createPoolDemoSource, createPoolService, poolStatsForMetrics, type PoolService } from './pool-service';
import { createLimiter } from './rate-limit';
import { createMetrics, type ReconcilerSnapshot } from './metrics';

export interface ApiDeps extends AppDeps {
  client: Client;
  /** Claims in Valkey (tests and the benchmark look at its store). */
  claimer: Claimer;
  close(): Promise<void>;
}

export interface ApiDepsOptions {
  log?: Logger;
  /** Another way to get demos; default: the template's warm pool, a fresh workflow when it has none. */
  source?: (base: { client: Client; config: Config; log: Logger }) => DemoSource;
  /** Replaces the demo service entirely (tests). */
  demos?: DemoService;
  /** Prometheus default process metrics (off in tests that build several apps). */
  defaultMetrics?: boolean;
  isDraining?: () => boolean;
  /** This API serves Caddy's edge socket: readiness then checks the launcher's path through it. */
  servesEdge?: boolean;
  /** Replaces the access tokens derived from $DMX_STATE_DIR/secret.key (tests). */
  accessTokens?: AccessTokens;
  /** How often unacknowledged claims are re-delivered (also once at start); 0: never (tests of the loss itself). */
  redeliverEveryMs?: number;
}

export function createApiDeps(config: Config, o: ApiDepsOptions = {}): ApiDeps {
  const log = o.log ?? createLogger('dmx-api', config.logLevel);
  // The same master key the workers derive demo secrets from: every replica checks every token.
  const secrets = createSecretDeriver(loadOrCreateMasterKey(join(config.stateDir, 'secret.key')));
  const accessTokens = o.accessTokens ?? createAccessTokens(secrets);
  const loginLinks = createLoginLinks(secrets, parseLandings(config.api.landings));
  const connection = temporalConnection(config);
  const client = temporalClient(config, connection);
  const valkey = createValkey({ ...config.valkey, lazy: true });
  let valkeyErrorLogged = 0;
  valkey.on('error', (err: Error) => {
    // One line per 30 s at most while Valkey is down.
    if (Date.now() - valkeyErrorLogged > 30_000) {
      valkeyErrorLogged = Date.now();
      log.warn({ err: err.message }, 'valkey connection error');
    }
  });
  const pool = createMariaDbPool({ ...config.mariadb, connectionLimit: 2 });
  const mariadb = createMariaDb(pool);
  const caddy = createCaddy(config.caddy.adminSocket);

  // The live-demos and pool gauges ask the services, which report into the same metrics.
  const service: { current?: DemoService; pools?: PoolService } = {};
  const metrics = createMetrics({
    defaultMetrics: o.defaultMetrics,
    liveDemos: async () => service.current?.countLive(),
    pools: async () => (service.pools ? poolStatsForMetrics(service.pools)() : undefined),
    reconciler: async () => {
      const raw = await valkey.get(reconcilerFindingsKey(config.profile));
      return raw ? (JSON.parse(raw) as ReconcilerSnapshot) : undefined;
    },
  });
  const base = { client, config, log, metrics };
  const claimer = createClaimer({
    client, config, valkey, secrets, log,
    onSignal: (ms, ok) => metrics.claimSignalSeconds.observe({ outcome: ok ? 'delivered' : 'failed' }, ms / 1000),
  });
  const source = o.source?.({ client, config, log }) ?? createPoolDemoSource({ ...base, claimer }, createFreshDemoSource(base));
  const demos = o.demos ?? createTemporalDemoService({ ...base, source, claimer });
  // Every replica re-delivers (idempotent by claim id): a claim recorded by a replica that died
  // before its signal still reaches its demo.
  const stopRedelivery = o.redeliverEveryMs === 0 ? () => undefined : startRedelivery(claimer, o.redeliverEveryMs ?? 2_000, log);
  const pools = createPoolService(base);
  service.current = demos;
  service.pools = pools;
  const limiter = createLimiter(valkey, {
    keyPrefix: `dmx:${config.profile}:api:${config.temporal.queuePrefix}`,
    perMinute: config.api.rateLimitPerMinute,
    maxLiveDemos: config.api.maxLiveDemosPerIp,
  });

  return {
    config,
    log,
    client,
    claimer,
    demos,
    pools,
    limiter,
    accessTokens,
    codec: payloadCodec(config),
    loginLinks,
    metrics,
    isDraining: o.isDraining,
    checks: {
      temporal: async () => {
        await connection.withDeadline(Date.now() + 2_000, () => connection.workflowService.getSystemInfo({}));
      },
      valkey: async () => {
        const pong = await valkey.ping();
        if (pong !== 'PONG') throw new Error(`unexpected PING answer ${String(pong).slice(0, 40)}`);
      },
      mariadb: () => mariadb.ping(),
      caddy: () => caddy.ping(),
      demoRouter: () => checkDemoRouter(config),
      ...(o.servesEdge ? { launcher: () => checkLauncher(config) } : {}),
    },
    async close() {
      stopRedelivery();
      await Promise.allSettled([connection.close(), pool.end(), valkey.quit().catch(() => valkey.disconnect())]);
    },
  };
}
