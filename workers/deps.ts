/** Real clients for the activities, built from configuration (workers, CLI and real-stack tests). */
import type { Config } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createCaddy } from '../activities/adapters/caddy';
import { createFirewall, type Firewall } from '../activities/adapters/firewall';
import { createMariaDb, createMariaDbPool } from '../activities/adapters/mariadb';
import { createPodman } from '../activities/adapters/podman';
import { createValkey } from '../activities/adapters/valkey';
import type { ActivityDeps } from '../activities/demo-activities';

/** The activities' clients (secrets are added by whoever holds the master key), and a way to close them. */
export interface RealDeps extends Omit<ActivityDeps, 'secrets'> {
  firewall: Firewall;
  close(): Promise<void>;
}

/** `logFd` 2 sends the logs to stderr (the CLI keeps stdout for its output). */
export function createRealDeps(config: Config, logName = 'dmx', logFd: 1 | 2 = 1): RealDeps {
  const log = createLogger(logName, config.logLevel, logFd);
  const pool = createMariaDbPool({ ...config.mariadb, connectionLimit: 10 });
  const valkey = createValkey({ ...config.valkey, lazy: true });
  valkey.on('error', (err) => log.warn({ err: err.message }, 'valkey connection error'));
  const podman = createPodman({ criuBinDir: config.podman.criuBinDir });
  return {
    config,
    log,
    podman,
    firewall: createFirewall(config, podman),
    mariadb: createMariaDb(pool),
    caddy: createCaddy(config.caddy.adminSocket),
    valkey,
    async close() {
      await pool.end();
      valkey.disconnect();
    },
  };
}
