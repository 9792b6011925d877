/**
 * Template creation: start the template's container, wait until it serves, warm its caches, close
 * its DB connections and export a CRIU checkpoint (`--compress none`: restores ~2.5x faster than
 * zstd). Records the template spec that demos are restored from.
 */
import bcrypt from 'bcryptjs';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import { SHOP_CACHE_TABLES, type MariaDb } from '../adapters/mariadb';
import type { Podman } from '../adapters/podman';
import { probeHttp, waitForHttp } from '../adapters/http-probe';
import { templateKinds } from './kinds';
import { pruneArchives, withPairCheckpoints } from './pair-checkpoints';
import { readTemplateSpec, templateDatabaseName, writeTemplateSpec, type TemplateKindName, type TemplateSpec } from './spec';

export interface CheckpointOptions {
  name: string;
  kind: TemplateKindName;
  image?: string;
  /** Take a new checkpoint even when one exists for this image. */
  force?: boolean;
  /** Record the template without a checkpoint: demos then use `podman run` (cold boot). */
  noCheckpoint?: boolean;
  /** Re-read the image's package sources (the stand-in: Debian security fixes) and rebuild when they changed. */
  rebuildImage?: boolean;
}

export interface CheckpointDeps { config: Config; podman: Podman; mariadb: MariaDb; log: Logger }

export async function checkpointTemplate(deps: CheckpointDeps, o: CheckpointOptions): Promise<TemplateSpec & { reused: boolean }> {
  const { config, podman, mariadb, log } = deps;
  const kind = templateKinds[o.kind];
  const image = await kind.prepareImage(o.image, { refresh: o.rebuildImage });
  const existing = readTemplateSpec(config.stateDir, o.name);
  const [firstPair] = config.podman.pairs;
  if (!o.force && existing && existing.image === image && existing.network === firstPair!.network && existing.edgeNetwork === firstPair!.edgeNetwork
    && JSON.stringify(existing.hardening) === JSON.stringify(kind.defaults.hardening)
    && (o.noCheckpoint ? !existing.checkpointArchive : existing.checkpointArchive && existsSync(existing.checkpointArchive))
    && (await mariadb.databaseExists(existing.database))) {
    log.info({ template: o.name, version: existing.version }, 'template checkpoint is current');
    return { ...(await recordPairCheckpoints(deps, existing)), reused: true };
  }

  const d = kind.defaults;
  const version = `${image.split(':').pop()!.slice(0, 12)}-${new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14)}`;
  const database = templateDatabaseName(o.name);
  const account = database.slice(0, 64);
  const password = randomBytes(18).toString('base64url');
  // A one-time back-office password: the well-known default would let anyone who reached the
  // template while it warms up log in and change what every later demo is restored from.
  const adminPassword = randomBytes(18).toString('base64url');
  const domain = `tpl-${o.name}.${config.demos.domain}`;
  const container = `dmx-${config.profile}-tpl-${o.name}`;

  log.info({ template: o.name, database }, 'loading the template database');
  await mariadb.dropDatabase(database);
  await mariadb.pool.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await kind.loadSchema(async (sql) => {
    const conn = await mysql.createConnection({
      host: config.mariadb.host, port: config.mariadb.port, user: config.mariadb.user,
      password: config.mariadb.password, database, multipleStatements: true,
    });
    try { await conn.query(sql); } finally { await conn.end(); }
  }, d.tablePrefix);
  await mariadb.grantAccount(account, config.mariadb.demoAccountHost, password, { database });
  if (o.kind === 'standin') {
    await mariadb.applyShopIdentity({
      database, prefix: d.tablePrefix, domain, adminEmail: d.adminEmail,
      adminPasswordHash: await bcrypt.hash(adminPassword, 10),
    });
  }

  // The data as loaded: checked again before the checkpoint is recorded (below).
  const loaded = await mariadb.checksumTables(database);

  await podman.remove(container);
  log.info({ template: o.name, image, container }, 'starting the template container');
  await podman.run({
    // On the edge network too, so every restored demo is on both at once and routable by its own
    // name (no separate `network connect`). The template's own name is not demo-shaped: Caddy's
    // demo router never routes to it.
    name: container, image, networks: [firstPair!.network, firstPair!.edgeNetwork],
    // Labels and limits are part of the checkpoint: every restored demo inherits them.
    labels: { 'dmx.profile': config.profile, 'dmx.template': o.name, 'dmx.template-version': version, 'dmx.role': 'demo' },
    env: kind.runEnv({ host: firstPair!.gateway, port: config.mariadb.port, database, user: account, password, prefix: d.tablePrefix }, domain),
    memory: config.demos.memory, cpus: config.demos.cpus, pids: config.demos.pids, hardening: d.hardening,
  });
  try {
    await podman.pinBridgeMac(firstPair!.network);
    await podman.pinBridgeMac(firstPair!.edgeNetwork);
    const info = await podman.inspect(container);
    const ip = info?.networks[firstPair!.network]?.ip;
    if (!ip) throw new Error(`template container ${container} has no address on ${firstPair!.network}`);
    const url = `http://${ip}:80`;
    const first = await waitForHttp(`${url}/`, domain, (r) => r.status === 200, d.bootSeconds * 1000, 200);
    if (first.status !== 200) throw new Error(`template ${o.name} did not serve / on ${domain} within ${d.bootSeconds} s (last status ${first.status}: ${first.body.slice(0, 200)})`);
    // Files the kind adds to every demo of it (e.g. flashlight's one-time login endpoint), before the checkpoint.
    await kind.prepareContainer?.(container);
    for (const path of d.warmPaths) {
      const r = await probeHttp(`${url}${path}`, domain, { timeoutMs: 30_000 });
      log.info({ path, status: r.status }, 'warmed');
    }
    if (o.noCheckpoint) {
      await podman.remove(container);
      const spec: TemplateSpec = {
        name: o.name, kind: o.kind, version, image, database, tablePrefix: d.tablePrefix, appRoot: d.appRoot,
        parametersFile: d.parametersFile, cacheDirs: d.cacheDirs, adminPath: d.adminPath, adminEmail: d.adminEmail,
        hardening: d.hardening, network: firstPair!.network, edgeNetwork: firstPair!.edgeNetwork, createdAt: new Date().toISOString(),
      };
      writeTemplateSpec(config.stateDir, spec);
      await mariadb.dropAccount(account, config.mariadb.demoAccountHost);
      return { ...spec, reused: false };
    }

    // A checkpoint must hold no DB socket: PHP connects per request, but make sure.
    const [procs] = await mariadb.pool.query<mysql.RowDataPacket[]>('SELECT id FROM information_schema.processlist WHERE user = ?', [account]);
    for (const p of procs) await mariadb.pool.query('KILL CONNECTION ?', [p.id]);

    const changed = changedTables(loaded, await mariadb.checksumTables(database), d.tablePrefix);
    if (changed.length > 0) {
      throw new Error(`template ${o.name}: its database changed while the template ran (${changed.join(', ')}); refusing to record a checkpoint of possibly tampered data`);
    }

    const dir = join(config.stateDir, 'templates', o.name);
    mkdirSync(dir, { recursive: true });
    const archive = join(dir, `${version}.tar`);
    const started = performance.now();
    await podman.checkpoint(container, archive);
    const checkpointSeconds = (performance.now() - started) / 1000;
    await podman.remove(container);
    const spec: TemplateSpec = {
      name: o.name, kind: o.kind, version, image, checkpointArchive: archive, database, tablePrefix: d.tablePrefix,
      appRoot: d.appRoot, parametersFile: d.parametersFile, cacheDirs: d.cacheDirs, adminPath: d.adminPath,
      adminEmail: d.adminEmail, hardening: d.hardening, network: firstPair!.network, edgeNetwork: firstPair!.edgeNetwork, createdAt: new Date().toISOString(),
      checkpointSeconds, archiveBytes: statSync(archive).size,
    };
    const recorded = await withPairCheckpoints(spec, config.podman.pairs);
    writeTemplateSpec(config.stateDir, recorded);
    const pruned = pruneArchives(dir, [version, ...(existing ? [existing.version] : [])]);
    if (pruned.length) log.info({ template: o.name, pruned }, 'removed the checkpoint archives of older template versions');
    // Restored demos carry the template's environment: the template account must not outlive the
    // checkpoint, or any demo could write to the data every later demo is cloned from.
    await mariadb.dropAccount(account, config.mariadb.demoAccountHost);
    log.info({ template: o.name, version, archive, checkpointSeconds, archiveBytes: spec.archiveBytes, pairs: config.podman.pairs.length }, 'template checkpointed');
    return { ...recorded, reused: false };
  } catch (err) {
    await podman.remove(container).catch((e) => log.error({ err: e }, 'removing the template container failed'));
    await mariadb.dropAccount(account, config.mariadb.demoAccountHost).catch((e) => log.error({ err: e }, 'dropping the template account failed'));
    throw err;
  }
}

/** Copies the checkpoint for network pairs added since it was taken (a spec of the current pairs). */
async function recordPairCheckpoints(deps: CheckpointDeps, spec: TemplateSpec): Promise<TemplateSpec> {
  const updated = await withPairCheckpoints(spec, deps.config.podman.pairs);
  if (updated === spec) return spec;
  writeTemplateSpec(deps.config.stateDir, updated);
  deps.log.info({ template: spec.name, pairs: Object.keys(updated.pairCheckpoints ?? {}) }, 'template checkpoint copied for further network pairs');
  return updated;
}

/**
 * Tables whose content differs from the data as loaded, ignoring the page caches the warm-up fills
 * (every demo empties them). Anything else changed means something wrote to the template's data.
 */
export function changedTables(before: Record<string, string>, after: Record<string, string>, prefix: string): string[] {
  const caches = new Set(SHOP_CACHE_TABLES.map((t) => prefix + t));
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].filter((t) => !caches.has(t) && before[t] !== after[t]).sort();
}

