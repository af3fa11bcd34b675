/** What `run` and `demo` print about a run: one block per window, then the exit code the outcome means. */
import type { RunOutcome } from '../run-report.js';
import { EXIT_FAILED, EXIT_OK, type ExitCode } from './io.js';

export function reportOutcome(outcome: RunOutcome, print: (text: string) => void): ExitCode {
  for (const w of outcome.windows) {
    const span = `${w.window.start.toISOString()} → ${w.window.end.toISOString()}`;
    if (w.evidenceError) print(`EVIDENCE FAILED ${span}: ${w.evidenceError}`);
    else if (w.evidence) print(`evidence ${span}: bundle seq ${w.evidence.seq} at ${w.evidence.location}`);
    if (w.status === 'failed') print(`FAILED   ${span}: ${w.error ?? 'unknown error'}`);
    else if (w.status === 'already-delivered') print(`skipped  ${span}: already delivered (use --force to send it again)`);
    else {
      // A delivery to the outbox (the demo) was written there, not sent.
      const toOutbox = w.destination !== undefined && w.destination !== 'sendgrid';
      const label = w.status === 'dry-run' ? 'dry run ' : toOutbox ? 'written ' : 'sent    ';
      const where = toOutbox ? `\n         ${w.destination}` : w.messageId ? ` (message id ${w.messageId})` : '';
      print(`${label} ${span}: ${w.subject ?? ''}${where}`);
    }
  }
  if (outcome.status === 'locked') {
    print('Another run holds the lock (a worker or another `run` on the same store); nothing was done.');
    return EXIT_FAILED;
  }
  if (outcome.status === 'nothing-due') print('Nothing is due: the last delivered window ends now.');
  return outcome.status === 'failed' ? EXIT_FAILED : EXIT_OK;
}
