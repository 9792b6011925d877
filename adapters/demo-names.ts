/**
 * Demo names: how Caddy's demo router finds a demo's container. One file per routable demo in the
 * profile's names folder (`<address> <name>.dmx`), read by the profile's names server (a dnsmasq
 * started by `stack.sh up` on 127.0.0.1, which picks up each new, changed or removed file by inotify
 * within milliseconds and answers NXDOMAIN for any other `.dmx` name).
 *
 * Why not podman's own DNS (aardvark-dns): every container start and stop reloads it, and while it
 * reloads it refuses queries for up to ~2 s; a new demo then waited for a lookup that worked
 * (`verifyDemoRouted` p99 4 s) and an ended one kept its name until the next reload (teardown p99
 * 1.5 s). Here a name exists exactly from `publish` to `withdraw`, and the demo's networks have no
 * DNS at all.
 */
import { existsSync } from 'node:fs';
import { chmod, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { Resolver } from 'node:dns/promises';
import { join } from 'node:path';
import type { Config } from '../lib/config';

/** The zone the names server answers alone (anything else under it is NXDOMAIN). */
export const NAMES_ZONE = 'dmx';

/** A container name is the file's name and the name's first label; nothing else may reach the folder. */
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;

export class DemoNamesError extends Error {
  override name = 'DemoNamesError';
}
/** The names server did not answer at all (down, or cut off). */
export class NamesServerDown extends DemoNamesError {
  override name = 'NamesServerDown';
}

/** Where the profile's names server listens (stack.sh starts it there; Caddy asks it over UDP). */
export function namesServerAddress(config: Pick<Config, 'names'>): string {
  return `127.0.0.1:${config.names.port}`;
}

export function createDemoNames(config: Pick<Config, 'names'>) {
  const { dir } = config.names;
  const server = namesServerAddress(config);
  const check = (name: string) => {
    if (!NAME.test(name)) throw new DemoNamesError(`invalid demo name ${JSON.stringify(name).slice(0, 80)}`);
    return name;
  };

  /** The address the names server gives for `name`: undefined for NXDOMAIN; throws when it does not answer. */
  async function resolve(name: string): Promise<string | undefined> {
    const fqdn = `${check(name)}.${NAMES_ZONE}`;
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([server]);
    try {
      return (await resolver.resolve4(fqdn))[0];
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'ENOTFOUND' || code === 'ENODATA') return undefined;
      throw new NamesServerDown(`the names server at ${server} did not answer for ${name}: ${code ?? (err as Error).message}`, { cause: err });
    }
  }

  /** Waits (bounded) until the names server answers `name` as wanted: the inotify pick-up takes ms. */
  async function settle(name: string, want: string | undefined, what: string): Promise<void> {
    let got: string | undefined;
    for (const until = Date.now() + 3_000; ;) {
      got = await resolve(name);
      if (got === want || Date.now() >= until) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    if (got !== want) throw new DemoNamesError(`the names server at ${server} still answers ${got ?? 'NXDOMAIN'} for ${name} 3 s after it was ${what} (${dir})`);
  }

  return {
    dir,
    server,
    resolve,

    /** `name` answers `address` from now on (replacing an earlier address); returns once it does. Idempotent. */
    async publish(name: string, address: string): Promise<void> {
      if (!IPV4.test(address)) throw new DemoNamesError(`invalid address ${JSON.stringify(address).slice(0, 40)} for ${name}`);
      check(name);
      // Written aside and renamed in: the names server skips dot files and never reads half a file.
      const tmp = join(dir, `.${name}.tmp`);
      await writeFile(tmp, `${address} ${name}.${NAMES_ZONE}\n`).catch((err: NodeJS.ErrnoException) => {
        // Made by `stack.sh up` with the names server's owner: never made here (it could not read it).
        throw new DemoNamesError(`cannot publish ${name} in ${dir} (${err.code ?? err.message}); \`deployments/stack.sh up\` makes the folder`, { cause: err });
      });
      // Readable by the names server's unprivileged user whatever this process's umask (stack.sh: 077).
      await chmod(tmp, 0o644);
      await rename(tmp, join(dir, name));
      await settle(name, address, 'published');
    },

    /** `name` is NXDOMAIN from now on; returns once it is. Idempotent. */
    async withdraw(name: string): Promise<void> {
      await rm(join(dir, check(name)), { force: true });
      // A names server that is down serves no name at all, and reads the folder afresh when it is
      // back: a teardown must not wait for it.
      await settle(name, undefined, 'withdrawn').catch((err: unknown) => {
        if (!(err instanceof NamesServerDown)) throw err;
      });
    },

    /** Whether `name` is published (its file exists), whatever the names server makes of it. */
    isPublished(name: string): boolean {
      return existsSync(join(dir, check(name)));
    },

    /** The names published (file names), for the reconciler. */
    async list(): Promise<string[]> {
      const files = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [] as string[];
        throw err;
      });
      return files.filter((f) => NAME.test(f));
    },

  };
}

export type DemoNames = ReturnType<typeof createDemoNames>;
