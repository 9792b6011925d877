/**
 * The reconciler on the real stack: orphans of a terminated demo are found, reported in dry-run
 * mode, kept during the grace period and then removed; live demos are never touched; a lost Caddy
 * router is re-created; a live demo whose container vanished is released.
 */
import { request } from 'undici';
import { checkDemoRouter, routerProbe } from '../adapters/router-probe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_ROUTER_ID } from '../adapters/caddy';
import { createReconcilerActivities } from '../activities/reconciler';
import { createMetrics } from '../api/metrics';
import { ensureReconcilerSchedule, reconcileInput, reconcilerScheduleId } from '../client';
import {
  awaitDemoReadyUpdate, demoResourceNames, demoWorkflowId, reconcilerFindingsKey, type DemoLifecycleInput, type DemoState, type ReconcileResult,
} from '../contract';
import { demoTraces, expectNoTraces } from './helpers/leaks';
import { inActivityContext } from './helpers/activity-context';
import { newDemoId, realActivities, startHarness, testConfig, type Harness } from './helpers/stack';

const PREFIX = 't-rec-';
let h: Harness;
beforeAll(async () => {
  h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
});
afterAll(async () => {
  await h.client.schedule.getHandle(reconcilerScheduleId(h.config)).delete().catch(() => undefined);
  await h?.stop();
});

async function startDemo(): Promise<{ demoId: string; state: DemoState }> {
  const demoId = newDemoId();
  const handle = await h.client.workflow.start('demoLifecycle', {
    taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
    args: [{ demoId, template: 'standin', ttlSeconds: 120, maxLifetimeSeconds: 300 } satisfies DemoLifecycleInput],
  });
  return { demoId, state: await handle.executeUpdate(awaitDemoReadyUpdate) };
}

async function runReconcile(over: { dryRun: boolean; graceSeconds: number }): Promise<ReconcileResult> {
  return h.client.workflow.execute('reconcile', {
    taskQueue: h.queues.shared, workflowId: `t-rec-pass-${newDemoId()}`, args: [reconcileInput(h.config, over)],
  });
}

async function viaCaddy(url: string): Promise<number> {
  const res = await request(`http://127.0.0.1:${h.config.caddy.httpPort}/`, { reset: true, headers: { host: new URL(url).host } });
  await res.body.dump();
  return res.statusCode;
}

describe('reconciler', () => {
  it('reports orphans in dry-run mode, keeps them through the grace period, then removes them; live demos are untouched', async () => {
    const orphan = await startDemo();
    const live = await startDemo();
    // Terminating (what operators must not do) skips the teardown: exactly how orphans are made.
    await h.client.workflow.getHandle(demoWorkflowId(orphan.demoId)).terminate('test: make orphans');
    const before = await demoTraces(h.deps, orphan.demoId);
    expect(before).toMatchObject({ container: true, database: true, accounts: 1, valkeyKey: true, routeStatus: 200 });

    // Never removed on first sight: the first pass only records when each orphan was seen.
    const first = await runReconcile({ dryRun: true, graceSeconds: 0 });
    expect(first.due.filter((o) => o.demoId === orphan.demoId)).toEqual([]);
    expect(first.orphans.filter((o) => o.demoId === orphan.demoId)).toHaveLength(5);
    const dry = await runReconcile({ dryRun: true, graceSeconds: 0 });
    const kinds = dry.due.filter((o) => o.demoId === orphan.demoId).map((o) => o.kind).sort();
    expect(kinds).toEqual(['account', 'container', 'database', 'name', 'valkey']);
    expect(dry.orphans.some((o) => o.demoId === live.demoId)).toBe(false);
    expect(dry.removed).toBe(0);
    expect(await demoTraces(h.deps, orphan.demoId)).toEqual(before);
    // The last findings are published for /metrics.
    const published = JSON.parse((await h.deps.valkey.get(reconcilerFindingsKey(h.config.profile)))!);
    expect(published.orphans.length).toBeGreaterThanOrEqual(4);
    const metrics = createMetrics({ defaultMetrics: false, reconciler: async () => JSON.parse((await h.deps.valkey.get(reconcilerFindingsKey(h.config.profile)))!) });
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^dmx_reconciler_orphans\{kind="container"\} [1-9]/m);
    expect(text).toMatch(/^dmx_reconciler_orphans_due [1-9]/m);
    // Each network pair's containers (the live demo and the orphan's container are on one or two of them).
    expect(dry.pairPorts).toHaveLength(h.config.podman.pairs.length);
    expect(dry.pairPorts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
    for (let pair = 0; pair < dry.pairPorts.length; pair++) expect(text).toContain(`dmx_network_pair_ports{pair="${pair}"} ${dry.pairPorts[pair]}`);

    const patient = await runReconcile({ dryRun: false, graceSeconds: 3600 });
    expect(patient.due.filter((o) => o.demoId === orphan.demoId)).toEqual([]);
    expect(patient.orphans.filter((o) => o.demoId === orphan.demoId)).toHaveLength(5);
    expect((await demoTraces(h.deps, orphan.demoId)).container).toBe(true);

    const real = await runReconcile({ dryRun: false, graceSeconds: 0 });
    expect(real.removed).toBeGreaterThanOrEqual(5);
    await expectNoTraces(h.deps, orphan.demoId);
    // The router probe's name is demo-shaped but no demo's: it stays, and the visitors' path with it.
    expect(real.orphans.map((o) => o.name)).not.toContain(routerProbe(h.config, 'test').name);
    await checkDemoRouter(h.config);
    // The live demo still serves.
    expect(await viaCaddy(live.state.url!)).toBe(200);
    expect((await demoTraces(h.deps, live.demoId)).container).toBe(true);
    await h.client.workflow.getHandle(demoWorkflowId(live.demoId)).signal('releaseDemo', { reason: 'test done' });
    await h.client.workflow.getHandle(demoWorkflowId(live.demoId)).result();
    await expectNoTraces(h.deps, live.demoId);
  });

  it("re-creates Caddy's demo router when Caddy lost it, and releases a live demo whose container vanished", async () => {
    const a = await startDemo();
    const b = await startDemo();
    await h.deps.caddy.deleteRoute(DEMO_ROUTER_ID);
    expect(await viaCaddy(a.state.url!)).toBe(404);
    const acts = inActivityContext(createReconcilerActivities({ ...h.deps, secrets: realActivities(h.deps).secrets, temporal: h.client }));
    expect((await acts.findOrphans({ graceSeconds: 3600 })).routerRecreated).toBe(true);
    expect(await viaCaddy(a.state.url!)).toBe(200);

    await h.deps.podman.remove(demoResourceNames(h.config.profile, b.demoId).container);
    const pass = await runReconcile({ dryRun: false, graceSeconds: 3600 });
    expect(pass.lostContainers).toContain(b.demoId);
    expect(pass.released).toBeGreaterThanOrEqual(1);
    const bFinal = await h.client.workflow.getHandle(demoWorkflowId(b.demoId)).result();
    expect(bFinal.status).toBe('released');
    await expectNoTraces(h.deps, b.demoId);
    await h.client.workflow.getHandle(demoWorkflowId(a.demoId)).signal('releaseDemo', {});
    await h.client.workflow.getHandle(demoWorkflowId(a.demoId)).result();
    await expectNoTraces(h.deps, a.demoId);
  });

  it('publishes again the name of a live demo that the names server lost; a dry run only reports it', async () => {
    const a = await startDemo();
    const { container } = demoResourceNames(h.config.profile, a.demoId);
    await h.deps.names.withdraw(container);
    expect(await viaCaddy(a.state.url!)).toBe(404);
    const dry = await runReconcile({ dryRun: true, graceSeconds: 3600 });
    expect(dry.lostNames).toContain(a.demoId);
    expect(dry.republished).toBe(0);
    expect(await viaCaddy(a.state.url!)).toBe(404);
    const pass = await runReconcile({ dryRun: false, graceSeconds: 3600 });
    expect(pass.lostNames).toContain(a.demoId);
    expect(pass.republished).toBeGreaterThanOrEqual(1);
    expect(await viaCaddy(a.state.url!)).toBe(200);
    // Routable again, it is neither lost nor an orphan on the next pass.
    const after = await runReconcile({ dryRun: true, graceSeconds: 3600 });
    expect(after.lostNames).not.toContain(a.demoId);
    expect(after.orphans.map((o) => o.demoId)).not.toContain(a.demoId);
    await h.client.workflow.getHandle(demoWorkflowId(a.demoId)).signal('releaseDemo', {});
    await h.client.workflow.getHandle(demoWorkflowId(a.demoId)).result();
    await expectNoTraces(h.deps, a.demoId);
  });

  it('runs from a Temporal Schedule that the worker creates or updates', async () => {
    const cfg = testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_RECONCILE_EVERY_SECONDS: '3600', DMX_RECONCILE_DRY_RUN: 'true' });
    expect(await ensureReconcilerSchedule(h.client, cfg)).toBe('created');
    expect(await ensureReconcilerSchedule(h.client, cfg)).toBe('updated');
    const handle = h.client.schedule.getHandle(reconcilerScheduleId(cfg));
    const d = await handle.describe();
    expect(d.action.type).toBe('startWorkflow');
    await handle.trigger();
    let runs = 0;
    for (let i = 0; i < 100 && runs === 0; i++) {
      runs = (await handle.describe()).info.recentActions.length;
      if (runs === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(runs).toBe(1);
    const run = (await handle.describe()).info.recentActions[0]!.action.workflow;
    const result = await h.client.workflow.getHandle(run.workflowId, run.firstExecutionRunId).result() as ReconcileResult;
    expect(result.dryRun).toBe(true);
    expect(await ensureReconcilerSchedule(h.client, testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_RECONCILE_EVERY_SECONDS: '0' }))).toBe('disabled');
  });
});
