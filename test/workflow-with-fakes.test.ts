/**
 * The lifecycle workflow on the real Temporal server with fake activities: failure paths that are
 * hard to provoke with real services, checked quickly and exactly.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoWorkflowId, awaitDemoReadyUpdate, releaseDemoUpdate } from '../contract';
import { newDemoId, startHarness, testConfig, type Harness } from './helpers/stack';

type Calls = Array<[string, string]>;

/**
 * Fakes that record calls per demo. `faults[name](demoId, call)` returns the error the call number
 * `call` (1-based, per demo) of that activity should throw, or nothing.
 */
type Fault = (demoId: string, call: number) => Error | undefined;
function fakeActivities(calls: Calls, faults: Record<string, Fault> = {}) {
  const host = testConfig().hostId;
  const seen: Record<string, number> = {};
  const act = <T>(name: string, result: (input: { demoId?: string }) => T) => async (input: { demoId?: string } | string) => {
    const demoId = typeof input === 'string' ? input : (input.demoId ?? '');
    calls.push([name, demoId]);
    const n = (seen[`${name}:${demoId}`] = (seen[`${name}:${demoId}`] ?? 0) + 1);
    const err = faults[name]?.(demoId, n);
    if (err) throw err;
    return result(typeof input === 'string' ? {} : input);
  };
  return {
    describeTemplate: act('describeTemplate', () => ({ name: 'standin', version: 'v1', hasCheckpoint: true, adminPath: '/admin-dev', adminEmail: 'a@b.c' })),
    restoreDemoContainer: act('restoreDemoContainer', ({ demoId }) => ({ host, container: `c-${demoId}`, method: 'criu' as const, templateVersion: 'v1', seconds: 0.1 })),
    createDemoData: act('createDemoData', ({ demoId }) => ({ database: `db_${demoId}`, tablePrefix: 'ps_', account: `u_${demoId}` })),
    applyDemoIdentityInDatabase: act('applyDemoIdentityInDatabase', ({ demoId }) => ({ url: `http://${demoId}.demo.localhost/`, adminPassword: 'pw' })),
    configureDemoApp: act('configureDemoApp', () => undefined),
    verifyDemoServes: act('verifyDemoServes', () => ({ status: 200 })),
    connectDemoRoute: act('connectDemoRoute', () => undefined),
    verifyDemoRouted: act('verifyDemoRouted', () => ({ status: 200 })),
    disconnectDemoRoute: act('disconnectDemoRoute', () => undefined),
    dropDemoData: act('dropDemoData', () => undefined),
    removeDemoContainer: act('removeDemoContainer', () => ({ removed: true })),
    recordDemo: act('recordDemo', () => undefined),
    forgetDemo: act('forgetDemo', () => undefined),
  };
}

/** The fakes split the way the real sets are: each queue's worker registers its own. */
function byQueue(fakes: ReturnType<typeof fakeActivities>) {
  const pick = (...names: Array<keyof typeof fakes>) => Object.fromEntries(names.map((n) => [n, fakes[n]]));
  return {
    shared: pick('describeTemplate', 'createDemoData', 'applyDemoIdentityInDatabase', 'verifyDemoRouted', 'dropDemoData', 'recordDemo', 'forgetDemo'),
    restore: pick('restoreDemoContainer', 'removeDemoContainer'),
    host: pick('restoreDemoContainer', 'configureDemoApp', 'verifyDemoServes', 'connectDemoRoute', 'disconnectDemoRoute', 'removeDemoContainer'),
  };
}

const TEARDOWN = ['disconnectDemoRoute', 'dropDemoData', 'removeDemoContainer', 'forgetDemo'];

describe('lifecycle failure paths (fake activities)', () => {
  let h: Harness;
  const calls: Calls = [];
  const flakyDb = new Set<string>();
  const brokenRestore = new Set<string>();
  beforeAll(async () => {
    h = await startHarness('t-fakes-', {
      activities: byQueue(fakeActivities(calls, {
        // Transient: a MariaDB outage for the first two attempts of one step.
        applyDemoIdentityInDatabase: (id, n) => (flakyDb.has(id) && n <= 2 ? new Error('connect ECONNREFUSED 127.0.0.1:3306') : undefined),
        // Permanent: CRIU and the run fallback both fail.
        restoreDemoContainer: (id) => (brokenRestore.has(id) ? new Error('criu failed: restore') : undefined),
      })),
    });
  });
  afterAll(async () => {
    await h?.stop();
  });
  const callsOf = (demoId: string) => calls.filter(([, d]) => d === demoId).map(([n]) => n);

  const start = (demoId: string, ttlSeconds = 60) => h.client.workflow.start('demoLifecycle', {
    taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
    args: [{ demoId, template: 'standin', ttlSeconds, maxLifetimeSeconds: 120 }],
  });

  it('retries a failing restore three times, then fails the workflow after cleaning up everything', async () => {
    const demoId = newDemoId();
    brokenRestore.add(demoId);
    const handle = await start(demoId);
    const err = await handle.result().catch((e) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/could not be provisioned: .*criu failed/);
    const c = callsOf(demoId);
    expect(c.filter((n) => n === 'restoreDemoContainer')).toHaveLength(3);
    // No host was recorded (no route can exist): the container removal went to the restore queue.
    expect(c.slice(-3)).toEqual(['dropDemoData', 'removeDemoContainer', 'forgetDemo']);
    expect(c).not.toContain('recordDemo');
  }, 60_000);

  it('rides out a transient database outage and hands out the demo only when every step succeeded', async () => {
    const demoId = newDemoId();
    flakyDb.add(demoId);
    const handle = await start(demoId);
    const state = await handle.executeUpdate(awaitDemoReadyUpdate);
    expect(state.status).toBe('ready');
    const c = callsOf(demoId);
    // Two database failures, retried: the third attempt went through.
    expect(c.filter((n) => n === 'applyDemoIdentityInDatabase')).toHaveLength(3);
    expect(c.indexOf('verifyDemoRouted')).toBeGreaterThan(c.lastIndexOf('applyDemoIdentityInDatabase'));
    await handle.executeUpdate(releaseDemoUpdate, { args: [{}] });
    expect((await handle.result()).status).toBe('released');
    expect(callsOf(demoId).slice(-4)).toEqual(TEARDOWN);
  }, 60_000);

  it('rejects malformed input without touching anything', async () => {
    const handle = await h.client.workflow.start('demoLifecycle', {
      taskQueue: h.queues.shared, workflowId: `demo-bad-${newDemoId()}`,
      args: [{ demoId: "x'; DROP TABLE", template: 'standin', ttlSeconds: 60, maxLifetimeSeconds: 120 }],
    });
    const err = await handle.result().catch((e) => e);
    expect((err as WorkflowFailedError).cause).toMatchObject({ type: 'InvalidInput' });
    expect(calls.filter(([, d]) => d.includes('DROP'))).toEqual([]);
  });
});

describe('non-retryable failures', () => {
  it('fail at once and still clean up', async () => {
    const calls: Calls = [];
    const h = await startHarness('t-fakes2-', {
      activities: byQueue(fakeActivities(calls, {
        createDemoData: () => ApplicationFailure.nonRetryable('template database missing', 'TemplateMissing'),
      })),
    });
    try {
      const demoId = newDemoId();
      const handle = await h.client.workflow.start('demoLifecycle', {
        taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
        args: [{ demoId, template: 'standin', ttlSeconds: 60, maxLifetimeSeconds: 120 }],
      });
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
      const c = calls.filter(([, d]) => d === demoId).map(([n]) => n);
      expect(c.filter((n) => n === 'createDemoData')).toHaveLength(1);
      expect(c.slice(-4)).toEqual(TEARDOWN);
    } finally {
      await h.stop();
    }
  });
});
