/**
 * Activities called directly by tests run in a mock activity context (@temporalio/testing), as a
 * worker would run them: heartbeats, attempt numbers and the activity's info are there.
 */
import type { Info } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';

type ActivityFns = Record<string, (...args: never[]) => Promise<unknown>>;

/** The same activities, each call run in a fresh MockActivityEnvironment with `info`. */
export function inActivityContext<T extends ActivityFns>(acts: T, info: Partial<Info> = {}): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(acts)) {
    wrapped[name] = (...args: never[]) => new MockActivityEnvironment({ activityType: name, ...info }).run(fn, ...args);
  }
  return wrapped as T;
}
