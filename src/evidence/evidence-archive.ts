/**
 * The compliance evidence archive: one bundle per run that reached LastPass, hash-chained.
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
 *
 * Raw pages: each body's bytes, exactly as the client received them, are hashed (WebCrypto) and gzipped (one
 * job) on the thread pool while the next page is fetched and analysed; the compressed bytes are hashed again
 * and written, pages strictly in order. Nothing of a page is kept once written; the caller bounds how many pages
 * are in flight (run-evidence.ts).
 */
import { once } from 'node:events';
import { createGunzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { formatVerifyReport } from './evidence-report.js';
import type { BundleRef, EvidenceBackend, EvidenceFileSink, StagedBundle } from './evidence-backend.js';
import { createManifestSigner, createManifestVerifier, type ManifestSigner, type ManifestVerifier } from './evidence-signing.js';
import { createTarGzWriter } from './tar-writer.js';
import type { BeginInput, EvidenceArchive, EvidenceBundle, EvidenceWindow, SealedContent, VerifyProblem, VerifyReport } from '../ports.js';

const gzipAsync = promisify(gzip);

export const MANIFEST_FORMAT = 'lastpass-audit-digest/evidence-manifest@1';
export const CONTENT_FORMAT = 'lastpass-audit-digest/evidence-content@1';
export const MANIFEST_FILE = 'manifest.json';
export const SIGNATURE_FILE = 'manifest.sig';
export const CONTENT_MANIFEST_FILE = 'content-manifest.json';
/** Slice size of the files (other than raw pages) handed to the backend. */
export const SLICE_BYTES = 64 * 1024;
export const DEFAULT_RETENTION_DAYS = 400;

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

export interface EvidenceArchiveOptions {
  backend: EvidenceBackend;
  version: string;
  catalogueVersion: string;
  /** false: EVIDENCE_RAW=off. */
  raw?: boolean;
  signingKey?: string | null;
  retentionDays?: number;
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

function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
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

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, 'utf8');
}

export function createEvidenceArchive(options: EvidenceArchiveOptions): EvidenceArchive {
  const { backend } = options;
  const raw = options.raw ?? true;
  const signer: ManifestSigner | null = options.signingKey ? createManifestSigner(options.signingKey) : null;
  const retentionDays = options.retentionDays ?? DEFAULT_RETENTION_DAYS;

  async function begin(input: BeginInput): Promise<EvidenceBundle> {
    if (!isDay(input.day)) throw new Error(`Evidence bundle day ${JSON.stringify(input.day)} is not YYYY-MM-DD`);
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
        createdAt: new Date().toISOString(),
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
        if (sealed || sealing) return Promise.reject(new Error('Evidence content is sealed: no more pages can be added'));
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
        if (finished) throw new Error('Evidence bundle already finished');
        finished = true;
        const content = await seal(null, false);
        if (fin.html !== undefined) await putFile('digest.html', Buffer.from(fin.html, 'utf8'));
        if (fin.text !== undefined) await putFile('digest.txt', Buffer.from(fin.text, 'utf8'));
        if (fin.noticeHtml !== undefined) await putFile('failure-notice.html', Buffer.from(fin.noticeHtml, 'utf8'));
        if (fin.noticeText !== undefined) await putFile('failure-notice.txt', Buffer.from(fin.noticeText, 'utf8'));
        await putFile('delivery.json', json(fin.delivery));
        await putFile(
          'run.json',
          json({ ...fin.run, status: fin.status, versions: { package: options.version, catalogue: options.catalogueVersion } }),
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
          versions: { package: options.version, catalogue: options.catalogueVersion },
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

  async function hashStored(
    ref: BundleRef,
    path: string,
    gz: boolean,
  ): Promise<{ sha256: string; size: number; contentSha256?: string; contentSize?: number; gzipError?: string }> {
    const stored = createHash('sha256');
    let size = 0;
    const content = createHash('sha256');
    let contentSize = 0;
    const gunzip = gz ? createGunzip() : null;
    let gzipError: string | undefined;
    const consume = gunzip
      ? (async () => {
          try {
            for await (const chunk of gunzip as AsyncIterable<Buffer>) {
              content.update(chunk);
              contentSize += chunk.length;
            }
          } catch (error) {
            gzipError = error instanceof Error ? error.message : String(error);
          }
        })()
      : Promise.resolve();
    try {
      for await (const chunk of backend.read(ref, path)) {
        stored.update(chunk);
        size += chunk.length;
        if (gunzip && gzipError === undefined && !gunzip.destroyed) {
          if (!gunzip.write(chunk)) await once(gunzip, 'drain').catch(() => undefined);
        }
      }
    } finally {
      gunzip?.end();
      await consume;
    }
    return gz
      ? { sha256: stored.digest('hex'), size, contentSha256: content.digest('hex'), contentSize, ...(gzipError ? { gzipError } : {}) }
      : { sha256: stored.digest('hex'), size };
  }

  function parseManifest(ref: BundleRef): Manifest | string {
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

  async function verify(opts: { from?: string; to?: string; verifyKey?: string | null } = {}): Promise<VerifyReport> {
    const from = opts.from ?? null;
    const to = opts.to ?? null;
    const inRange = (day: string) => (from === null || day >= from) && (to === null || day <= to);
    const verifier: ManifestVerifier | null = opts.verifyKey ? createManifestVerifier(opts.verifyKey) : null;
    const problems: VerifyProblem[] = [];
    const { head, checkpoint } = await backend.head();
    const all = await backend.list();
    const incomplete = all.filter((b) => !b.complete && inRange(b.day));
    for (const b of incomplete) {
      problems.push({
        kind: 'incomplete',
        where: b.location,
        message: `incomplete bundle of run ${b.runId} (day ${b.day}): the run stopped while writing its evidence; it is not part of the chain. Check the worker's log for that run, then remove it.`,
      });
    }
    const complete = all.filter((b) => b.complete);
    const parsed = complete.map((ref) => ({ ref, manifest: parseManifest(ref), sha: ref.manifest ? sha256Hex(ref.manifest) : '' }));
    for (const p of parsed) {
      if (typeof p.manifest === 'string')
        problems.push({ kind: 'manifest', where: `${p.ref.location}/${MANIFEST_FILE}`, message: p.manifest });
    }
    // Chain walk over the whole archive (manifests only): it does not depend on the range.
    const chain = parsed
      .filter((p) => p.ref.seq !== null && (checkpoint === null || (p.ref.seq as number) > checkpoint.seq))
      .sort((a, b) => (a.ref.seq as number) - (b.ref.seq as number));
    let expectedSeq = (checkpoint?.seq ?? 0) + 1;
    let expectedPrev: string | null = checkpoint?.manifestSha256 ?? null;
    let prevManifest: string | null = null;
    let prevWhere = checkpoint ? `the pruning checkpoint (seq ${checkpoint.seq}, day ${checkpoint.day})` : 'the start of the archive';
    for (const p of chain) {
      const seq = p.ref.seq as number;
      const where = `${p.ref.location}/${MANIFEST_FILE}`;
      if (seq < expectedSeq) {
        problems.push({ kind: 'chain', where, message: `sequence number ${seq} is used twice: a manifest was copied or replaced` });
      } else if (seq > expectedSeq) {
        problems.push({
          kind: 'chain',
          where,
          message: `gap in the chain: bundle(s) seq ${expectedSeq}${seq - 1 > expectedSeq ? `–${seq - 1}` : ''} are missing between ${prevWhere} and this bundle (seq ${seq}, day ${p.ref.day})`,
        });
      } else if (typeof p.manifest !== 'string' && p.manifest.prevManifestSha256 !== expectedPrev) {
        // Name the older manifest (the one whose hash no longer matches); the newer one is the witness.
        problems.push({
          kind: 'chain',
          where: prevManifest ?? where,
          message: `chain broken: ${prevWhere} hashes to ${expectedPrev ?? 'none'}, but the next bundle ${p.ref.location} (seq ${seq}) records ${p.manifest.prevManifestSha256 ?? 'none'} as its previous manifest (a manifest was replaced, or bundles were reordered)`,
        });
      }
      if (typeof p.manifest !== 'string') {
        if (p.manifest.seq !== seq || p.manifest.runId !== p.ref.runId || p.manifest.day !== p.ref.day) {
          problems.push({
            kind: 'chain',
            where,
            message: `manifest names seq ${p.manifest.seq}, run ${p.manifest.runId}, day ${p.manifest.day} but is filed as seq ${seq}, run ${p.ref.runId}, day ${p.ref.day} (manifests moved or swapped)`,
          });
        }
      }
      expectedSeq = seq + 1;
      expectedPrev = p.sha;
      prevWhere = `${p.ref.location} (seq ${seq})`;
      prevManifest = where;
    }
    const last = chain[chain.length - 1];
    if (last && (!head || head.seq !== last.ref.seq || head.manifestSha256 !== last.sha)) {
      problems.push({
        kind: 'chain',
        where: head && head.seq === last.ref.seq ? `${last.ref.location}/${MANIFEST_FILE}` : 'chain head',
        message: head
          ? `the chain head records seq ${head.seq} with manifest SHA-256 ${head.manifestSha256}, but the newest bundle is seq ${last.ref.seq} (${last.ref.location}) with ${last.sha}: the newest bundle(s) were removed or replaced`
          : `bundles exist but there is no chain head: the chain head was deleted`,
      });
    } else if (!last && head && head.seq > (checkpoint?.seq ?? 0)) {
      problems.push({
        kind: 'chain',
        where: 'chain head',
        message: `the chain head records seq ${head.seq} but no bundle exists: the bundles were removed`,
      });
    }

    // Files and signatures of the bundles in range.
    let filesChecked = 0;
    let signaturesValid = 0;
    let signaturesUnchecked = 0;
    const checked = parsed.filter((p) => inRange(p.ref.day));
    for (const p of checked) {
      if (typeof p.manifest === 'string') continue;
      const m = p.manifest;
      const loc = p.ref.location;
      // Signature
      if (m.signing) {
        if (!p.ref.signature)
          problems.push({
            kind: 'signature',
            where: `${loc}/${SIGNATURE_FILE}`,
            message: 'the manifest says it is signed but manifest.sig is missing',
          });
        else if (!verifier) signaturesUnchecked++;
        else if (verifier.keyFingerprint !== m.signing.keyFingerprint) {
          problems.push({
            kind: 'signature',
            where: `${loc}/${SIGNATURE_FILE}`,
            message: `signed with key ${m.signing.keyFingerprint}, but EVIDENCE_VERIFY_KEY is ${verifier.keyFingerprint}`,
          });
        } else if (!verifier.verify(p.ref.manifest as Buffer, p.ref.signature)) {
          problems.push({
            kind: 'signature',
            where: `${loc}/${SIGNATURE_FILE}`,
            message: 'the signature does not match manifest.json (altered manifest, or a wrong key)',
          });
        } else signaturesValid++;
      } else if (verifier) {
        problems.push({
          kind: 'signature',
          where: `${loc}/${MANIFEST_FILE}`,
          message: 'the manifest is not signed, but EVIDENCE_VERIFY_KEY is set (a signature may have been stripped)',
        });
      }
      // Files: every stored entry, and nothing else.
      const present = new Map((await backend.files(p.ref)).map((f) => [f.path, f.size]));
      present.delete(MANIFEST_FILE);
      present.delete(SIGNATURE_FILE);
      for (const entry of m.files) {
        if (!entry.stored) continue;
        const where = `${loc}/${entry.path}`;
        if (!present.has(entry.path)) {
          problems.push({ kind: 'file', where, message: `missing (expected SHA-256 ${entry.sha256 ?? '?'}, ${entry.size ?? '?'} bytes)` });
          continue;
        }
        present.delete(entry.path);
        filesChecked++;
        const actual = await hashStored(p.ref, entry.path, entry.contentSha256 !== undefined);
        if (actual.sha256 !== entry.sha256 || actual.size !== entry.size) {
          problems.push({
            kind: 'file',
            where,
            message: `SHA-256 mismatch: expected ${entry.sha256 ?? '?'} (${entry.size ?? '?'} bytes), actual ${actual.sha256} (${actual.size} bytes)`,
          });
        } else if (actual.gzipError) {
          problems.push({ kind: 'file', where, message: `not valid gzip: ${actual.gzipError}` });
        } else if (
          entry.contentSha256 !== undefined &&
          (actual.contentSha256 !== entry.contentSha256 || actual.contentSize !== entry.contentSize)
        ) {
          problems.push({
            kind: 'file',
            where,
            message: `uncompressed SHA-256 mismatch: expected ${entry.contentSha256}, actual ${actual.contentSha256 ?? '?'}`,
          });
        }
      }
      for (const extra of present.keys())
        problems.push({
          kind: 'file',
          where: `${loc}/${extra}`,
          message: 'not listed in manifest.json (added after the bundle was sealed)',
        });
      // The content manifest agrees with the final one, and the digest shows its hash.
      const contentEntry = m.files.find((f) => f.path === CONTENT_MANIFEST_FILE);
      if (!contentEntry || contentEntry.sha256 !== m.contentManifestSha256) {
        problems.push({
          kind: 'manifest',
          where: `${loc}/${MANIFEST_FILE}`,
          message: 'contentManifestSha256 does not match the listed content-manifest.json',
        });
      } else {
        const text = await readSmall(p.ref, CONTENT_MANIFEST_FILE);
        try {
          const content = JSON.parse(text) as ContentManifest;
          for (const c of content.files) {
            const f = m.files.find((x) => x.path === c.path);
            if (!f || f.sha256 !== c.sha256 || f.contentSha256 !== c.contentSha256) {
              problems.push({
                kind: 'manifest',
                where: `${loc}/${c.path}`,
                message: 'content-manifest.json and manifest.json disagree about this file',
              });
            }
          }
        } catch {
          // A content manifest that is not JSON fails its hash above.
        }
        const html = m.files.find((f) => f.path === 'digest.html');
        if (html && m.status === 'delivered' && !(await readSmall(p.ref, 'digest.html')).includes(m.contentManifestSha256 ?? '\u0000')) {
          problems.push({
            kind: 'manifest',
            where: `${loc}/digest.html`,
            message: 'the digest does not show the content SHA-256 of this bundle',
          });
        }
      }
    }
    // Missing days between the first and the last bundle in range.
    const days = [...new Set(checked.filter((p) => typeof p.manifest !== 'string').map((p) => p.ref.day))].sort();
    const missingDays: string[] = [];
    const firstDay = days[0] ?? null;
    const lastDay = days[days.length - 1] ?? null;
    if (firstDay && lastDay) {
      const have = new Set(days);
      for (let d = firstDay; d <= lastDay; d = addDays(d, 1)) if (!have.has(d)) missingDays.push(d);
    }
    for (const d of missingDays) problems.push({ kind: 'missing-day', where: d, message: 'no evidence bundle for this day' });
    return {
      archive: backend.description,
      from,
      to,
      bundlesChecked: checked.length,
      filesChecked,
      signaturesValid,
      signaturesUnchecked,
      firstDay,
      lastDay,
      head: last ? { seq: last.ref.seq as number, manifestSha256: last.sha } : null,
      checkpoint,
      missingDays,
      incomplete: incomplete.map((b) => b.location),
      problems,
      ok: problems.length === 0,
    };
  }

  async function readSmall(ref: BundleRef, path: string, limit = 4 * 1024 * 1024): Promise<string> {
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of backend.read(ref, path)) {
      parts.push(chunk);
      n += chunk.length;
      if (n > limit) break;
    }
    return Buffer.concat(parts).toString('utf8');
  }

  async function exportTarGz(opts: { from: string; to: string; out: string; verifyKey?: string | null }) {
    const report = await verify({ from: opts.from, to: opts.to, verifyKey: opts.verifyKey ?? null });
    const bundles = (await backend.list())
      .filter((b) => b.complete && b.day >= opts.from && b.day <= opts.to)
      .sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    const tar = await createTarGzWriter(opts.out);
    let files = 0;
    const sums: string[] = [];
    try {
      await tar.addBuffer('AUDITOR-README.txt', Buffer.from(auditorReadme(opts.from, opts.to), 'utf8'));
      await tar.addBuffer('VERIFY-REPORT.txt', Buffer.from(formatVerifyReport(report), 'utf8'));
      const { head, checkpoint } = await backend.head();
      await tar.addBuffer('chain.json', json({ head, checkpoint }));
      for (const b of bundles) {
        const dir = `evidence/${b.day.replace(/-/g, '/')}/${b.runId}`;
        for (const f of await backend.files(b)) {
          await tar.addStream(`${dir}/${f.path}`, f.size, backend.read(b, f.path));
          files++;
        }
        const m = parseManifest(b);
        if (typeof m !== 'string') for (const e of m.files) if (e.stored && e.sha256) sums.push(`${e.sha256}  ${dir}/${e.path}`);
      }
      await tar.addBuffer('SHA256SUMS', Buffer.from(sums.length ? `${sums.join('\n')}\n` : '', 'utf8'));
      await tar.finish();
    } catch (error) {
      await tar.abort();
      throw error;
    }
    return { bundles: bundles.length, files, report };
  }

  async function prune(now: Date): Promise<{ pruned: number }> {
    const cutoff = addDays(now.toISOString().slice(0, 10), -retentionDays);
    const { checkpoint } = await backend.head();
    const chain = (await backend.list())
      .filter((b) => b.complete && b.seq !== null && (checkpoint === null || (b.seq as number) > checkpoint.seq))
      .sort((a, b) => (a.seq as number) - (b.seq as number));
    // Only a prefix of the chain: the oldest bundles, up to the first one still kept.
    const doomed: BundleRef[] = [];
    for (const b of chain) {
      if (b.day >= cutoff) break;
      doomed.push(b);
    }
    // Always keep the newest bundle: it is the chain head.
    if (doomed.length === chain.length) doomed.pop();
    const lastDoomed = doomed[doomed.length - 1];
    if (!lastDoomed?.manifest) return { pruned: 0 };
    await backend.prune(doomed, {
      seq: lastDoomed.seq as number,
      manifestSha256: sha256Hex(lastDoomed.manifest),
      day: lastDoomed.day,
      prunedAt: now.toISOString(),
      prunedCount: (checkpoint?.prunedCount ?? 0) + doomed.length,
    });
    return { pruned: doomed.length };
  }

  return {
    description: backend.description,
    begin,
    verify,
    exportTarGz,
    prune,
    close: () => backend.close(),
  };
}

export function auditorReadme(from: string, to: string): string {
  return `LastPass audit digest: compliance evidence ${from} to ${to}
=====================================================================

This archive holds one evidence bundle per run of lastpass-audit-digest that reached the LastPass
Enterprise API (delivered, failed and quiet days alike; dry runs leave none), filed as
evidence/YYYY/MM/DD/<run id>/ by the day of the window the run covered.

Files of a bundle
  request.json            what was asked of LastPass: account number (cid), apiuser, command, the
                          wall-clock range and time zone, the window. The API secret is never recorded.
  raw/page-NNNN.json.gz   every response body exactly as received (gzip). With EVIDENCE_RAW=off these are
                          absent; manifest.json still records their SHA-256 and size.
  events.json             the security-relevant (and unrecognised) events of the window, normalised.
  content-manifest.json   SHA-256 and size of the three above, written BEFORE the digest was rendered.
                          Its SHA-256 is printed in the footer of the emailed digest
                          ("Evidence bundle <day>/<run id>, content SHA-256 <hex>").
  digest.html, digest.txt the digest as rendered and sent (absent when the run failed before rendering).
  delivery.json           recipients, SendGrid message id, or the error.
  run.json                outcome, package and event-catalogue versions, timings.
  manifest.json           SHA-256 and size of every file above, the SHA-256 of the previous bundle's
                          manifest.json (prevManifestSha256: the hash chain), the sequence number (seq),
                          run id, window and creation time.
  manifest.sig            (when signing is on) the signature over the exact bytes of manifest.json.

Top level
  SHA256SUMS              the hashes from the manifests, in sha256sum format.
  chain.json              the chain head (newest seq and manifest SHA-256) and the pruning checkpoint.
  VERIFY-REPORT.txt       the result of "lastpass-audit-digest verify" when this export was made.

How to verify without our software
  1. Files match their manifests:         sha256sum -c SHA256SUMS
     (SHA256SUMS is derived from the manifests; compare a few lines with manifest.json by eye, or
      jq -r '.files[] | select(.stored) | "\\(.sha256)  \\(.path)"' manifest.json | sha256sum -c  inside a bundle)
  2. The chain: for consecutive bundles (by "seq"), sha256sum of the older manifest.json equals
     "prevManifestSha256" in the newer one; the newest equals "manifestSha256" in chain.json.
  3. The email: the digest footer's content SHA-256 equals sha256sum of content-manifest.json, and
     manifest.json's contentManifestSha256.
  4. Raw pages: gunzip -c raw/page-0001.json.gz | sha256sum equals the page's "contentSha256".
  5. Signatures (manifest.signing says which):
     Ed25519 (public key from the operator, evidence-public.pem):
       openssl pkeyutl -verify -pubin -inkey evidence-public.pem -rawin -in manifest.json -sigfile manifest.sig
     HMAC-SHA-256 (shared secret):
       openssl dgst -sha256 -hmac "$SECRET" -binary manifest.json | cmp - manifest.sig
`;
}
