/**
 * The API under hostile or unlucky conditions: API keys, rate limits under concurrency, live-demo
 * limits, malformed input of every kind, Temporal going away and coming back, SIGTERM mid-request.
 */
import { execa } from 'execa';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { createApp } from '../../api/app';
import { ipFromHeader, normalizeIp } from '../../api/client-ip';
import { createApiServer, edgeFetch, listenOnUnixSocket } from '../../api/http-server';
import { ErrorResponse } from '../../api/schemas';
import { callerScope } from '../../api/quotas';
import { repoRoot } from '../../lib/config';
import { expectNoTraces } from '../helpers/leaks';
import { newDemoId, startHarness, type Harness } from '../helpers/stack';
import { apiTestConfig, call, eventually, OPERATOR_TOKEN, randomIp, serveApi, type Served } from './helpers';

let h: Harness;
const apps: Served[] = [];
const created: Array<{ app: Served; id: string }> = [];

async function serve(overrides: Record<string, string> = {}): Promise<Served> {
  const s = await serveApi(apiTestConfig(overrides));
  apps.push(s);
  return s;
}

beforeAll(async () => {
  h = await startHarness('t-api-');
});
afterAll(async () => {
  await Promise.allSettled(created.map(({ app, id }) => call(app.base, 'DELETE', `/v1/demos/${id}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })));
  await Promise.allSettled(apps.map((a) => a.close()));
  await h?.stop();
});

describe('client address', () => {
  it('takes the right-most X-Forwarded-For entry and normalises addresses', () => {
    expect(ipFromHeader('1.2.3.4, 10.0.0.9')).toBe('10.0.0.9');
    expect(ipFromHeader('garbage')).toBeUndefined();
    expect(normalizeIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(normalizeIp('[2001:DB8::1]')).toBe('2001:db8::1');
    expect(normalizeIp('not-an-ip')).toBeUndefined();
  });

  it('ignores X-Forwarded-For unless a trusted proxy header is configured', async () => {
    const app = await serve({ DMX_TRUSTED_PROXY_HEADER: '', DMX_RATE_LIMIT_PER_MINUTE: '3' });
    const statuses: number[] = [];
    // Different forged addresses each time: still one client (the socket), limited after 3.
    for (let i = 0; i < 5; i++) statuses.push((await call(app.base, 'GET', '/v1/demos/bad-id', { ip: randomIp() })).status);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(1);
  });

  it('on the edge socket (Caddy\'s only), X-Forwarded-For is the visitor: each address is its own client', async () => {
    const app = await serve({ DMX_TRUSTED_PROXY_HEADER: '', DMX_RATE_LIMIT_PER_MINUTE: '3' });
    const path = join(mkdtempSync(join(tmpdir(), 'dmx-edge-')), 'sub', 'edge.sock');
    const edge = createApiServer(edgeFetch(createApp(app.deps).fetch));
    await listenOnUnixSocket(edge, path);
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
      const viaEdge = async (ip: string) => {
        const res = await request(`http://localhost/v1/demos/bad-id`, { dispatcher: new Agent({ connect: { socketPath: path } }), headers: { 'x-forwarded-for': ip } });
        await res.body.dump();
        return res.statusCode;
      };
      const spread = [];
      for (let i = 0; i < 5; i++) spread.push(await viaEdge(randomIp()));
      expect(spread.filter((s) => s === 429)).toEqual([]);
      const one = randomIp();
      const same = [];
      for (let i = 0; i < 5; i++) same.push(await viaEdge(one));
      expect(same.filter((s) => s === 429).length).toBe(2);
      // A second API cannot take over a socket the first one answers on; a dead one's socket file is replaced.
      await expect(listenOnUnixSocket(createApiServer(edgeFetch(createApp(app.deps).fetch)), path)).rejects.toThrow(/in use by another running API/);
    } finally {
      await new Promise<void>((r) => edge.close(() => r()));
    }
    // An API killed while listening leaves its socket file behind.
    await execa('node', ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`], { reject: false });
    expect(statSync(path).isSocket()).toBe(true);
    const again = createApiServer(edgeFetch(createApp(app.deps).fetch));
    await listenOnUnixSocket(again, path);
    await new Promise<void>((r) => again.close(() => r()));
    // Anything else at that path is not ours to remove.
    writeFileSync(path, 'not a socket');
    await expect(listenOnUnixSocket(createApiServer(edgeFetch(createApp(app.deps).fetch)), path)).rejects.toThrow(/is not a socket/);
    rmSync(path);
  });
});

describe('API keys', () => {
  it('creating a demo needs one of the keys when keys are configured; its token alone then reaches the demo', async () => {
    const keys = ['key-aaaaaaaaaaaaaaaa', 'key-bbbbbbbbbbbbbbbb'];
    const app = await serve({ DMX_API_KEYS: keys.join(',') });
    // Wrong or missing keys are refused before anything is validated or created.
    for (const headers of <Array<Record<string, string>>>[{}, { 'x-api-key': 'key-cccccccccccccccc' }, { authorization: 'Basic Zm9vOmJhcg==' }, { authorization: 'Bearer key-cccccccccccccccc' }]) {
      const r = await call(app.base, 'POST', '/v1/demos', { json: { ttlSeconds: 20, nope: 1 }, headers });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
    // A right key (header or bearer) or the operator token gets through to validation.
    for (const headers of <Array<Record<string, string>>>[{ 'x-api-key': keys[1]! }, { authorization: `Bearer ${keys[0]}` }, { authorization: `Bearer ${OPERATOR_TOKEN}` }]) {
      expect((await call(app.base, 'POST', '/v1/demos', { json: { ttlSeconds: 20, nope: 1 }, headers })).status, JSON.stringify(headers)).toBe(400);
    }
    // One demo's endpoints need its access token; an API key is not one.
    const path = `/v1/demos/${newDemoId()}`;
    expect((await call(app.base, 'GET', path, { headers: { 'x-api-key': keys[1]! } })).status).toBe(401);
    expect((await call(app.base, 'GET', path, { headers: { authorization: `Bearer ${keys[0]}` } })).status).toBe(401);
    expect((await call(app.base, 'GET', path, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).status).toBe(404);
    // A demo's token works with or without the key (a visitor's browser holds the token, not the vendor's key); a wrong key is refused.
    const id = newDemoId();
    const token = app.deps.accessTokens.issue(id);
    expect((await call(app.base, 'GET', `/v1/demos/${id}`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
    expect((await call(app.base, 'GET', `/v1/demos/${id}`, { headers: { authorization: `Bearer ${token}`, 'x-api-key': keys[0]! } })).status).toBe(404);
    expect((await call(app.base, 'GET', `/v1/demos/${id}`, { headers: { authorization: `Bearer ${token}`, 'x-api-key': 'key-cccccccccccccccc' } })).status).toBe(401);
    // A key is not an operator token.
    expect((await call(app.base, 'GET', '/v1/demos', { headers: { authorization: `Bearer ${keys[0]}` } })).status).toBe(401);
  });
});

describe('rate limits', () => {
  it('50 parallel requests with a limit of 10 per minute: exactly 10 pass', async () => {
    const app = await serve({ DMX_RATE_LIMIT_PER_MINUTE: '10' });
    // Stay clear of a minute boundary (fixed one-minute windows).
    if (new Date().getSeconds() > 55) await sleep((61 - new Date().getSeconds()) * 1000);
    const ip = randomIp();
    const results = await Promise.all(Array.from({ length: 50 }, () => call(app.base, 'GET', '/v1/demos/not-an-id', { ip })));
    const passed = results.filter((r) => r.status !== 429);
    expect(passed.length).toBe(10);
    // Limited before the credentials are looked at: refusals count too (no free token guessing).
    for (const r of passed) expect(r.status).toBe(401);
    for (const r of results.filter((x) => x.status === 429)) {
      expect(ErrorResponse.parse(r.body).error.code).toBe('rate_limited');
      const retry = Number(r.headers['retry-after']);
      expect(retry).toBeGreaterThanOrEqual(1);
      expect(retry).toBeLessThanOrEqual(60);
    }
    // Another client is not affected; the operator is never limited.
    expect((await call(app.base, 'GET', '/v1/demos/not-an-id', { ip: randomIp() })).status).toBe(401);
    expect((await call(app.base, 'GET', '/v1/demos/not-an-id', { ip, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })).status).toBe(400);
  });

  it('live demos per client: parallel requests cannot overshoot; a DELETE frees the slot', async () => {
    const app = await serve({ DMX_MAX_LIVE_DEMOS_PER_IP: '1' });
    const ip = randomIp();
    const results = await Promise.all(Array.from({ length: 3 }, () => call(app.base, 'POST', '/v1/demos', { json: { ttlSeconds: 20 }, ip })));
    for (const r of results) if (r.body?.id) created.push({ app, id: r.body.id });
    expect(results.map((r) => r.status).sort()).toEqual([201, 429, 429]);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body.error.code).toBe('too_many_live_demos');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    const firstRes = results.find((r) => r.status === 201)!;
    const first = firstRes.body.id as string;
    // An anonymous caller's limits are its address bucket's (api/quotas.ts).
    const bucket = callerScope(app.deps.config, { kind: 'anonymous' }, ip).buckets[0]!.id;
    expect(await app.deps.limiter.liveDemos(bucket)).toEqual([first]);

    expect((await call(app.base, 'DELETE', `/v1/demos/${first}`, { ip, headers: { authorization: `Bearer ${firstRes.body.accessToken}` } })).status).toBe(202);
    expect(await app.deps.limiter.liveDemos(bucket)).toEqual([]);
    const again = await call(app.base, 'POST', '/v1/demos', { json: { ttlSeconds: 20 }, ip });
    expect(again.status, again.text).toBe(201);
    created.push({ app, id: again.body.id });
    expect((await call(app.base, 'DELETE', `/v1/demos/${again.body.id}`, { ip, headers: { authorization: `Bearer ${again.body.accessToken}` } })).status).toBe(202);
    await eventually(async () => {
      await expectNoTraces(h.deps, first);
      await expectNoTraces(h.deps, again.body.id);
    }, { timeoutMs: 30_000, intervalMs: 500 });
    created.length = 0;
  });
});

/** Small deterministic PRNG (mulberry32): a failing case can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('malformed input', () => {
  it('body size, content type, malformed JSON', async () => {
    const app = await serve({ DMX_DEFAULT_TEMPLATE: 'fuzz-none' });
    const big = await call(app.base, 'POST', '/v1/demos', { body: JSON.stringify({ template: 'x'.repeat(20_000) }), headers: { 'content-type': 'application/json' } });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    const text = await call(app.base, 'POST', '/v1/demos', { body: '{"template":"standin"}', headers: { 'content-type': 'text/plain' } });
    expect(text.status).toBe(415);
    const broken = await call(app.base, 'POST', '/v1/demos', { body: '{"template":', headers: { 'content-type': 'application/json' } });
    expect(broken.status).toBe(400);
    expect(broken.body.error.code).toBe('malformed_json');
    // One demo's endpoints check the token before the body: the operator's requests reach validation.
    const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    const noBody = await call(app.base, 'POST', `/v1/demos/${newDemoId()}/extend`, { headers: op });
    expect([400, 415]).toContain(noBody.status);
    const badKey = await call(app.base, 'POST', `/v1/demos/${newDemoId()}/extend`, { json: { seconds: 5 }, headers: { 'idempotency-key': 'has spaces', ...op } });
    expect(badKey.status).toBe(400);
    expect((await call(app.base, 'POST', `/v1/demos/${newDemoId()}/extend`, {})).status).toBe(401);
  });

  it('fuzz: random bodies, headers and paths are all answered 4xx, and the server stays up', async () => {
    const app = await serve({ DMX_DEFAULT_TEMPLATE: 'fuzz-none', DMX_API_KEYS: '' });
    const rnd = prng(20261122);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    const randStr = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rnd() * 0x7f) + 1)).join('');
    /** Printable ASCII only: what an HTTP client can put in a header at all. */
    const randHeader = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rnd() * 0x5f) + 0x20)).join('').trim() || 'x';
    const values = [null, true, false, 0, -1, 1.5, 1e308, -0, '', 'standin', '20', [], {}, [1, 2], { a: 1 }, 'x'.repeat(300), '\u0000', '😀', 99999999999];
    const fields = ['template', 'ttlSeconds', 'wait', 'seconds', '__proto__', 'constructor', 'prototype', 'toString', ''];
    const contentTypes = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'json', ''];
    const rawBodies = ['', '{', '}', '[]', 'null', '"x"', '1', 'true', '{"a":}', '{"template":"standin",}', "{'template':'standin'}", '\u0000\u0001', '{"ttlSeconds":1e400}', `${'['.repeat(5000)}${']'.repeat(5000)}`, '{"__proto__":{"polluted":1},"x":1}'];
    const ids = () => pick([newDemoId(), 'short', 'A'.repeat(16), '%00', '%zz', '%E0%A4%A', encodeURIComponent(randStr(8)), 'x'.repeat(3000), '..%2f..%2fetc%2fpasswd', newDemoId().toUpperCase()]);

    const failures: string[] = [];
    for (let i = 0; i < 300; i++) {
      const kind = pick(['create', 'extend', 'get', 'delete', 'list', 'weird'] as const);
      const headers: Record<string, string> = {};
      if (rnd() < 0.3) headers.authorization = pick(['Bearer', 'Bearer ', `Bearer ${randHeader(20)}`, 'Basic xyz', `Bearer ${'a'.repeat(2000)}`, 'bearer  x']);
      if (rnd() < 0.2) headers['x-api-key'] = pick(['', 'k', randHeader(30)]);
      if (rnd() < 0.2) headers['idempotency-key'] = pick(['', ' ', 'a'.repeat(101), 'ok-key', 'semi;colon', '\u00e9']);
      if (rnd() < 0.2) headers['x-forwarded-for'] = pick(['', 'garbage', '1.2.3.4, ::1', '999.1.1.1', ',,,']);
      let body: string | undefined;
      if (kind === 'create' || kind === 'extend' || (kind === 'weird' && rnd() < 0.5)) {
        if (rnd() < 0.5) {
          body = pick(rawBodies);
        } else {
          const o: Record<string, unknown> = {};
          for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) o[pick(fields)] = pick(values);
          // A create body is never valid: it always has a field the API does not know.
          if (kind === 'create') o[`x${Math.floor(rnd() * 1000)}`] = 1;
          body = JSON.stringify(o);
        }
        const ct = pick(contentTypes);
        if (ct) headers['content-type'] = ct;
      }
      const [method, path] = (() => {
        switch (kind) {
          case 'create': return ['POST', '/v1/demos'];
          case 'extend': return ['POST', `/v1/demos/${ids()}/extend`];
          case 'get': return ['GET', `/v1/demos/${ids()}`];
          case 'delete': return ['DELETE', `/v1/demos/${ids()}`];
          case 'list': return ['GET', `/v1/demos?${pick(['status=ready', 'status=%00', 'template=../x', 'limit=-1', 'limit=abc', 'limit=100000', 'x=1', 'status=ready&status=failed'])}`];
          default: return [pick(['PUT', 'PATCH', 'POST', 'OPTIONS', 'DELETE']), pick(['/v1/demos', '/v1/pools', `/v1/demos/${ids()}/extend/x`, '/v1/', '/v1/demos/', '/%', '/v1/demos//extend'])];
        }
      })();
      if (kind === 'create' && !body) body = '{"nope":1}';
      const r = await call(app.base, method, path, { body, headers }).catch((err: Error) => ({ status: -1, text: err.message, body: undefined, headers: {} }));
      if (r.status < 400 || r.status >= 500) failures.push(`#${i} ${method} ${path.slice(0, 80)} ${JSON.stringify(headers).slice(0, 120)} ${String(body).slice(0, 80)} -> ${r.status} ${r.text.slice(0, 120)}`);
      else if (r.status !== 405 && r.text) ErrorResponse.parse(JSON.parse(r.text));
    }
    expect(failures).toEqual([]);

    // Not even HTTP: Node's parser answers 400 and the server carries on.
    const raw = await new Promise<string>((resolve) => {
      const s: Socket = connect(Number(new URL(app.base).port), '127.0.0.1', () => s.end('GARBAGE \u0001\r\n\r\n'));
      let out = '';
      s.on('data', (d) => (out += d.toString()));
      s.on('close', () => resolve(out));
      s.on('error', () => resolve(out));
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400/);
    expect((await call(app.base, 'GET', '/healthz')).status).toBe(200);
  });
});

/** A TCP proxy to Temporal that the test can take down and bring back on the same port. */
async function temporalProxy(target: string) {
  const [host, port] = [target.split(':')[0]!, Number(target.split(':')[1])];
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let listenPort = 0;
  const start = () => new Promise<void>((resolve) => {
    server = createServer((client) => {
      const upstream = connect(port, host);
      sockets.add(client).add(upstream);
      client.pipe(upstream).pipe(client);
      const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    server.listen(listenPort, '127.0.0.1', () => {
      listenPort = (server!.address() as { port: number }).port;
      resolve();
    });
  });
  const stop = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (server) server.close(() => resolve());
    else resolve();
  });
  await start();
  return { address: () => `127.0.0.1:${listenPort}`, start, stop };
}

describe('Temporal unreachable', () => {
  it('answers 503 with Retry-After, names it in /readyz, and recovers by itself', async () => {
    const proxy = await temporalProxy(h.config.temporal.address);
    try {
      const app = await serve({ DMX_TEMPORAL_ADDRESS: proxy.address() });
      const unknown = `/v1/demos/${newDemoId()}`;
      const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };
      expect((await call(app.base, 'GET', unknown, { headers: op })).status).toBe(404);

      await proxy.stop();
      const t0 = Date.now();
      const get = await call(app.base, 'GET', unknown, { headers: op });
      expect(get.status).toBe(503);
      expect(get.body.error.code).toBe('temporal_unavailable');
      expect(Number(get.headers['retry-after'])).toBeGreaterThan(0);
      const post = await call(app.base, 'POST', '/v1/demos', { json: { ttlSeconds: 20 } });
      expect(post.status, post.text).toBe(503);
      expect(Number(post.headers['retry-after'])).toBeGreaterThan(0);
      const ready = await call(app.base, 'GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.down).toEqual(['temporal']);
      expect(Date.now() - t0).toBeLessThan(20_000);

      await proxy.start();
      await eventually(async () => expect((await call(app.base, 'GET', unknown, { headers: op })).status).toBe(404), { timeoutMs: 40_000, intervalMs: 500 });
      expect((await call(app.base, 'GET', '/readyz')).status).toBe(200);
    } finally {
      await proxy.stop();
    }
  });
});

describe('graceful shutdown', () => {
  it('SIGTERM lets an in-flight request finish, refuses new ones, exits 0', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const base = `http://127.0.0.1:${port}`;
    const app = await serve();
    const child = execa('node', ['--import', 'tsx', 'api/main.ts'], {
      cwd: repoRoot,
      reject: false,
      env: {
        DMX_PROFILE: h.config.profile, DMX_API_PORT: String(port), DMX_API_HOST: '127.0.0.1', DMX_API_EDGE_SOCKET: 'off', DMX_TASK_QUEUE_PREFIX: 't-api-',
        DMX_OPERATOR_TOKEN: OPERATOR_TOKEN, DMX_DEFAULT_TTL_SECONDS: '20', DMX_MIN_TTL_SECONDS: '1', DMX_MAX_TTL_SECONDS: '60', DMX_MAX_LIFETIME_SECONDS: '60',
        DMX_API_SHUTDOWN_GRACE_SECONDS: '10', DMX_LOG_LEVEL: 'warn',
      },
    });
    try {
      await eventually(async () => expect((await call(base, 'GET', '/healthz')).status).toBe(200), { timeoutMs: 20_000, intervalMs: 200 });
      const inFlight = call(base, 'POST', '/v1/demos', { json: { ttlSeconds: 20 } });
      inFlight.catch(() => undefined);
      await sleep(150);
      child.kill('SIGTERM');
      const res = await inFlight;
      expect(res.status, res.text).toBe(201);
      created.push({ app, id: res.body.id });
      await expect(call(base, 'GET', '/healthz')).rejects.toThrow();
      const done = await child;
      expect(done.exitCode, `${done.signal ?? ""} ${String(done.stderr).slice(-500)}`).toBe(0);

      expect(res.body.accessToken).toBe(app.deps.accessTokens.issue(res.body.id)); // another process, the same token
      expect((await call(app.base, 'DELETE', `/v1/demos/${res.body.id}`, { headers: { authorization: `Bearer ${res.body.accessToken}` } })).status).toBe(202);
      await eventually(() => expectNoTraces(h.deps, res.body.id), { timeoutMs: 30_000, intervalMs: 500 });
      created.pop();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
