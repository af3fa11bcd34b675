/**
 * The evidence of one window's run, as the orchestrator uses it: every call is safe (never throws). The
 * first failure is logged at error level (`evidence.write_failed`), recorded in `error`, and every later
 * step becomes a no-op: the bundle stays incomplete (verify reports it) and the run is marked failed, but
 * the digest is still built and delivered. Order: content sealed before rendering (its hash goes in the
 * footer), the final manifest after delivery (or after the failure).
 */
import type { DeliveryEvidence } from '../core/run-state.js';
import { describeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BeginInput, EvidenceArchive, EvidenceBundle, FinishInput, FinishedBundle } from '../ports.js';

export interface RunEvidence {
  begin(input: BeginInput): Promise<void>;
  /**
   * Hands one raw page to the archive. Resolves as soon as fewer than MAX_PAGES_IN_FLIGHT pages are still
   * being compressed and written, so the next page can be fetched and analysed meanwhile.
   */
  page(bytes: Uint8Array): Promise<void>;
  /** Returns the footer line for the digest, or null without evidence. */
  seal(eventsJson: Uint8Array): Promise<string | null>;
  finish(input: FinishInput): Promise<void>;
  /** What the result of the window should carry. */
  outcome(): { evidence?: FinishedBundle; evidenceError?: string };
  /** The sealed bundle (label and content-manifest SHA-256) for the delivery record, or null when not sealed. */
  sealed(): DeliveryEvidence | null;
}

/** Raw pages being hashed, compressed or written at once (each holds its body, ~1.5 MB at 10,000 events). */
export const MAX_PAGES_IN_FLIGHT = 3;

export function createRunEvidence(archive: EvidenceArchive | null, logger: Logger, now: () => Date): RunEvidence {
  let bundle: EvidenceBundle | null = null;
  let error: string | null = null;
  let finished: FinishedBundle | null = null;
  let sealedAs: DeliveryEvidence | null = null;
  const inFlight: Promise<void>[] = [];
  const settle = async () => {
    while (inFlight.length > 0) await inFlight.shift();
  };
  async function guard(step: string, work: (b: EvidenceBundle) => Promise<void>): Promise<void> {
    if (!bundle || error) return;
    try {
      await work(bundle);
    } catch (e) {
      error = `Evidence could not be written (${step}): ${describeError(e)}`;
      logger.error('evidence.write_failed', { step, runId: bundle.runId, error: describeError(e) });
    }
  }
  return {
    async begin(input) {
      if (!archive) return;
      try {
        bundle = await archive.begin(input);
      } catch (e) {
        error = `Evidence could not be written (begin): ${describeError(e)}`;
        logger.error('evidence.write_failed', { step: 'begin', error: describeError(e) });
      }
    },
    async page(bytes) {
      inFlight.push(guard('page', (b) => b.addPage(bytes)));
      while (inFlight.length >= MAX_PAGES_IN_FLIGHT) await inFlight.shift();
    },
    async seal(eventsJson) {
      await settle();
      if (!archive) return null;
      let footer: string | null = null;
      await guard('seal', async (b) => {
        const sealed = await b.sealContent({ eventsJson, fetchComplete: true });
        footer = sealed.footer;
        sealedAs = { bundle: b.label, contentSha256: sealed.contentSha256 };
      });
      return (
        footer ?? 'Evidence for this run could NOT be recorded (see the worker log, evidence.write_failed); the run is reported as failed.'
      );
    },
    async finish(input) {
      await settle();
      await guard('finish', async (b) => {
        finished = await b.finish(input);
        logger.info('evidence.bundle_written', {
          runId: b.runId,
          seq: finished.seq,
          manifestSha256: finished.manifestSha256,
          location: finished.location,
        });
      });
      if (finished && archive) {
        try {
          const { pruned } = await archive.prune(now());
          if (pruned > 0) logger.info('evidence.pruned', { pruned });
        } catch (e) {
          logger.error('evidence.prune_failed', { error: describeError(e) });
        }
      }
    },
    sealed() {
      return sealedAs;
    },
    outcome() {
      return { ...(finished ? { evidence: finished } : {}), ...(error ? { evidenceError: error } : {}) };
    },
  };
}
