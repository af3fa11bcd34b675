/**
 * Delivery to the outbox: `<DATA_DIR>/outbox/<key>/` gets `message.html`, `message.txt`,
 * `sendgrid-request.json` (the exact body SendGrid would receive; no API key: that travels in a header) and
 * each attachment as a file. Used by `--dry-run` and by the demo. Files are written atomically (adapters/fs/
 * atomic-file.ts).
 *
 * Attachments can be megabytes of base64 on a busy day, so they are never copied whole: the request body is
 * built by SendGrid's own helpers around a placeholder per attachment, and each attachment's base64 is
 * written in its place (and decoded into its file) slice by slice.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import { writeFileAtomic, writePartsAtomic } from '../fs/atomic-file.js';
import { toSendGridRequestBody } from './mail-message.js';
import type { Mailer, OutgoingMessage } from '../../ports.js';

/** Characters of base64 written per slice: a multiple of 4, so each slice decodes on its own. */
const BASE64_SLICE = 1 << 20;

function* base64Slices(content: string): Generator<string> {
  for (let i = 0; i < content.length; i += BASE64_SLICE) yield content.slice(i, i + BASE64_SLICE);
}

function* decodedSlices(content: string): Generator<Buffer> {
  for (const slice of base64Slices(content)) yield Buffer.from(slice, 'base64');
}

/**
 * The pretty-printed SendGrid request body, in parts: SendGrid's helpers shape the message with a unique
 * placeholder for each attachment's content, and the content itself (base64: nothing to escape) is spliced in.
 */
export function* requestBodyParts(message: OutgoingMessage): Generator<string> {
  const attachments = message.attachments ?? [];
  const nonce = randomUUID();
  const placeholders = attachments.map((_, i) => `lad-attachment-${i}-${nonce}`);
  const shell: OutgoingMessage = { ...message, attachments: attachments.map((a, i) => ({ ...a, content: placeholders[i]! })) };
  let rest = `${JSON.stringify(toSendGridRequestBody(shell), null, 2)}\n`;
  for (const [i, placeholder] of placeholders.entries()) {
    const at = rest.indexOf(placeholder);
    if (at < 0) throw new Error(`attachment ${i} is missing from the SendGrid request body`);
    yield rest.slice(0, at);
    yield* base64Slices(attachments[i]!.content);
    rest = rest.slice(at + placeholder.length);
  }
  yield rest;
}

export function outboxFolder(dataDir: string, key: string): string {
  return join(dataDir, 'outbox', key.replace(/[^A-Za-z0-9._-]/g, '_'));
}

export function createOutboxMailer(options: { dataDir: string; logger: Logger }): Mailer {
  return {
    async send(message) {
      const folder = outboxFolder(options.dataDir, message.key);
      await mkdir(folder, { recursive: true });
      await writeFileAtomic(join(folder, 'message.html'), message.html);
      await writeFileAtomic(join(folder, 'message.txt'), message.text);
      await writePartsAtomic(join(folder, 'sendgrid-request.json'), requestBodyParts(message));
      for (const a of message.attachments ?? []) {
        await writePartsAtomic(join(folder, a.filename.replace(/[^A-Za-z0-9._-]/g, '_')), decodedSlices(a.content));
      }
      options.logger.info('outbox.written', { key: message.key, kind: message.kind, folder });
      return { messageId: null, destination: join(folder, 'message.html') };
    },
  };
}
