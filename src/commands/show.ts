/**
 * `show DAY|KEY [--html FILE]`: the digest that was sent for that window, read back from the evidence (so
 * "show me what you sent on 3 March" is one command): the text part to stdout, the HTML part to FILE. The
 * files are checked against their manifest; a mismatch is said (run `verify`), never hidden.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../adapters/fs/atomic-file.js';
import { ConfigError } from '../errors.js';
import { isDay } from './args.js';
import { deliveredBundles } from './delivered-bundles.js';
import { openEvidenceArchive } from './evidence-archive.js';
import { EXIT_FAILED, EXIT_OK, type CommandIo, type ExitCode } from './io.js';
import { printer } from './wiring.js';

const KEY_RE = /^\d{8}T\d{6}Z_\d{8}T\d{6}Z$/;

export async function showCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    options: { html: { type: 'string' }, account: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  const [which, ...extra] = positionals;
  if (which === undefined || extra.length > 0 || !(isDay(which) || KEY_RE.test(which))) {
    throw new ConfigError([
      `show needs one DAY (YYYY-MM-DD, the day of the digest window) or one window KEY (as \`history\` prints it, e.g. 20250309T070000Z_20250310T070000Z)${which === undefined ? '' : `; got ${positionals.map((p) => `"${p}"`).join(' ')}`}.`,
    ]);
  }
  const err = printer(io.stderr);
  const { archive } = await openEvidenceArchive(io, { command: 'show', account: values.account });
  try {
    const delivered = (await deliveredBundles(archive, isDay(which) ? { from: which, to: which } : {})).filter((b) =>
      isDay(which) ? b.day === which : b.key === which,
    );
    const chosen = delivered.at(-1);
    if (!chosen) {
      err(`No delivered digest for ${which} in the evidence (${archive.description}): \`${io.cliName} history\` lists what there is.`);
      return EXIT_FAILED;
    }
    if (delivered.length > 1) {
      err(
        `${delivered.length} digests were delivered for ${which}; showing the newest (${chosen.key}, delivered ${chosen.deliveredAt ?? '?'}). The others: ${delivered
          .slice(0, -1)
          .map((b) => `${b.key} delivered ${b.deliveredAt ?? '?'} (evidence ${b.day}/${b.runId})`)
          .join('; ')}.`,
      );
    }
    err(
      `Digest for ${chosen.day} (${chosen.key}), delivered ${chosen.deliveredAt ?? '(time not recorded)'}, SendGrid message id ${chosen.messageId ?? '(none)'}; evidence ${chosen.day}/${chosen.runId}, content SHA-256 ${chosen.contentSha256 ?? '(none)'}.`,
    );
    const text = await archive.readFile(chosen.runId, 'digest.txt');
    const html = await archive.readFile(chosen.runId, 'digest.html');
    if (!text || !html) {
      err(`The bundle ${chosen.day}/${chosen.runId} holds no rendered digest (digest.txt / digest.html): run \`${io.cliName} verify\`.`);
      return EXIT_FAILED;
    }
    let ok = true;
    for (const [name, file] of [
      ['digest.txt', text],
      ['digest.html', html],
    ] as const) {
      if (!file.matchesManifest) {
        ok = false;
        err(
          `WARNING: ${name} of ${chosen.day}/${chosen.runId} does not match the SHA-256 its manifest records: it was altered after it was sent. Run \`${io.cliName} verify\`.`,
        );
      }
    }
    io.stdout.write(text.bytes.toString('utf8'));
    if (values.html !== undefined) {
      const out = resolve(io.cwd, values.html);
      await writeFileAtomic(out, html.bytes);
      err(`HTML part written to ${out}`);
    }
    return ok ? EXIT_OK : EXIT_FAILED;
  } finally {
    await archive.close();
  }
}
