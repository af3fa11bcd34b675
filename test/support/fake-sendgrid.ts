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
  /** Scripted answers for the next requests (then 202). */
  script: { status: number; body?: unknown; headers?: Record<string, string> }[];
  close(): Promise<void>;
}

export async function startFakeSendGrid(): Promise<FakeSendGrid> {
  const requests: RecordedRequest[] = [];
  const script: FakeSendGrid['script'] = [];
  let counter = 0;
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
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      if (req.method === 'GET' && req.url === '/v3/scopes') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ scopes: ['mail.send', 'user.profile.read'] }));
        return;
      }
      const next = script.shift();
      if (next) {
        res.writeHead(next.status, { 'content-type': 'application/json', ...next.headers });
        res.end(next.body === undefined ? '' : JSON.stringify(next.body));
        return;
      }
      counter++;
      res.writeHead(202, { 'x-message-id': `fake-msg-${counter}` });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
