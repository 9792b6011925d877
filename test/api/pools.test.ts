/**
 * Warm pools through the HTTP API on the real stack: POST /v1/demos claims from the template's pool
 * (fast, idempotent per caller and key, within the live-demo limit), answers 503 + Retry-After when
 * an empty pool may not wait, waits for a cold provision when it may, and falls back to a fresh demo
 * once the pool is gone; operators list, read, start and resize pools.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolHandle, poolStats } from '../../client';
import { Demo, ErrorResponse, PoolList, PoolStats } from '../../api/schemas';
import { expectNoTraces } from '../helpers/leaks';
import { newDemoId, startHarness, testConfig, type Harness } from '../helpers/stack';
import { apiTestConfig, call, eventually, expectOpenApiCovers, OPERATOR_TOKEN, randomIp, serveApi, type CallResult, type Seen, type Served } from './helpers';

const PREFIX = 't-apipool-';
const TEMPLATE = 'standin';
const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };

let h: Harness;
let api: Served;
let limited: Served;
const ip = randomIp();
/** Demos this suite was handed: released and checked for leaks at the end. */
const claimed = new Set<string>();
const seen: Seen[] = [];

function record<T>(method: string, path: string, r: CallResult<T>): CallResult<T> {
  seen.push({ method: method.toLowerCase(), path, status: r.status });
  return r;
}

async function postDemo(app: Served, body: Record<string, unknown>, o: { key?: string; ip?: string } = {}) {
  const r = record('post', '/v1/demos', await call(app.base, 'POST', '/v1/demos', { json: body, ip: o.ip ?? ip, headers: o.key ? { 'idempotency-key': o.key } : {} }));
  if (r.body?.id) claimed.add(r.body.id);
  return r;
}

const stats = () => poolStats(h.client, h.config, TEMPLATE);

async function viaCaddy(url: string): Promise<number> {
  const u = new URL(url);
  const res = await request(`http://127.0.0.1:${h.config.caddy.httpPort}${u.pathname}`, { headers: { host: u.host } });
  await res.body.dump();
  return res.statusCode;
}

async function cancelPool(): Promise<void> {
  const handle = poolHandle(h.client, h.config, TEMPLATE);
  await handle.cancel().catch(() => undefined);
  await handle.result().catch(() => undefined); // a cancelled workflow's result rejects
}

/** No demo workflow of this suite still runs (the workers stop with the suite). */
async function noRunningDemos(): Promise<void> {
  const { count } = await h.client.workflow.count(`DmxKind = 'demo' AND TaskQueue = '${PREFIX}dmx-shared' AND ExecutionStatus = 'Running'`);
  expect(count).toBe(0);
}

beforeAll(async () => {
  h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
  await cancelPool(); // a previous, interrupted run
  const settings = { DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_POOL_CLAIM_WAIT_SECONDS: '30', DMX_POOL_MAX_CONCURRENT_PROVISIONS: '2' };
  api = await serveApi(apiTestConfig(settings));
  limited = await serveApi(apiTestConfig({ ...settings, DMX_MAX_LIVE_DEMOS_PER_IP: '1' }));
});

afterAll(async () => {
  // Normally done by the last test already; here only if something failed half-way.
  await Promise.allSettled([...claimed].map((id) => call(api.base, 'DELETE', `/v1/demos/${id}`, { headers: op })));
  await cancelPool().catch(() => undefined);
  await eventually(noRunningDemos, { timeoutMs: 30_000, intervalMs: 500 }).catch(() => undefined);
  await Promise.allSettled([api?.close(), limited?.close()]);
  await h?.stop();
});

describe('pool endpoints', () => {
  it('need the operator token and validate the template and target', async () => {
    for (const [method, path] of [['GET', '/v1/pools'], ['GET', `/v1/pools/${TEMPLATE}`], ['PUT', `/v1/pools/${TEMPLATE}`]] as const) {
      const json = method === 'PUT' ? { target: 1 } : undefined;
      const none = record(method, path.replace(`/${TEMPLATE}`, '/{template}'), await call(api.base, method, path, { json, ip }));
      expect(none.status, `${method} ${path}`).toBe(401);
      expect(ErrorResponse.parse(none.body).error.code).toBe('unauthorized');
      // An API caller's bearer that is not the operator token is refused too.
      expect((await call(api.base, method, path, { json, headers: { authorization: 'Bearer not-the-operator-token' } })).status).toBe(401);
    }
    const missing = record('get', '/v1/pools/{template}', await call(api.base, 'GET', `/v1/pools/${TEMPLATE}`, { headers: op }));
    expect(missing.status, missing.text).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const badName = record('get', '/v1/pools/{template}', await call(api.base, 'GET', '/v1/pools/Not_A_Name', { headers: op }));
    expect(badName.status).toBe(400);

    for (const body of [{ target: -1 }, { target: 501 }, { target: 1.5 }, { target: '2' }, {}, { target: 2, extra: 1 }]) {
      const r = record('put', '/v1/pools/{template}', await call(api.base, 'PUT', `/v1/pools/${TEMPLATE}`, { json: body, headers: op }));
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(r.body.error.code, JSON.stringify(body)).toBe('validation_failed');
    }
    const unknown = record('put', '/v1/pools/{template}', await call(api.base, 'PUT', '/v1/pools/nope-not-here', { json: { target: 1 }, headers: op }));
    expect(unknown.status, unknown.text).toBe(400);
    expect(unknown.body.error.code).toBe('unknown_template');

    const list = record('get', '/v1/pools', await call(api.base, 'GET', '/v1/pools', { headers: op }));
    expect(list.status).toBe(200);
    expect(PoolList.parse(list.body).pools.map((p) => p.template)).not.toContain(TEMPLATE);
  });

  it('PUT starts the pool (201), then resizes it (200); GET shows it filled', async () => {
    const start = record('put', '/v1/pools/{template}', await call(api.base, 'PUT', `/v1/pools/${TEMPLATE}`, { json: { target: 2 }, headers: op }));
    expect(start.status, start.text).toBe(201);
    expect(PoolStats.parse(start.body)).toMatchObject({ template: TEMPLATE, target: 2 });
    const again = record('put', '/v1/pools/{template}', await call(api.base, 'PUT', `/v1/pools/${TEMPLATE}`, { json: { target: 2 }, headers: op }));
    expect(again.status, again.text).toBe(200);

    const filled = await eventually(async () => {
      const g = record('get', '/v1/pools/{template}', await call(api.base, 'GET', `/v1/pools/${TEMPLATE}`, { headers: op }));
      expect(g.status).toBe(200);
      expect(g.body.ready).toBe(2);
      return PoolStats.parse(g.body);
    }, { timeoutMs: 40_000, intervalMs: 300 });
    expect(filled.readyDemoIds).toHaveLength(2);
    expect(filled.claimWait.at(-1)?.le).toBe('+Inf');

    await eventually(async () => {
      const list = record('get', '/v1/pools', await call(api.base, 'GET', '/v1/pools', { headers: op }));
      expect(PoolList.parse(list.body).pools.find((p) => p.template === TEMPLATE)?.target).toBe(2);
    }, { timeoutMs: 10_000 });
    const metrics = await call(api.base, 'GET', '/metrics');
    expect(metrics.text).toMatch(/dmx_api_pool_ready\{template="standin"\} 2/);
    expect(metrics.text).toMatch(/dmx_api_pool_target\{template="standin"\} 2/);
    expect(metrics.text).toMatch(/dmx_api_pool_provisioning\{template="standin"\} \d/);
    expect(metrics.text).toContain('dmx_api_pool_stats_up 1');
  });
});

describe('POST /v1/demos with a pool', () => {
  it('hands out a pooled demo at once; the same Idempotency-Key gets the same demo, another caller none of it', async () => {
    const before = (await stats()).readyDemoIds;
    expect(before.length).toBeGreaterThan(0);
    const key = `k-${newDemoId()}${newDemoId()}`;
    const t0 = performance.now();
    const r = await postDemo(api, { template: TEMPLATE, ttlSeconds: 20 }, { key });
    const ms = performance.now() - t0;
    expect(r.status, r.text).toBe(201);
    const demo = Demo.parse(r.body);
    expect(demo.status).toBe('ready');
    expect(before).toContain(demo.id);
    expect(ms).toBeLessThan(2_000);
    expect(Date.parse(demo.expiresAt!) - Date.now()).toBeGreaterThan(15_000);
    expect(demo.credentials?.email).toBeTruthy();
    expect(await viaCaddy(demo.url!)).toBe(200);
    // The demo acknowledges its claim (after the answer), and the pool counts it.
    const claimedCount = await eventually(async () => {
      const n = (await stats()).counters.claimed;
      expect(n).toBeGreaterThanOrEqual(1);
      return n;
    }, { timeoutMs: 10_000 });

    const retry = await postDemo(api, { template: TEMPLATE, ttlSeconds: 20 }, { key });
    expect(retry.status, retry.text).toBe(201);
    expect(retry.body.id).toBe(demo.id);
    expect(retry.body.credentials).toEqual(demo.credentials);
    expect(retry.body.accessToken).toBe(r.body.accessToken);
    expect((await stats()).counters.claimed).toBe(claimedCount);

    // The key is the caller's: someone else using the same key gets nothing of that demo.
    const other = await postDemo(api, { template: TEMPLATE, ttlSeconds: 20 }, { key, ip: randomIp() });
    expect(other.status, other.text).toBe(409);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(other.text).not.toContain(demo.id);

    const metrics = await call(api.base, 'GET', '/metrics');
    expect(metrics.text).toMatch(/dmx_api_demo_claim_seconds_count\{template="standin",source="pool"\} [1-9]/);
    expect(metrics.text).toMatch(/dmx_api_demo_claims_total\{template="standin",source="pool",outcome="ready"\} [1-9]/);
  });

  it('keeps the live-demo limit with pooled demos: parallel requests cannot overshoot; DELETE frees the slot', async () => {
    const lip = randomIp();
    const results = await Promise.all(Array.from({ length: 3 }, () => postDemo(limited, { template: TEMPLATE, ttlSeconds: 20 }, { ip: lip })));
    expect(results.map((r) => r.status).sort(), results.map((r) => r.text).join('\n')).toEqual([201, 429, 429]);
    const gotRes = results.find((r) => r.status === 201)!;
    const got = gotRes.body.id as string;
    expect(results.find((r) => r.status === 429)!.body.error.code).toBe('too_many_live_demos');
    expect(await limited.deps.limiter.liveDemos(`ip:${lip}`)).toEqual([got]);
    // Without the token nothing happens; with it the demo ends and the slot is free.
    expect((await call(limited.base, 'DELETE', `/v1/demos/${got}`, { ip: lip })).status).toBe(401);
    expect(await limited.deps.limiter.liveDemos(`ip:${lip}`)).toEqual([got]);
    expect((await call(limited.base, 'DELETE', `/v1/demos/${got}`, { ip: lip, headers: { authorization: `Bearer ${gotRes.body.accessToken}` } })).status).toBe(202);
    expect(await limited.deps.limiter.liveDemos(`ip:${lip}`)).toEqual([]);
  });

  it('an empty pool: wait:false is 503 no_capacity with Retry-After; wait:true waits for a cold provision', async () => {
    const shrink = record('put', '/v1/pools/{template}', await call(api.base, 'PUT', `/v1/pools/${TEMPLATE}`, { json: { target: 0 }, headers: op }));
    expect(shrink.status, shrink.text).toBe(200);
    expect(shrink.body.target).toBe(0);
    // Lowering the target recycles the ready demos; refills under way finish and are recycled too.
    // Each takes itself off the Valkey ready list a moment after the pool let it go (until then a
    // claim would still get it: the claim wins over the recycle).
    await eventually(async () => {
      const s = await stats();
      expect([s.ready, s.provisioning]).toEqual([0, 0]);
      expect(await api.deps.claimer.store.readyCount(TEMPLATE)).toBe(0);
    }, { timeoutMs: 30_000, intervalMs: 300 });

    const refused = await postDemo(api, { template: TEMPLATE, ttlSeconds: 20, wait: false });
    expect(refused.status, refused.text).toBe(503);
    expect(ErrorResponse.parse(refused.body).error.code).toBe('no_capacity');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(300);

    const t0 = performance.now();
    const cold = await postDemo(api, { template: TEMPLATE, ttlSeconds: 20, wait: true });
    expect(cold.status, cold.text).toBe(201);
    expect(Demo.parse(cold.body).status).toBe('ready');
    expect(performance.now() - t0).toBeLessThan(30_000);
    expect(await viaCaddy(cold.body.url)).toBe(200);
    await eventually(async () => {
      const s = await stats();
      expect(s.counters.claimed).toBeGreaterThanOrEqual(3);
      expect(s.ready).toBe(0);
    }, { timeoutMs: 10_000 });
  });
});

describe('without a pool', () => {
  it('cancelling the pool: GET is 404, POST falls back to a fresh demo; nothing claimed is left behind', async () => {
    await cancelPool();
    const gone = record('get', '/v1/pools/{template}', await call(api.base, 'GET', `/v1/pools/${TEMPLATE}`, { headers: op }));
    expect(gone.status, gone.text).toBe(404);

    // The API learns that the pool is gone within a second (it asks only when the ready list is empty).
    await new Promise((r) => setTimeout(r, 1_100));
    const fresh = await postDemo(api, { template: TEMPLATE, ttlSeconds: 20 });
    expect(fresh.status, fresh.text).toBe(201);
    await eventually(async () => {
      // Visibility may list the cancelled pool for a moment.
      const metrics = await call(api.base, 'GET', '/metrics');
      expect(metrics.text).toMatch(/dmx_api_demo_claims_total\{template="standin",source="fresh",outcome="ready"\} 1/);
      expect(metrics.text).not.toMatch(/dmx_api_pool_ready\{template="standin"\}/);
    }, { timeoutMs: 10_000 });

    const ids = [...claimed];
    expect(ids.length).toBeGreaterThanOrEqual(3);
    for (const id of ids) {
      const d = record('delete', '/v1/demos/{id}', await call(api.base, 'DELETE', `/v1/demos/${id}`, { headers: op }));
      expect([202, 404], `${id}: ${d.text}`).toContain(d.status);
    }
    await eventually(async () => {
      await noRunningDemos();
      for (const id of ids) await expectNoTraces(h.deps, id);
    }, { timeoutMs: 40_000, intervalMs: 500 });
    claimed.clear();
  });
});

describe('OpenAPI document', () => {
  it('documents the pool routes with every status seen here', async () => {
    await expectOpenApiCovers(api.base, seen, ['/v1/pools', '/v1/pools/{template}', '/v1/demos']);
  });
});
