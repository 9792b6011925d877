/**
 * The data stock: a few complete copies of each template's database, cloned ahead of time, so a
 * demo's data step is a metadata-only move of those tables into its own database (one atomic
 * `RENAME TABLE`) instead of a copy on the critical path. The copy still costs the same MariaDB
 * work; it just happens in the background, between demos.
 *
 * Names, all under `dmx_` and recognised by the reconciler:
 * - `dmx_s_<template8>_<version8>_<random8>`: ready stock, complete (tables arrive in one rename);
 * - `dmx_f_<template8>_<version8>_<random8>`: being filled (a crashed fill is dropped once it is old).
 * The version part invalidates stock when a template is checkpointed again: only stock of the
 * version on disk is ever taken, older stock is dropped by the next refill or reconciler pass.
 * Only the `database` layout has a stock (the prefix layout clones per demo).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AdapterDeps } from '../adapters/real-deps';
import type { TemplateSpec } from '../templates/spec';

/** A fill older than this is a crashed one (a fill takes seconds). */
const ABANDONED_FILL_SECONDS = 600;

const short = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);
/** LIKE pattern with `_` escaped. */
const likeOf = (prefix: string) => `${prefix.replace(/_/g, '\\_')}%`;

export function stockNames(spec: Pick<TemplateSpec, 'name' | 'version'>) {
  const template = short(spec.name);
  const version = short(spec.version);
  return {
    /** Ready stock of this template version. */
    ready: `dmx_s_${template}_${version}_`,
    filling: `dmx_f_${template}_${version}_`,
    /** Any stock of this template, whatever its version. */
    anyVersion: [`dmx_s_${template}_`, `dmx_f_${template}_`],
  };
}

export const STOCK_DATABASE_PATTERN = /^dmx_[sf]_[0-9a-f]{8}_[0-9a-f]{8}_[0-9a-f]{8}$/;

export type DataStock = ReturnType<typeof createDataStock>;

const stocks = new WeakMap<object, DataStock>();

/** One stock keeper per MariaDB connection pool (i.e. per worker process), so refills never overlap. */
export function dataStockFor(deps: Pick<AdapterDeps, 'config' | 'mariadb' | 'log'>): DataStock {
  let s = stocks.get(deps.mariadb);
  if (!s) {
    s = createDataStock(deps);
    stocks.set(deps.mariadb, s);
  }
  return s;
}

function createDataStock({ config, mariadb, log }: Pick<AdapterDeps, 'config' | 'mariadb' | 'log'>) {
  const target = config.demos.dataLayout === 'database' ? config.demos.dataStock : 0;
  /** Template tables per version (a template's tables change only with a new checkpoint). */
  const tablesOf = new Map<string, string[]>();
  const refilling = new Map<string, Promise<void>>();

  async function templateTables(spec: TemplateSpec): Promise<string[]> {
    const key = `${spec.name}@${spec.version}`;
    let t = tablesOf.get(key);
    if (!t) {
      t = await mariadb.tablesWithPrefix(spec.database, spec.tablePrefix);
      if (t.length === 0) throw new Error(`template database ${spec.database} has no tables with prefix ${spec.tablePrefix}`);
      tablesOf.set(key, t);
    }
    return t;
  }

  async function readyStock(spec: TemplateSpec, tableCount: number): Promise<string[]> {
    const rows = await mariadb.databasesWithTables(likeOf(stockNames(spec).ready));
    return rows.filter((r) => r.tables === tableCount).map((r) => r.database);
  }

  /** Clones one more copy: into a `filling` database, then moved whole into a `ready` one. */
  async function fillOne(spec: TemplateSpec, tables: string[]): Promise<void> {
    const suffix = randomBytes(4).toString('hex');
    const n = stockNames(spec);
    const filling = `${n.filling}${suffix}`;
    try {
      await mariadb.cloneTables(spec.database, spec.tablePrefix, filling, spec.tablePrefix);
      if (!(await mariadb.moveTables(filling, `${n.ready}${suffix}`, tables))) throw new Error(`stock ${filling} lost tables while it was filled`);
    } finally {
      await mariadb.dropDatabase(filling);
    }
  }

  /**
   * Drops stock databases matching `likes` that start with none of `keep`, plus leftovers whatever
   * their version: empty ones (a crash between a take's move and its drop) and fills abandoned long ago.
   */
  async function dropStale(likes: string[], keep: string[]): Promise<string[]> {
    const dropped: string[] = [];
    for (const like of likes) {
      for (const r of await mariadb.databasesWithTables(like)) {
        if (!STOCK_DATABASE_PATTERN.test(r.database)) continue;
        const leftover = r.tables === 0 || (r.database.startsWith('dmx_f_') && r.ageSeconds > ABANDONED_FILL_SECONDS);
        if (!leftover && keep.some((k) => r.database.startsWith(k))) continue;
        await mariadb.dropDatabase(r.database);
        dropped.push(r.database);
      }
    }
    return dropped;
  }
  const keepOf = (spec: TemplateSpec) => [stockNames(spec).ready, stockNames(spec).filling];

  async function refill(spec: TemplateSpec): Promise<void> {
    const dropped = await dropStale(stockNames(spec).anyVersion.map(likeOf), keepOf(spec));
    if (dropped.length) log.info({ template: spec.name, dropped }, 'dropped outdated data stock');
    const tables = await templateTables(spec);
    while ((await readyStock(spec, tables.length)).length < target) await fillOne(spec, tables);
  }

  return {
    target,

    /**
     * Moves one ready copy of the template's tables into `toDb`. False when the stock is empty (the
     * caller clones instead). Two takers racing for one copy: the rename is atomic, one wins.
     */
    async take(spec: TemplateSpec, toDb: string): Promise<boolean> {
      if (target === 0) return false;
      const tables = await templateTables(spec);
      for (const stock of await readyStock(spec, tables.length)) {
        if (await mariadb.moveTables(stock, toDb, tables)) {
          await mariadb.dropDatabase(stock);
          return true;
        }
      }
      return false;
    },

    /** Tops the stock up in the background (one fill at a time per template and process). */
    refillSoon(spec: TemplateSpec): void {
      if (target === 0) return;
      const key = `${spec.name}@${spec.version}`;
      if (refilling.has(key)) return;
      const run = refill(spec)
        .catch((err: Error) => log.warn({ template: spec.name, version: spec.version, err: err.message }, 'data stock refill failed; the next demo retries it'))
        .finally(() => refilling.delete(key));
      refilling.set(key, run);
    },

    /** Waits for running refills (tests, shutdown). */
    async settled(): Promise<void> {
      await Promise.all([...refilling.values()]);
    },

    /**
     * Drops every stock database that belongs to no current template version (a template removed,
     * re-checkpointed), empty leftovers and fills abandoned long ago. The reconciler runs it on every pass.
     */
    async prune(specs: TemplateSpec[]): Promise<string[]> {
      return dropStale([likeOf('dmx_s_'), likeOf('dmx_f_')], specs.flatMap(keepOf));
    },
  };
}
