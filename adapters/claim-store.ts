/**
 * The claim store in Valkey: each template's ready list, one record per pooled demo, pending
 * deliveries and Idempotency-Keys. Every state change is ONE Lua script, so it is atomic against
 * every other one; a record's `state` is the truth and list membership only an index.
 *
 * Invariants, enforced here:
 * - a demo is handed out at most once: only `claim` moves a record from `listed` to `claimed`,
 *   and it pops the id in the same script (a popped id whose record is not `listed` is dropped);
 * - a claimed or withdrawn demo is never listed again (`publish` refuses both, they are final);
 * - withdraw-before-teardown: `withdraw` moves `listed` to `withdrawn` and LREMs it atomically;
 *   when a claim got there first it answers `claimed` with the claim, and the claim wins;
 * - a claim is durable before it is answered (AOF; stack.sh runs Valkey with appendonly), is queued
 *   for delivery (`deliveries`) in the same script, and stays in `pending` until the demo
 *   acknowledges it, so a lost signal is delivered again.
 * Record keys are built inside the scripts from a prefix: fine on one Valkey, not on a cluster.
 */
import type { Redis } from 'iovalkey';
import { claimKeys, type DemoClaim, type WithdrawResult } from '../contract';

/** What a pooled demo's record holds: enough to answer a claim without asking its workflow. */
export interface PooledDemoRecord {
  demoId: string;
  template: string;
  templateVersion?: string;
  createdAt: string;
  readyAt: string;
}

export type ClaimOutcome =
  | { kind: 'claimed'; demo: PooledDemoRecord; claim: DemoClaim }
  | { kind: 'empty' }
  /** The Idempotency-Key was used before: the demo it got, and the owner scope that got it. */
  | { kind: 'replay'; demoId: string; owner: string };

export interface ClaimRequest {
  template: string;
  claimId: string;
  /** Hash of the caller's scope: who may see this claim's secrets again (Idempotency-Key replays). */
  owner: string;
  requestedBy: string;
  ttlSeconds: number;
  maxLifetimeSeconds: number;
  /** Hash of the Idempotency-Key (never the key itself), kept `idempotencyTtlSeconds`. */
  idempotencyKeyHash?: string;
  idempotencyTtlSeconds?: number;
  /** Take from this list instead of the ready list (a waiter's own `claiming` list). */
  fromList?: string;
}

// KEYS: record, ready list. ARGV: demoId, template, version, createdAt, readyAt, record ttl ms.
const PUBLISH = `
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'listed' then return state end
redis.call('HSET', KEYS[1], 'state', 'listed', 'demoId', ARGV[1], 'template', ARGV[2], 'templateVersion', ARGV[3], 'createdAt', ARGV[4], 'readyAt', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if not redis.call('LPOS', KEYS[2], ARGV[1]) then redis.call('RPUSH', KEYS[2], ARGV[1]) end
return 'listed'
`;

// KEYS: source list, pending, idempotency key or '', deliveries. ARGV: record prefix, claimId, owner,
// requestedBy, now ms, ttl ms, max lifetime ms, idempotency ttl ms.
const CLAIM = `
if KEYS[3] ~= '' then
  local prev = redis.call('GET', KEYS[3])
  if prev then return {'replay', prev} end
end
while true do
  local id = redis.call('LPOP', KEYS[1])
  if not id then return {'empty'} end
  local rk = ARGV[1] .. id
  if redis.call('HGET', rk, 'state') == 'listed' then
    local now = tonumber(ARGV[5])
    local maxExp = now + tonumber(ARGV[7])
    redis.call('HSET', rk, 'state', 'claimed', 'claimId', ARGV[2], 'owner', ARGV[3], 'requestedBy', ARGV[4],
      'claimedAt', now, 'expiresAt', math.min(now + tonumber(ARGV[6]), maxExp), 'maxExpiresAt', maxExp)
    redis.call('PEXPIRE', rk, maxExp - now + 3600000)
    redis.call('ZADD', KEYS[2], now, id)
    redis.call('RPUSH', KEYS[4], id)
    if KEYS[3] ~= '' then redis.call('SET', KEYS[3], id .. ' ' .. ARGV[3], 'PX', ARGV[8]) end
    return {'claimed', id, redis.call('HGETALL', rk)}
  end
end
`;

// KEYS: record, ready list. ARGV: demoId.
const WITHDRAW = `
local state = redis.call('HGET', KEYS[1], 'state')
redis.call('LREM', KEYS[2], 0, ARGV[1])
if state == 'claimed' then return {'claimed', redis.call('HGETALL', KEYS[1])} end
if state == 'listed' then
  redis.call('HSET', KEYS[1], 'state', 'withdrawn')
  return {'withdrawn'}
end
if state == 'withdrawn' then return {'withdrawn'} end
return {'absent'}
`;

// KEYS: record, pending. ARGV: demoId, claimId.
const ACKNOWLEDGE = `
if redis.call('HGET', KEYS[1], 'claimId') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'acknowledged', '1')
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;

// KEYS: claiming index, ready list prefix is ARGV. Returns a stale waiter's id to the HEAD of its
// ready list (it was the oldest) when its record is still listed. ARGV: older-than ms, ready prefix.
const SWEEP_CLAIMING = `
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local n = 0
for _, list in ipairs(stale) do
  local template = string.match(list, ':claiming:([^:]+):')
  local id = redis.call('LPOP', list)
  if id and template then
    redis.call('LPUSH', ARGV[2] .. template, id)
    n = n + 1
  end
  redis.call('DEL', list)
  redis.call('ZREM', KEYS[1], list)
end
return n
`;

function fields(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

const iso = (ms: string | undefined) => new Date(Number(ms)).toISOString();

export function claimFromFields(f: Record<string, string>): DemoClaim | undefined {
  if (!f.claimId || !f.expiresAt) return undefined;
  return { claimId: f.claimId, claimedAt: iso(f.claimedAt), expiresAt: iso(f.expiresAt), maxExpiresAt: iso(f.maxExpiresAt), requestedBy: f.requestedBy || undefined };
}

function demoFromFields(f: Record<string, string>): PooledDemoRecord {
  return { demoId: f.demoId!, template: f.template!, templateVersion: f.templateVersion || undefined, createdAt: f.createdAt!, readyAt: f.readyAt! };
}

export interface StoredRecord { state: string; demo: PooledDemoRecord; claim?: DemoClaim; owner?: string; acknowledged: boolean }

export type ClaimStore = ReturnType<typeof createClaimStore>;

export function createClaimStore(redis: Redis, o: { profile: string; queuePrefix: string }) {
  const keys = claimKeys(o.profile, o.queuePrefix);
  const run = async (script: string, k: string[], args: (string | number)[]) => redis.eval(script, k.length, ...k, ...args.map(String)) as Promise<unknown>;

  return {
    keys,

    /** Lists a pooled demo (idempotent); answers the record's state (`claimed`/`withdrawn` are never listed again). */
    async publish(d: PooledDemoRecord, recordTtlMs: number): Promise<string> {
      return (await run(PUBLISH, [keys.record(d.demoId), keys.ready(d.template)],
        [d.demoId, d.template, d.templateVersion ?? '', d.createdAt, d.readyAt, Math.max(60_000, Math.round(recordTtlMs))])) as string;
    },

    /** One atomic claim: an Idempotency-Key seen before, the oldest listed demo, or nothing. */
    async claim(req: ClaimRequest, now = Date.now()): Promise<ClaimOutcome> {
      const idem = req.idempotencyKeyHash ? keys.idempotency(req.idempotencyKeyHash) : '';
      const out = (await run(CLAIM, [req.fromList ?? keys.ready(req.template), keys.pending, idem, keys.deliveries], [
        keys.recordPrefix, req.claimId, req.owner, req.requestedBy, now, req.ttlSeconds * 1000, req.maxLifetimeSeconds * 1000,
        (req.idempotencyTtlSeconds ?? 86_400) * 1000,
      ])) as [string, string?, string[]?];
      if (out[0] === 'replay') {
        const [demoId, owner] = out[1]!.split(' ');
        return { kind: 'replay', demoId: demoId!, owner: owner ?? '' };
      }
      if (out[0] !== 'claimed') return { kind: 'empty' };
      const f = fields(out[2]!);
      return { kind: 'claimed', demo: demoFromFields(f), claim: claimFromFields(f)! };
    },

    /** Takes a demo off its ready list before recycling or teardown; a claim that got there first wins. */
    async withdraw(demoId: string, template: string): Promise<WithdrawResult> {
      const out = (await run(WITHDRAW, [keys.record(demoId), keys.ready(template)], [demoId])) as [WithdrawResult['state'], string[]?];
      return out[0] === 'claimed' ? { state: 'claimed', claim: claimFromFields(fields(out[1]!)) } : { state: out[0] };
    },

    /** The demo applied its claim: no more re-deliveries. False for another claim id. */
    async acknowledge(demoId: string, claimId: string): Promise<boolean> {
      return (await run(ACKNOWLEDGE, [keys.record(demoId), keys.pending], [demoId, claimId])) === 1;
    },

    async read(demoId: string): Promise<StoredRecord | undefined> {
      const f = await redis.hgetall(keys.record(demoId));
      if (!f.state) return undefined;
      return { state: f.state, demo: demoFromFields(f), claim: claimFromFields(f), owner: f.owner, acknowledged: f.acknowledged === '1' };
    },

    /** Claims recorded before `olderThanMs` and not acknowledged yet, oldest first. */
    async unacknowledged(olderThanMs: number, limit = 200): Promise<string[]> {
      return redis.zrangebyscore(keys.pending, '-inf', olderThanMs, 'LIMIT', 0, limit);
    },

    /** Nothing left to deliver (the demo's workflow has ended). */
    async dropPending(demoId: string): Promise<void> {
      await redis.zrem(keys.pending, demoId);
    },

    async forget(demoId: string): Promise<void> {
      await redis.multi().del(keys.record(demoId)).zrem(keys.pending, demoId).exec();
    },

    /** The Idempotency-Key's earlier claim, if any (read before any limit is checked). */
    async idempotent(keyHash: string): Promise<{ demoId: string; owner: string } | undefined> {
      const v = await redis.get(keys.idempotency(keyHash));
      if (!v) return undefined;
      const [demoId, owner] = v.split(' ');
      return { demoId: demoId!, owner: owner ?? '' };
    },

    /**
     * Waits (blocking, on a connection of its own) up to `timeoutSeconds` for claims queued for
     * delivery and takes up to `max` of them, oldest first.
     */
    async takeDeliveries(blocking: Redis, max: number, timeoutSeconds: number): Promise<string[]> {
      const out = await blocking.blmpop(timeoutSeconds, 1, keys.deliveries, 'LEFT', 'COUNT', max);
      return out ? out[1] : [];
    },

    async readyCount(template: string): Promise<number> {
      return redis.llen(keys.ready(template));
    },

    /**
     * Waits (blocking, on a connection of its own) for the next demo put on the ready list, in
     * order of arrival among waiters (Valkey serves blocked clients first come, first served),
     * and moves it to this request's own `claiming` list; claim it from there with `fromList`.
     */
    async waitForListed(blocking: Redis, template: string, requestId: string, timeoutMs: number): Promise<string | undefined> {
      const list = keys.claiming(template, requestId);
      await redis.zadd(keys.claimingIndex, Date.now() + timeoutMs, list);
      const id = await blocking.blmove(keys.ready(template), list, 'LEFT', 'RIGHT', Math.max(0.01, timeoutMs / 1000));
      return id ? list : undefined;
    },

    async doneWaiting(list: string): Promise<void> {
      await redis.multi().del(list).zrem(keys.claimingIndex, list).exec();
    },

    /** Puts back what dead waiters took (their deadline passed 5 s ago): nothing listed is lost. */
    async sweepClaiming(now = Date.now()): Promise<number> {
      return Number(await run(SWEEP_CLAIMING, [keys.claimingIndex], [now - 5_000, `${keys.ns}:ready:`]));
    },
  };
}
