/** `demo`: the whole pipeline offline against the embedded simulator (src/demo.ts); prints where the digest is. */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createRenderer } from '../adapters/renderer.js';
import { loadDemoSettings } from '../config/load-config.js';
import { runDemo } from '../demo.js';
import { VERSION } from '../version.js';
import type { CommandIo, ExitCode } from './io.js';
import { reportOutcome } from './report-outcome.js';
import { shellWord } from './shell-word.js';
import { createCommandLogger, printer } from './wiring.js';

export async function demoCommand(args: string[], io: CommandIo): Promise<ExitCode> {
  parseArgs({ args, options: {}, strict: true });
  const settings = loadDemoSettings(io.env);
  const logger = createCommandLogger(io, settings.logLevel, []);
  const print = printer(io.stdout);
  const dataDir = resolve(io.cwd, settings.dataDir);
  print('Starting the embedded LastPass simulator and running the real pipeline against it…');
  const result = await runDemo({ dataDir, logger, now: io.now, renderer: createRenderer(), version: VERSION, processInfo: io.processInfo });
  const code = reportOutcome(result.outcome, print);
  print(
    `\n${result.eventsServed.toLocaleString('en-US')} events served by the simulator over ${result.requests} requests; planted incidents: ${result.planted.map((p) => p.id).join(', ')}.`,
  );
  if (result.digestPath) {
    if (result.evidencePath) {
      print(
        `\nEvidence bundle written to:\n  ${resolve(io.cwd, result.evidencePath)}\nVerify it with:\n  DATA_DIR=${shellWord(resolve(io.cwd, result.folder))} DATABASE_URL= ${io.cliName} verify`,
      );
    }
    const digest = resolve(io.cwd, result.digestPath);
    print(
      `\nDigest written to the outbox:\n  ${digest}\n  ${digest.replace(/message\.html$/, 'message.txt')}\n  ${digest.replace(/message\.html$/, 'sendgrid-request.json')}`,
    );
  }
  return code;
}
