/**
 * What "unattended" must guarantee, checked on what SendGrid actually received and on the run state:
 * every window delivered, contiguous from where coverage stood, none twice unless the second copy is the
 * documented possible duplicate (same `custom_args.digest_marker`, and the "Possible duplicate" notice),
 * and a state whose cursor is the end of the last delivered window with no stale pending intent.
 * Returns the violations as sentences (an empty list is a pass), so a failing test says what broke.
 */
import type { RecordedRequest } from './fake-sendgrid.js';

export interface SentDigest {
  /** Position among all the requests SendGrid received. */
  index: number;
  key: string;
  start: number;
  end: number;
  marker: string;
  attempt: string;
  html: string;
  subject: string;
}

interface MailBody {
  subject: string;
  content: { type: string; value: string }[];
  custom_args?: Record<string, string>;
}

/** Window key (`20250309T070000Z_20250310T070000Z`) to epoch-ms bounds. */
export function parseWindowKey(key: string): { start: number; end: number } {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z_(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(key);
  if (!m) throw new Error(`not a window key: ${key}`);
  const at = (i: number) =>
    Date.UTC(Number(m[i]), Number(m[i + 1]) - 1, Number(m[i + 2]), Number(m[i + 3]), Number(m[i + 4]), Number(m[i + 5]));
  return { start: at(1), end: at(7) };
}

/** Every digest (not failure notices) SendGrid received, answered or not, in arrival order. */
export function sentDigests(requests: readonly RecordedRequest[]): SentDigest[] {
  const out: SentDigest[] = [];
  requests.forEach((r, index) => {
    if (r.method !== 'POST' || r.path !== '/v3/mail/send') return;
    const body = r.body as MailBody;
    const args = body.custom_args ?? {};
    if (!args.digest_window || args.digest_failure !== undefined) return;
    const { start, end } = parseWindowKey(args.digest_window);
    out.push({
      index,
      key: args.digest_window,
      start,
      end,
      marker: args.digest_marker ?? '',
      attempt: args.digest_attempt ?? '',
      html: body.content.find((c) => c.type === 'text/html')?.value ?? '',
      subject: body.subject,
    });
  });
  return out;
}

/** Failure notices SendGrid received (a crash must not produce one). */
export function sentFailureNotices(requests: readonly RecordedRequest[]): string[] {
  return requests
    .filter((r) => r.method === 'POST' && r.path === '/v3/mail/send')
    .map((r) => r.body as MailBody)
    .filter((b) => b.custom_args?.digest_failure !== undefined)
    .map((b) => b.subject);
}

export const POSSIBLE_DUPLICATE = 'Possible duplicate';

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');
const floorSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * Digests must tile [coveredFrom, coveredTo] (second resolution, as window keys are): contiguous, no gap,
 * no overlap between different windows; a window sent more than once only as a marked possible duplicate.
 */
export function coverageViolations(digests: readonly SentDigest[], coveredFrom: number, coveredTo: number): string[] {
  const problems: string[] = [];
  const byKey = new Map<string, SentDigest[]>();
  for (const d of digests) byKey.set(d.key, [...(byKey.get(d.key) ?? []), d]);
  for (const [key, copies] of byKey) {
    if (copies.length < 2) continue;
    const [first, ...rest] = copies as [SentDigest, ...SentDigest[]];
    for (const copy of rest) {
      if (copy.marker !== first.marker)
        problems.push(`window ${key} was sent twice with different markers (${first.marker}, ${copy.marker})`);
      if (!copy.html.includes(POSSIBLE_DUPLICATE)) problems.push(`window ${key} was sent again without the "${POSSIBLE_DUPLICATE}" notice`);
    }
  }
  const windows = [...byKey.values()].map((c) => c[0]!).sort((a, b) => a.start - b.start || a.end - b.end);
  let at = floorSecond(coveredFrom);
  for (const w of windows) {
    if (w.start > at) problems.push(`gap: ${iso(at)} to ${iso(w.start)} was never delivered`);
    if (w.start < at) {
      problems.push(
        `window ${w.key} overlaps what was already sent up to ${iso(at)}: ${iso(w.start)} to ${iso(Math.min(at, w.end))} was delivered twice, and not as a marked possible duplicate of the same window`,
      );
    }
    at = Math.max(at, w.end);
  }
  if (at !== floorSecond(coveredTo)) problems.push(`delivered coverage ends at ${iso(at)}, the state says ${iso(coveredTo)}`);
  return problems;
}

export interface StateView {
  cursor: string | null;
  delivered: { key: string; start: string; end: string }[];
  pendingDelivery: { key: string; marker: string } | null;
}

/** The run state after a clean run: cursor = end of the newest delivered window, nothing pending, and every sent window recorded. */
export function stateViolations(state: StateView, digests: readonly SentDigest[]): string[] {
  const problems: string[] = [];
  const newest = [...state.delivered].sort((a, b) => Date.parse(a.end) - Date.parse(b.end)).at(-1);
  if (!newest) problems.push('no delivered window in the state');
  else if (state.cursor !== newest.end) problems.push(`cursor ${state.cursor} is not the end of the last delivered window (${newest.end})`);
  if (state.pendingDelivery !== null) {
    problems.push(
      `a stale pending delivery intent is left after the repair run: key ${state.pendingDelivery.key}, marker ${state.pendingDelivery.marker}`,
    );
  }
  const recorded = new Set(state.delivered.map((d) => d.key));
  for (const key of new Set(digests.map((d) => d.key))) {
    if (!recorded.has(key)) problems.push(`window ${key} reached SendGrid but is not recorded as delivered`);
  }
  return problems;
}
