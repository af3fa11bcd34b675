/**
 * What the replica bench's parent (bench/replicas.ts) and its replica children (bench/replica-child.ts)
 * share: the fixed day, the stand-in credentials, the accounts' ids and the child's spec.
 */
import { readFileSync } from 'node:fs';

export const ACCOUNT = '8771234';
export const SECRET = 'bench-provisioning-hash-0000';
export const SG_KEY = 'SG.bench-replicas-key-0000';
export const WINDOW_END = Date.parse('2025-06-04T07:00:00.000Z');
export const DAY_MS = 86_400_000;
export const MARK = 'REPLICA_RESULT ';
export const READY = 'REPLICA_READY';
export const DUPLICATE_NOTICE = 'Possible duplicate';
export const TAKEOVER_SECONDS = 20;

export interface ReplicaSpec {
  databaseUrl: string;
  lastpassUrl: string;
  sendgridUrl: string;
  accounts: number;
  concurrency: number;
}

/** A slug, as account ids are. */
export const accountId = (i: number) => `acct-${String(i).padStart(3, '0')}`;

export function peakRssKiB(): number {
  const hwm = /^VmHWM:\s*(\d+)\s*kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS;
}
