import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent } from '../../adapters/mariadb';
import { createRealDeps, type RealDeps } from '../../adapters/real-deps';
import { newDemoId, testConfig } from '../helpers/stack';

let deps: RealDeps;
const suffix = newDemoId();
const src = `dmx_t_src_${suffix}`;
const a = `dmx_t_a_${suffix}`;
const b = `dmx_t_b_${suffix}`;

beforeAll(async () => {
  deps = createRealDeps(testConfig(), 'test-mariadb');
  const q = (sql: string) => deps.mariadb.pool.query(sql);
  await q(`CREATE DATABASE ${src}`);
  await q(`CREATE TABLE ${src}.ps_product (id INT PRIMARY KEY, name VARCHAR(50))`);
  await q(`INSERT INTO ${src}.ps_product VALUES (1, 'one'), (2, 'two')`);
  await q(`CREATE TABLE ${src}.ps_shop_url (id_shop INT, domain VARCHAR(255), domain_ssl VARCHAR(255))`);
  await q(`CREATE TABLE ${src}.other_table (x INT)`);
});
afterAll(async () => {
  for (const db of [src, a, b]) await deps.mariadb.dropDatabase(db);
  for (const u of [a, b]) await deps.mariadb.dropAccount(u, '127.0.0.1');
  await deps.close();
});

describe('mariadb adapter (real MariaDB)', () => {
  it('clones the prefixed tables of a template into another database and prefix', async () => {
    expect(await deps.mariadb.cloneTables(src, 'ps_', a, 'ps_')).toBe(2);
    expect(await deps.mariadb.tablesWithPrefix(a, 'ps_')).toEqual(['ps_product', 'ps_shop_url']);
    // A retried clone converges on the same copy rather than failing or doubling rows.
    expect(await deps.mariadb.cloneTables(src, 'ps_', a, 'ps_')).toBe(2);
    const [rows] = await deps.mariadb.pool.query(`SELECT COUNT(*) AS n FROM ${a}.ps_product`);
    expect(Number((rows as Array<{ n: number }>)[0]!.n)).toBe(2);
  });

  it('gives an account its own database only', async () => {
    await deps.mariadb.cloneTables(src, 'ps_', b, 'xyz_');
    await deps.mariadb.grantAccount(a, '127.0.0.1', 'pw-a-123456', { database: a });
    const conn = await mysql.createConnection({ host: '127.0.0.1', port: deps.config.mariadb.port, user: a, password: 'pw-a-123456' });
    try {
      const [own] = await conn.query(`SELECT name FROM ${a}.ps_product ORDER BY id`);
      expect((own as Array<{ name: string }>).map((r) => r.name)).toEqual(['one', 'two']);
      await expect(conn.query(`SELECT * FROM ${b}.xyz_product`)).rejects.toThrow(/denied/);
      await expect(conn.query(`SELECT * FROM ${src}.ps_product`)).rejects.toThrow(/denied/);
      await expect(conn.query('SELECT * FROM mysql.user')).rejects.toThrow(/denied/);
    } finally {
      await conn.end();
    }
  });

  it('drops prefixed tables and databases idempotently', async () => {
    expect(await deps.mariadb.dropPrefixedTables(b, 'xyz_')).toBe(2);
    expect(await deps.mariadb.dropPrefixedTables(b, 'xyz_')).toBe(0);
    await deps.mariadb.dropDatabase(b);
    await deps.mariadb.dropDatabase(b);
    expect(await deps.mariadb.databaseExists(b)).toBe(false);
    await deps.mariadb.dropAccount(a, '127.0.0.1');
    await deps.mariadb.dropAccount(a, '127.0.0.1');
    expect(await deps.mariadb.listAccounts(a)).toEqual([]);
  });

  it('refuses identifiers that are not plain names before they reach SQL', async () => {
    for (const bad of ['a`b', 'x; DROP DATABASE mysql', '../etc', '', 'é', 'a'.repeat(65)]) {
      expect(() => quoteIdent(bad)).toThrow(/unsafe SQL identifier/);
    }
    await expect(deps.mariadb.dropDatabase('mysql`; --')).rejects.toThrow(/unsafe/);
    await expect(deps.mariadb.dropPrefixedTables(src, 'ps')).rejects.toThrow(/too short|this short/);
  });
});
