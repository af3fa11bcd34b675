/** `.replit` runs the Node.js major the package supports, and the deployment runs the worker that the build produces. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const read = (file: string) => readFile(new URL(`../${file}`, import.meta.url), 'utf8');

describe('.replit', () => {
  it('declares the nodejs module of the major in engines, PostgreSQL, and a Reserved VM worker built with npm ci', async () => {
    const replit = await read('.replit');
    const pkg = JSON.parse(await read('package.json')) as { engines: { node: string }; bin: Record<string, string> };
    const major = /\^(\d+)\./.exec(pkg.engines.node)?.[1];
    expect(major).toBe('24');
    expect(replit).toMatch(new RegExp(`^modules = \\["nodejs-${major}", "postgresql-16"\\]$`, 'm'));
    expect(replit).not.toMatch(/nodejs-(1\d|2[0-3])\b/);
    expect(replit).toMatch(/^deploymentTarget = "gce"$/m);
    expect(replit).toMatch(/^build = \["sh", "-c", "npm ci && npm run build"\]$/m);
    expect(replit).toContain(`run = ["node", "${pkg.bin['lastpass-audit-digest']}", "worker"]`);
  });
});
