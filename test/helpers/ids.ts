/** Ids for tests and the history recorder (no vitest here: the recorder runs outside it). */
import { randomDemoId } from '../../lib/random-ids';

/** A fresh demo id, made the way the API and the pool make them. */
export const newDemoId = randomDemoId;
