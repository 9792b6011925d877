/**
 * The launcher that asks the kernel to merge a process's identical pages (KSM) before exec'ing
 * podman: run for real with perl, the process it execs reads its own setting back with prctl.
 */
import { execa } from 'execa';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ksmRunning, memoryMergeLauncher } from '../../adapters/memory-merge';

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
