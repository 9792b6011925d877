/**
 * A template as the lifecycle sees it: the image, its CRIU checkpoint (absent: demos fall back to
 * `podman run`), its template database, and where the app keeps what each demo must change.
 * Written by `dmx checkpoint` to $DMX_STATE_DIR/templates/<name>.json, read by the activities.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertTemplateName } from '../contract';
import type { ContainerHardening } from '../adapters/container-hardening';
import type { TemplateKindName, TemplateLayout } from './kinds';

export type { TemplateKindName };

export interface TemplateSpec extends TemplateLayout {
  name: string;
  kind: TemplateKindName;
  /** Changes with every new checkpoint; claimed demos keep the version they were restored from. */
  version: string;
  image: string;
  /** Absent when the template has no checkpoint: demos start with `podman run` and boot cold. */
  checkpointArchive?: string;
  /** Where demo data is cloned from. */
  database: string;
  /**
   * Capabilities and writable mounts the template ran with (a cold `podman run` of a demo uses the
   * same). Absent in specs recorded before hardening: `dmx checkpoint` then takes a new checkpoint.
   */
  hardening?: ContainerHardening;
  /** Network the template ran on (the first pair's): a checkpoint restores onto the same one. */
  network: string;
  /** The edge network, when the checkpoint was taken on it too: restored demos are routable at once. */
  edgeNetwork?: string;
  /** The checkpoint copied for each further network pair, by the pair's demo network (templates/pair-checkpoints.ts). */
  pairCheckpoints?: Record<string, string>;
  createdAt: string;
  checkpointSeconds?: number;
  archiveBytes?: number;
}

export function templateSpecPath(stateDir: string, name: string): string {
  return join(stateDir, 'templates', `${assertTemplateName(name)}.json`);
}

export function readTemplateSpec(stateDir: string, name: string): TemplateSpec | undefined {
  const path = templateSpecPath(stateDir, name);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as TemplateSpec;
}

/**
 * A reader of template specs that re-reads each file at most once per `maxAgeMs` (the API's claim
 * path: a spec changes only when `dmx checkpoint` runs, and a disk read per request is avoidable).
 */
export function cachedTemplateSpecs(stateDir: string, maxAgeMs = 1_000): (name: string) => TemplateSpec | undefined {
  const cache = new Map<string, { readAt: number; spec: TemplateSpec | undefined }>();
  return (name) => {
    const hit = cache.get(name);
    if (hit && Date.now() - hit.readAt < maxAgeMs) return hit.spec;
    const spec = readTemplateSpec(stateDir, name);
    cache.set(name, { readAt: Date.now(), spec });
    return spec;
  };
}

export function writeTemplateSpec(stateDir: string, spec: TemplateSpec): void {
  const path = templateSpecPath(stateDir, spec.name);
  mkdirSync(join(stateDir, 'templates'), { recursive: true });
  // Atomic replace: a reader never sees half a spec.
  writeFileSync(`${path}.tmp`, `${JSON.stringify(spec, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** Template database names derive from the template name ('-' is not an SQL identifier character). */
export const templateDatabaseName = (name: string) => `dmx_tpl_${assertTemplateName(name).replace(/-/g, '_')}`;

/** Every template that has a spec on this host (the data stock keeps stock for these versions only). */
export function listTemplateSpecs(stateDir: string): TemplateSpec[] {
  const dir = join(stateDir, 'templates');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as TemplateSpec);
}
