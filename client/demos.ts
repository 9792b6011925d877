/**
 * Demos over Temporal, for the API, the CLI and the benchmark: start one, read it, extend it,
 * release it, list and count them. Errors are Temporal's own (callers present them); a workflow
 * that is not a demo answers like an unknown one (WorkflowNotFoundError).
 */
import { WorkflowNotFoundError } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowExecutionDescription, WorkflowExecutionInfo, WorkflowStartOptions } from '@temporalio/client';
import {
  DEMO_WORKFLOW_TYPE, demoIdFromWorkflowId, demoStateQuery, demoWorkflowId, extendDemoUpdate, isDemoStatus, isTemplateName, MAX_LIST_LIMIT,
  MAX_REASON_LENGTH, releaseDemoSignal, resetDemoUpdate, SEARCH_ATTRIBUTES, taskQueuesFor, type DemoLifecycleInput, type DemoState, type DemoStatus, type ExtendDemoResult,
} from '../contract';
import type { Config } from '../lib/config';
import type { demoLifecycle } from '../workflows/demo-lifecycle';
import { withDeadline } from './connection';
import { isWorkflowGone } from './errors';
import { call, type CallOptions } from './retry';

/** How a fresh demo workflow is started (alone, or with an Update in one call). */
export function demoStartOptions(config: Config, input: Omit<DemoLifecycleInput, 'maxLifetimeSeconds'>) {
  return {
    workflowId: demoWorkflowId(input.demoId),
    taskQueue: taskQueuesFor(config.temporal.queuePrefix).shared,
    args: [{ ...input, maxLifetimeSeconds: config.demos.maxLifetimeSeconds }],
    workflowIdConflictPolicy: 'FAIL' as const,
    workflowIdReusePolicy: 'REJECT_DUPLICATE' as const,
    typedSearchAttributes: [
      { key: SEARCH_ATTRIBUTES.kind, value: 'demo' },
      { key: SEARCH_ATTRIBUTES.template, value: input.template },
    ],
  } satisfies WorkflowStartOptions<typeof demoLifecycle>;
}

export function demoHandle(client: Client, demoId: string) {
  return client.workflow.getHandle<typeof demoLifecycle>(demoWorkflowId(demoId));
}

/** The demo's workflow execution; a workflow of another type is "not found". */
export async function describeDemo(client: Client, demoId: string, o: CallOptions = {}): Promise<WorkflowExecutionDescription> {
  const handle = demoHandle(client, demoId);
  const d = await call(client, o, `describe ${demoId}`, () => handle.describe());
  if (d.type !== DEMO_WORKFLOW_TYPE) throw new WorkflowNotFoundError(`demo ${demoId} not found`, handle.workflowId, undefined);
  return d;
}

type ExecutionInfo = Pick<WorkflowExecutionInfo, 'status' | 'typedSearchAttributes' | 'startTime' | 'closeTime'>;

/** A demo's status from its execution alone (when it cannot be asked). */
export function statusFromExecution(info: ExecutionInfo): DemoStatus {
  const fromSa = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status);
  switch (info.status.name) {
    case 'RUNNING':
      return isDemoStatus(fromSa) ? fromSa : 'provisioning';
    case 'COMPLETED':
      return fromSa === 'released' ? 'released' : 'expired';
    case 'CANCELLED':
      return 'cancelled';
    default:
      return 'failed';
  }
}

function stateFromExecution(info: ExecutionInfo, demoId: string): DemoState {
  const expires = info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.expiresAt);
  const status = statusFromExecution(info);
  return {
    demoId,
    template: info.typedSearchAttributes.get(SEARCH_ATTRIBUTES.template) ?? 'unknown',
    status,
    createdAt: info.startTime.toISOString(),
    expiresAt: expires?.toISOString(),
    maxExpiresAt: '',
    endedAt: info.closeTime?.toISOString(),
    stepMs: {},
    extendRequests: [],
    ...(status === 'failed' ? { error: 'the demo could not be provisioned' } : {}),
  };
}

/** A running demo's own state; an ended one's result, or what its execution tells. */
export async function readDemo(client: Client, demoId: string, o: CallOptions = {}): Promise<DemoState> {
  const d = await describeDemo(client, demoId, o);
  const handle = demoHandle(client, demoId);
  if (d.status.name === 'RUNNING') return call(client, o, `query ${demoId}`, () => handle.query(demoStateQuery));
  if (d.status.name === 'COMPLETED') {
    const result = await call(client, o, `result of ${demoId}`, () => handle.result()).catch(() => undefined);
    if (result) return result;
  }
  return stateFromExecution(d, demoId);
}

/**
 * Moves the expiry later. A request id is always sent (a random one by default): the workflow
 * applies each id once, so a retried extend cannot add twice.
 */
export function extendDemo(client: Client, demoId: string, seconds: number, requestId: string = randomUUID(), o: CallOptions = {}): Promise<ExtendDemoResult> {
  const handle = demoHandle(client, demoId);
  return call(client, o, `extend ${demoId}`, () =>
    handle.executeUpdate(extendDemoUpdate, { args: [{ seconds, requestId }], updateId: `extend:${requestId}` }),
  );
}

/**
 * Back to the template's state (same URL and expiry, new data, container and password); answers when
 * ready again. The request id is the update id and is remembered: a retry is answered, not redone.
 */
export function resetDemo(client: Client, demoId: string, requestId: string = randomUUID(), o: CallOptions = {}): Promise<DemoState> {
  const handle = demoHandle(client, demoId);
  return call(client, o, `reset ${demoId}`, () => handle.executeUpdate(resetDemoUpdate, { args: [{ requestId }], updateId: `reset:${requestId}` }));
}

/**
 * Starts teardown; returns `tearing_down`, or the final status when the demo had ended. A signal is
 * durable at once (no worker needed), and teardown is idempotent, so repeats are harmless.
 */
export async function releaseDemo(client: Client, demoId: string, reason: string, o: CallOptions = {}): Promise<DemoStatus> {
  const d = await describeDemo(client, demoId, o);
  if (d.status.name !== 'RUNNING') return statusFromExecution(d);
  try {
    await call(client, o, `release ${demoId}`, () => demoHandle(client, demoId).signal(releaseDemoSignal, { reason: reason.slice(0, MAX_REASON_LENGTH) }));
  } catch (err) {
    if (isWorkflowGone(err)) return statusFromExecution(await describeDemo(client, demoId, o));
    throw err;
  }
  return 'tearing_down';
}

export interface DemoListFilter {
  status?: DemoStatus;
  template?: string;
  /** Only running demo workflows (default: ended ones too). */
  runningOnly?: boolean;
  limit: number;
}

export interface DemoSummary {
  id: string;
  template?: string;
  status?: string;
  workflowStatus: string;
  host?: string;
  createdAt: string;
  expiresAt?: string;
  closedAt?: string;
}

/** The visibility query of this deployment's demos. Values are checked against closed sets first. */
function demoListQuery(config: Config, filter: Omit<DemoListFilter, 'limit'>): string {
  const clauses = [`DmxKind = 'demo'`, `TaskQueue = '${taskQueuesFor(config.temporal.queuePrefix).shared}'`];
  if (filter.runningOnly) clauses.push(`ExecutionStatus = 'Running'`);
  if (filter.status !== undefined) {
    if (!isDemoStatus(filter.status)) throw new RangeError(`unknown demo status ${JSON.stringify(filter.status).slice(0, 40)}`);
    clauses.push(`DmxStatus = '${filter.status}'`);
  }
  if (filter.template !== undefined) {
    if (!isTemplateName(filter.template)) throw new RangeError('invalid template name');
    clauses.push(`DmxTemplate = '${filter.template}'`);
  }
  return clauses.join(' AND ');
}

/** This deployment's demos, newest first, at most `limit` (`truncated` when there were more). */
export async function listDemos(client: Client, config: Config, filter: DemoListFilter, o: Pick<CallOptions, 'deadlineMs'> = {}): Promise<{ demos: DemoSummary[]; truncated: boolean }> {
  const demos: DemoSummary[] = [];
  let truncated = false;
  await withDeadline(client, o.deadlineMs, async () => {
    for await (const w of client.workflow.list({ query: demoListQuery(config, filter), pageSize: Math.min(filter.limit + 1, MAX_LIST_LIMIT) })) {
      const id = demoIdFromWorkflowId(w.workflowId);
      if (!id) continue;
      if (demos.length >= filter.limit) {
        truncated = true;
        break;
      }
      const sa = w.typedSearchAttributes;
      demos.push({
        id,
        template: sa.get(SEARCH_ATTRIBUTES.template),
        status: sa.get(SEARCH_ATTRIBUTES.status),
        workflowStatus: w.status.name,
        host: sa.get(SEARCH_ATTRIBUTES.host),
        createdAt: w.startTime.toISOString(),
        expiresAt: sa.get(SEARCH_ATTRIBUTES.expiresAt)?.toISOString(),
        closedAt: w.closeTime?.toISOString(),
      });
    }
  });
  return { demos, truncated };
}

/** Running demo workflows of this deployment. */
export async function countLiveDemos(client: Client, config: Config, o: CallOptions = {}): Promise<number> {
  const r = await call(client, o, 'count live demos', () => client.workflow.count(demoListQuery(config, { runningOnly: true })));
  return r.count;
}
