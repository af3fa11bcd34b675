/**
 * `history [--from DAY] [--to DAY]`: the delivered windows, each with its counts, verdict, SendGrid message id
 * and evidence hashes: the store's delivery records joined with the evidence bundles (files or PostgreSQL).
 */
import { parseArgs } from 'node:util';
import { SCHEMA } from '../config/schema.js';
import { readVariables } from '../config/variable.js';
import { deliveryHistory, type HistoryEntry } from '../core/delivery-history.js';
import { windowLabel } from '../core/digest-model.js';
import { parseDay } from './args.js';
import { deliveredBundles } from './delivered-bundles.js';
import { openEvidenceArchive } from './evidence-archive.js';
import { EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { createCommandLogger, openStore, printer } from './wiring.js';

const count = (n: number) => n.toLocaleString('en-US');

function describe(e: HistoryEntry): string[] {
  const counts = [
    e.eventsReviewed === null ? null : `${count(e.eventsReviewed)} events reviewed`,
    e.severities ? `high ${count(e.severities.high)} · medium ${count(e.severities.medium)} · low ${count(e.severities.low)}` : null,
  ].filter((x) => x !== null);
  return [
    `${e.day}  ${e.key}  delivered ${e.deliveredAt ?? '(time not recorded)'}`,
    `  window    ${e.start} → ${e.end}`,
    `  counts    ${counts.length ? counts.join(' · ') : '(not recorded)'}`,
    `  verdict   ${e.verdict ?? '(not in the evidence)'}`,
    `  message   ${e.messageId ?? (e.destination && e.destination !== 'sendgrid' ? `(written to ${e.destination}, not sent)` : '(no SendGrid message id)')}`,
    e.evidence
      ? `  evidence  ${e.day}/${e.evidence.runId}: content SHA-256 ${e.evidence.contentSha256 ?? '(none)'} (as in the digest footer), manifest SHA-256 ${e.evidence.manifestSha256}`
      : '  evidence  none: no delivered bundle of this window (its evidence was not written, or was pruned)',
  ];
}

export async function historyCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values } = parseArgs({
    args,
    options: { from: { type: 'string' }, to: { type: 'string' }, account: { type: 'string' } },
    strict: true,
  });
  const from = parseDay(values.from, '--from');
  const to = parseDay(values.to, '--to');
  const range = { ...(from ? { from } : {}), ...(to ? { to } : {}) };
  const zone = readVariables(io.env, { REPORT_TIMEZONE: SCHEMA.REPORT_TIMEZONE }).values.REPORT_TIMEZONE ?? 'UTC';
  const { archive, settings } = await openEvidenceArchive(io, { command: 'history', account: values.account });
  const store = openStore(io, settings.storage, createCommandLogger(io, 'error', settings.secrets));
  try {
    await store.init();
    const state = await store.readState();
    const bundles = await deliveredBundles(archive, range);
    const dayOf = (w: { start: string; end: string }) => windowLabel({ start: new Date(w.start), end: new Date(w.end) }, zone);
    const entries = deliveryHistory(state.delivered, bundles, dayOf, range);
    const print = printer(io.stdout);
    const span = from || to ? ` from ${from ?? 'the first'} to ${to ?? 'the last'} day` : '';
    if (entries.length === 0) {
      print(`No delivered digests${span} (${store.description}; evidence ${archive.description}).`);
      return EXIT_OK;
    }
    print(
      `${entries.length} delivered digest${entries.length === 1 ? '' : 's'}${span} (${store.description}; evidence ${archive.description}):`,
    );
    for (const e of entries) print(['', ...describe(e)].join('\n'));
    print(`\nShow one: ${io.cliName} show DAY (or show KEY) [--html FILE]`);
    return EXIT_OK;
  } finally {
    await store.close();
    await archive.close();
  }
}
