/**
 * The rendered emails in a real browser engine: no horizontal scrolling on a phone or a desktop, nothing
 * loaded from outside, no markup from hostile data. Needs /usr/bin/chromium (or CHROMIUM_PATH): skipped
 * with a warning where it is missing, but failing in CI, where a silent skip would hide a broken layout.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRenderer } from '../src/adapters/renderer.js';
import { runDemo } from '../src/demo.js';
import { thisProcess } from './support/process-info.js';
import { silentLogger } from '../src/logger.js';
import { chartFrom, quietDigestModel, sampleDigestModel, sampleFailureModel, worstCaseDigestModel } from './fixtures/sample-models.js';

const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const WIDTHS = [375, 1024] as const;

const chromiumAvailable = existsSync(CHROMIUM_PATH);
const inCi = Boolean(process.env.CI);

if (!chromiumAvailable && !inCi) {
  console.warn(
    `\n*** WARNING: render-browser tests SKIPPED: no Chromium at ${CHROMIUM_PATH}. ` +
      'The email layout (phone overflow) is NOT checked. Install it with `apt-get install -y chromium` ' +
      'or set CHROMIUM_PATH. ***\n',
  );
}

const renderer = createRenderer();
/** A catch-up window: 48 bars, the most the model draws. */
const catchUp = sampleDigestModel({
  chart: chartFrom(
    8,
    Array.from({ length: 48 }, (_, i) => 40 + ((i * 37) % 900)),
    Array.from({ length: 48 }, (_, i) => (i % 7 === 0 ? 30 : 0)),
  ),
});
const pages: readonly [string, string][] = [
  ['sample digest', renderer.renderDigest(sampleDigestModel()).html],
  ['quiet digest', renderer.renderDigest(quietDigestModel()).html],
  ['worst-case digest', renderer.renderDigest(worstCaseDigestModel()).html],
  ['48-bar catch-up digest', renderer.renderDigest(catchUp).html],
  ['failure notice', renderer.renderFailure(sampleFailureModel()).html],
];

interface Measured {
  scrollWidth: number;
  innerWidth: number;
  cardWidth: number;
  scripts: number;
  images: number;
}

const MEASURE = `(() => {
  const card = document.querySelector('.lad-card');
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    cardWidth: card ? card.getBoundingClientRect().width : -1,
    scripts: document.querySelectorAll('script').length,
    images: document.querySelectorAll('img').length,
  };
})()`;

interface MeasuredBar {
  width: number;
  left: number;
  right: number;
  bottom: number;
  /** Painted height: the grey and red parts. */
  painted: number;
  red: number;
}

interface MeasuredChart {
  chartWidth: number;
  cardWidth: number;
  labelsRight: number;
  bars: MeasuredBar[];
}

/** The chart's bar cells as laid out: the cell box, and the heights of its coloured parts. */
const MEASURE_CHART = `(() => {
  const chart = document.querySelector('table.lad-chart');
  const card = document.querySelector('.lad-card');
  const labels = chart.nextElementSibling;
  const cells = [...chart.rows[0].cells];
  const sum = (els) => els.reduce((n, el) => n + el.offsetHeight, 0);
  return {
    chartWidth: chart.getBoundingClientRect().width,
    cardWidth: card.getBoundingClientRect().width,
    labelsRight: Math.max(...[...labels.querySelectorAll('td')].map((td) => td.getBoundingClientRect().right)),
    bars: cells.map((td) => {
      const box = td.getBoundingClientRect();
      const painted = [...td.querySelectorAll('td[bgcolor]')];
      const last = painted.at(-1);
      return {
        width: box.width,
        left: box.left,
        right: box.right,
        bottom: last ? last.getBoundingClientRect().bottom : box.bottom,
        painted: sum(painted),
        red: sum(painted.filter((p) => p.getAttribute('bgcolor') === '#dc2626')),
      };
    }),
  };
})()`;

interface MeasuredContrast {
  checked: number;
  failures: { text: string; fg: string; bg: string; ratio: number }[];
  cardBackground: string;
  bodyBackground: string;
}

/**
 * Every visible element with text of its own: its computed colour against the first opaque background of it
 * or an ancestor, as the WCAG contrast ratio (AA: 4.5:1 for all text, large text included).
 */
const MEASURE_CONTRAST = `(() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c);
    const [r, g, b, a = 1] = m[1].split(',').map((v) => Number(v.trim()));
    return { r, g, b, a };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.a > 0) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const hex = ({ r, g, b }) => '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join('');
  const failures = [];
  let checked = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.replace(/[\\s\\u00a0]+/g, '')).join('');
    if (!own) continue;
    const style = getComputedStyle(el);
    if (el.getClientRects().length === 0 || style.visibility !== 'visible' || Number(style.opacity) === 0) continue;
    const fg = parse(style.color);
    const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    checked += 1;
    if (ratio < 4.5) failures.push({ text: own.slice(0, 40), fg: hex(fg), bg: hex(bg), ratio: Math.round(ratio * 100) / 100 });
  }
  const card = document.querySelector('.lad-card');
  return {
    checked,
    failures,
    cardBackground: card ? getComputedStyle(card).backgroundColor : '',
    bodyBackground: getComputedStyle(document.body).backgroundColor,
  };
})()`;

describe('rendered email in Chromium', () => {
  it.runIf(!chromiumAvailable && inCi)('has Chromium available (required in CI)', () => {
    expect.fail(`No Chromium at ${CHROMIUM_PATH}: install it in CI (apt-get install -y chromium) or set CHROMIUM_PATH`);
  });

  describe.skipIf(!chromiumAvailable)('layout', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    });

    afterAll(async () => {
      await browser?.close();
    });

    async function measureChart(html: string, width: number): Promise<MeasuredChart> {
      const context = await browser.newContext({ viewport: { width, height: 800 }, javaScriptEnabled: true });
      try {
        const page = await context.newPage();
        await page.route('**/*', (route) => route.abort());
        await page.setContent(html, { waitUntil: 'load' });
        return (await page.evaluate(MEASURE_CHART)) as MeasuredChart;
      } finally {
        await context.close();
      }
    }

    async function measure(html: string, width: number): Promise<{ measured: Measured; external: string[]; dialogs: number }> {
      const context = await browser.newContext({ viewport: { width, height: 800 }, javaScriptEnabled: true });
      try {
        const page = await context.newPage();
        const external: string[] = [];
        let dialogs = 0;
        page.on('dialog', (dialog) => {
          dialogs += 1;
          void dialog.dismiss();
        });
        await page.route('**/*', async (route) => {
          external.push(route.request().url());
          await route.abort();
        });
        await page.setContent(html, { waitUntil: 'load' });
        const measured = (await page.evaluate(MEASURE)) as Measured;
        return { measured, external, dialogs };
      } finally {
        await context.close();
      }
    }

    async function measureContrast(html: string, colorScheme: 'light' | 'dark'): Promise<MeasuredContrast> {
      const context = await browser.newContext({ viewport: { width: 1024, height: 800 }, colorScheme, javaScriptEnabled: true });
      try {
        const page = await context.newPage();
        await page.route('**/*', (route) => route.abort());
        await page.setContent(html, { waitUntil: 'load' });
        await page.emulateMedia({ colorScheme });
        return (await page.evaluate(MEASURE_CONTRAST)) as MeasuredContrast;
      } finally {
        await context.close();
      }
    }

    // Both colour schemes: the dark-mode block applies under prefers-color-scheme: dark, and every text reaches AA.
    for (const [name, html] of pages) {
      it(`${name}: every text reaches WCAG AA in light and in dark mode, and dark mode really is dark`, async () => {
        const light = await measureContrast(html, 'light');
        const dark = await measureContrast(html, 'dark');
        expect(light.checked).toBeGreaterThan(20);
        expect(dark.checked).toBe(light.checked);
        expect(light.failures).toEqual([]);
        expect(dark.failures).toEqual([]);
        expect(light.cardBackground).toBe('rgb(255, 255, 255)');
        expect(light.bodyBackground).toBe('rgb(243, 244, 246)');
        expect(dark.cardBackground).toBe('rgb(17, 24, 39)');
        expect(dark.bodyBackground).toBe('rgb(11, 15, 20)');
      });
    }

    // The demo digest itself, as the real pipeline renders it.
    describe('the demo digest', () => {
      let demoHtml = '';
      beforeAll(async () => {
        const dir = await mkdtemp(join(tmpdir(), 'lpad-browser-demo-'));
        try {
          const result = await runDemo({
            dataDir: dir,
            logger: silentLogger,
            now: () => new Date('2025-06-12T07:00:00Z'),
            processInfo: thisProcess(),
            renderer,
            version: 'test',
          });
          demoHtml = await readFile(result.digestPath!, 'utf8');
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }, 120_000);

      it('the demo digest: every text reaches WCAG AA in light and in dark mode', async () => {
        for (const scheme of ['light', 'dark'] as const) {
          const measured = await measureContrast(demoHtml, scheme);
          expect(measured.checked).toBeGreaterThan(50);
          expect(measured.failures, scheme).toEqual([]);
        }
        expect((await measureContrast(demoHtml, 'dark')).cardBackground).toBe('rgb(17, 24, 39)');
      });

      for (const width of WIDTHS) {
        it(`the demo digest does not scroll horizontally at ${width}px`, async () => {
          expect(demoHtml).toContain('Findings');
          const { measured, external, dialogs } = await measure(demoHtml, width);
          expect(measured.scrollWidth).toBeLessThanOrEqual(measured.innerWidth);
          expect(measured.cardWidth).toBeLessThanOrEqual(640);
          expect(external).toEqual([]);
          expect(measured.scripts + measured.images + dialogs).toBe(0);
        });
      }
    });

    for (const [name, html] of pages) {
      for (const width of WIDTHS) {
        it(`${name} does not scroll horizontally at ${width}px`, async () => {
          const { measured, external, dialogs } = await measure(html, width);
          expect(measured.innerWidth).toBe(width);
          expect(measured.scrollWidth).toBeLessThanOrEqual(measured.innerWidth);
          expect(measured.cardWidth).toBeGreaterThan(0);
          expect(measured.cardWidth).toBeLessThanOrEqual(640);
          expect(external).toEqual([]);
          expect(measured.scripts).toBe(0);
          expect(measured.images).toBe(0);
          expect(dialogs).toBe(0);
        });
      }
    }

    for (const width of WIDTHS) {
      it(`draws the activity chart inside the card at ${width}px, bars of equal width on one baseline`, async () => {
        const model = sampleDigestModel();
        const chart = await measureChart(renderer.renderDigest(model).html, width);
        expect(chart.bars).toHaveLength(24);
        expect(chart.chartWidth).toBeLessThanOrEqual(chart.cardWidth);
        const first = chart.bars[0] as MeasuredBar;
        const last = chart.bars.at(-1) as MeasuredBar;
        expect(last.right - first.left).toBeLessThanOrEqual(chart.chartWidth + 0.5);
        expect(chart.labelsRight).toBeLessThanOrEqual(first.left + chart.chartWidth + 0.5);
        for (const bar of chart.bars) {
          expect(Math.abs(bar.width - first.width)).toBeLessThanOrEqual(1);
          expect(bar.width).toBeGreaterThanOrEqual(width === 375 ? 12 : 20);
          expect(Math.abs(bar.bottom - first.bottom)).toBeLessThanOrEqual(0.5);
        }
      });
    }

    it('draws bar heights in proportion to the hourly totals, failures in red', async () => {
      const model = sampleDigestModel();
      const chart = await measureChart(renderer.renderDigest(model).html, 375);
      const bars = model.chart.bars;
      const busiest = bars.findIndex((b) => b.total === model.chart.max);
      const quietest = bars.findIndex((b) => b.total === Math.min(...bars.map((x) => x.total)));
      const evening = bars.findIndex((b) => b.label === '22');
      // Each bar is painted exactly as tall as the model says, the busiest one the full chart height.
      bars.forEach((bar, i) => {
        expect(chart.bars[i]?.painted).toBe(bar.totalPx);
        expect(chart.bars[i]?.red).toBe(bar.failurePx);
      });
      expect(chart.bars[busiest]?.painted).toBe(model.chart.heightPx);
      // Relative heights follow the totals (to the pixel rounding).
      for (const i of [quietest, evening]) {
        const ratio = (bars[i]?.total ?? 0) / model.chart.max;
        expect(Math.abs((chart.bars[i]?.painted ?? 0) - ratio * model.chart.heightPx)).toBeLessThanOrEqual(1);
        expect(chart.bars[i]?.painted).toBeLessThan(chart.bars[busiest]?.painted ?? 0);
      }
      // The hour with the sign-in burst shows its failures.
      const burst = bars.findIndex((b) => b.failures === Math.max(...bars.map((x) => x.failures)));
      expect(chart.bars[burst]?.red).toBeGreaterThan(0);
    });

    it('fits 48 bars on a phone', async () => {
      const chart = await measureChart(renderer.renderDigest(catchUp).html, 375);
      expect(chart.bars).toHaveLength(48);
      expect(chart.chartWidth).toBeLessThanOrEqual(chart.cardWidth);
      for (const bar of chart.bars) expect(bar.width).toBeGreaterThanOrEqual(6);
    });
  });
});
