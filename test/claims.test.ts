/**
 * Claims from the Valkey ready list on the real stack, through the HTTP API: the API SIGKILLed
 * mid-burst (run as a child process) and Valkey restarted mid-burst lose and double nothing, every
 * claimed demo gets its TTL and ends on time; an operator-cancelled demo is never handed out after
 * the cancel is acknowledged; Idempotency-Keys are the caller's; quotas per API key, per visitor,
 * per IPv6 /64 and per hour.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePool, poolHandle, poolSettings, poolStats } from '../client';
import { demoStateQuery, demoWorkflowId, type DemoState } from '../contract';
import { repoRoot } from '../lib/config';
import { expectNoTraces } from './helpers/leaks';
import { killService, stackUp } from './helpers/services';
import { startHarness, testConfig, type Harness } from './helpers/stack';
import { apiTestConfig, call, eventually, OPERATOR_TOKEN, randomIp, serveApi, type Served } from './api/helpers';

const PREFIX = 't-claims-';
const TEMPLATE = 'standin';
const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };
const KEYS = ['claims-test-key-one-0123456789', 'claims-test-key-two-0123456789'];

let h: Harness;
let api: Served;
/** Every demo this suite was handed (by any path): checked at the end. */
const handed = new Set<string>();

const settings = { DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_POOL_CLAIM_WAIT_SECONDS: '0' };
const stats = () => poolStats(h.client, h.config, TEMPLATE);
const stateOf = (id: string) => h.client.workflow.getHandle(demoWorkflowId(id)).query(demoStateQuery);
const randomKey = () => `k${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}${Date.now()}`;

async function post(base: string, o: { ip?: string; headers?: Record<string, string>; ttlSeconds?: number } = {}) {
  const r = await call(base, 'POST', '/v1/demos', { json: { template: TEMPLATE, ttlSeconds: o.ttlSeconds ?? 30, wait: false }, ip: o.ip ?? randomIp(), headers: o.headers });
  if (r.status === 201) handed.add(r.body.id);
  return r;
}

async function fill(target: number): Promise<string[]> {
  await poolHandle(h.client, h.config, TEMPLATE).executeUpdate('setPoolTarget', { args: [{ target }] });
  const s = await eventually(async () => {
    const st = await stats();
    expect(st.ready).toBeGreaterThanOrEqual(target);
    expect(await api.deps.claimer.store.readyCount(TEMPLATE)).toBeGreaterThanOrEqual(target);
    return st;
  }, { timeoutMs: 120_000, intervalMs: 500 });
  return s.readyDemoIds;
}

/** A claimed demo applies the claim Valkey recorded: ready, with exactly that expiry. */
async function expectClaimApplied(id: string): Promise<DemoState> {
  const record = await api.deps.claimer.store.read(id);
  expect(record?.state).toBe('claimed');
  return eventually(async () => {
    const live = await stateOf(id);
    expect(live.status).toBe('ready');
    expect(live.expiresAt).toBe(record!.claim!.expiresAt);
    return live;
  }, { timeoutMs: 20_000 });
}

/** Every demo of this suite ends on its own by its claim's expiry (+ teardown), leaving nothing. */
async function expectExpiredOnTime(ids: string[]): Promise<void> {
  for (const id of ids) {
    const result = (await h.client.workflow.getHandle(demoWorkflowId(id)).result()) as DemoState;
    expect(result.status, id).toBe('expired');
    expect(Date.parse(result.endedAt!) - Date.parse(result.expiresAt!), id).toBeLessThan(15_000);
    expect(Date.parse(result.endedAt!), id).toBeGreaterThanOrEqual(Date.parse(result.expiresAt!));
    await expectNoTraces(h.deps, id);
  }
}

interface ChildApi { base: string; child: ChildProcess }
async function startChildApi(port: number): Promise<ChildApi> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'api/main.ts'], {
    cwd: repoRoot,
    env: {
      ...process.env, DMX_PROFILE: h.config.profile, DMX_STATE_DIR: h.config.stateDir, DMX_API_PORT: String(port), DMX_API_HOST: '127.0.0.1', DMX_API_EDGE_SOCKET: 'off',
      DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_OPERATOR_TOKEN: OPERATOR_TOKEN, DMX_RATE_LIMIT_PER_MINUTE: '0', DMX_MAX_LIVE_DEMOS_PER_IP: '0',
      DMX_CLAIMS_PER_HOUR_PER_IP: '0', DMX_MIN_TTL_SECONDS: '1', DMX_POOL_CLAIM_WAIT_SECONDS: '0', DMX_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    const r = await request(`${base}/healthz`);
    await r.body.dump();
    expect(r.statusCode).toBe(200);
  }, { timeoutMs: 30_000, intervalMs: 200 });
  return { base, child };
}

beforeAll(async () => {
  // No claim deliverer: every claim reaches its demo through the API processes' re-delivery, as
  // when the worker's deliverer is down or died with claims in hand.
  h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }), claimDelivery: false });
  api = await serveApi(apiTestConfig(settings));
  await ensurePool(h.client, h.config, poolSettings(h.config, TEMPLATE, 10, { maxConcurrentProvisions: 4 }));
});

afterAll(async () => {
  await Promise.allSettled([...handed].map((id) => call(api.base, 'DELETE', `/v1/demos/${id}`, { headers: op })));
  const handle = poolHandle(h.client, h.config, TEMPLATE);
  await handle.cancel().catch(() => undefined);
  await handle.result().catch(() => undefined);
  await api?.close();
  await h?.stop();
});

describe('claims from the ready list', () => {
  it('the API SIGKILLed mid-burst and restarted: nothing handed out twice, every claimed demo gets its TTL and expires on time', async () => {
    await fill(10);
    const port = 30_000 + Math.floor(Math.random() * 20_000);
    const first = await startChildApi(port);
    // Killed as soon as the first answers are out: others are claimed in Valkey and unanswered, or never reached it.
    let firstAnswer: () => void = () => undefined;
    const answering = new Promise<void>((r) => { firstAnswer = r; });
    const burst = Array.from({ length: 200 }, () => post(first.base, { ttlSeconds: 20 }).then((r) => {
      if (r.status === 201) firstAnswer();
      return r;
    }, () => undefined));
    await Promise.race([answering, new Promise((r) => setTimeout(r, 10_000))]);
    first.child.kill('SIGKILL');
    const answered = (await Promise.all(burst)).filter((r) => r?.status === 201).map((r) => r!.body.id as string);
    expect(answered.length).toBeGreaterThanOrEqual(1);
    expect(new Set(answered).size).toBe(answered.length);

    // Exactly what a kill between the claim script and the signal leaves: claimed in Valkey, never signalled.
    const orphan = await eventually(async () => {
      const out = await api.deps.claimer.store.claim({ template: TEMPLATE, claimId: 'orphan-claim', owner: 'test', requestedBy: 'test', ttlSeconds: 20, maxLifetimeSeconds: 60 });
      expect(out.kind).toBe('claimed');
      return (out as { demo: { demoId: string } }).demo.demoId;
    }, { timeoutMs: 90_000, intervalMs: 250 });
    expect((await stateOf(orphan)).status).toBe('pooled');
    // Claimed in Valkey, answered or not: the restarted API (or any replica) delivers them.
    const second = await startChildApi(port);
    try {
      const pool = await h.client.workflow.list({ query: `DmxKind = 'demo' AND TaskQueue = '${PREFIX}dmx-shared' AND ExecutionStatus = 'Running'` });
      const claimed: string[] = [];
      for await (const wf of pool) {
        const id = wf.workflowId.replace(/^demo-/, '');
        if ((await api.deps.claimer.store.read(id))?.state === 'claimed') claimed.push(id);
      }
      console.info(`API killed mid-burst: ${answered.length} answered, ${claimed.length} claimed in Valkey`);
      for (const id of [...answered, orphan]) expect(claimed).toContain(id);
      for (const id of claimed) {
        handed.add(id);
        await expectClaimApplied(id);
      }
      await expectExpiredOnTime(claimed);
      expect(await api.deps.claimer.store.unacknowledged(Date.now())).toEqual([]);
    } finally {
      second.child.kill('SIGTERM');
    }
  });

  it('Valkey restarted mid-burst: the ready list survives (AOF), no demo twice, every answered claim is applied', async () => {
    await fill(10);
    const burst = Array.from({ length: 100 }, (_, i) => new Promise((r) => setTimeout(r, i * 2)).then(() => post(api.base, { ttlSeconds: 60 })));
    await new Promise((r) => setTimeout(r, 40));
    await killService(h.config, 'valkey');
    await stackUp(h.config);
    const results = await Promise.all(burst);
    const answered = results.filter((r) => r.status === 201).map((r) => r.body.id as string);
    expect(new Set(answered).size).toBe(answered.length);
    for (const r of results) expect([201, 503], r.text).toContain(r.status);
    for (const id of answered) await expectClaimApplied(id);
    // What was listed and not claimed is still listed, once each.
    const left = await h.deps.valkey.lrange(api.deps.claimer.store.keys.ready(TEMPLATE), 0, -1);
    expect(new Set(left).size).toBe(left.length);
    for (const id of left) expect(answered).not.toContain(id);
    for (const id of answered) expect((await call(api.base, 'DELETE', `/v1/demos/${id}`, { headers: op })).status).toBe(202);
  });

  it('an operator-cancelled demo is never handed out once the cancel is acknowledged', async () => {
    const ready = await fill(6);
    const [viaTemporal, viaApi] = ready as [string, string];
    await h.client.workflow.getHandle(demoWorkflowId(viaTemporal)).cancel();
    // Acknowledged: the demo has left `pooled` (it withdrew itself from the ready list first).
    await eventually(async () => expect((await stateOf(viaTemporal)).status).not.toBe('pooled'), { timeoutMs: 20_000, intervalMs: 100 });
    const del = await call(api.base, 'DELETE', `/v1/demos/${viaApi}`, { headers: op });
    expect(del.status, del.text).toBe(202);
    const got = (await Promise.all(Array.from({ length: 12 }, () => post(api.base)))).filter((r) => r.status === 201).map((r) => r.body.id);
    expect(got.length).toBeGreaterThanOrEqual(4);
    expect(got).not.toContain(viaTemporal);
    expect(got).not.toContain(viaApi);
    for (const id of [viaTemporal, viaApi]) {
      const end = (await h.client.workflow.getHandle(demoWorkflowId(id)).result().catch(() => undefined)) as DemoState | undefined;
      expect(end?.status ?? 'cancelled').not.toBe('ready');
    }
    for (const id of got) await call(api.base, 'DELETE', `/v1/demos/${id}`, { headers: op });
  });

  it('right after the answer, extend and DELETE by the claimer behave as for any ready demo; it ends released, never recycled', async () => {
    await fill(2);
    const r = await post(api.base, { ttlSeconds: 30 });
    expect(r.status, r.text).toBe(201);
    const auth = { authorization: `Bearer ${r.body.accessToken}` };
    const g = await call(api.base, 'GET', `/v1/demos/${r.body.id}`, { headers: auth });
    expect(g.body).toMatchObject({ status: 'ready', expiresAt: r.body.expiresAt });
    const e = await call(api.base, 'POST', `/v1/demos/${r.body.id}/extend`, { json: { seconds: 5 }, headers: auth });
    expect(e.status, e.text).toBe(200);
    expect((await call(api.base, 'DELETE', `/v1/demos/${r.body.id}`, { headers: auth })).status).toBe(202);
    const end = (await h.client.workflow.getHandle(demoWorkflowId(r.body.id)).result()) as DemoState;
    expect(end.status).toBe('released');
  });
});

describe('idempotency and quotas', () => {
  it('an Idempotency-Key: same caller gets the same demo (real status), another caller no secret, short keys refused', async () => {
    await fill(3);
    const ip = randomIp();
    const key = randomKey();
    const a = await post(api.base, { ip, headers: { 'idempotency-key': key } });
    expect(a.status, a.text).toBe(201);
    const again = await post(api.base, { ip, headers: { 'idempotency-key': key } });
    expect(again.status).toBe(201);
    expect(again.body).toMatchObject({ id: a.body.id, credentials: a.body.credentials, accessToken: a.body.accessToken });
    const other = await post(api.base, { ip: randomIp(), headers: { 'idempotency-key': key } });
    expect(other.status, other.text).toBe(409);
    expect(other.body.error.code).toBe('idempotency_key_reused');
    expect(other.text).not.toContain(a.body.id);
    expect(other.text).not.toContain(a.body.credentials.password);
    expect((await post(api.base, { ip, headers: { 'idempotency-key': 'short-key' } })).status).toBe(400);
    // After a release the replay tells the truth, without the login.
    expect((await call(api.base, 'DELETE', `/v1/demos/${a.body.id}`, { headers: { authorization: `Bearer ${a.body.accessToken}` } })).status).toBe(202);
    const late = await eventually(async () => {
      const r = await post(api.base, { ip, headers: { 'idempotency-key': key } });
      expect(r.status).toBe(200);
      return r;
    }, { timeoutMs: 10_000, intervalMs: 200 });
    expect(late.body.id).toBe(a.body.id);
    expect(['tearing_down', 'released']).toContain(late.body.status);
    expect(late.body.credentials).toBeUndefined();
  });

  it('quotas: per IPv6 /64, per hour (DELETE does not refund), per API key and per visitor; a replay passes at the limit', async () => {
    await fill(8);
    const limits = { ...settings, DMX_MAX_LIVE_DEMOS_PER_IP: '1', DMX_CLAIMS_PER_HOUR_PER_IP: '2' };
    const limited = await serveApi(apiTestConfig({ ...limits, DMX_API_KEYS: KEYS.join(','), DMX_API_KEY_MAX_LIVE_DEMOS: '2' }));
    const anonymous = await serveApi(apiTestConfig(limits));
    try {
      const net = `fd${Math.floor(Math.random() * 0xff).toString(16).padStart(2, '0')}:${Math.floor(Math.random() * 0xffff).toString(16)}:1:2`;
      const key = randomKey();
      const one = await post(limited.base, { ip: `${net}::1`, headers: { 'x-api-key': KEYS[0]!, 'idempotency-key': key } });
      expect(one.status, one.text).toBe(201);
      // API keys are not limited like one visitor; a visitor of that key is.
      const v1 = await post(limited.base, { headers: { 'x-api-key': KEYS[1]!, 'x-dmx-visitor': 'visitor-1' } });
      expect(v1.status, v1.text).toBe(201);
      const v1again = await post(limited.base, { headers: { 'x-api-key': KEYS[1]!, 'x-dmx-visitor': 'visitor-1' } });
      expect(v1again.status).toBe(429);
      expect(v1again.body.error.code).toBe('too_many_live_demos');
      const v2 = await post(limited.base, { headers: { 'x-api-key': KEYS[1]!, 'x-dmx-visitor': 'visitor-2' } });
      expect(v2.status, v2.text).toBe(201);
      // The key's own cap (2 live) holds across its visitors.
      const v3 = await post(limited.base, { headers: { 'x-api-key': KEYS[1]!, 'x-dmx-visitor': 'visitor-3' } });
      expect(v3.status).toBe(429);
      // A replay at the limit gets its original answer.
      const replay = await post(limited.base, { ip: `${net}::1`, headers: { 'x-api-key': KEYS[0]!, 'idempotency-key': key } });
      expect(replay.status).toBe(201);
      expect(replay.body.id).toBe(one.body.id);

      // Anonymous (a deployment without API keys): one /64 is one client.
      const a1 = await post(anonymous.base, { ip: `${net}::aa` });
      expect(a1.status, a1.text).toBe(201);
      const a2 = await post(anonymous.base, { ip: `${net}:ffff:1:2:3` });
      expect(a2.status).toBe(429);
      expect(a2.body.error.code).toBe('too_many_live_demos');
      // DELETE frees the live slot, but not the hourly budget: 2 per hour.
      expect((await call(anonymous.base, 'DELETE', `/v1/demos/${a1.body.id}`, { headers: { authorization: `Bearer ${a1.body.accessToken}` } })).status).toBe(202);
      const a3 = await post(anonymous.base, { ip: `${net}::bb` });
      expect(a3.status, a3.text).toBe(201);
      await call(anonymous.base, 'DELETE', `/v1/demos/${a3.body.id}`, { headers: { authorization: `Bearer ${a3.body.accessToken}` } });
      const a4 = await post(anonymous.base, { ip: `${net}::cc` });
      expect(a4.status).toBe(429);
      expect(a4.body.error.code).toBe('too_many_claims');
      expect(Number(a4.headers['retry-after'])).toBeGreaterThan(0);
      for (const r of [one, v1, v2]) await call(limited.base, 'DELETE', `/v1/demos/${r.body.id}`, { headers: op });
    } finally {
      await Promise.all([limited.close(), anonymous.close()]);
    }
  });

  it('every demo of this suite ends and leaves nothing behind', async () => {
    for (const id of handed) await call(api.base, 'DELETE', `/v1/demos/${id}`, { headers: op });
    for (const id of handed) {
      await h.client.workflow.getHandle(demoWorkflowId(id)).result().catch(() => undefined);
      await expectNoTraces(h.deps, id);
    }
  });
});
