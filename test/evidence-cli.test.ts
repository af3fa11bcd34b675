/** `demo` leaves a bundle and names the verify command; `verify` and `export` through the built CLI. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lpad-ev-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('evidence commands', () => {
  it('demo leaves a bundle; verify passes (exit 0), then names a tampered file (exit 1); export writes a tar.gz', async () => {
    const demo = await runCli(['demo'], { DATA_DIR: dir }, dir, 120_000);
    expect(demo.code, demo.stderr).toBe(0);
    expect(demo.stdout).toContain('Evidence bundle written to:');
    expect(demo.stdout).toMatch(/DATA_DIR=.* node dist\/cli\.js verify/);
    const env = { DATA_DIR: join(dir, 'demo') };
    const ok = await runCli(['verify'], env, dir);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('RESULT: OK');

    const out = join(dir, 'evidence.tar.gz');
    const exported = await runCli(['export', '--from', '2000-01-01', '--to', '2999-12-31', '--out', out], env, dir);
    expect(exported.code, exported.stdout + exported.stderr).toBe(0);
    expect(exported.stdout).toContain('Exported 1 bundle(s)');

    const evidence = join(dir, 'demo', 'evidence');
    const events = (await readdir(evidence, { recursive: true })).find((p) => p.endsWith('events.json')) as string;
    const file = join(evidence, events);
    const data = await readFile(file);
    data[10] = (data[10] as number) ^ 1;
    await writeFile(file, data);
    const bad = await runCli(['verify'], env, dir);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('events.json: SHA-256 mismatch');
    expect(bad.stdout).toContain('RESULT: FAILED');
  }, 180_000);

  it('verify rejects a bad day with exit 2', async () => {
    const r = await runCli(['verify', '--from', '2025-13-01'], { DATA_DIR: dir }, dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('YYYY-MM-DD');
  });
});
