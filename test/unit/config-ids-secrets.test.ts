import { describe, expect, it } from 'vitest';
import { rewriteParametersCommand } from '../../templates/parameters';
import { ConfigError, loadConfig } from '../../lib/config';
import { demoHostFor, launcherUrl } from '../../lib/public-urls';
import { assertDemoId, demoIdFromBytes, demoIdFromWorkflowId, demoResourceNames, demoWorkflowId, isDemoId } from '../../contract';
import { createSecretDeriver } from '../../lib/secrets';

const base = {
  DMX_STATE_DIR: '/nonexistent/dmx-state',
  DMX_TEMPORAL_ADDRESS: '127.0.0.1:7233',
  DMX_TEMPORAL_UI_PORT: '8233',
  DMX_MARIADB_PORT: '3306',
  DMX_MARIADB_ADMIN_PASSWORD: 'pw',
  DMX_VALKEY_PORT: '6379',
  DMX_CADDY_HTTP_PORT: '8080',
  DMX_API_PORT: '8000',
  DMX_NETWORK: 'dmx-x',
  DMX_NETWORK_SUBNET: '10.89.30.0/24',
  DMX_EDGE_NETWORK: 'dmx-x-edge',
  DMX_EDGE_SUBNET: '10.89.31.0/24',
  DMX_NAMES_PORT: '5353',
  DMX_CRIU_BIN_DIR: '/opt/criu/bin',
};

describe('configuration', () => {
  it('parses a complete environment', () => {
    const c = loadConfig(base);
    expect(c.mariadb.demoAccountHost).toBe('10.89.30.%');
    expect(loadConfig({ ...base, DMX_NETWORK_SUBNET: '10.90.0.0/16' }).mariadb.demoAccountHost).toBe('10.90.%');
    expect(c.demos.publicPort).toBe(8080);
    expect(demoHostFor(c, 'abcdefghijkmnpqr')).toBe('abcdefghijkmnpqr.demo.localhost:8080');
    expect(demoHostFor(loadConfig({ ...base, DMX_PUBLIC_PORT: '80' }), 'abcdefghijkmnpqr')).toBe('abcdefghijkmnpqr.demo.localhost');
    // The launcher lives on the demos' site; Caddy reaches the API over the edge socket in the state dir.
    expect(launcherUrl(c, 'standin')).toBe('http://try.demo.localhost:8080/try/standin');
    expect(c.api.edgeSocket).toBe('/nonexistent/dmx-state/api/edge.sock');
    expect(loadConfig({ ...base, DMX_API_EDGE_SOCKET: 'off' }).api.edgeSocket).toBe('');
    expect(loadConfig({ ...base, DMX_API_EDGE_SOCKET: '/run/dmx/edge.sock' }).api.edgeSocket).toBe('/run/dmx/edge.sock');
    expect(c.pool.refillHoldMs).toBe(1000);
  });

  it.each([
    ['DMX_MARIADB_PORT', 'not-a-port'],
    ['DMX_CADDY_HTTP_PORT', '70000'],
    ['DMX_DEMO_DOMAIN', 'Bad_Domain!'],
    ['DMX_DATA_LAYOUT', 'tables'],
    ['DMX_NETWORK_SUBNET', '10.89.30.0/20'],
    ['DMX_NETWORK_PAIRS', '2'], // a /24 range holds one pair
    ['DMX_NETWORK_PAIRS', 'many'],
    ['DMX_DEMO_MEMORY', 'lots'],
    ['DMX_TASK_QUEUE_PREFIX', 'UPPER'],
    ['DMX_API_EDGE_SOCKET', 'relative/edge.sock'],
    ['DMX_POOL_REFILL_HOLD_MS', '10001'],
    ['DMX_POOL_REFILL_HOLD_MS', '-1'],
  ])('rejects %s=%s with a message naming the variable', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(new RegExp(name));
  });

  it('names a missing variable and says how to bring the stack up', () => {
    const { DMX_TEMPORAL_ADDRESS: _, ...rest } = base;
    expect(() => loadConfig(rest)).toThrow(/DMX_TEMPORAL_ADDRESS.*stack\.sh up/);
  });

  it('checks the TTL bounds against each other', () => {
    expect(() => loadConfig({ ...base, DMX_MIN_TTL_SECONDS: '600', DMX_MAX_TTL_SECONDS: '60' })).toThrow(/DMX_MIN_TTL_SECONDS/);
    expect(() => loadConfig({ ...base, DMX_MAX_TTL_SECONDS: '999999', DMX_MAX_LIFETIME_SECONDS: '3600' })).toThrow(/DMX_MAX_TTL_SECONDS/);
  });
});

describe('identifiers', () => {
  it('accepts only 16 characters of [a-z0-9] as a demo id', () => {
    expect(isDemoId('abcdefghijkmnpqr')).toBe(true);
    for (const bad of ['ABCDEFGHIJKMNPQR', 'abc', 'abcdefghijkmnpqr1', "abcdefghijkmnp'r", '../../etc/passwd', 'abcdefghijkmnpq\n', 'abcdéfghijkmnpqr', null, 42]) {
      expect(isDemoId(bad), String(bad)).toBe(false);
    }
    expect(() => assertDemoId('x; rm -rf /')).toThrow(/invalid demo id/);
  });

  it('derives ids and names that round-trip', () => {
    const id = demoIdFromBytes(Array.from({ length: 16 }, (_, i) => i * 17));
    expect(isDemoId(id)).toBe(true);
    expect(demoIdFromWorkflowId(demoWorkflowId(id))).toBe(id);
    expect(demoIdFromWorkflowId('demo-../x')).toBeUndefined();
    const n = demoResourceNames('dev', id);
    expect(n.container).toBe(`dmx-dev-${id}`);
    expect(n.database).toMatch(/^dmx_d_[a-z0-9]{16}$/);
  });
});

describe('per-demo secrets', () => {
  const d = createSecretDeriver(Buffer.alloc(32, 7));
  it('differ per demo and per purpose, and are stable for one demo', () => {
    const a = d.derive('cookie_key', 'aaaaaaaaaaaaaaaa', 64);
    expect(a).toHaveLength(64);
    expect(a).toMatch(/^[A-Za-z0-9]+$/);
    expect(d.derive('cookie_key', 'aaaaaaaaaaaaaaaa', 64)).toBe(a);
    expect(d.derive('cookie_key', 'bbbbbbbbbbbbbbbb', 64)).not.toBe(a);
    expect(d.derive('secret', 'aaaaaaaaaaaaaaaa', 64)).not.toBe(a);
    expect(createSecretDeriver(Buffer.alloc(32, 8)).derive('cookie_key', 'aaaaaaaaaaaaaaaa', 64)).not.toBe(a);
  });
  it('refuses a short master key', () => {
    expect(() => createSecretDeriver(Buffer.alloc(8))).toThrow(/at least 32 bytes/);
  });
});

describe('parameters rewrite command', () => {
  it('merges through php and empties the cache folders', () => {
    const [sh, flag, script] = rewriteParametersCommand('/var/www/html', 'app/config/parameters.php', ['var/cache/prod']);
    expect([sh, flag]).toEqual(['sh', '-c']);
    expect(script).toContain("'/var/www/html/app/config/parameters.php'");
    expect(script).toContain("find '/var/www/html/var/cache/prod' -mindepth 1 -delete");
  });
  it('refuses paths that could escape into the shell', () => {
    expect(() => rewriteParametersCommand('/var/www/html', "x'; rm -rf /", [])).toThrow(/unsafe path/);
    expect(() => rewriteParametersCommand('/var/www/html', 'app/../../etc/passwd', [])).toThrow(/unsafe path/);
  });
});
