/**
 * Activities of the shared queue (any worker that serves workflows): the template's summary, the
 * demo's data in MariaDB, its route check through Caddy, its index in Valkey. Every activity is
 * idempotent: names derive from the demo id, "create" steps converge on the wanted state and
 * "remove" steps accept what is already gone.
 */
import bcrypt from 'bcryptjs';
import { ApplicationFailure } from '@temporalio/activity';
import { assertDemoId, demoResourceNames, FAILURE_TYPES } from '../contract';
import { dataStockFor } from './data-stock';
import { randomDemoId } from '../lib/random-ids';
import { waitForHttp } from '../adapters/http-probe';
import { demoHostFor } from '../lib/public-urls';
import { demoRouterOptions } from '../adapters/caddy';
import { adminPasswordFor } from '../lib/secrets';
import type { TemplateSpec } from '../templates/spec';
import { dataRef, logFor, templateSpec, withHeartbeats, type ActivityDeps, type DemoData, type DemoDataRef, type TemplateSummary } from './common';

/**
 * bcrypt's cost for a demo's back-office password. Low on purpose: the cost slows the cracking of
 * guessable human passwords, and this one is ~95 random bits (16 derived characters, lib/secrets.ts),
 * out of reach at any cost; its hash sits in the demo's own database, which its visitor can read
 * anyway. Cost 10 took ~95 ms of the worker's CPU per demo, beside the restore on the same cores.
 */
export const ADMIN_PASSWORD_HASH_COST = 5;

export function createSharedActivities(deps: ActivityDeps) {
  return withHeartbeats(sharedActivities(deps));
}

function sharedActivities(deps: ActivityDeps) {
  const { config, mariadb, caddy, valkey, secrets } = deps;
  const spec = (name: string) => templateSpec(deps, name);

  /** Domain, back-office password and cache tables of the demo's own data (idempotent: the same values again). */
  async function applyIdentity(demoId: string, s: TemplateSpec, ref: DemoDataRef, generation: number): Promise<Pick<DemoData, 'url' | 'adminPassword'>> {
    const domain = demoHostFor(config, demoId);
    const adminPassword = adminPasswordFor(secrets, demoId, generation);
    await mariadb.applyShopIdentity({
      database: ref.database, prefix: ref.tablePrefix, domain, adminEmail: s.adminEmail,
      adminPasswordHash: await bcrypt.hash(adminPassword, ADMIN_PASSWORD_HASH_COST),
    });
    return { url: `${config.demos.scheme}://${domain}/`, adminPassword };
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
     * Gives the demo its own copy of the template's data, an account limited to it and its identity
     * (domain, back-office password of this `generation`: each reset gets a new one), in one step
     * beside the restore. The copy comes from the data stock when it has one (a table move),
     * otherwise it is cloned here; the stock is topped up in the background either way. Returns
     * what the user is handed: the demo's URL and its back-office password.
     */
    async createDemoData(input: { demoId: string; template: string; generation?: number }): Promise<DemoData> {
      const demoId = assertDemoId(input.demoId);
      const s = spec(input.template);
      const ref = dataRef(deps, demoId, s);
      const stock = dataStockFor(deps);
      let source: 'stock' | 'clone' | 'earlier attempt' = 'clone';
      if (config.demos.dataLayout === 'database') {
        const have = (await mariadb.tablesWithPrefix(ref.database, ref.tablePrefix)).length;
        if (have > 0 && have === (await mariadb.tablesWithPrefix(s.database, s.tablePrefix)).length) source = 'earlier attempt';
        else if (have === 0 && (await stock.take(s, ref.database))) source = 'stock';
      }
      // cloneTables replaces what a crashed attempt left half made.
      if (source === 'clone') await mariadb.cloneTables(s.database, s.tablePrefix, ref.database, ref.tablePrefix);
      stock.refillSoon(s);
      const password = secrets.derive('db-password', demoId);
      if (config.demos.dataLayout === 'database') {
        await mariadb.grantAccount(ref.account, config.mariadb.demoAccountHost, password, { database: ref.database });
      } else {
        const own = await mariadb.tablesWithPrefix(ref.database, ref.tablePrefix);
        await mariadb.grantAccount(ref.account, config.mariadb.demoAccountHost, password, { database: ref.database, tables: own });
      }
      const identity = await applyIdentity(demoId, s, ref, input.generation ?? 0);
      logFor(deps, demoId).info({ database: ref.database, prefix: ref.tablePrefix, source }, 'demo data created');
      return { database: ref.database, tablePrefix: ref.tablePrefix, account: ref.account, ...identity };
    },

    /** Through Caddy, as a visitor would see it; also re-creates Caddy's demo router if it was lost. */
    async verifyDemoRouted(input: { demoId: string }): Promise<{ status: number }> {
      const demoId = assertDemoId(input.demoId);
      await caddy.ensureDemoRouter(demoRouterOptions(config));
      const host = demoHostFor(config, demoId);
      const r = await waitForHttp(`http://127.0.0.1:${config.caddy.httpPort}/`, host, (x) => x.status === 200, 5_000, 50);
      if (r.status !== 200) throw new Error(`demo ${demoId} answered ${r.status} through Caddy: ${r.body.slice(0, 200)}`);
      return { status: r.status };
    },

    async dropDemoData(input: { demoId: string }): Promise<void> {
      const demoId = assertDemoId(input.demoId);
      const n = demoResourceNames(config.profile, demoId);
      // Both layouts are cleaned whatever the current setting, so a layout change leaks nothing.
      await mariadb.dropDatabase(n.database);
      await mariadb.dropPrefixedTables(config.demos.sharedDatabase, n.tablePrefix);
      await mariadb.dropAccount(n.account, config.mariadb.demoAccountHost);
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

export type SharedActivities = ReturnType<typeof createSharedActivities>;
