/**
 * A loopback SendGrid for tests that run the CLI in a child process (where nock cannot reach): records
 * every request and answers like SendGrid (202 with x-message-id, or a scripted failure). Like SendGrid it
 * refuses a request body over 30 MiB with HTTP 413 (its body is then not kept: `bytes` says how large it was).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** Bytes of the request body as received. */
  bytes: number;
}

/** SendGrid's limit for a whole mail/send request (attachments counted base64-encoded). */
export const SENDGRID_MAX_REQUEST_BYTES = 30 * 1024 * 1024;

export interface FakeSendGrid {
  url: string;
  requests: RecordedRequest[];
  /**
   * Scripted answers for the next requests (then 202). `delayMs`: the answer comes that late (after a
   * client's timeout the message is accepted, and the sender does not know it).
   */
  script: { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }[];
  /**
   * The next POST /v3/mail/send is recorded and then never answered (the connection stays open until the
   * client goes away or the server closes): the "during send" point, where SendGrid has the message and the
   * sender does not know it. Resolves with the request once it has arrived (a test then kills the sender).
   */
  holdNextSend(): Promise<RecordedRequest>;
  /** Called with every request as it is recorded, before it is answered (a test moves its clock here: a slow SendGrid). */
  onRequest: ((request: RecordedRequest) => void) | null;
  close(): Promise<void>;
}

export async function startFakeSendGrid(options: { maxRequestBytes?: number } = {}): Promise<FakeSendGrid> {
  const maxRequestBytes = options.maxRequestBytes ?? SENDGRID_MAX_REQUEST_BYTES;
  const requests: RecordedRequest[] = [];
  const script: FakeSendGrid['script'] = [];
  let counter = 0;
  const holds: ((request: RecordedRequest) => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      if (bytes <= maxRequestBytes) chunks.push(c);
      else chunks.length = 0; // over the limit: read on (as a server does before answering) but keep nothing
    });
    req.on('end', () => {
      if (bytes > maxRequestBytes) {
        requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: null, bytes });
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ message: 'The request entity is too large: the limit is 30 MB.', field: null, help: null }] }));
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        // keep the text
      }
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, bytes };
      requests.push(recorded);
      fake.onRequest?.(recorded);
      if (req.method === 'POST' && req.url === '/v3/mail/send') {
        const hold = holds.shift();
        if (hold) {
          hold(recorded); // no answer: the response stays pending
          return;
        }
      }
      if (req.method === 'GET' && req.url === '/v3/scopes') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ scopes: ['mail.send', 'user.profile.read'] }));
        return;
      }
      // check's sender line: the digest@example.org the tests send from is a verified single sender.
      if (req.method === 'GET' && req.url === '/v3/verified_senders') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ results: [{ id: 1, from_email: 'digest@example.org', verified: true, locked: false }] }));
        return;
      }
      if (req.method === 'GET' && req.url === '/v3/whitelabel/domains') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('[]');
        return;
      }
      const next = script.shift();
      if (next) {
        const answer = () => {
          if (res.destroyed) return;
          res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
          res.end(next.body === undefined ? '' : JSON.stringify(next.body));
        };
        if (next.delayMs) setTimeout(answer, next.delayMs).unref();
        else answer();
        return;
      }
      counter++;
      res.writeHead(202, { 'x-message-id': `fake-msg-${counter}` });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const fake: FakeSendGrid = {
    url: `http://127.0.0.1:${port}`,
    requests,
    script,
    holdNextSend: () => new Promise<RecordedRequest>((resolve) => holds.push(resolve)),
    onRequest: null,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
