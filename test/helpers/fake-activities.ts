/**
 * Fake activities for workflow tests (real-stack server or time-skipping server): every call is
 * recorded per demo, any call can be made to fail, and the template a fake describes is settable.
 */
import type { QueueActivities } from '../../activities';
import type { WebhookInput } from '../../activities/notifications';
import type { DemoClaim, WithdrawResult } from '../../contract';
import { randomDemoId } from '../../lib/random-ids';

export type Calls = Array<[string, string]>;

/**
 * `fault(demoId, call, input)` returns the error the call number `call` (1-based, per demo) throws,
 * or nothing; `input` is the call's own (a pool test breaks every demo of one template).
 */
export type Fault = (demoId: string, call: number, input: { demoId?: string; template?: string }) => Error | undefined;

export interface FakeOptions {
  hostId: string;
  faults?: Record<string, Fault>;
  /** What describeTemplate answers (read on every call, so a test can change the version). */
  template?: { version: string; webhooks?: { expiringSeconds: number } };
  /** Webhook deliveries, in the order they were sent. */
  webhooks?: WebhookInput[];
  /** A claim that got to the demo's Valkey record before its withdraw (the claim wins). */
  claimBeforeWithdraw?: (demoId: string) => DemoClaim | undefined;
}

export function fakeActivities(calls: Calls, o: FakeOptions) {
  const seen: Record<string, number> = {};
  const template = o.template ?? { version: 'v1' };
  const act = <T>(name: string, result: (input: { demoId?: string }) => T) => async (input: { demoId?: string; template?: string } | string) => {
    const demoId = typeof input === 'string' ? input : (input.demoId ?? '');
    calls.push([name, demoId]);
    const n = (seen[`${name}:${demoId}`] = (seen[`${name}:${demoId}`] ?? 0) + 1);
    const err = o.faults?.[name]?.(demoId, n, typeof input === 'string' ? {} : input);
    if (err) throw err;
    return result(typeof input === 'string' ? {} : input);
  };
  return {
    describeTemplate: act('describeTemplate', () => ({ name: 'standin', version: template.version, hasCheckpoint: true, adminPath: '/admin-dev', adminEmail: 'a@b.c', ...(template.webhooks ? { webhooks: template.webhooks } : {}) })),
    restoreDemoContainer: act('restoreDemoContainer', ({ demoId }) => ({ host: o.hostId, container: `c-${demoId}`, method: 'criu' as const, templateVersion: template.version, seconds: 0.1 })),
    createDemoData: act('createDemoData', ({ demoId }) => ({ database: `db_${demoId}`, tablePrefix: 'ps_', account: `u_${demoId}`, url: `http://${demoId}.demo.localhost/`, adminPassword: 'pw' })),
    configureDemoApp: act('configureDemoApp', () => undefined),
    verifyDemoServes: act('verifyDemoServes', () => ({ status: 200 })),
    connectDemoRoute: act('connectDemoRoute', () => undefined),
    verifyDemoRouted: act('verifyDemoRouted', () => ({ status: 200 })),
    disconnectDemoRoute: act('disconnectDemoRoute', () => undefined),
    dropDemoData: act('dropDemoData', () => undefined),
    removeDemoContainer: act('removeDemoContainer', () => ({ removed: true })),
    withdrawDemoName: act('withdrawDemoName', () => undefined),
    recordDemo: act('recordDemo', () => undefined),
    forgetDemo: act('forgetDemo', () => undefined),
    // The claim store: a pooled demo is listed, nobody claims it here, it is withdrawn before teardown.
    publishPooledDemo: act('publishPooledDemo', () => 'listed'),
    withdrawPooledDemo: act('withdrawPooledDemo', ({ demoId }): WithdrawResult => {
      const claim = o.claimBeforeWithdraw?.(demoId ?? '');
      return claim ? { state: 'claimed', claim } : { state: 'withdrawn' };
    }),
    acknowledgeClaim: act('acknowledgeClaim', () => true),
    forgetPooledDemo: act('forgetPooledDemo', () => undefined),
    // The pool's local activity: real random ids; recorded with the count asked for (the pool's batch size).
    generateDemoIds: async ({ count }: { count: number }) => {
      calls.push(['generateDemoIds', String(count)]);
      return Array.from({ length: count }, () => randomDemoId());
    },
    // Recorded in `webhooks` only: deliveries run beside teardown, so `calls` keeps the steps' order.
    sendWebhook: async (input: WebhookInput) => {
      o.webhooks?.push(input);
      return { status: 200 };
    },
  };
}

type Fakes = ReturnType<typeof fakeActivities>;

/** The fakes split the way the real sets are: each queue's worker registers its own. */
export function byQueue(fakes: Fakes): { [Q in keyof QueueActivities]: object } {
  const pick = (...names: Array<keyof Fakes>) => Object.fromEntries(names.map((n) => [n, fakes[n]]));
  return {
    shared: pick(
      'describeTemplate', 'generateDemoIds', 'createDemoData', 'verifyDemoRouted', 'dropDemoData', 'recordDemo', 'forgetDemo', 'sendWebhook',
      'publishPooledDemo', 'withdrawPooledDemo', 'acknowledgeClaim', 'forgetPooledDemo',
    ),
    restore: pick('restoreDemoContainer', 'removeDemoContainer'),
    host: pick('restoreDemoContainer', 'configureDemoApp', 'verifyDemoServes', 'connectDemoRoute', 'disconnectDemoRoute', 'removeDemoContainer'),
    routing: pick('withdrawDemoName'),
  };
}

/** The teardown steps of a demo whose host was never recorded: the container first, then data and index together. */
export const TEARDOWN_WITHOUT_HOST = ['removeDemoContainer', 'dropDemoData', 'forgetDemo'];

/**
 * A demo whose host was recorded: its name is also withdrawn on the host's routing queue, beside
 * the container's removal (so anywhere after the teardown began).
 */
export const TEARDOWN = [TEARDOWN_WITHOUT_HOST[0]!, ...[...TEARDOWN_WITHOUT_HOST.slice(1), 'withdrawDemoName'].sort()];

/** A pooled demo's teardown: its claim record is forgotten beside the data. */
export const POOLED_TEARDOWN = [TEARDOWN[0]!, ...[...TEARDOWN.slice(1), 'forgetPooledDemo'].sort()];

/**
 * The last teardown's steps in TEARDOWN's form: the container's removal first, then the others
 * sorted (they run together; the name's withdrawal runs from the start, so it may come first).
 */
export const teardownSteps = (calls: string[], steps: string[] = TEARDOWN): string[] => {
  const t = calls.slice(-steps.length);
  const first = t.findIndex((c) => c !== 'withdrawDemoName');
  return [t[first]!, ...t.filter((_, i) => i !== first).sort()];
};

/** The activity names one demo called, in order. */
export const callsOf = (calls: Calls, demoId: string) => calls.filter(([, d]) => d === demoId).map(([n]) => n);
