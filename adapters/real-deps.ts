/** Real clients for podman, MariaDB, Caddy and Valkey, built from configuration (workers, CLI, bench and real-stack tests). */
import type { Config } from '../lib/config';
import { createLogger, type Logger } from '../lib/logger';
import { createCaddy, type Caddy } from './caddy';
import { createDemoNames, type DemoNames } from './demo-names';
import { createFirewall, type Firewall } from './firewall';
import { createMariaDb, createMariaDbPool, type MariaDb } from './mariadb';
import { createPodman, type Podman } from './podman';
import { createValkey, type Valkey } from './valkey';

/** What activities, the reconciler and the footprint check work through. */
export interface AdapterDeps {
  config: Config;
  log: Logger;
  podman: Podman;
  mariadb: MariaDb;
  caddy: Caddy;
  valkey: Valkey;
  /** The profile's demo firewall (re-applied by the reconciler). */
  firewall: Firewall;
  /** The demo names Caddy's demo router resolves (one file per routable demo, served by the names server). */
  names: DemoNames;
}

/** The adapters (secrets are added by whoever holds the master key), and a way to close them. */
export interface RealDeps extends AdapterDeps {
  close(): Promise<void>;
}

/** `logFd` 2 sends the logs to stderr (the CLI keeps stdout for its output). */
export function createRealDeps(config: Config, logName = 'dmx', logFd: 1 | 2 = 1): RealDeps {
  const log = createLogger(logName, config.logLevel, logFd);
  const pool = createMariaDbPool({ ...config.mariadb, connectionLimit: 10 });
  const valkey = createValkey({ ...config.valkey, lazy: true });
  const podman = createPodman({ criuBinDir: config.podman.criuBinDir, socketPath: config.podman.socketPath, memoryMerge: config.podman.memoryMerge });
  valkey.on('error', (err) => log.warn({ err: err.message }, 'valkey connection error'));
  return {
    config,
    log,
    podman,
    firewall: createFirewall(config, podman),
    names: createDemoNames(config),
    mariadb: createMariaDb(pool),
    caddy: createCaddy(config.caddy.adminSocket),
    valkey,
    async close() {
      await pool.end();
      valkey.disconnect();
      await podman.close();
    },
  };
}
