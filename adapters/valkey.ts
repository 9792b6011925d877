/** Valkey (or Redis 7) client factory (iovalkey). */
import { Redis } from 'iovalkey';

export function createValkey(o: { host: string; port: number; lazy?: boolean }): Redis {
  return new Redis({
    host: o.host,
    port: o.port,
    lazyConnect: o.lazy ?? false,
    connectTimeout: 3_000,
    // Commands wait for a reconnect instead of failing at once, but not forever.
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
}
export type Valkey = Redis;
