/**
 * Histories of real runs (exported with test/histories/record.sh) replay against the current
 * workflow code: a change that would break running demos fails here, in CI.
 */
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, inject } from 'vitest';

const dir = join(import.meta.dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('replay of recorded histories', () => {
  it('has histories for every way a demo ends, and of a pool', () => {
    expect(files).toEqual(expect.arrayContaining([
      // Recorded before the faster-provisioning patch: they keep the old path covered.
      'demo-cancelled.json', 'demo-expired.json', 'demo-extended-released.json', 'demo-failed-template-missing.json',
      // Recorded with it: warm pool, pooled demos, webhooks.
      'v1-demo-expired.json', 'v1-demo-released.json', 'v1-demo-cancelled.json', 'v1-demo-webhooks-expired.json',
      'v1-pooled-demo-claimed-released.json', 'v1-pooled-demo-recycled.json', 'v1-pool-first-run.json',
      // Recorded with the later patches (route beside configuration, claims answered at once).
      'v2-demo-expired.json', 'v2-demo-cancelled.json', 'v2-pooled-demo-claimed-released.json',
      'v2-pooled-demo-recycled.json', 'v2-pool-first-run.json',
    ]));
  });

  it.each(files)('%s replays without non-determinism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    // Throws DeterminismViolationError (or ReplayError) when the code no longer matches the history.
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file);
  });
});
