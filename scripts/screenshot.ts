/**
 * Screenshots rendered emails at desktop and phone widths and reports horizontal overflow.
 *
 *   npx vite-node scripts/screenshot.ts [--max-height=2400] /tmp/digest.html [/tmp/quiet.html ...]
 *
 * For each file it writes `<name>-1024.png` and `<name>-375.png` (full page, or its top `--max-height`
 * pixels: the README's docs/demo-digest.png is the 1024 one of the demo digest) next to the HTML, prints
 * one line per width, and exits 1 when any page scrolls horizontally or tries to load anything that is
 * not the file itself (an email must not depend on external resources). Needs a Chromium binary:
 * /usr/bin/chromium by default, or CHROMIUM_PATH.
 *
 *   node scripts/screenshot.ts --light-dark=docs/demo-digest-light-dark.png [--max-height=2400] digest.html
 *
 * renders that one file at 700 px in the light and in the dark colour scheme (prefers-color-scheme
 * emulated) and writes both side by side, light on the left: the README's docs/demo-digest-light-dark.png.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

const SCREENSHOT_WIDTHS = [1024, 375] as const;

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

interface PageReport {
  file: string;
  width: number;
  screenshot: string;
  scrollWidth: number;
  innerWidth: number;
  overflow: boolean;
  externalRequests: string[];
}

function chromiumPath(): string {
  return process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
}

async function launchChromium(executablePath: string = chromiumPath()): Promise<Browser> {
  return chromium.launch({ executablePath, args: CHROMIUM_ARGS });
}

async function screenshotFile(browser: Browser, file: string, width: number, maxHeight: number): Promise<PageReport> {
  const absolute = resolve(file);
  const url = pathToFileURL(absolute).href;
  const screenshot = `${absolute.replace(/\.html?$/i, '')}-${width}.png`;
  const context = await browser.newContext({ viewport: { width, height: 900 }, deviceScaleFactor: 1 });
  try {
    const page = await context.newPage();
    const externalRequests: string[] = [];
    await page.route('**/*', async (route) => {
      const requested = route.request().url();
      if (requested === url || requested.startsWith('data:')) return route.continue();
      externalRequests.push(requested);
      return route.abort();
    });
    await page.goto(url, { waitUntil: 'load' });
    const measured: unknown = await page.evaluate(
      '[document.documentElement.scrollWidth, window.innerWidth, document.documentElement.scrollHeight]',
    );
    const [scrollWidth, innerWidth, scrollHeight] = Array.isArray(measured) ? measured : [];
    if (typeof scrollWidth !== 'number' || typeof innerWidth !== 'number' || typeof scrollHeight !== 'number') {
      throw new Error(`Could not measure ${file} at ${width}px`);
    }
    const height = Math.min(scrollHeight, maxHeight);
    await page.screenshot({ path: screenshot, fullPage: true, clip: { x: 0, y: 0, width, height } });
    return {
      file: absolute,
      width,
      screenshot,
      scrollWidth,
      innerWidth,
      overflow: scrollWidth > innerWidth,
      externalRequests,
    };
  } finally {
    await context.close();
  }
}

const PAIR_WIDTH = 700;

/** One PNG of `file` at PAIR_WIDTH in each colour scheme, side by side (light left), composed in Chromium. */
async function lightDark(browser: Browser, file: string, out: string, maxHeight: number): Promise<void> {
  const url = pathToFileURL(resolve(file)).href;
  const shots: Buffer[] = [];
  let height = 0;
  for (const colorScheme of ['light', 'dark'] as const) {
    const context = await browser.newContext({ viewport: { width: PAIR_WIDTH, height: 900 }, deviceScaleFactor: 1, colorScheme });
    try {
      const page = await context.newPage();
      await page.route('**/*', (route) => (route.request().url() === url ? route.continue() : route.abort()));
      await page.goto(url, { waitUntil: 'load' });
      const scrollHeight = Number(await page.evaluate('document.documentElement.scrollHeight'));
      height = Math.max(height, Math.min(scrollHeight, maxHeight));
      shots.push(
        await page.screenshot({ fullPage: true, clip: { x: 0, y: 0, width: PAIR_WIDTH, height: Math.min(scrollHeight, maxHeight) } }),
      );
    } finally {
      await context.close();
    }
  }
  const gap = 16;
  const context = await browser.newContext({ viewport: { width: PAIR_WIDTH * 2 + gap, height }, deviceScaleFactor: 1 });
  try {
    const page = await context.newPage();
    const img = (png: Buffer) => `<img style="display:block;width:${PAIR_WIDTH}px" src="data:image/png;base64,${png.toString('base64')}">`;
    await page.setContent(
      `<body style="margin:0;background:#6b7280;display:flex;gap:${gap}px;align-items:flex-start">${shots.map(img).join('')}</body>`,
      { waitUntil: 'load' },
    );
    writeFileSync(out, await page.screenshot({ clip: { x: 0, y: 0, width: PAIR_WIDTH * 2 + gap, height } }));
  } finally {
    await context.close();
  }
}

async function main(args: readonly string[]): Promise<number> {
  const pair = args.find((a) => a.startsWith('--light-dark='));
  if (pair) {
    const rest = args.filter((a) => a !== pair);
    const heightOption = rest.find((a) => a.startsWith('--max-height='));
    const files = rest.filter((a) => a !== heightOption);
    const max = heightOption ? Number(heightOption.slice('--max-height='.length)) : Number.POSITIVE_INFINITY;
    if (files.length !== 1 || !existsSync(files[0]!) || !(max > 0)) {
      console.error('usage: node scripts/screenshot.ts --light-dark=<out.png> [--max-height=<px>] <file.html>');
      return 2;
    }
    const browser = await launchChromium();
    try {
      await lightDark(browser, files[0]!, pair.slice('--light-dark='.length), max);
    } finally {
      await browser.close();
    }
    console.log(`ok   ${pair.slice('--light-dark='.length)}: ${files[0]} in light and dark`);
    return 0;
  }
  const option = args.find((a) => a.startsWith('--max-height='));
  const maxHeight = option === undefined ? Number.POSITIVE_INFINITY : Number(option.slice('--max-height='.length));
  const files = args.filter((a) => !a.startsWith('--'));
  if (files.length === 0 || !(maxHeight > 0) || args.some((a) => a.startsWith('--') && a !== option)) {
    console.error('usage: vite-node scripts/screenshot.ts [--max-height=<px>] <file.html> [more.html ...]');
    return 2;
  }
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) {
    console.error(`No such file: ${missing.join(', ')}`);
    return 2;
  }
  const executable = chromiumPath();
  if (!existsSync(executable)) {
    console.error(`Chromium not found at ${executable}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`);
    return 2;
  }
  const browser = await launchChromium(executable);
  let failed = false;
  try {
    for (const file of files) {
      for (const width of SCREENSHOT_WIDTHS) {
        const report = await screenshotFile(browser, file, width, maxHeight);
        const problems = [
          report.overflow ? `HORIZONTAL OVERFLOW (scrollWidth ${report.scrollWidth} > ${report.innerWidth})` : '',
          report.externalRequests.length > 0 ? `EXTERNAL REQUESTS: ${report.externalRequests.join(' ')}` : '',
        ].filter((p) => p !== '');
        if (problems.length > 0) failed = true;
        console.log(
          `${problems.length > 0 ? 'FAIL' : 'ok  '} ${width}px ${report.screenshot} ` +
            (problems.length > 0 ? problems.join('; ') : `no overflow (scrollWidth ${report.scrollWidth})`),
        );
      }
    }
  } finally {
    await browser.close();
  }
  return failed ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  },
);
