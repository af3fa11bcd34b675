/**
 * Invisible characters made visible (issue #13): a username that differs from another only by a zero-width
 * space, a soft hyphen, a BOM, a bidi control or a tag character is shown differently, as `⟨U+200B⟩`, in the
 * HTML and text parts (through the real intake, model and renderer) and in the CSV; lone surrogates become
 * U+FFFD before anything is serialised.
 */
import { describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import { clean } from '../src/core/alarm.js';
import { buildDigestModel } from '../src/core/digest-model.js';
import { eventsToCsv, eventsToJson } from '../src/core/event-export.js';
import type { RawEvent } from '../src/core/types.js';
import {
  collectLabels,
  escapeInvisibleInJson,
  hasInvisible,
  invisibleCharactersNotice,
  shortenText,
  visibleText,
  wellFormed,
} from '../src/core/visible-text.js';
import { createWallResolver } from '../src/core/wall-time.js';
import { createWindowIntake } from '../src/core/window-intake.js';
import { sampleFailureModel } from './fixtures/sample-models.js';
import { generateDemoDay } from '../src/simulator/demo-day.js';

describe('visibleText', () => {
  it.each([
    ['zero-width space', 'ali\u200Bce', 'ali⟨U+200B⟩ce'],
    ['zero-width non-joiner', 'ali\u200Cce', 'ali⟨U+200C⟩ce'],
    ['zero-width joiner', 'ali\u200Dce', 'ali⟨U+200D⟩ce'],
    ['word joiner', 'ali\u2060ce', 'ali⟨U+2060⟩ce'],
    ['soft hyphen', 'ali\u00ADce', 'ali⟨U+00AD⟩ce'],
    ['BOM', '\uFEFFalice', '⟨U+FEFF⟩alice'],
    ['right-to-left override', 'admin\u202Eelpmaxe', 'admin⟨U+202E⟩elpmaxe'],
    ['left-to-right embedding', 'a\u202Ab', 'a⟨U+202A⟩b'],
    ['first strong isolate and pop', 'a\u2068b\u2069', 'a⟨U+2068⟩b⟨U+2069⟩'],
    ['right-to-left mark', 'a\u200Fb', 'a⟨U+200F⟩b'],
    ['tag characters (astral)', 'alice\u{E0041}\u{E007F}', 'alice⟨U+E0041⟩⟨U+E007F⟩'],
    ['NUL and ESC', 'a\u0000b\u001B[31m', 'a⟨U+0000⟩b⟨U+001B⟩[31m'],
    ['newline, CR and tab', 'ok\r\nQUIET\t', 'ok⟨U+000D⟩⟨U+000A⟩QUIET⟨U+0009⟩'],
    ['DEL and C1 (NEL, CSI)', 'a\u007Fb\u0085c\u009B', 'a⟨U+007F⟩b⟨U+0085⟩c⟨U+009B⟩'],
    ['line and paragraph separators', 'a\u2028b\u2029', 'a⟨U+2028⟩b⟨U+2029⟩'],
    ['no-break and ideographic spaces', 'alice\u00A0x\u3000', 'alice⟨U+00A0⟩x⟨U+3000⟩'],
    ['Hangul filler and variation selector', 'a\u3164b\uFE0F', 'a⟨U+3164⟩b⟨U+FE0F⟩'],
    ['a lone high surrogate', 'x\uD800y', 'x\uFFFDy'],
    ['a lone low surrogate at the end', 'x\uDC00', 'x\uFFFD'],
  ])('shows a %s', (_name, text, shown) => {
    expect(visibleText(text)).toBe(shown);
    expect(hasInvisible(text)).toBe(true);
    // Idempotent: what it shows needs nothing more.
    expect(visibleText(shown)).toBe(shown);
  });

  it.each([
    ['plain ASCII', 'alice@corp.example logged in from 192.0.2.7'],
    ['letters of other scripts', 'Zoë Ødegård 日本語 Ελληνικά עברית'],
    ['an emoji (a valid surrogate pair)', 'deploy 😀 done'],
    ['the empty string', ''],
  ])('leaves %s alone', (_name, text) => {
    expect(visibleText(text)).toBe(text);
    expect(hasInvisible(text)).toBe(false);
  });

  it('makes lone surrogates well formed and keeps valid pairs', () => {
    expect(wellFormed('a\uD83Db')).toBe('a\uFFFDb');
    expect(wellFormed('😀')).toBe('😀');
    const same = 'ordinary text';
    expect(wellFormed(same)).toBe(same);
  });

  it('shortens without splitting a surrogate pair or a ⟨U+…⟩ label', () => {
    expect(shortenText('abcdef', 10)).toBe('abcdef');
    expect(shortenText('abcdef', 4)).toBe('abc…');
    // "ab😀cd" cut at 4: the pair would be split after its first half.
    const cut = shortenText('ab😀cd', 4);
    expect(cut).toBe('ab…');
    expect(wellFormed(cut)).toBe(cut);
    expect(shortenText('ab⟨U+200B⟩cdef', 6)).toBe('ab…');
    expect(shortenText('ab⟨U+200B⟩cdef', 12)).toBe('ab⟨U+200B⟩c…');
    // A "⟨" that opens no label nearby is cut like any text.
    expect(shortenText('a⟨ quoted text that goes on ⟩', 12)).toBe('a⟨ quoted t…');
  });

  it('names the code points it showed in the notice, the first six, and counts the rest', () => {
    expect(invisibleCharactersNotice(new Set())).toBeNull();
    const found = new Set<number>();
    collectLabels(visibleText('a\u202eb\u200bc\u{e0041}\u0007'), found);
    expect([...found].sort((a, b) => a - b)).toEqual([0x7, 0x200b, 0x202e, 0xe0041]);
    const notice = invisibleCharactersNotice(found, 'events.json') ?? '';
    expect(notice).toContain(
      '(⟨U+0007⟩ control character, ⟨U+200B⟩ zero-width space, ⟨U+202E⟩ right-to-left override, ⟨U+E0041⟩ tag character)',
    );
    expect(notice).toContain('The attached events.json has the exact text.');
    const many = new Set([0x200b, 0x200c, 0x200d, 0x2060, 0xad, 0xfeff, 0x202e, 0x2066]);
    expect(invisibleCharactersNotice(many)).toContain(' and 2 more)');
    expect(invisibleCharactersNotice(many)).not.toContain('attached');
  });

  it("the alarm webhook's cut splits neither a surrogate pair nor a mark", () => {
    const cut = clean(`${'a'.repeat(8)}😀 tail`, 10);
    expect(cut).toBe(`${'a'.repeat(8)}…`);
    expect(wellFormed(cut)).toBe(cut);
    expect(clean('user ali⟨U+200B⟩ce@corp.example', 12)).toBe('user ali…');
  });

  it('escapes invisible characters inside JSON strings, keeping the decoded value exact', () => {
    const value = { user: 'ali\u200Bce\u{E0041}', data: 'x\u0085y\u2028' };
    const json = escapeInvisibleInJson(JSON.stringify(value, null, 1));
    expect(json).toContain('ali\\u200bce\\udb40\\udc41');
    expect(json).toContain('x\\u0085y\\u2028');
    expect(hasInvisible(json.replace(/\n/g, ''))).toBe(false);
    expect(JSON.parse(json)).toEqual(value);
  });
});

// ---- through the real intake, model, renderer and export -------------------------------------------

const START = Date.parse('2025-03-09T07:00:00Z');
const END = START + 86_400_000;
const ALICE = 'alice@corp.example';
const SPOOF = 'ali\u200Bce@corp.example';

/** One window of rows through the real intake, model and renderer (`at` from each row's wall time when asked). */
function digestOf(rows: RawEvent[], options: { zone?: string; reportZone?: string } = {}) {
  const resolve = options.zone ? createWallResolver(options.zone) : null;
  const intake = createWindowIntake({
    apiUser: 'lastpass-audit-digest',
    windowStart: START,
    windowEnd: END,
    history: { users: {}, days: [] },
    tailFrom: null,
    knownTail: null,
  });
  rows.forEach((row, i) => {
    intake.window.add(row, resolve ? resolve(row.Time) : START + 3_600_000 + i * 60_000);
  });
  const { analysis } = intake.finish();
  const model = buildDigestModel(analysis, {
    window: { start: new Date(START), end: new Date(END) },
    requested: null,
    requests: 1,
    pages: 1,
    reportTimeZone: options.reportZone ?? 'UTC',
    lastpassTimeZone: options.zone ?? 'UTC',
    version: 't',
    generatedAt: new Date(END),
  });
  return { analysis, model, rendered: createRenderer().renderDigest(model) };
}

const row = (Username: string, Data = ''): RawEvent => ({
  Time: '2025-03-09 08:00:00',
  Username,
  IP_Address: '192.0.2.7',
  Action: 'Vault export',
  Data,
});

describe('two usernames that differ only by an invisible character', () => {
  const { analysis, rendered } = digestOf([row(ALICE), row(SPOOF)]);
  const relevant = analysis.relevant;

  it('are two different users to the analysis (the raw text is kept)', () => {
    expect(new Set(relevant.map((e) => e.username))).toEqual(new Set([ALICE, SPOOF]));
  });

  it('render differently in the HTML part', () => {
    expect(rendered.html).toContain('ali⟨U+200B⟩ce@corp.example');
    expect(rendered.html).toContain(ALICE);
    expect(rendered.html).not.toContain('\u200B');
  });

  it('come with a notice at the top that says what the mark means and what to do', () => {
    const top = rendered.html.slice(0, rendered.html.indexOf('class="lad-tile"'));
    expect(top).toContain('About this digest');
    expect(top).toContain('⟨U+200B⟩ zero-width space');
    expect(top).toContain('possible impersonation');
    expect(rendered.text).toContain('⟨U+200B⟩ zero-width space');
  });

  it('render differently in the text part', () => {
    const lines = rendered.text.split('\n');
    expect(lines.some((l) => l.includes('ali⟨U+200B⟩ce@corp.example'))).toBe(true);
    expect(lines.some((l) => l.includes(ALICE))).toBe(true);
    expect(rendered.text).not.toContain('\u200B');
  });

  it('are different cells in the CSV, and exact (escaped) in the JSON', () => {
    const csv = eventsToCsv(relevant, 'UTC');
    const users = csv
      .split('\r\n')
      .slice(1, -1)
      .map((line) => line.split(',')[4]);
    expect(new Set(users)).toEqual(new Set([ALICE, 'ali⟨U+200B⟩ce@corp.example']));
    const json = eventsToJson(relevant);
    expect(json).toContain('ali\\u200bce@corp.example');
    expect(new Set((JSON.parse(json) as { username: string }[]).map((e) => e.username))).toEqual(new Set([ALICE, SPOOF]));
  });
});

describe('a failure notice', () => {
  it("keeps an upstream error's line breaks readable as spaces and shows every other invisible character", () => {
    const { text, html } = createRenderer().renderFailure(
      sampleFailureModel({ error: 'Gateway said:\r\n<html>\n\tBad\u200b gateway\u202e</html>\r\nQUIET: all good' }),
    );
    for (const part of [text.replace(/\s+/g, ' '), html]) {
      expect(part).toContain('Bad⟨U+200B⟩ gateway⟨U+202E⟩');
      expect(part).not.toContain('⟨U+000A⟩');
    }
    expect(text.split('\n').some((l) => l.trimStart().startsWith('QUIET'))).toBe(false);
  });
});

describe("the digest's own wording", () => {
  it('uses none of the characters made visible: a realistic day renders without a single ⟨U+…⟩', () => {
    const day = generateDemoDay({ end: new Date(END), benignCount: 3_000, timeZone: 'America/New_York', integrations: true });
    for (const reportZone of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
      const { model, rendered } = digestOf(day.events, { zone: 'America/New_York', reportZone });
      expect(model.findings.length + model.detections.length).toBeGreaterThan(0);
      expect(rendered.html).not.toContain('⟨U+');
      expect(rendered.text).not.toContain('⟨U+');
      expect(rendered.html).not.toContain('possible impersonation');
    }
  });
});

describe('hostile text in Data', () => {
  it('a forged line and a bidi override cannot pass for digest text, in either part', () => {
    const { rendered } = digestOf([row(ALICE, 'ok\r\nQUIET: nothing to see \u202Eelif.exe')]);
    expect(rendered.html).toContain('ok⟨U+000D⟩⟨U+000A⟩QUIET: nothing to see ⟨U+202E⟩elif.exe');
    expect(rendered.text.split('\n').some((l) => l.trimStart().startsWith('QUIET'))).toBe(false);
    expect(rendered.text).not.toContain('\u202E');
  });

  it('a lone surrogate becomes U+FFFD at the intake, so no part, attachment or record carries one', () => {
    const { analysis, rendered } = digestOf([row('bob\uD800@corp.example', 'broken \uDC00 half')]);
    const [event] = analysis.relevant;
    expect(event?.username).toBe('bob\uFFFD@corp.example');
    expect(event?.data).toBe('broken \uFFFD half');
    for (const text of [rendered.html, rendered.text, eventsToCsv(analysis.relevant, 'UTC'), eventsToJson(analysis.relevant)]) {
      expect(wellFormed(text)).toBe(text);
      expect(JSON.stringify(text)).not.toMatch(/\\ud[89a-f]/i);
    }
  });
});
