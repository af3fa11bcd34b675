/**
 * Sends the roll-up of one round to ROLLUP_TO through SendGrid (the outbox for a dry run). A roll-up that
 * cannot be sent is logged and reported; it never changes any account's state.
 */
import { createOutboxMailer } from '../adapters/mail/outbox-mailer.js';
import { createSendGridMailer } from '../adapters/mail/sendgrid-mailer.js';
import type { Config } from '../config/load-config.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CommandIo } from '../commands/io.js';
import { resolveStorage } from '../commands/wiring.js';
import type { AccountRunRecord } from './local-runner.js';
import { buildRollup, createRollupRenderer, rollupMessage } from './rollup.js';

export async function sendRollup(options: {
  io: CommandIo;
  /** The environment's configuration (DATA_DIR itself, not an account's), with every account's secret. */
  config: Config;
  logger: Logger;
  records: readonly AccountRunRecord[];
  dryRun: boolean;
}): Promise<{ ok: true; subject: string } | { ok: false; error: string }> {
  const { io, config, logger } = options;
  const to = config.rollupTo ?? [];
  try {
    const model = buildRollup(options.records, io.now());
    const message = rollupMessage(model, createRollupRenderer().render(model), config.report.from, to);
    const { dataDir } = resolveStorage(io, { dataDir: config.dataDir, databaseUrl: null });
    const mailer =
      config.sendgrid.apiKey && !options.dryRun
        ? createSendGridMailer({
            apiKey: config.sendgrid.apiKey,
            apiUrl: config.sendgrid.apiUrl,
            secrets: config.secrets,
            logger,
            now: () => io.now().getTime(),
          })
        : createOutboxMailer({ dataDir, logger });
    const sent = await mailer.send(message);
    logger.info('rollup.sent', { accounts: model.accounts.length, verdict: model.verdict, destination: sent.destination });
    return { ok: true, subject: model.subject };
  } catch (error) {
    const text = describeError(error);
    logger.error('rollup.failed', { error: text });
    return { ok: false, error: text };
  }
}
