/**
 * Redaction at the edge, on its own: each adapter where upstream text enters (the LastPass client, the
 * SendGrid mailer, the heartbeat) hands on only redacted, capped text, before any logger or the failure
 * path's own redaction sees it. Real clients against nock (no real network) and a loopback server.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLastPassClient } from '../src/adapters/lastpass/lastpass-client.js';
import { createSendGridMailer } from '../src/adapters/mail/sendgrid-mailer.js';
import { createHeartbeat } from '../src/adapters/notify/heartbeat.js';
import type { RawEvent } from '../src/core/types.js';
import { UpstreamError } from '../src/errors.js';
import { recordingLogger } from './support/recording-logger.js';

const LP_URL = 'https://lastpass.example.test/enterpriseapi.php';
const LP_SECRET = 'edge/Secret+0123=456789abcdefEdge';
const SG_URL = 'https://sendgrid.example.test';
const SG_KEY = 'SG.edge-key-0123456789.abcdefghijklmnopqrstuv';
const OTHER_SECRET = 'other-configured-secret-0042';

beforeAll(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());
afterAll(() => nock.enableNetConnect());

const noWait = async () => {};
const sink = { add: (_row: RawEvent, _at: number) => {} };
const range = { from: '2026-12-01 00:00:00', to: '2026-12-01 23:59:59' };

function lastpass() {
  const logger = recordingLogger();
  const client = createLastPassClient({
    apiUrl: LP_URL,
    accountNumber: '8771234',
    apiSecret: LP_SECRET,
    apiUser: 'lastpass-audit-digest',
    timeZone: 'America/New_York',
    secrets: [OTHER_SECRET],
    logger,
    sleep: noWait,
    retryPolicy: { retries: 0, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 },
  });
  return { client, logger };
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UpstreamError) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

const forms = (s: string) => [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1), Buffer.from(s).toString('base64').slice(0, 20)];

describe('the LastPass client', () => {
  it.each([
    ['a 400 echoing the body', 400, 'text/plain', (b: string) => `Bad request ${b}`],
    [
      'a status FAIL body echoing it',
      200,
      'application/json',
      (b: string) => JSON.stringify({ status: 'FAIL', error: `bad ${b} ${OTHER_SECRET}` }),
    ],
    ['an HTML page echoing it base64-encoded', 503, 'text/html', (b: string) => `<html>${Buffer.from(b).toString('base64')}</html>`],
    ['an XML error echoing it', 200, 'text/xml', (b: string) => `<lastpass rc="${encodeURIComponent(b)}"/>`],
  ])('%s: the error holds no form of a secret', async (_name, status, type, answer) => {
    nock('https://lastpass.example.test')
      .post('/enterpriseapi.php')
      .reply(async (request: Request) => [status, answer(await request.text()), { 'content-type': type }]);
    const { client } = lastpass();
    const error = await failure(client.fetchEvents(range, sink));
    expect(error.message).toMatch(/^LastPass answered/);
    for (const secret of [LP_SECRET, OTHER_SECRET]) for (const f of forms(secret)) expect(error.message).not.toContain(f);
    expect(error.message).toMatch(/\[redacted\]/);
  });

  it('caps a long error text at 4 KB', async () => {
    nock('https://lastpass.example.test')
      .post('/enterpriseapi.php')
      .reply(200, JSON.stringify({ status: 'FAIL', error: 'y'.repeat(50_000) }), { 'content-type': 'application/json' });
    const error = await failure(lastpass().client.fetchEvents(range, sink));
    expect(error.message.length).toBeLessThan(4300);
    expect(error.message).toMatch(/… \(\d+ bytes cut\)\.$/);
  });
});

describe('the SendGrid mailer', () => {
  const message = {
    key: 'k',
    kind: 'digest' as const,
    from: 'digest@example.org',
    to: ['secops@example.org'],
    subject: 's',
    html: '<p>x</p>',
    text: 'x',
    customArgs: {},
  };
  it.each([400, 401, 500])('HTTP %i echoing the Authorization header and the key: the error holds none of it', async (status) => {
    nock(SG_URL)
      .post('/v3/mail/send')
      .reply(async (request: Request) => {
        const auth = request.headers.get('authorization') ?? '';
        return [
          status,
          {
            errors: [
              {
                message: `echo: ${auth} / ${encodeURIComponent(SG_KEY)} / ${OTHER_SECRET} / ${(await request.text()).slice(0, 50)}`,
                field: Buffer.from(auth).toString('base64'),
              },
            ],
          },
        ];
      });
    const mailer = createSendGridMailer({
      apiKey: SG_KEY,
      apiUrl: SG_URL,
      secrets: [OTHER_SECRET],
      logger: recordingLogger(),
      sleep: noWait,
      retryPolicy: { retries: 0, baseDelayMs: 0, maxDelayMs: 0, maxRetryAfterMs: 0 },
    });
    const error = await failure(mailer.send(message));
    expect(error.message).toMatch(/^SendGrid/);
    for (const secret of [SG_KEY, OTHER_SECRET]) for (const f of forms(secret)) expect(error.message).not.toContain(f);
    expect(error.message).toMatch(/\[redacted\]/);
  });
});

describe('the heartbeat', () => {
  let server: Server;
  const bodies: string[] = [];
  const paths: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        paths.push(req.url ?? '');
        res.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('puts /start and /fail on the path, before a query (Healthchecks slug URLs: …/<slug>?create=1)', async () => {
    nock.enableNetConnect('127.0.0.1');
    paths.length = 0;
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping/key-0123456789ab/nightly?create=1`;
    const heartbeat = createHeartbeat({ url, logger: recordingLogger() });
    for (const outcome of ['start', 'success', 'fail'] as const) await heartbeat.ping(outcome, 'x');
    bodies.length = 0; // the next test counts its own
    expect(paths).toEqual([
      '/ping/key-0123456789ab/nightly/start?create=1',
      '/ping/key-0123456789ab/nightly?create=1',
      '/ping/key-0123456789ab/nightly/fail?create=1',
    ]);
  });

  it('sends the message redacted of every secret and capped', async () => {
    nock.enableNetConnect('127.0.0.1');
    const token = '0c8e1f4a-1111-2222-3333-444455556666';
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ping/${token}`;
    const heartbeat = createHeartbeat({ url, logger: recordingLogger(), secrets: [OTHER_SECRET] });
    await heartbeat.ping('fail', `window failed: ${OTHER_SECRET} ${url} ${'z'.repeat(20_000)}`);
    expect(bodies).toHaveLength(1);
    expect(bodies[0]).not.toContain(OTHER_SECRET);
    expect(bodies[0]).not.toContain(token);
    expect(bodies[0]).toMatch(/^window failed: \[redacted\] \[redacted\] z+… \(\d+ bytes cut\)$/);
  });
});
