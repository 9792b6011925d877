/**
 * Bundles the workflows once per `vitest run` (2-4 s) for every suite's workers, and hands the
 * bundle's path to the test files (`inject('workflowBundlePath')`).
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TestProject } from 'vitest/node';
import { workflowsPath } from '../../workflows/location';

declare module 'vitest' {
  export interface ProvidedContext { workflowBundlePath: string }
}

export async function provideWorkflowBundle(project: TestProject, path: string): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} } });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
  project.provide('workflowBundlePath', path);
}
