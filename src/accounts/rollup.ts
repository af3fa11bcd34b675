/**
 * The roll-up for the provider (ROLLUP_TO): after each scheduled round (worker) or multi-account `run`, one
 * short message with, per account, the verdict, counts, findings and coverage, failures first. It never says
 * "all quiet" while an account failed or was not reported in this round. The model is pure; the rendering
 * (templates/rollup.html.hbs and rollup.txt.hbs) is at the bottom.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { findTemplatesDir } from '../adapters/renderer.js';
import { visibleText } from '../core/visible-text.js';
import type { OutgoingMessage, RenderedMessage } from '../ports.js';
import type { AccountRunRecord } from './local-runner.js';

export type RollupStatus = 'failed' | 'not-reported' | 'attention' | 'review' | 'untrusted' | 'low' | 'quiet' | 'no-window';

export interface RollupRow {
  id: string;
  status: RollupStatus;
  /** FAILED, NOT REPORTED, Findings, Check this digest, Low findings, Quiet, No window due. */
  label: string;
  /** The digest's verdict, the failure's message, or why nothing was reported. */
  verdict: string;
  windows: number;
  coverage: string;
  eventsReviewed: number;
  findingCount: number;
  high: number;
  medium: number;
  low: number;
  topFindings: { severity: string; title: string; subject: string }[];
  failed: boolean;
}

export interface RollupModel {
  subject: string;
  verdict: string;
  /** 'failed' (red), 'attention' (amber: findings or not reported), 'quiet' (green: only when every account delivered a quiet window). */
  level: 'failed' | 'attention' | 'quiet';
  generatedAt: string;
  accounts: RollupRow[];
}

const ORDER: readonly RollupStatus[] = ['failed', 'not-reported', 'attention', 'review', 'untrusted', 'low', 'no-window', 'quiet'];
const LABELS: Record<RollupStatus, string> = {
  failed: 'FAILED',
  'not-reported': 'NOT REPORTED',
  attention: 'High findings',
  review: 'Findings',
  untrusted: 'Check this digest',
  low: 'Low findings',
  'no-window': 'No window due',
  quiet: 'Quiet',
};

function rowOf(record: AccountRunRecord): RollupRow {
  const { outcome } = record;
  const sent = outcome.windows.filter((w) => w.status === 'delivered' || w.status === 'dry-run');
  const failedWindow = outcome.windows.find((w) => w.status === 'failed' || w.evidenceError);
  const sum = (pick: (w: (typeof sent)[number]) => number) => sent.reduce((n, w) => n + pick(w), 0);
  const first = outcome.windows[0];
  const last = outcome.windows[outcome.windows.length - 1];
  const coverage = first && last ? `${first.window.start.toISOString()} → ${last.window.end.toISOString()}` : 'no window this round';
  let status: RollupStatus;
  let verdict: string;
  if (outcome.status === 'failed') {
    status = 'failed';
    verdict = failedWindow?.error ?? failedWindow?.evidenceError ?? record.error ?? 'the run failed';
  } else if (outcome.status === 'locked') {
    status = 'not-reported';
    verdict =
      record.notReported ?? 'Another run held this account’s lock (or the round was stopped): nothing was reported for it in this round.';
  } else if (sent.length === 0) {
    status = 'no-window';
    verdict =
      outcome.status === 'nothing-due'
        ? 'Nothing was due: its last window is already delivered.'
        : 'Every due window was already delivered.';
  } else {
    const levels = sent.map((w) => w.digest?.verdictLevel ?? 'untrusted');
    status = ORDER.find((s) => (levels as string[]).includes(s)) ?? 'untrusted';
    verdict = sent.map((w) => w.digest?.verdict ?? w.subject ?? '').join(' · ');
  }
  return {
    id: record.id,
    status,
    label: LABELS[status],
    verdict,
    windows: sent.length,
    coverage,
    eventsReviewed: sum((w) => w.eventsReviewed ?? 0),
    findingCount: sum((w) => w.digest?.findingCount ?? 0),
    high: sum((w) => w.digest?.bySeverity.high ?? 0),
    medium: sum((w) => w.digest?.bySeverity.medium ?? 0),
    low: sum((w) => w.digest?.bySeverity.low ?? 0),
    topFindings: sent.flatMap((w) => w.digest?.topFindings ?? []).slice(0, 3),
    failed: status === 'failed',
  };
}

const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

/** The roll-up of one round: failures first, then accounts not reported, then by what their digests found. */
export function buildRollup(records: readonly AccountRunRecord[], now: Date): RollupModel {
  const accounts = records.map(rowOf).sort((x, y) => ORDER.indexOf(x.status) - ORDER.indexOf(y.status));
  const failed = accounts.filter((a) => a.status === 'failed').length;
  const notReported = accounts.filter((a) => a.status === 'not-reported').length;
  const findings = accounts.reduce((n, a) => n + a.findingCount, 0);
  const high = accounts.reduce((n, a) => n + a.high, 0);
  const total = plural(accounts.length, 'account');
  let verdict: string;
  let level: RollupModel['level'];
  if (failed > 0) {
    level = 'failed';
    verdict = `${failed} of ${total} FAILED${notReported ? ` · ${notReported} not reported` : ''}${findings ? ` · ${plural(findings, 'finding')}` : ''}`;
  } else if (notReported > 0) {
    level = 'attention';
    verdict = `${notReported} of ${total} not reported${findings ? ` · ${plural(findings, 'finding')}` : ''}`;
  } else if (accounts.every((a) => a.status === 'quiet')) {
    level = 'quiet';
    verdict = `All quiet: ${total} reported, no findings`;
  } else {
    level = 'attention';
    const withFindings = accounts.filter((a) => a.findingCount > 0).length;
    verdict = findings
      ? `${plural(findings, 'finding')} (${high.toLocaleString('en-US')} high-severity events) in ${plural(withFindings, 'account')} of ${accounts.length}`
      : `No findings in ${total}; ${accounts.filter((a) => a.status !== 'quiet').length} without an all-clear this round (see below)`;
  }
  return { subject: `LastPass roll-up — ${verdict}`, verdict, level, generatedAt: now.toISOString(), accounts };
}

// ---- rendering ----------------------------------------------------------------------------------

export interface RollupRenderer {
  render(model: RollupModel): RenderedMessage;
}

export function createRollupRenderer(templatesDir: string = findTemplatesDir()): RollupRenderer {
  const html = Handlebars.create();
  const text = Handlebars.create();
  for (const env of [html, text]) {
    env.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    env.registerHelper('num', (n: unknown) => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n)));
  }
  const compile = (env: typeof Handlebars, file: string, noEscape: boolean) =>
    env.compile(readFileSync(join(templatesDir, file), 'utf8'), { strict: true, noEscape });
  const htmlTemplate = compile(html, 'rollup.html.hbs', false);
  const textTemplate = compile(text, 'rollup.txt.hbs', true);
  return {
    render(model) {
      // Text from LastPass (users, verdicts quoting it) shows invisible characters as ⟨U+…⟩, as in the digest.
      const view = {
        ...model,
        accounts: model.accounts.map((a) => ({
          ...a,
          verdict: visibleText(a.verdict),
          topFindings: a.topFindings.map((f) => ({ ...f, title: visibleText(f.title), subject: visibleText(f.subject) })),
        })),
      };
      return { html: htmlTemplate(view), text: textTemplate(view) };
    },
  };
}

/** The roll-up as a message (kind 'digest': the outbox and SendGrid treat it like one). */
export function rollupMessage(model: RollupModel, rendered: RenderedMessage, from: string, to: string[]): OutgoingMessage {
  const key = `rollup-${model.generatedAt.replace(/[:.]/g, '-')}`;
  return { key, kind: 'digest', from, to, subject: model.subject, html: rendered.html, text: rendered.text, customArgs: { rollup: key } };
}
