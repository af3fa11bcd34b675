/**
 * A window that failed: the failure is logged at error level and recorded in the store (not for dry runs),
 * the recipients get a FAILED notice instead of a digest (a dry run writes it to the outbox), and the
 * evidence bundle is finished as failed, with the notice that was rendered. The same notice goes to the alarm
 * webhook (NOTIFY_WEBHOOK_URL) when one is configured, whether or not the email went out (SendGrid may be
 * what failed). A notice that cannot be sent is logged and named in the result (`noticeError`: the command
 * says so on stderr); the run is failed either way. Failures outside a window's stages are as loud: a store
 * that cannot be read or locked (`failRun`), and evidence that could not be written for a delivered digest
 * (`noticeEvidenceFailure`).
 *
 * The error's text is made safe once, here, before it goes anywhere (log, state, notice, evidence, the
 * webhook, the run's result that the heartbeat pings): redacted of every configured secret in every form
 * and capped (src/adapters/http/redact.ts). The adapters already redact upstream text where it enters; this
 * is the same redactor at the exit, for text that reached an error some other way.
 */
import { buildFailureModel } from '../core/digest-model.js';
import { DAY_MS, windowKey } from '../core/window-plan.js';
import { createSecretRedactor, upstreamText } from '../adapters/http/redact.js';
import { AuthorizationError, ClockError, DigestError, EvidenceError, StorageError, UpstreamError, describeError } from '../errors.js';
import { createRunEvidence, type RunEvidence } from '../evidence/run-evidence.js';
import type { NotifyResult } from '../ports.js';
import { runDeadline } from './run-deadline.js';
import type { RunDeps, RunOptions, WindowContext, WindowResult } from './run-types.js';

/** What a FAILED notice says happened when the store failed (reading or writing state, locking). */
export const STORE_FAILED_WHAT =
  'The worker could not read or write its store (run state and history), so no digest was built or recorded.';

/** The parts of the digest that was built before delivery failed (evidence keeps them). */
export interface UndeliveredDigest {
  html: string;
  text: string;
  subject: string;
}

export async function failWindow(
  deps: RunDeps,
  ctx: WindowContext,
  evidence: RunEvidence,
  failure: {
    what: string;
    error: unknown;
    digest?: UndeliveredDigest;
    /** Set when the digest itself went out before the failure (its record could not be written). */
    sent?: { messageId: string | null; destination: string };
    run: () => Record<string, unknown>;
  },
): Promise<WindowResult> {
  const { config } = deps;
  const { error, digest } = failure;
  const safe = safeErrorText(deps);
  const message = safe(describeError(error));
  const notice = await sendFailureNotice(deps, ctx, failure.what, error, message, safe, failure.sent !== undefined);
  await evidence.finish({
    status: 'failed',
    ...(digest ? { html: digest.html, text: digest.text } : {}),
    ...notice.files,
    delivery: {
      sent: failure.sent !== undefined,
      ...(failure.sent ? { messageId: failure.sent.messageId, destination: failure.sent.destination } : {}),
      recipients: config.report.to,
      ...(digest ? { subject: digest.subject } : {}),
      error: message,
      notice: notice.record,
    },
    run: failure.run(),
    finishedAt: deps.now(),
  });
  return {
    key: ctx.key,
    window: ctx.window,
    status: 'failed',
    error: message,
    ...(notice.record.sent ? {} : { noticeError: notice.record.error ?? 'not sent' }),
    ...evidence.outcome(),
  };
}

/**
 * A failure outside any window's stages (the store could not be locked, read or repaired; anything the
 * stages did not catch): the FAILED notice names the window that was due (the asked range, or the last 24
 * hours), the failure is recorded if the store still takes it, and the run is failed. Never throws.
 */
export async function failRun(deps: RunDeps, options: RunOptions, error: unknown): Promise<WindowResult> {
  const now = deps.now();
  const window = { start: options.from ?? new Date((options.to ?? now).getTime() - DAY_MS), end: options.to ?? now };
  const key = windowKey(window);
  const ctx: WindowContext = {
    key,
    window,
    dryRun: options.dryRun ?? false,
    prior: [],
    recordStart: window.start,
    coveredUntil: null,
    notices: [],
    marker: `${key}.failed`,
    attempt: 1,
    consecutiveFailures: 0,
    startedAt: now,
    cautions: [],
    probes: [],
    runDeadline: runDeadline(now, deps.config.report.runDeadlineMinutes),
    maybeSent: null,
  };
  const what = error instanceof StorageError ? STORE_FAILED_WHAT : 'The run stopped before a digest could be built.';
  return failWindow(deps, ctx, createRunEvidence(null, deps.logger, deps.now), {
    what,
    error,
    run: () => ({ windowKey: key, startedAt: now.toISOString(), finishedAt: deps.now().toISOString() }),
  });
}

/**
 * A digest that was delivered but whose evidence bundle could not be written: the window stays delivered
 * (it is not sent again), the recipients and the heartbeat hear of it through a FAILED notice, and the run
 * is failed. Returns the result with `noticeError` when the notice could not be sent either.
 */
export async function noticeEvidenceFailure(deps: RunDeps, ctx: WindowContext, result: WindowResult): Promise<WindowResult> {
  const error = new EvidenceError(result.evidenceError ?? 'Evidence could not be written.');
  const safe = safeErrorText(deps);
  const notice = await sendFailureNotice(
    deps,
    ctx,
    `The digest was delivered${result.messageId ? ` (SendGrid message id ${result.messageId})` : ''}, but its compliance evidence bundle could not be written, so this window has no verifiable evidence.`,
    error,
    safe(describeError(error)),
    safe,
    true,
  );
  return notice.record.sent ? result : { ...result, noticeError: notice.record.error ?? 'not sent' };
}

/** Every configured secret (the LastPass one at least) out of an error text, and the text capped. */
function safeErrorText(deps: RunDeps): (text: string) => string {
  const redact = createSecretRedactor([deps.config.lastpass.apiSecret, ...(deps.config.secrets ?? [])]);
  return (text) => upstreamText(text, redact);
}

/** The FAILED notice as the evidence bundle records it: the rendered parts and whether it went out. */
interface FailureNoticeRecord {
  files: { noticeHtml?: string; noticeText?: string };
  record: {
    sent: boolean;
    subject?: string;
    recipients?: string[];
    messageId?: string | null;
    error?: string;
    /** The alarm webhook's outcome (never its URL). */
    webhook?: NotifyResult;
  };
}

async function sendFailureNotice(
  deps: RunDeps,
  ctx: WindowContext,
  what: string,
  error: unknown,
  message: string,
  safe: (text: string) => string,
  digestSent = false,
): Promise<FailureNoticeRecord> {
  const { logger, config } = deps;
  const notice: FailureNoticeRecord = { files: {}, record: { sent: false } };
  logger.error('run.window_failed', {
    key: ctx.key,
    error: message,
    errorName: error instanceof Error ? error.name : typeof error,
    service: error instanceof UpstreamError ? error.service : undefined,
    status: error instanceof UpstreamError ? error.status : undefined,
  });
  if (!(error instanceof DigestError)) {
    // Unexpected (a bug, not an upstream problem): keep the stack in the log, it holds no secret.
    logger.error('run.unexpected_error', { stack: safe(error instanceof Error ? (error.stack ?? error.message) : String(error)) });
  }
  const failures = ctx.consecutiveFailures + 1;
  if (!ctx.dryRun) {
    try {
      await deps.store.recordFailure({
        key: ctx.key,
        start: ctx.window.start.toISOString(),
        end: ctx.window.end.toISOString(),
        at: deps.now().toISOString(),
        message,
      });
    } catch (storeError) {
      logger.error('store.record_failure_failed', { error: safe(describeError(storeError)) });
    }
  }
  try {
    const model = buildFailureModel({
      window: ctx.window,
      coveredUntil: ctx.coveredUntil,
      now: deps.now(),
      what,
      error: message,
      advice: adviceFor(error, digestSent),
      consecutiveFailures: failures,
      digestSent,
      reportTimeZone: config.report.timeZone,
      version: deps.version,
      generatedAt: deps.now(),
    });
    const { html, text } = deps.renderer.renderFailure(model);
    notice.files = { noticeHtml: html, noticeText: text };
    notice.record = { sent: false, subject: model.subject, recipients: config.report.to };
    const target = ctx.dryRun ? deps.outbox : deps.mailer;
    const sent = await target.send(
      {
        key: `${ctx.key}.failed-${failures}`,
        kind: 'failure',
        from: config.report.from,
        to: config.report.to,
        subject: model.subject,
        html,
        text,
        customArgs: { digest_window: ctx.key, digest_failure: String(failures) },
      },
      { deadline: noticeDeadline(deps, ctx) },
    );
    notice.record = { sent: true, subject: model.subject, recipients: config.report.to, messageId: sent.messageId };
  } catch (noticeError) {
    const noticeMessage = safe(describeError(noticeError));
    logger.error('run.failure_notice_failed', { key: ctx.key, error: noticeMessage });
    notice.record = { ...notice.record, sent: false, error: noticeMessage };
  }
  if (deps.notifier && !ctx.dryRun) {
    notice.record.webhook = await deps.notifier.notify(
      {
        kind: 'failed',
        account: config.lastpass.accountNumber,
        window: { key: ctx.key, start: ctx.window.start.toISOString(), end: ctx.window.end.toISOString() },
        subject: notice.record.subject ?? `FAILED: LastPass security digest ${ctx.key} — window not reviewed`,
        verdict: what,
        counts: null,
        topFindings: [],
        failure: { error: message, advice: adviceFor(error, digestSent), consecutiveFailures: failures, emailSent: notice.record.sent },
        generatedAt: deps.now().toISOString(),
        generator: `lastpass-audit-digest ${deps.version}`,
      },
      { deadline: noticeDeadline(deps, ctx) },
    );
  }
  return notice;
}

/** A FAILED notice is attempted even past the run's deadline, with at most a minute of retries. */
const NOTICE_GRACE_MS = 60_000;

function noticeDeadline(deps: RunDeps, ctx: WindowContext): number {
  return Math.max(ctx.runDeadline.at, deps.now().getTime() + NOTICE_GRACE_MS);
}

function adviceFor(error: unknown, digestSent: boolean): string {
  if (error instanceof EvidenceError && digestSent) {
    return 'Fix the storage named above (free disk space, the permissions of DATA_DIR, or a reachable DATABASE_URL), then run "lastpass-audit-digest verify": it reports this window\'s missing or incomplete bundle. The digest was delivered and is not sent again; keep it, it is the only record of this window.';
  }
  if (error instanceof AuthorizationError) {
    return 'Check the account number and its API secret (Admin Console > Advanced > Enterprise API): LASTPASS_ACCOUNT_NUMBER and LASTPASS_API_KEY, or for an account of ACCOUNTS_FILE its accountNumber and the variable its apiKeyEnv names. If the secret was regenerated, update the secret and restart the worker. The window will be reported at the next run.';
  }
  if (error instanceof ClockError) {
    return "Fix this machine's clock (NTP, e.g. timedatectl set-ntp true). Nothing was planned, fetched or marked delivered: the window stays due and is reported at the first run with a right clock.";
  }
  if (error instanceof StorageError || error instanceof EvidenceError) {
    return 'Fix the storage named above (free disk space, the permissions of DATA_DIR, or a reachable DATABASE_URL), then run "lastpass-audit-digest check" and "lastpass-audit-digest verify". Nothing that was not recorded as delivered is lost: the window stays due and is reported at the next run.';
  }
  if (error instanceof UpstreamError && error.service === 'sendgrid') {
    return 'Fix the SendGrid problem above; the window stays due and is reported at the next run.';
  }
  return 'Nothing is lost: the window stays due and the worker retries at the next run. Run "lastpass-audit-digest check" to test both APIs now.';
}
