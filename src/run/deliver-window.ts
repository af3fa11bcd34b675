/**
 * Stage 3 of a window: deliver. A dry run writes the message to the outbox and changes nothing else. A
 * real one records its intent first (so a crash mid-send is known at the next start), sends, then records
 * the delivered window with its history contribution and tail in one step, and finishes the evidence
 * bundle. A failure to deliver sends the FAILED notice instead.
 */
import type { AnalysisResult } from '../core/analysis.js';
import { windowLabel } from '../core/digest-model.js';
import type { DeliveredWindow, DeliveryEvidence, DeliverySummary } from '../core/run-state.js';
import { StorageError, UpstreamError, describeError } from '../errors.js';
import type { RunEvidence } from '../evidence/run-evidence.js';
import type { ComposedDigest } from './compose-digest.js';
import { failWindow } from './failure-notice.js';
import type { FetchedWindow } from './fetch-window.js';
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
    sentAs = { messageId: sent.messageId, destination: sent.destination };
    deps.checkpoint?.('delivery.sent');
    const delivered: DeliveredWindow = {
      key,
      start: ctx.recordStart.toISOString(),
      end: window.end.toISOString(),
      deliveredAt: deps.now().toISOString(),
      messageId: sent.messageId,
      marker: ctx.marker,
      summary: summarise(analysis),
      // The sealed bundle, recorded with the delivery: verify then notices the bundle going missing.
      ...(evidence.sealed() ? { evidence: evidence.sealed() as DeliveryEvidence } : {}),
    };
    await deps.store.completeDelivery(
      delivered,
      { windowKey: key, day: windowLabel(window, config.report.timeZone), users: analysis.history },
      fetched.tail,
    );
    deps.checkpoint?.('delivery.recorded');
    await evidence.finish({
      status: 'delivered',
      html: message.html,
      text: message.text,
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
      ms: deps.now().getTime() - ctx.startedAt.getTime(),
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
    return failWindow(deps, ctx, evidence, {
      // Sent but not recorded: the pending intent stays, so the next run sends it again marked as a possible duplicate.
      what: sentAs
        ? `The digest was sent${sentAs.messageId ? ` (SendGrid message id ${sentAs.messageId})` : ''}, but the store could not record it as delivered: the next run sends this window again, marked as a possible duplicate.`
        : error instanceof StorageError
          ? 'The digest was built but not sent: the store could not record the delivery that was about to start.'
          : 'The digest was built but could not be delivered.',
      error,
      digest: { html: message.html, text: message.text, subject: model.subject },
      ...(sentAs ? { sent: sentAs } : {}),
      run: runRecord,
    });
  }
}

/** What the state keeps of a delivered window's analysis, for the trends and verdicts of later days. */
export function summarise(analysis: AnalysisResult): DeliverySummary {
  const byCategory: Record<string, number> = {};
  for (const [category, c] of analysis.byCategory) byCategory[category] = c.high + c.medium + c.low;
  return { eventsReviewed: analysis.eventsReviewed, ...analysis.bySeverity, byCategory };
}
