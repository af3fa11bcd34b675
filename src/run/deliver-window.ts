/**
 * Stage 3 of a window: deliver. A dry run writes the message to the outbox and changes nothing else. A
 * real one records its intent first (so a crash mid-send is known at the next start), sends, then records
 * the delivered window with its history contribution and tail in one step, and finishes the evidence
 * bundle. A send SendGrid did not confirm is recorded as "maybe sent" and sent again with the same marker
 * and a "Possible duplicate" notice (sendConfirmed). SendGrid refusing the message as too large (HTTP 413)
 * is answered once, by sending the digest without its attachments (with a notice saying why and how to get
 * them); never the same body again. A delivered digest with high findings is also summarised to the alarm
 * webhook (verdict and top findings, no link). A failure to deliver sends the FAILED notice instead.
 */
import { type AlarmNotice, MAX_TOP_FINDINGS } from '../core/alarm.js';
import type { AnalysisResult } from '../core/analysis.js';
import type { DigestModel } from '../core/digest-model-types.js';
import { windowLabel } from '../core/digest-model.js';
import { possibleDuplicateNotice } from '../core/run-plan.js';
import type { DeliveredWindow, DeliveryEvidence, DeliveryIntent, DeliverySummary, MaybeSent } from '../core/run-state.js';
import { MAX_UNCONFIRMED_RESENDS, resendWait } from '../core/send-outcome-rules.js';
import { MessageTooLargeError, RetryDeadlineError, StorageError, UpstreamError, describeError } from '../errors.js';
import type { DeliveryResult, OutgoingMessage } from '../ports.js';
import type { RunEvidence } from '../evidence/run-evidence.js';
import type { ComposedDigest } from './compose-digest.js';
import { failWindow } from './failure-notice.js';
import type { FetchedWindow } from './fetch-window.js';
import { asDeadlineFailure } from './run-deadline.js';
import type { RunDeps, RunOptions, WindowContext, WindowResult } from './run-types.js';

export async function deliverWindow(
  deps: RunDeps,
  options: RunOptions,
  ctx: WindowContext,
  fetched: FetchedWindow,
  digest: ComposedDigest,
  evidence: RunEvidence,
  runRecord: () => Record<string, unknown>,
): Promise<WindowResult> {
  const { logger, config } = deps;
  const { key, window } = ctx;
  const { analysis } = fetched;
  const { message, model } = digest;
  if (ctx.dryRun) {
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
  let sentAs: { messageId: string | null; destination: string } | undefined;
  try {
    deps.checkpoint?.('render.done');
    const { sent, message: delivering, model: deliveredModel } = await sendConfirmed(deps, options, ctx, digest);
    sentAs = { messageId: sent.messageId, destination: sent.destination };
    deps.checkpoint?.('delivery.sent');
    const delivered: DeliveredWindow = {
      key,
      start: ctx.recordStart.toISOString(),
      end: window.end.toISOString(),
      deliveredAt: deps.now().toISOString(),
      messageId: sent.messageId,
      marker: ctx.marker,
      summary: {
        ...summarise(analysis),
        verdict: { level: deliveredModel.verdictLevel, text: deliveredModel.verdict, findings: deliveredModel.findingCount },
      },
      // The sealed bundle, recorded with the delivery: verify then notices the bundle going missing.
      ...(evidence.sealed() ? { evidence: evidence.sealed() as DeliveryEvidence } : {}),
    };
    await deps.store.completeDelivery(
      delivered,
      { windowKey: key, day: windowLabel(window, config.report.timeZone), users: analysis.history },
      fetched.tail,
    );
    deps.checkpoint?.('delivery.recorded');
    const webhook =
      deps.notifier && deliveredModel.detections.some((d) => d.severity === 'high')
        ? await deps.notifier.notify(
            digestAlarm(deps, ctx, deliveredModel, analysis),
            options.deadline === undefined ? {} : { deadline: options.deadline },
          )
        : undefined;
    await evidence.finish({
      status: 'delivered',
      html: delivering.html,
      text: delivering.text,
      delivery: {
        sent: true,
        destination: sent.destination,
        messageId: sent.messageId,
        from: config.report.from,
        recipients: config.report.to,
        subject: deliveredModel.subject,
        marker: ctx.marker,
        deliveredAt: delivered.deliveredAt,
        ...(webhook ? { webhook } : {}),
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
      ms: deps.now().getTime() - ctx.startedAt.getTime(),
    });
    return {
      key,
      delivered,
      window,
      status: 'delivered',
      destination: sent.destination,
      messageId: sent.messageId,
      subject: deliveredModel.subject,
      eventsReviewed: analysis.eventsReviewed,
      digest: {
        verdict: deliveredModel.verdict,
        verdictLevel: deliveredModel.verdictLevel,
        findingCount: deliveredModel.findingCount,
        bySeverity: { ...analysis.bySeverity },
        topFindings: deliveredModel.detections.slice(0, 3).map((d) => ({ severity: d.severity, title: d.title, subject: d.subject })),
      },
      ...evidence.outcome(),
    };
  } catch (error) {
    const unconfirmed = error instanceof UnconfirmedSend;
    const cause = unconfirmed ? error.cause : error;
    return failWindow(deps, ctx, evidence, {
      // Sent but not recorded: the pending intent stays, so the next run sends it again marked as a possible duplicate.
      what: sentAs
        ? `The digest was sent${sentAs.messageId ? ` (SendGrid message id ${sentAs.messageId})` : ''}, but the store could not record it as delivered: the next run sends this window again, marked as a possible duplicate.`
        : unconfirmed
          ? 'The digest was sent but SendGrid did not confirm it, so it may or may not have arrived. The next run sends it again with the same marker and a "Possible duplicate" notice.'
          : cause instanceof StorageError
            ? 'The digest was built but not sent: the store could not record the delivery that was about to start.'
            : 'The digest was built but could not be delivered.',
      error: asDeadlineFailure(cause, ctx.runDeadline),
      digest: { html: message.html, text: message.text, subject: model.subject },
      ...(sentAs ? { sent: sentAs } : {}),
      run: runRecord,
    });
  }
}

/** The send failed after one that SendGrid left unconfirmed: the window is "maybe sent" (its intent is kept). */
class UnconfirmedSend extends Error {
  override readonly cause: unknown;
  constructor(cause: unknown) {
    super(describeError(cause));
    this.cause = cause;
  }
}

/**
 * The intent recorded, then the send, classified by its outcome (issue #13; the mailer says which):
 * - confirmed (202): done;
 * - unknown (may have been accepted): recorded as "maybe sent" on the intent first, then, within the run's
 *   deadline and at most MAX_UNCONFIRMED_RESENDS times, sent again with the same marker and the "Possible
 *   duplicate" notice; otherwise the intent stays and the next run repairs the window the same way;
 * - not sent: the intent is dropped (the next attempt is an ordinary one), unless an earlier send of this
 *   window may have been accepted (this run's, or the one the run plan repairs): then it stays.
 */
async function sendConfirmed(
  deps: RunDeps,
  options: RunOptions,
  ctx: WindowContext,
  digest: ComposedDigest,
): Promise<{ sent: DeliveryResult; message: OutgoingMessage; model: ComposedDigest['model'] }> {
  const { key, window } = ctx;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  // A repair (attempt > 1) repeats a send that may have been accepted: a crash mid-send, or an unconfirmed one.
  let earlierMaybeSent = ctx.attempt > 1 || ctx.maybeSent !== null;
  let current: ComposedDigest = digest;
  let intent: DeliveryIntent = {
    key,
    start: window.start.toISOString(),
    end: window.end.toISOString(),
    marker: ctx.marker,
    startedAt: deps.now().toISOString(),
    attempt: ctx.attempt,
    ...(ctx.maybeSent ? { maybeSent: ctx.maybeSent } : {}),
  };
  for (let resend = 0; ; resend++) {
    await deps.store.beginDelivery(intent);
    deps.checkpoint?.('delivery.intent_recorded');
    try {
      const sent = await deps.mailer.send(current.message, options.deadline === undefined ? {} : { deadline: options.deadline });
      return { sent, message: current.message, model: current.model };
    } catch (error) {
      if (error instanceof MessageTooLargeError && (current.message.attachments ?? []).length > 0) {
        // Refused, so not sent: once more without the attachments (a second 413 fails the window).
        deps.logger.warn('run.message_too_large', {
          key,
          attachments: current.message.attachments?.length ?? 0,
          error: describeError(error),
        });
        current = current.withoutAttachments();
        resend--;
        continue;
      }
      const outcome = error instanceof UpstreamError && error.service === 'sendgrid' ? error.sendOutcome : null;
      if (
        outcome === 'not-sent' ||
        (outcome === null && error instanceof UpstreamError && error.service === 'sendgrid' && !error.retryable)
      ) {
        if (earlierMaybeSent) throw new UnconfirmedSend(error);
        // It certainly did not leave: no "maybe sent" record, the next attempt is an ordinary one.
        await deps.store.abandonDelivery(key).catch((e: unknown) => deps.logger.error('store.abandon_failed', { error: describeError(e) }));
        throw error;
      }
      if (outcome !== 'unknown') throw earlierMaybeSent ? new UnconfirmedSend(error) : error;
      // It may have been accepted: recorded before anything else, so that no re-send is ever silent.
      const maybeSent: MaybeSent = { at: deps.now().toISOString(), reason: describeError(error) };
      intent = { ...intent, maybeSent };
      await deps.store.beginDelivery(intent);
      earlierMaybeSent = true;
      deps.checkpoint?.('delivery.maybe_sent');
      const wait = resendWait(error instanceof UpstreamError ? error.retryAfterSeconds : null, resend + 1);
      const within = options.deadline === undefined || deps.now().getTime() + wait <= options.deadline;
      deps.logger.warn('delivery.maybe_sent', {
        key,
        marker: ctx.marker,
        attempt: intent.attempt,
        error: maybeSent.reason,
        resend: resend < MAX_UNCONFIRMED_RESENDS && within ? { inMs: wait } : null,
      });
      if (resend >= MAX_UNCONFIRMED_RESENDS) throw new UnconfirmedSend(error);
      // The re-send would start past the deadline: the failure names it (run-deadline.ts).
      if (!within) throw new UnconfirmedSend(new RetryDeadlineError(error, options.deadline!, 'sendgrid', ''));
      await sleep(wait);
      const attempt = intent.attempt + 1;
      // From the digest as last sent: one already stripped of its attachments after a 413 stays so.
      current = current.withNotice(possibleDuplicateNotice(intent), attempt);
      intent = { ...intent, attempt, startedAt: deps.now().toISOString() };
    }
  }
}

/** What the state keeps of a delivered window's analysis, for the trends and verdicts of later days. */
export function summarise(analysis: AnalysisResult): DeliverySummary {
  const byCategory: Record<string, number> = {};
  for (const [category, c] of analysis.byCategory) byCategory[category] = c.high + c.medium + c.low;
  return { eventsReviewed: analysis.eventsReviewed, ...analysis.bySeverity, byCategory };
}

/** The alarm webhook's summary of a delivered digest: its verdict, counts and top findings (high first), no link. */
function digestAlarm(deps: RunDeps, ctx: WindowContext, model: DigestModel, analysis: AnalysisResult): AlarmNotice {
  return {
    kind: 'digest',
    account: deps.config.lastpass.accountNumber,
    window: { key: ctx.key, start: ctx.window.start.toISOString(), end: ctx.window.end.toISOString() },
    subject: model.subject,
    verdict: model.verdict,
    counts: { eventsReviewed: analysis.eventsReviewed, findings: model.findingCount, ...analysis.bySeverity },
    topFindings: model.detections.slice(0, MAX_TOP_FINDINGS).map((d) => ({
      severity: d.severity,
      title: d.title,
      subject: d.subject,
      reason: d.reason,
      time: d.time,
    })),
    failure: null,
    generatedAt: deps.now().toISOString(),
    generator: `lastpass-audit-digest ${deps.version}`,
  };
}
