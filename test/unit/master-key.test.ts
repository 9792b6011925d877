/**
 * The master key file is created whole by exactly one process: several processes starting at
 * once (test suites, the worker and the API) all read the same 32 bytes, never an empty file.
 */
import { execa } from 'execa';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../lib/config';

describe('loadOrCreateMasterKey', () => {
  it('six processes creating the same key at once all get one whole key, and leave no draft behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmx-key-'));
    const path = join(dir, 'state', 'secret.key');
    const script = `import { loadOrCreateMasterKey } from ${JSON.stringify(join(repoRoot, 'lib', 'secrets.ts'))};
      process.stdout.write(loadOrCreateMasterKey(${JSON.stringify(path)}).toString('hex'));`;
    const runs = await Promise.all(Array.from({ length: 6 }, () => execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, reject: false })));
    for (const r of runs) expect(r.stderr).toBe('');
    const keys = new Set(runs.map((r) => r.stdout));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(join(dir, 'state'))).toEqual(['secret.key']);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });
});
