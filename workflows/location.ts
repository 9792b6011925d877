/**
 * Where the workflow bundle's entry point is, for workers and replay. Not part of the bundle (the
 * bundle starts at index.ts), so it may use Node's URL helpers.
 */
import { fileURLToPath } from 'node:url';

export const workflowsPath = fileURLToPath(new URL('./index.ts', import.meta.url));
