/**
 * Lifecycle webhooks on the real stack: demo.ready, demo.expiring and demo.expired arrive signed
 * (HMAC-SHA256 over timestamp.body), a failing receiver is retried with backoff, and every
 * delivery of one event keeps its delivery id.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWebhook } from '../activities/notifications';
import { demoWorkflowId, awaitDemoReadyUpdate, type DemoLifecycleInput } from '../contract';
import { expectNoTraces } from './helpers/leaks';
import { newDemoId, startHarness, testConfig, type Harness } from './helpers/stack';

const SECRET = 'webhook-secret-for-tests-0123456789';
interface Received { headers: IncomingMessage['headers']; body: string; status: number }
const received: Received[] = [];
let failNext = 0;
let server: Server;
let h: Harness;

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const status = failNext > 0 ? 503 : 204;
      if (failNext > 0) failNext--;
      received.push({ headers: req.headers, body, status });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  h = await startHarness('t-hooks-', {
    config: testConfig({
      DMX_TASK_QUEUE_PREFIX: 't-hooks-', DMX_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks`,
      DMX_WEBHOOK_SECRET: SECRET, DMX_WEBHOOK_EXPIRING_SECONDS: '3',
    }),
  });
});
afterAll(async () => {
  await h?.stop();
  server?.close();
});

describe('lifecycle webhooks', () => {
  it('sends ready, expiring and expired, signed, retrying a failing receiver', async () => {
    failNext = 2; // the first two deliveries meet a receiver that is down
    const demoId = newDemoId();
    const handle = await h.client.workflow.start('demoLifecycle', {
      taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
      args: [{ demoId, template: 'standin', ttlSeconds: 6, maxLifetimeSeconds: 60 } satisfies DemoLifecycleInput],
    });
    await handle.executeUpdate(awaitDemoReadyUpdate);
    const final = await handle.result();
    expect(final.status).toBe('expired');
    await expectNoTraces(h.deps, demoId);

    const mine = received.filter((r) => JSON.parse(r.body).demo.id === demoId);
    const delivered = mine.filter((r) => r.status === 204).map((r) => JSON.parse(r.body));
    // Sent in lifecycle order; a retried one may arrive after a later event (receivers order by event).
    expect([...new Set(mine.map((r) => JSON.parse(r.body).event))]).toEqual(['demo.ready', 'demo.expiring', 'demo.expired']);
    expect(delivered.map((d) => d.event).sort()).toEqual(['demo.expired', 'demo.expiring', 'demo.ready']);
    expect(delivered.find((d) => d.event === 'demo.expired').demo).toMatchObject({ outcome: 'expired', status: 'expired', url: final.url });
    // The two failed attempts were retried under the same delivery id.
    const failed = mine.filter((r) => r.status === 503);
    expect(failed).toHaveLength(2);
    const readyOk = mine.find((r) => r.status === 204 && JSON.parse(r.body).event === 'demo.ready')!;
    expect(failed.map((f) => JSON.parse(f.body).event)).toEqual(['demo.ready', 'demo.ready']);
    expect(failed.map((f) => f.headers['x-dmx-delivery'])).toEqual([readyOk.headers['x-dmx-delivery'], readyOk.headers['x-dmx-delivery']]);

    for (const r of mine) {
      const ts = String(r.headers['x-dmx-timestamp']);
      expect(r.headers['x-dmx-signature']).toBe(signWebhook(SECRET, ts, r.body));
      expect(r.headers['x-dmx-signature']).not.toBe(signWebhook('another-secret-0123456789', ts, r.body));
      expect(Math.abs(Date.now() / 1000 - Number(ts))).toBeLessThan(120);
      expect(r.headers['x-dmx-event']).toBe(JSON.parse(r.body).event);
    }
  });
});
