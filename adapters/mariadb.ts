/**
 * MariaDB adapter (mysql2): cloning a template's data for a demo, per-demo accounts, dropping both.
 * Every identifier is checked against a strict pattern before it is quoted into SQL; values always
 * travel as placeholders.
 */
import mysql, { type Pool, type RowDataPacket } from 'mysql2/promise';

export interface MariaDbOptions { host: string; port: number; user: string; password: string; connectionLimit?: number }

const IDENT = /^[A-Za-z0-9_]{1,64}$/;
export function quoteIdent(name: string): string {
  if (!IDENT.test(name)) throw new TypeError(`unsafe SQL identifier ${JSON.stringify(name).slice(0, 80)}`);
  return `\`${name}\``;
}
/**
 * A database name as a GRANT's scope: there `_` and `%` are wildcards, so `dmx_d_<id>` unescaped
 * would also grant `dmx0d0<id>` (a database teardown never sees). Escaped, it is exactly one name.
 */
export function quoteGrantDatabase(name: string): string {
  quoteIdent(name);
  return `\`${name.replace(/[_%]/g, '\\$&')}\``;
}
const HOST_PATTERN = /^[0-9.%]{1,60}$|^localhost$/;
function quoteAccount(user: string, host: string): string {
  if (!IDENT.test(user)) throw new TypeError(`unsafe account name ${JSON.stringify(user).slice(0, 80)}`);
  if (!HOST_PATTERN.test(host)) throw new TypeError(`unsafe account host ${JSON.stringify(host).slice(0, 80)}`);
  return `'${user}'@'${host}'`;
}

/** PrestaShop's page caches in the database: they hold absolute URLs, so every demo empties them. */
export const SHOP_CACHE_TABLES = ['smarty_cache', 'smarty_lazy_cache'];

export function createMariaDbPool(o: MariaDbOptions): Pool {
  return mysql.createPool({
    host: o.host, port: o.port, user: o.user, password: o.password,
    connectionLimit: o.connectionLimit ?? 8, multipleStatements: false, connectTimeout: 5_000,
    enableKeepAlive: true,
  });
}

export function createMariaDb(pool: Pool) {
  async function tablesWithPrefix(database: string, prefix: string): Promise<string[]> {
    const [rows] = await pool.query<RowDataPacket[]>(
      `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_name LIKE ? ORDER BY table_name`,
      [database, `${prefix.replace(/_/g, '\\_')}%`],
    );
    return rows.map((r) => r.t as string);
  }

  return {
    pool,
    tablesWithPrefix,

    async ping(): Promise<void> {
      await pool.query('SELECT 1');
    },

    async databaseExists(database: string): Promise<boolean> {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT 1 FROM information_schema.schemata WHERE schema_name = ?', [database]);
      return rows.length > 0;
    },

    async listDatabases(like: string): Promise<string[]> {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT schema_name AS s FROM information_schema.schemata WHERE schema_name LIKE ?', [like]);
      return rows.map((r) => r.s as string);
    },

    async listAccounts(like: string): Promise<Array<{ user: string; host: string }>> {
      const [rows] = await pool.query<RowDataPacket[]>('SELECT User AS user, Host AS host FROM mysql.user WHERE User LIKE ?', [like]);
      return rows.map((r) => ({ user: r.user as string, host: r.host as string }));
    },

    /**
     * Copies every `fromPrefix*` table of `fromDb` into `toDb` as `toPrefix*` (CREATE TABLE LIKE +
     * INSERT SELECT: the fastest of the methods measured here). Tables that exist already are
     * replaced, so a retried clone converges on a complete copy. One connection, foreign key checks
     * off for the copy.
     */
    async cloneTables(fromDb: string, fromPrefix: string, toDb: string, toPrefix: string): Promise<number> {
      const tables = await tablesWithPrefix(fromDb, fromPrefix);
      if (tables.length === 0) throw new Error(`template database ${fromDb} has no tables with prefix ${fromPrefix}`);
      const conn = await pool.getConnection();
      try {
        await conn.query('SET SESSION foreign_key_checks = 0, unique_checks = 0');
        const [created] = await conn.query<mysql.ResultSetHeader>(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(toDb)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
        // A database made just now holds nothing to replace (a warning, not a row, means it existed).
        const fresh = created.warningStatus === 0;
        for (const t of tables) {
          const target = toPrefix + t.slice(fromPrefix.length);
          const to = `${quoteIdent(toDb)}.${quoteIdent(target)}`;
          const from = `${quoteIdent(fromDb)}.${quoteIdent(t)}`;
          if (!fresh) await conn.query(`DROP TABLE IF EXISTS ${to}`);
          await conn.query(`CREATE TABLE ${to} LIKE ${from}`);
          await conn.query(`INSERT INTO ${to} SELECT * FROM ${from}`);
        }
        return tables.length;
      } finally {
        conn.release();
      }
    },

    /** CHECKSUM TABLE of every table of a database (content, not metadata): table -> checksum. */
    async checksumTables(database: string): Promise<Record<string, string>> {
      const tables = await tablesWithPrefix(database, '');
      if (tables.length === 0) return {};
      const [rows] = await pool.query<RowDataPacket[]>(`CHECKSUM TABLE ${tables.map((t) => `${quoteIdent(database)}.${quoteIdent(t)}`).join(', ')} EXTENDED`);
      return Object.fromEntries(rows.map((r) => [String(r.Table).split('.').pop()!, String(r.Checksum)]));
    },

    /**
     * Moves the named tables from one database into another in ONE statement: a metadata-only
     * change in MariaDB, atomic (all tables move or none). False when a table is no longer there
     * (someone else moved it first), so callers can race for the same source safely.
     */
    async moveTables(fromDb: string, toDb: string, tables: string[]): Promise<boolean> {
      if (tables.length === 0) throw new TypeError('moveTables needs at least one table');
      await pool.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(toDb)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
      const pairs = tables.map((t) => `${quoteIdent(fromDb)}.${quoteIdent(t)} TO ${quoteIdent(toDb)}.${quoteIdent(t)}`);
      try {
        await pool.query(`RENAME TABLE ${pairs.join(', ')}`);
        return true;
      } catch (err) {
        // ER_NO_SUCH_TABLE / ER_BAD_DB_ERROR: the source was taken or dropped meanwhile.
        if ((err as { errno?: number }).errno === 1146 || (err as { errno?: number }).errno === 1049) return false;
        throw err;
      }
    },

    /**
     * Databases matching a LIKE pattern with their table count and the oldest table's age in
     * seconds. One lookup per database: information_schema answers `table_schema = ?` from that
     * schema alone, where a join would open every table of every demo database.
     */
    async databasesWithTables(like: string): Promise<Array<{ database: string; tables: number; ageSeconds: number }>> {
      const [schemas] = await pool.query<RowDataPacket[]>('SELECT schema_name AS s FROM information_schema.schemata WHERE schema_name LIKE ? ORDER BY schema_name', [like]);
      const out: Array<{ database: string; tables: number; ageSeconds: number }> = [];
      for (const { s: database } of schemas) {
        const [[row]] = await pool.query<RowDataPacket[]>(
          'SELECT COUNT(*) AS n, COALESCE(TIMESTAMPDIFF(SECOND, MIN(create_time), NOW()), 0) AS age FROM information_schema.tables WHERE table_schema = ?',
          [database],
        );
        out.push({ database: database as string, tables: Number(row?.n ?? 0), ageSeconds: Number(row?.age ?? 0) });
      }
      return out;
    },

    async dropDatabase(database: string): Promise<void> {
      await pool.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)}`);
    },

    /** Drops every table of `database` whose name starts with `prefix` (the shared-database layout). */
    async dropPrefixedTables(database: string, prefix: string): Promise<number> {
      if (prefix.length < 4) throw new TypeError(`refusing to drop tables by a prefix this short: ${prefix}`);
      const tables = await tablesWithPrefix(database, prefix);
      if (tables.length === 0) return 0;
      await pool.query(`DROP TABLE IF EXISTS ${tables.map((t) => `${quoteIdent(database)}.${quoteIdent(t)}`).join(', ')}`);
      return tables.length;
    },

    /**
     * Creates (or re-keys) an account that can reach only the given tables: a whole database, or
     * in the prefix layout each of the demo's own tables.
     */
    async grantAccount(user: string, host: string, password: string, scope: { database: string; tables?: string[] }): Promise<void> {
      const account = quoteAccount(user, host);
      await pool.query(`CREATE USER IF NOT EXISTS ${account} IDENTIFIED BY ?`, [password]);
      await pool.query(`ALTER USER ${account} IDENTIFIED BY ? WITH MAX_USER_CONNECTIONS 20`, [password]);
      const privs = 'SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES';
      if (scope.tables) {
        for (const t of scope.tables) await pool.query(`GRANT ${privs} ON ${quoteIdent(scope.database)}.${quoteIdent(t)} TO ${account}`);
      } else {
        await pool.query(`GRANT ${privs} ON ${quoteGrantDatabase(scope.database)}.* TO ${account}`);
      }
    },

    async dropAccount(user: string, host: string): Promise<void> {
      await pool.query(`DROP USER IF EXISTS ${quoteAccount(user, host)}`);
    },

    /**
     * Gives a shop copy its identity in the database: its domain (PrestaShop keeps it in shop_url
     * and configuration) and a fresh back-office password; then empties the Smarty cache tables,
     * which hold absolute URLs of the template's domain.
     */
    async applyShopIdentity(o: { database: string; prefix: string; domain: string; adminEmail: string; adminPasswordHash: string }): Promise<void> {
      const t = (name: string) => `${quoteIdent(o.database)}.${quoteIdent(o.prefix + name)}`;
      const conn = await pool.getConnection();
      try {
        await conn.query(`UPDATE ${t('shop_url')} SET domain = ?, domain_ssl = ?`, [o.domain, o.domain]);
        await conn.query(`UPDATE ${t('configuration')} SET value = ?, date_upd = NOW() WHERE name IN ('PS_SHOP_DOMAIN', 'PS_SHOP_DOMAIN_SSL')`, [o.domain]);
        const [res] = await conn.query<mysql.ResultSetHeader>(`UPDATE ${t('employee')} SET passwd = ? WHERE email = ?`, [o.adminPasswordHash, o.adminEmail]);
        if (res.affectedRows !== 1) throw new Error(`expected one back-office employee ${o.adminEmail} in ${o.database}, updated ${res.affectedRows}`);
        const existing = new Set(await tablesWithPrefix(o.database, o.prefix));
        for (const cache of SHOP_CACHE_TABLES) {
          // PrestaShop 9 may lack them; a missing table is nothing to clear.
          if (existing.has(o.prefix + cache)) await conn.query(`TRUNCATE TABLE ${t(cache)}`);
        }
      } finally {
        conn.release();
      }
    },
  };
}

export type MariaDb = ReturnType<typeof createMariaDb>;
