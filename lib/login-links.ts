/**
 * One-time back-office login links. The API mints them (never a workflow: they must not sit in a
 * history), the shop verifies them with its own per-demo key (derived like every demo secret, and
 * written into its parameters.php at configuration), so a link is bound to its demo, expires after
 * `ttlSeconds`, and works once (the shop records the nonce). Contract, shared by the stand-in and
 * the flashlight endpoint: GET <adminPath>/dmx-login.php?token=<exp>.<nonce>.<sig>&to=<admin-relative path>,
 * sig = hex HMAC-SHA256(key, "dmx-login.v1.<exp>.<nonce>").
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SecretDeriver } from './secrets';

export const LOGIN_LINK_TTL_SECONDS = 60;
/** Storefront landing paths: letters, digits, `/`, `_`, `-` (no query, no scheme, no `//`). */
export const LANDING_PATH_PATTERN = /^\/(?!.*\/\/)[A-Za-z0-9/_-]{0,200}$/;
/** What a login link's `to` may be: an admin-relative path (stand-in) or a controller name (PrestaShop). */
export const LOGIN_TARGET_PATTERN = /^(?!.*\/\/)[A-Za-z0-9/_-]{1,200}$/;

export function loginSignature(key: string, exp: number, nonce: string): string {
  return createHmac('sha256', key).update(`dmx-login.v1.${exp}.${nonce}`).digest('hex');
}

export function mintLoginToken(secrets: SecretDeriver, demoId: string, nowMs = Date.now(), ttlSeconds = LOGIN_LINK_TTL_SECONDS): { token: string; expiresAt: string } {
  const exp = Math.floor(nowMs / 1000) + ttlSeconds;
  const nonce = randomBytes(18).toString('base64url');
  const key = secrets.derive('login-key', demoId, 64);
  return { token: `${exp}.${nonce}.${loginSignature(key, exp, nonce)}`, expiresAt: new Date(exp * 1000).toISOString() };
}

/** The full link for a demo whose back office is at `adminUrl` (ends with `/`). */
export function loginUrl(adminUrl: string, token: string, landing = '/'): string {
  if (!LOGIN_TARGET_PATTERN.test(landing)) throw new TypeError(`invalid landing path ${JSON.stringify(landing.slice(0, 100))}`);
  const u = new URL('dmx-login.php', adminUrl);
  u.searchParams.set('token', token);
  u.searchParams.set('to', landing);
  return u.toString();
}
