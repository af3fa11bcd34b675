import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createRenderer, findTemplatesDir, wrapLine } from '../src/adapters/renderer.js';
import type { DigestModel, EventRow } from '../src/core/digest-model-types.js';
import { RenderError } from '../src/errors.js';
import {
  HOSTILE_FORMULA,
  HOSTILE_IMG,
  HOSTILE_SCRIPT_USER,
  LONG_UNBROKEN,
  quietDigestModel,
  sampleDigestModel,
  sampleFailureModel,
} from './fixtures/sample-models.js';

const TEMPLATES_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'templates');
const renderer = createRenderer();

function templateFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? templateFiles(join(dir, entry.name)) : entry.name.endsWith('.hbs') ? [join(dir, entry.name)] : [],
  );
}

/** Handlebars' escaping of a plain string, spelled out independently of Handlebars. */
function escaped(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#x27;')
    .replace(/`/g, '&#x60;')
    .replace(/=/g, '&#x3D;');
}

/** A copy of the model without one key, typed loosely on purpose: it is the broken input under test. */
function without<T extends object>(value: T, key: string): T {
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== key)) as unknown as T;
}

describe('templates', () => {
  const files = templateFiles(TEMPLATES_DIR);

  it('include the digest, failure notice and partials', () => {
    const names = files.map((f) => f.slice(TEMPLATES_DIR.length + 1));
    expect(names).toEqual(
      expect.arrayContaining([
        'digest.html.hbs',
        'digest.txt.hbs',
        'failure.html.hbs',
        'failure.txt.hbs',
        join('partials', 'event-table.html.hbs'),
        join('partials', 'footer.html.hbs'),
        join('partials', 'footer.txt.hbs'),
      ]),
    );
  });

  it.each(files.map((f) => [f.slice(TEMPLATES_DIR.length + 1), f]))('%s never emits unescaped values', (_name, file) => {
    const source = readFileSync(file, 'utf8');
    expect(source).not.toContain('{{{');
    expect(source).not.toMatch(/\{\{~?\s*&/); // {{& x}} is the other unescaped form
  });

  it.each(files.filter((f) => f.endsWith('.html.hbs')).map((f) => [f.slice(TEMPLATES_DIR.length + 1), f]))(
    '%s loads nothing external',
    (_name, file) => {
      const source = readFileSync(file, 'utf8');
      expect(source).not.toMatch(/\s(src|href|background)\s*=/i);
      expect(source).not.toMatch(/url\(|@import|<link|<script|<img/i);
    },
  );

  it('are found by walking up from the renderer module', () => {
    expect(findTemplatesDir()).toBe(TEMPLATES_DIR);
  });
});

describe('renderDigest: HTML part', () => {
  const { html } = renderer.renderDigest(sampleDigestModel());

  it('escapes hostile user and detail text instead of emitting markup', () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toContain('onerror=');
    expect(html).toContain(escaped(HOSTILE_SCRIPT_USER));
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;@evil.example');
    expect(html).toContain(escaped(HOSTILE_IMG));
    expect(html).toContain(escaped(HOSTILE_FORMULA));
  });

  it('keeps a 200-character unbroken string whole, in a cell allowed to wrap it anywhere', () => {
    expect(LONG_UNBROKEN).toHaveLength(200);
    expect(html).toContain(escaped(LONG_UNBROKEN));
    const cell = html.slice(0, html.indexOf(escaped(LONG_UNBROKEN)));
    const style = cell.slice(cell.lastIndexOf('style="'));
    expect(style).toMatch(/overflow-wrap:anywhere/);
  });

  it('shows the verdict in a banner coloured by level', () => {
    expect(html).toContain('30 events need attention: 8 high, 22 medium (39 low) among 18,088 events reviewed');
    expect(html).toContain('background-color:#b91c1c');
    expect(renderer.renderDigest(sampleDigestModel({ verdictLevel: 'review' })).html).toContain('background-color:#b45309');
  });

  it('shows window, coverage, tiles, findings, low events, unrecognised and footer', () => {
    for (const text of [
      '2025-03-09 08:00',
      '2025-03-10 08:00',
      'Europe/Berlin',
      '2025-03-09T07:00:00Z',
      '2025-03-10T07:00:00Z',
      '18,088',
      '19 requests, 18 pages of events',
      '36 dropped',
      'America/New_York',
      '2025-03-09 03:00:00 … 2025-03-10 02:59:59',
      '17,998',
      'Disabled Multifactor Authentication',
      'grants Admin:yes',
      'Unrecognised events',
      'Passkey registered',
      'does not know yet',
      'API and provisioning',
      'lastpass-audit-digest 0.1.0',
      'event catalogue 2026.11.1',
      '20250309T070000Z_20250310T070000Z',
    ]) {
      expect(html, text).toContain(escaped(text).replace(/&#x27;/g, "'"));
    }
    expect(html).toContain('&hellip;and 5 more high and medium events not listed here');
    expect(html).toContain('&hellip;and 31 more low events not listed here');
  });

  it('lists every finding given (25) and no attestation on a busy day', () => {
    const model = sampleDigestModel();
    expect(model.findings).toHaveLength(25);
    for (const finding of model.findings) expect(html).toContain(finding.time);
    expect(html).not.toContain('Attestation');
  });

  it('is an email layout: 640 px max, no layout dependence on <style>', () => {
    expect(html).toContain('max-width:640px');
    expect(html).toMatch(/<table role="presentation" class="lad-card" width="100%"/);
    const outsideOutlookComments = html.replace(/<!--\[if mso\]>[\s\S]*?<!\[endif\]-->/g, '');
    expect(outsideOutlookComments.match(/<style>/g)).toHaveLength(1);
    expect(html).toContain('@media only screen and (max-width: 520px)');
  });

  it('shows notices about the digest itself before the counts, and nothing when there are none', () => {
    const model = sampleDigestModel();
    const notice = model.notices[0] ?? '';
    expect(notice).not.toBe('');
    expect(html).toContain('About this digest');
    expect(html).toContain(escaped(notice));
    expect(html.indexOf(escaped(notice))).toBeLessThan(html.indexOf('Window and coverage'));
    expect(renderer.renderDigest(quietDigestModel()).html).not.toContain('About this digest');
  });

  it('omits the unrecognised section when there is none, and says so when lists are empty', () => {
    const quiet = renderer.renderDigest(quietDigestModel()).html;
    expect(quiet).not.toContain('Unrecognised events');
    expect(quiet).toContain('No high or medium events in this window.');
    expect(quiet).toContain('No low events in this window.');
    expect(quiet).not.toContain('more high and medium');
  });

  it('shows the attestation prominently on a quiet day', () => {
    const model = quietDigestModel();
    const quiet = renderer.renderDigest(model).html;
    expect(quiet).toContain('Attestation');
    expect(quiet).toContain(escaped(model.attestation));
    expect(quiet).toContain('Quiet day: no security-relevant events among 18,204 events reviewed');
    expect(quiet).toContain('background-color:#15803d');
    // The attestation comes right after the verdict banner, before the counts.
    expect(quiet.indexOf('Attestation')).toBeLessThan(quiet.indexOf('Window and coverage'));
  });

  it('turns line breaks in data into spaces and bidi overrides into a visible replacement character', () => {
    const [first, ...rest] = sampleDigestModel().findings;
    const forged: EventRow = { ...(first as EventRow), detail: 'ok\nQUIET: nothing to see', user: 'admin\u202Eelpmaxe.live@' };
    const { html: out, text } = renderer.renderDigest(sampleDigestModel({ findings: [forged, ...rest] }));
    expect(out).toContain('ok QUIET: nothing to see');
    expect(out).not.toContain('\u202E');
    expect(out).toContain('admin\uFFFDelpmaxe.live@');
    expect(text.split('\n').some((line) => line.startsWith('QUIET'))).toBe(false);
  });
});

describe('renderDigest: text part', () => {
  const model = sampleDigestModel();
  const { text } = renderer.renderDigest(model);
  const lines = text.split('\n');

  it('states the verdict, window and coverage', () => {
    expect(text).toContain('[ATTENTION] 30 events need attention: 8 high, 22 medium (39 low) among 18,088');
    expect(text).toContain('2025-03-09 08:00 -> 2025-03-10 08:00 Europe/Berlin (24 hours)');
    expect(text).toContain('2025-03-09T07:00:00Z -> 2025-03-10T07:00:00Z');
    expect(text).toMatch(/Events reviewed +18,088/);
    expect(text).toContain('19 requests, 18 pages of events');
    expect(text).toMatch(/High 8 +Medium 22 +Low 39 +Info 17,998/);
  });

  it('starts one entry per finding, with severity, time, action and user', () => {
    const entries = lines.filter((line) => /^ {2}(HIGH|MEDIUM) /.test(line));
    expect(entries).toHaveLength(25);
    expect(entries[0]).toMatch(/^ {2}HIGH {3}2025-03-10 07:41:09 {2}Made admin; user j\.okafor@northwind\.example;/);
    expect(text).toContain('...and 5 more high and medium events not listed here');
    expect(text).toContain('...and 31 more low events not listed here');
  });

  it('is plain text: data is not HTML-escaped', () => {
    expect(text).toContain(HOSTILE_SCRIPT_USER);
    expect(text).toContain(HOSTILE_IMG);
    expect(text).not.toContain('&lt;');
    expect(text).not.toContain('&#x3D;');
    expect(text).not.toMatch(/<(table|td|div|span)\b/);
  });

  it('fits in 80 columns, long strings included', () => {
    const long = lines.filter((line) => [...line].length > 80);
    expect(long).toEqual([]);
    expect(text.replace(/\n +/g, '')).toContain(LONG_UNBROKEN);
  });

  it('lists unrecognised actions with counts and the footer', () => {
    expect(text).toContain('UNRECOGNISED EVENTS');
    expect(text).toMatch(/ +14x Passkey registered; sample: Platform authenticator \(Windows Hello\)/);
    expect(text).toMatch(/Sign-in +0 +6 +33 +15,412 +15,451/);
    expect(text).toContain('Window key 20250309T070000Z_20250310T070000Z');
    expect(text.replace(/\s+/g, ' ')).toContain('lastpass-audit-digest 0.1.0, event catalogue 2026.11.1');
  });

  it('carries the notices right after the verdict', () => {
    const notice = model.notices[0] ?? '';
    expect(text.replace(/\s+/g, ' ')).toContain(`NOTICE: ${notice}`);
    expect(text.indexOf('NOTICE:')).toBeLessThan(text.indexOf('WINDOW AND COVERAGE'));
    expect(renderer.renderDigest(quietDigestModel()).text).not.toContain('NOTICE:');
  });

  it('carries the attestation on a quiet day', () => {
    const quiet = quietDigestModel();
    const out = renderer.renderDigest(quiet).text;
    expect(out).toContain('[QUIET] Quiet day: no security-relevant events among 18,204 events reviewed');
    expect(out.replace(/\s+/g, ' ')).toContain(`ATTESTATION: ${quiet.attestation}`);
    expect(out).toContain('No high or medium events in this window.');
    expect(out).not.toContain('UNRECOGNISED');
  });
});

describe('strict mode', () => {
  it('throws RenderError naming a missing top-level field', () => {
    const broken = without(sampleDigestModel(), 'verdict');
    expect(() => renderer.renderDigest(broken)).toThrow(RenderError);
    expect(() => renderer.renderDigest(broken)).toThrow(/digest\.html\.hbs.*"verdict" not defined/);
  });

  it('throws RenderError for a missing nested field', () => {
    const model = sampleDigestModel();
    const broken: DigestModel = { ...model, coverage: without(model.coverage, 'requestedRange') };
    expect(() => renderer.renderDigest(broken)).toThrow(RenderError);
  });

  it('throws RenderError for a field missing from one row of a list, in a partial', () => {
    const model = sampleDigestModel();
    const [first, ...rest] = model.findings;
    const broken: DigestModel = { ...model, findings: [without(first as EventRow, 'action'), ...rest] };
    expect(() => renderer.renderDigest(broken)).toThrow(RenderError);
  });

  it('throws RenderError for the failure notice too', () => {
    expect(() => renderer.renderFailure(without(sampleFailureModel(), 'error'))).toThrow(RenderError);
  });

  it('keeps the cause of the failure', () => {
    try {
      renderer.renderDigest(without(sampleDigestModel(), 'subject'));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RenderError);
      expect((error as RenderError).cause).toBeInstanceOf(Error);
    }
  });
});

describe('createRenderer', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function copyTemplates(): string {
    const dir = mkdtempSync(join(tmpdir(), 'lad-templates-'));
    dirs.push(dir);
    cpSync(TEMPLATES_DIR, dir, { recursive: true });
    return dir;
  }

  it('reports a template syntax error at creation, naming the file', () => {
    const dir = copyTemplates();
    writeFileSync(join(dir, 'digest.txt.hbs'), '{{#if verdict}}unclosed');
    expect(() => createRenderer({ templatesDir: dir })).toThrow(RenderError);
    expect(() => createRenderer({ templatesDir: dir })).toThrow(/digest\.txt\.hbs/);
  });

  it('reports a missing template at creation', () => {
    const dir = copyTemplates();
    rmSync(join(dir, 'failure.html.hbs'));
    expect(() => createRenderer({ templatesDir: dir })).toThrow(RenderError);
  });

  it('uses the templates of the given directory', () => {
    const dir = copyTemplates();
    writeFileSync(join(dir, 'digest.txt.hbs'), 'custom {{verdict}}\n');
    expect(createRenderer({ templatesDir: dir }).renderDigest(sampleDigestModel()).text).toBe(
      'custom 30 events need attention: 8 high, 22 medium (39 low) among 18,088 events reviewed\n',
    );
  });
});

describe('renderFailure', () => {
  const model = sampleFailureModel();
  const { html, text } = renderer.renderFailure(model);

  it('says FAILED and that the window was not reviewed, in red', () => {
    expect(html).toContain('FAILED: this window was NOT reviewed');
    expect(html).toContain('background-color:#b91c1c');
    expect(text.split('\n')[0]).toBe('FAILED: LASTPASS SECURITY DIGEST NOT PRODUCED');
    expect(text).toContain('This window was NOT reviewed');
  });

  it('names the window not covered, locally and in UTC', () => {
    for (const part of [html, text]) {
      expect(part).toContain('Not covered');
      expect(part).toContain('2025-03-09 08:00');
      expect(part).toContain('2025-03-10 08:00');
      expect(part).toContain('Europe/Berlin');
      expect(part).toContain('2025-03-09T07:00:00Z');
      expect(part).toContain('2025-03-10T07:00:00Z');
    }
  });

  it('gives what failed, the error, consecutive failures and the advice', () => {
    expect(html).toContain(escaped(model.what));
    expect(html).toContain('LastPass answered 503 Service Unavailable');
    expect(html).toContain('2 consecutive failed runs');
    expect(html).toContain('lastpass-audit-digest check');
    expect(text.replace(/\s+/g, ' ')).toContain(model.error);
    expect(text.replace(/\s+/g, ' ')).toContain(model.advice);
    expect(text).toMatch(/In a row +2 consecutive failed runs/);
    expect(renderer.renderFailure(sampleFailureModel({ consecutiveFailures: 1 })).text).toContain('1 (first failure)');
  });

  it('does not claim the window was reviewed', () => {
    expect(html).not.toContain('was reviewed.');
    expect(text).not.toContain('was reviewed.');
    expect(text).toContain('was not reviewed by this run');
  });

  it('fits in 80 columns', () => {
    expect(text.split('\n').filter((line) => [...line].length > 80)).toEqual([]);
  });
});

describe('wrapLine', () => {
  it('wraps at spaces with a hanging indent', () => {
    expect(wrapLine('  aaa bbb ccc', 9, 4)).toBe('  aaa bbb\n    ccc');
  });

  it('hard-splits a word longer than the line', () => {
    expect(wrapLine('x'.repeat(12), 5, 1)).toBe('xxxxx\n xxxx\n xxx');
  });

  it('keeps inner spacing used for columns', () => {
    expect(wrapLine('Window    value', 80, 10)).toBe('Window    value');
  });
});
