/**
 * What every measurement shares: configuration, a Temporal client, the real adapters, a private
 * API process with the per-IP limits off, and the bookkeeping that lets the run clean up after
 * itself (every demo it obtained is released and checked for leftovers at the end).
 */
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Agent, request } from 'undici';
import type { Pool } from 'mysql2/promise';
import { demoFootprint, isClean, statusThroughCaddy, type DemoFootprint } from '../adapters/footprint';
import { createMariaDbPool } from '../adapters/mariadb';
import { createRealDeps, type RealDeps } from '../adapters/real-deps';
import { createFreshDemoSource } from '../api/demo-service';
import { demoHandle, poolStats } from '../client';
import { connectTemporalClient } from '../client';
import { releaseDemoSignal, type DemoState, type PoolStats } from '../contract';
import { loadConfig, repoRoot, type Config } from '../lib/config';
import { createLogger } from '../lib/logger';

export interface BenchOptions {
  quick: boolean;
  template: string;
  /** Acquire: concurrency levels and claims per level. */
  acquireConcurrency: number[];
  acquireClaims: number[];
  coldSamples: number;
  teardownSamples: number;
  /** Route registration: names published in a names server, live aliases on an edge network, Caddy admin routes. */
  namesLevels: number[];
  aliasLevels: number[];
  caddyLevels: number[];
  routeSamples: number;
  /** Scaling curve: live demo levels. */
  scaleLevels: number[];
  /** Refill knee: provisions at a time, and fresh demos per level. */
  kneeLevels: number[];
  kneeDemos: number;
  only?: string[];
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastErr: unknown;
  for (;;) {
    try {
      last = await fn();
      if (ok(last)) return last;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)?.slice(0, 300) ?? (lastErr as Error)?.message}`);
    }
    await sleep(everyMs);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface BenchApi {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Our own API process (same code as the running one) with the rate and live-demo limits off. */
export async function startBenchApi(config: Config): Promise<BenchApi> {
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DMX_PROFILE: config.profile,
      DMX_STATE_DIR: config.stateDir,
      DMX_API_PORT: String(port),
      DMX_API_HOST: '127.0.0.1',
      // Not Caddy's way in: that socket is the running API's.
      DMX_API_EDGE_SOCKET: 'off',
      DMX_RATE_LIMIT_PER_MINUTE: '0',
      DMX_MAX_LIVE_DEMOS_PER_IP: '0',
      DMX_CLAIMS_PER_HOUR_PER_IP: '0',
      // The teardown section claims demos with a 2 s TTL; the visitor-facing minimum (minutes, so
      // one client cannot cycle through a pool) does not apply to the benchmark's own API.
      DMX_MIN_TTL_SECONDS: '1',
      DMX_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr = (stderr + b.toString()).slice(-2000); });
  const url = `http://127.0.0.1:${port}`;
  try {
    await until('bench API /healthz', async () => {
      if (child.exitCode !== null) throw new Error(`bench API exited ${child.exitCode}: ${stderr}`);
      const r = await request(`${url}/healthz`);
      await r.body.dump();
      return r.statusCode;
    }, (s) => s === 200, 30_000, 100);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return {
    url,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(t);
    },
  };
}

export interface BenchContext {
  opts: BenchOptions;
  config: Config;
  client: Client;
  connection: Connection;
  deps: RealDeps;
  /** Direct SQL for measurements (sizes). */
  sql: Pool;
  api: BenchApi;
  /** HTTP client with enough connections for the highest concurrency. */
  http: Agent;
  /** Fresh (cold) demos, the same code path the API uses for a template without a pool. */
  fresh: ReturnType<typeof createFreshDemoSource>;
  /** Every demo this run obtained: released and leak-checked at the end. */
  demos: Set<string>;
  log: ReturnType<typeof createLogger>;
  errors: string[];
}

export async function createContext(opts: BenchOptions): Promise<BenchContext> {
  const config = loadConfig({ ...process.env, DMX_LOG_LEVEL: process.env.DMX_LOG_LEVEL ?? 'warn' });
  const log = createLogger('dmx-bench', config.logLevel, 2);
  const { client, connection } = await connectTemporalClient(config);
  const deps = createRealDeps(config, 'dmx-bench', 2);
  const sql = createMariaDbPool({ ...config.mariadb, connectionLimit: 1 });
  const api = await startBenchApi(config);
  const fresh = createFreshDemoSource({ client, config, log });
  const http = new Agent({ connections: 256, pipelining: 1, keepAliveTimeout: 30_000 });
  return { opts, config, client, connection, deps, sql, api, http, fresh, demos: new Set(), log, errors: [] };
}

export async function closeContext(ctx: BenchContext): Promise<void> {
  await ctx.api.stop().catch(() => undefined);
  await ctx.http.close().catch(() => undefined);
  await ctx.deps.close().catch(() => undefined);
  await ctx.sql.end().catch(() => undefined);
  await ctx.connection.close().catch(() => undefined);
}

export const stats = (ctx: BenchContext): Promise<PoolStats> => poolStats(ctx.client, ctx.config, ctx.opts.template);

/** Status code of the demo's front page through Caddy, as a visitor gets it. */
export const viaCaddy = (ctx: BenchContext, demoId: string): Promise<number> => statusThroughCaddy(ctx.deps, demoId, ctx.http);

/** What is left of a demo (the same check as the tests' leak check). */
export const demoTraces = (ctx: BenchContext, demoId: string, o?: { route: boolean }): Promise<DemoFootprint> => demoFootprint(ctx.deps, demoId, ctx.http, o);

export { isClean };

/** Releases demos (signal) and waits for their workflows to end. */
export async function releaseDemos(ctx: BenchContext, ids: readonly string[], reason = 'bench done'): Promise<void> {
  await Promise.all(ids.map(async (id) => {
    const h = demoHandle(ctx.client, id);
    await h.signal(releaseDemoSignal, { reason }).catch(() => undefined);
    await h.result().catch(() => undefined);
  }));
}

/** Releases through our API (DELETE /v1/demos/{id}), then waits for the workflows to end. */
export async function deleteDemos(ctx: BenchContext, ids: readonly string[]): Promise<void> {
  await Promise.all(ids.map(async (id) => {
    const r = await request(`${ctx.api.url}/v1/demos/${id}`, { method: 'DELETE', dispatcher: ctx.http }).catch(() => undefined);
    await r?.body.dump();
  }));
  await releaseDemos(ctx, ids); // waits for the ends (and signals any DELETE that did not go through)
}

export type { DemoState };
