/**
 * The API's request and response schemas. One zod schema per shape both validates requests (and,
 * in tests, responses) and generates the OpenAPI 3.1 document.
 */
import { z } from '@hono/zod-openapi';
import {
  DEMO_ID_FORMAT, DEMO_ID_PATTERN, DEMO_STATUSES, MAX_EXTEND_SECONDS, MAX_LIST_LIMIT, MAX_POOL_TARGET, REQUEST_ID_FORMAT, REQUEST_ID_PATTERN, TEMPLATE_NAME_FORMAT, TEMPLATE_NAME_PATTERN,
} from '../contract';
import { ACCESS_TOKEN_PATTERN } from './access-tokens';
import { IDEMPOTENCY_KEY_FORMAT, IDEMPOTENCY_KEY_PATTERN, VISITOR_PATTERN } from './quotas';

export const ErrorCode = z.enum([
  'bad_request',
  'validation_failed',
  'malformed_json',
  'unsupported_media_type',
  'payload_too_large',
  'headers_too_large',
  'request_timeout',
  'invalid_demo_id',
  'unknown_template',
  'invalid_ttl',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'demo_not_ready',
  'max_lifetime_exceeded',
  'demo_ended',
  'update_rejected',
  'rate_limited',
  'too_many_live_demos',
  'too_many_claims',
  'idempotency_key_reused',
  'no_capacity',
  'provisioning_failed',
  'temporal_unavailable',
  'unavailable',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorResponse = z
  .object({
    error: z.object({
      code: ErrorCode,
      message: z.string(),
    }),
  })
  .openapi('Error');

export const DemoId = z.string().regex(DEMO_ID_PATTERN).openapi({ description: DEMO_ID_FORMAT, example: 'abcd2345efgh6789' });
export const TemplateName = z.string().regex(TEMPLATE_NAME_PATTERN).openapi({ example: 'standin' });

/**
 * A malformed id is refused before anything else looks at it: 400 `invalid_demo_id` from the
 * demo's guard (which runs before this validator) for a token holder, `validation_failed` never.
 */
export const DemoIdParams = z.object({
  id: z.string().regex(DEMO_ID_PATTERN).openapi({ param: { name: 'id', in: 'path' }, description: `demo id: ${DEMO_ID_FORMAT}`, example: 'abcd2345efgh6789' }),
});

/** The TTL range is the deployment's (DMX_MIN_TTL_SECONDS..DMX_MAX_TTL_SECONDS): the document states the one this server enforces. */
export interface TtlBounds {
  minTtlSeconds: number;
  maxTtlSeconds: number;
}

export function createDemoRequest({ minTtlSeconds, maxTtlSeconds }: TtlBounds) {
  return z
    .strictObject({
      template: z.string().regex(TEMPLATE_NAME_PATTERN).optional().openapi({
        description: `template name (${TEMPLATE_NAME_FORMAT}); the configured default when absent. A well-formed name that this deployment has no template for is 400 \`unknown_template\` (templates are installed at run time, so the document cannot list them).`,
        example: 'standin',
      }),
      ttlSeconds: z.number().int().min(minTtlSeconds).max(maxTtlSeconds).optional()
        .openapi({ description: `seconds from ready to expiry (${minTtlSeconds}..${maxTtlSeconds} here); the configured default when absent`, example: Math.min(600, maxTtlSeconds) }),
      wait: z.boolean().optional().openapi({ description: 'wait until the demo is ready (default true); false answers 202 at once' }),
    })
    .openapi('CreateDemoRequest');
}
export type CreateDemoRequest = z.infer<ReturnType<typeof createDemoRequest>>;

export const ExtendDemoRequest = z
  .strictObject({
    seconds: z.number().int().min(1).max(MAX_EXTEND_SECONDS).openapi({ description: 'seconds to add to the expiry', example: 600 }),
  })
  .openapi('ExtendDemoRequest');

/** POST /v1/demos: a high-entropy Idempotency-Key (it can bring the demo's secrets back), and the visitor an API key acts for. */
export const CreateDemoHeaders = z.object({
  'idempotency-key': z.string().regex(IDEMPOTENCY_KEY_PATTERN).optional().openapi({
    param: { name: 'idempotency-key', in: 'header' },
    description: `a retry with the same key, by the same caller, gets the same demo (${IDEMPOTENCY_KEY_FORMAT})`,
  }),
  'x-dmx-visitor': z.string().regex(VISITOR_PATTERN).optional().openapi({
    param: { name: 'x-dmx-visitor', in: 'header' },
    description: 'with an API key: the end visitor this request is for; the per-visitor limits apply to it (ignored without an API key)',
  }),
});

export const IdempotencyHeaders = z.object({
  'idempotency-key': z.string().regex(REQUEST_ID_PATTERN).optional().openapi({
    param: { name: 'idempotency-key', in: 'header' },
    description: `a retried request with the same key is applied once (${REQUEST_ID_FORMAT})`,
  }),
});

export const Credentials = z.object({ email: z.string(), password: z.string() }).openapi('Credentials');

export const Demo = z
  .object({
    id: DemoId,
    template: z.string(),
    status: z.enum(DEMO_STATUSES),
    url: z.string().url().optional().openapi({ description: 'present while the demo is ready' }),
    adminUrl: z.string().url().optional().openapi({ description: 'back office; present while the demo is ready' }),
    credentials: Credentials.optional().openapi({ description: 'back-office login; present while the demo is ready' }),
    createdAt: z.string().datetime({ offset: true }),
    readyAt: z.string().datetime({ offset: true }).optional(),
    expiresAt: z.string().datetime({ offset: true }).optional(),
    maxExpiresAt: z.string().datetime({ offset: true }).optional().openapi({ description: 'the latest expiry extensions can reach' }),
    endedAt: z.string().datetime({ offset: true }).optional(),
    error: z.string().optional(),
  })
  .openapi('Demo');
export type Demo = z.infer<typeof Demo>;

/** What POST /v1/demos answers: the demo, and the secret that its other endpoints require. */
export const CreatedDemo = Demo.extend({
  accessToken: z.string().regex(ACCESS_TOKEN_PATTERN).openapi({
    description:
      "this demo's access token: send it as `Authorization: Bearer <accessToken>` to GET, extend or DELETE the demo. " +
      'Keep it secret (the demo id is public: it is the subdomain). It is not stored; a retried request with the same Idempotency-Key gets it again.',
    example: 'dmxt_3kQ9c2mX7p4TfA8bZ1sW6yR0nL5vH2jD9gE4uC7qK1o',
  }),
  loginUrl: z.string().url().optional().openapi({
    description: "a one-time back-office login link: single use, valid for 60 s, lands logged in on the template's chosen page. " +
      'Present when the demo is ready; mint another with POST /v1/demos/{id}/login-link.',
  }),
}).openapi('CreatedDemo');

export const LoginLink = z.object({
  id: DemoId,
  loginUrl: z.string().url().openapi({ description: 'single use, bound to this demo, lands logged in on the template\'s chosen back-office page' }),
  expiresAt: z.string().datetime({ offset: true }).openapi({ description: 'the link works until then (60 s)' }),
}).openapi('LoginLink');
export type CreatedDemo = z.infer<typeof CreatedDemo>;

export const ExtendDemoResponse = z.object({ id: DemoId, expiresAt: z.string().datetime({ offset: true }) }).openapi('ExtendDemoResponse');

export const ReleaseDemoResponse = z.object({ id: DemoId, status: z.enum(DEMO_STATUSES) }).openapi('ReleaseDemoResponse');

export const ListDemosQuery = z.strictObject({
  status: z.enum(DEMO_STATUSES).optional().openapi({ param: { name: 'status', in: 'query' } }),
  template: z.string().regex(TEMPLATE_NAME_PATTERN).optional().openapi({ param: { name: 'template', in: 'query' } }),
  limit: z.string().regex(/^[0-9]{1,4}$/, `a whole number from 1 to ${MAX_LIST_LIMIT}`).transform(Number).pipe(z.number().int().min(1).max(MAX_LIST_LIMIT)).optional()
    .openapi({ param: { name: 'limit', in: 'query' }, type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT, description: 'default 100' }),
});

export const DemoSummary = z
  .object({
    id: DemoId,
    template: z.string().optional(),
    status: z.string().optional().openapi({ description: 'lifecycle status (DmxStatus)' }),
    workflowStatus: z.string(),
    host: z.string().optional(),
    createdAt: z.string().datetime({ offset: true }),
    expiresAt: z.string().datetime({ offset: true }).optional(),
    closedAt: z.string().datetime({ offset: true }).optional(),
  })
  .openapi('DemoSummary');

export const DemoList = z.object({ demos: z.array(DemoSummary), truncated: z.boolean() }).openapi('DemoList');

export const Health = z.object({ status: z.literal('ok') }).openapi('Health');
export const Readiness = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    checks: z.record(z.string(), z.object({ ok: z.boolean(), ms: z.number(), error: z.string().optional() })),
    down: z.array(z.string()),
    pools: z.array(z.object({
      template: z.string(), target: z.number(), ready: z.number(), provisioning: z.number(), consecutiveFailures: z.number(),
      backoffUntil: z.string().optional(),
      lastError: z.string().optional().openapi({ description: "the pool's last provisioning error (operator token only)" }),
    })).optional().openapi({ description: 'running warm pools; absent when Temporal did not answer in time' }),
  })
  .openapi('Readiness');

// ---- warm pools (operators) ---------------------------------------------------------------------

export const PoolTemplateParams = z.object({
  template: z.string().regex(TEMPLATE_NAME_PATTERN).openapi({ param: { name: 'template', in: 'path' }, description: 'template name', example: 'standin' }),
});

export const ResizePoolRequest = z
  .strictObject({
    target: z.number().int().min(0).max(MAX_POOL_TARGET).openapi({ description: `ready, unclaimed demos to keep (0..${MAX_POOL_TARGET}); starts the pool when none runs`, example: 3 }),
  })
  .openapi('ResizePoolRequest');

export const PoolStats = z
  .object({
    template: z.string(),
    templateVersion: z.string().optional().openapi({ description: 'checkpoint version the pooled demos are restored from' }),
    target: z.number().int().openapi({ description: 'ready, unclaimed demos to keep' }),
    ready: z.number().int().openapi({ description: 'ready, unclaimed demos now' }),
    readyDemoIds: z.array(DemoId).openapi({ description: 'ids of the ready, unclaimed demos, oldest first (the next claim gets the first)' }),
    provisioning: z.number().int().openapi({ description: 'demos being provisioned now' }),
    waitingClaims: z.number().int().openapi({ description: 'claims waiting for a demo (`wait: true` on an empty pool)' }),
    maxConcurrentProvisions: z.number().int(),
    unclaimedMaxAgeSeconds: z.number().int().openapi({ description: 'a pooled demo older than this is recycled' }),
    minTtlSeconds: z.number().int(),
    maxTtlSeconds: z.number().int(),
    maxLifetimeSeconds: z.number().int(),
    counters: z
      .object({
        started: z.number().int().openapi({ description: 'provisions started' }),
        claimed: z.number().int().openapi({ description: 'demos handed out' }),
        failed: z.number().int().openapi({ description: 'provisions that failed' }),
        recycled: z.number().int().openapi({ description: 'pooled demos torn down unclaimed (aged out, outdated, pool shrunk or cancelled)' }),
        noCapacity: z.number().int().openapi({ description: 'waiting claims that got no demo in time (immediate refusals of `wait: false` claims are not counted)' }),
      })
      .openapi({ description: 'since the pool started (carried across continue-as-new)' }),
    consecutiveFailures: z.number().int(),
    backoffUntil: z.string().datetime({ offset: true }).optional().openapi({ description: 'provisioning paused until then after repeated failures' }),
    lastError: z.string().optional(),
    claimWait: z
      .array(z.object({ le: z.union([z.number(), z.literal('+Inf')]), count: z.number().int() }))
      .openapi({ description: 'claims by time from reaching the pool to the answer: per bucket (not cumulative), `le` in milliseconds' }),
  })
  .openapi('PoolStats');
export type PoolStatsView = z.infer<typeof PoolStats>;

export const PoolList = z.object({ pools: z.array(PoolStats) }).openapi('PoolList');
