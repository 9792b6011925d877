/**
 * The reconciler's activities: compare what exists on this host (containers, MariaDB databases,
 * prefixed tables and accounts, Valkey keys, published names, Caddy's demo router) with the live demo workflows, and
 * remove what no live workflow owns once it has been orphaned for a grace period. Orphans come from
 * workflows that were terminated (instead of cancelled), a wiped Temporal database, or bugs.
 */
import type { Client } from '@temporalio/client';
import {
  DEMO_ID_SOURCE, demoIdFromWorkflowId, demoResourceNames, demoStateQuery, demoWorkflowId, reconcilerFindingsKey, reconcilerFirstSeenKey, releaseDemoSignal, SEARCH_ATTRIBUTES,
  type Findings, type Orphan, type ResourceKind,
} from '../contract';
import type { Firewall } from '../adapters/firewall';
import { listTemplateSpecs } from '../templates/spec';
import { dataStockFor } from './data-stock';
import { withHeartbeats, type ActivityDeps } from './common';
import { demoRouterOptions } from '../adapters/caddy';
import { routerProbe } from '../adapters/router-probe';

/** A demo that should have a running container and a published name: ready, or pooled. */
const routable = (status?: string) => status === 'ready' || status === 'pooled';

export interface ReconcilerDeps extends ActivityDeps { temporal: Client; firewall: Firewall }

export function createReconcilerActivities(deps: ReconcilerDeps) {
  return withHeartbeats(createReconcilerActivitiesUnwrapped(deps));
}

function createReconcilerActivitiesUnwrapped(deps: ReconcilerDeps) {
  const { config, podman, mariadb, caddy, valkey, temporal, firewall, names, log } = deps;
  const idPart = `(${DEMO_ID_SOURCE})`;

  async function liveDemos(): Promise<Map<string, { status?: string; host?: string }>> {
    const live = new Map<string, { status?: string; host?: string }>();
    // Every running demo in the namespace, whatever its queue prefix: a resource of any of them is not an orphan.
    for await (const wf of temporal.workflow.list({ query: `DmxKind = 'demo' AND ExecutionStatus = 'Running'` })) {
      const id = demoIdFromWorkflowId(wf.workflowId);
      if (!id) continue;
      live.set(id, { status: wf.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status), host: wf.typedSearchAttributes.get(SEARCH_ATTRIBUTES.host) });
    }
    return live;
  }

  async function inventory(): Promise<Array<{ kind: ResourceKind; demoId: string; name: string }>> {
    const found: Array<{ kind: ResourceKind; demoId: string; name: string }> = [];
    // A demo's container and its published name are both `dmx-<profile>-<id>`.
    const containerRe = new RegExp(`^dmx-${config.profile}-${idPart}$`);
    for (const c of await podman.list({ 'dmx.profile': config.profile })) {
      const m = containerRe.exec(c.name);
      if (m) found.push({ kind: 'container', demoId: m[1]!, name: c.name });
    }
    // Loosely: any database named like a demo's (dmx_d_<id>, or a look-alike such as dmx0d0<id>...
    // that an unescaped grant once allowed a demo to create) belongs to that demo.
    for (const db of await mariadb.listDatabases('dmx%')) {
      const m = new RegExp(`^dmx.d.${idPart}`).exec(db);
      if (m) found.push({ kind: 'database', demoId: m[1]!, name: db });
    }
    if (await mariadb.databaseExists(config.demos.sharedDatabase)) {
      const prefixes = new Set<string>();
      for (const t of await mariadb.tablesWithPrefix(config.demos.sharedDatabase, 'd')) {
        const m = new RegExp(`^d${idPart}_`).exec(t);
        if (m) prefixes.add(m[1]!);
      }
      for (const id of prefixes) found.push({ kind: 'tables', demoId: id, name: `${config.demos.sharedDatabase}.d${id}_*` });
    }
    for (const a of await mariadb.listAccounts('dmx%')) {
      const m = new RegExp(`^dmx.d.${idPart}`).exec(a.user);
      if (m) found.push({ kind: 'account', demoId: m[1]!, name: `${a.user}@${a.host}` });
    }
    let cursor = '0';
    do {
      const [next, keys] = await valkey.scan(cursor, 'MATCH', 'dmx:demo:*', 'COUNT', 500);
      cursor = next;
      for (const k of keys) {
        const m = new RegExp(`^dmx:demo:${idPart}$`).exec(k);
        if (m) found.push({ kind: 'valkey', demoId: m[1]!, name: k });
      }
    } while (cursor !== '0');
    for (const name of await names.list()) {
      const m = containerRe.exec(name);
      // The router probe's name is demo-shaped on purpose (stack.sh publishes it): never an orphan.
      if (m && m[1] !== config.caddy.routerProbeId) found.push({ kind: 'name', demoId: m[1]!, name });
    }
    return found;
  }

  /**
   * Live demos of this host that should be routable and are not: ready or pooled (in the visibility
   * list, then confirmed by the demo itself, so one whose teardown just withdrew its name is left
   * alone), their container here, their name unknown to the names server.
   */
  async function routableWithoutName(found: Array<{ kind: ResourceKind; demoId: string }>, live: Map<string, { status?: string; host?: string }>, containers: Set<string>): Promise<string[]> {
    const named = new Set(found.filter((r) => r.kind === 'name').map((r) => r.demoId));
    const candidates = [...live.entries()].filter(([id, d]) => d.host === config.hostId && routable(d.status) && containers.has(id) && !named.has(id));
    const lost: string[] = [];
    for (const [demoId] of candidates) {
      const state = await temporal.workflow.getHandle(demoWorkflowId(demoId)).query(demoStateQuery).catch((err: Error) => {
        log.warn({ demoId, err: err.message }, 'could not ask a demo without a name for its state; the next pass asks again');
        return undefined;
      });
      if (routable(state?.status)) lost.push(demoId);
    }
    if (lost.length) log.warn({ demoIds: lost }, 'live demos whose name the names server lost: publishing them again');
    return lost;
  }

  return {
    /** Finds orphans, remembers when each was first seen (Valkey), and lists those past the grace period. */
    async findOrphans(input: { graceSeconds: number }): Promise<Findings> {
      const now = Date.now();
      const routerRecreated = await caddy.ensureDemoRouter(demoRouterOptions(config));
      if (routerRecreated) log.warn('the Caddy demo router was missing and has been re-created');
      // Isolation must not depend on what else changed the host's rules since stack.sh up.
      const firewallReasserted = (await firewall.ensure()).changed;
      if (firewallReasserted) log.warn({ table: firewall.table }, 'the demo firewall was missing or altered and has been re-applied');
      // Reported, not repaired: the names server is a stack service (stack.sh up, or the host's
      // supervisor, restarts it) and its names are files, which a restart loses none of.
      let namesError: string | undefined;
      try {
        const probe = routerProbe(config, 'names check');
        if (!(await names.resolve(probe.name))) namesError = `the names server at ${names.server} does not know the router probe ${probe.name}`;
      } catch (err) {
        namesError = (err as Error).message;
      }
      if (namesError) log.error({ err: namesError }, 'the names server does not resolve the router probe');
      // Inventory first, live list second: a demo that starts in between is live, not an orphan.
      const found = await inventory();
      const live = await liveDemos();
      const key = reconcilerFirstSeenKey(config.profile);
      const seen = await valkey.hgetall(key);
      const orphans: Orphan[] = [];
      const stillOrphaned = new Set<string>();
      for (const r of found) {
        if (live.has(r.demoId)) continue;
        const field = `${r.kind}:${r.name}`;
        stillOrphaned.add(field);
        const firstSeen = seen[field] ?? new Date(now).toISOString();
        if (!seen[field]) await valkey.hset(key, field, firstSeen);
        orphans.push({ ...r, firstSeen });
      }
      const forgotten = Object.keys(seen).filter((f) => !stillOrphaned.has(f));
      if (forgotten.length > 0) await valkey.hdel(key, ...forgotten);

      const containers = new Set(found.filter((r) => r.kind === 'container').map((r) => r.demoId));
      const lostContainers = [...live.entries()]
        .filter(([id, d]) => d.host === config.hostId && routable(d.status) && !containers.has(id))
        .map(([id]) => id);
      const lostNames = await routableWithoutName(found, live, containers);
      const pairPorts = await Promise.all(config.podman.pairs.map((p) => podman.pairPorts(p)));
      // Never on first sight: a demo that started a moment ago may not be in the visibility list yet.
      const due = orphans.filter((o) => seen[`${o.kind}:${o.name}`] !== undefined && now - Date.parse(o.firstSeen) >= input.graceSeconds * 1000);
      const findings: Findings = { at: new Date(now).toISOString(), liveDemos: live.size, orphans, due, lostContainers, lostNames, pairPorts, routerRecreated, firewallReasserted, ...(namesError ? { namesError } : {}) };
      await valkey.set(reconcilerFindingsKey(config.profile), JSON.stringify(findings));
      return findings;
    },

    /** Removes due orphans with the lifecycle's own idempotent steps; releases demos that lost their container. */
    async removeOrphans(input: { due: Orphan[]; lostContainers: string[]; dryRun: boolean }): Promise<{ removed: number; released: number }> {
      if (input.dryRun) return { removed: 0, released: 0 };
      // The data stock: stock of versions no longer on disk goes; the current versions' is topped up.
      const specs = listTemplateSpecs(config.stateDir);
      const stock = dataStockFor(deps);
      const staleStock = await stock.prune(specs);
      if (staleStock.length) log.warn({ databases: staleStock }, 'dropped data stock of no current template version');
      for (const spec of specs) stock.refillSoon(spec);
      let removed = 0;
      const byDemo = new Map<string, Orphan[]>();
      for (const o of input.due) byDemo.set(o.demoId, [...(byDemo.get(o.demoId) ?? []), o]);
      for (const [demoId, list] of byDemo) {
        const n = demoResourceNames(config.profile, demoId);
        for (const o of list) {
          if (o.kind === 'container') await podman.remove(n.container);
          if (o.kind === 'database') await mariadb.dropDatabase(o.name);
          if (o.kind === 'tables') await mariadb.dropPrefixedTables(config.demos.sharedDatabase, n.tablePrefix);
          if (o.kind === 'account') await mariadb.dropAccount(o.name.split('@')[0]!, o.name.split('@')[1] ?? config.mariadb.demoAccountHost);
          if (o.kind === 'valkey') await valkey.del(n.valkeyKey);
          if (o.kind === 'name') await names.withdraw(n.container);
          removed++;
          log.warn({ demoId, kind: o.kind, name: o.name, firstSeen: o.firstSeen }, 'removed an orphan');
        }
      }
      let released = 0;
      for (const demoId of input.lostContainers) {
        try {
          await temporal.workflow.getHandle(demoWorkflowId(demoId)).signal(releaseDemoSignal, { reason: 'container lost (reconciler)' });
          released++;
        } catch (err) {
          log.warn({ demoId, err: (err as Error).message }, 'could not release a demo that lost its container');
        }
      }
      return { removed, released };
    },
  };
}

export type ReconcilerActivities = ReturnType<typeof createReconcilerActivities>;
