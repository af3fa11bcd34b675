/**
 * A minimal streaming ustar writer, gzip-compressed with node:zlib. Entries are regular files only;
 * paths up to 255 bytes (name + prefix). Data is streamed with backpressure, never buffered whole.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { EvidenceError } from '../errors.js';

const BLOCK = 512;
const CHANGED_WHILE_EXPORTED =
  'it changed while it was exported, and the export was not made. Run the export again (and verify the archive)';

export interface TarGzWriter {
  addBuffer(path: string, data: Buffer): Promise<void>;
  /** `size` must be exact: the header is written first. */
  addStream(path: string, size: number, data: AsyncIterable<Buffer>): Promise<void>;
  finish(): Promise<void>;
  abort(): Promise<void>;
}

function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new EvidenceError(
    `Path too long for ustar: ${path} (at most 155 bytes of directory and 100 of name): the export was not made. Bundle paths are short by design; this is a bug, report it`,
  );
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

export function tarHeader(path: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const { name, prefix } = splitPath(path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(size, 12), 124, 12, 'ascii');
  h.write(octal(Math.floor(mtime / 1000), 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write('0', 156, 1, 'ascii');
  h.write('ustar\u000000', 257, 8, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** `mtime`: the modification time (ms since the epoch) every entry is given. */
export async function createTarGzWriter(out: string, mtime: number): Promise<TarGzWriter> {
  const gzip = createGzip();
  const file = createWriteStream(out);
  const done = pipeline(gzip, file);
  done.catch(() => undefined);
  async function push(data: Buffer): Promise<void> {
    if (!gzip.write(data)) await once(gzip, 'drain');
  }
  async function addStream(path: string, size: number, data: AsyncIterable<Buffer>): Promise<void> {
    await push(tarHeader(path, size, mtime));
    let written = 0;
    for await (const chunk of data) {
      written += chunk.length;
      if (written > size) throw new EvidenceError(`${path} is longer than announced (${size} bytes): ${CHANGED_WHILE_EXPORTED}`);
      await push(chunk);
    }
    if (written !== size) throw new EvidenceError(`${path} is ${written} bytes, ${size} announced: ${CHANGED_WHILE_EXPORTED}`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await push(Buffer.alloc(pad, 0));
  }
  return {
    addStream,
    addBuffer: (path, data) =>
      addStream(
        path,
        data.length,
        (async function* () {
          yield data;
        })(),
      ),
    async finish() {
      await push(Buffer.alloc(BLOCK * 2, 0));
      gzip.end();
      await done;
    },
    async abort() {
      gzip.destroy();
      await done.catch(() => undefined);
      await rm(out, { force: true });
    },
  };
}
