/**
 * What is left of a demo on this host: container, database, prefixed tables, account, Valkey keys,
 * its published name, and what Caddy answers for its host. Tests assert it is all gone after teardown; the benchmark
 * counts leaks with it.
 */
import { request, type Dispatcher } from 'undici';
import { claimKeys, demoResourceNames } from '../contract';
import { demoHostFor } from '../lib/public-urls';
import type { AdapterDeps } from './real-deps';

export interface DemoFootprint {
  container: boolean;
  database: boolean;
  prefixedTables: number;
  accounts: number;
  /** Its index key or its claim-store record (this deployment's). */
  valkeyKey: boolean;
  /** Its name at the names server (the file in the names folder). */
  name: boolean;
  /** Caddy's answer for the demo's host: 404 once the route is gone. */
  routeStatus: number;
}

/** What a torn-down demo leaves: nothing. */
export const NO_FOOTPRINT: DemoFootprint = { container: false, database: false, prefixedTables: 0, accounts: 0, valkeyKey: false, name: false, routeStatus: 404 };

/** Status code of the demo's front page through Caddy, as a visitor gets it. */
export async function statusThroughCaddy(deps: Pick<AdapterDeps, 'config'>, demoId: string, dispatcher?: Dispatcher): Promise<number> {
  const { config } = deps;
  // A fresh connection unless a dispatcher is given: Caddy closes kept-alive ones when its config reloads.
  const res = await request(`http://127.0.0.1:${config.caddy.httpPort}/`, {
    headers: { host: demoHostFor(config, demoId) },
    // Bounded: a leak check must fail, never hang, if Caddy holds a request.
    headersTimeout: 10_000, bodyTimeout: 10_000,
    ...(dispatcher ? { dispatcher } : { reset: true }),
  });
  await res.body.dump();
  return res.statusCode;
}

/** `route: false` skips the request through Caddy (reported as 404): callers that poll the route apart. */
export async function demoFootprint(deps: AdapterDeps, demoId: string, dispatcher?: Dispatcher, o: { route: boolean } = { route: true }): Promise<DemoFootprint> {
  const { config, podman, mariadb, valkey, names } = deps;
  const n = demoResourceNames(config.profile, demoId);
  const name = names.isPublished(n.container);
  const [container, database, prefixedTables, accounts, valkeyKey, routeStatus] = await Promise.all([
    podman.inspect(n.container).then((i) => i !== undefined),
    mariadb.databaseExists(n.database),
    mariadb.tablesWithPrefix(config.demos.sharedDatabase, n.tablePrefix).then((t) => t.length),
    mariadb.listAccounts(n.account).then((a) => a.length),
    valkey.exists(n.valkeyKey, claimKeys(config.profile, config.temporal.queuePrefix).record(demoId)).then((x) => x > 0),
    o.route ? statusThroughCaddy(deps, demoId, dispatcher) : Promise.resolve(404),
  ]);
  return { container, database, prefixedTables, accounts, valkeyKey, name, routeStatus };
}

export function isClean(f: DemoFootprint): boolean {
  return (Object.keys(NO_FOOTPRINT) as Array<keyof DemoFootprint>).every((k) => f[k] === NO_FOOTPRINT[k]);
}
