/** `dmx replay`: a workflow's recorded history replayed against the current workflow code. */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { demoWorkflowId, isDemoId } from '../contract';
import { workflowsPath } from '../workflows/location';

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

/** A demo id names its demo's workflow; anything else is taken as a workflow id. */
export function workflowIdFor(idOrWorkflowId: string): string {
  return isDemoId(idOrWorkflowId) ? demoWorkflowId(idOrWorkflowId) : idOrWorkflowId;
}
