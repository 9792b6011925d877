/**
 * The worker process is SIGKILLed in the middle of provisioning and in the middle of teardown,
 * then restarted: the workflow completes and nothing leaks.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../lib/config';
import { ensurePool, poolHandle, poolSettings, poolStats } from '../client';
import { demoWorkflowId, awaitDemoReadyUpdate, extendDemoUpdate, releaseDemoUpdate } from '../contract';
import { request } from 'undici';
import { expectNoTraces } from './helpers/leaks';
import { newDemoId, startHarness, testConfig, type Harness } from './helpers/stack';

const PREFIX = 't-crash-';
let h: Harness;
const children: ResultPromise[] = [];

beforeAll(async () => {
  // Only the client and real clients for the leak checks come from the harness; its workers
  // serve another prefix, so the workflow below depends on the worker processes alone.
  h = await startHarness('t-crash-client-only-', { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await h?.stop();
});

/**
 * A real `workers/main.ts` process, as an operator runs it; resolves once it polls. Wrapped in an
 * object: the subprocess is itself a promise, which an async function would wait for.
 */
async function startWorkerProcess(): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_LOG_LEVEL: 'info' },
    reject: false,
    buffer: false,
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('worker process did not start polling within 60 s')), 60_000);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('dmx worker running')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.then((r) => reject(new Error(`worker process exited early (${r.exitCode ?? r.signal})`)));
  });
  return { child };
}

/** Polls the history until an activity of one of these types is scheduled; returns whether the run was still open. */
async function waitForScheduled(handle: WorkflowHandle, types: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A child the pool has only just asked for may not exist yet.
    const history = await handle.fetchHistory().catch((err: Error) => {
      if (/NOT_FOUND|not found/i.test(err.message)) return { events: [] };
      throw err;
    });
    const hit = history.events?.some((e) => types.includes(e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''));
    if (hit) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no ${types.join('/')} activity was scheduled within ${timeoutMs} ms`);
}

async function kill({ child }: { child: ResultPromise }): Promise<void> {
  child.kill('SIGKILL');
  const r = await child;
  expect(r.signal).toBe('SIGKILL');
}

describe('worker crash', () => {
  it('survives SIGKILL during provisioning, during the TTL wait and during teardown, and leaks nothing', async () => {
    const demoId = newDemoId();
    let worker = await startWorkerProcess();
    const handle = await h.client.workflow.start('demoLifecycle', {
      taskQueue: `${PREFIX}dmx-shared`,
      workflowId: demoWorkflowId(demoId),
      args: [{ demoId, template: 'standin', ttlSeconds: 120, maxLifetimeSeconds: 300 }],
    });

    await waitForScheduled(handle, ['restoreDemoContainer']);
    await kill(worker);
    worker = await startWorkerProcess();
    const ready = await handle.executeUpdate(awaitDemoReadyUpdate);
    expect(ready.status).toBe('ready');
    const history = await handle.fetchHistory();
    // The kill really interrupted provisioning: some activity was tried more than once or timed out.
    const interrupted = history.events?.some((e) => e.activityTaskTimedOutEventAttributes || (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1
      || e.workflowTaskTimedOutEventAttributes || e.workflowTaskFailedEventAttributes);
    expect(interrupted).toBe(true);

    // Killed during the TTL wait: the demo keeps serving, and the restarted worker still owns its timer.
    await kill(worker);
    const res = await request(`http://127.0.0.1:${h.config.caddy.httpPort}/`, { reset: true, headers: { host: new URL(ready.url!).host } });
    await res.body.dump();
    expect(res.statusCode).toBe(200);
    worker = await startWorkerProcess();
    expect((await handle.executeUpdate(extendDemoUpdate, { args: [{ seconds: 5 }] })).expiresAt).toBe(new Date(Date.parse(ready.expiresAt!) + 5_000).toISOString());

    await handle.executeUpdate(releaseDemoUpdate, { args: [{ reason: 'crash test' }] });
    await waitForScheduled(handle, ['removeDemoContainer']);
    await kill(worker);
    worker = await startWorkerProcess();
    const final = await handle.result();
    expect(final.status).toBe('released');
    await expectNoTraces(h.deps, demoId);
    await kill(worker);
  });

  it('loses no demo and leaks nothing when the worker dies while the pool replenishes', async () => {
    let worker = await startWorkerProcess();
    await ensurePool(h.client, h.config, poolSettings(h.config, 'standin', 3, { maxConcurrentProvisions: 3 }));
    const pool = poolHandle(h.client, h.config, 'standin');
    // Kill as soon as the pool has started a demo and that demo is restoring.
    let childId: string | undefined;
    const deadline = Date.now() + 30_000;
    while (!childId && Date.now() < deadline) {
      const events = (await pool.fetchHistory()).events ?? [];
      childId = events.map((e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId).find(Boolean) ?? undefined;
      if (!childId) await new Promise((r) => setTimeout(r, 10));
    }
    expect(childId).toBeDefined();
    await waitForScheduled(h.client.workflow.getHandle(childId!), ['restoreDemoContainer']);
    await kill(worker);

    worker = await startWorkerProcess();
    let stats = await poolStats(h.client, h.config, 'standin');
    for (let i = 0; i < 300 && !(stats.ready === 3 && stats.provisioning === 0); i++) {
      await new Promise((r) => setTimeout(r, 200));
      stats = await poolStats(h.client, h.config, 'standin');
    }
    expect(stats).toMatchObject({ ready: 3, provisioning: 0 });
    // The demo that was restoring when the worker died made it into the pool.
    expect(stats.readyDemoIds).toContain(childId!.replace(/^demo-/, ''));

    const demoIds = stats.readyDemoIds;
    await pool.cancel();
    await pool.result().catch(() => undefined);
    for (const id of demoIds) {
      const final = await h.client.workflow.getHandle(`demo-${id}`).result();
      expect(final.status).toBe('recycled');
      await expectNoTraces(h.deps, id);
    }
    await kill(worker);
  });
});
