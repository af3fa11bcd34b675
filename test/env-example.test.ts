/** `.env.example` is generated from the schema: every variable, with a comment; the committed file is current. */
import { readFile } from 'node:fs/promises';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { envExample } from '../src/config/env-example.js';
import { SCHEMA, VARIABLE_NAMES } from '../src/config/schema.js';

const committed = () => readFile(new URL('../.env.example', import.meta.url), 'utf8');

describe('.env.example', () => {
  it('is the file the schema generates (run `npm run env-example` after changing src/config/schema.ts)', async () => {
    expect(await committed()).toBe(envExample());
  });

  it('names every variable once, each under a comment; required ones are to fill in, the others commented out with their default', () => {
    const lines = envExample().split('\n');
    for (const name of VARIABLE_NAMES) {
      const at = lines.findIndex((l) => l === `${name}=` || l.startsWith(`# ${name}=`));
      expect(at, name).toBeGreaterThan(0);
      expect(
        lines.filter((l) => l.replace(/^# /, '').startsWith(`${name}=`)),
        name,
      ).toHaveLength(1);
      expect(lines[at - 1], name).toMatch(/^# \S/);
      const spec = SCHEMA[name];
      if (spec.default !== undefined && !spec.required) expect(lines[at]).toBe(`# ${name}=${spec.default}`);
    }
    for (const name of ['LASTPASS_ACCOUNT_NUMBER', 'LASTPASS_API_KEY', 'SENDGRID_API_KEY', 'REPORT_FROM', 'REPORT_TO']) {
      expect(lines).toContain(`${name}=`);
    }
  });

  it('read as a .env file, sets nothing: empty values count as unset', () => {
    const parsed = parseEnv(envExample());
    expect(Object.keys(parsed).sort()).toEqual([
      'LASTPASS_ACCOUNT_NUMBER',
      'LASTPASS_API_KEY',
      'REPORT_FROM',
      'REPORT_TO',
      'SENDGRID_API_KEY',
    ]);
    expect(Object.values(parsed).every((v) => v === '')).toBe(true);
  });
});
