/**
 * The API's limits and quotas, as environment variables (part of lib/config.ts's schema) and as
 * configuration (`config.api`). Who a request counts against is api/quotas.ts's business; 0 turns
 * a limit off.
 */
import { z } from 'zod';

const count = z.coerce.number().int().min(0);

export const limitsEnv = {
  /** API requests per client address (IPv4, or IPv6 /64) per minute. */
  DMX_RATE_LIMIT_PER_MINUTE: count.default(60),
  /** Live demos per anonymous client (IPv4 address, IPv6 /64) or per X-Dmx-Visitor of an API key. */
  DMX_MAX_LIVE_DEMOS_PER_IP: count.default(3),
  /** Demos handed out per anonymous client (or visitor) per hour; DELETE gives none back. */
  DMX_CLAIMS_PER_HOUR_PER_IP: count.default(20),
  /** Live demos per API key (all its visitors together). */
  DMX_API_KEY_MAX_LIVE_DEMOS: count.default(500),
  /** Demos handed out per API key per hour. */
  DMX_API_KEY_CLAIMS_PER_HOUR: count.default(5000),
  /** How long an Idempotency-Key of POST /v1/demos is remembered (in Valkey, hashed). */
  DMX_IDEMPOTENCY_TTL_SECONDS: z.coerce.number().int().min(60).max(7 * 86400).default(86400),
};

type LimitsEnv = { [K in keyof typeof limitsEnv]: z.infer<(typeof limitsEnv)[K]> };

export interface LimitsConfig {
  rateLimitPerMinute: number;
  maxLiveDemosPerIp: number;
  claimsPerHourPerIp: number;
  keyMaxLiveDemos: number;
  keyClaimsPerHour: number;
  idempotencyTtlSeconds: number;
}

export function limitsConfig(c: LimitsEnv): LimitsConfig {
  return {
    rateLimitPerMinute: c.DMX_RATE_LIMIT_PER_MINUTE,
    maxLiveDemosPerIp: c.DMX_MAX_LIVE_DEMOS_PER_IP,
    claimsPerHourPerIp: c.DMX_CLAIMS_PER_HOUR_PER_IP,
    keyMaxLiveDemos: c.DMX_API_KEY_MAX_LIVE_DEMOS,
    keyClaimsPerHour: c.DMX_API_KEY_CLAIMS_PER_HOUR,
    idempotencyTtlSeconds: c.DMX_IDEMPOTENCY_TTL_SECONDS,
  };
}
