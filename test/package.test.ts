/**
 * The published package works without the clone: a copy of the sources (no dist/) is packed with
 * `npm pack` (its prepack builds), the tarball is installed into a temp project with `npm ci --offline`
 * (a lockfile for that project is written from ours, so npm needs nothing but the tarballs `npm ci`
 * already put in the cache: no network), and the installed bin runs `--help` and `demo` there, and the
 * verify command the demo prints works as printed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  dependencies?: Record<string, string>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
  license?: string;
}

let work: string;
let tarball: string;
let app: string;

/**
 * Runs a command with this process's environment (PATH has node and npm) but not the npm_* settings of the
 * `npm test` around us, and with npm offline (what `npm ci` cached, nothing else).
 */
async function sh(file: string, args: string[], cwd: string, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.toLowerCase().startsWith('npm_')) env[k] = v;
  return run(file, args, { cwd, env: { ...env, npm_config_offline: 'true', ...extra }, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 });
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'lpad-pack-'));
  // A clean checkout's worth of files, with no dist/: the tarball must be built by prepack.
  const source = join(work, 'source');
  await mkdir(source);
  for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'README.md', 'LICENSE', '.env.example', 'src', 'templates']) {
    await cp(join(ROOT, f), join(source, f), { recursive: true });
  }
  await symlink(join(ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');
  const { stdout } = await sh('npm', ['pack', '--silent', '--pack-destination', work], source);
  tarball = join(work, stdout.trim().split('\n').at(-1)!);

  // The temp project: depends on the tarball; its lockfile pins our production dependencies as our lockfile does.
  app = join(work, 'app');
  await mkdir(app);
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const self = lock.packages['']!;
  const spec = `file:../${tarball.split('/').at(-1)!}`;
  const integrity = `sha512-${createHash('sha512')
    .update(await readFile(tarball))
    .digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { 'lastpass-audit-digest': spec } },
    'node_modules/lastpass-audit-digest': {
      version: self.version,
      resolved: spec,
      integrity,
      license: self.license,
      dependencies: self.dependencies,
      bin: self.bin,
      engines: self.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) if (path && !entry.dev && !entry.devOptional) packages[path] = entry;
  await writeFile(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, dependencies: { 'lastpass-audit-digest': spec } }),
  );
  await writeFile(join(app, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }));
  await sh('npm', ['ci', '--no-audit', '--no-fund', '--silent'], app);
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the build, the templates, README and LICENSE, and none of the sources, tests or bench', async () => {
    const { stdout } = await sh('tar', ['tzf', tarball], work);
    const files = stdout.trim().split('\n');
    for (const f of [
      'package/dist/cli.js',
      'package/dist/main.js',
      'package/templates/digest.html.hbs',
      'package/README.md',
      'package/LICENSE',
      'package/.env.example',
    ]) {
      expect(files).toContain(f);
    }
    expect(
      files.filter((f) => /^package\/(src|test|bench|scripts|dist-bench)\//.test(f) || f.endsWith('.map') || f.endsWith('.ts')),
    ).toEqual([]);
    const pkg = JSON.parse(await readFile(join(app, 'node_modules', 'lastpass-audit-digest', 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      license: string;
    };
    expect(pkg.bin).toEqual({ 'lastpass-audit-digest': 'dist/cli.js' });
    expect(pkg.license).toBe('MIT');
    expect(await readFile(join(app, 'node_modules', 'lastpass-audit-digest', 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
  });

  it('runs --help and the demo from the installed package, and the verify command the demo prints works there', async () => {
    const help = await sh('npx', ['lastpass-audit-digest', 'demo', '--help'], app);
    expect(help.stdout).toMatch(/^Usage: npx lastpass-audit-digest demo/);

    const data = join(work, 'data');
    const demo = await sh('npx', ['lastpass-audit-digest', 'demo'], app, { DATA_DIR: data });
    expect(demo.stdout).toMatch(/^written {2}\S+ → \S+: LastPass security digest/m);
    expect(await readdir(join(data, 'demo', 'outbox'))).toHaveLength(1);
    const hint = /Verify it with:\n {2}(.+)\n/.exec(demo.stdout)?.[1];
    expect(hint).toBe(`DATA_DIR=${join(data, 'demo')} DATABASE_URL= npx lastpass-audit-digest verify`);
    const verify = await sh('sh', ['-c', hint!], app);
    expect(verify.stdout).toContain('RESULT: OK');
  });
});
