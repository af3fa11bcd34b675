import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { chartLabels, createRenderer, findTemplatesDir, HTML_BUDGET_BYTES, wrapLine } from '../src/adapters/renderer.js';
import type { DetectionRow, DigestModel, EventRow } from '../src/core/digest-model-types.js';
import { RenderError } from '../src/errors.js';
import {
  HOSTILE_FORMULA,
  HOSTILE_IMG,
  HOSTILE_SCRIPT_USER,
  LONG_UNBROKEN,
  chartFrom,
  maxLengthText,
  quietDigestModel,
  sampleDigestModel,
  sampleFailureModel,
  worstCaseDigestModel,
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
      // The one link is to an Admin Console page, through the consoleLink helper: a link, not a load.
      const source = readFileSync(file, 'utf8').replaceAll('<a href="{{consoleLink link}}"', '<a');
      expect(source).not.toMatch(/\s(src|href|background)\s*=/i);
      expect(source).not.toMatch(/url\(|@import|<link|<script|<img/i);
    },
  );

  it('are found by walking up from the renderer module', () => {
    expect(findTemplatesDir()).toBe(TEMPLATES_DIR);
  });
});

describe('renderDigest: HTML part', () => {
  const model = sampleDigestModel();
  const { html } = renderer.renderDigest(model);

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
    // Wherever it appears (a finding's reason, an event's detail), the enclosing cell may break it anywhere.
    let from = 0;
    let seen = 0;
    for (let at = html.indexOf(escaped(LONG_UNBROKEN)); at >= 0; at = html.indexOf(escaped(LONG_UNBROKEN), from)) {
      const before = html.slice(0, at);
      const cell = before.slice(before.lastIndexOf('<td'));
      expect(cell).toMatch(/^<td[^>]*overflow-wrap:anywhere/);
      from = at + 1;
      seen += 1;
    }
    expect(seen).toBeGreaterThanOrEqual(2);
  });

  it('shows the verdict in a banner coloured by level', () => {
    expect(html).toContain('9 findings (4 high) · 8 high-severity events · 18,088 events reviewed');
    expect(html).toContain('background-color:#b91c1c');
    expect(renderer.renderDigest(sampleDigestModel({ verdictLevel: 'review' })).html).toContain('background-color:#b45309');
    const low = renderer.renderDigest(sampleDigestModel({ verdictLevel: 'low' })).html;
    expect(low).toContain('background-color:#1d4ed8');
    expect(low).toContain('Worth a look');
  });

  it('says the same thing in the preheader, and names what the tiles count', () => {
    const preheader = /<div style="display:none;[^>]*>([^<]*)<\/div>/.exec(html)![1];
    expect(preheader).toBe('9 findings (4 high) · 8 high-severity events · 18,088 events reviewed');
    expect(html.indexOf('Events by severity')).toBeLessThan(html.indexOf('class="lad-tile"'));
  });

  it('gives each finding what to do next and a link to an Admin Console page, never to anything else', () => {
    const findings = html.slice(html.indexOf('>Findings'), html.indexOf('>High and medium events'));
    for (const d of model.detections) expect(findings).toContain(`<b>What to do:</b> ${escaped(d.guidance)}`);
    expect(findings).toContain('<a href="https://admin.lastpass.com/users/view" style="color:#1d4ed8;">Admin Console &gt; Users</a>');
    expect(findings).toContain('Admin Console &gt; Reporting &gt; General reports &gt; User activity');
    const [first, ...rest] = model.detections;
    const hostile = renderer.renderDigest({
      ...model,
      detections: [
        { ...first!, link: 'javascript:alert(1)' },
        { ...first!, link: 'https://attacker.invalid/admin.lastpass.com/' },
        ...rest,
      ],
    }).html;
    expect(hostile).not.toContain('javascript:');
    expect(hostile).not.toContain('attacker.invalid');
    expect(hostile.match(/<a href="https:\/\/admin\.lastpass\.com\/"/g)?.length).toBeGreaterThanOrEqual(2);
  });

  it('states every noise-control setting in the coverage section', () => {
    const coverage = html.slice(html.indexOf('>Window and coverage'));
    for (const line of model.coverage.adjustments) {
      expect(coverage).toContain(`>${escaped(line.label)}</th>`);
      expect(coverage).toContain(escaped(line.text));
    }
    expect(coverage).toContain('svc-provisioning@northwind.example: 102 events not reviewed');
  });

  it('says when events are left out of the events table because they are findings above', () => {
    const events = html.slice(html.indexOf('>High and medium events'), html.indexOf('>Activity'));
    expect(events).toContain('2 events that are findings on their own are listed under Findings above, not repeated here.');
    const none = renderer.renderDigest({ ...model, findings: [], moreFindings: 0 }).html;
    expect(none).toContain('No other high or medium events in this window.');
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
      'event catalogue 2026.12.1',
      'Times are in Europe/Berlin unless marked UTC.',
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

  it('marks layout tables as presentation and leaves data tables (those with header cells) to screen readers', () => {
    // A role="presentation" table hides its <th scope> from assistive technology: the header cells must sit
    // in tables without it. Walk the tables as a stack, so nested layout tables are told apart.
    const stack: boolean[] = [];
    let headers = 0;
    for (const m of html.matchAll(/<table\b[^>]*>|<\/table>|<th\b[^>]*>/g)) {
      const tag = m[0];
      if (tag.startsWith('</table')) stack.pop();
      else if (tag.startsWith('<table')) stack.push(tag.includes('role="presentation"'));
      else {
        headers++;
        expect(tag).toMatch(/scope="(col|row)"/);
        expect(stack.at(-1), `${tag} in a presentation table`).toBe(false);
      }
    }
    expect(headers).toBeGreaterThan(5);
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
    expect(html.indexOf(escaped(notice))).toBeLessThan(html.indexOf('class="lad-tile"'));
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
    expect(quiet.indexOf('Attestation')).toBeLessThan(quiet.indexOf('class="lad-tile"'));
  });

  it('shows line breaks, bidi overrides and zero-width characters in data as their code points', () => {
    const [first, ...rest] = sampleDigestModel().findings;
    const forged: EventRow = {
      ...(first as EventRow),
      detail: 'ok\nQUIET: nothing to see',
      user: 'admin\u202Eelpmaxe.live@',
      ip: '192.0.2.1\u200B',
    };
    const { html: out, text } = renderer.renderDigest(sampleDigestModel({ findings: [forged, ...rest] }));
    expect(out).toContain('ok⟨U+000A⟩QUIET: nothing to see');
    expect(out).not.toContain('\u202E');
    expect(out).toContain('admin⟨U+202E⟩elpmaxe.live@');
    expect(out).toContain('192.0.2.1⟨U+200B⟩');
    expect(text).toContain('admin⟨U+202E⟩elpmaxe.live@');
    expect(text.split('\n').some((line) => line.trimStart().startsWith('QUIET'))).toBe(false);
  });
});

/** The section titles of a rendered HTML digest, in order. */
function sectionTitles(html: string): string[] {
  return [...html.matchAll(/<h2[^>]*>([^<]*)/g)].map((m) => (m[1] ?? '').trim());
}

/** The bar cells of the activity chart: title, and the heights and colours of the stacked parts. */
function chartBars(html: string): { title: string; parts: { height: number; color: string }[] }[] {
  const chart = html.slice(html.indexOf('class="lad-chart"'));
  const row = chart.slice(0, chart.indexOf('</tr>\n</table>'));
  return [...row.matchAll(/<td valign="bottom" title="([^"]*)"[^>]*><table[^>]*>(.*?)<\/table><\/td>/g)].map((m) => ({
    title: m[1] ?? '',
    parts: [...(m[2] ?? '').matchAll(/<td height="(\d+)"(?: bgcolor="(#[0-9a-f]+)")?/g)].map((p) => ({
      height: Number(p[1]),
      color: p[2] ?? '',
    })),
  }));
}

describe('renderDigest: findings, activity, trends and attachments (HTML)', () => {
  const model = sampleDigestModel();
  const { html } = renderer.renderDigest(model);

  it('puts the findings right after the tiles, then the evidence, activity and trends', () => {
    expect(sectionTitles(html)).toEqual([
      'Findings',
      'High and medium events',
      'Activity',
      'Trends',
      'Low events',
      'Unrecognised events',
      'By category',
      'Window and coverage',
    ]);
    expect(html.indexOf('class="lad-tile"')).toBeLessThan(html.indexOf('>Findings'));
  });

  it('lists every detection with its severity, title, subject, reason and time, escaped', () => {
    const findings = html.slice(html.indexOf('>Findings'), html.indexOf('>High and medium events'));
    expect(model.detections).toHaveLength(7);
    for (const d of model.detections) {
      expect(findings).toContain(`${escaped(d.title)}</b>`);
      expect(findings).toContain(escaped(d.subject));
      expect(findings).toContain(escaped(d.reason));
      expect(findings).toContain(d.time);
    }
    expect(findings).toContain('<b style="font-size:14px;color:#111827;">Failed sign-in burst, then a successful sign-in</b>');
    expect(findings).toContain('12 failed sign-ins in 8 min from 203.0.113.9, then a successful sign-in 5 s later');
    expect(findings.match(/>High<\/span>/g)).toHaveLength(4);
    expect(findings.match(/>Medium<\/span>/g)).toHaveLength(3);
    // The hostile reason and subject stay text.
    expect(findings).toContain(`MFA: high; detail: ${escaped(HOSTILE_IMG)}; from 198.51.100.77`);
    expect(findings).toContain(escaped(HOSTILE_SCRIPT_USER));
    expect(findings).not.toMatch(/<(img|script)/i);
    expect(findings).toContain('&hellip;and 2 more findings not listed here.');
    expect(findings).not.toContain('No findings');
  });

  it('says there are no findings on a quiet day, and no "more" line', () => {
    const quiet = renderer.renderDigest(quietDigestModel()).html;
    expect(quiet).toContain('No findings: nothing in this window needs attention.');
    expect(quiet).not.toContain('more finding');
    const one = renderer.renderDigest(sampleDigestModel({ moreDetections: 1 })).html;
    expect(one).toContain('&hellip;and 1 more finding not listed here.');
  });

  it('draws one bar per hour, its parts adding up to the chart height, failures in red at the bottom', () => {
    const bars = chartBars(html);
    expect(bars).toHaveLength(24);
    model.chart.bars.forEach((bar, i) => {
      const drawn = bars[i];
      expect(drawn?.title).toBe(escaped(bar.title).replace(/&#x3D;/g, '='));
      const parts = drawn?.parts ?? [];
      expect(parts.reduce((n, p) => n + p.height, 0)).toBe(model.chart.heightPx);
      const red = parts.filter((p) => p.color === '#dc2626');
      const grey = parts.filter((p) => p.color === '#94a3b8');
      expect(red.reduce((n, p) => n + p.height, 0)).toBe(bar.failurePx);
      expect(grey.reduce((n, p) => n + p.height, 0)).toBe(bar.totalPx - bar.failurePx);
      if (bar.failurePx > 0) expect(parts.at(-1)?.color).toBe('#dc2626');
      if (bar.restPx > 0) expect(parts[0]).toEqual({ height: bar.restPx, color: '' });
    });
    // The busiest hour fills the chart; an hour with failures shows them.
    const busiest = model.chart.bars.findIndex((b) => b.total === model.chart.max);
    expect(bars[busiest]?.parts.some((p) => p.color === '')).toBe(false);
    expect(html).toContain(escaped(model.chart.caption));
    expect(html).toContain(`Busiest: <b style="color:#111827;">${model.chart.maxText}</b> events`);
  });

  it('labels every third hour under the chart, each label spanning its bars', () => {
    expect(chartLabels(model.chart.bars)).toEqual(['08', '11', '14', '17', '20', '23', '02', '05'].map((label) => ({ label, span: 3 })));
    const labels = html.slice(html.indexOf('class="lad-chart"'));
    expect(labels).toContain('<td colspan="3" style="padding-top:3px;white-space:nowrap;">08</td>');
    // A catch-up window of 48 bars gets 8 labels too; an odd count ends with a shorter span.
    expect(
      chartLabels(
        chartFrom(
          0,
          Array.from({ length: 48 }, () => 5),
          [],
        ).bars,
      ).map((l) => l.span),
    ).toEqual(Array(8).fill(6));
    expect(
      chartLabels(
        chartFrom(
          0,
          Array.from({ length: 25 }, () => 5),
          [],
        ).bars,
      ).map((l) => l.span),
    ).toEqual([4, 4, 4, 4, 4, 4, 1]);
  });

  it('says there were no events instead of drawing an empty chart', () => {
    const empty = renderer.renderDigest(sampleDigestModel({ chart: chartFrom(8, Array(24).fill(0), []) })).html;
    expect(empty).toContain('No events in this window.');
    expect(empty).not.toContain('class="lad-chart"');
  });

  it('shows trends with a marker where today stands out', () => {
    const trends = html.slice(html.indexOf('>Trends'), html.indexOf('>Low events'));
    expect(trends).toContain(escaped(model.trends.note));
    expect(trends).toContain('7-day median');
    const rows = [...trends.matchAll(/<tr><td[^>]*>([^<]*)<\/td>\n<td[^>]*>([^<]*)<\/td>/g)].map((m) => [m[1], m[2]]);
    expect(rows).toEqual(model.trends.rows.map((r) => [r.category, `${r.standsOut ? '&#9650; ' : ''}${r.today}`]));
    expect(trends).toContain('color:#b91c1c;font-weight:700;">&#9650; 6</td>');
    expect(trends).toContain('color:#111827;">39</td>');
    expect(trends).toContain('today stands out against the median');
    const calm = sampleDigestModel();
    calm.trends.rows = calm.trends.rows.map((r) => ({ ...r, standsOut: false }));
    const calmHtml = renderer.renderDigest(calm).html;
    expect(calmHtml).toContain('7-day median');
    expect(calmHtml).not.toContain('&#9650;');
  });

  it('while the baseline is building, shows the note and no numbers', () => {
    const model = quietDigestModel();
    const quiet = renderer.renderDigest(model).html;
    const trends = quiet.slice(quiet.indexOf('>Trends'), quiet.lastIndexOf('<h2', quiet.indexOf('>Low events')));
    expect(model.trends.building).toBe(true);
    expect(trends).toContain('Trends need 3 earlier delivered days; 1 so far. The baseline is still building.');
    expect(trends).not.toContain('7-day median');
    expect(trends).not.toContain('&#9650;');
    expect(trends.replace(/<[^>]*>/g, '')).not.toMatch(/\b(?!3\b|1\b)\d+\b/); // only the note's own numbers
    // Even if the model carried rows, building wins.
    const stray = renderer.renderDigest({ ...model, trends: { ...model.trends, rows: sampleDigestModel().trends.rows } }).html;
    expect(stray).not.toContain('7-day median');
  });

  it('says where the full list is when files are attached, and nothing when none are', () => {
    expect(html).toContain(
      'The full list of 69 security-relevant events is attached as <b>lastpass-events-2025-03-10.csv.gz</b> and <b>lastpass-events-2025-03-10.json.gz</b> (gzip-compressed CSV and JSON).',
    );
    // Under the event lists.
    expect(html.indexOf('The full list of')).toBeGreaterThan(html.indexOf('>Low events'));
    expect(html.indexOf('The full list of')).toBeLessThan(html.indexOf('>Unrecognised events'));
    expect(renderer.renderDigest(quietDigestModel()).html).not.toContain('The full list of');
    const hostile = renderer.renderDigest(
      sampleDigestModel({ attachments: { csv: HOSTILE_IMG, json: 'x.json', events: 1, total: 1 } }),
    ).html;
    expect(hostile).toContain(`The full list of 1 security-relevant event is attached as <b>${escaped(HOSTILE_IMG)}</b>`);
  });

  it('says how many rows the attachments hold when rows were left out, in both parts', () => {
    const cut = renderer.renderDigest(
      sampleDigestModel({ attachments: { csv: 'e.csv.gz', json: 'e.json.gz', events: 60_000, total: 214_112 } }),
    );
    for (const part of [cut.html, cut.text.replace(/\s+/g, ' ')]) {
      expect(part).toMatch(/The 60,000 most severe of 214,112 security-relevant events are attached as (<b>)?e\.csv\.gz/);
      expect(part).not.toContain('The full list of');
    }
  });
});

describe('renderDigest: HTML size budget', () => {
  const bytes = (text: string): number => Buffer.byteLength(text, 'utf8');

  it('worst-case digest stays under the Gmail clipping budget', () => {
    const model = worstCaseDigestModel();
    expect(model.detections).toHaveLength(50);
    expect(model.findings).toHaveLength(50);
    expect(model.lowEvents).toHaveLength(25);
    expect(model.unrecognised).toHaveLength(30);
    expect(model.chart.bars).toHaveLength(24);
    expect(model.trends.rows).toHaveLength(12);
    expect(model.findings.every((e) => [e.user, e.ip, e.action, e.detail, e.note].every((v) => v.length === 300))).toBe(true);
    const { html } = renderer.renderDigest(model);
    expect(bytes(html)).toBeLessThan(95_000);
    expect(bytes(html)).toBeLessThanOrEqual(HTML_BUDGET_BYTES);
    // Still a whole digest: verdict, tiles, findings first, footer.
    expect(html).toContain(escaped(model.verdict));
    expect(html).toContain('class="lad-tile"');
    expect(html).toContain(model.footer.windowKey);
    expect(html).toMatch(/<\/html>\s*$/);
    expect(html).toContain('This HTML part is shortened to stay under the size at which Gmail clips an email');
  });

  it('leaves out the least important rows first and counts every row it leaves out', () => {
    const model = worstCaseDigestModel();
    const { html } = renderer.renderDigest(model);
    const shown = html.match(/border-left:3px solid/g)?.length ?? 0;
    // Fewer than half of the 50 worst-case detections: the head's dark-mode block (about 3.3 kB) is budget too.
    expect(shown).toBeGreaterThanOrEqual(22);
    const more = (pattern: RegExp): number => Number((pattern.exec(html)?.[1] ?? '0').replace(/,/g, ''));
    expect(shown + more(/and ([\d,]+) more findings? not listed/)).toBe(model.detections.length + model.moreDetections);
    expect(more(/and ([\d,]+) more low events? not listed/)).toBe(model.lowEvents.length + model.moreLowEvents);
    expect(more(/and ([\d,]+) more high and medium events? not listed/)).toBe(model.findings.length + model.moreFindings);
    expect(more(/and ([\d,]+) more unrecognised action names? not listed/)).toBe(model.unrecognised.length);
  });

  it('stays under the budget when every character needs escaping', () => {
    const quotes = worstCaseDigestModel((_seed, length = 300) => '"'.repeat(length));
    const { html } = renderer.renderDigest(quotes);
    expect(bytes(html)).toBeLessThanOrEqual(HTML_BUDGET_BYTES);
    expect(html).toContain('&quot;&quot;&quot;');
    expect(html).toContain(quotes.footer.windowKey);
  });

  it('shortens long strings before leaving rows out', () => {
    const model = worstCaseDigestModel();
    const { html } = createRenderer({ htmlBudgetBytes: 150_000 }).renderDigest(model);
    expect(bytes(html)).toBeLessThanOrEqual(150_000);
    const first = model.detections[0] as DetectionRow;
    expect(html).toContain(`${escaped(first.title.slice(0, 119))}…</b>`);
    expect(html).not.toContain(escaped(first.title));
  });

  it('leaves a digest under the budget untouched, and the text part always whole', () => {
    const unlimited = createRenderer({ htmlBudgetBytes: Number.MAX_SAFE_INTEGER });
    const sample = sampleDigestModel();
    expect(renderer.renderDigest(sample).html).toBe(unlimited.renderDigest(sample).html);
    expect(renderer.renderDigest(sample).html).not.toContain('This HTML part is shortened');
    const worst = worstCaseDigestModel();
    const { text } = renderer.renderDigest(worst);
    expect(text).toBe(unlimited.renderDigest(worst).text);
    expect(text.split('\n').filter((line) => /^ {2}\[(HIGH|MEDIUM)\] /.test(line))).toHaveLength(50);
    expect(text).not.toContain('This HTML part is shortened');
  });

  it('measures the sample and quiet digests well under the budget', () => {
    expect(bytes(renderer.renderDigest(sampleDigestModel()).html)).toBeLessThan(HTML_BUDGET_BYTES);
    expect(bytes(renderer.renderDigest(quietDigestModel()).html)).toBeLessThan(40_000);
  });
});

describe('renderDigest: text part', () => {
  const model = sampleDigestModel();
  const { text } = renderer.renderDigest(model);
  const lines = text.split('\n');

  it('states the verdict, window and coverage', () => {
    expect(text.replace(/\n {2}(?=\S)/g, ' ')).toContain(
      '[ATTENTION] 9 findings (4 high) · 8 high-severity events · 18,088 events reviewed',
    );
    const flat = text.replace(/\n {19}(?=\S)/g, ' ');
    expect(flat).toContain(
      '  Known caller     "Microsoft Sentinel CCP" (allowed from 198.51.100.0/24): 144 calls (Reporting) from 198.51.100.250: info, not a finding\n',
    );
    expect(flat).toContain('  Override         "Login to Admin Console" rated info (catalogue: low): 37 events\n');
    expect(flat).toContain('  Ignored user     svc-provisioning@northwind.example: 102 events not reviewed\n');
    expect(text).toContain('2025-03-09 08:00 -> 2025-03-10 08:00 Europe/Berlin (24 hours)');
    expect(text).toContain('2025-03-09T07:00:00Z -> 2025-03-10T07:00:00Z');
    expect(text).toMatch(/Events reviewed +18,088/);
    expect(text).toContain('19 requests, 18 pages of events');
    expect(text).toMatch(/Events by severity: High 8 +Medium 22 +Low 39 +Info 17,998/);
  });

  it('starts one entry per finding, with severity, time, action and user', () => {
    const entries = lines.filter((line) => /^ {2}(HIGH|MEDIUM) /.test(line));
    expect(entries).toHaveLength(25);
    expect(entries[0]).toMatch(/^ {2}HIGH {3}2025-03-10 07:41:09 {2}Made admin; user j\.okafor@northwind\.example;/);
    expect(text).toContain('...and 5 more high and medium events not listed here');
    expect(text).toContain('...and 31 more low events not listed here');
  });

  it('lists the findings first, one wrapped entry each: [SEVERITY] title — subject: reason (time)', () => {
    const entries = lines.filter((line) => /^ {2}\[(HIGH|MEDIUM)\] /.test(line));
    expect(entries).toHaveLength(7);
    const flat = text.replace(/\n {4}(?=\S)/g, ' ');
    expect(flat).toContain(
      '  [HIGH] Failed sign-in burst, then a successful sign-in — alice@northwind.example: 12 failed sign-ins in 8 min from 203.0.113.9, then a successful sign-in 5 s later (2025-03-09 17:05)',
    );
    expect(flat).toContain('  [MEDIUM] Sign-in from a new network — j.okafor@northwind.example:');
    expect(text.replace(/\n {6}(?=\S)/g, ' ')).toContain(
      '    What to do: One address tried many accounts. Block it at your network edge (or with an IP restriction policy) and look in User activity for any successful sign-in from it. (Admin Console > Reporting > General reports > User activity: https://admin.lastpass.com/)',
    );
    expect(text).toContain('...and 2 more findings not listed here.');
    expect(text.indexOf('FINDINGS')).toBeLessThan(text.indexOf('HIGH AND MEDIUM EVENTS'));
    expect(renderer.renderDigest(quietDigestModel()).text).toContain('No findings: nothing in this window needs attention.');
  });

  it('summarises activity and trends in a few lines, marking what stands out', () => {
    expect(text).toMatch(/Busiest {10}09:00–10:00: 1,580 events, 9 failed sign-ins/);
    expect(text).toMatch(/Failed sign-ins {2}126 in the window/);
    expect(text).toMatch(/^ {2}Policies {16} +6 +2 +2 {2}▲ stands out$/m);
    expect(text).toMatch(/^ {2}Sign-in {17} +39 +31 +28$/m);
    const quiet = renderer.renderDigest(quietDigestModel()).text;
    expect(quiet.replace(/\s+/g, ' ')).toContain(
      'Baseline Trends need 3 earlier delivered days; 1 so far. The baseline is still building.',
    );
    expect(quiet).not.toContain('Median');
    expect(quiet).not.toContain('▲');
  });

  it('names the attached files, and nothing when none are attached', () => {
    expect(text.replace(/\s+/g, ' ')).toContain(
      'The full list of 69 security-relevant events is attached as lastpass-events-2025-03-10.csv.gz and lastpass-events-2025-03-10.json.gz (gzip-compressed CSV and JSON).',
    );
    expect(renderer.renderDigest(quietDigestModel()).text).not.toContain('The full list of');
  });

  it('keeps the worst case in 80 columns too', () => {
    const worst = renderer.renderDigest(worstCaseDigestModel()).text;
    expect(worst.split('\n').filter((line) => [...line].length > 80)).toEqual([]);
    expect(worst.replace(/\n {4}(?=\S)/g, ' ')).toContain(maxLengthText('reason 0', 600));
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
    expect(text.replace(/\s+/g, ' ')).toContain('lastpass-audit-digest 0.1.0, event catalogue 2026.12.1');
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

  it('throws RenderError for a field missing from a detection or a chart bar', () => {
    const model = sampleDigestModel();
    const [first, ...rest] = model.detections;
    expect(() => renderer.renderDigest({ ...model, detections: [without(first as DetectionRow, 'reason'), ...rest] })).toThrow(RenderError);
    const [bar, ...bars] = model.chart.bars;
    const chart = { ...model.chart, bars: [without(bar as (typeof bars)[number], 'failurePx'), ...bars] };
    expect(() => renderer.renderDigest({ ...model, chart })).toThrow(RenderError);
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
      'custom 9 findings (4 high) · 8 high-severity events · 18,088 events reviewed\n',
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
