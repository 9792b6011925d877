/**
 * The control plane against a local user and a reader of Temporal's data: workflow payloads are
 * encrypted (no back-office password in a raw history or in the SQLite file), the codec endpoint
 * decodes for the operator only, and an unprivileged local user can read no secret and change no
 * configuration.
 */
import { Client, Connection } from '@temporalio/client';
import { execa } from 'execa';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoState } from '../../contract';
import { apiTestConfig, call, OPERATOR_TOKEN, serveApi, type Served } from '../api/helpers';
import { releaseDemos, startDemos } from '../helpers/demos';
import { startHarness, testConfig, type Harness } from '../helpers/stack';

let h: Harness;
let demo: DemoState;
let api: Served;

beforeAll(async () => {
  h = await startHarness('t-cp-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: 't-cp-' }) });
  [demo] = (await startDemos(h, 1)) as [DemoState];
  api = await serveApi(apiTestConfig({ DMX_TASK_QUEUE_PREFIX: 't-cp-' }));
}, 120_000);
afterAll(async () => {
  await api?.close();
  if (h) await releaseDemos(h, [demo]);
  await h?.stop();
});

/** Every payload's bytes of a history as text (what a reader without the key sees). */
function payloadBytes(history: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('latin1'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return parts.join('\n');
}

describe('workflow payloads are encrypted', () => {
  it('a raw history (no codec) and the Temporal database hold no back-office password', async () => {
    const password = demo.credentials!.password;
    expect(password.length).toBeGreaterThanOrEqual(12);
    const connection = await Connection.connect({ address: h.config.temporal.address });
    try {
      const raw = new Client({ connection, namespace: h.config.temporal.namespace });
      const history = await raw.workflow.getHandle(`demo-${demo.demoId}`).fetchHistory();
      const bytes = payloadBytes(history);
      expect(bytes.length).toBeGreaterThan(1000);
      expect(bytes).toContain('binary/encrypted');
      expect(bytes).not.toContain(password);
      // Positive control: the same history through the codec client does carry it.
      const decoded = await h.client.workflow.getHandle(`demo-${demo.demoId}`).query('demoState') as DemoState;
      expect(decoded.credentials?.password).toBe(password);
    } finally {
      await connection.close();
    }
    const dir = join(h.config.stateDir, 'temporal');
    const files = readdirSync(dir).filter((n) => n.startsWith('temporal.db'));
    expect(files).toContain('temporal.db');
    for (const f of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(dir, f));
      } catch (err) {
        // SQLite's -journal comes and goes with each transaction.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && f !== 'temporal.db') continue;
        throw err;
      }
      expect(bytes.includes(Buffer.from(password)), f).toBe(false);
    }
  });

  it('the codec endpoint decodes for the operator only', async () => {
    const connection = await Connection.connect({ address: h.config.temporal.address });
    let payloads: Array<{ metadata: Record<string, string>; data: string }>;
    try {
      const raw = new Client({ connection, namespace: h.config.temporal.namespace });
      const history = await raw.workflow.getHandle(`demo-${demo.demoId}`).fetchHistory();
      const started = history.events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
      payloads = started.map((p) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
      }));
    } finally {
      await connection.close();
    }
    const decode = (path: string, auth?: string) => call(api.base, 'POST', path, { json: { payloads }, headers: auth ? { authorization: auth } : {} });
    expect((await decode('/codec/decode')).status).toBe(401);
    expect((await decode('/codec/decode', 'Bearer not-the-operator-token-123')).status).toBe(401);
    expect((await decode('/codec/t/not-the-operator-token-123/decode')).status).toBe(401);
    for (const r of [await decode('/codec/decode', `Bearer ${OPERATOR_TOKEN}`), await decode(`/codec/t/${OPERATOR_TOKEN}/decode`)]) {
      expect(r.status).toBe(200);
      const input = JSON.parse(Buffer.from(r.body.payloads[0].data, 'base64').toString()) as { demoId: string };
      expect(input.demoId).toBe(demo.demoId);
    }
    // encode -> decode round trip through the endpoint.
    const plain = [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('"x"').toString('base64') }];
    const enc = await call(api.base, 'POST', '/codec/encode', { json: { payloads: plain }, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(enc.status).toBe(200);
    expect(enc.body.payloads[0].data).not.toBe(plain[0]!.data);
    const dec = await call(api.base, 'POST', '/codec/decode', { json: { payloads: enc.body.payloads }, headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } });
    expect(dec.body.payloads).toEqual(plain);
  });
});

describe('a local unprivileged user', () => {
  /** Runs a command as `nobody` (uid/gid 65534, no supplementary groups). */
  const asNobody = (cmd: string[]) => execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--', ...cmd], { reject: false });
  const s = () => h.config.stateDir;

  it('can read no secret, log or Temporal data of the stack', async () => {
    const files = ['stack.env', 'operator-token', 'secret.key', 'codec.key', 'mariadb/admin-password', 'temporal/temporal.db', 'caddy/caddy.json', 'run/workflow-bundle-stack.js'];
    for (const f of files) {
      const path = join(s(), f);
      expect(statSync(path).isFile(), f).toBe(true);
      const r = await asNobody(['cat', path]);
      expect(r.exitCode, f).not.toBe(0);
      expect(r.stderr, f).toMatch(/Permission denied/);
    }
    expect(statSync(s()).mode & 0o777).toBe(0o700);
    for (const f of ['stack.env', 'operator-token', 'secret.key', 'codec.key']) expect(statSync(join(s(), f)).mode & 0o077, f).toBe(0);
  });

  it("can change no configuration: Caddy's admin socket and the state files refuse it", async () => {
    const sock = h.config.caddy.adminSocket;
    const viaSocket = await asNobody(['curl', '-sS', '--unix-socket', sock, '-H', 'Host;', '-X', 'POST', '-H', 'content-type: application/json', '-d', '{}', 'http://localhost/load']);
    expect(viaSocket.exitCode).toBe(7); // couldn't connect
    expect(viaSocket.stderr).toMatch(/Permission denied|Couldn't connect/);
    // Root can, so the refusal is about the user (and Caddy is still configured).
    const asRoot = await execa('curl', ['-sS', '--unix-socket', sock, '-H', 'Host;', 'http://localhost/config/apps/http/servers/dmx/listen']);
    expect(asRoot.stdout).toContain(String(h.config.caddy.httpPort));
    const write = await asNobody(['sh', '-c', `echo DMX_API_HOST=0.0.0.0 >> ${join(s(), 'stack.env')}`]);
    expect(write.exitCode).not.toBe(0);
    expect(write.stderr).toMatch(/Permission denied/);
  });
});
