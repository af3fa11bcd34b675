/**
 * Delivery to the outbox: `<DATA_DIR>/outbox/<key>/` gets `message.html`, `message.txt` and
 * `sendgrid-request.json` (the exact body SendGrid would receive; no API key: that travels in a header).
 * Used by `--dry-run` and by the demo. Files are written atomically (temp file, then rename).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../logger.js';
import { toSendGridRequestBody } from './mail-message.js';
import type { Mailer } from './sendgrid-mailer.js';

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.${randomUUID()}.tmp`;
  await writeFile(tmp, data, { flush: true });
  await rename(tmp, path);
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
      await writeFileAtomic(join(folder, 'sendgrid-request.json'), `${JSON.stringify(toSendGridRequestBody(message), null, 2)}\n`);
      for (const a of message.attachments ?? []) {
        await writeFileAtomic(join(folder, a.filename.replace(/[^A-Za-z0-9._-]/g, '_')), Buffer.from(a.content, 'base64'));
      }
      options.logger.info('outbox.written', { key: message.key, kind: message.kind, folder });
      return { messageId: null, destination: join(folder, 'message.html') };
    },
  };
}
