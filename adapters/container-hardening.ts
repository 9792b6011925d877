/** The restrictions a template's containers (and so every demo restored from its checkpoint) run under. */

/**
 * What a demo container may do beyond nothing: every capability is dropped and these added back;
 * with `readOnly` the root filesystem is read-only and only the `tmpfs` mounts (each with a size:
 * together they are the demo's disk quota, and their pages count against its memory limit) are
 * writable. Part of the checkpoint: every restored demo has the template's.
 */
export interface ContainerHardening { capAdd: string[]; readOnly: boolean; tmpfs: string[] }

const CAPABILITY = /^[A-Z_]{2,32}$/;
const TMPFS = /^\/[A-Za-z0-9_./-]+:[a-z0-9=,]*size=\d+[kmg][a-z0-9=,]*$/;

/** podman run arguments of a hardening (checked: they come from template specs on disk). */
export function hardeningArgs(h: ContainerHardening): string[] {
  const args = ['--cap-drop', 'all'];
  for (const cap of h.capAdd) {
    if (!CAPABILITY.test(cap)) throw new TypeError(`invalid capability ${JSON.stringify(cap)}`);
    args.push('--cap-add', cap);
  }
  if (h.readOnly) args.push('--read-only', '--read-only-tmpfs=false');
  for (const t of h.tmpfs) {
    if (!TMPFS.test(t) || t.includes('..')) throw new TypeError(`invalid tmpfs mount ${JSON.stringify(t)}: expected /path:options with a size`);
    args.push('--tmpfs', t);
  }
  return args;
}
