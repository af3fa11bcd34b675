import type { ChainCheckpoint } from '../ports.js';
/**
 * Where evidence bundles are kept: the storage primitives behind `EvidenceArchive`. The archive
 * (evidence-archive.ts) does all hashing, chaining, signing and verifying; a backend only stores bytes.
 * Implementations: files under DATA_DIR/evidence (file-evidence-backend.ts) and PostgreSQL
 * (postgres-evidence-backend.ts). Both pass test/evidence-contract.ts.
 */

/** A file being written into a staged bundle. Writes are awaited: the caller never runs ahead of storage. */
export interface EvidenceFileSink {
  write(chunk: Buffer): Promise<void>;
  end(): Promise<void>;
}

export interface CommitInput {
  seq: number;
  /** The exact bytes of manifest.json. */
  manifest: Buffer;
  manifestSha256: string;
  /** The chain head this bundle links to (null for the first bundle of an archive without checkpoint). */
  prevSha256: string | null;
  signature: Buffer | null;
}

/** A bundle being written: invisible to the chain until `commit`. Abandoned (crash, error) it stays incomplete. */
export interface StagedBundle {
  readonly location: string;
  openFile(path: string): Promise<EvidenceFileSink>;
  /** Atomically: make the bundle complete and the chain head. Throws when the head is no longer `prevSha256`. */
  commit(input: CommitInput): Promise<string>;
}

export interface BundleRef {
  runId: string;
  /** YYYY-MM-DD (the window's day). */
  day: string;
  /** Human location for reports: a directory, or `postgres:<run id>`. */
  location: string;
  complete: boolean;
  /** The sequence number the backend files it under (files: from manifest.json; null if unreadable or incomplete). */
  seq: number | null;
  manifest: Buffer | null;
  signature: Buffer | null;
}

export interface ChainHead {
  seq: number;
  manifestSha256: string;
  runId: string;
}

export interface EvidenceBackend {
  readonly kind: 'files' | 'postgres';
  readonly description: string;
  stage(runId: string, day: string, startedAt: string): Promise<StagedBundle>;
  head(): Promise<{ head: ChainHead | null; checkpoint: ChainCheckpoint | null }>;
  /** Every bundle, complete or not, with manifest bytes (small). Order unspecified. */
  list(): Promise<BundleRef[]>;
  /** The stored files of a bundle with their sizes (manifest.json and manifest.sig included). */
  files(ref: BundleRef): Promise<{ path: string; size: number }[]>;
  /** A stored file, chunk by chunk (never the whole file at once). */
  read(ref: BundleRef, path: string): AsyncIterable<Buffer>;
  /** Removes complete bundles (the oldest of the chain) and records the checkpoint, checkpoint first. */
  prune(refs: BundleRef[], checkpoint: ChainCheckpoint): Promise<void>;
  close(): Promise<void>;
}
