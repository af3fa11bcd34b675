/**
 * The orchestrator: one call walks the whole pipeline for what is due (or for an explicit window).
 * config ─▶ window ─▶ fetch ─▶ normalise ─▶ analyse ─▶ digest model ─▶ render ─▶ deliver ─▶ record
 * The scheduler and the CLI only call `runReport`.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from './config/load-config.js';
import type { AnalysisResult } from './core/analysis.js';
import { buildDigestModel, buildFailureModel, DEFAULT_CAPS, windowLabel, type DigestCaps, type PriorDay } from './core/digest-model.js';
import { eventsToCsv, eventsToJson } from './core/event-export.js';
import type { DigestModel } from './core/digest-model-types.js';
import { formatCount, formatDuration, formatUtc } from './core/display-time.js';
import type { ReportWindow, WallRange } from './core/types.js';
import { wallBoundary, wallMinusOneSecond } from './core/wall-time.js';
import { planDueWindows, windowKey } from './core/window-plan.js';
import { createWindowIntake } from './core/window-intake.js';
import { createRunEvidence } from './evidence/run-evidence.js';
import { AuthorizationError, DigestError, UpstreamError, describeError } from './errors.js';
import type { Logger } from './logger.js';
import type { DeliveredWindow, DeliverySummary, DeliveryTail } from './core/run-state.js';
import type { EvidenceArchive, FinishedBundle, LastPassClient, MailAttachment, Mailer, OutgoingMessage, Renderer, Store } from './ports.js';

export interface RunDeps {
  config: Pick<Config, 'lastpass' | 'report'>;
  store: Store;
  lastpass: LastPassClient;
  /** Where real deliveries go (SendGrid, or the outbox in the demo). */
  mailer: Mailer;
  /** Where dry runs go. */
  outbox: Mailer;
  renderer: Renderer;
  logger: Logger;
  now: () => Date;
  version: string;
  /** Who holds the run lock (for the lock file and logs). */
  owner?: string;
  /**
   * Called at each named step of a run (fault injection for the crash tests: the CLI kills the process
   * at a chosen step when LAD_CRASH_AT names it). A no-op by default.
   */
  checkpoint?: (name: string) => void;
  /**
   * The compliance evidence archive. Absent: no evidence. Dry runs never leave a bundle. A failure to write
   * evidence marks the run failed (after the digest is delivered: it is never held back for evidence).
   */
  evidence?: EvidenceArchive;
}

export interface RunOptions {
  from?: Date;
  to?: Date;
  dryRun?: boolean;
  force?: boolean;
  /** Epoch ms after which retries give up (the worker passes the next scheduled run). */
  deadline?: number;
}

export type WindowStatus = 'delivered' | 'dry-run' | 'failed' | 'already-delivered';

export interface WindowResult {
  key: string;
  /** The record written for a delivered window (feeds the trends of the next window in a catch-up). */
  delivered?: DeliveredWindow;
  window: ReportWindow;
  status: WindowStatus;
  /** The outbox file or "sendgrid". */
  destination?: string;
  messageId?: string | null;
  subject?: string;
  eventsReviewed?: number;
  error?: string;
  /** The evidence bundle written for this window (not for dry runs). */
  evidence?: FinishedBundle;
  /** Set when the evidence could not be written: the run then fails (exit 1), the digest is still delivered. */
  evidenceError?: string;
}

export interface RunOutcome {
  status: 'ok' | 'nothing-due' | 'locked' | 'failed';
  windows: WindowResult[];
  skipped: ReportWindow | null;
}

export async function runReport(deps: RunDeps, options: RunOptions = {}): Promise<RunOutcome> {
  const { store, logger } = deps;
  const lock = await store.tryLock(deps.owner ?? `run-${randomUUID()}`);
  if (!lock) {
    logger.warn('run.locked', { store: store.kind });
    return { status: 'locked', windows: [], skipped: null };
  }
  try {
    return await runLocked(deps, options);
  } finally {
    await lock.release();
  }
}

async function runLocked(deps: RunDeps, options: RunOptions): Promise<RunOutcome> {
  const { store, logger } = deps;
  deps.checkpoint?.('run.locked');
  const state = await store.readState();
  const now = deps.now();
  let windows: ReportWindow[];
  let skipped: ReportWindow | null = null;

  if (options.from || options.to) {
    const end = options.to ?? now;
    const start = options.from ?? new Date(end.getTime() - 86_400_000);
    windows = [{ start, end }];
  } else {
    // A send whose outcome was never recorded (the process died mid-send) is repaired first, as the very
    // same window: it is sent again with the same marker and a "possible duplicate" notice, and what is
    // due after it is planned from its end. Re-planning from the cursor instead would send an overlapping
    // window under a new key: a silent duplicate.
    const pending = options.dryRun ? null : state.pendingDelivery;
    const cursorMs = state.cursor ? Date.parse(state.cursor) : null;
    const repair = pending !== null && (cursorMs === null || Date.parse(pending.end) > cursorMs) ? pending : null;
    const plan = planDueWindows({
      cursor: repair ? new Date(repair.end) : state.cursor ? new Date(state.cursor) : null,
      now,
      maxCatchupDays: deps.config.report.maxCatchupDays,
    });
    windows = plan.windows;
    skipped = plan.skipped;
    if (repair) {
      const repairWindow = { start: new Date(repair.start), end: new Date(repair.end) };
      // The first attempt stated any span it skipped: keep stating it, and keep accounting for it.
      skipped =
        cursorMs !== null && cursorMs < repairWindow.start.getTime() ? { start: new Date(cursorMs), end: repairWindow.start } : null;
      windows = [repairWindow, ...(plan.skipped ? [] : plan.windows)];
      if (plan.skipped) {
        // Improbable (down for longer than the cap right after a crash mid-send): report the rest next run.
        windows = [repairWindow];
      }
      logger.warn('run.repair_pending_delivery', { key: repair.key, marker: repair.marker, startedAt: repair.startedAt });
    }
    if (windows.length === 0) {
      logger.info('run.nothing_due', { cursor: state.cursor });
      return { status: 'nothing-due', windows: [], skipped: null };
    }
    if (skipped) {
      logger.error('run.coverage_skipped', {
        from: skipped.start.toISOString(),
        to: skipped.end.toISOString(),
        maxCatchupDays: deps.config.report.maxCatchupDays,
      });
    }
  }

  const results: WindowResult[] = [];
  for (const [i, window] of windows.entries()) {
    const key = windowKey(window);
    const already = state.delivered.find((d) => d.key === key);
    if (already && !options.force) {
      logger.info('run.already_delivered', { key, deliveredAt: already.deliveredAt, messageId: already.messageId });
      results.push({ key, window, status: 'already-delivered', messageId: already.messageId });
      continue;
    }
    const notices: string[] = [];
    if (i === 0 && skipped) {
      notices.push(
        `Coverage gap: ${formatUtc(skipped.start.getTime())} to ${formatUtc(skipped.end.getTime())} (${formatDuration(skipped.end.getTime() - skipped.start.getTime())}) was NOT reviewed: the worker was down longer than REPORT_MAX_CATCHUP_DAYS=${deps.config.report.maxCatchupDays}. Review it with: lastpass-audit-digest run --from ${skipped.start.toISOString()} --to ${skipped.end.toISOString()}`,
      );
    }
    const pending = state.pendingDelivery;
    const retryOfUnknown = pending !== null && pending.key === key && !options.dryRun;
    if (retryOfUnknown) {
      notices.push(
        `Possible duplicate: a send of this digest started at ${pending.startedAt} and its outcome was not recorded (the worker stopped mid-send). It is sent again with the same marker ${pending.marker}; if you already have it, ignore one.`,
      );
    }
    if (already && options.force) notices.push(`Re-sent on request (--force); first delivered ${already.deliveredAt}.`);
    const result = await processWindow(deps, options, window, {
      key,
      prior: state.delivered.map((d) => ({ end: d.end, byCategory: d.summary.byCategory })),
      notices,
      marker: retryOfUnknown ? pending.marker : `${key}.${randomUUID().slice(0, 8)}`,
      attempt: retryOfUnknown ? pending.attempt + 1 : 1,
      consecutiveFailures: state.consecutiveFailures,
      coveredUntil: state.cursor,
      // The digest that states a skipped span accounts for it in the state, so the cursor moves past it.
      recordStart: i === 0 && skipped ? skipped.start : window.start,
    });
    results.push(result);
    if (result.delivered) state.delivered.push(result.delivered);
    if (result.status === 'failed') {
      // Later windows wait: coverage stays contiguous, and the next run starts from this one again.
      return { status: 'failed', windows: results, skipped };
    }
  }
  // Evidence that could not be written fails the run loudly; the digests themselves were delivered.
  return { status: results.some((r) => r.evidenceError) ? 'failed' : 'ok', windows: results, skipped };
}

/** The wall-clock range to ask LastPass for, or null when the window holds no wall time of its own. */
export function requestRange(window: ReportWindow, lastpassTimeZone: string): WallRange | null {
  const from = wallBoundary(window.start.getTime(), lastpassTimeZone);
  const to = wallMinusOneSecond(wallBoundary(window.end.getTime(), lastpassTimeZone));
  return from <= to ? { from, to } : null;
}

interface WindowContext {
  key: string;
  prior: PriorDay[];
  recordStart: Date;
  /** End of the delivered coverage before this run (null before the first delivery). */
  coveredUntil: string | null;
  notices: string[];
  marker: string;
  attempt: number;
  consecutiveFailures: number;
}

async function processWindow(deps: RunDeps, options: RunOptions, window: ReportWindow, ctx: WindowContext): Promise<WindowResult> {
  const { logger, config } = deps;
  const key = ctx.key;
  const dryRun = options.dryRun ?? false;
  const started = Date.now();
  logger.info('run.window_start', { key, start: window.start.toISOString(), end: window.end.toISOString(), dryRun });
  const evidence = createRunEvidence(dryRun ? null : (deps.evidence ?? null), logger, deps.now);
  const startedAt = deps.now();
  const runRecord = () => ({
    windowKey: key,
    startedAt: startedAt.toISOString(),
    finishedAt: deps.now().toISOString(),
    ms: Date.now() - started,
    requests,
    pages,
    attempt: ctx.attempt,
    marker: ctx.marker,
  });

  // 1. Fetch and analyse, page by page. Any failure here means no digest for this window.
  let analysis: AnalysisResult;
  let requested: WallRange | null;
  let requests = 0;
  let pages = 0;
  let html: string;
  let text: string;
  let model: DigestModel;
  let attachments: MailAttachment[] = [];
  let tail: DeliveryTail | undefined;
  try {
    requested = requestRange(window, config.lastpass.timeZone);
    await evidence.begin({
      day: windowLabel(window, config.report.timeZone),
      window: { start: window.start.toISOString(), end: window.end.toISOString(), key },
      // The API secret (provhash) is never recorded.
      request: {
        cmd: 'reporting',
        cid: config.lastpass.accountNumber,
        apiuser: config.lastpass.apiUser,
        url: deps.lastpass.endpoint,
        data: requested,
        lastpassTimeZone: config.lastpass.timeZone,
        window: { start: window.start.toISOString(), end: window.end.toISOString(), key },
      },
      startedAt,
    });
    // Late arrivals: the previous window's tail is asked for again, and what was not there when it was
    // reported is analysed with this window. Its tail is replaced when this window is delivered, so each
    // late event counts once.
    const overlapMs = (config.report.lateOverlapMinutes ?? DEFAULT_LATE_OVERLAP_MINUTES) * 60_000;
    const storedTail = overlapMs > 0 ? await deps.store.readTail() : null;
    const previousTail = storedTail?.windowKey.endsWith(`_${windowKey({ start: window.start, end: window.start }).split('_')[0]}`)
      ? storedTail
      : null;
    const tailFrom =
      requested && overlapMs > 0 ? maxWall(requested.from, wallBoundary(window.end.getTime() - overlapMs, config.lastpass.timeZone)) : null;
    const intake = createWindowIntake({
      apiUser: config.lastpass.apiUser,
      windowStart: window.start.getTime(),
      windowEnd: window.end.getTime(),
      history: await deps.store.readHistory(),
      tailFrom,
      knownTail: previousTail ? previousTail.fingerprints : null,
    });
    // Each accepted response goes to the evidence archive (hashed and compressed on the thread pool) while
    // the next one is fetched and analysed; the archive holds at most three pages in flight. (Evidence errors
    // are recorded, never thrown.)
    const deadline = options.deadline === undefined ? {} : { deadline: options.deadline };
    let tailRequests = 0;
    if (previousTail) {
      const tailStats = await deps.lastpass.fetchEvents({ from: previousTail.from, to: previousTail.to }, intake.late, {
        ...deadline,
        onPage: (page) => evidence.page(page.bytes),
      });
      tailRequests = tailStats.requests;
      requests += tailStats.requests;
      pages += tailStats.pages;
    }
    if (requested) {
      let pageNumber = 0;
      const stats = await deps.lastpass.fetchEvents(requested, intake.window, {
        ...deadline,
        onPage: async (page) => {
          deps.checkpoint?.(`fetch.page.${++pageNumber}`);
          await evidence.page(page.bytes);
        },
      });
      requests += stats.requests;
      pages += stats.pages;
      logger.info('lastpass.fetched', { key, requests: stats.requests, pages: stats.pages, events: stats.events, retries: stats.retries });
    }
    const sessionResult = intake.finish();
    if (requested && tailFrom !== null && tailFrom <= requested.to) {
      tail = { windowKey: key, from: tailFrom, to: requested.to, fingerprints: sessionResult.tailPrints };
    }
    const lateArrivals = sessionResult.lateArrivals;
    if (previousTail) {
      logger.info('lastpass.late_arrivals', { key, previous: previousTail.windowKey, late: lateArrivals, requests: tailRequests });
      if (lateArrivals > 0) {
        ctx.notices.push(
          `${formatCount(lateArrivals)} event${lateArrivals === 1 ? '' : 's'} of the previous window's last ${Math.round(overlapMs / 60_000)} minutes (${previousTail.from} … ${previousTail.to}, LastPass time) reached LastPass after that digest was sent: ${lateArrivals === 1 ? 'it is' : 'they are'} included in this digest's counts and findings.`,
        );
      }
    }
    analysis = sessionResult.analysis;
    const label = windowLabel(window, config.report.timeZone);
    // Every security-relevant event, then the unrecognised ones (they may matter: nobody has rated them yet).
    const exported = [...analysis.relevant, ...analysis.unrecognisedRows];
    // Encoded once: the same bytes are attached and sealed into the evidence.
    const eventsJson = Buffer.from(eventsToJson(exported), 'utf8');
    if (exported.length > 0) {
      const name = `lastpass-security-events-${label}`;
      attachments = [
        {
          filename: `${name}.csv`,
          type: 'text/csv',
          content: Buffer.from(eventsToCsv(exported, config.report.timeZone)).toString('base64'),
        },
        { filename: `${name}.json`, type: 'application/json', content: eventsJson.toString('base64') },
      ];
    }
    // Evidence content (request, raw pages, events) is sealed before rendering: its hash is in the footer.
    const evidenceFooter = await evidence.seal(eventsJson);
    const context = {
      window,
      requested,
      requests,
      pages,
      reportTimeZone: config.report.timeZone,
      lastpassTimeZone: config.lastpass.timeZone,
      version: deps.version,
      generatedAt: deps.now(),
      prior: ctx.prior,
      attachments: attachments.length ? { csv: attachments[0]!.filename, json: attachments[1]!.filename } : null,
    };
    deps.checkpoint?.('analysis.done');
    ({ model, html, text } = renderWithinBudget(deps.renderer, (caps) => {
      const m = buildDigestModel(analysis, context, caps);
      m.notices = ctx.notices;
      if (evidenceFooter) m.footer.evidence = evidenceFooter;
      return m;
    }));
  } catch (error) {
    const { result: failed, notice } = await fail(
      deps,
      options,
      window,
      ctx,
      'The events of this window could not be fetched completely, so no digest was built.',
      error,
    );
    await evidence.finish({
      status: 'failed',
      ...notice.files,
      delivery: { sent: false, recipients: config.report.to, error: describeError(error), notice: notice.record },
      run: runRecord(),
      finishedAt: deps.now(),
    });
    return { ...failed, ...evidence.outcome() };
  }

  // 2. Deliver. Intent first, so a crash mid-send is known at the next start.
  const message: OutgoingMessage = {
    key,
    kind: 'digest',
    from: config.report.from,
    to: config.report.to,
    subject: model.subject,
    html,
    text,
    customArgs: { digest_window: key, digest_marker: ctx.marker, digest_attempt: String(ctx.attempt) },
    attachments,
  };
  if (dryRun) {
    const out = await deps.outbox.send(message);
    logger.info('run.window_dry_run', { key, destination: out.destination, eventsReviewed: analysis.eventsReviewed });
    return {
      key,
      window,
      status: 'dry-run',
      destination: out.destination,
      subject: model.subject,
      eventsReviewed: analysis.eventsReviewed,
    };
  }
  try {
    deps.checkpoint?.('render.done');
    await deps.store.beginDelivery({
      key,
      start: window.start.toISOString(),
      end: window.end.toISOString(),
      marker: ctx.marker,
      startedAt: deps.now().toISOString(),
      attempt: ctx.attempt,
    });
    deps.checkpoint?.('delivery.intent_recorded');
    const sent = await deps.mailer.send(message, options.deadline === undefined ? {} : { deadline: options.deadline });
    deps.checkpoint?.('delivery.sent');
    const delivered: DeliveredWindow = {
      key,
      start: ctx.recordStart.toISOString(),
      end: window.end.toISOString(),
      deliveredAt: deps.now().toISOString(),
      messageId: sent.messageId,
      marker: ctx.marker,
      summary: summarise(analysis),
    };
    await deps.store.completeDelivery(
      delivered,
      {
        windowKey: key,
        day: windowLabel(window, config.report.timeZone),
        users: analysis.history,
      },
      tail,
    );
    deps.checkpoint?.('delivery.recorded');
    await evidence.finish({
      status: 'delivered',
      html,
      text,
      delivery: {
        sent: true,
        destination: sent.destination,
        messageId: sent.messageId,
        from: config.report.from,
        recipients: config.report.to,
        subject: model.subject,
        marker: ctx.marker,
        deliveredAt: delivered.deliveredAt,
      },
      run: { ...runRecord(), eventsReviewed: analysis.eventsReviewed },
      finishedAt: deps.now(),
    });
    logger.info('run.window_delivered', {
      key,
      destination: sent.destination,
      messageId: sent.messageId,
      eventsReviewed: analysis.eventsReviewed,
      high: analysis.bySeverity.high,
      medium: analysis.bySeverity.medium,
      ms: Date.now() - started,
    });
    return {
      key,
      delivered,
      window,
      status: 'delivered',
      destination: sent.destination,
      messageId: sent.messageId,
      subject: model.subject,
      eventsReviewed: analysis.eventsReviewed,
      ...evidence.outcome(),
    };
  } catch (error) {
    if (error instanceof UpstreamError && error.service === 'sendgrid' && !error.retryable) {
      // SendGrid refused it: it was definitely not sent, so the next attempt is no "possible duplicate".
      await deps.store.abandonDelivery(key).catch((e: unknown) => logger.error('store.abandon_failed', { error: describeError(e) }));
    }
    const { result: failed, notice } = await fail(deps, options, window, ctx, 'The digest was built but could not be delivered.', error);
    await evidence.finish({
      status: 'failed',
      html,
      text,
      ...notice.files,
      delivery: { sent: false, recipients: config.report.to, subject: model.subject, error: describeError(error), notice: notice.record },
      run: runRecord(),
      finishedAt: deps.now(),
    });
    return { ...failed, ...evidence.outcome() };
  }
}

/** Gmail clips HTML parts above ~102 KB: stay under this, whatever the volume. */
export const HTML_BUDGET_BYTES = 100_000;

/**
 * Renders the digest, and while the HTML part is over budget, halves the row caps and renders again.
 * The counts always cover everything; the attachments hold every event.
 */
export function renderWithinBudget(
  renderer: Renderer,
  build: (caps: DigestCaps) => DigestModel,
  budget = HTML_BUDGET_BYTES,
): { model: DigestModel; html: string; text: string } {
  let caps = { ...DEFAULT_CAPS };
  for (let attempt = 0; ; attempt++) {
    const model = build(caps);
    const { html, text } = renderer.renderDigest(model);
    if (Buffer.byteLength(html) <= budget || attempt >= 6) return { model, html, text };
    caps = {
      detections: Math.max(5, caps.detections >> 1),
      findings: Math.max(5, caps.findings >> 1),
      low: Math.max(3, caps.low >> 1),
      unrecognised: Math.max(5, caps.unrecognised >> 1),
      text: Math.max(80, caps.text >> 1),
    };
  }
}

/** How long a tail of each window is asked for again at the next run, to catch late arrivals. */
export const DEFAULT_LATE_OVERLAP_MINUTES = 15;

const maxWall = (a: string, b: string): string => (a > b ? a : b);

export function summarise(analysis: AnalysisResult): DeliverySummary {
  const byCategory: Record<string, number> = {};
  for (const [category, c] of analysis.byCategory) byCategory[category] = c.high + c.medium + c.low;
  return { eventsReviewed: analysis.eventsReviewed, ...analysis.bySeverity, byCategory };
}

function adviceFor(error: unknown): string {
  if (error instanceof AuthorizationError) {
    return 'Check LASTPASS_ACCOUNT_NUMBER and LASTPASS_API_KEY (Admin Console > Advanced > Enterprise API). If the secret was regenerated, update the secret and restart the worker. The window will be reported at the next run.';
  }
  if (error instanceof UpstreamError && error.service === 'sendgrid') {
    return 'Fix the SendGrid problem above; the window stays due and is reported at the next run.';
  }
  return 'Nothing is lost: the window stays due and the worker retries at the next run. Run "lastpass-audit-digest check" to test both APIs now.';
}

async function fail(
  deps: RunDeps,
  options: RunOptions,
  window: ReportWindow,
  ctx: WindowContext,
  what: string,
  error: unknown,
): Promise<{ result: WindowResult; notice: FailureNoticeRecord }> {
  const { logger, config } = deps;
  const notice: FailureNoticeRecord = { files: {}, record: { sent: false } };
  const message = describeError(error);
  logger.error('run.window_failed', {
    key: ctx.key,
    error: message,
    errorName: error instanceof Error ? error.name : typeof error,
    service: error instanceof UpstreamError ? error.service : undefined,
    status: error instanceof UpstreamError ? error.status : undefined,
  });
  if (!(error instanceof DigestError)) {
    // Unexpected (a bug, not an upstream problem): keep the stack in the log, it holds no secret.
    logger.error('run.unexpected_error', { stack: error instanceof Error ? error.stack : String(error) });
  }
  const failures = ctx.consecutiveFailures + 1;
  if (!options.dryRun) {
    try {
      await deps.store.recordFailure({
        key: ctx.key,
        start: window.start.toISOString(),
        end: window.end.toISOString(),
        at: deps.now().toISOString(),
        message,
      });
    } catch (storeError) {
      logger.error('store.record_failure_failed', { error: describeError(storeError) });
    }
  }
  try {
    const model = buildFailureModel({
      window,
      coveredUntil: ctx.coveredUntil,
      now: deps.now(),
      what,
      error: message,
      advice: adviceFor(error),
      consecutiveFailures: failures,
      reportTimeZone: config.report.timeZone,
      version: deps.version,
      generatedAt: deps.now(),
    });
    const { html, text } = deps.renderer.renderFailure(model);
    notice.files = { noticeHtml: html, noticeText: text };
    notice.record = { sent: false, subject: model.subject, recipients: config.report.to };
    const target = options.dryRun ? deps.outbox : deps.mailer;
    const sent = await target.send({
      key: `${ctx.key}.failed-${failures}`,
      kind: 'failure',
      from: config.report.from,
      to: config.report.to,
      subject: model.subject,
      html,
      text,
      customArgs: { digest_window: ctx.key, digest_failure: String(failures) },
    });
    notice.record = { sent: true, subject: model.subject, recipients: config.report.to, messageId: sent.messageId };
  } catch (noticeError) {
    logger.error('run.failure_notice_failed', { key: ctx.key, error: describeError(noticeError) });
    notice.record = { ...notice.record, sent: false, error: describeError(noticeError) };
  }
  return { result: { key: ctx.key, window, status: 'failed', error: message }, notice };
}

/** The FAILED notice as the evidence bundle records it: the rendered parts and whether it went out. */
interface FailureNoticeRecord {
  files: { noticeHtml?: string; noticeText?: string };
  record: { sent: boolean; subject?: string; recipients?: string[]; messageId?: string | null; error?: string };
}
