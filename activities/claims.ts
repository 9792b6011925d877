/**
 * Activities of the shared queue that keep a pooled demo's entry in the Valkey claim store
 * (adapters/claim-store.ts): list it once it is pooled, take it off before it is recycled or torn
 * down, acknowledge its claim, forget it at the end. All idempotent (the store's scripts are).
 */
import { assertDemoId, assertTemplateName, type WithdrawResult } from '../contract';
import { createClaimStore } from '../adapters/claim-store';
import { withHeartbeats, type ActivityDeps } from './common';

/** Which deployment's keys: the workflow passes its task queue prefix (test suites share a Valkey). */
interface Scoped { queuePrefix: string }

export function createClaimActivities(deps: ActivityDeps) {
  const store = (queuePrefix: string) => createClaimStore(deps.valkey, { profile: deps.config.profile, queuePrefix });
  return withHeartbeats({
    /** Puts a pooled demo on its template's ready list; answers `claimed`/`withdrawn` when it must not be. */
    async publishPooledDemo(input: Scoped & { demoId: string; template: string; templateVersion?: string; createdAt: string; readyAt: string; maxExpiresAt: string }): Promise<string> {
      assertDemoId(input.demoId);
      assertTemplateName(input.template);
      return store(input.queuePrefix).publish(input, Date.parse(input.maxExpiresAt) - Date.now() + 3_600_000);
    },

    async withdrawPooledDemo(input: Scoped & { demoId: string; template: string }): Promise<WithdrawResult> {
      return store(input.queuePrefix).withdraw(assertDemoId(input.demoId), assertTemplateName(input.template));
    },

    async acknowledgeClaim(input: Scoped & { demoId: string; claimId: string }): Promise<boolean> {
      return store(input.queuePrefix).acknowledge(assertDemoId(input.demoId), input.claimId);
    },

    /** The record and any pending delivery go with the demo (teardown; the leak check looks for them). */
    async forgetPooledDemo(input: Scoped & { demoId: string }): Promise<void> {
      await store(input.queuePrefix).forget(assertDemoId(input.demoId));
    },
  });
}

export type ClaimActivities = ReturnType<typeof createClaimActivities>;
