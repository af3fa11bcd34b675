/**
 * The evidence archive over both backends (the shared contract), plus the raw-page guarantees: pages
 * compressed concurrently are stored in order and byte for byte, and PostgreSQL never holds more than one
 * 1 MiB chunk.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEvidenceArchive } from '../src/evidence/evidence-archive.js';
import type { EvidenceBackend, EvidenceFileSink } from '../src/evidence/evidence-backend.js';
import { createFileEvidenceBackend } from '../src/evidence/file-evidence-backend.js';
import { createChunker, createPostgresEvidenceBackend, EVIDENCE_CHUNK_BYTES } from '../src/evidence/postgres-evidence-backend.js';
import { createManifestSigner, createManifestVerifier } from '../src/evidence/evidence-signing.js';
import { createRunEvidence } from '../src/evidence/run-evidence.js';
import { EvidenceError, StorageError } from '../src/errors.js';
import { recordingLogger } from './support/recording-logger.js';
import { createPostgresStore } from '../src/store/postgres-store.js';
import { ARCHIVE_NOW, describeEvidenceContract, ED_PRIVATE, ED_PUBLIC, writeRun } from './evidence-contract.js';
import { randomSchemaName, startTestDatabase, type TestDatabase } from './support/postgres.js';

describeEvidenceContract('files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lpad-evidence-'));
  return {
    open: async () => createFileEvidenceBackend({ dir }),
    flipByte: async (ref, path) => {
      const file = join(ref.location, path);
      const data = await readFile(file);
      const at = data.length >> 1;
      data[at] = (data[at] as number) ^ 1;
      await writeFile(file, data);
    },
    removeBundle: (ref) => rm(ref.location, { recursive: true, force: true }),
    cutTail: async (ref, previous) => {
      // The bundle goes, and chain.json is rewritten to name the previous one as the head (or none).
      await rm(ref.location, { recursive: true, force: true });
      const chain = JSON.parse(await readFile(join(dir, 'chain.json'), 'utf8')) as { head: unknown; checkpoint: unknown };
      chain.head =
        previous === null
          ? null
          : {
              seq: previous.seq,
              manifestSha256: createHash('sha256')
                .update(previous.manifest as Buffer)
                .digest('hex'),
              runId: previous.runId,
            };
      await writeFile(join(dir, 'chain.json'), `${JSON.stringify(chain, null, 2)}\n`);
    },
    setManifest: (ref, manifest) => writeFile(join(ref.location, 'manifest.json'), manifest),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

let db: TestDatabase;
beforeAll(async () => {
  db = await startTestDatabase();
});
afterAll(async () => {
  await db?.stop();
});

async function pgSchema(): Promise<string> {
  const schema = randomSchemaName('lpad_ev');
  const store = createPostgresStore({ connectionString: db.url, schema, maxConnections: 2, now: () => new Date() });
  await store.init();
  await store.close();
  return schema;
}

async function pgExec(sql: string, params: unknown[]): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(sql, params);
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
}

describeEvidenceContract('postgres', async () => {
  const schema = await pgSchema();
  const q = pg.escapeIdentifier(schema);
  return {
    open: async () => createPostgresEvidenceBackend({ connectionString: db.url, schema, maxConnections: 2 }),
    flipByte: async (ref, path) => {
      if (path === 'manifest.json' || path === 'manifest.sig') {
        const col = path === 'manifest.json' ? 'manifest' : 'signature';
        await pgExec(
          `UPDATE ${q}.evidence_bundles SET ${col} = set_byte(${col}, octet_length(${col}) / 2, get_byte(${col}, octet_length(${col}) / 2) # 1) WHERE run_id = $1`,
          [ref.runId],
        );
      } else {
        await pgExec(
          `UPDATE ${q}.evidence_files SET data = set_byte(data, octet_length(data) / 2, get_byte(data, octet_length(data) / 2) # 1) WHERE run_id = $1 AND path = $2 AND chunk_no = 0`,
          [ref.runId, path],
        );
      }
    },
    removeBundle: (ref) => pgExec(`DELETE FROM ${q}.evidence_bundles WHERE run_id = $1`, [ref.runId]),
    // PostgreSQL's chain head is the newest complete bundle: deleting the newest rewrites the head by itself.
    cutTail: (ref) => pgExec(`DELETE FROM ${q}.evidence_bundles WHERE run_id = $1`, [ref.runId]),
    setManifest: (ref, manifest) => pgExec(`UPDATE ${q}.evidence_bundles SET manifest = $2 WHERE run_id = $1`, [ref.runId, manifest]),
    cleanup: () => db.dropSchema(schema),
  };
});

/** A backend whose staged bundles open files through `open` (to watch, delay or fail them). */
function withOpenFile(
  backend: EvidenceBackend,
  open: (path: string, real: (path: string) => Promise<EvidenceFileSink>) => Promise<EvidenceFileSink>,
): EvidenceBackend {
  return {
    ...backend,
    stage: async (runId, day, startedAt) => {
      const staged = await backend.stage(runId, day, startedAt);
      return {
        location: staged.location,
        commit: (input) => staged.commit(input),
        openFile: (path) => open(path, (p) => staged.openFile(p)),
      };
    },
  };
}

/** Wraps a backend so that every write handed to storage is measured. */
function measured(backend: EvidenceBackend) {
  const writes: number[] = [];
  const wrapped = withOpenFile(backend, async (path, real) => {
    const sink = await real(path);
    return {
      write: async (chunk) => {
        if (path.startsWith('raw/')) writes.push(chunk.length);
        await sink.write(chunk);
      },
      end: () => sink.end(),
    };
  });
  return { wrapped, writes };
}

describe('evidence streaming', () => {
  it('pages handed over while earlier ones are still compressing are stored in order, each exactly as received', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-evidence-order-'));
    try {
      const { wrapped, writes } = measured(createFileEvidenceBackend({ dir }));
      const archive = createEvidenceArchive({ backend: wrapped, version: '1', catalogueVersion: 't', now: () => ARCHIVE_NOW });
      const bundle = await archive.begin({
        day: '2025-03-09',
        window: { start: 'a', end: 'b', key: 'k' },
        request: {},
        startedAt: new Date('2025-03-10T07:00:00Z'),
      });
      // The first page is the largest (it finishes compressing last); one is not valid UTF-8 (a BOM, a lone
      // 0xff byte): evidence keeps the bytes LastPass sent, not a re-encoding of what was decoded.
      const pages = [
        Buffer.from(
          `{"status":"OK","data":${JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ i, v: `row ${i} ${i * 7919}` })))}}`,
        ),
        Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x22, 0xff, 0x22, 0x7d]),
        Buffer.from('{"status":"OK","data":{}}'),
      ];
      await Promise.all(pages.map((p) => bundle.addPage(new Uint8Array(p))));
      await bundle.sealContent({ eventsJson: '[]', fetchComplete: true });
      const done = await bundle.finish({ status: 'delivered', delivery: {}, run: {}, finishedAt: new Date('2025-03-10T07:01:00Z') });
      const manifest = JSON.parse(await readFile(join(done.location, 'manifest.json'), 'utf8')) as {
        files: { path: string; contentSha256?: string; contentSize?: number }[];
      };
      const raw = manifest.files.filter((f) => f.path.startsWith('raw/'));
      expect(raw.map((f) => f.path)).toEqual(['raw/page-0001.json.gz', 'raw/page-0002.json.gz', 'raw/page-0003.json.gz']);
      for (const [i, page] of pages.entries()) {
        expect(raw[i]!.contentSha256).toBe(createHash('sha256').update(page).digest('hex'));
        expect(raw[i]!.contentSize).toBe(page.length);
        expect(gunzipSync(await readFile(join(done.location, raw[i]!.path))).equals(page)).toBe(true);
      }
      // Each page is compressed in one piece and written once.
      expect(writes).toHaveLength(3);
      expect((await archive.verify()).ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a page that cannot be written fails the bundle: later pages are refused, the content is never sealed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-evidence-fail-'));
    try {
      const failing = withOpenFile(createFileEvidenceBackend({ dir }), async (path, real) => {
        if (path === 'raw/page-0002.json.gz') throw new Error('disk full');
        return real(path);
      });
      const archive = createEvidenceArchive({ backend: failing, version: '1', catalogueVersion: 't', now: () => ARCHIVE_NOW });
      const bundle = await archive.begin({
        day: '2025-03-09',
        window: { start: 'a', end: 'b', key: 'k' },
        request: {},
        startedAt: new Date('2025-03-10T07:00:00Z'),
      });
      const results = await Promise.allSettled([1, 2, 3].map((n) => bundle.addPage(`{"status":"OK","page":${n}}`)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
      await expect(bundle.sealContent({ eventsJson: '[]', fetchComplete: true })).rejects.toThrow('disk full');
      await expect(bundle.addPage('{}')).rejects.toThrow(/sealed/);
      expect((await archive.verify()).bundlesChecked).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a run hands the archive at most three raw pages at once, and seals only after all of them are written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-evidence-flight-'));
    try {
      // Raw pages wait at the backend until released, one gate each; `gateArrives` resolves when one waits.
      const gates: (() => void)[] = [];
      let arrived: (() => void) | null = null;
      const gateArrives = () => new Promise<void>((resolve) => (gates.length > 0 ? resolve() : (arrived = resolve)));
      const gated = withOpenFile(createFileEvidenceBackend({ dir }), async (path, real) => {
        if (path.startsWith('raw/')) {
          await new Promise<void>((resolve) => {
            gates.push(resolve);
            arrived?.();
            arrived = null;
          });
        }
        return real(path);
      });
      const archive = createEvidenceArchive({ backend: gated, version: '1', catalogueVersion: 't', now: () => ARCHIVE_NOW });
      const evidence = createRunEvidence(archive, recordingLogger(), () => new Date('2025-03-10T07:00:00Z'));
      await evidence.begin({
        day: '2025-03-09',
        window: { start: 'a', end: 'b', key: 'k' },
        request: {},
        startedAt: new Date('2025-03-10T07:00:00Z'),
      });
      const page = (n: number) => new Uint8Array(Buffer.from(`{"status":"OK","page":${n}}`));
      await evidence.page(page(1));
      await evidence.page(page(2));
      let third = false;
      const handing = evidence.page(page(3)).then(() => (third = true));
      // Page 1 is at the backend, unwritten: with three pages in flight the third hand-off waits for room.
      await gateArrives();
      expect(third).toBe(false);
      gates.shift()!();
      await handing;
      let sealed = false;
      const sealing = evidence.seal(new Uint8Array(Buffer.from('[]'))).then(() => (sealed = true));
      for (let n = 2; n <= 3; n++) {
        await gateArrives();
        expect(sealed).toBe(false);
        gates.shift()!();
      }
      await sealing;
      expect(evidence.outcome().evidenceError).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the PostgreSQL chunker never holds more than one chunk, and flushes every full one at once', async () => {
    const flushed: number[] = [];
    const chunker = createChunker(EVIDENCE_CHUNK_BYTES, async (data) => {
      flushed.push(data.length);
    });
    const piece = Buffer.alloc(16 * 1024 + 7, 1);
    let total = 0;
    while (total < 5.5 * EVIDENCE_CHUNK_BYTES) {
      await chunker.write(piece);
      total += piece.length;
      expect(flushed.length).toBe(Math.floor(total / EVIDENCE_CHUNK_BYTES));
    }
    await chunker.end();
    expect(chunker.peakBuffered).toBeLessThanOrEqual(EVIDENCE_CHUNK_BYTES);
    expect(flushed.slice(0, -1).every((n) => n === EVIDENCE_CHUNK_BYTES)).toBe(true);
    expect(flushed.reduce((a, b) => a + b, 0)).toBe(total);
  });

  it('PostgreSQL stores a large raw page as rows of at most 1 MiB', async () => {
    const schema = await pgSchema();
    try {
      const archive = createEvidenceArchive({
        backend: createPostgresEvidenceBackend({ connectionString: db.url, schema, maxConnections: 2 }),
        version: '1',
        catalogueVersion: 't',
        now: () => ARCHIVE_NOW,
      });
      await writeRun(archive, 0, { pageBytes: 6 * 1024 * 1024 });
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      await client.query('BEGIN');
      const rows = await client.query<{ n: number }>(
        `SELECT octet_length(data) AS n FROM ${pg.escapeIdentifier(schema)}.evidence_files WHERE path = 'raw/page-0001.json.gz' ORDER BY chunk_no`,
      );
      await client.query('COMMIT');
      await client.end();
      expect(rows.rows.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...rows.rows.map((r) => Number(r.n)))).toBeLessThanOrEqual(EVIDENCE_CHUNK_BYTES);
      expect((await archive.verify()).ok).toBe(true);
      await archive.close();
    } finally {
      await db.dropSchema(schema);
    }
  });
});

describe('evidence errors', () => {
  const begin = (archive: ReturnType<typeof createEvidenceArchive>, day = '2025-03-09') =>
    archive.begin({ day, window: { start: 'a', end: 'b', key: 'k' }, request: {}, startedAt: new Date('2025-03-10T07:00:00Z') });

  it('a bundle used out of order is an EvidenceError that says what happened and what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-evidence-order-'));
    try {
      const archive = createEvidenceArchive({
        backend: createFileEvidenceBackend({ dir }),
        version: '1',
        catalogueVersion: 't',
        now: () => ARCHIVE_NOW,
      });
      const badDay = await begin(archive, '2025-02-30').then(
        () => null,
        (e: unknown) => e,
      );
      expect(badDay).toBeInstanceOf(EvidenceError);
      expect((badDay as Error).message).toMatch(/"2025-02-30" is not YYYY-MM-DD: no bundle was started.*report it/);

      const bundle = await begin(archive);
      await bundle.sealContent({ eventsJson: '[]', fetchComplete: true });
      await expect(bundle.addPage('{}')).rejects.toThrow(EvidenceError);
      await expect(bundle.addPage('{}')).rejects.toThrow(/sealed.*Add every page before sealContent/);
      await bundle.finish({ status: 'delivered', delivery: {}, run: {}, finishedAt: ARCHIVE_NOW });
      const again = bundle.finish({ status: 'delivered', delivery: {}, run: {}, finishedAt: ARCHIVE_NOW });
      await expect(again).rejects.toThrow(EvidenceError);
      await expect(again).rejects.toThrow(/already finished.*Begin a new bundle/);
      expect((await archive.verify()).ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a bundle whose chain head moved under another writer is an EvidenceError, and stays incomplete', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-evidence-race-'));
    try {
      const other = createEvidenceArchive({
        backend: createFileEvidenceBackend({ dir }),
        version: '1',
        catalogueVersion: 't',
        now: () => ARCHIVE_NOW,
      });
      // Just before this archive links its bundle in, another process links one in first.
      const real = createFileEvidenceBackend({ dir });
      let interloper: (() => Promise<unknown>) | null = () => writeRun(other, 1);
      const racing: EvidenceBackend = {
        ...real,
        async stage(runId, day, startedAt) {
          const staged = await real.stage(runId, day, startedAt);
          return {
            location: staged.location,
            openFile: (path) => staged.openFile(path),
            async commit(input) {
              const go = interloper;
              interloper = null;
              await go?.();
              return staged.commit(input);
            },
          };
        },
      };
      const archive = createEvidenceArchive({ backend: racing, version: '1', catalogueVersion: 't', now: () => ARCHIVE_NOW });
      const error = await writeRun(archive, 0).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EvidenceError);
      expect((error as Error).message).toMatch(
        /chain head moved.*another process added a bundle.*run one lastpass-audit-digest per archive/,
      );
      const report = await other.verify();
      expect(report.head?.seq).toBe(1);
      expect(report.incomplete).toHaveLength(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an unreadable chain.json is a StorageError naming it and the way out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lpad-evidence-chain-'));
    try {
      await writeFile(join(dir, 'chain.json'), '{"head":');
      const archive = createEvidenceArchive({
        backend: createFileEvidenceBackend({ dir }),
        version: '1',
        catalogueVersion: 't',
        now: () => ARCHIVE_NOW,
      });
      const error = await archive.verify().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StorageError);
      expect((error as Error).message).toMatch(
        /chain\.json cannot be read: .*restore it from a backup, then run lastpass-audit-digest verify/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('evidence signing keys', () => {
  it('Ed25519: the public key fingerprint matches the signer, and signatures verify', () => {
    const signer = createManifestSigner(ED_PRIVATE);
    const verifier = createManifestVerifier(ED_PUBLIC);
    expect(signer.alg).toBe('ed25519');
    expect(verifier.keyFingerprint).toBe(signer.keyFingerprint);
    const data = Buffer.from('manifest');
    expect(verifier.verify(data, signer.sign(data))).toBe(true);
    expect(verifier.verify(Buffer.from('manifesT'), signer.sign(data))).toBe(false);
  });

  it('refuses a short HMAC secret and a non-Ed25519 PEM with an actionable message', async () => {
    expect(() => createManifestSigner('short')).toThrow(/at least 16 characters/);
    expect(() => createManifestSigner('short')).toThrow(EvidenceError);
    expect(() => createManifestVerifier('-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----')).toThrow(EvidenceError);
    const { generateKeyPairSync } = await import('node:crypto');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => createManifestSigner(rsa)).toThrow(/only Ed25519/);
  });
});

describe('EVIDENCE_* configuration', () => {
  it('parses the defaults, off, a PEM with literal \\n, and reports every bad value', async () => {
    const { loadEvidenceSettings } = await import('../src/config/load-config.js');
    const problems: string[] = [];
    expect(loadEvidenceSettings({}, problems)).toEqual({ raw: true, retentionDays: 400, signingKey: null, verifyKey: null });
    const pem = loadEvidenceSettings(
      { EVIDENCE_RAW: 'off', EVIDENCE_RETENTION_DAYS: '30', EVIDENCE_SIGNING_KEY: ED_PRIVATE.replace(/\n/g, '\\n') },
      problems,
    );
    expect(pem.raw).toBe(false);
    expect(pem.retentionDays).toBe(30);
    expect(pem.signingKey?.trim()).toBe(ED_PRIVATE.trim());
    expect(problems).toEqual([]);
    loadEvidenceSettings({ EVIDENCE_RAW: 'maybe', EVIDENCE_RETENTION_DAYS: '0', EVIDENCE_SIGNING_KEY: 'short' }, problems);
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/EVIDENCE_RAW.*\n.*EVIDENCE_RETENTION_DAYS.*\n.*EVIDENCE_SIGNING_KEY/);
  });
});
