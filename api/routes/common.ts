/** What every route module gets: the app's dependencies, the guards, and the shared error responses. */
import { z, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { AppDeps } from '../app-deps';
import type { AuthOptions } from '../auth';
import type { ApiEnv } from '../env';
import { ErrorResponse } from '../schemas';

export type { ApiEnv };
export type ApiApp = OpenAPIHono<ApiEnv>;

export interface RouteContext {
  deps: AppDeps;
  /** Who holds which credential (operator token, API keys). */
  auth: AuthOptions;
  /** Public endpoints: API key (when configured), then the per-client request rate. */
  publicGuard: MiddlewareHandler<ApiEnv>;
  /** Operator endpoints: the operator token. */
  operatorGuard: MiddlewareHandler<ApiEnv>;
  /** One demo's endpoints (`{id}` in the path): that demo's access token or the operator token, then the rate limit. */
  demoGuard: MiddlewareHandler<ApiEnv>;
}

const DESCRIPTIONS: Record<number, string> = {
  400: 'invalid input (malformed JSON, unknown field, malformed id or key, unknown template, TTL or pool target out of range)',
  401: 'missing or malformed credentials (access token, API key, operator token)',
  403: 'operator endpoints are disabled',
  404: "no such demo — or, deliberately, an access token that is not this demo's: the same status and body as an unknown id, " +
    'so that a token cannot be used to probe which ids exist — or no pool runs for the template',
  409: 'conflict with the demo state (not ready, ended, past its maximum lifetime)',
  413: 'request body too large',
  415: 'request body is not JSON',
  429: 'over the rate limit or the number of live demos; `Retry-After` says when to try again',
  503: 'no capacity (`no_capacity`: the pool has no ready demo), provisioning failed, or a backend is unreachable; deliberately ' +
    'temporary: `Retry-After` says when to try again',
};

/** Every 429 and 503 carries Retry-After (ApiError.unavailable and the rate limits set it). */
const RetryAfter = z.object({
  'Retry-After': z.string().regex(/^[0-9]+$/).openapi({ description: 'seconds to wait before trying again' }),
});
const RETRY_AFTER_STATUSES = new Set([429, 503]);

/** OpenAPI responses for the given error statuses, all with the Error body (and Retry-After on 429 and 503). */
export function errorResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, {
      description: DESCRIPTIONS[s] ?? 'error',
      ...(RETRY_AFTER_STATUSES.has(s) ? { headers: RetryAfter } : {}),
      content: { 'application/json': { schema: ErrorResponse } },
    }]),
  ) as { [K in S]: { description: string; headers?: typeof RetryAfter; content: { 'application/json': { schema: typeof ErrorResponse } } } };
}
