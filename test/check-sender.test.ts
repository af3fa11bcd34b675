/**
 * `check`'s SendGrid lines against nock through the real @sendgrid/client: REPORT_FROM as a verified single
 * sender, on an authenticated domain, neither (each missing part named), a key that may not read the lists
 * (403: "could not check" with the access needed, not a verdict on the sender), and a rejected key, which is
 * never reported as a refused message (no message is sent by check).
 */
import nock from 'nock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sendGridLines } from '../src/commands/check-sendgrid.js';
import { loadConfig } from '../src/config/load-config.js';
import { judgeSender } from '../src/core/sender-identity.js';

const SG_URL = 'https://sendgrid.example.test';
const SG_KEY = 'SG.check-sender-key-7a6b5c4d';
const NOW = new Date('2025-03-10T07:00:00Z');

function config(from = 'LastPass digest <Digest@Example.org>') {
  return loadConfig({
    LASTPASS_ACCOUNT_NUMBER: '8771234',
    LASTPASS_API_KEY: 'lp-secret-abcdef',
    SENDGRID_API_KEY: SG_KEY,
    SENDGRID_API_URL: SG_URL,
    REPORT_FROM: from,
    REPORT_TO: 'secops@example.org',
  }).config;
}

const FORBIDDEN = { errors: [{ field: null, message: 'access forbidden' }] };

function sendgrid(answers: { senders: [number, unknown]; domains: [number, unknown] }) {
  return nock(SG_URL, { reqheaders: { authorization: `Bearer ${SG_KEY}` } })
    .get('/v3/scopes')
    .reply(200, { scopes: ['mail.send'] }, { date: NOW.toUTCString() })
    .get('/v3/verified_senders')
    .reply(...answers.senders)
    .get('/v3/whitelabel/domains')
    .reply(...answers.domains);
}

async function lines(from?: string) {
  const all = await sendGridLines({ config: config(from), now: () => NOW });
  expect(all.map((l) => l.name)).toEqual(['clock', 'sendgrid', 'sender']);
  return { all, sender: all.find((l) => l.name === 'sender')! };
}

beforeAll(() => nock.disableNetConnect());
afterAll(() => nock.enableNetConnect());
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});

describe('check: is REPORT_FROM a sender SendGrid sends from', () => {
  it('a verified single sender (matched without regard to case): ok', async () => {
    sendgrid({
      senders: [200, { results: [{ id: 7, from_email: 'digest@example.org', verified: true, locked: false }] }],
      domains: [200, []],
    });
    const { sender } = await lines();
    expect(sender).toEqual({ name: 'sender', ok: true, detail: 'REPORT_FROM digest@example.org is a verified single sender in SendGrid' });
  });

  it('an address on an authenticated domain (its subdomains too): ok', async () => {
    sendgrid({
      senders: [200, { results: [] }],
      domains: [200, [{ id: 3, domain: 'example.org', subdomain: 'em123', valid: true }]],
    });
    expect((await lines()).sender).toMatchObject({
      ok: true,
      detail: 'REPORT_FROM digest@example.org is on the authenticated domain example.org in SendGrid',
    });
    sendgrid({ senders: [200, { results: [] }], domains: [200, [{ domain: 'example.org', valid: true }]] });
    expect((await lines('alerts@mail.example.org')).sender.ok).toBe(true);
  });

  it('neither: FAIL, naming both missing parts and both fixes', async () => {
    sendgrid({
      senders: [200, { results: [{ from_email: 'someone@example.org', verified: true }] }],
      domains: [200, [{ domain: 'other.example', valid: true }]],
    });
    const { sender } = await lines();
    expect(sender.ok).toBe(false);
    expect(sender.warn).toBeUndefined();
    expect(sender.detail).toContain('SendGrid will not send from REPORT_FROM digest@example.org');
    expect(sender.detail).toContain('it is not a verified single sender');
    expect(sender.detail).toContain('example.org is not an authenticated domain (authenticated: other.example)');
    expect(sender.detail).toContain('Verify a Single Sender');
    expect(sender.detail).toContain('authenticate example.org');
  });

  it('a sender awaiting verification and a domain not yet validated are named as such', async () => {
    sendgrid({
      senders: [200, { results: [{ from_email: 'digest@example.org', verified: false }] }],
      domains: [200, [{ domain: 'example.org', valid: false }]],
    });
    const { sender } = await lines();
    expect(sender.ok).toBe(false);
    expect(sender.detail).toContain('a single sender still awaiting verification');
    expect(sender.detail).toContain('its domain example.org is added but not validated');
  });

  it('403 on both lists: "could not check" with the access needed, a warning and not a failure', async () => {
    sendgrid({ senders: [403, FORBIDDEN], domains: [403, FORBIDDEN] });
    const { sender } = await lines();
    expect(sender.ok).toBe(true);
    expect(sender.warn).toBe(true);
    expect(sender.detail).toMatch(/^could not check REPORT_FROM digest@example\.org fully/);
    expect(sender.detail).toContain('may not list verified senders (HTTP 403; it needs read access to Sender Authentication');
    expect(sender.detail).toContain('may not list authenticated domains (HTTP 403; it needs the whitelabel.read scope');
    expect(sender.detail).not.toMatch(/will not send|not a verified single sender/);
  });

  it('403 on one list: the other one still decides when it confirms the sender, and is stated when it does not', async () => {
    sendgrid({ senders: [403, FORBIDDEN], domains: [200, [{ domain: 'example.org', valid: true }]] });
    expect((await lines()).sender).toMatchObject({ ok: true, detail: expect.stringContaining('authenticated domain example.org') });
    sendgrid({ senders: [403, FORBIDDEN], domains: [200, []] });
    const { sender } = await lines();
    expect(sender).toMatchObject({ ok: true, warn: true });
    expect(sender.detail).toContain('example.org is not an authenticated domain (the account has none)');
    expect(sender.detail).toContain('whether it is a verified single sender could not be checked');
  });

  it('a rejected key (401 to GET /v3/scopes) says so, names the request, and never claims a refused message', async () => {
    nock(SG_URL)
      .get('/v3/scopes')
      .reply(401, { errors: [{ field: null, message: 'The provided authorization grant is invalid, expired, or revoked' }] });
    const all = await sendGridLines({ config: config(), now: () => NOW });
    expect(all).toHaveLength(1);
    expect(all[0]!.ok).toBe(false);
    expect(all[0]!.detail).toContain('SendGrid rejected SENDGRID_API_KEY (HTTP 401 to GET /v3/scopes)');
    expect(all[0]!.detail).toContain('No message was sent.');
    expect(all[0]!.detail).not.toMatch(/refused the message/i);
    expect(all[0]!.detail).not.toContain(SG_KEY);
  });

  it("a 400 echoing a secret deep in SendGrid's words: redacted before it is cut, no piece of it shown", async () => {
    const lpSecret = 'lp-secret-abcdef';
    const echo = `${'x'.repeat(1_010)} ${lpSecret} ${SG_KEY}`;
    sendgrid({ senders: [400, { errors: [{ field: null, message: echo }] }], domains: [200, []] });
    const { sender } = await lines();
    expect(sender.detail).toMatch(/HTTP 400 to GET \/v3\/verified_senders/);
    for (const secret of [lpSecret, SG_KEY])
      for (let i = 0; i + 8 <= secret.length; i++) expect(sender.detail).not.toContain(secret.slice(i, i + 8));
  });

  it('a 400 from a list is "could not check", with SendGrid\'s words and no claim of a refused message', () => {
    const verdict = judgeSender(
      'a@example.org',
      { kind: 'error', message: 'SendGrid answered HTTP 400 to GET /v3/verified_senders' },
      {
        kind: 'read',
        entries: [],
      },
    );
    expect(verdict.status).toBe('unchecked');
    expect(verdict.detail).not.toMatch(/refused the message/i);
  });
});
