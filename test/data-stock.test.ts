/**
 * The pieces that take work off a demo's critical path: the data stock (real MariaDB), the
 * parameters.php rewrite done from the host, and the guard that keeps host-side writes inside a
 * container's own folders.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataStockFor, stockNames } from '../activities/data-stock';
import { ContainerPathError, createContainerFs } from '../adapters/container-fs';
import { createRealDeps, type RealDeps } from '../adapters/real-deps';
import { parametersWithValues, type ShopParameters } from '../templates/parameters';
import { readTemplateSpec, type TemplateSpec } from '../templates/spec';
import { newDemoId, testConfig } from './helpers/stack';

const values: ShopParameters = {
  database_host: '10.0.0.1', database_port: '3306', database_name: 'dmx_d_x', database_user: 'dmx_d_x',
  database_password: "it's \\ quoted", database_prefix: 'ps_', cookie_key: 'k', cookie_iv: 'iv', new_cookie_key: 'n', secret: 's', dmx_login_key: 'l',
};

describe('parameters.php rewritten from the host', () => {
  it('merges the values over the file PHP wrote, keeping its expression and escaping quotes', () => {
    const original = "<?php return array (\n  'parameters' => \n  array (\n    'database_name' => 'tpl',\n    'locale' => 'en-US',\n  ),\n);\n";
    const out = parametersWithValues(original, values)!;
    expect(out).toContain("'locale' => 'en-US'");
    expect(out).toContain("'database_password' => 'it\\'s \\\\ quoted'");
    expect(out.startsWith("<?php $p = array (")).toBe(true);
    expect(out).toMatch(/return \$p;\n$/);
  });

  it('leaves files of any other shape to the exec path', () => {
    expect(parametersWithValues("<?php\n$x = 1;\nreturn ['parameters' => []];\n", values)).toBeUndefined();
    expect(parametersWithValues('not php', values)).toBeUndefined();
  });
});

describe('container files from the host', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dmx-cfs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes and empties real folders, and refuses to write through a symlinked folder', async () => {
    // Our own process: /proc/<pid>/root is this host's root, so paths are host paths here.
    const files = createContainerFs(process.pid);
    mkdirSync(join(dir, 'app/config'), { recursive: true });
    mkdirSync(join(dir, 'cache/sub'), { recursive: true });
    await files.write(join(dir, 'app/config/parameters.php'), 'new');
    expect(readFileSync(join(dir, 'app/config/parameters.php'), 'utf8')).toBe('new');
    await files.write(join(dir, 'cache/sub/x'), 'x');
    await files.emptyFolder(join(dir, 'cache'));
    expect(() => readFileSync(join(dir, 'cache/sub/x'))).toThrow();
    await files.emptyFolder(join(dir, 'missing'));

    const outside = mkdtempSync(join(tmpdir(), 'dmx-cfs-outside-'));
    symlinkSync(outside, join(dir, 'link'));
    await expect(files.write(join(dir, 'link/parameters.php'), 'evil')).rejects.toBeInstanceOf(ContainerPathError);
    expect(() => readFileSync(join(outside, 'parameters.php'))).toThrow();
    rmSync(outside, { recursive: true, force: true });
    expect(() => createContainerFs(1)).toThrow(ContainerPathError);
  });
});

describe('data stock (real MariaDB)', () => {
  let deps: RealDeps;
  let spec: TemplateSpec;
  const demoDb = `dmx_d_${newDemoId()}`;
  beforeAll(() => {
    const config = testConfig();
    deps = createRealDeps({ ...config, demos: { ...config.demos, dataStock: 2 } }, 'test-stock');
    // A template name and version of its own (cloned from the stand-in's database): a refill of the
    // stand-in's stock by a suite running beside this one drops the stand-in's other versions, and
    // would drop this test's fill under the stand-in's name.
    spec = { ...readTemplateSpec(config.stateDir, 'standin')!, name: `stocktest${newDemoId().slice(0, 8)}`, version: `stock-test-${newDemoId()}` };
  });
  afterAll(async () => {
    await deps.mariadb.dropDatabase(demoDb);
    for (const r of await deps.mariadb.databasesWithTables(`${stockNames(spec).anyVersion[0]!.replace(/_/g, '\\_')}%`)) await deps.mariadb.dropDatabase(r.database);
    await deps.close();
  });
  const ready = async (s: TemplateSpec) => (await deps.mariadb.databasesWithTables(`${stockNames(s).ready.replace(/_/g, '\\_')}%`));

  it('fills to its target, hands a complete copy over by moving it, and refills', async () => {
    const stock = dataStockFor(deps);
    const tables = await deps.mariadb.tablesWithPrefix(spec.database, spec.tablePrefix);
    stock.refillSoon(spec);
    await stock.settled();
    expect((await ready(spec)).map((r) => r.tables)).toEqual([tables.length, tables.length]);

    expect(await stock.take(spec, demoDb)).toBe(true);
    expect(await deps.mariadb.tablesWithPrefix(demoDb, spec.tablePrefix)).toEqual(tables);
    const [[row]] = await deps.mariadb.pool.query(`SELECT COUNT(*) AS n FROM \`${demoDb}\`.\`${spec.tablePrefix}product\``) as unknown as [[{ n: number }]];
    expect(Number(row.n)).toBeGreaterThan(0);
    expect(await ready(spec)).toHaveLength(1);

    stock.refillSoon(spec);
    await stock.settled();
    expect(await ready(spec)).toHaveLength(2);
  }, 60_000);

  it('drops stock of a version that is no longer current', async () => {
    const stock = dataStockFor(deps);
    const newer = { ...spec, version: `${spec.version}-next` };
    // The real template stays current: the workers' own stock is not this test's to drop.
    const dropped = await stock.prune([newer, readTemplateSpec(deps.config.stateDir, 'standin')!]);
    expect(dropped.filter((d) => d.startsWith(stockNames(spec).ready))).toHaveLength(2);
    expect(await ready(spec)).toHaveLength(0);
    // Nothing to take for the old version: the caller clones instead.
    expect(await stock.take(spec, `${demoDb}_x`)).toBe(false);
  }, 60_000);
});
