/**
 * The Handlebars renderer: turns a DigestModel or FailureNoticeModel into the HTML and plain-text parts
 * of an email. Two isolated Handlebars environments (HTML and text) so partials and escaping never mix;
 * every template in strict mode, so a field the model lacks is an error rather than a silent blank.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Handlebars from 'handlebars';
import type { ChartBar, DigestModel } from '../core/digest-model-types.js';
import { describeError, RenderError } from '../errors.js';
import type { Renderer } from '../ports.js';
import { collectLabels, invisibleCharactersNotice, visibleText } from '../core/visible-text.js';
import { fitToBudget, HTML_BUDGET_BYTES, renderWithinBudget } from './html-budget.js';

export interface RendererOptions {
  /** The directory holding `digest.html.hbs` and friends; found by walking up from this module when absent. */
  templatesDir?: string;
  /** Largest HTML part in bytes (UTF-8); rows are shortened, then left out, to stay under it. */
  htmlBudgetBytes?: number;
}

export { HTML_BUDGET_BYTES } from './html-budget.js';

type HandlebarsEnv = typeof Handlebars;
type Template = (context: unknown) => string;
type Flavour = 'html' | 'text';

const TEMPLATE_FILES = {
  digestHtml: 'digest.html.hbs',
  digestText: 'digest.txt.hbs',
  failureHtml: 'failure.html.hbs',
  failureText: 'failure.txt.hbs',
} as const;

/** Walks up from this module's directory to the first one holding `templates/digest.html.hbs`. */
export function findTemplatesDir(start: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = start;
  for (;;) {
    const candidate = join(dir, 'templates');
    if (existsSync(join(candidate, TEMPLATE_FILES.digestHtml))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new RenderError(
        `Cannot find the templates directory (templates/${TEMPLATE_FILES.digestHtml}) above ${start}: ` +
          'install the package with its templates/ folder, or pass templatesDir to createRenderer',
      );
    }
    dir = parent;
  }
}

export function createRenderer(options: RendererOptions = {}): Renderer {
  const dir = options.templatesDir ?? findTemplatesDir();
  const html = createEnvironment('html');
  const text = createEnvironment('text');
  registerPartials(dir, html, text);

  const templates = {
    digestHtml: compileFile(html, dir, TEMPLATE_FILES.digestHtml, 'html'),
    digestText: compileFile(text, dir, TEMPLATE_FILES.digestText, 'text'),
    failureHtml: compileFile(html, dir, TEMPLATE_FILES.failureHtml, 'html'),
    failureText: compileFile(text, dir, TEMPLATE_FILES.failureText, 'text'),
  };

  const budget = options.htmlBudgetBytes ?? HTML_BUDGET_BYTES;

  const renderDigest = (model: DigestModel) => {
    const shown = new Set<number>();
    const view: DigestModel = {
      ...sanitiseStrings(model, (t) => {
        const visible = visibleText(t);
        collectLabels(visible, shown);
        return visible;
      }),
    };
    // What the ⟨U+200B⟩ marks mean, at the top, whenever the digest shows one.
    const notice = invisibleCharactersNotice(shown, view.attachments.json);
    if (notice) view.notices = [...view.notices, notice];
    return {
      html: fitToBudget(view, budget, (v) => run(templates.digestHtml, TEMPLATE_FILES.digestHtml, v)),
      // The text part is not clipped by mail clients: it keeps every row the model has.
      text: run(templates.digestText, TEMPLATE_FILES.digestText, view),
    };
  };

  return {
    renderDigest,
    renderDigestWithinBudget: (build) => renderWithinBudget(build, renderDigest, budget),
    renderFailure(model) {
      return {
        html: run(templates.failureHtml, TEMPLATE_FILES.failureHtml, sanitiseStrings(model, failureText)),
        text: run(templates.failureText, TEMPLATE_FILES.failureText, sanitiseStrings(model, failureText)),
      };
    },
  };
}

function run(template: Template, name: string, model: unknown): string {
  try {
    return template(model);
  } catch (error) {
    throw new RenderError(
      `Rendering ${name} failed: ${describeError(error)}. ` +
        'The view model does not match the template (a bug, not a data problem): report it with the window key',
      { cause: error },
    );
  }
}

function compileFile(env: HandlebarsEnv, dir: string, file: string, flavour: Flavour): Template {
  const source = readTemplate(join(dir, file));
  return compileSource(env, source, file, flavour);
}

function compileSource(env: HandlebarsEnv, source: string, file: string, flavour: Flavour): Template {
  try {
    // compile() is lazy; parse() now so a syntax error surfaces at start-up, not at the first report.
    // preventIndent: in the text part a partial's lines keep their own layout; in HTML, indenting every
    // line of a partial per row would only spend bytes of the size budget.
    env.parse(source);
    return env.compile(source, { strict: true, noEscape: flavour === 'text', preventIndent: true });
  } catch (error) {
    throw new RenderError(`Template ${file} does not compile: ${describeError(error)}`, { cause: error });
  }
}

function readTemplate(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new RenderError(`Cannot read template ${path}: ${describeError(error)}`, { cause: error });
  }
}

/** `partials/<name>.html.hbs` goes to the HTML environment and `partials/<name>.txt.hbs` to the text one, as `<name>`. */
function registerPartials(dir: string, html: HandlebarsEnv, text: HandlebarsEnv): void {
  const partialsDir = join(dir, 'partials');
  if (!existsSync(partialsDir)) return;
  for (const file of readdirSync(partialsDir).sort()) {
    const match = /^([a-z0-9-]+)\.(html|txt)\.hbs$/.exec(file);
    if (!match) continue;
    const [, name, ext] = match;
    if (name === undefined) continue;
    const flavour: Flavour = ext === 'html' ? 'html' : 'text';
    const env = flavour === 'html' ? html : text;
    const template = compileSource(env, readTemplate(join(partialsDir, file)), `partials/${file}`, flavour);
    env.registerPartial(name, template);
  }
}

// ---------------------------------------------------------------------------------------------------
// Model sanitising. Escaping is Handlebars' job in HTML; this makes every character that could forge a
// line in the text part (newlines, tabs, other controls) or make two values look alike in either part
// (zero-width characters, soft hyphens, bidi controls, tag characters, odd spaces) visible as `⟨U+200B⟩`,
// and lone surrogates U+FFFD: core/visible-text.ts, the same function the attachments' text goes through.
// Every string of the model goes through it (event text reaches titles and sentences, not only the rows);
// the model's own wording uses none of these characters. Keys are preserved, so strict mode still sees
// exactly the fields the model has.

/** Line breaks and tabs, in runs. */
const LINE_BREAKS = /[\t\n\v\f\r\u0085\u2028\u2029]+/g;

/**
 * A failure notice's text: an upstream's error text keeps its layout readable (its line breaks become one
 * space, as a forged line cannot start a line anyway); everything else invisible is shown as `⟨U+…⟩`.
 */
const failureText = (text: string): string => visibleText(text.replace(LINE_BREAKS, ' '));

/** Every string of the model passed through `clean`. */
function sanitiseStrings<T>(value: T, clean: (text: string) => string): T {
  return sanitiseValue(value, clean) as T;
}

function sanitiseValue(value: unknown, clean: (text: string) => string): unknown {
  if (typeof value === 'string') return clean(value);
  if (Array.isArray(value)) return value.map((item: unknown) => sanitiseValue(item, clean));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = sanitiseValue(item, clean);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Helpers. Each returns plain strings; the HTML environment escapes them like any other value.

interface Palette {
  /** Strong colour: text of counts, tile borders. */
  fg: string;
  /** Badge background. */
  bg: string;
  /** Badge text. */
  ink: string;
  label: string;
}

const SEVERITY: Record<string, Palette> = {
  high: { fg: '#b91c1c', bg: '#fee2e2', ink: '#991b1b', label: 'High' },
  medium: { fg: '#b45309', bg: '#fef3c7', ink: '#92400e', label: 'Medium' },
  low: { fg: '#1d4ed8', bg: '#dbeafe', ink: '#1e40af', label: 'Low' },
  info: { fg: '#4b5563', bg: '#f3f4f6', ink: '#374151', label: 'Info' },
};
const UNKNOWN: Palette = { fg: '#4b5563', bg: '#f3f4f6', ink: '#374151', label: 'Unknown' };

const VERDICT: Record<string, { bg: string; label: string }> = {
  attention: { bg: '#b91c1c', label: 'Needs attention' },
  review: { bg: '#b45309', label: 'Review' },
  // Amber: not an all-clear (unusually few events, another zone, rows out of range); see DigestModel.cautions.
  untrusted: { bg: '#a16207', label: 'Check this digest' },
  low: { bg: '#1d4ed8', label: 'Worth a look' },
  quiet: { bg: '#15803d', label: 'Quiet' },
};

function palette(severity: unknown): Palette {
  return (typeof severity === 'string' ? SEVERITY[severity] : undefined) ?? UNKNOWN;
}

const NUMBER = new Intl.NumberFormat('en-US');

const CONSOLE_ROOT = 'https://admin.lastpass.com/';
const CONSOLE_PAGE = /^https:\/\/admin\.lastpass\.com\/[A-Za-z0-9/_.-]*$/;

/** Arithmetic helpers take numbers only: a missing field must fail the render (as strict mode does), not draw 0. */
function number(value: unknown, helper: string): number {
  if (typeof value !== 'number')
    throw new TypeError(`{{${helper}}} expects numbers, got ${value === undefined ? 'a missing field' : typeof value}`);
  return value;
}

function createEnvironment(flavour: Flavour): HandlebarsEnv {
  const env = Handlebars.create();
  env.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  /** `(or a b)`: true when any argument is, with {{#if}}'s idea of truth (an empty list is false). */
  env.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some((v) => (Array.isArray(v) ? v.length > 0 : Boolean(v))));
  env.registerHelper('gt', (a: unknown, b: unknown) => number(a, 'gt') > number(b, 'gt'));
  env.registerHelper('severityColor', (s: unknown) => palette(s).fg);
  env.registerHelper('severityBg', (s: unknown) => palette(s).bg);
  env.registerHelper('severityInk', (s: unknown) => palette(s).ink);
  env.registerHelper('severityLabel', (s: unknown) => palette(s).label);
  env.registerHelper('verdictColor', (v: unknown) => (typeof v === 'string' ? VERDICT[v]?.bg : undefined) ?? UNKNOWN.fg);
  env.registerHelper('verdictLabel', (v: unknown) => (typeof v === 'string' ? VERDICT[v]?.label : undefined) ?? 'Unknown');
  env.registerHelper('num', (n: unknown) => (typeof n === 'number' ? NUMBER.format(n) : String(n)));
  /** `href="{{consoleLink link}}"`: only an Admin Console page is ever linked; anything else becomes the console's root. */
  env.registerHelper('consoleLink', (url: unknown) => (typeof url === 'string' && CONSOLE_PAGE.test(url) ? url : CONSOLE_ROOT));
  /** `{{plural count "event"}}` → "event"/"events"; `{{plural count "entry" "entries"}}`. */
  env.registerHelper('plural', (...args: unknown[]) => {
    const [count, singular, pluralForm] = args;
    const one = typeof singular === 'string' ? singular : '';
    const many = typeof pluralForm === 'string' ? pluralForm : `${one}s`;
    return count === 1 ? one : many;
  });
  /** `(concat "times in " window.zone)`: joins its arguments (for partial parameters). */
  env.registerHelper('concat', (...args: unknown[]) => args.slice(0, -1).map(String).join(''));
  env.registerHelper('upper', (s: unknown) => String(s).toUpperCase());
  /** `{{sub a b}}` → a - b (the chart's grey part: totalPx - failurePx). */
  env.registerHelper('sub', (a: unknown, b: unknown) => number(a, 'sub') - number(b, 'sub'));
  /** `{{sum rows "failures"}}`: the total of one numeric field over a list. */
  env.registerHelper('sum', (rows: unknown, key: unknown) =>
    Array.isArray(rows) && typeof key === 'string'
      ? rows.reduce((n: number, r: unknown) => {
          const v = r !== null && typeof r === 'object' ? (r as Record<string, unknown>)[key] : undefined;
          return n + (typeof v === 'number' ? v : 0);
        }, 0)
      : 0,
  );
  /** `(some rows "standsOut")`: true when any row of a list has that field set. */
  env.registerHelper('some', (rows: unknown, key: unknown) =>
    Array.isArray(rows) && typeof key === 'string'
      ? rows.some((r: unknown) => r !== null && typeof r === 'object' && Boolean((r as Record<string, unknown>)[key]))
      : false,
  );
  /** `{{#each (chartLabels chart.bars)}}`: about 8 hour labels under the chart, each spanning its bars. */
  env.registerHelper('chartLabels', (bars: unknown) => chartLabels(Array.isArray(bars) ? (bars as ChartBar[]) : []));
  /** `{{busiest chart.bars}}`: the title of the busiest bar ("" when there is none). */
  env.registerHelper('busiest', (bars: unknown) => {
    if (!Array.isArray(bars)) return '';
    let best: ChartBar | undefined;
    for (const bar of bars as ChartBar[]) if (best === undefined || bar.total > best.total) best = bar;
    return best?.title ?? '';
  });
  if (flavour === 'text') {
    /** `{{pad value 8}}` pads on the right, `{{padStart value 8}}` on the left, to a column width (never truncates). */
    env.registerHelper('pad', (s: unknown, width: unknown) => String(s).padEnd(typeof width === 'number' ? width : 0));
    env.registerHelper('padStart', (s: unknown, width: unknown) => String(s).padStart(typeof width === 'number' ? width : 0));
    /** `{{#wrap width=80 indent=4}}…{{/wrap}}`: one logical line, word-wrapped with a hanging indent. */
    env.registerHelper('wrap', function (this: unknown, options: Handlebars.HelperOptions) {
      const hash = options.hash as Record<string, unknown>;
      const width = typeof hash.width === 'number' ? hash.width : 80;
      const indent = typeof hash.indent === 'number' ? hash.indent : 4;
      return wrapLine(
        options
          .fn(this)
          .replace(/\s*\n\s*/g, ' ')
          .trimEnd(),
        width,
        indent,
      );
    });
  }
  return env;
}

const CHART_LABELS = 8;

/** One label every `step` bars (8 labels for 24 bars, 8 for 48), the last spanning what is left. */
export function chartLabels(bars: readonly ChartBar[]): { label: string; span: number }[] {
  const step = Math.max(1, Math.ceil(bars.length / CHART_LABELS));
  const labels: { label: string; span: number }[] = [];
  for (let i = 0; i < bars.length; i += step) {
    labels.push({ label: bars[i]?.label ?? '', span: Math.min(step, bars.length - i) });
  }
  return labels;
}

/**
 * Greedy word wrap of one line to `width` columns; continuation lines start at column `indent`. Leading
 * and inner spacing is kept (for aligned columns); words longer than the room left are hard-split.
 */
export function wrapLine(line: string, width: number, indent: number): string {
  const pad = ' '.repeat(indent);
  const lines: string[] = [];
  const lead = /^ */.exec(line)?.[0] ?? '';
  let current = lead;
  const room = (): number => width - (lines.length === 0 ? 0 : indent);
  const flush = (): void => {
    lines.push(current.trimEnd());
    current = '';
  };
  for (const token of line.slice(lead.length).split(/( +)/)) {
    if (token === '') continue;
    if (token.startsWith(' ')) {
      if (current.trim() !== '') current += token;
      continue;
    }
    let word = token;
    if (current.length + word.length > room() && current.trim() !== '') flush();
    while (word.length > room() - current.length) {
      const take = Math.max(1, room() - current.length);
      current += word.slice(0, take);
      word = word.slice(take);
      flush();
    }
    current += word;
  }
  if (current !== '' || lines.length === 0) lines.push(current.trimEnd());
  return lines.map((l, i) => (i === 0 ? l : pad + l)).join('\n');
}
