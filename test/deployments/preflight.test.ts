/**
 * The preflight of `stack.sh up` stops a stack that would start and silently serve nothing: each
 * broken assumption, made real here, gives a message that names the problem and the fix.
 */
import { execa } from 'execa';
import { createServer, type Server } from 'node:net';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../lib/config';

const preflight = (env: Record<string, string> = {}) =>
  execa('bash', ['deployments/preflight.sh'], { cwd: repoRoot, env: { ...process.env, ...env }, reject: false });

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
    writeFileSync(conf, '[network]\nnetwork_backend = "cni"\n');
    const r = await preflight({ CONTAINERS_CONF: conf });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain("podman uses the 'cni' network backend; dmx needs netavark");
    expect(r.stderr).toContain('Fix: bash deployments/setup.sh');
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

  it('names a podman network of the profile that has DNS disabled', async () => {
    const name = `dmx-preflight-nodns-${process.pid}`;
    await execa('podman', ['network', 'create', '--disable-dns', '--subnet', '10.250.77.0/24', name]);
    try {
      const r = await preflight({ DMX_EDGE_NETWORK: name });
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`podman network ${name} exists with DNS disabled`);
    } finally {
      await execa('podman', ['network', 'rm', '-f', name]);
    }
  });

  it('lists every problem at once', async () => {
    const r = await preflight({ DMX_CRIU_BIN_DIR: join(tmp, 'no-criu'), DMX_MIN_FREE_DISK_MB: String(1024 * 1024 * 1024) });
    expect(r.exitCode).toBe(1);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('  - ')).length).toBeGreaterThanOrEqual(2);
  });
});
