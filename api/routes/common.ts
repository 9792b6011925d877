/** What every route module gets: the app's dependencies, the guards, and the shared error responses. */
import type { OpenAPIHono } from '@hono/zod-openapi';
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
  404: "no such demo — or an access token that is not this demo's (the same answer, so ids cannot be probed) — or no pool runs for the template",
  409: 'conflict with the demo state (not ready, ended, past its maximum lifetime)',
  413: 'request body too large',
  415: 'request body is not JSON',
  429: 'over the rate limit or the number of live demos (see Retry-After)',
  503: 'no capacity (`no_capacity`: the pool has no ready demo) or a backend is unreachable (see Retry-After)',
};

/** OpenAPI responses for the given error statuses, all with the Error body. */
export function errorResponses<S extends number>(...statuses: S[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, { description: DESCRIPTIONS[s] ?? 'error', content: { 'application/json': { schema: ErrorResponse } } }]),
  ) as { [K in S]: { description: string; content: { 'application/json': { schema: typeof ErrorResponse } } } };
}
