/**
 * Hostile input everywhere (issue "Input safety"): quotes, `../` paths, CR/LF, NUL, 10k+ strings,
 * unicode (bidi marks, emoji, homoglyphs, composed/decomposed é), prototype-pollution keys, numbers
 * as strings, floats, negative and huge numbers, arrays and objects where scalars belong — through
 * every endpoint's path params, query params, headers (Idempotency-Key, X-Api-Key, Authorization,
 * trusted X-Forwarded-For, X-Request-Id) and bodies, over HTTP and over raw sockets (bytes no HTTP
 * client would send), and through the `dmx` CLI's arguments.
 *
 * Every answer must be a 4xx with the JSON error shape (the CLI: a non-zero exit and a message),
 * never a 5xx; the server must stay up; and nothing may have been created: running demo and pool
 * workflows of this suite's queue prefix, MariaDB databases `dmx_d_%`, podman containers
 * `dmx-<profile>-*` and Valkey keys `dmx:*` are compared before and after. The dev stack is shared
 * (its warm pool, other engineers' runs), so an item that appeared meanwhile is accepted only when it
 * belongs to a demo workflow of another task queue; anything of this suite's prefix, or of no
 * workflow at all, fails the test.
 */
import { execa } from 'execa';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ipFromHeader } from '../../api/client-ip';
import { ErrorResponse } from '../../api/schemas';
import { run as runCli } from '../../cli/run';
import {
  DEMO_ID_SOURCE, demoIdFromWorkflowId, MAX_EXTEND_SECONDS, MAX_POOL_TARGET, poolWorkflowId, releaseDemoSignal, REQUEST_ID_PATTERN, TEMPLATE_NAME_PATTERN,
} from '../../contract';
import { newDemoId, startHarness, testConfig, type Harness } from '../helpers/stack';
import { apiTestConfig, call, OPERATOR_TOKEN, serveApi, type Served } from './helpers';

const PREFIX = 't-hostile-';
const API_KEY = 'hostile-suite-key-0123456789';
const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };

let h: Harness;
let api: Served;
let keyed: Served;
let before: Snapshot;
/** Every request and its answer that broke the rules: reported all at once. */
const failures: string[] = [];
let requests = 0;

// ---- hostile values -----------------------------------------------------------------------------

const LONG = 'a'.repeat(10_050);
/** Strings of every kind (some cannot travel in a header or argv; the senders filter them). */
const STRINGS: string[] = [
  "'", '"', '`', "x' OR '1'='1", 'x"; DROP DATABASE mysql; --', '`id`', '$(id)', '%s%n', '${7*7}', '{{7*7}}',
  '../../etc/passwd', '..%2f..%2fetc%2fpasswd', '..\\..\\windows\\win.ini', '/etc/passwd', '.', '..',
  'a\nb', 'a\r\nSet-Cookie: x=1', 'a\u0000b', '\u0000', LONG, 'é'.repeat(6_000),
  '\u202eevil\u202c', 'abc\u200f', '\u2066x\u2069', '😀', '👩‍👩‍👧', '\ufeff', '\ud800',
  'ѕtandin', 'standіn', 'café', 'cafe\u0301', 'ＳＴＡＮＤＩＮ', 'STANDIN', 'standin ', ' standin', '',
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty',
  '20', '1e3', '0x10', '1.5', '-1', '-0', 'NaN', 'Infinity', '9'.repeat(400), 'null', 'true', '[]', '{}',
];
/** JSON values where a scalar of another type is expected. */
const JSON_VALUES: unknown[] = [
  ...STRINGS, null, true, false, 1.5, -1, -0, 0, 1e308, -1e308, 2 ** 53 + 2, Number.MAX_SAFE_INTEGER, 1e21, 0.1 + 0.2,
  [], [1], ['standin'], {}, { a: 1 }, { __proto__: { polluted: 1 } }, { constructor: { prototype: { polluted: 1 } } },
];
/** Demo ids that look almost right: homoglyphs, case, length, composed/decomposed letters. */
const NEAR_IDS = ['abcd2345efgh678а' /* Cyrillic а */, 'ABCD2345EFGH6789', 'abcd2345efgh678', 'abcd2345efgh67890', 'abcd2345efgh678é', 'abcd2345efgh678e\u0301',
  'abcd2345efgh678\u200b', ' abcd2345efgh6789', 'abcd2345efgh6789 ', 'abcd2345efgh678_', 'abcd2345efgh678-', '０bcd2345efgh6789'];
/** Raw JSON bodies: pollution keys, duplicates, BOM, NUL, lone surrogates, deep nesting, numbers JSON cannot hold. */
const RAW_BODIES = [
  '{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}', '{"ttlSeconds":20,"__proto__":{"polluted":"yes"}}',
  '{"wait":{"__proto__":{"polluted":"yes"}}}', '{"prototype":{"polluted":"yes"}}', '{"ttlSeconds":20,"ttlSeconds":"20"}', '{"seconds":5,"seconds":[5]}',
  '\ufeff{"ttlSeconds":"20"}', '\ufeff\ufeff{"ttlSeconds":20}', '{"template":"stand\\u0000in"}', '{"template":"\\ud800"}', '{"ttlSeconds":1e400}', '{"seconds":-1e400}', '{"target":1e400}',
  `${'['.repeat(4000)}${']'.repeat(4000)}`, `${'{"a":'.repeat(1500)}1${'}'.repeat(1500)}`, 'null', '[]', '"x"', '0', 'true', '{', '{"a":}', "{'a':1}",
  '{"ttlSeconds":20}\u0000', '{"template":"\udc00"}', '{"ttlSeconds":20} {"ttlSeconds":30}', 'NaN', '{"ttlSeconds":NaN}', '{"ttlSeconds":Infinity}', '{"ttlSeconds":0x10}',
];

/** What undici may put in a header value (latin-1 without CR/LF/NUL); the rest goes over a raw socket. */
const headerSafe = (v: string) => /^[\t\x20-\x7e\x80-\xff]*$/.test(v) && v.length < 15_000;
const argvSafe = (v: string) => !v.includes('\u0000');
/** Percent-encodes, lone surrogates included (as the invalid UTF-8 bytes a client could send). */
const enc = (v: string) => {
  try {
    return encodeURIComponent(v);
  } catch {
    return v.split('').map((ch) => { try { return encodeURIComponent(ch); } catch { return '%ED%A0%80'; } }).join('');
  }
};
/** Header values a client may drop or the server trims to nothing: sending them would mean "no header". */
const nonBlank = (v: string) => v.trim() !== '';
/** Whether a JSON value is (after the round trip) an integer in range: a valid value, not a hostile one. */
function wholeIn(v: unknown, min: number, max: number): boolean {
  const r = JSON.parse(JSON.stringify(v) ?? 'null') as unknown;
  return typeof r === 'number' && Number.isInteger(r) && r >= min && r <= max;
}

// ---- checking answers ---------------------------------------------------------------------------

function check(what: string, status: number, text: string, o: { expect?: number[] } = {}): void {
  requests++;
  if (status < 400 || status >= 500) {
    failures.push(`${what.slice(0, 200)} -> ${status} ${text.slice(0, 200)}`);
    return;
  }
  // 431: the URL or headers went over Node's header size limit (10k+ values percent-encoded): refused before any check.
  if (o.expect && !o.expect.includes(status) && status !== 431) failures.push(`${what.slice(0, 200)} -> ${status}, expected ${o.expect.join('/')}: ${text.slice(0, 200)}`);
  try {
    ErrorResponse.parse(JSON.parse(text));
  } catch {
    failures.push(`${what.slice(0, 200)} -> ${status} without the JSON error shape: ${JSON.stringify(text.slice(0, 200))}`);
  }
}

async function send(app: Served, method: string, path: string, o: { json?: unknown; body?: string; headers?: Record<string, string> } = {}, expectStatus?: number[]): Promise<void> {
  const what = `${method} ${path.slice(0, 100)} ${JSON.stringify(o.headers ?? {}).slice(0, 120)} ${String(o.body ?? JSON.stringify(o.json)).slice(0, 100)}`;
  try {
    const r = await call(app.base, method, path, o);
    check(what, r.status, r.text, { expect: expectStatus });
  } catch (err) {
    failures.push(`${what} -> request failed: ${(err as Error).message}`);
  }
}

/** Sends bytes as they are (CR/LF/NUL, UTF-8 in headers, `..` segments) and returns status and body. */
function raw(app: Served, bytes: Buffer | string): Promise<{ status: number; body: string; text: string }> {
  return new Promise((resolve) => {
    const s: Socket = connect(Number(new URL(app.base).port), '127.0.0.1', () => s.end(bytes));
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    const done = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? -1);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4), text });
    };
    s.on('close', done);
    s.on('error', done);
    s.setTimeout(15_000, () => s.destroy());
  });
}

async function sendRaw(app: Served, what: string, requestLineAndHeaders: string, body = ''): Promise<void> {
  const head = Buffer.from(`${requestLineAndHeaders}\r\nHost: 127.0.0.1\r\nConnection: close\r\n${body ? `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` : ''}\r\n`, 'utf8');
  const r = await raw(app, Buffer.concat([head, Buffer.from(body, 'utf8')]));
  // The first answer only (a pipelined second request may follow): its body by Content-Length.
  const headEnd = r.text.indexOf('\r\n\r\n');
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(r.text.slice(0, headEnd))?.[1] ?? -1);
  let payload = length >= 0 ? Buffer.from(r.text.slice(headEnd + 4), 'utf8').subarray(0, length).toString('utf8') : r.body;
  // A chunked answer: the JSON sits between the chunk size lines.
  if (/transfer-encoding: chunked/i.test(r.text.slice(0, headEnd))) payload = payload.split('\r\n').filter((_, i) => i % 2 === 1).join('');
  check(`raw ${what}`, r.status, payload);
}

// ---- side effects -------------------------------------------------------------------------------

interface Snapshot { at: string; demos: number; pools: number; databases: Set<string>; containers: Set<string>; keys: Set<string> }

async function snapshot(): Promise<Snapshot> {
  const count = async (kind: string) => (await h.client.workflow.count(`DmxKind = '${kind}' AND TaskQueue = '${PREFIX}dmx-shared' AND ExecutionStatus = 'Running'`)).count;
  const ps = await execa('podman', ['ps', '-a', '--format', '{{.Names}}', '--filter', `name=^dmx-${h.config.profile}-`]);
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await h.deps.valkey.scan(cursor, 'MATCH', 'dmx:*', 'COUNT', 1000);
    cursor = next;
    for (const k of batch) keys.add(k);
  } while (cursor !== '0');
  return {
    at: new Date().toISOString(),
    demos: await count('demo'),
    pools: await count('pool'),
    databases: new Set(await h.deps.mariadb.listDatabases('dmx\\_d\\_%')),
    containers: new Set(ps.stdout.split('\n').filter(Boolean)),
    keys,
  };
}

/** Whether an item that appeared during the test belongs to something else than this suite. */
async function explainedElsewhere(item: string): Promise<boolean> {
  if (item.includes(PREFIX)) return false;
  const id = new RegExp(`(?:^|[_:-])(${DEMO_ID_SOURCE})(?:$|[_:])`).exec(item)?.[1];
  if (!id) return !item.includes('hostile');
  try {
    const d = await h.client.workflow.getHandle(`demo-${id}`).describe();
    return !d.taskQueue.startsWith(PREFIX);
  } catch {
    return false; // a demo's resources without its workflow: a leak
  }
}

// ---- the suite ----------------------------------------------------------------------------------

beforeAll(async () => {
  h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
  // Limits off (no rate-limit keys are written), X-Forwarded-For trusted: see apiTestConfig.
  api = await serveApi(apiTestConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }));
  keyed = await serveApi(apiTestConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_API_KEYS: API_KEY }));
  before = await snapshot();
});

afterAll(async () => {
  // Only if something was wrongly accepted: end whatever this suite's queues run.
  for await (const w of h.client.workflow.list({ query: `TaskQueue = '${PREFIX}dmx-shared' AND ExecutionStatus = 'Running'` })) {
    if (demoIdFromWorkflowId(w.workflowId)) await h.client.workflow.getHandle(w.workflowId).signal(releaseDemoSignal, { reason: 'hostile-input cleanup' }).catch(() => undefined);
  }
  await h.client.workflow.getHandle(poolWorkflowId('standin', PREFIX)).cancel().catch(() => undefined);
  await Promise.allSettled([api?.close(), keyed?.close()]);
  await h?.stop();
});

describe('hostile input through the HTTP API', () => {
  it('path params: demo ids and template names', async () => {
    const wrongToken = { authorization: `Bearer dmxt_${'Q'.repeat(43)}` };
    const values = [...STRINGS, ...NEAR_IDS];
    for (const v of values) {
      const e = enc(v);
      for (const headers of [op, wrongToken, {}]) {
        await send(api, 'GET', `/v1/demos/${e}`, { headers });
        await send(api, 'POST', `/v1/demos/${e}/extend`, { headers, json: { seconds: 5 } });
        await send(api, 'DELETE', `/v1/demos/${e}`, { headers });
      }
      // '', '.' and '..' change the path itself (the client resolves dot segments): any 4xx will do.
      const odd = ['', '.', '..'].includes(v);
      // Without credentials it is always 401, whatever the id.
      await send(api, 'DELETE', `/v1/demos/${e}`, {}, odd ? undefined : [401]);
      if (!TEMPLATE_NAME_PATTERN.test(v)) {
        await send(api, 'GET', `/v1/pools/${e}`, { headers: op }, odd ? undefined : [400]);
        await send(api, 'PUT', `/v1/pools/${e}`, { headers: op, json: { target: 1 } }, odd ? undefined : [400]);
      } else {
        // Well-formed names that are no template: no pool runs (404), none can be started (400).
        await send(api, 'GET', `/v1/pools/${e}`, { headers: op }, [404]);
        await send(api, 'PUT', `/v1/pools/${e}`, { headers: op, json: { target: 1 } }, [400]);
      }
    }
    // Percent-encoded garbage, double encoding, encoded slashes and dots.
    for (const p of ['%', '%zz', '%E0%A4%A', '%C0%AF', '%252e%252e%252f', '..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e', '%00', 'a%0d%0ab', '%ef%bb%bf']) {
      await send(api, 'GET', `/v1/demos/${p}`, { headers: op });
      await send(api, 'PUT', `/v1/pools/${p}`, { headers: op, json: { target: 1 } });
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it('query params of the operator list', async () => {
    for (const v of STRINGS) {
      const e = enc(v);
      await send(api, 'GET', `/v1/demos?status=${e}`, { headers: op }, [400]);
      if (!TEMPLATE_NAME_PATTERN.test(v)) await send(api, 'GET', `/v1/demos?template=${e}`, { headers: op }, [400]);
      if (!/^[0-9]{1,4}$/.test(v) || Number(v) < 1 || Number(v) > 1000) await send(api, 'GET', `/v1/demos?limit=${e}`, { headers: op }, [400]);
      // (An empty parameter name, `?=1`, is no parameter at all.)
      if (v !== '') await send(api, 'GET', `/v1/demos?${e}=1`, { headers: op }, [400]);
    }
    for (const q of ['status=ready&status=failed', 'limit=1&limit=2', 'limit[]=1', 'limit[a]=1', '__proto__[polluted]=1', 'constructor[prototype][polluted]=1',
      'limit=0', 'limit=1001', 'limit=-1', 'limit=1.0', 'limit=%201', 'limit=1e2', 'limit=0x10', 'limit=%EF%BC%95', 'status=READY', 'status=ready%00']) {
      await send(api, 'GET', `/v1/demos?${q}`, { headers: op }, [400]);
    }
    // Pollution through the query must not have reached Object.prototype (the server runs in this process).
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(failures.splice(0)).toEqual([]);
  });

  it('headers: Idempotency-Key, X-Api-Key, Authorization, X-Forwarded-For, X-Request-Id — with bodies that would otherwise create a demo', async () => {
    const valid = { ttlSeconds: 20 };
    const values = STRINGS.filter(headerSafe).filter(nonBlank);
    for (const v of values) {
      // An Idempotency-Key outside [A-Za-z0-9_.:-]{1,100} is refused before anything starts.
      // (HTTP strips leading and trailing blanks from header values: ' standin' arrives as 'standin'.)
      if (!REQUEST_ID_PATTERN.test(v.trim())) {
        await send(api, 'POST', '/v1/demos', { json: valid, headers: { 'idempotency-key': v } }, [400]);
        await send(api, 'POST', `/v1/demos/${newDemoId()}/extend`, { json: { seconds: 5 }, headers: { 'idempotency-key': v, ...op } }, [400]);
      }
      // A wrong API key is refused, whether keys are configured or not.
      await send(api, 'POST', '/v1/demos', { json: valid, headers: { 'x-api-key': v } }, [401]);
      await send(keyed, 'POST', '/v1/demos', { json: valid, headers: { 'x-api-key': v } }, [401]);
      // Authorization: never an API key, operator token or access token.
      for (const authorization of [v, `Bearer ${v}`, `bearer ${v}`, `Basic ${v}`, `Bearer dmxt_${v}`]) {
        await send(api, 'POST', '/v1/demos', { json: valid, headers: { authorization } }, [401]);
        await send(keyed, 'POST', '/v1/demos', { json: valid, headers: { authorization } }, [401]);
        await send(api, 'GET', `/v1/demos/${newDemoId()}`, { headers: { authorization } }, [401, 404]);
        await send(api, 'DELETE', `/v1/demos/${newDemoId()}`, { headers: { authorization } }, [401, 404]);
        await send(api, 'GET', '/v1/demos', { headers: { authorization } }, [401]);
        await send(api, 'PUT', '/v1/pools/standin', { json: { target: 1 }, headers: { authorization } }, [401]);
      }
      // A trusted X-Forwarded-For that is no address is ignored (the socket address counts) and breaks nothing.
      const ip = ipFromHeader(v);
      if (ip !== undefined) failures.push(`X-Forwarded-For ${JSON.stringify(v.slice(0, 40))} taken as the address ${ip}`);
      await send(api, 'POST', '/v1/demos', { json: { template: 'nope-hostile' }, headers: { 'x-forwarded-for': v } }, [400]);
      await send(api, 'GET', `/v1/demos/${newDemoId()}`, { headers: { 'x-forwarded-for': `${v}, ${v}`, ...op } }, [404]);
      // X-Request-Id is echoed only when it is a plain token.
      const r = await call(api.base, 'GET', `/v1/demos/${newDemoId()}`, { headers: { 'x-request-id': v } });
      check(`GET x-request-id ${JSON.stringify(v.slice(0, 40))}`, r.status, r.text, { expect: [401] });
      if (r.headers['x-request-id'] === v.trim() && !REQUEST_ID_PATTERN.test(v.trim())) failures.push(`X-Request-Id ${JSON.stringify(v.slice(0, 40))} echoed`);
    }
    expect(failures.splice(0)).toEqual([]);
  });

  it('bodies: every field with values of the wrong kind, pollution keys, broken JSON', async () => {
    for (const v of JSON_VALUES) {
      // POST /v1/demos: every body here has one invalid field (a valid one would create a demo).
      // POST /v1/demos: every body here has one invalid field (a valid one would create a demo).
      await send(api, 'POST', '/v1/demos', { json: { template: v } }, [400]);
      if (!wholeIn(v, 1, 60)) await send(api, 'POST', '/v1/demos', { json: { ttlSeconds: v } }, [400]);
      if (typeof v !== 'boolean') await send(api, 'POST', '/v1/demos', { json: { wait: v, ttlSeconds: 20 } }, [400]);
      if (typeof v === 'string' && v !== '') await send(api, 'POST', '/v1/demos', { json: { [v]: 1 } }, [400]);
      // (`{}` — also what `{__proto__: …}` serialises to — is a valid request for a default demo.)
      if (JSON.stringify(v) !== '{}') await send(api, 'POST', '/v1/demos', { json: v }, [400]);
      // extend (operator, unknown id): the body is checked before the demo is looked up.
      if (!wholeIn(v, 1, MAX_EXTEND_SECONDS)) await send(api, 'POST', `/v1/demos/${newDemoId()}/extend`, { json: { seconds: v }, headers: op }, [400]);
      await send(api, 'POST', `/v1/demos/${newDemoId()}/extend`, { json: v, headers: op }, [400]);
      // resize: no target of the wrong kind reaches the pool.
      if (!wholeIn(v, 0, MAX_POOL_TARGET)) await send(api, 'PUT', '/v1/pools/standin', { json: { target: v }, headers: op }, [400]);
    }
    for (const body of RAW_BODIES) {
      const headers = { 'content-type': 'application/json' };
      await send(api, 'POST', '/v1/demos', { body, headers }, [400, 413]);
      await send(api, 'POST', `/v1/demos/${newDemoId()}/extend`, { body, headers: { ...headers, ...op } }, [400, 413]);
      await send(api, 'PUT', '/v1/pools/standin', { body, headers: { ...headers, ...op } }, [400, 413]);
    }
    // 10k+ string values and bodies over the limit.
    await send(api, 'POST', '/v1/demos', { json: { template: LONG } }, [400]);
    await send(api, 'POST', '/v1/demos', { json: { template: 'x'.repeat(20_000) } }, [413]);
    await send(api, 'PUT', '/v1/pools/standin', { json: { target: 1, pad: 'x'.repeat(20_000) }, headers: op }, [413]);
    // Content types that are not JSON, or JSON with a hostile parameter.
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/json\u00e9', 'application/xml']) {
      await send(api, 'POST', '/v1/demos', { body: '{"ttlSeconds":20}', headers: { 'content-type': ct } }, [415]);
    }
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(failures.splice(0)).toEqual([]);
  });

  it('raw bytes: CR/LF/NUL and UTF-8 in the request line and headers, literal `..` segments, oversized headers', async () => {
    const id = newDemoId();
    const lines: Array<[string, string, string?]> = [
      ['dot segments', 'GET /v1/demos/../../etc/passwd HTTP/1.1'],
      ['dot segments to pools', 'PUT /v1/demos/../pools/standin HTTP/1.1', '{"target":1}'],
      ['backslashes', 'GET /v1/demos/..\\..\\etc HTTP/1.1'],
      ['NUL in path', `GET /v1/demos/${id}\u0000 HTTP/1.1`],
      ['UTF-8 in path', 'GET /v1/demos/abcd2345efgh678é HTTP/1.1'],
      ['RTL in path', 'GET /v1/demos/\u202eabcd2345efgh678 HTTP/1.1'],
      ['CR in path', `GET /v1/demos/${id}\rX HTTP/1.1`],
      ['absolute URL', `GET http://evil.example/v1/demos/${id} HTTP/1.1`],
      ['NUL in Authorization', `GET /v1/demos/${id} HTTP/1.1\r\nAuthorization: Bearer a\u0000b`],
      ['CR in Authorization', `GET /v1/demos/${id} HTTP/1.1\r\nAuthorization: Bearer a\rb`],
      ['UTF-8 in Authorization', `GET /v1/demos/${id} HTTP/1.1\r\nAuthorization: Bearer tökén😀`],
      ['UTF-8 in X-Api-Key', 'POST /v1/demos HTTP/1.1\r\nX-Api-Key: ключ😀', '{"ttlSeconds":20}'],
      ['NUL in X-Api-Key', 'POST /v1/demos HTTP/1.1\r\nX-Api-Key: a\u0000b', '{"ttlSeconds":20}'],
      ['UTF-8 in Idempotency-Key', 'POST /v1/demos HTTP/1.1\r\nIdempotency-Key: clé-\u202e😀', '{"ttlSeconds":20}'],
      ['homoglyph Idempotency-Key', 'POST /v1/demos HTTP/1.1\r\nIdempotency-Key: kеy' /* Cyrillic е */, '{"ttlSeconds":20}'],
      ['NUL in Idempotency-Key', 'POST /v1/demos HTTP/1.1\r\nIdempotency-Key: a\u0000b', '{"ttlSeconds":20}'],
      ['header injection', `GET /v1/demos/${id} HTTP/1.1\r\nX-Request-Id: a\r\n\r\nDELETE /v1/demos/${id} HTTP/1.1`],
      ['UTF-8 X-Forwarded-For', 'POST /v1/demos HTTP/1.1\r\nX-Forwarded-For: ١٢٧.٠.٠.١', '{"template":"nope-hostile"}'],
      ['obs-fold header', `GET /v1/demos/${id} HTTP/1.1\r\nAuthorization: Bearer\r\n x`],
      ['duplicate Content-Length', 'POST /v1/demos HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 17', '{"ttlSeconds":20}'],
      ['20k header', `GET /v1/demos/${id} HTTP/1.1\r\nAuthorization: Bearer ${'a'.repeat(20_000)}`],
      ['no version', `GET /v1/demos/${id}`],
    ];
    for (const [what, head, body] of lines) await sendRaw(api, what, head, body);
    expect(failures.splice(0)).toEqual([]);
    // Still serving.
    expect((await call(api.base, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('hostile input through the dmx CLI', () => {
  /** One command line, run in this process (test/cli.test.ts runs the executable itself). */
  async function dmx(...args: string[]) {
    let stdout = '';
    let stderr = '';
    const exitCode = await runCli(args, {
      out: (t) => (stdout += t), err: (t) => (stderr += t), env: { ...process.env, DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_LOG_LEVEL: 'warn' },
    });
    return { exitCode, stdout, stderr };
  }

  it('every hostile argument: non-zero exit, a message, no control characters echoed', async () => {
    const id = newDemoId();
    // A representative share of STRINGS: quotes, injections, paths,
    // CR/LF, 10k, bidi, emoji, homoglyphs, composed/decomposed, pollution keys, near-miss ids.
    const values = ["'", '"', '`', 'x"; DROP DATABASE mysql; --', '$(id)', '../../etc/passwd', 'a\nb', 'a\r\nSet-Cookie: x=1', LONG,
      '\u202eevil\u202c', '👩‍👩‍👧', 'ѕtandin', 'café', 'cafe\u0301', 'STANDIN', '__proto__', 'constructor', '1e3', '',
      ...NEAR_IDS.slice(0, 6)].filter(argvSafe);
    // (NUL cannot be passed in argv at all.)
    const numbers = ['1e3', '0x10', '1.5', '-1', '99999999999999999999', 'NaN', 'Infinity', ' 5', '5 ', '５', '٥', '', "5'", '5;id'];
    const cases: string[][] = [];
    // Each value as a demo id and a template name; the other places (options) in rotation.
    const rotation = (v: string): string[][] => [
      ['release', v], ['replay', v], ['list', '--status', v], ['checkpoint', 'standin', '--kind', v],
      ['extend', id, '5', '--request-id', v], ['release', id, '--reason', v], ['checkpoint', 'hostile-none', '--image', v],
    ];
    values.forEach((v, i) => {
      cases.push(['show', v], ['extend', v, '5']);
      if (!TEMPLATE_NAME_PATTERN.test(v)) cases.push(['pool', 'resize', v, '1'], ['list', '--template', v]);
      const extra = rotation(v)[i % 7]!;
      const harmless = (extra[3] === '--request-id' && REQUEST_ID_PATTERN.test(v)) || (extra[3] === '--reason' && /^[^\p{Cc}\u202a-\u202e\u2066-\u2069]{1,200}$/u.test(v))
        || (extra[3] === '--image' && /^[a-z0-9][A-Za-z0-9._/:@-]{0,254}$/.test(v)) || (extra[0] === 'replay' && /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$/.test(v));
      if (!harmless) cases.push(extra);
    });
    for (const n of numbers) cases.push(['extend', id, n], ['pool', 'resize', 'hostile-none', n], ['list', '--limit', n]);
    cases.push(['pool', 'resize', 'standin', '501'], ['extend', id, '2592001'], ['extend', id, '0'], ['list', '--limit', '10001'], ['list', '--limit', '0']);
    cases.push(['checkpoint', 'hostile-none', '--image', '--privileged'], ['checkpoint', 'hostile-none', '--image=-v/:/host'], ['release', id, '--reason', `a\u001b[31mred`],
      ['release', id, '--reason', LONG], ['release', id, '--reason', '\u202eevil'], ['release', id, '--reason', '']);
    // Demo ids that are well-formed but unknown reach Temporal and are refused there.
    cases.push(['show', id], ['release', id], ['extend', id, '5'], ['replay', `demo-${id}`]);

    const problems: string[] = [];
    for (let i = 0; i < cases.length; i += 8) {
      const batch = cases.slice(i, i + 8);
      const results = await Promise.all(batch.map((args) => dmx(...args)));
      results.forEach((r, j) => {
        const args = JSON.stringify(batch[j]).slice(0, 160);
        const err = String(r.stderr);
        if (r.exitCode === 0 || r.exitCode === undefined) problems.push(`${args}: exit ${r.exitCode} ${String(r.stdout).slice(0, 120)}`);
        else if (!/error|dmx:|invalid|not found|must be/i.test(err)) problems.push(`${args}: no message: ${JSON.stringify(err.slice(0, 200))}`);
        // eslint-disable-next-line no-control-regex -- looking for echoed control characters
        else if (/[\u0000-\u0009\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/.test(err)) problems.push(`${args}: control characters echoed: ${JSON.stringify(err.slice(0, 200))}`);
        if (/\n\s+at .+:\d+:\d+/.test(err)) problems.push(`${args}: a stack trace instead of a message`);
      });
    }
    requests += cases.length;
    expect(problems).toEqual([]);
  });
});

describe('afterwards', () => {
  it('the server is up and nothing was created', async () => {
    expect((await call(api.base, 'GET', '/healthz')).status).toBe(200);
    expect((await call(api.base, 'GET', '/readyz')).status).toBe(200);
    const after = await snapshot();
    expect({ demos: after.demos, pools: after.pools }).toEqual({ demos: before.demos, pools: before.pools });
    // Not even briefly: no workflow of this suite's queues was started during the test (a demo with
    // a short TTL could have come and gone by now).
    const started = await h.client.workflow.count(`TaskQueue = '${PREFIX}dmx-shared' AND StartTime > '${before.at}'`);
    expect(started.count).toBe(0);
    const leaks: string[] = [];
    for (const [kind, was, now] of [['database', before.databases, after.databases], ['container', before.containers, after.containers], ['valkey key', before.keys, after.keys]] as const) {
      for (const item of now) if (!was.has(item) && !(await explainedElsewhere(item))) leaks.push(`${kind} ${item}`);
    }
    expect(leaks).toEqual([]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    console.info(`hostile input: ${requests} requests and CLI runs, all refused with a 4xx / non-zero exit; nothing created`);
  });
});
