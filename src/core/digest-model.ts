/** Builds the templates' view models from an analysis. Pure: time and versions come in as values. */
import type { AnalysisResult } from './analysis.js';
import { CATALOGUE_VERSION } from './catalogue.js';
import type { CategoryRow, DigestModel, EventRow, FailureNoticeModel, SeverityTile } from './digest-model-types.js';
import { formatCount, formatDuration, formatLocalMinute, formatLocalSecond, formatUtc } from './display-time.js';
import { SEVERITIES, type ClassifiedEvent, type ReportWindow, type Severity, type WallRange } from './types.js';
import { windowKey } from './window-plan.js';

export interface DigestCaps {
  findings: number;
  low: number;
  unrecognised: number;
}

export const DEFAULT_CAPS: DigestCaps = { findings: 50, low: 25, unrecognised: 30 };

export interface DigestContext {
  window: ReportWindow;
  requested: WallRange | null;
  requests: number;
  pages: number;
  reportTimeZone: string;
  lastpassTimeZone: string;
  version: string;
  generatedAt: Date;
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
  };
}

function toRow(e: ClassifiedEvent, timeZone: string): EventRow {
  return {
    time: formatLocalSecond(e.at, timeZone),
    severity: e.severity,
    category: e.category,
    user: e.username,
    ip: e.ip,
    action: e.action,
    detail: e.data,
    note: e.note ?? '',
  };
}

export function buildDigestModel(analysis: AnalysisResult, ctx: DigestContext, caps: DigestCaps = DEFAULT_CAPS): DigestModel {
  const { bySeverity } = analysis;
  const reviewed = formatCount(analysis.eventsReviewed);
  const quiet = bySeverity.high + bySeverity.medium + bySeverity.low === 0;
  const verdictLevel = bySeverity.high > 0 ? 'attention' : bySeverity.medium > 0 ? 'review' : 'quiet';
  const attention = bySeverity.high + bySeverity.medium;
  const verdict = quiet
    ? `Quiet day: no security-relevant events among ${reviewed} events reviewed`
    : attention > 0
      ? `${attention === 1 ? '1 event needs' : `${formatCount(attention)} events need`} attention: ${bySeverity.high} high, ${bySeverity.medium} medium` +
        ` (${formatCount(bySeverity.low)} low) among ${reviewed} events reviewed`
      : `Nothing high or medium: ${formatCount(bySeverity.low)} low-severity events among ${reviewed} events reviewed`;
  const label = windowLabel(ctx.window, ctx.reportTimeZone);
  const subject = quiet
    ? `LastPass security digest ${label} — quiet, ${reviewed} events reviewed`
    : `LastPass security digest ${label} — ${bySeverity.high} high, ${bySeverity.medium} medium`;

  const highMedium = analysis.relevant.filter((e) => e.severity === 'high' || e.severity === 'medium');
  // High first, then medium; newest first within each.
  highMedium.sort((a, b) => (a.severity === b.severity ? b.at - a.at : a.severity === 'high' ? -1 : 1));
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
    ? `No security-relevant events among ${reviewed} events reviewed in this window` +
      (analysis.unrecognisedEvents > 0
        ? ` (${formatCount(analysis.unrecognisedEvents)} events with names the catalogue does not know are listed below).`
        : '.')
    : '';

  return {
    kind: 'digest',
    subject,
    verdictLevel,
    verdict,
    quiet,
    attestation,
    notices: [],
    window: describeWindow(ctx.window, ctx.reportTimeZone),
    coverage: {
      eventsReviewed: analysis.eventsReviewed,
      eventsReviewedText: reviewed,
      requests: ctx.requests,
      pages: ctx.pages,
      ownApiRows: analysis.ownApiRows,
      lastpassTimeZone: ctx.lastpassTimeZone,
      requestedRange: ctx.requested ? `${ctx.requested.from} … ${ctx.requested.to}` : 'none (the window lies in a repeated DST hour already covered)',
    },
    tiles,
    categories,
    findings: highMedium.slice(0, caps.findings).map((e) => toRow(e, ctx.reportTimeZone)),
    moreFindings: Math.max(0, highMedium.length - caps.findings),
    lowEvents: low.slice(0, caps.low).map((e) => toRow(e, ctx.reportTimeZone)),
    moreLowEvents: Math.max(0, low.length - caps.low),
    unrecognised: analysis.unrecognised.slice(0, caps.unrecognised).map((u) => ({ ...u })),
    footer: footer(ctx),
  };
}

export function buildFailureModel(input: {
  window: ReportWindow;
  what: string;
  error: string;
  advice: string;
  consecutiveFailures: number;
  reportTimeZone: string;
  version: string;
  generatedAt: Date;
}): FailureNoticeModel {
  const label = windowLabel(input.window, input.reportTimeZone);
  return {
    kind: 'failure',
    subject: `FAILED: LastPass security digest ${label} — window not reviewed`,
    what: input.what,
    error: input.error,
    advice: input.advice,
    window: describeWindow(input.window, input.reportTimeZone),
    consecutiveFailures: input.consecutiveFailures,
    footer: footer(input),
  };
}
