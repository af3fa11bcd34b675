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
 */
import { existsSync } from 'node:fs';
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

async function main(args: readonly string[]): Promise<number> {
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
