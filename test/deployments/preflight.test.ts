/**
 * The preflight of `stack.sh up` stops a stack that would start and silently serve nothing: each
 * broken assumption, made real here, gives a message that names the problem and the fix.
 */
import { execa } from 'execa';
import { createServer, type Server } from 'node:net';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../lib/config';

const preflight = (env: Record<string, string> = {}) =>
  execa('bash', ['deployments/preflight.sh'], { cwd: repoRoot, env: { ...process.env, ...env }, reject: false });

/**
 * CONTAINERS_CONF replaces the host's containers.conf files (podman 4.3 has no override variable),
 * so a test config must carry the host's num_locks: podman refuses to start when it differs from
 * the lock segment in /dev/shm (setup.sh raises it through deployments/podman-density.sh).
 */
function hostNumLocks(): string | undefined {
  const dir = '/etc/containers/containers.conf.d';
  const files = ['/etc/containers/containers.conf', ...(existsSync(dir) ? readdirSync(dir).sort().map((f) => join(dir, f)) : [])];
  let locks: string | undefined;
  for (const f of files.filter((f) => existsSync(f))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/^\s*num_locks\s*=\s*(\d+)/gm)) locks = m[1];
  }
  return locks;
}

const tmp = mkdtempSync(join(tmpdir(), 'dmx-preflight-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('stack preflight', () => {
  it('passes on this machine as set up by setup.sh', async () => {
    const r = await preflight();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('preflight: podman on netavark');
  });

  it('names the CNI network backend and the fix', async () => {
    const conf = join(tmp, 'cni.conf');
    const locks = hostNumLocks();
    writeFileSync(conf, `${locks ? `[engine]\nnum_locks = ${locks}\n` : ''}[network]\nnetwork_backend = "cni"\n`);
    const r = await preflight({ CONTAINERS_CONF: conf });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("podman uses the 'cni' network backend; dmx needs netavark");
    expect(r.stderr).toContain('Fix: bash deployments/setup.sh');
  });

  it('names a podman that does not start, with its own error', async () => {
    const conf = join(tmp, 'locks.conf');
    writeFileSync(conf, '[engine]\nnum_locks = 7\n'); // differs from the lock segment podman already has
    const r = await preflight({ CONTAINERS_CONF: conf });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/podman info failed: Error: failed to open 7 locks/);
  });

  it('names a missing or failing CRIU', async () => {
    const r = await preflight({ DMX_CRIU_BIN_DIR: join(tmp, 'no-criu') });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`CRIU is missing at ${join(tmp, 'no-criu')}/criu`);
  });

  it('names a port held by another process and the variable that moves it', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await preflight({ DMX_API_PORT: String(port) });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`port ${port} (API) is already in use by another process`);
      expect(r.stderr).toContain('set DMX_API_PORT to a free port');
    } finally {
      server.close();
    }
  });

  it('names too little free disk', async () => {
    const r = await preflight({ DMX_MIN_FREE_DISK_MB: String(1024 * 1024 * 1024) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/only \d+ MB free on the file system of \S+ \(at least 1073741824 MB needed/);
  });

  it('names a missing dnsmasq (the demo names server)', async () => {
    // dnsmasq-base installs it in /usr/sbin: a PATH without the sbin folders hides it.
    const path = (process.env.PATH ?? '').split(':').filter((d) => !/sbin/.test(d)).join(':');
    const r = await preflight({ PATH: path });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('dnsmasq is not installed');
  });

  it('lists every problem at once', async () => {
    const r = await preflight({ DMX_CRIU_BIN_DIR: join(tmp, 'no-criu'), DMX_MIN_FREE_DISK_MB: String(1024 * 1024 * 1024) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('  - ')).length).toBeGreaterThanOrEqual(2);
  });
});
