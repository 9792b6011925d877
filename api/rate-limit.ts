/**
 * Per-client limits kept in Valkey, atomic under concurrency (each check is one Lua script):
 * - requests per minute: a fixed one-minute window counter (INCR + PEXPIRE);
 * - live demos: a sorted set per client of demo ids scored by expiry (ms), pruned on every read.
 *   A slot is reserved before provisioning starts (so parallel requests cannot overshoot), then
 *   given the real expiry, moved on extend, and removed on DELETE or a failed provisioning.
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

// KEYS[1] live set, KEYS[2] owner key of the demo; ARGV: slot, demoId, score, keyTtlMs, client
const BIND_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[4])
return 1
`;

// KEYS[1] owner key, ARGV: prefix of live sets, demoId, score (new expiry ms), keyTtlMs; moves only while present
const SET_EXPIRY_SCRIPT = `
local owner = redis.call('GET', KEYS[1])
if not owner then return 0 end
local live = ARGV[1] .. owner
if not redis.call('ZSCORE', live, ARGV[2]) then return 0 end
redis.call('ZADD', live, ARGV[3], ARGV[2])
if redis.call('PTTL', live) < tonumber(ARGV[4]) then redis.call('PEXPIRE', live, ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
`;

// KEYS[1] owner key, ARGV: prefix of live sets, demoId
const RELEASE_SCRIPT = `
local owner = redis.call('GET', KEYS[1])
if not owner then return 0 end
redis.call('ZREM', ARGV[1] .. owner, ARGV[2])
redis.call('DEL', KEYS[1])
return 1
`;

export interface LimitDecision { allowed: boolean; count: number; retryAfterSeconds: number }

export interface Limiter {
  /** Counts one request of this client in the current minute. */
  hit(client: string): Promise<LimitDecision>;
  /** Reserves a live-demo slot (any unique name) until `untilMs`: taken before provisioning starts. */
  reserveSlot(client: string, slot: string, untilMs: number): Promise<LimitDecision>;
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

export function createLimiter(redis: Redis, o: LimiterOptions): Limiter {
  const now = o.now ?? Date.now;
  const liveKey = (client: string) => `${o.keyPrefix}live:${client}`;
  const ownerKey = (demoId: string) => `${o.keyPrefix}owner:${demoId}`;
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

    async reserveSlot(client, slot, untilMs) {
      const t = now();
      const [ok, n, firstScore] = (await run(RESERVE_SCRIPT, [liveKey(client)], [t, o.maxLiveDemos, slot, untilMs, keyTtl(untilMs)])) as [number, number, string];
      const allowed = ok === 1;
      return { allowed, count: Number(n), retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((Number(firstScore) - t) / 1000)) };
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
