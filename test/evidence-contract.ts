/**
 * The contract every evidence backend passes, through the one EvidenceArchive: test/evidence.test.ts runs
 * it over files and PostgreSQL. The fixture gives a fresh empty backend and backend-specific tampering.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BundleRef, EvidenceBackend } from '../src/evidence/evidence-backend.js';
import { createEvidenceArchive } from '../src/evidence/evidence-archive.js';
import { formatVerifyReport } from '../src/evidence/evidence-report.js';
import type { DeliveredRecord, EvidenceArchive, VerifyReport } from '../src/ports.js';

export interface EvidenceFixture {
  /** A new backend instance on the same (fresh) backing. */
  open(): Promise<EvidenceBackend>;
  flipByte(ref: BundleRef, path: string): Promise<void>;
  removeBundle(ref: BundleRef): Promise<void>;
  /** Removes the newest bundle `ref` and points the chain head at `previous` (none: null), as an attacker would. */
  cutTail(ref: BundleRef, previous: BundleRef | null): Promise<void>;
  setManifest(ref: BundleRef, manifest: Buffer): Promise<void>;
  cleanup(): Promise<void>;
}

const ed = generateKeyPairSync('ed25519');
export const ED_PRIVATE = ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
export const ED_PUBLIC = ed.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const other = generateKeyPairSync('ed25519');
const OTHER_PUBLIC = other.publicKey.export({ type: 'spki', format: 'pem' }).toString();

/** The archive's clock in the contract: what content manifests and exported entries are stamped with. */
export const ARCHIVE_NOW = new Date('2025-03-01T12:34:56.000Z');

export function dayOf(n: number): string {
  return new Date(Date.UTC(2025, 1, 1) + n * 86_400_000).toISOString().slice(0, 10);
}

/** One run's bundle: two raw pages, events, a digest showing the content hash, a delivery record. */
export async function writeRun(archive: EvidenceArchive, n: number, opts: { pageBytes?: number } = {}) {
  const day = dayOf(n);
  const start = new Date(Date.parse(`${day}T00:00:00Z`) - 86_400_000 + 7 * 3_600_000);
  const end = new Date(start.getTime() + 86_400_000);
  const bundle = await archive.begin({
    day,
    window: { start: start.toISOString(), end: end.toISOString(), key: `${start.toISOString()}/${end.toISOString()}` },
    request: { cmd: 'reporting', cid: '8771234', apiuser: 'lastpass-audit-digest', data: { from: 'a', to: 'b' } },
    startedAt: end,
  });
  const page = opts.pageBytes
    ? randomBytes(opts.pageBytes / 2).toString('hex')
    : JSON.stringify({ status: 'OK', data: { [`e${n}`]: { Time: day, Action: 'Failed Login' } } });
  await bundle.addPage(page);
  await bundle.addPage('{"status":"OK","data":{}}');
  const sealed = await bundle.sealContent({ eventsJson: JSON.stringify([{ n }]), fetchComplete: true });
  const finished = await bundle.finish({
    status: 'delivered',
    html: `<html><body>digest ${day}<footer>${sealed.footer}</footer></body></html>`,
    text: `digest ${day}\n${sealed.footer}\n`,
    delivery: { to: ['secops@example.org'], messageId: `msg-${n}` },
    run: { eventsReviewed: 2 },
    finishedAt: end,
  });
  return { bundle, sealed, finished };
}

/** A stored file of a bundle, whole (closes the backend). */
async function readAll(backend: EvidenceBackend, ref: BundleRef, path: string): Promise<Buffer> {
  try {
    const parts: Buffer[] = [];
    for await (const chunk of backend.read(ref, path)) parts.push(chunk);
    return Buffer.concat(parts);
  } finally {
    await backend.close();
  }
}

function problemsAt(report: VerifyReport, suffix: string) {
  return report.problems.filter((p) => p.where.endsWith(suffix));
}

export function describeEvidenceContract(name: string, makeFixture: () => Promise<EvidenceFixture>): void {
  describe(`evidence archive contract: ${name}`, () => {
    let fx: EvidenceFixture;
    const archives: EvidenceArchive[] = [];
    const archive = async (opts: { signingKey?: string; raw?: boolean; retentionDays?: number } = {}) => {
      const a = createEvidenceArchive({
        backend: await fx.open(),
        version: '9.9.9',
        catalogueVersion: 'test',
        now: () => ARCHIVE_NOW,
        ...opts,
      });
      archives.push(a);
      return a;
    };
    const refs = async () => {
      const b = await fx.open();
      try {
        return (await b.list()).filter((r) => r.complete).sort((x, y) => (x.seq ?? 0) - (y.seq ?? 0));
      } finally {
        await b.close();
      }
    };
    beforeEach(async () => {
      fx = await makeFixture();
    });
    afterEach(async () => {
      for (const a of archives.splice(0)) await a.close();
      await fx.cleanup();
    });

    it('a correct archive of 30 days, signed with Ed25519, verifies with the public key', async () => {
      const a = await archive({ signingKey: ED_PRIVATE });
      for (let n = 0; n < 30; n++) await writeRun(a, n);
      const report = await a.verify({ verifyKey: ED_PUBLIC });
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.bundlesChecked).toBe(30);
      expect(report.signaturesValid).toBe(30);
      expect(report.missingDays).toEqual([]);
      expect(report.head?.seq).toBe(30);
      expect(formatVerifyReport(report)).toContain('RESULT: OK');
      // A range checks only its days, the chain still as a whole.
      const part = await a.verify({ from: dayOf(3), to: dayOf(5), verifyKey: ED_PUBLIC });
      expect(part.ok).toBe(true);
      expect(part.bundlesChecked).toBe(3);
    });

    it('flipping one byte in any file of a bundle makes verify name that file', async () => {
      const a = await archive({ signingKey: 'an-hmac-secret-of-some-length' });
      for (let n = 0; n < 4; n++) await writeRun(a, n);
      const backend = await fx.open();
      const target = (await refs())[1] as BundleRef;
      const paths = (await backend.files(target)).map((f) => f.path);
      await backend.close();
      expect(paths).toEqual(
        expect.arrayContaining([
          'request.json',
          'raw/page-0001.json.gz',
          'events.json',
          'content-manifest.json',
          'digest.html',
          'digest.txt',
          'delivery.json',
          'run.json',
          'manifest.json',
          'manifest.sig',
        ]),
      );
      for (const path of paths) {
        const fresh = await makeFixture();
        const old = fx;
        fx = fresh;
        try {
          const b = await archive({ signingKey: 'an-hmac-secret-of-some-length' });
          for (let n = 0; n < 4; n++) await writeRun(b, n);
          const ref = (await refs())[1] as BundleRef;
          await fx.flipByte(ref, path);
          const report = await b.verify({ verifyKey: 'an-hmac-secret-of-some-length' });
          expect(report.ok, path).toBe(false);
          expect(problemsAt(report, `${ref.runId}/${path}`).length, `${path}: ${JSON.stringify(report.problems)}`).toBeGreaterThan(0);
        } finally {
          for (const x of archives.splice(0)) await x.close();
          await fresh.cleanup();
          fx = old;
        }
      }
    });

    it('a tampered raw page is reported with the expected and actual SHA-256', async () => {
      const a = await archive();
      for (let n = 0; n < 3; n++) await writeRun(a, n);
      const ref = (await refs())[0] as BundleRef;
      await fx.flipByte(ref, 'raw/page-0001.json.gz');
      const report = await a.verify();
      const [problem] = problemsAt(report, 'raw/page-0001.json.gz');
      expect(problem?.message).toMatch(/expected [0-9a-f]{64} \(\d+ bytes\), actual [0-9a-f]{64}/);
    });

    it('deleting a bundle in the middle is reported as a gap in the chain and a missing day', async () => {
      const a = await archive();
      for (let n = 0; n < 6; n++) await writeRun(a, n);
      await fx.removeBundle((await refs())[2] as BundleRef);
      const report = await a.verify();
      expect(report.ok).toBe(false);
      expect(report.missingDays).toEqual([dayOf(2)]);
      expect(report.problems.some((p) => p.kind === 'chain' && /seq 3 are missing/.test(p.message))).toBe(true);
    });

    it('deleting the newest bundle is reported against the chain head', async () => {
      const a = await archive();
      for (let n = 0; n < 3; n++) await writeRun(a, n);
      await fx.removeBundle((await refs())[2] as BundleRef);
      const report = await a.verify();
      if (name === 'files') {
        expect(report.problems.some((p) => p.where === 'chain head')).toBe(true);
      } else {
        // PostgreSQL: the head IS the newest complete bundle; the email footer anchors the last day.
        expect(report.head?.seq).toBe(2);
      }
    });

    describe("the store's delivered windows cross-checked against the archive (a cut tail)", () => {
      /** What the store records for a window written by writeRun: the bundle's label and content SHA-256. */
      const record = (run: Awaited<ReturnType<typeof writeRun>>, n: number): DeliveredRecord => ({
        key: `window-${n}`,
        end: `${dayOf(n)}T07:00:00.000Z`,
        deliveredAt: `${dayOf(n)}T07:00:05.000Z`,
        messageId: `msg-${n}`,
        evidence: { bundle: run.bundle.label, contentSha256: run.sealed.contentSha256 },
      });
      const deliveryProblems = (r: VerifyReport) => r.problems.filter((p) => p.kind === 'delivery');

      it('an intact archive: every delivered window is found by its content SHA-256', async () => {
        const a = await archive({ signingKey: ED_PRIVATE });
        const runs = [];
        for (let n = 0; n < 3; n++) runs.push(await writeRun(a, n));
        const report = await a.verify({ verifyKey: ED_PUBLIC, delivered: runs.map(record) });
        expect(report.problems).toEqual([]);
        expect(report.deliveries).toEqual({ recorded: 3, matched: 3, pruned: 0, withoutEvidence: 0 });
        expect(formatVerifyReport(report)).toContain('Deliveries: 3 of 3 delivered window(s) in the store found in the archive');
      });

      it("deleting the newest bundle and pointing the chain head at the previous one is reported by the bundle's name", async () => {
        const a = await archive({ signingKey: ED_PRIVATE });
        const runs = [];
        for (let n = 0; n < 3; n++) runs.push(await writeRun(a, n));
        const [, second, newest] = await refs();
        await fx.cutTail(newest as BundleRef, second as BundleRef);
        // The chain alone no longer sees it: the cut is consistent.
        const chainOnly = await a.verify({ verifyKey: ED_PUBLIC });
        expect(chainOnly.ok).toBe(true);
        const report = await a.verify({ verifyKey: ED_PUBLIC, delivered: runs.map(record) });
        expect(report.ok).toBe(false);
        expect(deliveryProblems(report)).toEqual([
          {
            kind: 'delivery',
            where: runs[2]!.bundle.label,
            message: expect.stringMatching(
              /window window-2 \(delivered .*, SendGrid message id msg-2\): bundle .* is missing from the archive/,
            ),
          },
        ]);
        expect(report.deliveries).toMatchObject({ recorded: 3, matched: 2 });
      });

      it('deleting a bundle in the middle is reported by name too (besides the chain gap)', async () => {
        const a = await archive();
        const runs = [];
        for (let n = 0; n < 4; n++) runs.push(await writeRun(a, n));
        await fx.removeBundle((await refs())[1] as BundleRef);
        const report = await a.verify({ delivered: runs.map(record) });
        expect(deliveryProblems(report).map((p) => p.where)).toEqual([runs[1]!.bundle.label]);
      });

      it('every bundle deleted (an empty archive, head gone) with a verification key set fails when the store records deliveries', async () => {
        const a = await archive({ signingKey: ED_PRIVATE });
        const runs = [];
        for (let n = 0; n < 2; n++) runs.push(await writeRun(a, n));
        const [first, second] = await refs();
        await fx.cutTail(second as BundleRef, first as BundleRef);
        await fx.cutTail(first as BundleRef, null);
        const report = await a.verify({ verifyKey: ED_PUBLIC, delivered: runs.map(record) });
        expect(report.bundlesChecked).toBe(0);
        expect(report.ok).toBe(false);
        expect(
          deliveryProblems(report)
            .map((p) => p.where)
            .sort(),
        ).toEqual([...runs.map((r) => r.bundle.label), 'archive'].sort());
        expect(deliveryProblems(report).find((p) => p.where === 'archive')?.message).toMatch(
          /the archive holds no bundle, but the store records 2 delivered window\(s\)/,
        );
        // Records from before the store kept bundles still make an empty archive a failure.
        const legacy = await a.verify({
          delivered: runs.map((r, n) => {
            const { evidence: _none, ...before } = record(r, n);
            return before;
          }),
        });
        expect(deliveryProblems(legacy).map((p) => p.where)).toEqual(['archive']);
        // An empty archive with an empty store is a fresh install.
        expect((await a.verify({ verifyKey: ED_PUBLIC, delivered: [] })).ok).toBe(true);
      });

      it('a replaced bundle (its manifest no longer records the content SHA-256 the store has) is reported', async () => {
        const a = await archive();
        const runs = [];
        for (let n = 0; n < 2; n++) runs.push(await writeRun(a, n));
        const altered = { ...record(runs[1]!, 1), evidence: { bundle: runs[1]!.bundle.label, contentSha256: 'f'.repeat(64) } };
        const report = await a.verify({ delivered: [record(runs[0]!, 0), altered] });
        expect(deliveryProblems(report)).toEqual([
          expect.objectContaining({ where: runs[1]!.bundle.label, message: expect.stringMatching(/its manifest was replaced/) }),
        ]);
      });

      it('what stays undetectable: the newest bundle deleted AND its delivery record removed from the store', async () => {
        const a = await archive();
        const runs = [];
        for (let n = 0; n < 3; n++) runs.push(await writeRun(a, n));
        const [, second, newest] = await refs();
        await fx.cutTail(newest as BundleRef, second as BundleRef);
        const report = await a.verify({ delivered: runs.slice(0, 2).map(record) });
        expect(report.ok).toBe(true); // only the digest's footer in the mailboxes still holds its content SHA-256
      });

      it('bundles pruned by the retention are expected to be gone', async () => {
        const a = await archive({ retentionDays: 5 });
        const runs = [];
        for (let n = 0; n < 12; n++) runs.push(await writeRun(a, n));
        const { pruned } = await a.prune(new Date(`${dayOf(11)}T12:00:00Z`));
        expect(pruned).toBeGreaterThan(0);
        const report = await a.verify({ delivered: runs.map(record) });
        expect(report.problems).toEqual([]);
        expect(report.deliveries).toMatchObject({ recorded: 12, pruned, matched: 12 - pruned });
      });
    });

    it('reordering (swapping) two manifests is detected', async () => {
      const a = await archive();
      for (let n = 0; n < 5; n++) await writeRun(a, n);
      const [, r1, r2] = await refs();
      await fx.setManifest(r1 as BundleRef, (r2 as BundleRef).manifest as Buffer);
      await fx.setManifest(r2 as BundleRef, (r1 as BundleRef).manifest as Buffer);
      const report = await a.verify();
      expect(report.ok).toBe(false);
      expect(report.problems.some((p) => p.kind === 'chain')).toBe(true);
    });

    it('a replaced manifest (consistent with edited files) is detected by the chain', async () => {
      const a = await archive();
      for (let n = 0; n < 4; n++) await writeRun(a, n);
      const ref = (await refs())[1] as BundleRef;
      const m = JSON.parse((ref.manifest as Buffer).toString('utf8')) as { status: string };
      m.status = 'failed';
      await fx.setManifest(ref, Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
      const report = await a.verify();
      expect(report.ok).toBe(false);
      expect(problemsAt(report, `${ref.runId}/manifest.json`).some((p) => p.kind === 'chain')).toBe(true);
    });

    it('signatures checked with a wrong key fail (HMAC and Ed25519); a stripped signature is caught', async () => {
      const h = await archive({ signingKey: 'the-right-hmac-secret' });
      await writeRun(h, 0);
      const wrongHmac = await h.verify({ verifyKey: 'a-wrong-hmac-secret!!' });
      expect(wrongHmac.ok).toBe(false);
      expect(wrongHmac.problems[0]?.kind).toBe('signature');
      expect((await h.verify({ verifyKey: 'the-right-hmac-secret' })).ok).toBe(true);
      const unchecked = await h.verify();
      expect(unchecked.signaturesUnchecked).toBe(1);

      const e = await archive({ signingKey: ED_PRIVATE });
      await writeRun(e, 1);
      const wrongEd = await e.verify({ verifyKey: OTHER_PUBLIC });
      expect(wrongEd.problems.filter((p) => p.kind === 'signature')).toHaveLength(2);
      const unsigned = await archive();
      await writeRun(unsigned, 2);
      const r = await unsigned.verify({ verifyKey: 'the-right-hmac-secret' });
      expect(r.problems.some((p) => p.kind === 'signature' && /not signed/.test(p.message))).toBe(true);
    });

    it('a crash mid-bundle (never finished) is reported as incomplete, and the chain continues after it', async () => {
      const a = await archive();
      await writeRun(a, 0);
      const dangling = await a.begin({ day: dayOf(1), window: { start: 'x', end: 'y', key: 'k' }, request: {}, startedAt: new Date() });
      await dangling.addPage('{"status":"OK","data":{}}');
      await writeRun(a, 1);
      const report = await a.verify();
      expect(report.ok).toBe(false);
      expect(report.incomplete).toHaveLength(1);
      expect(report.problems.filter((p) => p.kind !== 'incomplete')).toEqual([]);
      expect(report.problems[0]?.where).toContain(dangling.runId);
    });

    it('EVIDENCE_RAW=off leaves the pages out but records their SHA-256 and size', async () => {
      const a = await archive({ raw: false });
      await writeRun(a, 0);
      const ref = (await refs())[0] as BundleRef;
      const m = JSON.parse((ref.manifest as Buffer).toString('utf8')) as {
        files: { path: string; stored: boolean; contentSha256?: string; contentSize?: number }[];
      };
      const page = m.files.find((f) => f.path === 'raw/page-0001.json.gz');
      expect(page).toMatchObject({
        stored: false,
        contentSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
        contentSize: expect.any(Number),
      });
      const b = await fx.open();
      expect((await b.files(ref)).map((f) => f.path)).not.toContain('raw/page-0001.json.gz');
      await b.close();
      expect((await a.verify()).ok).toBe(true);
    });

    it('pruning past the retention keeps the chain verifiable through a checkpoint', async () => {
      const a = await archive({ retentionDays: 10 });
      for (let n = 0; n < 20; n++) await writeRun(a, n);
      const { pruned } = await a.prune(new Date(`${dayOf(19)}T12:00:00Z`));
      expect(pruned).toBe(9);
      const report = await a.verify();
      expect(report.problems).toEqual([]);
      expect(report.checkpoint?.seq).toBe(9);
      expect(report.bundlesChecked).toBe(11);
      await writeRun(a, 20);
      expect((await a.verify()).ok).toBe(true);
    });

    it('exports a range as tar.gz with an auditor README that sha256sum can check', async () => {
      const a = await archive({ signingKey: ED_PRIVATE });
      for (let n = 0; n < 5; n++) await writeRun(a, n);
      const out = await mkdtemp(join(tmpdir(), 'lpad-export-'));
      try {
        const file = join(out, 'evidence.tar.gz');
        const result = await a.exportTarGz({ from: dayOf(1), to: dayOf(3), out: file, verifyKey: ED_PUBLIC });
        expect(result.bundles).toBe(3);
        expect(result.report.ok).toBe(true);
        const listing = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' });
        expect(listing).toContain('AUDITOR-README.txt');
        expect(listing).toContain(`evidence/${dayOf(2).replace(/-/g, '/')}/`);
        execFileSync('tar', ['-xzf', file, '-C', out]);
        const check = execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' });
        expect(check).not.toMatch(/FAILED/);
        expect(await readFile(join(out, 'AUDITOR-README.txt'), 'utf8')).toContain('openssl pkeyutl -verify');
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });

    it("stamps the content manifest and the exported entries with the archive's clock", async () => {
      const a = await archive();
      const { finished } = await writeRun(a, 0);
      const bundle = (await refs())[0]!;
      const content = await readAll(await fx.open(), bundle, 'content-manifest.json');
      expect(JSON.parse(content.toString('utf8'))).toMatchObject({ createdAt: ARCHIVE_NOW.toISOString() });
      expect(finished.seq).toBe(1);
      const out = await mkdtemp(join(tmpdir(), 'lpad-export-'));
      try {
        const file = join(out, 'evidence.tar.gz');
        await a.exportTarGz({ from: dayOf(0), to: dayOf(0), out: file });
        const tar = gunzipSync(await readFile(file));
        // The first entry's header: mtime is 12 octal digits (seconds) at offset 136.
        expect(tar.subarray(0, 18).toString('utf8')).toBe('AUDITOR-README.txt');
        expect(Number.parseInt(tar.subarray(136, 147).toString('ascii'), 8)).toBe(Math.floor(ARCHIVE_NOW.getTime() / 1000));
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
  });
}
