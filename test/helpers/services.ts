/**
 * Killing a stack service and bringing it back, as the chaos and claims suites do: SIGKILL, then
 * wait until the process is really gone — `stack.sh up` checks the pid file, and a process the
 * kernel is still tearing down would pass for a running one — then `stack.sh up` restarts what is down.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type Config } from '../../lib/config';

export type StackService = 'mariadb' | 'valkey' | 'caddy' | 'temporal' | 'names';

export function servicePid(config: Config, service: StackService): number {
  const file = service === 'names' ? 'dnsmasq.pid' : `${service}.pid`;
  return Number(readFileSync(join(config.stateDir, service, file), 'utf8').trim());
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

/**
 * Restarts whatever of this profile's stack is down, and fails loudly — with stack.sh's own words —
 * when it cannot: a suite that went on with a service missing would fail far from the cause, or
 * hang. One retry, because a service killed a moment ago can still hold its port.
 */
export async function stackUp(config: Config): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= 2; attempt++) {
    const r = await execa('bash', ['deployments/stack.sh', 'up'], {
      cwd: repoRoot, env: { ...process.env, DMX_PROFILE: config.profile }, reject: false, timeout: 150_000, all: true,
    });
    if (r.exitCode === 0) return;
    last = `exit ${r.exitCode ?? (r.timedOut ? 'timeout' : 'signal')}: ${String(r.all ?? '').split('\n').slice(-15).join('\n')}`;
    await new Promise((res) => setTimeout(res, 2_000));
  }
  throw new Error(`stack.sh up (profile ${config.profile}) failed twice; last: ${last}`);
}
