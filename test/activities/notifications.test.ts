/**
 * The webhook activity in a mock activity context against a local receiver: signed deliveries,
 * a refusing receiver is a permanent failure, a failing one is retried, and a long delivery
 * heartbeats (so a dead worker is noticed in seconds).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNotificationActivities, signWebhook, type WebhookInput } from '../../activities/notifications';
import { productionConfig } from '../helpers/time-skipping';

let server: Server;
let answer = { status: 200, delayMs: 0 };
const received: Array<{ headers: Record<string, unknown>; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      setTimeout(() => res.writeHead(answer.status).end(), answer.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function sender() {
  const config = productionConfig();
  config.webhook.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  config.webhook.secret = 'test-secret';
  return createNotificationActivities(config);
}

const input: WebhookInput = { event: 'demo.ready', deliveryId: 'demo-x:demo.ready:1', demo: { id: 'abcdefghijkmnpqr', template: 'standin', status: 'ready' } };

describe('sendWebhook', () => {
  it('posts the event signed over "<timestamp>.<body>"', async () => {
    answer = { status: 200, delayMs: 0 };
    const env = new MockActivityEnvironment();
    expect(await env.run(sender().sendWebhook, input)).toEqual({ status: 200 });
    const last = received.at(-1)!;
    expect(last.headers['x-dmx-event']).toBe('demo.ready');
    expect(last.headers['x-dmx-delivery']).toBe(input.deliveryId);
    expect(last.headers['x-dmx-signature']).toBe(signWebhook('test-secret', String(last.headers['x-dmx-timestamp']), last.body));
  });

  it('a refusing receiver (4xx) is a permanent failure; a failing one (5xx) is retried', async () => {
    answer = { status: 410, delayMs: 0 };
    const refused = await new MockActivityEnvironment().run(sender().sendWebhook, input).catch((e) => e);
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: 'WebhookRefused', nonRetryable: true });
    answer = { status: 503, delayMs: 0 };
    const failing = (await new MockActivityEnvironment().run(sender().sendWebhook, input).catch((e: unknown) => e)) as Error;
    expect(failing).not.toBeInstanceOf(ApplicationFailure);
    expect(String(failing.message)).toMatch(/answered HTTP 503/);
  });

  it('heartbeats once a second while a delivery takes its time', async () => {
    answer = { status: 200, delayMs: 2_300 };
    const env = new MockActivityEnvironment();
    let beats = 0;
    env.on('heartbeat', () => beats++);
    await env.run(sender().sendWebhook, input);
    expect(beats).toBeGreaterThanOrEqual(2);
  });
});
