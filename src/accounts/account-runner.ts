/**
 * One deployment, many LastPass accounts: the seam between "what is configured" and "who runs it". The
 * single-process worker walks `accounts()` in order; a job queue (replicas) runs one account per job. Each
 * `run` is exactly what `runReport` does for the single account, with that account's configuration, store
 * scope, evidence chain, FAILED notice and heartbeat. This shape is a contract: do not change it.
 */
import type { RunOutcome } from '../run/run-types.js';

/** One configured account. `id` is a slug; `'default'` for the single env-configured account. */
export interface AccountRef {
  id: string;
}

export interface AccountRunner {
  /** Every configured account, in the order of the accounts file (or just `default`). */
  accounts(): readonly AccountRef[];
  /**
   * One account's due windows. Never throws for a failure of the run (like runReport); an unknown id
   * rejects. `deadline`: epoch ms retries give up at; `signal`: abort (a stopping worker).
   */
  run(accountId: string, options: { deadline?: number; signal?: AbortSignal }): Promise<RunOutcome>;
}
