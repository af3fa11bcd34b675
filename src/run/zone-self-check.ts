/**
 * The time-zone self-check of a run (core/zone-inference.ts): after the window's fetch, one more request
 * for what LASTPASS_TIMEZONE calls the future (from this run's first request, or the end of the window's
 * range when that is later, to 15 hours ahead), which holds
 * this run's own `Reporting` rows when LastPass speaks that zone or one ahead of it (when it speaks one
 * behind, they were in the window's own rows already). Their wall times against the instants the requests
 * were sent tell the offset LastPass speaks; a disagreement of 30 minutes or more is a caution at the top of
 * the digest. Also used by `check`. Never fails a run: a self-check that cannot be made is logged.
 */
import type { Caution } from '../core/digest-model.js';
import { callerKey } from '../core/known-callers.js';
import { parseApiInitiated } from '../core/api-initiated.js';
import { API_READ_ACTIONS, normaliseActionName } from '../core/catalogue.js';
import { formatWall } from '../core/wall-time.js';
import { inferZone, zoneCaution, type ZoneInference } from '../core/zone-inference.js';
import type { RawEvent } from '../core/types.js';
import type { RowSink } from '../core/window-intake.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { LastPassClient, RequestTiming } from '../ports.js';

/** How far past now the self-check asks: beyond the largest offset between two zones LastPass could speak. */
const AHEAD_MS = 15 * 3_600_000;

/** Collects this worker's own API rows per wall time, and the newest Time of any row. */
export function createEchoCollector(apiUser: string): RowSink & { echoes: Record<string, number>; newest: () => string | null } {
  const own = callerKey(apiUser);
  const echoes: Record<string, number> = {};
  let distinct = 0;
  let newest: string | null = null;
  return {
    echoes,
    newest: () => newest,
    add(row: RawEvent) {
      if (newest === null || row.Time > newest) newest = row.Time;
      if (!API_READ_ACTIONS.has(normaliseActionName(row.Action))) return;
      const label = parseApiInitiated(row.Data);
      if (label === null || callerKey(label) !== own) return;
      const n = echoes[row.Time];
      if (n !== undefined) echoes[row.Time] = n + 1;
      else if (distinct++ < 2_000) echoes[row.Time] = 1;
    },
  };
}

export interface ZoneCheckInput {
  lastpass: LastPassClient;
  logger: Logger;
  now: () => Date;
  timeZone: string;
  apiUser: string;
  /** This run's requests so far (the clock probe, the fetches). */
  requests: readonly RequestTiming[];
  /** Own API rows already seen in this run's responses, per wall time. */
  echoes: Readonly<Record<string, number>>;
  /** The self-check asks from here at the earliest (the wall time after the window's range), so no row is seen twice. */
  notBefore?: string;
}

/** Runs the self-check; returns the inference (null when it could not be made) and the caution, if any. */
export async function checkZone(input: ZoneCheckInput): Promise<{ inference: ZoneInference | null; caution: Caution | null }> {
  const { lastpass, logger, timeZone } = input;
  const first = Math.min(...input.requests.map((r) => r.sentAt), input.now().getTime());
  const start = formatWall(first, timeZone);
  const from = input.notBefore !== undefined && input.notBefore > start ? input.notBefore : start;
  const range = { from, to: formatWall(input.now().getTime() + AHEAD_MS, timeZone) };
  const collector = createEchoCollector(input.apiUser);
  let timings: readonly RequestTiming[] = [];
  try {
    const probe = await lastpass.probe(range, collector, { once: true });
    timings = probe.timings;
  } catch (error) {
    logger.warn('lastpass.zone_check_failed', { error: describeError(error) });
    return { inference: null, caution: null };
  }
  const now = input.now();
  const inference = inferZone(
    {
      requests: [...input.requests, ...timings],
      echoes: [input.echoes, collector.echoes],
      newestWall: collector.newest(),
    },
    timeZone,
    now,
  );
  const caution = zoneCaution(inference, input.apiUser, now);
  const fields = {
    configuredOffsetMs: inference.configuredOffsetMs,
    inferredOffsetMs: inference.inferredOffsetMs,
    matchedRequests: inference.matchedRequests,
    newestAheadMs: inference.newestAheadMs,
  };
  if (caution) logger.warn('lastpass.zone_mismatch', fields);
  else logger.info('lastpass.zone_checked', fields);
  return { inference, caution };
}
