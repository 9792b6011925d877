/** Demos started straight through their workflow (no pool), for suites that need a few live ones. */
import { demoWorkflowId } from '../../contract';
import { awaitDemoReadyUpdate, type DemoLifecycleInput, type DemoState } from '../../contract';
import { expectNoTraces } from './leaks';
import { newDemoId, type Harness } from './stack';

export async function startDemos(h: Harness, count: number, ttlSeconds = 120): Promise<DemoState[]> {
  return Promise.all(Array.from({ length: count }, async () => {
    const demoId = newDemoId();
    const handle = await h.client.workflow.start('demoLifecycle', {
      taskQueue: h.queues.shared, workflowId: demoWorkflowId(demoId),
      args: [{ demoId, template: 'standin', ttlSeconds, maxLifetimeSeconds: ttlSeconds * 2 } satisfies DemoLifecycleInput],
    });
    return handle.executeUpdate(awaitDemoReadyUpdate);
  }));
}

/** Releases the demos, waits for their teardown and checks nothing of them is left. */
export async function releaseDemos(h: Harness, demos: Array<DemoState | undefined>): Promise<void> {
  for (const d of demos) {
    if (!d) continue;
    const handle = h.client.workflow.getHandle(demoWorkflowId(d.demoId));
    await handle.signal('releaseDemo', { reason: 'test done' });
    await handle.result();
    await expectNoTraces(h.deps, d.demoId);
  }
}
