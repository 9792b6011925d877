/**
 * Tools of the attacker suite: run code inside a demo the way a visitor with its back office could
 * (PHP the shop ships, through `podman exec`), and read what the host looks like from there.
 */
import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const probeScript = readFileSync(join(import.meta.dirname, 'probe.php'), 'utf8');

export type ProbeTarget = { tcp: string; port: number } | { ptr: string; server: string };
export type ProbeResult = 'open' | 'refused' | 'unreachable' | 'timeout' | 'answer' | 'empty-answer' | 'no-answer' | `error:${number}`;

/** Probes every target in parallel from inside the container; a dropped packet shows as `timeout`. */
export async function probeFrom(container: string, targets: ProbeTarget[], seconds = 2): Promise<ProbeResult[]> {
  const r = await execa('podman', ['exec', '-i', container, 'php', '--', JSON.stringify(targets), String(seconds)], { input: probeScript, reject: false });
  if (r.exitCode !== 0) throw new Error(`probe in ${container} failed (exit ${r.exitCode}): ${r.stderr}`);
  return JSON.parse(r.stdout) as ProbeResult[];
}

/** Runs PHP code inside the container; stdout and stderr together. */
export async function phpIn(container: string, code: string): Promise<string> {
  const r = await execa('podman', ['exec', '-i', container, 'php'], { input: `<?php ${code}`, reject: false });
  return `${r.stdout}${r.stderr}`.trim();
}

/**
 * A container's IPv6 link-local addresses with their interface (from /proc/net/if_inet6), once none
 * is tentative any more (duplicate address detection takes ~1 s after an interface appears; until
 * then connecting from it fails with EADDRNOTAVAIL instead of testing the path).
 */
export async function linkLocalAddresses(container: string): Promise<Array<{ ip: string; ifname: string }>> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const out = (await execa('podman', ['exec', container, 'cat', '/proc/net/if_inet6'])).stdout;
    const rows = out.split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f[0]?.startsWith('fe80') && f[5] !== 'lo');
    const IFA_F_TENTATIVE = 0x40;
    if (rows.every((f) => (parseInt(f[4]!, 16) & IFA_F_TENTATIVE) === 0) || Date.now() > deadline) {
      return rows.map((f) => ({ ip: f[0]!.match(/.{4}/g)!.join(':').replace(/(^|:)0{1,3}/g, '$1'), ifname: f[5]! }));
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Interfaces of a container other than loopback. */
export async function interfacesOf(container: string): Promise<string[]> {
  const out = (await execa('podman', ['exec', container, 'ls', '/sys/class/net'])).stdout;
  return out.split(/\s+/).filter((n) => n && n !== 'lo');
}
