/**
 * The second alarm channel (NOTIFY_WEBHOOK_URL): each format's request as nock sees it, checked against the
 * fields Slack (incoming webhook, Block Kit) and Microsoft (Teams Workflows webhook, Adaptive Card) document;
 * our own JSON schema; retries as for SendGrid; no redirect followed; the format inferred from the host.
 */
import nock from 'nock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWebhookNotifier } from '../src/adapters/notify/webhook-notifier.js';
import { type AlarmNotice, inferWebhookFormat, slackEscape } from '../src/core/alarm.js';
import { loadConfig } from '../src/config/load-config.js';
import type { ConfigError } from '../src/errors.js';
import { recordingLogger } from './support/recording-logger.js';

const SLACK_PATH = '/services/T0001/B0002/slackTokenXyz123';
const TEAMS_PATH = '/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=teamsSigQwe789';

const digestNotice = (): AlarmNotice => ({
  kind: 'digest',
  account: '8771234',
  window: { key: '2025-03-10T07:00Z', start: '2025-03-09T07:00:00.000Z', end: '2025-03-10T07:00:00.000Z' },
  subject: 'LastPass security digest 2025-03-10 — 2 findings (1 high) · 3 high-severity events',
  verdict: '2 findings (1 high) · 3 high-severity events · 30,036 events reviewed',
  counts: { eventsReviewed: 30_036, findings: 2, high: 3, medium: 1, low: 9, info: 30_000 },
  topFindings: [
    {
      severity: 'high',
      title: 'Password spraying',
      subject: '203.0.113.9',
      // Hostile text from LastPass: a mention, a Slack link and a Markdown link.
      reason: 'failed against 12 users <!channel> <https://evil.example/x|click> [reset](https://evil.example/y)',
      time: '2025-03-09 17:05',
    },
    { severity: 'medium', title: 'New source for a user', subject: 'alice@example.org', reason: 'new /24', time: '2025-03-09 18:00' },
  ],
  failure: null,
  generatedAt: '2025-03-10T07:00:05.000Z',
  generator: 'lastpass-audit-digest 0.1.0',
});

const failedNotice = (): AlarmNotice => ({
  kind: 'failed',
  account: '8771234',
  window: { key: '2025-03-10T07:00Z', start: '2025-03-09T07:00:00.000Z', end: '2025-03-10T07:00:00.000Z' },
  subject: 'FAILED: LastPass security digest 2025-03-10 — window not reviewed',
  verdict: 'The digest was built but could not be delivered.',
  counts: null,
  topFindings: [],
  failure: {
    error: 'SendGrid answered 401: check SENDGRID_API_KEY',
    advice: 'Fix the SendGrid problem above.',
    consecutiveFailures: 1,
    emailSent: false,
  },
  generatedAt: '2025-03-10T07:00:05.000Z',
  generator: 'lastpass-audit-digest 0.1.0',
});

/** Every string in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

beforeEach(() => nock.disableNetConnect());
afterEach(() => {
  nock.cleanAll();
  nock.enableNetConnect();
});

describe('the format follows the host when NOTIFY_WEBHOOK_FORMAT is unset', () => {
  it('hooks.slack.com is slack; logic.azure.com, powerplatform.com and webhook.office.com are teams; else json', () => {
    expect(inferWebhookFormat(`https://hooks.slack.com${SLACK_PATH}`)).toBe('slack');
    expect(inferWebhookFormat('https://prod-12.westeurope.logic.azure.com:443/workflows/x')).toBe('teams');
    expect(inferWebhookFormat('https://default1234.56.environment.api.powerplatform.com/powerautomate/x')).toBe('teams');
    expect(inferWebhookFormat('https://contoso.webhook.office.com/webhookb2/x')).toBe('teams');
    expect(inferWebhookFormat('https://hooks.slack.com.evil.example/x')).toBe('json');
    expect(inferWebhookFormat('https://notlogic.azure.com/x')).toBe('json');
    expect(inferWebhookFormat('https://alerts.example.org/lastpass')).toBe('json');
  });

  it('config: inferred, overridden, a bad format and a format without URL are problems; the URL is a secret', () => {
    const base = {
      LASTPASS_ACCOUNT_NUMBER: '1',
      LASTPASS_API_KEY: 'k',
      SENDGRID_API_KEY: 'SG.x',
      REPORT_FROM: 'a@example.org',
      REPORT_TO: 'b@example.org',
    };
    const slack = loadConfig({ ...base, NOTIFY_WEBHOOK_URL: `https://hooks.slack.com${SLACK_PATH}` }).config;
    expect(slack.notify).toEqual({ webhookUrl: `https://hooks.slack.com${SLACK_PATH}`, webhookFormat: 'slack' });
    expect(slack.secrets).toContain(`https://hooks.slack.com${SLACK_PATH}`);
    const forced = loadConfig({
      ...base,
      NOTIFY_WEBHOOK_URL: `https://hooks.slack.com${SLACK_PATH}`,
      NOTIFY_WEBHOOK_FORMAT: 'JSON',
    }).config;
    expect(forced.notify?.webhookFormat).toBe('json');
    expect(loadConfig(base).config.notify?.webhookUrl).toBeNull();
    let problems: readonly string[] = [];
    try {
      loadConfig({ ...base, NOTIFY_WEBHOOK_FORMAT: 'discord' });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^NOTIFY_WEBHOOK_FORMAT must be slack, teams or json/),
      expect.stringMatching(/^NOTIFY_WEBHOOK_FORMAT is set but NOTIFY_WEBHOOK_URL is not/),
    ]);
    try {
      loadConfig({ ...base, NOTIFY_WEBHOOK_URL: 'hooks.slack.com/services/secret-token-1' });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([expect.stringMatching(/^NOTIFY_WEBHOOK_URL is not an http\(s\) URL/)]);
      expect((error as Error).message).not.toContain('secret-token-1');
    }
  });
});

describe('each format as the webhook receives it', () => {
  it('slack: Block Kit blocks (header, sections of plain_text, context) and a fallback text; hostile text cannot mention or link', async () => {
    let body: Record<string, unknown> = {};
    const scope = nock('https://hooks.slack.com')
      .matchHeader('content-type', /^application\/json/)
      .post(SLACK_PATH, (b: Record<string, unknown>) => {
        body = b;
        return true;
      })
      .reply(200, 'ok');
    const logger = recordingLogger();
    const notifier = createWebhookNotifier({ url: `https://hooks.slack.com${SLACK_PATH}`, format: 'slack', logger, sleep: async () => {} });
    const notice = digestNotice();
    notice.verdict = `${notice.verdict} <!here> & co`;
    expect(await notifier.notify(notice)).toEqual({ sent: true, format: 'slack' });
    scope.done();
    // Slack's incoming webhook: `text` (the notification fallback when blocks are present) and `blocks`.
    expect(Object.keys(body).sort()).toEqual(['blocks', 'text']);
    expect(body.text).toContain('LastPass security digest 2025-03-10');
    const blocks = body.blocks as { type: string; text?: { type: string; text: string }; elements?: { type: string }[] }[];
    expect(blocks.length).toBeLessThanOrEqual(50);
    expect(blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: digestNotice().subject, emoji: false },
    });
    expect(blocks[0]!.text!.text.length).toBeLessThanOrEqual(150);
    for (const block of blocks) {
      expect(['header', 'section', 'divider', 'context']).toContain(block.type);
      if (block.type === 'section') {
        expect(block.text!.type).toBe('plain_text');
        expect(block.text!.text.length).toBeLessThanOrEqual(3000);
      }
      if (block.type === 'context') for (const e of block.elements!) expect(e.type).toBe('plain_text');
    }
    const all = strings(blocks).join('\n');
    expect(all).toContain('30,036 events reviewed');
    expect(all).toContain('[HIGH] Password spraying: 203.0.113.9.');
    expect(all).toContain('[MEDIUM] New source for a user: alice@example.org.');
    // The fallback is mrkdwn: &, <, > escaped as Slack documents, so "<!here>" stays text, not a mention.
    expect(body.text).toContain('&lt;!here&gt; &amp; co');
    expect(String(body.text)).not.toContain('<');
    expect(slackEscape('<https://x.example|y>')).toBe('&lt;https://x.example|y&gt;');
  });

  it('teams: a message with one Adaptive Card attachment (contentType, content.type AdaptiveCard, version, body)', async () => {
    let body: Record<string, unknown> = {};
    const scope = nock('https://prod-12.westeurope.logic.azure.com')
      .post(TEAMS_PATH, (b: Record<string, unknown>) => {
        body = b;
        return true;
      })
      .reply(202, '');
    const notifier = createWebhookNotifier({
      url: `https://prod-12.westeurope.logic.azure.com${TEAMS_PATH}`,
      format: 'teams',
      logger: recordingLogger(),
    });
    expect((await notifier.notify(failedNotice())).sent).toBe(true);
    scope.done();
    expect(body.type).toBe('message');
    const attachments = body.attachments as { contentType: string; content: Record<string, unknown> }[];
    expect(attachments).toHaveLength(1);
    expect(attachments[0]!.contentType).toBe('application/vnd.microsoft.card.adaptive');
    const card = attachments[0]!.content;
    expect(card.type).toBe('AdaptiveCard');
    expect(card.$schema).toBe('http://adaptivecards.io/schemas/adaptive-card.json');
    expect(card.version).toBe('1.4');
    const elements = card.body as { type: string; text?: string; inlines?: { type: string; text: string }[] }[];
    for (const e of elements) {
      expect(['TextBlock', 'RichTextBlock']).toContain(e.type);
      // Text not written by us travels as TextRun (plain text, no Markdown): only fixed headings are TextBlocks.
      if (e.type === 'RichTextBlock') for (const i of e.inlines!) expect(i.type).toBe('TextRun');
    }
    expect(elements[0]).toMatchObject({ type: 'TextBlock', text: 'LastPass digest FAILED', wrap: true });
    const all = strings(elements).join('\n');
    expect(all).toContain('FAILED: LastPass security digest 2025-03-10');
    expect(all).toContain('Error: SendGrid answered 401');
    expect(all).toContain('The FAILED email could not be sent either');
  });

  it('json: our documented schema, version 1 (kind, account, window, verdict, counts, topFindings, failure)', async () => {
    const bodies: Record<string, unknown>[] = [];
    const scope = nock('https://alerts.example.org')
      .post('/lastpass/hook-9z8y', (b: Record<string, unknown>) => bodies.push(b) > 0)
      .twice()
      .reply(204);
    const notifier = createWebhookNotifier({
      url: 'https://alerts.example.org/lastpass/hook-9z8y',
      format: 'json',
      logger: recordingLogger(),
    });
    await notifier.notify(digestNotice());
    await notifier.notify(failedNotice());
    scope.done();
    const [digest, failed] = bodies;
    expect(Object.keys(digest!).sort()).toEqual(
      ['account', 'counts', 'failure', 'generatedAt', 'generator', 'kind', 'subject', 'topFindings', 'verdict', 'version', 'window'].sort(),
    );
    expect(digest).toMatchObject({
      version: 1,
      kind: 'digest',
      account: '8771234',
      window: { key: '2025-03-10T07:00Z', start: '2025-03-09T07:00:00.000Z', end: '2025-03-10T07:00:00.000Z' },
      counts: { eventsReviewed: 30_036, findings: 2, high: 3 },
      failure: null,
    });
    expect((digest!.topFindings as unknown[])[0]).toEqual({
      severity: 'high',
      title: 'Password spraying',
      subject: '203.0.113.9',
      reason: digestNotice().topFindings[0]!.reason,
      time: '2025-03-09 17:05',
    });
    expect(failed).toMatchObject({ kind: 'failed', counts: null, topFindings: [], failure: { consecutiveFailures: 1, emailSent: false } });
  });
});

describe('transport', () => {
  it('retries 503 and 429 (Retry-After honoured) like SendGrid, through the injected sleep, then succeeds', async () => {
    const scope = nock('https://alerts.example.org')
      .post('/hook')
      .reply(503, 'busy')
      .post('/hook')
      .reply(429, 'slow down', { 'retry-after': '7' })
      .post('/hook')
      .reply(200, 'ok');
    const waits: number[] = [];
    const notifier = createWebhookNotifier({
      url: 'https://alerts.example.org/hook',
      format: 'json',
      logger: recordingLogger(),
      sleep: async (ms) => void waits.push(ms),
      random: () => 0.5,
    });
    expect((await notifier.notify(failedNotice())).sent).toBe(true);
    scope.done();
    expect(waits).toEqual([1500, 7000]);
  });

  it('a 4xx other than 408/429 is final: one request, reported (not thrown), the answer quoted without its URL', async () => {
    const scope = nock('https://hooks.slack.com')
      .post(SLACK_PATH)
      .reply(404, 'no_service https://hooks.slack.com/services/T0001/B0002/other');
    const logger = recordingLogger();
    const waits: number[] = [];
    const notifier = createWebhookNotifier({
      url: `https://hooks.slack.com${SLACK_PATH}`,
      format: 'slack',
      logger,
      sleep: async (ms) => void waits.push(ms),
    });
    const result = await notifier.notify(failedNotice());
    scope.done();
    expect(waits).toEqual([]);
    expect(result.sent).toBe(false);
    expect(result.error).toMatch(
      /^The alarm webhook at https:\/\/hooks\.slack\.com answered 404 \("no_service https:\/\/hooks\.slack\.com"\): check NOTIFY_WEBHOOK_URL/,
    );
    expect(result.error).not.toContain('/services/');
    expect(logger.lines.join('\n')).not.toContain('/services/');
  });

  it('a 3xx is refused, never followed (the token would travel to another host)', async () => {
    const origin = nock('https://hooks.slack.com')
      .post(SLACK_PATH)
      .reply(302, '', { location: 'https://collector.evil.example/steal?from=slack' });
    const elsewhere = nock('https://collector.evil.example').post(/.*/).reply(200, 'ok');
    const logger = recordingLogger();
    const notifier = createWebhookNotifier({ url: `https://hooks.slack.com${SLACK_PATH}`, format: 'slack', logger, sleep: async () => {} });
    const result = await notifier.notify(digestNotice());
    origin.done();
    expect(elsewhere.isDone()).toBe(false);
    expect(result.sent).toBe(false);
    expect(result.error).toContain('The alarm webhook answered 302 → collector.evil.example: set NOTIFY_WEBHOOK_URL to the final endpoint');
    const logged = logger.lines.join('\n');
    expect(logged).toContain('notify.failed');
    expect(logged).not.toContain(SLACK_PATH);
  });

  it('an unreachable webhook is retried, then reported; no configured secret ever reaches the payload', async () => {
    const bodies: string[] = [];
    nock('https://alerts.example.org')
      .post('/hook', (b: unknown) => bodies.push(JSON.stringify(b)) > 0)
      .times(3)
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const notice = failedNotice();
    notice.failure!.error = 'upstream echoed the key SG.leaked-key-123456 back';
    const notifier = createWebhookNotifier({
      url: 'https://alerts.example.org/hook',
      format: 'json',
      logger: recordingLogger(),
      secrets: ['SG.leaked-key-123456'],
      sleep: async () => {},
      retryPolicy: { retries: 2, baseDelayMs: 10, maxDelayMs: 10, maxRetryAfterMs: 10 },
    });
    const result = await notifier.notify(notice);
    expect(result.sent).toBe(false);
    expect(result.error).toMatch(/could not be reached/);
    expect(bodies).toHaveLength(3);
    for (const b of bodies) {
      expect(b).not.toContain('SG.leaked-key-123456');
      expect(b).toContain('[redacted]');
    }
  });
});
