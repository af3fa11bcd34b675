/**
 * `GET /healthz` for platforms that probe the worker (only when PORT is set): liveness plus what an
 * operator wants to know: last successful run, next run, consecutive failures, whether a run is going on.
 * The status code is what monitors read: 200 when healthy, 503 when the last run failed or the coverage is
 * stale (core/health-verdict.ts), with the same JSON body either way. HEAD answers the same status and
 * headers without a body.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthStatus {
  /** ok (200); failing: the last run failed; stale: two scheduled runs delivered nothing (503 for both). */
  status: 'ok' | 'failing' | 'stale';
  /** Why it is not ok, or null. */
  reason?: string | null;
  lastSuccessAt: string | null;
  coveredUntil: string | null;
  nextRun: string | null;
  consecutiveFailures: number;
  running: boolean;
  version: string;
  /** With several accounts (ACCOUNTS_FILE): a line per account; the status above is the worst of them. */
  accounts?: {
    account: string;
    status: HealthStatus['status'];
    reason?: string | null;
    lastSuccessAt: string | null;
    coveredUntil: string | null;
    consecutiveFailures: number;
  }[];
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(options: {
  port: number;
  host?: string;
  status: () => Promise<HealthStatus>;
}): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const head = req.method === 'HEAD';
    if ((req.method !== 'GET' && !head) || (path !== '/healthz' && path !== '/')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(head ? undefined : '{"error":"not found"}');
      return;
    }
    // HEAD: the status and headers GET would send (content-length included), no body.
    const answer = (code: number, body: string) => {
      res.writeHead(code, {
        'content-type': 'application/json',
        'cache-control': 'no-store',
        'content-length': Buffer.byteLength(body),
      });
      res.end(head ? undefined : body);
    };
    options
      .status()
      .then((status) => answer(status.status === 'ok' ? 200 : 503, JSON.stringify(status)))
      .catch((error: unknown) =>
        answer(503, JSON.stringify({ status: 'error', error: error instanceof Error ? error.message : String(error) })),
      );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
