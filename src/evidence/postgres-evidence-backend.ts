/**
 * Evidence bundles in PostgreSQL (migration 3 of postgres-migrations.ts): `evidence_bundles` (one row per
 * bundle; the manifest's exact bytes, its SHA-256, the previous one, seq, complete), `evidence_files` (each
 * file in chunks of at most EVIDENCE_CHUNK_BYTES, inserted as the data streams in, so memory never holds
 * more than one chunk) and `evidence_checkpoint` (what pruning leaves). The chain head is the complete
 * bundle with the highest seq. The schema is created by the store's init (migrations); every statement
 * runs inside an explicit transaction (see test/support/postgres.ts on PGlite).
 */
import pg from 'pg';
import type { PoolClient } from 'pg';
import { describeError, DigestError, EvidenceError, StorageError } from '../errors.js';
import { createRedactor } from '../logger.js';
import { passwordOf } from '../store/postgres-target.js';
import type { BundleRef, ChainHead, EvidenceBackend, EvidenceFileSink } from './evidence-backend.js';
import type { ChainCheckpoint } from '../ports.js';

export const EVIDENCE_CHUNK_BYTES = 1024 * 1024;

export interface Chunker extends EvidenceFileSink {
  /** The most bytes ever held before a flush (never more than the chunk size). */
  readonly peakBuffered: number;
  readonly chunks: number;
}

/** Cuts a stream of writes into chunks of exactly `chunkBytes` (the last one shorter), flushing each as it fills. */
export function createChunker(chunkBytes: number, flush: (data: Buffer, chunkNo: number) => Promise<void>): Chunker {
  let parts: Buffer[] = [];
  let buffered = 0;
  let chunkNo = 0;
  let peak = 0;
  const flushNow = async () => {
    const data = Buffer.concat(parts, buffered);
    parts = [];
    buffered = 0;
    await flush(data, chunkNo++);
  };
  return {
    async write(chunk) {
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(chunkBytes - buffered, chunk.length - offset);
        parts.push(chunk.subarray(offset, offset + take));
        buffered += take;
        offset += take;
        peak = Math.max(peak, buffered);
        if (buffered === chunkBytes) await flushNow();
      }
    },
    async end() {
      if (buffered > 0 || chunkNo === 0) await flushNow();
    },
    get peakBuffered() {
      return peak;
    },
    get chunks() {
      return chunkNo;
    },
  };
}

export interface PostgresEvidenceOptions {
  connectionString: string;
  schema?: string;
  /** The account whose chain this is (a slug; default 'default'): every statement is scoped to its rows. */
  accountId?: string;
  maxConnections?: number;
  chunkBytes?: number;
}

interface BundleRow {
  run_id: string;
  day: string;
  seq: string | null;
  manifest: Buffer | null;
  signature: Buffer | null;
  complete: boolean;
}

export function createPostgresEvidenceBackend(options: PostgresEvidenceOptions): EvidenceBackend {
  const schema = options.schema ?? 'lastpass_audit_digest';
  const q = pg.escapeIdentifier(schema);
  const accountId = options.accountId ?? 'default';
  if (!/^[a-z0-9-]{1,40}$/.test(accountId)) throw new StorageError(`Invalid account id ${JSON.stringify(accountId)}: use a slug`);
  const a = pg.escapeLiteral(accountId);
  const chunkBytes = options.chunkBytes ?? EVIDENCE_CHUNK_BYTES;
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 3,
    application_name: 'lastpass-audit-digest evidence',
  });
  pool.on('error', () => undefined);
  const location = (day: string, runId: string) => `evidence_bundles ${day}/${runId}`;

  const description = `PostgreSQL tables ${schema}.evidence_bundles / evidence_files${accountId === 'default' ? '' : ` (account ${accountId})`}`;
  const redact = createRedactor([passwordOf(options.connectionString), options.connectionString]);
  /** A failure of the database as a StorageError (ours, such as the chain head having moved, pass through). */
  const failed = (error: unknown): DigestError =>
    error instanceof DigestError
      ? error
      : new StorageError(
          `Evidence in ${description} could not be read or written: ${redact(describeError(error))}. Check DATABASE_URL and that the database is running, then run lastpass-audit-digest verify`,
        );

  const guarded = new WeakSet<PoolClient>();
  async function tx<T>(work: (c: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw failed(error);
    }
    // A connection lost while checked out emits 'error' besides failing its query: without a listener that
    // would crash the process (the pool only listens to idle clients). The failed query reports it.
    if (!guarded.has(client)) {
      guarded.add(client);
      client.on('error', () => undefined);
    }
    // A connection whose ROLLBACK failed is destroyed, not returned to the pool.
    let broken: Error | boolean = false;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((e: unknown) => {
        broken = e instanceof Error ? e : true;
      });
      throw failed(error);
    } finally {
      client.release(broken);
    }
  }

  async function head(): Promise<{ head: ChainHead | null; checkpoint: ChainCheckpoint | null }> {
    return tx(async (c) => {
      const h = await c.query<{ seq: string; manifest_sha256: string; run_id: string }>(
        `SELECT seq, manifest_sha256, run_id FROM ${q}.evidence_bundles WHERE account_id = ${a} AND complete ORDER BY seq DESC LIMIT 1`,
      );
      const cp = await c.query<{ seq: string; manifest_sha256: string; day: string; pruned_at: Date; pruned_count: number }>(
        `SELECT seq, manifest_sha256, to_char(day, 'YYYY-MM-DD') AS day, pruned_at, pruned_count FROM ${q}.evidence_checkpoint WHERE account_id = ${a}`,
      );
      const hr = h.rows[0];
      const cr = cp.rows[0];
      return {
        head: hr ? { seq: Number(hr.seq), manifestSha256: hr.manifest_sha256, runId: hr.run_id } : null,
        checkpoint: cr
          ? {
              seq: Number(cr.seq),
              manifestSha256: cr.manifest_sha256,
              day: cr.day,
              prunedAt: cr.pruned_at.toISOString(),
              prunedCount: cr.pruned_count,
            }
          : null,
      };
    });
  }

  return {
    kind: 'postgres',
    description,
    async stage(runId, day, startedAt) {
      await tx((c) =>
        c.query(`INSERT INTO ${q}.evidence_bundles (account_id, run_id, day, started_at) VALUES (${a}, $1, $2::date, $3)`, [
          runId,
          day,
          startedAt,
        ]),
      );
      return {
        location: location(day, runId),
        async openFile(path) {
          return createChunker(chunkBytes, async (data, chunkNo) => {
            await tx((c) =>
              c.query(`INSERT INTO ${q}.evidence_files (run_id, path, chunk_no, data) VALUES ($1, $2, $3, $4)`, [
                runId,
                path,
                chunkNo,
                data,
              ]),
            );
          });
        },
        async commit(input) {
          await tx(async (c) => {
            await c.query(`LOCK TABLE ${q}.evidence_bundles IN SHARE ROW EXCLUSIVE MODE`);
            const h = await c.query<{ manifest_sha256: string }>(
              `SELECT manifest_sha256 FROM ${q}.evidence_bundles WHERE account_id = ${a} AND complete ORDER BY seq DESC LIMIT 1`,
            );
            const cp = await c.query<{ manifest_sha256: string }>(
              `SELECT manifest_sha256 FROM ${q}.evidence_checkpoint WHERE account_id = ${a}`,
            );
            const current = h.rows[0]?.manifest_sha256 ?? cp.rows[0]?.manifest_sha256 ?? null;
            if (current !== input.prevSha256)
              throw new EvidenceError(
                `Evidence chain head moved while this bundle was written (expected ${input.prevSha256 ?? 'none'}, found ${current ?? 'none'}): another process added a bundle to the same archive. This bundle stays incomplete (verify reports it); run one lastpass-audit-digest per archive, then run again`,
              );
            await c.query(
              `UPDATE ${q}.evidence_bundles SET seq = $2, manifest = $3, signature = $4, manifest_sha256 = $5, prev_sha256 = $6, complete = true WHERE account_id = ${a} AND run_id = $1`,
              [runId, input.seq, input.manifest, input.signature, input.manifestSha256, input.prevSha256],
            );
          });
          return location(day, runId);
        },
      };
    },
    head,
    async list() {
      const rows = await tx((c) =>
        c.query<BundleRow>(
          `SELECT run_id, to_char(day, 'YYYY-MM-DD') AS day, seq, manifest, signature, complete FROM ${q}.evidence_bundles WHERE account_id = ${a}`,
        ),
      );
      return rows.rows.map((r) => ({
        runId: r.run_id,
        day: r.day,
        location: location(r.day, r.run_id),
        complete: r.complete,
        seq: r.seq === null ? null : Number(r.seq),
        manifest: r.manifest,
        signature: r.signature,
      }));
    },
    async files(ref) {
      const rows = await tx((c) =>
        c.query<{ path: string; size: string }>(
          `SELECT path, sum(octet_length(data))::bigint AS size FROM ${q}.evidence_files WHERE run_id = $1 GROUP BY path ORDER BY path`,
          [ref.runId],
        ),
      );
      const out = rows.rows.map((r) => ({ path: r.path, size: Number(r.size) }));
      if (ref.manifest) out.push({ path: 'manifest.json', size: ref.manifest.length });
      if (ref.signature) out.push({ path: 'manifest.sig', size: ref.signature.length });
      return out;
    },
    async *read(ref: BundleRef, path: string) {
      if (path === 'manifest.json' || path === 'manifest.sig') {
        const data = path === 'manifest.json' ? ref.manifest : ref.signature;
        if (data) yield data;
        return;
      }
      for (let n = 0; ; n++) {
        const r = await tx((c) =>
          c.query<{ data: Buffer }>(`SELECT data FROM ${q}.evidence_files WHERE run_id = $1 AND path = $2 AND chunk_no = $3`, [
            ref.runId,
            path,
            n,
          ]),
        );
        const row = r.rows[0];
        if (!row) return;
        yield row.data;
      }
    },
    async prune(refs, checkpoint) {
      await tx(async (c) => {
        await c.query(
          `INSERT INTO ${q}.evidence_checkpoint (account_id, seq, manifest_sha256, day, pruned_at, pruned_count) VALUES (${a}, $1, $2, $3::date, $4, $5)
           ON CONFLICT (account_id) DO UPDATE SET seq = EXCLUDED.seq, manifest_sha256 = EXCLUDED.manifest_sha256, day = EXCLUDED.day, pruned_at = EXCLUDED.pruned_at, pruned_count = EXCLUDED.pruned_count`,
          [checkpoint.seq, checkpoint.manifestSha256, checkpoint.day, checkpoint.prunedAt, checkpoint.prunedCount],
        );
        await c.query(`DELETE FROM ${q}.evidence_bundles WHERE account_id = ${a} AND run_id = ANY($1::text[])`, [refs.map((r) => r.runId)]);
      });
    },
    async close() {
      await pool.end();
    },
  };
}
