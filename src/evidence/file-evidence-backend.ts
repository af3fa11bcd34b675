/**
 * Evidence bundles as files under DATA_DIR/evidence:
 *   .staging/<day>_<run id>/       a bundle being written (a crash leaves it: `verify` reports it incomplete)
 *   YYYY/MM/DD/<run id>/           a complete bundle, renamed into place from .staging in one step
 *   chain.json                     { head: {seq, manifestSha256, runId}, checkpoint }, replaced atomically
 *   chain.pending.json             a one-entry journal while a bundle is linked in: written before the
 *                                  rename, removed after chain.json; the next reader rolls it forward
 *                                  (bundle in place) or back (bundle still staged)
 * Every file is fsynced before its directory entry is made visible.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { syncDirectory, writeFileAtomic } from '../adapters/fs/atomic-file.js';
import { describeError, EvidenceError, StorageError } from '../errors.js';
import type { BundleRef, ChainHead, EvidenceBackend, EvidenceFileSink, StagedBundle } from './evidence-backend.js';
import type { ChainCheckpoint } from '../ports.js';

const STAGING = '.staging';
const CHAIN = 'chain.json';
const PENDING = 'chain.pending.json';

interface ChainFile {
  head: ChainHead | null;
  checkpoint: ChainCheckpoint | null;
}

function unreadable(path: string, error: unknown): StorageError {
  return new StorageError(
    `Evidence ${path} cannot be read: ${describeError(error)}. Check that the process may read it; if it was damaged, restore it from a backup, then run lastpass-audit-digest verify`,
  );
}

async function readJson<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw unreadable(path, error);
  }
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw unreadable(path, error);
  }
}

async function dirs(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw unreadable(path, error);
  }
}

function safeRelative(path: string): string {
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(path) || path.split('/').some((p) => p === '..' || p === '.')) {
    throw new EvidenceError(
      `Invalid evidence file path ${JSON.stringify(path)}: a bundle's paths are relative, made of letters, digits, '.', '_' and '-'; this is a bug, report it with the run's log`,
    );
  }
  return path;
}

export function createFileEvidenceBackend(options: { dir: string }): EvidenceBackend {
  const root = options.dir;
  const chainPath = join(root, CHAIN);
  const pendingPath = join(root, PENDING);
  const finalDir = (day: string, runId: string) => join(root, ...day.split('-'), runId);

  async function readChain(): Promise<ChainFile> {
    const pending = await readJson<{ head: ChainHead; location: string }>(pendingPath);
    const chain = (await readJson<ChainFile>(chainPath)) ?? { head: null, checkpoint: null };
    if (pending) {
      const manifest = await readOptional(join(pending.location, 'manifest.json'));
      if (manifest && createHash('sha256').update(manifest).digest('hex') === pending.head.manifestSha256) {
        chain.head = pending.head; // the rename happened: roll forward
        await writeFileAtomic(chainPath, Buffer.from(`${JSON.stringify(chain, null, 2)}\n`));
      }
      await unlink(pendingPath).catch(() => undefined);
    }
    return { head: chain.head ?? null, checkpoint: chain.checkpoint ?? null };
  }

  return {
    kind: 'files',
    description: `files under ${root}`,
    async stage(runId, day) {
      const staging = join(root, STAGING, `${day}_${runId}`);
      await mkdir(staging, { recursive: true });
      const opened = new Set<string>();
      const made = new Set<string>([staging]);
      const staged: StagedBundle = {
        location: staging,
        async openFile(path): Promise<EvidenceFileSink> {
          const full = join(staging, safeRelative(path));
          const dir = dirname(full);
          if (!made.has(dir)) {
            await mkdir(dir, { recursive: true });
            made.add(dir);
          }
          const h = await open(full, 'wx');
          opened.add(path);
          return {
            async write(chunk) {
              // All of it: a bare write may be short (a full disk), and the file would be cut silently.
              await h.writeFile(chunk);
            },
            async end() {
              try {
                await h.sync();
              } finally {
                await h.close();
              }
            },
          };
        },
        async commit(input) {
          for (const [name, data] of [
            ['manifest.json', input.manifest],
            ['manifest.sig', input.signature],
          ] as const) {
            if (!data) continue;
            const h = await open(join(staging, name), 'wx');
            try {
              await h.writeFile(data);
              await h.sync();
            } finally {
              await h.close();
            }
          }
          await syncDirectory(staging);
          const chain = await readChain();
          const current = chain.head?.manifestSha256 ?? chain.checkpoint?.manifestSha256 ?? null;
          if (current !== input.prevSha256)
            throw new EvidenceError(
              `Evidence chain head moved while this bundle was written (expected ${input.prevSha256 ?? 'none'}, found ${current ?? 'none'}): another process added a bundle to the same archive. This bundle stays incomplete (verify reports it); run one lastpass-audit-digest per archive, then run again`,
            );
          const target = finalDir(day, runId);
          const head: ChainHead = { seq: input.seq, manifestSha256: input.manifestSha256, runId };
          await writeFileAtomic(pendingPath, Buffer.from(JSON.stringify({ head, location: target })));
          await mkdir(dirname(target), { recursive: true });
          await rename(staging, target);
          await syncDirectory(dirname(target));
          await writeFileAtomic(chainPath, Buffer.from(`${JSON.stringify({ head, checkpoint: chain.checkpoint }, null, 2)}\n`));
          await unlink(pendingPath);
          return target;
        },
      };
      return staged;
    },
    head: readChain,
    async list() {
      await readChain();
      const out: BundleRef[] = [];
      for (const y of await dirs(root)) {
        if (!/^\d{4}$/.test(y)) continue;
        for (const m of await dirs(join(root, y))) {
          for (const d of await dirs(join(root, y, m))) {
            for (const runId of await dirs(join(root, y, m, d))) {
              const location = join(root, y, m, d, runId);
              const manifest = await readOptional(join(location, 'manifest.json'));
              let seq: number | null = null;
              try {
                const parsed = manifest ? (JSON.parse(manifest.toString('utf8')) as { seq?: unknown }) : null;
                if (parsed && typeof parsed.seq === 'number') seq = parsed.seq;
              } catch {
                seq = null;
              }
              out.push({
                runId,
                day: `${y}-${m}-${d}`,
                location,
                complete: true,
                seq,
                manifest,
                signature: await readOptional(join(location, 'manifest.sig')),
              });
            }
          }
        }
      }
      for (const name of await dirs(join(root, STAGING))) {
        const cut = name.indexOf('_');
        const day = cut > 0 ? name.slice(0, cut) : '';
        const runId = cut > 0 ? name.slice(cut + 1) : name;
        out.push({ runId, day, location: join(root, STAGING, name), complete: false, seq: null, manifest: null, signature: null });
      }
      return out;
    },
    async files(ref) {
      const out: { path: string; size: number }[] = [];
      const walk = async (dir: string): Promise<void> => {
        for (const e of await readdir(dir, { withFileTypes: true })) {
          const full = join(dir, e.name);
          if (e.isDirectory()) await walk(full);
          else out.push({ path: relative(ref.location, full).split(sep).join('/'), size: (await stat(full)).size });
        }
      };
      await walk(ref.location);
      return out.sort((a, b) => (a.path < b.path ? -1 : 1));
    },
    read(ref, path) {
      return createReadStream(join(ref.location, safeRelative(path)), { highWaterMark: 64 * 1024 });
    },
    async prune(refs, checkpoint) {
      const chain = await readChain();
      await writeFileAtomic(chainPath, Buffer.from(`${JSON.stringify({ head: chain.head, checkpoint }, null, 2)}\n`));
      for (const ref of refs) {
        await rm(ref.location, { recursive: true, force: true });
        // Remove emptied day/month/year directories.
        let dir = dirname(ref.location);
        while (dir !== root && dir.startsWith(root)) {
          if ((await readdir(dir)).length > 0) break;
          await rm(dir, { recursive: true, force: true });
          dir = dirname(dir);
        }
      }
    },
    async close() {},
  };
}
