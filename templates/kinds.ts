/**
 * Template kinds: how a template's image is obtained, how its database comes to exist and how its
 * container is started. Everything after that (checkpoint, restore, identity, teardown) is the
 * same for every kind: both follow the PrestaShop contract (parameters.php, shop_url,
 * configuration, employee, smarty cache tables, back office under any Host).
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { repoRoot } from '../lib/config';
import type { ContainerHardening } from '../adapters/container-hardening';

export type TemplateKindName = 'standin' | 'flashlight';

/** Where the app keeps what each demo must change, and its back office: recorded in the spec too. */
export interface TemplateLayout {
  tablePrefix: string;
  appRoot: string;
  parametersFile: string;
  cacheDirs: string[];
  adminPath: string;
  adminEmail: string;
}

export interface TemplateDefaults extends TemplateLayout {
  /** The image's default back-office password: a stand-in template gets a one-time one instead (checkpoint.ts). */
  adminPassword: string;
  /** How long a cold container may take to answer its first request. */
  bootSeconds: number;
  /** Pages requested before the checkpoint so the restored copies start warm. */
  warmPaths: string[];
  /** Capabilities, read-only root filesystem and writable mounts of its containers. */
  hardening: ContainerHardening;
}

export interface TemplateDbAccess { host: string; port: number; database: string; user: string; password: string; prefix: string }

export interface TemplateKind {
  name: TemplateKindName;
  defaults: TemplateDefaults;
  /** Returns a local image reference, building or pulling it when needed; `refresh` re-reads the package sources (security fixes). */
  prepareImage(image?: string, o?: { refresh?: boolean }): Promise<string>;
  /** Fills an empty template database, or leaves it for the container to install into. */
  loadSchema(load: (sql: string) => Promise<void>, prefix: string): Promise<void>;
  /** Runs once in the started template container before it is warmed and checkpointed (optional). */
  prepareContainer?(container: string): Promise<void>;
  /** Environment for `podman run` of a template or of a demo without checkpoint. */
  runEnv(db: TemplateDbAccess, domain: string): Record<string, string>;
}

const standinDir = join(repoRoot, 'deployments', 'template', 'standin');

export const standinKind: TemplateKind = {
  name: 'standin',
  defaults: {
    tablePrefix: 'ps_',
    appRoot: '/var/www/html',
    parametersFile: 'app/config/parameters.php',
    cacheDirs: ['var/cache/prod', 'var/cache/smarty'],
    adminPath: '/admin-dev',
    adminEmail: 'admin@prestashop.com',
    adminPassword: 'prestashop',
    bootSeconds: 30,
    warmPaths: ['/', '/?page=2', '/product/1', '/admin-dev/login'],
    // Found by trying (every process runs as root): nginx binds :80 (NET_BIND_SERVICE) and its
    // worker calls initgroups (SETGID); nothing else. The app writes only its config and caches;
    // `notmpcopyup` keeps the image's www-data-owned folders out (root without DAC_OVERRIDE could
    // not write them). 146 MB of tmpfs in all: the demo's disk quota.
    hardening: {
      capAdd: ['NET_BIND_SERVICE', 'SETGID'],
      readOnly: true,
      tmpfs: [
        '/run:rw,size=16m,mode=755,notmpcopyup',
        '/tmp:rw,size=32m,mode=1777,notmpcopyup',
        '/var/tmp:rw,size=8m,mode=1777,notmpcopyup',
        '/var/lib/nginx:rw,size=16m,notmpcopyup',
        '/var/lib/php/sessions:rw,size=8m,mode=1733,notmpcopyup',
        '/var/www/html/var:rw,size=64m,notmpcopyup',
        '/var/www/html/app/config:rw,size=2m,notmpcopyup',
      ],
    },
  },
  async prepareImage(image, o) {
    if (image) return image;
    // Cached by recipe hash and security-suite state: a no-op when that image exists.
    const r = await execa('bash', [join(standinDir, 'build-image.sh'), ...(o?.refresh ? ['--refresh'] : [])], { stderr: 'inherit' });
    const ref = r.stdout.trim().split('\n').pop();
    if (!ref) throw new Error('build-image.sh printed no image reference');
    return ref;
  },
  async loadSchema(load, prefix) {
    const r = await execa('bash', [join(standinDir, 'render-schema.sh'), prefix]);
    await load(r.stdout);
  },
  runEnv: (db) => mysqlEnv(db),
};

/**
 * prestashop-flashlight (https://github.com/PrestaShop/prestashop-flashlight): PrestaShop
 * pre-installed, restoring its dump into MYSQL_DATABASE at start; table prefix fixed to ps_.
 * Needs a registry to pull from (`podman pull docker.io/prestashop/prestashop-flashlight:TAG`), which
 * these machines do not have; on a host that has one, `dmx checkpoint --kind flashlight --image ...`.
 */
export const flashlightKind: TemplateKind = {
  name: 'flashlight',
  defaults: {
    tablePrefix: 'ps_',
    appRoot: '/var/www/html',
    parametersFile: 'app/config/parameters.php',
    cacheDirs: ['var/cache/prod'],
    adminPath: '/admin-dev',
    adminEmail: 'admin@prestashop.com',
    adminPassword: 'prestashop',
    bootSeconds: 300,
    warmPaths: ['/', '/admin-dev/index.php'],
    // Untested here (no registry): PrestaShop writes all over its tree (modules, img, var, cache)
    // and its workers switch to www-data, so the root filesystem stays writable and the
    // capabilities of a classic php-fpm + nginx pair are kept.
    hardening: { capAdd: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID', 'NET_BIND_SERVICE', 'KILL'], readOnly: false, tmpfs: [] },
  },
  async prepareImage(image = 'docker.io/prestashop/prestashop-flashlight:latest') {
    const exists = await execa('podman', ['image', 'exists', image], { reject: false });
    if (exists.exitCode !== 0) {
      const pulled = await execa('podman', ['pull', image], { reject: false });
      if (pulled.exitCode !== 0) {
        throw new Error(`cannot pull ${image}: ${String(pulled.stderr).split('\n').slice(-2).join(' ')} (a flashlight template needs a host that reaches a container registry)`);
      }
    }
    return image;
  },
  async loadSchema() {
    // flashlight loads its own dump into MYSQL_DATABASE when the container starts.
  },
  runEnv: (db, domain) => ({ ...mysqlEnv(db), PS_DOMAIN: domain, DEBUG_MODE: 'false' }),
  /** The one-time login endpoint (templates/flashlight/dmx-login.php, and its PrestaShop 9 half) into the admin folder, owned by the web user. */
  async prepareContainer(container) {
    for (const file of ['dmx-login.php', 'dmx-login-ps9.php']) {
      const target = `/var/www/html/admin-dev/${file}`;
      await execa('podman', ['cp', join(repoRoot, 'templates', 'flashlight', file), `${container}:${target}`]);
      await execa('podman', ['exec', container, 'chown', 'www-data:www-data', target]);
    }
  },
};

function mysqlEnv(db: TemplateDbAccess): Record<string, string> {
  return {
    MYSQL_HOST: db.host,
    MYSQL_PORT: String(db.port),
    MYSQL_DATABASE: db.database,
    MYSQL_USER: db.user,
    MYSQL_PASSWORD: db.password,
    DB_PREFIX: db.prefix,
  };
}

export const templateKinds: Record<TemplateKindName, TemplateKind> = { standin: standinKind, flashlight: flashlightKind };
