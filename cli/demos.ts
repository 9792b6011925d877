/** Operator commands on demos: list, show, extend, release, replay. */
import { randomUUID } from 'node:crypto';
import { retryTransient } from '../lib/temporal-retry';
import { WorkflowNotFoundError } from '@temporalio/common';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Config } from '../lib/config';
import { assertDemoId, demoIdFromWorkflowId, demoWorkflowId } from '../lib/ids';
import { workflowsPath } from '../workers/create-workers';
import { demoStateQuery, extendDemoUpdate, releaseDemoUpdate, TASK_QUEUES, type DemoState, type DemoStatus } from '../workflows/definitions';

export interface DemoRow { id: string; status: string; template: string; host: string; expiresAt: string; workflowStatus: string }

export async function listDemos(client: Client, config: Config, filter: { status?: DemoStatus; template?: string; all?: boolean; limit: number }): Promise<DemoRow[]> {
  const clauses = [`DmxKind = 'demo'`, `TaskQueue = '${config.temporal.queuePrefix}${TASK_QUEUES.shared}'`];
  if (!filter.all) clauses.push(`ExecutionStatus = 'Running'`);
  if (filter.status) clauses.push(`DmxStatus = '${filter.status}'`);
  if (filter.template) clauses.push(`DmxTemplate = '${filter.template}'`);
  const rows: DemoRow[] = [];
  for await (const wf of client.workflow.list({ query: clauses.join(' AND '), pageSize: Math.min(filter.limit, 1000) })) {
    const sa = wf.typedSearchAttributes;
    const get = (name: string) => sa.getAll().find((p) => p.key.name === name)?.value;
    const expires = get('DmxExpiresAt');
    rows.push({
      id: demoIdFromWorkflowId(wf.workflowId) ?? wf.workflowId,
      status: String(get('DmxStatus') ?? '-'),
      template: String(get('DmxTemplate') ?? '-'),
      host: String(get('DmxHost') ?? '-'),
      expiresAt: expires instanceof Date ? expires.toISOString() : '-',
      workflowStatus: wf.status.name,
    });
    if (rows.length >= filter.limit) break;
  }
  return rows;
}

export async function showDemo(client: Client, id: string): Promise<DemoState> {
  const handle = client.workflow.getHandle(demoWorkflowId(assertDemoId(id)));
  const desc = await handle.describe();
  if (desc.status.name === 'RUNNING') return handle.query(demoStateQuery);
  try {
    return (await handle.result()) as DemoState;
  } catch (err) {
    throw new Error(`demo ${id} ended ${desc.status.name.toLowerCase()}: ${(err as Error).message}`, { cause: err });
  }
}

/** A request id is always sent (a random one by default), so a retried extend applies once. */
export async function extendDemo(client: Client, id: string, seconds: number, requestId = `cli-${randomUUID()}`) {
  const handle = client.workflow.getHandle(demoWorkflowId(assertDemoId(id)));
  return retryTransient(`extend ${id}`, () => handle.executeUpdate(extendDemoUpdate, { args: [{ seconds, requestId }], updateId: `extend:${requestId}` }));
}

/** Releasing twice is harmless (the second finds the teardown under way), so retries are safe. */
export async function releaseDemo(client: Client, id: string, reason: string): Promise<DemoState> {
  const handle = client.workflow.getHandle(demoWorkflowId(assertDemoId(id)));
  return retryTransient(`release ${id}`, () => handle.executeUpdate(releaseDemoUpdate, { args: [{ reason }] }));
}

/** Replays a demo's (or pool's) recorded history against the current workflow code. */
export async function replayWorkflow(client: Client, workflowId: string): Promise<{ workflowId: string; events: number }> {
  const handle = client.workflow.getHandle(workflowId);
  let history;
  try {
    history = await handle.fetchHistory();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new Error(`no workflow ${workflowId}`, { cause: err });
    throw err;
  }
  // The bundler and replay worker log at INFO; an operator wants the verdict only.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // Histories hold encrypted payloads: replay with the client's own converter (the codec).
  await Worker.runReplayHistory({ workflowsPath, dataConverter: client.options.dataConverter }, history, workflowId);
  return { workflowId, events: history.events?.length ?? 0 };
}

export function workflowIdFor(idOrWorkflowId: string): string {
  return /^[a-z0-9]{16}$/.test(idOrWorkflowId) ? demoWorkflowId(idOrWorkflowId) : idOrWorkflowId;
}
