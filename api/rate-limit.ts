/**
 * Per-client limits kept in Valkey, atomic under concurrency (each check is one Lua script):
 * - requests per minute: a fixed one-minute window counter (INCR + PEXPIRE);
 * - live demos: a sorted set per client of demo ids scored by expiry (ms), pruned on every read.
 *   A slot is reserved before provisioning starts (so parallel requests cannot overshoot), then
 *   given the real expiry, moved on extend, and removed on DELETE or a failed provisioning. A demo
 *   may count against several clients (an API key and its visitor): its owner key is a set.
 * - demos handed out per hour: a fixed one-hour window counter, spent before the claim and given
 *   back only when nothing was handed out — never by DELETE, so claim-and-delete cannot drain a pool.
 */
import type { Redis } from 'iovalkey';

const WINDOW_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`;

// KEYS[1] live set; ARGV: now, max, slot, score, keyTtlMs
const RESERVE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
if tonumber(ARGV[2]) > 0 and n >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, n, first[2] or ARGV[1]}
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[5]) then redis.call('PEXPIRE', KEYS[1], ARGV[5]) end
return {1, n + 1, ARGV[4]}
`;

// KEYS[1] live set, KEYS[2] owner set of the demo; ARGV: slot, demoId, score, keyTtlMs, client
const BIND_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
redis.call('SADD', KEYS[2], ARGV[5])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return 1
`;

// KEYS[1] owner set, ARGV: prefix of live sets, demoId, score (new expiry ms), keyTtlMs; moves only while present
const SET_EXPIRY_SCRIPT = `
local n = 0
for _, owner in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local live = ARGV[1] .. owner
  if redis.call('ZSCORE', live, ARGV[2]) then
    redis.call('ZADD', live, ARGV[3], ARGV[2])
    if redis.call('PTTL', live) < tonumber(ARGV[4]) then redis.call('PEXPIRE', live, ARGV[4]) end
    n = n + 1
  end
end
if n > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return n
`;

// KEYS[1] owner set, ARGV: prefix of live sets, demoId
const RELEASE_SCRIPT = `
local owners = redis.call('SMEMBERS', KEYS[1])
for _, owner in ipairs(owners) do redis.call('ZREM', ARGV[1] .. owner, ARGV[2]) end
redis.call('DEL', KEYS[1])
return #owners
`;

// KEYS[1] hourly counter; ARGV: limit, window ms. Refused attempts are not counted.
const SPEND_SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return {0, n - 1, redis.call('PTTL', KEYS[1])}
end
return {1, n, 0}
`;

export interface LimitDecision { allowed: boolean; count: number; retryAfterSeconds: number }

export interface Limiter {
  /** Counts one request of this client in the current minute. */
  hit(client: string): Promise<LimitDecision>;
  /** Reserves a live-demo slot (any unique name) until `untilMs`: taken before provisioning starts. `max` defaults to the per-IP limit. */
  reserveSlot(client: string, slot: string, untilMs: number, max?: number): Promise<LimitDecision>;
  /** Spends one of the client's `perHour` claims of this hour (refused past it). */
  spendHourly(client: string, perHour: number): Promise<LimitDecision>;
  /** Gives one back: only when nothing was handed out (never on DELETE). */
  refundHourly(client: string): Promise<void>;
  /** Turns a reserved slot into the demo that was handed out, until its expiry. */
  bindSlot(client: string, slot: string, demoId: string, expiresAtMs: number): Promise<void>;
  /** Gives a slot back (nothing was handed out). */
  cancelSlot(client: string, slot: string): Promise<void>;
  /** Moves a demo's slot to its real expiry (after ready or an extension). */
  setDemoExpiry(demoId: string, expiresAtMs: number): Promise<void>;
  /** Frees a demo's slot (released, or provisioning failed). */
  releaseDemo(demoId: string): Promise<void>;
  /** The client's live demos now (tests, operators). */
  liveDemos(client: string): Promise<string[]>;
}

export interface LimiterOptions {
  /** Namespaces the keys, e.g. `dmx:dev:api:` (test suites use their own). */
  keyPrefix: string;
  perMinute: number;
  maxLiveDemos: number;
  now?: () => number;
}

const SLACK_MS = 10 * 60_000;
const HOUR_MS = 3_600_000;

export function createLimiter(redis: Redis, o: LimiterOptions): Limiter {
  const now = o.now ?? Date.now;
  const liveKey = (client: string) => `${o.keyPrefix}live:${client}`;
  const ownerKey = (demoId: string) => `${o.keyPrefix}owners:${demoId}`;
  const hourKey = (client: string) => `${o.keyPrefix}cph:${client}:${Math.floor(now() / HOUR_MS)}`;
  const keyTtl = (untilMs: number) => Math.max(60_000, Math.round(untilMs - now()) + SLACK_MS);
  const run = async (script: string, keys: string[], args: (string | number)[]) =>
    (await redis.eval(script, keys.length, ...keys, ...args.map(String))) as unknown;

  return {
    async hit(client) {
      if (o.perMinute <= 0) return { allowed: true, count: 0, retryAfterSeconds: 0 };
      const window = Math.floor(now() / 60_000);
      const [n, ttl] = (await run(WINDOW_SCRIPT, [`${o.keyPrefix}rpm:${client}:${window}`], [61_000])) as [number, number];
      const allowed = n <= o.perMinute;
      return { allowed, count: n, retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(Math.min(ttl, 60_000 - (now() % 60_000)) / 1000)) };
    },

    async reserveSlot(client, slot, untilMs, max = o.maxLiveDemos) {
      const t = now();
      const [ok, n, firstScore] = (await run(RESERVE_SCRIPT, [liveKey(client)], [t, max, slot, untilMs, keyTtl(untilMs)])) as [number, number, string];
      const allowed = ok === 1;
      return { allowed, count: Number(n), retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((Number(firstScore) - t) / 1000)) };
    },

    async spendHourly(client, perHour) {
      if (perHour <= 0) return { allowed: true, count: 0, retryAfterSeconds: 0 };
      const [ok, n, ttl] = (await run(SPEND_SCRIPT, [hourKey(client)], [perHour, HOUR_MS + 60_000])) as [number, number, number];
      return { allowed: ok === 1, count: n, retryAfterSeconds: ok === 1 ? 0 : Math.max(1, Math.ceil(Math.min(ttl, HOUR_MS - (now() % HOUR_MS)) / 1000)) };
    },

    async refundHourly(client) {
      await redis.decr(hourKey(client));
    },

    async bindSlot(client, slot, demoId, expiresAtMs) {
      await run(BIND_SCRIPT, [liveKey(client), ownerKey(demoId)], [slot, demoId, expiresAtMs, keyTtl(expiresAtMs), client]);
    },

    async cancelSlot(client, slot) {
      await redis.zrem(liveKey(client), slot);
    },

    async setDemoExpiry(demoId, expiresAtMs) {
      await run(SET_EXPIRY_SCRIPT, [ownerKey(demoId)], [`${o.keyPrefix}live:`, demoId, expiresAtMs, keyTtl(expiresAtMs)]);
    },

    async releaseDemo(demoId) {
      await run(RELEASE_SCRIPT, [ownerKey(demoId)], [`${o.keyPrefix}live:`, demoId]);
    },

    async liveDemos(client) {
      return redis.zrangebyscore(liveKey(client), now(), '+inf');
    },
  };
}
