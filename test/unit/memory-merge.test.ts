/**
 * The launcher that asks the kernel to merge a process's identical pages (KSM) before exec'ing
 * podman: run for real with perl, the process it execs reads its own setting back with prctl.
 * And deployments/memory-merge.sh, which turns ksmd on for a stack and off after the last one, run
 * for real against a stand-in of the kernel's ksm folder.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ksmRunning, memoryMergeLauncher } from '../../adapters/memory-merge';
import { repoRoot } from '../../lib/config';

const PR_GET_MEMORY_MERGE = 68;
const prctlNr = { x64: 157, arm64: 167 }[process.arch as 'x64' | 'arm64'];
/** perl that prints this process's PR_GET_MEMORY_MERGE (1 when merging was asked of it or a parent). */
const readBack = ['perl', '-e', `print syscall(${prctlNr}, ${PR_GET_MEMORY_MERGE}, 0, 0, 0, 0)`];

describe('memory merge launcher', () => {
  it('sets PR_SET_MEMORY_MERGE and execs the command with its arguments, which keeps it', async () => {
    const [file, ...args] = [...memoryMergeLauncher(), ...readBack];
    expect((await execa(file!, args)).stdout).toBe('1');
    const [plain, ...plainArgs] = readBack;
    expect((await execa(plain!, plainArgs)).stdout).toBe('0');
  });

  it('fails with the command\'s name when it cannot be started, and exits non-zero', async () => {
    const [file, ...args] = [...memoryMergeLauncher(), '/nonexistent/podman', 'ps'];
    const r = await execa(file!, args, { reject: false });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('exec /nonexistent/podman');
  });

  it('refuses an architecture whose prctl number it does not know', () => {
    expect(() => memoryMergeLauncher('riscv64')).toThrow(/no prctl system call number known for architecture riscv64/);
  });

  it('reads whether ksmd runs from its run file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmx-ksm-'));
    const run = join(dir, 'run');
    writeFileSync(run, '1\n');
    expect(ksmRunning(run)).toBe(true);
    writeFileSync(run, '0\n');
    expect(ksmRunning(run)).toBe(false);
    expect(ksmRunning(join(dir, 'missing'))).toBe(false);
  });
});

describe('deployments/memory-merge.sh', () => {
  const made: string[] = [];
  afterAll(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

  function host(runAtStart: '0' | '1') {
    const dir = mkdtempSync(join(tmpdir(), 'dmx-ksm-host-'));
    made.push(dir);
    const ksm = join(dir, 'ksm');
    mkdirSync(ksm);
    for (const [f, v] of [['run', runAtStart], ['advisor_mode', 'none'], ['advisor_target_scan_time', '200'], ['advisor_max_cpu', '70']]) writeFileSync(join(ksm, f!), `${v}\n`);
    const users = join(dir, 'users');
    const script = (stack: string, action: string, env: Record<string, string> = {}) => execa('bash', [join(repoRoot, 'deployments', 'memory-merge.sh'), action], {
      env: { DMX_KSM_DIR: ksm, DMX_KSM_USERS_DIR: users, DMX_STATE_DIR: join(dir, stack), DMX_PROFILE: 'dev', ...env }, reject: false,
    });
    const read = (f: string) => readFileSync(join(ksm, f), 'utf8').trim();
    return { script, read, users };
  }

  it('starts ksmd with the scan settings and stops it only when the last stack that asked is down', async () => {
    const { script, read } = host('0');
    expect((await script('a', 'on', { DMX_KSM_SCAN_SECONDS: '30', DMX_KSM_MAX_CPU: '10' })).exitCode).toBe(0);
    expect([read('run'), read('advisor_mode'), read('advisor_target_scan_time'), read('advisor_max_cpu')]).toEqual(['1', 'scan-time', '30', '10']);
    expect((await script('b', 'on')).exitCode).toBe(0);
    expect((await script('a', 'off')).exitCode).toBe(0);
    expect(read('run')).toBe('1'); // stack b still asks for it
    expect((await script('a', 'off')).exitCode).toBe(0); // twice: nothing more
    expect(read('run')).toBe('1');
    expect((await script('b', 'off')).exitCode).toBe(0);
    expect(read('run')).toBe('0');
  });

  it('leaves ksmd on when it was on before dmx, and does nothing for a stack that never asked', async () => {
    const { script, read, users } = host('1');
    expect((await script('never', 'off')).exitCode).toBe(0);
    expect(read('run')).toBe('1');
    expect(existsSync(users)).toBe(false);
    await script('a', 'on');
    await script('a', 'off');
    expect(read('run')).toBe('1');
  });

  it('refuses bad settings with the variable named, and changes nothing', async () => {
    const { script, read, users } = host('0');
    const scan = await script('a', 'on', { DMX_KSM_SCAN_SECONDS: '5' });
    expect(scan.exitCode).not.toBe(0);
    expect(scan.stderr).toContain('DMX_KSM_SCAN_SECONDS must be a whole number of seconds >= 10');
    const cpu = await script('a', 'on', { DMX_KSM_MAX_CPU: '150' });
    expect(cpu.stderr).toContain('DMX_KSM_MAX_CPU must be 1..100');
    expect((await script('a', 'maybe')).stderr).toContain('usage:');
    expect(read('run')).toBe('0');
    expect(existsSync(users)).toBe(false);
  });
});
