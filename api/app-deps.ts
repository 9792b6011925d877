/** What createApp needs: configuration, the demo and pool services, the limiter, metrics and readiness checks. */
import type { PayloadCodec } from '@temporalio/common';
import type { Config } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { AccessTokens } from './access-tokens';
import type { LoginLinks } from './visitor/login';
import type { DemoService } from './demo-service';
import type { PoolService } from './pool-service';
import type { Check } from './health';
import type { Limiter } from './rate-limit';
import type { ApiMetrics } from './metrics';

export interface AppDeps {
  config: Config;
  log: Logger;
  demos: DemoService;
  /** Warm pools: operators' view and resize. */
  pools: PoolService;
  limiter: Limiter;
  /** Per-demo access tokens (derived from the master key: every replica checks every token). */
  accessTokens: AccessTokens;
  /** The workers' payload codec, served at /codec/{encode,decode} for the Web UI and `temporal --codec-endpoint`. */
  codec: PayloadCodec;
  /** One-time back-office login links (minted here, verified by the shop). */
  loginLinks: LoginLinks;
  metrics: ApiMetrics;
  /** Readiness checks by backend name (temporal, valkey, mariadb, caddy). */
  checks: Record<string, Check>;
  /** True once shutdown has begun: /readyz answers 503 so load balancers stop sending traffic. */
  isDraining?: () => boolean;
}
