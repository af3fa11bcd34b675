/**
 * Reading the archive back for `history` and `show`: the complete bundles (their manifests, newest last)
 * and one file of a bundle, checked against the SHA-256 its manifest records. Only files the manifest
 * lists can be read, so a name never reaches the backend unchecked.
 */
import type { BundleRef, EvidenceBackend } from './evidence-backend.js';
import { MANIFEST_FILE, parseManifest, sha256Hex } from './evidence-manifest.js';
import type { BundleFile, BundleSummary } from '../ports.js';

interface Parsed {
  ref: BundleRef;
  summary: BundleSummary;
  files: Map<string, string | undefined>;
}

async function complete(backend: EvidenceBackend): Promise<Parsed[]> {
  const parsed: Parsed[] = [];
  for (const ref of await backend.list()) {
    if (!ref.complete || !ref.manifest) continue;
    const manifest = parseManifest(ref);
    if (typeof manifest === 'string') continue;
    parsed.push({
      ref,
      summary: {
        runId: ref.runId,
        seq: manifest.seq,
        day: manifest.day,
        window: manifest.window,
        status: manifest.status,
        createdAt: manifest.createdAt,
        location: ref.location,
        manifestSha256: sha256Hex(ref.manifest),
        contentManifestSha256: manifest.contentManifestSha256,
        files: manifest.files.filter((f) => f.stored).map((f) => f.path),
      },
      files: new Map(manifest.files.filter((f) => f.stored).map((f) => [f.path, f.sha256])),
    });
  }
  return parsed.sort((a, b) => a.summary.seq - b.summary.seq);
}

export async function listBundles(backend: EvidenceBackend, options: { from?: string; to?: string } = {}): Promise<BundleSummary[]> {
  const inRange = (day: string) => (options.from === undefined || day >= options.from) && (options.to === undefined || day <= options.to);
  return (await complete(backend)).filter((p) => inRange(p.summary.day)).map((p) => p.summary);
}

export async function readBundleFile(backend: EvidenceBackend, runId: string, path: string): Promise<BundleFile | null> {
  if (path === MANIFEST_FILE) return null;
  const bundle = (await complete(backend)).find((p) => p.ref.runId === runId);
  if (!bundle?.files.has(path)) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of backend.read(bundle.ref, path)) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  return { bytes, matchesManifest: sha256Hex(bytes) === bundle.files.get(path) };
}
