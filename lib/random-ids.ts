/** Demo ids from node:crypto: the one way dmx makes them (the API, the pool's id activity, tests). Never in workflow code. */
import { randomBytes } from 'node:crypto';
import { demoIdFromBytes } from '../contract';

export function randomDemoId(): string {
  return demoIdFromBytes(randomBytes(16));
}
