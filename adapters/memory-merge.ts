/**
 * The kernel's same-page merging (KSM) for demo containers. Every demo is restored from the same
 * checkpoint, so most of its memory pages are byte-identical to every other demo's: with merging,
 * ksmd keeps one copy of each such page. A process opts in with prctl(PR_SET_MEMORY_MERGE, 1)
 * (Linux ≥ 6.4), which its children inherit across fork and exec: the podman restore is started
 * through a tiny perl launcher (perl-base is in every Debian install) that sets it and execs
 * podman, so conmon, runc, CRIU and the restored demo processes all have it; nothing else does.
 *
 * Off by default: merged pages are shared between tenants, a known side channel (a write to a
 * merged page takes measurably longer) and a rowhammer target. See the README, "Demos are hostile".
 */
import { readFileSync } from 'node:fs';

const PR_SET_MEMORY_MERGE = 67;
/** prctl's system call number per architecture (perl's syscall() takes the raw number). */
const PRCTL_SYSCALL: Partial<Record<NodeJS.Architecture, number>> = { x64: 157, arm64: 167 };

export const KSM_RUN_FILE = '/sys/kernel/mm/ksm/run';

/** argv prefix that runs the rest of argv with memory merging on; throws where prctl's number is unknown. */
export function memoryMergeLauncher(arch: NodeJS.Architecture = process.arch): string[] {
  const nr = PRCTL_SYSCALL[arch];
  if (nr === undefined) throw new Error(`memory merging: no prctl system call number known for architecture ${arch}`);
  const script = `syscall(${nr}, ${PR_SET_MEMORY_MERGE}, 1, 0, 0, 0) == 0 or die "prctl(PR_SET_MEMORY_MERGE): $!\\n"; exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\\n"`;
  return ['perl', '-e', script];
}

/** Whether ksmd is merging (run = 1); merging asked of processes does nothing until it is. */
export function ksmRunning(runFile = KSM_RUN_FILE): boolean {
  try {
    return readFileSync(runFile, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
