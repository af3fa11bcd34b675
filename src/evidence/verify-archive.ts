/**
 * Verifying the archive: the chain over every bundle (sequence numbers, each manifest's SHA-256 recorded by
 * the next one, the chain head, the pruning checkpoint), then for the bundles of the asked days their
 * signatures, every stored file re-hashed (and raw pages gunzipped and hashed again), files not in the
 * manifest, the content manifest against the final one, the digest's footer, and days without a bundle.
 * Every problem found is reported; nothing stops at the first.
 */
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import type { BundleRef, EvidenceBackend } from './evidence-backend.js';
import {
  addDays,
  CONTENT_MANIFEST_FILE,
  type ContentManifest,
  MANIFEST_FILE,
  parseManifest,
  SIGNATURE_FILE,
  sha256Hex,
} from './evidence-manifest.js';
import { createManifestVerifier, type ManifestVerifier } from './evidence-signing.js';
import type { VerifyOptions, VerifyProblem, VerifyReport } from '../ports.js';
import { crossCheckDeliveries } from './delivery-cross-check.js';

export async function verifyArchive(backend: EvidenceBackend, opts: VerifyOptions = {}): Promise<VerifyReport> {
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
      const actual = await hashStored(backend, p.ref, entry.path, entry.contentSha256 !== undefined);
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
      const text = await readSmall(backend, p.ref, CONTENT_MANIFEST_FILE);
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
      if (
        html &&
        m.status === 'delivered' &&
        !(await readSmall(backend, p.ref, 'digest.html')).includes(m.contentManifestSha256 ?? '\u0000')
      ) {
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
  // The store's delivered windows against the archive: a bundle deleted at the tail leaves no gap in the chain.
  const cross = opts.delivered
    ? crossCheckDeliveries({
        bundles: all.map((ref) => {
          const p = parsed.find((x) => x.ref === ref);
          const manifest = p && typeof p.manifest !== 'string' ? p.manifest : null;
          return {
            label: `${ref.day}/${ref.runId}`,
            runId: ref.runId,
            complete: ref.complete,
            contentSha256: manifest?.contentManifestSha256 ?? null,
          };
        }),
        checkpoint,
        delivered: opts.delivered,
        inRange,
      })
    : null;
  if (cross) problems.push(...cross.problems);
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
    deliveries: cross?.summary ?? null,
    problems,
    ok: problems.length === 0,
  };
}

async function hashStored(
  backend: EvidenceBackend,
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

async function readSmall(backend: EvidenceBackend, ref: BundleRef, path: string, limit = 4 * 1024 * 1024): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of backend.read(ref, path)) {
    parts.push(chunk);
    n += chunk.length;
    if (n > limit) break;
  }
  return Buffer.concat(parts).toString('utf8');
}
