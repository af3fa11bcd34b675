/**
 * A loopback SendGrid for tests that run the CLI in a child process (where nock cannot reach): records
 * every request and answers like SendGrid (202 with x-message-id, or a scripted failure).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

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

export async function startFakeSendGrid(): Promise<FakeSendGrid> {
  const requests: RecordedRequest[] = [];
  const script: FakeSendGrid['script'] = [];
  let counter = 0;
  const holds: ((request: RecordedRequest) => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        // keep the text
      }
      const recorded: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body };
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
