/**
 * Histories of real runs (recorded with test/histories/record.ts) replay against the current
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
    // Recorded from the current code by test/histories/record.ts (see test/histories/VERSIONING.md).
    expect(files).toEqual(expect.arrayContaining([
      'demo-expired.json', 'demo-extended-released.json', 'demo-cancelled.json', 'demo-failed-template-missing.json', 'demo-webhooks-expired.json',
      'pooled-demo-claimed-released.json', 'pooled-demo-recycled.json', 'pool-claimed-resized-cancelled.json',
    ]));
  });

  it.each(files)('%s replays without non-determinism', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    // Throws DeterminismViolationError (or ReplayError) when the code no longer matches the history.
    await Worker.runReplayHistory({ workflowBundle: { codePath: inject('workflowBundlePath') } }, history, file);
  });
});
