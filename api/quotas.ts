/**
 * Who a demo request counts against, and its Idempotency-Key's scope:
 * - an anonymous caller is its address: an IPv4 address, or the /64 of an IPv6 address (one
 *   subscriber usually holds a whole /64, so per-address limits would not limit anyone);
 * - an API key is its own bucket with its own quotas (a vendor's back end is not one visitor);
 *   it may name the end visitor in `X-Dmx-Visitor`, and the per-visitor limits (the anonymous
 *   ones) then apply to that visitor too;
 * - the operator is not limited.
 * Idempotency-Keys are stored as a hash (never in clear, never logged) and bound to the owner
 * scope: a replay answers the same demo with its secrets only to the same scope.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { Config } from '../lib/config';
import type { Caller } from './env';

/** ≥ 22 characters of [A-Za-z0-9_-] (~128 bits): a key nobody else can guess or happen to reuse. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;
export const IDEMPOTENCY_KEY_FORMAT = '22 to 128 characters of [A-Za-z0-9_-] (e.g. a random UUID without dashes, or 16 random bytes in base64url)';
export const VISITOR_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/;

/** The eight 16-bit groups of an IPv6 address (`::` expanded, an embedded IPv4 tail converted). */
function ipv6Groups(ip: string): number[] {
  let text = ip.split('%')[0]!;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g || '0', 16));
}

/** The limit bucket of an address: IPv4 as is, IPv6 by its /64. */
export function ipBucket(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  return `${ipv6Groups(ip).slice(0, 4).map((g) => g.toString(16)).join(':')}::/64`;
}

const shortHash = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64url').slice(0, 22);

export interface LimitBucket {
  /** Limiter client name (no secrets: a visitor id is hashed). */
  id: string;
  maxLive: number;
  perHour: number;
}

export interface CallerScope {
  /** Hashed owner scope: Idempotency-Key replays reveal secrets only to the same one. */
  owner: string;
  /** Counted against each of these (none for the operator). */
  buckets: LimitBucket[];
}

export function callerScope(config: Config, caller: Caller, ip: string, visitor?: string): CallerScope {
  const perVisitor = (id: string): LimitBucket => ({ id, maxLive: config.api.maxLiveDemosPerIp, perHour: config.api.claimsPerHourPerIp });
  if (caller.kind === 'operator') return { owner: shortHash('operator'), buckets: [] };
  if (caller.kind === 'key') {
    const key = `key#${caller.keyIndex}`;
    const keyBucket: LimitBucket = { id: key, maxLive: config.api.keyMaxLiveDemos, perHour: config.api.keyClaimsPerHour };
    if (!visitor) return { owner: shortHash(key), buckets: [keyBucket] };
    const v = `${key}:visitor:${shortHash(visitor)}`;
    return { owner: shortHash(v), buckets: [keyBucket, perVisitor(v)] };
  }
  const bucket = `ip:${ipBucket(ip)}`;
  return { owner: shortHash(bucket), buckets: [perVisitor(bucket)] };
}

/** What is stored for an Idempotency-Key: its hash (the key itself is a bearer of the demo's secrets). */
export function idempotencyKeyHash(key: string): string {
  return createHash('sha256').update(`dmx-idempotency\n${key}`, 'utf8').digest('base64url');
}
