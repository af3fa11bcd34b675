/**
 * Stage 2 of a window: from the analysis to the message. The attachments (every security-relevant event,
 * then the unrecognised ones: nobody has rated those yet) are encoded once, and the same JSON bytes are
 * sealed into the evidence before rendering, because the digest's footer carries the content hash.
 */
import { noiseSettings } from './fetch-window.js';
import { buildDigestModel, type Caution, windowLabel } from '../core/digest-model.js';
import { unusuallyFew } from '../core/silence-rule.js';
import type { DigestModel } from '../core/digest-model-types.js';
import { eventsToCsv, eventsToJson } from '../core/event-export.js';
import type { RunEvidence } from '../evidence/run-evidence.js';
import type { MailAttachment, OutgoingMessage } from '../ports.js';
import type { FetchedWindow } from './fetch-window.js';
import type { RunDeps, WindowContext } from './run-types.js';

export interface ComposedDigest {
  message: OutgoingMessage;
  model: DigestModel;
  /**
   * The same digest rendered again with `notice` among its notices (after a coverage gap's, before the
   * rest), as attempt `attempt`: the re-send after an unconfirmed send carries "Possible duplicate".
   */
  withNotice(notice: string, attempt: number): { message: OutgoingMessage; model: DigestModel };
}

export async function composeDigest(
  deps: RunDeps,
  ctx: WindowContext,
  fetched: FetchedWindow,
  evidence: RunEvidence,
): Promise<ComposedDigest> {
  const { config } = deps;
  const { key, window } = ctx;
  const { analysis } = fetched;
  const exported = [...analysis.relevant, ...analysis.unrecognisedRows];
  // Encoded once: the same bytes are attached and sealed into the evidence.
  const eventsJson = Buffer.from(eventsToJson(exported), 'utf8');
  let attachments: MailAttachment[] = [];
  if (exported.length > 0) {
    const name = `lastpass-security-events-${windowLabel(window, config.report.timeZone)}`;
    attachments = [
      { filename: `${name}.csv`, type: 'text/csv', content: Buffer.from(eventsToCsv(exported, config.report.timeZone)).toString('base64') },
      { filename: `${name}.json`, type: 'application/json', content: eventsJson.toString('base64') },
    ];
  }
  // Evidence content (request, raw pages, events) is sealed before rendering: its hash is in the footer.
  const evidenceFooter = await evidence.seal(eventsJson);
  const context = {
    window,
    requested: fetched.requested,
    requests: fetched.requests,
    pages: fetched.pages,
    reportTimeZone: config.report.timeZone,
    lastpassTimeZone: config.lastpass.timeZone,
    version: deps.version,
    generatedAt: deps.now(),
    prior: ctx.prior,
    cautions: digestCautions(deps, ctx, fetched),
    attachments: attachments.length ? { csv: attachments[0]!.filename, json: attachments[1]!.filename } : null,
    ...noiseSettings(config),
  };
  const notices = fetched.lateNotice === null ? ctx.notices : [...ctx.notices, fetched.lateNotice];
  deps.checkpoint?.('analysis.done');
  const render = (withNotices: string[], attempt: number) => {
    const { model, html, text } = deps.renderer.renderDigestWithinBudget((caps) => {
      const m = buildDigestModel(analysis, context, caps);
      m.notices = withNotices;
      if (evidenceFooter) m.footer.evidence = evidenceFooter;
      return m;
    });
    const message: OutgoingMessage = {
      key,
      kind: 'digest',
      from: config.report.from,
      to: config.report.to,
      subject: model.subject,
      html,
      text,
      customArgs: { digest_window: key, digest_marker: ctx.marker, digest_attempt: String(attempt) },
      attachments,
    };
    return { model, message };
  };
  return {
    ...render(notices, ctx.attempt),
    withNotice: (notice, attempt) => {
      // One "Possible duplicate" notice: the newest unconfirmed send replaces the run plan's.
      const others = notices.filter((n) => !n.startsWith('Possible duplicate'));
      const gaps = others.filter((n) => n.startsWith('Coverage gap'));
      return render([...gaps, notice, ...others.filter((n) => !gaps.includes(n))], attempt);
    },
  };
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
