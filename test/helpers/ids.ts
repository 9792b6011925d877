/** Ids for tests and the history recorder (no vitest here: the recorder runs outside it). */
import { randomBytes } from 'node:crypto';
import { demoIdFromBytes } from '../../contract';

/** A fresh demo id. */
export function newDemoId(): string {
  return demoIdFromBytes(randomBytes(16));
}
