/**
 * Writing one evidence bundle: request.json first, then the raw pages as they arrive, events.json and the
 * content manifest (sealed before rendering), then the rendered digest or notice, delivery.json, run.json
 * and the manifest that links the bundle into the chain (see evidence-archive.ts for the files).
 *
 * Raw pages: each body's bytes, exactly as the client received them, are hashed (WebCrypto) and gzipped (one
 * job) on the thread pool while the next page is fetched and analysed; the compressed bytes are hashed again
 * and written, pages strictly in order. Nothing of a page is kept once written; the caller bounds how many pages
 * are in flight (run-evidence.ts).
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { EvidenceError } from '../errors.js';
import type { EvidenceBackend, EvidenceFileSink, StagedBundle } from './evidence-backend.js';
import {
  CONTENT_FORMAT,
  CONTENT_MANIFEST_FILE,
  type ContentManifest,
  type FileEntry,
  isDay,
  json,
  MANIFEST_FORMAT,
  type Manifest,
  newRunId,
  SLICE_BYTES,
  sha256Hex,
  sha256HexOffThread,
} from './evidence-manifest.js';
import type { ManifestSigner } from './evidence-signing.js';
import type { BeginInput, Clock, EvidenceBundle, SealedContent } from '../ports.js';

const gzipAsync = promisify(gzip);

export interface BundleWriterDeps {
  backend: EvidenceBackend;
  version: string;
  catalogueVersion: string;
  /** false: EVIDENCE_RAW=off (pages are hashed, not stored). */
  raw: boolean;
  signer: ManifestSigner | null;
  /** Stamps the content manifest's createdAt. */
  now: Clock;
}

/** Writes `data` in slices of `slice` bytes and ends the sink; a failed write still closes it. */
async function writeWhole(sink: EvidenceFileSink, data: Buffer, slice = SLICE_BYTES): Promise<void> {
  try {
    for (let i = 0; i < data.length; i += slice) await sink.write(data.subarray(i, i + slice));
  } catch (error) {
    await sink.end().catch(() => {});
    throw error;
  }
  await sink.end();
}

export async function beginBundle(deps: BundleWriterDeps, input: BeginInput): Promise<EvidenceBundle> {
  const { backend, raw, signer, now } = deps;
  if (!isDay(input.day)) {
    throw new EvidenceError(
      `Evidence bundle day ${JSON.stringify(input.day)} is not YYYY-MM-DD: no bundle was started. The day of the window must be a calendar day; this is a bug, report it with the run's log`,
    );
  }
  const runId = input.runId ?? newRunId(input.startedAt);
  const staged: StagedBundle = await backend.stage(runId, input.day, input.startedAt.toISOString());
  const files: FileEntry[] = [];
  let pages = 0;
  let pageWrites: Promise<void> = Promise.resolve();
  let sealing = false;
  let sealed: SealedContent | null = null;
  let finished = false;

  async function putFile(path: string, data: Buffer): Promise<FileEntry> {
    const sink = await staged.openFile(path);
    await writeWhole(sink, data);
    const entry: FileEntry = { path, sha256: sha256Hex(data), size: data.length, stored: true };
    files.push(entry);
    return entry;
  }

  await putFile('request.json', json(input.request));
  const label = `${input.day}/${runId}`;

  async function seal(eventsJson: Uint8Array | string | null, fetchComplete: boolean): Promise<SealedContent> {
    if (sealed) return sealed;
    sealing = true;
    await pageWrites;
    if (sealed) return sealed;
    if (eventsJson !== null)
      await putFile(
        'events.json',
        typeof eventsJson === 'string'
          ? Buffer.from(eventsJson, 'utf8')
          : Buffer.from(eventsJson.buffer, eventsJson.byteOffset, eventsJson.byteLength),
      );
    const content: ContentManifest = {
      format: CONTENT_FORMAT,
      runId,
      day: input.day,
      window: input.window,
      createdAt: now().toISOString(),
      raw: raw ? 'on' : 'off',
      fetchComplete,
      files: files.map((f) => ({ ...f })),
    };
    const entry = await putFile(CONTENT_MANIFEST_FILE, json(content));
    const contentSha256 = entry.sha256 as string;
    sealed = { contentSha256, footer: `Evidence bundle ${label}, content SHA-256 ${contentSha256}` };
    return sealed;
  }

  return {
    runId,
    label,
    addPage(body) {
      if (sealed || sealing)
        return Promise.reject(
          new EvidenceError(
            "Evidence content is sealed: no more pages can be added (the content manifest would not cover them). Add every page before sealContent; this is a bug, report it with the run's log",
          ),
        );
      const path = `raw/page-${String(++pages).padStart(4, '0')}.json.gz`;
      const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      // Only the writes are chained, to keep pages in order. Hashing and compression run on libuv's thread
      // pool, off the thread that parses the next page: the hash as a WebCrypto job, the compression in one
      // job (an output chunk that holds the usual result makes it one round trip; with zlib's default 16 KiB
      // chunks every chunk would wait for this thread to start the next).
      const contentHash = sha256HexOffThread(bytes);
      const compressed = raw ? gzipAsync(bytes, { level: 1, chunkSize: Math.max(64 * 1024, bytes.length >> 2) }) : null;
      // If an earlier page failed, these are never awaited: their own failure must not go unhandled.
      contentHash.catch(() => {});
      compressed?.catch(() => {});
      const written = pageWrites.then(async () => {
        const contentSha256 = await contentHash;
        if (!compressed) {
          files.push({ path, stored: false, contentSha256, contentSize: bytes.length });
          return;
        }
        const gz = await compressed;
        const gzHash = sha256HexOffThread(gz);
        gzHash.catch(() => {});
        await writeWhole(await staged.openFile(path), gz, Math.max(SLICE_BYTES, gz.length));
        files.push({ path, sha256: await gzHash, size: gz.length, stored: true, contentSha256, contentSize: bytes.length });
      });
      // A failed page fails the bundle: later pages are not written after it (the chain stays rejected).
      pageWrites = written;
      return written;
    },
    sealContent: ({ eventsJson, fetchComplete }) => seal(eventsJson, fetchComplete),
    async finish(fin) {
      if (finished) {
        throw new EvidenceError(
          "Evidence bundle already finished: its manifest is in the chain and cannot change. Begin a new bundle for another run; this is a bug, report it with the run's log",
        );
      }
      finished = true;
      const content = await seal(null, false);
      if (fin.html !== undefined) await putFile('digest.html', Buffer.from(fin.html, 'utf8'));
      if (fin.text !== undefined) await putFile('digest.txt', Buffer.from(fin.text, 'utf8'));
      if (fin.noticeHtml !== undefined) await putFile('failure-notice.html', Buffer.from(fin.noticeHtml, 'utf8'));
      if (fin.noticeText !== undefined) await putFile('failure-notice.txt', Buffer.from(fin.noticeText, 'utf8'));
      await putFile('delivery.json', json(fin.delivery));
      await putFile(
        'run.json',
        json({ ...fin.run, status: fin.status, versions: { package: deps.version, catalogue: deps.catalogueVersion } }),
      );
      const { head, checkpoint } = await backend.head();
      const prev = head ?? (checkpoint ? { seq: checkpoint.seq, manifestSha256: checkpoint.manifestSha256 } : null);
      const manifest: Manifest = {
        format: MANIFEST_FORMAT,
        seq: (prev?.seq ?? 0) + 1,
        runId,
        day: input.day,
        window: input.window,
        createdAt: fin.finishedAt.toISOString(),
        status: fin.status,
        prevManifestSha256: prev?.manifestSha256 ?? null,
        contentManifestSha256: content.contentSha256,
        versions: { package: deps.version, catalogue: deps.catalogueVersion },
        signing: signer ? { alg: signer.alg, keyFingerprint: signer.keyFingerprint } : null,
        files,
      };
      const bytes = json(manifest);
      const manifestSha256 = sha256Hex(bytes);
      const location = await staged.commit({
        seq: manifest.seq,
        manifest: bytes,
        manifestSha256,
        prevSha256: manifest.prevManifestSha256,
        signature: signer ? signer.sign(bytes) : null,
      });
      return { seq: manifest.seq, manifestSha256, location };
    },
  };
}
