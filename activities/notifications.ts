/**
 * Lifecycle webhooks: demo.ready, demo.expiring and demo.expired, POSTed as JSON to
 * DMX_WEBHOOK_URL and signed with HMAC-SHA256 over `<timestamp>.<body>` (header
 * `X-Dmx-Signature: sha256=<hex>`, `X-Dmx-Timestamp`), so receivers can check origin and
 * freshness. `X-Dmx-Delivery` is stable across retries of one event (receivers dedupe on it).
 */
import { ApplicationFailure } from '@temporalio/activity';
import { createHmac } from 'node:crypto';
import { request } from 'undici';
import { FAILURE_TYPES } from '../contract';
import type { Config } from '../lib/config';
import { withHeartbeats } from './common';

export type WebhookEvent = 'demo.ready' | 'demo.expiring' | 'demo.expired';

export interface WebhookInput {
  event: WebhookEvent;
  deliveryId: string;
  demo: { id: string; template: string; status: string; url?: string; expiresAt?: string; endedAt?: string; outcome?: string };
}

export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export function createNotificationActivities(config: Config) {
  return withHeartbeats(notificationActivities(config));
}

function notificationActivities(config: Config) {
  return {
    async sendWebhook(input: WebhookInput): Promise<{ status: number } | { skipped: true }> {
      const hook = config.webhook;
      if (!hook.url || !hook.secret) return { skipped: true };
      const body = JSON.stringify({ event: input.event, deliveryId: input.deliveryId, sentAt: new Date().toISOString(), demo: input.demo });
      const timestamp = String(Math.floor(Date.now() / 1000));
      let status: number;
      try {
        const res = await request(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'demo-multiplexer-webhooks',
            'x-dmx-event': input.event,
            'x-dmx-delivery': input.deliveryId,
            'x-dmx-timestamp': timestamp,
            'x-dmx-signature': signWebhook(hook.secret, timestamp, body),
          },
          body,
          headersTimeout: 10_000,
          bodyTimeout: 10_000,
        });
        status = res.statusCode;
        await res.body.dump();
      } catch (err) {
        throw new Error(`webhook ${input.event} to ${hook.url} failed: ${(err as Error).message}`, { cause: err });
      }
      if (status >= 200 && status < 300) return { status };
      // 4xx other than timeout/rate limit: the receiver refuses this delivery; retrying will not help.
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        throw ApplicationFailure.nonRetryable(`webhook ${input.event} refused by ${hook.url}: HTTP ${status}`, FAILURE_TYPES.webhookRefused);
      }
      throw new Error(`webhook ${input.event} to ${hook.url} answered HTTP ${status}`);
    },
  };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
