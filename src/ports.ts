/**
 * The ports: every interface between the orchestrator and the outside world, declared in one place.
 * Adapters implement them (src/adapters/, src/store/, src/evidence/); the orchestrator (run-report.ts), the
 * scheduler and the commands depend on these declarations only, and tests hand in real adapters wired to
 * loopback stand-ins. Data types the ports carry that are pure (run state, events, view models) live in
 * src/core/.
 *
 * Over 400 lines on purpose: "every port in one place" is the house rule (design.md), so that what the core
 * depends on can be read in one sitting; it holds declarations only, no code.
 */
import type { AlarmNotice } from './core/alarm.js';
import type { HistorySnapshot } from './core/detections/detection.js';
import type { DigestCaps } from './core/digest-model.js';
import type { DigestModel, FailureNoticeModel } from './core/digest-model-types.js';
import type { DeliveredWindow, DeliveryIntent, DeliveryTail, FailureRecord, HistoryContribution, RunState } from './core/run-state.js';
import type { WallRange } from './core/types.js';
import type { RowSink } from './core/window-intake.js';

// ---- time -----------------------------------------------------------------------------------------

/** The wall clock. Injected everywhere; only src/main.ts hands in the real one. */
export type Clock = () => Date;

/** Waiting. Injected so that tests never wait. */
export type Sleep = (ms: number) => Promise<void>;

/** What the stores need of the process they run in (lock files name their owner). main.ts hands in the real one. */
export interface ProcessInfo {
  pid: number;
  hostname: string;
  /** False when no process with this pid runs on this host (`kill(pid, 0)` gives ESRCH). */
  isProcessAlive(pid: number): boolean;
}

// ---- outbound HTTP ------------------------------------------------------------------------------

/** The fetch every outbound request goes through. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

// ---- LastPass -----------------------------------------------------------------------------------

export interface FetchStats {
  requests: number;
  /** Responses that carried events. */
  pages: number;
  /** Events passed on (each second's events from exactly one response). */
  events: number;
  /** Rows in all responses, in range or not, boundary seconds asked again included. */
  rowsReturned: number;
  /** Rows LastPass returned outside the asked range (dropped, logged): in all, older than `from`, newer than `to`. */
  outOfRange: number;
  outOfRangeBefore: number;
  outOfRangeAfter: number;
  /** Attempts that failed and were retried. */
  retries: number;
  /** Every request that got an answer: when it was sent and answered, and the upstream's Date header. */
  timings: RequestTiming[];
}

/** One request as the clock check and the zone self-check need it. Epoch ms. */
export interface RequestTiming {
  sentAt: number;
  /** When the response's headers arrived. */
  receivedAt: number;
  /** The upstream's `Date` header, or null when it sent none that parses. */
  serverDate: number | null;
}

/** One request for `check` and the run's own checks (no paging). */
export interface ProbeResult {
  /** Events in the asked range. */
  events: number;
  /** The response was full or carried `next`: more events lie in the range. */
  cut: boolean;
  /** The answered attempt (retries before it are in `timings`). */
  timing: RequestTiming;
  timings: RequestTiming[];
}

export interface PageInfo {
  /** The range this response answered. */
  range: WallRange;
  /** The body exactly as received (before decoding), for evidence. */
  bytes: Uint8Array;
  requestNumber: number;
}

export interface FetchEventsOptions {
  /** Epoch ms after which retries give up (the worker passes the next scheduled run). */
  deadline?: number;
  /**
   * Sees each accepted response, in order and one at a time, while the next one is fetched and read (the
   * evidence archive takes the raw bytes here). A throw fails the fetch; the fetch never settles while a
   * call is still running.
   */
  onPage?: (page: PageInfo) => void | Promise<void>;
}

/**
 * The LastPass `reporting` API as the orchestrator sees it: rows in, nothing of the wire format out. The
 * client owns the transport, retries, paging and reading the bodies; it resolves each row's wall-clock
 * Time to an instant (in LASTPASS_TIMEZONE) and hands the rows to a `RowSink` (a core type), page by page,
 * so the caller decides what a row means (src/core/window-intake.ts analyses them) and no page outlives
 * the next one.
 */
export interface LastPassClient {
  /** The endpoint as logs and evidence may show it (redacted). */
  readonly endpoint: string;
  /**
   * Fetches every event of `range` (both ends inclusive), in no promised order, and hands each row, once,
   * to `sink`, with its instant. The row object may be reused for the next row. Resolves only when the whole
   * range was fetched; throws otherwise (the sink may then have seen part of it).
   */
  fetchEvents(range: WallRange, sink: RowSink, options?: FetchEventsOptions): Promise<FetchStats>;
  /**
   * One request for `range`, never paged (for `check`, the clock check and the zone self-check): its rows
   * inside the range go to `sink` when given, in no order, possibly not all of the range's (see `cut`).
   * `once`: a single attempt, no retry (the run's own checks never hold a run up).
   */
  probe(range: WallRange, sink?: RowSink, options?: { once?: boolean }): Promise<ProbeResult>;
}

// ---- mail ---------------------------------------------------------------------------------------

export interface MailAttachment {
  filename: string;
  type: string;
  /** Base64. */
  content: string;
}

export interface OutgoingMessage {
  /** The window key (or a notice key): names the outbox folder and goes into custom_args. */
  key: string;
  kind: 'digest' | 'failure';
  from: string;
  to: string[];
  subject: string;
  html: string;
  text: string;
  /** Idempotency marker and other tracking values, sent as SendGrid custom_args. */
  customArgs: Record<string, string>;
  attachments?: MailAttachment[];
}

export interface DeliveryResult {
  /** SendGrid's x-message-id, or null for the outbox. */
  messageId: string | null;
  /** Where it went: "sendgrid" or the outbox folder. */
  destination: string;
}

export interface Mailer {
  send(message: OutgoingMessage, options?: { deadline?: number }): Promise<DeliveryResult>;
}

// ---- the second alarm channel -------------------------------------------------------------------

/** What became of one alarm: sent, or why not (never the webhook URL: it is a secret). */
export interface NotifyResult {
  sent: boolean;
  /** The format the request was written in. */
  format: string;
  /** Why it was not sent (redacted), when it was not. */
  error?: string;
}

/**
 * NOTIFY_WEBHOOK_URL: every FAILED notice (also when SendGrid is what failed) and a short summary of each
 * delivered digest with high findings. Never throws: a webhook that cannot be reached is logged and reported.
 */
export interface Notifier {
  notify(notice: AlarmNotice, options?: { deadline?: number }): Promise<NotifyResult>;
}

// ---- rendering ----------------------------------------------------------------------------------

export interface RenderedMessage {
  html: string;
  text: string;
}

/** A digest rendered within the HTML budget, with the model it was rendered from. */
export interface RenderedDigest extends RenderedMessage {
  model: DigestModel;
}

export interface Renderer {
  renderDigest(model: DigestModel): RenderedMessage;
  /**
   * The digest within the renderer's HTML budget (the one budget there is): the model is built with the
   * default row caps and, while the HTML part is still over budget after shortening and leaving out rows,
   * built again with the caps halved. The counts always cover everything; the attachments hold every event.
   */
  renderDigestWithinBudget(build: (caps: DigestCaps) => DigestModel): RenderedDigest;
  renderFailure(model: FailureNoticeModel): RenderedMessage;
}

// ---- storage ------------------------------------------------------------------------------------

export type StoreKind = 'files' | 'postgres';

export interface LockHandle {
  release(): Promise<void>;
}

export interface Store {
  readonly kind: StoreKind;
  /** Human description for logs and `check` (never contains a password). */
  readonly description: string;
  /** Create/upgrade the schema or directories. Idempotent; safe when two processes call it at once. */
  init(): Promise<void>;
  /** Schema version (postgres) or format version (files). */
  schemaVersion(): Promise<number>;
  readState(): Promise<RunState>;
  /** Atomically record that a send for `intent.key` is about to happen. */
  beginDelivery(intent: DeliveryIntent): Promise<void>;
  /**
   * Atomically: record the delivered window, clear the pending intent for its key, reset the failure
   * counter, set lastSuccessAt, and advance `cursor` to `delivered.end` when the window starts at or before
   * the cursor (or the cursor is null) and ends after it. With `history`, merge it into the per-user
   * history in the same atomic step, once per window key (a re-delivery of the same key does not count twice).
   */
  completeDelivery(delivered: DeliveredWindow, history?: HistoryContribution, tail?: DeliveryTail): Promise<void>;
  /** The tail fingerprints of the newest delivered window (for late arrivals), or null. */
  readTail(): Promise<DeliveryTail | null>;
  /**
   * Atomically set the cursor to `cursor`, only if it is still `expected` (the value read): the repair of a
   * cursor found in the future (core/state-check.ts). Returns whether it was set.
   */
  repairCursor(expected: string | null, cursor: string | null): Promise<boolean>;
  /** Atomically record a failed run: increments consecutiveFailures and sets lastFailure. The cursor does not move. */
  recordFailure(failure: FailureRecord): Promise<void>;
  /**
   * Clear the pending intent for `key` (if it is still that key's): the send definitely did not happen
   * (SendGrid refused it with a 4xx), so the next attempt is not a "possible duplicate".
   */
  abandonDelivery(key: string): Promise<void>;
  /**
   * Per-user history for the detections, as of the delivered runs so far: IPs seen signing in per user
   * (with the last day), vault deletions/changes per user and day, and the days contributed. Bounded.
   */
  readHistory(): Promise<HistorySnapshot>;
  /**
   * Try to take the cross-process "one run at a time" lock without waiting.
   * Returns null when another process holds it. Files: a lock file with the owner's pid and host,
   * taken over when the owner is dead (same host) or the lock is older than `staleAfterMs`.
   * PostgreSQL: a session-level advisory lock on a dedicated connection.
   */
  tryLock(owner: string): Promise<LockHandle | null>;
  close(): Promise<void>;
}

// ---- evidence -----------------------------------------------------------------------------------

export interface EvidenceWindow {
  start: string;
  end: string;
  key: string;
}

export interface BeginInput {
  runId?: string;
  /** The window's day, YYYY-MM-DD: where the bundle is filed. */
  day: string;
  window: EvidenceWindow;
  /** The request parameters, already without secrets. */
  request: Record<string, unknown>;
  startedAt: Date;
}

export interface FinishInput {
  status: 'delivered' | 'failed';
  html?: string;
  text?: string;
  /** The FAILED notice that was rendered for a failed run (what the recipients were sent instead). */
  noticeHtml?: string;
  noticeText?: string;
  delivery: Record<string, unknown>;
  run: Record<string, unknown>;
  finishedAt: Date;
}

export interface SealedContent {
  contentSha256: string;
  /** "Evidence bundle 2025-03-10/<run id>, content SHA-256 <hex>" for the digest footer. */
  footer: string;
}

export interface FinishedBundle {
  seq: number;
  manifestSha256: string;
  location: string;
}

export interface EvidenceBundle {
  readonly runId: string;
  readonly label: string;
  /**
   * Adds one raw response body. Pages are numbered and written in call order; several may be in flight
   * (their hashing and compression run on the thread pool), and `sealContent` waits for all of them.
   */
  addPage(body: Uint8Array | string): Promise<void>;
  /** Writes events.json and the content manifest. Call once, before rendering. */
  sealContent(input: { eventsJson: Uint8Array | string; fetchComplete: boolean }): Promise<SealedContent>;
  /** Writes the rest, the manifest, and links it into the chain. Seals the content first if not done. */
  finish(input: FinishInput): Promise<FinishedBundle>;
}

export interface VerifyProblem {
  /** `delivery`: a delivered window the store records whose bundle is missing, incomplete or replaced. */
  kind: 'file' | 'chain' | 'signature' | 'incomplete' | 'missing-day' | 'manifest' | 'delivery';
  where: string;
  message: string;
}

export interface VerifyReport {
  archive: string;
  from: string | null;
  to: string | null;
  bundlesChecked: number;
  filesChecked: number;
  signaturesValid: number;
  signaturesUnchecked: number;
  firstDay: string | null;
  lastDay: string | null;
  head: { seq: number; manifestSha256: string } | null;
  checkpoint: ChainCheckpoint | null;
  missingDays: string[];
  incomplete: string[];
  /** The store's delivered windows cross-checked against the archive; null when the store was not consulted. */
  deliveries: DeliveryCheck | null;
  problems: VerifyProblem[];
  ok: boolean;
}

/** How the delivered windows of the range fared against the archive (see evidence/delivery-cross-check.ts). */
export interface DeliveryCheck {
  /** Delivered windows the store records in the range. */
  recorded: number;
  /** Of those, found in the archive by their content SHA-256. */
  matched: number;
  /** Filed on or before the pruning checkpoint's day: removed by the retention, not checked. */
  pruned: number;
  /** Recorded without a bundle (delivered before the store kept it, or with no evidence): not checked. */
  withoutEvidence: number;
}

/** A delivered window as `verify` reads it from the store. */
export type DeliveredRecord = Pick<DeliveredWindow, 'key' | 'end' | 'deliveredAt' | 'messageId' | 'evidence'>;

export interface VerifyOptions {
  from?: string;
  to?: string;
  verifyKey?: string | null;
  /** The store's delivered windows: each must have its bundle in the archive (absent: not cross-checked). */
  delivered?: readonly DeliveredRecord[];
}

export interface EvidenceArchive {
  readonly description: string;
  /** Whether bundles keep the raw LastPass pages (EVIDENCE_RAW): then every row of a window is in its bundle. */
  readonly keepsRawPages: boolean;
  begin(input: BeginInput): Promise<EvidenceBundle>;
  verify(options?: VerifyOptions): Promise<VerifyReport>;
  exportTarGz(options: {
    from: string;
    to: string;
    out: string;
    verifyKey?: string | null;
    delivered?: readonly DeliveredRecord[];
  }): Promise<{ bundles: number; files: number; report: VerifyReport }>;
  /** The complete bundles of the days in range, oldest first (chain order): for `history` and `show`. */
  bundles(options?: { from?: string; to?: string }): Promise<BundleSummary[]>;
  /** A file of a complete bundle (one its manifest lists), checked against the manifest; null when absent. */
  readFile(runId: string, path: string): Promise<BundleFile | null>;
  /** Removes bundles older than the retention (by day) from the start of the chain, keeping a checkpoint. */
  prune(now: Date): Promise<{ pruned: number }>;
  close(): Promise<void>;
}

/** A complete bundle as `history` and `show` see it. */
export interface BundleSummary {
  runId: string;
  seq: number;
  day: string;
  window: EvidenceWindow;
  /** 'delivered' or 'failed'. */
  status: string;
  createdAt: string;
  location: string;
  /** SHA-256 of manifest.json: the bundle's link in the chain. */
  manifestSha256: string;
  /** SHA-256 of content-manifest.json: the hash printed in the digest's footer. */
  contentManifestSha256: string | null;
  /** The stored files (paths inside the bundle). */
  files: string[];
}

export interface BundleFile {
  bytes: Buffer;
  /** false when the bytes no longer hash to what the manifest records (run `verify`). */
  matchesManifest: boolean;
}

/** What pruning leaves behind so that the chain still verifies: the last pruned manifest. */
export interface ChainCheckpoint {
  seq: number;
  manifestSha256: string;
  day: string;
  prunedAt: string;
  prunedCount: number;
}

// ---- job queue (replicas) -----------------------------------------------------------------------

/** One job as a replica's handler gets it. */
export interface QueuedJob<T> {
  id: string;
  data: T;
  /** 0 on the first attempt; 1 and up when the job is run again (a dead replica's job taken over, or a retry). */
  retryCount: number;
  /** Aborted when the queue gives the job up (it stops, or the job expired). */
  signal: AbortSignal;
}

/**
 * A PostgreSQL job queue shared by the worker's replicas (src/adapters/queue/). A job has a key: at most
 * one job per key runs at a time, in any replica, and at most one more waits behind it (enqueueing a
 * third is a no-op). A job whose replica dies is given to another within `takeoverBoundMs`.
 */
export interface JobQueue<T extends object> {
  /** Connects, creates or migrates the queue's tables. */
  start(): Promise<void>;
  /**
   * Queues a job unless one with this key is already waiting; returns its id, or null when it was not queued.
   * `once`: a name for this job (such as the scheduled time it is for); a job of the same key and name is
   * queued at most once while the queue keeps it (a week), however many replicas enqueue it.
   */
  enqueue(key: string, data: T, options?: { startAfterMs?: number; once?: string; retryLimit?: number }): Promise<string | null>;
  /**
   * The state of the job queued with this key and `once` name: 'created', 'retry', 'active' (not finished),
   * 'completed', 'failed', 'cancelled'; null when there is none (never queued, or no longer kept).
   */
  onceState(key: string, once: string): Promise<string | null>;
  /**
   * Runs this replica's share: at most `concurrency` jobs at once. A handler that throws has its job run
   * again later (by any replica); one that resolves completes it.
   */
  work(concurrency: number, handler: (job: QueuedJob<T>) => Promise<void>): Promise<void>;
  /** Stops taking jobs and waits at most `graceMs` for the running ones; then disconnects. */
  stop(graceMs: number): Promise<void>;
  /** The longest a job of a dead replica stays unclaimed (heartbeat + detection + polling). */
  readonly takeoverBoundMs: number;
}
