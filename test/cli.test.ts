/** The operator CLI as operators run it (a subprocess), against the real stack. */
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../lib/config';
import { demoWorkflowId, awaitDemoReadyUpdate, type DemoLifecycleInput } from '../contract';
import { poolHandle } from '../client';
import { expectNoTraces } from './helpers/leaks';
import { newDemoId, startHarness, testConfig, type Harness } from './helpers/stack';

const PREFIX = 't-cli-';
let h: Harness;
beforeAll(async () => {
  h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
});
afterAll(async () => {
  const pool = poolHandle(h.client, h.config, 'standin');
  await pool.cancel().catch(() => undefined);
  await pool.result().catch(() => undefined);
  await h?.stop();
});

function dmx(...args: string[]) {
  return execa(process.execPath, ['cli/bin/dmx.js', ...args], {
    cwd: repoRoot, reject: false, env: { ...process.env, DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_LOG_LEVEL: 'warn' },
  });
}

describe('dmx CLI', () => {
  it('lists, shows, extends, replays and releases a demo', async () => {
    const demoId = newDemoId();
    const handle = await h.client.workflow.start('demoLifecycle', {
      taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
      args: [{ demoId, template: 'standin', ttlSeconds: 60, maxLifetimeSeconds: 120 } satisfies DemoLifecycleInput],
    });
    const state = await handle.executeUpdate(awaitDemoReadyUpdate);

    let listed: Array<{ id: string; status: string }> = [];
    for (let i = 0; i < 50 && !listed.some((r) => r.id === demoId && r.status === 'ready'); i++) {
      const r = await dmx('--json', 'list');
      expect(r.exitCode).toBe(0);
      listed = JSON.parse(r.stdout);
      if (!listed.some((x) => x.id === demoId)) await new Promise((res) => setTimeout(res, 200));
    }
    expect(listed).toContainEqual(expect.objectContaining({ id: demoId, status: 'ready', template: 'standin' }));
    const table = await dmx('list');
    expect(table.stdout).toMatch(new RegExp(`^ID +STATUS +TEMPLATE`, 'm'));
    expect(table.stdout).toContain(demoId);

    const shown = await dmx('show', demoId);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain(state.url!);
    for (const step of ['containerAndData', 'describeTemplate', 'verifyDemoRouted']) expect(shown.stdout).toMatch(new RegExp(`steps \\(ms\\) +.*\\b${step}=\\d+`));

    const ext1 = JSON.parse((await dmx('--json', 'extend', demoId, '30', '--request-id', 'cli-1')).stdout);
    const ext2 = JSON.parse((await dmx('--json', 'extend', demoId, '30', '--request-id', 'cli-1')).stdout);
    expect(Date.parse(ext1.expiresAt) - Date.parse(state.expiresAt!)).toBe(30_000);
    expect(ext2.expiresAt).toBe(ext1.expiresAt);
    const tooFar = await dmx('extend', demoId, '999999');
    expect(tooFar.exitCode).toBe(1);
    expect(tooFar.stderr).toMatch(/maximum lifetime/);

    const replay = await dmx('replay', demoId);
    expect(replay.exitCode).toBe(0);
    expect(replay.stdout).toMatch(/replay +ok/);

    const released = await dmx('release', demoId, '--reason', 'cli test');
    expect(released.exitCode).toBe(0);
    expect((await handle.result()).status).toBe('released');
    await expectNoTraces(h.deps, demoId);
  });

  it('starts, resizes and shows a pool', async () => {
    const started = await dmx('pool', 'resize', 'standin', '1');
    expect(started.exitCode, started.stderr).toBe(0);
    let stats: { target: number; ready: number } = { target: -1, ready: -1 };
    for (let i = 0; i < 100 && stats.ready !== 1; i++) {
      const r = await dmx('--json', 'pool', 'standin');
      if (r.exitCode === 0) stats = JSON.parse(r.stdout);
      if (stats.ready !== 1) await new Promise((res) => setTimeout(res, 300));
    }
    expect(stats).toMatchObject({ target: 1, ready: 1 });
    const all = await dmx('pool');
    expect(all.stdout).toMatch(/^standin +1 +1 /m);
    const resized = JSON.parse((await dmx('--json', 'pool', 'resize', 'standin', '0')).stdout);
    expect(resized.target).toBe(0);
  });

  it('rejects bad input with a clear message and a non-zero exit, touching nothing', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['show', "x'; DROP DATABASE mysql; --"], /invalid demo id/],
      [['show', '../../etc/passwd'], /invalid demo id/],
      [['extend', 'abcdefghijkmnpqr', '-5'], /seconds must be a non-negative integer|unknown option/],
      [['extend', 'abcdefghijkmnpqr', 'ten'], /seconds must be a non-negative integer/],
      [['pool', 'resize', 'Bad Name', '3'], /template name/],
      [['pool', 'resize', 'standin', '-1'], /target must be a non-negative integer|unknown option/],
      [['release', 'abcdefghijkmnpq\u00e9'], /invalid demo id/],
      [['show', 'abcdefghijkmnpqr'], /not found|no workflow|NotFound/i],
    ];
    for (const [args, message] of cases) {
      const r = await dmx(...args);
      expect(r.exitCode, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });
});
