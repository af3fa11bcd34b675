/** One line of `check`'s report, and the clock line both upstreams share. */
import type { ClockVerdict } from '../core/clock-sanity.js';
import { describeError } from '../errors.js';

export interface CheckLine {
  name: string;
  ok: boolean;
  /** Printed as "warn": could not be checked, not a failure (the exit code stays 0). */
  warn?: boolean;
  detail: string;
}

/** The clock line of an upstream: its Date header against this machine's clock. */
export function clockLine(upstream: 'LastPass' | 'SendGrid', verdict: ClockVerdict | { kind: 'error'; error: unknown }): CheckLine {
  const name = 'clock';
  if (verdict.kind === 'error')
    return { name, ok: false, detail: `${upstream} could not be asked for its time: ${describeError(verdict.error)}` };
  if (verdict.kind === 'unverified')
    return { name, ok: true, detail: `${upstream} sent no Date header: this machine's clock is not checked against it` };
  if (verdict.kind === 'skewed') return { name, ok: false, detail: verdict.message };
  return {
    name,
    ok: true,
    detail: `this machine's clock agrees with ${upstream}'s (${Math.round(verdict.skewMs / 1000)} s apart; 5 minutes tolerated)`,
  };
}
