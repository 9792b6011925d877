/**
 * Killing a stack service and bringing it back, as the chaos and claims suites do: SIGKILL, then
 * wait until the process is really gone — `stack.sh up` checks the pid file, and a process the
 * kernel is still tearing down would pass for a running one — then `stack.sh up` restarts what is down.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type Config } from '../../lib/config';

export type StackService = 'mariadb' | 'valkey' | 'caddy' | 'temporal';

export function servicePid(config: Config, service: StackService): number {
  return Number(readFileSync(join(config.stateDir, service, `${service}.pid`), 'utf8').trim());
}

export async function killService(config: Config, service: StackService): Promise<void> {
  const pid = servicePid(config, service);
  process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    try { process.kill(pid, 0); } catch { return; }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${service} (pid ${pid}) did not die`);
}

/** Restarts whatever of this profile's stack is down. */
export async function stackUp(config: Config): Promise<void> {
  await execa('bash', ['deployments/stack.sh', 'up'], { cwd: repoRoot, env: { ...process.env, DMX_PROFILE: config.profile } });
}
