/**
 * `demo` leaves a bundle and prints a verify command that works as printed (run through a shell, from
 * another directory); `verify` and `export` in process through the command functions.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { runInProcess } from './support/command-io.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-ev-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('evidence commands', () => {
  it('demo leaves a bundle; its printed verify command passes (exit 0), then names a tampered file (exit 1); export writes a tar.gz', async () => {
    const demo = await runCli(['demo'], { DATA_DIR: join(dir, 'with space') }, dir, 120_000);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toContain('Evidence bundle written to:');
    expect(demo.stdout).toMatch(/^written {2}\S+ → \S+: LastPass security digest/m);
    expect(demo.stdout).not.toMatch(/^sent /m);
    const hint = /Verify it with:\n {2}(.+)\n/.exec(demo.stdout)?.[1];
    expect(hint).toMatch(/^DATA_DIR='.*with space\/demo' DATABASE_URL= node \S*dist\/cli\.js verify$/);
    const elsewhere = await mkdtemp(join(tmpdir(), 'lpad-ev-hint-'));
    try {
      const { stdout } = await promisify(execFile)('sh', ['-c', hint!], { cwd: elsewhere, env: { PATH: process.env.PATH ?? '' } });
      expect(stdout).toContain('RESULT: OK');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }

    const env = { DATA_DIR: join(dir, 'with space', 'demo') };
    const ok = await runInProcess(['verify'], env, dir);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('RESULT: OK');

    const exported = await runInProcess(['export', '--from', '2000-01-01', '--to', '2999-12-31', '--out', 'evidence.tar.gz'], env, dir);
    expect(exported.code, exported.stdout + exported.stderr).toBe(0);
    expect(exported.stdout).toContain('Exported 1 bundle(s)');
    expect(exported.stdout).toContain(join(dir, 'evidence.tar.gz')); // --out resolves against the cwd
    expect((await readFile(join(dir, 'evidence.tar.gz'))).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));

    const evidence = join(dir, 'with space', 'demo', 'evidence');
    const events = (await readdir(evidence, { recursive: true })).find((p) => p.endsWith('events.json')) as string;
    const file = join(evidence, events);
    const data = await readFile(file);
    data[10] = (data[10] as number) ^ 1;
    await writeFile(file, data);
    const bad = await runInProcess(['verify'], env, dir);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('events.json: SHA-256 mismatch');
    expect(bad.stdout).toContain('RESULT: FAILED');
  }, 180_000);

  it('verify rejects a bad day with exit 2; export needs its three flags and a .tar.gz name', async () => {
    const r = await runInProcess(['verify', '--from', '2025-13-01'], { DATA_DIR: dir }, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('YYYY-MM-DD');
    const missing = await runInProcess(['export', '--from', '2025-01-01'], { DATA_DIR: dir }, dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('export needs --from DAY --to DAY --out FILE.tar.gz');
    const zip = await runInProcess(['export', '--from', '2025-01-01', '--to', '2025-01-02', '--out', 'x.zip'], { DATA_DIR: dir }, dir);
    expect(zip.code).toBe(2);
    expect(zip.stderr).toContain('must end in .tar.gz');
    expect(await readdir(dir)).toEqual([]);
  });
});
