/**
 * Where a run's result goes. The full run takes ~90 min (2 h on a slow night), so after every
 * section the result so far is written beside the final file (`<out>.tmp`, git-ignored) with what
 * it lacks named in `incomplete`: a run stopped by hand, or by the end of a session, keeps the
 * sections it finished. The final file replaces the committed one only when the run has ended,
 * by a rename, so latest.json is never half a run.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BenchResult } from './report';

export const progressPath = (out: string): string => `${out}.tmp`;

function write(path: string, result: BenchResult): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
}

/** The sections finished so far; `pending` names the ones still to run (the clean-up included). */
export function saveProgress(out: string, result: BenchResult, pending: string[]): void {
  write(progressPath(out), { ...result, incomplete: `not run yet: ${pending.join(', ')}` });
}

/** The finished run: written in full, then moved over `out` in one step. */
export function saveFinal(out: string, result: BenchResult): void {
  const { incomplete: _, ...done } = result;
  write(progressPath(out), done);
  renameSync(progressPath(out), out);
}
