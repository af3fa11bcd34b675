/**
 * The emails' palette in both schemes (src/core/email-palette.ts): every text colour on its backgrounds at
 * WCAG AA (4.5:1) in light and in dark, every colour the rendered emails use mapped for dark mode (or kept on
 * purpose), and the dark-mode block in templates/partials/head.html.hbs exactly what the palette generates.
 * test/render-browser.test.ts measures the same on the pages as Chromium draws them.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import {
  BGCOLOR_ATTRIBUTES,
  contrastRatio,
  DARK_BACKGROUND,
  DARK_BORDER,
  DARK_TEXT,
  darkModeCss,
  darkOf,
  KEPT_ACCENTS,
  KEPT_BACKGROUNDS,
  TEXT_PAIRS,
} from '../src/core/email-palette.js';
import { quietDigestModel, sampleDigestModel, sampleFailureModel, worstCaseDigestModel } from './fixtures/sample-models.js';

const AA = 4.5;
const renderer = createRenderer();
const pages = [
  renderer.renderDigest(sampleDigestModel()).html,
  renderer.renderDigest(quietDigestModel()).html,
  renderer.renderDigest(worstCaseDigestModel()).html,
  renderer.renderFailure(sampleFailureModel()).html,
];
/** Every inline style of the rendered emails (the body of each <style> block is not inline). */
const styles = pages.flatMap((html) => [...html.matchAll(/ style="([^"]*)"/g)].map((m) => m[1]!));
const used = (re: RegExp) => new Set(styles.flatMap((s) => [...s.matchAll(re)].map((m) => m[1]!.toLowerCase())));

describe('the email palette', () => {
  it('computes WCAG contrast as the standard defines it', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#ffffff', '#ffffff')).toBe(1);
    expect(contrastRatio('#767676', '#ffffff')).toBeCloseTo(4.54, 2);
  });

  it.each(TEXT_PAIRS.flatMap((p) => p.on.map((on) => [p.text, on, p.where] as const)))(
    'text %s on %s (%s) reaches AA in light and in dark',
    (text, on) => {
      expect(contrastRatio(text, on)).toBeGreaterThanOrEqual(AA);
      expect(contrastRatio(darkOf('text', text), darkOf('background', on))).toBeGreaterThanOrEqual(AA);
    },
  );

  it('every text colour the rendered emails use is a checked pair and has its dark counterpart', () => {
    const texts = used(/(?:^|;)color:(#[0-9a-fA-F]{6})/g);
    expect(texts.size).toBeGreaterThan(10);
    const checked = new Set(TEXT_PAIRS.map((p) => p.text));
    for (const c of texts) {
      expect(checked, `${c} is used as text but no pair checks it`).toContain(c);
      if (c !== '#ffffff') expect(Object.keys(DARK_TEXT), `${c} has no dark text colour`).toContain(c);
    }
  });

  it('every background is mapped for dark mode or kept on purpose', () => {
    const backgrounds = new Set([
      ...used(/background-color:(#[0-9a-fA-F]{6})/g),
      ...pages.flatMap((html) => [...html.matchAll(/bgcolor="(#[0-9a-fA-F]{6})"/g)].map((m) => m[1]!.toLowerCase())),
    ]);
    for (const c of backgrounds) expect([...Object.keys(DARK_BACKGROUND), ...KEPT_BACKGROUNDS], c).toContain(c);
    const attributes = new Set(pages.flatMap((html) => [...html.matchAll(/bgcolor="(#[0-9a-fA-F]{6})"/g)].map((m) => m[1]!.toLowerCase())));
    for (const c of attributes) if (c in DARK_BACKGROUND) expect(BGCOLOR_ATTRIBUTES, `bgcolor="${c}"`).toContain(c);
  });

  it('every border colour is mapped in the form it is written, or is a kept accent', () => {
    const borders = new Set(
      styles.flatMap((s) =>
        [...s.matchAll(/(border(?:-top|-bottom|-left|-right)?:\d+px (?:solid|dashed) #[0-9a-fA-F]{6})/g)].map((m) => m[1]!),
      ),
    );
    const mapped = new Set(DARK_BORDER.flatMap((b) => b.forms.map((f) => `${f} ${b.light}`)));
    for (const b of borders) {
      const accent = /^border-(?:top|left):[34]px solid/.test(b);
      if (accent && !KEPT_ACCENTS.includes(b)) continue; // a bar on a row of its own (detections): nothing maps over it
      expect([...mapped, ...KEPT_ACCENTS], b).toContain(b);
    }
  });

  it('head.html.hbs declares both schemes and carries exactly the generated dark-mode block', async () => {
    const head = await readFile(new URL('../templates/partials/head.html.hbs', import.meta.url), 'utf8');
    expect(head).toContain('<meta name="color-scheme" content="light dark">');
    expect(head).toContain('<meta name="supported-color-schemes" content="light dark">');
    expect(head).toContain(darkModeCss());
    for (const html of pages) expect(html).toContain('@media (prefers-color-scheme: dark)');
  });

  it('marks table headers with their scope', () => {
    for (const html of pages) {
      const headers = [...html.matchAll(/<th\b[^>]*>/g)].map((m) => m[0]);
      expect(headers.length).toBeGreaterThan(0);
      for (const th of headers) expect(th).toMatch(/ scope="(col|row)"/);
    }
    expect(pages[0]).toMatch(/<th scope="row"[^>]*>Events reviewed<\/th>/);
    expect(pages[0]).toMatch(/<th scope="col"[^>]*>Category<\/th>/);
  });
});
