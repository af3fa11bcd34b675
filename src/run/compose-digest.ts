/**
 * Stage 2 of a window: from the analysis to the message. The complete event list (every security-relevant
 * event, then the unrecognised ones: nobody has rated those yet) is encoded once as JSON and sealed into the
 * evidence before rendering, because the digest's footer carries the content hash. The attachments are that
 * list gzip-compressed as CSV and JSON, cut (most severe rows first) to what SendGrid always accepts
 * (core/attachment-plan.ts): the encoded request is measured after rendering and, while it is over
 * the limit, the attachments are rebuilt with fewer rows and the digest rendered again (it says how
 * many rows they hold and where the rest is).
 */
import { noiseSettings } from './fetch-window.js';
import {
  attachableTotal,
  attachmentsRefusedNotice,
  DEFAULT_ATTACHMENT_LIMITS,
  fewerRows,
  truncationNotice,
} from '../core/attachment-plan.js';
import { buildDigestModel, type Caution, windowLabel } from '../core/digest-model.js';
import { unusuallyFew } from '../core/silence-rule.js';
import type { DigestModel } from '../core/digest-model-types.js';
import { eventsToJson } from '../core/event-export.js';
import { encodedRequestBytes } from '../adapters/mail/mail-message.js';
import type { RunEvidence } from '../evidence/run-evidence.js';
import type { OutgoingMessage } from '../ports.js';
import { gzipAttachments, type GzipAttachments } from './digest-attachments.js';
import type { FetchedWindow } from './fetch-window.js';
import type { RunDeps, WindowContext } from './run-types.js';

export interface ComposedDigest {
  message: OutgoingMessage;
  model: DigestModel;
  /**
   * The same digest rendered again with `notice` among its notices (after a coverage gap's, before the
   * rest), as attempt `attempt`: the re-send after an unconfirmed send carries "Possible duplicate".
   */
  withNotice(notice: string, attempt: number): ComposedDigest;
  /**
   * The same digest without attachments, with a notice saying why they are missing and how to get them:
   * sent once when SendGrid refuses the message as too large (HTTP 413).
   */
  withoutAttachments(): ComposedDigest;
}

export async function composeDigest(
  deps: RunDeps,
  ctx: WindowContext,
  fetched: FetchedWindow,
  evidence: RunEvidence,
): Promise<ComposedDigest> {
  const { config } = deps;
  const limits = deps.attachmentLimits ?? DEFAULT_ATTACHMENT_LIMITS;
  const { key, window } = ctx;
  const { analysis } = fetched;
  const timeZone = config.report.timeZone;
  const day = windowLabel(window, timeZone);
  const exported = [...analysis.relevant, ...analysis.unrecognisedRows];
  const total = attachableTotal(analysis);
  // The complete list goes into the evidence (the attachments may hold only part of it).
  const allJson = Buffer.from(eventsToJson(exported), 'utf8');
  const evidenceFooter = await evidence.seal(allJson);
  // The rest of the rows can be pointed to only when a bundle holds them.
  const bundleKept = evidenceFooter !== null && evidence.outcome().evidenceError === undefined;
  // Where the rows the attachments leave out can be found (core/attachment-plan.ts).
  const evidenceFacts = { evidence: bundleKept, listed: exported.length, rawPages: deps.evidence?.keepsRawPages ?? false };
  const base = {
    window,
    requested: fetched.requested,
    requests: fetched.requests,
    pages: fetched.pages,
    reportTimeZone: timeZone,
    lastpassTimeZone: config.lastpass.timeZone,
    version: deps.version,
    generatedAt: deps.now(),
    prior: ctx.prior,
    cautions: digestCautions(deps, ctx, fetched),
    ...noiseSettings(config),
  };
  const notices = fetched.lateNotice === null ? ctx.notices : [...ctx.notices, fetched.lateNotice];
  deps.checkpoint?.('analysis.done');

  const compose = (files: GzipAttachments, extraNotice: string | null, withNotices: string[], attempt: number): ComposedDigest => {
    const [csv, json] = files.attachments;
    const context = {
      ...base,
      attachments: csv && json ? { csv: csv.filename, json: json.filename, rows: files.rows, total } : null,
    };
    const cut = extraNotice === null ? truncationNotice({ day, kept: files.rows, total, ...evidenceFacts }) : null;
    const allNotices = [...withNotices, ...(cut ? [cut] : []), ...(extraNotice ? [extraNotice] : [])];
    const { model, html, text } = deps.renderer.renderDigestWithinBudget((caps) => {
      const m = buildDigestModel(analysis, context, caps);
      m.notices = allNotices;
      if (evidenceFooter) m.footer.evidence = evidenceFooter;
      return m;
    });
    return {
      model,
      message: {
        key,
        kind: 'digest',
        from: config.report.from,
        to: config.report.to,
        subject: model.subject,
        html,
        text,
        customArgs: { digest_window: key, digest_marker: ctx.marker, digest_attempt: String(attempt) },
        attachments: files.attachments,
      },
      withNotice: (notice, next) => {
        // One "Possible duplicate" notice: the newest unconfirmed send replaces the run plan's.
        const others = withNotices.filter((n) => !n.startsWith('Possible duplicate'));
        const gaps = others.filter((n) => n.startsWith('Coverage gap'));
        return compose(files, extraNotice, [...gaps, notice, ...others.filter((n) => !gaps.includes(n))], next);
      },
      withoutAttachments: () =>
        compose(
          { attachments: [], rows: 0, encodedBytes: 0 },
          total > 0 ? attachmentsRefusedNotice({ day, total, ...evidenceFacts }) : null,
          withNotices,
          attempt,
        ),
    };
  };

  const name = `lastpass-security-events-${day}`;
  let rows = Math.min(exported.length, limits.maxRows);
  for (;;) {
    const files = gzipAttachments(exported, rows, name, timeZone, allJson);
    const digest = compose(files, null, notices, ctx.attempt);
    const bytes = encodedRequestBytes(digest.message);
    if (bytes <= limits.maxRequestBytes || files.rows === 0) return digest;
    rows = fewerRows(files.rows, files.encodedBytes, limits.maxRequestBytes - (bytes - files.encodedBytes));
    deps.logger.warn('digest.attachments_cut', { key, rows, total, requestBytes: bytes, maxRequestBytes: limits.maxRequestBytes });
  }
}

/**
 * Why this digest is not an all-clear: what the fetch found (rows outside the asked range), then silence
 * (core/silence-rule.ts: far fewer events than the delivered days say is usual).
 */
function digestCautions(deps: RunDeps, ctx: WindowContext, fetched: FetchedWindow): Caution[] {
  const cautions = [...ctx.cautions, ...fetched.cautions];
  const silence = unusuallyFew({
    eventsReviewed: fetched.analysis.eventsReviewed,
    window: ctx.window,
    prior: ctx.prior.flatMap((p) =>
      p.start !== undefined && p.eventsReviewed !== undefined ? [{ start: p.start, end: p.end, eventsReviewed: p.eventsReviewed }] : [],
    ),
    now: deps.now(),
  });
  if (silence) {
    deps.logger.warn('run.unusually_few_events', { key: ctx.key, reviewed: silence.reviewed, usual: silence.usual });
    cautions.push({ headline: silence.headline, detail: silence.detail });
  }
  return cautions;
}
