/**
 * What the orchestrator takes and gives (re-exported by run-report.ts, where callers import them from), and
 * the values its stages pass each other for one window.
 */
import type { Config } from '../config/load-config.js';
import type { AttachmentLimits } from '../core/attachment-plan.js';
import type { PriorDay } from '../core/digest-chart.js';
import type { Caution } from '../core/digest-model.js';
import type { DeliveredWindow, MaybeSent } from '../core/run-state.js';
import type { ReportWindow } from '../core/types.js';
import type { Logger } from '../logger.js';
import type { EvidenceArchive, FinishedBundle, LastPassClient, Mailer, Notifier, Renderer, RequestTiming, Sleep, Store } from '../ports.js';
import type { RunDeadline } from './run-deadline.js';

export interface RunDeps {
  /** `secrets` (every configured secret) lets the failure path redact them all; the LastPass secret always is. */
  config: Pick<Config, 'lastpass' | 'report'> & Partial<Pick<Config, 'secrets'>>;
  store: Store;
  lastpass: LastPassClient;
  /** Where real deliveries go (SendGrid, or the outbox in the demo). */
  mailer: Mailer;
  /** Where dry runs go. */
  outbox: Mailer;
  renderer: Renderer;
  /**
   * The second alarm channel (NOTIFY_WEBHOOK_URL): every FAILED notice, whether or not its email went out,
   * and a summary of each delivered digest with high findings. Absent: none. Dry runs never notify.
   */
  notifier?: Notifier;
  logger: Logger;
  /** The clock: every time the run reads or records comes from here. */
  now: () => Date;
  /** Waiting (before a re-send after an unconfirmed send). Injected so that tests never wait; default a timer. */
  sleep?: Sleep;
  version: string;
  /** Who holds the run lock (for the lock file and logs). */
  owner?: string;
  /**
   * Called at each named step of a run (fault injection for the crash tests: the CLI kills the process
   * at a chosen step when LAD_CRASH_AT names it). A no-op by default.
   */
  checkpoint?: (name: string) => void;
  /**
   * The compliance evidence archive. Absent: no evidence. Dry runs never leave a bundle. A failure to write
   * evidence marks the run failed (after the digest is delivered: it is never held back for evidence).
   */
  evidence?: EvidenceArchive;
  /** The attachments' row and request-size limits (core/attachment-plan.ts); the defaults unless a test lowers them. */
  attachmentLimits?: AttachmentLimits;
}

export interface RunOptions {
  from?: Date;
  to?: Date;
  dryRun?: boolean;
  force?: boolean;
  /**
   * Epoch ms after which retries give up (the worker passes the next scheduled run). The run's own deadline
   * (RUN_DEADLINE_MINUTES) applies too; the earlier one wins.
   */
  deadline?: number;
  /** Called once the run holds the lock, before anything is read or fetched (the heartbeat's /start ping). */
  onStart?: () => Promise<void>;
}

export type WindowStatus = 'delivered' | 'dry-run' | 'failed' | 'already-delivered';

export interface WindowResult {
  key: string;
  /** The record written for a delivered window (feeds the trends of the next window in a catch-up). */
  delivered?: DeliveredWindow;
  window: ReportWindow;
  status: WindowStatus;
  /** The outbox file or "sendgrid". */
  destination?: string;
  messageId?: string | null;
  subject?: string;
  eventsReviewed?: number;
  /** What the roll-up (src/accounts/rollup.ts) shows of a delivered digest: its verdict and top findings. */
  digest?: RollupDigest;
  error?: string;
  /** The evidence bundle written for this window (not for dry runs). */
  evidence?: FinishedBundle;
  /** Set when the evidence could not be written: the run then fails (exit 1), the digest is still delivered. */
  evidenceError?: string;
  /** Set when a FAILED notice was due but could not be sent (the command says so on stderr). */
  noticeError?: string;
}

export interface RollupDigest {
  verdict: string;
  verdictLevel: 'attention' | 'review' | 'untrusted' | 'low' | 'quiet';
  findingCount: number;
  bySeverity: { high: number; medium: number; low: number; info: number };
  topFindings: { severity: string; title: string; subject: string }[];
}

export interface RunOutcome {
  status: 'ok' | 'nothing-due' | 'locked' | 'failed';
  windows: WindowResult[];
  skipped: ReportWindow | null;
}

/** One window as the run plan and the state before it describe it: what its stages need to know. */
export interface WindowContext {
  key: string;
  window: ReportWindow;
  dryRun: boolean;
  /** The delivered days before this window (this run's included), for the trends. */
  prior: PriorDay[];
  recordStart: Date;
  /** End of the delivered coverage before this run (null before the first delivery). */
  coveredUntil: string | null;
  /** The digest's notices about itself, from the run plan. */
  notices: string[];
  marker: string;
  attempt: number;
  /** An earlier send of this window that SendGrid left unconfirmed (from the run plan), or null. */
  maybeSent: MaybeSent | null;
  /** The run's deadline (RUN_DEADLINE_MINUTES). */
  runDeadline: RunDeadline;
  consecutiveFailures: number;
  startedAt: Date;
  /** Reasons from the run plan not to read this window's digest as an all-clear (a repaired state). */
  cautions: Caution[];
  /** The run's clock probes that were answered (their send instants serve the zone self-check). */
  probes: RequestTiming[];
}

/** The requests and pages a window's fetch made so far (a failed fetch records how far it got). */
export interface FetchProgress {
  requests: number;
  pages: number;
}
