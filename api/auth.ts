/**
 * Authentication: the operator bearer token (operator endpoints), optional API keys (creating
 * demos), and per-demo access tokens (reading, extending, ending one demo). Secrets are compared in
 * constant time: both sides are hashed to a fixed length first, and every configured key is
 * compared (no early exit that would reveal which one matched).
 */
import type { MiddlewareHandler } from 'hono';
import { DEMO_ID_FORMAT, isDemoId } from '../contract';
import { matchKey, safeEqual } from '../lib/secrets';
import { ACCESS_TOKEN_PATTERN, type AccessTokens } from './access-tokens';
import type { ApiEnv, Caller } from './env';
import { ApiError } from './errors';

export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([\x21-\x7e]{1,500})\s*$/i.exec(header);
  return m?.[1];
}

export interface AuthOptions {
  operatorToken?: string;
  requireOperatorToken: boolean;
  apiKeys: readonly string[];
}

export type { Caller };

/** Who is calling, from the Authorization / X-Api-Key headers (undefined: credentials given but wrong). */
export function identify(o: AuthOptions, headers: { authorization?: string; apiKey?: string }): Caller | undefined {
  const bearer = bearerToken(headers.authorization);
  if (headers.authorization !== undefined && bearer === undefined) return undefined;
  if (bearer !== undefined && o.operatorToken && safeEqual(bearer, o.operatorToken)) return { kind: 'operator' };
  const key = headers.apiKey ?? bearer;
  if (key !== undefined) {
    const i = matchKey(key, o.apiKeys);
    if (i >= 0) return { kind: 'key', keyIndex: i };
    // A wrong credential is refused even when keys are not required: the caller meant something.
    return undefined;
  }
  return { kind: 'anonymous' };
}

/** Identifies the caller; public endpoints need an API key when keys are configured. */
export function publicAuth(o: AuthOptions): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const caller = identify(o, { authorization: c.req.header('authorization'), apiKey: c.req.header('x-api-key') });
    if (!caller) throw new ApiError(401, 'unauthorized', 'invalid API key or token', { 'WWW-Authenticate': 'Bearer' });
    if (caller.kind === 'anonymous' && o.apiKeys.length > 0) {
      throw new ApiError(401, 'unauthorized', 'an API key is required (X-Api-Key header or Authorization: Bearer)', { 'WWW-Authenticate': 'Bearer' });
    }
    c.set('caller', caller);
    await next();
  };
}

/** Operator endpoints: the operator token, unless DMX_REQUIRE_OPERATOR_TOKEN=false and none is set. */
export function operatorAuth(o: AuthOptions): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (!o.operatorToken) {
      if (o.requireOperatorToken) throw new ApiError(403, 'forbidden', 'operator endpoints are disabled: no DMX_OPERATOR_TOKEN is configured');
      c.set('caller', { kind: 'operator' });
      return next();
    }
    const bearer = bearerToken(c.req.header('authorization'));
    if (bearer === undefined || !safeEqual(bearer, o.operatorToken)) {
      throw new ApiError(401, 'unauthorized', 'operator token required (Authorization: Bearer <token>)', { 'WWW-Authenticate': 'Bearer' });
    }
    c.set('caller', { kind: 'operator' });
    await next();
  };
}

const invalidDemoId = () => new ApiError(400, 'invalid_demo_id', `demo ids are ${DEMO_ID_FORMAT}`);
const unauthorized = (message: string) => new ApiError(401, 'unauthorized', message, { 'WWW-Authenticate': 'Bearer realm="dmx"' });

/**
 * Who may act on demo `id` (GET, extend, DELETE): the holder of that demo's access token, or the
 * operator. Decided before anything reaches Temporal, in this order:
 * - no Authorization header, or not `Bearer <printable token>`: 401 `unauthorized`;
 * - the operator token: allowed (any well-formed id, a malformed one is 400 `invalid_demo_id`;
 *   unknown ids are then 404 from Temporal);
 * - an X-Api-Key that is sent but is not a configured key: 401 (the token alone is enough: a
 *   visitor's browser holds the token, not the vendor's key);
 * - a bearer that is not shaped like an access token (`dmxt_…`): 401, malformed credentials,
 *   whatever the id (so it says nothing about which ids exist either);
 * - a malformed id: 400 `invalid_demo_id` (says nothing about which demos exist);
 * - a token that is not this demo's: 404 `not_found`, the same status and body as an unknown id,
 *   so tokens cannot be used to probe which ids exist (and no Temporal call is made for it).
 */
export function demoAccess(
  o: AuthOptions,
  tokens: AccessTokens,
  headers: { authorization?: string; apiKey?: string },
  id: string | undefined,
): { caller: Caller; error?: ApiError } | { error: ApiError; caller?: undefined } {
  if (headers.authorization === undefined) {
    return { error: unauthorized("this demo's access token is required (Authorization: Bearer <accessToken> from POST /v1/demos)") };
  }
  const bearer = bearerToken(headers.authorization);
  if (bearer === undefined) return { error: unauthorized('malformed Authorization header: expected Bearer <accessToken>') };
  const operator = !!o.operatorToken && safeEqual(bearer, o.operatorToken);
  if (!operator) {
    if (headers.apiKey !== undefined && matchKey(headers.apiKey, o.apiKeys) < 0) return { error: unauthorized('invalid API key') };
    if (!ACCESS_TOKEN_PATTERN.test(bearer)) return { error: unauthorized("malformed access token: expected this demo's accessToken (dmxt_…) from POST /v1/demos") };
  }
  if (operator) {
    // The operator stays known (never rate limited) even when the id it names is malformed.
    return isDemoId(id) ? { caller: { kind: 'operator' } } : { caller: { kind: 'operator' }, error: invalidDemoId() };
  }
  if (!isDemoId(id)) return { error: invalidDemoId() };
  if (!tokens.verify(id, bearer)) return { error: ApiError.notFound(`demo ${id}`) };
  return { caller: { kind: 'demo', demoId: id } };
}
