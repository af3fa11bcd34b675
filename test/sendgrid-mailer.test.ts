/**
 * The SendGrid mailer (the real @sendgrid/mail client) against nock on a custom base URL: the exact request,
 * the message id, SendGrid's refusals translated into advice, retries with an injected sleep, and the API key
 * kept out of every error and log line.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toSendGridRequestBody } from '../src/adapters/mail/mail-message.js';
import { createOutboxMailer } from '../src/adapters/mail/outbox-mailer.js';
import { DEFAULT_RETRY_POLICY } from '../src/adapters/http/retry.js';
import { createSendGridMailer, type SendGridMailerOptions, translateSendGridError } from '../src/adapters/mail/sendgrid-mailer.js';
import { RetryDeadlineError, UpstreamError } from '../src/errors.js';
import { recordingLogger } from './support/recording-logger.js';
import type { OutgoingMessage } from '../src/ports.js';

const SG_URL = 'https://sendgrid.example.test';
const SG_KEY = 'SG.test-key-4b1f8e2d.9c7a3e5f1d2b4a6c8e0f';
const SEND_PATH = '/v3/mail/send';
const SENDER_BODY = {
  errors: [{ message: 'The from address does not match a verified Sender Identity.', field: 'from' }],
};

const message: OutgoingMessage = {
  key: '2025-03-09',
  kind: 'digest',
  from: 'LastPass digest <security-bot@example.org>',
  to: ['secops@example.org', 'ciso@example.org'],
  subject: 'LastPass digest 2025-03-09: 3 high, 5 medium',
  html: '<!doctype html><html><body><h1>LastPass digest</h1><p>3 high</p></body></html>',
  text: 'LastPass digest\n3 high\n',
  customArgs: {
    digest_window: '2025-03-09T00:00:00.000Z/2025-03-10T00:00:00.000Z',
    digest_marker: 'lpad-2025-03-09-7f3a',
  },
};

let sleeps: number[];
let logger: ReturnType<typeof recordingLogger>;

function mailer(overrides: Partial<SendGridMailerOptions> = {}) {
  return createSendGridMailer({
    apiKey: SG_KEY,
    apiUrl: SG_URL,
    logger,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    ...overrides,
  });
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/**
 * A connection reset as Node's http layer reports it. (nock's http interceptor only surfaces an Error
 * instance: with a plain `{ code }` object the request never settles.)
 */
function connectionReset(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

/** Nothing reachable from the error (message, JSON, cause, every own property) holds the key. */
function expectNoKey(error: unknown): void {
  expect(error).toBeInstanceOf(UpstreamError);
  const e = error as UpstreamError;
  expect(e.message).not.toContain(SG_KEY);
  expect(JSON.stringify(e)).not.toContain(SG_KEY);
  expect(String(e.cause)).not.toContain(SG_KEY);
  expect(inspect(e, { depth: 10, showHidden: true })).not.toContain(SG_KEY);
  // Not even the part after "SG." (a Bearer header or a truncated key).
  expect(inspect(e, { depth: 10, showHidden: true })).not.toContain(SG_KEY.slice(3));
}

beforeAll(() => {
  nock.disableNetConnect();
});
afterAll(() => {
  nock.enableNetConnect();
});
beforeEach(() => {
  nock.disableNetConnect();
  sleeps = [];
  logger = recordingLogger();
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
  for (const line of logger.lines) expect(line).not.toContain(SG_KEY.slice(3));
});

describe('a delivered message', () => {
  it('posts the v3 mail/send body with both recipients, custom_args, categories and tracking off', async () => {
    let body: unknown = null;
    let headers: Record<string, string> = {};
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .reply(async (request: Request) => {
        body = await request.json();
        headers = Object.fromEntries(request.headers);
        return [202, '', { 'x-message-id': 'W1cVyHWbQ8iRpgl7jW1-hw' }];
      });

    await mailer().send(message);

    scope.done();
    expect(body).toEqual({
      from: { email: 'security-bot@example.org', name: 'LastPass digest' },
      subject: 'LastPass digest 2025-03-09: 3 high, 5 medium',
      personalizations: [{ to: [{ email: 'secops@example.org' }, { email: 'ciso@example.org' }] }],
      content: [
        { type: 'text/plain', value: 'LastPass digest\n3 high\n' },
        { type: 'text/html', value: '<!doctype html><html><body><h1>LastPass digest</h1><p>3 high</p></body></html>' },
      ],
      categories: ['lastpass-audit-digest', 'digest'],
      headers: { 'Auto-Submitted': 'auto-generated' },
      custom_args: {
        digest_window: '2025-03-09T00:00:00.000Z/2025-03-10T00:00:00.000Z',
        digest_marker: 'lpad-2025-03-09-7f3a',
      },
      tracking_settings: {
        click_tracking: { enable: false, enable_text: false },
        open_tracking: { enable: false },
      },
    });
    // What we document as "the exact body" is what went over the wire.
    expect(body).toEqual(JSON.parse(JSON.stringify(toSendGridRequestBody(message))));
    expect(headers.authorization).toBe(`Bearer ${SG_KEY}`);
    expect(headers['content-type']).toMatch(/^application\/json/);
  });

  it('the outbox writes byte for byte the body the real client posts, and each attachment decoded, however large', async () => {
    // Attachments of several base64 slices (the outbox splices them in without copying them whole).
    const csv = Buffer.from(`time,user\r\n${'2025-03-09 10:00:00,"=cmd|\' /c calc\'!A0"\r\n'.repeat(90_000)}`);
    const json = Buffer.from(JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ i, data: 'é ☃ "quoted" \\ </script>' }))));
    const withFiles: OutgoingMessage = {
      ...message,
      attachments: [
        { filename: 'events.csv', type: 'text/csv', content: csv.toString('base64') },
        { filename: 'events.json', type: 'application/json', content: json.toString('base64') },
      ],
    };
    expect(withFiles.attachments![0]!.content.length).toBeGreaterThan(3 << 20);
    let posted = '';
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .reply(async (request: Request) => {
        posted = JSON.stringify(await request.json());
        return [202, '', { 'x-message-id': 'm-1' }];
      });
    await mailer().send(withFiles);
    scope.done();

    const dir = await mkdtemp(join(tmpdir(), 'lad-outbox-'));
    try {
      await createOutboxMailer({ dataDir: dir, logger }).send(withFiles);
      const folder = join(dir, 'outbox', withFiles.key);
      const written = await readFile(join(folder, 'sendgrid-request.json'), 'utf8');
      expect(written).toBe(`${JSON.stringify(toSendGridRequestBody(withFiles), null, 2)}\n`);
      expect(JSON.stringify(JSON.parse(written))).toBe(posted);
      expect((await readFile(join(folder, 'events.csv'))).equals(csv)).toBe(true);
      expect((await readFile(join(folder, 'events.json'))).equals(json)).toBe(true);
      expect((await readdir(folder)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('returns and logs the x-message-id of the 202 answer', async () => {
    const scope = nock(SG_URL).post(SEND_PATH).reply(202, '', { 'x-message-id': 'W1cVyHWbQ8iRpgl7jW1-hw' });
    const result = await mailer().send(message);
    scope.done();
    expect(result).toEqual({ messageId: 'W1cVyHWbQ8iRpgl7jW1-hw', destination: 'sendgrid' });
    expect(logger.records().filter((r) => r.msg === 'sendgrid.accepted')).toEqual([
      expect.objectContaining({
        level: 'info',
        messageId: 'W1cVyHWbQ8iRpgl7jW1-hw',
        status: 202,
        key: '2025-03-09',
        kind: 'digest',
        recipients: 2,
      }),
    ]);
    expect(sleeps).toEqual([]);
  });

  it('uses the configured base URL even with a trailing slash', async () => {
    const scope = nock(SG_URL).post(SEND_PATH).reply(202, '', { 'x-message-id': 'abc' });
    const result = await mailer({ apiUrl: `${SG_URL}/` }).send(message);
    scope.done();
    expect(result.messageId).toBe('abc');
  });
});

describe('refusals that are not retried', () => {
  for (const status of [400, 403] as const) {
    it(`explains an unverified sender (HTTP ${status}) with SendGrid's text and the REPORT_FROM advice, without the key`, async () => {
      let requests = 0;
      const scope = nock(SG_URL)
        .post(SEND_PATH)
        .reply(() => {
          requests++;
          return [status, SENDER_BODY, { 'content-type': 'application/json' }];
        });
      const error = await caught(mailer().send(message));
      scope.done();
      expect(requests).toBe(1);
      expect(sleeps).toEqual([]);
      expect(error).toBeInstanceOf(UpstreamError);
      const e = error as UpstreamError;
      expect(e.service).toBe('sendgrid');
      expect(e.status).toBe(status);
      expect(e.retryable).toBe(false);
      expect(e.url).toBe(`${SG_URL}/v3/mail/send`);
      expect(e.message).toContain('The from address does not match a verified Sender Identity.');
      expect(e.message).toContain('REPORT_FROM');
      expect(e.message).toContain('Sender Authentication');
      expectNoKey(e);
    });
  }

  it('points at SENDGRID_API_KEY on 401', async () => {
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .reply(401, { errors: [{ message: 'The provided authorization grant is invalid, expired, or revoked', field: null, help: null }] });
    const error = await caught(mailer().send(message));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    const e = error as UpstreamError;
    expect(e.status).toBe(401);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('The provided authorization grant is invalid, expired, or revoked');
    expect(e.message).toContain('SENDGRID_API_KEY');
    expect(sleeps).toEqual([]);
    expectNoKey(e);
  });

  it('points at the Mail Send permission on a 403 that is not about the sender', async () => {
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .reply(403, { errors: [{ message: 'access forbidden', field: null, help: null }] });
    const error = await caught(mailer().send(message));
    scope.done();
    expect((error as UpstreamError).message).toMatch(/SENDGRID_API_KEY has the "Mail Send" permission/);
    expectNoKey(error);
  });
});

describe('retries: only what certainly did not leave (issue #13)', () => {
  it('does not re-send after a 429: it may have been accepted; the error says so with its Retry-After', async () => {
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .reply(429, { errors: [{ message: 'too many requests', field: null }] }, { 'retry-after': '3' });
    const error = await caught(mailer().send(message));
    scope.done();
    expect(error).toMatchObject({ status: 429, sendOutcome: 'unknown', retryAfterSeconds: 3, retryable: true });
    expect(sleeps).toEqual([]);
    expectNoKey(error);
  });

  it('does not re-send after a 500 or a reset: unknown outcomes are left to the caller', async () => {
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .reply(500, { errors: [{ message: 'internal error', field: null }] })
      .post(SEND_PATH)
      .replyWithError(connectionReset());
    expect(await caught(mailer().send(message))).toMatchObject({ status: 500, sendOutcome: 'unknown' });
    const reset = await caught(mailer().send(message));
    scope.done();
    expect(reset).toMatchObject({ status: null, sendOutcome: 'unknown' });
    expect((reset as Error).message).toContain('broke after the message was sent (ECONNRESET)');
    expect(sleeps).toEqual([]);
  });

  it('retries a refused connection and a failed name lookup plainly, and delivers', async () => {
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }))
      .post(SEND_PATH)
      .replyWithError(Object.assign(new Error('getaddrinfo EAI_AGAIN sendgrid.example.test'), { code: 'EAI_AGAIN' }))
      .post(SEND_PATH)
      .reply(202, '', { 'x-message-id': 'after-refused' });
    const result = await mailer().send(message);
    scope.done();
    expect(result.messageId).toBe('after-refused');
    expect(sleeps).toHaveLength(2);
  });

  it('a timeout is unknown once the request was written, not sent before (the connection or the write never completed)', () => {
    const url = `${SG_URL}/v3/mail/send`;
    const written = translateSendGridError({ code: 'ECONNABORTED', request: { writableFinished: true } }, url);
    const unwritten = translateSendGridError({ code: 'ECONNABORTED', request: { writableFinished: false } }, url);
    expect(written).toMatchObject({ sendOutcome: 'unknown', message: 'SendGrid did not answer in time after the message was sent.' });
    expect(unwritten).toMatchObject({ sendOutcome: 'not-sent', message: 'SendGrid did not answer in time (the message was not sent).' });
    expect(translateSendGridError({ code: 'EPIPE' }, url).sendOutcome).toBe('unknown');
    for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])
      expect(translateSendGridError({ code }, url).sendOutcome).toBe('not-sent');
  });

  it('classifies every 4xx but 408/429 as not sent, and 408/429 and 5xx as unknown', async () => {
    for (const [status, outcome] of [
      [400, 'not-sent'],
      [401, 'not-sent'],
      [403, 'not-sent'],
      [404, 'not-sent'],
      [413, 'not-sent'],
      [408, 'unknown'],
      [429, 'unknown'],
      [500, 'unknown'],
      [502, 'unknown'],
      [503, 'unknown'],
    ] as const) {
      const scope = nock(SG_URL)
        .post(SEND_PATH)
        .reply(status, { errors: [{ message: `status ${status}`, field: null }] });
      const error = await caught(mailer().send(message));
      scope.done();
      expect(error, String(status)).toMatchObject({ status, sendOutcome: outcome });
    }
    expect(sleeps).toEqual([]);
  });

  it('reports a persistent network error as retryable, without the key', async () => {
    const scope = nock(SG_URL).post(SEND_PATH).replyWithError(connectionReset());
    const error = await caught(mailer({ retryPolicy: { ...DEFAULT_RETRY_POLICY, retries: 0 } }).send(message));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    const e = error as UpstreamError;
    expect(e.retryable).toBe(true);
    expect(e.status).toBeNull();
    expect(e.message).toContain('ECONNRESET');
    expect(e.message).toContain(`${SG_URL}/v3/mail/send`);
    expectNoKey(e);
  });

  it('turns a slow answer into a retryable timeout error, without the key', async () => {
    const scope = nock(SG_URL).post(SEND_PATH).delay(200).reply(202, '', { 'x-message-id': 'late' });
    const error = await caught(mailer({ timeoutMs: 50, retryPolicy: { ...DEFAULT_RETRY_POLICY, retries: 0 } }).send(message));
    scope.done();
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toBe('SendGrid did not answer in time after the message was sent.');
    expect((error as UpstreamError).sendOutcome).toBe('unknown');
    expectNoKey(error);
  });

  it('throws the last error, without the key, when a refused connection persists past the retries', async () => {
    const attempts = DEFAULT_RETRY_POLICY.retries + 1;
    const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
    let scope = nock(SG_URL);
    for (let i = 0; i < attempts; i++) scope = scope.post(SEND_PATH).replyWithError(refused());
    const error = await caught(mailer().send(message));
    scope.done();
    expect(error).toMatchObject({ status: null, sendOutcome: 'not-sent', retryable: true });
    expect((error as Error).message).toContain('(the message was not sent)');
    expect(sleeps).toHaveLength(DEFAULT_RETRY_POLICY.retries);
    expectNoKey(error);
  });

  it('gives up rather than wait past the deadline, and starts nothing after it', async () => {
    const scope = nock(SG_URL)
      .post(SEND_PATH)
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' }));
    const error = await caught(mailer({ now: () => 0 }).send(message, { deadline: 500 }));
    scope.done();
    expect(error).toBeInstanceOf(RetryDeadlineError);
    expect(error).toMatchObject({ sendOutcome: 'not-sent', deadline: 500 });
    expect(sleeps).toEqual([]);
    // Past the deadline no request is made at all (nock would refuse an unexpected one).
    const late = await caught(mailer({ now: () => 1_000 }).send(message, { deadline: 500 }));
    expect(late).toBeInstanceOf(RetryDeadlineError);
    expect((late as RetryDeadlineError).last).toBeNull();
  });
});
