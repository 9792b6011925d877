/** Leak checks: everything a demo owned must be gone once its workflow has ended. */
import { request } from 'undici';
import { expect } from 'vitest';
import { demoHostFor } from '../../lib/config';
import { demoResourceNames } from '../../lib/ids';
import type { RealDeps } from '../../workers/deps';

export async function demoTraces(deps: RealDeps, demoId: string) {
  const { config, podman, mariadb, valkey } = deps;
  const n = demoResourceNames(config.profile, demoId);
  // A fresh connection each time: Caddy closes kept-alive ones when its config reloads.
  const res = await request(`http://127.0.0.1:${config.caddy.httpPort}/`, { reset: true, headers: { host: demoHostFor(config, demoId) } });
  await res.body.dump();
  return {
    container: (await podman.inspect(n.container)) !== undefined,
    database: await mariadb.databaseExists(n.database),
    prefixedTables: (await mariadb.tablesWithPrefix(config.demos.sharedDatabase, n.tablePrefix)).length,
    accounts: (await mariadb.listAccounts(n.account)).length,
    valkeyKey: (await valkey.exists(n.valkeyKey)) === 1,
    routeStatus: res.statusCode,
  };
}

export async function expectNoTraces(deps: RealDeps, demoId: string): Promise<void> {
  expect(await demoTraces(deps, demoId)).toEqual({
    container: false, database: false, prefixedTables: 0, accounts: 0, valkeyKey: false, routeStatus: 404,
  });
}
