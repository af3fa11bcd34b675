/**
 * The one HTML budget of the digest, as the renderer applies it. Gmail clips an HTML part over about 102 KB
 * behind a "[Message clipped]" link, hiding the end of the digest (and the footer that makes it a record),
 * so the HTML part is kept under HTML_BUDGET_BYTES whatever the volume. The model caps rows and string
 * lengths, but the bytes a row takes still vary (escaping can make one character six bytes), so the HTML
 * produced is measured and, when it is over the budget, long strings are shortened and then rows left out,
 * least important first, each time adding the rows left out to the section's "and N more"; a notice says so
 * at the top. Only when that is not enough is the model rebuilt with its row caps halved (that shortens the
 * text part too, which otherwise keeps every row).
 */
import { DEFAULT_CAPS, type DigestCaps } from '../core/digest-model.js';
import type { DigestModel, EventRow } from '../core/digest-model-types.js';
import { shortenText } from '../core/visible-text.js';
import type { RenderedDigest, RenderedMessage } from '../ports.js';

export const HTML_BUDGET_BYTES = 90_000;

/** Rebuilds of the model with halved caps before an over-budget HTML part is sent as it is. */
const MAX_CAP_HALVINGS = 6;

/**
 * The digest within `budget`: built with the default caps, rendered (`renderDigest` trims the HTML part
 * with fitToBudget), and rebuilt with halved caps while the HTML part is still over budget.
 */
export function renderWithinBudget(
  build: (caps: DigestCaps) => DigestModel,
  renderDigest: (model: DigestModel) => RenderedMessage,
  budget: number,
): RenderedDigest {
  let caps: DigestCaps = { ...DEFAULT_CAPS };
  for (let halvings = 0; ; halvings++) {
    const model = build(caps);
    const { html, text } = renderDigest(model);
    if (utf8Bytes(html) <= budget || halvings >= MAX_CAP_HALVINGS) return { model, html, text };
    caps = halveCaps(caps);
  }
}

/** What the HTML template sees: the model plus what only the renderer knows. */
type DigestView = DigestModel;

/** Longest string kept in a row once the HTML is over budget (detection reasons get twice this). */
const SHORT_TEXT = 120;

function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Never splits a surrogate pair (a lone surrogate must not reach the SendGrid request) or a `⟨U+…⟩` label. */
function shorten(value: string, max: number): string {
  return shortenText(value, max);
}

function shortenEvents(rows: readonly EventRow[]): EventRow[] {
  return rows.map((r) => ({
    ...r,
    user: shorten(r.user, SHORT_TEXT),
    ip: shorten(r.ip, SHORT_TEXT),
    action: shorten(r.action, SHORT_TEXT),
    detail: shorten(r.detail, SHORT_TEXT),
    note: shorten(r.note, SHORT_TEXT),
  }));
}

/** Each step returns a smaller view (or the same one when it has nothing to shorten). */
const SHORTEN_STEPS: readonly ((v: DigestView) => DigestView)[] = [
  (v) => ({
    ...v,
    trends: { ...v.trends, rows: v.trends.rows.map((t) => ({ ...t, category: shorten(t.category, SHORT_TEXT) })) },
    lowEvents: shortenEvents(v.lowEvents),
    unrecognised: v.unrecognised.map((u) => ({
      ...u,
      action: shorten(u.action, SHORT_TEXT),
      sample: shorten(u.sample, SHORT_TEXT),
    })),
  }),
  (v) => ({ ...v, findings: shortenEvents(v.findings) }),
  (v) => ({
    ...v,
    detections: v.detections.map((d) => ({
      ...d,
      title: shorten(d.title, SHORT_TEXT),
      subject: shorten(d.subject, SHORT_TEXT),
      reason: shorten(d.reason, 2 * SHORT_TEXT),
    })),
  }),
];

/** The lists rows are left out of, least important first, and how to keep only `keep` rows of each. */
const DROP_STEPS: readonly { size: (v: DigestView) => number; keep: (v: DigestView, keep: number) => DigestView }[] = [
  {
    size: (v) => v.lowEvents.length,
    keep: (v, n) => ({ ...v, lowEvents: v.lowEvents.slice(0, n), moreLowEvents: v.moreLowEvents + v.lowEvents.length - n }),
  },
  {
    size: (v) => v.unrecognised.length,
    keep: (v, n) => ({
      ...v,
      unrecognised: v.unrecognised.slice(0, n),
      moreUnrecognised: v.moreUnrecognised + v.unrecognised.length - n,
    }),
  },
  {
    size: (v) => v.findings.length,
    keep: (v, n) => ({ ...v, findings: v.findings.slice(0, n), moreFindings: v.moreFindings + v.findings.length - n }),
  },
  {
    size: (v) => v.detections.length,
    keep: (v, n) => ({
      ...v,
      detections: v.detections.slice(0, n),
      moreDetections: v.moreDetections + v.detections.length - n,
    }),
  },
];

function trimmedNotice(view: DigestView): string {
  const attached =
    view.attachments.csv === ''
      ? ''
      : view.attachments.events < view.attachments.total
        ? ` The attached ${view.attachments.csv} and ${view.attachments.json} hold the most severe rows in full (see the notice on how many).`
        : ` The attached ${view.attachments.csv} and ${view.attachments.json} hold every security-relevant event in full.`;
  return (
    'This HTML part is shortened to stay under the size at which Gmail clips an email: some long entries are cut ' +
    `and some rows are left out (counted in the "and N more" lines). The plain-text part lists every row.${attached}`
  );
}

/**
 * The model's row caps halved (with floors): fewer rows in every list, and in the text part too. Only
 * reached when shortening and leaving out rows of the HTML part did not bring it under the budget.
 */
export function halveCaps(caps: DigestCaps): DigestCaps {
  return {
    detections: Math.max(5, caps.detections >> 1),
    findings: Math.max(5, caps.findings >> 1),
    low: Math.max(3, caps.low >> 1),
    unrecognised: Math.max(5, caps.unrecognised >> 1),
    text: Math.max(80, caps.text >> 1),
  };
}

/** The HTML part of `model` within `budget` (see the top of this file); sent over it only when every list is empty. */
export function fitToBudget(model: DigestView, budget: number, render: (view: DigestView) => string): string {
  const first = render(model);
  if (utf8Bytes(first) <= budget) return first;
  // The notice goes in first so that its own bytes are counted.
  let view: DigestView = { ...model, notices: [...model.notices, trimmedNotice(model)] };
  let html = render(view);
  for (const step of SHORTEN_STEPS) {
    if (utf8Bytes(html) <= budget) return html;
    view = step(view);
    html = render(view);
  }
  for (const { size, keep } of DROP_STEPS) {
    if (utf8Bytes(html) <= budget) return html;
    const rows = size(view);
    const none = keep(view, 0);
    const noneHtml = render(none);
    if (utf8Bytes(noneHtml) > budget) {
      view = none;
      html = noneHtml;
      continue;
    }
    // The most rows that fit: `low` always fits, `high` never does.
    let low = 0;
    let lowHtml = noneHtml;
    let high = rows;
    while (high - low > 1) {
      const mid = (low + high) >> 1;
      const midHtml = render(keep(view, mid));
      if (utf8Bytes(midHtml) <= budget) {
        low = mid;
        lowHtml = midHtml;
      } else {
        high = mid;
      }
    }
    return lowHtml;
  }
  // Over budget with every list empty: only a pathological notice or window could do that. Send it anyway.
  return html;
}
