/** Serving the API on an ephemeral port against the real stack, and calling it. */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { request } from 'undici';
import { expect } from 'vitest';
import { createApp } from '../../api/app';
import { createApiDeps, type ApiDeps } from '../../api/deps';
import { createApiServer, edgeFetch, listenOnUnixSocket } from '../../api/http-server';
import type { Config } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { newDemoId, testConfig } from '../helpers/stack';

export const OPERATOR_TOKEN = 'test-operator-token-0123456789';

/** Base settings of every test app: the suite's queue prefix, short TTLs, a cap reachable in a test. */
export function apiTestConfig(overrides: Record<string, string> = {}): Config {
  return testConfig({
    DMX_TASK_QUEUE_PREFIX: 't-api-',
    DMX_OPERATOR_TOKEN: OPERATOR_TOKEN,
    DMX_DEFAULT_TTL_SECONDS: '20',
    DMX_MAX_TTL_SECONDS: '60',
    DMX_MAX_LIFETIME_SECONDS: '60',
    DMX_RATE_LIMIT_PER_MINUTE: '0',
    DMX_MAX_LIVE_DEMOS_PER_IP: '0',
    DMX_CLAIMS_PER_HOUR_PER_IP: '0',
    DMX_MIN_TTL_SECONDS: '1',
    DMX_TRUSTED_PROXY_HEADER: 'x-forwarded-for',
    DMX_API_ACQUIRE_TIMEOUT_SECONDS: '60',
    ...overrides,
  });
}

export interface Served {
  base: string;
  deps: ApiDeps;
  server: Server;
  close(): Promise<void>;
}

/**
 * On an ephemeral port; `forCaddy`: on the configured API port and edge socket, which Caddy sends
 * the launcher's host and each demo host's /__dmx/ to (one such API per stack at a time).
 */
export async function serveApi(config: Config, forCaddy = false): Promise<Served> {
  const deps = createApiDeps(config, { defaultMetrics: false, log: createLogger('test-api', process.env.DMX_LOG_LEVEL ?? 'warn'), servesEdge: forCaddy && Boolean(config.api.edgeSocket) });
  const app = createApp(deps);
  const server = createApiServer(app.fetch);
  await new Promise<void>((resolve) => server.listen(forCaddy ? config.api.port : 0, '127.0.0.1', resolve));
  const edge = forCaddy && config.api.edgeSocket ? createApiServer(edgeFetch(app.fetch)) : undefined;
  if (edge) await listenOnUnixSocket(edge, config.api.edgeSocket);
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    deps,
    server,
    async close() {
      await Promise.all([server, ...(edge ? [edge] : [])].map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      })));
      await deps.close();
    },
  };
}

export interface CallResult<T = unknown> { status: number; headers: Record<string, string | string[] | undefined>; body: T; text: string }

export async function call<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any
  base: string,
  method: string,
  path: string,
  o: { json?: unknown; body?: string | Buffer; headers?: Record<string, string>; ip?: string } = {},
): Promise<CallResult<T>> {
  const headers: Record<string, string> = { ...(o.ip ? { 'x-forwarded-for': o.ip } : {}), ...o.headers };
  let body = o.body;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['content-type'] ??= 'application/json';
  }
  const res = await request(`${base}${path}`, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.statusCode, headers: res.headers, body: parsed as T, text };
}

/** A random private IPv4 address: each test gets its own rate-limit buckets. */
export function randomIp(): string {
  const b = () => Math.floor(Math.random() * 254) + 1;
  return `10.${b()}.${b()}.${b()}`;
}

export async function eventually<T>(fn: () => Promise<T>, o: { timeoutMs?: number; intervalMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, o.intervalMs ?? 300));
    }
  }
}

export interface Seen { method: string; path: string; status: number }

/**
 * The OpenAPI document covers what the tests saw: every (method, path template) they called is
 * documented with the status they got, the required paths exist, and every documented operation
 * is routed (never the catch-all 404 "no such endpoint").
 */
export async function expectOpenApiCovers(base: string, seen: readonly Seen[], requiredPaths: readonly string[]): Promise<void> {
  const r = await call(base, 'GET', '/openapi.json');
  expect(r.status).toBe(200);
  const doc = r.body as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
  expect(doc.openapi).toBe('3.1.0');
  for (const p of requiredPaths) expect(doc.paths).toHaveProperty([p]);
  for (const s of seen) {
    const operation = doc.paths[s.path]?.[s.method];
    expect(operation, `${s.method} ${s.path}`).toBeDefined();
    expect(Object.keys(operation!.responses), `${s.method} ${s.path} -> ${s.status}`).toContain(String(s.status));
  }
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of Object.keys(ops)) {
      const url = path.replace('{id}', newDemoId()).replace('{template}', 'standin');
      const res = await call(base, method.toUpperCase(), url, method === 'post' || method === 'put' ? { json: { unknownField: 1 }, ip: randomIp() } : { ip: randomIp() });
      expect(res.status, `${method} ${path}`).not.toBe(405);
      if (res.status === 404) expect(res.body.error.code, `${method} ${path}`).toBe('not_found');
      expect(res.body?.error?.message ?? '', `${method} ${path}`).not.toBe('no such endpoint');
    }
  }
}
