/** Leak checks: everything a demo owned must be gone once its workflow has ended. */
import { expect } from 'vitest';
import { demoFootprint, NO_FOOTPRINT } from '../../adapters/footprint';
import type { RealDeps } from '../../adapters/real-deps';

export const demoTraces = (deps: RealDeps, demoId: string) => demoFootprint(deps, demoId);

export async function expectNoTraces(deps: RealDeps, demoId: string): Promise<void> {
  expect(await demoFootprint(deps, demoId)).toEqual(NO_FOOTPRINT);
}
