/**
 * The second alarm channel's message (NOTIFY_WEBHOOK_URL), as data and as each format's request body:
 * `slack` (incoming webhook: Block Kit `blocks` with a fallback `text`), `teams` (Workflows webhook: a
 * `message` carrying one Adaptive Card attachment) and `json` (our own schema, version 1, README
 * "Alarm webhook"). Pure: no I/O. Every text is cut to the format's limits; text that came from LastPass or
 * from an upstream's answer is carried as plain text only (Slack `plain_text`, Adaptive Card `TextRun`), so
 * it can neither mention (`<!channel>`) nor link; the alarm itself carries no link at all.
 */
import type { Severity } from './types.js';
import { shortenText } from './visible-text.js';

export type WebhookFormat = 'slack' | 'teams' | 'json';
export const WEBHOOK_FORMATS: readonly WebhookFormat[] = ['slack', 'teams', 'json'];

/** The format a webhook URL's host implies: Slack's and Microsoft's hosts, else our JSON. */
export function inferWebhookFormat(url: string): WebhookFormat {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase();
  } catch {
    return 'json';
  }
  if (host === 'hooks.slack.com') return 'slack';
  const teamsDomains = ['logic.azure.com', 'powerplatform.com', 'webhook.office.com'];
  if (teamsDomains.some((d) => host === d || host.endsWith(`.${d}`))) return 'teams';
  return 'json';
}

export interface AlarmFinding {
  severity: Severity;
  title: string;
  subject: string;
  reason: string;
  /** In REPORT_TIMEZONE, "2025-03-09 17:05". */
  time: string;
}

/** What the webhook says, whatever its format. */
export interface AlarmNotice {
  kind: 'failed' | 'digest';
  /** LASTPASS_ACCOUNT_NUMBER (the account number is not a secret; the API secret never comes here). */
  account: string;
  window: { key: string; start: string; end: string };
  /** The mail's subject ("FAILED: …" or the digest's). */
  subject: string;
  /** The digest's verdict line, or for a FAILED notice what failed. */
  verdict: string;
  /** digest: the counts behind the verdict; failed: null (nothing was reviewed). */
  counts: { eventsReviewed: number; findings: number; high: number; medium: number; low: number; info: number } | null;
  /** The most important findings, high first (at most MAX_TOP_FINDINGS). */
  topFindings: AlarmFinding[];
  /** failed only: the error (already redacted), what to do, and how many runs in a row failed. */
  failure: { error: string; advice: string; consecutiveFailures: number; emailSent: boolean } | null;
  generatedAt: string;
  generator: string;
}

export const MAX_TOP_FINDINGS = 5;

/** Control characters out (newlines kept when `multiline`), whitespace runs folded, cut to `max` characters. */
export function clean(text: string, max: number, multiline = false): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const stripped = text.replace(multiline ? /[\u0000-\u0009\u000b-\u001f\u007f]/g : /[\u0000-\u001f\u007f]/g, ' ');
  const folded = multiline ? stripped.replace(/[ \t]+/g, ' ') : stripped.replace(/\s+/g, ' ');
  const t = folded.trim();
  // shortenText: never half a surrogate pair (a lone surrogate in the JSON body) nor half a ⟨U+200B⟩ mark.
  return shortenText(t, max);
}

const SEVERITY_LABEL: Record<Severity, string> = { high: 'HIGH', medium: 'MEDIUM', low: 'LOW', info: 'INFO' };

function findingLine(f: AlarmFinding, max: number): string {
  return clean(`[${SEVERITY_LABEL[f.severity]}] ${f.title}: ${f.subject}. ${f.reason} (${f.time})`, max);
}

function countsLine(n: NonNullable<AlarmNotice['counts']>): string {
  const fmt = (x: number) => x.toLocaleString('en-US');
  return `${fmt(n.eventsReviewed)} events reviewed · ${fmt(n.findings)} findings · events by severity: ${fmt(n.high)} high, ${fmt(n.medium)} medium, ${fmt(n.low)} low`;
}

function windowLine(notice: AlarmNotice): string {
  return `Account ${notice.account} · window ${notice.window.start} → ${notice.window.end} (UTC)`;
}

/** The lines every format shows, in order, as plain text (the formats only dress them). */
export function alarmLines(notice: AlarmNotice): { heading: string; lines: string[]; findings: string[] } {
  const heading = clean(notice.subject, 150);
  const lines: string[] = [clean(notice.verdict, 1000), windowLine(notice)];
  if (notice.counts) lines.push(countsLine(notice.counts));
  if (notice.failure) {
    lines.push(clean(`Error: ${notice.failure.error}`, 1000));
    lines.push(clean(`What to do: ${notice.failure.advice}`, 1000));
    if (!notice.failure.emailSent) lines.push('The FAILED email could not be sent either: this message is the only notice.');
    if (notice.failure.consecutiveFailures > 1) lines.push(`Failure ${notice.failure.consecutiveFailures} in a row.`);
  }
  if (notice.kind === 'digest') lines.push('The full digest went to the recipients by email.');
  const findings = notice.topFindings.slice(0, MAX_TOP_FINDINGS).map((f) => findingLine(f, 600));
  return { heading, lines, findings };
}

/** The body of the webhook request in `format`. */
export function alarmPayload(notice: AlarmNotice, format: WebhookFormat): unknown {
  if (format === 'slack') return slackPayload(notice);
  if (format === 'teams') return teamsPayload(notice);
  return jsonPayload(notice);
}

/** Slack's `text` is mrkdwn: &, < and > are escaped as Slack documents, so nothing becomes a mention or a link. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function slackPayload(notice: AlarmNotice): unknown {
  const { heading, lines, findings } = alarmLines(notice);
  const plain = (text: string) => ({ type: 'plain_text', text, emoji: false });
  const blocks: unknown[] = [
    { type: 'header', text: plain(heading) },
    { type: 'section', text: plain(clean(lines.join('\n'), 3000, true)) },
  ];
  if (findings.length > 0) {
    blocks.push({ type: 'divider' });
    blocks.push({ type: 'section', text: plain(`Top findings (${findings.length})`) });
    for (const f of findings) blocks.push({ type: 'section', text: plain(f) });
  }
  blocks.push({ type: 'context', elements: [plain(clean(`${notice.generator} · ${notice.generatedAt}`, 150))] });
  // The fallback shows in notifications and where blocks cannot be shown.
  return { text: slackEscape(clean(`${heading}: ${lines[0] ?? ''}`, 3000)), blocks };
}

function teamsPayload(notice: AlarmNotice): unknown {
  const { heading, lines, findings } = alarmLines(notice);
  // Our own headings are TextBlocks; every other text is a TextRun (plain text: no Markdown, no link).
  const run = (text: string, extra: Record<string, unknown> = {}) => ({
    type: 'RichTextBlock',
    inlines: [{ type: 'TextRun', text, ...extra }],
  });
  const body: unknown[] = [
    {
      type: 'TextBlock',
      text: notice.kind === 'failed' ? 'LastPass digest FAILED' : 'LastPass digest: high findings',
      weight: 'Bolder',
      size: 'Medium',
      color: 'Attention',
      wrap: true,
    },
    run(heading, { weight: 'Bolder' }),
    ...lines.map((l) => run(l)),
  ];
  if (findings.length > 0) {
    body.push({ type: 'TextBlock', text: `Top findings (${findings.length})`, weight: 'Bolder', wrap: true, separator: true });
    for (const f of findings) body.push(run(f));
  }
  body.push(run(clean(`${notice.generator} · ${notice.generatedAt}`, 200), { isSubtle: true, size: 'Small' }));
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body,
        },
      },
    ],
  };
}

function jsonPayload(notice: AlarmNotice): unknown {
  return {
    version: 1,
    kind: notice.kind,
    account: notice.account,
    window: notice.window,
    subject: clean(notice.subject, 300),
    verdict: clean(notice.verdict, 1000),
    counts: notice.counts,
    topFindings: notice.topFindings.slice(0, MAX_TOP_FINDINGS).map((f) => ({
      severity: f.severity,
      title: clean(f.title, 200),
      subject: clean(f.subject, 200),
      reason: clean(f.reason, 600),
      time: f.time,
    })),
    failure: notice.failure
      ? { ...notice.failure, error: clean(notice.failure.error, 1000), advice: clean(notice.failure.advice, 1000) }
      : null,
    generatedAt: notice.generatedAt,
    generator: notice.generator,
  };
}
