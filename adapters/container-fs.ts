/**
 * Files of a running container, read and written from the host through `/proc/<pid>/root` (rootful
 * podman: the worker is root). Faster than a `podman exec` by the cost of a process in the
 * container (~200 ms of podman, conmon and runc here); used only while a demo is being provisioned,
 * before anyone but dmx knows it exists.
 *
 * An absolute symlink inside the container would be resolved against the HOST's root when walked
 * from here, so every folder on the way must be a real folder (checked with lstat), the file is
 * replaced by a rename (which replaces a symlink instead of following it), and folders are emptied
 * without following links.
 */
import { lstat, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { posix } from 'node:path';

export class ContainerPathError extends Error {
  override name = 'ContainerPathError';
}

export function createContainerFs(pid: number) {
  if (!Number.isInteger(pid) || pid <= 1) throw new ContainerPathError(`no usable container process id: ${pid}`);
  const root = `/proc/${pid}/root`;

  /** The host path of a container folder, after checking that no part of it is a symlink. */
  async function realFolder(dir: string): Promise<string> {
    const norm = posix.normalize(dir);
    if (!norm.startsWith('/') || norm.split('/').includes('..')) throw new ContainerPathError(`not an absolute container path: ${dir}`);
    let at = root;
    for (const part of norm.split('/').filter(Boolean)) {
      at = `${at}/${part}`;
      const st = await lstat(at);
      if (!st.isDirectory()) throw new ContainerPathError(`${at.slice(root.length)} in the container is not a folder (symlink or file): refusing to write through it`);
    }
    return at;
  }

  return {
    async read(path: string): Promise<string> {
      return readFile(`${await realFolder(posix.dirname(path))}/${posix.basename(path)}`, 'utf8');
    },

    /** Replaces a file atomically (temporary file + rename in the same folder). */
    async write(path: string, content: string): Promise<void> {
      const dir = await realFolder(posix.dirname(path));
      const tmp = `${dir}/.${posix.basename(path)}.dmx-tmp`;
      await writeFile(tmp, content, { mode: 0o640 });
      await rename(tmp, `${dir}/${posix.basename(path)}`);
    },

    /** Empties a folder, keeping the folder itself (processes may hold it as their cwd); a missing one is fine. */
    async emptyFolder(dir: string): Promise<void> {
      let at: string;
      try {
        at = await realFolder(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      // rm never follows symlinks inside the folder: it removes the links themselves.
      await Promise.all((await readdir(at)).map((entry) => rm(`${at}/${entry}`, { recursive: true, force: true })));
    },
  };
}
