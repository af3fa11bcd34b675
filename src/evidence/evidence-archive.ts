/**
 * The compliance evidence archive: one bundle per run that reached LastPass, hash-chained. This module
 * composes the parts: bundle-writer.ts (begin), verify-archive.ts, export-archive.ts, prune-archive.ts,
 * auditor-readme.ts; the formats are in evidence-manifest.ts and the bytes are kept by a backend.
 *
 * A bundle holds (paths inside the bundle):
 *   request.json             what was asked (cid, apiuser, range, window; never the API secret)
 *   raw/page-0001.json.gz    each response body exactly as received, gzip (absent with EVIDENCE_RAW=off)
 *   events.json              the security-relevant and unrecognised events (eventsToJson)
 *   content-manifest.json    SHA-256 and sizes of the three above: sealed BEFORE rendering; its SHA-256 is
 *                            printed in the digest footer, so the email anchors the evidence
 *   digest.html, digest.txt  what was rendered (absent when the run failed before rendering)
 *   failure-notice.html/.txt the FAILED notice rendered for a failed run (delivery.json says if it was sent)
 *   delivery.json            recipients, SendGrid message id or the error
 *   run.json                 status, versions, timings
 *   manifest.json            SHA-256 and size of every file above, the previous manifest's SHA-256 (the
 *                            chain), sequence number, run id, window, created-at, signing key fingerprint
 *   manifest.sig             optional signature over the exact bytes of manifest.json
 */
import type { EvidenceBackend } from './evidence-backend.js';
import { beginBundle } from './bundle-writer.js';
import { createManifestSigner } from './evidence-signing.js';
import { exportArchive } from './export-archive.js';
import { pruneArchive } from './prune-archive.js';
import { listBundles, readBundleFile } from './read-archive.js';
import { verifyArchive } from './verify-archive.js';
import type { Clock, EvidenceArchive } from '../ports.js';

export { auditorReadme } from './auditor-readme.js';
export {
  CONTENT_FORMAT,
  CONTENT_MANIFEST_FILE,
  type ContentManifest,
  type FileEntry,
  isDay,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  type Manifest,
  newRunId,
  SIGNATURE_FILE,
  SLICE_BYTES,
  sha256Hex,
  sha256HexOffThread,
} from './evidence-manifest.js';

export const DEFAULT_RETENTION_DAYS = 400;

export interface EvidenceArchiveOptions {
  backend: EvidenceBackend;
  version: string;
  catalogueVersion: string;
  /** false: EVIDENCE_RAW=off. */
  raw?: boolean;
  signingKey?: string | null;
  retentionDays?: number;
  /** Stamps the content manifests (createdAt) and the entries of an export. */
  now: Clock;
}

export function createEvidenceArchive(options: EvidenceArchiveOptions): EvidenceArchive {
  const { backend, now } = options;
  const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;
  const writer = {
    backend,
    version: options.version,
    catalogueVersion: options.catalogueVersion,
    raw: options.raw ?? true,
    signer: options.signingKey ? createManifestSigner(options.signingKey) : null,
    now,
  };
  return {
    description: backend.description,
    keepsRawPages: writer.raw,
    begin: (input) => beginBundle(writer, input),
    verify: (opts) => verifyArchive(backend, opts),
    exportTarGz: (opts) => exportArchive(backend, opts, now),
    prune: (at) => pruneArchive(backend, retentionDays, at),
    bundles: (opts) => listBundles(backend, opts),
    readFile: (runId, path) => readBundleFile(backend, runId, path),
    close: () => backend.close(),
  };
}
