/**
 * Chaos on the real stack: services die and come back while demos are in every state. Each case
 * ends with a leak check (nothing exists that no live workflow owns) and checks that live demos
 * still answer. These restart the stack's services, so they run on the `test` profile only
 * (deployments/test.sh); DMX_CHAOS_SCALE scales the load case (1 = the reduced CI size).
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  demoWorkflowId, awaitDemoReadyUpdate, demoStateQuery, extendDemoUpdate, releaseDemoSignal, type DemoLifecycleInput, type DemoState, type ReconcileResult,
} from '../contract';
import { reconcileInput } from '../client';
import { expectNoTraces } from './helpers/leaks';
import { killService, stackUp } from './helpers/services';
import { newDemoId, startHarness, testConfig, type Harness } from './helpers/stack';

const PREFIX = 't-chaos-';
// Restarts stack services: never on the dev stack a person is using.
const isTestProfile = testConfig().profile !== 'dev';
const scale = Number(process.env.DMX_CHAOS_SCALE ?? 1);
let h: Harness;

beforeAll(async () => {
  if (isTestProfile) h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
});
afterAll(async () => {
  await h?.stop();
});

async function startDemo(ttlSeconds = 120) {
  const demoId = newDemoId();
  const handle = await h.client.workflow.start('demoLifecycle', {
    taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
    args: [{ demoId, template: 'standin', ttlSeconds, maxLifetimeSeconds: 600 } satisfies DemoLifecycleInput],
  });
  return { demoId, handle };
}
/** 200 only when the demo's own shop page came back (not some empty answer from Caddy). */
async function answers(state: DemoState): Promise<number> {
  const host = new URL(state.url!).host;
  const res = await request(`http://127.0.0.1:${h.config.caddy.httpPort}/`, { reset: true, headers: { host }, headersTimeout: 10_000 });
  const body = await res.body.text();
  return res.statusCode === 200 && body.includes(`content="${host}"`) ? 200 : res.statusCode === 200 ? 0 : res.statusCode;
}
/** The demo's status through Caddy, asked until it is 200 or `ms` have passed. */
async function answersWithin(state: DemoState, ms: number): Promise<number> {
  let status = 0;
  for (const until = Date.now() + ms; status !== 200 && Date.now() < until;) {
    status = await answers(state);
    if (status !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  return status;
}
async function endAndCheck(demoIds: string[]): Promise<void> {
  for (const id of demoIds) {
    const handle = h.client.workflow.getHandle(demoWorkflowId(id));
    await handle.signal(releaseDemoSignal, { reason: 'chaos done' }).catch(() => undefined);
    await handle.result().catch(() => undefined);
    await expectNoTraces(h.deps, id);
  }
}

describe.skipIf(!isTestProfile)('chaos (restarts stack services: test profile only, run by deployments/test.sh)', () => {
  it('MariaDB down for 20 s during provisioning: the demo waits, then comes up whole', async () => {
    const live = await startDemo();
    const liveState = await live.handle.executeUpdate(awaitDemoReadyUpdate);
    await killService(h.config, 'mariadb');
    const pending = await startDemo();
    await new Promise((r) => setTimeout(r, 20_000));
    expect((await pending.handle.describe()).status.name).toBe('RUNNING');
    await stackUp(h.config);
    const state = await pending.handle.executeUpdate(awaitDemoReadyUpdate);
    expect(state.status).toBe('ready');
    expect(await answers(state)).toBe(200);
    expect(await answers(liveState)).toBe(200);
    await endAndCheck([live.demoId, pending.demoId]);
  }, 180_000);

  it('Caddy restarted without its config: live demos answer again after a reconciler pass', async () => {
    const d = await startDemo();
    const state = await d.handle.executeUpdate(awaitDemoReadyUpdate);
    await killService(h.config, 'caddy');
    await stackUp(h.config); // Caddy comes back with its base config only: no demo router
    expect(await answers(state)).toBe(503);
    const pass: ReconcileResult = await h.client.workflow.execute('reconcile', {
      taskQueue: h.queues.shared, workflowId: `${PREFIX}reconcile-${newDemoId()}`, args: [reconcileInput(h.config, { graceSeconds: 3600 })],
    });
    expect(pass.routerRecreated).toBe(true);
    expect(await answers(state)).toBe(200);
    await endAndCheck([d.demoId]);
  }, 120_000);

  it('names server killed: live demos answer "one moment" (never "ended"), a new demo waits; all answer once it is back', async () => {
    const d = await startDemo();
    const state = await d.handle.executeUpdate(awaitDemoReadyUpdate);
    await killService(h.config, 'names');
    expect(await answers(state)).toBe(503);
    const pass: ReconcileResult = await h.client.workflow.execute('reconcile', {
      taskQueue: h.queues.shared, workflowId: `${PREFIX}reconcile-${newDemoId()}`, args: [reconcileInput(h.config, { graceSeconds: 3600 })],
    });
    expect(pass.namesError).toMatch(/names server at 127\.0\.0\.1:\d+ did not answer/);
    const pending = await startDemo();
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await pending.handle.query(demoStateQuery)).status).toBe('provisioning');
    await stackUp(h.config);
    // Names are files: the restarted server serves every one it had.
    expect(await answersWithin(state, 5_000)).toBe(200);
    const late = await pending.handle.executeUpdate(awaitDemoReadyUpdate);
    expect(late.status, late.error).toBe('ready');
    expect(await answers(late)).toBe(200);
    await endAndCheck([d.demoId, pending.demoId]);
  }, 120_000);

  it('Valkey restarted during provisioning: the demo is indexed once Valkey is back', async () => {
    await killService(h.config, 'valkey');
    const d = await startDemo();
    await new Promise((r) => setTimeout(r, 3_000));
    await stackUp(h.config);
    const state = await d.handle.executeUpdate(awaitDemoReadyUpdate);
    expect(state.status).toBe('ready');
    expect(await h.deps.valkey.exists(`dmx:demo:${d.demoId}`)).toBe(1);
    await endAndCheck([d.demoId]);
  }, 120_000);

  it('Temporal dev server restarted (same SQLite file) with demos provisioning, ready and tearing down', async () => {
    const ready = await startDemo();
    const readyState = await ready.handle.executeUpdate(awaitDemoReadyUpdate);
    const ending = await startDemo();
    await ending.handle.executeUpdate(awaitDemoReadyUpdate);
    const shortLived = await startDemo(3);
    await shortLived.handle.executeUpdate(awaitDemoReadyUpdate);
    const provisioning = await startDemo();
    await ending.handle.signal(releaseDemoSignal, { reason: 'ending during the restart' });
    await killService(h.config, 'temporal');
    await new Promise((r) => setTimeout(r, 3_000));
    await stackUp(h.config);
    // Everything resumes: the released one and the short TTL finish their teardown, the others serve.
    expect((await ending.handle.result()).status).toBe('released');
    expect((await shortLived.handle.result()).status).toBe('expired');
    const provisioned = await provisioning.handle.executeUpdate(awaitDemoReadyUpdate);
    expect(provisioned.status, provisioned.error).toBe('ready');
    expect(await answers(readyState)).toBe(200);
    await expectNoTraces(h.deps, ending.demoId);
    await expectNoTraces(h.deps, shortLived.demoId);
    await endAndCheck([ready.demoId, provisioning.demoId]);
  }, 240_000);

  it(`claims, extends and releases in parallel for ${15 * scale} s lose nothing and leak nothing`, async () => {
    const deadline = Date.now() + 15_000 * scale;
    const parallel = 4 * scale;
    const seen: string[] = [];
    let extended = 0;
    await Promise.all(Array.from({ length: parallel }, async () => {
      while (Date.now() < deadline) {
        const d = await startDemo(60);
        seen.push(d.demoId);
        const state = await d.handle.executeUpdate(awaitDemoReadyUpdate);
        expect(state.status).toBe('ready');
        const ext = await d.handle.executeUpdate(extendDemoUpdate, { args: [{ seconds: 5, requestId: `chaos-${d.demoId}` }], updateId: `chaos-${d.demoId}` });
        expect(Date.parse(ext.expiresAt)).toBe(Date.parse(state.expiresAt!) + 5_000);
        extended++;
        // On the first request, however many demos start and stop beside it: its name exists from
        // its restore on (with aardvark-dns, whose reloads refused lookups, this took up to 3 s).
        expect(await answers(state)).toBe(200);
        await d.handle.signal(releaseDemoSignal, { reason: 'chaos loop' });
      }
    }));
    expect(extended).toBe(seen.length);
    await endAndCheck(seen);
  }, 300_000);
});
