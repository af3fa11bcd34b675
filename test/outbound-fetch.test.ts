/**
 * No redirects, anywhere: LastPass, SendGrid and the heartbeat each answer 302/307/308 with a Location on
 * another host (nock), and the request never reaches that host (its interceptor stays unused), the error
 * names the status and the target host only, and nothing is retried.
 */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLastPassClient } from '../src/adapters/lastpass/lastpass-client.js';
import { createSendGridMailer } from '../src/adapters/mail/sendgrid-mailer.js';
import { createHeartbeat } from '../src/adapters/notify/heartbeat.js';
import { createOutboundFetch, redirectError } from '../src/adapters/http/outbound-fetch.js';
import { UpstreamError } from '../src/errors.js';
import { recordingLogger } from './support/recording-logger.js';

const LP_ORIGIN = 'https://lastpass.example.test';
const OTHER = 'https://other.example';
const SECRET = 'lp-provhash-redirect-5d1c9a';
const SG_KEY = 'SG.redirect-test-key.3e8b';

let logger: ReturnType<typeof recordingLogger>;
let sleeps: number[];

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
beforeEach(() => {
  logger = recordingLogger();
  sleeps = [];
});
afterEach(() => {
  nock.cleanAll();
  for (const line of logger.lines) {
    expect(line).not.toContain(SECRET);
    expect(line).not.toContain(SG_KEY);
  }
});

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

/** An interceptor on the other host that must stay unused: anything reaching it is recorded. */
function otherHost() {
  const reached: string[] = [];
  const scope = nock(OTHER)
    .post(/.*/, (body: unknown) => {
      reached.push(JSON.stringify(body));
      return true;
    })
    .reply(200, '{"status":"OK","data":{}}')
    .persist();
  return { scope, reached };
}

describe('LastPass', () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`a ${status} to another host is a non-retryable error naming the status and host; the secret never goes there`, async () => {
      const other = otherHost();
      const lp = nock(LP_ORIGIN)
        .post('/enterpriseapi.php')
        .reply(status, '', { location: `${OTHER}/enterpriseapi.php?token=abc` });
      const client = createLastPassClient({
        apiUrl: `${LP_ORIGIN}/enterpriseapi.php`,
        accountNumber: '8771234',
        apiSecret: SECRET,
        apiUser: 'lastpass-audit-digest',
        timeZone: 'America/New_York',
        logger,
        sleep: async (ms) => void sleeps.push(ms),
      });
      const error = await caught(client.fetchEvents({ from: '2025-03-09 00:00:00', to: '2025-03-09 23:59:59' }, { add() {} }));
      lp.done();
      expect(other.reached).toEqual([]);
      expect(other.scope.isDone()).toBe(false);
      expect(error).toBeInstanceOf(UpstreamError);
      const e = error as UpstreamError;
      expect(e.message).toBe(
        `LastPass answered ${status} → other.example: set LASTPASS_API_URL to the final endpoint (redirects are never followed, so nothing was sent to another address).`,
      );
      expect(e).toMatchObject({ service: 'lastpass', status, retryable: false, url: LP_ORIGIN });
      expect(e.message).not.toContain('token');
      expect(sleeps).toEqual([]);
    });
  }
});

describe('SendGrid', () => {
  it('a 307 from the SendGrid stand-in is not followed: a non-retryable error naming the host', async () => {
    const other = otherHost();
    const sg = nock('https://sendgrid.example.test')
      .post('/v3/mail/send')
      .reply(307, '', { location: `${OTHER}/v3/mail/send` });
    const mailer = createSendGridMailer({
      apiKey: SG_KEY,
      apiUrl: 'https://sendgrid.example.test',
      logger,
      sleep: async (ms) => void sleeps.push(ms),
    });
    const error = await caught(
      mailer.send({
        key: 'k',
        kind: 'digest',
        from: 'digest@example.org',
        to: ['secops@example.org'],
        subject: 's',
        html: '<p>x</p>',
        text: 'x',
        customArgs: {},
      }),
    );
    sg.done();
    expect(other.reached).toEqual([]);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toMatch(/^SendGrid answered 307 → other\.example: set SENDGRID_API_URL/);
    expect(error).toMatchObject({ service: 'sendgrid', status: 307, retryable: false });
    expect(JSON.stringify(error)).not.toContain(SG_KEY);
    expect(sleeps).toEqual([]);
  });
});

describe('heartbeat', () => {
  it('a 308 is not followed; the ping is logged as failed, naming the host, never the check URL', async () => {
    const other = otherHost();
    const hc = nock('https://hc-ping.example.test')
      .post('/check-uuid-secret')
      .reply(308, '', { location: `${OTHER}/check-uuid-secret` });
    await createHeartbeat({ url: 'https://hc-ping.example.test/check-uuid-secret', logger }).ping('success', 'ok');
    hc.done();
    expect(other.reached).toEqual([]);
    const record = logger.records().find((r) => r.msg === 'heartbeat.unreachable');
    expect(record).toMatchObject({ level: 'warn' });
    expect(String(record?.error)).toContain('308 → other.example: set HEARTBEAT_URL');
    expect(logger.lines.join('\n')).not.toContain('check-uuid-secret');
  });
});

describe('createOutboundFetch', () => {
  it('passes other answers through and always asks for manual redirects', async () => {
    const seen: RequestInit[] = [];
    const fetch = createOutboundFetch({
      service: 'lastpass',
      fetch: async (_input, init) => {
        seen.push(init ?? {});
        return new Response('ok', { status: 200 });
      },
    });
    const response = await fetch('https://lastpass.example.test/x', { method: 'POST', redirect: 'follow' });
    expect(await response.text()).toBe('ok');
    expect(seen[0]?.redirect).toBe('manual');
  });

  it('a redirect without a usable Location still fails, saying so', () => {
    expect(redirectError('lastpass', 302, null, 'https://lastpass.example.test/x').message).toMatch(
      /^LastPass answered 302 without a usable Location: set LASTPASS_API_URL/,
    );
    expect(redirectError('lastpass', 302, '/moved', 'https://lastpass.example.test/x').message).toContain('→ lastpass.example.test');
  });
});
