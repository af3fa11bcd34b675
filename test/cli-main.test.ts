/** The process boundary's pure parts: how hints name the CLI, and the environment over ./.env. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliNameFor, readEnv } from '../src/main.js';

describe('how printed hints name the CLI', () => {
  it('is "npx lastpass-audit-digest" through the bin link or from node_modules, and "node <path>" in a clone', () => {
    expect(cliNameFor('/usr/local/bin/lastpass-audit-digest', '/home/u')).toBe('npx lastpass-audit-digest');
    expect(cliNameFor('/srv/app/node_modules/lastpass-audit-digest/dist/cli.js', '/srv/app')).toBe('npx lastpass-audit-digest');
    expect(cliNameFor('/home/u/lad/dist/cli.js', '/home/u/lad')).toBe('node dist/cli.js');
    expect(cliNameFor('/home/u/lad/dist/cli.js', '/tmp')).toBe('node /home/u/lad/dist/cli.js');
    expect(cliNameFor("/home/u/my lad's/dist/cli.js", '/tmp')).toBe(`node '/home/u/my lad'\\''s/dist/cli.js'`);
    expect(cliNameFor(undefined, '/tmp')).toBe('npx lastpass-audit-digest');
  });
});

describe('the environment', () => {
  it('reads ./.env of the working directory, and real variables win over it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-env-'));
    try {
      expect(readEnv(dir, { A: '1' })).toEqual({ A: '1' });
      await writeFile(join(dir, '.env'), 'A=from-file\nB="quoted value"\n# comment\n');
      expect(readEnv(dir, { A: 'real' })).toEqual({ A: 'real', B: 'quoted value' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
