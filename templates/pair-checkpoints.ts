/**
 * A template checkpoint for every network pair (lib/network-pairs.ts).
 *
 * `podman container restore --import` re-creates the container on the networks its archive names
 * (config.dump's `newNetworks`, with the addresses in network.status), and podman 4.3 has no option
 * to choose others. The container's network namespace is made afresh by netavark at restore (with
 * `--ignore-static-ip` a new address is taken anyway), and the stand-in's processes listen on the
 * wildcard address, so the CRIU images do not depend on the network. So the checkpoint taken on the
 * first pair is copied per further pair with those two files naming that pair's networks: seconds
 * of tar work instead of a template start, warm-up and checkpoint per pair. Measured: a copy made so
 * restored onto a pair's /21 networks, with addresses from them, and served.
 */
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { NetworkPair } from '../lib/network-pairs';
import type { TemplateSpec } from './spec';

/** The archive a demo on `pair` is restored from (undefined: the template has no checkpoint for it). */
export function checkpointFor(spec: TemplateSpec, pair: NetworkPair): string | undefined {
  if (pair.index === 0 && spec.network === pair.network) return spec.checkpointArchive;
  return spec.pairCheckpoints?.[pair.network];
}

/** Pairs a restore of this template cannot use yet (their archive is missing). */
function pairsWithoutCheckpoint(spec: TemplateSpec, pairs: NetworkPair[]): NetworkPair[] {
  if (!spec.checkpointArchive) return [];
  return pairs.filter((p) => {
    const archive = checkpointFor(spec, p);
    return !archive || !existsSync(archive);
  });
}

function renameKeys(json: string, names: Record<string, string>, field?: string): string {
  const doc = JSON.parse(json) as Record<string, unknown>;
  const target = (field ? doc[field] : doc) as Record<string, unknown> | undefined;
  if (!target || typeof target !== 'object') throw new Error(`no ${field ?? 'network'} map to rename`);
  const renamed = Object.fromEntries(Object.entries(target).map(([k, v]) => [names[k] ?? k, v]));
  for (const from of Object.keys(names)) if (!(names[from]! in renamed)) throw new Error(`network ${from} is not in the checkpoint (${Object.keys(target).join(', ')})`);
  return JSON.stringify(field ? { ...doc, [field]: renamed } : renamed);
}

/**
 * Writes the first pair's checkpoint as a copy for `pair` (beside it, `<version>.pair-<k>.tar`) and
 * returns its path. Idempotent: the copy is made aside and renamed into place.
 */
export async function derivePairCheckpoint(spec: TemplateSpec, pair: NetworkPair): Promise<string> {
  if (!spec.checkpointArchive || !spec.edgeNetwork) throw new Error(`template ${spec.name} has no checkpoint taken on both networks to copy for pair ${pair.index}`);
  const target = spec.checkpointArchive.replace(/\.tar$/, `.pair-${pair.index}.tar`);
  const names = { [spec.network]: pair.network, [spec.edgeNetwork]: pair.edgeNetwork };
  const work = mkdtempSync(join(dirname(spec.checkpointArchive), '.pair-'));
  try {
    const files = join(work, 'files');
    mkdirSync(files);
    await execa('tar', ['-C', files, '-xf', spec.checkpointArchive]);
    const config = join(files, 'config.dump');
    writeFileSync(config, renameKeys(readFileSync(config, 'utf8'), names, 'newNetworks'));
    const status = join(files, 'network.status');
    if (existsSync(status)) writeFileSync(status, renameKeys(readFileSync(status, 'utf8'), names));
    await execa('tar', ['-C', files, '-cf', join(work, 'archive.tar'), '.']);
    renameSync(join(work, 'archive.tar'), target);
    return target;
  } catch (err) {
    throw new Error(`copying the checkpoint of template ${spec.name} for network pair ${pair.index} (${pair.network}) failed: ${(err as Error).message}`, { cause: err });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The spec with an archive for every pair (made where missing; the same spec when none is); the caller records it. */
export async function withPairCheckpoints(spec: TemplateSpec, pairs: NetworkPair[]): Promise<TemplateSpec> {
  const missing = pairsWithoutCheckpoint(spec, pairs);
  if (missing.length === 0) return spec;
  const made = { ...spec.pairCheckpoints };
  for (const pair of missing) made[pair.network] = await derivePairCheckpoint(spec, pair);
  return { ...spec, pairCheckpoints: made };
}

/**
 * Removes the archives (`<version>.tar` and the pair copies named above) of every version but `keep`: restores read the
 * current spec, and one that read the previous spec a moment before it was replaced may still open
 * that version's archive, so the caller keeps it until the next checkpoint.
 */
export function pruneArchives(dir: string, keep: string[]): string[] {
  const pruned: string[] = [];
  for (const file of readdirSync(dir)) {
    const version = /^([^.]+)(\.pair-\d+)?\.tar$/.exec(file)?.[1];
    if (!version || keep.includes(version)) continue;
    rmSync(join(dir, file), { force: true });
    pruned.push(file);
  }
  return pruned;
}
