/**
 * The pieces behind "a message SendGrid accepts, always": the rows kept (most severe first, in their order),
 * the shrinking row count, the notices, the encoded request size measured before sending (exactly what the
 * real client puts on the wire), and a 413 turned into a MessageTooLargeError without a retry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodedRequestBytes } from '../src/adapters/mail/mail-message.js';
import { createSendGridMailer } from '../src/adapters/mail/sendgrid-mailer.js';
import {
  attachableTotal,
  attachmentsRefusedNotice,
  exportCommandFor,
  fewerRows,
  mostSevere,
  truncationNotice,
} from '../src/core/attachment-plan.js';
import { MessageTooLargeError, UpstreamError } from '../src/errors.js';
import type { OutgoingMessage } from '../src/ports.js';
import { type FakeSendGrid, startFakeSendGrid } from './support/fake-sendgrid.js';
import { recordingLogger } from './support/recording-logger.js';

const SG_KEY = 'SG.plan-test-key-5d2e9a';

describe('mostSevere', () => {
  const events = [
    { id: 1, severity: 'low' as const },
    { id: 2, severity: 'high' as const },
    { id: 3, severity: 'info' as const },
    { id: 4, severity: 'medium' as const },
    { id: 5, severity: 'low' as const },
    { id: 6, severity: 'high' as const },
  ];

  it('keeps the most severe rows (equal severities: the earlier) and lists them in their original order', () => {
    expect(mostSevere(events, 3).map((e) => e.id)).toEqual([2, 4, 6]);
    expect(mostSevere(events, 4).map((e) => e.id)).toEqual([1, 2, 4, 6]);
    expect(mostSevere(events, 5).map((e) => e.id)).toEqual([1, 2, 4, 5, 6]);
  });

  it('keeps everything or nothing at the ends', () => {
    expect(mostSevere(events, 6).map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(mostSevere(events, 99)).toHaveLength(6);
    expect(mostSevere(events, 0)).toEqual([]);
  });
});

describe('fewerRows', () => {
  it('scales the rows to the bytes allowed, with a margin', () => {
    expect(fewerRows(100_000, 40_000_000, 20_000_000)).toBe(47_500);
  });

  it('always shrinks, down to 0, so the cutting loop ends', () => {
    expect(fewerRows(10, 1_001, 1_000)).toBe(9);
    expect(fewerRows(1, 5_000, 4_999)).toBe(0);
    expect(fewerRows(500, 5_000, 0)).toBe(0);
    expect(fewerRows(500, 5_000, -20)).toBe(0);
    let rows = 1_000;
    let steps = 0;
    while (rows > 0) {
      rows = fewerRows(rows, 10_000, 9_999);
      steps++;
    }
    expect(steps).toBeLessThanOrEqual(1_000);
  });
});

describe('notices', () => {
  it('counts the rows attached out of the total and names the export command with its real flags', () => {
    // Cut for size only: the bundle's events.json holds every row.
    expect(truncationNotice({ day: '2026-12-03', kept: 6_000, total: 20_112, listed: 20_112, rawPages: true, evidence: true })).toBe(
      'The attached CSV and JSON hold 6,000 of 20,112 security-relevant rows (the most severe first: a digest lists at most 25,000 ' +
        'security-relevant rows, and its files stay at a size SendGrid accepts); the complete list is in the evidence bundle (events.json): ' +
        'lastpass-audit-digest export --from 2026-12-03 --to 2026-12-03 --out lastpass-evidence-2026-12-03.tar.gz',
    );
    expect(exportCommandFor('2026-12-03')).toMatch(/ export --from 2026-12-03 --to 2026-12-03 --out \S+\.tar\.gz$/);
  });

  it('past the rows a digest lists, points at the raw pages, or says there are none (EVIDENCE_RAW=off)', () => {
    const facts = { day: '2026-12-03', kept: 25_000, total: 214_112, listed: 25_000, evidence: true };
    const raw = truncationNotice({ ...facts, rawPages: true })!;
    expect(raw).toContain(
      'every row is in the raw LastPass pages of the evidence bundle (raw/page-*.json.gz; its events.json holds the 25,000 rows listed here)',
    );
    expect(raw).toContain('export --from 2026-12-03');
    const noRaw = truncationNotice({ ...facts, rawPages: false })!;
    expect(noRaw).toContain('no raw pages (EVIDENCE_RAW=off), so the complete list is only in the LastPass Admin Console');
    expect(noRaw).not.toContain('complete list is in the evidence bundle');
  });

  it('says nothing when every row is attached', () => {
    expect(truncationNotice({ day: '2026-12-03', kept: 12, total: 12, listed: 12, rawPages: true, evidence: true })).toBeNull();
  });

  it('does not point at a bundle that is not kept, and explains an attachment-less digest', () => {
    const none = truncationNotice({ day: '2026-12-03', kept: 0, total: 5, listed: 5, rawPages: false, evidence: false })!;
    expect(none).toMatch(/^No CSV or JSON is attached/);
    expect(none).toContain('keeps no evidence bundle');
    expect(none).not.toContain('export');
    expect(attachmentsRefusedNotice({ day: '2026-12-03', total: 5, listed: 5, rawPages: true, evidence: true })).toContain('HTTP 413');
  });

  it('takes the total from the analysis in one place: security-relevant then unrecognised rows', () => {
    expect(attachableTotal({ relevant: new Array(7), unrecognisedRows: new Array(2) })).toBe(9);
  });
});

describe('the request as SendGrid receives it', () => {
  let sendgrid: FakeSendGrid | undefined;
  afterEach(async () => {
    await sendgrid?.close();
    sendgrid = undefined;
  });

  const message: OutgoingMessage = {
    key: 'k',
    kind: 'digest',
    from: 'Digest <digest@example.org>',
    to: ['secops@example.org'],
    subject: 'Digest — ünïcödé ☃ "quoted"',
    html: '<p>é ☃ </script> \\ "x"</p>',
    text: 'é ☃\n\t"x"\n',
    customArgs: { digest_window: 'w' },
    attachments: [
      { filename: 'a.csv.gz', type: 'application/gzip', content: Buffer.from('a'.repeat(10_001)).toString('base64') },
      { filename: 'a.json.gz', type: 'application/gzip', content: Buffer.from('b').toString('base64') },
    ],
  };

  it('is measured exactly before sending', async () => {
    sendgrid = await startFakeSendGrid();
    await createSendGridMailer({ apiKey: SG_KEY, apiUrl: sendgrid.url, logger: recordingLogger() }).send(message);
    expect(sendgrid.requests[0]!.bytes).toBe(encodedRequestBytes(message));
    expect(encodedRequestBytes({ ...message, attachments: [] })).toBeLessThan(encodedRequestBytes(message) - 13_000);
  });

  it('is refused over the limit with a 413, a MessageTooLargeError that is not retried and holds no key', async () => {
    sendgrid = await startFakeSendGrid({ maxRequestBytes: 5_000 });
    const sleeps: number[] = [];
    const error = await createSendGridMailer({
      apiKey: SG_KEY,
      apiUrl: sendgrid.url,
      logger: recordingLogger(),
      sleep: async (ms) => {
        sleeps.push(ms);
      },
    })
      .send(message)
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect(error).toBeInstanceOf(UpstreamError);
    const e = error as MessageTooLargeError;
    expect(e.status).toBe(413);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('too large');
    expect(JSON.stringify(e) + e.message).not.toContain(SG_KEY.slice(3));
    expect(sendgrid.requests).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });
});
