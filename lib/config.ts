/**
 * Configuration from environment variables (the same names the shell scripts use, see
 * deployments/lib.sh). When a variable is not set in the environment, the value that
 * `deployments/stack.sh up` resolved for the profile is read from $DMX_STATE_DIR/stack.env, so a
 * developer can run the CLI or vitest against a running stack without exporting anything.
 * Invalid values stop start-up with a message naming the variable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { CLAIM_DELIVERY_HOLD_MS, DEMO_ID_FORMAT, DEMO_ID_PATTERN, MAX_POOL_TARGET, POOL_REFILL_HOLD_MS } from '../contract';
import { parseEgressAllow, type EgressRule } from './firewall';
import { networkPairsFromEnv, type NetworkPair } from './network-pairs';
import { limitsConfig, limitsEnv, type LimitsConfig } from './limits-config';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const port = z.coerce.number().int().min(1).max(65535);
const seconds = z.coerce.number().int().positive();
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const subnet = z.string().regex(/^(\d{1,3}\.){2}0\.0\/16$|^(\d{1,3}\.){3}0\/24$/, 'an IPv4 /16 or /24 subnet like 10.90.0.0/16 or 10.89.10.0/24');
const dnsName = z.string().regex(/^(?=.{1,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a lower-case DNS name');
const safeName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'letters, digits, - and _ only');

const schema = z.object({
  DMX_PROFILE: z.string().regex(/^[a-z][a-z0-9]{0,11}$/, "'dev', 'test' or a short lower-case name").default('dev'),
  DMX_STATE_DIR: z.string().min(1),
  DMX_CACHE_DIR: z.string().min(1).default('/var/cache/dmx'),
  DMX_HOST_ID: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'a host id like node-1').default(
    hostname().toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40) || 'host',
  ),
  DMX_TEMPORAL_ADDRESS: z.string().min(3),
  DMX_TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  DMX_TEMPORAL_UI_PORT: port,
  /** Prefixes every task queue (isolated test suites, or several deployments on one Temporal namespace). */
  DMX_TASK_QUEUE_PREFIX: z.string().regex(/^[a-z0-9-]{0,30}$/, 'lower-case letters, digits and - (at most 30)').default(''),
  DMX_MARIADB_HOST: z.string().default('127.0.0.1'),
  DMX_MARIADB_PORT: port,
  DMX_MARIADB_ADMIN_USER: z.string().default('dmx_admin'),
  DMX_MARIADB_ADMIN_PASSWORD: z.string().optional(),
  DMX_MARIADB_ADMIN_PASSWORD_FILE: z.string().optional(),
  DMX_VALKEY_PORT: port,
  DMX_VALKEY_HOST: z.string().default('127.0.0.1'),
  /** Unix socket of Caddy's admin API; default $DMX_STATE_DIR/caddy/admin.sock. */
  DMX_CADDY_ADMIN_SOCKET: z.string().min(1).optional(),
  DMX_CADDY_HTTP_PORT: port,
  /** Alias of the router probe container on the edge network (`stack.sh up` makes it): readiness requests it through Caddy. */
  DMX_ROUTER_PROBE_ID: z.string().regex(DEMO_ID_PATTERN, DEMO_ID_FORMAT).optional(),
  DMX_API_PORT: port,
  /** Where visitors land per template: template=storefront:/path or template=backoffice:<page>, comma-separated. */
  DMX_LANDINGS: z.string().default('standin=backoffice:/module/dmxdemo'),
  DMX_DEMO_DOMAIN: dnsName.default('demo.localhost'),
  DMX_PUBLIC_SCHEME: z.enum(['http', 'https']).default('http'),
  /** Port in the demo URLs handed out; defaults to Caddy's HTTP port. 80/443 leave it out. */
  DMX_PUBLIC_PORT: port.optional(),
  /** The profile's network pairs (lib/network-pairs.ts, which also reads DMX_NETWORK_PAIRS): names and ranges. */
  DMX_NETWORK: safeName,
  DMX_NETWORK_SUBNET: subnet,
  DMX_EDGE_NETWORK: safeName,
  DMX_EDGE_SUBNET: subnet,
  /** The demo names server's port on 127.0.0.1, and its folder (default /run/dmx-<profile>/names). */
  DMX_NAMES_PORT: port,
  DMX_NAMES_DIR: z.string().min(1).optional(),
  DMX_CRIU_BIN_DIR: z.string().min(1),
  /** Outside destinations demos may open TCP connections to (`cidr:port,...`); empty: no egress at all. */
  DMX_DEMO_EGRESS_ALLOW: z.string().default(''),
  /** podman's REST API socket (`podman system service`, started by stack.sh); default $DMX_STATE_DIR/podman/podman.sock. */
  DMX_PODMAN_SOCKET: z.string().min(1).optional(),
  /** `database`: one MariaDB database + account per demo. `prefix`: the seed layout, one shared database, tables prefixed per demo. */
  DMX_DATA_LAYOUT: z.enum(['database', 'prefix']).default('database'),
  DMX_SHARED_DATABASE: safeName.default('dmx_demos'),
  /** Pre-cloned template databases kept ready per template version (database layout): a demo's data step is then a table move. 0 turns the stock off. */
  DMX_DATA_STOCK: z.coerce.number().int().min(0).max(50).default(4),
  DMX_DEFAULT_TEMPLATE: safeName.default('standin'),
  DMX_DEFAULT_TTL_SECONDS: seconds.default(3600),
  DMX_MIN_TTL_SECONDS: seconds.default(300), // minutes: with a short TTL one client could cycle through a pool
  DMX_MAX_TTL_SECONDS: seconds.default(4 * 3600),
  DMX_MAX_LIFETIME_SECONDS: seconds.default(24 * 3600),
  DMX_DEMO_MEMORY: z.string().regex(/^\d+[kmg]$/i, 'a size like 256m').default('384m'),
  DMX_DEMO_CPUS: z.string().regex(/^\d+(\.\d+)?$/, 'a number like 1 or 0.5').default('1'),
  DMX_DEMO_PIDS: z.coerce.number().int().min(16).default(256),
  /** The kernel merges demos' identical memory pages (KSM: the stand-in took ~3.9 MB per demo instead of ~11). Off by default: merged pages are shared between tenants (README, "Demos are hostile"). */
  DMX_DEMO_MEMORY_MERGE: bool.default(false),
  DMX_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  DMX_OPERATOR_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  DMX_REQUIRE_OPERATOR_TOKEN: bool.default(true),
  /** The unix socket Caddy reaches the API through (the launcher, the demo bar); its requests carry the visitor's address. `off`: none. */
  DMX_API_EDGE_SOCKET: z.string().regex(/^(\/[^\0]{1,100}|off)$/, 'an absolute path of at most 100 characters, or off').optional(),
  /** Address the HTTP API listens on: loopback unless an operator exposes it (behind a proxy, or 0.0.0.0). */
  DMX_API_HOST: z.string().regex(/^[0-9a-fA-F.:]{2,45}$|^localhost$/, 'an IP address like 127.0.0.1 or ::').default('127.0.0.1'),
  /** Comma-separated keys that public API callers must send (X-Api-Key or bearer); empty: no key needed. */
  DMX_API_KEYS: z.string().default('').transform((v) => v.split(',').map((k) => k.trim()).filter(Boolean)).pipe(
    z.array(z.string().regex(/^[\x21-\x7e]{16,200}$/, 'comma-separated keys of 16-200 printable characters')),
  ),
  /** Header a trusted reverse proxy sets with the client address (e.g. x-forwarded-for); empty: the socket address. */
  DMX_TRUSTED_PROXY_HEADER: z.string().regex(/^$|^[a-z0-9-]{1,64}$/i, 'a header name like x-forwarded-for').default('').transform((v) => v.toLowerCase()),
  ...limitsEnv,
  /** Largest request body the API accepts, in bytes. */
  DMX_API_BODY_LIMIT_BYTES: z.coerce.number().int().min(256).max(1024 * 1024).default(16 * 1024),
  /** How long POST /v1/demos waits for a demo to become ready before answering 503. */
  DMX_API_ACQUIRE_TIMEOUT_SECONDS: seconds.default(90),
  /** On SIGTERM, how long in-flight requests may run before their connections are closed. */
  DMX_API_SHUTDOWN_GRACE_SECONDS: seconds.default(15),
  /** Warm pool size started for the default template by the main command (0: no pool). */
  DMX_POOL_SIZE: z.coerce.number().int().min(0).max(MAX_POOL_TARGET).default(3),
  DMX_POOL_MAX_CONCURRENT_PROVISIONS: z.coerce.number().int().min(1).max(50).default(2),
  DMX_POOL_REFILL_HOLD_MS: z.coerce.number().int().min(POOL_REFILL_HOLD_MS.min).max(POOL_REFILL_HOLD_MS.max).default(POOL_REFILL_HOLD_MS.default),
  DMX_POOL_CLAIM_DELIVERY_HOLD_MS: z.coerce.number().int().min(CLAIM_DELIVERY_HOLD_MS.min).max(CLAIM_DELIVERY_HOLD_MS.max).default(CLAIM_DELIVERY_HOLD_MS.default),
  DMX_POOL_UNCLAIMED_MAX_AGE_SECONDS: seconds.default(1800),
  /** Lifecycle webhooks (demo.ready, demo.expiring, demo.expired); off without a URL. */
  DMX_WEBHOOK_URL: z.string().url().refine((u) => /^https?:/.test(u), 'an http(s) URL').optional(),
  DMX_WEBHOOK_SECRET: z.string().min(16, 'at least 16 characters').optional(),
  DMX_WEBHOOK_EXPIRING_SECONDS: seconds.default(300),
  /** Reconciler schedule period (0: no schedule), grace before an orphan is removed, report-only mode. */
  DMX_RECONCILE_EVERY_SECONDS: z.coerce.number().int().min(0).max(86400).default(60),
  DMX_RECONCILE_GRACE_SECONDS: z.coerce.number().int().min(0).max(86400).default(120),
  DMX_RECONCILE_DRY_RUN: bool.default(false),
  /** How long a claim may wait for a cold provision when the pool is empty and the caller allows waiting. */
  DMX_POOL_CLAIM_WAIT_SECONDS: z.coerce.number().int().min(0).max(300).default(30),
});

export type RawConfig = z.infer<typeof schema>;

export interface Config {
  /** 'dev' (the main command), 'test', or another test profile on its own slot. */
  profile: string;
  stateDir: string;
  cacheDir: string;
  hostId: string;
  temporal: { address: string; namespace: string; uiUrl: string; queuePrefix: string };
  mariadb: { host: string; port: number; user: string; password: string; demoAccountHost: string };
  valkey: { host: string; port: number };
  caddy: { adminSocket: string; httpPort: number; routerProbeId?: string };
  demos: {
    domain: string;
    scheme: 'http' | 'https';
    publicPort: number;
    dataLayout: 'database' | 'prefix';
    dataStock: number;
    sharedDatabase: string;
    defaultTemplate: string;
    defaultTtlSeconds: number;
    minTtlSeconds: number;
    maxTtlSeconds: number;
    maxLifetimeSeconds: number;
    memory: string;
    cpus: string;
    pids: number;
  };
  /** `pairs`: each demo is on one pair's demo and edge network; MariaDB listens on every pair's gateway. */
  podman: { pairs: NetworkPair[]; criuBinDir: string; egressAllow: EgressRule[]; socketPath: string; memoryMerge: boolean };
  webhook: { url?: string; secret?: string; expiringSeconds: number };
  reconciler: { everySeconds: number; graceSeconds: number; dryRun: boolean };
  names: { port: number; dir: string };
  pool: { size: number; maxConcurrentProvisions: number; refillHoldMs: number; claimDeliveryHoldMs: number; unclaimedMaxAgeSeconds: number; claimWaitSeconds: number };
  api: LimitsConfig & {
    port: number;
    /** '' when the API has no edge socket (Caddy then dials its TCP port). */
    edgeSocket: string;
    landings: string;
    host: string;
    operatorToken?: string;
    requireOperatorToken: boolean;
    apiKeys: string[];
    trustedProxyHeader: string;
    bodyLimitBytes: number;
    acquireTimeoutSeconds: number;
    shutdownGraceSeconds: number;
  };
  logLevel: RawConfig['DMX_LOG_LEVEL'];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function readEnvFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** Runs the parser of one setting, naming the setting in its error. */
function setting<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const profile = env.DMX_PROFILE ?? 'dev';
  const stateDir = env.DMX_STATE_DIR ?? join(repoRoot, '.state', profile);
  const stackEnvFile = join(stateDir, 'stack.env');
  const fromFile = existsSync(stackEnvFile) ? readEnvFile(stackEnvFile) : {};
  const merged: Record<string, string | undefined> = { ...fromFile, DMX_STATE_DIR: stateDir };
  for (const [k, v] of Object.entries(env)) if (k.startsWith('DMX_') && v !== undefined && v !== '') merged[k] = v;

  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    const hint = existsSync(stackEnvFile) ? '' : ` (no ${stackEnvFile}: is the stack up? run deployments/stack.sh up)`;
    throw new ConfigError(`invalid configuration: ${problems}${hint}`);
  }
  const c = parsed.data;
  let password = c.DMX_MARIADB_ADMIN_PASSWORD;
  if (!password && c.DMX_MARIADB_ADMIN_PASSWORD_FILE) {
    const file = c.DMX_MARIADB_ADMIN_PASSWORD_FILE;
    password = setting('DMX_MARIADB_ADMIN_PASSWORD_FILE', () => readFileSync(file, 'utf8').trim());
  }
  if (!password) throw new ConfigError('DMX_MARIADB_ADMIN_PASSWORD or DMX_MARIADB_ADMIN_PASSWORD_FILE must be set');
  if (c.DMX_MIN_TTL_SECONDS > c.DMX_MAX_TTL_SECONDS) throw new ConfigError('DMX_MIN_TTL_SECONDS must not exceed DMX_MAX_TTL_SECONDS');
  if (c.DMX_DEFAULT_TTL_SECONDS < c.DMX_MIN_TTL_SECONDS || c.DMX_DEFAULT_TTL_SECONDS > c.DMX_MAX_TTL_SECONDS) {
    throw new ConfigError('DMX_DEFAULT_TTL_SECONDS must lie between DMX_MIN_TTL_SECONDS and DMX_MAX_TTL_SECONDS');
  }
  if (c.DMX_MAX_TTL_SECONDS > c.DMX_MAX_LIFETIME_SECONDS) throw new ConfigError('DMX_MAX_TTL_SECONDS must not exceed DMX_MAX_LIFETIME_SECONDS');
  if (c.DMX_REQUIRE_OPERATOR_TOKEN && !c.DMX_OPERATOR_TOKEN && env.DMX_API_STARTING === '1') {
    throw new ConfigError('DMX_OPERATOR_TOKEN must be set (or DMX_REQUIRE_OPERATOR_TOKEN=false)');
  }
  const egressAllow = setting('DMX_DEMO_EGRESS_ALLOW', () => parseEgressAllow(c.DMX_DEMO_EGRESS_ALLOW));
  const pairs = setting('DMX_NETWORK_PAIRS', () => networkPairsFromEnv(merged));
  if (c.DMX_WEBHOOK_URL && !c.DMX_WEBHOOK_SECRET) throw new ConfigError('DMX_WEBHOOK_SECRET must be set when DMX_WEBHOOK_URL is (deliveries are signed with it)');
  const uiPort = c.DMX_TEMPORAL_UI_PORT;
  return {
    profile: c.DMX_PROFILE,
    stateDir: c.DMX_STATE_DIR,
    cacheDir: c.DMX_CACHE_DIR,
    hostId: c.DMX_HOST_ID,
    temporal: { address: c.DMX_TEMPORAL_ADDRESS, namespace: c.DMX_TEMPORAL_NAMESPACE, uiUrl: `http://localhost:${uiPort}`, queuePrefix: c.DMX_TASK_QUEUE_PREFIX },
    mariadb: {
      host: c.DMX_MARIADB_HOST,
      port: c.DMX_MARIADB_PORT,
      user: c.DMX_MARIADB_ADMIN_USER,
      password,
      // Demo accounts may connect only from the demo range (every pair's demo network is inside it): 10.90.0.0/16 -> '10.90.%', 10.89.10.0/24 -> '10.89.10.%'
      demoAccountHost: c.DMX_NETWORK_SUBNET.endsWith('/16') ? c.DMX_NETWORK_SUBNET.replace(/0\.0\/16$/, '%') : c.DMX_NETWORK_SUBNET.replace(/0\/24$/, '%'),
    },
    valkey: { host: c.DMX_VALKEY_HOST, port: c.DMX_VALKEY_PORT },
    caddy: { adminSocket: c.DMX_CADDY_ADMIN_SOCKET ?? join(c.DMX_STATE_DIR, 'caddy', 'admin.sock'), httpPort: c.DMX_CADDY_HTTP_PORT, routerProbeId: c.DMX_ROUTER_PROBE_ID },
    demos: {
      domain: c.DMX_DEMO_DOMAIN,
      scheme: c.DMX_PUBLIC_SCHEME,
      publicPort: c.DMX_PUBLIC_PORT ?? c.DMX_CADDY_HTTP_PORT,
      dataLayout: c.DMX_DATA_LAYOUT,
      dataStock: c.DMX_DATA_STOCK,
      sharedDatabase: c.DMX_SHARED_DATABASE,
      defaultTemplate: c.DMX_DEFAULT_TEMPLATE,
      defaultTtlSeconds: c.DMX_DEFAULT_TTL_SECONDS,
      minTtlSeconds: c.DMX_MIN_TTL_SECONDS,
      maxTtlSeconds: c.DMX_MAX_TTL_SECONDS,
      maxLifetimeSeconds: c.DMX_MAX_LIFETIME_SECONDS,
      memory: c.DMX_DEMO_MEMORY,
      cpus: c.DMX_DEMO_CPUS,
      pids: c.DMX_DEMO_PIDS,
    },
    podman: {
      pairs,
      criuBinDir: c.DMX_CRIU_BIN_DIR,
      egressAllow,
      socketPath: c.DMX_PODMAN_SOCKET ?? join(c.DMX_STATE_DIR, 'podman', 'podman.sock'),
      memoryMerge: c.DMX_DEMO_MEMORY_MERGE,
    },
    webhook: { url: c.DMX_WEBHOOK_URL, secret: c.DMX_WEBHOOK_SECRET, expiringSeconds: c.DMX_WEBHOOK_EXPIRING_SECONDS },
    reconciler: { everySeconds: c.DMX_RECONCILE_EVERY_SECONDS, graceSeconds: c.DMX_RECONCILE_GRACE_SECONDS, dryRun: c.DMX_RECONCILE_DRY_RUN },
    names: { port: c.DMX_NAMES_PORT, dir: c.DMX_NAMES_DIR ?? `/run/dmx-${c.DMX_PROFILE}/names` },
    pool: {
      size: c.DMX_POOL_SIZE,
      maxConcurrentProvisions: c.DMX_POOL_MAX_CONCURRENT_PROVISIONS,
      refillHoldMs: c.DMX_POOL_REFILL_HOLD_MS,
      claimDeliveryHoldMs: c.DMX_POOL_CLAIM_DELIVERY_HOLD_MS,
      unclaimedMaxAgeSeconds: c.DMX_POOL_UNCLAIMED_MAX_AGE_SECONDS,
      claimWaitSeconds: c.DMX_POOL_CLAIM_WAIT_SECONDS,
    },
    api: {
      port: c.DMX_API_PORT,
      edgeSocket: c.DMX_API_EDGE_SOCKET === 'off' ? '' : c.DMX_API_EDGE_SOCKET ?? join(stateDir, 'api', 'edge.sock'),
      landings: c.DMX_LANDINGS,
      host: c.DMX_API_HOST,
      operatorToken: c.DMX_OPERATOR_TOKEN,
      requireOperatorToken: c.DMX_REQUIRE_OPERATOR_TOKEN,
      apiKeys: c.DMX_API_KEYS,
      trustedProxyHeader: c.DMX_TRUSTED_PROXY_HEADER,
      ...limitsConfig(c),
      bodyLimitBytes: c.DMX_API_BODY_LIMIT_BYTES,
      acquireTimeoutSeconds: c.DMX_API_ACQUIRE_TIMEOUT_SECONDS,
      shutdownGraceSeconds: c.DMX_API_SHUTDOWN_GRACE_SECONDS,
    },
    logLevel: c.DMX_LOG_LEVEL,
  };
}
