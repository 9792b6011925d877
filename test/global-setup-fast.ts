/**
 * Runs once per `vitest run` of the fast suites (no real stack): bundles the workflows for the
 * time-skipping suites' workers, in a folder of this run's own.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { provideWorkflowBundle } from './helpers/bundle';

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'dmx-fast-tests-'));
  await provideWorkflowBundle(project, join(dir, 'workflow-bundle.js'));
  return () => rmSync(dir, { recursive: true, force: true });
}
