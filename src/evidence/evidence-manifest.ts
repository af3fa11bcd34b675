/**
 * What an evidence bundle is made of, shared by writing, verifying, exporting and pruning: the manifest
 * formats (see evidence-archive.ts for the files of a bundle), hashing, run ids and days.
 */
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import type { BundleRef } from './evidence-backend.js';
import type { EvidenceWindow } from '../ports.js';

export const MANIFEST_FORMAT = 'lastpass-audit-digest/evidence-manifest@1';
export const CONTENT_FORMAT = 'lastpass-audit-digest/evidence-content@1';
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';
export const CONTENT_MANIFEST_FILE = 'content-manifest.json';
/** Slice size of the files (other than raw pages) handed to the backend. */
export const SLICE_BYTES = 64 * 1024;

export interface FileEntry {
  path: string;
  /** SHA-256 and size of the stored bytes (what `sha256sum <file>` prints). Absent when not stored. */
  sha256?: string;
  size?: number;
  /** false when the file was left out (EVIDENCE_RAW=off): its hashes are still recorded. */
  stored: boolean;
  /** For gzip files: SHA-256 and size of the uncompressed bytes (the exact response body). */
  contentSha256?: string;
  contentSize?: number;
}

export interface ContentManifest {
  format: typeof CONTENT_FORMAT;
  runId: string;
  day: string;
  window: EvidenceWindow;
  createdAt: string;
  raw: 'on' | 'off';
  /** false when the fetch did not finish (a failed run): the pages are what arrived before the failure. */
  fetchComplete: boolean;
  files: FileEntry[];
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  seq: number;
  runId: string;
  day: string;
  window: EvidenceWindow;
  createdAt: string;
  status: string;
  prevManifestSha256: string | null;
  contentManifestSha256: string | null;
  versions: { package: string; catalogue: string };
  signing: { alg: string; keyFingerprint: string } | null;
  files: FileEntry[];
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 (hex) computed on libuv's thread pool (WebCrypto copies the bytes, then hashes them there). */
export async function sha256HexOffThread(data: Uint8Array): Promise<string> {
  return Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex');
}

/** A sortable run id: start time and 8 random hex digits. */
export function newRunId(at: Date): string {
  return `${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}-${randomBytes(4).toString('hex')}`;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
export function isDay(value: string): boolean {
  if (!DAY_RE.test(value)) return false;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === value;
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

/** A JSON file as the bundles hold it: pretty-printed, with a final newline. */
export function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

/** The manifest of a complete bundle, or what is wrong with it. */
export function parseManifest(ref: BundleRef): Manifest | string {
  if (!ref.manifest) return 'manifest.json is missing';
  try {
    const m = JSON.parse(ref.manifest.toString('utf8')) as Manifest;
    if (m.format !== MANIFEST_FORMAT || !Array.isArray(m.files) || typeof m.seq !== 'number')
      return 'manifest.json is not an evidence manifest';
    return m;
  } catch {
    return 'manifest.json is not valid JSON (altered or truncated)';
  }
}
