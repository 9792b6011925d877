/**
 * The demo lifecycle's activities, built by a factory over their dependencies so tests can inject
 * fakes and workers inject real clients. Every activity is idempotent: names derive from the demo
 * id, "create" steps converge on the wanted state and "remove" steps accept what is already gone.
 */
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import bcrypt from 'bcryptjs';
import { existsSync } from 'node:fs';
import type { Config } from '../lib/config';
import { demoHostFor } from '../lib/config';
import { assertDemoId, assertTemplateName, demoResourceNames } from '../lib/ids';
import { randomDemoId } from '../lib/random-ids';
import type { Logger } from '../lib/logger';
import type { SecretDeriver } from '../lib/secrets';
import { FAILURE_TYPES } from '../workflows/definitions';
import type { Caddy } from './adapters/caddy';
import type { MariaDb } from './adapters/mariadb';
import { PodmanError, type Podman } from './adapters/podman';
import type { Valkey } from './adapters/valkey';
import { waitForHttp } from './http-probe';
import { createWebhookActivities } from './webhooks';
import { rewriteParametersCommand } from './templates/parameters';
import { templateKinds } from './templates/kinds';
import { readTemplateSpec, type TemplateSpec } from './templates/spec';

export interface ActivityDeps {
  config: Config;
  log: Logger;
  podman: Podman;
  mariadb: MariaDb;
  caddy: Caddy;
  valkey: Valkey;
  secrets: SecretDeriver;
}

/** What the workflow needs to know of a template (recorded in its history). */
export interface TemplateSummary {
  name: string;
  version: string;
  hasCheckpoint: boolean;
  adminPath: string;
  adminEmail: string;
  /** Lifecycle webhooks configured: send demo.expiring this many seconds before expiry. */
  webhooks?: { expiringSeconds: number };
}

export interface RestoredDemo {
  host: string;
  container: string;
  method: 'criu' | 'run';
  templateVersion: string;
  seconds: number;
  criuRestoreMicros?: number;
}

export interface DemoDataRef { database: string; tablePrefix: string; account: string }

export function createActivities(deps: ActivityDeps) {
  return withHeartbeats({ ...createDemoActivities(deps), ...createWebhookActivities(deps.config) });
}

/**
 * Every activity heartbeats once a second while it runs, so a worker that dies mid-activity is
 * noticed after the heartbeat timeout (seconds) instead of the start-to-close timeout (minutes).
 */
export function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(acts: T): T {
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(acts)) {
    wrapped[name] = async (...args: never[]) => {
      let inActivity = true;
      try {
        Context.current();
      } catch {
        inActivity = false; // a direct call from a test: nothing to heartbeat to
      }
      const timer = inActivity ? setInterval(() => heartbeat(), 1_000) : undefined;
      try {
        return await fn(...args);
      } finally {
        if (timer) clearInterval(timer);
      }
    };
  }
  return wrapped as T;
}

function createDemoActivities(deps: ActivityDeps) {
  const { config, podman, mariadb, caddy, valkey, secrets } = deps;

  function logFor(demoId: string) {
    let info: { activityType?: string; attempt?: number } = {};
    try {
      const i = Context.current().info;
      info = { activityType: i.activityType, attempt: i.attempt };
    } catch {
      // Called outside an activity context (a direct call in a test): no activity info to add.
    }
    return deps.log.child({ demoId, ...info });
  }

  function spec(name: string): TemplateSpec {
    const s = readTemplateSpec(config.stateDir, assertTemplateName(name));
    if (!s) {
      throw ApplicationFailure.nonRetryable(`template ${name} has no spec in ${config.stateDir}/templates: run \`dmx checkpoint ${name}\``, FAILURE_TYPES.templateMissing);
    }
    return s;
  }

  function dataRef(demoId: string, s: TemplateSpec): DemoDataRef & { scopeDatabase: string } {
    const n = demoResourceNames(config.profile, demoId);
    return config.demos.dataLayout === 'database'
      ? { database: n.database, tablePrefix: s.tablePrefix, account: n.account, scopeDatabase: n.database }
      : { database: config.demos.sharedDatabase, tablePrefix: n.tablePrefix, account: n.account, scopeDatabase: config.demos.sharedDatabase };
  }

  async function containerIp(name: string, demoId: string): Promise<string> {
    const info = await podman.inspect(name);
    if (!info?.running) throw new Error(`container ${name} of demo ${demoId} is not running (${info?.status ?? 'missing'})`);
    const ip = info.networks[config.podman.network]?.ip;
    if (!ip) throw new Error(`container ${name} has no address on ${config.podman.network}`);
    return ip;
  }

  return {
    /** Fresh demo ids from node:crypto (never from a workflow's seeded PRNG): the subdomain is the secret until claimed. */
    async generateDemoIds(input: { count: number }): Promise<string[]> {
      if (!Number.isInteger(input.count) || input.count < 1 || input.count > 1000) {
        throw ApplicationFailure.nonRetryable(`generateDemoIds: count must be 1-1000, got ${input.count}`, FAILURE_TYPES.invalidInput);
      }
      return Array.from({ length: input.count }, () => randomDemoId());
    },

    async describeTemplate(name: string): Promise<TemplateSummary> {
      const s = spec(name);
      return {
        name: s.name, version: s.version, hasCheckpoint: Boolean(s.checkpointArchive), adminPath: s.adminPath, adminEmail: s.adminEmail,
        // Decided once per demo and recorded in its history, so the workflow stays deterministic.
        ...(config.webhook.url ? { webhooks: { expiringSeconds: config.webhook.expiringSeconds } } : {}),
      };
    },

    /**
     * Restores the demo's container from the template checkpoint on this host. CRIU first; the
     * last attempt (or a template without checkpoint) uses `podman run` and a cold boot. A running
     * container of that name is this activity's own earlier work: returned as is.
     */
    async restoreDemoContainer(input: { demoId: string; template: string }): Promise<RestoredDemo> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const { container } = demoResourceNames(config.profile, demoId);
      const log = logFor(demoId);
      const existing = await podman.inspect(container);
      if (existing?.running) {
        return { host: config.hostId, container, method: 'criu', templateVersion: existing.labels['dmx.template-version'] ?? s.version, seconds: 0 };
      }
      if (existing) await podman.remove(container); // a half-made copy from a crashed attempt

      const { attempt, maximumAttempts } = retryInfo();
      const useCheckpoint = Boolean(s.checkpointArchive) && (maximumAttempts === 0 || attempt < maximumAttempts);
      if (useCheckpoint) {
        if (!existsSync(s.checkpointArchive!)) {
          throw ApplicationFailure.nonRetryable(`checkpoint ${s.checkpointArchive} of template ${s.name} is missing on host ${config.hostId}`, FAILURE_TYPES.templateMissing);
        }
        try {
          const st = await podman.restore(s.checkpointArchive!, container);
          await podman.pinBridgeMac(config.podman.network);
          log.info({ container, seconds: st.seconds, criuRestoreMicros: st.criuRestoreMicros }, 'restored from checkpoint');
          return { host: config.hostId, container, method: 'criu', templateVersion: s.version, seconds: st.seconds, criuRestoreMicros: st.criuRestoreMicros };
        } catch (err) {
          await podman.remove(container).catch(() => false);
          throw err;
        }
      }
      log.warn({ container, attempt }, s.checkpointArchive ? 'CRIU restore kept failing: falling back to podman run' : 'template has no checkpoint: podman run');
      const started = performance.now();
      await podman.run({
        name: container, image: s.image, network: config.podman.network,
        labels: { 'dmx.profile': config.profile, 'dmx.template': s.name, 'dmx.template-version': s.version, 'dmx.role': 'demo' },
        memory: config.demos.memory, cpus: config.demos.cpus, pids: config.demos.pids,
        hardening: s.hardening ?? templateKinds[s.kind].defaults.hardening,
      });
      await podman.pinBridgeMac(config.podman.network);
      return { host: config.hostId, container, method: 'run', templateVersion: s.version, seconds: (performance.now() - started) / 1000 };
    },

    /** Clones the template's data for the demo and creates its account, limited to that data. */
    async createDemoData(input: { demoId: string; template: string }): Promise<DemoDataRef> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const ref = dataRef(demoId, s);
      const tables = await mariadb.cloneTables(s.database, s.tablePrefix, ref.database, ref.tablePrefix);
      const password = secrets.derive('db-password', demoId);
      if (config.demos.dataLayout === 'database') {
        await mariadb.grantAccount(ref.account, config.mariadb.demoAccountHost, password, { database: ref.database });
      } else {
        const own = await mariadb.tablesWithPrefix(ref.database, ref.tablePrefix);
        await mariadb.grantAccount(ref.account, config.mariadb.demoAccountHost, password, { database: ref.database, tables: own });
      }
      logFor(demoId).info({ database: ref.database, prefix: ref.tablePrefix, tables }, 'demo data created');
      return { database: ref.database, tablePrefix: ref.tablePrefix, account: ref.account };
    },

    /**
     * Domain, back-office password and cache tables of the demo's own data. Returns what the user
     * is handed: the demo's URL and its back-office password.
     */
    async applyDemoIdentityInDatabase(input: { demoId: string; template: string }): Promise<{ url: string; adminPassword: string }> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const ref = dataRef(demoId, s);
      const domain = demoHostFor(config, demoId);
      const adminPassword = secrets.derive('admin-password', demoId, 16);
      await mariadb.applyShopIdentity({
        database: ref.database, prefix: ref.tablePrefix, domain, adminEmail: s.adminEmail,
        adminPasswordHash: await bcrypt.hash(adminPassword, 10),
      });
      return { url: `${config.demos.scheme}://${domain}/`, adminPassword };
    },

    /** Points the restored app at its own data and secrets (one exec), clearing compiled caches. */
    async configureDemoApp(input: { demoId: string; template: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const ref = dataRef(demoId, s);
      const { container } = demoResourceNames(config.profile, demoId);
      const values = {
        database_host: config.mariadb.demoHost,
        database_port: String(config.mariadb.port),
        database_name: ref.database,
        database_user: ref.account,
        database_password: secrets.derive('db-password', demoId),
        database_prefix: ref.tablePrefix,
        cookie_key: secrets.derive('cookie_key', demoId, 64),
        cookie_iv: secrets.derive('cookie_iv', demoId, 8),
        new_cookie_key: secrets.derive('new_cookie_key', demoId, 64),
        secret: secrets.derive('secret', demoId, 64),
      };
      try {
        await podman.exec(container, rewriteParametersCommand(s.appRoot, s.parametersFile, s.cacheDirs), JSON.stringify(values));
      } catch (err) {
        if (err instanceof PodmanError && err.isNoSuchContainer) {
          throw ApplicationFailure.nonRetryable(`container ${container} of demo ${demoId} disappeared before it was configured`, 'ContainerGone');
        }
        throw err;
      }
    },

    /** The shop answers on its own Host from its container (not through Caddy yet). */
    async verifyDemoServes(input: { demoId: string; bootSeconds?: number }): Promise<{ status: number }> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      const ip = await containerIp(container, demoId);
      const host = demoHostFor(config, demoId);
      const r = await waitForHttp(`http://${ip}:80/`, host, (x) => x.status === 200, (input.bootSeconds ?? 10) * 1000, 100);
      if (r.status !== 200) throw new Error(`demo ${demoId} answered ${r.status} on its own Host ${host}: ${r.body.slice(0, 200)}`);
      return { status: r.status };
    },

    /** Makes the demo routable: an alias on the edge network, which Caddy's demo router resolves. */
    async connectDemoRoute(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const n = demoResourceNames(config.profile, demoId);
      try {
        // The common case first (one podman call); a retry finds the container already attached.
        await podman.connectNetwork(config.podman.edgeNetwork, n.container, n.routeLabel);
      } catch (err) {
        const info = await podman.inspect(n.container);
        if (!info) throw ApplicationFailure.nonRetryable(`container ${n.container} of demo ${demoId} is gone`, 'ContainerGone');
        const edge = info.networks[config.podman.edgeNetwork];
        if (!edge) throw err;
        if (!edge.aliases.includes(n.routeLabel)) {
          await podman.disconnectNetwork(config.podman.edgeNetwork, n.container);
          await podman.connectNetwork(config.podman.edgeNetwork, n.container, n.routeLabel);
        }
      }
      await podman.pinBridgeMac(config.podman.edgeNetwork);
    },

    /** Through Caddy, as a visitor would see it; also re-creates Caddy's demo router if it was lost. */
    async verifyDemoRouted(input: { demoId: string }): Promise<{ status: number }> {
      const demoId = assertDemoId(input.demoId);
      await caddy.ensureDemoRouter({ domain: config.demos.domain, edgeGateway: config.podman.edgeGateway });
      const host = demoHostFor(config, demoId);
      const r = await waitForHttp(`http://127.0.0.1:${config.caddy.httpPort}/`, host, (x) => x.status === 200, 5_000, 50);
      if (r.status !== 200) throw new Error(`demo ${demoId} answered ${r.status} through Caddy: ${r.body.slice(0, 200)}`);
      return { status: r.status };
    },

    async disconnectDemoRoute(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      const info = await podman.inspect(container);
      if (!info?.networks[config.podman.edgeNetwork]) return;
      await podman.disconnectNetwork(config.podman.edgeNetwork, container);
    },

    async dropDemoData(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const n = demoResourceNames(config.profile, demoId);
      // Both layouts are cleaned whatever the current setting, so a layout change leaks nothing.
      await mariadb.dropDatabase(n.database);
      await mariadb.dropPrefixedTables(config.demos.sharedDatabase, n.tablePrefix);
      await mariadb.dropAccount(n.account, config.mariadb.demoAccountHost);
    },

    async removeDemoContainer(input: { demoId: string }): Promise<{ removed: boolean }> {
      const demoId = assertDemoId(input.demoId);
      const { container } = demoResourceNames(config.profile, demoId);
      return { removed: await podman.remove(container) };
    },

    /** A fast index of live demos in Valkey (API lookups, reconciler), expiring on its own. */
    async recordDemo(input: { demoId: string; url: string; expiresAt: string; template: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const key = demoResourceNames(config.profile, demoId).valkeyKey;
      const ttl = Math.max(60, Math.ceil((Date.parse(input.expiresAt) - Date.now()) / 1000) + 3600);
      await valkey.multi().hset(key, { url: input.url, expiresAt: input.expiresAt, template: input.template }).expire(key, ttl).exec();
    },

    async forgetDemo(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      await valkey.del(demoResourceNames(config.profile, demoId).valkeyKey);
    },

  };
}

function retryInfo(): { attempt: number; maximumAttempts: number } {
  try {
    const i = Context.current().info;
    return { attempt: i.attempt, maximumAttempts: i.retryPolicy?.maximumAttempts ?? 0 };
  } catch {
    return { attempt: 1, maximumAttempts: 0 };
  }
}

export type DemoActivities = ReturnType<typeof createActivities>;
