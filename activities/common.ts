/**
 * What every activity set shares: its dependencies, the per-attempt logger and retry info, the
 * heartbeat wrapper, and the template and data names a demo's activities derive. Activities are
 * built by factories over their dependencies so tests can inject fakes and workers real clients.
 */
import { ApplicationFailure, Context, heartbeat } from '@temporalio/activity';
import { assertTemplateName, demoResourceNames, FAILURE_TYPES } from '../contract';
import type { AdapterDeps } from '../adapters/real-deps';
import type { SecretDeriver } from '../lib/secrets';
import { readTemplateSpec, type TemplateSpec } from '../templates/spec';

export interface ActivityDeps extends AdapterDeps {
  secrets: SecretDeriver;
}

/** What the workflow needs to know of a template (recorded in its history). */
export interface TemplateSummary {
  name: string;
  version: string;
  hasCheckpoint: boolean;
  adminPath: string;
  adminEmail: string;
  /** Lifecycle webhooks configured: send demo.expiring this many seconds before expiry. */
  webhooks?: { expiringSeconds: number };
}

export interface RestoredDemo {
  host: string;
  container: string;
  method: 'criu' | 'run';
  templateVersion: string;
  seconds: number;
  criuRestoreMicros?: number;
}

export interface DemoDataRef { database: string; tablePrefix: string; account: string }
/** A demo's data as created for it, with what its user is handed: its URL and back-office password. */
export interface DemoData extends DemoDataRef { url: string; adminPassword: string }

/**
 * Every activity heartbeats once a second while it runs, so a worker that dies mid-activity is
 * noticed after the heartbeat timeout (seconds) instead of the start-to-close timeout (minutes).
 *
 * And a demo's activity waits for an earlier attempt of it still running in this process: when the
 * Temporal server restarts (or a heartbeat is lost) it times an attempt out and schedules the next
 * while the first goes on here, and two restores of one container race (measured: the first one's
 * clean-up removed the container the second had just made). `perDemo` extends that to all of a
 * set's activities for one demo (the host set: a teardown waits for a restore still running).
 */
export function withHeartbeats<T extends Record<string, (...args: never[]) => Promise<unknown>>>(acts: T, options: { perDemo?: boolean } = {}): T {
  const inFlight = new Map<string, Promise<unknown>>();
  const wrapped = {} as Record<string, unknown>;
  for (const [name, fn] of Object.entries(acts)) {
    wrapped[name] = async (...args: never[]) => {
      const timer = setInterval(() => heartbeat(), 1_000);
      try {
        const demoId = (args[0] as { demoId?: unknown } | undefined)?.demoId;
        if (typeof demoId !== 'string') return await fn(...args);
        const key = options.perDemo ? demoId : `${name}:${demoId}`;
        const earlier = inFlight.get(key);
        const run = (async () => {
          if (earlier) {
            Context.current().log.warn('an earlier activity of this demo still runs in this worker: waiting for it to end', { demoId, activity: name });
            // Its outcome is its own attempt's (reported there); this attempt only waits for it.
            await earlier.then(() => undefined, () => undefined);
          }
          return fn(...args);
        })();
        inFlight.set(key, run);
        try {
          return await run;
        } finally {
          if (inFlight.get(key) === run) inFlight.delete(key);
        }
      } finally {
        clearInterval(timer);
      }
    };
  }
  return wrapped as T;
}

/** Activities run in an activity context (tests call them in a MockActivityEnvironment). */
export function logFor(deps: Pick<ActivityDeps, 'log'>, demoId: string) {
  const { activityType, attempt } = Context.current().info;
  return deps.log.child({ demoId, activityType, attempt });
}

export function retryInfo(): { attempt: number; maximumAttempts: number } {
  const { attempt, retryPolicy } = Context.current().info;
  return { attempt, maximumAttempts: retryPolicy?.maximumAttempts ?? 0 };
}

/** The template's spec; a missing one is permanent (TemplateMissing) until `dmx checkpoint` runs. */
export function templateSpec(deps: Pick<ActivityDeps, 'config'>, name: string): TemplateSpec {
  const { stateDir } = deps.config;
  const s = readTemplateSpec(stateDir, assertTemplateName(name));
  if (!s) {
    throw ApplicationFailure.nonRetryable(`template ${name} has no spec in ${stateDir}/templates: run \`dmx checkpoint ${name}\``, FAILURE_TYPES.templateMissing);
  }
  return s;
}

/** Where a demo's data lives in the configured layout (own database, or prefixed tables). */
export function dataRef(deps: Pick<ActivityDeps, 'config'>, demoId: string, s: TemplateSpec): DemoDataRef & { scopeDatabase: string } {
  const { config } = deps;
  const n = demoResourceNames(config.profile, demoId);
  return config.demos.dataLayout === 'database'
    ? { database: n.database, tablePrefix: s.tablePrefix, account: n.account, scopeDatabase: n.database }
    : { database: config.demos.sharedDatabase, tablePrefix: n.tablePrefix, account: n.account, scopeDatabase: config.demos.sharedDatabase };
}
