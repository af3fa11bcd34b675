import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writePartsAtomic } from '../src/adapters/fs/atomic-file.js';

describe('the atomic file writer', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lpad-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces the whole file and leaves no temp file behind', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, 'old content that is longer than the new one');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('writes content produced in parts, strings as UTF-8 and bytes as they are, skipping empty parts', async () => {
    const path = join(dir, 'body.json');
    await writePartsAtomic(path, ['{"a":"é', '', Buffer.from('"}'), new Uint8Array(0)]);
    expect(await readFile(path, 'utf8')).toBe('{"a":"é"}');
  });

  it('creates the file with the mode asked for', async () => {
    const path = join(dir, 'secret.json');
    await writeFileAtomic(path, '{}', { mode: 0o600 });
    expect((await stat(path)).mode & 0o077).toBe(0);
  });

  it('runs beforeRename once every byte is in the temp file, and afterRename once it is in place', async () => {
    const path = join(dir, 'state.json');
    const seen: string[] = [];
    await writeFileAtomic(path, 'v2', {
      beforeRename: async () => {
        const names = await readdir(dir);
        const tmp = names.find((n) => n.endsWith('.tmp'));
        seen.push(`before: ${names.includes('state.json')} ${tmp ? await readFile(join(dir, tmp), 'utf8') : 'no temp file'}`);
      },
      afterRename: () => seen.push('after'),
    });
    expect(seen).toEqual(['before: false v2', 'after']);
  });

  it('a beforeRename that throws abandons the write: the target is untouched and the temp file removed', async () => {
    const path = join(dir, 'state.json');
    await writeFile(path, 'v1');
    const steps: string[] = [];
    const refused = new Error('lost the lock');
    await expect(
      writeFileAtomic(path, 'v2', {
        beforeRename: () => {
          throw refused;
        },
        mapError: (error, step) => {
          steps.push(step);
          return error;
        },
      }),
    ).rejects.toBe(refused);
    expect(steps).toEqual(['write']);
    expect(await readFile(path, 'utf8')).toBe('v1');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('a failure is handed to mapError with its step, and the mapped error is thrown', async () => {
    const path = join(dir, 'missing-dir', 'state.json');
    const mapped = await writeFileAtomic(path, 'x', { mapError: (error, step) => new Error(`${step}: ${(error as Error).message}`) }).then(
      () => null,
      (e: unknown) => e,
    );
    expect((mapped as Error).message).toMatch(/^write: ENOENT/);
  });
});
