/**
 * Authentication: the operator bearer token (operator endpoints) and optional API keys (public
 * endpoints). Secrets are compared in constant time: both sides are hashed to a fixed length first,
 * and every configured key is compared (no early exit that would reveal which one matched).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { ApiEnv, Caller } from './env';
import { ApiError } from './errors';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Index of the matching key, or -1; takes the same time whichever (if any) matches. */
export function matchKey(candidate: string, keys: readonly string[]): number {
  const d = digest(candidate);
  let found = -1;
  for (let i = 0; i < keys.length; i++) {
    if (timingSafeEqual(d, digest(keys[i]!)) && found === -1) found = i;
  }
  return found;
}

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
