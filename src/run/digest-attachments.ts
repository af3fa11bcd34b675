/**
 * The digest's attachments: the CSV and JSON of the window's security-relevant (then unrecognised) events,
 * gzip-compressed (`.csv.gz`, `.json.gz`, application/gzip), holding the rows core/attachment-plan.ts allows.
 */
import { gzipSync } from 'node:zlib';
import { mostSevere } from '../core/attachment-plan.js';
import { eventsToCsv, eventsToJson } from '../core/event-export.js';
import type { ClassifiedEvent } from '../core/types.js';
import type { MailAttachment } from '../ports.js';

export interface GzipAttachments {
  attachments: MailAttachment[];
  /** Rows in each file. */
  rows: number;
  /** Their base64 characters together (what they add to the SendGrid request). */
  encodedBytes: number;
}

/**
 * The `rows` most severe of `events` as .csv.gz and .json.gz (none when `rows` is 0 or there are no events).
 * `allJson` is eventsToJson(events), already encoded for the evidence: when every row is kept it is
 * compressed as it is rather than encoded a second time.
 */
export function gzipAttachments(
  events: readonly ClassifiedEvent[],
  rows: number,
  name: string,
  timeZone: string,
  allJson?: Uint8Array,
): GzipAttachments {
  const kept = mostSevere(events, rows);
  if (kept.length === 0) return { attachments: [], rows: 0, encodedBytes: 0 };
  const csv = gzipSync(eventsToCsv(kept, timeZone)).toString('base64');
  const json = gzipSync(allJson && kept.length === events.length ? allJson : eventsToJson(kept)).toString('base64');
  return {
    attachments: [
      { filename: `${name}.csv.gz`, type: 'application/gzip', content: csv },
      { filename: `${name}.json.gz`, type: 'application/gzip', content: json },
    ],
    rows: kept.length,
    encodedBytes: csv.length + json.length,
  };
}
