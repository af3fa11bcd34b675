/** Builds the templates' view models from an analysis. Pure: time and versions come in as values. */
import type { AnalysisResult, RelevantEvent } from './analysis.js';
import { CATALOGUE_VERSION } from './catalogue.js';
import type { CategoryRow, DetectionRow, DigestModel, EventRow, FailureNoticeModel, SeverityTile } from './digest-model-types.js';
import type { Finding } from './detections/detection.js';
import { countOf, formatCount, formatDuration, formatLocalMinute, formatLocalSecond, formatUtc } from './display-time.js';
import { buildChart, buildTrends, type PriorDay } from './digest-chart.js';
import { guidanceFor } from './finding-guidance.js';
import type { IgnoreUserRule } from './ignore-users.js';
import { callerKey, type KnownApiCaller } from './known-callers.js';
import type { KnownApiCallerActivity } from './noise-control.js';
import type { SeverityOverride } from './severity-overrides.js';
import { SEVERITIES, type ClassifiedEvent, type ReportWindow, type Severity, type WallRange } from './types.js';
import { windowKey } from './window-plan.js';
import { shortenText, visibleText } from './visible-text.js';

export interface DigestCaps {
  detections: number;
  findings: number;
  low: number;
  unrecognised: number;
  /** Longest text shown in one cell; longer is cut with "…" (the attachments hold it whole). */
  text: number;
}

export const DEFAULT_CAPS: DigestCaps = { detections: 40, findings: 40, low: 20, unrecognised: 60, text: 300 };

/**
 * Something that makes this digest untrustworthy as an all-clear (unusually few events, LastPass speaking
 * another zone, rows outside the asked range): the verdict is then amber ("untrusted") unless a finding
 * makes it red or orange, never the green quiet one, and the detail is shown at the top.
 */
export interface Caution {
  /** The verdict line when the digest has no finding more urgent: "Unusually few events: 0 reviewed, …". */
  headline: string;
  /** What it means and what to check. */
  detail: string;
}

export interface DigestContext {
  window: ReportWindow;
  requested: WallRange | null;
  requests: number;
  pages: number;
  reportTimeZone: string;
  lastpassTimeZone: string;
  version: string;
  generatedAt: Date;
  /** Earlier delivered windows (any order), for trends. */
  prior?: readonly PriorDay[];
  /**
   * File names of the attached event lists with the rows they hold and the rows a complete list would hold
   * (core/attachment-plan.ts), or null when nothing is attached.
   */
  attachments?: { csv: string; json: string; rows: number; total: number } | null;
  /**
   * The noise-control settings of the run (LASTPASS_KNOWN_API_CALLERS, REPORT_SEVERITY_OVERRIDES,
   * REPORT_IGNORE_USERS): the coverage section states each, with what it did (from the analysis; 0 when the
   * analysis has no count for it).
   */
  knownApiCallers?: readonly KnownApiCaller[];
  severityOverrides?: readonly SeverityOverride[];
  ignoreUsers?: readonly IgnoreUserRule[];
  /** Reasons not to read this digest as an all-clear (see Caution). */
  cautions?: readonly Caution[];
}

const LABEL: Record<Severity, string> = { high: 'High', medium: 'Medium', low: 'Low', info: 'Info' };

/** The day a window is "of": the local date of its last instant ("2025-03-10" for 07:00 → 07:00). */
export function windowLabel(window: ReportWindow, timeZone: string): string {
  return formatLocalMinute(window.end.getTime() - 1, timeZone).slice(0, 10);
}

export function describeWindow(window: ReportWindow, timeZone: string): DigestModel['window'] {
  return {
    startLocal: formatLocalMinute(window.start.getTime(), timeZone),
    endLocal: formatLocalMinute(window.end.getTime(), timeZone),
    zone: timeZone,
    startUtc: formatUtc(window.start.getTime()),
    endUtc: formatUtc(window.end.getTime()),
    duration: formatDuration(window.end.getTime() - window.start.getTime()),
  };
}

function footer(ctx: Pick<DigestContext, 'window' | 'generatedAt' | 'reportTimeZone' | 'version'>): DigestModel['footer'] {
  return {
    generatedAt: `${formatLocalSecond(ctx.generatedAt.getTime(), ctx.reportTimeZone)} ${ctx.reportTimeZone}`,
    version: ctx.version,
    catalogueVersion: CATALOGUE_VERSION,
    windowKey: windowKey(ctx.window),
    timesNote: ctx.reportTimeZone === 'UTC' ? 'Times are in UTC.' : `Times are in ${ctx.reportTimeZone} unless marked UTC.`,
  };
}

/** Event text as shown (invisible characters as `⟨U+200B⟩`, core/visible-text.ts), at most `max` long. */
export function cut(text: string, max: number): string {
  return shortenText(visibleText(text), max);
}

function toRow(e: ClassifiedEvent, timeZone: string, max: number): EventRow {
  return {
    time: formatLocalSecond(e.at, timeZone),
    severity: e.severity,
    category: e.category,
    user: cut(e.username, max),
    ip: cut(e.ip, max),
    action: cut(e.action, max),
    detail: cut(e.data, max),
    note: cut(e.note ?? '', max),
  };
}

/** Findings: the detections and the high/medium events that no detection reports. */
export function collectFindings(analysis: AnalysisResult): Finding[] {
  const single: Finding[] = analysis.relevant
    .filter((e: RelevantEvent) => (e.severity === 'high' || e.severity === 'medium') && !e.claimedBy)
    .map((e) => ({
      detector: 'event',
      category: e.category,
      severity: e.severity,
      title: e.action,
      subject: e.username || e.ip || '(no user)',
      reason: [e.note || e.why || `${e.category}: ${e.severity}`, e.data ? `detail: ${e.data}` : '', e.ip ? `from ${e.ip}` : '']
        .filter(Boolean)
        .join('; '),
      at: e.at,
      events: 1,
    }));
  // By severity; within one severity, detections (which explain more) before single events; newest first.
  const rank = (f: Finding) => (f.severity === 'high' ? 0 : f.severity === 'medium' ? 2 : 4) + (f.detector === 'event' ? 1 : 0);
  return [...analysis.findings, ...single].sort((a, b) => rank(a) - rank(b) || b.at - a.at);
}

const capitalise = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/** "3 findings (2 high) · 7 high-severity events": what the subject, preheader, verdict and tiles all say. */
export function headline(findings: readonly Finding[], bySeverity: Record<Severity, number>): string {
  if (findings.length === 0) return `no findings · ${countOf(bySeverity.low, 'low-severity event')}`;
  const high = findings.filter((f) => f.severity === 'high').length;
  return `${countOf(findings.length, 'finding')} (${formatCount(high)} high) · ${countOf(bySeverity.high, 'high-severity event')}`;
}

function knownCallerLine(a: KnownApiCallerActivity): string {
  const who = a.label === '' ? 'Calls without a label ("-")' : `"${a.label}"`;
  const from = a.networks.length ? `allowed from ${a.networks.join(', ')}` : 'allowed from any address';
  const calls =
    a.calls === 0
      ? 'no calls in this window'
      : `${countOf(a.calls, 'call')}${a.actions.length ? ` (${a.actions.join(', ')})` : ''}${a.ips.length ? ` from ${a.ips.join(', ')}` : ''}: info, not a finding`;
  const outside =
    a.outsideCalls > 0
      ? `; ${countOf(a.outsideCalls, 'call')} with this label from ${a.outsideIps.join(', ') || 'no IP'}, outside: a finding above`
      : '';
  return `${who} (${from}): ${calls}${outside}`;
}

/** The coverage lines for the noise-control settings, from the analysis, completed from the context. */
export function noiseControlLines(analysis: AnalysisResult, ctx: DigestContext): DigestModel['coverage']['adjustments'] {
  const known = [...analysis.knownApiCallers];
  for (const c of ctx.knownApiCallers ?? []) {
    if (!known.some((k) => callerKey(k.label) === c.key)) {
      known.push({
        label: c.label,
        networks: c.networks.map((n) => n.text),
        calls: 0,
        ips: [],
        actions: [],
        outsideCalls: 0,
        outsideIps: [],
      });
    }
  }
  const overrides = [...analysis.severityOverrides];
  for (const o of ctx.severityOverrides ?? []) {
    if (!overrides.some((x) => x.name === o.name)) overrides.push({ ...o, events: 0 });
  }
  const ignored = [...analysis.ignoredUsers];
  for (const r of ctx.ignoreUsers ?? []) if (!ignored.some((x) => x.rule === r.rule)) ignored.push({ rule: r.rule, events: 0 });
  return [
    ...known.map((a) => ({ label: 'Known caller', text: knownCallerLine(a) })),
    ...overrides.map((o) => ({
      label: 'Override',
      text: `"${o.name}" rated ${o.severity} (catalogue: ${o.catalogueSeverity}): ${o.events === 0 ? 'no events in this window' : countOf(o.events, 'event')}`,
    })),
    ...ignored.map((r) => ({
      label: 'Ignored user',
      text: `${r.rule}: ${r.events === 0 ? 'no events in this window' : `${countOf(r.events, 'event')} not reviewed`}`,
    })),
  ];
}

/** The caution for the bounds the analysis reached (none when everything fitted). */
export function limitCautions(analysis: AnalysisResult): Caution[] {
  const limits = analysis.limits ?? [];
  if (limits.length === 0) return [];
  return [
    {
      headline: 'Memory bounds reached: some detail was left out',
      detail: `This window was too large to keep every detail in bounded memory, so the counts are exact but not everything was listed or judged: ${limits.join('. ')}. Review the complete events in the evidence bundle or the LastPass Admin Console (Reporting > General reports).`,
    },
  ];
}

export function buildDigestModel(analysis: AnalysisResult, ctx: DigestContext, caps: DigestCaps = DEFAULT_CAPS): DigestModel {
  const { bySeverity } = analysis;
  const reviewed = formatCount(analysis.eventsReviewed);
  const reviewedEvents = countOf(analysis.eventsReviewed, 'event');
  // A bound the analysis reached (AnalysisResult.limits) is a caution too: a detector that had to let go
  // of state cannot vouch for a quiet day.
  const cautions = [...(ctx.cautions ?? []), ...limitCautions(analysis)];
  // A digest with a caution is never the green all-clear, whatever its counts.
  const nothingFound = bySeverity.high + bySeverity.medium + bySeverity.low === 0 && analysis.findings.length === 0;
  const quiet = nothingFound && cautions.length === 0;
  const all = collectFindings(analysis);
  const n = all.length;
  const verdictLevel: DigestModel['verdictLevel'] = all.some((f) => f.severity === 'high')
    ? 'attention'
    : all.some((f) => f.severity === 'medium')
      ? 'review'
      : cautions.length > 0
        ? 'untrusted'
        : n > 0
          ? 'low'
          : 'quiet';
  const summary = headline(all, bySeverity);
  const caution = cautions[0];
  const label = windowLabel(ctx.window, ctx.reportTimeZone);
  let verdict: string;
  let subject: string;
  if (verdictLevel === 'untrusted' && caution) {
    verdict = `${caution.headline} · ${nothingFound ? `no findings among ${reviewedEvents} reviewed` : `${summary} · ${reviewedEvents} reviewed`}`;
    subject = `LastPass security digest ${label} — CHECK: ${caution.headline}`;
  } else if (quiet) {
    verdict = `Quiet day: no security-relevant events among ${reviewedEvents} reviewed`;
    subject = `LastPass security digest ${label} — quiet, ${reviewedEvents} reviewed`;
  } else {
    verdict = `${capitalise(summary)} · ${reviewedEvents} reviewed`;
    subject = `LastPass security digest ${label} — ${summary}${caution ? ` · CHECK: ${caution.headline}` : ''}`;
  }

  // The events behind the findings: those a detection reports. A high or medium event no detection
  // reports is a finding of its own, listed above, and not repeated here.
  const highMediumAll = analysis.relevant.filter((e) => e.severity === 'high' || e.severity === 'medium');
  const highMedium = highMediumAll.filter((e) => e.claimedBy);
  // High first, then medium; newest first within each.
  highMedium.sort((a, b) => (a.severity === b.severity ? b.at - a.at : a.severity === 'high' ? -1 : 1));
  const ownFindings = highMediumAll.length - highMedium.length;
  const low = analysis.relevant.filter((e) => e.severity === 'low');

  const tiles: SeverityTile[] = SEVERITIES.map((s) => ({
    severity: s,
    label: LABEL[s],
    count: bySeverity[s],
    countText: formatCount(bySeverity[s]),
  }));
  const categories: CategoryRow[] = [...analysis.byCategory.entries()]
    .map(([category, c]) => ({ category, ...c, total: c.high + c.medium + c.low + c.info }))
    .sort((a, b) => b.high - a.high || b.medium - a.medium || b.low - a.low || b.total - a.total);

  const attestation = quiet
    ? `No security-relevant events among ${reviewedEvents} reviewed in this window` +
      (analysis.unrecognisedEvents > 0
        ? ` (${countOf(analysis.unrecognisedEvents, 'event')} with names the catalogue does not know ${analysis.unrecognisedEvents === 1 ? 'is' : 'are'} listed below).`
        : '.')
    : '';
  const max = caps.text;
  const detections: DetectionRow[] = all.slice(0, caps.detections).map((f) => {
    const g = guidanceFor(f);
    return {
      severity: f.severity,
      title: cut(f.title, max),
      subject: cut(f.subject, max),
      reason: cut(f.reason, max * 2),
      time: formatLocalMinute(f.at, ctx.reportTimeZone),
      guidance: g.text,
      link: g.url,
      linkText: g.where,
    };
  });

  return {
    kind: 'digest',
    subject,
    preheader: verdict,
    verdictLevel,
    verdict,
    quiet,
    attestation,
    cautions: cautions.map((c) => c.detail),
    notices: [],
    window: describeWindow(ctx.window, ctx.reportTimeZone),
    coverage: {
      eventsReviewed: analysis.eventsReviewed,
      eventsReviewedText: reviewed,
      requests: ctx.requests,
      pages: ctx.pages,
      ownApiRows: analysis.ownApiRows,
      lastpassTimeZone: ctx.lastpassTimeZone,
      requestedRange: ctx.requested
        ? `${ctx.requested.from} … ${ctx.requested.to}`
        : 'none (the window lies in a repeated DST hour already covered)',
      adjustments: noiseControlLines(analysis, ctx),
    },
    tilesCaption: 'Events by severity',
    tiles,
    detections,
    moreDetections: Math.max(0, all.length - caps.detections),
    findingCount: n,
    chart: buildChart(analysis, ctx.window, ctx.reportTimeZone),
    trends: buildTrends(analysis, ctx.window, ctx.prior ?? []),
    attachments: ctx.attachments
      ? { csv: ctx.attachments.csv, json: ctx.attachments.json, events: ctx.attachments.rows, total: ctx.attachments.total }
      : { csv: '', json: '', events: 0, total: 0 },
    categories,
    findings: highMedium.slice(0, caps.findings).map((e) => toRow(e, ctx.reportTimeZone, max)),
    moreFindings: Math.max(0, highMedium.length - caps.findings),
    findingsNote:
      ownFindings === 0
        ? ''
        : ownFindings === 1
          ? '1 event that is a finding on its own is listed under Findings above, not repeated here.'
          : `${formatCount(ownFindings)} events that are findings on their own are listed under Findings above, not repeated here.`,
    lowEvents: low.slice(0, caps.low).map((e) => toRow(e, ctx.reportTimeZone, max)),
    // Counted from the exact totals: the analysis may hold fewer low rows than there were (RELEVANT_ROWS_KEPT).
    moreLowEvents: Math.max(0, bySeverity.low - Math.min(low.length, caps.low)),
    unrecognisedNote:
      'LastPass logged these actions, which this digest does not know yet, so it could not rate them: they are counted in the events reviewed and attached in full, ' +
      'but in no severity. If a name looks security-relevant to you (a deletion, a permission, an export), look at its rows in the attachment, ' +
      `and tell whoever runs this digest so that the next catalogue (this one is ${CATALOGUE_VERSION}) rates it.`,
    unrecognised: analysis.unrecognised
      .slice(0, caps.unrecognised)
      .map((u) => ({ action: cut(u.action, max), count: u.count, sample: cut(u.sample, max) })),
    moreUnrecognised: Math.max(0, analysis.unrecognised.length - caps.unrecognised),
    footer: footer(ctx),
  };
}

export function buildFailureModel(input: {
  window: ReportWindow;
  /** End of the delivered coverage, for the escalation after repeated failures. */
  coveredUntil?: string | null;
  now?: Date;
  what: string;
  error: string;
  advice: string;
  consecutiveFailures: number;
  reportTimeZone: string;
  version: string;
  generatedAt: Date;
  /** The digest was delivered before the failure (its record or its evidence could not be written). */
  digestSent?: boolean;
}): FailureNoticeModel {
  const label = windowLabel(input.window, input.reportTimeZone);
  const n = input.consecutiveFailures;
  const missing = input.coveredUntil && input.now ? formatDuration(input.now.getTime() - Date.parse(input.coveredUntil)) : null;
  // After repeated failures the notice escalates: the subject says how long coverage has been missing.
  const digestSent = input.digestSent ?? false;
  const subject = digestSent
    ? `FAILED after delivery: LastPass security digest ${label} — the digest was sent, its record or evidence was not written`
    : n >= 3
      ? `FAILED ${n} times in a row: LastPass security digest — no coverage${missing ? ` for ${missing}` : ''} (since ${input.coveredUntil ?? 'the first run'})`
      : `FAILED: LastPass security digest ${label} — window not reviewed`;
  const what =
    n >= 3
      ? `${input.what} This is failure ${n} in a row: the LastPass audit log has not been reviewed${input.coveredUntil ? ` since ${input.coveredUntil}${missing ? ` (${missing})` : ''}` : ' at all yet'}.`
      : input.what;
  return {
    kind: 'failure',
    digestSent,
    subject,
    what,
    error: input.error,
    advice: input.advice,
    window: describeWindow(input.window, input.reportTimeZone),
    consecutiveFailures: input.consecutiveFailures,
    footer: footer(input),
  };
}
